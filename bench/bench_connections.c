/*  bench_connections - approving connections (each one allocating a prefix
    from its stripe of the pool, the exclusion constraint deciding) through
    the service, and looking addresses up at that size; next to raw
    PostgreSQL inserting the prefixes the service allocated, in its order,
    into a table with the same exclusion constraint, and running the same
    lookup query.

    Set-up (not timed): one hosting provider with its contacts, a registered
    service, N connection applications taken under review. Timed: N
    approvals by four reviewer clients (LG_BENCH_CLIENTS), each allocating a
    /30 from 198.18.0.0/15. Then lookups of the first host of random
    allocated prefixes.
    Targets (issue "Registry, connections"): >= 1,000 approvals/s; lookup
    p99 < 2 ms, at 20,000 connections.
*/
#include "bench_env.h"
#include <pthread.h>

#define CLIENTS_MAX 16

typedef struct {
    bench_env_t *env;
    lg_test_proc_t *registry;
    uint64_t first, count;
    long done;
    bool failed;
} s_worker_t;

static lg_reply_t *
s_call (lg_client_t *client, unsigned body_case, void *body)
{
    lg_reply_t *reply = lg_test_call (client, body_case, body, "bench");
    if (!reply || !reply->status || reply->status->code != LGWAN__V1__CODE__OK) {
        fprintf (stderr, "bench_connections: request %u failed: %s\n", body_case,
                 reply && reply->status? reply->status->message: "no reply");
        if (reply)
            lgwan__v1__reply__free_unpacked (reply, NULL);
        reply = NULL;
    }
    return reply;
}

static bool
s_ok (lg_client_t *client, unsigned body_case, void *body)
{
    lg_reply_t *reply = s_call (client, body_case, body);
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    return reply != NULL;
}

static void *
s_approve (void *arg)
{
    s_worker_t *w = (s_worker_t *) arg;
    lg_client_t *reviewer = lg_test_proc_client (w->registry, w->env->certs, "reviewer");
    lg_client_set_timeout (reviewer, 10000, 0);
    for (uint64_t id = w->first; id < w->first + w->count && !w->failed; id++) {
        Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
        decide.connection = id;
        decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
        decide.reason = (char *) "接続要件を満たす";
        if (s_ok (reviewer, LGWAN__V1__REQUEST__BODY_CONNECTION_DECIDE, &decide))
            w->done++;
        else
            w->failed = true;
    }
    lg_client_destroy (&reviewer);
    return NULL;
}

int
main (int argc, char **argv)
{
    bench_env_t env;
    bench_env_start (&env, argc, argv);
    uint64_t n = env.smoke? 300: 20000;
    lg_test_proc_t registry = { .service = "registry" };
    bench_env_service (&env, &registry, NULL);
    lg_client_t *operator = lg_test_proc_client (&registry, env.certs, "operator");
    lg_client_t *reviewer = lg_test_proc_client (&registry, env.certs, "reviewer");
    lg_client_set_timeout (operator, 10000, 0);
    lg_client_set_timeout (reviewer, 10000, 0);

    //  Set-up: a hosting provider with its contacts, a registered service, a pool
    Lgwan__V1__Contact emergency = LGWAN__V1__CONTACT__INIT, manager = LGWAN__V1__CONTACT__INIT;
    emergency.kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
    emergency.name = (char *) "緊急連絡窓口";
    manager.kind = LGWAN__V1__CONTACT_KIND__CONTACT_OPERATIONS_MANAGER;
    manager.name = (char *) "運用管理責任者";
    Lgwan__V1__Contact *contacts [] = { &emergency, &manager };
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "ベンチホスティング株式会社";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    apply.corporate_number = (char *) "7123456789012";
    apply.contacts = contacts;
    apply.n_contacts = 2;
    Lgwan__V1__QualificationReview qreview = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    qreview.provider = 1;
    Lgwan__V1__QualificationDecide qdecide = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
    qdecide.provider = 1;
    qdecide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    qdecide.reason = (char *) "適格";
    Lgwan__V1__RoleHolder content = LGWAN__V1__ROLE_HOLDER__INIT, hosting = LGWAN__V1__ROLE_HOLDER__INIT;
    content.provider = hosting.provider = 1;
    content.role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    hosting.role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    Lgwan__V1__RoleHolder *holders [] = { &content, &hosting };
    Lgwan__V1__ServiceRegister reg = LGWAN__V1__SERVICE_REGISTER__INIT;
    reg.name = (char *) "bench";
    reg.title_ja = (char *) "ベンチ";
    reg.holders = holders;
    reg.n_holders = 2;
    Lgwan__V1__ServiceReview sreview = LGWAN__V1__SERVICE_REVIEW__INIT;
    sreview.service = 1;
    Lgwan__V1__ServiceDecide sdecide = LGWAN__V1__SERVICE_DECIDE__INIT;
    sdecide.service = 1;
    sdecide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    sdecide.reason = (char *) "登録";
    Lgwan__V1__PoolAdd pool = LGWAN__V1__POOL_ADD__INIT;
    pool.name = (char *) "asp-v4";
    pool.prefix = (char *) "198.18.0.0/15";
    if (!s_ok (operator, LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY, &apply)
    ||  !s_ok (reviewer, LGWAN__V1__REQUEST__BODY_QUALIFICATION_REVIEW, &qreview)
    ||  !s_ok (reviewer, LGWAN__V1__REQUEST__BODY_QUALIFICATION_DECIDE, &qdecide)
    ||  !s_ok (operator, LGWAN__V1__REQUEST__BODY_SERVICE_REGISTER, &reg)
    ||  !s_ok (reviewer, LGWAN__V1__REQUEST__BODY_SERVICE_REVIEW, &sreview)
    ||  !s_ok (reviewer, LGWAN__V1__REQUEST__BODY_SERVICE_DECIDE, &sdecide)
    ||  !s_ok (operator, LGWAN__V1__REQUEST__BODY_POOL_ADD, &pool))
        return 1;
    for (uint64_t i = 1; i <= n; i++) {
        Lgwan__V1__ConnectionApply capply = LGWAN__V1__CONNECTION_APPLY__INIT;
        capply.service = 1;
        capply.router = (char *) "rt-bench";
        capply.line_carrier = (char *) "bench";
        capply.bandwidth_class = (char *) "100M";
        capply.ipv4_prefix_length = 30;
        Lgwan__V1__ConnectionReview creview = LGWAN__V1__CONNECTION_REVIEW__INIT;
        creview.connection = i;
        if (!s_ok (operator, LGWAN__V1__REQUEST__BODY_CONNECTION_APPLY, &capply)
        ||  !s_ok (reviewer, LGWAN__V1__REQUEST__BODY_CONNECTION_REVIEW, &creview))
            return 1;
    }

    //  1. Approvals through the service, each one allocating
    const char *wanted = getenv ("LG_BENCH_CLIENTS");
    int clients = wanted? atoi (wanted): 4;
    if (clients < 1 || clients > CLIENTS_MAX)
        clients = 4;
    pthread_t threads [CLIENTS_MAX];
    s_worker_t workers [CLIENTS_MAX];
    double cpu_start = bench_machine_cpu ();
    int64_t start = zclock_usecs ();
    for (int t = 0; t < clients; t++) {
        uint64_t share = n / (uint64_t) clients;
        workers [t] = (s_worker_t) { &env, &registry, 1 + (uint64_t) t * share,
                                     t == clients - 1? n - (uint64_t) t * share: share, 0, false };
        pthread_create (&threads [t], NULL, s_approve, &workers [t]);
    }
    long approved = 0;
    bool failed = false;
    for (int t = 0; t < clients; t++) {
        pthread_join (threads [t], NULL);
        approved += workers [t].done;
        failed |= workers [t].failed;
    }
    double approve_s = (double) (zclock_usecs () - start) / 1e6;
    double approve_cpu = bench_machine_cpu () - cpu_start;
    if (failed)
        return 1;
    //  Overlaps, counted without the index that prevents them: in address
    //  order a prefix overlaps an earlier one exactly when it starts at or
    //  before the furthest end of those (a pairwise join took 68 s at 20,000)
    long overlaps = bench_query_long (&env, "SELECT count(*) FROM (SELECT prefix,"
        " max (inet (host (broadcast (prefix)))) OVER (PARTITION BY family (prefix)"
        "  ORDER BY prefix ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach"
        " FROM registry.allocations) s WHERE reach >= inet (host (prefix))");

    //  2. Raw: the same prefixes into a table with the same exclusion constraint
    char *raw_dsn = lg_test_db_service_dsn (env.admin_dsn, "registry");
    PGconn *conn = PQconnectdb (raw_dsn);
    PGresult *res = PQexec (conn, "CREATE TABLE registry.raw_allocations (id bigserial,"
                            " prefix cidr NOT NULL, status text NOT NULL DEFAULT 'active',"
                            " EXCLUDE USING gist (prefix inet_ops WITH &&) WHERE (status <> 'released'))");
    PQclear (res);
    res = PQprepare (conn, "ins", "INSERT INTO registry.raw_allocations (prefix) VALUES ($1::cidr)",
                     1, NULL);
    PQclear (res);
    //  The blocks the service allocated, in the order it allocated them
    PGresult *blocks = PQexec (conn, "SELECT prefix::text FROM registry.allocations"
                                     " WHERE status = 'active' ORDER BY id");
    if (PQresultStatus (blocks) != PGRES_TUPLES_OK || PQntuples (blocks) != (int) n) {
        fprintf (stderr, "bench_connections: expected %" PRIu64 " allocations\n", n);
        return 1;
    }
    start = zclock_usecs ();
    for (uint64_t i = 0; i < n; i++) {
        const char *params [] = { PQgetvalue (blocks, (int) i, 0) };
        res = PQexecPrepared (conn, "ins", 1, params, NULL, NULL, 0);
        PQclear (res);
    }
    double raw_s = (double) (zclock_usecs () - start) / 1e6;

    //  3. Lookups of addresses inside allocated prefixes: service and raw
    size_t lookups = env.smoke? 300: 5000;
    double *lat = (double *) calloc (lookups, sizeof (double));
    double *raw_lat = (double *) calloc (lookups, sizeof (double));
    res = PQprepare (conn, "look", "SELECT c.id FROM (SELECT a.connection_id, a.prefix, a.status"
                     " FROM registry.allocations a WHERE a.status <> 'released' AND a.prefix <= $1::inet"
                     " ORDER BY a.prefix DESC LIMIT 1) a JOIN registry.connections c"
                     " ON c.id = a.connection_id WHERE a.status = 'active' AND a.prefix >>= $1::inet",
                     1, NULL);
    PQclear (res);
    srand (42);
    for (size_t i = 0; i < lookups; i++) {
        //  The first host of a random allocated /30
        unsigned a, b, c, d;
        if (sscanf (PQgetvalue (blocks, rand () % (int) n, 0), "%u.%u.%u.%u/", &a, &b, &c, &d) != 4)
            return 1;
        char text [24];
        snprintf (text, sizeof text, "%u.%u.%u.%u", a, b, c, d + 1);
        Lgwan__V1__ConnectionLookup look = LGWAN__V1__CONNECTION_LOOKUP__INIT;
        look.address = text;
        int64_t t0 = zclock_usecs ();
        if (!s_ok (reviewer, LGWAN__V1__REQUEST__BODY_CONNECTION_LOOKUP, &look))
            return 1;
        lat [i] = (double) (zclock_usecs () - t0) / 1000.0;
        const char *params [] = { text };
        t0 = zclock_usecs ();
        res = PQexecPrepared (conn, "look", 1, params, NULL, NULL, 0);
        raw_lat [i] = (double) (zclock_usecs () - t0) / 1000.0;
        PQclear (res);
    }
    PQclear (blocks);
    PQfinish (conn);
    zstr_free (&raw_dsn);
    lg_client_destroy (&operator);
    lg_client_destroy (&reviewer);

    double rate = (double) approved / approve_s;
    double p99 = bench_percentile (lat, lookups, 99);
    printf ("bench_connections: %" PRIu64 " connections%s\n", n, env.smoke? " (smoke)": "");
    printf ("  approvals through the service (%d clients)      %8.0f approvals/s (%ld, overlaps %ld)\n",
            clients, rate, approved, overlaps);
    printf ("    machine CPU per approval (all processes, %ld cores)  %6.2f ms\n",
            sysconf (_SC_NPROCESSORS_ONLN), approved? approve_cpu * 1e3 / (double) approved: 0);
    printf ("  raw INSERT under the same exclusion constraint   %8.0f rows/s\n", (double) n / raw_s);
    printf ("  ConnectionLookup of an address                   p50 %5.2f ms   p99 %5.2f ms\n",
            bench_percentile (lat, lookups, 50), p99);
    printf ("  raw SQL of the same lookup                       p50 %5.2f ms   p99 %5.2f ms\n",
            bench_percentile (raw_lat, lookups, 50), bench_percentile (raw_lat, lookups, 99));
    printf ("  targets: >= 1,000 approvals/s: %s; lookup p99 < 2 ms: %s\n",
            rate >= 1000? "met": "NOT MET", p99 < 2? "met": "NOT MET");
    free (lat);
    free (raw_lat);
    lg_test_proc_teardown (&registry);
    bench_env_stop (&env);
    return overlaps == 0 && approved == (long) n? 0: 1;
}
