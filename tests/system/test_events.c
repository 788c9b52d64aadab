/*  System test of reliable events (X.2): the registry publishes, the audit
    service follows. Real binaries, one fresh database, real certificates.

    Every check ends the same way (s_check_exactly_once): audit's cursor
    reached the registry's head, and audit's append-only event log holds each
    seq from 1 to the head exactly once.
*/
#include "lg_test.h"
#include <pthread.h>

static char *s_admin;
static char *s_certs;
static lg_test_proc_t s_registry = { .service = "registry" };
static lg_test_proc_t s_audit = { .service = "audit" };
static lg_test_proc_t s_audit2 = { .service = "audit" };   //  the standby, ports of its own
static lg_test_proc_t *const s_follow_registry [] = { &s_registry, NULL };

static bool
s_answers (void *arg)
{
    return lg_test_proc_answers ((lg_test_proc_t *) arg, s_certs);
}

//  Start a service process (the audit replicas follow the registry) with a
//  short heartbeat and info logs, which the standby test reads; extra is one
//  more NAME=VALUE or NULL
static void
s_start (lg_test_proc_t *p, const char *extra)
{
    const char *env [] = { "LG_HEARTBEAT_MS=200", "LG_LOG_LEVEL=info", extra, NULL };
    lg_test_proc_spawn (p, s_admin, s_certs, p == &s_registry? NULL: s_follow_registry, env);
    assert_true (p->pid > 0);
}

static void
s_start_ready (lg_test_proc_t *p, const char *extra)
{
    s_start (p, extra);
    assert_true (lg_test_wait_for (s_answers, p, 15000));
}

static long
s_query_long (const char *sql)
{
    PGconn *conn = PQconnectdb (s_admin);
    PGresult *res = PQexec (conn, sql);
    long value = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1
               ? atol (PQgetvalue (res, 0, 0)): -1;
    if (PQresultStatus (res) != PGRES_TUPLES_OK)
        fprintf (stderr, "%s: %s", sql, PQresultErrorMessage (res));
    PQclear (res);
    PQfinish (conn);
    return value;
}

//  Run one statement as the superuser; it must work
static void
s_sql (const char *sql)
{
    PGconn *conn = PQconnectdb (s_admin);
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_COMMAND_OK && PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    PQclear (res);
    PQfinish (conn);
}

//  How often the audit log says this
static long
s_audit_said (const char *text)
{
    char *out = lg_test_sh_output ("grep -c -F '%s' '%s' || true", text,
                                   lg_test_log_path (s_audit.pid));
    long count = out? atol (out): -1;
    zstr_free (&out);
    return count;
}

static long
s_head (void)
{
    return s_query_long ("SELECT seq FROM registry.outbox_head");
}

//  Apply for a provider through a retrying client; returns the status code
static int
s_apply (lg_client_t *client, const char *request_id, const char *name)
{
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) name;
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) request_id;
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;
    lg_reply_t *reply = NULL;
    if (lg_client_call (client, &request, &reply))
        return -1;
    int code = (int) reply->status->code;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return code;
}

static void
s_produce (int count, const char *tag)
{
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "operator");
    lg_client_set_timeout (client, 2000, 5);
    for (int i = 0; i < count; i++) {
        char id [64];
        snprintf (id, sizeof id, "%s-%d", tag, i);
        assert_int_equal (s_apply (client, id, id), 0);
    }
    lg_client_destroy (&client);
}

static bool
s_caught_up (void *arg)
{
    (void) arg;
    long head = s_head ();
    return head > 0 && s_query_long ("SELECT last_seq FROM audit.cursors"
                                     " WHERE source = 'registry'") == head;
}

//  Audit holds every registry event once: seqs 1..head, no gap, no repeat
static void
s_check_exactly_once (int timeout_ms)
{
    assert_true (lg_test_wait_for (s_caught_up, NULL, timeout_ms));
    long head = s_head ();
    assert_int_equal (s_query_long ("SELECT count(*) FROM audit.provider_events"), head);
    assert_int_equal (s_query_long ("SELECT count(DISTINCT seq) FROM audit.provider_events"), head);
    assert_int_equal (s_query_long ("SELECT min(seq) FROM audit.provider_events"), 1);
    assert_int_equal (s_query_long ("SELECT max(seq) FROM audit.provider_events"), head);
    assert_int_equal (s_query_long ("SELECT count(*) FROM audit.providers"),
                      s_query_long ("SELECT count(*) FROM registry.providers"));
}

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    zsys_init ();
    s_admin = lg_test_db_new ("events");
    s_certs = lg_test_certs_new ();
    assert_non_null (s_admin);
    assert_non_null (s_certs);
    s_start_ready (&s_registry, NULL);
    s_start_ready (&s_audit, NULL);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    lg_test_proc_teardown (&s_audit2);
    lg_test_proc_teardown (&s_audit);
    lg_test_proc_teardown (&s_registry);
    lg_test_certs_destroy (&s_certs);
    lg_test_db_drop (&s_admin);
    return 0;
}

/* REQ X.2: a consumer that was down catches up on restart, in order, once */
static void
test_x2_catch_up_after_restart (void **state)
{
    (void) state;
    s_produce (10, "warm");
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    s_produce (1000, "while-down");
    s_start_ready (&s_audit, NULL);
    s_check_exactly_once (30000);
}

/* REQ X.2: PUB dropping nearly everything (high-water mark 1) loses nothing */
static void
test_x2_tiny_hwm (void **state)
{
    (void) state;
    assert_int_equal (lg_test_proc_stop (&s_registry, SIGTERM), 0);
    s_start_ready (&s_registry, "LG_PUB_HWM=1");
    s_produce (1000, "tiny-hwm");
    s_check_exactly_once (30000);
    assert_int_equal (lg_test_proc_stop (&s_registry, SIGTERM), 0);
    s_start_ready (&s_registry, NULL);
}

/* REQ X.2: killed between commit and publish: the retry gets the stored
   reply, the event arrives by replay */
static void
test_x2_kill_after_commit_before_publish (void **state)
{
    (void) state;
    assert_int_equal (lg_test_proc_stop (&s_registry, SIGTERM), 0);
    s_start_ready (&s_registry, "LG_FAULTS=after_commit_before_publish@3");
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "operator");
    lg_client_set_timeout (client, 1000, 0);
    for (int i = 0; i < 3; i++) {
        char id [32];
        snprintf (id, sizeof id, "fault-commit-%d", i);
        assert_int_equal (s_apply (client, id, id), 0);
    }
    long before = s_query_long ("SELECT count(*) FROM registry.providers");
    //  The fourth commits, then the process dies before it answers
    assert_int_equal (s_apply (client, "fault-commit-3", "fault-commit-3"), -1);
    assert_int_equal (lg_test_proc_stop (&s_registry, 0), 99);
    assert_int_equal (s_query_long ("SELECT count(*) FROM registry.providers"), before + 1);
    s_start_ready (&s_registry, NULL);
    lg_client_set_timeout (client, 2000, 3);
    assert_int_equal (s_apply (client, "fault-commit-3", "fault-commit-3"), 0);
    assert_int_equal (s_query_long ("SELECT count(*) FROM registry.providers"), before + 1);
    lg_client_destroy (&client);
    s_check_exactly_once (15000);
}

/* REQ X.2: a consumer killed between applying and moving its cursor applies
   nothing twice after restart */
static void
test_x2_kill_after_apply_before_cursor (void **state)
{
    (void) state;
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    s_start_ready (&s_audit, "LG_FAULTS=after_apply_before_cursor@1");
    s_produce (50, "fault-apply");
    assert_int_equal (lg_test_stop (s_audit.pid, 0, 10000), 99);
    s_audit.pid = 0;
    s_start_ready (&s_audit, NULL);
    s_check_exactly_once (15000);
}

//  A killer thread: kill -9 the registry twice while requests are running
static void *
s_killer (void *arg)
{
    (void) arg;
    for (int round = 0; round < 2; round++) {
        zclock_sleep (700);
        lg_test_stop (s_registry.pid, SIGKILL, 1000);
        zclock_sleep (300);
        s_start (&s_registry, NULL);
    }
    return NULL;
}

/* REQ X.2: kill -9 of the registry during 1,000 requests of a retrying
   client: every acknowledged request exists exactly once */
static void
test_x2_kill9_under_traffic (void **state)
{
    (void) state;
    long before = s_query_long ("SELECT count(*) FROM registry.providers");
    pthread_t killer;
    assert_int_equal (pthread_create (&killer, NULL, s_killer, NULL), 0);
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "operator");
    lg_client_set_timeout (client, 500, 40);
    for (int i = 0; i < 1000; i++) {
        char id [32];
        snprintf (id, sizeof id, "kill9-%d", i);
        assert_int_equal (s_apply (client, id, id), 0);
    }
    lg_client_destroy (&client);
    pthread_join (killer, NULL);
    assert_true (lg_test_wait_for (s_answers, &s_registry, 15000));
    assert_int_equal (s_query_long ("SELECT count(*) FROM registry.providers"), before + 1000);
    assert_int_equal (s_query_long ("SELECT count(DISTINCT name_ja) FROM registry.providers"
                                    " WHERE name_ja LIKE 'kill9-%'"), 1000);
    assert_int_equal (s_query_long ("SELECT count(*) FROM registry.outbox"), s_head ());
    s_check_exactly_once (30000);
}

static bool
s_audit2_leads (void *arg)
{
    (void) arg;
    const char *path = lg_test_log_path (s_audit2.pid);
    char *cmd = zsys_sprintf ("grep -q 'leads the background duties' %s", path);
    bool found = system (cmd) == 0;
    zstr_free (&cmd);
    return found;
}

/* REQ X.2: two replicas: the standby takes over within 5 s of the leader's
   death and nothing is applied twice */
static void
test_x2_standby_takes_over (void **state)
{
    (void) state;
    s_start_ready (&s_audit2, NULL);
    zclock_sleep (1500);
    assert_false (s_audit2_leads (NULL));       //  the first one leads
    s_produce (20, "two-replicas");
    s_check_exactly_once (10000);
    int64_t killed = zclock_mono ();
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGKILL), 128 + SIGKILL);
    assert_true (lg_test_wait_for (s_audit2_leads, NULL, 5000));
    s_produce (200, "after-takeover");
    s_check_exactly_once (15000);
    fprintf (stderr, "standby took over and caught up in %" PRId64 " ms\n", zclock_mono () - killed);
    //  The old leader comes back as the standby
    s_start_ready (&s_audit, NULL);
    s_produce (20, "old-leader-back");
    s_check_exactly_once (10000);
}

//  Whether a replica leads now, by its log: its last word on leadership
static bool
s_leads_now (lg_test_proc_t *proc)
{
    char *cmd = zsys_sprintf ("grep -E 'leads the background duties|lost the leadership' %s"
                              " | tail -1 | grep -q 'leads the background'",
                              lg_test_log_path (proc->pid));
    bool leads = system (cmd) == 0;
    zstr_free (&cmd);
    return leads;
}

static bool
s_one_leader (void *arg)
{
    (void) arg;
    return s_leads_now (&s_audit) != s_leads_now (&s_audit2)
        && s_query_long ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                         " WHERE l.locktype = 'advisory' AND l.granted"
                         " AND a.usename = 'lgwan_audit'") == 1;
}

static bool
s_audit_leads (void *arg)
{
    (void) arg;
    return s_leads_now (&s_audit);
}

/* REQ X.2: the leader whose database session ends (its backend terminated,
   as by an operator or a quick restart of PostgreSQL) steps down, even
   though its connection is replaced at once and answers: one replica leads
   afterwards, and nothing is applied twice. Before, the replaced session
   held no lock and its replica went on leading, while the standby took the
   lock and led too */
static void
test_x2_leader_whose_session_ended_steps_down (void **state)
{
    (void) state;
    assert_true (lg_test_wait_for (s_one_leader, NULL, 5000));
    lg_test_proc_t *leader = s_leads_now (&s_audit)? &s_audit: &s_audit2;
    long killed = s_query_long ("SELECT count (*) FILTER (WHERE pg_terminate_backend (l.pid))"
                                " FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                                " WHERE l.locktype = 'advisory' AND l.granted"
                                " AND a.usename = 'lgwan_audit'");
    assert_int_equal (killed, 1);
    //  The old leader hears of it at its next look (every second)
    char *cmd = zsys_sprintf ("grep -q 'lost the leadership' %s", lg_test_log_path (leader->pid));
    bool stepped = false;
    for (int i = 0; i < 60 && !stepped; i++) {
        stepped = system (cmd) == 0;
        if (!stepped)
            zclock_sleep (100);
    }
    zstr_free (&cmd);
    assert_true (stepped);
    assert_true (lg_test_wait_for (s_one_leader, NULL, 5000));
    s_produce (20, "after-the-session-ended");
    s_check_exactly_once (10000);
    //  The tests after these stop s_audit to hold the stream: the standby
    //  goes, and s_audit leads again (it may not have: then the standby
    //  applied what those tests held back)
    assert_int_equal (lg_test_proc_stop (&s_audit2, SIGTERM), 0);
    assert_true (lg_test_wait_for (s_audit_leads, NULL, 10000));
    s_produce (5, "one-replica-again");
    s_check_exactly_once (10000);
}

//  A subscriber to everything the registry publishes, with who's certificate
static zsock_t *
s_subscriber (const char *who)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    char *cert = zsys_sprintf ("%s/clients/%s", s_certs, who);
    char *server = zsys_sprintf ("%s/services/registry", s_certs);
    assert_int_equal (lg_auth_client (sub, cert, server), 0);
    zsock_set_subscribe (sub, "");
    assert_int_equal (zsock_connect (sub, "%s", s_registry.pub), 0);
    zstr_free (&cert);
    zstr_free (&server);
    return sub;
}

//  How many messages each of n subscribers hears in the next ms
static void
s_listen (zsock_t **subs, int n, int ms, int *heard)
{
    for (int i = 0; i < n; i++)
        heard [i] = 0;
    int64_t until = zclock_mono () + ms;
    while (zclock_mono () < until) {
        for (int i = 0; i < n; i++)
            while (zsock_events (subs [i]) & ZMQ_POLLIN) {
                zmsg_t *msg = zmsg_recv (subs [i]);
                zmsg_destroy (&msg);
                heard [i]++;
            }
        zclock_sleep (20);
    }
}

/* REQ X.2: an event the consumer cannot read (here a name made invalid
   UTF-8 by hand in the outbox; a value a newer source added reads the same)
   is neither applied nor skipped: the stream waits at it, said once, and
   asks again at its poll, not as fast as the source can answer (it asked
   thousands of times a second, saying nothing). Put right, it goes on */
static void
test_x2_unreadable_event_holds_the_stream (void **state)
{
    (void) state;
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    s_produce (1, "unreadable-1");
    long seq = s_head ();
    char sql [400];
    snprintf (sql, sizeof sql, "UPDATE registry.outbox SET event = set_byte (event,"
              " position ('unreadable-1'::bytea IN event) - 1, 255) WHERE seq = %ld", seq);
    s_sql (sql);
    s_start_ready (&s_audit, NULL);
    long replays = lg_test_proc_served (&s_registry, s_certs, "replay");
    zclock_sleep (3000);
    replays = lg_test_proc_served (&s_registry, s_certs, "replay") - replays;
    print_message ("Replay requests in 3 s while held: %ld\n", replays);
    assert_true (replays < 100);
    assert_int_equal (s_query_long ("SELECT last_seq FROM audit.cursors"
                                    " WHERE source = 'registry'"), seq - 1);
    assert_int_equal (s_audit_said ("cannot be read by this build"), 1);

    snprintf (sql, sizeof sql, "UPDATE registry.outbox SET event = set_byte (event,"
              " position ('\\xff6e7265616461626c652d31'::bytea IN event) - 1, 117)"
              " WHERE seq = %ld", seq);
    s_sql (sql);
    s_check_exactly_once (10000);
}

//  The registry's Replay of up to limit events from seq, asked as a viewer;
//  answered OK
static lg_reply_t *
s_replay_as_viewer (long seq, uint32_t limit)
{
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "viewer");
    Lgwan__V1__Replay ask = LGWAN__V1__REPLAY__INIT;
    ask.from_seq = (uint64_t) seq;
    ask.limit = limit;
    lg_reply_t *reply = lg_test_call (client, LGWAN__V1__REQUEST__BODY_REPLAY, &ask, "");
    lg_client_destroy (&client);
    assert_non_null (reply);
    assert_int_equal (reply->status->code, LGWAN__V1__CODE__OK);
    return reply;
}

/* REQ X.1: Replay serves a row's bytes as stored, byte for byte, the chain
   links after them. It packed the row anew, which moved a field this build
   does not know (here one put in front by hand) and would have written a
   long varint shorter or, for a negative value, longer than the buffer */
static void
test_x1_replay_serves_the_stored_bytes (void **state)
{
    (void) state;
    s_produce (1, "stored-bytes");
    long seq = s_head ();
    char sql [200];
    snprintf (sql, sizeof sql, "UPDATE registry.outbox SET event = '\\x900301'::bytea || event"
                               " WHERE seq = %ld", seq);
    s_sql (sql);
    lg_reply_t *reply = s_replay_as_viewer (seq, 1);
    assert_int_equal (reply->replay->n_events, 1);
    snprintf (sql, sizeof sql, "SELECT length (event) FROM registry.outbox WHERE seq = %ld", seq);
    long stored = s_query_long (sql);
    const ProtobufCBinaryData *served = &reply->replay->events [0];
    assert_true ((long) served->len > stored);
    char *hex = lg_db_hex (served->data, (size_t) stored);
    char *check = zsys_sprintf ("SELECT count(*) FROM registry.outbox WHERE seq = %ld"
                                " AND event = '%s'::bytea", seq, hex);
    assert_int_equal (s_query_long (check), 1);
    zstr_free (&check);
    free (hex);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    snprintf (sql, sizeof sql, "UPDATE registry.outbox SET event = substr (event, 4)"
                               " WHERE seq = %ld", seq);
    s_sql (sql);
    s_check_exactly_once (10000);
}

/* REQ X.2: a source whose head is behind the consumer's cursor (here the
   cursor moved ahead by hand; a source restored from a backup looks the
   same) lost events the consumer applied, and its next events reuse their
   seqs: the consumer says so (it said nothing and took them for applied) */
static void
test_x2_source_behind_the_cursor_is_said (void **state)
{
    (void) state;
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    long head = s_head ();
    char sql [200];
    snprintf (sql, sizeof sql, "UPDATE audit.cursors SET last_seq = %ld"
                               " WHERE source = 'registry'", head + 3);
    s_sql (sql);
    s_start_ready (&s_audit, NULL);
    zclock_sleep (1000);
    assert_int_equal (s_audit_said ("behind our cursor"), 1);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    snprintf (sql, sizeof sql, "UPDATE audit.cursors SET last_seq = %ld"
                               " WHERE source = 'registry'", head);
    s_sql (sql);
    s_start_ready (&s_audit, NULL);
    s_check_exactly_once (10000);
}

//  The registry loses its events past seq, as a failover that lost its
//  last commits or a restore from a backup does
static void
s_lose_registry_events_after (long seq)
{
    char sql [400];
    snprintf (sql, sizeof sql, "BEGIN;"
              " DELETE FROM registry.outbox WHERE seq > %ld;"
              " UPDATE registry.outbox_head SET seq = %ld,"
              "  hash = (SELECT hash FROM registry.outbox WHERE seq = %ld);"
              " COMMIT", seq, seq, seq);
    s_sql (sql);
}

//  The operator's rewind of audit (lg_consumer.h note 8): what audit
//  applied past seq, where the chains part, taken out, and the cursor back
//  there with no link, so that what the source wrote anew is applied
static void
s_rewind_audit (long seq)
{
    char sql [400];
    snprintf (sql, sizeof sql, "BEGIN;"
              " DELETE FROM audit.provider_events WHERE source = 'registry' AND seq > %ld;"
              " UPDATE audit.cursors SET last_seq = %ld, last_hash = '\\x'"
              "  WHERE source = 'registry';"
              " COMMIT", seq, seq);
    s_sql (sql);
}

/* REQ X.2: a source that lost its last commits (a failover, a restore; here
   its newest rows deleted and its head moved back by hand while the
   consumer was down) and wrote others under their seqs and past our cursor,
   its head never seen behind us: the first event past the cursor does not
   follow the chain we applied, so the stream waits there, said once naming
   the seq, until an operator decides (the cursor, read again at the poll).
   Before, the rewritten events were taken for applied ones and the later
   ones applied without a word */
static void
test_x2_source_that_wrote_anew_holds_the_stream (void **state)
{
    (void) state;
    //  audit alone, its log the one read
    assert_int_equal (lg_test_proc_stop (&s_audit2, SIGTERM), 0);
    s_produce (5, "fork-old");
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    long head = s_head ();
    s_lose_registry_events_after (head - 3);
    s_produce (5, "fork-new");                  //  head - 2 .. head + 2, written anew
    assert_int_equal (s_head (), head + 2);
    s_start_ready (&s_audit, NULL);
    zclock_sleep (2000);
    assert_int_equal (s_query_long ("SELECT last_seq FROM audit.cursors"
                                    " WHERE source = 'registry'"), head);
    assert_int_equal (s_audit_said ("does not follow the one we applied before it"), 1);
    char *said = zsys_sprintf ("event registry/%ld does not follow", head + 1);
    assert_int_equal (s_audit_said (said), 1);
    zstr_free (&said);
    assert_int_equal (s_audit_said ("behind our cursor"), 0);

    //  The operator's decision: back to where the chains part, the new
    //  events applied
    s_rewind_audit (head - 3);
    s_check_exactly_once (10000);
}

/* REQ X.1, REQ X.2: a source that lost its last commits and wrote others
   under their seqs up to our cursor and no further (here while the consumer
   was down, stopped before a heartbeat recorded its last head) shows it
   only in its heartbeat: the head is our cursor, its hash not the one we
   applied. The consumer says so, and does not record that head: it took
   the heartbeat's hash as the head it had reached, said nothing, and
   `lgwanctl verify` then found the rewritten chain agreeing with it */
static void
test_x1_heartbeat_of_a_rewritten_head_is_said (void **state)
{
    (void) state;
    s_produce (5, "head-old");
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    long head = s_head ();
    char sql [600];
    snprintf (sql, sizeof sql, "UPDATE audit.cursors SET head_seq = %ld"
                               " WHERE source = 'registry'", head - 3);
    s_sql (sql);
    s_lose_registry_events_after (head - 3);
    s_produce (3, "head-new");                  //  head - 2 .. head, written anew
    assert_int_equal (s_head (), head);
    s_start_ready (&s_audit, NULL);
    zclock_sleep (2500);
    char *said = zsys_sprintf ("event registry/%ld is not the one we applied", head);
    assert_int_equal (s_audit_said (said), 1);
    zstr_free (&said);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM audit.cursors c, registry.outbox o"
                               " WHERE c.source = 'registry' AND o.seq = %ld"
                               " AND c.head_seq = o.seq AND c.head_hash = o.hash", head);
    assert_int_equal (s_query_long (sql), 0);

    //  The operator's decision, as for a stream held
    s_rewind_audit (head - 3);
    s_check_exactly_once (10000);
}

/* REQ X.1: a heartbeat whose head forks from the chain the consumer applied
   never replaces the head it recorded. Here the source lost its last
   commits and wrote others under their seqs, to a head below the
   consumer's cursor but past the head it had recorded (stopped before a
   heartbeat recorded its last ones): the recorded head is kept, so
   `lgwanctl verify` finds the rewritten chain disagreeing with it, and the
   head behind the cursor is said. Before, the heartbeat's head, a seq of
   the rewritten chain with its hash, replaced the recorded one, and verify
   found the rewritten chain agreeing with the evidence */
static void
test_x1_forked_heartbeat_keeps_the_recorded_head (void **state)
{
    (void) state;
    s_produce (5, "kept-old");
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    long head = s_head ();
    char sql [600];
    //  The last head audit recorded: head - 2, as the registry wrote it
    snprintf (sql, sizeof sql, "UPDATE audit.cursors SET head_seq = %ld, head_hash ="
                               " (SELECT hash FROM registry.outbox WHERE seq = %ld)"
                               " WHERE source = 'registry'", head - 2, head - 2);
    s_sql (sql);
    s_sql ("CREATE TABLE kept_head AS SELECT head_seq, head_hash FROM audit.cursors"
           " WHERE source = 'registry'");
    s_lose_registry_events_after (head - 3);
    s_produce (2, "kept-new");                  //  head - 2 .. head - 1, written anew
    assert_int_equal (s_head (), head - 1);
    s_start_ready (&s_audit, NULL);
    zclock_sleep (2500);                        //  a dozen heartbeats of head - 1
    //  The recorded head is the one audit had, not the heartbeat's
    assert_int_equal (s_query_long ("SELECT count(*) FROM audit.cursors c, kept_head k"
                                    " WHERE c.source = 'registry' AND c.head_seq = k.head_seq"
                                    " AND c.head_hash = k.head_hash"), 1);
    //  ... which the rewritten chain contradicts, as verify tells
    snprintf (sql, sizeof sql, "SELECT count(*) FROM audit.cursors c, registry.outbox o"
                               " WHERE c.source = 'registry' AND o.seq = c.head_seq"
                               " AND o.hash <> c.head_hash AND o.seq = %ld", head - 2);
    assert_int_equal (s_query_long (sql), 1);
    assert_int_equal (s_audit_said ("behind our cursor"), 1);
    s_sql ("DROP TABLE kept_head");

    //  The operator's decision (no fork was held, so audit reads its cursor
    //  at start): back to where the chains part, the recorded head with it
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    s_rewind_audit (head - 3);
    s_sql ("UPDATE audit.cursors SET head_seq = 0, head_hash = '\\x' WHERE source = 'registry'");
    s_start_ready (&s_audit, NULL);
    s_check_exactly_once (10000);
}

/* REQ X.2: a batch applied the careful way (lg_consumer.h note 5), each
   event's savepoint released with the next one's SAVEPOINT: the events
   around a poison one (refused for good by a trigger here) are applied in
   the batch, the poison one said and skipped, the cursor past all three */
static void
test_x2_careful_way_applies_around_a_poison_event (void **state)
{
    (void) state;
    s_check_exactly_once (10000);
    //  audit alone, its log the one read
    assert_int_equal (lg_test_proc_stop (&s_audit2, SIGTERM), 0);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    long before = s_head ();
    char sql [400];
    snprintf (sql, sizeof sql, "CREATE FUNCTION audit.test_poison () RETURNS trigger"
              " LANGUAGE plpgsql AS $$ BEGIN IF NEW.seq = %ld THEN RAISE EXCEPTION 'poison';"
              " END IF; RETURN NEW; END $$", before + 2);
    s_sql (sql);
    s_sql ("CREATE TRIGGER test_poison BEFORE INSERT ON audit.provider_events"
           " FOR EACH ROW EXECUTE FUNCTION audit.test_poison ()");
    s_produce (3, "poison");                    //  one batch when audit starts
    s_start_ready (&s_audit, NULL);
    assert_true (lg_test_wait_for (s_caught_up, NULL, 10000));
    snprintf (sql, sizeof sql, "SELECT count(*) FROM audit.provider_events WHERE seq > %ld",
              before);
    assert_int_equal (s_query_long (sql), 2);
    char *said = zsys_sprintf ("event registry/%ld not applied; moving on", before + 2);
    assert_int_equal (s_audit_said (said), 1);
    zstr_free (&said);
    s_sql ("DROP TRIGGER test_poison ON audit.provider_events");
    s_sql ("DROP FUNCTION audit.test_poison ()");
    //  What the other tests count: the skipped event applied, the cursor put
    //  back before it by hand, with the link it must name
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    snprintf (sql, sizeof sql, "BEGIN;"
              " DELETE FROM audit.provider_events WHERE source = 'registry' AND seq > %ld;"
              " UPDATE audit.cursors SET last_seq = %ld, last_hash = (SELECT hash"
              "  FROM registry.outbox WHERE seq = %ld) WHERE source = 'registry';"
              " COMMIT", before + 1, before + 1, before + 1);
    s_sql (sql);
    s_start_ready (&s_audit, NULL);
    s_check_exactly_once (10000);
}

/* REQ X.2: a row the source cannot decode as an Event (here its bytes made
   by hand a field of wire type 7) is served by Replay as stored, links
   after, and the consumer names it at its seq, known from its place in the
   page, and waits there, said once. Before, Replay left it out: the
   consumer logged "replayed a gap" at every poll, without its seq */
static void
test_x2_row_that_does_not_decode_is_named (void **state)
{
    (void) state;
    s_check_exactly_once (10000);
    //  audit alone, its log the one read
    assert_int_equal (lg_test_proc_stop (&s_audit2, SIGTERM), 0);
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
    s_produce (2, "undecodable");
    long seq = s_head () - 1;                   //  the first of the two
    char sql [300];
    snprintf (sql, sizeof sql, "CREATE TABLE registry.test_saved AS SELECT event"
                               " FROM registry.outbox WHERE seq = %ld", seq);
    s_sql (sql);
    snprintf (sql, sizeof sql, "UPDATE registry.outbox SET event = '\\x0f'::bytea"
                               " WHERE seq = %ld", seq);
    s_sql (sql);

    //  Replay serves it, the stored byte first
    lg_reply_t *reply = s_replay_as_viewer (seq, 2);
    assert_int_equal (reply->replay->n_events, 2);
    assert_true (reply->replay->events [0].len > 1);
    assert_int_equal (reply->replay->events [0].data [0], 0x0f);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  The consumer names it and waits at it
    s_start_ready (&s_audit, NULL);
    zclock_sleep (2000);
    assert_int_equal (s_query_long ("SELECT last_seq FROM audit.cursors"
                                    " WHERE source = 'registry'"), seq - 1);
    char *said = zsys_sprintf ("event registry/%ld cannot be read by this build", seq);
    assert_int_equal (s_audit_said (said), 1);
    zstr_free (&said);
    assert_int_equal (s_audit_said ("replayed a gap"), 0);

    snprintf (sql, sizeof sql, "UPDATE registry.outbox SET event = (SELECT event FROM"
                               " registry.test_saved) WHERE seq = %ld", seq);
    s_sql (sql);
    s_sql ("DROP TABLE registry.test_saved");
    s_check_exactly_once (10000);
}

/* REQ X.2: a server short of disk (SQLSTATE 53100, raised here by a trigger
   on the table audit writes) holds the event until it can be written; it
   was taken for poison, skipped for good, and the cursor moved past it */
static void
test_x2_server_short_of_disk_holds_the_event (void **state)
{
    (void) state;
    s_check_exactly_once (10000);
    s_sql ("CREATE FUNCTION audit.test_disk_full () RETURNS trigger LANGUAGE plpgsql AS"
           " $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$");
    s_sql ("CREATE TRIGGER test_disk_full BEFORE INSERT ON audit.provider_events"
           " FOR EACH ROW EXECUTE FUNCTION audit.test_disk_full ()");
    s_produce (3, "disk-full");
    zclock_sleep (2000);
    long head = s_head ();
    assert_true (s_query_long ("SELECT last_seq FROM audit.cursors"
                               " WHERE source = 'registry'") < head);
    assert_true (s_audit_said ("not applied yet; trying again") >= 1);
    assert_int_equal (s_audit_said ("not applied; moving on"), 0);
    s_sql ("DROP TRIGGER test_disk_full ON audit.provider_events");
    s_sql ("DROP FUNCTION audit.test_disk_full ()");
    s_check_exactly_once (10000);
}

/* REQ X.2: a privilege the consumer's role lost (INSERT on the table audit
   writes, revoked by hand here) holds the events until it is granted again,
   said in the log; the failure says nothing of the events. Each was taken
   for poison and skipped for good while the grant was missing, the cursor
   moved past all of them */
static void
test_x2_privilege_revoked_holds_the_events (void **state)
{
    (void) state;
    s_check_exactly_once (10000);
    long tried = s_audit_said ("not applied yet; trying again");
    long skipped = s_audit_said ("not applied; moving on");
    s_sql ("REVOKE INSERT ON audit.provider_events FROM lgwan_audit");
    s_produce (3, "revoked");
    zclock_sleep (2000);
    long head = s_head ();
    long cursor = s_query_long ("SELECT last_seq FROM audit.cursors WHERE source = 'registry'");
    s_sql ("GRANT INSERT ON audit.provider_events TO lgwan_audit");
    assert_true (cursor < head);
    assert_true (s_audit_said ("not applied yet; trying again") > tried);
    assert_int_equal (s_audit_said ("not applied; moving on"), skipped);
    s_check_exactly_once (10000);
}

/* REQ X.2: a write that fails for a reason of the moment is answered
   UNAVAILABLE, not stored, so the client asks again with the same
   request_id and it is done then: the server short of disk (53100), or a
   deadlock lost at every run (40P01; raised by a trigger on the table the
   registry writes). Both were answered INTERNAL, which every client takes
   as final */
static void
test_x2_write_failed_for_the_moment_is_unavailable (void **state)
{
    (void) state;
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "operator");
    lg_client_set_timeout (client, 5000, 0);
    long head = s_head ();
    const char *states [] = { "53100", "40P01" };
    for (int i = 0; i < 2; i++) {
        char sql [300], id [32];
        snprintf (sql, sizeof sql, "CREATE FUNCTION registry.test_moment () RETURNS trigger"
                  " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'of the moment' USING ERRCODE"
                  " = '%s'; END $$", states [i]);
        s_sql (sql);
        s_sql ("CREATE TRIGGER test_moment BEFORE INSERT ON registry.providers"
               " FOR EACH ROW EXECUTE FUNCTION registry.test_moment ()");
        snprintf (id, sizeof id, "moment-%s", states [i]);
        assert_int_equal (s_apply (client, id, id), LGWAN__V1__CODE__UNAVAILABLE);
        assert_int_equal (s_head (), head);
        s_sql ("DROP TRIGGER test_moment ON registry.providers");
        s_sql ("DROP FUNCTION registry.test_moment ()");
        assert_int_equal (s_apply (client, id, id), LGWAN__V1__CODE__OK);
        assert_int_equal (s_head (), ++head);
    }
    lg_client_destroy (&client);
    s_check_exactly_once (10000);
}

//  Audit heard the registry again after each time it could not replay
static bool
s_audit_hears_registry (void *arg)
{
    (void) arg;
    return s_audit_said ("registry answers again") >= s_audit_said ("could not replay registry");
}

/* REQ X.2: a Replay the source queued behind a busy worker is waited for.
   A source keeps a request that finds every worker busy queued for up to
   LG_MAX_QUEUE_MS (3 s by default) and then runs it; the consumer gave its
   Replay up after 2 s, made its socket anew (the answer to come was lost)
   and asked again at the back of the queue: under load, catch-up timed out
   requests the source was still to answer, and stalled. Its wait is now
   derived from the queue's bound and exceeds it. Here the registry has one
   worker, held 3 s by a write (fault point write_stall_before_commit):
   audit's Replay waits some 2.5 s in the queue and is answered; the old
   consumer said "could not replay registry from N: no answer". */
static void
test_x2_replay_queued_behind_a_busy_worker_is_waited_for (void **state)
{
    (void) state;
    s_produce (1, "before-queued-replay");
    s_check_exactly_once (10000);
    assert_int_equal (lg_test_proc_stop (&s_registry, SIGTERM), 0);
    const char *env [] = { "LG_HEARTBEAT_MS=200", "LG_LOG_LEVEL=info", "LG_WORKERS=1",
                           "LG_FAULTS=write_stall_before_commit", NULL };
    lg_test_proc_spawn (&s_registry, s_admin, s_certs, NULL, env);
    assert_true (lg_test_wait_for (s_answers, &s_registry, 15000));
    assert_true (lg_test_wait_for (s_audit_hears_registry, NULL, 10000));
    long unanswered = s_audit_said ("no answer");
    s_produce (1, "queued-replay");
    s_check_exactly_once (15000);
    print_message ("  audit gave up %ld Replay(s) the registry had queued\n",
                   s_audit_said ("no answer") - unanswered);
    assert_int_equal (s_audit_said ("no answer"), unanswered);
    assert_int_equal (lg_test_proc_stop (&s_registry, SIGTERM), 0);
    s_start_ready (&s_registry, NULL);
}

/* REQ X.3: a provider certificate gets no Replay and no events */
static void
test_x3_provider_reads_no_stream (void **state)
{
    (void) state;
    lg_client_t *client = lg_test_proc_client (&s_registry, s_certs, "provider1");
    lg_client_set_timeout (client, 2000, 0);
    Lgwan__V1__Replay ask = LGWAN__V1__REPLAY__INIT;
    ask.from_seq = 1;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_REPLAY;
    request.replay = &ask;
    lg_reply_t *reply = NULL;
    assert_int_equal (lg_client_call (client, &request, &reply), 0);
    assert_int_equal (reply->status->code, LGWAN__V1__CODE__PERMISSION_DENIED);
    assert_string_equal (reply->status->requirement, "X.3");
    assert_int_equal (reply->replay? reply->replay->n_events: 0, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    free (request.request_id);
    lg_client_destroy (&client);

    //  Subscribers: a viewer hears heartbeats and events, a provider nothing
    zsock_t *subs [2] = { s_subscriber ("viewer"), s_subscriber ("provider1") };
    zclock_sleep (500);
    s_produce (5, "stream-auth");
    int heard [2];
    s_listen (subs, 2, 1500, heard);
    assert_true (heard [0] >= 5);
    assert_int_equal (heard [1], 0);
    zsock_destroy (&subs [0]);
    zsock_destroy (&subs [1]);
}

/* REQ X.3: a revoked certificate stops receiving events on the subscription
   it opened before, without a restart; the others go on, and a consumer
   still holds every event exactly once */
static void
test_x3_revoked_subscriber_hears_no_more (void **state)
{
    (void) state;
    zsock_t *subs [2] = { s_subscriber ("viewer"), s_subscriber ("auditor") };
    zclock_sleep (500);
    s_produce (3, "before-revoke");
    int heard [2];
    s_listen (subs, 2, 1000, heard);
    assert_true (heard [0] >= 3 && heard [1] >= 3);

    char why [256];
    assert_int_equal (lg_auth_revoke (s_certs, "viewer", why, sizeof why), 0);
    //  A heartbeat (200 ms here) later the stream is bound anew and the
    //  auditor connected again
    s_listen (subs, 2, 1500, heard);
    s_produce (5, "after-revoke");
    s_listen (subs, 2, 1500, heard);
    assert_int_equal (heard [0], 0);
    assert_true (heard [1] >= 5);
    zsock_destroy (&subs [0]);
    zsock_destroy (&subs [1]);
    s_check_exactly_once (10000);
}

int
main (int argc, char **argv)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_x2_catch_up_after_restart),
        cmocka_unit_test (test_x2_tiny_hwm),
        cmocka_unit_test (test_x2_kill_after_commit_before_publish),
        cmocka_unit_test (test_x2_kill_after_apply_before_cursor),
        cmocka_unit_test (test_x2_kill9_under_traffic),
        cmocka_unit_test (test_x2_standby_takes_over),
        cmocka_unit_test (test_x2_leader_whose_session_ended_steps_down),
        cmocka_unit_test (test_x2_unreadable_event_holds_the_stream),
        cmocka_unit_test (test_x2_server_short_of_disk_holds_the_event),
        cmocka_unit_test (test_x2_privilege_revoked_holds_the_events),
        cmocka_unit_test (test_x2_write_failed_for_the_moment_is_unavailable),
        cmocka_unit_test (test_x2_replay_queued_behind_a_busy_worker_is_waited_for),
        cmocka_unit_test (test_x1_replay_serves_the_stored_bytes),
        cmocka_unit_test (test_x2_source_behind_the_cursor_is_said),
        cmocka_unit_test (test_x2_source_that_wrote_anew_holds_the_stream),
        cmocka_unit_test (test_x1_heartbeat_of_a_rewritten_head_is_said),
        cmocka_unit_test (test_x1_forked_heartbeat_keeps_the_recorded_head),
        cmocka_unit_test (test_x2_row_that_does_not_decode_is_named),
        cmocka_unit_test (test_x2_careful_way_applies_around_a_poison_event),
        cmocka_unit_test (test_x3_provider_reads_no_stream),
        cmocka_unit_test (test_x3_revoked_subscriber_hears_no_more),
    };
    if (argc > 1)                       //  one test, or a pattern of them
        cmocka_set_test_filter (argv [1]);
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
