/*  bench_billing - an invoice run for 10,000 providers with 20,000
    connections through the real lgwan-billing, next to raw PostgreSQL
    inserting the same rows with COPY in the same run.

    The timeline is seeded straight into billing's tables (the rows its
    consumers write from registry and isolation events), so the figure is
    the run alone: every fourth connection activated mid-month, every fifth
    changing class mid-month, every tenth suspended for a week. One
    InvoiceRun request for 2026-10 issues every invoice in one transaction
    (invoices, lines, counter, one InvoiceIssued per invoice in the outbox).
    The preview of the same period is timed before it.
    Raw: COPY of the invoice rows and line rows the run stored, into tables
    of the same shape, one connection, one transaction.
    Target (issue 9): the run under 10 s.
*/
#include "bench_env.h"

static double
s_now_ms (void)
{
    return zclock_usecs () / 1000.0;
}

static PGconn *
s_admin (bench_env_t *env)
{
    PGconn *conn = PQconnectdb (env->admin_dsn);
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "bench_billing: %s", PQerrorMessage (conn));
        exit (1);
    }
    return conn;
}

static void
s_sql (PGconn *conn, const char *sql)
{
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_COMMAND_OK && PQresultStatus (res) != PGRES_TUPLES_OK) {
        fprintf (stderr, "bench_billing: %s: %s", sql, PQresultErrorMessage (res));
        exit (1);
    }
    PQclear (res);
}

//  The rows of a query as COPY text
static zchunk_t *
s_copy_out (PGconn *conn, const char *query)
{
    char *sql = zsys_sprintf ("COPY (%s) TO STDOUT", query);
    PGresult *res = PQexec (conn, sql);
    zstr_free (&sql);
    if (PQresultStatus (res) != PGRES_COPY_OUT) {
        fprintf (stderr, "bench_billing: copy out: %s", PQresultErrorMessage (res));
        exit (1);
    }
    PQclear (res);
    zchunk_t *chunk = zchunk_new (NULL, 1 << 20);
    char *line;
    int len;
    while ((len = PQgetCopyData (conn, &line, 0)) > 0) {
        zchunk_extend (chunk, line, (size_t) len);
        PQfreemem (line);
    }
    PQclear (PQgetResult (conn));
    return chunk;
}

static void
s_copy_in (PGconn *conn, const char *table, zchunk_t *data)
{
    char *sql = zsys_sprintf ("COPY %s FROM STDIN", table);
    PGresult *res = PQexec (conn, sql);
    zstr_free (&sql);
    if (PQresultStatus (res) != PGRES_COPY_IN) {
        fprintf (stderr, "bench_billing: copy in: %s", PQresultErrorMessage (res));
        exit (1);
    }
    PQclear (res);
    if (PQputCopyData (conn, (const char *) zchunk_data (data), (int) zchunk_size (data)) != 1
    ||  PQputCopyEnd (conn, NULL) != 1) {
        fprintf (stderr, "bench_billing: copy in: %s", PQerrorMessage (conn));
        exit (1);
    }
    res = PQgetResult (conn);
    if (PQresultStatus (res) != PGRES_COMMAND_OK) {
        fprintf (stderr, "bench_billing: copy in: %s", PQresultErrorMessage (res));
        exit (1);
    }
    PQclear (res);
}

static lg_reply_t *
s_call (lg_client_t *client, unsigned body_case, void *body)
{
    lg_reply_t *reply = lg_test_call (client, body_case, body, "bench");
    if (!reply || reply->status->code != LGWAN__V1__CODE__OK) {
        fprintf (stderr, "bench_billing: request failed: %s\n",
                 reply? reply->status->message: "no reply");
        exit (1);
    }
    return reply;
}

int
main (int argc, char **argv)
{
    bench_env_t env;
    bench_env_start (&env, argc, argv);
    int providers = env.smoke? 200: 10000;
    int connections = providers * 2;
    //  Billing follows nothing here: its followers point at closed ports
    char none [64];
    snprintf (none, sizeof none, "tcp://127.0.0.1:%d", lg_test_free_port ());
    setenv ("LG_REGISTRY_CONNECT", none, 1);
    setenv ("LG_REGISTRY_PUB_CONNECT", none, 1);
    setenv ("LG_ISOLATION_CONNECT", none, 1);
    setenv ("LG_ISOLATION_PUB_CONNECT", none, 1);
    setenv ("LG_BILLING_ISSUER_REGISTRATION", "T8010005018863", 1);
    lg_test_proc_t billing = { .service = "billing" };
    bench_env_service (&env, &billing, NULL);

    //  The timeline, as billing's consumers would have written it
    PGconn *admin = s_admin (&env);
    char *seed = zsys_sprintf (
        "INSERT INTO billing.providers SELECT p, '事業者' || p FROM generate_series (1, %d) p;"
        "INSERT INTO billing.connections SELECT c, (c - 1) %% %d + 1, c,"
        "  CASE WHEN c %% 4 = 0 THEN DATE '2026-10-17' ELSE DATE '2026-09-01' END"
        "  FROM generate_series (1, %d) c;"
        "INSERT INTO billing.timeline SELECT id, first_day, first_day::timestamptz, 1,"
        "  CASE WHEN id %% 2 = 0 THEN '1G' ELSE '100M' END, 'registry', id FROM billing.connections;"
        "INSERT INTO billing.timeline SELECT id, DATE '2026-10-16', '2026-10-16', 2, '10G',"
        "  'registry', %d + id FROM billing.connections WHERE id %% 5 = 0;"
        "INSERT INTO billing.timeline SELECT id, DATE '2026-10-05', '2026-10-05', 3, 'suspended',"
        "  'isolation', id FROM billing.connections WHERE id %% 10 = 1;"
        "INSERT INTO billing.timeline SELECT id, DATE '2026-10-12', '2026-10-12', 3, 'connected',"
        "  'isolation', %d + id FROM billing.connections WHERE id %% 10 = 1;"
        "ANALYZE billing.connections; ANALYZE billing.timeline; ANALYZE billing.providers",
        providers, providers, connections, connections, connections);
    s_sql (admin, seed);
    zstr_free (&seed);

    lg_client_t *operator = lg_test_proc_client (&billing, env.certs, "operator");
    lg_client_t *clerk = lg_test_proc_client (&billing, env.certs, "billing");
    lg_client_set_timeout (operator, 60000, 0);
    lg_client_set_timeout (clerk, 60000, 0);
    Lgwan__V1__TariffLoad load = LGWAN__V1__TARIFF_LOAD__INIT;
    load.document = (char *)
        "{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": [{\"version\": \"bench\","
        " \"effective_from\": \"2026-04-01\", \"connection_fees\": ["
        " {\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000},"
        " {\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000},"
        " {\"bandwidth_class\": \"10G\", \"monthly_yen\": 90000}],"
        " \"one_off_fees\": [{\"name\": \"開通手数料\", \"on\": \"activation\", \"yen\": 10000}],"
        " \"suspended\": \"50%\", \"disconnected\": \"none\", \"tax_rate_percent\": 10}]}";
    lgwan__v1__reply__free_unpacked (s_call (operator, LGWAN__V1__REQUEST__BODY_TARIFF_LOAD, &load),
                                     NULL);

    Lgwan__V1__InvoiceRun run = LGWAN__V1__INVOICE_RUN__INIT;
    run.period = (char *) "2026-10";
    run.preview = true;
    double start = s_now_ms ();
    lg_reply_t *reply = s_call (clerk, LGWAN__V1__REQUEST__BODY_INVOICE_RUN, &run);
    double preview_ms = s_now_ms () - start;
    int64_t preview_total = reply->invoice_run->total_yen;
    uint32_t preview_created = reply->invoice_run->created;
    lgwan__v1__reply__free_unpacked (reply, NULL);

    run.preview = false;
    start = s_now_ms ();
    reply = s_call (clerk, LGWAN__V1__REQUEST__BODY_INVOICE_RUN, &run);
    double run_ms = s_now_ms () - start;
    uint32_t created = reply->invoice_run->created;
    int64_t total = reply->invoice_run->total_yen;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    long lines = bench_query_long (&env, "SELECT count(*) FROM billing.invoice_lines");
    long events = bench_query_long (&env, "SELECT count(*) FROM billing.outbox WHERE body_case = 200");
    long top = bench_query_long (&env, "SELECT max(seq) FROM billing.invoices");

    //  Again: nothing created
    start = s_now_ms ();
    reply = s_call (clerk, LGWAN__V1__REQUEST__BODY_INVOICE_RUN, &run);
    double again_ms = s_now_ms () - start;
    uint32_t again_created = reply->invoice_run->created;
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Raw: COPY of the same rows into tables of the same shape
    s_sql (admin, "CREATE SCHEMA bench;"
                  "CREATE TABLE bench.invoices (LIKE billing.invoices INCLUDING ALL);"
                  "CREATE TABLE bench.invoice_lines (LIKE billing.invoice_lines INCLUDING ALL)");
    zchunk_t *invoice_rows = s_copy_out (admin, "SELECT * FROM billing.invoices");
    zchunk_t *line_rows = s_copy_out (admin, "SELECT * FROM billing.invoice_lines");
    start = s_now_ms ();
    s_sql (admin, "BEGIN");
    s_copy_in (admin, "bench.invoices", invoice_rows);
    s_copy_in (admin, "bench.invoice_lines", line_rows);
    s_sql (admin, "COMMIT");
    double copy_ms = s_now_ms () - start;
    zchunk_destroy (&invoice_rows);
    zchunk_destroy (&line_rows);

    printf ("bench_billing: %d providers, %d connections (2-core VM, shared)%s\n", providers,
            connections, env.smoke? " [smoke]": "");
    printf ("  preview:     %8.0f ms  (%u invoices, total %" PRId64 " yen)\n", preview_ms,
            preview_created, preview_total);
    printf ("  invoice run: %8.0f ms  (%u invoices, %ld lines, %ld InvoiceIssued events,"
            " numbers 1..%ld, total %" PRId64 " yen)\n", run_ms, created, lines, events, top, total);
    printf ("  run again:   %8.0f ms  (%u created)\n", again_ms, again_created);
    printf ("  raw COPY of the same invoice and line rows: %8.0f ms\n", copy_ms);
    printf ("  run / raw: %.1fx; target: run < 10 s: %s\n", run_ms / copy_ms,
            run_ms < 10000? "met": "NOT met");
    bool ok = created == (uint32_t) providers && preview_created == created
           && preview_total == total && again_created == 0 && top == providers
           && events == providers;
    if (!ok)
        printf ("bench_billing: FAILED: the run does not agree with itself\n");
    PQfinish (admin);
    lg_client_destroy (&operator);
    lg_client_destroy (&clerk);
    lg_test_proc_teardown (&billing);
    bench_env_stop (&env);
    return ok? 0: 1;
}
