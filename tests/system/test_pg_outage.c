/*  System test: PostgreSQL failing under the registry.

    The registry runs against a cluster of this test's own (so stopping it
    disturbs no other test).
    1. PostgreSQL stopped for 5 s under traffic: while the server is down
       every request must get a quick UNAVAILABLE (not silence), and when it
       is back the same process serves again: no restart, nothing
       acknowledged is lost.
    2. A write chosen as a deadlock's victim is run again by the service:
       the caller gets one OK, and the change and its event are there once.
    3. So is a write whose connection is lost: before its COMMIT (its
       backend terminated while it waits for a lock), the second run does the
       work; after its COMMIT took effect (a fault point breaks the
       connection before the result is read), the second run's claim finds
       the first's, and the caller gets the first run's reply. A read whose
       connection is lost runs again too.
    4. PostgreSQL restarted while the service is idle: no request after the
       restart sees it (each connection the server closed is replaced before
       it is used).
*/
#include "lg_test.h"
#include <pthread.h>

static char s_dir [] = "/tmp/lg_outage_XXXXXX";
static char *s_admin;           //  host=<s_dir>/pg/sock dbname=lgwan user=postgres
static char *s_certs;
static lg_test_proc_t s_registry = { .service = "registry" };

static uint64_t s_counter (const char *name);

static int
s_cluster (const char *action)
{
    return lg_test_cluster (s_dir, action, NULL);
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

//  n applications at once, from threads (so that every worker of the
//  service takes some); returns how many were answered OK
static void *
s_apply_thread (void *arg)
{
    *(int *) arg = s_apply (NULL);
    return NULL;
}

static int
s_burst_codes (int n, int *codes)
{
    pthread_t threads [16];
    assert_true (n <= 16);
    for (int i = 0; i < n; i++)
        assert_int_equal (pthread_create (&threads [i], NULL, s_apply_thread, &codes [i]), 0);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal (pthread_join (threads [i], NULL), 0);
        ok += codes [i] == LGWAN__V1__CODE__OK;
    }
    return ok;
}

static int
s_burst (int n)
{
    int codes [16];
    int ok = s_burst_codes (n, codes);
    for (int i = 0; i < n && ok < n; i++)
        if (codes [i] != LGWAN__V1__CODE__OK)
            print_message ("burst: request %d of %d answered %d (-1: no answer)\n", i + 1, n, codes [i]);
    return ok;
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
    lg_test_proc_teardown (&s_registry);
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
        //  Four at once, so that every worker's connection backs off
        int codes [4];
        s_burst_codes (4, codes);
        for (int i = 0; i < 4; i++) {
            if (codes [i] == LGWAN__V1__CODE__UNAVAILABLE)
                unavailable++;
            else
                other++;            //  silence or anything else is wrong
        }
        zclock_sleep (50);
    }
    assert_true (unavailable >= 20);
    assert_int_equal (other, 0);
    //  Stats still answers, and says the database is not there
    assert_int_equal (s_counter ("database.up"), 0);
    assert_true (s_counter ("database.connections_lost") >= 1);
    assert_int_equal (s_cluster ("start"), 0);
    //  The same process serves again within the backoff (2 s at most)
    assert_true (lg_test_wait_for (s_serves, NULL, 10000));
    assert_int_equal (kill (s_registry.pid, 0), 0);
    //  and once one connection is back, every worker's is: none of them
    //  waits out its own backoff
    assert_int_equal (s_burst (12), 12);
    assert_int_equal (s_counter ("database.up"), 1);
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

//  A reviewer's QualificationReview, or with reject set a QualificationDecide
//  that rejects (it emits QualificationDecided); run as a thread
typedef struct {
    uint64_t provider;
    bool reject;
    int code;                   //  the reply's, or -1 for none
} s_review_t;

static void *
s_review (void *arg)
{
    s_review_t *review = (s_review_t *) arg;
    Lgwan__V1__QualificationReview body = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    body.provider = review->provider;
    Lgwan__V1__QualificationDecide decide = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
    decide.provider = review->provider;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_REJECTED;
    decide.reason = (char *) "デッドロック試験";
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    if (review->reject) {
        request.body_case = LGWAN__V1__REQUEST__BODY_QUALIFICATION_DECIDE;
        request.qualification_decide = &decide;
    }
    else {
        request.body_case = LGWAN__V1__REQUEST__BODY_QUALIFICATION_REVIEW;
        request.qualification_review = &body;
    }
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "reviewer");
    lg_client_set_timeout (client, 20000, 0);
    lg_reply_t *reply = NULL;
    review->code = lg_client_call (client, &request, &reply) == 0 && reply->status
                 ? (int) reply->status->code: -1;
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    free (request.request_id);
    lg_client_destroy (&client);
    return NULL;
}

static long
s_count (PGconn *conn, const char *sql)
{
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_TUPLES_OK)
        fprintf (stderr, "s_count: %s: %s", sql, PQresultErrorMessage (res));
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    long value = atol (PQgetvalue (res, 0, 0));
    PQclear (res);
    return value;
}

//  A service counter of Stats (0 when absent)
static uint64_t
s_counter (const char *name)
{
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_STATS;
    request.stats = &stats;
    lg_reply_t *reply = s_call (&request, 2000);
    free (request.request_id);
    assert_non_null (reply);
    assert_non_null (reply->stats);
    uint64_t count = 0;
    for (size_t i = 0; i < reply->stats->n_service_counters; i++)
        if (streq (reply->stats->service_counters [i]->name, name))
            count = reply->stats->service_counters [i]->count;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return count;
}

//  How many lines of the service's log contain text
static int
s_log_count (const char *text)
{
    assert_non_null (lg_test_log_path (s_registry.pid));
    return lg_test_log_count (s_registry.pid, text);
}

static bool
s_logged (const char *text)
{
    return s_log_count (text) > 0;
}

//  A provider under review, its decision (a rejection) ready to send
static void
s_under_review (s_review_t *review)
{
    assert_int_equal (s_apply (&review->provider), LGWAN__V1__CODE__OK);
    s_review (review);
    assert_int_equal (review->code, LGWAN__V1__CODE__OK);
    review->reject = true;
}

//  The pid of the service's backend that waits for a lock (5 s at most)
static long
s_waiting_backend (PGconn *watch)
{
    long pid = 0;
    for (int i = 0; i < 200 && pid == 0; i++) {
        zclock_sleep (25);
        pid = s_count (watch, "SELECT coalesce (max (pid), 0) FROM pg_stat_activity WHERE"
                              " wait_event_type = 'Lock' AND application_name = 'lgwan-registry'");
    }
    assert_true (pid > 0);
    return pid;
}

static void
s_terminate (PGconn *watch, long pid)
{
    char *sql = zsys_sprintf ("SELECT pg_terminate_backend (%ld)::integer", pid);
    assert_int_equal (s_count (watch, sql), 1);
    zstr_free (&sql);
}

//  The decision's change and its one event, once
static void
s_rejected_once (PGconn *watch, uint64_t provider, long events_before)
{
    char *sql = zsys_sprintf ("SELECT count(*) FROM registry.providers WHERE id = %" PRIu64
                              " AND status = 'rejected'", provider);
    assert_int_equal (s_count (watch, sql), 1);
    zstr_free (&sql);
    assert_int_equal (s_count (watch, "SELECT count(*) FROM registry.outbox"), events_before + 1);
}

/* REQ X.2: a write rolled back as a deadlock's victim is run again, and its
   caller gets one answer (here a rejection of a qualification). It used to get INTERNAL for a conflict that a
   second run resolves. */
static void
test_x2_deadlock_victim_is_run_again (void **state)
{
    (void) state;
    s_review_t review = { 0, false, -1 };
    s_under_review (&review);
    PGconn *other = PQconnectdb (s_admin);
    PGconn *watch = PQconnectdb (s_admin);
    long events = s_count (watch, "SELECT count(*) FROM registry.outbox");
    //  Another transaction holds the outbox head; it waits long before it
    //  looks for deadlocks, so the decision is the one PostgreSQL rolls back
    PGresult *res = PQexec (other, "BEGIN; SET LOCAL deadlock_timeout = '20s';"
                                   " UPDATE registry.outbox_head SET seq = seq WHERE id = 1");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    //  The decision locks its provider, then waits for the head
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_review, &review), 0);
    s_waiting_backend (watch);
    assert_int_equal (s_count (watch, "SELECT count(*) FROM pg_stat_activity WHERE"
                                      " wait_event_type = 'Lock' AND query LIKE '%outbox_head%'"), 1);
    //  Now the other transaction wants the provider: a deadlock
    char *sql = zsys_sprintf ("SELECT 1 FROM registry.providers WHERE id = %" PRIu64
                              " FOR UPDATE", review.provider);
    res = PQexec (other, sql);
    zstr_free (&sql);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);     //  the decision gave way
    PQclear (res);
    res = PQexec (other, "COMMIT");
    PQclear (res);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_int_equal (review.code, LGWAN__V1__CODE__OK);
    s_rejected_once (watch, review.provider, events);
    //  And the service says it ran the request again
    assert_true (s_logged ("rolled back by a conflict (run 1 of 3)"));
    //  Stats counts it; and no connection was taken for closed on the way
    //  (an idle connection with something to read is replaced)
    assert_int_equal (s_counter ("requests.rerun_after_conflict"), 1);
    assert_int_equal (s_counter ("database.connections_lost"), 0);
    PQfinish (other);
    PQfinish (watch);
}

/* REQ X.2: a write whose connection is lost before its COMMIT was sent
   committed nothing; the service runs it again on a new connection and its
   caller gets one answer. It used to get UNAVAILABLE. */
static void
test_x2_write_lost_before_commit_is_run_again (void **state)
{
    (void) state;
    s_review_t review = { 0, false, -1 };
    s_under_review (&review);
    PGconn *other = PQconnectdb (s_admin);
    PGconn *watch = PQconnectdb (s_admin);
    long events = s_count (watch, "SELECT count(*) FROM registry.outbox");
    //  Hold the provider, so that the decision waits inside its transaction
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM registry.providers WHERE id = %" PRIu64
                              " FOR UPDATE", review.provider);
    PGresult *res = PQexec (other, sql);
    zstr_free (&sql);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    PQclear (res);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_review, &review), 0);
    //  Its backend goes away under it, then the provider is free
    s_terminate (watch, s_waiting_backend (watch));
    res = PQexec (other, "COMMIT");
    PQclear (res);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_int_equal (review.code, LGWAN__V1__CODE__OK);
    s_rejected_once (watch, review.provider, events);
    assert_true (s_logged ("lost its database connection (run 1 of 3)"));
    assert_int_equal (s_counter ("requests.rerun_after_reconnect"), 1);
    PQfinish (other);
    PQfinish (watch);
}

//  A ProviderList of one page by a viewer, run as a thread; the code of
//  its reply (-1 for none) and how many providers it listed
typedef struct {
    int code;
    size_t listed;
} s_list_t;

static void *
s_list (void *arg)
{
    s_list_t *list = (s_list_t *) arg;
    Lgwan__V1__ProviderList body = LGWAN__V1__PROVIDER_LIST__INIT;
    body.limit = 500;
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "viewer");
    lg_client_set_timeout (client, 20000, 0);
    lg_reply_t *reply = lg_test_call (client, LGWAN__V1__REQUEST__BODY_PROVIDER_LIST, &body, "");
    list->code = reply && reply->status? (int) reply->status->code: -1;
    list->listed = reply && reply->provider_list? reply->provider_list->n_providers: 0;
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_client_destroy (&client);
    return NULL;
}

/* REQ X.2: a read whose connection is lost under it (its backend
   terminated while it waits for the table) runs again on a new
   connection; it used to answer UNAVAILABLE. */
static void
test_x2_read_lost_is_run_again (void **state)
{
    (void) state;
    uint64_t reruns = s_counter ("requests.rerun_after_reconnect");
    PGconn *other = PQconnectdb (s_admin);
    PGconn *watch = PQconnectdb (s_admin);
    long providers = s_count (watch, "SELECT count(*) FROM registry.providers");
    PGresult *res = PQexec (other, "BEGIN; LOCK TABLE registry.providers IN ACCESS EXCLUSIVE MODE");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    s_list_t list = { -1, 0 };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_list, &list), 0);
    s_terminate (watch, s_waiting_backend (watch));
    res = PQexec (other, "COMMIT");
    PQclear (res);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_int_equal (list.code, LGWAN__V1__CODE__OK);
    assert_int_equal ((long) list.listed, providers);
    assert_int_equal (s_counter ("requests.rerun_after_reconnect"), reruns + 1);
    PQfinish (other);
    PQfinish (watch);
}

/* REQ X.2: the connection lost after COMMIT took effect, before its result
   was read: nobody knows whether the write was done, and the caller used to
   get UNAVAILABLE. Now the service runs it again; the claim finds the first
   run's row, and the caller gets the first run's reply. Done once. */
static void
test_x2_commit_result_lost_answers_first_reply (void **state)
{
    (void) state;
    //  A second registry on the same schema, its first write's COMMIT result lost
    lg_test_proc_t faulty = { .service = "registry" };
    const char *const extra [] = { "LG_FAULTS=write_commit_result_lost", "LG_WORKERS=1", NULL };
    assert_true (lg_test_proc_start (&faulty, s_admin, s_certs, NULL, extra));
    PGconn *watch = PQconnectdb (s_admin);
    long events = s_count (watch, "SELECT count(*) FROM registry.outbox");
    long providers = s_count (watch, "SELECT count(*) FROM registry.providers");

    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "結果喪失試験";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
    lg_client_t *client = lg_test_proc_client (&faulty, s_certs, "operator");
    lg_client_set_timeout (client, 10000, 0);
    lg_reply_t *reply = lg_test_call (client, LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY, &apply, "");
    assert_non_null (reply);
    assert_int_equal (reply->status->code, LGWAN__V1__CODE__OK);
    uint64_t id = reply->provider->provider->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_client_destroy (&client);

    //  Done once: one provider, one event, and the reply names that provider
    assert_int_equal (s_count (watch, "SELECT count(*) FROM registry.providers"), providers + 1);
    char *sql = zsys_sprintf ("SELECT count(*) FROM registry.providers WHERE id = %" PRIu64
                              " AND name_ja = '結果喪失試験'", id);
    assert_int_equal (s_count (watch, sql), 1);
    zstr_free (&sql);
    assert_int_equal (s_count (watch, "SELECT count(*) FROM registry.outbox"), events + 1);
    //  The reply is the first run's: the second run drew the next id, then
    //  gave way to the first run's claim
    assert_int_equal (s_count (watch, "SELECT last_value FROM registry.providers_id_seq"),
                      (long) id + 1);
    //  and the service says what happened
    FILE *log = fopen (lg_test_log_path (faulty.pid), "r");
    assert_non_null (log);
    char line [1024];
    bool rerun = false;
    while (fgets (line, sizeof line, log))
        rerun = rerun || strstr (line, "lost its database connection (run 1 of 3)");
    fclose (log);
    assert_true (rerun);
    assert_int_equal (lg_test_proc_stop (&faulty, SIGTERM), 0);
    PQfinish (watch);
}

/* REQ X.2: PostgreSQL restarted while the service is idle is not seen by
   any request after it. Every connection the server closed used to fail
   its first request with UNAVAILABLE and then wait out a backoff. */
static void
test_x2_restart_is_not_seen (void **state)
{
    (void) state;
    assert_int_equal (s_burst (12), 12);        //  every worker connected
    uint64_t connects = s_counter ("database.connects");
    uint64_t lost = s_counter ("database.connections_lost");
    assert_int_equal (s_cluster ("stop"), 0);
    assert_int_equal (s_cluster ("start"), 0);
    assert_int_equal (s_burst (12), 12);
    assert_int_equal (s_apply (NULL), LGWAN__V1__CODE__OK);
    assert_true (s_logged ("connected to the database again"));
    //  Stats shows the operator the connections lost and made again
    assert_true (s_counter ("database.connections_lost") > lost);
    assert_true (s_counter ("database.connects") > connects);
}

/* REQ X.2: the same after PostgreSQL was down for seconds. Meanwhile the
   reactor tries to take the leadership back every second, and each refused
   attempt doubles its backoff. The workers, whose connections the restart
   closed, connect at once all the same. They used to wait out the
   reactor's backoff (up to 2 s), and every request of the burst was
   answered UNAVAILABLE (lg_db.c note 2e). */
static void
test_x2_restart_after_failed_connects_is_not_seen (void **state)
{
    (void) state;
    assert_int_equal (s_burst (12), 12);        //  every worker connected
    assert_int_equal (s_cluster ("stop"), 0);
    zclock_sleep (4500);                        //  3 or 4 refused attempts: 800 ms or more
    assert_int_equal (s_cluster ("start"), 0);
    assert_int_equal (s_burst (12), 12);
}

/* REQ X.2: why the service cannot connect is in its log, told once while
   the reason stays the same (every connection retries, several times a
   second), and so is its return. Here an operator took the service's right
   to log in away and ended its sessions. The log used to say "lost the
   connection" and then nothing. */
static void
test_x2_why_connecting_fails_is_logged (void **state)
{
    (void) state;
    const char *refused = "role \"lgwan_registry\" is not permitted to log in";
    int told = s_log_count ("could not connect to the database");
    int again = s_log_count ("connected to the database again");
    PGconn *watch = PQconnectdb (s_admin);
    PGresult *res = PQexec (watch, "ALTER ROLE lgwan_registry NOLOGIN");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    assert_true (s_count (watch, "SELECT count (pg_terminate_backend (pid)) FROM pg_stat_activity"
                                 " WHERE usename = 'lgwan_registry'") > 0);
    //  Requests meanwhile are refused, while the reactor and the workers
    //  try again and again
    int64_t until = zclock_mono () + 3000;
    while (zclock_mono () < until) {
        assert_int_equal (s_apply (NULL), LGWAN__V1__CODE__UNAVAILABLE);
        zclock_sleep (100);
    }
    assert_int_equal (s_log_count ("could not connect to the database"), told + 1);
    assert_int_equal (s_log_count (refused), 1);
    res = PQexec (watch, "ALTER ROLE lgwan_registry LOGIN");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    assert_true (lg_test_wait_for (s_serves, NULL, 5000));
    assert_true (s_log_count ("connected to the database again") > again);
    PQfinish (watch);
}

/* REQ X.2: a service stopped (SIGTERM) while it waits for its database at
   start ends 0, as any stop asked for does; it ended 1 with a FATAL line,
   which a supervisor takes for a crash */
static void
test_x2_stopped_while_waiting_for_the_database_ends_0 (void **state)
{
    (void) state;
    lg_test_proc_t waiting = { .service = "billing" };
    const char *env [] = { "LG_BILLING_DB=host=/nonexistent-lgwan-socket dbname=x connect_timeout=1",
                           NULL };
    lg_test_proc_spawn (&waiting, s_admin, s_certs, NULL, env);
    assert_true (waiting.pid > 0);
    zclock_sleep (2000);
    assert_int_equal (lg_test_proc_stop (&waiting, SIGTERM), 0);
}

//  lgwanctl run as a thread: its exit code, -1 when it could not run
typedef struct {
    char *command;
    int code;
} s_ctl_t;

static void *
s_ctl_thread (void *arg)
{
    s_ctl_t *ctl = (s_ctl_t *) arg;
    int status = system (ctl->command);
    ctl->code = WIFEXITED (status)? WEXITSTATUS (status): -1;
    return NULL;
}

/* REQ X.2: an lgwanctl command given while the database is away waits for
   it: the service answers UNAVAILABLE, lgwanctl asks again with the same
   request_id, and once the database is back the command succeeds, done
   once. It used to fail at once. */
static void
test_x2_lgwanctl_rides_over_a_restart (void **state)
{
    (void) state;
    lg_test_proc_export (&s_registry);
    char *binary = lg_test_lgwanctl_binary ();
    s_ctl_t ctl = { zsys_sprintf ("LG_CERT_DIR=%s LGWANCTL_CERT=%s/clients/operator %s provider apply"
                                  " --name-ja 再開待ち --entity-type VOLUNTARY_ORGANISATION"
                                  " --retries 8 --json >%s/ctl.out 2>%s/ctl.err",
                                  s_certs, s_certs, binary, s_dir, s_dir), -1 };
    zstr_free (&binary);
    assert_int_equal (s_cluster ("stop"), 0);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_ctl_thread, &ctl), 0);
    zclock_sleep (1500);
    assert_int_equal (s_cluster ("start"), 0);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_int_equal (ctl.code, 0);
    char *path = zsys_sprintf ("%s/ctl.err", s_dir);
    FILE *err = fopen (path, "r");
    assert_non_null (err);
    char line [1024];
    bool asked_again = false;
    while (fgets (line, sizeof line, err))
        asked_again = asked_again || strstr (line, "asking again in 250 ms with the same request_id");
    fclose (err);
    zstr_free (&path);
    assert_true (asked_again);
    PGconn *watch = PQconnectdb (s_admin);
    assert_int_equal (s_count (watch, "SELECT count(*) FROM registry.providers"
                                      " WHERE name_ja = '再開待ち'"), 1);
    PQfinish (watch);
    zstr_free (&ctl.command);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_x2_deadlock_victim_is_run_again),
        cmocka_unit_test (test_x2_write_lost_before_commit_is_run_again),
        cmocka_unit_test (test_x2_commit_result_lost_answers_first_reply),
        cmocka_unit_test (test_x2_read_lost_is_run_again),
        cmocka_unit_test (test_x2_restart_is_not_seen),
        cmocka_unit_test (test_x2_restart_after_failed_connects_is_not_seen),
        cmocka_unit_test (test_x2_why_connecting_fails_is_logged),
        cmocka_unit_test (test_x2_stopped_while_waiting_for_the_database_ends_0),
        cmocka_unit_test (test_outage_under_traffic),
        cmocka_unit_test (test_x2_lgwanctl_rides_over_a_restart),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
