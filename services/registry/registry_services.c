/*  registry_services - a registration application per service (R4.1) and
    the Art.9 participants who hold its roles (R9.1, R9.2, R10.1, R12.1, R13.1).

    1. At least one application & content holder (R9.1, R10.1: it shares the
       responsibility of R7.1) and exactly one hosting holder (R9.2: the
       contracting principal, responsible for the others).
    2. The network layer role only for the operating body (R12.1).
    3. A telecom holder carries its carrier registration or notification
       number under the Telecommunications Business Act (R13.1).
    4. Every holder is a qualified provider (R4.1), checked when filed and
       again when decided.
    5. Filed by staff or by the hosting provider itself; reviewed like a
       qualification (R4.3); ServiceRegistered is published on approval.
*/
#include "registry_internal.h"

static const char *s_role_names [] = {
    "", "application & content", "hosting", "network layer", "telecom", "facility"
};

//  Carrier numbers: letters, digits, hyphens, e.g. A-19-12345 or 第123号 is
//  written as its digits; 1-32 characters
static bool
s_carrier_number_valid (const char *text)
{
    size_t len = strlen (text);
    if (len == 0 || len > 32)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum ((unsigned char) text [i]) && text [i] != '-')
            return false;
    return strpbrk (text, "0123456789") != NULL;
}

int
reg_check_holders (lg_ctx_t *ctx, Lgwan__V1__RoleHolder **holders, size_t n)
{
    if (reg_check_count (ctx, "holders", n))
        return -1;
    size_t content = 0, hosting = 0;
    for (size_t i = 0; i < n; i++) {
        const Lgwan__V1__RoleHolder *h = holders [i];
        if (h->role == LGWAN__V1__SERVICE_ROLE__SERVICE_ROLE_UNSPECIFIED)
            return INVALID (ctx, "R9.1", "holders[%zu]: role is mandatory", i);
        if (h->provider == 0)
            return INVALID (ctx, "R9.1", "holders[%zu]: provider is mandatory", i);
        for (size_t j = 0; j < i; j++)
            if (holders [j]->provider == h->provider && holders [j]->role == h->role)
                return INVALID (ctx, "R9.1", "holders[%zu]: provider %" PRIu64 " holds %s twice",
                                i, h->provider, s_role_names [h->role]);
        content += h->role == LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
        hosting += h->role == LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
        if (h->role == LGWAN__V1__SERVICE_ROLE__ROLE_TELECOM) {
            if (!s_carrier_number_valid (h->carrier_number))
                return REFUSE (ctx, "R13.1", "telecom holder %" PRIu64 " needs its carrier"
                               " registration or notification number", h->provider);
        }
        else
        if (*h->carrier_number)
            return INVALID (ctx, "R13.1", "holders[%zu]: only a telecom holder carries a carrier"
                            " number", i);
    }
    if (content == 0)
        return REFUSE (ctx, "R10.1", "a service needs at least one application & content"
                       " provider");
    if (hosting != 1)
        return REFUSE (ctx, "R9.2", "a service has exactly one hosting provider (got %zu)", hosting);

    //  Against the records: qualified, and the operating body for the network layer
    for (size_t i = 0; i < n; i++) {
        const Lgwan__V1__RoleHolder *h = holders [i];
        char id [24];
        ID_TEXT (id, h->provider);
        const char *params [] = { id };
        PGresult *res;
        int rc = lg_ctx_query (ctx, &res, "SELECT status, operating_body FROM providers"
                                          " WHERE id = $1::bigint FOR SHARE", 1, params);
        if (rc)
            return rc;
        if (PQntuples (res) == 0) {
            PQclear (res);
            return MISSING (ctx, "holders[%zu]: no provider %s", i, id);
        }
        bool qualified = streq (lg_db_value (res, 0, "status"), "qualified");
        bool operating_body = streq (lg_db_value (res, 0, "operating_body"), "t");
        char status [32];
        snprintf (status, sizeof status, "%s", lg_db_value (res, 0, "status"));
        PQclear (res);
        //  A provider filing learns that another holder is not qualified,
        //  not its state (X.3)
        char words [64];
        if (!qualified)
            return REFUSE (ctx, "R4.1", "provider %s holds the %s role but %s", id,
                           s_role_names [h->role],
                           reg_not_qualified (ctx, h->provider, status, words, sizeof words));
        if (h->role == LGWAN__V1__SERVICE_ROLE__ROLE_NETWORK_LAYER && !operating_body)
            return REFUSE (ctx, "R12.1", "only the operating body holds the network layer role,"
                           " not provider %s", id);
    }
    return 0;
}

int
reg_store_holders (lg_ctx_t *ctx, const char *service, Lgwan__V1__RoleHolder **holders, size_t n)
{
    const char *own [] = { service };
    int rc = reg_queue (ctx, "DELETE FROM service_holders WHERE service_id = $1::bigint", 1, own);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char provider [24], role [8];
        ID_TEXT (provider, holders [i]->provider);
        snprintf (role, sizeof role, "%d", holders [i]->role);
        const char *params [] = { service, provider, role,
                                  *holders [i]->carrier_number? holders [i]->carrier_number: NULL };
        rc = reg_queue (ctx, "INSERT INTO service_holders (service_id, provider_id, role,"
                            " carrier_number) VALUES ($1::bigint, $2::bigint, $3::smallint, $4)",
                       4, params);
    }
    return rc;
}

//  The hosting holder of a list, or 0
static uint64_t
s_hosting (Lgwan__V1__RoleHolder **holders, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (holders [i]->role == LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING)
            return holders [i]->provider;
    return 0;
}

static int
s_reply_service (lg_ctx_t *ctx, uint64_t id, Lgwan__V1__Service **service_p)
{
    int rc;
    Lgwan__V1__Service *service = reg_service_load (ctx, id, &rc);
    if (!service)
        return rc;
    Lgwan__V1__ServiceReply *reply = (Lgwan__V1__ServiceReply *) malloc (sizeof *reply);
    lgwan__v1__service_reply__init (reply);
    reply->service = service;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_SERVICE;
    ctx->reply->service = reply;
    if (service_p)
        *service_p = service;
    return 0;
}

static bool
s_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len < 2 || len > 31 || !islower ((unsigned char) name [0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower ((unsigned char) name [i]) && !isdigit ((unsigned char) name [i])
        &&  name [i] != '-')
            return false;
    return name [len - 1] != '-';
}

//  "<service>-c<connection>" is the first label of the domain of a
//  service's further connections (registry_connections.c, point 4): a
//  service named so would take, or be refused, another service's domain
static bool
s_name_reserved (const char *name)
{
    const char *dash = strrchr (name, '-');
    return dash && dash [1] == 'c' && dash [2]
        && strspn (dash + 2, "0123456789") == strlen (dash + 2);
}

int
reg_service_register (lg_ctx_t *ctx)
{
    const Lgwan__V1__ServiceRegister *r = ctx->request->service_register;
    if (!s_name_valid (r->name))
        return INVALID (ctx, NULL, "service name \"%.40s\" must be 2-31 of [a-z0-9-], starting with"
                        " a letter (it becomes the first label of its domain)", r->name);
    if (s_name_reserved (r->name))
        return INVALID (ctx, "R12.1", "service name \"%s\" ends like the domain of a service's"
                        " further connection (<service>-c<connection>): choose another", r->name);
    if (reg_check_text (ctx, "title_ja", r->title_ja, NAME_MAX_CHARS, true))
        return -1;
    //  A provider files for a service it hosts
    uint64_t hosting = s_hosting (r->holders, r->n_holders);
    if (ctx->caller->role == LG_ROLE_PROVIDER && hosting && hosting != ctx->caller->provider_id)
        return DENIED (ctx, "a provider registers only a service it hosts");
    int rc = reg_check_holders (ctx, r->holders, r->n_holders);
    if (rc)
        return rc;
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { r->name, r->title_ja, now };
    //  A service's name is the label of the domain names the operating body
    //  gives its connections (R12.1): one service's, among those not
    //  rejected (migration 016: a rejected one never had a domain, and its
    //  provider may apply again under its name)
    char named [160];
    snprintf (named, sizeof named, "a service named %.40s exists (applied, registered or"
              " cancelled): its name labels its domain names", r->name);
    const reg_key_t keys [] = {
        { "services_name_live", LGWAN__V1__CODE__ALREADY_EXISTS, "R12.1", named } };
    PGresult *res;
    if ((rc = reg_query_keys (ctx, &res, "INSERT INTO services (name, title_ja, created_at,"
                                         " updated_at) VALUES ($1, $2, $3::timestamptz,"
                                         " $3::timestamptz) RETURNING id", 3, params,
                              REG_KEYS (keys))))
        return rc;
    uint64_t id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    char text [24];
    ID_TEXT (text, id);
    if ((rc = reg_store_holders (ctx, text, r->holders, r->n_holders))
    ||  (rc = reg_version (ctx, "service", id)))
        return rc;
    return s_reply_service (ctx, id, NULL);
}

//  A provider reads a service it holds a role in; another is told there is
//  no such service, as for one that does not exist (X.3)
static int
s_may_read (lg_ctx_t *ctx, const Lgwan__V1__Service *service)
{
    if (!ctx->caller || ctx->caller->role != LG_ROLE_PROVIDER)
        return 0;
    for (size_t i = 0; i < service->n_holders; i++)
        if (service->holders [i]->provider == ctx->caller->provider_id)
            return 0;
    char text [24];
    ID_TEXT (text, service->id);
    return reg_missing (ctx, "service", text);
}

int
reg_service_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->service_get->service;
    if (id == 0)
        return INVALID (ctx, NULL, "service is mandatory");
    Lgwan__V1__Service *service = NULL;
    int rc = s_reply_service (ctx, id, &service);
    return rc? rc: s_may_read (ctx, service);
}

//  A page of services by status and holder; a provider lists its own
int
reg_service_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__ServiceList *q = ctx->request->service_list;
    uint32_t limit;
    char count [16];
    uint64_t provider = q->provider;
    if (reg_list_scope (ctx, q->limit, q->status, &provider, "services it holds a role in", &limit, count,
                        sizeof count))
        return -1;
    char p [24], after [24];
    ID_TEXT (p, provider);
    ID_TEXT (after, q->after_id);
    const char *params [] = { *q->status? q->status: NULL, p, after, count };
    PGresult *res;
    //  The page in one statement, each with its holders and decision
    int rc = lg_ctx_query (ctx, &res, "SELECT " SERVICE_COLUMNS " FROM services s"
                                      " WHERE ($1::text IS NULL OR s.status = $1)"
                                      " AND ($2::bigint = 0 OR EXISTS (SELECT 1 FROM service_holders h"
                                      "  WHERE h.service_id = s.id AND h.provider_id = $2::bigint))"
                                      " AND s.id > $3::bigint ORDER BY s.id LIMIT $4::integer",
                           4, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__ServiceListReply *list = (Lgwan__V1__ServiceListReply *) malloc (sizeof *list);
    lgwan__v1__service_list_reply__init (list);
    list->services = (Lgwan__V1__Service **) calloc (rows + 1, sizeof (void *));
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_SERVICE_LIST;
    ctx->reply->service_list = list;
    for (int row = 0; row < rows && row < (int) limit; row++)
        list->services [list->n_services++] = reg_service_from_row (res, row);
    if (rows > (int) limit)
        list->next_after_id = list->services [limit - 1]->id;
    PQclear (res);
    return 0;
}

//  Lock a service and check its status
static int
s_lock (lg_ctx_t *ctx, uint64_t id, const char *expected)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT status FROM services WHERE id = $1::bigint FOR UPDATE",
                           1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "service", text);
    }
    char status [32];
    snprintf (status, sizeof status, "%s", lg_db_value (res, 0, "status"));
    PQclear (res);
    if (!streq (status, expected))
        return REFUSE (ctx, "R4.3", "service %s is %s, not %s", text, status, expected);
    return 0;
}

int
reg_service_review (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->service_review->service;
    if (id == 0)
        return INVALID (ctx, NULL, "service is mandatory");
    int rc;
    if ((rc = s_lock (ctx, id, "applied")) || (rc = reg_set_status (ctx, "service", id, "under_review")))
        return rc;
    return s_reply_service (ctx, id, NULL);
}

int
reg_service_decide (lg_ctx_t *ctx)
{
    const Lgwan__V1__ServiceDecide *d = ctx->request->service_decide;
    if (d->service == 0)
        return INVALID (ctx, NULL, "service is mandatory");
    if (reg_check_decision (ctx, d->outcome, d->reason))
        return -1;
    bool approve = d->outcome == LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    int rc = s_lock (ctx, d->service, "under_review");
    if (rc)
        return rc;
    Lgwan__V1__Service *service = NULL;
    if (approve) {
        //  The holders may have lost their qualification since filing
        if ((rc = s_reply_service (ctx, d->service, &service))
        ||  (rc = reg_check_holders (ctx, service->holders, service->n_holders)))
            return rc;
    }
    if ((rc = reg_set_status (ctx, "service", d->service, approve? "registered": "rejected"))
    ||  (rc = reg_decide (ctx, "service", d->service, d->outcome, d->reason)))
        return rc;
    if (ctx->reply->service) {
        lgwan__v1__service_reply__free_unpacked (ctx->reply->service, NULL);
        ctx->reply->service = NULL;
    }
    if ((rc = s_reply_service (ctx, d->service, &service)) || !approve)
        return rc;
    Lgwan__V1__ServiceRegistered registered = LGWAN__V1__SERVICE_REGISTERED__INIT;
    registered.service = service->id;
    registered.name = service->name;
    registered.holders = service->holders;
    registered.n_holders = service->n_holders;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED;
    event.service_registered = &registered;
    return lg_ctx_emit (ctx, &event);
}
