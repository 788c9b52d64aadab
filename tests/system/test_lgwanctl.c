/*  System test of lgwanctl against the real registry and audit services:
    requests, refusals and exit codes, Japanese text through --json, events
    tail, and `lgwanctl verify` catching an edited and a cut event chain.
    Answers the real services never give (control characters in a refusal,
    events this build cannot read, a page that does not advance) come from
    a fake service in this process, reached through the same CURVE and zauth.
*/
#include "lg_test.h"
#include <sys/stat.h>

static char *s_admin;
static char *s_certs;
static lg_test_proc_t s_registry = { .service = "registry" };
static lg_test_proc_t s_audit = { .service = "audit" };
static lg_test_proc_t *const s_follow_registry [] = { &s_registry, NULL };

static void
s_start (lg_test_proc_t *p, lg_test_proc_t *const *follows)
{
    const char *const extra [] = { "LG_HEARTBEAT_MS=100", NULL };
    lg_test_proc_spawn (p, s_admin, s_certs, follows, extra);
    assert_true (p->pid > 0);
    //  lgwanctl finds the service as any client would: LG_<SVC>_CONNECT
    lg_test_proc_export (p);
}

//  Run lgwanctl with a shell command line; stdout into *out (caller frees).
//  One that runs a minute is stopped (exit 124): a loop fails its test
//  instead of hanging the run
static int
s_ctl (char **out, const char *who, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *line = zsys_vprintf (format, args);
    va_end (args);
    char *binary = lg_test_lgwanctl_binary ();
    char *cmd = zsys_sprintf ("LGWANCTL_CERT=%s/clients/%s timeout 60 %s %s 2>>%s/lgwanctl.err",
                              s_certs, who, binary, line, s_certs);
    FILE *pipe = popen (cmd, "r");
    assert_non_null (pipe);
    size_t size = 0, cap = 4096;
    char *text = (char *) malloc (cap);
    size_t got;
    while ((got = fread (text + size, 1, cap - size - 1, pipe)) > 0) {
        size += got;
        if (cap - size < 1024)
            text = (char *) realloc (text, cap *= 2);
    }
    text [size] = 0;
    int status = pclose (pipe);
    if (out)
        *out = text;
    else
        free (text);
    zstr_free (&line);
    zstr_free (&binary);
    zstr_free (&cmd);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  How much lgwanctl has written on stderr so far (in lgwanctl.err)
static long
s_err_mark (void)
{
    char *path = zsys_sprintf ("%s/lgwanctl.err", s_certs);
    struct stat st;
    long size = stat (path, &st) == 0? (long) st.st_size: 0;
    zstr_free (&path);
    return size;
}

//  What lgwanctl wrote on stderr after mark; caller frees
static char *
s_err_since (long mark)
{
    char *path = zsys_sprintf ("%s/lgwanctl.err", s_certs);
    FILE *file = fopen (path, "r");
    zstr_free (&path);
    assert_non_null (file);
    fseek (file, 0, SEEK_END);
    long size = ftell (file) - mark;
    assert_true (size >= 0);
    char *text = (char *) zmalloc ((size_t) size + 1);
    fseek (file, mark, SEEK_SET);
    assert_int_equal (fread (text, 1, (size_t) size, file), (size_t) size);
    fclose (file);
    return text;
}

//  --------------------------------------------------------------------------
//  A fake service: a CURVE server with zauth on the test's certificates, as
//  a real one, that answers its nth request (from 0) with what answer fills
//  in (static data; the reply is packed before the next request comes).
//  lgwanctl finds it through LG_<SERVICE>_CONNECT.

typedef void (s_answer_fn) (const lg_request_t *request, lg_reply_t *reply, int nth);

//  The one fake (one zauth per process); a test that failed leaves it
//  running for the next start or the teardown to stop
static struct {
    const char *service;
    s_answer_fn *answer;
    zactor_t *actor;
    char variable [64];         //  LG_<SERVICE>_CONNECT
} s_fake;

static void
s_fake_actor (zsock_t *pipe, void *arg)
{
    (void) arg;
    lg_auth_t *auth = lg_auth_new (s_certs);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    int port = -1;
    if (auth && router && lg_auth_server (auth, router, s_fake.service) == 0)
        port = zsock_bind (router, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zstr_sendf (pipe, "tcp://127.0.0.1:%d", port);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    for (int nth = 0; port > 0 && zpoller_wait (poller, -1) == router; nth++) {
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (msg);
        zframe_t *payload = zmsg_pop (msg);
        lg_request_t *request = payload? lgwan__v1__request__unpack (NULL, zframe_size (payload),
                                                                     zframe_data (payload)): NULL;
        lg_status_t status = LGWAN__V1__STATUS__INIT;
        lg_reply_t reply = LGWAN__V1__REPLY__INIT;
        reply.status = &status;
        if (request) {
            reply.request_id = request->request_id;
            s_fake.answer (request, &reply, nth);
        }
        zframe_t *frame = lg_codec_frame (&reply.base);
        zmsg_t *answer = zmsg_new ();
        zmsg_append (answer, &identity);
        zmsg_append (answer, &frame);
        zmsg_send (&answer, router);
        if (request)
            lgwan__v1__request__free_unpacked (request, NULL);
        zframe_destroy (&payload);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    lg_auth_destroy (&auth);
}

static void
s_fake_stop (void)
{
    if (s_fake.actor) {
        zactor_destroy (&s_fake.actor);
        unsetenv (s_fake.variable);
    }
}

//  Start a fake of service answering with answer, and point lgwanctl at it
static void
s_fake_start (const char *service, s_answer_fn *answer)
{
    s_fake_stop ();
    s_fake.service = service;
    s_fake.answer = answer;
    s_fake.actor = zactor_new (s_fake_actor, NULL);
    assert_non_null (s_fake.actor);
    char *endpoint = zstr_recv (s_fake.actor);
    assert_non_null (endpoint);
    assert_null (strstr (endpoint, ":-1"));
    snprintf (s_fake.variable, sizeof s_fake.variable, "LG_%s_CONNECT", service);
    for (char *c = s_fake.variable; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    setenv (s_fake.variable, endpoint, 1);
    zstr_free (&endpoint);
}

static bool
s_serving (void *arg)
{
    lg_test_proc_t *p = (lg_test_proc_t *) arg;
    return s_ctl (NULL, "viewer", "stats show --service %s --timeout 300 --retries 0",
                  p->service) == 0;
}

static bool
s_audit_caught_up (void *arg)
{
    (void) arg;
    char *out = NULL;
    int rc = s_ctl (&out, "viewer", "cursors show --service audit --json");
    char *head = NULL;
    int rc2 = s_ctl (&head, "viewer", "replay list --service registry --from-seq 999999 --json");
    bool done = false;
    if (rc == 0 && rc2 == 0) {
        json_t *c = json_loads (out, 0, NULL), *h = json_loads (head, 0, NULL);
        json_t *cursor = json_array_get (json_object_get (c, "cursors"), 0);
        const char *last = json_string_value (json_object_get (cursor, "lastSeq"));
        const char *seen = json_string_value (json_object_get (cursor, "headSeq"));
        const char *want = json_string_value (json_object_get (h, "headSeq"));
        done = last && want && seen && streq (last, want) && streq (seen, want);
        json_decref (c);
        json_decref (h);
    }
    free (out);
    free (head);
    return done;
}

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    s_admin = lg_test_db_new ("lgwanctl");
    s_certs = lg_test_certs_new ();
    setenv ("LG_CERT_DIR", s_certs, 1);
    s_start (&s_registry, NULL);
    assert_true (lg_test_wait_for (s_serving, &s_registry, 15000));
    s_start (&s_audit, s_follow_registry);
    assert_true (lg_test_wait_for (s_serving, &s_audit, 15000));
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    s_fake_stop ();
    lg_test_proc_teardown (&s_audit);
    lg_test_proc_teardown (&s_registry);
    lg_test_certs_destroy (&s_certs);
    lg_test_db_drop (&s_admin);
    return 0;
}

/* REQ R3.1: refusals name their requirement, exit codes say what happened */
static void
test_requests_and_exit_codes (void **state)
{
    (void) state;
    char *out = NULL;
    const char *name = "株式会社ＬＧＷＡＮ試験'\"; DROP TABLE providers; --";
    char *quoted = zsys_sprintf ("'%s'", "株式会社ＬＧＷＡＮ試験'\\''\"; DROP TABLE providers; --");
    assert_int_equal (s_ctl (&out, "operator", "provider apply --name-ja %s --entity-type "
                             "PRIVATE_CORPORATION --corporate-number 7123456789012 --json", quoted), 0);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    json_t *provider = json_object_get (json, "provider");
    assert_string_equal (json_string_value (json_object_get (provider, "nameJa")), name);
    const char *id = json_string_value (json_object_get (provider, "id"));
    assert_non_null (id);
    char *id_copy = strdup (id);
    json_decref (json);
    free (out);

    //  Read back, by a viewer, byte-exact
    assert_int_equal (s_ctl (&out, "viewer", "provider show --provider %s --json", id_copy), 0);
    json = json_loads (out, 0, NULL);
    assert_string_equal (json_string_value (json_object_get (json_object_get (json, "provider"),
                                                             "nameJa")), name);
    json_decref (json);
    free (out);

    //  A refusal: exit 1, the requirement ID in the JSON
    assert_int_equal (s_ctl (&out, "operator", "provider apply --name-ja x --entity-type 6"
                             " --corporate-number 7123456789013 --json"), 1);
    json = json_loads (out, 0, NULL);
    assert_string_equal (json_string_value (json_object_get (json, "code")), "INVALID_ARGUMENT");
    assert_string_equal (json_string_value (json_object_get (json, "requirement")), "R3.1");
    json_decref (json);
    free (out);

    //  Permission: a viewer may not file
    assert_int_equal (s_ctl (NULL, "viewer", "provider apply --name-ja x --entity-type 7"), 1);
    //  Usage: an unknown flag
    assert_int_equal (s_ctl (NULL, "operator", "provider apply --hosts x"), 2);
    //  Unavailable: nobody at that endpoint
    assert_int_equal (s_ctl (NULL, "operator", "provider show --provider 1 --endpoint "
                             "tcp://127.0.0.1:%d --timeout 200 --retries 1",
                             lg_test_free_port ()), 3);
    free (id_copy);
    zstr_free (&quoted);
}

/* REQ X.3: db init against a PostgreSQL server that does not answer (no
   socket there, nothing listening on the port) says so once, tries no other
   service, and exits 3 as every command does when nobody answers: nothing
   was done, and the same command may be run again. Before, it exited 1, as
   for a service the server refused. */
static void
test_x3_db_init_unreachable_server_exits_3 (void **state)
{
    (void) state;
    const char *dsns [] = { "host=/nonexistent dbname=x user=y", NULL };
    char *tcp = zsys_sprintf ("host=127.0.0.1 port=%d dbname=x user=y", lg_test_free_port ());
    dsns [1] = tcp;
    for (size_t i = 0; i < sizeof dsns / sizeof dsns [0]; i++) {
        long mark = s_err_mark ();
        char *out = NULL;
        assert_int_equal (s_ctl (&out, "operator", "db init --admin-dsn '%s' --json",
                                 dsns [i]), 3);
        json_t *json = json_loads (out, 0, NULL);
        assert_non_null (json);
        assert_string_equal (json_string_value (json_object_get (json, "database")), "x");
        assert_string_equal (json_string_value (json_object_get (json, "registry")), "failed");
        assert_string_equal (json_string_value (json_object_get (json, "isolation")),
                             "not tried");
        json_decref (json);
        free (out);
        char *errors = s_err_since (mark);
        char *first = strstr (errors, "could not prepare registry: could not connect");
        assert_non_null (first);
        assert_null (strstr (first + 1, "could not prepare"));
        free (errors);
    }
    zstr_free (&tcp);
}

/* REQ X.3: a server that answers and refuses the connection (a role it
   does not know, a wrong password) is a failure to say, exit 1, and every
   service is tried: it is not "not answering" (exit 3, "may be run again").
   db init judged "unreachable" by libpq's words "could not connect", which
   it also says of a refused role, so a wrong password read as a server away. */
static void
test_x3_db_init_refused_connection_is_no_absent_server (void **state)
{
    (void) state;
    long mark = s_err_mark ();
    char *out = NULL;
    int rc = s_ctl (&out, "operator", "db init --admin-dsn 'host=%s dbname=x user=no_such_role'"
                    " --service registry --service isolation --json",
                    getenv ("LG_TEST_PGHOST"));
    char *errors = s_err_since (mark);
    if (rc != 1)
        fail_msg ("db init refused by the server said %d: %s%s", rc, out? out: "", errors);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    assert_string_equal (json_string_value (json_object_get (json, "registry")), "failed");
    assert_string_equal (json_string_value (json_object_get (json, "isolation")), "failed");
    json_decref (json);
    free (out);
    assert_non_null (strstr (errors, "could not prepare registry: the server refused the connection"));
    assert_non_null (strstr (errors, "no_such_role"));
    free (errors);
}

/* REQ X.3: a certificate the service does not let in (revoked, or never
   allowed) is refused at once, exit 1, UNAUTHENTICATED naming X.3 and
   "nothing was done", without the hint that repeats a request whose outcome
   is not known: the request never went past the handshake. Before, every
   try went unanswered and it ended UNAVAILABLE (exit 3), "whether it was
   done is not known", after every retry. */
static void
test_x3_certificate_refused_is_said (void **state)
{
    (void) state;
    assert_int_equal (s_ctl (NULL, "operator", "keygen --role viewer --name refused-x"), 0);
    assert_int_equal (s_ctl (NULL, "operator", "cert revoke --name refused-x"), 0);
    //  revoked, and a key never in allowed/ (lg_test_certs_new's stranger)
    const char *who [] = { "refused-x", "stranger" };
    for (size_t i = 0; i < sizeof who / sizeof who [0]; i++) {
        long mark = s_err_mark ();
        int64_t started = zclock_mono ();
        char *out = NULL;
        int rc = s_ctl (&out, who [i], "provider show --provider 1 --json --timeout 2000"
                        " --retries 3");
        int64_t took = zclock_mono () - started;
        char *err = s_err_since (mark);
        json_t *json = json_loads (out, 0, NULL);
        if (rc != 1 || !json
        ||  !streq (json_string_value (json_object_get (json, "code")) ?: "", "UNAUTHENTICATED")
        ||  !streq (json_string_value (json_object_get (json, "requirement")) ?: "", "X.3")
        ||  !strstr (json_string_value (json_object_get (json, "message")) ?: "",
                     "registry refused our certificate")
        ||  !strstr (json_string_value (json_object_get (json, "message")) ?: "",
                     "nothing was done")
        ||  strstr (err, "whether it was done is not known") || took > 5000)
            fail_msg ("a call with %s said %d in %" PRId64 " ms: %s%s", who [i], rc, took, out,
                      err);
        json_decref (json);
        free (out);
        free (err);
    }
    //  For people, and through the local verbs' calls (events tail)
    long mark = s_err_mark ();
    assert_int_equal (s_ctl (NULL, "refused-x", "provider show --provider 1"), 1);
    assert_int_equal (s_ctl (NULL, "refused-x", "events tail --service registry"), 1);
    char *err = s_err_since (mark);
    assert_non_null (strstr (err, "lgwanctl: registry refused our certificate (LGWANCTL_CERT "));
    assert_non_null (strstr (err, "(UNAUTHENTICATED, requirement X.3)"));
    free (err);
}

//  The request_id of the last "repeats it safely" hint lgwanctl wrote
static char *
s_repeat_hint (void)
{
    char *path = zsys_sprintf ("%s/lgwanctl.err", s_certs);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    char line [1024], *id = NULL;
    while (fgets (line, sizeof line, file)) {
        char *at = strstr (line, "the same command with --request-id ");
        if (at) {
            free (id);
            id = strndup (at + 35, strcspn (at + 35, " \n"));
        }
    }
    fclose (file);
    zstr_free (&path);
    assert_non_null (id);
    return id;
}

/* REQ X.2: when nobody knows whether a request was done (no reply, or
   UNAVAILABLE), lgwanctl says how to repeat it safely, and repeating it so
   does it once: the service answers the second try with the first reply. */
static void
test_x2_unknown_outcome_repeats_safely (void **state)
{
    (void) state;
    const char *apply = "provider apply --name-ja 再送試験 --entity-type VOLUNTARY_ORGANISATION --json";
    assert_int_equal (s_ctl (NULL, "operator", "%s --endpoint tcp://127.0.0.1:%d --timeout 200"
                             " --retries 0", apply, lg_test_free_port ()), 3);
    char *id = s_repeat_hint ();
    char *first = NULL, *second = NULL;
    assert_int_equal (s_ctl (&first, "operator", "%s --request-id %s", apply, id), 0);
    assert_int_equal (s_ctl (&second, "operator", "%s --request-id %s", apply, id), 0);
    assert_string_equal (first, second);
    json_t *json = json_loads (first, 0, NULL);
    assert_non_null (json);
    assert_string_equal (json_string_value (json_object_get (json_object_get (json, "provider"),
                                                             "nameJa")), "再送試験");
    json_decref (json);
    char *sql = zsys_sprintf ("SELECT count(*) FROM registry.providers WHERE name_ja = '再送試験'");
    PGconn *conn = PQconnectdb (s_admin);
    PGresult *res = PQexec (conn, sql);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    assert_string_equal (PQgetvalue (res, 0, 0), "1");
    PQclear (res);
    PQfinish (conn);
    zstr_free (&sql);
    free (first);
    free (second);
    free (id);
}

//  Billing's answers for test_x3_server_text_is_escaped: UNAVAILABLE, then a
//  refusal, every text with control characters in it
static void
s_answer_hostile (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) request;
    if (nth % 2 == 0) {
        reply->status->code = LGWAN__V1__CODE__UNAVAILABLE;
        reply->status->message = (char *) "database\x1b[2J away";
    }
    else {
        reply->status->code = LGWAN__V1__CODE__FAILED_PRECONDITION;
        reply->status->message = (char *) "not\x1b[31m qualified\nnow";
        reply->status->requirement = (char *) "R4.1\x1b[0m";
        reply->status->detail = (char *) "a\nb\x07";
    }
}

/* REQ X.3: what a service sends is printed for people with its control
   characters escaped, so a refusal or an event cannot drive the terminal
   (clear it, rewrite lines, set its title); --json stays JSON. Before, the
   refusal, its detail and the events tail line went out raw. */
static void
test_x3_server_text_is_escaped (void **state)
{
    (void) state;
    //  1. A reason with an escape sequence and a newline, copied into the event
    assert_int_equal (s_ctl (NULL, "operator", "provider apply --name-ja 端末試験 --entity-type "
                             "VOLUNTARY_ORGANISATION --reason \"$(printf 'a\\033[2J\\nb')\""), 0);
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "viewer", "events tail --service registry"), 0);
    if (!strstr (out, "a\\u001b[2J\\nb") || strchr (out, 0x1b))
        fail_msg ("events tail: %s", out);
    free (out);

    //  2. UNAVAILABLE, then a refusal, with escapes in every text
    s_fake_start ("billing", s_answer_hostile);
    long mark = s_err_mark ();
    assert_int_equal (s_ctl (NULL, "operator", "stats show --service billing --retries 1"), 1);
    char *err = s_err_since (mark);
    if (!strstr (err, "lgwanctl: database\\u001b[2J away (UNAVAILABLE); asking again")
    ||  !strstr (err, "lgwanctl: not\\u001b[31m qualified\\nnow (FAILED_PRECONDITION,"
                      " requirement R4.1\\u001b[0m)\n")
    ||  !strstr (err, "detail: a\\nb\\u0007\n")
    ||  strchr (err, 0x1b) || strchr (err, 0x07))
        fail_msg ("stderr: %s", err);
    free (err);
    //  --json: the status as JSON, jansson's escapes
    assert_int_equal (s_ctl (&out, "operator", "stats show --service billing --retries 1 --json"), 1);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    assert_string_equal (json_string_value (json_object_get (json, "message")),
                         "not\x1b[31m qualified\nnow");
    assert_string_equal (json_string_value (json_object_get (json, "detail")), "a\nb\x07");
    json_decref (json);
    free (out);
    s_fake_stop ();
}

/* REQ X.1: verify finds an edited payload and rows cut off the end */
static void
test_x1_verify (void **state)
{
    (void) state;
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_ctl (NULL, "operator", "provider apply --name-ja 検証%d "
                                 "--entity-type VOLUNTARY_ORGANISATION", i), 0);
    assert_true (lg_test_wait_for (s_audit_caught_up, NULL, 15000));
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "viewer", "verify"), 0);
    //  audit has seen registry's head; nothing here consumes audit's chain
    const char *line = strstr (out, "registry      intact, ");
    if (!line || line [strcspn (line, ";\n")] != '\n'
    ||  !strstr (out, "audit         intact, ") || !strstr (out, "tail not checked: no consumer's"
                                                            " head of audit was seen"))
        fail_msg ("verify said: %s", out);
    free (out);

    //  events tail shows them
    assert_int_equal (s_ctl (&out, "viewer", "events tail --service registry --from-seq 2"), 0);
    assert_non_null (strstr (out, "provider_applied"));
    free (out);

    PGconn *conn = PQconnectdb (s_admin);
    //  1. One payload edited in place (the original kept aside to put back)
    PGresult *res = PQexec (conn, "CREATE TABLE saved AS SELECT event FROM registry.outbox"
                                  " WHERE seq = 3");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    res = PQexec (conn, "UPDATE registry.outbox SET event = overlay(event placing"
                                  " '\\x41'::bytea from length(event) - 2 for 1) WHERE seq = 3");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    assert_int_equal (s_ctl (&out, "viewer", "verify"), 1);
    assert_non_null (strstr (out, "registry/3: broken"));
    free (out);
    res = PQexec (conn, "UPDATE registry.outbox SET event = (SELECT event FROM saved)"
                        " WHERE seq = 3");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    assert_int_equal (s_ctl (NULL, "viewer", "verify"), 0);

    //  2. The newest rows deleted, and the head row put back to match: only
    //  the head the audit service saw shows it
    res = PQexec (conn, "BEGIN;"
                        " DELETE FROM registry.outbox WHERE seq > (SELECT max(seq) - 2 FROM registry.outbox);"
                        " UPDATE registry.outbox_head SET seq = (SELECT max(seq) FROM registry.outbox),"
                        "  hash = (SELECT hash FROM registry.outbox ORDER BY seq DESC LIMIT 1);"
                        " COMMIT");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    PQfinish (conn);
    //  registry's chain alone: its consumers' heads are asked for all the
    //  same (before: only registry was asked for Cursors, no head of
    //  registry was loaded, and it said intact, exit 0)
    int verdict = s_ctl (&out, "viewer", "verify --service registry");
    if (verdict != 1 || !strstr (out, ": broken: chain ends at ") || !strstr (out, "registry/")
    ||  !strstr (out, " but audit saw head ") || !strstr (out, ": rows were removed"))
        fail_msg ("verify --service registry said %d: %s", verdict, out);
    free (out);
    verdict = s_ctl (&out, "viewer", "verify --service registry --service audit --json");
    if (verdict != 1) {
        char *cursors = NULL;
        s_ctl (&cursors, "viewer", "cursors show --service audit --json");
        fail_msg ("verify said %d: %s; audit cursors: %s", verdict, out, cursors);
    }
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    json_t *row = json_array_get (json, 0);
    assert_string_equal (json_string_value (json_object_get (row, "service")), "registry");
    assert_string_equal (json_string_value (json_object_get (row, "status")), "broken");
    assert_non_null (strstr (json_string_value (json_object_get (row, "why")), "rows were removed"));
    json_decref (json);
    free (out);
}

//  Billing's answers for test_x1_verify_needs_a_chain_walked: its cursors
//  (none), then a refusal of Replay
static void
s_answer_no_replay (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__CursorsReply cursors = LGWAN__V1__CURSORS_REPLY__INIT;
    if (request->body_case == LGWAN__V1__REQUEST__BODY_CURSORS) {
        reply->body_case = LGWAN__V1__REPLY__BODY_CURSORS;
        reply->cursors = &cursors;
    }
    else {
        //  The second time, a refusal longer than what verify keeps of it,
        //  in Japanese: cut, it would end in part of a character
        static char long_refusal [3 * 400 + 1];
        for (size_t i = 0; i < 400; i++)
            memcpy (long_refusal + 3 * i, "拒", 3);
        reply->status->code = LGWAN__V1__CODE__PERMISSION_DENIED;
        reply->status->message = nth < 2? (char *) "not\x1b[2J for you": long_refusal;
    }
}

/* REQ X.1: verify succeeds only when it walked a chain: a certificate that
   is refused (wrong role) exits 1 with the refusal, one that is revoked (no
   service lets it in) exits 3 "nothing verified". Both exited 0 before,
   having checked nothing, so `lgwanctl verify || alert` never alerted. */
static void
test_x1_verify_needs_a_chain_walked (void **state)
{
    (void) state;
    //  1. A provider may not read cursors: registry and audit refuse
    char *out = NULL;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "provider1", "verify");
    char *err = s_err_since (mark);
    if (rc != 1 || !strstr (out, "registry      refused: ") || !strstr (out, "audit         refused: ")
    ||  !strstr (err, "nothing verified"))
        fail_msg ("verify as a provider said %d: %s%s", rc, out, err);
    free (out);
    free (err);
    assert_int_equal (s_ctl (&out, "provider1", "verify --service registry --json"), 1);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    json_t *row = json_array_get (json, 0);
    assert_string_equal (json_string_value (json_object_get (row, "status")), "refused");
    assert_non_null (strstr (json_string_value (json_object_get (row, "why")),
                             "PERMISSION_DENIED"));
    json_decref (json);
    free (out);

    //  2. A revoked certificate: nobody lets it in, nothing is verified;
    //  each service refused it, said (exit 1), not "not answering" (exit 3;
    //  test_x3_certificate_refused_is_said)
    assert_int_equal (s_ctl (NULL, "operator", "keygen --role viewer --name gone"), 0);
    assert_int_equal (s_ctl (NULL, "operator", "cert revoke --name gone"), 0);
    mark = s_err_mark ();
    rc = s_ctl (&out, "gone", "verify");
    err = s_err_since (mark);
    if (rc != 1 || !strstr (err, "lgwanctl: nothing verified")
    ||  !strstr (out, "registry      refused: registry refused our certificate (LGWANCTL_CERT ")
    ||  !strstr (out, "audit         refused: audit refused our certificate"))
        fail_msg ("verify with a revoked certificate said %d: %s%s", rc, out, err);
    free (out);
    free (err);

    //  3. Cursors answered, Replay refused: a refusal, not "unavailable"
    s_fake_start ("billing", s_answer_no_replay);
    rc = s_ctl (&out, "viewer", "verify --service billing");
    if (rc != 1 || !strstr (out, "billing       refused: ") || !strstr (out, "not\\u001b[2J for you"))
        fail_msg ("verify of a billing that refuses Replay said %d: %s", rc, out);
    free (out);
    //  4. A refusal too long to keep whole, in Japanese: --json still says
    //  why (whole characters); before, the last one was cut and JSON
    //  dropped the text
    rc = s_ctl (&out, "viewer", "verify --service billing --json");
    json = json_loads (out, 0, NULL);
    row = json? json_array_get (json, 0): NULL;
    const char *why = row? json_string_value (json_object_get (row, "why")): NULL;
    if (rc != 1 || !why || !strstr (why, "拒拒拒") || !lg_check_utf8 (why, strlen (why)))
        fail_msg ("verify --json of a long refusal said %d: %s", rc, out);
    json_decref (json);
    free (out);
    s_fake_stop ();
}

//  The events of a billing whose outbox holds what this build cannot read
//  (test_x3_unreadable_events_are_named): seq 1 and 4 are fine, 2 has a
//  reason that is not UTF-8 (a row edited by hand), 3 an enum value this
//  build does not know (a newer service), 5 (the head) is as 2; past 6, a
//  row that is not an Event at all
static ProtobufCBinaryData s_events [6];

static void
s_events_make (void)
{
    for (uint64_t seq = 1; seq <= 5; seq++) {
        Lgwan__V1__QualificationDecided decided = LGWAN__V1__QUALIFICATION_DECIDED__INIT;
        decided.provider = 7;
        decided.outcome = seq == 3? 7: LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.source = (char *) "billing";
        event.seq = seq;
        event.occurred_at = (char *) "2026-10-01T00:00:00Z";
        event.actor = (char *) "operator:alice";
        event.reason = (char *) (seq == 2 || seq == 5? "bad\xff": "fine");
        event.body_case = LGWAN__V1__EVENT__BODY_QUALIFICATION_DECIDED;
        event.qualification_decided = &decided;
        s_events [seq].len = protobuf_c_message_get_packed_size (&event.base);
        s_events [seq].data = (uint8_t *) malloc (s_events [seq].len);
        protobuf_c_message_pack (&event.base, s_events [seq].data);
    }
    s_events [0].data = (uint8_t *) strdup ("\x08\x01\xff");     //  field 1 is a string
    s_events [0].len = 3;
}

static void
s_answer_events (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__ReplayReply replay = LGWAN__V1__REPLAY_REPLY__INIT;
    static ProtobufCBinaryData page [6];
    replay.head_seq = 5;
    replay.n_events = 0;
    replay.events = page;
    uint64_t from = request->replay->from_seq;
    if (from >= 7 && from != UINT64_MAX)
        page [replay.n_events++] = s_events [0];
    for (uint64_t seq = from; seq <= 5; seq++)
        page [replay.n_events++] = s_events [seq];
    reply->body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    reply->replay = &replay;
}

/* REQ X.2: events tail names every event it cannot read (seq N: unreadable,
   and why) and goes past it, exiting 1; a page it cannot go past at all
   ends it with exit 1. Before, one unreadable event at the head made it
   ask for the same page without end (even without --follow, with no pause),
   and one in the middle was skipped without a word. */
static void
test_x2_unreadable_events_are_named (void **state)
{
    (void) state;
    s_events_make ();
    s_fake_start ("billing", s_answer_events);
    char *out = NULL;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "viewer", "events tail --service billing --from-seq 1");
    char *err = s_err_since (mark);
    if (rc != 1 || !strstr (out, "1        2026-10-01T00:00:00Z  qualification_decided")
    ||  !strstr (out, "\n4        2026-10-01T00:00:00Z  qualification_decided")
    ||  strstr (out, "\n2 ") || strstr (out, "\n3 ") || strstr (out, "\n5 ")
    ||  !strstr (err, "lgwanctl: seq 2: unreadable (reason: not valid UTF-8)\n")
    ||  !strstr (err, "lgwanctl: seq 3: unreadable (qualification_decided.outcome: enum value"
                      " out of range)\n")
    ||  !strstr (err, "lgwanctl: seq 5: unreadable (reason: not valid UTF-8)\n"))
        fail_msg ("events tail said %d: %s%s", rc, out, err);
    free (out);
    free (err);
    //  --json: the same, the readable ones as JSON
    assert_int_equal (s_ctl (&out, "viewer", "events tail --service billing --from-seq 4 --json"), 1);
    json_t *json = json_loads (out, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null (json);
    assert_string_equal (json_string_value (json_object_get (json, "seq")), "4");
    json_decref (json);
    free (out);

    //  A row that is not an Event: its seq is unknown, nothing goes past it
    mark = s_err_mark ();
    rc = s_ctl (&out, "viewer", "events tail --service billing --from-seq 7 --follow");
    err = s_err_since (mark);
    if (rc != 1 || *out || !strstr (err, "lgwanctl: the event after seq 6: unreadable (malformed Event)\n")
    ||  !strstr (err, "lgwanctl: billing: nothing could be read past seq 6; stopped\n"))
        fail_msg ("events tail said %d: %s%s", rc, out, err);
    free (out);
    free (err);
    s_fake_stop ();
    for (size_t i = 0; i < 6; i++)
        free (s_events [i].data);
}

//  Billing's answers to Replay for test_x2_events_tail_asks_as_every_command,
//  by s_tail_mode: 0 UNAVAILABLE, 1 a reply without a status or a body, 2 a
//  refusal naming its requirement; s_tail_asked counts the requests
static int s_tail_mode;
static int s_tail_asked;

static void
s_answer_tail (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) request;
    (void) nth;
    s_tail_asked++;
    if (s_tail_mode == 0) {
        reply->status->code = LGWAN__V1__CODE__UNAVAILABLE;
        reply->status->message = (char *) "database away";
    }
    else
    if (s_tail_mode == 1)
        reply->status = NULL;
    else {
        reply->status->code = LGWAN__V1__CODE__PERMISSION_DENIED;
        reply->status->message = (char *) "not for you";
        reply->status->requirement = (char *) "X.2";
    }
}

/* REQ X.2: events tail asks as every command does (ctl_call): UNAVAILABLE
   is asked again with the same request_id and then exits 3, a refusal is
   JSON on stdout with --json, and a reply without a status or a page is an
   error, exit 1. Before, UNAVAILABLE exited 1 at once without a retry, the
   refusal went to stderr for people with --json, and a reply without a
   status crashed it (status read without a check). It takes no
   --request-id, and the hint "the same command with --request-id ID
   repeats it safely" is not printed for it (a command given it would be a
   usage error); a remote command still gets it. */
static void
test_x2_events_tail_asks_as_every_command (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_tail);
    char *out = NULL;
    s_tail_mode = 0;
    s_tail_asked = 0;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "viewer", "events tail --service billing --from-seq 1");
    char *err = s_err_since (mark);
    //  events tail takes no --request-id: no hint naming it (X.2)
    if (rc != 3 || s_tail_asked != 4
    ||  !strstr (err, "lgwanctl: database away (UNAVAILABLE); asking again in 250 ms")
    ||  strstr (err, "--request-id"))
        fail_msg ("events tail of an UNAVAILABLE billing said %d after %d requests: %s%s", rc,
                  s_tail_asked, out, err);
    free (out);
    free (err);
    s_tail_asked = 0;
    mark = s_err_mark ();
    rc = s_ctl (NULL, "viewer", "stats show --service billing --retries 0");
    err = s_err_since (mark);
    if (rc != 3 || !strstr (err, "the same command with --request-id "))
        fail_msg ("stats show of an UNAVAILABLE billing said %d: %s", rc, err);
    free (err);

    s_tail_mode = 1;
    mark = s_err_mark ();
    rc = s_ctl (&out, "viewer", "events tail --service billing --from-seq 1");
    err = s_err_since (mark);
    if (rc != 1 || *out || !strstr (err, "lgwanctl: billing answered without a page of its events\n"))
        fail_msg ("events tail of a reply without a status said %d: %s%s", rc, out, err);
    free (out);
    free (err);

    s_tail_mode = 2;
    rc = s_ctl (&out, "viewer", "events tail --service billing --from-seq 1 --json");
    json_t *json = json_loads (out, 0, NULL);
    if (rc != 1 || !json
    ||  !streq (json_string_value (json_object_get (json, "code")) ?: "", "PERMISSION_DENIED")
    ||  !streq (json_string_value (json_object_get (json, "requirement")) ?: "", "X.2"))
        fail_msg ("events tail --json of a refusal said %d: %s", rc, out);
    json_decref (json);
    free (out);
    s_fake_stop ();
}

//  A chain of two events as a newer billing wrote them
//  (test_x1_verify_hashes_the_stored_bytes): the first holds a field this
//  build does not know (50) in front of the fields it knows, as stored and
//  hashed, then the links after, as Replay serves them
static ProtobufCBinaryData s_newer [2];

static void
s_newer_make (void)
{
    uint8_t key [64];
    size_t key_size;
    char *path = zsys_sprintf ("%s/services/billing.hmac", s_certs);
    assert_int_equal (lg_outbox_load_key (path, key, &key_size), 0);
    zstr_free (&path);
    uint8_t prev [32];
    for (uint64_t seq = 1; seq <= 2; seq++) {
        Lgwan__V1__QualificationDecided decided = LGWAN__V1__QUALIFICATION_DECIDED__INIT;
        decided.provider = 7;
        decided.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.source = (char *) "billing";
        event.seq = seq;
        event.occurred_at = (char *) "2026-10-01T00:00:00Z";
        event.actor = (char *) "operator:alice";
        event.reason = (char *) "fine";
        event.body_case = LGWAN__V1__EVENT__BODY_QUALIFICATION_DECIDED;
        event.qualification_decided = &decided;
        size_t known = protobuf_c_message_get_packed_size (&event.base);
        size_t extra = seq == 1? 3: 0;
        uint8_t *stored = (uint8_t *) malloc (extra + known);
        memcpy (stored, "\x90\x03\x01", extra);
        protobuf_c_message_pack (&event.base, stored + extra);
        uint8_t hash [32];
        lg_outbox_hash (key, key_size, prev, seq == 1? 0: 32, seq, stored, extra + known, hash);
        lg_event_t links = LGWAN__V1__EVENT__INIT;
        links.prev_hash = (ProtobufCBinaryData) { seq == 1? 0: 32, prev };
        links.hash = (ProtobufCBinaryData) { 32, hash };
        size_t link_size = protobuf_c_message_get_packed_size (&links.base);
        s_newer [seq - 1].len = extra + known + link_size;
        s_newer [seq - 1].data = (uint8_t *) malloc (s_newer [seq - 1].len);
        memcpy (s_newer [seq - 1].data, stored, extra + known);
        protobuf_c_message_pack (&links.base, s_newer [seq - 1].data + extra + known);
        free (stored);
        memcpy (prev, hash, 32);
    }
}

static void
s_answer_newer (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__CursorsReply cursors = LGWAN__V1__CURSORS_REPLY__INIT;
    static Lgwan__V1__ReplayReply replay = LGWAN__V1__REPLAY_REPLY__INIT;
    if (request->body_case == LGWAN__V1__REQUEST__BODY_CURSORS) {
        reply->body_case = LGWAN__V1__REPLY__BODY_CURSORS;
        reply->cursors = &cursors;
        return;
    }
    uint64_t from = request->replay->from_seq;
    replay.head_seq = 2;
    replay.n_events = from >= 1 && from <= 2? 3 - from: 0;
    replay.events = replay.n_events? &s_newer [from - 1]: NULL;
    reply->body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    reply->replay = &replay;
}

/* REQ X.1: verify hashes each event's bytes as stored (the bytes served
   less the links), not the event packed anew by this build: a row holding
   a field this build does not know, written by a newer service, is intact.
   Packed anew, the unknown field moved behind the known ones and the row
   was reported broken, a false alarm of tampering. An edit in the same row
   is still found. */
static void
test_x1_verify_hashes_the_stored_bytes (void **state)
{
    (void) state;
    s_newer_make ();
    s_fake_start ("billing", s_answer_newer);
    char *out = NULL;
    int rc = s_ctl (&out, "viewer", "verify --service billing");
    //  Nobody has a head of the fake's chain: said, not claimed intact silently
    if (rc != 0 || !strstr (out, "billing       intact, 2 events; tail not checked"))
        fail_msg ("verify of a newer billing's chain said %d: %s", rc, out);
    free (out);
    s_newer [0].data [2] = 0x02;            //  the unknown field's value edited
    rc = s_ctl (&out, "viewer", "verify --service billing");
    if (rc != 1 || !strstr (out, "billing/1: broken"))
        fail_msg ("verify of an edited row said %d: %s", rc, out);
    free (out);
    s_fake_stop ();
    for (size_t i = 0; i < 2; i++)
        free (s_newer [i].data);
}

//  Billing's export pages (test_r6_1_export_whole_or_nothing), by period:
//  2026-01 two pages, 2026-02 a refusal on the second, 2026-03 a second
//  page that points at itself, 2026-04 OK without a page; a tariff load OK
//  without the tariff
static void
s_answer_export (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__BillingExportReply page = LGWAN__V1__BILLING_EXPORT_REPLY__INIT;
    const Lgwan__V1__BillingExport *ask = request->billing_export;
    if (request->body_case == LGWAN__V1__REQUEST__BODY_TARIFF_LOAD)
        return;                 //  OK, and no tariff
    if (request->body_case == LGWAN__V1__REQUEST__BODY_BILLING_EXPORT
    &&  streq (ask->period, "2026-04"))
        return;                 //  OK, and no page
    if (request->body_case != LGWAN__V1__REQUEST__BODY_BILLING_EXPORT) {
        reply->status->code = LGWAN__V1__CODE__INVALID_ARGUMENT;
        reply->status->message = (char *) "not an export";
        return;
    }
    if (ask->offset == 0) {
        page.csv = (char *) "number,amount\nA,1\n";
        page.next_offset = 1;
    }
    else
    if (streq (ask->period, "2026-02")) {
        reply->status->code = LGWAN__V1__CODE__FAILED_PRECONDITION;
        reply->status->message = (char *) "the export changed meanwhile";
        return;
    }
    else {
        page.csv = (char *) "B,2\n";
        page.next_offset = streq (ask->period, "2026-03")? 1: 0;
    }
    reply->body_case = LGWAN__V1__REPLY__BODY_BILLING_EXPORT;
    reply->billing_export = &page;
}

//  Whether an export to path left a temporary file (path.tmp.XXXXXX)
static bool
s_export_left (const char *path)
{
    char *found = lg_test_sh_output ("ls -d %s.tmp* 2>/dev/null", path);
    bool left = *found != 0;
    free (found);
    return left;
}

//  test_r6_1_export_killed_leaves_no_file: 2026-05 answers its first page
//  at once and its second after a pause, long enough to kill lgwanctl while
//  it waits (s_export_waiting says when it does)
static volatile int s_export_waiting;

static void
s_answer_slow_export (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__BillingExportReply page = LGWAN__V1__BILLING_EXPORT_REPLY__INIT;
    if (request->body_case != LGWAN__V1__REQUEST__BODY_BILLING_EXPORT) {
        reply->status->code = LGWAN__V1__CODE__INVALID_ARGUMENT;
        reply->status->message = (char *) "not an export";
        return;
    }
    page.csv = (char *) (request->billing_export->offset? "B,2\n": "number,amount\nA,1\n");
    page.next_offset = request->billing_export->offset? 0: 1;
    if (request->billing_export->offset) {
        s_export_waiting = 1;
        zclock_sleep (1500);
    }
    reply->body_case = LGWAN__V1__REPLY__BODY_BILLING_EXPORT;
    reply->billing_export = &page;
}

static bool
s_export_is_waiting (void *arg)
{
    (void) arg;
    return s_export_waiting != 0;
}

/* REQ R6.1: an export ended by SIGINT (Ctrl-C), SIGTERM or SIGHUP while it
   waits for a page leaves no file: not OUT, not OUT.tmp.XXXXXX, and it
   still ends by that signal. Before, the signal's default action ended it
   with the temporary file of the first page left beside OUT. */
static void
test_r6_1_export_killed_leaves_no_file (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_slow_export);
    char *path = zsys_sprintf ("%s/killed-export.csv", s_certs);
    char *binary = lg_test_lgwanctl_binary ();
    char *cert = zsys_sprintf ("LGWANCTL_CERT=%s/clients/billing", s_certs);
    const char *const env [] = { cert, NULL };
    const char *const argv [] = { "lgwanctl", "invoice", "export", "--period", "2026-05",
                                  "--out", path, NULL };
    const int signals [] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t i = 0; i < sizeof signals / sizeof signals [0]; i++) {
        s_export_waiting = 0;
        pid_t pid = lg_test_spawn_argv (binary, argv, env);
        assert_true (pid > 0);
        assert_true (lg_test_wait_for (s_export_is_waiting, NULL, 10000));
        //  The first page is in the temporary file (or its buffer) now
        assert_true (s_export_left (path));
        assert_int_equal (lg_test_stop (pid, signals [i], 5000), 128 + signals [i]);
        if (zsys_file_exists (path) || s_export_left (path))
            fail_msg ("an export ended by signal %d left a file behind", signals [i]);
        //  The fake answers the page nobody waits for any more
        zclock_sleep (1600);
    }
    //  Not killed, the same export is whole
    s_export_waiting = 0;
    assert_int_equal (s_ctl (NULL, "billing", "invoice export --period 2026-05 --out %s", path),
                      0);
    char *out = lg_test_sh_output ("cat %s", path);
    assert_string_equal (out, "number,amount\nA,1\nB,2\n");
    free (out);
    assert_false (s_export_left (path));
    unlink (path);
    s_fake_stop ();
    zstr_free (&cert);
    zstr_free (&binary);
    zstr_free (&path);
}

/* REQ R6.1: invoice export writes the whole period or fails (exit 1)
   leaving no file: a refusal midway, a page that does not advance and a
   failed write are errors. Before, a refusal left the first page in --out,
   a page pointing at itself was asked for without end, and a write to a
   full disk (stdout on /dev/full) exited 0. */
static void
test_r6_1_export_whole_or_nothing (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_export);
    char *path = zsys_sprintf ("%s/export.csv", s_certs);
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "billing", "invoice export --period 2026-01"), 0);
    assert_string_equal (out, "number,amount\nA,1\nB,2\n");
    free (out);
    assert_int_equal (s_ctl (NULL, "billing", "invoice export --period 2026-01 --out %s", path), 0);
    out = lg_test_sh_output ("cat %s", path);
    assert_string_equal (out, "number,amount\nA,1\nB,2\n");
    free (out);
    assert_false (s_export_left (path));
    unlink (path);

    //  A refusal on the second page: exit 1, no file
    long mark = s_err_mark ();
    assert_int_equal (s_ctl (NULL, "billing", "invoice export --period 2026-02 --out %s", path), 1);
    char *err = s_err_since (mark);
    assert_non_null (strstr (err, "the export changed meanwhile (FAILED_PRECONDITION)"));
    free (err);
    if (zsys_file_exists (path) || s_export_left (path))
        fail_msg ("a refused export left a file behind");

    //  A page that points at itself
    mark = s_err_mark ();
    int rc = s_ctl (NULL, "billing", "invoice export --period 2026-03 --out %s", path);
    err = s_err_since (mark);
    if (rc != 1 || !strstr (err, "billing answered next_offset 1 after offset 1"))
        fail_msg ("an export that does not advance said %d: %s", rc, err);
    free (err);
    if (zsys_file_exists (path) || s_export_left (path))
        fail_msg ("a failed export left a file behind");

    //  OK without a page
    mark = s_err_mark ();
    rc = s_ctl (NULL, "billing", "invoice export --period 2026-04 --out %s", path);
    err = s_err_since (mark);
    if (rc != 1 || !strstr (err, "billing answered without a page of the export"))
        fail_msg ("an export answered without a page said %d: %s", rc, err);
    free (err);
    assert_false (zsys_file_exists (path) || s_export_left (path));

    //  A tariff load answered OK without the tariff: an error, not a crash
    char *tariff = zsys_sprintf ("%s/tariff.json", s_certs);
    assert_int_equal (lg_test_sh ("echo '{}' > %s", tariff), 0);
    mark = s_err_mark ();
    rc = s_ctl (NULL, "billing", "tariff load --file %s", tariff);
    err = s_err_since (mark);
    if (rc != 1 || !strstr (err, "billing answered without the tariff it loaded"))
        fail_msg ("a tariff load answered without the tariff said %d: %s", rc, err);
    free (err);
    zstr_free (&tariff);

    //  A write that fails
    mark = s_err_mark ();
    rc = s_ctl (NULL, "billing", "invoice export --period 2026-01 >/dev/full");
    err = s_err_since (mark);
    if (rc != 1 || !strstr (err, "could not write the CSV to stdout: No space left on device"))
        fail_msg ("an export to a full disk said %d: %s", rc, err);
    free (err);
    s_fake_stop ();
    zstr_free (&path);
}

/* REQ X.3: invoice export --out F writes to a file it makes anew beside F:
   a symbolic link planted at F.tmp (a shared folder) is neither followed
   nor moved, whether the export succeeds or is refused. Before, F.tmp was
   opened with fopen "w", which truncated the link's target (before any
   request was sent), wrote the CSV into it and renamed the link to F */
static void
test_x3_export_follows_no_planted_link (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_export);
    char *victim = zsys_sprintf ("%s/victim.txt", s_certs);
    char *path = zsys_sprintf ("%s/shared-export.csv", s_certs);
    char *refused = zsys_sprintf ("%s/shared-refused.csv", s_certs);
    assert_int_equal (lg_test_sh ("echo 'precious data' > %s && ln -s %s %s.tmp"
                                  " && ln -s %s %s.tmp", victim, victim, path, victim,
                                  refused), 0);
    assert_int_equal (s_ctl (NULL, "billing", "invoice export --period 2026-01 --out %s",
                             path), 0);
    assert_int_equal (s_ctl (NULL, "billing", "invoice export --period 2026-02 --out %s",
                             refused), 1);
    char *text = lg_test_sh_output ("cat %s", victim);
    assert_string_equal (text, "precious data\n");
    free (text);
    struct stat st;
    assert_int_equal (lstat (path, &st), 0);
    assert_true (S_ISREG (st.st_mode));
    text = lg_test_sh_output ("cat %s", path);
    assert_string_equal (text, "number,amount\nA,1\nB,2\n");
    free (text);
    assert_false (zsys_file_exists (refused));
    //  The planted links are there as they were, and nothing else
    text = lg_test_sh_output ("cd %s && ls -d shared-* | tr '\\n' ' '"
                              " && readlink shared-export.csv.tmp", s_certs);
    char *want = zsys_sprintf ("shared-export.csv shared-export.csv.tmp"
                               " shared-refused.csv.tmp %s\n", victim);
    assert_string_equal (text, want);
    zstr_free (&want);
    free (text);
    s_fake_stop ();
    zstr_free (&refused);
    zstr_free (&path);
    zstr_free (&victim);
}

/* REQ R6.1: invoice export writes CSV only: --json is a usage error (exit 2),
   nothing is asked and no file is written. Before, --json was taken and
   ignored, and a refusal midway was printed as JSON on stdout, into the CSV
   (exit 1). */
static void
test_r6_1_export_refuses_json (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_export);
    char *path = zsys_sprintf ("%s/export-json.csv", s_certs);
    char *out = NULL;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "billing", "invoice export --period 2026-02 --json");
    char *err = s_err_since (mark);
    if (rc != 2 || *out || !strstr (err, "lgwanctl: invoice export writes CSV only: --json is not"
                                         " taken\n"))
        fail_msg ("invoice export --json said %d: %s%s", rc, out, err);
    free (out);
    free (err);
    assert_int_equal (s_ctl (NULL, "billing", "invoice export --period 2026-01 --json --out %s",
                             path), 2);
    assert_false (zsys_file_exists (path) || s_export_left (path));
    s_fake_stop ();
    zstr_free (&path);
}

//  Billing's answer for test_x2_unreadable_reply_is_not_no_reply: a status
//  code out of the range this build knows (as a newer service could send);
//  s_odd_asked counts the requests
static int s_odd_asked;

static void
s_answer_odd (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) request;
    (void) nth;
    s_odd_asked++;
    reply->status->code = (Lgwan__V1__Code) 99;
    reply->status->message = (char *) "from a newer billing";
}

/* REQ X.2: a reply this build cannot decode that carries the request's
   request_id is the service's answer, not "no reply": lgwanctl asks once,
   exits 1 saying the reply is not readable by this build, and tells how a
   newer lgwanctl gets the stored reply. Before, lg_client dropped it as
   garbage, asked again up to --retries times and exited 3 saying whether it
   was done is not known, although the service had answered. */
static void
test_x2_unreadable_reply_is_not_no_reply (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_odd);
    s_odd_asked = 0;
    char *out = NULL;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "viewer", "stats show --service billing --timeout 300 --retries 2");
    char *err = s_err_since (mark);
    if (rc != 1 || s_odd_asked != 1
    ||  !strstr (err, "lgwanctl: billing answered, but the reply is not readable by this build (")
    ||  !strstr (err, "out of range") || !strstr (err, "(UNKNOWN)\n")
    ||  !strstr (err, "gets the stored reply") || strstr (err, "whether it was done is not known"))
        fail_msg ("stats of a reply this build cannot read said %d after %d requests: %s%s", rc,
                  s_odd_asked, out, err);
    free (out);
    free (err);
    //  --json: that status on stdout
    rc = s_ctl (&out, "viewer", "stats show --service billing --timeout 300 --retries 2 --json");
    json_t *json = json_loads (out, 0, NULL);
    if (rc != 1 || !json || !streq (json_string_value (json_object_get (json, "code")) ?: "",
                                    "UNKNOWN"))
        fail_msg ("stats --json of a reply this build cannot read said %d: %s", rc, out);
    json_decref (json);
    free (out);
    s_fake_stop ();
}

//  Billing's answers for test_x1_verify_says_a_reply_is_unreadable: its
//  cursors (none), then a Replay answered with a status code this build
//  does not know (as a newer billing could)
static void
s_answer_odd_replay (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    static Lgwan__V1__CursorsReply cursors = LGWAN__V1__CURSORS_REPLY__INIT;
    if (request->body_case != LGWAN__V1__REQUEST__BODY_CURSORS) {
        s_answer_odd (request, reply, nth);
        return;
    }
    reply->body_case = LGWAN__V1__REPLY__BODY_CURSORS;
    reply->cursors = &cursors;
}

/* REQ X.1: verify says a service whose reply to Cursors or to Replay this
   build cannot read answered unreadably, with lg_client's reason, and
   counts its chain as not verified (exit 1, as any command given such a
   reply), in text and in JSON. Before, it said the service was not
   answering ("not answering: not verified", or "did not replay its events:
   no answer") and exited 3: an operator went looking for a service that
   was down when it had answered. */
static void
test_x1_verify_says_a_reply_is_unreadable (void **state)
{
    (void) state;
    const struct {
        s_answer_fn *answer;
        const char *request;
    } cases [] = {
        { s_answer_odd, "Cursors" },
        { s_answer_odd_replay, "Replay" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_fake_start ("billing", cases [i].answer);
        char *said = zsys_sprintf ("billing       not verified: billing answered %s, but the"
                                   " reply is not readable by this build (status.code: enum"
                                   " value out of range)\n", cases [i].request);
        char *out = NULL;
        int rc = s_ctl (&out, "viewer", "verify --service billing");
        if (rc != 1 || !strstr (out, said) || strstr (out, "not answering"))
            fail_msg ("verify of a billing answering %s unreadably said %d: %s", cases [i].request,
                      rc, out);
        free (out);
        rc = s_ctl (&out, "viewer", "verify --service billing --json");
        json_t *json = json_loads (out, 0, NULL);
        json_t *row = json_array_get (json, 0);
        const char *why = json_string_value (json_object_get (row, "why"));
        if (rc != 1 || !row || !streq (json_string_value (json_object_get (row, "service")) ?: "",
                                       "billing")
        ||  !streq (json_string_value (json_object_get (row, "status")) ?: "", "unreadable")
        ||  !why || !strstr (why, "but the reply is not readable by this build (status.code"))
            fail_msg ("verify --json of a billing answering %s unreadably said %d: %s",
                      cases [i].request, rc, out);
        json_decref (json);
        free (out);
        zstr_free (&said);
        s_fake_stop ();
    }
}

/* REQ X.3: an enforcer certificate names the enforcement point it speaks
   as (`keygen --point`), required for that role and refused for any other,
   with the point-name rule; a refused keygen writes no certificate. The
   point was only what an enforcer typed in its Hello, so any enforcer
   certificate could speak as any gateway. */
static void
test_x3_keygen_binds_an_enforcer_to_its_point (void **state)
{
    (void) state;
    const struct {
        const char *flags;
        const char *name;
        const char *said;
    } refused [] = {
        { "--role enforcer",                  "gw-a", "an enforcer certificate needs --point" },
        { "--role viewer --point east",       "gw-b", "only an enforcer certificate carries a point" },
        { "--role enforcer --point East",     "gw-c", "point must be 1-32 of [a-z0-9-]" },
        { "--role enforcer --point ''",       "gw-d", "an enforcer certificate needs --point" },
        { "--role enforcer --point gateway-east-and-then-some-more-x", "gw-e", "point must be" },
        { "--service registry --point east",  NULL,   "keygen --service takes no other flag" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        long mark = s_err_mark ();
        int rc = refused [i].name
               ? s_ctl (NULL, "operator", "keygen %s --name %s", refused [i].flags, refused [i].name)
               : s_ctl (NULL, "operator", "keygen %s", refused [i].flags);
        char *err = s_err_since (mark);
        if (rc == 0 || !strstr (err, refused [i].said))
            fail_msg ("keygen %s said %d: %s", refused [i].flags, rc, err);
        free (err);
        if (refused [i].name) {
            char *allowed = zsys_sprintf ("%s/allowed/%s", s_certs, refused [i].name);
            char *secret = zsys_sprintf ("%s/clients/%s_secret", s_certs, refused [i].name);
            assert_false (zsys_file_exists (allowed) || zsys_file_exists (secret));
            zstr_free (&allowed);
            zstr_free (&secret);
        }
    }
    assert_int_equal (s_ctl (NULL, "operator", "keygen --role enforcer --point east --name gw-ok"), 0);
    char *path = zsys_sprintf ("%s/allowed/gw-ok", s_certs);
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    assert_string_equal (zcert_meta (cert, "role"), "enforcer");
    assert_non_null (zcert_meta (cert, "point"));
    assert_string_equal (zcert_meta (cert, "point"), "east");
    zcert_destroy (&cert);
    zstr_free (&path);
}

/* REQ X.3: whether the role takes a flag is asked before the flag's value
   is read: a flag the role does not take, or one it needs given empty, is
   a usage error (exit 2, naming X.3), and only a value the role does take
   that does not parse is exit 1. `--role viewer --provider-id abc` said the
   provider id must be a number (exit 1), as if a viewer took one. */
static void
test_x3_keygen_asks_the_role_before_the_value (void **state)
{
    (void) state;
    const struct {
        const char *flags;
        int rc;
        const char *said;
    } cases [] = {
        { "--role viewer --provider-id abc",   2, "only a provider certificate carries a provider id" },
        { "--role provider --provider-id ''",  2, "a provider certificate needs --provider-id (X.3)" },
        { "--role auditor --operator-id ann --provider-id 0", 2, "only a provider certificate carries" },
        { "--role provider --provider-id abc", 1, "provider-id" },
        { "--role provider --provider-id 0",   1, "provider-id" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        long mark = s_err_mark ();
        int rc = s_ctl (NULL, "operator", "keygen %s --name fit-%zu", cases [i].flags, i);
        char *err = s_err_since (mark);
        if (rc != cases [i].rc || !strstr (err, cases [i].said))
            fail_msg ("keygen %s said %d: %s", cases [i].flags, rc, err);
        if (rc == 2 && !strstr (err, "(X.3)"))
            fail_msg ("keygen %s did not name X.3: %s", cases [i].flags, err);
        free (err);
        char *allowed = zsys_sprintf ("%s/allowed/fit-%zu", s_certs, i);
        assert_false (zsys_file_exists (allowed));
        zstr_free (&allowed);
    }
}

/* REQ X.1: verify of a service whose public certificate is not in
   $LG_CERT_DIR/services says so, naming the path, exit 1 (JSON status "no
   certificate"): it said "not answering" (exit 3) of a service that was
   up, and nothing pointed at the missing file */
static void
test_x1_verify_names_a_missing_certificate (void **state)
{
    (void) state;
    //  Neither file (zcert_load takes the _secret one when there): the
    //  running audit loaded its own already
    char *path = zsys_sprintf ("%s/services/audit", s_certs);
    char *away = zsys_sprintf ("%s.away", path);
    char *secret = zsys_sprintf ("%s_secret", path);
    char *secret_away = zsys_sprintf ("%s.away", secret);
    assert_int_equal (rename (path, away), 0);
    assert_int_equal (rename (secret, secret_away), 0);
    char *said = zsys_sprintf ("audit         not verified: no certificate of audit at %s\n", path);
    char *out = NULL;
    int rc = s_ctl (&out, "viewer", "verify --service audit");
    bool text_ok = rc == 1 && strstr (out, said) && !strstr (out, "not answering");
    char *text = out;
    rc = s_ctl (&out, "viewer", "verify --service audit --json");
    json_t *json = json_loads (out, 0, NULL);
    json_t *row = json_array_get (json, 0);
    bool json_ok = rc == 1 && row
                && streq (json_string_value (json_object_get (row, "status")) ?: "", "no certificate")
                && strstr (json_string_value (json_object_get (row, "why")) ?: "", path);
    json_decref (json);
    assert_int_equal (rename (away, path), 0);
    assert_int_equal (rename (secret_away, secret), 0);
    if (!text_ok || !json_ok)
        fail_msg ("verify without audit's certificate: %s%s", text, out);
    free (text);
    free (out);
    zstr_free (&said);
    zstr_free (&away);
    zstr_free (&path);
    zstr_free (&secret);
    zstr_free (&secret_away);
}

//  Billing's answers for test_x2_events_tail_says_gaps_and_where_to_resume:
//  seq 1, 3 and 6 (2, 4 and 5 missing), then UNAVAILABLE
static void
s_answer_gaps (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__ReplayReply replay = LGWAN__V1__REPLAY_REPLY__INIT;
    static ProtobufCBinaryData page [3];
    if (request->replay->from_seq > 1) {
        reply->status->code = LGWAN__V1__CODE__UNAVAILABLE;
        reply->status->message = (char *) "database away";
        return;
    }
    const uint64_t seqs [] = { 1, 3, 6 };
    for (size_t i = 0; i < 3; i++) {
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.source = (char *) "billing";
        event.seq = seqs [i];
        event.occurred_at = (char *) "2026-10-01T00:00:00Z";
        event.actor = (char *) "billing:run";
        free (page [i].data);
        page [i].len = protobuf_c_message_get_packed_size (&event.base);
        page [i].data = (uint8_t *) malloc (page [i].len);
        protobuf_c_message_pack (&event.base, page [i].data);
    }
    replay.head_seq = 6;
    replay.events = page;
    replay.n_events = 3;
    reply->body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    reply->replay = &replay;
}

/* REQ X.2: events tail says a gap in the seqs it was given (an event
   missing is not passed over in silence), and when it ends on no answer it
   says where to go on from: "resume with --from-seq N", the seq after the
   last it printed. It printed 1, 3, 6 as if nothing was missing, and its
   exit 3 left the reader to work out where it stopped */
static void
test_x2_events_tail_says_gaps_and_where_to_resume (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_gaps);
    char *out = NULL;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "viewer", "events tail --service billing --from-seq 1");
    char *err = s_err_since (mark);
    if (rc != 3 || !strstr (out, "\n6 ")
    ||  !strstr (err, "lgwanctl: billing: no event with seq 2 in the reply: missing (a gap in its"
                      " outbox)\n")
    ||  !strstr (err, "lgwanctl: billing: no events with seq 4 to 5 in the reply: missing")
    ||  !strstr (err, "lgwanctl: resume with --from-seq 7\n"))
        fail_msg ("events tail said %d: %s%s", rc, out, err);
    free (out);
    free (err);
    s_fake_stop ();
}

//  Billing's answer for test_x2_events_tail_no_gap_for_an_unreadable_event:
//  seq 1, a row that is no Event, seq 3, another, seq 6 (so one of 4 and 5
//  is missing); an empty page after
static void
s_answer_unplaced (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__ReplayReply replay = LGWAN__V1__REPLAY_REPLY__INIT;
    static ProtobufCBinaryData page [5];
    replay.head_seq = 6;
    replay.events = page;
    replay.n_events = 0;
    reply->body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    reply->replay = &replay;
    if (request->replay->from_seq > 1)
        return;
    const uint64_t seqs [] = { 1, 0, 3, 0, 6 };
    for (size_t i = 0; i < 5; i++) {
        free (page [i].data);
        if (seqs [i] == 0) {
            page [i].data = (uint8_t *) strdup ("\x08\x01\xff");     //  not an Event
            page [i].len = 3;
            continue;
        }
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.source = (char *) "billing";
        event.seq = seqs [i];
        event.occurred_at = (char *) "2026-10-01T00:00:00Z";
        event.actor = (char *) "billing:run";
        page [i].len = protobuf_c_message_get_packed_size (&event.base);
        page [i].data = (uint8_t *) malloc (page [i].len);
        protobuf_c_message_pack (&event.base, page [i].data);
    }
    replay.n_events = 5;
}

/* REQ X.2: an event events tail could not read, its seq neither, is said
   once, as unreadable: the seq it stands for is not also said missing; a
   seq that is neither in the reply nor among the unreadable ones still is.
   Before, the next event said the unreadable one's seq "missing (a gap in
   its outbox)", for a row that is there */
static void
test_x2_events_tail_no_gap_for_an_unreadable_event (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_unplaced);
    char *out = NULL;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "viewer", "events tail --service billing --from-seq 1");
    char *err = s_err_since (mark);
    if (rc != 1 || !strstr (out, "\n3 ") || !strstr (out, "\n6 ")
    ||  !strstr (err, "lgwanctl: the event after seq 1: unreadable (malformed Event)\n")
    ||  !strstr (err, "lgwanctl: the event after seq 3: unreadable (malformed Event)\n")
    ||  strstr (err, "seq 2 in the reply")
    ||  !strstr (err, "lgwanctl: billing: no event for 1 of the seqs 4 to 5 in the reply"
                      " (1 more unreadable): missing (a gap in its outbox)\n"))
        fail_msg ("events tail said %d: %s%s", rc, out, err);
    free (out);
    free (err);
    s_fake_stop ();
}

//  Write text to path (a new file or over one), with mode
static void
s_write_file (const char *path, const char *text, mode_t mode)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    assert_int_equal (fclose (file), 0);
    assert_int_equal (chmod (path, mode), 0);
}

//  The text of a file (caller frees), NULL when it cannot be read
static char *
s_read_file (const char *path)
{
    zfile_t *file = zfile_new (NULL, path);
    zchunk_t *chunk = file && zfile_input (file) == 0?
                      zfile_read (file, (size_t) zfile_cursize (file), 0): NULL;
    zfile_destroy (&file);
    char *text = chunk? zchunk_strdup (chunk): NULL;
    zchunk_destroy (&chunk);
    return text;
}

//  keygen that must be refused naming X.3 and what is in the way, and
//  write no allowed/<name>
static void
s_keygen_refused (const char *flags, const char *name, const char *in_the_way)
{
    long mark = s_err_mark ();
    int rc = s_ctl (NULL, "operator", "keygen --role viewer --name %s %s", name, flags);
    char *err = s_err_since (mark);
    if (rc != 1 || !strstr (err, "(X.3)") || !strstr (err, in_the_way))
        fail_msg ("keygen --name %s %s said %d: %s", name, flags, rc, err);
    free (err);
    char *allowed = zsys_sprintf ("%s/allowed/%s", s_certs, name);
    struct stat st;
    assert_int_not_equal (lstat (allowed, &st), 0);
    zstr_free (&allowed);
}

/* REQ X.3: keygen writes new files only, the secret 0600: an existing file
   where it would write (a world-readable secret left there, another
   name's secret as --name alice_secret, a certificate in --out, a symbolic
   link) is refused naming it, nothing written, the file as it was. keygen
   wrote over them, keeping an old file's mode (the new secret stayed
   0644), and through a link */
static void
test_x3_keygen_writes_over_no_file (void **state)
{
    (void) state;
    char *clients = zsys_sprintf ("%s/clients", s_certs);
    zsys_dir_create ("%s", clients);
    //  A new one: secret 0600, public 0644
    assert_int_equal (s_ctl (NULL, "operator", "keygen --role viewer --name kg-new"), 0);
    char *path = zsys_sprintf ("%s/kg-new_secret", clients);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    zstr_free (&path);
    path = zsys_sprintf ("%s/kg-new", clients);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0644);
    zstr_free (&path);
    //  An existing world-readable secret: as it was, mode and text
    path = zsys_sprintf ("%s/kg-bob_secret", clients);
    s_write_file (path, "old secret\n", 0644);
    s_keygen_refused ("", "kg-bob", path);
    char *text = s_read_file (path);
    assert_string_equal (text, "old secret\n");
    free (text);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0644);
    zstr_free (&path);
    //  Another name's secret: --name kg-new_secret would write kg-new's
    path = zsys_sprintf ("%s/kg-new_secret", clients);
    char *before = s_read_file (path);
    assert_non_null (before);
    s_keygen_refused ("", "kg-new_secret", path);
    text = s_read_file (path);
    assert_string_equal (text, before);
    free (text);
    free (before);
    zstr_free (&path);
    //  --out with a certificate there (its public part alone)
    char *out = zsys_sprintf ("%s/kg-out", s_certs);
    zsys_dir_create ("%s", out);
    path = zsys_sprintf ("%s/kg-carol", out);
    s_write_file (path, "carol's\n", 0644);
    char *flags = zsys_sprintf ("--out %s", out);
    s_keygen_refused (flags, "kg-carol", path);
    text = s_read_file (path);
    assert_string_equal (text, "carol's\n");
    free (text);
    zstr_free (&path);
    path = zsys_sprintf ("%s/kg-carol_secret", out);
    assert_int_not_equal (lstat (path, &st), 0);
    zstr_free (&path);
    zstr_free (&flags);
    zstr_free (&out);
    //  A symbolic link where the secret goes: not written through
    char *target = zsys_sprintf ("%s/kg-target", s_certs);
    s_write_file (target, "target\n", 0644);
    path = zsys_sprintf ("%s/kg-dave_secret", clients);
    assert_int_equal (symlink (target, path), 0);
    s_keygen_refused ("", "kg-dave", path);
    text = s_read_file (target);
    assert_string_equal (text, "target\n");
    free (text);
    char *public_path = zsys_sprintf ("%s/kg-dave", clients);
    assert_int_not_equal (lstat (public_path, &st), 0);
    zstr_free (&public_path);
    zstr_free (&path);
    zstr_free (&target);
    zstr_free (&clients);
}

/* REQ X.2: output that could not be written is not success: with stdout on
   /dev/full, a read, a list as JSON, verify, events tail and keygen --json
   say so on stderr and exit 1. They exited 0, so a script took the empty
   file for the answer (invoice export already checked its own) */
static void
test_x2_output_not_written_is_an_error (void **state)
{
    (void) state;
    const char *commands [] = {
        "provider list --json",
        "stats show --service registry",
        "verify --service registry",
        "events tail --service registry",
        "keygen --role viewer --name kg-full --json",
        "help",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands [0]; i++) {
        long mark = s_err_mark ();
        int rc = s_ctl (NULL, "operator", "%s > /dev/full", commands [i]);
        char *err = s_err_since (mark);
        if (rc != 1 || !strstr (err, "lgwanctl: could not write the output: "))
            fail_msg ("%s > /dev/full said %d: %s", commands [i], rc, err);
        free (err);
    }
}

//  Billing's answer for test_r6_1_ok_detail_is_a_note: a run done, with
//  providers it did not invoice in the detail (and a control character)
static void
s_answer_ok_detail (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) request;
    (void) nth;
    reply->status->detail = (char *) "201 provider(s) not invoiced for 2026-10: 14\x1b[2J, 15";
}

/* REQ R6.1: an OK reply's detail is shown, as a "note:" line on stderr,
   also with --json: invoice run says there which providers it did not
   invoice (over 200 failing), and lgwanctl printed nothing of it */
static void
test_r6_1_ok_detail_is_a_note (void **state)
{
    (void) state;
    s_fake_start ("billing", s_answer_ok_detail);
    const char *said = "lgwanctl: note: 201 provider(s) not invoiced for 2026-10: 14\\u001b[2J, 15\n";
    const char *flags [] = { "", " --json" };
    for (size_t i = 0; i < 2; i++) {
        long mark = s_err_mark ();
        char *out = NULL;
        int rc = s_ctl (&out, "billing", "invoice run --period 2026-10%s", flags [i]);
        char *err = s_err_since (mark);
        if (rc != 0 || !strstr (err, said) || strchr (err, 0x1b) || strstr (out, "note"))
            fail_msg ("invoice run%s said %d: %s%s", flags [i], rc, out, err);
        free (err);
        free (out);
    }
    s_fake_stop ();
}

//  A fake registry's answer to ReferenceLoad: OK without the list's reply
//  first, then OK with a list version past 2^53 (JSON numbers lose it)
static void
s_answer_reference (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    static Lgwan__V1__ReferenceLoadReply loaded = LGWAN__V1__REFERENCE_LOAD_REPLY__INIT;
    if (request->body_case != LGWAN__V1__REQUEST__BODY_REFERENCE_LOAD) {
        reply->status->code = LGWAN__V1__CODE__INVALID_ARGUMENT;
        reply->status->message = (char *) "not a reference load";
        return;
    }
    if (nth == 0)
        return;                 //  OK, and no body
    loaded.list_version = UINT64_MAX;
    loaded.entries = 1963;
    reply->body_case = LGWAN__V1__REPLY__BODY_REFERENCE_LOAD;
    reply->reference_load = &loaded;
}

/* REQ X.2: reference load checks what the registry answered and prints it as
   every command prints a reply: OK without the list's reply is an error
   (exit 1) naming it, not a crash; the reply in --json is proto3 JSON, its
   64-bit list version a string that keeps every digit, and for people its
   fields by name. Before, the first crashed (a NULL body read) and the
   version was a JSON number */
static void
test_x2_reference_load_reply_is_checked (void **state)
{
    (void) state;
    s_fake_start ("registry", s_answer_reference);
    char *file = zsys_sprintf ("%s/deploy/data/local-governments.csv", getenv ("LG_SOURCE_DIR"));
    long mark = s_err_mark ();
    char *out = NULL;
    int rc = s_ctl (&out, "operator", "reference load --file %s", file);
    char *err = s_err_since (mark);
    if (rc != 1 || *out || !strstr (err, "lgwanctl: registry answered without the list it loaded\n"))
        fail_msg ("a load answered without its reply said %d: %s%s", rc, out, err);
    free (err);
    free (out);
    assert_int_equal (s_ctl (&out, "operator", "reference load --file %s --json", file), 0);
    assert_string_equal (out, "{\"listVersion\":\"18446744073709551615\",\"entries\":1963}\n");
    free (out);
    assert_int_equal (s_ctl (&out, "operator", "reference load --file %s", file), 0);
    if (!strstr (out, "list_version") || !strstr (out, "18446744073709551615")
    ||  !strstr (out, "entries") || !strstr (out, "1963"))
        fail_msg ("a load for people said: %s", out);
    free (out);
    zstr_free (&file);
    s_fake_stop ();
}

//  A fake isolation's answer to Replay: one Disconnected (seq 1) by
//  operator:alice carrying applied
static void
s_replay_disconnected (const lg_request_t *request, lg_reply_t *reply,
                       Lgwan__V1__IsolationApplied *applied)
{
    static Lgwan__V1__ReplayReply replay = LGWAN__V1__REPLAY_REPLY__INIT;
    static ProtobufCBinaryData page [1];
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.source = (char *) "isolation";
    event.seq = 1;
    event.occurred_at = (char *) "2026-10-01T00:00:00Z";
    event.actor = (char *) "operator:alice";
    event.reason = (char *) "suspected worm";
    event.body_case = LGWAN__V1__EVENT__BODY_DISCONNECTED;
    event.disconnected = applied;
    free (page [0].data);
    page [0].len = protobuf_c_message_get_packed_size (&event.base);
    page [0].data = (uint8_t *) malloc (page [0].len);
    protobuf_c_message_pack (&event.base, page [0].data);
    replay.head_seq = 1;
    replay.events = page;
    replay.n_events = request->replay->from_seq <= 1? 1: 0;
    reply->body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    reply->replay = &replay;
}

//  Isolation's answers for test_r16_1_dry_run_is_said: IsolationGet in
//  force at east, which runs in dry run (with a control character in its
//  name, as any text a service sends); Replay, a Disconnected in force there
static void
s_answer_dry_run (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static char *dry_run [] = { (char *) "east\x1b[2J" };
    static char *points [] = { (char *) "east\x1b[2J", (char *) "west" };
    static Lgwan__V1__IsolationReply isolation = LGWAN__V1__ISOLATION_REPLY__INIT;
    //  Connection 1 (for test_r16_1_r15_3_provider_wide_is_said): a
    //  provider-wide disconnection, a narrowed suspension, a provider-wide
    //  decommission it is still to inherit
    static Lgwan__V1__CauseRecord causes [3] = {
        LGWAN__V1__CAUSE_RECORD__INIT, LGWAN__V1__CAUSE_RECORD__INIT, LGWAN__V1__CAUSE_RECORD__INIT
    };
    static Lgwan__V1__CauseRecord *cause_list [3] = { &causes [0], &causes [1], &causes [2] };
    static Lgwan__V1__ConnectionIsolation connection = LGWAN__V1__CONNECTION_ISOLATION__INIT;
    static Lgwan__V1__ConnectionIsolation *connections [1] = { &connection };
    //  EnforcedList (for test_r16_1_r15_3_provider_wide_is_said): provider
    //  4's disconnection, kept since its last connection was released
    static Lgwan__V1__CauseRecord gone = LGWAN__V1__CAUSE_RECORD__INIT;
    static Lgwan__V1__KeptCause kept = LGWAN__V1__KEPT_CAUSE__INIT;
    static Lgwan__V1__KeptCause *kept_list [1] = { &kept };
    if (request->body_case == LGWAN__V1__REQUEST__BODY_ENFORCED_LIST) {
        gone.cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_DISCONNECTION;
        gone.reference = (char *) "INC-GONE";
        gone.provider_wide = true;
        kept.provider = 4;
        kept.cause = &gone;
        kept.last_connection = 12;
        isolation.kept = kept_list;
        isolation.n_kept = 1;
        isolation.version = 7;
        isolation.in_force = true;
        reply->body_case = LGWAN__V1__REPLY__BODY_ISOLATION;
        reply->isolation = &isolation;
        return;
    }
    if (request->body_case == LGWAN__V1__REQUEST__BODY_ISOLATION_GET) {
        causes [0].cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_DISCONNECTION;
        causes [0].reference = (char *) "INC-WHOLE";
        causes [0].provider_wide = true;
        causes [1].cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_SUSPENSION;
        causes [1].reference = (char *) "REM-ONE";
        causes [2].cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_DECOMMISSION;
        causes [2].reference = (char *) "cancellation";
        causes [2].provider_wide = true;
        causes [2].pending = true;
        isolation.n_kept = 0;
        connection.connection = 1;
        connection.provider = 3;
        connection.state = (char *) "decommissioned (pending inheritance)";
        connection.causes = cause_list;
        connection.n_causes = 3;
        isolation.connections = connections;
        isolation.n_connections = 1;
        isolation.version = 7;
        isolation.in_force = request->isolation_get->connection == 1;
        isolation.dry_run_points = dry_run;
        isolation.n_dry_run_points = 1;
        reply->body_case = LGWAN__V1__REPLY__BODY_ISOLATION;
        reply->isolation = &isolation;
        return;
    }
    Lgwan__V1__IsolationApplied applied = LGWAN__V1__ISOLATION_APPLIED__INIT;
    applied.connection = 1;
    applied.state = (char *) "disconnected";
    applied.points = points;
    applied.n_points = 2;
    applied.dry_run_points = dry_run;
    applied.n_dry_run_points = 1;
    s_replay_disconnected (request, reply, &applied);
}

/* REQ R16.1: a change in force at a point in dry run is said to be so in
   plain words: isolation's replies and events name the points in dry run
   (dry_run_points), and lgwanctl says after the reply "in force — DRY RUN
   at east: nothing dropped there", and on the event's line in events tail;
   --json carries the field as it is. The demo's one enforcer runs in dry
   run, and every change was shown in force with no word of it */
static void
test_r16_1_dry_run_is_said (void **state)
{
    (void) state;
    s_fake_start ("isolation", s_answer_dry_run);
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "viewer", "isolation show --connection 1"), 0);
    if (!strstr (out, "\nin force — DRY RUN at east\\u001b[2J: nothing dropped there\n")
    ||  !strstr (out, "dry_run_points:") || strchr (out, 0x1b))
        fail_msg ("isolation show: %s", out);
    free (out);
    assert_int_equal (s_ctl (&out, "viewer", "isolation show --connection 2"), 0);
    if (!strstr (out, "\nnot in force yet — DRY RUN at east\\u001b[2J: nothing dropped there\n"))
        fail_msg ("isolation show: %s", out);
    free (out);
    //  --json: the field, no sentence
    assert_int_equal (s_ctl (&out, "viewer", "isolation show --connection 1 --json"), 0);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    json_t *named = json_object_get (json, "dryRunPoints");
    assert_int_equal (json_array_size (named), 1);
    assert_string_equal (json_string_value (json_array_get (named, 0)), "east\x1b[2J");
    json_decref (json);
    assert_null (strstr (out, "DRY RUN"));
    free (out);
    //  events tail: on the event's line
    assert_int_equal (s_ctl (&out, "viewer", "events tail --service isolation"), 0);
    if (!strstr (out, "disconnected") || !strstr (out, "operator:alice  suspected worm  DRY RUN at"
                                                       " east\\u001b[2J: nothing dropped there\n"))
        fail_msg ("events tail: %s", out);
    free (out);
    s_fake_stop ();
}

/* REQ R16.1, REQ R15.3: isolation show says of a cause imposed on a whole
   provider "provider-wide" beside it, and of one a new connection is still
   to inherit "pending" (CauseRecord.provider_wide, .pending); --json
   carries the fields from the generic protobuf-to-JSON code. The text
   rendering showed the cause alone. isolation list says in a line of its
   own a cause kept for a provider whose connections were all released
   (IsolationReply.kept) */
static void
test_r16_1_r15_3_provider_wide_is_said (void **state)
{
    (void) state;
    s_fake_start ("isolation", s_answer_dry_run);
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "viewer", "isolation show --connection 1"), 0);
    if (!strstr (out, "\nconnection 1: CAUSE_DISCONNECTION INC-WHOLE provider-wide\n")
    ||  !strstr (out, "\nconnection 1: CAUSE_DECOMMISSION cancellation provider-wide pending"
                      " (to be inherited, not in force on it yet)\n")
    ||  strstr (out, "REM-ONE provider-wide"))
        fail_msg ("isolation show: %s", out);
    free (out);
    assert_int_equal (s_ctl (&out, "viewer", "isolation show --connection 1 --json"), 0);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    json_t *causes = json_object_get (json_array_get (json_object_get (json, "connections"), 0),
                                      "causes");
    assert_int_equal (json_array_size (causes), 3);
    assert_true (json_is_true (json_object_get (json_array_get (causes, 0), "providerWide")));
    assert_null (json_object_get (json_array_get (causes, 1), "providerWide"));
    assert_true (json_is_true (json_object_get (json_array_get (causes, 2), "pending")));
    json_decref (json);
    assert_null (strstr (out, "provider-wide"));
    free (out);
    assert_int_equal (s_ctl (&out, "viewer", "isolation list --provider 4"), 0);
    if (!strstr (out, "\nprovider 4: CAUSE_DISCONNECTION INC-GONE kept for the provider: no"
                      " connection carries it (the last, 12, was released); its next connection"
                      " gets it\n"))
        fail_msg ("isolation list: %s", out);
    free (out);
    s_fake_stop ();
}

//  Isolation's answers for test_r16_1_no_point_is_said: a Disconnect in
//  force counted at no point, and its Disconnected
static void
s_answer_no_point (const lg_request_t *request, lg_reply_t *reply, int nth)
{
    (void) nth;
    static Lgwan__V1__IsolationReply isolation = LGWAN__V1__ISOLATION_REPLY__INIT;
    if (request->body_case != LGWAN__V1__REQUEST__BODY_REPLAY) {
        isolation.version = 3;
        isolation.in_force = true;
        isolation.no_enforcement_point = true;
        reply->body_case = LGWAN__V1__REPLY__BODY_ISOLATION;
        reply->isolation = &isolation;
        return;
    }
    Lgwan__V1__IsolationApplied applied = LGWAN__V1__ISOLATION_APPLIED__INIT;
    applied.connection = 1;
    applied.state = (char *) "disconnected";
    applied.version = 3;
    applied.no_enforcement_point = true;
    s_replay_disconnected (request, reply, &applied);
}

/* REQ R16.1: a change counted in force at no point (none registered, or
   all retired: isolation counts it in force at once) is said to have
   dropped nothing anywhere: after the reply of `isolation disconnect` and
   `show`, and on the event's line in events tail; --json carries
   noEnforcementPoint. It was shown "in force" with no word of it, worse than
   the dry run lgwanctl did name */
static void
test_r16_1_no_point_is_said (void **state)
{
    (void) state;
    s_fake_start ("isolation", s_answer_no_point);
    const char *said = "\nin force — NO ENFORCEMENT POINT registered: nothing dropped anywhere\n";
    char *out = NULL;
    long mark = s_err_mark ();
    int rc = s_ctl (&out, "operator", "isolation disconnect --connections 1 --incident INC-1"
                                      " --reason worm");
    char *err = s_err_since (mark);
    if (rc != 0 || !strstr (out, said))
        fail_msg ("isolation disconnect said %d: %s%s", rc, out, err);
    free (err);
    free (out);
    assert_int_equal (s_ctl (&out, "viewer", "isolation show --connection 1"), 0);
    if (!strstr (out, said) || !strstr (out, "no_enforcement_point: true"))
        fail_msg ("isolation show: %s", out);
    free (out);
    assert_int_equal (s_ctl (&out, "viewer", "isolation show --connection 1 --json"), 0);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    if (!json_is_true (json_object_get (json, "noEnforcementPoint")))
        fail_msg ("isolation show --json: %s", out);
    json_decref (json);
    assert_null (strstr (out, "NO ENFORCEMENT POINT"));
    free (out);
    assert_int_equal (s_ctl (&out, "viewer", "events tail --service isolation"), 0);
    if (!strstr (out, "operator:alice  suspected worm  NO ENFORCEMENT POINT registered: nothing"
                      " dropped anywhere\n"))
        fail_msg ("events tail: %s", out);
    free (out);
    assert_int_equal (s_ctl (&out, "viewer", "events tail --service isolation --json"), 0);
    if (!strstr (out, "\"noEnforcementPoint\":true"))
        fail_msg ("events tail --json: %s", out);
    free (out);
    s_fake_stop ();
}

/* REQ X.2: with several replicas (--endpoint a,b), a try that got no
   answer is sent again to the next one (lg_client.h point 5): a dead
   replica first, a live one second, answered on a later try. Each try
   connected a new DEALER to them in the same order, and the DEALER queued
   every try on the dead one: 4 tries, "no reply" (exit 3), while swapped
   it answered */
static void
test_x2_a_retry_asks_the_next_replica (void **state)
{
    (void) state;
    int dead = lg_test_free_port ();
    long mark = s_err_mark ();
    int rc = s_ctl (NULL, "viewer", "stats show --service registry --endpoint"
                    " tcp://127.0.0.1:%d,%s --timeout 500 --retries 3", dead, s_registry.endpoint);
    char *err = s_err_since (mark);
    if (rc != 0)
        fail_msg ("dead replica first: %d: %s", rc, err);
    free (err);
    assert_int_equal (s_ctl (NULL, "viewer", "stats show --service registry --endpoint"
                             " %s,tcp://127.0.0.1:%d --timeout 500 --retries 3",
                             s_registry.endpoint, dead), 0);
    //  One try: it goes to the first, dead, replica
    assert_int_equal (s_ctl (NULL, "viewer", "stats show --service registry --endpoint"
                             " tcp://127.0.0.1:%d,%s --timeout 300 --retries 0",
                             dead, s_registry.endpoint), 3);
}

//  One statement as the admin on the test's database: the first value of
//  its result, "" when it has none (caller frees); a failure fails the test
static char *
s_admin_value (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *sql = zsys_vprintf (format, args);
    va_end (args);
    PGconn *conn = PQconnectdb (s_admin);
    PGresult *res = PQexec (conn, sql);
    ExecStatusType status = PQresultStatus (res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    char *value = strdup (status == PGRES_TUPLES_OK && PQntuples (res) > 0?
                          PQgetvalue (res, 0, 0): "");
    PQclear (res);
    PQfinish (conn);
    zstr_free (&sql);
    return value;
}

/* REQ X.3: db init says ready only for a role and schema the service can
   use: an existing schema owned by another role (restored with --no-owner)
   or an existing role that may not log in (NOLOGIN) is failed, with the
   reason, exit 1, and nothing done (one transaction). Before, CREATE
   SCHEMA IF NOT EXISTS and the IF NOT EXISTS around CREATE ROLE kept them
   as they were and db init said "ready" */
static void
test_x3_db_init_checks_what_it_keeps (void **state)
{
    (void) state;
    //  Billing does not run in this test: its schema made anew by the admin
    free (s_admin_value ("DROP SCHEMA billing CASCADE; CREATE SCHEMA billing"));
    char *out = NULL;
    long mark = s_err_mark ();
    assert_int_equal (s_ctl (&out, "operator", "db init --admin-dsn '%s' --service billing"
                             " --json", s_admin), 1);
    json_t *json = json_loads (out, 0, NULL);
    assert_non_null (json);
    assert_string_equal (json_string_value (json_object_get (json, "billing")), "failed");
    json_decref (json);
    free (out);
    char *err = s_err_since (mark);
    if (!strstr (err, "schema billing exists and is owned by postgres, not lgwan_billing"))
        fail_msg ("stderr: %s", err);
    free (err);
    char *owner = s_admin_value ("SELECT pg_get_userbyid (nspowner) FROM pg_namespace"
                                 " WHERE nspname = 'billing'");
    assert_string_equal (owner, "postgres");
    free (owner);
    //  Gone, it is made as it should be
    free (s_admin_value ("DROP SCHEMA billing"));
    assert_int_equal (s_ctl (&out, "operator", "db init --admin-dsn '%s' --service billing"
                             " --json", s_admin), 0);
    json = json_loads (out, 0, NULL);
    assert_string_equal (json_string_value (json_object_get (json, "billing")), "ready");
    json_decref (json);
    free (out);
    owner = s_admin_value ("SELECT pg_get_userbyid (nspowner) FROM pg_namespace"
                           " WHERE nspname = 'billing'");
    assert_string_equal (owner, "lgwan_billing");
    free (owner);

    //  A role that may not log in (one of this test's own: roles are the
    //  cluster's), through lg_db_bootstrap, which db init runs
    free (s_admin_value ("SET client_min_messages TO warning;"
                         " DROP ROLE IF EXISTS lgwan_ctlnologin"));
    free (s_admin_value ("CREATE ROLE lgwan_ctlnologin NOLOGIN"));
    char why [512];
    assert_int_equal (lg_db_bootstrap (s_admin, "ctlnologin", NULL, why, sizeof why), -1);
    if (!strstr (why, "role lgwan_ctlnologin exists and may not log in (NOLOGIN)"))
        fail_msg ("why: %s", why);
    char *schemas = s_admin_value ("SELECT count(*) FROM pg_namespace"
                                   " WHERE nspname = 'ctlnologin'");
    assert_string_equal (schemas, "0");
    free (schemas);
    free (s_admin_value ("DROP ROLE lgwan_ctlnologin"));
}

/* REQ X.3: db init prepares the database its DSN names, and says which: a
   DSN without dbname (libpq takes the user's name, postgres) or naming
   postgres, template0 or template1 is a usage error (exit 2) that names
   X.3 and touches nothing. Before, a DSN without dbname prepared the
   maintenance database postgres and revoked PUBLIC's connect on it */
static void
test_x3_db_init_names_its_database (void **state)
{
    (void) state;
    const char *host = getenv ("LG_TEST_PGHOST");
    const char *dsns [] = { "user=postgres", "dbname=postgres user=postgres",
                            "dbname=template1 user=postgres", "dbname='' user=postgres" };
    char *acl = s_admin_value ("SELECT coalesce (datacl::text, 'default') FROM pg_database"
                               " WHERE datname = 'postgres'");
    for (size_t i = 0; i < sizeof dsns / sizeof dsns [0]; i++) {
        long mark = s_err_mark ();
        char *out = NULL;
        int rc = s_ctl (&out, "operator", "db init --admin-dsn \"host=%s %s\" --service audit"
                        " --json", host, dsns [i]);
        char *err = s_err_since (mark);
        if (rc != 2 || !strstr (err, "(X.3)") || !strstr (err, "nothing done"))
            fail_msg ("%s: exit %d, stderr %s", dsns [i], rc, err);
        assert_string_equal (out, "");
        free (err);
        free (out);
    }
    char *now = s_admin_value ("SELECT coalesce (datacl::text, 'default') FROM pg_database"
                               " WHERE datname = 'postgres'");
    assert_string_equal (now, acl);
    free (now);
    free (acl);
    //  The database prepared is said
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "operator", "db init --admin-dsn '%s' --service audit",
                             s_admin), 0);
    char *name = s_admin_value ("SELECT current_database ()");
    char *line = zsys_sprintf ("database: %s\naudit: ready\n", name);
    assert_string_equal (out, line);
    zstr_free (&line);
    free (name);
    free (out);
}

/* REQ X.3: db init --password sends the password hashed as the server
   stores it (PQencryptPasswordConn, password_encryption): with DDL logged
   (log_statement = ddl) the server log has the ALTER ROLE and not the
   password. Before, ALTER ROLE ... PASSWORD '<clear text>' was logged */
static void
test_x3_db_init_password_leaves_hashed (void **state)
{
    (void) state;
    char *log = zsys_sprintf ("%s/../postgres.log", getenv ("LG_TEST_PGHOST"));
    char *password = zsys_sprintf ("Clear-%d-pw", (int) getpid ());
    struct stat st;
    long mark = stat (log, &st) == 0? (long) st.st_size + 1: 1;
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "operator", "db init --admin-dsn \"%s options='-c"
                             " log_statement=ddl'\" --service monitor --password %s",
                             s_admin, password), 0);
    free (out);
    char *logged = lg_test_sh_output ("tail -c +%ld %s | grep -c 'ALTER ROLE lgwan_monitor"
                                      " PASSWORD'", mark, log);
    if (atoi (logged) < 1)
        fail_msg ("the ALTER ROLE was not logged in %s: %s", log, logged);
    free (logged);
    char *clear = lg_test_sh_output ("tail -c +%ld %s | grep -c -- '%s'", mark, log, password);
    assert_int_equal (atoi (clear), 0);
    free (clear);
    char *stored = s_admin_value ("SELECT CASE WHEN rolpassword LIKE 'SCRAM-SHA-256$%%'"
                                  " THEN 'scram-sha-256' WHEN rolpassword LIKE 'md5%%'"
                                  " THEN 'md5' ELSE rolpassword END FROM pg_authid"
                                  " WHERE rolname = 'lgwan_monitor'");
    char *encryption = s_admin_value ("SHOW password_encryption");
    assert_string_equal (stored, encryption);
    free (stored);
    free (encryption);
    free (s_admin_value ("ALTER ROLE lgwan_monitor PASSWORD NULL"));
    zstr_free (&password);
    zstr_free (&log);
}

/* REQ X.1: cert revoke keeps every key revoked on record: a name revoked
   again (a new key made under it after the first was revoked) keeps the
   earlier record as revoked/<name>.1, .2, ... and revoked/<name> is the
   last. Before, the rename over revoked/<name> lost the earlier key */
static void
test_x1_cert_revoke_keeps_earlier_records (void **state)
{
    (void) state;
    char *keys [3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal (s_ctl (NULL, "operator", "keygen --role viewer --name again"
                                 " --out %s/again%d", s_certs, i), 0);
        keys [i] = lg_test_sh_output ("cat %s/allowed/again", s_certs);
        assert_true (strlen (keys [i]) > 0);
        char *out = NULL;
        assert_int_equal (s_ctl (&out, "operator", "cert revoke --name again"), 0);
        char *said = zsys_sprintf ("revoked: %s/revoked/again\n", s_certs);
        assert_string_equal (out, said);
        zstr_free (&said);
        free (out);
    }
    assert_string_not_equal (keys [0], keys [1]);
    const char *records [] = { "again.1", "again.2", "again" };
    for (int i = 0; i < 3; i++) {
        char *kept = lg_test_sh_output ("cat %s/revoked/%s", s_certs, records [i]);
        assert_string_equal (kept, keys [i]);
        free (kept);
        free (keys [i]);
    }
    char *listed = lg_test_sh_output ("cd %s/revoked && ls -d again*", s_certs);
    assert_string_equal (listed, "again\nagain.1\nagain.2\n");
    free (listed);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_requests_and_exit_codes),
        cmocka_unit_test (test_x1_verify),
        cmocka_unit_test (test_x1_verify_needs_a_chain_walked),
        cmocka_unit_test (test_x1_verify_hashes_the_stored_bytes),
        cmocka_unit_test (test_x2_unknown_outcome_repeats_safely),
        cmocka_unit_test (test_x3_certificate_refused_is_said),
        cmocka_unit_test (test_x2_unreadable_events_are_named),
        cmocka_unit_test (test_x2_events_tail_asks_as_every_command),
        cmocka_unit_test (test_r6_1_export_whole_or_nothing),
        cmocka_unit_test (test_r6_1_export_refuses_json),
        cmocka_unit_test (test_r6_1_export_killed_leaves_no_file),
        cmocka_unit_test (test_x3_export_follows_no_planted_link),
        cmocka_unit_test (test_x2_unreadable_reply_is_not_no_reply),
        cmocka_unit_test (test_x1_verify_says_a_reply_is_unreadable),
        cmocka_unit_test (test_x3_server_text_is_escaped),
        cmocka_unit_test (test_x3_keygen_binds_an_enforcer_to_its_point),
        cmocka_unit_test (test_x3_keygen_writes_over_no_file),
        cmocka_unit_test (test_x3_keygen_asks_the_role_before_the_value),
        cmocka_unit_test (test_x2_output_not_written_is_an_error),
        cmocka_unit_test (test_r6_1_ok_detail_is_a_note),
        cmocka_unit_test (test_x2_reference_load_reply_is_checked),
        cmocka_unit_test (test_x1_verify_names_a_missing_certificate),
        cmocka_unit_test (test_x2_events_tail_says_gaps_and_where_to_resume),
        cmocka_unit_test (test_x2_events_tail_no_gap_for_an_unreadable_event),
        cmocka_unit_test (test_r16_1_dry_run_is_said),
        cmocka_unit_test (test_r16_1_r15_3_provider_wide_is_said),
        cmocka_unit_test (test_r16_1_no_point_is_said),
        cmocka_unit_test (test_x2_a_retry_asks_the_next_replica),
        cmocka_unit_test (test_x3_db_init_unreachable_server_exits_3),
        cmocka_unit_test (test_x3_db_init_refused_connection_is_no_absent_server),
        cmocka_unit_test (test_x3_db_init_checks_what_it_keeps),
        cmocka_unit_test (test_x3_db_init_names_its_database),
        cmocka_unit_test (test_x3_db_init_password_leaves_hashed),
        cmocka_unit_test (test_x1_cert_revoke_keeps_earlier_records),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
