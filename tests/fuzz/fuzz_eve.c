/*  fuzz_eve - libFuzzer target of the monitor's EVE line parser (X.3).

    Any bytes: the parser answers 0, 1 or -2 and never crashes, leaks or
    reads out of bounds; a taken alert has valid UTF-8 text and a parsed
    address family.

    The parser reads a line as yajl's stream of events. jansson, which the
    monitor used before, is kept here as a second opinion on the JSON itself:
    a line one of them takes as one JSON value and the other refuses stops
    the run. Known and accepted differences are left out: jansson's depth
    limit (2048), its refusal of an escaped lone surrogate (yajl writes '?')
    and of `\u0000` without JSON_ALLOW_NUL (passed here).

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
        ||  strstr (error.text, "invalid Unicode"))
            return -3;
        return -1;
    }
    int verdict = json_is_object (root)? 1: 0;
    json_decref (root);
    return verdict;
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
    return 0;
}
