/*  bench_env - shared set-up of the benchmarks (see bench_env.h). */
#include "bench_env.h"

static void
s_die (const char *what)
{
    fprintf (stderr, "bench: %s\n", what);
    exit (1);
}

//  The cluster and folder of a run that ends early (a refused request, a
//  target check that exits): stopped and removed all the same
static bench_env_t *s_running;

static void
s_cleanup_at_exit (void)
{
    if (s_running)
        bench_env_stop (s_running);
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
    s_running = env;
    atexit (s_cleanup_at_exit);
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
    s_running = NULL;
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

void
bench_env_service (bench_env_t *env, lg_test_proc_t *proc, lg_test_proc_t *const *follows)
{
    const char *const quiet [] = { "LG_LOG_LEVEL=warning", NULL };
    if (!lg_test_proc_start (proc, env->admin_dsn, env->certs, follows, quiet))
        s_die ("a service did not start (see testlogs/)");
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y? 1: 0;
}

double
bench_machine_cpu (void)
{
    FILE *file = fopen ("/proc/stat", "r");
    //  cpu user nice system idle iowait irq softirq: busy is all but idle and iowait
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0,
                       softirq = 0;
    int fields = file? fscanf (file, "cpu %llu %llu %llu %llu %llu %llu %llu", &user,
                               &nice, &system, &idle, &iowait, &irq, &softirq): 0;
    if (file)
        fclose (file);
    if (fields < 7)
        return 0;
    return (double) (user + nice + system + irq + softirq) / (double) sysconf (_SC_CLK_TCK);
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
