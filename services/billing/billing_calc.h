/*  billing_calc - the arithmetic of billing, with no I/O (R6.1).

    1. Days are integers (days since 1970-01-01) of the calendar in
       Asia/Tokyo. A range [from, to) includes its first day and excludes its
       end day: activated 10-17 and cancelled effective 11-05 bills
       10-17 ... 11-04.
    2. A period is a JST month, YYYY-MM; its fiscal year runs April-March
       (2027-03 is in fiscal 2026, 2027-04 in fiscal 2027).
    3. A connection's timeline is its changes in order (activation with its
       bandwidth class, class changes, state changes, the end); within a
       period it becomes the maximal runs of days with one class and one
       state: one invoice line each.
    4. A line is monthly * days * percent / (month days * 100), rounded
       down once, in integer yen. Consumption tax is computed once per
       invoice and rate on the sum of the lines, rounded down.
    5. A credit note's tax is its own amount's, rounded down, but the note
       that credits all that is left of an invoice takes all the tax left:
       rounded down one by one, the notes' taxes would fall short of the
       invoice's and leave yen owed that nothing could credit.
*/
#ifndef BILLING_CALC_H_INCLUDED
#define BILLING_CALC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BC_NAME_MAX 24              //  bandwidth class or state, with its NUL

//  Days since 1970-01-01 of a civil date, and back
int32_t bc_day (int year, int month, int mday);
void bc_civil (int32_t day, int *year, int *month, int *mday);

//  "YYYY-MM-DD" -> day; 0 ok, -1 not a valid date
int bc_day_parse (const char *text, int32_t *day);
//  day -> "YYYY-MM-DD" (size >= 11)
void bc_day_format (int32_t day, char *buf, size_t size);

//  The JST calendar day of an instant (microseconds since the epoch, UTC)
int32_t bc_jst_day (int64_t utc_us);

//  "YYYY-MM" -> year, month; 0 ok, -1 malformed
int bc_period_parse (const char *text, int *year, int *month);
//  A period's first day and its end day (the next month's first, excluded)
void bc_period_range (int year, int month, int32_t *first, int32_t *end);
int bc_month_days (int year, int month);
//  April-March: the year in which the fiscal year begins
int bc_fiscal_year (int year, int month);

//  "full" -> 100, "none" -> 0, "NN%" -> NN (0-100); -1 otherwise
int bc_charge_percent (const char *text);

//  monthly * days * percent / (month_days * 100), rounded down; -1 when an
//  argument is out of range (negative, days > month_days, percent > 100)
int64_t bc_prorate (int64_t monthly_yen, int days, int month_days, int percent);

//  Tax on a sum at a rate, rounded down
int64_t bc_tax (int64_t sum_yen, int rate_percent);

//  A credit note's tax: on its amount at the rate, rounded down, except that
//  a note crediting all that is left of its invoice before tax (amount ==
//  left_yen) takes all the tax left (tax_left_yen: the invoice's tax less
//  that of the notes before it), so that nothing stays owed
int64_t bc_credit_tax (int64_t amount_yen, int64_t left_yen, int64_t tax_left_yen,
                       int rate_percent);

//  Tax once per rate: lines (amount, rate) summed by rate, then taxed.
//  out gets one entry per distinct rate (at most max); returns the count,
//  or -1 when there are more rates than max.
typedef struct {
    int rate_percent;
    int64_t sum_yen;
    int64_t tax_yen;
} bc_tax_t;
int bc_tax_by_rate (const int64_t *amounts, const int *rates, size_t n, bc_tax_t *out, size_t max);

//  A connection's changes, sorted by day then by when they happened
typedef enum {
    BC_ACTIVATED = 1,               //  value: the bandwidth class
    BC_CLASS = 2,                   //  value: the new bandwidth class
    BC_STATE = 3,                   //  value: connected, suspended, disconnected
    BC_ENDED = 4                    //  cancellation effective: not billed from this day
} bc_kind_t;

typedef struct {
    int32_t day;
    bc_kind_t kind;
    char value [BC_NAME_MAX];
} bc_change_t;

typedef struct {
    int32_t from;                   //  first day
    int32_t to;                     //  end day, excluded
    char bandwidth_class [BC_NAME_MAX];
    char state [BC_NAME_MAX];
} bc_segment_t;

//  The billable runs of [first, end): maximal ranges of days with one class
//  and one state while the connection is active. Returns the count, or -1
//  when more than max.
int bc_segments (const bc_change_t *changes, size_t n, int32_t first, int32_t end,
                 bc_segment_t *out, size_t max);

//  One-off fees a connection's changes trigger in [first, end): activation,
//  class_change (not the class given at activation, nor a "change" to the
//  class it has already), reconnection (back to connected from suspended or
//  disconnected). Fills the days of each
//  trigger of `on`; returns the count, or -1 when more than max.
int bc_triggers (const bc_change_t *changes, size_t n, int32_t first, int32_t end,
                 const char *on, int32_t *days, size_t max);

//  Self test
void bc_test (bool verbose);

#endif
