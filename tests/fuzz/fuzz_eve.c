/*  fuzz_eve - libFuzzer target of the monitor's EVE line parser (X.3).

    Any bytes: the parser answers 0, 1 or -2 and never crashes, leaks or
    reads out of bounds; a taken alert has valid UTF-8 text and a parsed
    address family.

    The parser reads a line as yajl's stream of events. jansson, which the
    monitor used before, is kept here as a second opinion:
    1. on the JSON itself: a line one of them takes as one JSON value and
       the other refuses stops the run. Known and accepted differences are
       left out: jansson's depth limit (2048), its refusal of an escaped
       lone surrogate (yajl writes '?') and of `\u0000` in a key (in a
       string value JSON_ALLOW_NUL, passed here, lets it through);
    2. on what a line says: the monitor's rules applied to jansson's tree
       (s_reference, the parser as it was before yajl) must give the same
       answer (alert, other event, malformed) and, for an alert, the same
       fields, byte for byte. Lines with a field read twice are left out
       (the parser refuses them; jansson keeps the last).

    Built with clang -fsanitize=fuzzer,address,undefined
    (tests/fuzz/CMakeLists.txt); seeds in corpus/eve.
*/
#include "monitor_alert.h"
#include "lg_check.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  jansson's verdict on the bytes as one JSON object: 1 object, 0 another
//  value, -1 not JSON, -3 not JSON for a reason yajl does not share
static int
s_jansson (const uint8_t *data, size_t size)
{
    json_error_t error;
    json_t *root = json_loadb ((const char *) data, size,
                               JSON_ALLOW_NUL | JSON_DECODE_ANY, &error);
    if (!root) {
        if (strstr (error.text, "depth") || strstr (error.text, "surrogate")
        ||  strstr (error.text, "invalid Unicode") || strstr (error.text, "NUL byte in object key"))
            return -3;
        return -1;
    }
    int verdict = json_is_object (root)? 1: 0;
    json_decref (root);
    return verdict;
}

//  The reference: the monitor's rules on jansson's tree. 0 alert, 1 another
//  event, -2 malformed
static int
s_ref_string (json_t *object, const char *key, char *out, size_t size, bool required)
{
    json_t *value = json_object_get (object, key);
    out [0] = 0;
    if (!value)
        return required? -2: 0;
    if (!json_is_string (value)
    ||  !monitor_copy_text (out, size, json_string_value (value), json_string_length (value)))
        return -2;
    return 0;
}

static int
s_ref_integer (json_t *object, const char *key, uint64_t max, uint64_t *out, bool required)
{
    json_t *value = json_object_get (object, key);
    *out = 0;
    if (!value)
        return required? -2: 0;
    if (!json_is_integer (value) || json_integer_value (value) < 0
    ||  (uint64_t) json_integer_value (value) > max)
        return -2;
    *out = (uint64_t) json_integer_value (value);
    return 0;
}

static int
s_reference (const uint8_t *data, size_t size, monitor_alert_t *alert)
{
    memset (alert, 0, sizeof *alert);
    alert->origin = MONITOR_ORIGIN_EVE;
    json_error_t error;
    json_t *root = json_loadb ((const char *) data, size, JSON_ALLOW_NUL, &error);
    if (!root)
        return -2;
    int rc = -2;
    json_t *type = json_object_get (root, "event_type");
    json_t *body = json_object_get (root, "alert");
    uint64_t number;
    char why [160];
    if (!json_is_string (type))
        goto done;
    if (strcmp (json_string_value (type), "alert") || json_string_length (type) != 5) {
        rc = 1;
        goto done;
    }
    if (!json_is_object (body)
    ||  s_ref_string (root, "timestamp", alert->timestamp, sizeof alert->timestamp, false)
    ||  s_ref_string (root, "host", alert->sensor, sizeof alert->sensor, false)
    ||  s_ref_string (root, "src_ip", alert->src_ip, sizeof alert->src_ip, true)
    ||  s_ref_string (root, "dest_ip", alert->dest_ip, sizeof alert->dest_ip, true)
    ||  s_ref_string (root, "proto", alert->proto, sizeof alert->proto, false)
    ||  s_ref_string (body, "signature", alert->signature, sizeof alert->signature, false)
    ||  s_ref_string (body, "category", alert->category, sizeof alert->category, false)
    ||  s_ref_integer (body, "signature_id", UINT32_MAX, &alert->signature_id, true)
    ||  s_ref_integer (root, "flow_id", INT64_MAX, &alert->flow_id, false))
        goto done;
    if (s_ref_integer (root, "src_port", 65535, &number, false))
        goto done;
    alert->src_port = (uint32_t) number;
    if (s_ref_integer (root, "dest_port", 65535, &number, false))
        goto done;
    alert->dest_port = (uint32_t) number;
    if (s_ref_integer (body, "severity", 255, &number, false))
        goto done;
    alert->severity = (uint32_t) number;
    rc = monitor_alert_finish (alert, why, sizeof why)? -2: 0;
done:
    json_decref (root);
    return rc;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    monitor_alert_t alert;
    char why [160];
    int rc = monitor_eve_parse ((const char *) data, size, &alert, why, sizeof why);
    if (rc == 0) {
        if (!lg_check_utf8 (alert.signature, strlen (alert.signature))
        ||  !lg_check_utf8 (alert.category, strlen (alert.category))
        ||  (alert.src.family != 4 && alert.src.family != 6)
        ||  (alert.dest.family != 4 && alert.dest.family != 6))
            abort ();
    }
    else
    if (rc != 1 && rc != -2)
        abort ();

    //  Second opinion on the JSON (lines the parser refuses before parsing
    //  are not compared: over the bound, or not valid UTF-8)
    if (size > MONITOR_LINE_MAX || !monitor_text_valid ((const char *) data, size))
        return 0;
    if (rc == -2 && strcmp (why, "not a JSON object") == 0)
        return 0;               //  what follows another value is not looked at
    bool yajl_json = rc != -2 || strncmp (why, "not JSON", 8);
    int verdict = s_jansson (data, size);
    if (verdict == -3)
        return 0;
    if (yajl_json != (verdict >= 0)) {
        fprintf (stderr, "fuzz_eve: yajl says %s, jansson says %s: %.*s\n",
                 yajl_json? "JSON": why, verdict >= 0? "JSON": "not JSON",
                 (int) (size < 200? size: 200), (const char *) data);
        abort ();
    }
    //  Second opinion on what the line says (point 2)
    if (verdict != 1 || (rc == -2 && strstr (why, "appears twice")))
        return 0;
    monitor_alert_t reference;
    int expected = s_reference (data, size, &reference);
    if (rc != expected || (rc == 0 && memcmp (&alert, &reference, sizeof alert))) {
        fprintf (stderr, "fuzz_eve: the parser says %d (%s), the reference %d: %.*s\n",
                 rc, rc == -2? why: "", expected, (int) (size < 300? size: 300),
                 (const char *) data);
        abort ();
    }
    return 0;
}
