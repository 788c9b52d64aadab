/*  billing_calc - the arithmetic of billing, with no I/O. See the header
    for the rules; tests/unit/test_billing_calc.c holds the worked numbers.
*/
#include "billing_calc.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

//  Howard Hinnant's days_from_civil, proleptic Gregorian
int32_t
bc_day (int year, int month, int mday)
{
    int y = year - (month <= 2);
    int era = (y >= 0? y: y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (month + (month > 2? -3: 9)) + 2) / 5 + mday - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t) (era * 146097 + doe - 719468);
}

void
bc_civil (int32_t day, int *year, int *month, int *mday)
{
    int32_t z = day + 719468;
    int32_t era = (z >= 0? z: z - 146096) / 146097;
    int32_t doe = z - era * 146097;
    int32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int32_t y = yoe + era * 400;
    int32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int32_t mp = (5 * doy + 2) / 153;
    *mday = (int) (doy - (153 * mp + 2) / 5 + 1);
    *month = (int) (mp < 10? mp + 3: mp - 9);
    *year = (int) (y + (*month <= 2));
}

int
bc_month_days (int year, int month)
{
    static const int days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days [month - 1];
}

static bool
s_digits (const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (text [i] < '0' || text [i] > '9')
            return false;
    return true;
}

//  The number in n digits (checked by s_digits first)
static int
atoi_n (const char *text, size_t n)
{
    int value = 0;
    for (size_t i = 0; i < n; i++)
        value = value * 10 + (text [i] - '0');
    return value;
}

int
bc_day_parse (const char *text, int32_t *day)
{
    if (!text || strlen (text) != 10 || text [4] != '-' || text [7] != '-'
    ||  !s_digits (text, 4) || !s_digits (text + 5, 2) || !s_digits (text + 8, 2))
        return -1;
    int year = atoi_n (text, 4), month = atoi_n (text + 5, 2), mday = atoi_n (text + 8, 2);
    if (year < 1900 || month < 1 || month > 12 || mday < 1 || mday > bc_month_days (year, month))
        return -1;
    *day = bc_day (year, month, mday);
    return 0;
}

void
bc_day_format (int32_t day, char *buf, size_t size)
{
    int year, month, mday;
    bc_civil (day, &year, &month, &mday);
    snprintf (buf, size, "%04d-%02d-%02d", year, month, mday);
}

int32_t
bc_jst_day (int64_t utc_us)
{
    int64_t seconds = utc_us / 1000000 - (utc_us % 1000000 < 0);
    int64_t local = seconds + 9 * 3600;
    return (int32_t) (local >= 0? local / 86400: (local - 86399) / 86400);
}

int
bc_period_parse (const char *text, int *year, int *month)
{
    if (!text || strlen (text) != 7 || text [4] != '-' || !s_digits (text, 4)
    ||  !s_digits (text + 5, 2))
        return -1;
    *year = atoi_n (text, 4);
    *month = atoi_n (text + 5, 2);
    return *year >= 1900 && *month >= 1 && *month <= 12? 0: -1;
}

void
bc_period_range (int year, int month, int32_t *first, int32_t *end)
{
    *first = bc_day (year, month, 1);
    *end = month == 12? bc_day (year + 1, 1, 1): bc_day (year, month + 1, 1);
}

int
bc_fiscal_year (int year, int month)
{
    return month >= 4? year: year - 1;
}

int
bc_charge_percent (const char *text)
{
    if (!text)
        return -1;
    if (strcmp (text, "full") == 0)
        return 100;
    if (strcmp (text, "none") == 0)
        return 0;
    size_t len = strlen (text);
    if (len < 2 || len > 4 || text [len - 1] != '%' || !s_digits (text, len - 1))
        return -1;
    int percent = atoi_n (text, len - 1);
    return percent <= 100? percent: -1;
}

int64_t
bc_prorate (int64_t monthly_yen, int days, int month_days, int percent)
{
    //  Prices are bounded by the tariff (at most 10^12 yen), so the product
    //  stays far below 2^63: 10^12 * 31 * 100
    if (monthly_yen < 0 || monthly_yen > 1000000000000LL || days < 0 || month_days < 28
    ||  month_days > 31 || days > month_days || percent < 0 || percent > 100)
        return -1;
    return monthly_yen * days * percent / ((int64_t) month_days * 100);
}

int64_t
bc_tax (int64_t sum_yen, int rate_percent)
{
    //  Rounded down; a credit (negative sum) rounds towards zero as well
    return sum_yen * rate_percent / 100;
}

int64_t
bc_credit_tax (int64_t amount_yen, int64_t left_yen, int64_t tax_left_yen, int rate_percent)
{
    //  floor (a) + floor (b) <= floor (a + b): the notes before this one
    //  took at most their share, so what is left is at least this share
    return amount_yen == left_yen? tax_left_yen: bc_tax (amount_yen, rate_percent);
}

int
bc_tax_by_rate (const int64_t *amounts, const int *rates, size_t n, bc_tax_t *out, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        size_t at = 0;
        while (at < count && out [at].rate_percent != rates [i])
            at++;
        if (at == count) {
            if (count == max)
                return -1;
            out [count].rate_percent = rates [i];
            out [count].sum_yen = 0;
            count++;
        }
        out [at].sum_yen += amounts [i];
    }
    for (size_t at = 0; at < count; at++)
        out [at].tax_yen = bc_tax (out [at].sum_yen, out [at].rate_percent);
    return (int) count;
}

//  The state of a connection as of the start of a day, after applying every
//  change up to and including that day
typedef struct {
    bool active;
    bool ended;
    char bandwidth_class [BC_NAME_MAX];
    char state [BC_NAME_MAX];
} s_status_t;

static void
s_apply (s_status_t *status, const bc_change_t *change)
{
    switch (change->kind) {
        case BC_ACTIVATED:
            if (!status->ended) {
                status->active = true;
                snprintf (status->bandwidth_class, BC_NAME_MAX, "%s", change->value);
            }
            break;
        case BC_CLASS:
            snprintf (status->bandwidth_class, BC_NAME_MAX, "%s", change->value);
            break;
        case BC_STATE:
            snprintf (status->state, BC_NAME_MAX, "%s", change->value);
            break;
        case BC_ENDED:
            status->active = false;
            status->ended = true;
            break;
    }
}

int
bc_segments (const bc_change_t *changes, size_t n, int32_t first, int32_t end,
             bc_segment_t *out, size_t max)
{
    s_status_t status;
    memset (&status, 0, sizeof status);
    snprintf (status.state, BC_NAME_MAX, "connected");
    size_t next = 0, count = 0;
    //  Everything before the period sets the status on its first day
    int32_t day = first;
    while (day < end) {
        while (next < n && changes [next].day <= day)
            s_apply (&status, &changes [next++]);
        //  The run lasts until the next change (or the end of the period)
        int32_t to = next < n && changes [next].day < end? changes [next].day: end;
        if (status.active) {
            bc_segment_t *last = count? &out [count - 1]: NULL;
            if (last && last->to == day && strcmp (last->bandwidth_class, status.bandwidth_class) == 0
            &&  strcmp (last->state, status.state) == 0)
                last->to = to;
            else {
                if (count == max)
                    return -1;
                out [count].from = day;
                out [count].to = to;
                memcpy (out [count].bandwidth_class, status.bandwidth_class, BC_NAME_MAX);
                memcpy (out [count].state, status.state, BC_NAME_MAX);
                count++;
            }
        }
        day = to;
    }
    return (int) count;
}

int
bc_triggers (const bc_change_t *changes, size_t n, int32_t first, int32_t end,
             const char *on, int32_t *days, size_t max)
{
    size_t count = 0;
    char state [BC_NAME_MAX] = "connected";
    char bandwidth_class [BC_NAME_MAX] = "";
    bool active = false, ended = false;
    for (size_t i = 0; i < n; i++) {
        const bc_change_t *c = &changes [i];
        bool inside = c->day >= first && c->day < end;
        bool hit = false;
        if (c->kind == BC_ACTIVATED && !ended) {
            hit = !active && strcmp (on, "activation") == 0;
            active = true;
            snprintf (bandwidth_class, sizeof bandwidth_class, "%s", c->value);
        }
        else
        if (c->kind == BC_CLASS) {
            //  To the class it has already: no change, no fee
            hit = active && strcmp (c->value, bandwidth_class) != 0
               && strcmp (on, "class_change") == 0;
            snprintf (bandwidth_class, sizeof bandwidth_class, "%s", c->value);
        }
        else
        if (c->kind == BC_STATE) {
            hit = active && strcmp (c->value, "connected") == 0
               && strcmp (state, "connected") != 0 && strcmp (on, "reconnection") == 0;
            snprintf (state, sizeof state, "%s", c->value);
        }
        else
        if (c->kind == BC_ENDED) {
            active = false;
            ended = true;
        }
        if (hit && inside) {
            if (count == max)
                return -1;
            days [count++] = c->day;
        }
    }
    return (int) count;
}

void
bc_test (bool verbose)
{
    if (verbose)
        printf (" * billing_calc: ");
    int32_t day;
    assert (bc_day_parse ("2026-10-17", &day) == 0);
    char text [16];
    bc_day_format (day, text, sizeof text);
    assert (strcmp (text, "2026-10-17") == 0);
    assert (bc_day_parse ("2027-02-29", &day) == -1);
    assert (bc_day (1970, 1, 1) == 0);
    if (verbose)
        printf ("OK\n");
}
