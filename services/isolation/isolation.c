/*  isolation - the desired enforcement state: who is cut off, why, on whose
    word, and whether every gateway has it in force (R15.3, R16.1, X.4).

    1. A connection is cut off while it has a cause: disconnection (R16.1),
       suspension (R15.3) or decommission. Causes are independent rows:
       imposing one twice changes nothing; lifting one leaves the others.
       Every imposition and lift is kept with actor, reason, time and the
       incident, remediation or saga behind it.
    2. The prefixes to drop are the prefixes of connections with a cause and
       an allocation not yet released. Each change of that set bumps a
       version, stores its delta and publishes DesiredStateChanged; the
       enforcer channel (isolation_points.c) pushes it to every gateway.
    3. Disconnected, Suspended, Reconnected and Decommissioned wait in table
       pending until every registered enforcement point acknowledged their
       version: only then is a change "in force" and published, with the
       moment and the points. With no point registered, at once. The row
       keeps who asked, why and the request's id, and the event goes out
       under them whatever releases it (a point's ack is recorded by a duty,
       system:isolation; X.1). A point in dry run acks without dropping
       anything: its ack counts (the demo's one enforcer runs so), but the
       event and every reply name such points (dry_run_points), so "in
       force" is never taken for "dropped" there. They also say when the
       version was counted at no point (no_enforcement_point): "in force"
       with none registered, dropped nowhere, said as plainly.
    4. Lifting a cause is for the `service` role only, naming the saga that
       collected the approvals (X.4); nobody lifts a disconnection by hand.
       A decommission is lifted under the same rule, so that the
       orchestrator can undo a mistaken one (an operator decommissioned a
       live connection): it was never lifted, and such a connection stayed
       cut off until it was cancelled and its allocation released.
    5. Prefixes come from the registry's ConnectionActivated; when the
       registry releases a decommissioned connection's allocation
       (AllocationReleased), a duty drops its prefixes from the set.
    6. A Disconnect or Suspend naming a provider and no connections acts on
       the whole provider (R16.1, R15.3), also on the connections the
       registry activates for it afterwards, or activated before but not
       yet read here (isolation follows the registry asynchronously). Such
       a request marks its cause provider-wide on every connection it
       acted on (causes.provider_wide, migration 008; also where the cause
       was there already: the first reference stays). A connection read
       from ConnectionActivated waits for its provider's provider-wide
       causes (inherit_pending) until the first of these settles it: a
       request that locks it (before the request acts on it), or the duty
       "provider-wide causes" (within a second; the consumer cannot: it
       writes no events). It then gets every cause provider-wide on
       another connection of its provider not released, with that cause's
       reference, through apply_cause as a request does (history, drop
       set, version, the event queued until in force), marked
       provider-wide in turn, by system:isolation with a reason naming the
       provider-wide cause and who imposed it (a request's actor rather
       than an earlier inheritance). Settled first, a connection a request
       acted on is never given a cause behind that request's back (a Lift
       undone by a late inheritance). A Lift acts on one connection; once
       none carries the provider-wide cause, new connections inherit
       nothing. A provider-wide cause whose last carrier is released
       (the release duty ends its causes) is kept for the provider
       (provider_causes, migration 011) until the next connection settled
       takes it: cancelling every connection and applying again no longer
       undoes a forced disconnection behind the saga's back (X.4).
       Whoever settles a connection, imposes a cause on a whole provider
       or ends a released connection's causes holds the provider's
       advisory lock, taken before any
       connection's row (several in provider order): otherwise the duty
       could look at a provider whose Disconnect has not committed, while
       that Disconnect's list of connections was read before the new one
       was, and both miss it. A read says of each cause whether it is
       provider-wide (CauseRecord.provider_wide).
    7. A read (IsolationGet, EnforcedList, and the reply of every request)
       is one statement: the head, the version in force, the connections
       (for EnforcedList, the page of ids itself) and their causes, one
       snapshot, so that none of them disagrees with another (EnforcedList
       read its page of ids in a statement before, and a change committed
       in between gave a page whose ids and causes disagreed). A
       connection still waiting for its provider's provider-wide causes
       (inherit_pending, up to a second) shows the causes it will get, as
       s_settle would pick them (S_INHERITED_SQL), marked pending, its
       state followed by " (pending inheritance)" and the reply not in
       force: it showed "connected", with no cause, for a connection of a
       provider disconnected as a whole. EnforcedList lists such a
       connection too. A connection is in force when every point not
       retired acked the version that last changed its drop set
       (connections.changed_version, migration 014), and the reply when
       every connection it shows is: it was judged against the head, and a
       change to any connection on its way to a slow point read "not in
       force" on every other.
*/
#include "isolation.h"

extern const lg_migration_t isolation_migrations [];

#define INVALID(ctx, req, ...) lg_ctx_refuse ((ctx), LGWAN__V1__CODE__INVALID_ARGUMENT, (req), __VA_ARGS__)
#define REFUSE(ctx, req, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__FAILED_PRECONDITION, (req), __VA_ARGS__)
#define MISSING(ctx, ...)      lg_ctx_refuse ((ctx), LGWAN__V1__CODE__NOT_FOUND, NULL, __VA_ARGS__)

static const char *s_cause_names [] = { "", "disconnection", "suspension", "decommission" };
//  The rule each cause is imposed under (a decommission: the network end of
//  a cancellation)
static const char *s_cause_requirements [] = { NULL, "R16.1", "R15.3", "R4.2" };

//  SQL: the points not retired that run in dry run, "a,b" by name ("" when
//  none): their acks count towards in force, but they drop nothing (note 3)
#define S_DRY_RUN_POINTS_SQL \
    "(SELECT coalesce (string_agg (name, ',' ORDER BY name), '') FROM points" \
    " WHERE retired_at IS NULL AND dry_run)"

//  The state a set of causes means (decommission over disconnection over
//  suspension)
static const char *
s_state (bool decommission, bool disconnection, bool suspension)
{
    return decommission? "decommissioned": disconnection? "disconnected":
           suspension? "suspended": "connected";
}

char **
isolation_split (char *text, size_t *count)
{
    size_t max = 1;
    for (const char *at = text; *at; at++)
        max += *at == ',';
    char **items = (char **) calloc (max + 1, sizeof (char *));
    char *save = NULL;
    *count = 0;
    for (char *item = strtok_r (text, ",", &save); item; item = strtok_r (NULL, ",", &save))
        items [(*count)++] = item;
    return items;
}

//  Publish a change of the drop set (the arrays PostgreSQL returned, as
//  stored in desired_versions) for the enforcers and anyone watching
static int
s_publish_change (lg_ctx_t *ctx, uint64_t version, const char *added, const char *removed)
{
    Lgwan__V1__DesiredStateChanged changed_event = LGWAN__V1__DESIRED_STATE_CHANGED__INIT;
    changed_event.version = version;
    char *copies [2];
    const char *arrays [2] = { added, removed };
    for (int col = 0; col < 2; col++) {
        //  "{a,b}" from PostgreSQL: prefixes contain no commas or quotes
        copies [col] = strdup (arrays [col] + (arrays [col] [0] == '{'));
        size_t len = strlen (copies [col]);
        if (len && copies [col] [len - 1] == '}')
            copies [col] [len - 1] = 0;
    }
    changed_event.add = isolation_split (copies [0], &changed_event.n_add);
    changed_event.remove = isolation_split (copies [1], &changed_event.n_remove);
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_DESIRED_STATE_CHANGED;
    event.desired_state_changed = &changed_event;
    int rc = lg_ctx_emit (ctx, &event);
    free (changed_event.add);
    free (changed_event.remove);
    free (copies [0]);
    free (copies [1]);
    return rc;
}

//  What sync_desired and apply_cause (migration 002) return: the version in
//  effect, and when the call bumped it, the change to publish
static int
s_after_sync (lg_ctx_t *ctx, PGresult *res, uint64_t *version)
{
    *version = strtoull (lg_db_value (res, 0, "out_version"), NULL, 10);
    if (!streq (lg_db_value (res, 0, "out_bumped"), "t"))
        return 0;
    return s_publish_change (ctx, *version, lg_db_value (res, 0, "out_added"),
                             lg_db_value (res, 0, "out_removed"));
}

//  Make the drop set agree with a connection's causes; a new version when it
//  changed. *version gets the version now in effect.
static int
s_sync (lg_ctx_t *ctx, const char *connection, uint64_t *version)
{
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { connection, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT * FROM sync_desired ($1::bigint, $2::timestamptz)",
                           2, params);
    if (rc)
        return rc;
    rc = s_after_sync (ctx, res, version);
    PQclear (res);
    return rc;
}

int
isolation_emit_in_force (lg_ctx_t *ctx, uint64_t *in_force_p)
{
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  One at a time, to COMMIT (the lock is queued: it travels with the
    //  statement below). Two transactions that each supply half of "in
    //  force" (the acks of two points on two replicas, or an event queued
    //  for the head while its acks are recorded) would otherwise each miss
    //  the other's uncommitted half, and neither would release the event.
    //  Taken after a transaction's row locks and before the outbox head's,
    //  as every caller does: no cycle
    if (!lg_db_run (ctx->db, "SELECT pg_advisory_xact_lock (hashtext ('lgwan.isolation.in_force'))",
                    0, NULL))
        return -2;
    PGresult *res;
    //  One statement: the version in force, and the events it releases (a
    //  row of NULLs but the version when it releases none)
    int rc = lg_ctx_query (ctx, &res,
        "WITH f AS (SELECT " ISOLATION_IN_FORCE_SQL " AS v),"
        " gone AS (DELETE FROM pending WHERE id IN (SELECT id FROM pending, f"
        "   WHERE version <= f.v ORDER BY id FOR UPDATE OF pending SKIP LOCKED)"
        "   RETURNING id, version, kind, connection_id, cause, reference, state, actor, reason,"
        "   correlation)"
        " SELECT f.v AS in_force, g.id, g.version, g.kind, g.connection_id, g.cause,"
        " g.reference, g.state, g.actor, g.reason, g.correlation,"
        " (SELECT provider_id FROM connections c WHERE c.id = g.connection_id) AS provider,"
        " (SELECT array_to_string (prefixes, ',') FROM connections c WHERE c.id = g.connection_id)"
        " AS prefixes,"
        " (SELECT coalesce (string_agg (name, ',' ORDER BY name), '') FROM points"
        "  WHERE retired_at IS NULL) AS points, " S_DRY_RUN_POINTS_SQL " AS dry_run_points"
        " FROM f LEFT JOIN gone g ON true ORDER BY g.id", 0, NULL);
    if (rc)
        return rc;
    if (in_force_p)
        *in_force_p = strtoull (lg_db_value (res, 0, "in_force"), NULL, 10);
    if (!lg_db_value (res, 0, "id")) {
        PQclear (res);
        return 0;               //  nothing released
    }
    int rows = PQntuples (res);
    //  In the order they were decided
    for (int pass = 0; pass < rows && rc == 0; pass++) {
        int row = pass;
        const char *kind = lg_db_value (res, row, "kind");
        char *prefixes = strdup (lg_db_value (res, row, "prefixes")? lg_db_value (res, row, "prefixes"): "");
        char *points = strdup (lg_db_value (res, row, "points"));
        char *dry_run_points = strdup (lg_db_value (res, row, "dry_run_points"));
        Lgwan__V1__IsolationApplied applied = LGWAN__V1__ISOLATION_APPLIED__INIT;
        applied.prefixes = isolation_split (prefixes, &applied.n_prefixes);
        applied.points = isolation_split (points, &applied.n_points);
        applied.dry_run_points = isolation_split (dry_run_points, &applied.n_dry_run_points);
        applied.no_enforcement_point = applied.n_points == 0;
        applied.connection = strtoull (lg_db_value (res, row, "connection_id"), NULL, 10);
        const char *provider = lg_db_value (res, row, "provider");
        applied.provider = provider? strtoull (provider, NULL, 10): 0;
        applied.cause = (Lgwan__V1__IsolationCause) atoi (lg_db_value (res, row, "cause"));
        applied.reference = (char *) lg_db_value (res, row, "reference");
        applied.applied_at = now;
        applied.version = strtoull (lg_db_value (res, row, "version"), NULL, 10);
        applied.state = (char *) lg_db_value (res, row, "state");
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        if (streq (kind, "disconnected")) {
            event.body_case = LGWAN__V1__EVENT__BODY_DISCONNECTED;
            event.disconnected = &applied;
        }
        else
        if (streq (kind, "suspended")) {
            event.body_case = LGWAN__V1__EVENT__BODY_SUSPENDED;
            event.suspended = &applied;
        }
        else
        if (streq (kind, "reconnected")) {
            event.body_case = LGWAN__V1__EVENT__BODY_RECONNECTED;
            event.reconnected = &applied;
        }
        else {
            event.body_case = LGWAN__V1__EVENT__BODY_DECOMMISSIONED;
            event.decommissioned = &applied;
        }
        //  Under the header of the request that decided it, not of what
        //  released it (the duty recording an ack is system:isolation)
        rc = lg_outbox_append (ctx->outbox, &event, lg_db_value (res, row, "actor"),
                               lg_db_value (res, row, "reason"),
                               lg_db_value (res, row, "correlation"), ctx->now_us);
        free (applied.prefixes);
        free (applied.points);
        free (applied.dry_run_points);
        free (prefixes);
        free (points);
        free (dry_run_points);
    }
    PQclear (res);
    return rc;
}

//  A list of decimal ids (strings, copied in)
static zlistx_t *
s_ids_new (void)
{
    zlistx_t *ids = zlistx_new ();
    zlistx_set_destructor (ids, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (ids, (zlistx_duplicator_fn *) strdup);
    return ids;
}

//  A list of decimal ids as a PostgreSQL array literal; caller frees
static char *
s_id_array (zlistx_t *ids)
{
    size_t size = 3 + zlistx_size (ids) * 21;
    char *text = (char *) malloc (size);
    size_t len = 0;
    text [len++] = '{';
    for (const char *id = (const char *) zlistx_first (ids); id;
         id = (const char *) zlistx_next (ids))
        len += snprintf (text + len, size - len, "%s%s", len > 1? ",": "", id);
    snprintf (text + len, size - len, "}");
    return text;
}

//  The lock whoever gives a connection its provider's provider-wide causes,
//  or imposes a cause on a whole provider, holds until COMMIT (point 6),
//  taken before any connection's row: SQL, of the provider id p
#define S_PROVIDER_LOCK(p) \
    "pg_advisory_xact_lock (hashtext ('lgwan.isolation.provider.' || " p "))"

//  Who gives a connection its provider's provider-wide causes (point 6),
//  whoever asked for what made it happen
#define S_SYSTEM_ACTOR "system:isolation"

//  SQL: the causes a connection (an expression) of a provider (another)
//  gets when it is settled (point 6): every cause provider-wide on another
//  of the provider's connections not released, or kept for the provider
//  since the last connection that carried it was released
//  (provider_causes, migration 011), one of each kind, a request's
//  imposition over an earlier inheritance (the reason names who asked),
//  then the latest; source names the connection it is taken from.
//  s_settle imposes them; a read shows them as pending on a connection not
//  settled yet (note 7). Aliases pw, pk, pc, kept
#define S_INHERITED_SQL(provider, connection) \
    "SELECT DISTINCT ON (pw.cause) pw.cause, pw.reference, pw.actor, pw.reason, pw.since," \
    " pw.source FROM (SELECT pk.cause, pk.reference, pk.actor, pk.reason, pk.since," \
    " pk.connection_id, pk.connection_id::text AS source FROM causes pk JOIN connections pc" \
    " ON pc.id = pk.connection_id WHERE pc.provider_id = " provider " AND pc.id <> " connection \
    " AND NOT pc.released AND pk.provider_wide UNION ALL SELECT kept.cause, kept.reference," \
    " kept.actor, kept.reason, kept.since, kept.connection_id, kept.connection_id || ', released'" \
    " FROM provider_causes kept WHERE kept.provider_id = " provider ") pw" \
    " ORDER BY pw.cause, pw.actor = '" S_SYSTEM_ACTOR "', pw.since DESC, pw.connection_id"

//  Queue the lock of a provider; false when it could not be queued
static bool
s_lock_provider (lg_ctx_t *ctx, const char *provider)
{
    return lg_db_run (ctx->db, "SELECT " S_PROVIDER_LOCK ("$1"), 1, (const char *[]) { provider });
}

//  Queue the locks of the providers of those connections (ids, an array),
//  in provider order: of those that wait for their provider-wide causes
//  (pending), or of all
static bool
s_lock_providers_of (lg_ctx_t *ctx, const char *ids, bool pending)
{
    return lg_db_run (ctx->db, "SELECT " S_PROVIDER_LOCK ("p.provider_id") " FROM (SELECT DISTINCT"
                               " provider_id FROM connections WHERE id = ANY ($1::bigint[])"
                               " AND (inherit_pending OR NOT $2::boolean) ORDER BY 1) p", 2,
                      (const char *[]) { ids, pending? "t": "f" });
}

static int s_settle (lg_ctx_t *ctx, const char *connection, const char *provider);

//  The connections a request names: all of a provider's, or those listed
//  (each must exist, and belong to the provider when one is named). Each is
//  locked until COMMIT, in id order (so two requests cannot deadlock): a
//  cause and the drop set are decided from the connection's other causes
//  and prefixes, which another request on the same connection would change
//  out of this one's sight (READ COMMITTED). Unlocked, a Lift and a Suspend
//  at once left a suspension in force with nothing dropped, and two imposes
//  at once failed the second on the drop set's key. A whole provider's are
//  read after its lock, and a connection locked that still waits for its
//  provider's provider-wide causes gets them first, so that no request
//  acts on it before it has them (point 6). A read (lock false) locks
//  nothing and settles nothing: it runs read-only. A refusal names
//  requirement (the request's rule)
static int
s_targets (lg_ctx_t *ctx, uint64_t provider, uint64_t *connections, size_t n, bool lock,
           const char *requirement, zlistx_t *targets)
{
    char text [24];
    PGresult *res;
    int rc;
    if (n == 0) {
        snprintf (text, sizeof text, "%" PRIu64, provider);
        const char *params [] = { text };
        if (lock && !s_lock_provider (ctx, text))
            return -2;
        if ((rc = lg_ctx_query (ctx, &res, lock
                                ? "SELECT id, inherit_pending AS pending FROM connections"
                                  " WHERE provider_id = $1::bigint AND NOT released"
                                  " ORDER BY id FOR UPDATE"
                                : "SELECT id, inherit_pending AS pending FROM connections"
                                  " WHERE provider_id = $1::bigint AND NOT released"
                                  " ORDER BY id", 1, params)))
            return rc;
        for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
            const char *id = lg_db_value (res, row, "id");
            zlistx_add_end (targets, (void *) id);
            if (lock && streq (lg_db_value (res, row, "pending"), "t"))
                rc = s_settle (ctx, id, text);
        }
        PQclear (res);
        if (rc)
            return rc;
        if (zlistx_size (targets) == 0)
            return REFUSE (ctx, requirement, "provider %s has no connection to act on", text);
        return 0;
    }
    //  All in one statement, in the order given
    zlistx_t *asked = s_ids_new ();
    for (size_t i = 0; i < n; i++) {
        snprintf (text, sizeof text, "%" PRIu64, connections [i]);
        zlistx_add_end (asked, text);
    }
    char *ids = s_id_array (asked);
    zlistx_destroy (&asked);
    //  Queued: the locks travel with the statement that checks them
    if (lock && (!s_lock_providers_of (ctx, ids, true)
             ||  !lg_db_run (ctx->db, "SELECT 1 FROM connections WHERE id = ANY ($1::bigint[])"
                                      " ORDER BY id FOR UPDATE", 1, (const char *[]) { ids }))) {
        free (ids);
        return -2;
    }
    rc = lg_ctx_query (ctx, &res, "SELECT u.id, c.provider_id, c.inherit_pending AS pending"
                                  " FROM unnest ($1::bigint[]) WITH ORDINALITY AS u (id, n)"
                                  " LEFT JOIN connections c ON c.id = u.id AND NOT c.released"
                                  " ORDER BY u.n", 1, (const char *[]) { ids });
    free (ids);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        const char *id = lg_db_value (res, row, "id");
        const char *owner = lg_db_value (res, row, "provider_id");
        if (!owner)
            rc = MISSING (ctx, "no connection %s", id);
        else
        if (provider && strtoull (owner, NULL, 10) != provider)
            rc = INVALID (ctx, requirement, "connection %s is not provider %" PRIu64 "'s", id,
                          provider);
        else
            zlistx_add_end (targets, (void *) id);
    }
    for (int row = 0; row < PQntuples (res) && rc == 0 && lock; row++)
        if (streq (lg_db_value (res, row, "pending"), "t"))
            rc = s_settle (ctx, lg_db_value (res, row, "id"),
                           lg_db_value (res, row, "provider_id"));
    PQclear (res);
    return rc;
}

//  A list "a,b" as a reply's repeated string: the reply owns the array and
//  its items (freed with it), so they are copies
static char **
s_split_copies (const char *list, size_t *count)
{
    char *text = strdup (list);
    char **items = isolation_split (text, count);
    for (size_t i = 0; i < *count; i++)
        items [i] = strdup (items [i]);
    free (text);
    return items;
}

//  The reply: each connection's state and causes, the version and whether
//  every point has it. The connections are those of targets, SQL of a FROM
//  item u (id, n) in the order n (with params): the ids a request names, or
//  EnforcedList's page, read in the very statement that reads their causes
//  (note 7). page: at most that many connections, 0 for all; a row past it
//  sets next_after_id to the page's last id. A write passes the version it
//  left in effect and the one in force when it released its events (read =
//  false). A read (read = true) takes the head and the version in force
//  from the statement that reads the causes: one snapshot, so the causes
//  shown are judged against the head they belong to. Read in a statement
//  before it (autocommit: a snapshot each), a Disconnect committed in
//  between was shown disconnected and in force at the old head, while no
//  point had acked its version. A connection that waits for its provider's
//  provider-wide causes shows the ones it will get, pending (note 7). The
//  reply is in force when each connection is: every point acked the
//  version that last changed it (connections.changed_version, migration
//  014). It compared the version in force with the head, and a change to
//  any connection on its way to a slow point read "not in force" on all
static int
s_reply_from (lg_ctx_t *ctx, const char *targets, int n_params, const char *const *params,
              size_t page, bool read, uint64_t version, uint64_t in_force)
{
    Lgwan__V1__IsolationReply *reply = (Lgwan__V1__IsolationReply *) malloc (sizeof *reply);
    lgwan__v1__isolation_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_ISOLATION;
    ctx->reply->isolation = reply;
    //  All of them in one statement, in the order asked, causes in order
    //  (those in force, then the pending ones), beside the versions (a row
    //  of NULLs but those when none is asked). A write settled its
    //  connections before it acted (s_targets): none is pending, and its
    //  statement leaves the pending ones out. With them, PostgreSQL planned
    //  the statement anew at every request (0.55 ms; its generic plan,
    //  costed for any number of connections, came out dearer than each
    //  custom one), and a Disconnect took 3.1 ms where it had taken 2.2
    //  (bench_enforcement, pg_stat_statements with track_planning)
    const char *pending_sql = read
        ? "   UNION ALL SELECT i.cause, i.reference, i.actor, 'pending: connection ' || c.id"
          "   || ' waits for its provider''s provider-wide causes; as on connection '"
          "   || i.source || ': ' || i.reason, i.since, true, true FROM ("
          S_INHERITED_SQL ("c.provider_id", "c.id") ") i"
          "   WHERE c.inherit_pending AND NOT c.released"
        : "";
    char *sql = zsys_sprintf (
        "WITH v AS (SELECT h.version AS head, " ISOLATION_IN_FORCE_SQL " AS in_force, "
        S_DRY_RUN_POINTS_SQL " AS dry_run_points,"
        " NOT EXISTS (SELECT 1 FROM points WHERE retired_at IS NULL) AS no_point"
        " FROM desired_head h WHERE h.id = 1)"
        " SELECT v.head, v.in_force, v.dry_run_points, v.no_point, r.* FROM v LEFT JOIN ("
        "  SELECT u.n, c.id, c.provider_id, array_to_string (c.prefixes, ',') AS prefixes,"
        "  c.changed_version,"
        "  k.cause, k.reference, k.actor, k.reason, to_char (k.since AT TIME ZONE 'UTC',"
        "  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS since, k.provider_wide, k.pending"
        "  FROM %s JOIN connections c ON c.id = u.id"
        "  LEFT JOIN LATERAL (SELECT o.cause, o.reference, o.actor, o.reason, o.since,"
        "   o.provider_wide, false AS pending FROM causes o WHERE o.connection_id = c.id"
        "%s) k ON true"
        " ) r ON true ORDER BY r.n, r.pending, r.cause", targets, pending_sql);
    PGresult *res;
    int rc = sql? lg_ctx_query (ctx, &res, sql, n_params, params): -1;
    zstr_free (&sql);
    if (rc)
        return rc;
    if (read) {
        version = lg_db_u64 (res, 0, "head");
        in_force = lg_db_u64 (res, 0, "in_force");
    }
    reply->version = version;
    //  In force: every connection shown is (below), none with a cause pending
    reply->in_force = true;
    reply->dry_run_points = s_split_copies (lg_db_value (res, 0, "dry_run_points"),
                                            &reply->n_dry_run_points);
    reply->no_enforcement_point = streq (lg_db_value (res, 0, "no_point"), "t");
    int rows = lg_db_value (res, 0, "n")? PQntuples (res): 0;
    reply->connections = (Lgwan__V1__ConnectionIsolation **) calloc (rows + 1, sizeof (void *));
    for (int first = 0, next; first < rows; first = next) {
        const char *n = lg_db_value (res, first, "n");
        for (next = first + 1; next < rows && streq (lg_db_value (res, next, "n"), n); next++)
            ;
        if (page && reply->n_connections == page) {
            //  One past the page: there is more, from the page's last id
            reply->next_after_id = reply->connections [page - 1]->connection;
            break;
        }
        Lgwan__V1__ConnectionIsolation *c = (Lgwan__V1__ConnectionIsolation *) malloc (sizeof *c);
        lgwan__v1__connection_isolation__init (c);
        c->connection = strtoull (lg_db_value (res, first, "id"), NULL, 10);
        c->provider = strtoull (lg_db_value (res, first, "provider_id"), NULL, 10);
        c->prefixes = s_split_copies (lg_db_value (res, first, "prefixes"), &c->n_prefixes);
        bool flags [4] = { false, false, false, false };
        bool pending = false;
        c->causes = (Lgwan__V1__CauseRecord **) calloc (next - first + 1, sizeof (void *));
        for (int row = first; row < next; row++) {
            if (!lg_db_value (res, row, "cause"))
                continue;
            Lgwan__V1__CauseRecord *k = (Lgwan__V1__CauseRecord *) malloc (sizeof *k);
            lgwan__v1__cause_record__init (k);
            k->cause = (Lgwan__V1__IsolationCause) atoi (lg_db_value (res, row, "cause"));
            k->reference = lg_strdup (lg_db_value (res, row, "reference"));
            k->actor = lg_strdup (lg_db_value (res, row, "actor"));
            k->reason = lg_strdup (lg_db_value (res, row, "reason"));
            k->since = lg_strdup (lg_db_value (res, row, "since"));
            k->provider_wide = streq (lg_db_value (res, row, "provider_wide"), "t");
            k->pending = streq (lg_db_value (res, row, "pending"), "t");
            pending = pending || k->pending;
            if (k->cause >= 1 && k->cause <= 3)
                flags [k->cause] = true;
            c->causes [c->n_causes++] = k;
        }
        const char *state = s_state (flags [3], flags [1], flags [2]);
        c->state = pending? zsys_sprintf ("%s (pending inheritance)", state): lg_strdup (state);
        //  Nothing is dropped for a pending cause yet; the rest is in force
        //  once every point acked the version that last changed its drop
        //  set, whatever changed since on other connections (migration 014)
        if (pending || in_force < lg_db_u64 (res, first, "changed_version"))
            reply->in_force = false;
        reply->connections [reply->n_connections++] = c;
    }
    PQclear (res);
    return 0;
}

//  The reply of these connections (a list of ids), as s_reply_from
static int
s_reply (lg_ctx_t *ctx, zlistx_t *connections, bool read, uint64_t version, uint64_t in_force)
{
    char *ids = s_id_array (connections);
    const char *params [] = { ids };
    int rc = s_reply_from (ctx, "unnest ($1::bigint[]) WITH ORDINALITY AS u (id, n)", 1, params,
                           0, read, version, in_force);
    free (ids);
    return rc;
}

//  Impose or lift a cause on a connection; queue its event for when it is
//  in force. imposed/lifted false when nothing changed (idempotent).
static int
s_apply_cause (lg_ctx_t *ctx, const char *connection, int cause, bool impose,
               const char *reference, uint64_t *version, bool *changed)
{
    char kind [8], now [40];
    snprintf (kind, sizeof kind, "%d", cause);
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  Who, why and the request: the event's header when it is in force
    //  (isolation_emit_in_force), as lg_ctx_emit would make it now
    const char *reason = ctx->request && ctx->request->reason? ctx->request->reason: "";
    const char *correlation = ctx->request? ctx->request->request_id: "";
    const char *params [] = { connection, kind, impose? "t": "f", reference, ctx->actor,
                              reason, now, correlation };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT * FROM apply_cause ($1::bigint, $2::smallint,"
                                      " $3::boolean, $4, $5, $6, $7::timestamptz, $8)", 8, params);
    if (rc)
        return rc;
    *changed = streq (lg_db_value (res, 0, "out_changed"), "t");
    rc = s_after_sync (ctx, res, version);
    PQclear (res);
    return rc;
}

//  The cause is provider-wide on these connections, whether this request
//  imposed it or it was there already (point 6); queued
static int
s_mark_provider_wide (lg_ctx_t *ctx, zlistx_t *connections, int cause)
{
    char kind [8];
    snprintf (kind, sizeof kind, "%d", cause);
    char *ids = s_id_array (connections);
    bool queued = lg_db_run (ctx->db, "UPDATE causes SET provider_wide = true"
                                      " WHERE connection_id = ANY ($1::bigint[])"
                                      " AND cause = $2::smallint AND NOT provider_wide",
                             2, (const char *[]) { ids, kind });
    free (ids);
    return queued? 0: -2;
}

//  Disconnect, Suspend and Decommission share everything but the cause and
//  its reference; a refusal names the cause's requirement
static int
s_impose (lg_ctx_t *ctx, int cause, uint64_t provider, uint64_t *connections, size_t n,
          const char *reference)
{
    const char *requirement = s_cause_requirements [cause];
    if (provider == 0 && n == 0)
        return INVALID (ctx, requirement, "name the provider or the connections");
    size_t len = strlen (reference);
    if (len == 0 || len > 128)
        return INVALID (ctx, requirement, "a %s records the %s behind it (1-128 bytes)",
                        s_cause_names [cause], cause == 1? "incident": "remediation request");
    char what [32];
    snprintf (what, sizeof what, "a %s", s_cause_names [cause]);
    //  Cut off with a why (X.1; Disconnect and Suspend took an empty
    //  reason, and a service could be cut off with no why recorded)
    if (lg_ctx_reason_required (ctx, requirement, what))
        return -1;
    zlistx_t *targets = s_ids_new ();
    int rc = s_targets (ctx, provider, connections, n, true, requirement, targets);
    uint64_t version = 0;
    for (const char *c = (const char *) zlistx_first (targets); c && rc == 0;
         c = (const char *) zlistx_next (targets)) {
        bool changed;
        rc = s_apply_cause (ctx, c, cause, true, reference, &version, &changed);
    }
    //  The whole provider: later connections get it too (point 6)
    if (rc == 0 && n == 0)
        rc = s_mark_provider_wide (ctx, targets, cause);
    uint64_t in_force = 0;
    if (rc == 0)
        rc = isolation_emit_in_force (ctx, &in_force);
    if (rc == 0)
        rc = s_reply (ctx, targets, false, version, in_force);
    zlistx_destroy (&targets);
    return rc;
}

static int
s_disconnect (lg_ctx_t *ctx)
{
    const Lgwan__V1__Disconnect *d = ctx->request->disconnect;
    return s_impose (ctx, 1, d->provider, d->connections, d->n_connections, d->incident);
}

static int
s_suspend (lg_ctx_t *ctx)
{
    const Lgwan__V1__Suspend *s = ctx->request->suspend;
    return s_impose (ctx, 2, s->provider, s->connections, s->n_connections, s->remediation);
}

//  A decommission cuts off a connection that may be live (an operator's
//  mistake is the saga's to undo, X.4): it says why (X.1), and the reason
//  is kept with the cause, its history and its event. It needed none, and
//  a live connection was cut off with no why recorded
static int
s_decommission (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->decommission->connection;
    if (id == 0)
        return INVALID (ctx, s_cause_requirements [3], "connection is mandatory");
    return s_impose (ctx, 3, 0, &id, 1, "cancellation");
}

//  A Lift naming one of the references a cause is in force for ends that
//  one: it becomes the reference the cause names, the one a lift ends
//  (migration 013), and the one it replaces is kept among the others (the
//  oldest takes its place again after the lift). A reference the cause is
//  not in force for is refused (the cause's requirement), nothing changed.
//  Lift could not name it, and the saga of a later incident ended the
//  oldest. The connection is locked (s_targets)
static int
s_name_reference (lg_ctx_t *ctx, const char *connection, int cause, const char *reference)
{
    char kind [8];
    snprintf (kind, sizeof kind, "%d", cause);
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "WITH k AS (SELECT * FROM causes WHERE connection_id = $1::bigint AND cause = $2::smallint),"
        " r AS (DELETE FROM cause_references x USING k WHERE x.connection_id = k.connection_id"
        "  AND x.cause = k.cause AND x.reference = $3 RETURNING x.*),"
        " kept AS (INSERT INTO cause_references (connection_id, cause, reference, actor, reason,"
        "  since) SELECT k.connection_id, k.cause, k.reference, k.actor, k.reason, k.since"
        "  FROM k, r),"
        " named AS (UPDATE causes c SET reference = r.reference, actor = r.actor,"
        "  reason = r.reason, since = r.since FROM r WHERE c.connection_id = r.connection_id"
        "  AND c.cause = r.cause)"
        " SELECT (SELECT count(*) FROM k WHERE k.reference = $3) + (SELECT count(*) FROM r)"
        " AS found", 3, (const char *[]) { connection, kind, reference });
    if (rc)
        return rc;
    bool found = lg_db_u64 (res, 0, "found") > 0;
    PQclear (res);
    if (!found)
        return REFUSE (ctx, s_cause_requirements [cause], "connection %s has no %s %s in force",
                       connection, s_cause_names [cause], reference);
    return 0;
}

static int
s_lift (lg_ctx_t *ctx)
{
    const Lgwan__V1__Lift *l = ctx->request->lift;
    //  X.4: only the saga that collected two operators' approvals lifts
    if (ctx->caller->role != LG_ROLE_SERVICE || !*l->saga)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__PERMISSION_DENIED, "X.4",
                              "a cause is lifted only by the orchestrator's saga that collected"
                              " the approvals, not by a %s certificate", ctx->caller->role_name);
    //  Connected again with a why, as it was cut off (X.1); a lift took none,
    //  and its history said only the saga's name
    if (lg_ctx_reason_required (ctx, "X.4", "lifting a cause"))
        return -1;
    if (l->connection == 0)
        return INVALID (ctx, "X.4", "connection is mandatory");
    if (l->cause != LGWAN__V1__ISOLATION_CAUSE__CAUSE_DISCONNECTION
    &&  l->cause != LGWAN__V1__ISOLATION_CAUSE__CAUSE_SUSPENSION
    &&  l->cause != LGWAN__V1__ISOLATION_CAUSE__CAUSE_DECOMMISSION)
        return INVALID (ctx, "X.4", "lift a disconnection, a suspension or a decommission");
    if (strlen (l->saga) > 128)
        return INVALID (ctx, "X.4", "saga reference is at most 128 bytes");
    if (strlen (l->reference) > 128)
        return INVALID (ctx, "X.4", "reference is at most 128 bytes");
    char text [24];
    snprintf (text, sizeof text, "%" PRIu64, l->connection);
    zlistx_t *targets = s_ids_new ();
    uint64_t id = l->connection;
    int rc = s_targets (ctx, 0, &id, 1, true, "X.4", targets);
    uint64_t version = 0;
    bool changed = false;
    if (rc == 0 && *l->reference)
        rc = s_name_reference (ctx, text, (int) l->cause, l->reference);
    if (rc == 0)
        rc = s_apply_cause (ctx, text, (int) l->cause, false, l->saga, &version, &changed);
    if (rc == 0 && !changed)
        rc = REFUSE (ctx, s_cause_requirements [l->cause], "connection %s has no %s in force",
                     text, s_cause_names [l->cause]);
    uint64_t in_force = 0;
    if (rc == 0)
        rc = isolation_emit_in_force (ctx, &in_force);
    if (rc == 0)
        rc = s_reply (ctx, targets, false, version, in_force);
    zlistx_destroy (&targets);
    return rc;
}

static int
s_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->isolation_get->connection;
    if (id == 0)
        return INVALID (ctx, NULL, "connection is mandatory");
    zlistx_t *targets = s_ids_new ();
    int rc = s_targets (ctx, 0, &id, 1, false, NULL, targets);
    if (rc == 0)
        rc = s_reply (ctx, targets, true, 0, 0);
    zlistx_destroy (&targets);
    return rc;
}

//  The causes kept for provider (text; "0": for every provider) since the
//  last connection that carried them was released (point 6), into reply
static int
s_kept (lg_ctx_t *ctx, const char *provider, Lgwan__V1__IsolationReply *reply)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT provider_id, cause, reference, actor, reason,"
        " to_char (since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS since,"
        " connection_id, to_char (kept_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        " AS kept_at FROM provider_causes WHERE $1::bigint = 0 OR provider_id = $1::bigint"
        " ORDER BY provider_id, cause", 1, (const char *[]) { provider });
    if (rc)
        return rc;
    int rows = PQntuples (res);
    reply->kept = (Lgwan__V1__KeptCause **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__KeptCause *kept = (Lgwan__V1__KeptCause *) malloc (sizeof *kept);
        lgwan__v1__kept_cause__init (kept);
        kept->provider = lg_db_u64 (res, row, "provider_id");
        kept->last_connection = lg_db_u64 (res, row, "connection_id");
        kept->kept_at = lg_db_strdup (res, row, "kept_at");
        Lgwan__V1__CauseRecord *k = (Lgwan__V1__CauseRecord *) malloc (sizeof *k);
        lgwan__v1__cause_record__init (k);
        k->cause = (Lgwan__V1__IsolationCause) atoi (lg_db_value (res, row, "cause"));
        k->reference = lg_db_strdup (res, row, "reference");
        k->actor = lg_db_strdup (res, row, "actor");
        k->reason = lg_db_strdup (res, row, "reason");
        k->since = lg_db_strdup (res, row, "since");
        k->provider_wide = true;
        kept->cause = k;
        reply->kept [reply->n_kept++] = kept;
    }
    PQclear (res);
    return 0;
}

//  A page of the connections with a cause, or with a cause pending (note
//  7), in id order (keyset: a page more is asked from the last id of this
//  one). The page's ids are read in the statement that reads their causes
//  (s_reply_from): read in a statement before it, a change committed in
//  between gave a page whose ids and causes disagreed (a connection lifted
//  meanwhile listed "connected", one disconnected meanwhile missing)
static int
s_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__EnforcedList *q = ctx->request->enforced_list;
    uint32_t limit;
    char provider [24], after [24], count [16];
    if (lg_ctx_page (ctx, q->limit, 50, 500, &limit, count, sizeof count))
        return -1;
    snprintf (provider, sizeof provider, "%" PRIu64, q->provider);
    snprintf (after, sizeof after, "%" PRIu64, q->after_id);
    const char *params [] = { provider, after, count };
    //  Along the causes' primary key and the pending connections' index:
    //  as many rows read as the page needs, one past it
    int rc = s_reply_from (ctx,
        "(SELECT p.id, row_number () OVER (ORDER BY p.id) AS n FROM ("
        "  SELECT k.connection_id AS id FROM causes k JOIN connections c ON c.id = k.connection_id"
        "  WHERE k.connection_id > $2::bigint AND ($1::bigint = 0 OR c.provider_id = $1::bigint)"
        "  UNION SELECT c.id FROM connections c WHERE c.inherit_pending AND NOT c.released"
        "  AND c.id > $2::bigint AND ($1::bigint = 0 OR c.provider_id = $1::bigint)"
        "  AND EXISTS (" S_INHERITED_SQL ("c.provider_id", "c.id") ")"
        "  ORDER BY 1 LIMIT $3::integer) p) u", 3, params, limit, true, 0, 0);
    if (rc == 0 && q->after_id == 0)
        rc = s_kept (ctx, provider, ctx->reply->isolation);
    return rc;
}

//  The points, and the head: read in one statement, from the head's row
//  (a row of NULLs but the head when no point exists), so the version is
//  there with no point too; it was set from the points' rows only, and
//  PointList said version 0 whatever the head when none was registered
static int
s_points (lg_ctx_t *ctx)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "SELECT h.version AS head, p.name, p.acked_version, p.dry_run,"
        " to_char (p.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS last_seen,"
        " p.acked_version < h.version AND p.retired_at IS NULL AS behind, p.refusals,"
        " coalesce (to_char (p.refused_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " '') AS refused_at,"
        " coalesce (to_char (p.retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " '') AS retired_at, coalesce (p.retired_by, '') AS retired_by,"
        " coalesce (p.retire_reason, '') AS retire_reason, p.replica"
        " FROM desired_head h LEFT JOIN points p ON true WHERE h.id = 1 ORDER BY p.name",
        0, NULL);
    if (rc)
        return rc;
    Lgwan__V1__PointsReply *reply = (Lgwan__V1__PointsReply *) malloc (sizeof *reply);
    lgwan__v1__points_reply__init (reply);
    int rows = PQntuples (res);
    reply->points = (Lgwan__V1__EnforcementPoint **) calloc (rows + 1, sizeof (void *));
    reply->version = lg_db_u64 (res, 0, "head");
    for (int row = 0; row < rows && lg_db_value (res, row, "name"); row++) {
        Lgwan__V1__EnforcementPoint *p = (Lgwan__V1__EnforcementPoint *) malloc (sizeof *p);
        lgwan__v1__enforcement_point__init (p);
        p->name = lg_strdup (lg_db_value (res, row, "name"));
        p->acked_version = strtoull (lg_db_value (res, row, "acked_version"), NULL, 10);
        p->dry_run = streq (lg_db_value (res, row, "dry_run"), "t");
        p->last_seen = lg_strdup (lg_db_value (res, row, "last_seen"));
        p->lagging = streq (lg_db_value (res, row, "behind"), "t");
        p->refusals = lg_db_u64 (res, row, "refusals");
        p->refused_at = lg_strdup (lg_db_value (res, row, "refused_at"));
        p->retired_at = lg_strdup (lg_db_value (res, row, "retired_at"));
        p->retired_by = lg_strdup (lg_db_value (res, row, "retired_by"));
        p->retire_reason = lg_strdup (lg_db_value (res, row, "retire_reason"));
        p->replica = lg_strdup (lg_db_value (res, row, "replica"));
        reply->points [reply->n_points++] = p;
    }
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_POINTS;
    ctx->reply->points = reply;
    return 0;
}

//  A point gone for good stops holding changes back; refused while it is
//  connected (its replica marks it seen every second)
#define S_RETIRE_QUIET_S 10

//  Retire the point (locked, not retired) and publish PointRetired under
//  the request's actor and reason (X.1). The row's retired_by and
//  retire_reason last only until the point says Hello again (registered
//  again); the retirement had no other record, and that Hello erased who
//  retired it and why. The event, before the ones the retirement releases
static int
s_point_retired (lg_ctx_t *ctx, const char *point, const char *reason, const char *now)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "UPDATE points SET retired_at = $4::timestamptz,"
        " retired_by = $2, retire_reason = $3 WHERE name = $1 RETURNING acked_version,"
        " (SELECT version FROM desired_head WHERE id = 1) AS head,"
        " to_char (last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS last_seen,"
        " to_char (retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS retired_at",
        4, (const char *[]) { point, ctx->actor, reason, now });
    if (rc)
        return rc;
    Lgwan__V1__PointRetired retired = LGWAN__V1__POINT_RETIRED__INIT;
    retired.point = (char *) point;
    retired.acked_version = lg_db_u64 (res, 0, "acked_version");
    retired.version = lg_db_u64 (res, 0, "head");
    retired.last_seen = (char *) lg_db_value (res, 0, "last_seen");
    retired.retired_at = (char *) lg_db_value (res, 0, "retired_at");
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_POINT_RETIRED;
    event.point_retired = &retired;
    rc = lg_ctx_emit (ctx, &event);
    PQclear (res);
    return rc;
}

static int
s_point_retire (lg_ctx_t *ctx)
{
    const char *point = ctx->request->point_retire->point;
    if (!lg_check_point_name (point))
        return INVALID (ctx, "R16.1", "point is a name of [a-z0-9-]{1,32}");
    if (lg_ctx_reason_required (ctx, "R16.1", "retiring a point"))
        return -1;
    const char *reason = ctx->request->reason;
    char quiet [16], now [40];
    snprintf (quiet, sizeof quiet, "%d", S_RETIRE_QUIET_S);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { point, quiet, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT retired_at IS NOT NULL AS retired,"
        " last_seen > $3::timestamptz - $2::integer * interval '1 second' AS connected,"
        " to_char (last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS seen"
        " FROM points WHERE name = $1 FOR UPDATE", 3, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return MISSING (ctx, "no enforcement point %s", point);
    }
    bool retired = streq (lg_db_value (res, 0, "retired"), "t");
    bool connected = streq (lg_db_value (res, 0, "connected"), "t");
    char seen [40];
    snprintf (seen, sizeof seen, "%s", lg_db_value (res, 0, "seen"));
    PQclear (res);
    if (!retired && connected)
        return REFUSE (ctx, "R16.1", "enforcement point %s is connected (seen %s): stop its"
                       " enforcer before retiring it", point, seen);
    if (!retired) {
        if ((rc = s_point_retired (ctx, point, reason, now))
        ||  (rc = isolation_emit_in_force (ctx, NULL)))
            return rc;
    }
    return s_points (ctx);
}

//  Registry events: the connections and their prefixes
static int
s_on_registry (lg_db_t *db, const lg_event_t *event, void *state)
{
    (void) state;
    if (event->body_case == LGWAN__V1__EVENT__BODY_CONNECTION_ACTIVATED) {
        const Lgwan__V1__ConnectionActivated *a = event->connection_activated;
        char id [24], provider [24], service [24];
        snprintf (id, sizeof id, "%" PRIu64, a->connection);
        snprintf (provider, sizeof provider, "%" PRIu64, a->provider);
        snprintf (service, sizeof service, "%" PRIu64, a->service);
        //  {p1,p2}: prefixes were validated by the registry; quote nothing
        char list [1024] = "{";
        for (size_t i = 0; i < a->n_prefixes; i++) {
            if (strlen (list) + strlen (a->prefixes [i]) + 2 >= sizeof list)
                return -1;
            strcat (list, i? ",": "");
            strcat (list, a->prefixes [i]);
        }
        strcat (list, "}");
        const char *params [] = { id, provider, service, list };
        //  The duty below gives it its provider's provider-wide causes (point 6)
        return lg_db_run (db, "INSERT INTO connections (id, provider_id, service_id, prefixes,"
                              " inherit_pending) VALUES ($1::bigint, $2::bigint, $3::bigint,"
                              " $4::text[], true) ON CONFLICT (id) DO NOTHING", 4, params)? 0: -2;
    }
    if (event->body_case == LGWAN__V1__EVENT__BODY_ALLOCATION_RELEASED) {
        char id [24];
        snprintf (id, sizeof id, "%" PRIu64, event->allocation_released->connection);
        const char *params [] = { id };
        //  The duty below drops its prefixes from the set, with a new version
        return lg_db_run (db, "UPDATE connections SET released = true WHERE id = $1::bigint",
                          1, params)? 0: -2;
    }
    return 0;
}

//  Duty: released connections leave the drop set, and their causes end,
//  each with its history (X.1: who ended it, and why). Found by their causes
//  too: a connection the prefix went to next takes its rows over (migration
//  009), so one may hold causes and no rows. A provider-wide cause that no
//  other connection of the provider not released carries is kept for the
//  provider (provider_causes, migration 011): the next connection settled
//  gets it (point 6). Under the providers' locks, taken first in provider
//  order as a request takes them, so that no connection is settled between
//  the cause's end and its keeping
static int
s_released (lg_ctx_t *ctx)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT x.id::text FROM (SELECT connection_id AS id FROM causes"
                                      " UNION SELECT connection_id FROM desired) x"
                                      " JOIN connections c ON c.id = x.id WHERE c.released"
                                      " ORDER BY x.id LIMIT 100", 0, NULL);
    if (rc)
        return rc;
    zlistx_t *ids = s_ids_new ();
    for (int row = 0; row < PQntuples (res); row++)
        zlistx_add_end (ids, (void *) PQgetvalue (res, row, 0));
    char *array = s_id_array (ids);
    if (zlistx_size (ids) && !s_lock_providers_of (ctx, array, false))
        rc = -2;
    free (array);
    zlistx_destroy (&ids);
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        const char *id = PQgetvalue (res, row, 0);
        uint64_t version;
        //  Locked as a request locks it, in a statement of its own (queued),
        //  so the next one sees what a request before it committed
        if (!lg_db_run (ctx->db, "SELECT 1 FROM connections WHERE id = $1::bigint FOR UPDATE",
                        1, (const char *[]) { id })) {
            rc = -2;
            break;
        }
        rc = lg_ctx_exec (ctx, "WITH kept AS (INSERT INTO provider_causes (provider_id, cause,"
                               "  reference, actor, reason, since, connection_id, kept_at)"
                               "  SELECT c.provider_id, k.cause, k.reference, k.actor, k.reason,"
                               "  k.since, k.connection_id, $3::timestamptz FROM causes k"
                               "  JOIN connections c ON c.id = k.connection_id"
                               "  WHERE k.connection_id = $1::bigint AND k.provider_wide"
                               "  AND NOT EXISTS (SELECT 1 FROM causes o JOIN connections oc"
                               "   ON oc.id = o.connection_id WHERE oc.provider_id = c.provider_id"
                               "   AND NOT oc.released AND o.cause = k.cause AND o.provider_wide)"
                               //  Nor one the saga lifted from a live connection
                               //  since: it ended it (kept when this duty came
                               //  after the lift, not before it)
                               "  AND NOT EXISTS (SELECT 1 FROM cause_history h JOIN connections hc"
                               "   ON hc.id = h.connection_id WHERE hc.provider_id = c.provider_id"
                               "   AND NOT hc.released AND h.cause = k.cause"
                               "   AND h.action = 'lifted' AND h.at >= k.since)"
                               "  ON CONFLICT (provider_id, cause) DO NOTHING),"
                               " gone AS (DELETE FROM causes k WHERE k.connection_id = $1::bigint"
                               "  RETURNING k.connection_id, k.cause, k.reference)"
                               " INSERT INTO cause_history (connection_id, cause, action, reference,"
                               " actor, reason, at) SELECT connection_id, cause, 'lifted', reference,"
                               " $2, 'the registry released the connection''s allocation',"
                               " $3::timestamptz FROM gone", 3,
                          (const char *[]) { id, ctx->actor, now });
        if (rc == 0)
            rc = s_sync (ctx, id, &version);
    }
    PQclear (res);
    return rc;
}

//  A connection new to its provider gets every cause provider-wide on
//  another of the provider's connections not released, and waits for them
//  no more (point 6); its row and its provider are locked. By
//  S_SYSTEM_ACTOR, with a reason naming the provider-wide cause, whatever
//  request or duty it happens in. The events it queues are released by
//  the caller's isolation_emit_in_force, once (a request's, s_inherit's)
static int
s_settle (lg_ctx_t *ctx, const char *connection, const char *provider)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, S_INHERITED_SQL ("$1::bigint", "$2::bigint"),
                           2, (const char *[]) { provider, connection });
    if (rc)
        return rc;
    const lg_request_t *asked = ctx->request;
    const char *actor = ctx->actor;
    zlistx_t *target = s_ids_new ();
    zlistx_add_end (target, (void *) connection);
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        int cause = atoi (lg_db_value (res, row, "cause"));
        const char *reference = lg_db_value (res, row, "reference");
        char *why = zsys_sprintf ("connection %s was activated after provider %s's %s %s was"
                                  " imposed on the whole provider by %s (as on connection %s)",
                                  connection, provider, s_cause_names [cause], reference,
                                  lg_db_value (res, row, "actor"), lg_db_value (res, row, "source"));
        //  The reason goes into the history and the events, as a request's
        lg_request_t inherited = LGWAN__V1__REQUEST__INIT;
        inherited.reason = why;
        ctx->request = &inherited;
        ctx->actor = S_SYSTEM_ACTOR;
        uint64_t version;
        bool changed;
        rc = s_apply_cause (ctx, connection, cause, true, reference, &version, &changed);
        if (rc == 0)
            rc = s_mark_provider_wide (ctx, target, cause);
        if (rc == 0 && changed)
            lg_info ("%s", why);
        ctx->request = asked;
        ctx->actor = actor;
        zstr_free (&why);
    }
    PQclear (res);
    zlistx_destroy (&target);
    //  What was kept for the provider is this connection's now
    if (rc == 0 && (!lg_db_run (ctx->db, "UPDATE connections SET inherit_pending = false"
                                         " WHERE id = $1::bigint", 1,
                                (const char *[]) { connection })
                ||  !lg_db_run (ctx->db, "DELETE FROM provider_causes WHERE provider_id = $1::bigint",
                                1, (const char *[]) { provider })))
        rc = -2;
    return rc;
}

//  Duty: connections read from ConnectionActivated that no request settled
//  yet get their provider's provider-wide causes (point 6), locked as a
//  request locks them; a released one has nothing to drop any more
static int
s_inherit (lg_ctx_t *ctx)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT id FROM connections WHERE inherit_pending"
                                      " ORDER BY id LIMIT 100", 0, NULL);
    if (rc)
        return rc;
    zlistx_t *ids = s_ids_new ();
    for (int row = 0; row < PQntuples (res); row++)
        zlistx_add_end (ids, (void *) PQgetvalue (res, row, 0));
    PQclear (res);
    char *array = s_id_array (ids);
    if (zlistx_size (ids) && !s_lock_providers_of (ctx, array, true))
        rc = -2;
    if (rc == 0 && zlistx_size (ids))
        rc = lg_ctx_query (ctx, &res, "SELECT id::text, provider_id::text,"
                                      " inherit_pending AND NOT released AS pending"
                                      " FROM connections WHERE id = ANY ($1::bigint[])"
                                      " ORDER BY id FOR UPDATE", 1, (const char *[]) { array });
    else
        res = NULL;
    for (int row = 0; res && row < PQntuples (res) && rc == 0; row++)
        if (streq (lg_db_value (res, row, "pending"), "t"))
            rc = s_settle (ctx, lg_db_value (res, row, "id"), lg_db_value (res, row, "provider_id"));
    PQclear (res);
    if (rc == 0 && zlistx_size (ids))
        rc = lg_ctx_exec (ctx, "UPDATE connections SET inherit_pending = false"
                               " WHERE id = ANY ($1::bigint[]) AND inherit_pending", 1,
                          (const char *[]) { array });
    //  What the settled connections queued, released once for them all
    if (rc == 0 && zlistx_size (ids))
        rc = isolation_emit_in_force (ctx, NULL);
    free (array);
    zlistx_destroy (&ids);
    return rc;
}

static const lg_route_t s_routes [] = {
    { LGWAN__V1__REQUEST__BODY_DISCONNECT, s_disconnect, LG_ROLE_OPERATOR | LG_ROLE_SERVICE,
      LG_ROUTE_WRITE, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_SUSPEND, s_suspend, LG_ROLE_OPERATOR | LG_ROLE_SERVICE,
      LG_ROUTE_WRITE, "R15.3" },
    //  Every role may ask; the handler refuses all but the saga (X.4, named)
    { LGWAN__V1__REQUEST__BODY_LIFT, s_lift, LG_ROLE_ANY, LG_ROUTE_WRITE, "X.4" },
    { LGWAN__V1__REQUEST__BODY_DECOMMISSION, s_decommission, LG_ROLE_OPERATOR | LG_ROLE_SERVICE,
      LG_ROUTE_WRITE, "R4.2" },
    { LGWAN__V1__REQUEST__BODY_ISOLATION_GET, s_get, LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_ENFORCED_LIST, s_list, LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_POINT_LIST, s_points, LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_POINT_RETIRE, s_point_retire,
      LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R16.1" },
    { 0, NULL, 0, 0, NULL }
};

static const lg_subscription_t s_subscriptions [] = {
    { "registry", s_on_registry },
    { NULL, NULL }
};

static const lg_duty_t s_duties [] = {
    { "released connections", 1000, s_released, false },
    { "provider-wide causes", 1000, s_inherit, false },
    { NULL, 0, NULL, false }
};

const lg_service_def_t isolation_service = {
    .name = "isolation",
    .migrations = isolation_migrations,
    .routes = s_routes,
    .stream_roles = LG_ROLE_READERS | LG_ROLE_BILLING,
    .subscriptions = s_subscriptions,
    .duties = s_duties,
    .state_new = isolation_points_new,
    .state_destroy = isolation_points_destroy,
    .attach = isolation_points_attach
};
