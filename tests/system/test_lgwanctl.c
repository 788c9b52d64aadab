/*  System test of lgwanctl against the real registry and audit services:
    requests, refusals and exit codes, Japanese text through --json, events
    tail, and `lgwanctl verify` catching an edited and a cut event chain.
*/
#include "lg_test.h"

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

//  Run lgwanctl with a shell command line; stdout into *out (caller frees)
static int
s_ctl (char **out, const char *who, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *line = zsys_vprintf (format, args);
    va_end (args);
    char *binary = lg_test_lgwanctl_binary ();
    char *cmd = zsys_sprintf ("LGWANCTL_CERT=%s/clients/%s %s %s 2>>%s/lgwanctl.err",
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
    lg_test_proc_stop (&s_audit, SIGTERM);
    lg_test_proc_stop (&s_registry, SIGTERM);
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
    //  db init against a server that is not there: said once, the rest
    //  not tried, exit 1
    assert_int_equal (s_ctl (&out, "operator", "db init --admin-dsn"
                             " 'host=/nonexistent dbname=x user=y' --json"), 1);
    json = json_loads (out, 0, NULL);
    assert_non_null (json);
    assert_string_equal (json_string_value (json_object_get (json, "registry")), "failed");
    assert_string_equal (json_string_value (json_object_get (json, "isolation")), "not tried");
    json_decref (json);
    free (out);
    char *errors = lg_test_sh_output ("grep -c 'could not prepare' %s/lgwanctl.err", s_certs);
    assert_int_equal (atoi (errors), 1);
    free (errors);
    free (id_copy);
    zstr_free (&quoted);
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
    assert_non_null (strstr (out, "registry      intact"));
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
    int verdict = s_ctl (&out, "viewer", "verify --service registry --service audit --json");
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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_requests_and_exit_codes),
        cmocka_unit_test (test_x1_verify),
        cmocka_unit_test (test_x2_unknown_outcome_repeats_safely),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
