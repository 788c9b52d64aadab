/*  bench_registry - seeding the registry through the service, and reading a
    filtered, paginated list at that size, each next to raw PostgreSQL doing
    the same in the same run.

    Seeding: N providers (type 6, two contacts, a data centre), each applied,
    taken under review and qualified; every fifth also registers a service
    (review, decision) and a contract with a real local government (create,
    both deliveries, activate). Four clients share the work, as a seeding
    tool would. Raw: the same provider rows inserted by one libpq connection,
    one prepared INSERT (autocommit) each.
    Listing: ProviderList (entity type, status, name prefix) walked page by
    page, 50 a page; raw: the same SQL text through libpq.
    Targets (issue "Registry, filings"): seeding >= 2,000 requests/s; list
    page p99 < 20 ms.
*/
#include "bench_env.h"
#include <pthread.h>

#define CLIENTS_MAX 16

typedef struct {
    bench_env_t *env;
    lg_test_proc_t *registry;
    int first, count;           //  providers [first, first + count)
    long requests;
    bool failed;
} s_worker_t;

//  A valid corporate number for i: 12 digits, check digit in front
static void
s_corporate_number (int i, char *out)
{
    char body [16];
    snprintf (body, sizeof body, "%012d", (100000000 + i) % 1000000000);
    int sum = 0;
    for (int n = 1; n <= 12; n++)
        sum += (body [12 - n] - '0') * (n % 2? 1: 2);
    out [0] = (char) ('0' + 9 - sum % 9);
    memcpy (out + 1, body, 13);
}

static bool
s_call (lg_client_t *client, lg_request_t *request, lg_reply_t **reply_p, long *count)
{
    request->request_id = NULL;
    lg_reply_t *reply = NULL;
    bool ok = lg_client_call (client, request, &reply) == 0
           && reply->status->code == LGWAN__V1__CODE__OK;
    if (!ok)
        fprintf (stderr, "bench_registry: request failed: %s\n",
                 reply && reply->status? reply->status->message: "no reply");
    free (request->request_id);
    request->request_id = NULL;
    (*count)++;
    if (reply_p && ok)
        *reply_p = reply;
    else
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    return ok;
}

static void *
s_seed (void *arg)
{
    s_worker_t *w = (s_worker_t *) arg;
    lg_client_t *operator = lg_test_proc_client (w->registry, w->env->certs, "operator");
    lg_client_t *reviewer = lg_test_proc_client (w->registry, w->env->certs, "reviewer");
    lg_client_set_timeout (operator, 10000, 0);
    lg_client_set_timeout (reviewer, 10000, 0);
    for (int i = w->first; i < w->first + w->count && !w->failed; i++) {
        char name [64], corporate [16];
        snprintf (name, sizeof name, "ベンチ株式会社%05d", i);
        s_corporate_number (i, corporate);
        Lgwan__V1__Contact emergency = LGWAN__V1__CONTACT__INIT, manager = LGWAN__V1__CONTACT__INIT;
        emergency.kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
        emergency.name = (char *) "緊急連絡窓口";
        emergency.phone = (char *) "03-0000-0000";
        manager.kind = LGWAN__V1__CONTACT_KIND__CONTACT_OPERATIONS_MANAGER;
        manager.name = (char *) "運用管理責任者";
        Lgwan__V1__Contact *contacts [] = { &emergency, &manager };
        Lgwan__V1__DataCentre dc = LGWAN__V1__DATA_CENTRE__INIT;
        dc.name = (char *) "東京第一";
        dc.country = (char *) "JP";
        dc.prefecture = (char *) "13";
        Lgwan__V1__DataCentre *centres [] = { &dc };
        Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
        apply.name_ja = name;
        apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
        apply.corporate_number = corporate;
        apply.contacts = contacts;
        apply.n_contacts = 2;
        apply.data_centres = centres;
        apply.n_data_centres = 1;
        lg_request_t request = LGWAN__V1__REQUEST__INIT;
        request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
        request.provider_apply = &apply;
        lg_reply_t *reply = NULL;
        if (!s_call (operator, &request, &reply, &w->requests)) {
            w->failed = true;
            break;
        }
        uint64_t id = reply->provider->provider->id;
        lgwan__v1__reply__free_unpacked (reply, NULL);

        Lgwan__V1__QualificationReview review = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
        review.provider = id;
        lg_request_t r2 = LGWAN__V1__REQUEST__INIT;
        r2.body_case = LGWAN__V1__REQUEST__BODY_QUALIFICATION_REVIEW;
        r2.qualification_review = &review;
        Lgwan__V1__QualificationDecide decide = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
        decide.provider = id;
        decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
        decide.reason = (char *) "審査基準を満たす";
        lg_request_t r3 = LGWAN__V1__REQUEST__INIT;
        r3.body_case = LGWAN__V1__REQUEST__BODY_QUALIFICATION_DECIDE;
        r3.qualification_decide = &decide;
        if (!s_call (reviewer, &r2, NULL, &w->requests) || !s_call (reviewer, &r3, NULL, &w->requests)) {
            w->failed = true;
            break;
        }
        if (i % 5)
            continue;
        //  A service it both provides and hosts, then a contract for it
        char service_name [32];
        snprintf (service_name, sizeof service_name, "bench-%05d", i);
        Lgwan__V1__RoleHolder content = LGWAN__V1__ROLE_HOLDER__INIT, hosting = LGWAN__V1__ROLE_HOLDER__INIT;
        content.provider = hosting.provider = id;
        content.role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
        hosting.role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
        Lgwan__V1__RoleHolder *holders [] = { &content, &hosting };
        Lgwan__V1__ServiceRegister reg = LGWAN__V1__SERVICE_REGISTER__INIT;
        reg.name = service_name;
        reg.title_ja = (char *) "ベンチマークサービス";
        reg.holders = holders;
        reg.n_holders = 2;
        lg_request_t r4 = LGWAN__V1__REQUEST__INIT;
        r4.body_case = LGWAN__V1__REQUEST__BODY_SERVICE_REGISTER;
        r4.service_register = &reg;
        if (!s_call (operator, &r4, &reply, &w->requests)) {
            w->failed = true;
            break;
        }
        uint64_t service = reply->service->service->id;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        Lgwan__V1__ServiceReview sreview = LGWAN__V1__SERVICE_REVIEW__INIT;
        sreview.service = service;
        lg_request_t r5 = LGWAN__V1__REQUEST__INIT;
        r5.body_case = LGWAN__V1__REQUEST__BODY_SERVICE_REVIEW;
        r5.service_review = &sreview;
        Lgwan__V1__ServiceDecide sdecide = LGWAN__V1__SERVICE_DECIDE__INIT;
        sdecide.service = service;
        sdecide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
        sdecide.reason = (char *) "登録要件を満たす";
        lg_request_t r6 = LGWAN__V1__REQUEST__INIT;
        r6.body_case = LGWAN__V1__REQUEST__BODY_SERVICE_DECIDE;
        r6.service_decide = &sdecide;
        uint64_t services [] = { service };
        Lgwan__V1__ContractCreate create = LGWAN__V1__CONTRACT_CREATE__INIT;
        create.provider = id;
        create.lgcode = (char *) "131016";
        create.services = services;
        create.n_services = 1;
        create.responsibility = (char *) "提供者がサービス提供及び運用管理の責任を負う";
        lg_request_t r7 = LGWAN__V1__REQUEST__INIT;
        r7.body_case = LGWAN__V1__REQUEST__BODY_CONTRACT_CREATE;
        r7.contract_create = &create;
        if (!s_call (reviewer, &r5, NULL, &w->requests) || !s_call (reviewer, &r6, NULL, &w->requests)
        ||  !s_call (operator, &r7, &reply, &w->requests)) {
            w->failed = true;
            break;
        }
        uint64_t contract = reply->contract->contract->id;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        Lgwan__V1__ContractRecordDelivery terms = LGWAN__V1__CONTRACT_RECORD_DELIVERY__INIT;
        terms.contract = contract;
        terms.document = LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE;
        terms.delivered_on = (char *) "2026-11-01";
        Lgwan__V1__ContractRecordDelivery manual = terms;
        manual.document = LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL;
        Lgwan__V1__ContractActivate activate = LGWAN__V1__CONTRACT_ACTIVATE__INIT;
        activate.contract = contract;
        lg_request_t r8 = LGWAN__V1__REQUEST__INIT, r9 = LGWAN__V1__REQUEST__INIT,
                     r10 = LGWAN__V1__REQUEST__INIT;
        r8.body_case = r9.body_case = LGWAN__V1__REQUEST__BODY_CONTRACT_RECORD_DELIVERY;
        r8.contract_record_delivery = &terms;
        r9.contract_record_delivery = &manual;
        r10.body_case = LGWAN__V1__REQUEST__BODY_CONTRACT_ACTIVATE;
        r10.contract_activate = &activate;
        if (!s_call (operator, &r8, NULL, &w->requests) || !s_call (operator, &r9, NULL, &w->requests)
        ||  !s_call (operator, &r10, NULL, &w->requests)) {
            w->failed = true;
            break;
        }
    }
    lg_client_destroy (&operator);
    lg_client_destroy (&reviewer);
    return NULL;
}

//  The SQL of ProviderList as the service runs it, for the raw baseline
static const char *s_list_sql =
    "SELECT id, name_ja, name_en, entity_type, status, version FROM registry.providers"
    " WHERE ($1::smallint = 0 OR entity_type = $1::smallint)"
    " AND ($2::text IS NULL OR status = $2)"
    " AND ($3::text IS NULL OR name_ja LIKE $3 OR name_en LIKE $3)"
    " AND id > $4::bigint ORDER BY id LIMIT $5::integer";

int
main (int argc, char **argv)
{
    bench_env_t env;
    bench_env_start (&env, argc, argv);
    int providers = env.smoke? 200: 10000;
    //  LG_BENCH_REPLICAS registry processes on the one database; the clients
    //  deal their requests among them (requests are transactions: safe side by side)
    const char *replica_text = getenv ("LG_BENCH_REPLICAS");
    int replicas = replica_text? atoi (replica_text): 1;
    if (replicas < 1 || replicas > 4)
        replicas = 1;
    lg_test_proc_t procs [4] = { { .service = "registry" }, { .service = "registry" },
                                 { .service = "registry" }, { .service = "registry" } };
    for (int r = 0; r < replicas; r++)
        bench_env_service (&env, &procs [r], NULL);
    lg_test_proc_t registry = procs [0];
    for (int r = 1; r < replicas; r++) {
        size_t len = strlen (registry.endpoint);
        snprintf (registry.endpoint + len, sizeof registry.endpoint - len, ",%s", procs [r].endpoint);
    }

    //  The reference list first, as an operator would load it
    char path [512];
    snprintf (path, sizeof path, "%s/deploy/data/local-governments.csv",
              getenv ("LG_SOURCE_DIR")? getenv ("LG_SOURCE_DIR"): LG_SOURCE_DIR_DEFAULT);
    char why [256];
    Lgwan__V1__ReferenceLoad *list = lg_reference_read (path, why, sizeof why);
    lg_client_t *client = lg_test_proc_client (&registry, env.certs, "operator");
    lg_client_set_timeout (client, 30000, 0);
    lg_request_t load = LGWAN__V1__REQUEST__INIT;
    load.body_case = LGWAN__V1__REQUEST__BODY_REFERENCE_LOAD;
    load.reference_load = list;
    long ignored = 0;
    if (!list || !s_call (client, &load, NULL, &ignored))
        return 1;
    lgwan__v1__reference_load__free_unpacked (list, NULL);

    //  1. Seeding through the service
    const char *wanted = getenv ("LG_BENCH_CLIENTS");
    int clients = wanted? atoi (wanted): 4;
    if (clients < 1 || clients > CLIENTS_MAX)
        clients = 4;
    pthread_t threads [CLIENTS_MAX];
    s_worker_t workers [CLIENTS_MAX];
    int64_t start = zclock_usecs ();
    for (int t = 0; t < clients; t++) {
        workers [t] = (s_worker_t) { &env, &registry, t * providers / clients, providers / clients, 0, false };
        pthread_create (&threads [t], NULL, s_seed, &workers [t]);
    }
    long requests = 0;
    bool failed = false;
    for (int t = 0; t < clients; t++) {
        pthread_join (threads [t], NULL);
        requests += workers [t].requests;
        failed |= workers [t].failed;
    }
    double seed_s = (double) (zclock_usecs () - start) / 1e6;
    if (failed)
        return 1;

    //  2. Raw: the same provider rows, one prepared INSERT each, autocommit
    char *raw_dsn = lg_test_db_service_dsn (env.admin_dsn, "registry");
    PGconn *conn = PQconnectdb (raw_dsn);
    PGresult *res = PQexec (conn, "CREATE TABLE raw_providers (LIKE registry.providers INCLUDING ALL)");
    PQclear (res);
    res = PQprepare (conn, "ins", "INSERT INTO raw_providers (name_ja, name_en, entity_type,"
                     " corporate_number, created_at, updated_at) VALUES ($1, '', 6, $2, now(), now())",
                     2, NULL);
    PQclear (res);
    start = zclock_usecs ();
    for (int i = 0; i < providers; i++) {
        char name [64], corporate [16];
        snprintf (name, sizeof name, "ベンチ株式会社%05d", i);
        s_corporate_number (i, corporate);
        const char *params [] = { name, corporate };
        res = PQexecPrepared (conn, "ins", 2, params, NULL, NULL, 0);
        PQclear (res);
    }
    double raw_s = (double) (zclock_usecs () - start) / 1e6;

    //  3. The list, page by page: through the service and raw
    size_t pages = 0, cap = (size_t) providers / 50 + 2;
    double *lat = (double *) calloc (cap, sizeof (double));
    double *raw_lat = (double *) calloc (cap, sizeof (double));
    Lgwan__V1__ProviderList query = LGWAN__V1__PROVIDER_LIST__INIT;
    query.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    query.status = (char *) "qualified";
    query.name_prefix = (char *) "ベンチ";
    query.limit = 50;
    lg_request_t ask = LGWAN__V1__REQUEST__INIT;
    ask.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_LIST;
    ask.provider_list = &query;
    res = PQprepare (conn, "list", s_list_sql, 5, NULL);
    PQclear (res);
    size_t listed = 0;
    do {
        int64_t t0 = zclock_usecs ();
        lg_reply_t *reply = NULL;
        if (!s_call (client, &ask, &reply, &ignored))
            return 1;
        lat [pages] = (double) (zclock_usecs () - t0) / 1000.0;
        listed += reply->provider_list->n_providers;
        char after [24];
        snprintf (after, sizeof after, "%" PRIu64, query.after_id);
        const char *params [] = { "6", "qualified", "ベンチ%", after, "51" };
        t0 = zclock_usecs ();
        res = PQexecPrepared (conn, "list", 5, params, NULL, NULL, 0);
        raw_lat [pages] = (double) (zclock_usecs () - t0) / 1000.0;
        PQclear (res);
        query.after_id = reply->provider_list->next_after_id;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        pages++;
    } while (query.after_id && pages < cap);
    PQfinish (conn);
    zstr_free (&raw_dsn);

    //  Where the service spent its time, by request (Stats)
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    lg_request_t sreq = LGWAN__V1__REQUEST__INIT;
    sreq.body_case = LGWAN__V1__REQUEST__BODY_STATS;
    sreq.stats = &stats;
    lg_reply_t *sreply = NULL;
    if (s_call (client, &sreq, &sreply, &ignored)) {
        printf ("  service time by request (mean):");
        for (size_t i = 0; i < sreply->stats->n_by_request; i++) {
            Lgwan__V1__StatsCounter *c = sreply->stats->by_request [i];
            printf ("%s %s %.0f us", i? ",": "", c->name,
                    c->count? (double) c->total_micros / (double) c->count: 0.0);
        }
        printf ("\n");
        lgwan__v1__reply__free_unpacked (sreply, NULL);
    }
    lg_client_destroy (&client);

    double rate = (double) requests / seed_s;
    double p99 = bench_percentile (lat, pages, 99);
    printf ("bench_registry: %d providers, %d services and contracts%s\n", providers,
            providers / 5, env.smoke? " (smoke)": "");
    printf ("  seeding through the service (%d clients, %d replica%s) %8.0f requests/s"
            " (%ld requests in %.1f s)\n", clients, replicas, replicas > 1? "s": "", rate,
            requests, seed_s);
    printf ("  raw INSERT of the same provider rows       %8.0f rows/s\n", providers / raw_s);
    printf ("  ProviderList page (50), %zu pages, %zu rows   p50 %6.2f ms   p99 %6.2f ms\n",
            pages, listed, bench_percentile (lat, pages, 50), p99);
    printf ("  raw SQL of the same page                   p50 %6.2f ms   p99 %6.2f ms\n",
            bench_percentile (raw_lat, pages, 50), bench_percentile (raw_lat, pages, 99));
    printf ("  targets: seeding >= 2,000 requests/s: %s; list p99 < 20 ms: %s\n",
            rate >= 2000? "met": "NOT MET", p99 < 20? "met": "NOT MET");
    free (lat);
    free (raw_lat);
    for (int r = 0; r < replicas; r++)
        lg_test_proc_teardown (&procs [r]);
    bench_env_stop (&env);
    return listed == (size_t) providers? 0: 1;
}
