/*  monitor_alert - addresses, timestamps and bounded copies for the intake
    decoders (see monitor_alert.h). No I/O, no allocation.
*/
#include "monitor_alert.h"
#include "lg_check.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
monitor_addr_parse (const char *text, monitor_addr_t *addr)
{
    memset (addr, 0, sizeof *addr);
    if (!text || !*text || strlen (text) > 45)
        return -1;
    if (strchr (text, ':')) {
        if (inet_pton (AF_INET6, text, addr->bytes) != 1)
            return -1;
        addr->family = 6;
        return 0;
    }
    if (inet_pton (AF_INET, text, addr->bytes) != 1)
        return -1;
    addr->family = 4;
    return 0;
}

int
monitor_prefix_parse (const char *text, monitor_addr_t *addr, int *length)
{
    char copy [64];
    if (!text || strlen (text) >= sizeof copy)
        return -1;
    snprintf (copy, sizeof copy, "%s", text);
    char *slash = strchr (copy, '/');
    int bits = -1;
    if (slash) {
        *slash = 0;
        char *end;
        long n = strtol (slash + 1, &end, 10);
        if (end == slash + 1 || *end || n < 0 || n > 128)
            return -1;
        bits = (int) n;
    }
    if (monitor_addr_parse (copy, addr))
        return -1;
    int max = addr->family == 4? 32: 128;
    if (bits < 0)
        bits = max;
    if (bits > max)
        return -1;
    //  Host bits must be zero (cidr semantics)
    for (int bit = bits; bit < max; bit++)
        if (addr->bytes [bit / 8] & (0x80 >> (bit % 8)))
            return -1;
    *length = bits;
    return 0;
}

static int
s_digits (const char **at, int count)
{
    int value = 0;
    for (int i = 0; i < count; i++) {
        char c = (*at) [i];
        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (c - '0');
    }
    *at += count;
    return value;
}

//  Days in a month of the Gregorian calendar: timegm takes 2026-02-31 for
//  March 3rd, so a day the month has not is refused before it
static int
s_days_in (int year, int month)
{
    static const int days [12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap? 29: days [month - 1];
}

int
monitor_time_parse (const char *text, int64_t *us)
{
    const char *at = text;
    if (!text || strlen (text) < 20)
        return -1;
    int year = s_digits (&at, 4);
    if (year < 1970 || *at++ != '-')
        return -1;
    int month = s_digits (&at, 2);
    if (month < 1 || month > 12 || *at++ != '-')
        return -1;
    int day = s_digits (&at, 2);
    if (day < 1 || day > s_days_in (year, month) || (*at != 'T' && *at != ' '))
        return -1;
    at++;
    int hour = s_digits (&at, 2);
    if (hour < 0 || hour > 23 || *at++ != ':')
        return -1;
    int minute = s_digits (&at, 2);
    if (minute < 0 || minute > 59 || *at++ != ':')
        return -1;
    int second = s_digits (&at, 2);
    if (second < 0 || second > 60)
        return -1;
    int64_t fraction = 0;
    if (*at == '.') {
        at++;
        int digits = 0;
        while (*at >= '0' && *at <= '9') {
            if (digits < 6) {
                fraction = fraction * 10 + (*at - '0');
                digits++;
            }
            at++;
        }
        if (digits == 0)
            return -1;
        while (digits++ < 6)
            fraction *= 10;
    }
    int offset = 0;
    if (*at == 'Z' || *at == 'z')
        at++;
    else
    if (*at == '+' || *at == '-') {
        int sign = *at++ == '-'? -1: 1;
        int oh = s_digits (&at, 2);
        if (*at == ':')
            at++;
        int om = s_digits (&at, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    }
    else
        return -1;
    if (*at)
        return -1;
    struct tm tm = { 0 };
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t seconds = timegm (&tm);
    if (seconds == (time_t) -1)
        return -1;
    *us = ((int64_t) seconds - offset) * 1000000 + fraction;
    return 0;
}

bool
monitor_text_valid (const char *text, size_t size)
{
    //  Sensors send ASCII mostly: 8 bytes at a time while no byte has its
    //  high bit set or is NUL, then the full check from there (a character
    //  boundary, since everything before it was ASCII)
    size_t ascii = 0;
    for (; ascii + 8 <= size; ascii += 8) {
        uint64_t v;
        memcpy (&v, text + ascii, 8);
        if ((v | ((v - 0x0101010101010101ULL) & ~v)) & 0x8080808080808080ULL)
            break;
    }
    return ascii == size || lg_check_utf8 (text + ascii, size - ascii);
}

bool
monitor_copy_text (char *out, size_t out_size, const char *text, size_t size)
{
    out [0] = 0;
    if (!monitor_text_valid (text, size))
        return false;
    size_t take = size < out_size? size: out_size - 1;
    //  Never cut a character in two: back off over continuation bytes
    if (take < size)
        while (take > 0 && ((unsigned char) text [take] & 0xC0) == 0x80)
            take--;
    memcpy (out, text, take);
    out [take] = 0;
    return true;
}

//  An IPv4-mapped IPv6 address (::ffff:a.b.c.d, an IPv4 peer as a
//  dual-stack socket shows it) is the IPv4 address, so that it attributes
//  to IPv4 prefixes
static void
s_unmap (monitor_addr_t *addr)
{
    static const uint8_t mapped [12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (addr->family == 6 && memcmp (addr->bytes, mapped, sizeof mapped) == 0) {
        memmove (addr->bytes, addr->bytes + 12, 4);
        memset (addr->bytes + 4, 0, 12);
        addr->family = 4;
    }
}

int
monitor_alert_finish (monitor_alert_t *alert, char *why, size_t why_size)
{
    if (monitor_addr_parse (alert->src_ip, &alert->src)) {
        snprintf (why, why_size, "src_ip is not an address");
        return -1;
    }
    if (monitor_addr_parse (alert->dest_ip, &alert->dest)) {
        snprintf (why, why_size, "dest_ip is not an address");
        return -1;
    }
    s_unmap (&alert->src);
    s_unmap (&alert->dest);
    if (alert->src_port > 65535 || alert->dest_port > 65535) {
        snprintf (why, why_size, "port out of range");
        return -1;
    }
    if (alert->severity > 255) {
        snprintf (why, why_size, "severity out of range");
        return -1;
    }
    //  Stored as a bigint: one past it failed the whole transaction of the
    //  input it came in, and every incident that input opened with it
    if (alert->signature_id > (uint64_t) INT64_MAX) {
        snprintf (why, why_size, "signature_id out of range (0..%lld)", (long long) INT64_MAX);
        return -1;
    }
    alert->at_us = 0;
    if (*alert->timestamp && monitor_time_parse (alert->timestamp, &alert->at_us)) {
        snprintf (why, why_size, "timestamp is not RFC 3339");
        return -1;
    }
    return 0;
}
