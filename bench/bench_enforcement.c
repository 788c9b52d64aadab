/*  bench_enforcement - the switch, timed. Needs root (network namespaces,
    nftables); it makes its own namespaces and removes them.

    1. Request received -> in force at both enforcement points: a Disconnect
       (then a Lift) of one provider, timed until the Disconnected
       (Reconnected) event, which isolation publishes only when both
       enforcers acknowledged the version. Next to the raw floor measured in
       the same run: the PostgreSQL commits on that path (the request, then
       one acknowledgement per point) plus one libnftables batch.
       Target (issue "Isolation and enforcers"): p99 within 3x the floor.
    2. One change (one prefix in, one out) with 10 and with 10,000 prefixes
       isolated: at most 2x.
    3. A full reconcile after `nft flush ruleset` at 10,000 prefixes: < 1 s.
*/
#include "bench_env.h"
#include "enf_nft.h"

static char s_tag [24];

//  One request on a client already connected, refused ones end the run.
//  Each says why: a Disconnect without a reason is refused (X.1)
static lg_reply_t *
s_request (lg_client_t *client, unsigned body_case, void *body)
{
    lg_reply_t *reply = lg_test_call (client, body_case, body, "bench_enforcement");
    if (!reply || !reply->status || reply->status->code != LGWAN__V1__CODE__OK) {
        fprintf (stderr, "bench_enforcement: request %u refused: %s\n", body_case,
                 reply && reply->status? reply->status->message: "no reply");
        exit (1);
    }
    return reply;
}

//  The same on a connection of its own (set-up, not timed)
static lg_reply_t *
s_ask (bench_env_t *env, lg_test_proc_t *proc, const char *who, unsigned body_case, void *body)
{
    lg_client_t *client = lg_test_proc_client (proc, env->certs, who);
    lg_client_set_timeout (client, 10000, 0);
    lg_reply_t *reply = s_request (client, body_case, body);
    lg_client_destroy (&client);
    return reply;
}

static void
s_ok (bench_env_t *env, lg_test_proc_t *proc, const char *who, unsigned body_case, void *body)
{
    lgwan__v1__reply__free_unpacked (s_ask (env, proc, who, body_case, body), NULL);
}

//  Timed requests go on a client already connected: the clock must not
//  include loading keys and the CURVE handshake of a new connection
static void
s_call (lg_client_t *client, unsigned body_case, void *body)
{
    lgwan__v1__reply__free_unpacked (s_request (client, body_case, body), NULL);
}

//  Wait on the isolation stream for an event of this body case
static bool
s_wait_event (zsock_t *sub, unsigned body_case, int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (sub, NULL);
    bool found = false;
    while (!found && zclock_mono () < until) {
        if (zpoller_wait (poller, 100) != sub)
            continue;
        zmsg_t *msg = zmsg_recv (sub);
        zframe_t *topic = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        lg_event_t *event = body? lgwan__v1__event__unpack (NULL, zframe_size (body),
                                                           zframe_data (body)): NULL;
        found = event && event->body_case == body_case;
        if (event)
            lgwan__v1__event__free_unpacked (event, NULL);
        zframe_destroy (&topic);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return found;
}

static pid_t
s_enforcer (bench_env_t *env, const char *point, const char *enforcers)
{
    char *netns = zsys_sprintf ("LG_ENFORCER_NETNS=%s-%s", s_tag, point);
    char *name = zsys_sprintf ("LG_ENFORCER_POINT=%s", point);
    char *secret = lg_test_enforcer_cert (env->certs, point);    //  its own (X.3)
    char *cert = zsys_sprintf ("LG_ENFORCER_CERT=%s", secret);
    zstr_free (&secret);
    char *certs = zsys_sprintf ("LG_CERT_DIR=%s", env->certs);
    char *connect = zsys_sprintf ("LG_ISOLATION_ENFORCER_CONNECT=%s", enforcers);
    const char *vars [] = { netns, name, cert, certs, connect, "LG_LOG_LEVEL=warning", NULL };
    char *binary = zsys_sprintf ("%s/services/enforcer/lgwan-enforcer", getenv ("LG_BUILD_DIR"));
    pid_t pid = lg_test_spawn (binary, vars);
    zstr_free (&netns);
    zstr_free (&name);
    zstr_free (&cert);
    zstr_free (&certs);
    zstr_free (&connect);
    zstr_free (&binary);
    return pid;
}

//  A set of n distinct /24 prefixes, plus one more to add and remove
static zhashx_t *
s_prefixes (int n)
{
    zhashx_t *set = enf_prefix_set_new ();
    for (int i = 0; i < n; i++) {
        char text [32];
        snprintf (text, sizeof text, "10.%d.%d.0/24", (i / 256) % 256, i % 256);
        zhashx_insert (set, text, (void *) 1);
    }
    return set;
}

//  p50 of one change (one add, one remove) with `base` prefixes installed:
//  its batch, and in *acked_p50 / *acked_p99 the batch and the read-back
//  the enforcer does before its ack (enf_nft_confirm: the changed elements
//  and the ruleset's generation)
static double
s_change_cost (enf_nft_t *nft, int base, int rounds, double *acked_p50, double *acked_p99)
{
    char why [256];
    zhashx_t *set = s_prefixes (base);
    bool ok = false;
    if (enf_nft_rebuild (nft, set, why, sizeof why)
    ||  enf_nft_verify (nft, set, NULL, NULL, &ok, why, sizeof why) || !ok) {
        fprintf (stderr, "bench_enforcement: %s\n", why);
        exit (1);
    }
    double *samples = (double *) calloc ((size_t) rounds, sizeof (double));
    double *acked = (double *) calloc ((size_t) rounds, sizeof (double));
    for (int r = 0; r < rounds; r++) {
        zlistx_t *add = enf_strings_new (), *remove = enf_strings_new ();
        zlistx_add_end (add, (void *) "172.31.255.0/24");
        int64_t t0 = zclock_usecs ();
        enf_nft_update (nft, add, remove, why, sizeof why);
        samples [r] = (double) (zclock_usecs () - t0) / 1000.0;
        if (enf_nft_confirm (nft, add, remove, &ok, why, sizeof why) || !ok) {
            fprintf (stderr, "bench_enforcement: read-back of a change: %s\n", why);
            exit (1);
        }
        acked [r] = (double) (zclock_usecs () - t0) / 1000.0;
        zlistx_destroy (&add);
        zlistx_destroy (&remove);
        add = enf_strings_new ();
        remove = enf_strings_new ();
        zlistx_add_end (remove, (void *) "172.31.255.0/24");
        enf_nft_update (nft, add, remove, why, sizeof why);
        enf_nft_confirm (nft, add, remove, &ok, why, sizeof why);
        zlistx_destroy (&add);
        zlistx_destroy (&remove);
    }
    double p50 = bench_percentile (samples, (size_t) rounds, 50);
    *acked_p50 = bench_percentile (acked, (size_t) rounds, 50);
    *acked_p99 = bench_percentile (acked, (size_t) rounds, 99);
    free (samples);
    free (acked);
    zhashx_destroy (&set);
    return p50;
}

int
main (int argc, char **argv)
{
    if (geteuid () != 0) {
        fprintf (stderr, "bench_enforcement: needs root (network namespaces, nftables)\n");
        return 1;
    }
    bench_env_t env;
    bench_env_start (&env, argc, argv);
    int pairs = env.smoke? 20: 1000;
    snprintf (s_tag, sizeof s_tag, "lgb%d", (int) (getpid () % 100000));
    if (lg_test_sh ("ip netns add %s-east && ip netns add %s-west && ip netns add %s-raw",
                 s_tag, s_tag, s_tag))
        return 1;

    lg_test_proc_t registry = { .service = "registry" }, isolation = { .service = "isolation" };
    snprintf (registry.endpoint, sizeof registry.endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    snprintf (registry.pub, sizeof registry.pub, "tcp://127.0.0.1:%d", lg_test_free_port ());
    snprintf (isolation.endpoint, sizeof isolation.endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    snprintf (isolation.pub, sizeof isolation.pub, "tcp://127.0.0.1:%d", lg_test_free_port ());
    char enforcers [64];
    snprintf (enforcers, sizeof enforcers, "tcp://127.0.0.1:%d", lg_test_free_port ());
    char *endpoint = zsys_sprintf ("LG_ISOLATION_ENFORCER_ENDPOINT=%s", enforcers);
    const char *extra [] = { endpoint, "LG_LOG_LEVEL=warning", NULL };
    lg_test_proc_t *for_registry [] = { &isolation, NULL };
    lg_test_proc_t *for_isolation [] = { &registry, NULL };
    if (!lg_test_proc_start (&registry, env.admin_dsn, env.certs, for_registry, extra)
    ||  !lg_test_proc_start (&isolation, env.admin_dsn, env.certs, for_isolation, extra))
        return 1;

    //  One provider with one connection
    Lgwan__V1__PoolAdd pool = LGWAN__V1__POOL_ADD__INIT;
    pool.name = (char *) "v4";
    pool.prefix = (char *) "198.18.0.0/24";
    s_ok (&env, &registry, "operator", LGWAN__V1__REQUEST__BODY_POOL_ADD, &pool);
    Lgwan__V1__Contact emergency = LGWAN__V1__CONTACT__INIT, manager = LGWAN__V1__CONTACT__INIT;
    emergency.kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
    emergency.name = (char *) "緊急";
    manager.kind = LGWAN__V1__CONTACT_KIND__CONTACT_OPERATIONS_MANAGER;
    manager.name = (char *) "運用";
    Lgwan__V1__Contact *contacts [] = { &emergency, &manager };
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "ベンチ";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    apply.corporate_number = (char *) "7123456789012";
    apply.contacts = contacts;
    apply.n_contacts = 2;
    s_ok (&env, &registry, "operator", LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY, &apply);
    Lgwan__V1__QualificationReview qr = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    qr.provider = 1;
    s_ok (&env, &registry, "reviewer", LGWAN__V1__REQUEST__BODY_QUALIFICATION_REVIEW, &qr);
    Lgwan__V1__QualificationDecide qd = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
    qd.provider = 1;
    qd.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    qd.reason = (char *) "適格";
    s_ok (&env, &registry, "reviewer", LGWAN__V1__REQUEST__BODY_QUALIFICATION_DECIDE, &qd);
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
    s_ok (&env, &registry, "operator", LGWAN__V1__REQUEST__BODY_SERVICE_REGISTER, &reg);
    Lgwan__V1__ServiceReview sr = LGWAN__V1__SERVICE_REVIEW__INIT;
    sr.service = 1;
    s_ok (&env, &registry, "reviewer", LGWAN__V1__REQUEST__BODY_SERVICE_REVIEW, &sr);
    Lgwan__V1__ServiceDecide sd = LGWAN__V1__SERVICE_DECIDE__INIT;
    sd.service = 1;
    sd.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    sd.reason = (char *) "登録";
    s_ok (&env, &registry, "reviewer", LGWAN__V1__REQUEST__BODY_SERVICE_DECIDE, &sd);
    Lgwan__V1__ConnectionApply ca = LGWAN__V1__CONNECTION_APPLY__INIT;
    ca.service = 1;
    ca.router = (char *) "rt";
    ca.line_carrier = (char *) "bench";
    ca.bandwidth_class = (char *) "1G";
    ca.ipv4_prefix_length = 28;
    s_ok (&env, &registry, "operator", LGWAN__V1__REQUEST__BODY_CONNECTION_APPLY, &ca);
    Lgwan__V1__ConnectionReview cr = LGWAN__V1__CONNECTION_REVIEW__INIT;
    cr.connection = 1;
    s_ok (&env, &registry, "reviewer", LGWAN__V1__REQUEST__BODY_CONNECTION_REVIEW, &cr);
    Lgwan__V1__ConnectionDecide cd = LGWAN__V1__CONNECTION_DECIDE__INIT;
    cd.connection = 1;
    cd.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    cd.reason = (char *) "接続";
    s_ok (&env, &registry, "reviewer", LGWAN__V1__REQUEST__BODY_CONNECTION_DECIDE, &cd);
    while (bench_query_long (&env, "SELECT count(*) FROM isolation.connections") < 1)
        zclock_sleep (20);

    pid_t east = s_enforcer (&env, "east", enforcers);
    pid_t west = s_enforcer (&env, "west", enforcers);
    while (bench_query_long (&env, "SELECT count(*) FROM isolation.points") < 2)
        zclock_sleep (20);

    //  The stream where "in force" is announced
    zsock_t *sub = zsock_new (ZMQ_SUB);
    char *viewer = zsys_sprintf ("%s/clients/viewer", env.certs);
    char *server = zsys_sprintf ("%s/services/isolation", env.certs);
    lg_auth_client (sub, viewer, server);
    zsock_set_subscribe (sub, "");
    zsock_connect (sub, "%s", isolation.pub);
    zclock_sleep (500);

    //  1. Request -> in force at both points
    double *disc = (double *) calloc ((size_t) pairs, sizeof (double));
    double *lift = (double *) calloc ((size_t) pairs, sizeof (double));
    double *asked = (double *) calloc ((size_t) pairs, sizeof (double));
    lg_client_t *operator = lg_test_proc_client (&isolation, env.certs, "operator");
    lg_client_t *saga = lg_test_proc_client (&isolation, env.certs, "service");
    lg_client_set_timeout (operator, 10000, 0);
    lg_client_set_timeout (saga, 10000, 0);
    for (int i = 0; i < pairs; i++) {
        Lgwan__V1__Disconnect d = LGWAN__V1__DISCONNECT__INIT;
        d.provider = 1;
        d.incident = (char *) "INC-BENCH";
        int64_t t0 = zclock_usecs ();
        s_call (operator, LGWAN__V1__REQUEST__BODY_DISCONNECT, &d);
        asked [i] = (double) (zclock_usecs () - t0) / 1000.0;
        if (!s_wait_event (sub, LGWAN__V1__EVENT__BODY_DISCONNECTED, 10000))
            return 1;
        disc [i] = (double) (zclock_usecs () - t0) / 1000.0;
        Lgwan__V1__Lift l = LGWAN__V1__LIFT__INIT;
        l.connection = 1;
        l.cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_DISCONNECTION;
        l.saga = (char *) "SAGA-BENCH";
        t0 = zclock_usecs ();
        s_call (saga, LGWAN__V1__REQUEST__BODY_LIFT, &l);
        if (!s_wait_event (sub, LGWAN__V1__EVENT__BODY_RECONNECTED, 10000))
            return 1;
        lift [i] = (double) (zclock_usecs () - t0) / 1000.0;
    }
    //  Where isolation spent its time serving them (Stats: mean by request)
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    lg_reply_t *sreply = s_request (operator, LGWAN__V1__REQUEST__BODY_STATS, &stats);
    char served [256] = "";
    for (size_t i = 0, at = 0; i < sreply->stats->n_by_request && at < sizeof served; i++) {
        Lgwan__V1__StatsCounter *c = sreply->stats->by_request [i];
        at += (size_t) snprintf (served + at, sizeof served - at, "%s %s %.2f ms", i? ",": "",
                                 c->name, c->count? (double) c->total_micros / (double) c->count
                                 / 1000.0: 0.0);
    }
    lgwan__v1__reply__free_unpacked (sreply, NULL);
    lg_client_destroy (&operator);
    lg_client_destroy (&saga);
    zsock_destroy (&sub);
    zstr_free (&viewer);
    zstr_free (&server);

    //  The raw floor: a commit of a small transaction, three on the path
    //  (the request, then each point's acknowledgement), and one batch
    PGconn *conn = PQconnectdb (env.admin_dsn);
    PGresult *res = PQexec (conn, "CREATE TABLE raw_floor (id serial, note text)");
    PQclear (res);
    size_t rounds = env.smoke? 50: 1000;
    double *commit = (double *) calloc (rounds, sizeof (double));
    for (size_t i = 0; i < rounds; i++) {
        int64_t t0 = zclock_usecs ();
        res = PQexec (conn, "BEGIN; INSERT INTO raw_floor (note) VALUES ('x'); COMMIT");
        commit [i] = (double) (zclock_usecs () - t0) / 1000.0;
        PQclear (res);
    }
    PQfinish (conn);
    char why [256], netns [40];
    snprintf (netns, sizeof netns, "%s-raw", s_tag);
    enf_nft_t *nft = enf_nft_new (netns, why, sizeof why);
    if (!nft) {
        fprintf (stderr, "bench_enforcement: %s\n", why);
        return 1;
    }
    double acked10 [2], acked10k [2];
    double batch10 = s_change_cost (nft, 10, (int) rounds, &acked10 [0], &acked10 [1]);
    double batch10k = s_change_cost (nft, 10000, (int) rounds, &acked10k [0], &acked10k [1]);

    //  3. A full reconcile after a flush, at 10,000 prefixes
    zhashx_t *big = s_prefixes (10000);
    enf_nft_rebuild (nft, big, why, sizeof why);
    lg_test_sh ("ip netns exec %s-raw nft flush ruleset", s_tag);
    zlistx_t *missing = enf_strings_new (), *surplus = enf_strings_new ();
    int64_t t0 = zclock_usecs ();
    bool was_repaired = false;
    int rc = enf_nft_reconcile (nft, big, missing, surplus, &was_repaired, why, sizeof why);
    double reconcile = (double) (zclock_usecs () - t0) / 1000.0;
    size_t repaired = zlistx_size (missing);
    zlistx_destroy (&missing);
    zlistx_destroy (&surplus);
    zhashx_destroy (&big);
    enf_nft_destroy (&nft);

    double c50 = bench_percentile (commit, rounds, 50), c99 = bench_percentile (commit, rounds, 99);
    double floor50 = 3 * c50 + batch10, floor99 = 3 * c99 + batch10;
    double d50 = bench_percentile (disc, (size_t) pairs, 50), d99 = bench_percentile (disc, (size_t) pairs, 99);
    double l50 = bench_percentile (lift, (size_t) pairs, 50), l99 = bench_percentile (lift, (size_t) pairs, 99);
    printf ("bench_enforcement: %d disconnect/lift pairs, two enforcement points%s\n", pairs,
            env.smoke? " (smoke)": "");
    printf ("  Disconnect -> in force at both points     p50 %6.2f ms   p99 %6.2f ms\n", d50, d99);
    printf ("    of which the request until its reply    p50 %6.2f ms   p99 %6.2f ms\n",
            bench_percentile (asked, (size_t) pairs, 50), bench_percentile (asked, (size_t) pairs, 99));
    printf ("    isolation's own time serving them (mean):%s\n", served);
    printf ("  Lift -> in force at both points           p50 %6.2f ms   p99 %6.2f ms\n", l50, l99);
    printf ("  raw floor: 3 commits + 1 nft batch        p50 %6.2f ms   p99 %6.2f ms"
            " (commit p50 %.2f, batch %.2f)\n", floor50, floor99, c50, batch10);
    printf ("  one change with 10 / 10,000 prefixes isolated   %.3f / %.3f ms = %.2fx (target <= 2x)\n",
            batch10, batch10k, batch10k / batch10);
    printf ("    with its read-back before the ack         p50 %.3f / %.3f ms, p99 %.3f / %.3f ms\n",
            acked10 [0], acked10k [0], acked10 [1], acked10k [1]);
    printf ("  full reconcile after a flush, 10,000 prefixes   %.0f ms (%zu repaired%s; target < 1 s)\n",
            reconcile, repaired, rc? ", FAILED": "");
    double worst = d99 > l99? d99: l99;
    printf ("  targets: p99 <= 3x floor p99: %s (%.1fx); change scaling: %s; reconcile: %s\n",
            worst <= 3 * floor99? "met": "NOT MET", worst / floor99,
            batch10k <= 2 * batch10? "met": "NOT MET", reconcile < 1000? "met": "NOT MET");
    free (disc);
    free (asked);
    free (lift);
    free (commit);
    lg_test_teardown_stop (east, "enforcer east");
    lg_test_teardown_stop (west, "enforcer west");
    lg_test_proc_teardown (&isolation);
    lg_test_proc_teardown (&registry);
    lg_test_sh ("ip netns del %s-east; ip netns del %s-west; ip netns del %s-raw", s_tag, s_tag, s_tag);
    zstr_free (&endpoint);
    bench_env_stop (&env);
    return 0;
}
