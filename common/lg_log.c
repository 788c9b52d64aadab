/*  lg_log - log lines in PostgreSQL's shape, on stderr.

    1. Each record is one line `YYYY-MM-DD HH:MM:SS.mmm UTC [pid] ident LEVEL:  message`,
       followed by `... DETAIL:  detail` when there is a detail. The timestamp is
       real time (CLOCK_REALTIME), never the business clock: a test that moves
       lg_clock still gets log lines that say when things really happened.
    2. A record (its line and its DETAIL line) is built in one buffer and leaves
       with one write(2), so lines from concurrent processes and threads do not
       interleave: writes up to PIPE_BUF bytes to a pipe are atomic, and so are
       writes to a file opened with O_APPEND.
    3. A newline inside a message or detail continues on a new line that starts
       with a tab, as PostgreSQL's stderr log does, so every line that does not
       start with a tab is the start of a line in the shape above.
    4. A record longer than the buffer is cut and ends in "..."; it is never
       split across writes.
    5. errno is preserved, so a caller may log and then look at errno, and %m
       in a format prints the caller's errno.

    lg_log_init is called once from main, before any thread starts; after that
    the ident and level are only read.
*/
#include "lg_lib.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LG_LOG_RECORD_MAX   8192    //  bytes of one record, both lines
#define LG_LOG_IDENT_MAX    64

static char s_ident [LG_LOG_IDENT_MAX] = "lgwan";
static lg_log_level_t s_level = LG_LOG_INFO;

//  Names printed for each level, as PostgreSQL prints them
static const char *s_level_names [] = {
    [LG_LOG_DEBUG]   = "DEBUG",
    [LG_LOG_INFO]    = "LOG",
    [LG_LOG_WARNING] = "WARNING",
    [LG_LOG_ERROR]   = "ERROR",
    [LG_LOG_FATAL]   = "FATAL"
};

//  Names accepted by lg_log_level_parse
static const struct {
    const char *name;
    lg_log_level_t level;
} s_level_parse [] = {
    { "debug",   LG_LOG_DEBUG },
    { "info",    LG_LOG_INFO },
    { "log",     LG_LOG_INFO },
    { "warning", LG_LOG_WARNING },
    { "error",   LG_LOG_ERROR }
};

//  A record being built; len never exceeds size - 1 and cut says it was cut.
typedef struct {
    char data [LG_LOG_RECORD_MAX];
    size_t len;
    bool cut;
} s_record_t;

//  Reserve room for the "...\n" that ends a cut record.
#define S_RECORD_ROOM   (LG_LOG_RECORD_MAX - 5)

static void
s_record_putc (s_record_t *self, char c)
{
    if (self->len < S_RECORD_ROOM)
        self->data [self->len++] = c;
    else
        self->cut = true;
}

static void
s_record_puts (s_record_t *self, const char *text)
{
    for (; *text; text++)
        s_record_putc (self, *text);
}

//  Text with newlines continued on tab-indented lines.
static void
s_record_put_text (s_record_t *self, const char *text)
{
    for (; *text; text++) {
        s_record_putc (self, *text);
        if (*text == '\n')
            s_record_putc (self, '\t');
    }
}

//  The line prefix up to and including "LEVEL:  ".
static void
s_record_put_prefix (s_record_t *self, const char *stamp, const char *level)
{
    char pid [24];
    snprintf (pid, sizeof pid, "%ld", (long) getpid ());
    s_record_puts (self, stamp);
    s_record_puts (self, " [");
    s_record_puts (self, pid);
    s_record_puts (self, "] ");
    s_record_puts (self, s_ident);
    s_record_putc (self, ' ');
    s_record_puts (self, level);
    s_record_puts (self, ":  ");
}

//  "2026-11-26 05:29:41.123 UTC" from real time.
static void
s_stamp (char *buf, size_t size)
{
    struct timespec now;
    struct tm tm;
    if (clock_gettime (CLOCK_REALTIME, &now) != 0
    ||  gmtime_r (&now.tv_sec, &tm) == NULL) {
        snprintf (buf, size, "0000-00-00 00:00:00.000 UTC");
        return;
    }
    snprintf (buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%03ld UTC",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L);
}

//  Write all of it with as few write calls as the kernel allows: one, except
//  when interrupted or when stderr is a slow device that takes part of it.
static void
s_write_all (const char *data, size_t size)
{
    while (size > 0) {
        ssize_t rc = write (STDERR_FILENO, data, size);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return;             //  nowhere left to report it
        }
        data += rc;
        size -= (size_t) rc;
    }
}


//  --------------------------------------------------------------------------
//  Set the program name shown on each line and the lowest level printed.

void
lg_log_init (const char *ident, lg_log_level_t level)
{
    snprintf (s_ident, sizeof s_ident, "%s", ident && *ident? ident: "lgwan");
    if (level < LG_LOG_DEBUG)
        level = LG_LOG_DEBUG;
    if (level > LG_LOG_FATAL)
        level = LG_LOG_FATAL;
    s_level = level;
}


//  --------------------------------------------------------------------------
void
lg_why (char *why, size_t why_size, const char *format, ...)
{
    if (why == NULL || why_size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (why, why_size, format, args);
    va_end (args);
}

//  Parse "debug", "info"/"log", "warning", "error" (any case); -1 if unknown.

int
lg_log_level_parse (const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t index = 0; index < sizeof s_level_parse / sizeof s_level_parse [0]; index++)
        if (strcasecmp (name, s_level_parse [index].name) == 0)
            return (int) s_level_parse [index].level;
    return -1;
}


//  --------------------------------------------------------------------------
//  Write one record; detail, when not NULL, follows as a DETAIL line.

void
lg_log_write (lg_log_level_t level, const char *detail, const char *format, ...)
{
    int saved_errno = errno;
    if (level < LG_LOG_DEBUG || level > LG_LOG_FATAL)
        level = LG_LOG_ERROR;   //  a bad level is our bug; still say something
    if (level < s_level && level != LG_LOG_FATAL)
        return;

    char message [LG_LOG_RECORD_MAX];
    va_list args;
    va_start (args, format);
    errno = saved_errno;        //  for %m
    if (vsnprintf (message, sizeof message, format, args) < 0)
        snprintf (message, sizeof message, "(unformattable log message)");
    va_end (args);

    char stamp [64];
    s_stamp (stamp, sizeof stamp);

    s_record_t record;
    record.len = 0;
    record.cut = false;
    s_record_put_prefix (&record, stamp, s_level_names [level]);
    s_record_put_text (&record, message);
    s_record_putc (&record, '\n');
    if (detail) {
        s_record_put_prefix (&record, stamp, "DETAIL");
        s_record_put_text (&record, detail);
        s_record_putc (&record, '\n');
    }
    if (record.cut) {
        //  S_RECORD_ROOM left room for this
        memcpy (record.data + record.len, "...\n", 4);
        record.len += 4;
    }
    s_write_all (record.data, record.len);
    errno = saved_errno;
}


//  --------------------------------------------------------------------------
//  Self test: the first example of use.

void
lg_log_test (bool verbose)
{
    printf (" * lg_log: ");

    char saved_ident [LG_LOG_IDENT_MAX];
    memcpy (saved_ident, s_ident, sizeof saved_ident);
    lg_log_level_t saved_level = s_level;

    //  A service starts with its name and the level from LG_LOG_LEVEL
    int level = lg_log_level_parse ("warning");
    assert (level == LG_LOG_WARNING);
    assert (lg_log_level_parse ("LOG") == LG_LOG_INFO);
    assert (lg_log_level_parse ("verbose") == -1);
    assert (lg_log_level_parse (NULL) == -1);

    lg_log_init ("lg_log_test", verbose? LG_LOG_DEBUG: (lg_log_level_t) level);
    lg_info ("not shown unless verbose: %d", 42);
    if (verbose)
        lg_log_write (LG_LOG_ERROR, "connection refused", "could not connect to database");

    errno = ENOENT;
    lg_debug ("errno survives logging");
    assert (errno == ENOENT);

    memcpy (s_ident, saved_ident, sizeof s_ident);
    s_level = saved_level;
    printf ("OK\n");
}
