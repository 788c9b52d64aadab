/*  monitor_alert - one security event as the monitor handles it, whatever
    brought it (a sensor's protobuf batch or a Suricata EVE line), and the
    decoders that make one.

    Kept small and free of the service's machinery (no czmq, no libpq) so the
    fuzz targets build from these files alone:
        monitor_alert.c     addresses, timestamps, bounded copies
        monitor_eve.c       one EVE JSON line -> alert (yajl, streaming)
        monitor_batch.c     one SecurityEventBatch frame -> alerts (protobuf-c)
    Everything here comes from outside: it is checked and counted, never
    asserted on.
*/
#ifndef MONITOR_ALERT_H_INCLUDED
#define MONITOR_ALERT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  An IPv4 (family 4, first 4 bytes) or IPv6 (family 6) address
typedef struct {
    uint8_t family;
    uint8_t bytes [16];
} monitor_addr_t;

typedef enum {
    MONITOR_ORIGIN_SENSOR = 0,  //  protobuf batch on the PULL socket
    MONITOR_ORIGIN_EVE = 1      //  EVE JSON line (Unix socket or followed file)
} monitor_origin_t;

typedef struct {
    monitor_origin_t origin;
    char sensor [64];
    char timestamp [40];        //  as given (may be empty)
    int64_t at_us;              //  parsed timestamp, 0 when none
    char src_ip [48];
    char dest_ip [48];
    monitor_addr_t src;
    monitor_addr_t dest;
    uint32_t src_port;
    uint32_t dest_port;
    char proto [16];
    uint64_t signature_id;
    char signature [256];
    char category [128];
    uint32_t severity;
    uint64_t flow_id;
} monitor_alert_t;

//  Bounds of what intake accepts
#define MONITOR_LINE_MAX   (1024 * 1024)    //  one EVE line
#define MONITOR_BATCH_MAX  10000            //  events in one protobuf frame

//  Parse an IPv4 or IPv6 address; 0 ok, -1 malformed.
int monitor_addr_parse (const char *text, monitor_addr_t *addr);

//  Parse a prefix "a.b.c.d/n" or "x::/n"; host bits must be zero. 0 ok, -1.
int monitor_prefix_parse (const char *text, monitor_addr_t *addr, int *length);

//  RFC 3339 / Suricata timestamp (2026-11-26T07:51:02.123456+0900, +09:00
//  or Z) to microseconds since the epoch; 0 ok, -1 malformed (a day the
//  month has not too). The decoders refuse a timestamp longer than
//  alert.timestamp holds instead of cutting it: cut, it could read as
//  another time.
int monitor_time_parse (const char *text, int64_t *us);

//  True when text of size bytes is valid UTF-8 without a NUL
bool monitor_text_valid (const char *text, size_t size);

//  Copy text of size bytes into out (out_size), cut at a UTF-8 character
//  boundary when it does not fit. Returns false when text is not valid UTF-8
//  or holds a NUL.
bool monitor_copy_text (char *out, size_t out_size, const char *text, size_t size);

//  Fill the fields common to both decoders from their text forms and check
//  them: addresses must parse (an IPv4-mapped IPv6 one, ::ffff:a.b.c.d, is
//  taken as the IPv4 address); ports, severity and signature_id (a bigint
//  where it is stored) in range; the timestamp RFC 3339. 0 ok, -1 with why.
int monitor_alert_finish (monitor_alert_t *alert, char *why, size_t why_size);

//  One EVE line (size bytes, no newline). 0: an alert in *alert; 1: a valid
//  event of another type (ignored); -2: malformed, with why.
int monitor_eve_parse (const char *line, size_t size, monitor_alert_t *alert,
                       char *why, size_t why_size);

//  One SecurityEventBatch frame. Calls fn for every valid event; counts the
//  invalid ones in *invalid (why then says what was wrong with the first).
//  Returns the number of valid events, -1 when size is over limit, -2 when
//  the frame is not a batch: not protobuf, a field a batch has not, or no
//  events (why says how).
typedef void (monitor_alert_fn) (void *arg, const monitor_alert_t *alert);
int monitor_batch_decode (const void *data, size_t size, size_t limit, monitor_alert_fn *fn,
                          void *arg, size_t *invalid, char *why, size_t why_size);

#endif
