/*  test_clock - lg_clock: strict RFC 3339 parsing, formatting, and the test
    clock file that lets tests move time without sleeping.
*/
#include "lg_lib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define S_USEC  INT64_C (1000000)

//  1806505200 = 2027-03-31T15:00:00Z = 2027-04-01T00:00:00+09:00
#define S_2027_03_31_T15    INT64_C (1806505200)

static int64_t
s_parse (const char *text)
{
    int64_t us = -42;
    if (lg_clock_parse (text, &us) != 0) {
        print_error ("lg_clock_parse refused \"%s\"\n", text);
        fail ();
    }
    return us;
}

static void
s_assert_refused (const char *text)
{
    int64_t us = -42;
    if (lg_clock_parse (text, &us) != -1) {
        print_error ("lg_clock_parse accepted \"%s\"\n", text);
        fail ();
    }
    assert_int_equal (us, -42);     //  untouched
}

static int64_t
s_real_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * S_USEC + now.tv_nsec / 1000;
}

//  A temporary clock file with this content; the path is in path.
static void
s_write_clock_file (const char *path, const char *content)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fputs (content, file) >= 0, 1);
    assert_int_equal (fclose (file), 0);
}

static void
test_parse_utc (void **state)
{
    (void) state;
    assert_int_equal (s_parse ("1970-01-01T00:00:00Z"), 0);
    assert_int_equal (s_parse ("2027-03-31T15:00:00Z"), S_2027_03_31_T15 * S_USEC);
    assert_int_equal (s_parse ("2027-03-31t15:00:00z"), S_2027_03_31_T15 * S_USEC);
    assert_int_equal (s_parse ("2027-03-31T15:00:00.5Z"), S_2027_03_31_T15 * S_USEC + 500000);
    assert_int_equal (s_parse ("2027-03-31T15:00:00.000001Z"), S_2027_03_31_T15 * S_USEC + 1);
    //  Nanoseconds are cut to microseconds
    assert_int_equal (s_parse ("2027-03-31T15:00:00.123456789Z"),
                      S_2027_03_31_T15 * S_USEC + 123456);
    assert_int_equal (s_parse ("1969-12-31T23:59:59Z"), -S_USEC);
}

static void
test_parse_offsets (void **state)
{
    (void) state;
    //  Midnight in Tokyo is 15:00 the day before in UTC
    assert_int_equal (s_parse ("2026-04-01T00:00:00+09:00"), s_parse ("2026-03-31T15:00:00Z"));
    assert_int_equal (s_parse ("2026-04-01T00:00:00+09:00"), INT64_C (1774969200) * S_USEC);
    assert_int_equal (s_parse ("2027-03-31T15:00:00.5+09:00"),
                      (S_2027_03_31_T15 - 9 * 3600) * S_USEC + 500000);
    //  West of UTC, and with minutes
    assert_int_equal (s_parse ("2026-03-31T10:00:00-05:00"), s_parse ("2026-03-31T15:00:00Z"));
    assert_int_equal (s_parse ("2026-03-31T20:30:00+05:30"), s_parse ("2026-03-31T15:00:00Z"));
    assert_int_equal (s_parse ("2026-03-31T15:00:00-00:00"), s_parse ("2026-03-31T15:00:00Z"));
    //  Crossing a year
    assert_int_equal (s_parse ("2027-01-01T08:59:59+09:00"), s_parse ("2026-12-31T23:59:59Z"));
}

static void
test_parse_unix_seconds (void **state)
{
    (void) state;
    assert_int_equal (s_parse ("0"), 0);
    assert_int_equal (s_parse ("1806505200"), S_2027_03_31_T15 * S_USEC);
    assert_int_equal (s_parse ("9223372036854"), INT64_C (9223372036854) * S_USEC);
    s_assert_refused ("9223372036855");         //  does not fit in microseconds
    s_assert_refused ("99999999999999999999999");
    s_assert_refused ("-1");
    s_assert_refused ("+1");
    s_assert_refused ("1806505200.5");
    s_assert_refused (" 1806505200");
    s_assert_refused ("1806505200 ");
    s_assert_refused ("0x10");
}

static void
test_parse_calendar (void **state)
{
    (void) state;
    //  Leap days
    assert_int_equal (s_parse ("2028-02-29T00:00:00Z"), s_parse ("2028-02-28T00:00:00Z") + 86400 * S_USEC);
    assert_int_equal (s_parse ("2000-02-29T00:00:00Z"), INT64_C (951782400) * S_USEC);
    s_assert_refused ("2027-02-29T00:00:00Z");
    s_assert_refused ("1900-02-29T00:00:00Z");
    s_assert_refused ("2028-02-30T00:00:00Z");
    s_assert_refused ("2026-04-31T00:00:00Z");
    s_assert_refused ("2026-00-10T00:00:00Z");
    s_assert_refused ("2026-13-10T00:00:00Z");
    s_assert_refused ("2026-01-00T00:00:00Z");
    s_assert_refused ("2026-01-32T00:00:00Z");
    assert_int_equal (s_parse ("2026-12-31T23:59:59Z") + S_USEC, s_parse ("2027-01-01T00:00:00Z"));
    s_assert_refused ("2026-01-01T24:00:00Z");
    s_assert_refused ("2026-01-01T23:60:00Z");
    s_assert_refused ("2026-01-01T23:59:60Z");  //  leap seconds do not fit Unix time
    s_assert_refused ("2026-01-01T00:00:00+24:00");
    s_assert_refused ("2026-01-01T00:00:00+09:60");
}

static void
test_parse_garbage (void **state)
{
    (void) state;
    s_assert_refused ("");
    s_assert_refused ("now");
    s_assert_refused ("2026-04-01");
    s_assert_refused ("2026-04-01T00:00:00");           //  no offset
    s_assert_refused ("2026-04-01 00:00:00Z");
    s_assert_refused ("2026-4-01T00:00:00Z");
    s_assert_refused ("26-04-01T00:00:00Z");
    s_assert_refused ("2026-04-01T00:00Z");
    s_assert_refused ("2026-04-01T00:00:00.Z");
    s_assert_refused ("2026-04-01T00:00:00.1234567890Z");
    s_assert_refused ("2026-04-01T00:00:00+0900");
    s_assert_refused ("2026-04-01T00:00:00+09");
    s_assert_refused ("2026-04-01T00:00:00ZZ");
    s_assert_refused ("2026-04-01T00:00:00Z ");
    s_assert_refused ("2026-04-01T00:00:00Z\n");
    s_assert_refused (" 2026-04-01T00:00:00Z");
    s_assert_refused ("2026-04-01T0a:00:00Z");
    s_assert_refused ("2026-04-01T00:00:00 +09:00");

    int64_t us;
    assert_int_equal (lg_clock_parse (NULL, &us), -1);
    assert_int_equal (lg_clock_parse ("0", NULL), -1);
}

static void
test_format (void **state)
{
    (void) state;
    char text [32];
    lg_clock_format (0, text, sizeof text);
    assert_string_equal (text, "1970-01-01T00:00:00.000000Z");
    lg_clock_format (INT64_C (1795670981123456), text, sizeof text);
    assert_string_equal (text, "2026-11-26T05:29:41.123456Z");
    lg_clock_format (-1, text, sizeof text);
    assert_string_equal (text, "1969-12-31T23:59:59.999999Z");
    lg_clock_format (s_parse ("2028-02-29T23:59:59.000001+09:00"), text, sizeof text);
    assert_string_equal (text, "2028-02-29T14:59:59.000001Z");

    //  Never more than size bytes, always terminated
    char small [11];
    memset (small, 'x', sizeof small);
    lg_clock_format (0, small, sizeof small);
    assert_string_equal (small, "1970-01-01");
    lg_clock_format (0, small, 0);
    assert_int_equal (small [0], '1');
}

static void
test_round_trip (void **state)
{
    (void) state;
    const char *texts [] = {
        "1970-01-01T00:00:00.000000Z",
        "2026-11-26T05:29:41.123456Z",
        "2028-02-29T00:00:00.000001Z",
        "2027-03-31T15:00:00.500000Z",
        "9999-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00.000000Z",
    };
    for (size_t index = 0; index < sizeof texts / sizeof texts [0]; index++) {
        char text [32];
        int64_t us = s_parse (texts [index]);
        lg_clock_format (us, text, sizeof text);
        assert_string_equal (text, texts [index]);
        assert_int_equal (s_parse (text), us);
    }
}

//  Now follows the file on every call, in any accepted form
static void
test_clock_file_moves_time (void **state)
{
    (void) state;
    char path [] = "/tmp/test_clock.XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    close (fd);

    lg_clock_configure (path);
    assert_true (lg_clock_is_test ());

    s_write_clock_file (path, "2027-03-31T15:00:00Z\n");
    assert_int_equal (lg_clock_now_us (), S_2027_03_31_T15 * S_USEC);
    assert_int_equal (lg_clock_now_us (), S_2027_03_31_T15 * S_USEC);   //  time stands still

    s_write_clock_file (path, "2027-04-01T00:00:00.5+09:00");
    assert_int_equal (lg_clock_now_us (), S_2027_03_31_T15 * S_USEC + 500000);

    s_write_clock_file (path, "1806591600 \r\n\t");     //  one day later, Unix seconds
    assert_int_equal (lg_clock_now_us (), (S_2027_03_31_T15 + 86400) * S_USEC);

    lg_clock_configure ("");
    assert_false (lg_clock_is_test ());
    int64_t now = lg_clock_now_us ();
    int64_t real = s_real_now_us ();
    assert_true (now <= real && real - now < 5 * S_USEC);

    unlink (path);
}

//  A broken clock file means real time (and a warning on stderr)
static void
test_clock_file_broken (void **state)
{
    (void) state;
    char path [] = "/tmp/test_clock.XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    close (fd);
    lg_clock_configure (path);

    const char *broken [] = { "", "\n", "yesterday\n", "2027-02-29T00:00:00Z", " 1806505200" };
    for (size_t index = 0; index < sizeof broken / sizeof broken [0]; index++) {
        s_write_clock_file (path, broken [index]);
        int64_t before = s_real_now_us ();
        int64_t now = lg_clock_now_us ();
        int64_t after = s_real_now_us ();
        assert_true (before <= now && now <= after);
        assert_true (lg_clock_is_test ());      //  still configured
    }

    //  A time followed by more whitespace than the file may hold (128 bytes),
    //  and a NUL inside: both refused
    s_write_clock_file (path, "2027-03-31T15:00:00Z                                        "
                              "                                                            "
                              "                                                            \n");
    int64_t before = s_real_now_us ();
    int64_t now = lg_clock_now_us ();
    assert_true (before <= now && now <= s_real_now_us ());
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fwrite ("0\0" "1806505200", 1, 12, file), 12);
    fclose (file);
    before = s_real_now_us ();
    now = lg_clock_now_us ();
    assert_true (before <= now && now <= s_real_now_us ());

    //  A missing file, too
    unlink (path);
    before = s_real_now_us ();
    now = lg_clock_now_us ();
    assert_true (before <= now && now <= s_real_now_us ());

    //  And once it is written, the test clock is back
    s_write_clock_file (path, "1806505200");
    assert_int_equal (lg_clock_now_us (), S_2027_03_31_T15 * S_USEC);
    unlink (path);
    lg_clock_configure (NULL);
    assert_false (lg_clock_is_test ());
}

int
main (void)
{
    lg_log_init ("test_clock", LG_LOG_ERROR);      //  the broken-file warnings are expected
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_parse_utc),
        cmocka_unit_test (test_parse_offsets),
        cmocka_unit_test (test_parse_unix_seconds),
        cmocka_unit_test (test_parse_calendar),
        cmocka_unit_test (test_parse_garbage),
        cmocka_unit_test (test_format),
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_clock_file_moves_time),
        cmocka_unit_test (test_clock_file_broken),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
