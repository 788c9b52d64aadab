/*  test_check - lg_check: local government codes, corporate numbers, UTF-8,
    prefectures, days. Rules from shared/data/README.md.

    The reference list of local governments is read from
    $LG_SHARED_DIR/data/local-governments.csv; without LG_SHARED_DIR, from
    $LG_SOURCE_DIR/../shared (ctest sets LG_SOURCE_DIR), then /work/shared.
    Without it the case is skipped with a message, or fails when CI=true.
*/
#include "lg_lib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

//  Every digit but the right one in position index must fail the check.
static void
s_assert_other_digits_fail (const char *valid, size_t index, bool (*check) (const char *))
{
    char copy [32];
    assert_true (strlen (valid) < sizeof copy);
    strcpy (copy, valid);
    for (char digit = '0'; digit <= '9'; digit++) {
        copy [index] = digit;
        if (digit == valid [index])
            assert_true (check (copy));
        else
        if (check (copy)) {
            print_error ("%s passes with digit %c in position %zu\n", copy, digit, index);
            fail ();
        }
    }
}

//  REQ R3.1 (type 1: local governments are identified by their code)
static void
test_lgcode_valid_vectors (void **state)
{
    (void) state;
    assert_true (lg_check_lgcode ("011011"));   //  S mod 11 = 0
    assert_true (lg_check_lgcode ("110001"));   //  S mod 11 = 0
    assert_true (lg_check_lgcode ("011070"));   //  S mod 11 = 1
    assert_true (lg_check_lgcode ("200000"));   //  S mod 11 = 1
    assert_true (lg_check_lgcode ("131016"));   //  Chiyoda
    assert_true (lg_check_lgcode ("130001"));   //  Tokyo
    assert_true (lg_check_lgcode ("010006"));   //  Hokkaido
}

static void
test_lgcode_wrong_check_digit (void **state)
{
    (void) state;
    s_assert_other_digits_fail ("011011", 5, lg_check_lgcode);
    s_assert_other_digits_fail ("110001", 5, lg_check_lgcode);
    s_assert_other_digits_fail ("011070", 5, lg_check_lgcode);
    s_assert_other_digits_fail ("200000", 5, lg_check_lgcode);
    s_assert_other_digits_fail ("131016", 5, lg_check_lgcode);
}

static void
test_lgcode_malformed (void **state)
{
    (void) state;
    assert_false (lg_check_lgcode ("13101"));       //  5 digits
    assert_false (lg_check_lgcode ("1310160"));     //  7 digits
    assert_false (lg_check_lgcode ("0110110"));     //  valid code then a digit
    assert_false (lg_check_lgcode ("13101a"));
    assert_false (lg_check_lgcode ("a31016"));
    assert_false (lg_check_lgcode ("13 016"));
    assert_false (lg_check_lgcode (" 131016"));
    assert_false (lg_check_lgcode ("131016 "));
    assert_false (lg_check_lgcode ("１３１０１６"));  //  full-width digits
    assert_false (lg_check_lgcode (""));
    assert_false (lg_check_lgcode (NULL));
}

//  Every row of the reference list passes, and its prefecture code is valid.
static void
test_lgcode_reference_list (void **state)
{
    (void) state;
    //  $LG_SHARED_DIR, else ../shared beside the source tree, else /work/shared
    char path [1024] = "";
    FILE *file = NULL;
    const char *shared = getenv ("LG_SHARED_DIR");
    const char *source = getenv ("LG_SOURCE_DIR");
    if (shared && *shared)
        snprintf (path, sizeof path, "%s/data/local-governments.csv", shared);
    else {
        if (source && *source) {
            snprintf (path, sizeof path, "%s/../shared/data/local-governments.csv", source);
            file = fopen (path, "r");
        }
        if (file == NULL)
            snprintf (path, sizeof path, "/work/shared/data/local-governments.csv");
    }
    if (file == NULL)
        file = fopen (path, "r");
    if (file == NULL) {
        const char *ci = getenv ("CI");
        if (ci && strcmp (ci, "true") == 0) {
            print_error ("cannot open %s (set LG_SHARED_DIR)\n", path);
            fail ();
        }
        print_message ("skipping: cannot open %s (set LG_SHARED_DIR)\n", path);
        skip ();
    }
    char line [1024];
    int line_number = 0;
    int rows = 0;
    int prefectures = 0;
    bool header_seen = false;
    while (fgets (line, sizeof line, file)) {
        line_number++;
        if (!header_seen) {
            header_seen = true;
            if (strncmp (line, "lgcode,", 7) != 0) {
                print_error ("%s: unexpected header %s", path, line);
                fail ();
            }
            continue;
        }
        char *comma = strchr (line, ',');
        if (comma == NULL) {
            print_error ("%s:%d: no comma\n", path, line_number);
            fail ();
        }
        *comma = '\0';
        if (!lg_check_lgcode (line)) {
            print_error ("%s:%d: %s fails the check digit\n", path, line_number, line);
            fail ();
        }
        char prefecture [3] = { line [0], line [1], '\0' };
        if (!lg_check_prefecture (prefecture)) {
            print_error ("%s:%d: %s has no valid prefecture\n", path, line_number, line);
            fail ();
        }
        if (strstr (comma + 1, ",prefecture"))
            prefectures++;
        rows++;
    }
    fclose (file);
    assert_int_equal (prefectures, 47);
    assert_true (rows > prefectures);
    print_message ("%d rows of %s pass\n", rows, path);
}

//  REQ R3.1
static void
test_corporate_number_valid (void **state)
{
    (void) state;
    assert_true (lg_check_corporate_number ("7123456789012"));
    assert_true (lg_check_corporate_number ("4011001098993"));
    assert_true (lg_check_corporate_number ("7010705000725"));
    assert_true (lg_check_corporate_number ("8000020130001"));
}

static void
test_corporate_number_wrong_check_digit (void **state)
{
    (void) state;
    s_assert_other_digits_fail ("7123456789012", 0, lg_check_corporate_number);
    s_assert_other_digits_fail ("4011001098993", 0, lg_check_corporate_number);
    s_assert_other_digits_fail ("7010705000725", 0, lg_check_corporate_number);
    s_assert_other_digits_fail ("8000020130001", 0, lg_check_corporate_number);
    //  A changed body digit changes the check digit too
    assert_false (lg_check_corporate_number ("8000020130002"));
    assert_false (lg_check_corporate_number ("8000020130010"));
}

static void
test_corporate_number_malformed (void **state)
{
    (void) state;
    assert_false (lg_check_corporate_number ("800002013000"));     //  12 digits
    assert_false (lg_check_corporate_number ("80000201300010"));   //  14 digits
    assert_false (lg_check_corporate_number ("800002013000a"));
    assert_false (lg_check_corporate_number ("8-000020-130001"));
    assert_false (lg_check_corporate_number (" 8000020130001"));
    assert_false (lg_check_corporate_number (""));
    assert_false (lg_check_corporate_number (NULL));
}

//  A local government's corporate number is "000020" + lgcode behind the
//  check digit: Tokyo (130001) is 8000020130001, and no other check digit.
static void
test_corporate_number_of_local_government (void **state)
{
    (void) state;
    const char *lgcode = "130001";
    assert_true (lg_check_lgcode (lgcode));
    char number [14];
    int valid = 0;
    char valid_digit = 0;
    for (char digit = '0'; digit <= '9'; digit++) {
        snprintf (number, sizeof number, "%c000020%s", digit, lgcode);
        if (lg_check_corporate_number (number)) {
            valid++;
            valid_digit = digit;
        }
    }
    assert_int_equal (valid, 1);
    assert_int_equal (valid_digit, '8');
    snprintf (number, sizeof number, "%c000020%s", valid_digit, lgcode);
    assert_string_equal (number, "8000020130001");
}

//  REQ X.3 (malformed text gets a clear error)
static void
test_utf8_valid (void **state)
{
    (void) state;
    const char *japanese = "総合行政ネットワーク ASP 基本要綱、千代田区";
    assert_true (lg_check_utf8 (japanese, strlen (japanese)));
    assert_true (lg_check_utf8 ("plain ASCII", 11));
    assert_true (lg_check_utf8 ("", 0));
    assert_true (lg_check_utf8 ("\xC2\x80", 2));            //  U+0080
    assert_true (lg_check_utf8 ("\xE0\xA0\x80", 3));        //  U+0800
    assert_true (lg_check_utf8 ("\xED\x9F\xBF", 3));        //  U+D7FF
    assert_true (lg_check_utf8 ("\xEE\x80\x80", 3));        //  U+E000
    assert_true (lg_check_utf8 ("\xF0\x90\x80\x80", 4));    //  U+10000
    assert_true (lg_check_utf8 ("\xF0\x9F\x97\xBE", 4));    //  U+1F5FE
    assert_true (lg_check_utf8 ("\xF4\x8F\xBF\xBF", 4));    //  U+10FFFF
    //  Only size bytes are looked at: a prefix ending between characters
    assert_true (lg_check_utf8 ("\xE3\x81\x82\xE3\x81", 3));
}

static void
test_utf8_invalid (void **state)
{
    (void) state;
    assert_false (lg_check_utf8 ("\xC0\x80", 2));           //  overlong NUL
    assert_false (lg_check_utf8 ("\xC1\xBF", 2));           //  overlong U+007F
    assert_false (lg_check_utf8 ("\xE0\x9F\xBF", 3));       //  overlong U+07FF
    assert_false (lg_check_utf8 ("\xF0\x8F\xBF\xBF", 4));   //  overlong U+FFFF
    assert_false (lg_check_utf8 ("\xED\xA0\x80", 3));       //  surrogate U+D800
    assert_false (lg_check_utf8 ("\xED\xBF\xBF", 3));       //  surrogate U+DFFF
    assert_false (lg_check_utf8 ("\xF4\x90\x80\x80", 4));   //  U+110000
    assert_false (lg_check_utf8 ("\xF5\x80\x80\x80", 4));
    assert_false (lg_check_utf8 ("\xFF", 1));
    assert_false (lg_check_utf8 ("\xE3\x81", 2));           //  truncated
    assert_false (lg_check_utf8 ("a\xE3\x81\x82\xE3\x81", 6));
    assert_false (lg_check_utf8 ("\xE3\x81" "a", 3));       //  ASCII inside a sequence
    assert_false (lg_check_utf8 ("\x80", 1));               //  lone continuation
    assert_false (lg_check_utf8 ("a\xBF" "b", 3));
    assert_false (lg_check_utf8 ("a\0b", 3));               //  embedded NUL
    assert_false (lg_check_utf8 (NULL, 0));
}

//  X.3: a refusal quoting what was sent must itself be valid UTF-8
static void
test_utf8_clean (void **state)
{
    (void) state;
    struct {
        const char *in, *out;
    } cases [] = {
        { "", "" },
        { "plain ascii", "plain ascii" },
        { "株式会社テスト", "株式会社テスト" },
        //  "\"%.16s\"" of 株式会社テスト: five characters and one byte of the sixth
        { "\"株式会社テ\xE3\"", "\"株式会社テ?\"" },
        { "株式会社\xE3\x83 です", "株式会社? です" },
        { "株式会社テ\xE3\x82", "株式会社テ" },         //  cut at the end: dropped
        { "a\xF0\x9F\x99", "a" },
        { "a\x80" "b\xFF" "c", "a?b?c" },                      //  stray bytes shown
        { "\xC0\x80x", "??x" },                           //  overlong
        { "\xED\xA0\x80!", "?!" },                          //  surrogate
        { "🙂 ok", "🙂 ok" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *text = strdup (cases [i].in);
        size_t length = lg_utf8_clean (text);
        assert_string_equal (text, cases [i].out);
        assert_int_equal (length, strlen (cases [i].out));
        assert_true (lg_check_utf8 (text, length));
        free (text);
    }
}

//  REQ R3.3 (data centres are in Japan: JIS X 0401 01-47)
static void
test_prefecture (void **state)
{
    (void) state;
    assert_true (lg_check_prefecture ("01"));
    assert_true (lg_check_prefecture ("13"));
    assert_true (lg_check_prefecture ("47"));
    assert_false (lg_check_prefecture ("00"));
    assert_false (lg_check_prefecture ("48"));
    assert_false (lg_check_prefecture ("99"));
    assert_false (lg_check_prefecture ("1"));
    assert_false (lg_check_prefecture ("013"));
    assert_false (lg_check_prefecture ("1a"));
    assert_false (lg_check_prefecture (" 1"));
    assert_false (lg_check_prefecture (""));
    assert_false (lg_check_prefecture (NULL));
}

//  REQ R15.2 R4.2 (a deadline or an effective day is a real day YYYY-MM-DD):
//  a year has its 365 or 366 days and no other; what PostgreSQL's date input
//  would also take is refused
static void
test_date (void **state)
{
    (void) state;
    const struct { int year, days; } years [] = {
        { 1900, 365 }, { 2000, 366 }, { 2027, 365 }, { 2028, 366 }, { 2100, 365 }, { 2999, 365 }
    };
    for (size_t y = 0; y < sizeof years / sizeof years [0]; y++) {
        int days = 0;
        for (int month = 0; month <= 13; month++)
            for (int day = 0; day <= 32; day++) {
                char text [16];
                snprintf (text, sizeof text, "%04d-%02d-%02d", years [y].year, month, day);
                days += lg_check_date (text);
            }
        assert_int_equal (days, years [y].days);
    }
    const char *refused [] = { "infinity", "-infinity", "today", "epoch", "2027-3-31",
                               "2027-03-1", " 2027-03-31", "2027-03-31 ", "2027/03/31",
                               "20270331", "2027-03-31T00:00:00Z", "1899-12-31", "3000-01-01",
                               "+027-03-31", "２０２７-03-31", "", NULL };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++)
        if (lg_check_date (refused [i]))
            fail_msg ("\"%s\" taken for a day", refused [i]);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_lgcode_valid_vectors),
        cmocka_unit_test (test_lgcode_wrong_check_digit),
        cmocka_unit_test (test_lgcode_malformed),
        cmocka_unit_test (test_lgcode_reference_list),
        cmocka_unit_test (test_corporate_number_valid),
        cmocka_unit_test (test_corporate_number_wrong_check_digit),
        cmocka_unit_test (test_corporate_number_malformed),
        cmocka_unit_test (test_corporate_number_of_local_government),
        cmocka_unit_test (test_utf8_valid),
        cmocka_unit_test (test_utf8_invalid),
        cmocka_unit_test (test_utf8_clean),
        cmocka_unit_test (test_prefecture),
        cmocka_unit_test (test_date),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
