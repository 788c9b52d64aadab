/*  test_log - lg_log: the shape of each line, levels, DETAIL lines.

    stderr is redirected to a pipe for each case (dup2) and read back.
*/
#include "lg_lib.h"

#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define S_CAPTURE_MAX   32768       //  well under a pipe's 64 KiB buffer

//  stderr while captured
static int s_saved_stderr = -1;
static int s_pipe [2] = { -1, -1 };
static char s_output [S_CAPTURE_MAX + 1];

static void
s_capture_start (void)
{
    fflush (stderr);
    assert_int_equal (pipe (s_pipe), 0);
    s_saved_stderr = dup (STDERR_FILENO);
    assert_true (s_saved_stderr >= 0);
    assert_true (dup2 (s_pipe [1], STDERR_FILENO) == STDERR_FILENO);
}

//  Restore stderr and return what was written to it.
static const char *
s_capture_end (void)
{
    assert_true (dup2 (s_saved_stderr, STDERR_FILENO) == STDERR_FILENO);
    close (s_saved_stderr);
    close (s_pipe [1]);
    size_t size = 0;
    ssize_t rc;
    while (size < S_CAPTURE_MAX
       && (rc = read (s_pipe [0], s_output + size, S_CAPTURE_MAX - size)) > 0)
        size += (size_t) rc;
    close (s_pipe [0]);
    s_output [size] = '\0';
    s_saved_stderr = -1;
    return s_output;
}

//  After a failed assertion inside a capture, give stderr back.
static int
s_teardown (void **state)
{
    (void) state;
    if (s_saved_stderr >= 0)
        s_capture_end ();
    return 0;
}

//  Check one line is "stamp UTC [pid] ident LEVEL:  message" with these
//  values; the stamp must be real time (within a minute of now).
static void
s_assert_line (const char *line, size_t length, const char *ident, const char *level,
               const char *message)
{
    regex_t regex;
    assert_int_equal (regcomp (&regex,
        "^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\\.[0-9]{3} UTC "
        "\\[([0-9]+)\\] ([^ ]+) ([A-Z]+):  ", REG_EXTENDED), 0);
    char copy [S_CAPTURE_MAX + 1];
    memcpy (copy, line, length);
    copy [length] = '\0';
    regmatch_t match [10];
    if (regexec (&regex, copy, 10, match, 0) != 0) {
        print_error ("line has the wrong shape: \"%s\"\n", copy);
        regfree (&regex);
        fail ();
    }
    regfree (&regex);

    int field [7];
    for (int index = 1; index <= 7; index++)
        field [index - 1] = atoi (copy + match [index].rm_so);
    struct tm tm = {
        .tm_year = field [0] - 1900, .tm_mon = field [1] - 1, .tm_mday = field [2],
        .tm_hour = field [3], .tm_min = field [4], .tm_sec = field [5]
    };
    time_t stamp = timegm (&tm);
    //  The clock lg_log reads; time () is coarser and may lag a tick behind
    struct timespec clock_now;
    clock_gettime (CLOCK_REALTIME, &clock_now);
    time_t now = clock_now.tv_sec;
    assert_true (stamp <= now && now - stamp < 60);
    assert_int_equal (field [6], getpid ());

    copy [match [8].rm_eo] = '\0';
    assert_string_equal (copy + match [8].rm_so, ident);
    copy [match [9].rm_eo] = '\0';
    assert_string_equal (copy + match [9].rm_so, level);
    assert_string_equal (copy + match [0].rm_eo, message);
}

//  Split output into lines (without their newline); returns the count.
static int
s_lines (const char *output, const char **starts, size_t *lengths, int max)
{
    int count = 0;
    while (*output && count < max) {
        const char *end = strchr (output, '\n');
        assert_non_null (end);              //  every line is terminated
        starts [count] = output;
        lengths [count] = (size_t) (end - output);
        count++;
        output = end + 1;
    }
    return count;
}

static void
test_line_shape (void **state)
{
    (void) state;
    lg_log_init ("registry", LG_LOG_INFO);
    s_capture_start ();
    lg_info ("listening on port %d", 7101);
    const char *output = s_capture_end ();

    const char *starts [4];
    size_t lengths [4];
    assert_int_equal (s_lines (output, starts, lengths, 4), 1);
    s_assert_line (starts [0], lengths [0], "registry", "LOG", "listening on port 7101");
}

static void
test_level_names (void **state)
{
    (void) state;
    lg_log_init ("billing", LG_LOG_DEBUG);
    s_capture_start ();
    lg_debug ("one");
    lg_info ("two");
    lg_warning ("three");
    lg_error ("four");
    lg_log_write (LG_LOG_FATAL, NULL, "five");
    const char *output = s_capture_end ();

    const char *starts [8];
    size_t lengths [8];
    assert_int_equal (s_lines (output, starts, lengths, 8), 5);
    s_assert_line (starts [0], lengths [0], "billing", "DEBUG", "one");
    s_assert_line (starts [1], lengths [1], "billing", "LOG", "two");
    s_assert_line (starts [2], lengths [2], "billing", "WARNING", "three");
    s_assert_line (starts [3], lengths [3], "billing", "ERROR", "four");
    s_assert_line (starts [4], lengths [4], "billing", "FATAL", "five");
}

static void
test_level_filter (void **state)
{
    (void) state;
    lg_log_init ("audit", LG_LOG_WARNING);
    s_capture_start ();
    lg_debug ("hidden debug");
    lg_info ("hidden info");
    lg_warning ("shown warning");
    lg_error ("shown error");
    const char *output = s_capture_end ();
    const char *starts [8];
    size_t lengths [8];
    assert_int_equal (s_lines (output, starts, lengths, 8), 2);
    s_assert_line (starts [0], lengths [0], "audit", "WARNING", "shown warning");
    s_assert_line (starts [1], lengths [1], "audit", "ERROR", "shown error");

    //  FATAL is always written
    lg_log_init ("audit", LG_LOG_FATAL);
    s_capture_start ();
    lg_error ("hidden error");
    lg_log_write (LG_LOG_FATAL, NULL, "shown fatal");
    output = s_capture_end ();
    assert_int_equal (s_lines (output, starts, lengths, 8), 1);
    s_assert_line (starts [0], lengths [0], "audit", "FATAL", "shown fatal");
}

static void
test_detail_line (void **state)
{
    (void) state;
    lg_log_init ("registry", LG_LOG_INFO);
    s_capture_start ();
    lg_log_write (LG_LOG_ERROR, "connection refused", "could not connect to %s", "database");
    const char *output = s_capture_end ();

    const char *starts [4];
    size_t lengths [4];
    assert_int_equal (s_lines (output, starts, lengths, 4), 2);
    s_assert_line (starts [0], lengths [0], "registry", "ERROR", "could not connect to database");
    s_assert_line (starts [1], lengths [1], "registry", "DETAIL", "connection refused");
    //  Both lines carry the same stamp and pid
    const char *bracket = strchr (starts [0], ']');
    assert_non_null (bracket);
    assert_memory_equal (starts [0], starts [1], (size_t) (bracket - starts [0]));
}

//  A newline in a message continues on a line that starts with a tab
static void
test_multiline_message (void **state)
{
    (void) state;
    lg_log_init ("registry", LG_LOG_INFO);
    s_capture_start ();
    lg_log_write (LG_LOG_WARNING, "first\nsecond", "line one\nline two");
    const char *output = s_capture_end ();

    const char *starts [8];
    size_t lengths [8];
    assert_int_equal (s_lines (output, starts, lengths, 8), 4);
    s_assert_line (starts [0], lengths [0], "registry", "WARNING", "line one");
    assert_int_equal (lengths [1], 9);
    assert_memory_equal (starts [1], "\tline two", 9);
    s_assert_line (starts [2], lengths [2], "registry", "DETAIL", "first");
    assert_int_equal (lengths [3], 7);
    assert_memory_equal (starts [3], "\tsecond", 7);
}

//  A huge message is cut, ends in "...", and still comes as one write
static void
test_long_message_cut (void **state)
{
    (void) state;
    static char message [20000];
    memset (message, 'm', sizeof message - 1);
    message [sizeof message - 1] = '\0';
    lg_log_init ("registry", LG_LOG_INFO);
    s_capture_start ();
    lg_log_write (LG_LOG_ERROR, "never shown", "%s", message);
    const char *output = s_capture_end ();
    size_t length = strlen (output);
    assert_true (length <= 8192);
    assert_true (length > 8000);
    assert_string_equal (output + length - 5, "m...\n");
    assert_null (strstr (output, "DETAIL"));
}

//  Timestamps are real time even when the business clock is elsewhere
static void
test_stamp_is_real_time (void **state)
{
    (void) state;
    char path [] = "/tmp/test_log_clock.XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, "2035-01-01T00:00:00Z\n", 21), 21);
    close (fd);
    lg_clock_configure (path);
    assert_true (lg_clock_now_us () == INT64_C (2051222400) * 1000000);

    lg_log_init ("monitor", LG_LOG_INFO);
    s_capture_start ();
    lg_info ("tick");
    const char *output = s_capture_end ();
    lg_clock_configure (NULL);
    unlink (path);

    const char *starts [2];
    size_t lengths [2];
    assert_int_equal (s_lines (output, starts, lengths, 2), 1);
    s_assert_line (starts [0], lengths [0], "monitor", "LOG", "tick");  //  checks the stamp
    assert_true (strncmp (output, "2035", 4) != 0);
}

static void
test_errno_preserved (void **state)
{
    (void) state;
    lg_log_init ("isolation", LG_LOG_INFO);
    s_capture_start ();
    errno = ENOENT;
    lg_error ("could not open \"%s\": %m", "x");
    int after = errno;
    const char *output = s_capture_end ();
    assert_int_equal (after, ENOENT);
    const char *starts [2];
    size_t lengths [2];
    assert_int_equal (s_lines (output, starts, lengths, 2), 1);
    s_assert_line (starts [0], lengths [0], "isolation", "ERROR",
                   "could not open \"x\": No such file or directory");
}

static void
test_level_parse (void **state)
{
    (void) state;
    assert_int_equal (lg_log_level_parse ("debug"), LG_LOG_DEBUG);
    assert_int_equal (lg_log_level_parse ("info"), LG_LOG_INFO);
    assert_int_equal (lg_log_level_parse ("log"), LG_LOG_INFO);
    assert_int_equal (lg_log_level_parse ("warning"), LG_LOG_WARNING);
    assert_int_equal (lg_log_level_parse ("error"), LG_LOG_ERROR);
    assert_int_equal (lg_log_level_parse ("ERROR"), LG_LOG_ERROR);
    assert_int_equal (lg_log_level_parse ("warn"), -1);
    assert_int_equal (lg_log_level_parse ("errors"), -1);
    assert_int_equal (lg_log_level_parse (""), -1);
    assert_int_equal (lg_log_level_parse (NULL), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_teardown (test_line_shape, s_teardown),
        cmocka_unit_test_teardown (test_level_names, s_teardown),
        cmocka_unit_test_teardown (test_level_filter, s_teardown),
        cmocka_unit_test_teardown (test_detail_line, s_teardown),
        cmocka_unit_test_teardown (test_multiline_message, s_teardown),
        cmocka_unit_test_teardown (test_long_message_cut, s_teardown),
        cmocka_unit_test_teardown (test_stamp_is_real_time, s_teardown),
        cmocka_unit_test_teardown (test_errno_preserved, s_teardown),
        cmocka_unit_test_teardown (test_level_parse, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
