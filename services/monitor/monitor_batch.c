/*  monitor_batch - one SecurityEventBatch frame from a sensor to alerts.

    1. The size is bounded before unpack; a frame that is not a batch, or
       holds more than MONITOR_BATCH_MAX events, is refused whole (-2).
    2. Each event is checked on its own (UTF-8 of every string, addresses,
       ports, severity, signature_id, timestamp, which is refused rather
       than cut when longer than it is kept); a bad event is counted and
       skipped, the rest of the batch is taken, and why says what was wrong
       with the first one.
*/
#include "monitor_alert.h"
#include "lgwan/v1/monitor.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  protobuf-c allocates every string and message of a batch on its own;
//  a bump arena makes that one pointer move each and frees the whole batch
//  at once. Chunks of 1 MiB (or larger for a larger request); after each
//  frame all but the first go back, so the arena stays bounded. Used by the
//  one thread that decodes (the monitor's reactor).
typedef struct s_chunk_t {
    struct s_chunk_t *next;
    size_t size;
    size_t used;
    max_align_t data [];
} s_chunk_t;

static s_chunk_t *s_arena;

static void *
s_arena_alloc (void *data, size_t size)
{
    (void) data;
    size = (size + 15) & ~(size_t) 15;
    if (!s_arena || s_arena->used + size > s_arena->size) {
        size_t chunk = size > 1024 * 1024? size: 1024 * 1024;
        s_chunk_t *fresh = (s_chunk_t *) malloc (sizeof (s_chunk_t) + chunk);
        if (!fresh)
            return NULL;
        fresh->next = s_arena;
        fresh->size = chunk;
        fresh->used = 0;
        s_arena = fresh;
    }
    void *at = (uint8_t *) s_arena->data + s_arena->used;
    s_arena->used += size;
    return at;
}

static void
s_arena_free (void *data, void *pointer)
{
    (void) data;
    (void) pointer;             //  all at once, in s_arena_reset
}

static void
s_arena_reset (void)
{
    while (s_arena && s_arena->next) {
        s_chunk_t *next = s_arena->next;
        free (s_arena);
        s_arena = next;
    }
    if (s_arena)
        s_arena->used = 0;
}

static ProtobufCAllocator s_allocator = { s_arena_alloc, s_arena_free, NULL };

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
        lgwan__v1__security_event_batch__unpack (&s_allocator, size, (const uint8_t *) data);
    if (!batch) {
        s_arena_reset ();
        snprintf (why, why_size, "not a SecurityEventBatch");
        return -2;
    }
    //  Protobuf parses an empty frame, or another message whose fields a
    //  batch has not, as an empty batch: neither is one (X.3). Taken as
    //  empty batches, they vanished uncounted. Unknown fields inside an
    //  event are a newer sensor's, and ignored.
    if (batch->base.n_unknown_fields) {
        snprintf (why, why_size, "field %u is not a SecurityEventBatch's, not a batch",
                  batch->base.unknown_fields [0].tag);
        s_arena_reset ();
        return -2;
    }
    if (batch->n_events == 0) {
        snprintf (why, why_size, "no events, not a batch");
        s_arena_reset ();
        return -2;
    }
    if (batch->n_events > MONITOR_BATCH_MAX) {
        snprintf (why, why_size, "%zu events in one frame, at most %d", batch->n_events,
                  MONITOR_BATCH_MAX);
        s_arena_reset ();
        return -2;
    }
    int taken = 0;
    for (size_t i = 0; i < batch->n_events; i++) {
        const Lgwan__V1__SecurityEvent *e = batch->events [i];
        monitor_alert_t alert;
        alert.origin = MONITOR_ORIGIN_SENSOR;
        //  protobuf-c strings are NUL-terminated: an embedded NUL would
        //  shorten them silently, which is harmless here
        //  A timestamp is refused whole, never cut (monitor_time_parse)
        if (e->timestamp && strlen (e->timestamp) >= sizeof alert.timestamp) {
            if ((*invalid)++ == 0)
                snprintf (why, why_size, "event %zu: timestamp is longer than %zu bytes", i + 1,
                          sizeof alert.timestamp - 1);
            continue;
        }
        if (!s_text (alert.sensor, sizeof alert.sensor, e->sensor)
        ||  !s_text (alert.timestamp, sizeof alert.timestamp, e->timestamp)
        ||  !s_text (alert.src_ip, sizeof alert.src_ip, e->src_ip)
        ||  !s_text (alert.dest_ip, sizeof alert.dest_ip, e->dest_ip)
        ||  !s_text (alert.proto, sizeof alert.proto, e->proto)
        ||  !s_text (alert.signature, sizeof alert.signature, e->signature)
        ||  !s_text (alert.category, sizeof alert.category, e->category)) {
            if ((*invalid)++ == 0)
                snprintf (why, why_size, "event %zu: a text is not valid UTF-8", i + 1);
            continue;
        }
        alert.src_port = e->src_port;
        alert.dest_port = e->dest_port;
        alert.signature_id = e->signature_id;
        alert.severity = e->severity;
        alert.flow_id = e->flow_id;
        char reason [128];
        if (monitor_alert_finish (&alert, reason, sizeof reason)) {
            if ((*invalid)++ == 0)
                snprintf (why, why_size, "event %zu: %s", i + 1, reason);
            continue;
        }
        fn (arg, &alert);
        taken++;
    }
    s_arena_reset ();
    return taken;
}
