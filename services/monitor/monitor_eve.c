/*  monitor_eve - one Suricata EVE JSON line to an alert, with jansson.

    1. Only `event_type: "alert"` lines are alerts; a well-formed line of
       another type (flow, stats, dns, ...) is "not for us" (1), not an error.
    2. An alert needs src_ip, dest_ip (strings holding addresses) and
       alert.signature_id (integer); alert.severity, alert.signature,
       alert.category, ports, proto, timestamp, host and flow_id are taken
       when present and must then have the right type. Anything else is
       malformed (-2) with a reason naming the field.
    3. jansson refuses invalid UTF-8 and NUL bytes in strings; long strings
       are cut at a character boundary. The caller bounds the line (1 MiB).
    4. A line's JSON tree lives only inside monitor_eve_parse, so what
       jansson allocates while it parses comes from a per-thread bump arena
       of 64 KiB, reset after each line (beyond it, malloc). jansson's
       allocator is process-wide: outside a parse, or for a pointer not in
       the arena, it is plain malloc and free, so other users of jansson in
       the process are not affected.
*/
#include "monitor_alert.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_SIZE (64 * 1024)

static _Thread_local struct {
    bool parsing;
    size_t used;
    _Alignas (16) unsigned char bytes [ARENA_SIZE];
} *s_arena;

static void *
s_json_malloc (size_t size)
{
    if (s_arena && s_arena->parsing) {
        size_t need = (size + 15) & ~(size_t) 15;
        if (need <= ARENA_SIZE - s_arena->used) {
            void *at = s_arena->bytes + s_arena->used;
            s_arena->used += need;
            return at;
        }
    }
    return malloc (size);
}

static void
s_json_free (void *pointer)
{
    if (s_arena && (unsigned char *) pointer >= s_arena->bytes
    &&  (unsigned char *) pointer < s_arena->bytes + ARENA_SIZE)
        return;                 //  the whole arena goes at the end of the line
    free (pointer);
}

static void
s_arena_begin (void)
{
    static bool installed;      //  set once, before the first parse
    if (!installed) {
        json_set_alloc_funcs (s_json_malloc, s_json_free);
        installed = true;
    }
    if (!s_arena)
        s_arena = calloc (1, sizeof *s_arena);
    if (s_arena) {
        s_arena->used = 0;
        s_arena->parsing = true;
    }
}

void
monitor_eve_release (void)
{
    free (s_arena);
    s_arena = NULL;
}

static void
s_arena_end (void)
{
    if (s_arena) {
        s_arena->parsing = false;
        s_arena->used = 0;
    }
}

//  A string member: absent is fine (empty), another type is not
static int
s_string (json_t *object, const char *key, char *out, size_t size, bool required,
          char *why, size_t why_size)
{
    json_t *value = json_object_get (object, key);
    out [0] = 0;
    if (!value) {
        if (required)
            snprintf (why, why_size, "%s is missing", key);
        return required? -2: 0;
    }
    if (!json_is_string (value)) {
        snprintf (why, why_size, "%s is not a string", key);
        return -2;
    }
    if (!monitor_copy_text (out, size, json_string_value (value), json_string_length (value))) {
        snprintf (why, why_size, "%s is not valid UTF-8", key);
        return -2;
    }
    return 0;
}

static int
s_integer (json_t *object, const char *key, uint64_t max, uint64_t *out, bool required,
           char *why, size_t why_size)
{
    json_t *value = json_object_get (object, key);
    *out = 0;
    if (!value) {
        if (required)
            snprintf (why, why_size, "%s is missing", key);
        return required? -2: 0;
    }
    if (!json_is_integer (value) || json_integer_value (value) < 0
    ||  (uint64_t) json_integer_value (value) > max) {
        snprintf (why, why_size, "%s is not an integer in 0..%llu", key, (unsigned long long) max);
        return -2;
    }
    *out = (uint64_t) json_integer_value (value);
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
    json_error_t error;
    s_arena_begin ();
    json_t *root = json_loadb (line, size, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        s_arena_end ();
        snprintf (why, why_size, "not JSON: %s at column %d", error.text, error.column);
        return -2;
    }
    int rc = -2;
    if (!json_is_object (root)) {
        snprintf (why, why_size, "not a JSON object");
        goto cleanup;
    }
    json_t *type = json_object_get (root, "event_type");
    if (!json_is_string (type)) {
        snprintf (why, why_size, "event_type is missing or not a string");
        goto cleanup;
    }
    if (strcmp (json_string_value (type), "alert")) {
        rc = 1;
        goto cleanup;
    }
    json_t *body = json_object_get (root, "alert");
    if (!json_is_object (body)) {
        snprintf (why, why_size, "alert is missing or not an object");
        goto cleanup;
    }
    uint64_t number;
    if (s_string (root, "timestamp", alert->timestamp, sizeof alert->timestamp, false, why, why_size)
    ||  s_string (root, "host", alert->sensor, sizeof alert->sensor, false, why, why_size)
    ||  s_string (root, "src_ip", alert->src_ip, sizeof alert->src_ip, true, why, why_size)
    ||  s_string (root, "dest_ip", alert->dest_ip, sizeof alert->dest_ip, true, why, why_size)
    ||  s_string (root, "proto", alert->proto, sizeof alert->proto, false, why, why_size)
    ||  s_string (body, "signature", alert->signature, sizeof alert->signature, false, why, why_size)
    ||  s_string (body, "category", alert->category, sizeof alert->category, false, why, why_size)
    ||  s_integer (body, "signature_id", UINT32_MAX, &alert->signature_id, true, why, why_size)
    ||  s_integer (root, "flow_id", INT64_MAX, &alert->flow_id, false, why, why_size))
        goto cleanup;
    if (s_integer (root, "src_port", 65535, &number, false, why, why_size))
        goto cleanup;
    alert->src_port = (uint32_t) number;
    if (s_integer (root, "dest_port", 65535, &number, false, why, why_size))
        goto cleanup;
    alert->dest_port = (uint32_t) number;
    if (s_integer (body, "severity", 255, &number, false, why, why_size))
        goto cleanup;
    alert->severity = (uint32_t) number;
    if (monitor_alert_finish (alert, why, why_size))
        goto cleanup;
    rc = 0;
cleanup:
    json_decref (root);
    s_arena_end ();
    return rc;
}
