/*  registry - requests of the registry service.

    Providers (R3.1): a provider is one of seven entity types. Types 2-6 are
    corporations and carry a corporate number; type 1 is a local government,
    identified by its local government code, and its corporate number, when
    given, must be the one derived from that code; type 7 may carry one. Every
    check digit is verified. A provider is created by the staff who received
    its qualification review application, in state `applied` (R4.1).
    Every version of a record is kept with actor, time and reason (R4.2, X.1).
*/
#include "registry.h"

extern const lg_migration_t registry_migrations [];

#define NAME_MAX_CHARS 256

#define PROVIDER_COLUMNS \
    "id, name_ja, name_en, entity_type, coalesce(corporate_number, '') AS corporate_number," \
    " coalesce(lgcode, '') AS lgcode, status, version," \
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS created_at," \
    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS updated_at"

//  The point query of ProviderGet (bench_rpc runs the same text raw)
const char *registry_provider_get_sql =
    "SELECT " PROVIDER_COLUMNS " FROM providers WHERE id = $1::bigint";

//  Characters (code points) of a valid UTF-8 string
static size_t
s_chars (const char *text)
{
    size_t count = 0;
    for (; *text; text++)
        if (((unsigned char) *text & 0xC0) != 0x80)
            count++;
    return count;
}

static Lgwan__V1__Provider *
s_provider_from_row (const PGresult *res, int row)
{
    Lgwan__V1__Provider *p = (Lgwan__V1__Provider *) malloc (sizeof *p);
    lgwan__v1__provider__init (p);
    p->id = strtoull (lg_db_value (res, row, "id"), NULL, 10);
    p->name_ja = lg_strdup (lg_db_value (res, row, "name_ja"));
    p->name_en = lg_strdup (lg_db_value (res, row, "name_en"));
    p->entity_type = (Lgwan__V1__EntityType) atoi (lg_db_value (res, row, "entity_type"));
    p->corporate_number = lg_strdup (lg_db_value (res, row, "corporate_number"));
    p->lgcode = lg_strdup (lg_db_value (res, row, "lgcode"));
    p->status = lg_strdup (lg_db_value (res, row, "status"));
    p->version = strtoull (lg_db_value (res, row, "version"), NULL, 10);
    p->created_at = lg_strdup (lg_db_value (res, row, "created_at"));
    p->updated_at = lg_strdup (lg_db_value (res, row, "updated_at"));
    return p;
}

//  Corporate number of a local government: "000020" + lgcode behind its check digit
static bool
s_is_lg_corporate_number (const char *number, const char *lgcode)
{
    return lg_check_corporate_number (number)
        && strncmp (number + 1, "000020", 6) == 0
        && strcmp (number + 7, lgcode) == 0;
}

//  R3.1 checks of an application; -1 with the refusal set
static int
s_check_apply (lg_ctx_t *ctx, const Lgwan__V1__ProviderApply *a)
{
    const lg_code_t bad = LGWAN__V1__CODE__INVALID_ARGUMENT;
    if (a->entity_type < LGWAN__V1__ENTITY_TYPE__LOCAL_GOVERNMENT
    ||  a->entity_type > LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION)
        return lg_ctx_refuse (ctx, bad, "R3.1",
                              "entity type must be one of the seven of Art.3 (1-7)");
    if (!*a->name_ja || s_chars (a->name_ja) > NAME_MAX_CHARS)
        return lg_ctx_refuse (ctx, bad, NULL, "name_ja is mandatory, at most %d characters",
                              NAME_MAX_CHARS);
    if (s_chars (a->name_en) > NAME_MAX_CHARS)
        return lg_ctx_refuse (ctx, bad, NULL, "name_en is at most %d characters", NAME_MAX_CHARS);
    bool local_government = a->entity_type == LGWAN__V1__ENTITY_TYPE__LOCAL_GOVERNMENT;
    if (local_government) {
        if (!lg_check_lgcode (a->lgcode))
            return lg_ctx_refuse (ctx, bad, "R3.1",
                                  "local government code \"%.16s\" is not 6 digits with a valid"
                                  " check digit", a->lgcode);
        if (*a->corporate_number && !s_is_lg_corporate_number (a->corporate_number, a->lgcode))
            return lg_ctx_refuse (ctx, bad, "R3.1", "corporate number %.16s is not the one of"
                                  " local government %s", a->corporate_number, a->lgcode);
    }
    else {
        if (*a->lgcode)
            return lg_ctx_refuse (ctx, bad, "R3.1",
                                  "only a local government (type 1) has a local government code");
        bool needs = a->entity_type != LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
        if ((needs || *a->corporate_number) && !lg_check_corporate_number (a->corporate_number))
            return lg_ctx_refuse (ctx, bad, "R3.1", "corporate number \"%.16s\" is not 13 digits"
                                  " with a valid check digit", a->corporate_number);
    }
    return 0;
}

//  Record a version of a provider (X.1: who, when, why)
static int
s_record_version (lg_ctx_t *ctx, const char *provider_id)
{
    const char *params [] = { provider_id, ctx->actor, ctx->request->reason };
    return lg_db_run (ctx->db,
        "INSERT INTO provider_versions (provider_id, version, actor, reason, recorded_at, record)"
        " SELECT id, version, $2, $3, updated_at, to_jsonb (p) FROM providers p"
        " WHERE id = $1::bigint", 3, params)? 0: -2;
}

static int
s_provider_apply (lg_ctx_t *ctx)
{
    const Lgwan__V1__ProviderApply *a = ctx->request->provider_apply;
    if (s_check_apply (ctx, a))
        return -1;
    char type [4], now [40];
    snprintf (type, sizeof type, "%d", a->entity_type);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { a->name_ja, a->name_en, type,
                              *a->corporate_number? a->corporate_number: NULL,
                              *a->lgcode? a->lgcode: NULL, now };
    PGresult *res = lg_db_exec (ctx->db,
        "INSERT INTO providers (name_ja, name_en, entity_type, corporate_number, lgcode,"
        " created_at, updated_at) VALUES ($1, $2, $3::smallint, $4, $5, $6::timestamptz,"
        " $6::timestamptz) RETURNING " PROVIDER_COLUMNS, 6, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        bool duplicate = res && streq (lg_db_sqlstate (res), "23505");
        int rc = duplicate? lg_ctx_refuse (ctx, LGWAN__V1__CODE__ALREADY_EXISTS, "R3.1",
                               "a provider with corporate number %s is already registered",
                               a->corporate_number)
                          : lg_ctx_sql_error (ctx, res);
        PQclear (res);
        return rc;
    }
    Lgwan__V1__Provider *provider = s_provider_from_row (res, 0);
    PQclear (res);
    char id [24];
    snprintf (id, sizeof id, "%" PRIu64, provider->id);
    Lgwan__V1__ProviderReply *reply = (Lgwan__V1__ProviderReply *) malloc (sizeof *reply);
    lgwan__v1__provider_reply__init (reply);
    reply->provider = provider;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_PROVIDER;
    ctx->reply->provider = reply;
    if (s_record_version (ctx, id))
        return -2;
    Lgwan__V1__ProviderApplied applied = LGWAN__V1__PROVIDER_APPLIED__INIT;
    applied.provider = provider;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_PROVIDER_APPLIED;
    event.provider_applied = &applied;
    return lg_outbox_append (ctx->outbox, &event, ctx->actor, ctx->request->reason,
                             ctx->request->request_id, ctx->now_us);
}

static int
s_provider_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->provider_get->provider;
    if (id == 0)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, NULL,
                              "provider is mandatory");
    if (ctx->caller->role == LG_ROLE_PROVIDER && ctx->caller->provider_id != id)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__PERMISSION_DENIED, NULL,
                              "a provider reads only its own records");
    char text [24];
    snprintf (text, sizeof text, "%" PRIu64, id);
    const char *params [] = { text };
    PGresult *res = lg_db_exec (ctx->db, registry_provider_get_sql, 1, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        int rc = lg_ctx_sql_error (ctx, res);
        PQclear (res);
        return rc;
    }
    if (PQntuples (res) == 0) {
        PQclear (res);
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__NOT_FOUND, NULL, "no provider %s", text);
    }
    Lgwan__V1__ProviderReply *reply = (Lgwan__V1__ProviderReply *) malloc (sizeof *reply);
    lgwan__v1__provider_reply__init (reply);
    reply->provider = s_provider_from_row (res, 0);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_PROVIDER;
    ctx->reply->provider = reply;
    return 0;
}

//  Dispatch table: body, handler, roles allowed, kind
static const lg_route_t s_routes [] = {
    { LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY, s_provider_apply,
      LG_ROLE_OPERATOR | LG_ROLE_REVIEWER, LG_ROUTE_WRITE },
    { LGWAN__V1__REQUEST__BODY_PROVIDER_GET, s_provider_get,
      LG_ROLE_READERS | LG_ROLE_PROVIDER, LG_ROUTE_READ },
    { 0, NULL, 0, 0 }
};

const lg_service_def_t registry_service = {
    .name = "registry",
    .migrations = registry_migrations,
    .routes = s_routes,
    .stream_roles = LG_ROLE_READERS | LG_ROLE_BILLING
};
