/*  registry_contracts - contracts with using bodies (R7.1, R7.2) and
    interconnections between providers (R8.1, R8.2).

    1. A contract names the provider, the using body by its local government
       code (in the reference list), the services covered (registered, their
       hosting provider qualified, and the provider holds the application &
       content or hosting role in each: R10.1) and the provider's
       responsibility for provision and operation (R7.1).
    2. It is a draft until the delivery of the terms of use and of the user
       manual are both recorded; only then can it be activated (R7.2), with
       the services checked again as they are then (a change of holders may
       have replaced the provider, a hosting provider may be cancelled:
       services, then hosting providers, share-locked in id order, so a
       cancellation being written is waited for and seen), and
       ContractActivated is published.
    3. An interconnection is a registered fact with its justification (R8.1):
       no approval step, and neither the operating body nor a prefecture
       (a local government the reference list names a prefecture: it
       manages its prefectural node) is accepted as a side (R8.2). It
       ends by a cancellation (a notification, by either side or staff), or
       with either side's cancellation (registry_changes.c, point 6); then
       the pair may register one again.
    4. A draft is withdrawn by a cancellation filed while it is one, at once:
       status withdrawn, a version, no CancellationEffective (it never took
       effect), and it is not delivered to nor activated any more.
       A contract ends by its own cancellation or with its provider's, which
       cancels every active contract of the provider when it takes effect
       (registry_changes.c, point 6); a draft is left, and is not activated
       any more (R4.1). The cancellation of every service a contract covers
       does not end it (no rule says so): it stays active.
*/
#include "registry_internal.h"

static int
s_reply_contract (lg_ctx_t *ctx, uint64_t id, Lgwan__V1__Contract **contract_p)
{
    int rc;
    Lgwan__V1__Contract *contract = reg_contract_load (ctx, id, &rc);
    if (!contract)
        return rc;
    Lgwan__V1__ContractReply *reply = (Lgwan__V1__ContractReply *) malloc (sizeof *reply);
    lgwan__v1__contract_reply__init (reply);
    reply->contract = contract;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONTRACT;
    ctx->reply->contract = reply;
    if (contract_p)
        *contract_p = contract;
    return 0;
}

//  A qualified provider; -1 refusal (requirement given) or NOT_FOUND
static int
s_qualified (lg_ctx_t *ctx, uint64_t provider, const char *requirement)
{
    char status [32];
    int rc = reg_provider_lock (ctx, provider, status, sizeof status, NULL);
    if (rc)
        return rc;
    char words [64];
    if (!streq (status, "qualified"))
        return REFUSE (ctx, requirement, "provider %" PRIu64 " %s", provider,
                       reg_not_qualified (ctx, provider, status, words, sizeof words));
    return 0;
}

//  What a contract needs of each service it covers, one row each with the
//  id asked for ($2 the contract's provider): its status (NULL: no such
//  service), whether the provider holds its application & content or hosting
//  role, and its hosting provider's status
#define COVERED_COLUMNS \
    "s.status, EXISTS (SELECT 1 FROM service_holders h WHERE h.service_id = s.id" \
    " AND h.provider_id = $2::bigint AND h.role IN (1, 2)) AS holds," \
    " EXISTS (SELECT 1 FROM service_holders k WHERE k.service_id = s.id" \
    " AND k.provider_id = $2::bigint) AS knows," \
    " hh.provider_id AS hosting, hp.status AS hosting_status"
#define COVERED_JOINS \
    " LEFT JOIN service_holders hh ON hh.service_id = s.id AND hh.role = 2" \
    " LEFT JOIN providers hp ON hp.id = hh.provider_id"

//  Each service covered as it is now (rows of COVERED_COLUMNS): the
//  contract's provider still one of its holders that answer for it (R10.1),
//  checked first, then its hosting provider qualified, registered (R4.1).
//  contract is NULL while the contract is made. 0, or -1 refused
static int
s_check_covered (lg_ctx_t *ctx, const PGresult *res, const char *provider, const char *contract)
{
    for (int row = 0; row < PQntuples (res); row++) {
        const char *service = lg_db_value (res, row, "asked");
        const char *status = lg_db_value (res, row, "status");
        const char *hosting = lg_db_value (res, row, "hosting");
        const char *hosting_status = lg_db_value (res, row, "hosting_status");
        if (!status)
            return reg_missing (ctx, "service", service);
        //  First: a provider learns nothing of the state of a service it
        //  does not provide (X.3), and making a contract, of one it holds
        //  no role in (and so does not read) not even that it exists: it is
        //  told as of one that does not
        if (!streq (lg_db_value (res, row, "holds"), "t")) {
            if (!contract && ctx->caller && ctx->caller->role == LG_ROLE_PROVIDER
            &&  !streq (lg_db_value (res, row, "knows"), "t"))
                return reg_missing (ctx, "service", service);
            return REFUSE (ctx, "R10.1", "provider %s provides service %s neither as application"
                           " & content nor as hosting provider", provider, service);
        }
        //  The hosting provider before the service: a provider's
        //  cancellation cancels the services it hosts, and is their cause.
        //  Its state is told to staff and to itself, not to the other
        //  holder making the contract (X.3)
        char words [64];
        if (!streq (hosting_status? hosting_status: "missing", "qualified"))
            return REFUSE (ctx, "R4.1", "hosting provider %s of service %s %s",
                           hosting? hosting: "-", service,
                           reg_not_qualified (ctx, hosting? strtoull (hosting, NULL, 10): 0,
                                              hosting_status? hosting_status: "missing",
                                              words, sizeof words));
        if (!streq (status, "registered"))
            return contract
                ? REFUSE (ctx, "R4.1", "service %s covered by contract %s is no longer registered",
                          service, contract)
                : REFUSE (ctx, "R4.1", "service %s is not registered", service);
    }
    return 0;
}

int
reg_contract_create (lg_ctx_t *ctx)
{
    const Lgwan__V1__ContractCreate *c = ctx->request->contract_create;
    if (c->provider == 0)
        return INVALID (ctx, "R7.1", "provider is mandatory");
    if (reg_only_owner (ctx, "provider", c->provider, c->provider, 0))
        return -1;
    if (!lg_check_lgcode (c->lgcode))
        return INVALID (ctx, "R7.1", "using body \"%.16s\" is not a local government code with a"
                        " valid check digit", c->lgcode);
    if (reg_check_text (ctx, "responsibility", c->responsibility, TEXT_MAX_CHARS, false))
        return -1;
    if (reg_chars (c->responsibility) == 0)
        return INVALID (ctx, "R7.1", "the contract must state the provider's responsibility for"
                        " service provision and operational management");
    if (c->n_services == 0)
        return INVALID (ctx, "R7.1", "a contract covers at least one service");
    if (reg_check_count (ctx, "services", c->n_services))
        return -1;
    int rc = s_qualified (ctx, c->provider, "R4.1");
    if (rc)
        return rc;
    if ((rc = reg_local_government (ctx, c->lgcode, "R7.1", "using body")))
        return rc;
    PGresult *res;

    char provider [24];
    ID_TEXT (provider, c->provider);
    //  The ids as a PostgreSQL array: the services in one statement
    char *ids = (char *) malloc (c->n_services * 21 + 3);
    size_t at = 0;
    ids [at++] = '{';
    for (size_t i = 0; i < c->n_services; i++) {
        for (size_t j = 0; j < i; j++)
            if (c->services [j] == c->services [i]) {
                free (ids);
                return INVALID (ctx, NULL, "service %" PRIu64 " is listed twice",
                                c->services [i]);
            }
        at += sprintf (ids + at, "%s%" PRIu64, i? ",": "", c->services [i]);
    }
    snprintf (ids + at, 2, "}");
    const char *asked [] = { ids, provider };
    rc = lg_ctx_query (ctx, &res, "SELECT x.id AS asked, " COVERED_COLUMNS
                                  " FROM unnest ($1::bigint[]) WITH ORDINALITY AS x (id, n)"
                                  " LEFT JOIN services s ON s.id = x.id" COVERED_JOINS
                                  " ORDER BY x.n", 2, asked);
    free (ids);
    if (rc)
        return rc;
    rc = s_check_covered (ctx, res, provider, NULL);
    PQclear (res);
    if (rc)
        return rc;
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  The using body's name as the list has it, whole, by the database (up
    //  to 256 characters; a buffer of bytes cut one in a character, and the
    //  INSERT failed on the encoding). A list loaded since the check above
    //  that lacks the code inserts nothing
    const char *params [] = { provider, c->lgcode, c->responsibility, now };
    if ((rc = lg_ctx_query (ctx, &res, "INSERT INTO contracts (provider_id, lgcode, using_body,"
                                       " responsibility, created_at, updated_at) SELECT $1::bigint,"
                                       " lgcode, name, $3, $4::timestamptz, $4::timestamptz"
                                       " FROM local_governments WHERE lgcode = $2 RETURNING id",
                            4, params)))
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return REFUSE (ctx, "R7.1", "using body %s is not in the reference list", c->lgcode);
    }
    uint64_t id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    char text [24];
    ID_TEXT (text, id);
    for (size_t i = 0; i < c->n_services; i++) {
        char service [24];
        ID_TEXT (service, c->services [i]);
        const char *link [] = { text, service };
        if ((rc = reg_queue (ctx, "INSERT INTO contract_services (contract_id, service_id)"
                                 " VALUES ($1::bigint, $2::bigint)", 2, link)))
            return rc;
    }
    if ((rc = reg_version (ctx, "contract", id)))
        return rc;
    return s_reply_contract (ctx, id, NULL);
}

//  Lock a contract: its provider and status
static int
s_lock_contract (lg_ctx_t *ctx, uint64_t id, uint64_t *provider, char *status, size_t size)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT provider_id, status FROM contracts"
                                      " WHERE id = $1::bigint FOR UPDATE", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "contract", text);
    }
    *provider = strtoull (lg_db_value (res, 0, "provider_id"), NULL, 10);
    snprintf (status, size, "%s", lg_db_value (res, 0, "status"));
    PQclear (res);
    return reg_only_owner (ctx, "contract", id, *provider, 0);
}

int
reg_contract_record_delivery (lg_ctx_t *ctx)
{
    const Lgwan__V1__ContractRecordDelivery *d = ctx->request->contract_record_delivery;
    if (d->contract == 0)
        return INVALID (ctx, "R7.2", "contract is mandatory");
    if (d->document == LGWAN__V1__DOCUMENT__DOCUMENT_UNSPECIFIED)
        return INVALID (ctx, "R7.2", "document is mandatory (terms of use or user manual)");
    //  A delivery yet to come is not one: the contract would go active first
    if (reg_check_date_not_future (ctx, "R7.2", "delivered_on", d->delivered_on))
        return -1;
    uint64_t provider;
    char status [32];
    int rc = s_lock_contract (ctx, d->contract, &provider, status, sizeof status);
    if (rc)
        return rc;
    //  On a draft only: an active contract was activated on the deliveries
    //  it records (R7.2), which a delivery recorded again rewrote, to any
    //  day at all
    if (!streq (status, "draft"))
        return REFUSE (ctx, "R7.2", "contract %" PRIu64 " is %s: deliveries are recorded on a"
                       " draft, before it is activated", d->contract, status);
    char text [24], now [40];
    ID_TEXT (text, d->contract);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, d->delivered_on, now };
    const char *sql = d->document == LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE
        ? "UPDATE contracts SET terms_delivered_on = $2::date, version = version + 1,"
          " updated_at = $3::timestamptz WHERE id = $1::bigint"
        : "UPDATE contracts SET manual_delivered_on = $2::date, version = version + 1,"
          " updated_at = $3::timestamptz WHERE id = $1::bigint";
    if ((rc = reg_queue (ctx, sql, 3, params)) || (rc = reg_version (ctx, "contract", d->contract)))
        return rc;
    return s_reply_contract (ctx, d->contract, NULL);
}

int
reg_contract_activate (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->contract_activate->contract;
    if (id == 0)
        return INVALID (ctx, "R7.2", "contract is mandatory");
    uint64_t provider;
    char status [32];
    int rc = s_lock_contract (ctx, id, &provider, status, sizeof status);
    if (rc)
        return rc;
    if (!streq (status, "draft"))
        return REFUSE (ctx, "R7.2", "contract %" PRIu64 " is %s, not a draft", id, status);
    Lgwan__V1__Contract *contract = NULL;
    if ((rc = s_reply_contract (ctx, id, &contract)))
        return rc;
    if (!*contract->terms_delivered_on || !*contract->manual_delivered_on)
        return REFUSE (ctx, "R7.2", "contract %" PRIu64 " is not active until the terms of use"
                       " and the user manual are delivered (terms: %s, manual: %s)", id,
                       *contract->terms_delivered_on? "delivered": "not delivered",
                       *contract->manual_delivered_on? "delivered": "not delivered");
    //  The services covered may have been cancelled since the draft was made,
    //  their holders changed, their hosting provider cancelled: they are
    //  checked as at creation. They are share-locked until COMMIT, in id
    //  order, as a connection approval does, and then their hosting
    //  providers, in id order: a cancellation or a change of holders being
    //  written (its row locked FOR UPDATE) is waited for and then seen, and
    //  none starts before this activation commits. Services before the
    //  providers: a change of a service's holders locks the service, then
    //  its holders (no cycle). The contract's own provider is not among the
    //  shared: it is locked FOR UPDATE next (s_qualified), and a share lock
    //  taken first would be upgraded, so two activations of its contracts
    //  would each wait for the other's share. Share locks of one provider
    //  row cost a multixact only while two activations with the same
    //  hosting provider overlap; activations are few (one per using body
    //  and contract), not the stream of approvals registry_connections.c
    //  keeps off provider rows. The services are read once all are locked,
    //  in a statement of its own, so it sees what the waits let commit
    char text [24], owner [24], now [40];
    ID_TEXT (text, id);
    ID_TEXT (owner, provider);
    PGresult *res;
    const char *own [] = { text, owner };
    if ((rc = reg_queue (ctx, "SELECT 1 FROM contract_services cs"
                              " JOIN services s ON s.id = cs.service_id"
                              " WHERE cs.contract_id = $1::bigint ORDER BY s.id FOR SHARE OF s",
                         1, own))
    ||  (rc = reg_queue (ctx, "SELECT 1 FROM providers WHERE id IN (SELECT hh.provider_id"
                              " FROM contract_services cs JOIN service_holders hh"
                              " ON hh.service_id = cs.service_id AND hh.role = 2"
                              " WHERE cs.contract_id = $1::bigint) AND id <> $2::bigint"
                              " ORDER BY id FOR SHARE", 2, own)))
        return rc;
    if ((rc = lg_ctx_query (ctx, &res, "SELECT s.id AS asked, " COVERED_COLUMNS
                                       " FROM contract_services cs"
                                       " JOIN services s ON s.id = cs.service_id" COVERED_JOINS
                                       " WHERE cs.contract_id = $1::bigint ORDER BY s.id",
                            2, own)))
        return rc;
    rc = s_check_covered (ctx, res, owner, text);
    PQclear (res);
    if (rc)
        return rc;
    //  The contract's provider locked: its cancellation under way is waited
    //  for and seen here, also where it hosts a service covered
    if ((rc = s_qualified (ctx, provider, "R4.1")))
        return rc;
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { text, now };
    if ((rc = reg_queue (ctx, "UPDATE contracts SET status = 'active', version = version + 1,"
                             " updated_at = $2::timestamptz WHERE id = $1::bigint", 2, params))
    ||  (rc = reg_version (ctx, "contract", id)))
        return rc;
    lgwan__v1__contract_reply__free_unpacked (ctx->reply->contract, NULL);
    ctx->reply->contract = NULL;
    if ((rc = s_reply_contract (ctx, id, &contract)))
        return rc;
    Lgwan__V1__ContractActivated activated = LGWAN__V1__CONTRACT_ACTIVATED__INIT;
    activated.contract = id;
    activated.provider = provider;
    activated.lgcode = contract->lgcode;
    activated.services = contract->services;
    activated.n_services = contract->n_services;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_CONTRACT_ACTIVATED;
    event.contract_activated = &activated;
    return lg_ctx_emit (ctx, &event);
}

int
reg_contract_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->contract_get->contract;
    if (id == 0)
        return INVALID (ctx, NULL, "contract is mandatory");
    Lgwan__V1__Contract *contract = NULL;
    int rc = s_reply_contract (ctx, id, &contract);
    return rc? rc: reg_only_owner (ctx, "contract", id, contract->provider, 0);
}

int
reg_contracts_of_provider (lg_ctx_t *ctx)
{
    const Lgwan__V1__ContractsOfProvider *q = ctx->request->contracts_of_provider;
    if (q->provider == 0)
        return INVALID (ctx, NULL, "provider is mandatory");
    if (reg_only_owner (ctx, "provider", q->provider, q->provider, 0))
        return -1;
    char text [24];
    ID_TEXT (text, q->provider);
    const char *params [] = { text, q->active_only? "t": "f" };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT id FROM contracts WHERE provider_id = $1::bigint"
                                      " AND (NOT $2::boolean OR status = 'active') ORDER BY id",
                           2, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__ContractsReply *reply = (Lgwan__V1__ContractsReply *) malloc (sizeof *reply);
    lgwan__v1__contracts_reply__init (reply);
    reply->contracts = (Lgwan__V1__Contract **) calloc (rows? rows: 1, sizeof (void *));
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONTRACTS;
    ctx->reply->contracts = reply;
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__Contract *contract = reg_contract_load (ctx,
            strtoull (lg_db_value (res, row, "id"), NULL, 10), &rc);
        if (!contract) {
            PQclear (res);
            return rc;
        }
        reply->contracts [reply->n_contracts++] = contract;
    }
    PQclear (res);
    return 0;
}

#define INTERCONNECTION_COLUMNS "id, provider_a, provider_b, justification, status," \
    " " TIME_TEXT ("created_at") " AS created_at"

static Lgwan__V1__Interconnection *
s_interconnection_from_row (const PGresult *res, int row)
{
    Lgwan__V1__Interconnection *i = (Lgwan__V1__Interconnection *) malloc (sizeof *i);
    lgwan__v1__interconnection__init (i);
    i->id = lg_db_u64 (res, row, "id");
    i->provider_a = lg_db_u64 (res, row, "provider_a");
    i->provider_b = lg_db_u64 (res, row, "provider_b");
    i->justification = lg_db_strdup (res, row, "justification");
    i->status = lg_db_strdup (res, row, "status");
    i->created_at = lg_db_strdup (res, row, "created_at");
    return i;
}

int
reg_interconnection_register (lg_ctx_t *ctx)
{
    const Lgwan__V1__InterconnectionRegister *r = ctx->request->interconnection_register;
    if (r->provider_a == 0 || r->provider_b == 0)
        return INVALID (ctx, "R8.1", "both providers are mandatory");
    if (r->provider_a == r->provider_b)
        return INVALID (ctx, "R8.1", "an interconnection joins two different providers");
    if (ctx->caller->role == LG_ROLE_PROVIDER && ctx->caller->provider_id != r->provider_a
    &&  ctx->caller->provider_id != r->provider_b)
        return DENIED (ctx, "a provider registers only its own interconnections");
    if (reg_check_text (ctx, "justification", r->justification, TEXT_MAX_CHARS, false))
        return -1;
    if (reg_chars (r->justification) == 0)
        return INVALID (ctx, "R8.1", "an interconnection states how it serves the Art.2 role"
                        " (justification)");
    int rc;
    if ((rc = s_qualified (ctx, r->provider_a, "R8.1")) || (rc = s_qualified (ctx, r->provider_b, "R8.1")))
        return rc;
    //  R8.2: neither the operating body nor a prefecture (which manages its
    //  prefectural node; a local government whose code the reference list
    //  names a prefecture) takes part in interconnections (both sides are
    //  locked above: the flag and the code are as they stay)
    char a [24], b [24], now [40];
    ID_TEXT (a, r->provider_a);
    ID_TEXT (b, r->provider_b);
    const char *sides [] = { a, b };
    PGresult *res;
    if ((rc = lg_ctx_query (ctx, &res, "SELECT p.id, p.operating_body, g.name FROM providers p"
                                       " LEFT JOIN local_governments g ON g.lgcode = p.lgcode"
                                       "  AND g.kind = 'prefecture'"
                                       " WHERE p.id IN ($1::bigint, $2::bigint)"
                                       " AND (p.operating_body OR g.lgcode IS NOT NULL)"
                                       " ORDER BY p.id LIMIT 1", 2, sides)))
        return rc;
    if (PQntuples (res) == 1) {
        if (streq (lg_db_value (res, 0, "operating_body"), "t"))
            rc = REFUSE (ctx, "R8.2", "provider %s is the operating body, which takes no part in"
                         " interconnections between providers", lg_db_value (res, 0, "id"));
        else
            rc = REFUSE (ctx, "R8.2", "provider %s is a prefecture (%s), which manages its"
                         " prefectural node and takes no part in interconnections between"
                         " providers", lg_db_value (res, 0, "id"), lg_db_value (res, 0, "name"));
        PQclear (res);
        return rc;
    }
    PQclear (res);
    //  R8.2: a registered fact at once; nobody approves it
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { a, b, r->justification, now };
    res = lg_db_exec (ctx->db, "SELECT 1 FROM interconnections WHERE status = 'registered'"
                                " AND least (provider_a, provider_b) = least ($1::bigint, $2::bigint)"
                                " AND greatest (provider_a, provider_b) = greatest ($1::bigint, $2::bigint)",
                                2, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        rc = lg_ctx_sql_error (ctx, res);
        PQclear (res);
        return rc;
    }
    bool exists = PQntuples (res) > 0;
    PQclear (res);
    char joined [96];
    snprintf (joined, sizeof joined, "providers %s and %s are already interconnected", a, b);
    if (exists)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__ALREADY_EXISTS, "R8.1", "%s", joined);
    //  One registering the same pair at once: the key says the same
    const reg_key_t keys [] = {
        { "interconnections_one_per_pair", LGWAN__V1__CODE__ALREADY_EXISTS, "R8.1", joined } };
    if ((rc = reg_query_keys (ctx, &res,
            "INSERT INTO interconnections (provider_a, provider_b, justification, created_at,"
            " updated_at) VALUES ($1::bigint, $2::bigint, $3, $4::timestamptz, $4::timestamptz)"
            " RETURNING "
            INTERCONNECTION_COLUMNS, 4, params, REG_KEYS (keys))))
        return rc;
    Lgwan__V1__Interconnection *i = s_interconnection_from_row (res, 0);
    PQclear (res);
    Lgwan__V1__InterconnectionReply *reply = (Lgwan__V1__InterconnectionReply *) malloc (sizeof *reply);
    lgwan__v1__interconnection_reply__init (reply);
    reply->interconnection = i;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_INTERCONNECTION;
    ctx->reply->interconnection = reply;
    if ((rc = reg_version (ctx, "interconnection", i->id)))
        return rc;
    Lgwan__V1__InterconnectionRegistered registered = LGWAN__V1__INTERCONNECTION_REGISTERED__INIT;
    registered.interconnection = i;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_INTERCONNECTION_REGISTERED;
    event.interconnection_registered = &registered;
    return lg_ctx_emit (ctx, &event);
}

//  A page of interconnections; a provider lists its own (either side)
int
reg_interconnection_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__InterconnectionList *q = ctx->request->interconnection_list;
    uint32_t limit;
    char count [16];
    uint64_t provider = q->provider;
    if (reg_list_scope (ctx, q->limit, q->status, &provider, "its own interconnections", &limit, count,
                        sizeof count))
        return -1;
    char p [24], after [24];
    ID_TEXT (p, provider);
    ID_TEXT (after, q->after_id);
    const char *params [] = { p, *q->status? q->status: NULL, after, count };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " INTERCONNECTION_COLUMNS " FROM interconnections"
                                      " WHERE ($1::bigint = 0 OR $1::bigint IN (provider_a, provider_b))"
                                      " AND ($2::text IS NULL OR status = $2)"
                                      " AND id > $3::bigint ORDER BY id LIMIT $4::integer", 4, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__InterconnectionListReply *list =
        (Lgwan__V1__InterconnectionListReply *) malloc (sizeof *list);
    lgwan__v1__interconnection_list_reply__init (list);
    list->interconnections = (Lgwan__V1__Interconnection **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows && row < (int) limit; row++)
        list->interconnections [list->n_interconnections++] = s_interconnection_from_row (res, row);
    if (rows > (int) limit)
        list->next_after_id = list->interconnections [limit - 1]->id;
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_INTERCONNECTION_LIST;
    ctx->reply->interconnection_list = list;
    return 0;
}
