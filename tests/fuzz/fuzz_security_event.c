/*  fuzz_security_event - libFuzzer target of the monitor's SecurityEvent
    batch decoder (X.3).

    Any frame: refused whole (-1, -2) or decoded event by event, each taken
    event with valid UTF-8 and parsed addresses; never a crash, a leak or an
    out-of-bounds read. Seeds in corpus/security_event.
*/
#include "monitor_alert.h"
#include "lg_check.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check (void *arg, const monitor_alert_t *alert)
{
    (*(size_t *) arg)++;
    if (!lg_check_utf8 (alert->sensor, strlen (alert->sensor))
    ||  !lg_check_utf8 (alert->signature, strlen (alert->signature))
    ||  (alert->src.family != 4 && alert->src.family != 6)
    ||  alert->severity > 255)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    size_t taken = 0, invalid = 0;
    char why [128];
    int rc = monitor_batch_decode (data, size, 1024 * 1024, s_check, &taken, &invalid,
                                   why, sizeof why);
    if (rc >= 0 && (size_t) rc != taken)
        abort ();
    return 0;
}
