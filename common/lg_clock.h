/*  lg_clock - the business clock: deadlines, billing days, timestamps on records.

    Real UTC time unless LG_CLOCK_FILE names a file: then "now" is read from
    that file on every call (RFC 3339 `2027-03-31T15:00:00Z`, or Unix seconds),
    so tests move time by writing the file and never sleep. Network timeouts do
    not use this clock (they use zclock_mono).
*/
#ifndef LG_CLOCK_H_INCLUDED
#define LG_CLOCK_H_INCLUDED

//  Use the file as the clock; NULL or "" returns to real time.
void lg_clock_configure (const char *file);

//  True when a test clock is configured.
bool lg_clock_is_test (void);

//  Now, in microseconds since the Unix epoch, UTC.
int64_t lg_clock_now_us (void);

//  Format microseconds as RFC 3339 UTC with microseconds; writes at most
//  size bytes including the NUL (32 is always enough).
void lg_clock_format (int64_t us, char *buf, size_t size);

//  Parse RFC 3339 (Z or +hh:mm offset, optional fraction) or plain Unix
//  seconds; 0 ok, -1 malformed.
int lg_clock_parse (const char *text, int64_t *us);

//  Self test
void lg_clock_test (bool verbose);

#endif
