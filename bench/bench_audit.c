/*  bench_audit - the deadline duty's due scan over 100,000 open remediation
    requests, next to the same statement made to read the whole table, in
    the same run.

    Seeding: one provider and audit, N open remediation requests (status
    requested, deadlines spread over 400 days, so about 0.25 % a day come
    due) and N/2 settled ones (accepted), inserted as admin after the real
    lgwan-audit migrated its schema.
    1. The service's statement (AUDIT_DUE_SQL, audit.h: the partial index
       remediation_requests_due), in a transaction rolled back each time, at
       a "now" when 500 requests are due: p50 / p99 over R runs. EXPLAIN is
       printed, and must name the index.
    2. Raw: the same statement with index and bitmap scans disabled, which
       is what the scan costs without the index (a table scan).
    3. The service itself: stopped, the clock file moved so that 500
       requests are due, started; the time from spawn until all 500 carry
       overdue_at (each with its RemediationOverdue in the outbox).
    Target (issue "Audit"): the scan over 100,000 open requests < 50 ms.
*/
#include "bench_env.h"
#include "audit.h"

static double
s_ms (int64_t us)
{
    return (double) us / 1000.0;
}

//  Time the due scan `runs` times; p50 and p99 in ms. raw disables index use.
static void
s_time_scan (lg_db_t *db, const char *now, int runs, bool raw, double *p50, double *p99,
             long *rows)
{
    double *samples = (double *) calloc (runs, sizeof (double));
    const char *params [] = { now };
    for (int i = 0; i < runs; i++) {
        lg_db_begin (db);
        if (raw) {
            lg_db_run (db, "SET LOCAL enable_indexscan = off", 0, NULL);
            lg_db_run (db, "SET LOCAL enable_bitmapscan = off", 0, NULL);
            lg_db_run (db, "SET LOCAL enable_indexonlyscan = off", 0, NULL);
        }
        int64_t t0 = zclock_usecs ();
        //  Its own text, so its own prepared statement: a cached plan
        //  would not see the settings above
        PGresult *res = lg_db_exec (db, raw? "/* raw */ " AUDIT_DUE_SQL: AUDIT_DUE_SQL, 1, params);
        samples [i] = s_ms (zclock_usecs () - t0);
        if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
            fprintf (stderr, "bench_audit: due scan failed: %s\n", lg_db_error (db));
            exit (1);
        }
        *rows = PQntuples (res);
        PQclear (res);
        lg_db_rollback (db);
    }
    *p50 = bench_percentile (samples, runs, 50);
    *p99 = bench_percentile (samples, runs, 99);
    free (samples);
}

static void
s_explain (lg_db_t *db, const char *now, bool *index)
{
    const char *params [] = { now };
    lg_db_begin (db);
    PGresult *res = lg_db_exec (db, "EXPLAIN (ANALYZE, COSTS OFF) " AUDIT_DUE_SQL, 1, params);
    *index = false;
    printf ("  EXPLAIN of the service's due scan:\n");
    for (int row = 0; res && row < PQntuples (res); row++) {
        printf ("    %s\n", PQgetvalue (res, row, 0));
        *index |= strstr (PQgetvalue (res, row, 0), "remediation_requests_due") != NULL;
    }
    PQclear (res);
    lg_db_rollback (db);
}

static void
s_set_clock (const char *file, const char *rfc3339)
{
    FILE *f = fopen (file, "w");
    if (!f || fprintf (f, "%s\n", rfc3339) < 0 || fclose (f)) {
        fprintf (stderr, "bench_audit: cannot write the clock file %s\n", file);
        exit (1);
    }
}

int
main (int argc, char **argv)
{
    bench_env_t env;
    bench_env_start (&env, argc, argv);
    int open = env.smoke? 5000: 100000;
    int runs = env.smoke? 20: 200;

    //  The real service migrates its schema, on a clock before any deadline
    char clock [128];
    snprintf (clock, sizeof clock, "%s/clock", env.dir);
    s_set_clock (clock, "2027-01-01T00:00:00Z");
    char *clock_env = zsys_sprintf ("LG_CLOCK_FILE=%s", clock);
    const char *extra [] = { clock_env, "LG_LOG_LEVEL=warning", NULL };
    //  The registry audit follows: its duties first run once audit caught
    //  up with it (lg_service.h, after_catch_up), or 30 s on without it
    lg_test_proc_t registry = { .service = "registry" };
    bench_env_service (&env, &registry, NULL);
    lg_test_proc_t *const follows [] = { &registry, NULL };
    lg_test_proc_t audit = { .service = "audit" };
    if (!lg_test_proc_start (&audit, env.admin_dsn, env.certs, follows, extra)) {
        fprintf (stderr, "bench_audit: lgwan-audit did not start\n");
        return 1;
    }
    lg_test_proc_teardown (&audit);

    //  Seed: deadlines from 2027-01-02 over 400 days, open and settled
    char *dsn = lg_test_db_service_dsn (env.admin_dsn, "audit");
    lg_db_t *db = lg_db_new (dsn, "audit");
    free (dsn);
    char count [24], settled [24];
    snprintf (count, sizeof count, "%d", open);
    snprintf (settled, sizeof settled, "%d", open / 2);
    const char *seed [] = { count, settled };
    int64_t t0 = zclock_usecs ();
    if (!lg_db_run (db, "INSERT INTO providers (id, name_ja, entity_type, status, version)"
                        " VALUES (1, 'ベンチ株式会社', 6, 'qualified', 1)", 0, NULL)
    ||  !lg_db_run (db, "INSERT INTO audits (origin, provider_id, opened_by, opened_at)"
                        " VALUES ('plan', 1, 'bench', '2027-01-01T00:00:00Z')", 0, NULL)
    ||  !lg_db_run (db, "INSERT INTO remediation_requests (audit_id, provider_id, control_code,"
                        " deadline, status, created_at) SELECT 1, 1, 'R11.1-4',"
                        " deadline_of_day ('2027-01-02'::date + (i % 400)), 'requested',"
                        " '2027-01-01T00:00:00Z' FROM generate_series (1, $1::integer) i", 1, seed)
    ||  !lg_db_run (db, "INSERT INTO remediation_requests (audit_id, provider_id, control_code,"
                        " deadline, status, created_at) SELECT 1, 1, 'R11.1-7',"
                        " deadline_of_day ('2026-01-02'::date + (i % 365)), 'accepted',"
                        " '2026-01-01T00:00:00Z' FROM generate_series (1, $1::integer) i", 1, seed + 1)
    ||  !lg_db_run (db, "ANALYZE remediation_requests", 0, NULL)) {
        fprintf (stderr, "bench_audit: seeding failed: %s\n", lg_db_error (db));
        return 1;
    }
    double seed_s = (double) (zclock_usecs () - t0) / 1e6;

    //  "now": just after the first deadline day ended: requests i % 400 == 0
    //  are due (open / 400, 250 of 100,000); LIMIT 500 caps a batch
    const char *now = "2027-01-03T00:00:00Z";
    bool index;
    s_explain (db, now, &index);
    double p50, p99, raw50, raw99;
    long rows, raw_rows;
    s_time_scan (db, now, runs, false, &p50, &p99, &rows);
    s_time_scan (db, now, runs, true, &raw50, &raw99, &raw_rows);
    long due = bench_query_long (&env, "SELECT count(*) FROM audit.remediation_requests"
                                       " WHERE status = 'requested' AND deadline <= '2027-01-03T00:00:00Z'");

    //  3. The service's duty after a start with those deadlines passed
    s_set_clock (clock, now);
    t0 = zclock_usecs ();
    lg_test_proc_spawn (&audit, env.admin_dsn, env.certs, follows, extra);
    long marked = 0;
    while (zclock_usecs () - t0 < 30 * 1000000LL) {
        marked = bench_query_long (&env, "SELECT count(*) FROM audit.remediation_requests"
                                         " WHERE overdue_at IS NOT NULL");
        if (marked >= due)
            break;
        zclock_sleep (2);
    }
    double duty_ms = s_ms (zclock_usecs () - t0);
    long events = bench_query_long (&env, "SELECT count(*) FROM audit.outbox WHERE body_case = 307");
    //  The duty may finish before the service answers: let it finish starting
    for (int i = 0; i < 100 && !lg_test_proc_answers (&audit, env.certs); i++)
        zclock_sleep (50);
    lg_test_proc_teardown (&audit);
    lg_test_proc_teardown (&registry);

    printf ("bench_audit: %d open remediation requests (+%d settled), seeded in %.1f s%s\n",
            open, open / 2, seed_s, env.smoke? " (smoke)": "");
    printf ("  due scan, service statement (partial index)  p50 %7.3f ms   p99 %7.3f ms   %ld rows\n",
            p50, p99, rows);
    printf ("  raw: same statement, no index (table scan)   p50 %7.3f ms   p99 %7.3f ms   %ld rows\n",
            raw50, raw99, raw_rows);
    printf ("  service start -> %ld of %ld due marked overdue  %7.1f ms (%ld RemediationOverdue events)\n",
            marked, due, duty_ms, events);
    printf ("  targets: due scan over %d open requests < 50 ms: %s; EXPLAIN names the index: %s\n",
            open, p99 < 50? "met": "NOT MET", index? "yes": "NO");
    lg_db_destroy (&db);
    zstr_free (&clock_env);
    bench_env_stop (&env);
    return (index && p99 < 50 && marked == due && events == due)? 0: 1;
}
