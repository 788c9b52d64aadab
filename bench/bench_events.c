/*  bench_events - a consumer applying events with its durable cursor, next
    to raw PUB/SUB throughput with CURVE measured in the same run.

    The registry's outbox is filled while the audit service is stopped; then
    audit starts and the clock runs until its cursor reaches the head: replay
    over CURVE, decode, apply (a row in its provider copy and one in its
    event log per event) and cursor, in batched transactions.
    Target (issue "Reliable events"): at least 20,000 events/s.
*/
#include "bench_env.h"

#define RAW_FRAME 200           //  about the size of a ProviderApplied event

typedef struct {
    char endpoint [64];
    zcert_t *server;
    size_t count;
} s_pub_t;

//  Publish count frames as fast as the socket takes them, then a last one
static void
s_publisher (zsock_t *pipe, void *args)
{
    s_pub_t *pub = (s_pub_t *) args;
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, ZMQ_PUB);
    int one = 1, hwm = 0;
    zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt (sock, ZMQ_CURVE_PUBLICKEY, zcert_public_txt (pub->server), 40);
    zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, zcert_secret_txt (pub->server), 40);
    zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);     //  no drops: measure the wire
    zmq_bind (sock, pub->endpoint);
    zsock_signal (pipe, 0);
    char *go = zstr_recv (pipe);                  //  the subscriber is connected
    zstr_free (&go);
    uint8_t frame [RAW_FRAME];
    memset (frame, 'e', sizeof frame);
    for (size_t i = 0; i < pub->count; i++)
        zmq_send (sock, frame, sizeof frame, 0);
    frame [0] = 'X';                              //  the end
    zmq_send (sock, frame, sizeof frame, 0);
    char *done = zstr_recv (pipe);
    zstr_free (&done);
    zmq_close (sock);
    zmq_ctx_term (ctx);
}

static double
s_raw_pubsub (size_t count)
{
    s_pub_t pub = { .server = zcert_new (), .count = count };
    snprintf (pub.endpoint, sizeof pub.endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    zactor_t *actor = zactor_new (s_publisher, &pub);
    void *ctx = zmq_ctx_new ();
    void *sub = zmq_socket (ctx, ZMQ_SUB);
    zcert_t *mine = zcert_new ();
    int hwm = 0;
    zmq_setsockopt (sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sub, ZMQ_CURVE_SERVERKEY, zcert_public_txt (pub.server), 40);
    zmq_setsockopt (sub, ZMQ_CURVE_PUBLICKEY, zcert_public_txt (mine), 40);
    zmq_setsockopt (sub, ZMQ_CURVE_SECRETKEY, zcert_secret_txt (mine), 40);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect (sub, pub.endpoint);
    zclock_sleep (300);                           //  the handshake
    zstr_send (actor, "GO");
    uint8_t buffer [RAW_FRAME];
    size_t got = 0;
    int64_t start = zclock_usecs ();
    while (zmq_recv (sub, buffer, sizeof buffer, 0) > 0 && buffer [0] != 'X')
        got++;
    double seconds = (double) (zclock_usecs () - start) / 1e6;
    zstr_send (actor, "DONE");
    zactor_destroy (&actor);
    zmq_close (sub);
    zmq_ctx_term (ctx);
    zcert_destroy (&mine);
    zcert_destroy (&pub.server);
    return (double) got / seconds;
}

//  The audit cursor on the registry (0 before the first batch, -1 on error)
static long
s_cursor (PGconn *conn)
{
    PGresult *res = PQexec (conn, "SELECT coalesce ((SELECT last_seq FROM audit.cursors"
                                  " WHERE source = 'registry'), 0)");
    long value = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1
               ? atol (PQgetvalue (res, 0, 0)): -1;
    PQclear (res);
    return value;
}

int
main (int argc, char **argv)
{
    bench_env_t env;
    bench_env_start (&env, argc, argv);
    size_t events = env.smoke? 2000: 20000;

    lg_test_proc_t registry = { .service = "registry" };
    lg_test_proc_t audit = { .service = "audit" };
    lg_test_proc_t *const follow_registry [] = { &registry, NULL };
    bench_env_service (&env, &registry, NULL);

    //  Fill the outbox through the service, audit not running
    lg_client_t *client = lg_test_proc_client (&registry, env.certs, "operator");
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "イベント試験";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;
    int64_t start = zclock_usecs ();
    for (size_t i = 0; i < events; i++) {
        lg_reply_t *reply = NULL;
        request.request_id = NULL;
        if (lg_client_call (client, &request, &reply) || reply->status->code != 0) {
            fprintf (stderr, "bench_events: ProviderApply failed\n");
            return 1;
        }
        lgwan__v1__reply__free_unpacked (reply, NULL);
        free (request.request_id);
    }
    double produce_s = (double) (zclock_usecs () - start) / 1e6;
    lg_client_destroy (&client);

    //  Audit starts behind by `events` and catches up. Two clocks: from the
    //  process start, and from its first committed batch to the head (the
    //  consumer's own rate, without exec, keys, migrations and connecting)
    start = zclock_usecs ();
    bench_env_service (&env, &audit, follow_registry);
    long head = bench_query_long (&env, "SELECT seq FROM registry.outbox_head");
    PGconn *watch = PQconnectdb (env.admin_dsn);    //  one session polls the cursor
    long first_seq;
    while ((first_seq = s_cursor (watch)) <= 0)
        zclock_sleep (2);
    int64_t first = zclock_usecs ();
    while (s_cursor (watch) < head)
        zclock_sleep (2);
    int64_t end = zclock_usecs ();
    PQfinish (watch);
    double consume_s = (double) (end - start) / 1e6;
    double apply_s = (double) (end - first) / 1e6;
    long applied = bench_query_long (&env, "SELECT count(*) FROM audit.provider_events");

    double raw = s_raw_pubsub (env.smoke? 20000: 200000);
    printf ("bench_events: %zu events%s\n", events, env.smoke? " (smoke)": "");
    printf ("  ProviderApply through the service (1 client)   %9.0f requests/s\n",
            (double) events / produce_s);
    printf ("  audit catching up, process start included       %9.0f events/s"
            " (%ld applied in %.2f s)\n", (double) applied / consume_s, applied, consume_s);
    //  A short run (--smoke) can be caught up at the first look: nothing to time
    bool timed = first_seq < head && apply_s > 0;
    double rate = timed? (double) (head - first_seq) / apply_s: 0;
    if (timed)
        printf ("  audit applying: replay, apply, cursor            %9.0f events/s"
                " (seq %ld to %ld in %.2f s)\n", rate, first_seq, head, apply_s);
    else
        printf ("  audit applying: caught up at the first look (seq %ld): too few events"
                " to time\n", head);
    printf ("  raw PUB/SUB with CURVE, %d-byte frames          %9.0f frames/s\n", RAW_FRAME, raw);
    printf ("  consumer target 20,000 events/s: %s\n",
            !timed? "not measured": rate >= 20000? "met": "NOT MET");
    lg_test_proc_teardown (&audit);
    lg_test_proc_teardown (&registry);
    bench_env_stop (&env);
    return applied == head? 0: 1;
}
