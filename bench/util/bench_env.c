/*  bench_env - shared set-up of the benchmarks (see bench_env.h). */
#include "bench_env.h"

static void
s_die (const char *what)
{
    fprintf (stderr, "bench: %s\n", what);
    exit (1);
}

void
bench_env_start (bench_env_t *env, int argc, char **argv)
{
    memset (env, 0, sizeof *env);
    for (int i = 1; i < argc; i++)
        if (streq (argv [i], "--smoke"))
            env->smoke = true;
    zsys_init ();
    zsys_set_logstream (NULL);
    if (!getenv ("LG_BUILD_DIR")) {
        //  bench/<name> lives one level below the build folder
        char self [4096];
        ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self [n] = 0;
            *strrchr (self, '/') = 0;
            *strrchr (self, '/') = 0;
            setenv ("LG_BUILD_DIR", self, 1);
        }
    }
    snprintf (env->dir, sizeof env->dir, "/tmp/lg_bench_XXXXXX");
    if (!mkdtemp (env->dir))
        s_die ("could not make a temp folder");
    const char *source = getenv ("LG_SOURCE_DIR");
    char *cmd = zsys_sprintf ("bash %s/tests/support/pg_cluster.sh start %s/pg --keep --db lgwan"
                              " >%s/cluster.log 2>&1", source? source: LG_SOURCE_DIR_DEFAULT,
                              env->dir, env->dir);
    if (system (cmd))
        s_die ("could not start PostgreSQL (see the cluster.log in the temp folder)");
    zstr_free (&cmd);
    env->admin_dsn = zsys_sprintf ("host=%s/pg/sock dbname=lgwan user=postgres", env->dir);
    char why [256];
    for (int i = 0; lg_test_services [i]; i++)
        if (lg_db_bootstrap (env->admin_dsn, lg_test_services [i], NULL, why, sizeof why))
            s_die (why);
    env->certs = lg_test_certs_new ();
    if (!env->certs)
        s_die ("could not make certificates");
}

void
bench_env_stop (bench_env_t *env)
{
    const char *source = getenv ("LG_SOURCE_DIR");
    char *cmd = zsys_sprintf ("bash %s/tests/support/pg_cluster.sh stop %s/pg >/dev/null 2>&1;"
                              " rm -rf %s", source? source: LG_SOURCE_DIR_DEFAULT, env->dir,
                              env->dir);
    if (system (cmd))
        fprintf (stderr, "bench: could not clean up %s\n", env->dir);
    zstr_free (&cmd);
    lg_test_certs_destroy (&env->certs);
    zstr_free (&env->admin_dsn);
}

lg_client_t *
bench_client (bench_env_t *env, bench_proc_t *proc, const char *who)
{
    char *cert = zsys_sprintf ("%s/clients/%s", env->certs, who);
    char *server = zsys_sprintf ("%s/services/%s", env->certs, proc->service);
    lg_client_t *client = lg_client_new (proc->endpoint, cert, server);
    zstr_free (&cert);
    zstr_free (&server);
    return client;
}

typedef struct {
    bench_env_t *env;
    bench_proc_t *proc;
} s_probe_t;

static bool
s_answers (void *arg)
{
    s_probe_t *probe = (s_probe_t *) arg;
    lg_client_t *client = bench_client (probe->env, probe->proc, "viewer");
    lg_client_set_timeout (client, 300, 0);
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

void
bench_proc_start (bench_env_t *env, bench_proc_t *proc, const char *const *extra,
                  const bench_proc_t *registry)
{
    if (!proc->endpoint [0]) {
        snprintf (proc->endpoint, sizeof proc->endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
        snprintf (proc->pub, sizeof proc->pub, "tcp://127.0.0.1:%d", lg_test_free_port ());
    }
    char up [16];
    snprintf (up, sizeof up, "%s", proc->service);
    for (char *c = up; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    char *vars [8];
    int n = 0;
    vars [n++] = zsys_sprintf ("LG_%s_DB=host=%s/pg/sock dbname=lgwan user=lgwan_%s", up,
                               env->dir, proc->service);
    vars [n++] = zsys_sprintf ("LG_CERT_DIR=%s", env->certs);
    vars [n++] = zsys_sprintf ("LG_%s_ENDPOINT=%s", up, proc->endpoint);
    vars [n++] = zsys_sprintf ("LG_%s_PUB_ENDPOINT=%s", up, proc->pub);
    vars [n++] = zsys_sprintf ("LG_REGISTRY_CONNECT=%s", registry? registry->endpoint: "");
    vars [n++] = zsys_sprintf ("LG_REGISTRY_PUB_CONNECT=%s", registry? registry->pub: "");
    const char *all [24];
    int k = 0;
    for (int i = 0; i < n; i++)
        all [k++] = vars [i];
    all [k++] = "LG_LOG_LEVEL=warning";
    for (int i = 0; extra && extra [i] && k < 23; i++)
        all [k++] = extra [i];
    all [k] = NULL;
    char *binary = lg_test_service_binary (proc->service);
    proc->pid = lg_test_spawn (binary, all);
    zstr_free (&binary);
    for (int i = 0; i < n; i++)
        zstr_free (&vars [i]);
    s_probe_t probe = { env, proc };
    if (proc->pid <= 0 || !lg_test_wait_for (s_answers, &probe, 20000))
        s_die ("a service did not start (see testlogs/)");
}

void
bench_proc_stop (bench_proc_t *proc)
{
    if (proc->pid > 0)
        lg_test_stop (proc->pid, SIGTERM, 5000);
    proc->pid = 0;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y? 1: 0;
}

double
bench_percentile (double *samples, size_t n, double pct)
{
    if (n == 0)
        return 0;
    qsort (samples, n, sizeof *samples, s_compare);
    size_t index = (size_t) (pct / 100.0 * (double) (n - 1) + 0.5);
    return samples [index < n? index: n - 1];
}

long
bench_query_long (bench_env_t *env, const char *sql)
{
    PGconn *conn = PQconnectdb (env->admin_dsn);
    PGresult *res = PQexec (conn, sql);
    long value = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1
               ? atol (PQgetvalue (res, 0, 0)): -1;
    PQclear (res);
    PQfinish (conn);
    return value;
}
