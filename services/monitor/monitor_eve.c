/*  monitor_eve - one Suricata EVE JSON line to an alert, with yajl.

    1. Only `event_type: "alert"` lines are alerts; a well-formed line of
       another type (flow, stats, dns, ...) is "not for us" (1), not an error.
    2. An alert needs src_ip, dest_ip (strings holding addresses) and
       alert.signature_id (integer); alert.severity, alert.signature,
       alert.category, ports, proto, timestamp, host and flow_id are taken
       when present and must then have the right type. Anything else is
       malformed (-2) with a reason naming the field.
    3. The whole line must be valid UTF-8 without NUL bytes (checked before
       parsing, 8 ASCII bytes at a time), one JSON object and nothing after
       it (yajl is more lenient than JSON in two places: a line holding \v
       or \f is refused before parsing, and text after the object is looked
       for after it). A field this parser reads may appear only once; a duplicate of
       another key is not looked at. A taken string holding a NUL (written
       `\u0000`) is refused; long strings are cut at a character boundary,
       but for the timestamp, refused when longer than it is kept (cut, an
       invalid timestamp could read as a valid one).
       The caller bounds the line (1 MiB).
    4. Why yajl and not a tree: a line is parsed as a stream of events
       (key, string, integer, start and end of an object or array) and the
       fields are taken as they pass. Nothing is built, so nothing is freed.
       jansson builds the whole tree of a line (a hash table per object, an
       allocation per value) and on this line shape took about 80 % of the
       intake's time (bench_monitor prints both parsers alone on the same
       lines: this one runs at three to four times jansson's rate).

    The parse state: `depth` counts the open objects and arrays (the line's
    object is 1); `key` is the field named by the last key at depth 1, or at
    depth 2 inside the `alert` object, and nothing elsewhere. A value at
    depth 1 or 2 lands in that field; deeper values are only parsed.
*/
#include "monitor_alert.h"

#include <yajl/yajl_parse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The fields taken. Root fields first, then those of the alert object
typedef enum {
    F_EVENT_TYPE, F_TIMESTAMP, F_HOST, F_SRC_IP, F_DEST_IP, F_PROTO,
    F_FLOW_ID, F_SRC_PORT, F_DEST_PORT, F_ALERT,
    F_SIGNATURE, F_CATEGORY, F_SIGNATURE_ID, F_SEVERITY,
    F_COUNT, F_NONE = F_COUNT
} s_field_t;

#define F_FIRST_ALERT F_SIGNATURE

typedef enum { K_STRING, K_INTEGER, K_OBJECT, K_OTHER } s_kind_t;    //  other: null, true, false, a real, an array

static const struct {
    const char *name;           //  as written in the line
    const char *path;           //  as named in a refusal
    s_kind_t kind;
    uint64_t max;               //  K_INTEGER: largest value taken
    bool required;              //  for an alert
} s_fields [F_COUNT] = {
    [F_EVENT_TYPE]   = { "event_type", "event_type", K_STRING, 0, true },
    [F_TIMESTAMP]    = { "timestamp", "timestamp", K_STRING, 0, false },
    [F_HOST]         = { "host", "host", K_STRING, 0, false },
    [F_SRC_IP]       = { "src_ip", "src_ip", K_STRING, 0, true },
    [F_DEST_IP]      = { "dest_ip", "dest_ip", K_STRING, 0, true },
    [F_PROTO]        = { "proto", "proto", K_STRING, 0, false },
    [F_FLOW_ID]      = { "flow_id", "flow_id", K_INTEGER, INT64_MAX, false },
    [F_SRC_PORT]     = { "src_port", "src_port", K_INTEGER, 65535, false },
    [F_DEST_PORT]    = { "dest_port", "dest_port", K_INTEGER, 65535, false },
    [F_ALERT]        = { "alert", "alert", K_OBJECT, 0, true },
    [F_SIGNATURE]    = { "signature", "alert.signature", K_STRING, 0, false },
    [F_CATEGORY]     = { "category", "alert.category", K_STRING, 0, false },
    [F_SIGNATURE_ID] = { "signature_id", "alert.signature_id", K_INTEGER, UINT32_MAX, true },
    [F_SEVERITY]     = { "severity", "alert.severity", K_INTEGER, 255, false },
};

//  What became of a field
typedef enum {
    S_ABSENT, S_TAKEN, S_WRONG_TYPE, S_OUT_OF_RANGE, S_BAD_TEXT, S_DUPLICATE, S_TOO_LONG
} s_state_t;

typedef struct {
    monitor_alert_t *alert;
    yajl_handle parser;
    size_t end;                 //  offset just after the line's object
    int depth;                  //  open objects and arrays
    bool root_object;           //  the line is an object
    bool in_alert;              //  depth 2 is the alert object
    s_field_t key;              //  field of the value that comes next
    bool is_alert;              //  event_type is "alert"
    uint64_t integer [F_COUNT];
    unsigned char state [F_COUNT];
} s_parse_t;

//  Where a string field's text goes
static char *
s_text_of (monitor_alert_t *alert, s_field_t field, size_t *size)
{
    switch (field) {
        case F_TIMESTAMP: *size = sizeof alert->timestamp; return alert->timestamp;
        case F_HOST:      *size = sizeof alert->sensor;    return alert->sensor;
        case F_SRC_IP:    *size = sizeof alert->src_ip;    return alert->src_ip;
        case F_DEST_IP:   *size = sizeof alert->dest_ip;   return alert->dest_ip;
        case F_PROTO:     *size = sizeof alert->proto;     return alert->proto;
        case F_SIGNATURE: *size = sizeof alert->signature; return alert->signature;
        case F_CATEGORY:  *size = sizeof alert->category;  return alert->category;
        default:          *size = 0;                       return NULL;
    }
}

//  The field a value at the current depth belongs to, or F_NONE
static s_field_t
s_target (s_parse_t *self)
{
    if (self->depth == 1 || (self->depth == 2 && self->in_alert))
        return self->key;
    return F_NONE;
}

//  A value of kind arrives for the current field
static void
s_value (s_parse_t *self, s_kind_t kind, const unsigned char *text, size_t size,
         long long integer)
{
    s_field_t field = s_target (self);
    if (field == F_NONE || self->state [field] != S_TAKEN)
        return;                 //  not ours, or already refused as a duplicate
    if (s_fields [field].kind != kind) {
        self->state [field] = S_WRONG_TYPE;
        return;
    }
    if (kind == K_OBJECT)
        return;                 //  the alert object: its fields come as keys
    if (kind == K_INTEGER) {
        if (integer < 0 || (uint64_t) integer > s_fields [field].max)
            self->state [field] = S_OUT_OF_RANGE;
        else
            self->integer [field] = (uint64_t) integer;
    }
    else
    if (field == F_EVENT_TYPE)
        self->is_alert = size == 5 && memcmp (text, "alert", 5) == 0;
    else {
        size_t out_size;
        char *out = s_text_of (self->alert, field, &out_size);
        if (field == F_TIMESTAMP && size >= out_size)
            self->state [field] = S_TOO_LONG;       //  refused, not cut (monitor_time_parse)
        else
        if (!monitor_copy_text (out, out_size, (const char *) text, size))
            self->state [field] = S_BAD_TEXT;
    }
}

static int
s_on_null (void *ctx)
{
    s_value ((s_parse_t *) ctx, K_OTHER, NULL, 0, 0);
    return 1;
}

static int
s_on_boolean (void *ctx, int value)
{
    (void) value;
    s_value ((s_parse_t *) ctx, K_OTHER, NULL, 0, 0);
    return 1;
}

static int
s_on_integer (void *ctx, long long value)
{
    s_value ((s_parse_t *) ctx, K_INTEGER, NULL, 0, value);
    return 1;
}

static int
s_on_double (void *ctx, double value)
{
    (void) value;
    s_value ((s_parse_t *) ctx, K_OTHER, NULL, 0, 0);
    return 1;
}

static int
s_on_string (void *ctx, const unsigned char *text, size_t size)
{
    s_value ((s_parse_t *) ctx, K_STRING, text, size, 0);
    return 1;
}

static int
s_on_start_map (void *ctx)
{
    s_parse_t *self = (s_parse_t *) ctx;
    if (self->depth == 0)
        self->root_object = true;
    else {
        s_field_t field = s_target (self);
        s_value (self, K_OBJECT, NULL, 0, 0);
        if (field == F_ALERT && self->state [F_ALERT] == S_TAKEN)
            self->in_alert = true;
    }
    self->depth++;
    self->key = F_NONE;
    return 1;
}

static int
s_on_end_map (void *ctx)
{
    s_parse_t *self = (s_parse_t *) ctx;
    self->depth--;
    if (self->depth == 1)
        self->in_alert = false;
    if (self->depth == 0)
        self->end = yajl_get_bytes_consumed (self->parser);
    self->key = F_NONE;
    return 1;
}

static int
s_on_start_array (void *ctx)
{
    s_parse_t *self = (s_parse_t *) ctx;
    s_value (self, K_OTHER, NULL, 0, 0);
    self->depth++;
    self->key = F_NONE;
    return 1;
}

static int
s_on_end_array (void *ctx)
{
    s_parse_t *self = (s_parse_t *) ctx;
    self->depth--;
    self->key = F_NONE;
    return 1;
}

static int
s_on_key (void *ctx, const unsigned char *text, size_t size)
{
    s_parse_t *self = (s_parse_t *) ctx;
    self->key = F_NONE;
    s_field_t first, last;
    if (self->depth == 1) {
        first = 0;
        last = F_FIRST_ALERT;
    }
    else
    if (self->depth == 2 && self->in_alert) {
        first = F_FIRST_ALERT;
        last = F_COUNT;
    }
    else
        return 1;
    for (s_field_t field = first; field < last; field++)
        if (strlen (s_fields [field].name) == size
        &&  memcmp (s_fields [field].name, text, size) == 0) {
            if (self->state [field] == S_ABSENT) {
                self->state [field] = S_TAKEN;
                self->key = field;
            }
            else
                self->state [field] = S_DUPLICATE;
            break;
        }
    return 1;
}

static const yajl_callbacks s_callbacks = {
    .yajl_null = s_on_null,
    .yajl_boolean = s_on_boolean,
    .yajl_integer = s_on_integer,
    .yajl_double = s_on_double,
    .yajl_string = s_on_string,
    .yajl_start_map = s_on_start_map,
    .yajl_map_key = s_on_key,
    .yajl_end_map = s_on_end_map,
    .yajl_start_array = s_on_start_array,
    .yajl_end_array = s_on_end_array,
};

//  yajl's own complaint, without its trailing newline
static void
s_syntax_error (yajl_handle parser, const char *line, size_t size, char *why, size_t why_size)
{
    unsigned char *text = yajl_get_error (parser, 0, (const unsigned char *) line, size);
    size_t length = text? strcspn ((const char *) text, "\n"): 0;
    snprintf (why, why_size, "not JSON: %.*s at byte %zu", (int) length,
              text? (const char *) text: "?", yajl_get_bytes_consumed (parser));
    if (text)
        yajl_free_error (parser, text);
}

//  The first field in the order of s_fields that is not right, or 0
static int
s_check (s_parse_t *self, char *why, size_t why_size)
{
    for (s_field_t field = 0; field < F_COUNT; field++) {
        const char *path = s_fields [field].path;
        switch (self->state [field]) {
            case S_TAKEN:
                break;
            case S_ABSENT:
                if (s_fields [field].required) {
                    snprintf (why, why_size, "%s is missing", path);
                    return -2;
                }
                break;
            case S_WRONG_TYPE:
                snprintf (why, why_size, "%s is not %s", path,
                          s_fields [field].kind == K_STRING? "a string":
                          s_fields [field].kind == K_OBJECT? "an object": "an integer");
                return -2;
            case S_OUT_OF_RANGE:
                snprintf (why, why_size, "%s is not an integer in 0..%llu", path,
                          (unsigned long long) s_fields [field].max);
                return -2;
            case S_BAD_TEXT:
                snprintf (why, why_size, "%s is not valid UTF-8 or holds a NUL", path);
                return -2;
            case S_DUPLICATE:
                snprintf (why, why_size, "%s appears twice", path);
                return -2;
            case S_TOO_LONG:
                snprintf (why, why_size, "%s is longer than %zu bytes", path,
                          sizeof self->alert->timestamp - 1);
                return -2;
        }
    }
    return 0;
}

int
monitor_eve_parse (const char *line, size_t size, monitor_alert_t *alert, char *why,
                   size_t why_size)
{
    memset (alert, 0, sizeof *alert);
    alert->origin = MONITOR_ORIGIN_EVE;
    if (size > MONITOR_LINE_MAX) {
        snprintf (why, why_size, "line of %zu bytes is over %d", size, MONITOR_LINE_MAX);
        return -2;
    }
    if (!monitor_text_valid (line, size)) {
        snprintf (why, why_size, "not valid UTF-8 or holds a NUL byte");
        return -2;
    }
    //  yajl takes \v and \f for white space; JSON does not, and allows them
    //  in no string either
    for (const char *bad = "\v\f"; *bad; bad++) {
        const char *at = (const char *) memchr (line, *bad, size);
        if (at) {
            snprintf (why, why_size, "not JSON: control character 0x%02x at byte %zu",
                      (unsigned) *bad, (size_t) (at - line));
            return -2;
        }
    }
    s_parse_t self = { .alert = alert, .key = F_NONE };
    yajl_handle parser = yajl_alloc (&s_callbacks, NULL, &self);
    if (!parser) {
        snprintf (why, why_size, "out of memory");
        return -2;
    }
    //  The line was checked whole; yajl need not check each string again
    yajl_config (parser, yajl_dont_validate_strings, 1);
    self.parser = parser;
    yajl_status status = yajl_parse (parser, (const unsigned char *) line, size);
    if (status == yajl_status_ok)
        status = yajl_complete_parse (parser);
    if (status != yajl_status_ok) {
        s_syntax_error (parser, line, size, why, why_size);
        yajl_free (parser);
        return -2;
    }
    yajl_free (parser);

    if (!self.root_object) {
        snprintf (why, why_size, "not a JSON object");
        return -2;
    }
    //  yajl misses a trailing token it cannot finish, as in `{}"abc`
    for (size_t at = self.end; at < size; at++)
        if (!strchr (" \t\r\n", line [at]) || line [at] == 0) {
            snprintf (why, why_size, "not JSON: parse error: trailing garbage at byte %zu", at);
            return -2;
        }
    //  The type decides first: a line of another type is not looked at
    if (self.state [F_EVENT_TYPE] == S_DUPLICATE) {
        snprintf (why, why_size, "event_type appears twice");
        return -2;
    }
    if (self.state [F_EVENT_TYPE] != S_TAKEN) {
        snprintf (why, why_size, "event_type is missing or not a string");
        return -2;
    }
    if (!self.is_alert)
        return 1;
    if (s_check (&self, why, why_size))
        return -2;
    alert->flow_id = self.integer [F_FLOW_ID];
    alert->src_port = (uint32_t) self.integer [F_SRC_PORT];
    alert->dest_port = (uint32_t) self.integer [F_DEST_PORT];
    alert->signature_id = self.integer [F_SIGNATURE_ID];
    alert->severity = (uint32_t) self.integer [F_SEVERITY];
    return monitor_alert_finish (alert, why, why_size)? -2: 0;
}
