/*  monitor - requests and followed events of the monitor service (R16.1).

    1. Rules and allow-list entries are data, changed only by operators
       through requests; each change is a RuleChanged or AllowlistChanged
       event in the same transaction, and the reactor reloads its copy when
       it sees that event published (monitor_intake.c), so an event taken
       after the reply is judged by the new rules.
    2. An incident is open, then confirmed (by its rule's action
       incident_and_isolate, or by an operator), then closed by an operator
       with a reason. Confirming emits IncidentConfirmed with the provider,
       all its active connections and their prefixes, the rule, who decided
       and whether to isolate: the orchestrator acts on it (R16.1). A closed
       incident is never reopened; the next burst opens a new one.
    3. Allow-list entries are scoped by connection, signature or both, and
       always expire; an entry that would silence everything is refused.
    4. The connections and prefixes come from the registry's
       ConnectionActivated and AllocationReleased and from isolation's
       events, applied by lg_consumer in our transaction. The two streams
       are not ordered between them: isolation's Decommissioned may come
       before the registry's ConnectionActivated (the monitor behind on the
       registry). It then makes the connection's row, inactive, with
       service_id 0 until ConnectionActivated fills it in and leaves it
       inactive; before, the Decommissioned changed no row and was lost,
       and the connection attributed for good. A decommission lifted (the
       saga's, X.4: any isolation event whose state is not decommissioned)
       makes an activated connection that still holds prefixes attribute
       again; it stayed inactive. AllocationReleased of the whole
       allocation empties the prefixes, so that nothing released attributes
       again.
*/
#include "monitor.h"

extern const lg_migration_t monitor_migrations [];

#define INVALID(ctx, req, ...) lg_ctx_refuse ((ctx), LGWAN__V1__CODE__INVALID_ARGUMENT, (req), __VA_ARGS__)
#define REFUSE(ctx, req, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__FAILED_PRECONDITION, (req), __VA_ARGS__)
#define MISSING(ctx, ...)      lg_ctx_refuse ((ctx), LGWAN__V1__CODE__NOT_FOUND, NULL, __VA_ARGS__)

#define TS(col) "to_char (" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  One kept event (evidence or an unattributed sample) from a row
static Lgwan__V1__IncidentEvidence *
s_evidence_from_row (const PGresult *res, int row, uint32_t n)
{
    Lgwan__V1__IncidentEvidence *e = (Lgwan__V1__IncidentEvidence *) malloc (sizeof *e);
    lgwan__v1__incident_evidence__init (e);
    e->n = n;
    e->timestamp = lg_db_strdup (res, row, "at");
    e->sensor = lg_db_strdup (res, row, "sensor");
    e->src_ip = lg_db_strdup (res, row, "src_ip");
    e->dest_ip = lg_db_strdup (res, row, "dest_ip");
    e->signature_id = lg_db_u64 (res, row, "signature_id");
    e->signature = lg_db_strdup (res, row, "signature");
    e->category = lg_db_strdup (res, row, "category");
    e->severity = (uint32_t) lg_db_u64 (res, row, "severity");
    e->origin = lg_db_strdup (res, row, "origin");
    return e;
}

//  "{a,b}" of a text[] column as a heap array; prefixes hold no commas or quotes
static char **
s_text_array (const char *text, size_t *count)
{
    *count = 0;
    if (!text)
        text = "{}";
    char *copy = strdup (text + (text [0] == '{'));
    size_t len = strlen (copy);
    if (len && copy [len - 1] == '}')
        copy [len - 1] = 0;
    char **list = (char **) calloc (len + 1, sizeof (char *));
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save))
        list [(*count)++] = strdup (item);
    free (copy);
    return list;
}

//  ---------------------------------------------------------------------------
//  Rules

#define RULE_COLUMNS "id, name, category, max_severity, signature_id, window_seconds, threshold," \
                     " action, enabled, " TS ("updated_at") " AS updated_at, updated_by, grace_seconds"

static Lgwan__V1__Rule *
s_rule_from (const PGresult *res, int row)
{
    Lgwan__V1__Rule *rule = (Lgwan__V1__Rule *) malloc (sizeof *rule);
    lgwan__v1__rule__init (rule);
    rule->id = lg_db_u64 (res, row, "id");
    rule->name = lg_db_strdup (res, row, "name");
    rule->category = lg_db_strdup (res, row, "category");
    rule->max_severity = (uint32_t) lg_db_u64 (res, row, "max_severity");
    rule->signature_id = lg_db_u64 (res, row, "signature_id");
    rule->window_seconds = (uint32_t) lg_db_u64 (res, row, "window_seconds");
    rule->threshold = (uint32_t) lg_db_u64 (res, row, "threshold");
    rule->action = (Lgwan__V1__RuleAction) lg_db_u64 (res, row, "action");
    rule->enabled = streq (lg_db_value (res, row, "enabled"), "t");
    rule->updated_at = lg_db_strdup (res, row, "updated_at");
    rule->updated_by = lg_db_strdup (res, row, "updated_by");
    rule->grace_seconds = (uint32_t) lg_db_u64 (res, row, "grace_seconds");
    return rule;
}

//  Reply with one rule, and emit RuleChanged when changed
static int
s_rule_reply (lg_ctx_t *ctx, PGresult *res, bool changed)
{
    if (PQntuples (res) != 1) {
        PQclear (res);
        return MISSING (ctx, "no such rule");
    }
    Lgwan__V1__RuleReply *reply = (Lgwan__V1__RuleReply *) malloc (sizeof *reply);
    lgwan__v1__rule_reply__init (reply);
    reply->rule = s_rule_from (res, 0);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_RULE;
    ctx->reply->rule = reply;
    if (!changed)
        return 0;
    Lgwan__V1__RuleChanged body = LGWAN__V1__RULE_CHANGED__INIT;
    body.rule = reply->rule;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_RULE_CHANGED;
    event.rule_changed = &body;
    return lg_ctx_emit (ctx, &event);
}

static int
s_rule_set (lg_ctx_t *ctx)
{
    const Lgwan__V1__Rule *r = ctx->request->rule_set->rule;
    if (!r)
        return INVALID (ctx, "R16.1", "rule is mandatory");
    size_t name_len = strlen (r->name);
    if (name_len == 0 || name_len > 128)
        return INVALID (ctx, "R16.1", "rule name is 1-128 bytes");
    if (strlen (r->category) > 127)
        return INVALID (ctx, "R16.1", "category is at most 127 bytes");
    if (r->window_seconds < 1 || r->window_seconds > 86400)
        return INVALID (ctx, "R16.1", "window_seconds is 1-86400");
    if (r->threshold < 1 || r->threshold > 1000)
        return INVALID (ctx, "R16.1", "threshold is 1-1000");
    if (r->max_severity > 255)
        return INVALID (ctx, "R16.1", "max_severity is 0-255");
    if (r->grace_seconds > 2592000)
        return INVALID (ctx, "R16.1", "grace_seconds is at most 2592000 (30 days)");
    if (r->action != LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT
    &&  r->action != LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT_AND_ISOLATE)
        return INVALID (ctx, "R16.1", "action is RULE_ACTION_INCIDENT or RULE_ACTION_INCIDENT_AND_ISOLATE");
    char id [24], sev [16], sig [24], win [16], thr [16], act [8], now [40], grace [16];
    snprintf (id, sizeof id, "%" PRIu64, r->id);
    snprintf (sev, sizeof sev, "%u", r->max_severity);
    snprintf (sig, sizeof sig, "%" PRIu64, r->signature_id);
    snprintf (win, sizeof win, "%u", r->window_seconds);
    snprintf (thr, sizeof thr, "%u", r->threshold);
    snprintf (act, sizeof act, "%d", (int) r->action);
    snprintf (grace, sizeof grace, "%u", r->grace_seconds);
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  A rule is created enabled; RuleSet on an existing id replaces it and
    //  enables it again (RuleDisable turns it off). A rule not enabled yet
    //  is one more for the intake, which applies MONITOR_MAX_RULES at most:
    //  counted under a lock that RuleSets take in turn
    const char *params [] = { id, r->name, r->category, sev, sig, win, thr, act, now, ctx->actor, grace };
    PGresult *res;
    int rc = lg_ctx_exec (ctx, "LOCK TABLE rules IN SHARE ROW EXCLUSIVE MODE", 0, NULL);
    if (rc == 0 && (rc = lg_ctx_query (ctx, &res, "SELECT count(*) FILTER (WHERE enabled),"
                                                  " count(*) FILTER (WHERE enabled AND id = $1::bigint)"
                                                  " FROM rules", 1, params)) == 0) {
        long enabled = atol (PQgetvalue (res, 0, 0));
        bool more = atol (PQgetvalue (res, 0, 1)) == 0;
        PQclear (res);
        if (more && enabled >= MONITOR_MAX_RULES)
            return REFUSE (ctx, "R16.1", "%ld rules are enabled, the most the intake applies;"
                           " disable one first", enabled);
    }
    if (rc)
        return rc;
    rc = r->id == 0
        ? lg_ctx_query (ctx, &res, "INSERT INTO rules (name, category, max_severity, signature_id,"
                                   " window_seconds, threshold, action, enabled, updated_at, updated_by,"
                                   " grace_seconds) VALUES ($1, $2, $3::integer, $4::bigint, $5::integer,"
                                   " $6::integer, $7::smallint, true, $8::timestamptz, $9, $10::integer)"
                                   " RETURNING " RULE_COLUMNS, 10, params + 1)
        : lg_ctx_query (ctx, &res, "UPDATE rules SET name = $2, category = $3, max_severity = $4::integer,"
                                   " signature_id = $5::bigint, window_seconds = $6::integer,"
                                   " threshold = $7::integer, action = $8::smallint, enabled = true,"
                                   " updated_at = $9::timestamptz, updated_by = $10,"
                                   " grace_seconds = $11::integer"
                                   " WHERE id = $1::bigint RETURNING " RULE_COLUMNS, 11, params);
    if (rc)
        return rc;
    return s_rule_reply (ctx, res, true);
}

static int
s_rule_disable (lg_ctx_t *ctx)
{
    char id [24], now [40];
    snprintf (id, sizeof id, "%" PRIu64, ctx->request->rule_disable->rule);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { id, now, ctx->actor };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "UPDATE rules SET enabled = false, updated_at = $2::timestamptz,"
                                      " updated_by = $3 WHERE id = $1::bigint RETURNING " RULE_COLUMNS,
                           3, params);
    return rc? rc: s_rule_reply (ctx, res, true);
}

static int
s_rule_get (lg_ctx_t *ctx)
{
    char id [24];
    snprintf (id, sizeof id, "%" PRIu64, ctx->request->rule_get->rule);
    const char *params [] = { id };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " RULE_COLUMNS " FROM rules WHERE id = $1::bigint", 1, params);
    return rc? rc: s_rule_reply (ctx, res, false);
}

static int
s_rule_list (lg_ctx_t *ctx)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " RULE_COLUMNS " FROM rules ORDER BY id LIMIT 10000", 0, NULL);
    if (rc)
        return rc;
    Lgwan__V1__RuleListReply *reply = (Lgwan__V1__RuleListReply *) malloc (sizeof *reply);
    lgwan__v1__rule_list_reply__init (reply);
    reply->rules = (Lgwan__V1__Rule **) calloc ((size_t) PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++)
        reply->rules [reply->n_rules++] = s_rule_from (res, row);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_RULE_LIST;
    ctx->reply->rule_list = reply;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Allow-list

#define ALLOW_COLUMNS "id, connection_id, signature_id, " TS ("expires_at") " AS expires_at," \
                      " reason, created_by, " TS ("created_at") " AS created_at," \
                      " removed_at IS NOT NULL AS removed"

static Lgwan__V1__AllowEntry *
s_allow_from (const PGresult *res, int row)
{
    Lgwan__V1__AllowEntry *e = (Lgwan__V1__AllowEntry *) malloc (sizeof *e);
    lgwan__v1__allow_entry__init (e);
    e->id = lg_db_u64 (res, row, "id");
    e->connection = lg_db_u64 (res, row, "connection_id");
    e->signature_id = lg_db_u64 (res, row, "signature_id");
    e->expires_at = lg_db_strdup (res, row, "expires_at");
    e->reason = lg_db_strdup (res, row, "reason");
    e->created_by = lg_db_strdup (res, row, "created_by");
    e->created_at = lg_db_strdup (res, row, "created_at");
    e->removed = streq (lg_db_value (res, row, "removed"), "t");
    return e;
}

static int
s_allow_reply (lg_ctx_t *ctx, PGresult *res)
{
    if (PQntuples (res) != 1) {
        PQclear (res);
        return MISSING (ctx, "no such allow-list entry");
    }
    Lgwan__V1__AllowlistReply *reply = (Lgwan__V1__AllowlistReply *) malloc (sizeof *reply);
    lgwan__v1__allowlist_reply__init (reply);
    reply->entry = s_allow_from (res, 0);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_ALLOWLIST;
    ctx->reply->allowlist = reply;
    Lgwan__V1__AllowlistChanged body = LGWAN__V1__ALLOWLIST_CHANGED__INIT;
    body.entry = reply->entry;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_ALLOWLIST_CHANGED;
    event.allowlist_changed = &body;
    return lg_ctx_emit (ctx, &event);
}

static int
s_allow_add (lg_ctx_t *ctx)
{
    const Lgwan__V1__AllowlistAdd *a = ctx->request->allowlist_add;
    //  Scoped, or it silences every alert of every provider (Wazuh #13969)
    if (a->connection == 0 && a->signature_id == 0)
        return INVALID (ctx, "R16.1", "an allow-list entry names a connection, a signature or both;"
                        " an entry for everything would hide every threat");
    const char *reason = ctx->request->reason && *ctx->request->reason? ctx->request->reason: a->reason;
    size_t len = strlen (reason);
    if (len == 0 || len > 1024)
        return INVALID (ctx, "X.1", "an allow-list entry records its reason (1-1024 bytes)");
    int64_t expires;
    if (!*a->expires_at || lg_clock_parse (a->expires_at, &expires))
        return INVALID (ctx, "R16.1", "an allow-list entry expires: expires_at is mandatory,"
                        " RFC 3339");
    if (expires <= ctx->now_us)
        return INVALID (ctx, "R16.1", "expires_at %s is not in the future", a->expires_at);
    char conn [24], sig [24], exp [40], now [40];
    snprintf (conn, sizeof conn, "%" PRIu64, a->connection);
    snprintf (sig, sizeof sig, "%" PRIu64, a->signature_id);
    lg_clock_format (expires, exp, sizeof exp);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { conn, sig, exp, reason, ctx->actor, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "INSERT INTO allowlist (connection_id, signature_id, expires_at,"
                                      " reason, created_by, created_at) VALUES ($1::bigint, $2::bigint,"
                                      " $3::timestamptz, $4, $5, $6::timestamptz) RETURNING " ALLOW_COLUMNS,
                           6, params);
    return rc? rc: s_allow_reply (ctx, res);
}

static int
s_allow_remove (lg_ctx_t *ctx)
{
    char id [24], now [40];
    snprintf (id, sizeof id, "%" PRIu64, ctx->request->allowlist_remove->entry);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { id, ctx->actor, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "UPDATE allowlist SET removed_by = $2, removed_at = $3::timestamptz"
                                      " WHERE id = $1::bigint AND removed_at IS NULL RETURNING " ALLOW_COLUMNS,
                           3, params);
    return rc? rc: s_allow_reply (ctx, res);
}

static int
s_allow_list (lg_ctx_t *ctx)
{
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { now, ctx->request->allowlist_list->expired? "t": "f" };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " ALLOW_COLUMNS " FROM allowlist WHERE $2::boolean"
                                      " OR (removed_at IS NULL AND expires_at > $1::timestamptz)"
                                      " ORDER BY id LIMIT 10000", 2, params);
    if (rc)
        return rc;
    Lgwan__V1__AllowlistListReply *reply = (Lgwan__V1__AllowlistListReply *) malloc (sizeof *reply);
    lgwan__v1__allowlist_list_reply__init (reply);
    reply->entries = (Lgwan__V1__AllowEntry **) calloc ((size_t) PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++)
        reply->entries [reply->n_entries++] = s_allow_from (res, row);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_ALLOWLIST_LIST;
    ctx->reply->allowlist_list = reply;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Incidents

#define INCIDENT_COLUMNS "id, connection_id, provider_id, service_id, prefixes, rule_id, rule_name," \
    " signature_id, status, event_count, " TS ("first_seen") " AS first_seen, " \
    TS ("last_seen") " AS last_seen, " TS ("opened_at") " AS opened_at, " \
    TS ("confirmed_at") " AS confirmed_at, decided_by, isolate, " TS ("closed_at") " AS closed_at," \
    " closed_by, close_reason"

static Lgwan__V1__Incident *
s_incident_from (const PGresult *res, int row)
{
    Lgwan__V1__Incident *i = (Lgwan__V1__Incident *) malloc (sizeof *i);
    lgwan__v1__incident__init (i);
    i->id = lg_db_u64 (res, row, "id");
    i->connection = lg_db_u64 (res, row, "connection_id");
    i->provider = lg_db_u64 (res, row, "provider_id");
    i->service = lg_db_u64 (res, row, "service_id");
    i->prefixes = s_text_array (lg_db_value (res, row, "prefixes"), &i->n_prefixes);
    i->rule = lg_db_u64 (res, row, "rule_id");
    i->rule_name = lg_db_strdup (res, row, "rule_name");
    i->status = lg_db_strdup (res, row, "status");
    i->event_count = lg_db_u64 (res, row, "event_count");
    i->first_seen = lg_db_strdup (res, row, "first_seen");
    i->last_seen = lg_db_strdup (res, row, "last_seen");
    i->opened_at = lg_db_strdup (res, row, "opened_at");
    i->confirmed_at = lg_db_strdup (res, row, "confirmed_at");
    i->decided_by = lg_db_strdup (res, row, "decided_by");
    i->isolate = streq (lg_db_value (res, row, "isolate"), "t");
    i->closed_at = lg_db_strdup (res, row, "closed_at");
    i->closed_by = lg_db_strdup (res, row, "closed_by");
    i->close_reason = lg_db_strdup (res, row, "close_reason");
    return i;
}

static int
s_evidence (lg_ctx_t *ctx, Lgwan__V1__Incident *incident)
{
    char id [24];
    snprintf (id, sizeof id, "%" PRIu64, incident->id);
    const char *params [] = { id };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT n, at, sensor, src_ip, dest_ip, signature_id, signature,"
                                      " category, severity, origin FROM evidence"
                                      " WHERE incident_id = $1::bigint ORDER BY n", 1, params);
    if (rc)
        return rc;
    incident->evidence = (Lgwan__V1__IncidentEvidence **) calloc ((size_t) PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++) {
        Lgwan__V1__IncidentEvidence *e = s_evidence_from_row (res, row, (uint32_t) lg_db_u64 (res, row, "n"));
        incident->evidence [incident->n_evidence++] = e;
    }
    PQclear (res);
    return 0;
}

//  Reply with one incident and its evidence
static int
s_incident_reply (lg_ctx_t *ctx, const char *id)
{
    const char *params [] = { id };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE id = $1::bigint",
                           1, params);
    if (rc)
        return rc;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return MISSING (ctx, "no incident %s", id);
    }
    Lgwan__V1__IncidentReply *reply = (Lgwan__V1__IncidentReply *) malloc (sizeof *reply);
    lgwan__v1__incident_reply__init (reply);
    reply->incident = s_incident_from (res, 0);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_INCIDENT;
    ctx->reply->incident = reply;
    return s_evidence (ctx, reply->incident);
}

int
monitor_emit_opened (lg_ctx_t *ctx, const char *incident)
{
    const char *params [] = { incident };
    PGresult *res = lg_db_exec (ctx->db, "SELECT connection_id, provider_id, rule_id, rule_name,"
                                " signature_id, event_count, " TS ("first_seen") " AS first_seen"
                                " FROM incidents WHERE id = $1::bigint", 1, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
        PQclear (res);
        return -2;
    }
    Lgwan__V1__IncidentOpened body = LGWAN__V1__INCIDENT_OPENED__INIT;
    body.incident = strtoull (incident, NULL, 10);
    body.connection = lg_db_u64 (res, 0, "connection_id");
    body.provider = lg_db_u64 (res, 0, "provider_id");
    body.rule = lg_db_u64 (res, 0, "rule_id");
    body.rule_name = (char *) lg_db_value (res, 0, "rule_name");
    body.signature_id = lg_db_u64 (res, 0, "signature_id");
    body.events = lg_db_u64 (res, 0, "event_count");
    body.first_seen = (char *) lg_db_value (res, 0, "first_seen");
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_INCIDENT_OPENED;
    event.incident_opened = &body;
    int rc = lg_ctx_emit (ctx, &event);
    PQclear (res);
    return rc;
}

int
monitor_emit_confirmed (lg_ctx_t *ctx, const char *incident)
{
    const char *params [] = { incident };
    //  The whole provider: R16.1 acts on all its connections unless the
    //  operator narrows it (isolation's Disconnect)
    PGresult *res = lg_db_exec (ctx->db,
        "SELECT i.provider_id, i.rule_id, i.rule_name, i.decided_by, i.isolate,"
        " (SELECT coalesce (string_agg (c.id::text, ',' ORDER BY c.id), '') FROM connections c"
        "   WHERE c.provider_id = i.provider_id AND c.active) AS connections,"
        " (SELECT coalesce (string_agg (p, ',' ORDER BY c.id, p), '') FROM connections c,"
        "   unnest (c.prefixes) p WHERE c.provider_id = i.provider_id AND c.active) AS prefixes,"
        //  Its own prefixes that it still holds: one released since the
        //  incident opened may be another provider's now
        " i.connection_id, array_to_string (ARRAY (SELECT p FROM unnest (i.prefixes) p"
        "   WHERE p = ANY (coalesce ((SELECT c.prefixes FROM connections c"
        "   WHERE c.id = i.connection_id), '{}'))), ',') AS own"
        " FROM incidents i WHERE i.id = $1::bigint", 1, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
        PQclear (res);
        return -2;
    }
    Lgwan__V1__IncidentConfirmed body = LGWAN__V1__INCIDENT_CONFIRMED__INIT;
    body.incident = strtoull (incident, NULL, 10);
    body.provider = lg_db_u64 (res, 0, "provider_id");
    body.rule = lg_db_u64 (res, 0, "rule_id");
    body.rule_name = (char *) lg_db_value (res, 0, "rule_name");
    body.decided_by = (char *) lg_db_value (res, 0, "decided_by");
    body.isolate = streq (lg_db_value (res, 0, "isolate"), "t");
    //  The incident's own connection even when it is no longer active
    char *connections = zsys_sprintf ("%s%s%s", lg_db_value (res, 0, "connections"),
                                      *lg_db_value (res, 0, "connections")? ",": "",
                                      lg_db_value (res, 0, "connection_id"));
    char *prefixes = zsys_sprintf ("%s%s%s", lg_db_value (res, 0, "prefixes"),
                                   *lg_db_value (res, 0, "prefixes")? ",": "",
                                   lg_db_value (res, 0, "own"));
    size_t n_ids = 0, n_prefixes = 0;
    char **ids = s_text_array (connections, &n_ids);
    char **plist = s_text_array (prefixes, &n_prefixes);
    body.connections = (uint64_t *) calloc (n_ids + 1, sizeof (uint64_t));
    body.prefixes = (char **) calloc (n_prefixes + 1, sizeof (char *));
    for (size_t i = 0; i < n_ids; i++) {
        uint64_t id = strtoull (ids [i], NULL, 10);
        bool seen = false;
        for (size_t j = 0; j < body.n_connections; j++)
            seen |= body.connections [j] == id;
        if (!seen)
            body.connections [body.n_connections++] = id;
    }
    for (size_t i = 0; i < n_prefixes; i++) {
        bool seen = false;
        for (size_t j = 0; j < body.n_prefixes; j++)
            seen |= streq (body.prefixes [j], plist [i]);
        if (!seen)
            body.prefixes [body.n_prefixes++] = plist [i];
    }
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_INCIDENT_CONFIRMED;
    event.incident_confirmed = &body;
    int rc = lg_ctx_emit (ctx, &event);
    for (size_t i = 0; i < n_ids; i++)
        free (ids [i]);
    for (size_t i = 0; i < n_prefixes; i++)
        free (plist [i]);
    free (ids);
    free (plist);
    free (body.connections);
    free (body.prefixes);
    zstr_free (&connections);
    zstr_free (&prefixes);
    PQclear (res);
    return rc;
}

static int
s_incident_get (lg_ctx_t *ctx)
{
    char id [24];
    snprintf (id, sizeof id, "%" PRIu64, ctx->request->incident_get->incident);
    return s_incident_reply (ctx, id);
}

static int
s_incident_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__IncidentList *l = ctx->request->incident_list;
    if (*l->status && !streq (l->status, "open") && !streq (l->status, "confirmed")
    &&  !streq (l->status, "closed"))
        return INVALID (ctx, NULL, "status is open, confirmed or closed");
    uint32_t limit;
    char conn [24], after [24], count [16];
    if (lg_ctx_page (ctx, l->limit, 100, 1000, &limit, count, sizeof count))
        return -1;
    snprintf (conn, sizeof conn, "%" PRIu64, l->connection);
    snprintf (after, sizeof after, "%" PRIu64, l->after_id);
    const char *params [] = { l->status, conn, after, count };
    PGresult *res;
    //  Newest first: the next page is older than the last of this one
    int rc = lg_ctx_query (ctx, &res, "SELECT " INCIDENT_COLUMNS " FROM incidents"
                                      " WHERE ($1 = '' OR status = $1)"
                                      " AND ($2::bigint = 0 OR connection_id = $2::bigint)"
                                      " AND ($3::bigint = 0 OR id < $3::bigint)"
                                      " ORDER BY id DESC LIMIT $4::integer", 4, params);
    if (rc)
        return rc;
    Lgwan__V1__IncidentListReply *reply = (Lgwan__V1__IncidentListReply *) malloc (sizeof *reply);
    lgwan__v1__incident_list_reply__init (reply);
    int rows = PQntuples (res);
    reply->incidents = (Lgwan__V1__Incident **) calloc ((size_t) rows + 1, sizeof (void *));
    for (int row = 0; row < rows && row < (int) limit; row++)
        reply->incidents [reply->n_incidents++] = s_incident_from (res, row);
    if (rows > (int) limit)
        reply->next_after_id = reply->incidents [limit - 1]->id;
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_INCIDENT_LIST;
    ctx->reply->incident_list = reply;
    return 0;
}

//  R16.1: the decision is recorded with time and actor; only an open
//  incident is confirmed
static int
s_incident_confirm (lg_ctx_t *ctx)
{
    const Lgwan__V1__IncidentConfirm *c = ctx->request->incident_confirm;
    //  X.1: the decision (to isolate, perhaps a whole provider) says why,
    //  as a close does; it went into the event's header empty
    if (lg_ctx_reason_required (ctx, "R16.1", "confirming an incident"))
        return -1;
    char id [24], now [40];
    snprintf (id, sizeof id, "%" PRIu64, c->incident);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { id, now, ctx->actor, c->isolate? "t": "f" };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT status FROM incidents WHERE id = $1::bigint FOR UPDATE",
                           1, params);
    if (rc)
        return rc;
    char status [16] = "";
    if (PQntuples (res) == 1)
        snprintf (status, sizeof status, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (!*status)
        return MISSING (ctx, "no incident %s", id);
    if (!streq (status, "open"))
        return REFUSE (ctx, "R16.1", "incident %s is %s: only an open incident is confirmed", id, status);
    if ((rc = lg_ctx_query (ctx, &res, "UPDATE incidents SET status = 'confirmed', confirmed_at ="
                                       " $2::timestamptz, decided_by = $3, isolate = $4::boolean"
                                       " WHERE id = $1::bigint", 4, params)))
        return rc;
    PQclear (res);
    if ((rc = monitor_emit_confirmed (ctx, id)))
        return rc;
    return s_incident_reply (ctx, id);
}

static int
s_incident_close (lg_ctx_t *ctx)
{
    const Lgwan__V1__IncidentClose *c = ctx->request->incident_close;
    if (lg_ctx_reason_required (ctx, "R16.1", "closing an incident"))
        return -1;
    const char *reason = ctx->request->reason;
    char id [24], now [40];
    snprintf (id, sizeof id, "%" PRIu64, c->incident);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { id, now, ctx->actor, reason };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT status FROM incidents WHERE id = $1::bigint FOR UPDATE",
                           1, params);
    if (rc)
        return rc;
    char status [16] = "";
    if (PQntuples (res) == 1)
        snprintf (status, sizeof status, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (!*status)
        return MISSING (ctx, "no incident %s", id);
    if (streq (status, "closed"))
        return REFUSE (ctx, "R16.1", "incident %s is already closed", id);
    if ((rc = lg_ctx_query (ctx, &res, "UPDATE incidents SET status = 'closed', closed_at = $2::timestamptz,"
                                       " closed_by = $3, close_reason = $4 WHERE id = $1::bigint"
                                       " RETURNING connection_id, provider_id, rule_id, event_count",
                            4, params)))
        return rc;
    Lgwan__V1__IncidentClosed body = LGWAN__V1__INCIDENT_CLOSED__INIT;
    body.incident = c->incident;
    body.connection = lg_db_u64 (res, 0, "connection_id");
    body.provider = lg_db_u64 (res, 0, "provider_id");
    body.rule = lg_db_u64 (res, 0, "rule_id");
    body.event_count = lg_db_u64 (res, 0, "event_count");
    body.closed_by = (char *) ctx->actor;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_INCIDENT_CLOSED;
    event.incident_closed = &body;
    rc = lg_ctx_emit (ctx, &event);
    PQclear (res);
    return rc? rc: s_incident_reply (ctx, id);
}

//  ---------------------------------------------------------------------------
//  Counts

static int
s_connection_counts (lg_ctx_t *ctx)
{
    const Lgwan__V1__ConnectionCounts *c = ctx->request->connection_counts;
    if (c->connection == 0)
        return INVALID (ctx, NULL, "connection is mandatory");
    uint32_t minutes = c->minutes? c->minutes: 60;
    if (minutes > 1440)
        return INVALID (ctx, NULL, "minutes is at most 1440");
    char conn [24], mins [16], now [40];
    snprintf (conn, sizeof conn, "%" PRIu64, c->connection);
    snprintf (mins, sizeof mins, "%u", minutes);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { conn, mins, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " TS ("minute") " AS minute, events FROM minute_counts"
                                      " WHERE connection_id = $1::bigint AND minute >="
                                      " date_trunc ('minute', $3::timestamptz) - ($2::integer - 1)"
                                      " * interval '1 minute' ORDER BY minute", 3, params);
    if (rc)
        return rc;
    Lgwan__V1__ConnectionCountsReply *reply =
        (Lgwan__V1__ConnectionCountsReply *) malloc (sizeof *reply);
    lgwan__v1__connection_counts_reply__init (reply);
    reply->connection = c->connection;
    reply->minutes = (Lgwan__V1__MinuteCount **) calloc ((size_t) PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++) {
        Lgwan__V1__MinuteCount *m = (Lgwan__V1__MinuteCount *) malloc (sizeof *m);
        lgwan__v1__minute_count__init (m);
        m->minute = lg_db_strdup (res, row, "minute");
        m->events = lg_db_u64 (res, row, "events");
        reply->minutes [reply->n_minutes++] = m;
    }
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONNECTION_COUNTS;
    ctx->reply->connection_counts = reply;
    return 0;
}

static int
s_unattributed (lg_ctx_t *ctx)
{
    uint32_t limit = ctx->request->unattributed->limit? ctx->request->unattributed->limit: 20;
    if (limit > 1000)
        return INVALID (ctx, NULL, "limit is at most 1000");
    char lim [16];
    snprintf (lim, sizeof lim, "%u", limit);
    const char *params [] = { lim };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT sensor, events, unattributed, malformed FROM sensor_counts"
                                      " ORDER BY sensor LIMIT 1000", 0, NULL);
    if (rc)
        return rc;
    Lgwan__V1__UnattributedReply *reply = (Lgwan__V1__UnattributedReply *) malloc (sizeof *reply);
    lgwan__v1__unattributed_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_UNATTRIBUTED;
    ctx->reply->unattributed = reply;
    reply->sensors = (Lgwan__V1__SensorCount **) calloc ((size_t) PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++) {
        Lgwan__V1__SensorCount *s = (Lgwan__V1__SensorCount *) malloc (sizeof *s);
        lgwan__v1__sensor_count__init (s);
        s->sensor = lg_db_strdup (res, row, "sensor");
        s->events = lg_db_u64 (res, row, "events");
        s->unattributed = lg_db_u64 (res, row, "unattributed");
        s->malformed = lg_db_u64 (res, row, "malformed");
        reply->sensors [reply->n_sensors++] = s;
    }
    PQclear (res);
    if ((rc = lg_ctx_query (ctx, &res, "SELECT at, sensor, src_ip, dest_ip, signature_id, signature,"
                                       " category, severity, origin FROM unattributed_samples"
                                       " ORDER BY id DESC LIMIT $1::integer", 1, params)))
        return rc;
    reply->samples = (Lgwan__V1__IncidentEvidence **) calloc ((size_t) PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++) {
        Lgwan__V1__IncidentEvidence *e = s_evidence_from_row (res, row, (uint32_t) row + 1);
        reply->samples [reply->n_samples++] = e;
    }
    PQclear (res);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Followed events: connections and their prefixes

static int
s_on_registry (lg_db_t *db, const lg_event_t *event, void *state)
{
    char id [24], provider [24], service [24], by [64];
    snprintf (by, sizeof by, "%s/%" PRIu64, event->source, event->seq);
    if (event->body_case == LGWAN__V1__EVENT__BODY_CONNECTION_ACTIVATED) {
        const Lgwan__V1__ConnectionActivated *a = event->connection_activated;
        snprintf (id, sizeof id, "%" PRIu64, a->connection);
        snprintf (provider, sizeof provider, "%" PRIu64, a->provider);
        snprintf (service, sizeof service, "%" PRIu64, a->service);
        //  {p1,p2}: prefixes were validated by the registry; still checked here
        char list [2048] = "{";
        for (size_t i = 0; i < a->n_prefixes; i++) {
            monitor_addr_t addr;
            int length;
            if (monitor_prefix_parse (a->prefixes [i], &addr, &length)
            ||  strlen (list) + strlen (a->prefixes [i]) + 2 >= sizeof list)
                return -1;
            strcat (list, i? ",": "");
            strcat (list, a->prefixes [i]);
        }
        strcat (list, "}");
        const char *params [] = { id, provider, service, list, by };
        monitor_intake_touch (state);
        //  A row made by a Decommissioned that came first (note 4) is
        //  filled in and stays inactive
        return lg_db_run (db, "INSERT INTO connections (id, provider_id, service_id, prefixes,"
                              " changed_by) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text[], $5)"
                              " ON CONFLICT (id) DO UPDATE SET provider_id = EXCLUDED.provider_id,"
                              " service_id = EXCLUDED.service_id, prefixes = EXCLUDED.prefixes,"
                              " changed_by = EXCLUDED.changed_by, changed_at = now ()"
                              " WHERE connections.service_id = 0", 5, params)? 0: -2;
    }
    if (event->body_case == LGWAN__V1__EVENT__BODY_ALLOCATION_RELEASED) {
        const Lgwan__V1__AllocationReleased *r = event->allocation_released;
        snprintf (id, sizeof id, "%" PRIu64, r->connection);
        char list [2048] = "{";
        for (size_t i = 0; i < r->n_prefixes; i++) {
            if (strchr (r->prefixes [i], ',') || strchr (r->prefixes [i], '"')
            ||  strlen (list) + strlen (r->prefixes [i]) + 2 >= sizeof list)
                return -1;
            strcat (list, i? ",": "");
            strcat (list, r->prefixes [i]);
        }
        strcat (list, "}");
        const char *params [] = { id, list, by };
        monitor_intake_touch (state);
        //  The released prefixes stop attributing; with none left (or none
        //  named: the whole allocation), the connection does
        return lg_db_run (db, "UPDATE connections SET prefixes = ARRAY (SELECT p FROM"
                              " unnest (prefixes) p WHERE cardinality ($2::text[]) > 0"
                              " AND p <> ALL ($2::text[])),"
                              " active = active AND cardinality ($2::text[]) > 0 AND EXISTS"
                              " (SELECT 1 FROM unnest (prefixes) p WHERE p <> ALL ($2::text[])),"
                              " changed_by = $3, changed_at = now () WHERE id = $1::bigint",
                          3, params)? 0: -2;
    }
    //  ConnectionChanged changes the bandwidth class only: nothing to attribute
    return 0;
}

static int
s_on_isolation (lg_db_t *db, const lg_event_t *event, void *state)
{
    const Lgwan__V1__IsolationApplied *applied;
    switch (event->body_case) {
        case LGWAN__V1__EVENT__BODY_DISCONNECTED: applied = event->disconnected; break;
        case LGWAN__V1__EVENT__BODY_SUSPENDED:    applied = event->suspended; break;
        case LGWAN__V1__EVENT__BODY_RECONNECTED:  applied = event->reconnected; break;
        case LGWAN__V1__EVENT__BODY_DECOMMISSIONED: applied = event->decommissioned; break;
        default: return 0;
    }
    char id [24], provider [24], by [64];
    snprintf (id, sizeof id, "%" PRIu64, applied->connection);
    snprintf (provider, sizeof provider, "%" PRIu64, applied->provider);
    snprintf (by, sizeof by, "%s/%" PRIu64, event->source, event->seq);
    const char *params [] = { id, by, provider };
    if (event->body_case == LGWAN__V1__EVENT__BODY_DECOMMISSIONED) {
        monitor_intake_touch (state);
        //  Before the registry's ConnectionActivated too (note 4)
        return lg_db_run (db, "INSERT INTO connections (id, provider_id, service_id, prefixes,"
                              " active, changed_by) VALUES ($1::bigint, $3::bigint, 0, '{}', false, $2)"
                              " ON CONFLICT (id) DO UPDATE SET active = false,"
                              " changed_by = EXCLUDED.changed_by, changed_at = now ()",
                          3, params)? 0: -2;
    }
    if (applied->state && streq (applied->state, "decommissioned"))
        return 0;                   //  a lift under a decommission: it stays
    //  A decommission lifted, or none imposed: attributes when activated
    //  and holding prefixes (a released allocation holds none). Most such
    //  events change nothing here, and only a change rebuilds the prefixes
    PGresult *res = lg_db_exec (db, "UPDATE connections SET active = true, changed_by = $2,"
                                    " changed_at = now () WHERE id = $1::bigint AND NOT active"
                                    " AND service_id <> 0 AND cardinality (prefixes) > 0",
                                2, params);
    int rc = res && PQresultStatus (res) == PGRES_COMMAND_OK? 0: -2;
    if (rc == 0 && atoi (PQcmdTuples (res)) > 0)
        monitor_intake_touch (state);
    PQclear (res);
    return rc;
}

static const lg_route_t s_routes [] = {
    { LGWAN__V1__REQUEST__BODY_RULE_SET, s_rule_set, LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_RULE_DISABLE, s_rule_disable,
      LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_RULE_GET, s_rule_get, LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_RULE_LIST, s_rule_list, LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, s_allow_add,
      LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_ALLOWLIST_REMOVE, s_allow_remove,
      LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_ALLOWLIST_LIST, s_allow_list,
      LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_INCIDENT_LIST, s_incident_list,
      LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_INCIDENT_GET, s_incident_get,
      LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, s_incident_confirm, LG_ROLE_OPERATOR | LG_ROLE_SERVICE,
      LG_ROUTE_WRITE, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE, s_incident_close, LG_ROLE_OPERATOR | LG_ROLE_SERVICE,
      LG_ROUTE_WRITE, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_CONNECTION_COUNTS, s_connection_counts,
      LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { LGWAN__V1__REQUEST__BODY_UNATTRIBUTED, s_unattributed,
      LG_ROLE_READERS, LG_ROUTE_READ, "R16.1" },
    { 0, NULL, 0, 0, NULL }
};

static const lg_subscription_t s_subscriptions [] = {
    { "registry", s_on_registry },
    { "isolation", s_on_isolation },
    { NULL, NULL }
};

const lg_service_def_t monitor_service = {
    .name = "monitor",
    .migrations = monitor_migrations,
    .routes = s_routes,
    .stream_roles = LG_ROLE_READERS,
    .subscriptions = s_subscriptions,
    .state_new = monitor_intake_new,
    .state_destroy = monitor_intake_destroy,
    .attach = monitor_intake_attach,
    .detach = monitor_intake_detach
};
