/*  registry - the system of record: dispatch table and what its files share.

    Records and their rules:
    1. Providers (R3.1-R3.3): one of seven entity types, check digits and the
       reference list verified, data centres in Japan, typed contacts; a type 7
       provider is qualified only after the President's approval (R3.2).
    2. Applications are reviewed (R4.1, R4.3): applied -> under_review ->
       qualified/registered or rejected, each decision with reviewer (from the
       certificate), time, outcome and reason.
    3. Services carry their Art.9 role holders (R9.1, R9.2, R10.1, R12.1,
       R13.1), every holder a qualified provider.
    4. Contracts with using bodies are active only with the responsibility
       statement and both deliveries recorded (R7.1, R7.2); interconnections
       are registered facts with a justification and no approval (R8.1, R8.2).
    5. A change is a notification (effective when filed) or an application
       (effective when approved), as the change_policy table says; a
       cancellation ends only what is in effect, on its date, and only then
       is CancellationEffective published (R4.2).
    6. Every version of every record is kept with actor, time and reason.
    A provider certificate files and reads only for its own provider, and a
    refusal tells it no other provider's state (reg_not_qualified, X.3),
    nor which of its records exist: one not its own is told as one that
    does not exist (reg_only_owner).
*/
#include "registry_internal.h"

extern const lg_migration_t registry_migrations [];

int
reg_queue (lg_ctx_t *ctx, const char *sql, int nparams, const char *const *params)
{
    return lg_db_run (ctx->db, sql, nparams, params)? 0: -2;
}

int
reg_query_keys (lg_ctx_t *ctx, PGresult **res_p, const char *sql, int nparams,
                const char *const *params, const reg_key_t *keys, size_t nkeys)
{
    PGresult *res = lg_db_exec (ctx->db, sql, nparams, params);
    if (res && (PQresultStatus (res) == PGRES_TUPLES_OK
            ||  PQresultStatus (res) == PGRES_COMMAND_OK)) {
        *res_p = res;
        return 0;
    }
    *res_p = NULL;
    const char *constraint = res? PQresultErrorField (res, PG_DIAG_CONSTRAINT_NAME): NULL;
    const reg_key_t *key = NULL;
    for (size_t i = 0; constraint && i < nkeys && !key; i++)
        if (streq (constraint, keys [i].constraint))
            key = &keys [i];
    int rc = key? lg_ctx_refuse (ctx, key->code, key->requirement, "%s", key->message)
                : lg_ctx_sql_error (ctx, res);
    PQclear (res);
    return rc;
}

size_t
reg_chars (const char *text)
{
    size_t count = 0;
    for (; text && *text; text++)
        if (((unsigned char) *text & 0xC0) != 0x80)
            count++;
    return count;
}

int
reg_check_count (lg_ctx_t *ctx, const char *what, size_t n)
{
    if (n > REG_LIST_MAX)
        return INVALID (ctx, NULL, "at most %d %s, not %zu", REG_LIST_MAX, what, n);
    return 0;
}

int
reg_check_text (lg_ctx_t *ctx, const char *field, const char *text, size_t max, bool mandatory)
{
    size_t chars = reg_chars (text);
    if (mandatory && chars == 0)
        return INVALID (ctx, NULL, "%s is mandatory", field);
    if (chars > max)
        return INVALID (ctx, NULL, "%s is at most %zu characters (got %zu)", field, max, chars);
    return 0;
}

int
reg_list_scope (lg_ctx_t *ctx, uint32_t asked, const char *status, uint64_t *provider,
                const char *what, uint32_t *limit, char *count, size_t count_size)
{
    if (lg_ctx_page (ctx, asked, 50, 500, limit, count, count_size)
    ||  reg_check_text (ctx, "status", status, 32, false))
        return -1;
    if (ctx->caller->role == LG_ROLE_PROVIDER) {
        if (*provider && *provider != ctx->caller->provider_id)
            return DENIED (ctx, "a provider lists only %s", what);
        *provider = ctx->caller->provider_id;
    }
    return 0;
}

void
reg_today_jst (lg_ctx_t *ctx, char *buf, size_t size)
{
    //  Japan has no daylight saving time: JST is UTC+9 all year
    time_t seconds = (time_t) (ctx->now_us / 1000000) + 9 * 3600;
    struct tm tm;
    gmtime_r (&seconds, &tm);
    strftime (buf, size, "%Y-%m-%d", &tm);
}

int
reg_check_date_not_future (lg_ctx_t *ctx, const char *rule, const char *field, const char *date)
{
    if (!lg_check_date (date))
        return INVALID (ctx, rule, "%s \"%.16s\" is not a date YYYY-MM-DD", field, date);
    char today [16];
    reg_today_jst (ctx, today, sizeof today);
    if (strcmp (date, today) > 0)
        return INVALID (ctx, rule, "%s %s is after today (%s, Asia/Tokyo)", field, date, today);
    return 0;
}

int
reg_missing (lg_ctx_t *ctx, const char *what, const char *id)
{
    return MISSING (ctx, "no %s %s", what, id);
}

int
reg_only_owner (lg_ctx_t *ctx, const char *what, uint64_t id, uint64_t owner, uint64_t other)
{
    if (!ctx->caller || ctx->caller->role != LG_ROLE_PROVIDER
    ||  ctx->caller->provider_id == owner || (other && ctx->caller->provider_id == other))
        return 0;
    char text [24], caller [24];
    ID_TEXT (text, id);
    ID_TEXT (caller, ctx->caller->provider_id);
    //  A holder of a role in a service reads it (ServiceGet): it knows the
    //  service exists, and is told it is not its to act on
    if (streq (what, "service")) {
        const char *params [] = { text, caller };
        PGresult *res;
        int rc = lg_ctx_query (ctx, &res, "SELECT 1 FROM service_holders WHERE"
                               " service_id = $1::bigint AND provider_id = $2::bigint", 2, params);
        if (rc)
            return rc;
        bool holds = PQntuples (res) > 0;
        PQclear (res);
        if (holds)
            return DENIED (ctx, "a provider files and reads only for itself");
    }
    return reg_missing (ctx, what, text);
}

const char *
reg_not_qualified (lg_ctx_t *ctx, uint64_t provider, const char *status, char *buf, size_t size)
{
    if (ctx->caller && ctx->caller->role == LG_ROLE_PROVIDER && ctx->caller->provider_id != provider)
        return "is not qualified";
    snprintf (buf, size, "is %s, not qualified", status);
    return buf;
}

//  How each subject's record is captured for its history
static const struct {
    const char *subject;
    const char *sql;
} s_versions [] = {
    { "provider",
      "INSERT INTO versions (subject, subject_id, version, actor, reason, recorded_at, record)"
      " SELECT 'provider', p.id, p.version, $2, $3, $4::timestamptz,"
      " to_jsonb (p) || jsonb_build_object ("
      "  'contacts', (SELECT coalesce (jsonb_agg (to_jsonb (c) ORDER BY c.kind), '[]')"
      "               FROM provider_contacts c WHERE c.provider_id = p.id),"
      "  'data_centres', (SELECT coalesce (jsonb_agg (to_jsonb (d) ORDER BY d.name), '[]')"
      "               FROM data_centres d WHERE d.provider_id = p.id))"
      " FROM providers p WHERE p.id = $1::bigint" },
    { "service",
      "INSERT INTO versions (subject, subject_id, version, actor, reason, recorded_at, record)"
      " SELECT 'service', s.id, s.version, $2, $3, $4::timestamptz,"
      " to_jsonb (s) || jsonb_build_object ('holders',"
      "  (SELECT coalesce (jsonb_agg (to_jsonb (h) ORDER BY h.role, h.provider_id), '[]')"
      "   FROM service_holders h WHERE h.service_id = s.id))"
      " FROM services s WHERE s.id = $1::bigint" },
    { "contract",
      "INSERT INTO versions (subject, subject_id, version, actor, reason, recorded_at, record)"
      " SELECT 'contract', c.id, c.version, $2, $3, $4::timestamptz,"
      " to_jsonb (c) || jsonb_build_object ('services',"
      "  (SELECT coalesce (jsonb_agg (cs.service_id ORDER BY cs.service_id), '[]')"
      "   FROM contract_services cs WHERE cs.contract_id = c.id))"
      " FROM contracts c WHERE c.id = $1::bigint" },
    { "connection",
      "INSERT INTO versions (subject, subject_id, version, actor, reason, recorded_at, record)"
      " SELECT 'connection', c.id, c.version, $2, $3, $4::timestamptz, " CONNECTION_RECORD
      " FROM connections c WHERE c.id = $1::bigint" },
    { "interconnection",
      "INSERT INTO versions (subject, subject_id, version, actor, reason, recorded_at, record)"
      " SELECT 'interconnection', i.id, i.version, $2, $3, $4::timestamptz, to_jsonb (i)"
      " FROM interconnections i WHERE i.id = $1::bigint" },
};

const char *
reg_reason (lg_ctx_t *ctx)
{
    return ctx->request && ctx->request->reason? ctx->request->reason: "";
}

int
reg_version (lg_ctx_t *ctx, const char *subject, uint64_t id)
{
    return reg_version_why (ctx, subject, id, reg_reason (ctx));
}

int
reg_version_why (lg_ctx_t *ctx, const char *subject, uint64_t id, const char *reason)
{
    char text [24], now [40];
    ID_TEXT (text, id);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, ctx->actor, reason, now };
    //  A version row cannot fail but for a bug: queued, it costs no round trip
    for (size_t i = 0; i < sizeof s_versions / sizeof s_versions [0]; i++)
        if (streq (s_versions [i].subject, subject))
            return lg_db_run (ctx->db, s_versions [i].sql, 4, params)? 0: -2;
    return -2;
}

//  A record's status moves on: one statement per subject, never built from data
static const struct {
    const char *subject;
    const char *sql;
} s_status_updates [] = {
    { "provider", "UPDATE providers SET status = $2, version = version + 1,"
                  " updated_at = $3::timestamptz WHERE id = $1::bigint" },
    { "service", "UPDATE services SET status = $2, version = version + 1,"
                 " updated_at = $3::timestamptz WHERE id = $1::bigint" },
    { "connection", "UPDATE connections SET status = $2, version = version + 1,"
                    " updated_at = $3::timestamptz WHERE id = $1::bigint" },
};

int
reg_set_status (lg_ctx_t *ctx, const char *subject, uint64_t id, const char *status)
{
    char text [24], now [40];
    ID_TEXT (text, id);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, status, now };
    for (size_t i = 0; i < sizeof s_status_updates / sizeof s_status_updates [0]; i++)
        if (streq (s_status_updates [i].subject, subject)) {
            int rc = reg_queue (ctx, s_status_updates [i].sql, 3, params);
            return rc? rc: reg_version (ctx, subject, id);
        }
    return -2;
}

int
reg_check_decision (lg_ctx_t *ctx, Lgwan__V1__Outcome outcome, const char *reason)
{
    if (outcome == LGWAN__V1__OUTCOME__OUTCOME_UNSPECIFIED)
        return INVALID (ctx, "R4.3", "outcome is mandatory (approved or rejected)");
    return reg_check_text (ctx, "reason", reason, 2000, true);
}

int
reg_provider_lock (lg_ctx_t *ctx, uint64_t id, char *status, size_t size, int *type)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT status, entity_type FROM providers"
                                      " WHERE id = $1::bigint FOR UPDATE", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "provider", text);
    }
    snprintf (status, size, "%s", lg_db_value (res, 0, "status"));
    if (type)
        *type = atoi (lg_db_value (res, 0, "entity_type"));
    PQclear (res);
    return 0;
}

int
reg_decide (lg_ctx_t *ctx, const char *subject, uint64_t id, Lgwan__V1__Outcome outcome,
            const char *reason)
{
    char text [24], now [40];
    ID_TEXT (text, id);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { subject, text,
                              outcome == LGWAN__V1__OUTCOME__OUTCOME_APPROVED? "approved": "rejected",
                              ctx->actor, now, reason };
    return reg_queue (ctx, "INSERT INTO decisions (subject, subject_id, outcome, reviewer,"
                          " decided_at, reason) VALUES ($1, $2::bigint, $3, $4, $5::timestamptz, $6)",
                     6, params);
}

//  A JSON text column's string member, copied
static char *
s_json_text (json_t *object, const char *key)
{
    return lg_strdup (json_string_value (json_object_get (object, key)));
}

Lgwan__V1__Decision *
reg_decision_from_json (const char *text)
{
    json_t *json = text? json_loads (text, 0, NULL): NULL;
    if (!json)
        return NULL;
    Lgwan__V1__Decision *d = (Lgwan__V1__Decision *) malloc (sizeof *d);
    lgwan__v1__decision__init (d);
    const char *outcome = json_string_value (json_object_get (json, "outcome"));
    d->outcome = outcome && streq (outcome, "approved")?
        LGWAN__V1__OUTCOME__OUTCOME_APPROVED: LGWAN__V1__OUTCOME__OUTCOME_REJECTED;
    d->reviewer = s_json_text (json, "reviewer");
    d->decided_at = s_json_text (json, "decided_at");
    d->reason = s_json_text (json, "reason");
    json_decref (json);
    return d;
}

Lgwan__V1__Provider *
reg_provider_load (lg_ctx_t *ctx, uint64_t id, int *rc)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    if ((*rc = lg_ctx_query (ctx, &res, registry_provider_get_sql, 1, params)))
        return NULL;
    if (PQntuples (res) == 0) {
        PQclear (res);
        *rc = reg_missing (ctx, "provider", text);
        return NULL;
    }
    Lgwan__V1__Provider *p = (Lgwan__V1__Provider *) malloc (sizeof *p);
    lgwan__v1__provider__init (p);
    p->id = id;
    p->name_ja = lg_strdup (lg_db_value (res, 0, "name_ja"));
    p->name_en = lg_strdup (lg_db_value (res, 0, "name_en"));
    p->entity_type = (Lgwan__V1__EntityType) atoi (lg_db_value (res, 0, "entity_type"));
    p->corporate_number = lg_strdup (lg_db_value (res, 0, "corporate_number"));
    p->lgcode = lg_strdup (lg_db_value (res, 0, "lgcode"));
    p->status = lg_strdup (lg_db_value (res, 0, "status"));
    p->version = strtoull (lg_db_value (res, 0, "version"), NULL, 10);
    p->created_at = lg_strdup (lg_db_value (res, 0, "created_at"));
    p->updated_at = lg_strdup (lg_db_value (res, 0, "updated_at"));
    p->operating_body = streq (lg_db_value (res, 0, "operating_body"), "t");
    if (lg_db_value (res, 0, "president_approved_by")) {
        p->president_approval = (Lgwan__V1__PresidentApproval *) malloc (sizeof (Lgwan__V1__PresidentApproval));
        lgwan__v1__president_approval__init (p->president_approval);
        p->president_approval->approved_by = lg_strdup (lg_db_value (res, 0, "president_approved_by"));
        p->president_approval->approved_on = lg_strdup (lg_db_value (res, 0, "president_approved_on"));
        p->president_approval->reference = lg_strdup (lg_db_value (res, 0, "president_reference"));
    }
    //  The children came as JSON built by PostgreSQL from our own rows
    json_t *contacts = json_loads (lg_db_value (res, 0, "contacts"), 0, NULL);
    json_t *centres = json_loads (lg_db_value (res, 0, "data_centres"), 0, NULL);
    const char *decision_value = lg_db_value (res, 0, "decision");
    char *decision_text = decision_value? strdup (decision_value): NULL;
    PQclear (res);
    size_t n = json_array_size (contacts);
    p->contacts = (Lgwan__V1__Contact **) calloc (n? n: 1, sizeof (void *));
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get (contacts, i);
        Lgwan__V1__Contact *c = (Lgwan__V1__Contact *) malloc (sizeof *c);
        lgwan__v1__contact__init (c);
        c->kind = (Lgwan__V1__ContactKind) json_integer_value (json_object_get (item, "kind"));
        c->name = s_json_text (item, "name");
        c->phone = s_json_text (item, "phone");
        c->email = s_json_text (item, "email");
        p->contacts [p->n_contacts++] = c;
    }
    n = json_array_size (centres);
    p->data_centres = (Lgwan__V1__DataCentre **) calloc (n? n: 1, sizeof (void *));
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get (centres, i);
        Lgwan__V1__DataCentre *d = (Lgwan__V1__DataCentre *) malloc (sizeof *d);
        lgwan__v1__data_centre__init (d);
        d->name = s_json_text (item, "name");
        d->country = s_json_text (item, "country");
        d->prefecture = s_json_text (item, "prefecture");
        d->address = s_json_text (item, "address");
        p->data_centres [p->n_data_centres++] = d;
    }
    p->decision = decision_text? reg_decision_from_json (decision_text): NULL;
    free (decision_text);
    json_decref (contacts);
    json_decref (centres);
    return p;
}

Lgwan__V1__Service *
reg_service_from_row (const PGresult *res, int row)
{
    Lgwan__V1__Service *s = (Lgwan__V1__Service *) malloc (sizeof *s);
    lgwan__v1__service__init (s);
    s->id = lg_db_u64 (res, row, "id");
    s->name = lg_db_strdup (res, row, "name");
    s->title_ja = lg_db_strdup (res, row, "title_ja");
    s->status = lg_db_strdup (res, row, "status");
    s->version = lg_db_u64 (res, row, "version");
    s->created_at = lg_db_strdup (res, row, "created_at");
    s->updated_at = lg_db_strdup (res, row, "updated_at");
    s->decision = reg_decision_from_json (lg_db_value (res, row, "decision"));
    json_t *holders = json_loads (lg_db_value (res, row, "holders"), 0, NULL);
    size_t n = json_array_size (holders);
    s->holders = (Lgwan__V1__RoleHolder **) calloc (n? n: 1, sizeof (void *));
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get (holders, i);
        Lgwan__V1__RoleHolder *h = (Lgwan__V1__RoleHolder *) malloc (sizeof *h);
        lgwan__v1__role_holder__init (h);
        h->provider = (uint64_t) json_integer_value (json_object_get (item, "provider"));
        h->role = (Lgwan__V1__ServiceRole) json_integer_value (json_object_get (item, "role"));
        h->carrier_number = s_json_text (item, "carrier_number");
        s->holders [s->n_holders++] = h;
    }
    json_decref (holders);
    return s;
}

Lgwan__V1__Service *
reg_service_load (lg_ctx_t *ctx, uint64_t id, int *rc)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    if ((*rc = lg_ctx_query (ctx, &res, "SELECT " SERVICE_COLUMNS " FROM services s"
                                        " WHERE s.id = $1::bigint", 1, params)))
        return NULL;
    if (PQntuples (res) == 0) {
        PQclear (res);
        *rc = reg_missing (ctx, "service", text);
        return NULL;
    }
    Lgwan__V1__Service *s = reg_service_from_row (res, 0);
    PQclear (res);
    return s;
}

Lgwan__V1__Contract *
reg_contract_load (lg_ctx_t *ctx, uint64_t id, int *rc)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    if ((*rc = lg_ctx_query (ctx, &res,
            "SELECT provider_id, lgcode, using_body, responsibility,"
            " coalesce (terms_delivered_on::text, '') AS terms,"
            " coalesce (manual_delivered_on::text, '') AS manual, status, version, "
            TIME_TEXT ("created_at") " AS created_at, " TIME_TEXT ("updated_at") " AS updated_at,"
            " array (SELECT service_id FROM contract_services WHERE contract_id = c.id"
            "        ORDER BY service_id)::text AS services"
            " FROM contracts c WHERE id = $1::bigint", 1, params)))
        return NULL;
    if (PQntuples (res) == 0) {
        PQclear (res);
        *rc = reg_missing (ctx, "contract", text);
        return NULL;
    }
    Lgwan__V1__Contract *c = (Lgwan__V1__Contract *) malloc (sizeof *c);
    lgwan__v1__contract__init (c);
    c->id = id;
    c->provider = strtoull (lg_db_value (res, 0, "provider_id"), NULL, 10);
    c->lgcode = lg_strdup (lg_db_value (res, 0, "lgcode"));
    c->using_body = lg_strdup (lg_db_value (res, 0, "using_body"));
    c->responsibility = lg_strdup (lg_db_value (res, 0, "responsibility"));
    c->terms_delivered_on = lg_strdup (lg_db_value (res, 0, "terms"));
    c->manual_delivered_on = lg_strdup (lg_db_value (res, 0, "manual"));
    c->status = lg_strdup (lg_db_value (res, 0, "status"));
    c->version = strtoull (lg_db_value (res, 0, "version"), NULL, 10);
    c->created_at = lg_strdup (lg_db_value (res, 0, "created_at"));
    c->updated_at = lg_strdup (lg_db_value (res, 0, "updated_at"));
    //  "{1,2,3}": the ids of the services covered
    const char *list = lg_db_value (res, 0, "services");
    size_t count = 0;
    for (const char *at = list; at && *at; at++)
        if (isdigit ((unsigned char) *at) && (at == list || !isdigit ((unsigned char) at [-1])))
            count++;
    c->services = (uint64_t *) calloc (count? count: 1, sizeof (uint64_t));
    for (const char *at = list; at && *at; at++)
        if (isdigit ((unsigned char) *at) && (at == list || !isdigit ((unsigned char) at [-1])))
            c->services [c->n_services++] = strtoull (at, NULL, 10);
    PQclear (res);
    return c;
}

//  Dispatch table: body, handler, roles allowed, kind, the rule it serves
#define STAFF_OR_PROVIDER (LG_ROLE_OPERATOR | LG_ROLE_REVIEWER | LG_ROLE_PROVIDER)
#define READERS_AND_PROVIDER (LG_ROLE_READERS | LG_ROLE_PROVIDER)
static const lg_route_t s_routes [] = {
    { LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY, reg_provider_apply,
      LG_ROLE_OPERATOR | LG_ROLE_REVIEWER, LG_ROUTE_WRITE, "R3.1" },
    { LGWAN__V1__REQUEST__BODY_PROVIDER_GET, reg_provider_get,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R3.1" },
    { LGWAN__V1__REQUEST__BODY_PROVIDER_LIST, reg_provider_list,
      LG_ROLE_READERS, LG_ROUTE_READ, "R3.1" },
    { LGWAN__V1__REQUEST__BODY_PRESIDENT_APPROVAL_RECORD, reg_president_approval_record,
      LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R3.2" },
    { LGWAN__V1__REQUEST__BODY_QUALIFICATION_REVIEW, reg_qualification_review,
      LG_ROLE_REVIEWER, LG_ROUTE_WRITE, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_QUALIFICATION_DECIDE, reg_qualification_decide,
      LG_ROLE_REVIEWER, LG_ROUTE_WRITE, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_SERVICE_REGISTER, reg_service_register, STAFF_OR_PROVIDER,
      LG_ROUTE_WRITE, "R9.1" },
    { LGWAN__V1__REQUEST__BODY_SERVICE_GET, reg_service_get,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R9.1" },
    { LGWAN__V1__REQUEST__BODY_SERVICE_LIST, reg_service_list,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R9.1" },
    { LGWAN__V1__REQUEST__BODY_SERVICE_REVIEW, reg_service_review, LG_ROLE_REVIEWER,
      LG_ROUTE_WRITE, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_SERVICE_DECIDE, reg_service_decide, LG_ROLE_REVIEWER,
      LG_ROUTE_WRITE, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_CONTRACT_CREATE, reg_contract_create,
      LG_ROLE_OPERATOR | LG_ROLE_PROVIDER, LG_ROUTE_WRITE, "R7.1" },
    { LGWAN__V1__REQUEST__BODY_CONTRACT_RECORD_DELIVERY, reg_contract_record_delivery,
      LG_ROLE_OPERATOR | LG_ROLE_PROVIDER, LG_ROUTE_WRITE, "R7.2" },
    { LGWAN__V1__REQUEST__BODY_CONTRACT_ACTIVATE, reg_contract_activate,
      LG_ROLE_OPERATOR | LG_ROLE_PROVIDER, LG_ROUTE_WRITE, "R7.2" },
    { LGWAN__V1__REQUEST__BODY_CONTRACT_GET, reg_contract_get,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R7.1" },
    { LGWAN__V1__REQUEST__BODY_CONTRACTS_OF_PROVIDER, reg_contracts_of_provider,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R7.1" },
    { LGWAN__V1__REQUEST__BODY_INTERCONNECTION_REGISTER, reg_interconnection_register,
      LG_ROLE_OPERATOR | LG_ROLE_PROVIDER, LG_ROUTE_WRITE, "R8.1" },
    { LGWAN__V1__REQUEST__BODY_INTERCONNECTION_LIST, reg_interconnection_list,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R8.1" },
    { LGWAN__V1__REQUEST__BODY_REVIEW_QUEUE, reg_review_queue,
      LG_ROLE_READERS, LG_ROUTE_READ, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_CHANGE_FILE, reg_change_file,
      STAFF_OR_PROVIDER, LG_ROUTE_WRITE, "R4.2" },
    { LGWAN__V1__REQUEST__BODY_CHANGE_DECIDE, reg_change_decide,
      LG_ROLE_REVIEWER, LG_ROUTE_WRITE, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_CHANGE_LIST, reg_change_list,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R4.2" },
    { LGWAN__V1__REQUEST__BODY_HISTORY, reg_history, READERS_AND_PROVIDER, LG_ROUTE_READ, "R4.2" },
    { LGWAN__V1__REQUEST__BODY_REFERENCE_LOAD, reg_reference_load, LG_ROLE_OPERATOR,
      LG_ROUTE_WRITE, "R3.1" },
    { LGWAN__V1__REQUEST__BODY_REFERENCE_GET, reg_reference_get,
      LG_ROLE_ANY, LG_ROUTE_READ, "R3.1" },
    { LGWAN__V1__REQUEST__BODY_POOL_ADD, reg_pool_add, LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R12.1" },
    { LGWAN__V1__REQUEST__BODY_POOL_LIST, reg_pool_list, LG_ROLE_READERS, LG_ROUTE_READ, "R12.1" },
    { LGWAN__V1__REQUEST__BODY_CONNECTION_APPLY, reg_connection_apply, STAFF_OR_PROVIDER,
      LG_ROUTE_WRITE, "R4.1" },
    { LGWAN__V1__REQUEST__BODY_CONNECTION_GET, reg_connection_get, READERS_AND_PROVIDER,
      LG_ROUTE_READ, "R4.1" },
    { LGWAN__V1__REQUEST__BODY_CONNECTION_REVIEW, reg_connection_review, LG_ROLE_REVIEWER,
      LG_ROUTE_WRITE, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_CONNECTION_DECIDE, reg_connection_decide, LG_ROLE_REVIEWER,
      LG_ROUTE_WRITE, "R4.3" },
    { LGWAN__V1__REQUEST__BODY_CONNECTION_LOOKUP, reg_connection_lookup, LG_ROLE_READERS,
      LG_ROUTE_READ, "R12.1" },
    { LGWAN__V1__REQUEST__BODY_CONNECTION_LIST, reg_connection_list, READERS_AND_PROVIDER,
      LG_ROUTE_READ, "R4.1" },
    { LGWAN__V1__REQUEST__BODY_SERVER_REGISTER, reg_server_register, STAFF_OR_PROVIDER,
      LG_ROUTE_WRITE, "R11.3" },
    { LGWAN__V1__REQUEST__BODY_SERVER_LIST, reg_server_list,
      READERS_AND_PROVIDER, LG_ROUTE_READ, "R11.3" },
    { 0, NULL, 0, 0, NULL }
};

//  Cancellations whose date has come take effect (and only then are
//  published); decommissioned connections give their addresses back, once
//  the registry caught up with isolation's events (a release is for good,
//  and a state mirrored from before may have been lifted since: the
//  addresses went to the next connection while isolation held them)
static const lg_duty_t s_duties [] = {
    { "due cancellations", 60000, reg_due_changes, false },
    { "released allocations", 1000, reg_release_allocations, true },
    { NULL, 0, NULL, false }
};

//  The connection state is isolation's to say: the registry only mirrors it
static const lg_subscription_t s_subscriptions [] = {
    { "isolation", reg_on_isolation },
    { NULL, NULL }
};

const lg_service_def_t registry_service = {
    .name = "registry",
    .migrations = registry_migrations,
    .routes = s_routes,
    .stream_roles = LG_ROLE_READERS | LG_ROLE_BILLING,
    .duties = s_duties,
    .subscriptions = s_subscriptions
};
