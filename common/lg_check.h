/*  lg_check - validators for identifiers from outside: pure functions, no I/O.

    Local government codes (6 digits, check digit with weights 6..2, mod 11) and
    corporate numbers (13 digits, leading check digit, mod 9) follow the rules in
    shared/data/README.md; days are YYYY-MM-DD. Each returns true only for a
    well-formed value.
*/
#ifndef LG_CHECK_H_INCLUDED
#define LG_CHECK_H_INCLUDED

//  6 ASCII digits whose last is the check digit of the first five.
bool lg_check_lgcode (const char *code);

//  13 ASCII digits whose first is the check digit of the other twelve.
bool lg_check_corporate_number (const char *number);

//  Well-formed UTF-8 of exactly size bytes (no overlongs, no surrogates, <= U+10FFFF).
bool lg_check_utf8 (const char *text, size_t size);

//  Make a NUL-terminated text well-formed UTF-8 in place: a character cut at
//  the end (by a %.Ns or a full buffer) is dropped; elsewhere a broken
//  sequence (a lead byte and its continuation bytes) or a stray byte becomes
//  one '?'. Returns the new length. For text we compose from what we were sent.
size_t lg_utf8_clean (char *text);

//  A day YYYY-MM-DD: exactly 10 ASCII characters naming a real Gregorian
//  date of the years 1900 to 2999. PostgreSQL's date input takes far more
//  ('infinity', 'today', '2027-3-1', blanks around), so a day from outside
//  is checked here before it is cast.
bool lg_check_date (const char *text);

//  JIS X 0401 prefecture code "01".."47".
bool lg_check_prefecture (const char *code);

//  An enforcement point's name: [a-z0-9-]{1,LG_POINT_NAME_MAX}. One rule for
//  the enforcer's configuration, its Hello and an operator's PointRetire (a
//  longer name once taken at Hello could never be retired)
#define LG_POINT_NAME_MAX 32
bool lg_check_point_name (const char *name);

//  Self test
void lg_check_test (bool verbose);

#endif
