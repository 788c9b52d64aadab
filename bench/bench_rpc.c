/*  bench_rpc - ProviderGet round trip through the client library, next to
    its floor measured in the same run: a raw libzmq REQ/REP exchange of the
    same bytes with CURVE, plus one PostgreSQL point query of the same row.

    Target (issue "Core"): p50 of ProviderGet within 1.5x of the two raw p50s
    added together.
*/
#include "bench_env.h"
#include "registry.h"

//  The raw floor's server: a separate process (as a service is), plain
//  libzmq, a REP socket with CURVE answering every request with the bytes a
//  real ProviderGet answered. argv: --echo endpoint public secret replyfile
static int
s_echo_main (char **argv)
{
    FILE *file = fopen (argv [5], "rb");
    if (!file)
        return 1;
    static uint8_t reply [65536];
    size_t size = fread (reply, 1, sizeof reply, file);
    fclose (file);
    void *ctx = zmq_ctx_new ();
    void *rep = zmq_socket (ctx, ZMQ_REP);
    int one = 1;
    zmq_setsockopt (rep, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt (rep, ZMQ_CURVE_PUBLICKEY, argv [3], 40);
    zmq_setsockopt (rep, ZMQ_CURVE_SECRETKEY, argv [4], 40);
    if (zmq_bind (rep, argv [2]))
        return 1;
    static uint8_t buffer [65536];
    while (zmq_recv (rep, buffer, sizeof buffer, 0) >= 0)
        zmq_send (rep, reply, size, 0);
    return 0;
}

static void
s_report (const char *name, double *samples, size_t n)
{
    printf ("  %-44s p50 %8.1f us   p99 %8.1f us\n", name, bench_percentile (samples, n, 50),
            bench_percentile (samples, n, 99));
}

int
main (int argc, char **argv)
{
    if (argc == 6 && streq (argv [1], "--echo"))
        return s_echo_main (argv);
    bench_env_t env;
    bench_env_start (&env, argc, argv);
    size_t n = env.smoke? 300: 10000;
    lg_test_proc_t registry = { .service = "registry" };
    bench_env_service (&env, &registry, NULL);

    //  One provider to read
    lg_client_t *client = lg_test_proc_client (&registry, env.certs, "operator");
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "ベンチマーク株式会社";
    apply.name_en = (char *) "Benchmark KK";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    apply.corporate_number = (char *) "7123456789012";
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;
    lg_reply_t *reply = NULL;
    if (lg_client_call (client, &request, &reply) || reply->status->code != 0) {
        fprintf (stderr, "bench_rpc: could not seed a provider\n");
        return 1;
    }
    uint64_t id = reply->provider->provider->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    free (request.request_id);

    //  The three paths, set up side by side and measured interleaved (one
    //  of each per round), so all see the same machine at the same moment
    Lgwan__V1__ProviderGet get = LGWAN__V1__PROVIDER_GET__INIT;
    get.provider = id;
    lg_request_t read = LGWAN__V1__REQUEST__INIT;
    read.request_id = (char *) "bench-get";
    read.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_GET;
    read.provider_get = &get;
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    lg_request_t ask = LGWAN__V1__REQUEST__INIT;
    ask.request_id = (char *) "bench-stats";
    ask.body_case = LGWAN__V1__REQUEST__BODY_STATS;
    ask.stats = &stats;
    if (lg_client_call (client, &read, &reply) || reply->status->code != 0) {
        fprintf (stderr, "bench_rpc: ProviderGet failed\n");
        return 1;
    }
    zframe_t *sample_reply = lg_codec_frame (&reply->base);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Raw libzmq REQ/REP with CURVE, the same bytes both ways, its server a
    //  process of its own (as a service is)
    zcert_t *server_cert = zcert_new ();
    char endpoint [64], reply_file [128];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    snprintf (reply_file, sizeof reply_file, "%s/reply.bin", env.dir);
    FILE *file = fopen (reply_file, "wb");
    fwrite (zframe_data (sample_reply), 1, zframe_size (sample_reply), file);
    fclose (file);
    const char *echo_argv [] = { "bench_rpc", "--echo", endpoint, zcert_public_txt (server_cert),
                                 zcert_secret_txt (server_cert), reply_file, NULL };
    char self [4096];
    ssize_t len = readlink ("/proc/self/exe", self, sizeof self - 1);
    self [len > 0? len: 0] = 0;
    pid_t echo = lg_test_spawn_argv (self, echo_argv, NULL);
    void *ctx = zmq_ctx_new ();
    void *req = zmq_socket (ctx, ZMQ_REQ);
    zcert_t *mine = zcert_new ();
    zmq_setsockopt (req, ZMQ_CURVE_SERVERKEY, zcert_public_txt (server_cert), 40);
    zmq_setsockopt (req, ZMQ_CURVE_PUBLICKEY, zcert_public_txt (mine), 40);
    zmq_setsockopt (req, ZMQ_CURVE_SECRETKEY, zcert_secret_txt (mine), 40);
    zmq_connect (req, endpoint);
    zframe_t *request_bytes = lg_codec_frame (&read.base);
    static uint8_t buffer [65536];

    //  Raw PostgreSQL: the very query the service runs, prepared, as its role
    char *dsn = lg_test_db_service_dsn (env.admin_dsn, "registry");
    PGconn *conn = PQconnectdb (dsn);
    PGresult *res = PQexec (conn, "SET search_path TO registry");
    PQclear (res);
    res = PQprepare (conn, "get", registry_provider_get_sql, 1, NULL);
    PQclear (res);
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%" PRIu64, id);
    const char *params [] = { id_text };

    double *lg = (double *) calloc (n, sizeof (double));
    double *nodb = (double *) calloc (n, sizeof (double));
    double *raw = (double *) calloc (n, sizeof (double));
    double *pg = (double *) calloc (n, sizeof (double));
    for (size_t i = 0; i < n + 200; i++) {
        size_t k = i < 200? 0: i - 200;         //  the first 200 rounds warm up
        int64_t start = zclock_usecs ();
        if (lg_client_call (client, &read, &reply) || reply->status->code != 0) {
            fprintf (stderr, "bench_rpc: ProviderGet failed\n");
            return 1;
        }
        lg [k] = (double) (zclock_usecs () - start);
        lgwan__v1__reply__free_unpacked (reply, NULL);

        start = zclock_usecs ();
        if (lg_client_call (client, &ask, &reply))
            return 1;
        nodb [k] = (double) (zclock_usecs () - start);
        lgwan__v1__reply__free_unpacked (reply, NULL);

        start = zclock_usecs ();
        zmq_send (req, zframe_data (request_bytes), zframe_size (request_bytes), 0);
        if (zmq_recv (req, buffer, sizeof buffer, 0) < 0) {
            fprintf (stderr, "bench_rpc: raw exchange failed\n");
            return 1;
        }
        raw [k] = (double) (zclock_usecs () - start);

        start = zclock_usecs ();
        res = PQexecPrepared (conn, "get", 1, params, NULL, NULL, 0);
        pg [k] = (double) (zclock_usecs () - start);
        if (PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
            fprintf (stderr, "bench_rpc: raw query failed\n");
            return 1;
        }
        PQclear (res);
    }
    lg_client_destroy (&client);
    zmq_close (req);
    zmq_ctx_term (ctx);
    lg_test_stop (echo, SIGKILL, 1000);
    PQfinish (conn);
    zstr_free (&dsn);

    double p_lg = bench_percentile (lg, n, 50);
    double floor = bench_percentile (raw, n, 50) + bench_percentile (pg, n, 50);
    printf ("bench_rpc: %zu round trips each%s\n", n, env.smoke? " (smoke)": "");
    s_report ("ProviderGet via lg_client (CURVE, service)", lg, n);
    s_report ("Stats via lg_client (no database)", nodb, n);
    s_report ("raw libzmq REQ/REP, same bytes (CURVE)", raw, n);
    s_report ("raw PostgreSQL point query (prepared)", pg, n);
    printf ("  ProviderGet p50 / (raw zmq p50 + raw pg p50) = %.1f / %.1f = %.2fx (target <= 1.5x): %s\n",
            p_lg, floor, p_lg / floor, p_lg / floor <= 1.5? "met": "NOT MET");
    free (lg);
    free (raw);
    free (nodb);
    free (pg);
    zframe_destroy (&sample_reply);
    zframe_destroy (&request_bytes);
    zcert_destroy (&server_cert);
    zcert_destroy (&mine);
    lg_test_proc_teardown (&registry);
    bench_env_stop (&env);
    return 0;
}
