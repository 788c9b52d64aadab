/*  lg_log - log lines in PostgreSQL's shape, on stderr.

    2026-11-26 05:29:41.123 UTC [4242] registry LOG:  listening on port 7101
    2026-11-26 05:29:41.124 UTC [4242] registry ERROR:  could not connect to database
    2026-11-26 05:29:41.124 UTC [4242] registry DETAIL:  connection refused
*/
#ifndef LG_LOG_H_INCLUDED
#define LG_LOG_H_INCLUDED

typedef enum {
    LG_LOG_DEBUG = 0,
    LG_LOG_INFO,        //  printed as LOG
    LG_LOG_WARNING,
    LG_LOG_ERROR,
    LG_LOG_FATAL
} lg_log_level_t;

//  Set the program name shown on each line and the lowest level printed.
void lg_log_init (const char *ident, lg_log_level_t level);

//  Parse "debug", "info"/"log", "warning", "error"; returns -1 if unknown.
int lg_log_level_parse (const char *name);

//  Write one line; detail, when not NULL, follows as a DETAIL line.
void lg_log_write (lg_log_level_t level, const char *detail, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Write a reason into a caller's buffer, if the caller gave room for one
//  (why NULL or why_size 0: it did not).
void lg_why (char *why, size_t why_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#define lg_debug(...)   lg_log_write (LG_LOG_DEBUG, NULL, __VA_ARGS__)
#define lg_info(...)    lg_log_write (LG_LOG_INFO, NULL, __VA_ARGS__)
#define lg_warning(...) lg_log_write (LG_LOG_WARNING, NULL, __VA_ARGS__)
#define lg_error(...)   lg_log_write (LG_LOG_ERROR, NULL, __VA_ARGS__)

//  Self test
void lg_log_test (bool verbose);

#endif
