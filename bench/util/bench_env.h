/*  bench_env - what every benchmark needs: a private PostgreSQL cluster,
    certificates, the real service binaries, and percentiles.

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

typedef struct {
    const char *service;
    char endpoint [64];
    char pub [64];
    pid_t pid;
} bench_proc_t;

//  Parse --smoke, start the cluster, bootstrap every service's role, make
//  certificates. Exits with a message when anything cannot start.
void bench_env_start (bench_env_t *env, int argc, char **argv);
void bench_env_stop (bench_env_t *env);

//  Start a service with fresh ports and wait until it answers Stats.
//  extra: NULL-ended NAME=VALUE list, or NULL. registry: whom to follow.
void bench_proc_start (bench_env_t *env, bench_proc_t *proc, const char *const *extra,
                       const bench_proc_t *registry);
void bench_proc_stop (bench_proc_t *proc);

//  A client of proc with the certificate clients/<who>
lg_client_t *bench_client (bench_env_t *env, bench_proc_t *proc, const char *who);

//  Percentile (0-100) of n samples (sorted in place)
double bench_percentile (double *samples, size_t n, double pct);

//  Run a query as admin and return the first value as a number
long bench_query_long (bench_env_t *env, const char *sql);

#endif
