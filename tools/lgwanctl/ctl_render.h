/*  ctl_render - a reply for people: generic, from the JSON of a message.

    The input is lg_pbjson's output with LG_PBJSON_EMIT_DEFAULTS and
    LG_PBJSON_PROTO_NAMES, so values are already shaped (enums by name, 64-bit
    integers, base64) and nothing here knows a message:
        scalar fields       name: value, values aligned
        nested messages     name: then their fields, indented
        repeated scalars    name: a, b, c
        repeated messages   name: then a table, one column per field
    Control characters in text are escaped, so a reply cannot drive the
    terminal; columns are aligned by display width (CJK takes two).
*/
#ifndef CTL_RENDER_H_INCLUDED
#define CTL_RENDER_H_INCLUDED

#include "lg_lib.h"

//  Print the JSON object for people.
void ctl_render (FILE *out, json_t *object);

//  Columns a UTF-8 text takes on a terminal.
size_t ctl_render_width (const char *text);

//  Copy of text (NULL: "") with C0 and C1 control characters and DEL
//  escaped (\n, \t, \u001b), as are the bidirectional controls and the
//  line and paragraph separators (\u202e, \u2028; X.3), and bytes that are not UTF-8 as \xff: what a
//  service sent is printed for people only through this. Caller frees;
//  NULL when out of memory.
char *ctl_render_escape (const char *text);

//  What lgwanctl says of a version "in force" that dropped nothing
//  somewhere, whichever reply or event tells it: lg_codec_not_dropped_said's
//  words ("NO ENFORCEMENT POINT registered: nothing dropped anywhere", or
//  "DRY RUN at east, west: nothing dropped there"), the names escaped.
//  Caller frees; NULL when neither or out of memory.
char *ctl_render_not_dropped (bool no_point, char *const *points, size_t n);

#endif
