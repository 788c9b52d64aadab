/*  lg_clock - the business clock: deadlines, billing days, timestamps on records.

    1. Without a clock file, now is CLOCK_REALTIME in microseconds.
    2. With a clock file (LG_CLOCK_FILE), every call reads the file again, so a
       test moves time by rewriting it and never sleeps. The file holds one
       RFC 3339 time or plain Unix seconds; trailing whitespace is ignored.
    3. A clock file that cannot be read or does not parse is logged as a
       warning and real time is used for that call: a broken test clock is
       visible in the log, and a service never stops on it.
    4. Parsing is strict: exactly `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)`
       (T and Z may be lower case, as RFC 3339 allows) with real calendar
       dates, or decimal digits only. Leap seconds (:60) are refused, as
       Unix time cannot hold them. Fractions beyond microseconds are cut.
    5. Formatting is always UTC with six fraction digits and Z.

    lg_clock_configure is called once from main, before any thread starts.
*/
#include "lg_lib.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert (sizeof (time_t) >= 8, "lg_clock needs a 64-bit time_t");

#define S_USEC          INT64_C (1000000)
#define S_FILE_MAX      4096    //  bytes of the clock file's name
#define S_CONTENT_MAX   128     //  bytes of the clock file's content

static char s_file [S_FILE_MAX];

static int64_t
s_real_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * S_USEC + now.tv_nsec / 1000;
}

static bool
s_is_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
s_days_in_month (int year, int month)
{
    static const int days [12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return month == 2 && s_is_leap (year)? 29: days [month - 1];
}

//  Read exactly count digits at *text into *value, advancing text; -1 if
//  any of them is not a digit.
static int
s_digits (const char **text, int count, int *value)
{
    int result = 0;
    for (int index = 0; index < count; index++) {
        char c = (*text) [index];
        if (c < '0' || c > '9')
            return -1;
        result = result * 10 + (c - '0');
    }
    *text += count;
    *value = result;
    return 0;
}

//  Plain Unix seconds: digits only, small enough to hold in microseconds.
static int
s_parse_unix (const char *text, int64_t *us)
{
    int64_t seconds = 0;
    if (*text == '\0')
        return -1;
    for (; *text; text++) {
        if (*text < '0' || *text > '9')
            return -1;
        if (seconds > (INT64_MAX / S_USEC - (*text - '0')) / 10)
            return -1;
        seconds = seconds * 10 + (*text - '0');
    }
    *us = seconds * S_USEC;
    return 0;
}

static int
s_parse_rfc3339 (const char *text, int64_t *us)
{
    int year, month, day, hour, minute, second;
    if (s_digits (&text, 4, &year) || *text++ != '-'
    ||  s_digits (&text, 2, &month) || *text++ != '-'
    ||  s_digits (&text, 2, &day))
        return -1;
    if (*text != 'T' && *text != 't')
        return -1;
    text++;
    if (s_digits (&text, 2, &hour) || *text++ != ':'
    ||  s_digits (&text, 2, &minute) || *text++ != ':'
    ||  s_digits (&text, 2, &second))
        return -1;
    if (month < 1 || month > 12
    ||  day < 1 || day > s_days_in_month (year, month)
    ||  hour > 23 || minute > 59 || second > 59)
        return -1;

    //  Fraction: one to nine digits, microseconds kept
    int64_t fraction = 0;
    if (*text == '.') {
        text++;
        int count = 0;
        while (*text >= '0' && *text <= '9') {
            if (++count > 9)
                return -1;
            if (count <= 6)
                fraction = fraction * 10 + (*text - '0');
            text++;
        }
        if (count == 0)
            return -1;
        for (; count < 6; count++)
            fraction *= 10;
    }

    //  Offset: Z, or +hh:mm / -hh:mm east of UTC
    int64_t offset = 0;
    if (*text == 'Z' || *text == 'z')
        text++;
    else
    if (*text == '+' || *text == '-') {
        int sign = *text++ == '-'? -1: 1;
        int offset_hour, offset_minute;
        if (s_digits (&text, 2, &offset_hour) || *text++ != ':'
        ||  s_digits (&text, 2, &offset_minute)
        ||  offset_hour > 23 || offset_minute > 59)
            return -1;
        offset = sign * (offset_hour * 3600 + offset_minute * 60);
    }
    else
        return -1;
    if (*text != '\0')
        return -1;

    struct tm tm = {
        .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
        .tm_hour = hour, .tm_min = minute, .tm_sec = second
    };
    //  Fields are checked above, so timegm cannot fail or normalise
    int64_t seconds = (int64_t) timegm (&tm) - offset;
    *us = seconds * S_USEC + fraction;
    return 0;
}

//  Now from the clock file; -1 after logging why.
static int
s_file_now_us (int64_t *us)
{
    char content [S_CONTENT_MAX + 1];
    size_t size = 0;
    int fd = open (s_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lg_warning ("could not open clock file \"%s\", using real time: %m", s_file);
        return -1;
    }
    //  Read one byte past the bound, to tell a full file from a long one
    while (size < sizeof content) {
        ssize_t rc = read (fd, content + size, sizeof content - size);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            lg_warning ("could not read clock file \"%s\", using real time: %m", s_file);
            close (fd);
            return -1;
        }
        if (rc == 0)
            break;
        size += (size_t) rc;
    }
    close (fd);
    if (size > S_CONTENT_MAX) {
        lg_warning ("clock file \"%s\" is longer than %d bytes, using real time",
                    s_file, S_CONTENT_MAX);
        return -1;
    }
    while (size > 0 && (content [size - 1] == ' '  || content [size - 1] == '\t'
                     || content [size - 1] == '\n' || content [size - 1] == '\r'))
        size--;
    content [size] = '\0';
    if (memchr (content, '\0', size) || lg_clock_parse (content, us) != 0) {
        lg_log_write (LG_LOG_WARNING, "expected RFC 3339 like 2027-03-31T15:00:00Z, or Unix seconds",
                      "malformed clock file \"%s\", using real time", s_file);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Use the file as the clock; NULL or "" returns to real time.

void
lg_clock_configure (const char *file)
{
    if (file == NULL || *file == '\0')
        s_file [0] = '\0';
    else
    if (strlen (file) >= sizeof s_file) {
        lg_error ("clock file name is longer than %d bytes, using real time", S_FILE_MAX - 1);
        s_file [0] = '\0';
    }
    else
        strcpy (s_file, file);
}


//  --------------------------------------------------------------------------
//  True when a test clock is configured.

bool
lg_clock_is_test (void)
{
    return s_file [0] != '\0';
}


//  --------------------------------------------------------------------------
//  Now, in microseconds since the Unix epoch, UTC.

int64_t
lg_clock_now_us (void)
{
    int64_t us;
    if (s_file [0] && s_file_now_us (&us) == 0)
        return us;
    return s_real_now_us ();
}


//  --------------------------------------------------------------------------
//  Format microseconds as RFC 3339 UTC with microseconds.

void
lg_clock_format (int64_t us, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return;
    //  Floor division, so times before 1970 keep a positive fraction
    int64_t seconds = us / S_USEC;
    int64_t micros = us % S_USEC;
    if (micros < 0) {
        seconds--;
        micros += S_USEC;
    }
    time_t when = (time_t) seconds;
    struct tm tm;
    if (gmtime_r (&when, &tm) == NULL) {
        snprintf (buf, size, "invalid time");
        return;
    }
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec, (int) micros);
}


//  --------------------------------------------------------------------------
//  Parse RFC 3339 or plain Unix seconds; 0 ok, -1 malformed.

int
lg_clock_parse (const char *text, int64_t *us)
{
    if (text == NULL || us == NULL)
        return -1;
    int64_t result;
    size_t length = strspn (text, "0123456789");
    int rc = text [length] == '\0'
           ? s_parse_unix (text, &result)
           : s_parse_rfc3339 (text, &result);
    if (rc == 0)
        *us = result;
    return rc;
}


//  --------------------------------------------------------------------------
//  Self test: the first example of use.

void
lg_clock_test (bool verbose)
{
    printf (" * lg_clock: ");
    char saved_file [S_FILE_MAX];
    memcpy (saved_file, s_file, sizeof saved_file);

    //  Stamp a record with now
    char text [32];
    lg_clock_configure (NULL);
    assert (!lg_clock_is_test ());
    lg_clock_format (lg_clock_now_us (), text, sizeof text);
    if (verbose)
        printf ("%s ", text);

    //  Parse what people write, format what we store
    int64_t us;
    assert (lg_clock_parse ("2026-04-01T00:00:00.5+09:00", &us) == 0);
    lg_clock_format (us, text, sizeof text);
    assert (streq (text, "2026-03-31T15:00:00.500000Z"));
    assert (lg_clock_parse ("2027-02-29T00:00:00Z", &us) == -1);

    //  A test moves time by writing the clock file
    char path [] = "/tmp/lg_clock_test.XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    assert (write (fd, "1800000000\n", 11) == 11);
    close (fd);
    lg_clock_configure (path);
    assert (lg_clock_is_test ());
    assert (lg_clock_now_us () == INT64_C (1800000000) * S_USEC);
    unlink (path);

    memcpy (s_file, saved_file, sizeof s_file);
    printf ("OK\n");
}
