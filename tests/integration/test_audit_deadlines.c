/*  Integration test of audit's deadline rules, in its own migrated schema:
    a deadline is the end of a calendar day in Asia/Tokyo (the first instant
    of the next JST day), whatever the session's time zone; and the duty's
    due scan reads the partial index, not the table.
*/
#include "lg_test.h"
#include "audit.h"

extern const lg_migration_t audit_migrations [];

static char *s_admin;
static lg_db_t *s_db;

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    s_admin = lg_test_db_new ("audit_deadlines");
    assert_non_null (s_admin);
    char *dsn = lg_test_db_service_dsn (s_admin, "audit");
    s_db = lg_db_new (dsn, "audit");
    free (dsn);
    assert_non_null (s_db);
    assert_int_equal (lg_db_migrate (s_db, audit_migrations), 0);
    //  A zone far from Tokyo: the rule must not depend on it
    assert_true (lg_db_run (s_db, "SET TimeZone = 'America/Los_Angeles'", 0, NULL));
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    lg_db_destroy (&s_db);
    lg_test_db_drop (&s_admin);
    return 0;
}

//  One text value of a query with parameters
static char *
s_value (const char *sql, int n, const char *const *params)
{
    PGresult *res = lg_db_exec (s_db, sql, n, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, res? PQresultErrorMessage (res): "no result");
    char *value = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    return value;
}

//  deadline_after (at, days) in UTC, and its JST deadline day
static void
s_expect (const char *at, const char *days, const char *deadline, const char *day)
{
    const char *params [] = { at, days };
    char *got = s_value ("SELECT to_char (deadline_after ($1::timestamptz, $2::integer)"
                         " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' ' ||"
                         " deadline_day (deadline_after ($1::timestamptz, $2::integer))::text",
                         2, params);
    char *want = zsys_sprintf ("%s %s", deadline, day);
    if (!streq (got, want))
        fail_msg ("%s + %s days: expected %s, got %s", at, days, want, got);
    free (got);
    zstr_free (&want);
}

/* REQ R15.2: a remediation deadline is the end of the day in Asia/Tokyo,
   across month ends, leap days and the year end */
static void
test_r15_2_deadline_across_month_and_year_ends (void **state)
{
    (void) state;
    //  Same day: 12:00 JST on 31 January ends at 15:00Z
    s_expect ("2027-01-31T03:00:00Z", "0", "2027-01-31T15:00:00Z", "2027-01-31");
    //  Month end: 01:00 JST on 28 February is still 27 February in UTC
    s_expect ("2027-02-27T16:00:00Z", "1", "2027-03-01T15:00:00Z", "2027-03-01");
    s_expect ("2027-01-31T03:00:00Z", "30", "2027-03-02T15:00:00Z", "2027-03-02");
    //  Leap year
    s_expect ("2028-02-28T10:00:00Z", "1", "2028-02-29T15:00:00Z", "2028-02-29");
    //  Year end: the last microsecond of 2026 in Tokyo, and the first of 2027
    s_expect ("2026-12-31T14:59:59.999999Z", "0", "2026-12-31T15:00:00Z", "2026-12-31");
    s_expect ("2026-12-31T15:00:00Z", "0", "2027-01-01T15:00:00Z", "2027-01-01");
    s_expect ("2026-12-15T00:00:00Z", "30", "2027-01-14T15:00:00Z", "2027-01-14");
    s_expect ("2026-12-31T16:00:00Z", "14", "2027-01-15T15:00:00Z", "2027-01-15");
    //  A deadline day given as such
    const char *day [] = { "2027-12-31" };
    char *got = s_value ("SELECT deadline_of_day ($1::date) = '2027-12-31T15:00:00Z'::timestamptz"
                         " AND deadline_day (deadline_of_day ($1::date)) = $1::date", 1, day);
    assert_string_equal (got, "t");
    free (got);
    //  The severity policy (critical 14, high 30, medium 60, low 90 days)
    got = s_value ("SELECT string_agg (severity || '=' || coalesce (remediation_days::text, '-'),"
                   " ',' ORDER BY rank) FROM severities", 0, NULL);
    assert_string_equal (got, "critical=14,high=30,medium=60,low=90,info=-");
    free (got);
}

/* REQ R15.2: the deadline duty's due scan (the service's own statement)
   reads the partial index remediation_requests_due, not the table (the
   providers' copy, one row a provider, may be read whole for the
   cancelled ones) */
static void
test_r15_2_due_scan_uses_the_index (void **state)
{
    (void) state;
    assert_true (lg_db_run (s_db, "INSERT INTO providers (id, name_ja, entity_type, status, version)"
                                  " VALUES (1, 'p', 6, 'qualified', 1)", 0, NULL));
    assert_true (lg_db_run (s_db, "INSERT INTO audits (origin, provider_id, opened_by, opened_at)"
                                  " VALUES ('plan', 1, 'test', now ())", 0, NULL));
    assert_true (lg_db_run (s_db,
        "INSERT INTO remediation_requests (audit_id, provider_id, control_code, deadline, status,"
        " overdue_at, created_at) SELECT 1, 1, 'R11.1-4', '2027-01-01T15:00:00Z'::timestamptz"
        " + (i % 400) * interval '1 day', CASE WHEN i % 3 = 0 THEN 'accepted' ELSE 'requested' END,"
        " NULL, now () FROM generate_series (1, 20000) i", 0, NULL));
    assert_true (lg_db_run (s_db, "ANALYZE remediation_requests", 0, NULL));
    assert_int_equal (lg_db_begin (s_db), 0);
    const char *params [] = { "2027-01-03T00:00:00Z" };
    PGresult *res = lg_db_exec (s_db, "EXPLAIN " AUDIT_DUE_SQL, 1, params);
    assert_non_null (res);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    bool index = false, seq = false;
    for (int row = 0; row < PQntuples (res); row++) {
        index |= strstr (PQgetvalue (res, row, 0), "remediation_requests_due") != NULL;
        seq |= strstr (PQgetvalue (res, row, 0), "Seq Scan on remediation_requests") != NULL;
    }
    PQclear (res);
    lg_db_rollback (s_db);
    assert_true (index);
    assert_false (seq);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r15_2_deadline_across_month_and_year_ends),
        cmocka_unit_test (test_r15_2_due_scan_uses_the_index),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
