/*  test_harness - the test support itself: a fresh database per test with
    the roles and schemas of `lgwanctl db init`, a template no test can
    change, certificates, and processes started and stopped.
*/
#include "lg_test.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  One value of a one-row query on conninfo; caller frees; NULL on error.
static char *
s_query_value (const char *conninfo, const char *sql, int nparams, const char *const *params)
{
    PGconn *conn = PQconnectdb (conninfo);
    char *value = NULL;
    PGresult *res = NULL;
    if (PQstatus (conn) != CONNECTION_OK) {
        print_error ("could not connect: %s\n", PQerrorMessage (conn));
        goto cleanup;
    }
    res = PQexecParams (conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        print_error ("query failed: %s\n", PQerrorMessage (conn));
        goto cleanup;
    }
    if (PQntuples (res) == 1 && PQnfields (res) == 1)
        value = strdup (PQgetvalue (res, 0, 0));
cleanup:
    PQclear (res);
    PQfinish (conn);
    return value;
}

static bool
s_query_ok (const char *conninfo, const char *sql)
{
    PGconn *conn = PQconnectdb (conninfo);
    bool ok = false;
    if (PQstatus (conn) == CONNECTION_OK) {
        PGresult *res = PQexec (conn, sql);
        ok = PQresultStatus (res) == PGRES_COMMAND_OK;
        if (!ok)
            print_error ("%s: %s\n", sql, PQerrorMessage (conn));
        PQclear (res);
    }
    PQfinish (conn);
    return ok;
}

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    return 0;
}

//  A fresh database is there, with every service's role and schema, and a
//  service connects as its own role.
static void
test_db_new_has_roles (void **state)
{
    (void) state;
    char *dsn = lg_test_db_new ("harness");
    assert_non_null (dsn);
    char *name = s_query_value (dsn, "SELECT current_database ()", 0, NULL);
    assert_non_null (name);
    assert_true (strncmp (name, "t_harness_", 10) == 0);
    free (name);

    for (int index = 0; lg_test_services [index]; index++) {
        const char *service = lg_test_services [index];
        char role [64];
        snprintf (role, sizeof role, "lgwan_%s", service);
        const char *params [] = { role, service };
        char *count = s_query_value (dsn,
            "SELECT (SELECT count (*) FROM pg_roles WHERE rolname = $1)"
            "     + (SELECT count (*) FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner"
            "        WHERE n.nspname = $2 AND r.rolname = $1)", 2, params);
        assert_non_null (count);
        bool present = strcmp (count, "2") == 0;
        free (count);
        if (!present) {
            lg_test_db_drop (&dsn);
            fail_msg ("role %s or its schema %s is missing (lgwanctl db init)", role, service);
        }

        char *service_dsn = lg_test_db_service_dsn (dsn, service);
        assert_non_null (service_dsn);
        char *user = s_query_value (service_dsn, "SELECT current_user", 0, NULL);
        assert_non_null (user);
        assert_string_equal (user, role);
        free (user);
        zstr_free (&service_dsn);
    }
    lg_test_db_drop (&dsn);
    assert_null (dsn);
}

//  What a test does to its database stays there: the template is untouched,
//  so the next database is clean. (Nobody connects to the template itself:
//  CREATE DATABASE ... TEMPLATE refuses while it has sessions.)
static void
test_template_untouched (void **state)
{
    (void) state;
    char *first = lg_test_db_new ("first");
    assert_non_null (first);
    assert_true (s_query_ok (first, "CREATE TABLE public.harness_marker (n int)"));
    assert_true (s_query_ok (first, "CREATE TABLE registry.harness_marker (n int)"));

    char *second = lg_test_db_new ("second");
    assert_non_null (second);
    char *absent = s_query_value (second,
        "SELECT to_regclass ('public.harness_marker') IS NULL"
        "   AND to_regclass ('registry.harness_marker') IS NULL", 0, NULL);
    assert_non_null (absent);
    assert_string_equal (absent, "t");
    free (absent);

    const char *params [] = { "lgwan_template" };
    char *template = s_query_value (second,
        "SELECT datistemplate FROM pg_database WHERE datname = $1", 1, params);
    assert_non_null (template);
    assert_string_equal (template, "t");
    free (template);

    //  Dropping closes the sessions on it and removes it
    char *name = s_query_value (first, "SELECT current_database ()", 0, NULL);
    assert_non_null (name);
    lg_test_db_drop (&first);
    const char *name_param [] = { name };
    char *gone = s_query_value (second,
        "SELECT count (*) FROM pg_database WHERE datname = $1", 1, name_param);
    assert_non_null (gone);
    assert_string_equal (gone, "0");
    free (gone);
    free (name);
    lg_test_db_drop (&second);
}

//  The certificate folder has what lg_test.h promises.
static void
test_certs (void **state)
{
    (void) state;
    char *dir = lg_test_certs_new ();
    assert_non_null (dir);
    const char *present [] = {
        "services/registry", "services/registry_secret", "services/orchestrator",
        "services/registry.hmac", "clients/operator_secret", "clients/operator2_secret",
        "clients/provider1_secret", "clients/stranger_secret", "allowed/operator",
        "allowed/provider2", NULL
    };
    for (int index = 0; present [index]; index++) {
        char *path = zsys_sprintf ("%s/%s", dir, present [index]);
        if (!zsys_file_exists (path))
            fail_msg ("%s is missing", path);
        zstr_free (&path);
    }
    char *stranger = zsys_sprintf ("%s/allowed/stranger", dir);
    assert_false (zsys_file_exists (stranger));
    zstr_free (&stranger);

    char *operator = zsys_sprintf ("%s/clients/operator_secret", dir);
    zcert_t *cert = zcert_load (operator);
    assert_non_null (cert);
    assert_string_equal (zcert_meta (cert, "role"), "operator");
    assert_string_equal (zcert_meta (cert, "operator_id"), "alice");
    zcert_destroy (&cert);
    zstr_free (&operator);

    char *copy = strdup (dir);
    lg_test_certs_destroy (&dir);
    assert_null (dir);
    struct stat sb;
    assert_int_equal (stat (copy, &sb), -1);
    free (copy);
}

static bool
s_file_exists (void *path)
{
    return zsys_file_exists ((const char *) path);
}

//  A spawned process gets our environment plus its own variables, its exit
//  code comes back, and one that does not stop is killed.
static void
test_processes (void **state)
{
    (void) state;
    char dir [] = "/tmp/lgtest-proc-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char *script = zsys_sprintf ("%s/child.sh", dir);
    char *flag = zsys_sprintf ("%s/flag", dir);
    FILE *file = fopen (script, "w");
    assert_non_null (file);
    fprintf (file, "#!/bin/sh\n"
                   "[ \"$LG_HARNESS_VALUE\" = yes ] || exit 4\n"
                   "[ -n \"$PATH\" ] || exit 5\n"
                   "touch \"$LG_HARNESS_FLAG\"\n"
                   "[ \"$LG_HARNESS_MODE\" = sleep ] && exec sleep 30\n"
                   "exit 3\n");
    fclose (file);
    assert_int_equal (chmod (script, 0755), 0);

    char *flag_var = zsys_sprintf ("LG_HARNESS_FLAG=%s", flag);
    const char *env_exit [] = { "LG_HARNESS_VALUE=yes", flag_var, NULL };
    pid_t pid = lg_test_spawn (script, env_exit);
    assert_true (pid > 0);
    assert_non_null (lg_test_log_path (pid));
    assert_int_equal (lg_test_stop (pid, 0, 5000), 3);

    const char *env_sleep [] = { "LG_HARNESS_VALUE=yes", "LG_HARNESS_MODE=sleep", flag_var, NULL };
    unlink (flag);
    pid = lg_test_spawn (script, env_sleep);
    assert_true (pid > 0);
    assert_true (lg_test_wait_for (s_file_exists, flag, 5000));
    assert_int_equal (lg_test_stop (pid, SIGTERM, 5000), 128 + SIGTERM);

    //  A process that ignores SIGTERM is killed after the timeout
    const char *argv [] = { "sh", "-c", "trap '' TERM; exec sleep 30", NULL };
    pid = lg_test_spawn_argv ("/bin/sh", argv, NULL);
    assert_true (pid > 0);
    usleep (100 * 1000);
    assert_int_equal (lg_test_stop (pid, SIGTERM, 300), 128 + SIGKILL);
    assert_int_equal (lg_test_stop (pid, SIGTERM, 100), -1);

    int port = lg_test_free_port ();
    assert_true (port > 0 && port < 65536);

    unlink (flag);
    unlink (script);
    rmdir (dir);
    zstr_free (&flag_var);
    zstr_free (&flag);
    zstr_free (&script);
}

//  How a process of ours ends when its teardown stopped, with
//  lg_test_teardown_stop, a shell that runs script once it has written its
//  flag (its traps set) and exits 0 itself: its exit code
static int
s_exit_after_teardown_stop (const char *script)
{
    char dir [] = "/tmp/lgtest-teardown-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char *flag = zsys_sprintf ("%s/flag", dir);
    char *command = zsys_sprintf ("%s; touch %s; sleep 10 & wait", script, flag);
    fflush (NULL);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        const char *argv [] = { "sh", "-c", command, NULL };
        pid_t pid = lg_test_spawn_argv ("/bin/sh", argv, NULL);
        if (pid <= 0 || !lg_test_wait_for (s_file_exists, flag, 5000))
            _exit (99);
        lg_test_teardown_stop (pid, "the shell");
        exit (0);
    }
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    unlink (flag);
    rmdir (dir);
    zstr_free (&flag);
    zstr_free (&command);
    return WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
}

//  A group teardown that finds a service ended badly fails the test
//  process, although cmocka 1.1.5 exits 0 whatever a group teardown does:
//  a clean exit leaves it be; an exit 1, a crash, and the default death by
//  SIGTERM (no handler) make it exit 1
static void
test_teardown_stop_fails_the_test_process (void **state)
{
    (void) state;
    assert_int_equal (s_exit_after_teardown_stop ("trap 'kill $!; exit 0' TERM"), 0);
    assert_int_equal (s_exit_after_teardown_stop ("trap 'kill $!; exit 1' TERM"), 1);
    assert_int_equal (s_exit_after_teardown_stop ("trap 'kill $!; kill -SEGV $$' TERM"), 1);
    assert_int_equal (s_exit_after_teardown_stop ("true"), 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_db_new_has_roles, s_setup),
        cmocka_unit_test_setup (test_template_untouched, s_setup),
        cmocka_unit_test (test_certs),
        cmocka_unit_test (test_processes),
        cmocka_unit_test (test_teardown_stop_fails_the_test_process),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
