/*  lg_check - validators for identifiers from outside: pure functions, no I/O.

    The rules are those of shared/data/README.md:

    1. Local government code (全国地方公共団体コード): 6 ASCII digits. With
       weights 6,5,4,3,2 on the first five and S their weighted sum, the sixth
       is (11 - S mod 11) mod 10.
    2. Corporate number (法人番号): 13 ASCII digits; the leftmost is the check
       digit 9 - (sum of P_n * Q_n) mod 9, where P_n is the n-th of the other
       twelve digits counted from the right and Q_n is 1 for odd n, 2 for even.
    3. UTF-8 as in Unicode Table 3-7: no overlong forms, no surrogates, nothing
       above U+10FFFF, no truncated sequence. NUL is refused as well, since our
       strings end up as C strings and in PostgreSQL text.
    4. Prefecture (JIS X 0401): exactly "01" to "47".
    5. Day: YYYY-MM-DD, a real Gregorian date (29 February of leap years
       only) of the years 1900 to 2999.

    Digits are ASCII '0'..'9' only, never isdigit(), which follows the locale.
    NULL is never valid.
*/
#include "lg_lib.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static bool
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

//  True when text is exactly count ASCII digits.
static bool
s_all_digits (const char *text, size_t count)
{
    for (size_t index = 0; index < count; index++)
        if (!s_is_digit (text [index]))
            return false;           //  also stops at an early NUL
    return text [count] == '\0';
}


//  --------------------------------------------------------------------------
//  6 ASCII digits whose last is the check digit of the first five.

bool
lg_check_lgcode (const char *code)
{
    if (code == NULL || !s_all_digits (code, 6))
        return false;
    int sum = 0;
    for (int index = 0; index < 5; index++)
        sum += (code [index] - '0') * (6 - index);
    int check = (11 - sum % 11) % 10;
    return code [5] - '0' == check;
}


//  --------------------------------------------------------------------------
//  13 ASCII digits whose first is the check digit of the other twelve.

bool
lg_check_corporate_number (const char *number)
{
    if (number == NULL || !s_all_digits (number, 13))
        return false;
    int sum = 0;
    for (int n = 1; n <= 12; n++) {
        int digit = number [13 - n] - '0';
        sum += digit * (n % 2? 1: 2);
    }
    int check = 9 - sum % 9;
    return number [0] - '0' == check;
}


//  --------------------------------------------------------------------------
//  Well-formed UTF-8 of exactly size bytes.

//  The length of the well-formed character at byte (1 to 4), or 0 when
//  there is none: NUL, a stray continuation byte, C0, C1, F5..FF, an
//  overlong, a surrogate, above U+10FFFF, or cut by end
static size_t
s_utf8_character (const unsigned char *byte, const unsigned char *end)
{
    unsigned char lead = *byte;
    if (lead == 0)
        return 0;
    if (lead < 0x80)
        return 1;
    //  Length and the range of the second byte, from Table 3-7
    size_t length;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF)
        length = 2;
    else
    if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            low = 0xA0;             //  overlong below U+0800
        else
        if (lead == 0xED)
            high = 0x9F;            //  surrogates D800..DFFF
    }
    else
    if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            low = 0x90;             //  overlong below U+10000
        else
        if (lead == 0xF4)
            high = 0x8F;            //  above U+10FFFF
    }
    else
        return 0;                   //  continuation byte, C0, C1, F5..FF
    if ((size_t) (end - byte) < length)
        return 0;                   //  truncated
    if (byte [1] < low || byte [1] > high)
        return 0;
    for (size_t index = 2; index < length; index++)
        if (byte [index] < 0x80 || byte [index] > 0xBF)
            return 0;
    return length;
}

bool
lg_check_utf8 (const char *text, size_t size)
{
    if (text == NULL)
        return false;
    const unsigned char *byte = (const unsigned char *) text;
    const unsigned char *end = byte + size;
    while (byte < end) {
        size_t length = s_utf8_character (byte, end);
        if (length == 0)
            return false;
        byte += length;
    }
    return true;
}

size_t
lg_utf8_clean (char *text)
{
    unsigned char *byte = (unsigned char *) text;
    unsigned char *end = byte + strlen (text);
    unsigned char *out = byte;
    while (byte < end) {
        size_t length = s_utf8_character (byte, end);
        if (length == 0) {
            //  A character cut at the end goes; any other bad byte shows
            bool cut = (*byte >= 0xC2 && *byte <= 0xF4) && end - byte < 4;
            for (const unsigned char *at = byte + 1; cut && at < end; at++)
                cut = (*at & 0xC0) == 0x80;
            if (cut)
                break;
            //  One '?' for a lead byte and the continuation bytes after it
            //  (read before writing: out may be at byte)
            bool lead = *byte >= 0xC2 && *byte <= 0xF4;
            byte++;
            *out++ = '?';
            for (int more = 0; lead && more < 3 && byte < end && (*byte & 0xC0) == 0x80; more++)
                byte++;
            continue;
        }
        memmove (out, byte, length);
        out += length;
        byte += length;
    }
    *out = 0;
    return (size_t) (out - (unsigned char *) text);
}


//  --------------------------------------------------------------------------
//  A day YYYY-MM-DD that is a real date of the years 1900 to 2999.

bool
lg_check_date (const char *text)
{
    if (text == NULL || strlen (text) != 10 || text [4] != '-' || text [7] != '-')
        return false;
    for (int index = 0; index < 10; index++)
        if (index != 4 && index != 7 && !s_is_digit (text [index]))
            return false;
    int year = atoi (text), month = atoi (text + 5), day = atoi (text + 8);
    static const int days [] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1900 || year > 2999 || month < 1 || month > 12 || day < 1 || day > days [month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100) || year % 400 == 0;
    return !(month == 2 && day == 29 && !leap);
}


//  --------------------------------------------------------------------------
//  JIS X 0401 prefecture code "01".."47".

bool
lg_check_prefecture (const char *code)
{
    if (code == NULL || !s_all_digits (code, 2))
        return false;
    int value = (code [0] - '0') * 10 + (code [1] - '0');
    return value >= 1 && value <= 47;
}

bool
lg_check_point_name (const char *name)
{
    size_t size = name? strlen (name): 0;
    return size >= 1 && size <= LG_POINT_NAME_MAX
        && strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789-") == size;
}


//  --------------------------------------------------------------------------
//  Self test: the first example of use.

void
lg_check_test (bool verbose)
{
    printf (" * lg_check: ");

    //  Checking what a provider filed
    const char *lgcode = "131016";          //  Chiyoda, Tokyo
    assert (lg_check_lgcode (lgcode));
    assert (lg_check_prefecture ("13"));
    assert (lg_check_corporate_number ("8000020130001"));
    assert (!lg_check_lgcode ("131017"));
    assert (!lg_check_corporate_number ("7000020130001"));
    assert (!lg_check_prefecture ("48"));
    assert (lg_check_point_name ("gw-east-1"));
    assert (!lg_check_point_name ("gw-east-1-and-then-some-more-words"));   //  33
    assert (!lg_check_point_name ("GW"));
    assert (!lg_check_point_name (""));
    assert (lg_check_date ("2027-03-31"));
    assert (lg_check_date ("2028-02-29"));
    assert (lg_check_date ("2000-02-29"));
    assert (!lg_check_date ("2100-02-29"));
    assert (!lg_check_date ("2027-02-29"));
    assert (!lg_check_date ("2027-04-31"));
    assert (!lg_check_date ("2027-13-01"));
    assert (!lg_check_date ("2027-3-31"));
    assert (!lg_check_date (" 2027-03-31"));
    assert (!lg_check_date ("2027-03-31 "));
    assert (!lg_check_date ("infinity"));
    assert (!lg_check_date ("today"));
    assert (!lg_check_date ("3000-01-01"));
    assert (!lg_check_date ("1899-12-31"));
    assert (!lg_check_date (""));
    assert (!lg_check_date (NULL));

    const char *name = "千代田区";
    assert (lg_check_utf8 (name, strlen (name)));
    assert (!lg_check_utf8 ("\xC0\x80", 2));
    assert (!lg_check_utf8 (NULL, 0));

    if (verbose)
        printf ("%s ", lgcode);
    printf ("OK\n");
}
