/*  lg_test - what integration and system tests share (see lg_test.h).

    Database names are t_<hint>_<pid>_<n>: the pid keeps parallel test
    programs apart, n the databases of one program. Identifiers cannot be
    parameters in SQL, so names are made from [a-z0-9_] only and still quoted
    with PQescapeIdentifier.
*/
#include "lg_test.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *const lg_test_services [] = {
    "registry", "billing", "audit", "monitor", "isolation", "orchestrator", NULL
};

#define S_TEMPLATE      "lgwan_template"
#define S_MAX_CHILDREN  64
#define S_READY_MS      15000       //  lg_test_proc_start: until it answers
#define S_ANSWER_MS     300         //  lg_test_proc_answers: one Stats request
#define S_STOP_MS       5000        //  lg_test_proc_stop: until it has ended

//  Log files of the processes we started, for lg_test_stop's report
static struct {
    pid_t pid;
    char path [512];
} s_children [S_MAX_CHILDREN];

static int s_db_counter;

//  Failures cmocka cannot see, after which the test process exits 1 however
//  its own tests went: a child's log held a sanitizer report (a service's
//  leak or undefined behaviour is the test's failure even where the test
//  ignores how the service ended), or a service did not end with exit code
//  0 when a group teardown stopped it (lg_test_teardown_stop)
static bool s_sanitizer_report;
static bool s_teardown_failure;

static void
s_exit_on_failure (void)
{
    if (s_sanitizer_report)
        fprintf (stderr, "lg_test: a process this test started reported a sanitizer error"
                         " (above); failing the test\n");
    if (s_teardown_failure)
        fprintf (stderr, "lg_test: a process the teardown stopped did not end with exit code 0"
                         " (above); failing the test\n");
    if (s_sanitizer_report || s_teardown_failure) {
        fflush (NULL);
        _exit (1);
    }
}

//  Registered once, by the first spawn or failure
static void
s_register_exit_check (void)
{
    static bool registered;
    if (!registered) {
        atexit (s_exit_on_failure);
        registered = true;
    }
}

//  True when a log holds an AddressSanitizer, LeakSanitizer or UBSan report
static bool
s_log_has_sanitizer_report (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char line [1024];
    bool found = false;
    while (!found && fgets (line, sizeof line, file))
        found = (strstr (line, "==ERROR: ") && strstr (line, "Sanitizer"))
             || strstr (line, ": runtime error: ");
    fclose (file);
    return found;
}


//  --------------------------------------------------------------------------
//  Helpers

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
        ;
}

//  Quote a conninfo value: 'text' with \ and ' escaped. Caller frees.
static char *
s_conninfo_quote (const char *value)
{
    size_t length = strlen (value);
    char *quoted = (char *) malloc (length * 2 + 3);
    if (!quoted)
        return NULL;
    char *out = quoted;
    *out++ = '\'';
    for (const char *in = value; *in; in++) {
        if (*in == '\\' || *in == '\'')
            *out++ = '\\';
        *out++ = *in;
    }
    *out++ = '\'';
    *out = '\0';
    return quoted;
}

//  Conninfo for host, dbname and user. Caller frees.
static char *
s_conninfo (const char *host, const char *dbname, const char *user)
{
    char *qhost = s_conninfo_quote (host);
    char *qdb = s_conninfo_quote (dbname);
    char *quser = s_conninfo_quote (user);
    char *conninfo = NULL;
    if (qhost && qdb && quser)
        conninfo = zsys_sprintf ("host=%s dbname=%s user=%s connect_timeout=10",
                                 qhost, qdb, quser);
    free (qhost);
    free (qdb);
    free (quser);
    return conninfo;
}

//  Read host and dbname out of a conninfo; 0 ok, -1 does not parse.
static int
s_conninfo_split (const char *conninfo, char **host_p, char **dbname_p)
{
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse (conninfo, &error);
    if (!options) {
        fprintf (stderr, "lg_test: bad conninfo \"%s\": %s\n", conninfo, error? error: "");
        PQfreemem (error);
        return -1;
    }
    *host_p = NULL;
    *dbname_p = NULL;
    for (PQconninfoOption *option = options; option->keyword; option++) {
        if (option->val && strcmp (option->keyword, "host") == 0)
            *host_p = strdup (option->val);
        else
        if (option->val && strcmp (option->keyword, "dbname") == 0)
            *dbname_p = strdup (option->val);
    }
    PQconninfoFree (options);
    if (!*host_p || !*dbname_p) {
        free (*host_p);
        free (*dbname_p);
        *host_p = *dbname_p = NULL;
        return -1;
    }
    return 0;
}

//  Run one utility statement on the maintenance database of host, where
//  format is completed with the quoted database name. 0 ok, -1 printed.
static int
s_admin_command (const char *host, const char *format, const char *dbname)
{
    int rc = -1;
    char *conninfo = s_conninfo (host, "postgres", "postgres");
    PGconn *conn = conninfo? PQconnectdb (conninfo): NULL;
    char *ident = NULL;
    char *sql = NULL;
    PGresult *res = NULL;
    if (!conn || PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "lg_test: could not connect to the test cluster at %s\n"
                 "detail: %s\n", host, conn? PQerrorMessage (conn): "out of memory");
        goto cleanup;
    }
    ident = PQescapeIdentifier (conn, dbname, strlen (dbname));
    if (!ident)
        goto cleanup;
    sql = zsys_sprintf (format, ident);
    res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_COMMAND_OK) {
        fprintf (stderr, "lg_test: could not run \"%s\"\ndetail: %s\n",
                 sql, PQerrorMessage (conn));
        goto cleanup;
    }
    rc = 0;
cleanup:
    PQclear (res);
    zstr_free (&sql);
    PQfreemem (ident);
    if (conn)
        PQfinish (conn);
    zstr_free (&conninfo);
    return rc;
}


//  --------------------------------------------------------------------------
//  Databases

bool
lg_test_in_ci (void)
{
    const char *ci = getenv ("CI");
    return ci && strcmp (ci, "true") == 0;
}

bool
lg_test_pg_available (void)
{
    const char *host = getenv ("LG_TEST_PGHOST");
    if (!host || !*host)
        return false;
    char *conninfo = s_conninfo (host, "postgres", "postgres");
    bool ok = conninfo && PQping (conninfo) == PQPING_OK;
    zstr_free (&conninfo);
    return ok;
}

char *
lg_test_db_new (const char *hint)
{
    const char *host = getenv ("LG_TEST_PGHOST");
    if (!host || !*host) {
        fprintf (stderr, "lg_test: LG_TEST_PGHOST is not set\n");
        return NULL;
    }
    //  t_ + hint (at most 32) + _pid_n stays well within NAMEDATALEN 64
    char clean [33];
    size_t length = 0;
    for (const char *c = hint? hint: "db"; *c && length < sizeof clean - 1; c++) {
        char ch = *c;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char) (ch - 'A' + 'a');
        clean [length++] = ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))? ch: '_';
    }
    clean [length] = '\0';
    char dbname [64];
    snprintf (dbname, sizeof dbname, "t_%s_%d_%d", clean, (int) getpid (), ++s_db_counter);

    if (s_admin_command (host, "CREATE DATABASE %s TEMPLATE " S_TEMPLATE, dbname))
        return NULL;
    return s_conninfo (host, dbname, "postgres");
}

char *
lg_test_db_service_dsn (const char *admin_dsn, const char *service)
{
    if (!admin_dsn || !service)
        return NULL;
    char *host, *dbname;
    if (s_conninfo_split (admin_dsn, &host, &dbname))
        return NULL;
    char *user = zsys_sprintf ("lgwan_%s", service);
    char *conninfo = s_conninfo (host, dbname, user);
    zstr_free (&user);
    free (host);
    free (dbname);
    return conninfo;
}

void
lg_test_db_drop (char **dsn_p)
{
    if (!dsn_p || !*dsn_p)
        return;
    char *host, *dbname;
    if (s_conninfo_split (*dsn_p, &host, &dbname) == 0) {
        s_admin_command (host, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
        free (host);
        free (dbname);
    }
    zstr_free (dsn_p);
}

long
lg_test_wait_lock_waiters (const char *admin_dsn, const char *service, long count,
                           int timeout_ms)
{
    PGconn *conn = admin_dsn? PQconnectdb (admin_dsn): NULL;
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "lg_test: could not connect to count lock waiters: %s",
                 conn? PQerrorMessage (conn): "no conninfo\n");
        PQfinish (conn);
        return -1;
    }
    char *role = zsys_sprintf ("lgwan_%s", service);
    const char *params [] = { role };
    long waiting = -1;
    int64_t deadline = s_now_ms () + timeout_ms;
    while (true) {
        PGresult *res = PQexecParams (conn, "SELECT count(*) FROM pg_stat_activity"
                                      " WHERE datname = current_database() AND usename = $1"
                                      " AND wait_event_type = 'Lock'",
                                      1, NULL, params, NULL, NULL, 0);
        waiting = PQresultStatus (res) == PGRES_TUPLES_OK? atol (PQgetvalue (res, 0, 0)): -1;
        if (waiting < 0)
            fprintf (stderr, "lg_test: could not count lock waiters: %s",
                     PQresultErrorMessage (res));
        PQclear (res);
        if (waiting < 0 || waiting >= count || s_now_ms () >= deadline)
            break;
        s_sleep_ms (20);
    }
    zstr_free (&role);
    PQfinish (conn);
    return waiting;
}


//  --------------------------------------------------------------------------
//  Not available: skip, or fail in CI

void
lg_test_unavailable_at (const char *file, int line, const char *format, ...)
{
    char message [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    if (lg_test_in_ci ()) {
        fprintf (stderr, "%s:%d: unavailable in CI, failing: %s\n", file, line, message);
        _fail (file, line);
    }
    else {
        fprintf (stderr, "%s:%d: skipped: %s (CI=true would fail here)\n", file, line, message);
        _skip (file, line);
    }
}


//  --------------------------------------------------------------------------
//  Certificates

static const struct {
    const char *name;
    const char *role;
    uint64_t provider_id;
    const char *operator_id;
    const char *point;              //  role enforcer: the point it speaks as (X.3)
} s_clients [] = {
    { "operator",  "operator", 0, "alice", NULL },
    { "operator2", "operator", 0, "bob",   NULL },
    { "reviewer",  "reviewer", 0, "rita",  NULL },
    { "auditor",   "auditor",  0, "aki",   NULL },
    { "viewer",    "viewer",   0, NULL,    NULL },
    { "billing",   "billing",  0, NULL,    NULL },
    { "sensor",    "sensor",   0, NULL,    NULL },
    { "enforcer",  "enforcer", 0, NULL,    "east" },
    { "service",   "service",  0, NULL,    NULL },
    { "provider1", "provider", 1, NULL,    NULL },
    { "provider2", "provider", 2, NULL,    NULL }
};

char *
lg_test_certs_new (void)
{
    const char *tmp = getenv ("TMPDIR");
    char *dir = zsys_sprintf ("%s/lgtest-certs-XXXXXX", tmp && *tmp? tmp: "/tmp");
    char *clients = NULL;
    char *stranger = NULL;
    zcert_t *cert = NULL;
    if (!dir || !mkdtemp (dir)) {
        fprintf (stderr, "lg_test: could not make a certificate folder: %s\n", strerror (errno));
        zstr_free (&dir);
        return NULL;
    }
    for (int index = 0; lg_test_services [index]; index++)
        if (lg_auth_service_keygen (dir, lg_test_services [index])) {
            fprintf (stderr, "lg_test: could not make the key pair of %s in %s\n",
                     lg_test_services [index], dir);
            goto failed;
        }
    clients = zsys_sprintf ("%s/clients", dir);
    for (size_t index = 0; index < sizeof s_clients / sizeof s_clients [0]; index++) {
        char why [256] = "";
        if (lg_auth_keygen (dir, clients, s_clients [index].name, s_clients [index].role,
                            s_clients [index].provider_id, s_clients [index].operator_id,
                            s_clients [index].point, why, sizeof why)) {
            fprintf (stderr, "lg_test: could not make client certificate %s: %s\n",
                     s_clients [index].name, why);
            goto failed;
        }
    }
    //  A well-formed operator key pair that was never allowed
    cert = zcert_new ();
    stranger = zsys_sprintf ("%s/stranger", clients);
    if (!cert || zsys_dir_create ("%s", clients))
        goto failed;
    zcert_set_meta (cert, "role", "operator");
    zcert_set_meta (cert, "operator_id", "mallory");
    if (zcert_save (cert, stranger)) {
        fprintf (stderr, "lg_test: could not write %s\n", stranger);
        goto failed;
    }
    zcert_destroy (&cert);
    zstr_free (&stranger);
    zstr_free (&clients);
    return dir;

failed:
    zcert_destroy (&cert);
    zstr_free (&stranger);
    zstr_free (&clients);
    lg_test_certs_destroy (&dir);
    return NULL;
}

static int
s_remove_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    if (remove (path))
        fprintf (stderr, "lg_test: could not remove %s: %s\n", path, strerror (errno));
    return 0;
}

char *
lg_test_enforcer_cert (const char *certs, const char *point)
{
    char *secret = zsys_sprintf ("%s/clients/enforcer-%s_secret", certs, point);
    if (secret && !zsys_file_exists (secret)) {
        char *name = zsys_sprintf ("enforcer-%s", point);
        char *clients = zsys_sprintf ("%s/clients", certs);
        char why [256] = "";
        if (!name || !clients
        ||  lg_auth_keygen (certs, clients, name, "enforcer", 0, NULL, point, why, sizeof why)) {
            fprintf (stderr, "lg_test: could not make the certificate of point %s: %s\n",
                     point, why);
            zstr_free (&secret);
        }
        zstr_free (&name);
        zstr_free (&clients);
    }
    return secret;
}

void
lg_test_certs_destroy (char **dir_p)
{
    if (!dir_p || !*dir_p)
        return;
    if (**dir_p && strcmp (*dir_p, "/") != 0)
        nftw (*dir_p, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    zstr_free (dir_p);
}


//  --------------------------------------------------------------------------
//  Processes

char *
lg_test_service_binary (const char *service)
{
    const char *build = getenv ("LG_BUILD_DIR");
    if (!build || !*build || !service)
        return NULL;
    return zsys_sprintf ("%s/services/%s/lgwan-%s", build, service, service);
}

char *
lg_test_lgwanctl_binary (void)
{
    const char *build = getenv ("LG_BUILD_DIR");
    if (!build || !*build)
        return NULL;
    return zsys_sprintf ("%s/tools/lgwanctl/lgwanctl", build);
}

//  True when other (NAME=VALUE) sets the variable that variable names.
static bool
s_same_name (const char *variable, const char *other)
{
    const char *equals = strchr (variable, '=');
    size_t name_length = equals? (size_t) (equals - variable): strlen (variable);
    return strncmp (other, variable, name_length) == 0 && other [name_length] == '=';
}

//  base less the names env overrides, plus env, both NULL-ended: a NULL-ended
//  array of the same (borrowed) strings. Caller frees the array; NULL when
//  out of memory.
static const char **
s_env_merge (const char *const *base, const char *const *env)
{
    size_t ours = 0, extra = 0;
    while (base && base [ours])
        ours++;
    while (env && env [extra])
        extra++;
    const char **result = (const char **) calloc (ours + extra + 1, sizeof (char *));
    if (!result)
        return NULL;
    size_t count = 0;
    for (size_t index = 0; index < ours; index++) {
        bool overridden = false;
        for (size_t other = 0; other < extra && !overridden; other++)
            overridden = s_same_name (base [index], env [other]);
        if (!overridden)
            result [count++] = base [index];
    }
    for (size_t other = 0; other < extra; other++)
        result [count++] = env [other];
    result [count] = NULL;
    return result;
}

pid_t
lg_test_spawn_argv (const char *binary, const char *const *argv, const char *const *env)
{
    assert (binary);
    static int serial;
    const char *build = getenv ("LG_BUILD_DIR");
    const char *tmp = getenv ("TMPDIR");
    char *logdir = zsys_sprintf ("%s/testlogs", build && *build? build: (tmp && *tmp? tmp: "/tmp"));
    zsys_dir_create ("%s", logdir);
    const char *base = strrchr (binary, '/');
    base = base? base + 1: binary;
    char logpath [512];
    snprintf (logpath, sizeof logpath, "%s/%s-%d-%d.log", logdir, base, (int) getpid (), ++serial);
    zstr_free (&logdir);

    //  The environment of the child: ours, less the names env overrides, plus env
    const char **child_env = s_env_merge ((const char *const *) environ, env);
    const char *default_argv [] = { base, NULL };
    if (!argv)
        argv = default_argv;
    if (!child_env)
        return -1;
    fflush (stdout);
    fflush (stderr);
    pid_t parent = getpid ();
    //  The parent-death signal follows the thread that forks, not the
    //  process: a child spawned by a short-lived thread would be killed when
    //  that thread ends. Only the main thread arms it; the others' children
    //  are stopped by the test like every child.
    bool main_thread = (pid_t) syscall (SYS_gettid) == parent;
    pid_t pid = fork ();
    if (pid == 0) {
        //  Die with the test, whichever way it ends
        if (main_thread)
            prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);
        int fd = open (logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null_fd < 0)
            _exit (127);
        dup2 (null_fd, STDIN_FILENO);
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        execve (binary, (char *const *) argv, (char *const *) child_env);
        dprintf (STDERR_FILENO, "lg_test: could not execute %s: %s\n", binary, strerror (errno));
        _exit (127);
    }
    free (child_env);
    if (pid < 0) {
        fprintf (stderr, "lg_test: could not fork for %s: %s\n", binary, strerror (errno));
        return -1;
    }
    s_register_exit_check ();
    for (int index = 0; index < S_MAX_CHILDREN; index++)
        if (s_children [index].pid == 0) {
            s_children [index].pid = pid;
            snprintf (s_children [index].path, sizeof s_children [index].path, "%s", logpath);
            break;
        }
    fprintf (stderr, "lg_test: started %s as pid %d, log %s\n", binary, (int) pid, logpath);
    return pid;
}

pid_t
lg_test_spawn (const char *binary, const char *const *env)
{
    return lg_test_spawn_argv (binary, NULL, env);
}

const char *
lg_test_log_path (pid_t pid)
{
    for (int index = 0; index < S_MAX_CHILDREN; index++)
        if (pid > 0 && s_children [index].pid == pid)
            return s_children [index].path;
    return NULL;
}

int
lg_test_log_count (pid_t pid, const char *text)
{
    const char *path = lg_test_log_path (pid);
    FILE *log = path? fopen (path, "r"): NULL;
    if (!log)
        return 0;
    char line [4096];
    int count = 0;
    while (fgets (line, sizeof line, log))
        count += strstr (line, text) != NULL;
    fclose (log);
    return count;
}

//  Print the last lines of a child's log, where a failing test shows them.
static void
s_print_log_tail (const char *path, const char *why)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char buffer [4096];
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    long start = size > (long) sizeof buffer - 1? size - (long) sizeof buffer + 1: 0;
    fseek (file, start, SEEK_SET);
    size_t got = fread (buffer, 1, sizeof buffer - 1, file);
    buffer [got] = '\0';
    fclose (file);
    if (got == 0)
        fprintf (stderr, "lg_test: %s; its log %s is empty\n", why, path);
    else
        fprintf (stderr, "lg_test: %s; end of %s:\n%s%s", why, path, buffer,
                 buffer [got - 1] != '\n'? "\n": "");
}

int
lg_test_stop (pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    if (sig)
        kill (pid, sig);
    int status = 0;
    pid_t done = 0;
    int64_t deadline = s_now_ms () + timeout_ms;
    while ((done = waitpid (pid, &status, WNOHANG)) == 0 && s_now_ms () < deadline)
        s_sleep_ms (10);
    if (done == 0) {
        fprintf (stderr, "lg_test: pid %d still running after %d ms, killing it\n",
                 (int) pid, timeout_ms);
        kill (pid, SIGKILL);
        while ((done = waitpid (pid, &status, 0)) == -1 && errno == EINTR)
            ;
    }
    if (done != pid)
        return -1;
    int result = WIFEXITED (status)? WEXITSTATUS (status)
               : WIFSIGNALED (status)? 128 + WTERMSIG (status): -1;
    for (int index = 0; index < S_MAX_CHILDREN; index++)
        if (s_children [index].pid == pid) {
            bool report = s_log_has_sanitizer_report (s_children [index].path);
            if (result != 0 || report) {
                char why [96];
                snprintf (why, sizeof why, "pid %d ended with %d%s", (int) pid, result,
                          report? " and a sanitizer report": "");
                s_print_log_tail (s_children [index].path, why);
            }
            if (report)
                s_sanitizer_report = true;
            s_children [index].pid = 0;
        }
    return result;
}

int
lg_test_teardown_stop (pid_t pid, const char *what)
{
    if (pid <= 0)
        return 0;
    int result = lg_test_stop (pid, SIGTERM, S_STOP_MS);
    if (result != 0) {
        fprintf (stderr, "lg_test: %s (pid %d) ended with %d when the teardown stopped it with"
                         " SIGTERM, not with exit code 0\n", what, (int) pid, result);
        s_register_exit_check ();
        s_teardown_failure = true;
    }
    return result;
}

int
lg_test_free_port (void)
{
    //  A port the kernel chose (port 0) comes from the ephemeral range, where
    //  every outgoing connection also takes its source port: a test that
    //  reconnects often could take it before the service bound it (seen in
    //  CI: "could not bind"). Ports are tried at random, so that tests
    //  running side by side seldom try the same one.
    //  A port handed out before is not handed out again by this process: it
    //  is free only until its service binds it, and two services given the
    //  same port was seen (an isolation's requests and events on one port)
    static uint64_t state = 0;
    static uint8_t given [12000 / 8];
    if (state == 0)
        state = ((uint64_t) getpid () << 32) ^ (uint64_t) time (NULL) ^ 0x9E3779B97F4A7C15ULL;
    for (int tries = 0; tries < 200; tries++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        int slot = (int) (state % 12000);
        if (given [slot / 8] & (1 << (slot % 8)))
            continue;
        int port = 20000 + slot;
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in address;
        memset (&address, 0, sizeof address);
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        address.sin_port = htons ((uint16_t) port);
        int rc = bind (fd, (struct sockaddr *) &address, sizeof address);
        close (fd);
        if (rc == 0) {
            given [slot / 8] |= (uint8_t) (1 << (slot % 8));
            return port;
        }
    }
    return -1;
}

bool
lg_test_wait_for (bool (*ready) (void *), void *arg, int timeout_ms)
{
    assert (ready);
    int64_t deadline = s_now_ms () + timeout_ms;
    while (true) {
        if (ready (arg))
            return true;
        if (s_now_ms () >= deadline)
            return false;
        s_sleep_ms (20);
    }
}

char *
lg_test_digest_sql (PGconn *conn, const char *service)
{
    const char *params [] = { service };
    PGresult *res = PQexecParams (conn, "SELECT table_name FROM information_schema.tables"
                                        " WHERE table_schema = $1 AND table_type = 'BASE TABLE'"
                                        " AND table_name NOT IN ('requests', 'cursors') ORDER BY 1",
                                  1, NULL, params, NULL, NULL, 0);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    assert_true (PQntuples (res) > 0);
    char *sql = strdup ("SELECT md5 (concat (''");
    for (int row = 0; row < PQntuples (res); row++) {
        char *longer = zsys_sprintf ("%s, (SELECT string_agg (t::text, '|' ORDER BY t::text)"
                                     " FROM %s.%s t)", sql, service, PQgetvalue (res, row, 0));
        free (sql);
        sql = longer;
    }
    char *done = zsys_sprintf ("%s))", sql);
    free (sql);
    PQclear (res);
    return done;
}

char *
lg_test_digest (PGconn *conn, const char *sql)
{
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    char *digest = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    return digest;
}

long
lg_test_pages (lg_test_page_fn *page, void *arg)
{
    uint64_t after = 0;
    long listed = 0;
    for (int pages = 0; pages < 1000; pages++) {
        size_t items = 0;
        uint64_t last = 0;
        after = page (arg, after, &items, &last);
        listed += (long) items;
        if (!after)
            return listed;
        assert_int_equal (after, last);         //  more: from this page's last
    }
    fail_msg ("a list never said there was no more");
    return -1;
}

//  --------------------------------------------------------------------------
//  Service processes

//  "LG_<SERVICE>_<what>" into name, all in capitals
static void
s_service_variable (char *name, size_t size, const char *service, const char *what)
{
    snprintf (name, size, "LG_%s_%s", service, what);
    for (char *c = name; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
}

//  "LG_<SERVICE>_<what>=value". Caller frees.
static char *
s_service_setting (const char *service, const char *what, const char *value)
{
    char name [64];
    s_service_variable (name, sizeof name, service, what);
    return zsys_sprintf ("%s=%s", name, value);
}

void
lg_test_proc_spawn (lg_test_proc_t *proc, const char *admin_dsn, const char *certs,
                    lg_test_proc_t *const *follows, const char *const *extra)
{
    assert (proc && proc->service && certs);
    if (!proc->endpoint [0]) {
        snprintf (proc->endpoint, sizeof proc->endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
        snprintf (proc->pub, sizeof proc->pub, "tcp://127.0.0.1:%d", lg_test_free_port ());
    }
    proc->pid = -1;
    size_t followed = 0;
    while (follows && follows [followed])
        followed++;
    //  Database, certificates, our two endpoints, two per process followed
    size_t own_count = 4 + 2 * followed;
    char **own = (char **) calloc (own_count + 1, sizeof (char *));
    const char **env = NULL;
    char *dsn = lg_test_db_service_dsn (admin_dsn, proc->service);
    char *binary = lg_test_service_binary (proc->service);
    if (!dsn || !binary || !own) {
        fprintf (stderr, "lg_test: could not start %s\ndetail: %s\n", proc->service,
                 !dsn? "no database: the admin conninfo does not parse"
               : !binary? "LG_BUILD_DIR is not set": "out of memory");
        goto cleanup;
    }
    own [0] = s_service_setting (proc->service, "DB", dsn);
    own [1] = zsys_sprintf ("LG_CERT_DIR=%s", certs);
    own [2] = s_service_setting (proc->service, "ENDPOINT", proc->endpoint);
    own [3] = s_service_setting (proc->service, "PUB_ENDPOINT", proc->pub);
    for (size_t index = 0; index < followed; index++) {
        own [4 + 2 * index] = s_service_setting (follows [index]->service, "CONNECT",
                                                 follows [index]->endpoint);
        own [5 + 2 * index] = s_service_setting (follows [index]->service, "PUB_CONNECT",
                                                 follows [index]->pub);
    }
    for (size_t index = 0; index < own_count; index++)
        if (!own [index]) {
            fprintf (stderr, "lg_test: could not start %s: out of memory\n", proc->service);
            goto cleanup;
        }
    env = s_env_merge ((const char *const *) own, extra);
    if (env && proc->netns [0]) {
        //  ip execs the service in the namespace: the pid is the service's
        const char *argv [] = { "ip", "netns", "exec", proc->netns, binary, NULL };
        proc->pid = lg_test_spawn_argv ("/usr/sbin/ip", argv, env);
    }
    else
    if (env)
        proc->pid = lg_test_spawn (binary, env);
cleanup:
    for (size_t index = 0; own && index < own_count; index++)
        zstr_free (&own [index]);
    free (own);
    free (env);
    zstr_free (&dsn);
    zstr_free (&binary);
}

typedef struct {
    lg_test_proc_t *proc;
    const char *certs;
} s_probe_t;

static bool
s_proc_answers (void *arg)
{
    s_probe_t *probe = (s_probe_t *) arg;
    return lg_test_proc_answers (probe->proc, probe->certs);
}

bool
lg_test_proc_start (lg_test_proc_t *proc, const char *admin_dsn, const char *certs,
                    lg_test_proc_t *const *follows, const char *const *extra)
{
    lg_test_proc_spawn (proc, admin_dsn, certs, follows, extra);
    if (proc->pid <= 0)
        return false;
    s_probe_t probe = { proc, certs };
    if (lg_test_wait_for (s_proc_answers, &probe, S_READY_MS))
        return true;
    fprintf (stderr, "lg_test: %s (pid %d) did not answer at %s within %d ms\n"
             "detail: its log is %s\n", proc->service, (int) proc->pid, proc->endpoint,
             S_READY_MS, lg_test_log_path (proc->pid));
    return false;
}

bool
lg_test_proc_answers (lg_test_proc_t *proc, const char *certs)
{
    lg_client_t *client = lg_test_proc_client (proc, certs, "viewer");
    if (!client)
        return false;
    lg_client_set_timeout (client, S_ANSWER_MS, 0);
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_STATS;
    request.stats = &stats;
    lg_reply_t *reply = NULL;
    bool ok = lg_client_call (client, &request, &reply) == 0;
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    free (request.request_id);
    lg_client_destroy (&client);
    return ok;
}

long
lg_test_proc_served (const lg_test_proc_t *proc, const char *certs, const char *request)
{
    lg_client_t *client = lg_test_proc_client (proc, certs, "viewer");
    if (!client)
        return -1;
    lg_client_set_timeout (client, 3000, 1);
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    lg_reply_t *reply = lg_test_call (client, LGWAN__V1__REQUEST__BODY_STATS, &stats, "");
    lg_client_destroy (&client);
    if (!reply || !reply->stats) {
        if (reply)
            lgwan__v1__reply__free_unpacked (reply, NULL);
        return -1;
    }
    long count = 0;
    for (size_t i = 0; i < reply->stats->n_by_request; i++)
        if (streq (reply->stats->by_request [i]->name, request))
            count = (long) reply->stats->by_request [i]->count;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return count;
}

lg_client_t *
lg_test_proc_client (const lg_test_proc_t *proc, const char *certs, const char *who)
{
    assert (proc && certs && who);
    char *cert = zsys_sprintf ("%s/clients/%s", certs, who);
    char *server = zsys_sprintf ("%s/services/%s", certs, proc->service);
    lg_client_t *client = cert && server? lg_client_new (proc->endpoint, cert, server): NULL;
    zstr_free (&cert);
    zstr_free (&server);
    return client;
}

int
lg_test_cluster (const char *dir, const char *action, const char *options)
{
    const char *source = getenv ("LG_SOURCE_DIR");
    bool start = streq (action, "start");
    return lg_test_sh ("bash %s/tests/support/pg_cluster.sh %s %s/pg%s%s >>%s/cluster.log 2>&1",
                       source? source: ".", action, dir, start? " --keep --db lgwan ": "",
                       start && options? options: "", dir);
}

int
lg_test_sh (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *command = zsys_vprintf (format, args);
    va_end (args);
    int status = command? system (command): -1;
    zstr_free (&command);
    return status == -1 || !WIFEXITED (status)? -1: WEXITSTATUS (status);
}

char *
lg_test_sh_output (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *command = zsys_vprintf (format, args);
    va_end (args);
    FILE *pipe = command? popen (command, "r"): NULL;
    zstr_free (&command);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    char buffer [4096];
    size_t got;
    while (pipe && (got = fread (buffer, 1, sizeof buffer, pipe)) > 0)
        fwrite (buffer, 1, got, out);
    if (pipe)
        pclose (pipe);
    fclose (out);
    return text;
}

FILE *
lg_test_nft_hold_owned (const char *netns)
{
    //  nft -i reads its commands from the pipe and keeps its netlink socket,
    //  the table's owner, open until the pipe closes
    char *command = zsys_sprintf ("exec ip netns exec %s nft -i >/dev/null 2>&1", netns);
    FILE *holder = command? popen (command, "w"): NULL;
    zstr_free (&command);
    if (!holder)
        return NULL;
    fprintf (holder, "add table inet lgwan { flags owner; }\n");
    fflush (holder);
    for (int attempt = 0; attempt < 250; attempt++) {
        char *listing = lg_test_sh_output ("ip netns exec %s nft list table inet lgwan 2>&1",
                                           netns);
        bool owned = listing && strstr (listing, "flags owner");
        free (listing);
        if (owned)
            return holder;
        s_sleep_ms (20);
    }
    fprintf (stderr, "lg_test: nft -i did not make table inet lgwan with the owner flag in %s\n",
             netns);
    pclose (holder);
    return NULL;
}

void
lg_test_nft_release (FILE **holder_p)
{
    if (*holder_p) {
        pclose (*holder_p);         //  nft -i ends at the end of its input
        *holder_p = NULL;
    }
}

lg_reply_t *
lg_test_call (lg_client_t *client, unsigned body_case, void *body, const char *reason)
{
    return lg_test_call_as (client, body_case, body, reason, NULL);
}

lg_reply_t *
lg_test_call_as (lg_client_t *client, unsigned body_case, void *body, const char *reason,
                 const char *actor)
{
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = body_case;
    request.reason = (char *) reason;
    request.actor = (char *) actor;
    //  The oneof member sits at the same place whatever its type
    const ProtobufCFieldDescriptor *field =
        lg_codec_body_field (&lgwan__v1__request__descriptor, body_case);
    if (!field)
        return NULL;
    *(void **) ((char *) &request + field->offset) = body;
    lg_reply_t *reply = NULL;
    if (lg_client_call (client, &request, &reply))
        reply = NULL;
    free (request.request_id);
    return reply;
}

//  --------------------------------------------------------------------------
//  Ids past a bigint

#define S_ID_DEPTH  6               //  fields from the body to a uint64
#define S_ID_PATHS  64              //  uint64s of one request, at most
#define S_ID_STILL_MS 1000          //  the service's tables still before

//  Where a uint64 of a body is: the fields from the body down to it
typedef struct {
    const ProtobufCFieldDescriptor *fields [S_ID_DEPTH];
    size_t depth;
} s_id_path_t;

//  Every uint64 under d into found
static void
s_id_paths (const ProtobufCMessageDescriptor *d, s_id_path_t *path, s_id_path_t *found,
            size_t *count)
{
    if (path->depth == S_ID_DEPTH)
        return;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        path->fields [path->depth++] = field;
        if (field->type == PROTOBUF_C_TYPE_UINT64 || field->type == PROTOBUF_C_TYPE_FIXED64) {
            assert_true (*count < S_ID_PATHS);
            found [(*count)++] = *path;
        }
        else
        if (field->type == PROTOBUF_C_TYPE_MESSAGE)
            s_id_paths ((const ProtobufCMessageDescriptor *) field->descriptor, path, found,
                        count);
        path->depth--;
    }
}

//  The body holding value at path from at, and nothing else, as JSON; the
//  path as the server names it appended to name
static json_t *
s_id_body (const s_id_path_t *path, size_t at, const char *value, char *name, size_t size)
{
    const ProtobufCFieldDescriptor *field = path->fields [at];
    bool repeated = field->label == PROTOBUF_C_LABEL_REPEATED;
    size_t used = strlen (name);
    snprintf (name + used, size - used, "%s%s%s", at? ".": "", field->name, repeated? "[0]": "");
    json_t *inner = at + 1 == path->depth? json_string (value):
                    s_id_body (path, at + 1, value, name, size);
    if (repeated) {
        json_t *array = json_array ();
        json_array_append_new (array, inner);
        inner = array;
    }
    json_t *object = json_object ();
    json_object_set_new (object, field->name, inner);
    return object;
}

long
lg_test_ids_past_bigint (const lg_test_proc_t *proc, const char *admin_dsn, const char *certs,
                         unsigned lowest, unsigned highest, const lg_test_id_request_t *requests)
{
    static const char *values [] = { "9223372036854775808", "18446744073709551615" };
    PGconn *conn = PQconnectdb (admin_dsn);
    char *digest_sql = lg_test_digest_sql (conn, proc->service);
    //  Tables still for a second first: what the test before set going (a
    //  burst of events the monitor is still counting) is not taken for a
    //  change made by a refusal
    char *digest = lg_test_digest (conn, digest_sql);
    for (int waited = 0; ; waited += S_ID_STILL_MS) {
        zclock_sleep (S_ID_STILL_MS);
        char *now = lg_test_digest (conn, digest_sql);
        bool still = streq (now, digest);
        free (digest);
        digest = now;
        if (still)
            break;
        if (waited > 15000)
            fail_msg ("the tables of %s never stood still for %d ms", proc->service,
                      S_ID_STILL_MS);
    }
    const ProtobufCMessageDescriptor *envelope = &lgwan__v1__request__descriptor;
    size_t listed = 0, tested = 0;
    while (requests [listed].body)
        listed++;
    long sent = 0, failed = 0;
    for (unsigned i = 0; i < envelope->n_fields; i++) {
        const ProtobufCFieldDescriptor *body = envelope->fields + i;
        if (!(body->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || body->id < lowest || body->id > highest)
            continue;
        s_id_path_t path = { { NULL }, 0 }, found [S_ID_PATHS];
        size_t count = 0;
        s_id_paths ((const ProtobufCMessageDescriptor *) body->descriptor, &path, found, &count);
        if (count == 0)
            continue;
        const lg_test_id_request_t *request = NULL;
        for (size_t k = 0; k < listed; k++)
            if (streq (requests [k].body, body->name))
                request = requests + k;
        if (!request)
            fail_msg ("%s carries a uint64 (%s) but is not among the requests the test sends",
                      body->name, found [0].fields [found [0].depth - 1]->name);
        tested++;
        lg_client_t *client = lg_test_proc_client (proc, certs, request->who);
        assert_non_null (client);
        lg_client_set_timeout (client, 5000, 1);
        for (size_t k = 0; k < count; k++)
            for (size_t v = 0; v < sizeof values / sizeof values [0]; v++) {
                char name [256];
                snprintf (name, sizeof name, "%s.", body->name);
                json_t *json = s_id_body (found + k, 0, values [v], name, sizeof name);
                ProtobufCMessage *msg = NULL;
                char why [256];
                if (lg_pbjson_to_message ((const ProtobufCMessageDescriptor *) body->descriptor,
                                          json, &msg, why, sizeof why))
                    fail_msg ("%s: %s", name, why);
                json_decref (json);
                lg_reply_t *reply = lg_test_call (client, body->id, msg, "試験");
                protobuf_c_message_free_unpacked (msg, NULL);
                if (!reply || !reply->status)
                    fail_msg ("%s %s from %s: no reply", name, values [v], request->who);
                char *where = zsys_sprintf ("%s %s ", name, values [v]);
                char *after = lg_test_digest (conn, digest_sql);
                if (reply->status->code != LGWAN__V1__CODE__INVALID_ARGUMENT
                ||  !streq (reply->status->requirement, request->requirement)
                ||  !strstr (reply->status->message, where) || !streq (after, digest)) {
                    //  Every one is said, then the test fails
                    failed++;
                    fprintf (stderr, "%s %s from %s: expected INVALID_ARGUMENT (%s) naming it,"
                             " got code %d (%s): %s%s\n", name, values [v], request->who,
                             request->requirement, reply->status->code,
                             reply->status->requirement, reply->status->message,
                             streq (after, digest)? "": "; and the tables changed");
                }
                zstr_free (&where);
                lgwan__v1__reply__free_unpacked (reply, NULL);
                free (digest);
                digest = after;
                sent++;
            }
        lg_client_destroy (&client);
    }
    if (failed)
        fail_msg ("%ld of %ld requests of %s with a uint64 past a bigint were not refused as"
                  " they should be (above)", failed, sent, proc->service);
    if (tested != listed)
        fail_msg ("%zu of the %zu requests listed carry a uint64 of %s", tested, listed,
                  proc->service);
    free (digest);
    free (digest_sql);
    PQfinish (conn);
    return sent;
}

int
lg_test_proc_stop (lg_test_proc_t *proc, int sig)
{
    int result = proc->pid > 0? lg_test_stop (proc->pid, sig, S_STOP_MS): 0;
    proc->pid = 0;
    return result;
}

int
lg_test_proc_teardown (lg_test_proc_t *proc)
{
    int result = lg_test_teardown_stop (proc->pid, proc->service);
    proc->pid = 0;
    return result;
}

void
lg_test_proc_export (const lg_test_proc_t *proc)
{
    char name [64];
    s_service_variable (name, sizeof name, proc->service, "CONNECT");
    setenv (name, proc->endpoint, 1);
    s_service_variable (name, sizeof name, proc->service, "PUB_CONNECT");
    setenv (name, proc->pub, 1);
}
