/*  Unit tests of billing's arithmetic (REQ R6.1), no I/O. The expected yen
    are stated as constants, never recomputed by the test.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "billing_calc.h"

static int32_t
s_day (const char *text)
{
    int32_t day;
    assert_int_equal (bc_day_parse (text, &day), 0);
    return day;
}

static bc_change_t
s_change (const char *day, bc_kind_t kind, const char *value)
{
    bc_change_t change;
    memset (&change, 0, sizeof change);
    change.day = s_day (day);
    change.kind = kind;
    snprintf (change.value, sizeof change.value, "%s", value? value: "");
    return change;
}

//  Segments of one period
static int
s_segments (const bc_change_t *changes, size_t n, const char *period, bc_segment_t *out)
{
    int year, month;
    int32_t first, end;
    assert_int_equal (bc_period_parse (period, &year, &month), 0);
    bc_period_range (year, month, &first, &end);
    return bc_segments (changes, n, first, end, out, 16);
}

/* REQ R6.1: days in Asia/Tokyo; a range includes its first day, excludes its end */
static void
test_r6_1_jst_days (void **state)
{
    (void) state;
    //  2026-10-16T15:00:00Z is 2026-10-17 00:00 in Tokyo
    assert_int_equal (bc_jst_day (1792162800LL * 1000000), s_day ("2026-10-17"));
    assert_int_equal (bc_jst_day (1792162799LL * 1000000), s_day ("2026-10-16"));
    assert_int_equal (bc_month_days (2026, 10), 31);
    assert_int_equal (bc_month_days (2026, 11), 30);
    assert_int_equal (bc_month_days (2028, 2), 29);
    assert_int_equal (bc_month_days (2027, 2), 28);
    assert_int_equal (bc_month_days (2100, 2), 28);
    int32_t day;
    assert_int_equal (bc_day_parse ("2027-02-29", &day), -1);
    assert_int_equal (bc_day_parse ("2026-13-01", &day), -1);
    assert_int_equal (bc_day_parse ("2026-1-01", &day), -1);
    int year, month;
    assert_int_equal (bc_period_parse ("2026-00", &year, &month), -1);
    assert_int_equal (bc_period_parse ("2026-12", &year, &month), 0);
    int32_t first, end;
    bc_period_range (2026, 12, &first, &end);
    assert_int_equal (first, s_day ("2026-12-01"));
    assert_int_equal (end, s_day ("2027-01-01"));
}

/* REQ R6.1: activated 2026-10-17 at 31,000 yen a month: 15 of 31 days ->
   15,000; tax 10 % -> 1,500; total 16,500 */
static void
test_r6_1_activated_mid_month (void **state)
{
    (void) state;
    bc_change_t changes [] = { s_change ("2026-10-17", BC_ACTIVATED, "1G") };
    bc_segment_t seg [16];
    assert_int_equal (s_segments (changes, 1, "2026-10", seg), 1);
    assert_int_equal (seg [0].from, s_day ("2026-10-17"));
    assert_int_equal (seg [0].to, s_day ("2026-11-01"));
    assert_int_equal (seg [0].to - seg [0].from, 15);
    assert_int_equal (bc_prorate (31000, 15, 31, 100), 15000);
    assert_int_equal (bc_tax (15000, 10), 1500);
    assert_int_equal (15000 + bc_tax (15000, 10), 16500);
    //  Nothing before activation
    assert_int_equal (s_segments (changes, 1, "2026-09", seg), 0);
}

/* REQ R6.1: cancelled effective 2026-11-05: November bills 11-01 ... 11-04,
   4 of 30 days -> 4,133 (4,133.33 rounded down) */
static void
test_r6_1_cancelled_mid_month (void **state)
{
    (void) state;
    bc_change_t changes [] = { s_change ("2026-10-17", BC_ACTIVATED, "1G"),
                               s_change ("2026-11-05", BC_ENDED, NULL) };
    bc_segment_t seg [16];
    assert_int_equal (s_segments (changes, 2, "2026-11", seg), 1);
    assert_int_equal (seg [0].from, s_day ("2026-11-01"));
    assert_int_equal (seg [0].to, s_day ("2026-11-05"));
    assert_int_equal (seg [0].to - seg [0].from, 4);
    assert_int_equal (bc_prorate (31000, 4, 30, 100), 4133);
    assert_int_equal (s_segments (changes, 2, "2026-12", seg), 0);
}

/* REQ R6.1: a bandwidth class changed effective mid-month: two prorated
   lines, one per class */
static void
test_r6_1_class_change (void **state)
{
    (void) state;
    bc_change_t changes [] = { s_change ("2026-09-01", BC_ACTIVATED, "100M"),
                               s_change ("2026-11-16", BC_CLASS, "1G") };
    bc_segment_t seg [16];
    assert_int_equal (s_segments (changes, 2, "2026-11", seg), 2);
    assert_string_equal (seg [0].bandwidth_class, "100M");
    assert_int_equal (seg [0].to - seg [0].from, 15);
    assert_string_equal (seg [1].bandwidth_class, "1G");
    assert_int_equal (seg [1].from, s_day ("2026-11-16"));
    assert_int_equal (seg [1].to - seg [1].from, 15);
    //  100M at 20,000: 20,000 * 15 / 30 = 10,000; 1G at 31,000: 15,500
    assert_int_equal (bc_prorate (20000, 15, 30, 100), 10000);
    assert_int_equal (bc_prorate (31000, 15, 30, 100), 15500);
    int32_t days [4];
    int32_t first, end;
    bc_period_range (2026, 11, &first, &end);
    assert_int_equal (bc_triggers (changes, 2, first, end, "class_change", days, 4), 1);
    assert_int_equal (days [0], s_day ("2026-11-16"));
    assert_int_equal (bc_triggers (changes, 2, first, end, "activation", days, 4), 0);
}

/* REQ R6.1: a class "change" to the class the connection has already (an
   application approved as filed) changes nothing: no class_change fee, one
   line. The fee was charged for it: 1 trigger, not 0 */
static void
test_r6_1_class_change_to_the_same_class_is_no_change (void **state)
{
    (void) state;
    bc_change_t changes [] = { s_change ("2026-09-01", BC_ACTIVATED, "1G"),
                               s_change ("2026-11-10", BC_CLASS, "1G"),
                               s_change ("2026-11-16", BC_CLASS, "100M"),
                               s_change ("2026-11-20", BC_CLASS, "100M") };
    int32_t days [4];
    int32_t first, end;
    bc_period_range (2026, 11, &first, &end);
    assert_int_equal (bc_triggers (changes, 2, first, end, "class_change", days, 4), 0);
    assert_int_equal (bc_triggers (changes, 4, first, end, "class_change", days, 4), 1);
    assert_int_equal (days [0], s_day ("2026-11-16"));
    bc_segment_t seg [16];
    assert_int_equal (s_segments (changes, 4, "2026-11", seg), 2);
}

/* REQ R6.1: February 2028 has 29 days; a suspension from 02-10 to 02-20
   under each tariff setting (full, none, 50 %) */
static void
test_r6_1_february_2028_suspension (void **state)
{
    (void) state;
    bc_change_t changes [] = { s_change ("2027-12-01", BC_ACTIVATED, "1G"),
                               s_change ("2028-02-10", BC_STATE, "suspended"),
                               s_change ("2028-02-20", BC_STATE, "connected") };
    bc_segment_t seg [16];
    assert_int_equal (s_segments (changes, 3, "2028-02", seg), 3);
    assert_int_equal (seg [0].to - seg [0].from, 9);         //  02-01 ... 02-09
    assert_string_equal (seg [1].state, "suspended");
    assert_int_equal (seg [1].to - seg [1].from, 10);        //  02-10 ... 02-19
    assert_int_equal (seg [2].to - seg [2].from, 10);        //  02-20 ... 02-29
    assert_int_equal (bc_month_days (2028, 2), 29);
    //  29,000 a month: 1,000 a day in February 2028
    assert_int_equal (bc_prorate (29000, 9, 29, 100), 9000);
    assert_int_equal (bc_prorate (29000, 10, 29, bc_charge_percent ("full")), 10000);
    assert_int_equal (bc_prorate (29000, 10, 29, bc_charge_percent ("none")), 0);
    assert_int_equal (bc_prorate (29000, 10, 29, bc_charge_percent ("50%")), 5000);
    //  31,000 a month, 10 suspended days at 50 %: 5,344.82... -> 5,344
    assert_int_equal (bc_prorate (31000, 10, 29, 50), 5344);
    assert_int_equal (bc_charge_percent ("101%"), -1);
    assert_int_equal (bc_charge_percent ("half"), -1);
    assert_int_equal (bc_charge_percent ("%"), -1);
    int32_t days [4];
    int32_t first, end;
    bc_period_range (2028, 2, &first, &end);
    assert_int_equal (bc_triggers (changes, 3, first, end, "reconnection", days, 4), 1);
    assert_int_equal (days [0], s_day ("2028-02-20"));
}

/* REQ R6.1: the fiscal year runs April-March: 2027-03 and 2027-04 are in
   different sequences */
static void
test_r6_1_fiscal_year (void **state)
{
    (void) state;
    assert_int_equal (bc_fiscal_year (2027, 3), 2026);
    assert_int_equal (bc_fiscal_year (2027, 4), 2027);
    assert_int_equal (bc_fiscal_year (2027, 1), 2026);
    assert_int_equal (bc_fiscal_year (2026, 12), 2026);
}

/* REQ R6.1: consumption tax once on the sum of the lines per rate, rounded
   down, not per line: two lines of 15,005 -> 3,001 (per line: 1,500 + 1,500) */
static void
test_r6_1_tax_once_per_invoice (void **state)
{
    (void) state;
    int64_t amounts [] = { 15005, 15005 };
    int rates [] = { 10, 10 };
    bc_tax_t taxes [4];
    assert_int_equal (bc_tax_by_rate (amounts, rates, 2, taxes, 4), 1);
    assert_int_equal (taxes [0].sum_yen, 30010);
    assert_int_equal (taxes [0].tax_yen, 3001);
    assert_int_equal (bc_tax (15005, 10) + bc_tax (15005, 10), 3000);
    //  Two rates: each taxed once on its own sum
    int64_t mixed [] = { 1005, 1005, 999 };
    int mixed_rates [] = { 10, 10, 8 };
    assert_int_equal (bc_tax_by_rate (mixed, mixed_rates, 3, taxes, 4), 2);
    assert_int_equal (taxes [0].tax_yen, 201);
    assert_int_equal (taxes [1].tax_yen, 79);
    assert_int_equal (bc_tax_by_rate (mixed, mixed_rates, 3, taxes, 1), -1);
}

/* REQ R6.1: a credit note's tax is its amount's, rounded down, and the note
   that credits all that is left of the invoice takes all the tax left:
   15,000 + tax 1,500 credited 5 (tax 0) then 14,995 (tax 1,500, not
   1,499) owes nothing; a note crediting less than what is left does not */
static void
test_r6_1_credit_note_tax (void **state)
{
    (void) state;
    assert_int_equal (bc_credit_tax (5, 15000, 1500, 10), 0);
    assert_int_equal (bc_credit_tax (14995, 14995, 1500, 10), 1500);
    assert_int_equal (bc_tax (14995, 10), 1499);                  //  one by one: 1 yen owed
    assert_int_equal (bc_credit_tax (14994, 14995, 1500, 10), 1499);
    //  Credited whole in one note: the invoice's tax
    assert_int_equal (bc_credit_tax (15000, 15000, 1500, 10), 1500);
    //  9,677 + tax 967: three notes of 9 (tax 0 each), then the 9,650 left
    //  takes all 967
    assert_int_equal (bc_credit_tax (9, 9677, 967, 10), 0);
    assert_int_equal (bc_credit_tax (9650, 9650, 967, 10), 967);
}

/* REQ R6.1: proration refuses what no tariff can say */
static void
test_r6_1_prorate_bounds (void **state)
{
    (void) state;
    assert_int_equal (bc_prorate (-1, 1, 30, 100), -1);
    assert_int_equal (bc_prorate (100, 31, 30, 100), -1);
    assert_int_equal (bc_prorate (100, 1, 30, 101), -1);
    assert_int_equal (bc_prorate (1000000000000LL, 31, 31, 100), 1000000000000LL);
    //  A whole month is the monthly fee exactly
    assert_int_equal (bc_prorate (31000, 30, 30, 100), 31000);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r6_1_jst_days),
        cmocka_unit_test (test_r6_1_activated_mid_month),
        cmocka_unit_test (test_r6_1_cancelled_mid_month),
        cmocka_unit_test (test_r6_1_class_change),
        cmocka_unit_test (test_r6_1_class_change_to_the_same_class_is_no_change),
        cmocka_unit_test (test_r6_1_february_2028_suspension),
        cmocka_unit_test (test_r6_1_fiscal_year),
        cmocka_unit_test (test_r6_1_tax_once_per_invoice),
        cmocka_unit_test (test_r6_1_credit_note_tax),
        cmocka_unit_test (test_r6_1_prorate_bounds),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
