/*  registry_changes - changes and cancellations of what was filed (R4.2),
    and the history of every record.

    1. A change is filed as a notification (届出: takes effect when filed) or
       an application (申込: takes effect when a reviewer approves it). Which
       fields need an application is data (table change_policy); a change is
       filed as the kind its fields ask (an application when any field needs
       one), and either kind filed for the other is refused naming R4.2.
    2. The content of a change is checked when it is filed, with the same
       rules as a first filing (R3.3 for data centres, Art.9 for holders), so
       nothing that would be refused later waits in the queue. A provider's
       contacts replaced keep an emergency response contact and an
       operations manager while a connection it hosts is in effect (R9.2,
       what ConnectionApply and ConnectionDecide ask), checked when filed
       and again when the change takes effect, each time under the
       provider's contacts lock (exclusive; approvals hold it shared), so an
       approval under way is waited for and its connection counts.
    3. A cancellation takes effect on its date (Asia/Tokyo): at once when that
       is today, else a leader duty applies it when the business clock gets
       there, also when the date passed while no registry ran. Only then is
       CancellationEffective published, once.
    4. A cancellation ends what is in effect: a qualified provider, a
       registered service, an active connection or contract. One of what is
       still applied for, under review or a draft is refused (R4.2): it never
       began, and CancellationEffective would announce its end (a draft
       contract is withdrawn instead, point 8). A change that
       waits (pending, scheduled) for a record that never took effect (since
       rejected, or one filed before this rule) lapses when it is decided or
       due: closed as 'lapsed', nothing written, nothing published. What
       ended with its parent (a connection with its service or provider, a
       service with its hosting provider, a contract with its provider)
       takes no change, filed or approved (R4.2), and its own cancellation
       scheduled before the parent ended lapses on its date: its end took
       effect with the parent's, and is not published again. A record ends
       once: a cancellation of a record already cancelled (by another
       cancellation of its own, e.g. one for today filed after one for a
       later date) is refused when filed or approved (R4.2: the reviewer
       rejects it) and lapses on its date when it was scheduled before.
    5. Every change that takes effect writes a new version of its record.
    6. A provider's cancellation ends, when it takes effect and in the same
       transaction, its contracts in force: each active contract cancelled,
       its version by whoever made the cancellation effective, naming it, and
       CancellationEffective of the contract (published once: a contract's
       own cancellation waiting for a later date then lapses, point 4). Its
       active connections, the registered services it hosts and the
       interconnections it is a side of end with it too, without events of
       their own: cancelled, a version each naming it, the connections'
       addresses decommissioning; its draft contracts are withdrawn (a
       version each naming it, nothing published: point 8). A service's
       cancellation ends its active connections likewise, naming it.
    7. An interconnection ends by a cancellation, a notification (policy)
       filed by either side or staff; CancellationEffective names its first
       side as provider. No other change of it is filed.
    8. A draft contract never took effect, and nobody decides it: a
       cancellation filed while it is a draft withdraws it at once (status
       withdrawn, a version, the change effective, no CancellationEffective;
       a later date is refused, R4.2), and so does its provider's
       cancellation (point 6). A withdrawn contract takes no change,
       delivery or activation.
*/
#include "registry_internal.h"

//  Each record a change or History names: the provider that answers for it
//  (files its changes and reads its history; for a service its hosting
//  provider, for an interconnection either side, the second as other), its
//  status, and the status in which it is in effect (what a cancellation
//  ends). A change locks it; a read takes it as it is, without a lock: a
//  read runs on the reactor, and a lock would hold the writes as well
#define RECORD_OF_PROVIDER \
    "SELECT id AS provider, 0 AS other, status FROM providers WHERE id = $1::bigint"
#define RECORD_OF_SERVICE \
    "SELECT (SELECT provider_id FROM service_holders h WHERE h.service_id = s.id" \
    " AND h.role = 2) AS provider, 0 AS other, status FROM services s WHERE id = $1::bigint"
#define RECORD_OF_CONTRACT \
    "SELECT provider_id AS provider, 0 AS other, status FROM contracts WHERE id = $1::bigint"
#define RECORD_OF_CONNECTION \
    "SELECT provider_id AS provider, 0 AS other, status FROM connections WHERE id = $1::bigint"
#define RECORD_OF_INTERCONNECTION \
    "SELECT provider_a AS provider, provider_b AS other, status FROM interconnections" \
    " WHERE id = $1::bigint"

//  The parents whose cancellation ended a record (what, id), the first one
#define ENDED_WITH_SERVICE \
    "SELECT 'provider' AS what, p.id FROM service_holders h" \
    " JOIN providers p ON p.id = h.provider_id WHERE h.service_id = $1::bigint" \
    " AND h.role = 2 AND p.status = 'cancelled'"
#define ENDED_WITH_CONTRACT \
    "SELECT 'provider' AS what, p.id FROM contracts k JOIN providers p ON p.id = k.provider_id" \
    " WHERE k.id = $1::bigint AND p.status = 'cancelled'"
#define ENDED_WITH_CONNECTION \
    "SELECT 'service' AS what, s.id FROM connections c JOIN services s ON s.id = c.service_id" \
    " WHERE c.id = $1::bigint AND s.status = 'cancelled'" \
    " UNION ALL SELECT 'provider', p.id FROM connections c JOIN providers p" \
    " ON p.id = c.provider_id WHERE c.id = $1::bigint AND p.status = 'cancelled' LIMIT 1"

typedef struct {
    const char *subject;
    const char *read;           //  provider, other, status
    const char *lock;           //  the same, locked; NULL: nothing is filed for it
    const char *in_effect;      //  its status while in effect
    const char *ended_with;     //  its parents cancelled; NULL: it has none
    bool apart;                 //  lock only locks the row: read follows it
} s_record_t;

//  A service's provider is a row of service_holders, which a statement that
//  waits for the service's lock reads as it was when the statement began:
//  the provider a hosting move (approved meanwhile, the service locked)
//  took the role from filed a change of the service, and cancelled it. So
//  the service is locked in a statement of its own, and read in the next
#define LOCK_SERVICE "SELECT 1 FROM services WHERE id = $1::bigint FOR UPDATE"

static const s_record_t s_records [] = {
    { "provider", RECORD_OF_PROVIDER, RECORD_OF_PROVIDER " FOR UPDATE", "qualified", NULL,
      false },
    { "service", RECORD_OF_SERVICE, LOCK_SERVICE, "registered", ENDED_WITH_SERVICE, true },
    { "contract", RECORD_OF_CONTRACT, RECORD_OF_CONTRACT " FOR UPDATE", "active",
      ENDED_WITH_CONTRACT, false },
    { "connection", RECORD_OF_CONNECTION, RECORD_OF_CONNECTION " FOR UPDATE", "active",
      ENDED_WITH_CONNECTION, false },
    { "interconnection", RECORD_OF_INTERCONNECTION, RECORD_OF_INTERCONNECTION " FOR UPDATE",
      "registered", NULL, false },
};

//  The record of subject; NULL when there is no such subject
static const s_record_t *
s_record (const char *subject)
{
    for (size_t i = 0; i < sizeof s_records / sizeof s_records [0]; i++)
        if (streq (s_records [i].subject, subject))
            return &s_records [i];
    return NULL;
}

//  A subject whose changes are filed
static bool
s_known_subject (const char *subject)
{
    const s_record_t *record = s_record (subject);
    return record && record->lock;
}

static bool
s_is_in_effect (const char *subject, const char *status)
{
    const s_record_t *record = s_record (subject);
    return record && streq (record->in_effect, status);
}

//  A change that waited lapses when its record never took effect (point 4):
//  a rejected record takes no change, and a cancellation ends only what is
//  in effect. A cancelled record is the caller's to answer.
static bool
s_lapses (const char *subject, const char *status, bool cancel)
{
    return streq (status, "rejected") || (cancel && !s_is_in_effect (subject, status));
}

//  The kind of change the policy asks for a field; "application" unless the
//  policy says "notification"
static int
s_policy (lg_ctx_t *ctx, const char *subject, const char *field, bool *application)
{
    const char *params [] = { subject, field };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT kind FROM change_policy WHERE subject = $1"
                                      " AND field = $2", 2, params);
    if (rc)
        return rc;
    *application = PQntuples (res) == 0 || !streq (lg_db_value (res, 0, "kind"), "notification");
    PQclear (res);
    return 0;
}

//  The fields a change touches, in policy terms
static int
s_fields (const Lgwan__V1__ChangeFile *f, const char **fields, int max)
{
    int n = 0;
    if (f->cancel)
        fields [n++] = "cancel";
    else
    if (f->provider) {
        if (*f->provider->name_ja || *f->provider->name_en)
            fields [n++] = "name";
        if (f->provider->replace_contacts)
            fields [n++] = "contacts";
        if (f->provider->replace_data_centres && n < max)
            fields [n++] = "data_centres";
    }
    else
    if (f->service) {
        if (*f->service->title_ja)
            fields [n++] = "title";
        if (f->service->replace_holders)
            fields [n++] = "holders";
    }
    else
    if (f->connection && *f->connection->bandwidth_class)
        fields [n++] = "bandwidth";
    return n;
}

//  The provider that answers for a record (and other, an interconnection's
//  second side; NULL when not wanted) and its status, locked for a change
//  or read as it is; -1 NOT_FOUND
static int
s_subject (lg_ctx_t *ctx, const char *subject, uint64_t id, bool lock, uint64_t *provider,
           uint64_t *other, char *status, size_t size)
{
    const s_record_t *record = s_record (subject);
    assert (record && (record->lock || !lock));
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    if (lock && record->apart && reg_queue (ctx, record->lock, 1, params))
        return -2;
    int rc = lg_ctx_query (ctx, &res, lock && !record->apart? record->lock: record->read, 1,
                           params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, subject, text);
    }
    *provider = lg_db_u64 (res, 0, "provider");
    if (other)
        *other = lg_db_u64 (res, 0, "other");
    snprintf (status, size, "%s", lg_db_value (res, 0, "status"));
    PQclear (res);
    return 0;
}

//  The subject's provider and status, locked; -1 NOT_FOUND (a provider
//  files only for what it answers for: an interconnection, either side;
//  *provider is then its first side. Another's record is to it one that
//  does not exist, X.3)
static int
s_lock_subject (lg_ctx_t *ctx, const char *subject, uint64_t id, uint64_t *provider,
                char *status, size_t size)
{
    uint64_t other;
    int rc = s_subject (ctx, subject, id, true, provider, &other, status, size);
    return rc? rc: reg_only_owner (ctx, subject, id, *provider, other);
}

//  R4.2: a record whose parent was cancelled ended with it (a connection
//  with its service or its provider, a service with its hosting provider, a
//  contract with its provider): no change of it is filed or takes effect,
//  and a cancellation of it scheduled before the parent ended lapses on its
//  date. The parent that ended it: *what ("" when none, else provider or
//  service; 16 bytes) and its id. Asked after the record is locked, in a statement of its own, and the
//  parents are not locked: a cancellation locks the parent, then writes the
//  connections in effect under it (their allocations, a version), so a
//  parent locked here after the record would close a cycle. A cancellation
//  of an active connection's parent under way is waited for at the
//  connection's lock and seen by this later statement; so is one of an
//  active contract's provider (it cancels the contract, s_end_contracts_of),
//  and of a registered service's hosting provider (it cancels the service).
//  A record that ended with its parent is cancelled as well (s_cancel_now):
//  a refusal for a cancelled record asks this first, to name the parent
static int
s_ended_with (lg_ctx_t *ctx, const char *subject, uint64_t id, char *what, size_t size,
              uint64_t *parent)
{
    *what = 0;
    *parent = 0;
    const s_record_t *record = s_record (subject);
    if (!record || !record->ended_with)
        return 0;
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, record->ended_with, 1, params);
    if (rc)
        return rc;
    if (PQntuples (res)) {
        snprintf (what, size, "%s", lg_db_value (res, 0, "what"));
        *parent = lg_db_u64 (res, 0, "id");
    }
    PQclear (res);
    return 0;
}

//  The same as the refusal of a change filed or approved: -1 when the
//  record ended with its parent
static int
s_check_parents (lg_ctx_t *ctx, const char *subject, uint64_t id)
{
    char what [16];
    uint64_t parent;
    int rc = s_ended_with (ctx, subject, id, what, sizeof what, &parent);
    if (rc == 0 && *what)
        rc = REFUSE (ctx, "R4.2", "%s %" PRIu64 " ended with its %s %" PRIu64 ", which is"
                     " cancelled: there is nothing to change or cancel", subject, id, what,
                     parent);
    return rc;
}

//  A provider reads the changes and the history of what it answers for
//  (either side, an interconnection); staff and readers all. -1 NOT_FOUND
//  (to a provider, also another's record: X.3)
static int
s_check_reader (lg_ctx_t *ctx, const char *subject, uint64_t id)
{
    if (ctx->caller->role != LG_ROLE_PROVIDER)
        return 0;
    uint64_t provider, other;
    char status [32];
    int rc = s_subject (ctx, subject, id, false, &provider, &other, status, sizeof status);
    return rc? rc: reg_only_owner (ctx, subject, id, provider, other);
}

//  A service's hosting provider changes only when the service has no
//  connection of the one before still in effect (R9.2): a connection is the
//  hosting provider's own line from its data centre, filed, answered for and
//  billed by it, so the one before cancels its connections and the new one
//  applies for its own. Otherwise the one before kept acting on connections
//  of a service it no longer hosted, and the new one could not
static int
s_check_hosting_kept (lg_ctx_t *ctx, uint64_t service, Lgwan__V1__RoleHolder **holders, size_t n)
{
    uint64_t hosting = 0;
    for (size_t i = 0; i < n; i++)
        if (holders [i]->role == LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING)
            hosting = holders [i]->provider;
    char text [24], host [24];
    ID_TEXT (text, service);
    ID_TEXT (host, hosting);
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT string_agg (id::text, ', ' ORDER BY id) AS ids"
                                      " FROM connections WHERE service_id = $1::bigint"
                                      " AND provider_id <> $2::bigint"
                                      " AND status NOT IN ('rejected', 'cancelled')", 2,
                           (const char *[]) { text, host });
    if (rc)
        return rc;
    if (lg_db_value (res, 0, "ids"))
        rc = REFUSE (ctx, "R9.2", "service %s has connections of its hosting provider in effect"
                     " (%.200s): that provider cancels them before the hosting role moves, and"
                     " provider %s applies for its own", text, lg_db_value (res, 0, "ids"), host);
    PQclear (res);
    return rc;
}

//  R10.1: a holders change keeps every provider of an active contract that
//  covers the service as one of its application & content or hosting
//  holders (what ContractCreate and ContractActivate require); it took
//  effect, and the contract stayed active with a provider that no longer
//  answered for the service. Asked when filed and when decided, after the
//  service's lock (a contract activates under the service's share lock)
static int
s_check_contracts_kept (lg_ctx_t *ctx, uint64_t service, Lgwan__V1__RoleHolder **holders,
                        size_t n)
{
    char text [24];
    ID_TEXT (text, service);
    //  The providers that answer for it: {a,b}
    char *kept = (char *) malloc (n * 21 + 3);
    size_t at = 0;
    kept [at++] = '{';
    for (size_t i = 0; i < n; i++)
        if (holders [i]->role == LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT
        ||  holders [i]->role == LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING)
            at += (size_t) sprintf (kept + at, "%s%" PRIu64, at > 1? ",": "", holders [i]->provider);
    snprintf (kept + at, 2, "}");
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT string_agg (k.id::text || ' of provider '"
                                      " || k.provider_id, ', ' ORDER BY k.id) AS contracts"
                                      " FROM contracts k JOIN contract_services cs"
                                      " ON cs.contract_id = k.id WHERE cs.service_id = $1::bigint"
                                      " AND k.status = 'active'"
                                      " AND k.provider_id <> ALL ($2::bigint[])", 2,
                           (const char *[]) { text, kept });
    free (kept);
    if (rc)
        return rc;
    if (lg_db_value (res, 0, "contracts"))
        rc = REFUSE (ctx, "R10.1", "service %s has active contracts whose provider would hold"
                     " neither its application & content nor its hosting role (contract %.200s):"
                     " the provider stays a holder, or the contract is cancelled first", text,
                     lg_db_value (res, 0, "contracts"));
    PQclear (res);
    return rc;
}

//  The active connections of a provider or a service (which: the column
//  naming it) end with its cancellation: cancelled, their allocations in
//  effect to decommissioning (released once isolation reports them
//  decommissioned), their ids rows of c; each gets a version naming the
//  cancellation (s_ended_by)
#define END_CONNECTIONS_OF(which) \
    "WITH c AS (UPDATE connections SET status = 'cancelled', version = version + 1," \
    "  updated_at = $2::timestamptz WHERE " which " = $1::bigint AND status = 'active'" \
    "  RETURNING id)," \
    " a AS (UPDATE allocations SET status = 'decommissioning'" \
    "  WHERE status = 'active' AND connection_id IN (SELECT id FROM c)),"

//  CancellationEffective of one record: it took effect, on effective_on
static int
s_publish_cancellation (lg_ctx_t *ctx, const char *subject, uint64_t id, uint64_t provider,
                        const char *effective_on)
{
    Lgwan__V1__CancellationEffective effective = LGWAN__V1__CANCELLATION_EFFECTIVE__INIT;
    effective.kind = (char *) subject;
    effective.id = id;
    effective.provider = provider;
    effective.effective_on = (char *) effective_on;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE;
    event.cancellation_effective = &effective;
    return lg_ctx_emit (ctx, &event);
}

//  The reason of the version of what ended with the cancellation (change)
//  of its parent (a provider or a service), naming it; caller frees
static char *
s_ended_by (lg_ctx_t *ctx, uint64_t change, const char *parent, uint64_t id)
{
    const char *reason = reg_reason (ctx);
    return zsys_sprintf ("ended with the cancellation of %s %" PRIu64 " (change %" PRIu64
                         ")%s%s", parent, id, change, *reason? ": ": "", reason);
}

//  A provider's contracts end with its cancellation (point 6): each active
//  one is cancelled in the same transaction, with a version by whoever made
//  the cancellation effective whose reason names it (change), and
//  CancellationEffective, as a contract's own cancellation publishes, so
//  the orchestrator learns which using bodies lost their contract. Each
//  draft is withdrawn with it, a version with the same actor and reason and
//  nothing published (it never took effect, point 8): it could be neither
//  activated (R4.1) nor withdrawn (ended with its provider) any more, and
//  nothing is left dangling. A change of one under way holds its row: this
//  waits for it, and one it cancelled or withdrew is neither any more
static int
s_end_contracts_of (lg_ctx_t *ctx, uint64_t change, uint64_t provider, const char *effective_on)
{
    char text [24], now [40];
    ID_TEXT (text, provider);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "WITH k AS (UPDATE contracts SET status = CASE status"
                                      " WHEN 'active' THEN 'cancelled' ELSE 'withdrawn' END,"
                                      " version = version + 1, updated_at = $2::timestamptz"
                                      " WHERE provider_id = $1::bigint"
                                      " AND status IN ('active', 'draft') RETURNING id, status)"
                                      " SELECT id, status FROM k ORDER BY id", 2, params);
    if (rc)
        return rc;
    char *why = s_ended_by (ctx, change, "provider", provider);
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        uint64_t contract = lg_db_u64 (res, row, "id");
        rc = reg_version_why (ctx, "contract", contract, why);
        if (rc == 0 && streq (lg_db_value (res, row, "status"), "cancelled"))
            rc = s_publish_cancellation (ctx, "contract", contract, provider, effective_on);
    }
    zstr_free (&why);
    PQclear (res);
    return rc;
}

//  A provider's interconnections end with its cancellation (point 6): each
//  registered one it is a side of is cancelled, with a version whose reason
//  names the cancellation, and no event of its own (as its connections).
//  A cancellation of one under way holds its row: this waits for it, and
//  one it cancelled is not registered any more
static int
s_end_interconnections_of (lg_ctx_t *ctx, uint64_t change, uint64_t provider)
{
    char text [24], now [40];
    ID_TEXT (text, provider);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "WITH i AS (UPDATE interconnections SET status = 'cancelled',"
                                      " version = version + 1, updated_at = $2::timestamptz"
                                      " WHERE $1::bigint IN (provider_a, provider_b)"
                                      " AND status = 'registered' RETURNING id)"
                                      " SELECT id FROM i ORDER BY id", 2, params);
    if (rc)
        return rc;
    char *why = s_ended_by (ctx, change, "provider", provider);
    for (int row = 0; row < PQntuples (res) && rc == 0; row++)
        rc = reg_version_why (ctx, "interconnection", lg_db_u64 (res, row, "id"), why);
    zstr_free (&why);
    PQclear (res);
    return rc;
}

//  Make a cancellation (change) take effect now: the record is cancelled,
//  its version written, and CancellationEffective published; what ended
//  with it too
static int
s_cancel_now (lg_ctx_t *ctx, uint64_t change, const char *subject, uint64_t id,
              uint64_t provider, const char *effective_on)
{
    char text [24], now [40];
    ID_TEXT (text, id);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, now };
    //  A provider's connections are locked first: an approval under way
    //  holds its connection, so this waits for it and, a statement later,
    //  sees the addresses it gave (the approval reads the provider unlocked,
    //  registry_connections.c). A service's cancellation needs no such step:
    //  approvals share-lock the service row, which it holds already
    if (streq (subject, "provider")) {
        int rc = reg_queue (ctx, "SELECT 1 FROM connections WHERE provider_id = $1::bigint"
                            " ORDER BY id FOR UPDATE", 1, params);
        if (rc)
            return rc;
    }
    //  What ends with it (point 6): a provider's active connections and the
    //  registered services it hosts, a service's active connections, each
    //  cancelled with a version naming this cancellation. The services are
    //  written after the connections, as an approval locks its connection
    //  before its service. The addresses of connections no longer in effect
    //  wait, decommissioning, until isolation reports them decommissioned;
    //  then they are released
    const char *sql =
        streq (subject, "provider")?
            END_CONNECTIONS_OF ("provider_id")
            " s AS (UPDATE services SET status = 'cancelled', version = version + 1,"
            "  updated_at = $2::timestamptz WHERE status = 'registered' AND id IN"
            "  (SELECT service_id FROM service_holders WHERE provider_id = $1::bigint"
            "  AND role = 2) RETURNING id),"
            " r AS (UPDATE providers SET status = 'cancelled', version = version + 1,"
            "  updated_at = $2::timestamptz WHERE id = $1::bigint)"
            " SELECT 'connection' AS subject, id FROM c"
            " UNION ALL SELECT 'service', id FROM s ORDER BY subject, id":
        streq (subject, "service")?
            END_CONNECTIONS_OF ("service_id")
            " r AS (UPDATE services SET status = 'cancelled', version = version + 1,"
            "  updated_at = $2::timestamptz WHERE id = $1::bigint)"
            " SELECT 'connection' AS subject, id FROM c ORDER BY id":
        streq (subject, "connection")?
            //  Its addresses wait until isolation reports it decommissioned
            "WITH a AS (UPDATE allocations SET status = 'decommissioning'"
            "  WHERE connection_id = $1::bigint AND status = 'active')"
            " UPDATE connections SET status = 'cancelled', version = version + 1,"
            " updated_at = $2::timestamptz WHERE id = $1::bigint":
        streq (subject, "interconnection")?
            "UPDATE interconnections SET status = 'cancelled', version = version + 1,"
            " updated_at = $2::timestamptz WHERE id = $1::bigint":
            "UPDATE contracts SET status = 'cancelled', version = version + 1,"
            " updated_at = $2::timestamptz WHERE id = $1::bigint";
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, sql, 2, params);
    if (rc)
        return rc;
    char *why = s_ended_by (ctx, change, subject, id);
    for (int row = 0; row < PQntuples (res) && rc == 0; row++)
        rc = reg_version_why (ctx, lg_db_value (res, row, "subject"), lg_db_u64 (res, row, "id"),
                              why);
    zstr_free (&why);
    PQclear (res);
    if (rc || (rc = reg_version (ctx, subject, id)))
        return rc;
    if (streq (subject, "provider")
    &&  ((rc = s_end_contracts_of (ctx, change, id, effective_on))
      || (rc = s_end_interconnections_of (ctx, change, id))))
        return rc;
    return s_publish_cancellation (ctx, subject, id, provider, effective_on);
}

//  A draft contract withdrawn (point 8): its status and a version; nothing
//  ended, so nothing is published
static int
s_withdraw_contract (lg_ctx_t *ctx, uint64_t id)
{
    char text [24], now [40];
    ID_TEXT (text, id);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, now };
    int rc = lg_ctx_exec (ctx, "UPDATE contracts SET status = 'withdrawn', version = version + 1,"
                               " updated_at = $2::timestamptz WHERE id = $1::bigint", 2, params);
    return rc? rc: reg_version (ctx, "contract", id);
}

//  Apply a change's patch to its record (not a cancellation)
static int
s_apply_patch (lg_ctx_t *ctx, const char *subject, uint64_t id, const char *payload)
{
    char text [24], now [40];
    ID_TEXT (text, id);
    lg_clock_format (ctx->now_us, now, sizeof now);
    ProtobufCMessage *msg = NULL;
    char why [256];
    const ProtobufCMessageDescriptor *d = streq (subject, "provider")?
        &lgwan__v1__provider_patch__descriptor: streq (subject, "connection")?
        &lgwan__v1__connection_patch__descriptor: &lgwan__v1__service_patch__descriptor;
    if (lg_pbjson_parse (d, payload, &msg, why, sizeof why)) {
        lg_error ("stored change of %s %s does not parse: %s", subject, text, why);
        return -2;
    }
    int rc = 0;
    if (streq (subject, "provider")) {
        const Lgwan__V1__ProviderPatch *p = (const Lgwan__V1__ProviderPatch *) msg;
        const char *params [] = { text, *p->name_ja? p->name_ja: NULL,
                                  *p->name_en? p->name_en: NULL, now };
        if ((rc = lg_ctx_exec (ctx, "UPDATE providers SET name_ja = coalesce ($2, name_ja),"
                                    " name_en = coalesce ($3, name_en), version = version + 1,"
                                    " updated_at = $4::timestamptz WHERE id = $1::bigint", 4, params)))
            goto done;
        if (p->replace_contacts
        &&  ((rc = reg_check_connection_contacts (ctx, id, p->contacts, p->n_contacts))
          || (rc = reg_store_contacts (ctx, text, p->contacts, p->n_contacts))))
            goto done;
        if (p->replace_data_centres
        &&  (rc = reg_store_data_centres (ctx, text, p->data_centres, p->n_data_centres)))
            goto done;
        if ((rc = reg_version (ctx, "provider", id)))
            goto done;
        Lgwan__V1__Provider *record = reg_provider_load (ctx, id, &rc);
        if (!record)
            goto done;
        Lgwan__V1__ProviderChanged changed = LGWAN__V1__PROVIDER_CHANGED__INIT;
        changed.provider = id;
        changed.version = record->version;
        changed.record = record;
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.body_case = LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED;
        event.provider_changed = &changed;
        rc = lg_ctx_emit (ctx, &event);
        lgwan__v1__provider__free_unpacked (record, NULL);
    }
    else
    if (streq (subject, "connection")) {
        //  A new line class from today (Asia/Tokyo): billing prorates from it
        const Lgwan__V1__ConnectionPatch *p = (const Lgwan__V1__ConnectionPatch *) msg;
        char today [16];
        reg_today_jst (ctx, today, sizeof today);
        const char *params [] = { text, p->bandwidth_class, now };
        if ((rc = lg_ctx_exec (ctx, "UPDATE connections SET bandwidth_class = $2, version = version + 1,"
                                    " updated_at = $3::timestamptz WHERE id = $1::bigint", 3, params))
        ||  (rc = reg_version (ctx, "connection", id)))
            goto done;
        Lgwan__V1__ConnectionChanged changed = LGWAN__V1__CONNECTION_CHANGED__INIT;
        changed.connection = id;
        changed.bandwidth_class = p->bandwidth_class;
        changed.effective_on = today;
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.body_case = LGWAN__V1__EVENT__BODY_CONNECTION_CHANGED;
        event.connection_changed = &changed;
        rc = lg_ctx_emit (ctx, &event);
    }
    else {
        const Lgwan__V1__ServicePatch *p = (const Lgwan__V1__ServicePatch *) msg;
        if (p->replace_holders
        &&  ((rc = reg_check_holders (ctx, p->holders, p->n_holders))
          || (rc = s_check_hosting_kept (ctx, id, p->holders, p->n_holders))
          || (rc = s_check_contracts_kept (ctx, id, p->holders, p->n_holders))))
            goto done;
        const char *params [] = { text, *p->title_ja? p->title_ja: NULL, now };
        if ((rc = lg_ctx_exec (ctx, "UPDATE services SET title_ja = coalesce ($2, title_ja),"
                                    " version = version + 1, updated_at = $3::timestamptz"
                                    " WHERE id = $1::bigint", 3, params)))
            goto done;
        if (p->replace_holders && (rc = reg_store_holders (ctx, text, p->holders, p->n_holders)))
            goto done;
        if ((rc = reg_version (ctx, "service", id)))
            goto done;
        //  Followers learn the holders as they are now; a title alone is
        //  none of theirs
        if (!p->replace_holders)
            goto done;
        Lgwan__V1__Service *service = reg_service_load (ctx, id, &rc);
        if (!service)
            goto done;
        if (streq (service->status, "registered")) {
            Lgwan__V1__ServiceRegistered registered = LGWAN__V1__SERVICE_REGISTERED__INIT;
            registered.service = id;
            registered.name = service->name;
            registered.holders = service->holders;
            registered.n_holders = service->n_holders;
            lg_event_t event = LGWAN__V1__EVENT__INIT;
            event.body_case = LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED;
            event.service_registered = &registered;
            rc = lg_ctx_emit (ctx, &event);
        }
        lgwan__v1__service__free_unpacked (service, NULL);
    }
done:
    protobuf_c_message_free_unpacked (msg, NULL);
    return rc;
}

//  A changes row c with its last decision, as s_change_from_row reads it
#define CHANGE_COLUMNS "c.id, c.kind, c.subject, c.subject_id, c.cancel," \
    " coalesce (c.effective_on::text, '') AS effective_on, c.status, c.payload, c.filed_by," \
    " c.reason, " TIME_TEXT ("c.filed_at") " AS filed_at," DECISION_JSON ("change", "c.id")

static Lgwan__V1__Change *
s_change_from_row (const PGresult *res, int row)
{
    Lgwan__V1__Change *c = (Lgwan__V1__Change *) malloc (sizeof *c);
    lgwan__v1__change__init (c);
    c->id = lg_db_u64 (res, row, "id");
    c->kind = streq (lg_db_value (res, row, "kind"), "notification")?
              LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION: LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    c->subject = lg_db_strdup (res, row, "subject");
    c->subject_id = lg_db_u64 (res, row, "subject_id");
    c->cancel = streq (lg_db_value (res, row, "cancel"), "t");
    c->effective_on = lg_db_strdup (res, row, "effective_on");
    c->status = lg_db_strdup (res, row, "status");
    c->payload = lg_db_strdup (res, row, "payload");
    c->filed_by = lg_db_strdup (res, row, "filed_by");
    c->filed_at = lg_db_strdup (res, row, "filed_at");
    c->reason = lg_db_strdup (res, row, "reason");
    c->decision = reg_decision_from_json (lg_db_value (res, row, "decision"));
    return c;
}

static Lgwan__V1__Change *
s_change_load (lg_ctx_t *ctx, uint64_t id, int *rc)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    if ((*rc = lg_ctx_query (ctx, &res, "SELECT " CHANGE_COLUMNS " FROM changes c"
                                        " WHERE c.id = $1::bigint", 1, params)))
        return NULL;
    if (PQntuples (res) == 0) {
        PQclear (res);
        *rc = MISSING (ctx, "no change %s", text);
        return NULL;
    }
    Lgwan__V1__Change *c = s_change_from_row (res, 0);
    PQclear (res);
    return c;
}

static int
s_reply_change (lg_ctx_t *ctx, uint64_t id)
{
    int rc;
    Lgwan__V1__Change *change = s_change_load (ctx, id, &rc);
    if (!change)
        return rc;
    Lgwan__V1__ChangeReply *reply = (Lgwan__V1__ChangeReply *) malloc (sizeof *reply);
    lgwan__v1__change_reply__init (reply);
    reply->change = change;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CHANGE;
    ctx->reply->change = reply;
    return 0;
}

//  A change moves on; a cancellation that takes effect records the day it
//  did (effective_on, NULL to keep the day asked for)
static int
s_set_change_status (lg_ctx_t *ctx, uint64_t id, const char *status, const char *effective_on)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text, status, effective_on };
    return lg_ctx_exec (ctx, "UPDATE changes SET status = $2, effective_on ="
                             " coalesce ($3::date, effective_on) WHERE id = $1::bigint", 3, params);
}

//  A change that may take effect now: patch it in, or cancel at its date
static int
s_take_effect (lg_ctx_t *ctx, uint64_t change, const char *subject, uint64_t id,
               uint64_t provider, bool cancel, const char *effective_on, const char *payload)
{
    char today [16];
    reg_today_jst (ctx, today, sizeof today);
    int rc;
    if (cancel && strcmp (effective_on, today) > 0)
        return s_set_change_status (ctx, change, "scheduled", NULL);
    if (cancel)
        rc = s_cancel_now (ctx, change, subject, id, provider, effective_on);
    else
        rc = s_apply_patch (ctx, subject, id, payload);
    //  An approval after the day asked: the day it took effect, as published
    return rc? rc: s_set_change_status (ctx, change, "effective", cancel? effective_on: NULL);
}

//  A field of a change in a refusal: two %s, "a cancellation" or "a change
//  of the " and the field
#define S_WHAT(field) streq ((field), "cancel")? "a cancellation": "a change of the ", \
                      streq ((field), "cancel")? "": (field)

int
reg_change_file (lg_ctx_t *ctx)
{
    const Lgwan__V1__ChangeFile *f = ctx->request->change_file;
    if (!s_known_subject (f->subject))
        return INVALID (ctx, "R4.2", "subject must be provider, service, contract, connection or"
                        " interconnection");
    if (f->id == 0)
        return INVALID (ctx, "R4.2", "id is mandatory");
    if (f->kind == LGWAN__V1__CHANGE_KIND__CHANGE_KIND_UNSPECIFIED)
        return INVALID (ctx, "R4.2", "kind is mandatory: notification or application");
    bool is_provider = streq (f->subject, "provider"), is_service = streq (f->subject, "service");
    bool is_connection = streq (f->subject, "connection");
    if (!f->cancel && ((is_provider && !f->provider) || (is_service && !f->service)
                   ||  (is_connection && !f->connection)
                   ||  (!is_provider && f->provider) || (!is_service && f->service)
                   ||  (!is_connection && f->connection) || streq (f->subject, "contract")
                   ||  streq (f->subject, "interconnection")))
        return INVALID (ctx, "R4.2", "a change of a %s carries a %s patch (a contract or an"
                        " interconnection can only be cancelled)", f->subject, f->subject);
    if (f->cancel && (f->provider || f->service || f->connection))
        return INVALID (ctx, "R4.2", "a cancellation carries no patch");
    const char *fields [4];
    int n = s_fields (f, fields, 4);
    if (n == 0)
        return INVALID (ctx, "R4.2", "the change changes nothing");
    char today [16], effective [16] = "";
    reg_today_jst (ctx, today, sizeof today);
    if (f->cancel) {
        snprintf (effective, sizeof effective, "%s", *f->effective_on? f->effective_on: today);
        if (!lg_check_date (effective))
            return INVALID (ctx, "R4.2", "effective_on \"%.16s\" is not a date YYYY-MM-DD",
                            f->effective_on);
        if (strcmp (effective, today) < 0)
            return INVALID (ctx, "R4.2", "a cancellation cannot take effect in the past (%s <"
                            " %s, Asia/Tokyo)", effective, today);
    }
    else
    if (*f->effective_on)
        return INVALID (ctx, "R4.2", "only a cancellation has an effective date");

    //  The patch's lists are bounded before anything is locked (REG_LIST_MAX)
    if ((f->provider && (reg_check_count (ctx, "contacts", f->provider->n_contacts)
                     ||  reg_check_count (ctx, "data centres", f->provider->n_data_centres)))
    ||  (f->service && reg_check_count (ctx, "holders", f->service->n_holders)))
        return -1;

    //  Whose record it is first: another provider learns nothing of it (not
    //  even which kind of change it would take, nor that it exists: X.3)
    uint64_t provider;
    char status [32];
    int rc = s_lock_subject (ctx, f->subject, f->id, &provider, status, sizeof status);
    if (rc)
        return rc;
    //  What the policy asks: an application if any field needs one
    bool needs_application = false;
    for (int i = 0; i < n; i++) {
        bool application;
        rc = s_policy (ctx, f->subject, fields [i], &application);
        if (rc)
            return rc;
        if (application && f->kind == LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION)
            return REFUSE (ctx, "R4.2", "%s%s of %s %" PRIu64 " needs a change application,"
                           " not a notification", S_WHAT (fields [i]), f->subject, f->id);
        needs_application |= application;
    }
    //  A notification filed as an application would wait for a reviewer,
    //  though the rule says it takes effect when filed
    if (!needs_application && f->kind == LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION)
        return REFUSE (ctx, "R4.2", "%s%s of %s %" PRIu64 " is a change notification:"
                       " it takes effect when filed, not when approved", S_WHAT (fields [0]),
                       f->subject, f->id);
    //  One that ended with its parent is cancelled too: the refusal names the parent
    if (streq (status, "cancelled") && (rc = s_check_parents (ctx, f->subject, f->id)))
        return rc;
    if (streq (status, "cancelled") || streq (status, "withdrawn"))
        return REFUSE (ctx, "R4.2", "%s %" PRIu64 " is %s", f->subject, f->id, status);
    //  A rejected application never took effect: nothing to change, and a
    //  cancellation would announce the end of what never began
    if (streq (status, "rejected"))
        return REFUSE (ctx, "R4.2", "%s %" PRIu64 " was rejected: it never took effect, so there"
                       " is nothing to change or cancel", f->subject, f->id);
    //  Nor has what is still applied for, under review or a draft: it is
    //  decided, not cancelled. A draft contract has nobody to decide it: its
    //  cancellation withdraws it, at once (point 8)
    bool withdraw = f->cancel && streq (f->subject, "contract") && streq (status, "draft");
    if (withdraw && !streq (effective, today))
        return REFUSE (ctx, "R4.2", "contract %" PRIu64 " is a draft: it is withdrawn at once,"
                       " not on a later date (%s)", f->id, effective);
    if (f->cancel && !withdraw && !s_is_in_effect (f->subject, status))
        return REFUSE (ctx, "R4.2", "%s %" PRIu64 " is %s: it is not in effect yet, so there is"
                       " nothing to cancel", f->subject, f->id, status);
    if ((rc = s_check_parents (ctx, f->subject, f->id)))
        return rc;

    //  The content passes the rules of a first filing now, not later
    if (f->provider) {
        const Lgwan__V1__ProviderPatch *p = f->provider;
        if (reg_check_text (ctx, "name_ja", p->name_ja, NAME_MAX_CHARS, false)
        ||  reg_check_text (ctx, "name_en", p->name_en, NAME_MAX_CHARS, false)
        ||  (p->replace_contacts && reg_check_contacts (ctx, p->contacts, p->n_contacts))
        ||  (p->replace_data_centres
             && reg_check_data_centres (ctx, p->data_centres, p->n_data_centres)))
            return -1;
        //  R9.2: a hosting provider keeps the contacts its connections need
        if (p->replace_contacts
        &&  (rc = reg_check_connection_contacts (ctx, f->id, p->contacts, p->n_contacts)))
            return rc;
    }
    if (f->service) {
        const Lgwan__V1__ServicePatch *p = f->service;
        if (reg_check_text (ctx, "title_ja", p->title_ja, NAME_MAX_CHARS, false))
            return -1;
        if (p->replace_holders
        &&  ((rc = reg_check_holders (ctx, p->holders, p->n_holders))
          || (rc = s_check_hosting_kept (ctx, f->id, p->holders, p->n_holders))
          || (rc = s_check_contracts_kept (ctx, f->id, p->holders, p->n_holders))))
            return rc;
    }
    if (f->connection) {
        if (reg_check_bandwidth (ctx, "R4.2", f->connection->bandwidth_class))
            return -1;
        if (!streq (status, "active"))
            return REFUSE (ctx, "R4.2", "connection %" PRIu64 " is %s, not active", f->id, status);
    }
    json_t *json = f->provider? lg_pbjson_from_message (&f->provider->base, 0):
                   f->service? lg_pbjson_from_message (&f->service->base, 0):
                   f->connection? lg_pbjson_from_message (&f->connection->base, 0): json_object ();
    char *payload = json? json_dumps (json, JSON_COMPACT): NULL;
    json_decref (json);
    if (!payload)
        return -2;
    char id [24], now [40];
    ID_TEXT (id, f->id);
    lg_clock_format (ctx->now_us, now, sizeof now);
    bool notification = f->kind == LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    const char *params [] = { notification? "notification": "application", f->subject, id,
                              f->cancel? "t": "f", f->cancel? effective: NULL,
                              notification? "effective": "pending", payload, ctx->actor, now,
                              ctx->request->reason };
    PGresult *res;
    rc = lg_ctx_query (ctx, &res, "INSERT INTO changes (kind, subject, subject_id, cancel,"
                                  " effective_on, status, payload, filed_by, filed_at, reason)"
                                  " VALUES ($1, $2, $3::bigint, $4::boolean, $5::date, $6, $7, $8,"
                                  " $9::timestamptz, $10) RETURNING id", 10, params);
    if (rc) {
        free (payload);
        return rc;
    }
    uint64_t change = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    if (withdraw && notification)
        rc = s_withdraw_contract (ctx, f->id);
    else
    if (notification)
        rc = s_take_effect (ctx, change, f->subject, f->id, provider, f->cancel, effective, payload);
    free (payload);
    return rc? rc: s_reply_change (ctx, change);
}

int
reg_change_decide (lg_ctx_t *ctx)
{
    const Lgwan__V1__ChangeDecide *d = ctx->request->change_decide;
    if (d->change == 0)
        return INVALID (ctx, NULL, "change is mandatory");
    if (reg_check_decision (ctx, d->outcome, d->reason))
        return -1;
    char text [24];
    ID_TEXT (text, d->change);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT subject, subject_id, cancel,"
                                      " coalesce (effective_on::text, '') AS effective_on, status,"
                                      " payload FROM changes WHERE id = $1::bigint FOR UPDATE",
                           1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return MISSING (ctx, "no change %s", text);
    }
    char subject [16], effective [16], status [16];
    snprintf (subject, sizeof subject, "%s", lg_db_value (res, 0, "subject"));
    snprintf (effective, sizeof effective, "%s", lg_db_value (res, 0, "effective_on"));
    snprintf (status, sizeof status, "%s", lg_db_value (res, 0, "status"));
    uint64_t id = strtoull (lg_db_value (res, 0, "subject_id"), NULL, 10);
    bool cancel = streq (lg_db_value (res, 0, "cancel"), "t");
    char *payload = strdup (lg_db_value (res, 0, "payload"));
    PQclear (res);
    if (!streq (status, "pending")) {
        free (payload);
        return REFUSE (ctx, "R4.3", "change %s is %s, not pending", text, status);
    }
    uint64_t provider;
    char subject_status [32];
    if ((rc = s_lock_subject (ctx, subject, id, &provider, subject_status, sizeof subject_status))
    ||  (rc = reg_decide (ctx, "change", d->change, d->outcome, d->reason))) {
        free (payload);
        return rc;
    }
    if (d->outcome == LGWAN__V1__OUTCOME__OUTCOME_APPROVED) {
        if (streq (subject_status, "cancelled")) {
            //  Ended with its parent (then cancelled too): the refusal names it
            if ((rc = s_check_parents (ctx, subject, id)) == 0)
                rc = REFUSE (ctx, "R4.2", "%s %" PRIu64 " is cancelled", subject, id);
        }
        else
        if (s_lapses (subject, subject_status, cancel))
            rc = s_set_change_status (ctx, d->change, "lapsed", NULL);
        else
        if ((rc = s_check_parents (ctx, subject, id)) == 0) {
            char today [16];
            reg_today_jst (ctx, today, sizeof today);
            //  An approval after the requested date: it takes effect today
            rc = s_take_effect (ctx, d->change, subject, id, provider, cancel,
                                strcmp (effective, today) < 0? today: effective, payload);
        }
    }
    else
        rc = s_set_change_status (ctx, d->change, "rejected", NULL);
    free (payload);
    return rc? rc: s_reply_change (ctx, d->change);
}

int
reg_change_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__ChangeList *q = ctx->request->change_list;
    if (*q->subject && !s_known_subject (q->subject))
        return INVALID (ctx, NULL, "subject must be provider, service, contract, connection or"
                        " interconnection");
    uint32_t limit;
    char count [16];
    if (reg_check_text (ctx, "status", q->status, 16, false)
    ||  lg_ctx_page (ctx, q->limit, 50, 500, &limit, count, sizeof count))
        return -1;
    if (ctx->caller->role == LG_ROLE_PROVIDER && (!*q->subject || q->id == 0))
        return DENIED (ctx, "a provider lists the changes of one of its own records: subject"
                       " and id");
    int rc = *q->subject && q->id? s_check_reader (ctx, q->subject, q->id): 0;
    if (rc)
        return rc;
    char id [24], after [24];
    ID_TEXT (id, q->id);
    ID_TEXT (after, q->after_id);
    const char *params [] = { *q->subject? q->subject: NULL, id, *q->status? q->status: NULL,
                              after, count };
    PGresult *res;
    //  The page in one statement, each with its decision
    rc = lg_ctx_query (ctx, &res, "SELECT " CHANGE_COLUMNS " FROM changes c"
                                  " WHERE ($1::text IS NULL OR c.subject = $1)"
                                  " AND ($2::bigint = 0 OR c.subject_id = $2::bigint)"
                                  " AND ($3::text IS NULL OR c.status = $3)"
                                  " AND c.id > $4::bigint ORDER BY c.id LIMIT $5::integer",
                       5, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__ChangeListReply *list = (Lgwan__V1__ChangeListReply *) malloc (sizeof *list);
    lgwan__v1__change_list_reply__init (list);
    list->changes = (Lgwan__V1__Change **) calloc (rows? rows: 1, sizeof (void *));
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CHANGE_LIST;
    ctx->reply->change_list = list;
    for (int row = 0; row < rows && row < (int) limit; row++)
        list->changes [list->n_changes++] = s_change_from_row (res, row);
    if (rows > (int) limit)
        list->next_after_id = list->changes [limit - 1]->id;
    PQclear (res);
    return 0;
}

int
reg_history (lg_ctx_t *ctx)
{
    const Lgwan__V1__History *q = ctx->request->history;
    if (!s_record (q->subject))
        return INVALID (ctx, "R4.2", "subject must be provider, service, contract,"
                        " interconnection or connection");
    if (q->id == 0)
        return INVALID (ctx, "R4.2", "id is mandatory");
    int rc = s_check_reader (ctx, q->subject, q->id);
    if (rc)
        return rc;
    char id [24];
    ID_TEXT (id, q->id);
    const char *params [] = { q->subject, id };
    PGresult *res;
    rc = lg_ctx_query (ctx, &res, "SELECT version, actor, reason, record::text AS record, "
                                  TIME_TEXT ("recorded_at") " AS recorded_at"
                                  " FROM versions WHERE subject = $1 AND subject_id = $2::bigint"
                                  " ORDER BY version", 2, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    if (rows == 0) {
        PQclear (res);
        return reg_missing (ctx, q->subject, id);
    }
    Lgwan__V1__HistoryReply *history = (Lgwan__V1__HistoryReply *) malloc (sizeof *history);
    lgwan__v1__history_reply__init (history);
    history->versions = (Lgwan__V1__Version **) calloc (rows, sizeof (void *));
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__Version *v = (Lgwan__V1__Version *) malloc (sizeof *v);
        lgwan__v1__version__init (v);
        v->version = strtoull (lg_db_value (res, row, "version"), NULL, 10);
        v->actor = lg_strdup (lg_db_value (res, row, "actor"));
        v->reason = lg_strdup (lg_db_value (res, row, "reason"));
        v->recorded_at = lg_strdup (lg_db_value (res, row, "recorded_at"));
        v->record = lg_strdup (lg_db_value (res, row, "record"));
        history->versions [history->n_versions++] = v;
    }
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_HISTORY;
    ctx->reply->history = history;
    return 0;
}

//  Duty: scheduled cancellations whose date has come take effect; one whose
//  record never took effect, ended with its parent meanwhile, or was
//  cancelled meanwhile by another cancellation, lapses
int
reg_due_changes (lg_ctx_t *ctx)
{
    char today [16];
    reg_today_jst (ctx, today, sizeof today);
    const char *params [] = { today };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT id, subject, subject_id, effective_on::text AS"
                                      " effective_on, filed_by, reason FROM changes"
                                      " WHERE status = 'scheduled' AND effective_on <= $1::date"
                                      " ORDER BY effective_on, id LIMIT 100 FOR UPDATE SKIP LOCKED",
                           1, params);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        uint64_t change = strtoull (lg_db_value (res, row, "id"), NULL, 10);
        uint64_t id = strtoull (lg_db_value (res, row, "subject_id"), NULL, 10);
        char subject [16], effective [16];
        snprintf (subject, sizeof subject, "%s", lg_db_value (res, row, "subject"));
        snprintf (effective, sizeof effective, "%s", lg_db_value (res, row, "effective_on"));
        uint64_t provider, parent;
        char status [32], ended_with [16];
        if ((rc = s_lock_subject (ctx, subject, id, &provider, status, sizeof status))
        ||  (rc = s_ended_with (ctx, subject, id, ended_with, sizeof ended_with, &parent)))
            break;
        //  Ended with its parent since it was scheduled: the parent's
        //  cancellation ended it, and a record ends once (point 4). So does
        //  one cancelled meanwhile by another cancellation of its own (not
        //  in effect: s_lapses): that one took effect, this one lapses
        bool lapses = *ended_with || s_lapses (subject, status, true);
        if (!lapses) {
            //  The registry acts on the date, for whoever filed the change:
            //  the versions and the event keep who that was and why (X.1)
            const char *reason = lg_db_value (res, row, "reason");
            char *why = zsys_sprintf ("change %" PRIu64 " filed by %s%s%s", change,
                                      lg_db_value (res, row, "filed_by"), *reason? ": ": "",
                                      reason);
            lg_request_t filed = LGWAN__V1__REQUEST__INIT;
            filed.reason = why;
            ctx->request = &filed;
            rc = s_cancel_now (ctx, change, subject, id, provider, effective);
            ctx->request = NULL;
            zstr_free (&why);
        }
        if (rc == 0)
            rc = s_set_change_status (ctx, change, lapses? "lapsed": "effective", NULL);
        if (rc == 0 && *ended_with)
            lg_info ("cancellation %" PRIu64 " lapsed: %s %" PRIu64 " ended with its %s %" PRIu64,
                     change, subject, id, ended_with, parent);
        else
        if (rc == 0 && streq (status, "cancelled"))
            lg_info ("cancellation %" PRIu64 " lapsed: %s %" PRIu64 " was cancelled before by"
                     " another change", change, subject, id);
        else
        if (rc == 0 && lapses)
            lg_info ("cancellation %" PRIu64 " lapsed: %s %" PRIu64 " is %s, it never took effect",
                     change, subject, id, status);
        else
        if (rc == 0)
            lg_info ("%s %" PRIu64 " cancelled as scheduled for %s", subject, id, effective);
    }
    PQclear (res);
    return rc;
}

//  R4.3: what waits for a reviewer, oldest first, with how many in all
int
reg_review_queue (lg_ctx_t *ctx)
{
    const Lgwan__V1__ReviewQueue *q = ctx->request->review_queue;
    if (*q->kind && !streq (q->kind, "provider") && !streq (q->kind, "service")
    &&  !streq (q->kind, "connection") && !streq (q->kind, "change"))
        return INVALID (ctx, "R4.3", "kind is provider, service, connection or change");
    uint32_t limit;
    char count [16];
    if (lg_ctx_page (ctx, q->limit, 50, 500, &limit, NULL, 0))
        return -1;
    snprintf (count, sizeof count, "%u", limit);        //  the oldest: no pages
    const char *params [] = { q->kind, count };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "SELECT w.*, " TIME_TEXT ("w.at") " AS filed_at, count(*) OVER () AS total FROM ("
        " SELECT 'provider' AS kind, id, status, id AS provider, name_ja AS title, created_at AS at"
        "  FROM providers WHERE status IN ('applied', 'under_review')"
        " UNION ALL SELECT 'service', s.id, s.status, coalesce (h.provider_id, 0), s.name, s.created_at"
        "  FROM services s LEFT JOIN service_holders h ON h.service_id = s.id AND h.role = 2"
        "  WHERE s.status IN ('applied', 'under_review')"
        " UNION ALL SELECT 'connection', id, status, provider_id, router, created_at FROM connections"
        "  WHERE status IN ('applied', 'under_review')"
        //  The provider s_lock_subject finds for each subject
        " UNION ALL SELECT 'change', c.id, c.status, coalesce (CASE c.subject"
        "   WHEN 'provider' THEN c.subject_id"
        "   WHEN 'service' THEN (SELECT provider_id FROM service_holders"
        "    WHERE service_id = c.subject_id AND role = 2)"
        "   WHEN 'connection' THEN (SELECT provider_id FROM connections WHERE id = c.subject_id)"
        "   WHEN 'contract' THEN (SELECT provider_id FROM contracts WHERE id = c.subject_id)"
        "   WHEN 'interconnection' THEN (SELECT provider_a FROM interconnections"
        "    WHERE id = c.subject_id) END, 0),"
        "  c.subject || ' ' || c.subject_id || CASE WHEN c.cancel THEN ' (cancellation)' ELSE '' END,"
        "  c.filed_at FROM changes c WHERE c.kind = 'application' AND c.status = 'pending'"
        ") w WHERE $1 = '' OR w.kind = $1 ORDER BY w.at, w.kind, w.id LIMIT $2::integer", 2, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__ReviewQueueReply *queue = (Lgwan__V1__ReviewQueueReply *) malloc (sizeof *queue);
    lgwan__v1__review_queue_reply__init (queue);
    queue->items = (Lgwan__V1__ReviewItem **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__ReviewItem *item = (Lgwan__V1__ReviewItem *) malloc (sizeof *item);
        lgwan__v1__review_item__init (item);
        item->kind = lg_db_strdup (res, row, "kind");
        item->id = lg_db_u64 (res, row, "id");
        item->status = lg_db_strdup (res, row, "status");
        item->provider = lg_db_u64 (res, row, "provider");
        item->title = lg_db_strdup (res, row, "title");
        item->filed_at = lg_db_strdup (res, row, "filed_at");
        queue->items [queue->n_items++] = item;
    }
    //  The count of all of them rides on every row; none: nothing waits
    queue->total = rows? lg_db_u64 (res, 0, "total"): 0;
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_REVIEW_QUEUE;
    ctx->reply->review_queue = queue;
    return 0;
}
