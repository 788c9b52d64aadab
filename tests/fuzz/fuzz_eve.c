/*  fuzz_eve - libFuzzer target of the monitor's EVE line parser (X.3).

    Any bytes: the parser answers 0, 1 or -2 and never crashes, leaks or
    reads out of bounds; a taken alert has valid UTF-8 text and a parsed
    address family. Built with clang -fsanitize=fuzzer,address,undefined
    (tests/fuzz/CMakeLists.txt); seeds in corpus/eve.
*/
#include "monitor_alert.h"
#include "lg_check.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

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
    return 0;
}
