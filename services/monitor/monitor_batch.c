/*  monitor_batch - one SecurityEventBatch frame from a sensor to alerts.

    1. The size is bounded before unpack; a frame that is not a batch, or
       holds more than MONITOR_BATCH_MAX events, is refused whole (-2).
    2. Each event is checked on its own (UTF-8 of every string, addresses,
       ports, severity, timestamp); a bad event is counted and skipped, the
       rest of the batch is taken.
*/
#include "monitor_alert.h"
#include "lgwan/v1/monitor.pb-c.h"

#include <stdio.h>
#include <string.h>

static bool
s_text (char *out, size_t size, const char *text)
{
    return monitor_copy_text (out, size, text? text: "", text? strlen (text): 0);
}

int
monitor_batch_decode (const void *data, size_t size, size_t limit, monitor_alert_fn *fn,
                      void *arg, size_t *invalid, char *why, size_t why_size)
{
    *invalid = 0;
    if (size > limit) {
        snprintf (why, why_size, "frame of %zu bytes is over %zu", size, limit);
        return -1;
    }
    Lgwan__V1__SecurityEventBatch *batch =
        lgwan__v1__security_event_batch__unpack (NULL, size, (const uint8_t *) data);
    if (!batch) {
        snprintf (why, why_size, "not a SecurityEventBatch");
        return -2;
    }
    if (batch->n_events > MONITOR_BATCH_MAX) {
        snprintf (why, why_size, "%zu events in one frame, at most %d", batch->n_events,
                  MONITOR_BATCH_MAX);
        lgwan__v1__security_event_batch__free_unpacked (batch, NULL);
        return -2;
    }
    int taken = 0;
    for (size_t i = 0; i < batch->n_events; i++) {
        const Lgwan__V1__SecurityEvent *e = batch->events [i];
        monitor_alert_t alert;
        memset (&alert, 0, sizeof alert);
        alert.origin = MONITOR_ORIGIN_SENSOR;
        //  protobuf-c strings are NUL-terminated: an embedded NUL would
        //  shorten them silently, which is harmless here
        if (!s_text (alert.sensor, sizeof alert.sensor, e->sensor)
        ||  !s_text (alert.timestamp, sizeof alert.timestamp, e->timestamp)
        ||  !s_text (alert.src_ip, sizeof alert.src_ip, e->src_ip)
        ||  !s_text (alert.dest_ip, sizeof alert.dest_ip, e->dest_ip)
        ||  !s_text (alert.proto, sizeof alert.proto, e->proto)
        ||  !s_text (alert.signature, sizeof alert.signature, e->signature)
        ||  !s_text (alert.category, sizeof alert.category, e->category)) {
            (*invalid)++;
            continue;
        }
        alert.src_port = e->src_port;
        alert.dest_port = e->dest_port;
        alert.signature_id = e->signature_id;
        alert.severity = e->severity;
        alert.flow_id = e->flow_id;
        char reason [128];
        if (monitor_alert_finish (&alert, reason, sizeof reason)) {
            (*invalid)++;
            continue;
        }
        fn (arg, &alert);
        taken++;
    }
    lgwan__v1__security_event_batch__free_unpacked (batch, NULL);
    return taken;
}
