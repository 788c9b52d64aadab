/*  bench_env - what every benchmark needs: a private PostgreSQL cluster,
    certificates and percentiles. The real service binaries run as in the
    tests (lg_test_proc_t, lg_test.h), with logs at warning level.

    A benchmark prints its figure next to a baseline measured in the same
    run; `--smoke` runs a few hundred iterations so CI proves it still works.
*/
#ifndef BENCH_ENV_H_INCLUDED
#define BENCH_ENV_H_INCLUDED

#include "lg_test.h"

typedef struct {
    char dir [64];              //  temp folder: pg/, logs
    char *certs;
    char *admin_dsn;            //  host=<dir>/pg/sock dbname=lgwan user=postgres
    bool smoke;
} bench_env_t;

//  Parse --smoke, start the cluster, bootstrap every service's role, make
//  certificates. Exits with a message when anything cannot start.
void bench_env_start (bench_env_t *env, int argc, char **argv);
void bench_env_stop (bench_env_t *env);

//  lg_test_proc_start with the cluster and certificates of env, logging
//  warnings and errors only (so logs do not weigh on the figures). Exits
//  with a message when the service does not answer.
void bench_env_service (bench_env_t *env, lg_test_proc_t *proc, lg_test_proc_t *const *follows);

//  Percentile (0-100) of n samples (sorted in place)
double bench_percentile (double *samples, size_t n, double pct);

//  CPU time the whole machine spent busy so far (all processes, all cores,
//  from /proc/stat), in seconds: a phase's difference divided by its
//  operations is what one operation costs the machine, client included
double bench_machine_cpu (void);

//  Run a query as admin and return the first value as a number
long bench_query_long (bench_env_t *env, const char *sql);

#endif
