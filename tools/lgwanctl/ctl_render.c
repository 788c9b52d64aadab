/*  ctl_render - a reply for people: generic, from the JSON of a message.

    Nothing here names a message or a field: the layout follows the shape of
    the JSON alone (see ctl_render.h), so a new reply needs no code.
*/
#include "ctl_render.h"

//  Unicode code point at text, and how many bytes it takes (1 for a byte
//  that does not start a well-formed sequence)
static uint32_t
s_decode (const unsigned char *text, size_t *size)
{
    unsigned char c = text [0];
    size_t len = c < 0x80? 1: (c >> 5) == 6? 2: (c >> 4) == 14? 3: (c >> 3) == 30? 4: 0;
    uint32_t code = len == 1? c: len == 2? c & 0x1f: len == 3? c & 0x0f: c & 0x07;
    for (size_t i = 1; i < len; i++) {
        if ((text [i] & 0xc0) != 0x80) {
            len = 0;
            break;
        }
        code = (code << 6) | (text [i] & 0x3f);
    }
    if (len == 0) {
        *size = 1;
        return 0xfffd;
    }
    *size = len;
    return code;
}

//  Terminal columns of one code point: East Asian wide and fullwidth forms
//  take two, combining marks none
static size_t
s_code_width (uint32_t code)
{
    static const uint32_t zero [][2] = {
        { 0x0300, 0x036f }, { 0x1ab0, 0x1aff }, { 0x1dc0, 0x1dff }, { 0x200b, 0x200f },
        { 0x20d0, 0x20ff }, { 0x3099, 0x309a }, { 0xfe00, 0xfe0f }, { 0xfe20, 0xfe2f }
    };
    static const uint32_t wide [][2] = {
        { 0x1100, 0x115f }, { 0x2e80, 0x303e }, { 0x3041, 0x33ff }, { 0x3400, 0x4dbf },
        { 0x4e00, 0x9fff }, { 0xa000, 0xa4cf }, { 0xac00, 0xd7a3 }, { 0xf900, 0xfaff },
        { 0xfe30, 0xfe4f }, { 0xff00, 0xff60 }, { 0xffe0, 0xffe6 }, { 0x1f300, 0x1f64f },
        { 0x1f900, 0x1f9ff }, { 0x20000, 0x3fffd }
    };
    for (size_t i = 0; i < sizeof zero / sizeof zero [0]; i++)
        if (code >= zero [i][0] && code <= zero [i][1])
            return 0;
    for (size_t i = 0; i < sizeof wide / sizeof wide [0]; i++)
        if (code >= wide [i][0] && code <= wide [i][1])
            return 2;
    return 1;
}

size_t
ctl_render_width (const char *text)
{
    size_t width = 0;
    const unsigned char *s = (const unsigned char *) (text? text: "");
    while (*s) {
        size_t size;
        width += s_code_width (s_decode (s, &size));
        s += size;
    }
    return width;
}

//  Whether a code point reorders or breaks the text around it on a
//  terminal: the bidirectional marks (U+061C, U+200E-200F), embeddings,
//  overrides and isolates, and the line and paragraph separators (a
//  provider's name with U+202E printed the rest of the line backwards); or
//  is not seen at all: the zero-width spaces and joiners (U+200B-200D),
//  the word joiner and invisible operators (U+2060-2064), U+FEFF (two names
//  alike on the screen, one with such a character, are different names)
static bool
s_is_format (uint32_t code)
{
    return code == 0x061c || (code >= 0x200b && code <= 0x200f)
        || (code >= 0x2028 && code <= 0x202e) || (code >= 0x2060 && code <= 0x2064)
        || (code >= 0x2066 && code <= 0x2069) || code == 0xfeff;
}

char *
ctl_render_escape (const char *text)
{
    if (!text)
        text = "";
    size_t len = strlen (text);
    char *out = (char *) malloc (len * 6 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *) text;
    while (*s) {
        size_t size;
        uint32_t code = s_decode (s, &size);
        if (code == '\n')
            o += (size_t) sprintf (out + o, "\\n");
        else
        if (code == '\t')
            o += (size_t) sprintf (out + o, "\\t");
        else
        if (code < 0x20 || (code >= 0x7f && code < 0xa0) || s_is_format (code))
            o += (size_t) sprintf (out + o, "\\u%04x", (unsigned) code);
        else
        if (code == 0xfffd && size == 1)
            o += (size_t) sprintf (out + o, "\\x%02x", *s);
        else {
            memcpy (out + o, s, size);
            o += size;
        }
        s += size;
    }
    out [o] = 0;
    return out;
}

static bool
s_is_table (json_t *value)
{
    if (!json_is_array (value) || json_array_size (value) == 0)
        return false;
    size_t i;
    json_t *element;
    json_array_foreach (value, i, element)
        if (!json_is_object (element))
            return false;
    return true;
}

//  One value as one line of text; caller frees
static char *
s_text (json_t *value)
{
    if (json_is_string (value))
        return ctl_render_escape (json_string_value (value));
    if (json_is_array (value) && !s_is_table (value)) {
        if (json_array_size (value) == 0)
            return strdup ("(none)");
        //  Scalars, joined
        char *joined = strdup ("");
        size_t i;
        json_t *element;
        json_array_foreach (value, i, element) {
            char *text = s_text (element);
            char *longer = joined && text? zsys_sprintf ("%s%s%s", joined, i? ", ": "", text): NULL;
            free (text);
            free (joined);
            joined = longer;
        }
        return joined;
    }
    char *dumped = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    char *text = dumped? ctl_render_escape (dumped): NULL;
    free (dumped);
    return text;
}

static void
s_pad (FILE *out, size_t count)
{
    fprintf (out, "%*s", (int) count, "");
}

static void
s_render_table (FILE *out, json_t *rows, int indent)
{
    //  Columns: every key in order of first appearance
    json_t *columns = json_array ();
    size_t r, c;
    json_t *row, *column;
    const char *key;
    json_t *value;
    json_array_foreach (rows, r, row) {
        json_object_foreach (row, key, value) {
            bool known = false;
            json_array_foreach (columns, c, column)
                known = known || streq (json_string_value (column), key);
            if (!known)
                json_array_append_new (columns, json_string (key));
        }
    }
    size_t n_rows = json_array_size (rows);
    size_t n_cols = json_array_size (columns);
    char **cells = (char **) calloc ((n_rows + 1) * n_cols + 1, sizeof (char *));
    size_t *widths = (size_t *) calloc (n_cols + 1, sizeof (size_t));
    if (!cells || !widths)
        goto cleanup;
    json_array_foreach (columns, c, column)
        cells [c] = strdup (json_string_value (column));
    json_array_foreach (rows, r, row) {
        json_array_foreach (columns, c, column) {
            value = json_object_get (row, json_string_value (column));
            cells [(r + 1) * n_cols + c] = value? s_text (value): strdup ("");
        }
    }
    for (size_t i = 0; i < (n_rows + 1) * n_cols; i++) {
        if (!cells [i])
            goto cleanup;
        size_t width = ctl_render_width (cells [i]);
        if (width > widths [i % n_cols])
            widths [i % n_cols] = width;
    }
    for (size_t i = 0; i <= n_rows; i++) {
        s_pad (out, (size_t) indent);
        for (c = 0; c < n_cols; c++) {
            const char *cell = cells [i * n_cols + c];
            fputs (cell, out);
            if (c + 1 < n_cols)
                s_pad (out, widths [c] - ctl_render_width (cell) + 2);
        }
        fputc ('\n', out);
    }
cleanup:
    for (size_t i = 0; cells && i < (n_rows + 1) * n_cols; i++)
        free (cells [i]);
    free (cells);
    free (widths);
    json_decref (columns);
}

static void
s_render_object (FILE *out, json_t *object, int indent)
{
    const char *key;
    json_t *value;
    size_t key_width = 0;
    json_object_foreach (object, key, value)
        if (!json_is_object (value) && !s_is_table (value) && ctl_render_width (key) > key_width)
            key_width = ctl_render_width (key);

    json_object_foreach (object, key, value) {
        s_pad (out, (size_t) indent);
        if (json_is_object (value)) {
            fprintf (out, "%s:\n", key);
            s_render_object (out, value, indent + 2);
        }
        else
        if (s_is_table (value)) {
            fprintf (out, "%s:\n", key);
            s_render_table (out, value, indent + 2);
        }
        else {
            char *text = s_text (value);
            fprintf (out, "%s:", key);
            if (text && *text) {
                s_pad (out, key_width - ctl_render_width (key) + 1);
                fputs (text, out);
            }
            fputc ('\n', out);
            free (text);
        }
    }
}

void
ctl_render (FILE *out, json_t *object)
{
    if (json_is_object (object))
        s_render_object (out, object, 0);
}

char *
ctl_render_not_dropped (bool no_point, char *const *points, size_t n)
{
    if (no_point || n == 0)
        return lg_codec_not_dropped_said (no_point, NULL, 0);
    //  The names escaped, the words common's (one wording everywhere)
    char **escaped = (char **) calloc (n, sizeof (char *));
    bool whole = escaped != NULL;
    for (size_t i = 0; i < n && whole; i++)
        whole = (escaped [i] = ctl_render_escape (points [i])) != NULL;
    char *said = whole? lg_codec_not_dropped_said (false, escaped, n): NULL;
    for (size_t i = 0; escaped && i < n; i++)
        free (escaped [i]);
    free (escaped);
    return said;
}
