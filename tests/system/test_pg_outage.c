/*  System test: PostgreSQL stopped for 5 s under traffic.

    The registry runs against a cluster of this test's own (so stopping it
    disturbs no other test). While the server is down every request must get
    a quick UNAVAILABLE (not silence), and when it is back the same process
    serves again: no restart, nothing acknowledged is lost.
*/
#include "lg_test.h"

static char s_dir [] = "/tmp/lg_outage_XXXXXX";
static char *s_admin;           //  host=<s_dir>/pg/sock dbname=lgwan user=postgres
static char *s_certs;
static lg_test_proc_t s_registry = { .service = "registry" };

static int
s_cluster (const char *action)
{
    const char *source = getenv ("LG_SOURCE_DIR");
    char *cmd = zsys_sprintf ("bash %s/tests/support/pg_cluster.sh %s %s/pg%s >>%s/cluster.log 2>&1",
                              source? source: ".", action, s_dir,
                              streq (action, "stop")? "": " --keep --db lgwan", s_dir);
    int rc = system (cmd);
    zstr_free (&cmd);
    return rc;
}

static lg_reply_t *
s_call (lg_request_t *request, int timeout_ms)
{
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "operator");
    lg_client_set_timeout (client, timeout_ms, 0);
    lg_reply_t *reply = NULL;
    if (lg_client_call (client, request, &reply))
        reply = NULL;
    lg_client_destroy (&client);
    return reply;
}

//  Apply for a provider; returns the status code, or -1 when nothing answered
static int
s_apply (uint64_t *id)
{
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "停止試験";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;
    lg_reply_t *reply = s_call (&request, 1000);
    free (request.request_id);
    if (!reply)
        return -1;
    int code = reply->status? (int) reply->status->code: -1;
    if (code == 0 && id)
        *id = reply->provider->provider->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return code;
}

static bool
s_serves (void *arg)
{
    (void) arg;
    return s_apply (NULL) == LGWAN__V1__CODE__OK;
}

static int
s_setup (void **state)
{
    (void) state;
    zsys_init ();
    assert_non_null (mkdtemp (s_dir));
    if (s_cluster ("start"))
        lg_test_unavailable ("could not start a private PostgreSQL cluster (see %s/cluster.log)",
                             s_dir);
    s_admin = zsys_sprintf ("host=%s/pg/sock dbname=lgwan user=postgres", s_dir);
    char why [256];
    assert_int_equal (lg_db_bootstrap (s_admin, "registry", NULL, why, sizeof why), 0);
    s_certs = lg_test_certs_new ();
    lg_test_proc_spawn (&s_registry, s_admin, s_certs, NULL, NULL);
    assert_true (lg_test_wait_for (s_serves, NULL, 15000));
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    lg_test_proc_stop (&s_registry, SIGTERM);
    s_cluster ("stop");
    lg_test_certs_destroy (&s_certs);
    zstr_free (&s_admin);
    char *cmd = zsys_sprintf ("rm -rf %s", s_dir);
    assert_int_equal (system (cmd), 0);
    zstr_free (&cmd);
    return 0;
}

/* REQ X.2: losing PostgreSQL loses nothing and needs no restart */
static void
test_outage_under_traffic (void **state)
{
    (void) state;
    zlist_t *acked = zlist_new ();
    zlist_autofree (acked);
    uint64_t id;
    for (int i = 0; i < 20; i++) {
        assert_int_equal (s_apply (&id), LGWAN__V1__CODE__OK);
        char text [24];
        snprintf (text, sizeof text, "%" PRIu64, id);
        zlist_append (acked, text);
    }
    assert_int_equal (s_cluster ("stop"), 0);
    int64_t until = zclock_mono () + 5000;
    int unavailable = 0, other = 0;
    while (zclock_mono () < until) {
        int code = s_apply (NULL);
        if (code == LGWAN__V1__CODE__UNAVAILABLE)
            unavailable++;
        else
            other++;                //  silence or anything else is wrong
        zclock_sleep (50);
    }
    assert_true (unavailable >= 20);
    assert_int_equal (other, 0);
    assert_int_equal (s_cluster ("start"), 0);
    //  The same process serves again within the backoff (2 s at most)
    assert_true (lg_test_wait_for (s_serves, NULL, 10000));
    assert_int_equal (kill (s_registry.pid, 0), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal (s_apply (&id), LGWAN__V1__CODE__OK);
        char text [24];
        snprintf (text, sizeof text, "%" PRIu64, id);
        zlist_append (acked, text);
    }
    //  Every acknowledged application is there, once
    PGconn *conn = PQconnectdb (s_admin);
    for (char *text = (char *) zlist_first (acked); text; text = (char *) zlist_next (acked)) {
        const char *params [] = { text };
        PGresult *res = PQexecParams (conn, "SELECT count(*) FROM registry.providers"
                                      " WHERE id = $1::bigint", 1, NULL, params, NULL, NULL, 0);
        assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
        assert_string_equal (PQgetvalue (res, 0, 0), "1");
        PQclear (res);
    }
    PQfinish (conn);
    zlist_destroy (&acked);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_outage_under_traffic),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
