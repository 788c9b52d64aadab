/*  test_monitor_intake - the monitor's pure pieces: longest-prefix match,
    timestamps, the EVE line parser and the sensor batch decoder (R16.1
    detection starts with attribution; X.3 for what comes in malformed).
*/
#include "monitor.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* REQ R16.1: attribution is by the longest prefix, IPv4 and IPv6 */
static void
test_r16_1_lpm_longest_prefix (void **state)
{
    (void) state;
    monitor_lpm_test (false);
    monitor_lpm_t *lpm = monitor_lpm_new ();
    assert_int_equal (monitor_lpm_insert (lpm, "198.18.0.0/24", 1), 0);
    assert_int_equal (monitor_lpm_insert (lpm, "198.18.0.16/28", 2), 0);
    assert_int_equal (monitor_lpm_insert (lpm, "2001:db8:100::/56", 3), 0);
    assert_int_equal (monitor_lpm_insert (lpm, "2001:db8:100::/40", 4), 0);
    assert_int_equal (monitor_lpm_insert (lpm, "198.18.0.0/33", 5), -1);
    assert_int_equal (monitor_lpm_insert (lpm, "198.18.0.1/24", 5), -1);
    monitor_addr_t a;
    int length;
    assert_int_equal (monitor_addr_parse ("198.18.0.31", &a), 0);
    assert_int_equal (monitor_lpm_lookup (lpm, &a, &length), 2);
    assert_int_equal (length, 28);
    assert_int_equal (monitor_addr_parse ("198.18.0.32", &a), 0);
    assert_int_equal (monitor_lpm_lookup (lpm, &a, &length), 1);
    assert_int_equal (monitor_addr_parse ("2001:db8:100:ff::1", &a), 0);
    assert_int_equal (monitor_lpm_lookup (lpm, &a, NULL), 3);
    assert_int_equal (monitor_addr_parse ("2001:db8:1ff::1", &a), 0);
    assert_int_equal (monitor_lpm_lookup (lpm, &a, NULL), 4);
    //  An IPv4 address never matches an IPv6 prefix and back
    assert_int_equal (monitor_addr_parse ("32.1.13.184", &a), 0);
    assert_int_equal (monitor_lpm_lookup (lpm, &a, NULL), 0);
    monitor_lpm_destroy (&lpm);
}

/* REQ R16.1: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, how a
   dual-stack sensor may write an IPv4 peer) attributes to the IPv4 prefix
   that holds it; it matched no prefix at all */
static void
test_r16_1_ipv4_mapped_address_attributes_to_ipv4 (void **state)
{
    (void) state;
    monitor_lpm_t *lpm = monitor_lpm_new ();
    assert_int_equal (monitor_lpm_insert (lpm, "198.18.0.16/28", 1), 0);
    assert_int_equal (monitor_lpm_insert (lpm, "2001:db8::/32", 2), 0);
    const char *line = "{\"event_type\":\"alert\",\"src_ip\":\"::ffff:198.18.0.17\","
                       "\"dest_ip\":\"::FFFF:c612:0013\",\"alert\":{\"signature_id\":1}}";
    monitor_alert_t a;
    char why [160];
    assert_int_equal (monitor_eve_parse (line, strlen (line), &a, why, sizeof why), 0);
    assert_int_equal (a.src.family, 4);
    assert_int_equal (monitor_lpm_lookup (lpm, &a.src, NULL), 1);
    assert_int_equal (a.dest.family, 4);
    assert_int_equal (monitor_lpm_lookup (lpm, &a.dest, NULL), 1);
    assert_string_equal (a.src_ip, "::ffff:198.18.0.17");      //  as the sensor wrote it
    //  Other IPv6 addresses stay IPv6, the IPv4-compatible ::a.b.c.d too
    line = "{\"event_type\":\"alert\",\"src_ip\":\"::198.18.0.17\","
           "\"dest_ip\":\"2001:db8::ffff:c612:11\",\"alert\":{\"signature_id\":1}}";
    assert_int_equal (monitor_eve_parse (line, strlen (line), &a, why, sizeof why), 0);
    assert_int_equal (a.src.family, 6);
    assert_int_equal (monitor_lpm_lookup (lpm, &a.src, NULL), 0);
    assert_int_equal (a.dest.family, 6);
    assert_int_equal (monitor_lpm_lookup (lpm, &a.dest, NULL), 2);
    monitor_lpm_destroy (&lpm);
}

static void
test_time_parse (void **state)
{
    (void) state;
    int64_t us;
    assert_int_equal (monitor_time_parse ("2027-03-01T09:00:00.123456+0900", &us), 0);
    assert_int_equal (us, 1803859200123456LL);
    assert_int_equal (monitor_time_parse ("2027-03-01T00:00:00Z", &us), 0);
    assert_int_equal (us, 1803859200000000LL);
    assert_int_equal (monitor_time_parse ("2027-03-01T09:00:00+09:00", &us), 0);
    assert_int_equal (us, 1803859200000000LL);
    assert_int_equal (monitor_time_parse ("2027-03-01", &us), -1);
    assert_int_equal (monitor_time_parse ("2027-13-01T00:00:00Z", &us), -1);
    assert_int_equal (monitor_time_parse ("2027-03-01T00:00:00Zjunk", &us), -1);
}

#define ALERT "{\"timestamp\":\"2027-03-01T09:00:00.5+0900\",\"flow_id\":1,\"event_type\":\"alert\"," \
              "\"src_ip\":\"198.18.0.17\",\"src_port\":4444,\"dest_ip\":\"2001:db8::1\",\"dest_port\":80," \
              "\"proto\":\"TCP\",\"alert\":{\"signature_id\":2001,\"signature\":\"ET TROJAN 試験\"," \
              "\"category\":\"A Network Trojan was detected\",\"severity\":1},\"host\":\"ids-east\"}"

/* REQ R16.1: a Suricata EVE alert becomes an alert with every field */
static void
test_r16_1_eve_alert (void **state)
{
    (void) state;
    monitor_alert_t a;
    char why [160];
    assert_int_equal (monitor_eve_parse (ALERT, strlen (ALERT), &a, why, sizeof why), 0);
    assert_string_equal (a.sensor, "ids-east");
    assert_string_equal (a.src_ip, "198.18.0.17");
    assert_int_equal (a.src.family, 4);
    assert_int_equal (a.dest.family, 6);
    assert_int_equal (a.signature_id, 2001);
    assert_int_equal (a.severity, 1);
    assert_int_equal (a.src_port, 4444);
    assert_string_equal (a.signature, "ET TROJAN 試験");
    assert_int_equal (a.at_us, 1803859200500000LL);
    assert_int_equal (a.origin, MONITOR_ORIGIN_EVE);
    const char *flow = "{\"event_type\":\"flow\",\"src_ip\":\"1.2.3.4\"}";
    assert_int_equal (monitor_eve_parse (flow, strlen (flow), &a, why, sizeof why), 1);
}

/* REQ X.3: malformed EVE lines are refused with a reason, never trusted */
static void
test_x3_eve_malformed (void **state)
{
    (void) state;
    const char *bad [] = {
        "",
        "{",
        "not json",
        "[]",
        "{\"event_type\":1}",
        "{\"event_type\":\"alert\"}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"alert\":[]}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"alert\":{}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":-1}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":1,\"severity\":\"high\"}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"src_port\":70000,\"alert\":{\"signature_id\":1}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3\",\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":1}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"timestamp\":\"yesterday\",\"alert\":{\"signature_id\":1}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":1,\"signature\":\"\xc0\x80\"}}",
        "{\"event_type\":\"alert\",\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        monitor_alert_t a;
        char why [160] = "";
        if (monitor_eve_parse (bad [i], strlen (bad [i]), &a, why, sizeof why) != -2)
            fail_msg ("taken: %s", bad [i]);
        assert_true (strlen (why) > 0);
    }
    //  Where yajl alone would take too much, and what the parser adds
    //  to it: each with the reason given
#define NUL_LINE "{\"event_type\":\"flow\",\"x\":\"\x00\"}"
    const struct { const char *line, *why; size_t size; } lenient [] = {
        { "{\"event_type\":\"flow\"}\"abc", "not JSON: parse error: trailing garbage at byte 21", 0 },
        { "{\"event_type\":\"flow\"} x", "not JSON: parse error: trailing garbage at byte 23", 0 },
        { "{\"event_type\"\v:\"flow\"}", "not JSON: control character 0x0b at byte 13", 0 },
        { "{\"event_type\":\"flow\"}\f", "not JSON: control character 0x0c at byte 21", 0 },
        { NUL_LINE, "not valid UTF-8 or holds a NUL byte", sizeof NUL_LINE - 1 },
        { "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
          "\"alert\":{\"signature_id\":1,\"signature\":\"a\\u0000b\"}}",
          "alert.signature is not valid UTF-8 or holds a NUL", 0 },
        { "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
          "\"alert\":{\"signature_id\":1,\"signature_id\":2}}", "alert.signature_id appears twice", 0 },
        { "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
          "\"alert\":{\"signature_id\":1.0}}", "alert.signature_id is not an integer", 0 },
        { "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
          "\"alert\":{\"signature_id\":4294967296}}", "alert.signature_id is not an integer in 0..4294967295", 0 },
        { "{\"event_type\":\"alert\",\"src_ip\":[\"1.2.3.4\"],\"dest_ip\":\"1.2.3.5\","
          "\"alert\":{\"signature_id\":1}}", "src_ip is not a string", 0 },
        { "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
          "\"alert\":\"x\"}", "alert is not an object", 0 },
    };
    for (size_t i = 0; i < sizeof lenient / sizeof lenient [0]; i++) {
        monitor_alert_t a;
        char why [160] = "";
        const char *line = lenient [i].line;
        size_t size = lenient [i].size? lenient [i].size: strlen (line);
        if (monitor_eve_parse (line, size, &a, why, sizeof why) != -2)
            fail_msg ("taken: %s", line);
        assert_string_equal (why, lenient [i].why);
    }
    //  Deeper objects and keys of the same names elsewhere are only parsed
    const char *nested = "{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
        "\"flow\":{\"src_ip\":5,\"alert\":{\"signature_id\":\"x\"}},\"metadata\":[{\"severity\":[]}],"
        "\"alert\":{\"signature_id\":7,\"metadata\":{\"signature_id\":[1]},\"severity\":2},"
        "\"signature_id\":\"root, not the alert's\"}";
    monitor_alert_t a;
    char why [160];
    assert_int_equal (monitor_eve_parse (nested, strlen (nested), &a, why, sizeof why), 0);
    assert_int_equal (a.signature_id, 7);
    assert_int_equal (a.severity, 2);
    assert_string_equal (a.src_ip, "1.2.3.4");
    //  Over the bound before parsing
    assert_int_equal (monitor_eve_parse (ALERT, MONITOR_LINE_MAX + 1, &a, why, sizeof why), -2);
    //  A long signature is cut at a character boundary, not refused
    char *line = zsys_sprintf ("{\"event_type\":\"alert\",\"src_ip\":\"1.2.3.4\",\"dest_ip\":\"1.2.3.5\","
                               "\"alert\":{\"signature_id\":1,\"signature\":\"%0300d試\"}}", 0);
    assert_int_equal (monitor_eve_parse (line, strlen (line), &a, why, sizeof why), 0);
    assert_true (lg_check_utf8 (a.signature, strlen (a.signature)));
    zstr_free (&line);
}

typedef struct {
    int count;
    uint64_t last_signature;
} s_seen_t;

static void
s_seen (void *arg, const monitor_alert_t *alert)
{
    s_seen_t *seen = (s_seen_t *) arg;
    seen->count++;
    seen->last_signature = alert->signature_id;
}

/* REQ X.3: a batch frame is bounded, each event checked on its own */
static void
test_x3_batch_decode (void **state)
{
    (void) state;
    Lgwan__V1__SecurityEvent e [3] = { LGWAN__V1__SECURITY_EVENT__INIT, LGWAN__V1__SECURITY_EVENT__INIT,
                                       LGWAN__V1__SECURITY_EVENT__INIT };
    e [0].src_ip = (char *) "198.18.0.1";
    e [0].dest_ip = (char *) "10.0.0.1";
    e [0].signature_id = 7;
    e [1].src_ip = (char *) "198.18.0.1";
    e [1].dest_ip = (char *) "10.0.0.1";
    e [1].severity = 256;                   //  out of range
    e [2].src_ip = (char *) "198.18.0.1";
    e [2].dest_ip = (char *) "10.0.0.1";
    e [2].timestamp = (char *) "not a time";
    Lgwan__V1__SecurityEvent *list [] = { &e [0], &e [1], &e [2] };
    Lgwan__V1__SecurityEventBatch batch = LGWAN__V1__SECURITY_EVENT_BATCH__INIT;
    batch.events = list;
    batch.n_events = 3;
    uint8_t bytes [512];
    size_t size = lgwan__v1__security_event_batch__pack (&batch, bytes);
    s_seen_t seen = { 0, 0 };
    size_t invalid;
    char why [128];
    assert_int_equal (monitor_batch_decode (bytes, size, 1024, s_seen, &seen, &invalid, why, sizeof why), 1);
    assert_int_equal (invalid, 2);
    assert_int_equal (seen.count, 1);
    assert_int_equal (seen.last_signature, 7);
    assert_int_equal (monitor_batch_decode (bytes, size, 10, s_seen, &seen, &invalid, why, sizeof why), -1);
    assert_int_equal (monitor_batch_decode ("\xff\xff\xff", 3, 1024, s_seen, &seen, &invalid, why, sizeof why), -2);
}

/* REQ X.3: a frame that protobuf parses as a batch but is none (empty,
   only fields a batch has not, or another message) is refused -2, with
   why; an event's own unknown field (a newer sensor's) is not. Before, each
   was taken as an empty batch, 0 events, and nothing counted it */
static void
test_x3_frames_that_are_not_batches_refused (void **state)
{
    (void) state;
    s_seen_t seen = { 0, 0 };
    size_t invalid;
    char why [128];
    assert_int_equal (monitor_batch_decode ("", 0, 1024, s_seen, &seen, &invalid, why, sizeof why), -2);
    assert_string_equal (why, "no events, not a batch");
    //  Fields 2 and 3 (varints): a batch has only field 1
    assert_int_equal (monitor_batch_decode ("\x10\x01\x18\x02", 4, 1024, s_seen, &seen, &invalid,
                                            why, sizeof why), -2);
    assert_string_equal (why, "field 2 is not a SecurityEventBatch's, not a batch");
    //  A Request frame sent to the sensor socket
    Lgwan__V1__Request req = LGWAN__V1__REQUEST__INIT;
    req.request_id = (char *) "not-a-batch";
    req.reason = (char *) "x";
    uint8_t bytes [256];
    size_t size = lgwan__v1__request__pack (&req, bytes);
    assert_int_equal (monitor_batch_decode (bytes, size, 1024, s_seen, &seen, &invalid, why, sizeof why), -2);
    assert_int_equal (seen.count, 0);
    //  A batch whose event carries field 99 (varint): taken
    Lgwan__V1__SecurityEvent e = LGWAN__V1__SECURITY_EVENT__INIT;
    e.src_ip = (char *) "198.18.0.1";
    e.dest_ip = (char *) "10.0.0.1";
    e.signature_id = 8;
    uint8_t event [128];
    size_t event_size = lgwan__v1__security_event__pack (&e, event);
    event [event_size++] = 0x98;            //  field 99, varint: tag 99 << 3 = 792
    event [event_size++] = 0x06;
    event [event_size++] = 0x01;
    bytes [0] = 0x0a;                       //  field 1, length-delimited
    bytes [1] = (uint8_t) event_size;
    memcpy (bytes + 2, event, event_size);
    assert_int_equal (monitor_batch_decode (bytes, event_size + 2, 1024, s_seen, &seen, &invalid,
                                            why, sizeof why), 1);
    assert_int_equal (seen.last_signature, 8);
}

/* REQ X.3: a signature_id past a bigint (where it is stored) is refused,
   with why; the largest bigint is taken */
static void
test_x3_signature_id_past_bigint (void **state)
{
    (void) state;
    Lgwan__V1__SecurityEvent e [3] = { LGWAN__V1__SECURITY_EVENT__INIT, LGWAN__V1__SECURITY_EVENT__INIT,
                                       LGWAN__V1__SECURITY_EVENT__INIT };
    const uint64_t signatures [] = { INT64_MAX, (uint64_t) INT64_MAX + 1, UINT64_MAX };
    Lgwan__V1__SecurityEvent *list [3];
    for (int i = 0; i < 3; i++) {
        e [i].src_ip = (char *) "198.18.0.1";
        e [i].dest_ip = (char *) "10.0.0.1";
        e [i].signature_id = signatures [i];
        list [i] = &e [i];
    }
    Lgwan__V1__SecurityEventBatch batch = LGWAN__V1__SECURITY_EVENT_BATCH__INIT;
    batch.events = list;
    batch.n_events = 3;
    uint8_t bytes [512];
    size_t size = lgwan__v1__security_event_batch__pack (&batch, bytes);
    s_seen_t seen = { 0, 0 };
    size_t invalid;
    char why [128] = "";
    assert_int_equal (monitor_batch_decode (bytes, size, 1024, s_seen, &seen, &invalid, why, sizeof why), 1);
    assert_int_equal (invalid, 2);
    assert_int_equal (seen.last_signature, INT64_MAX);
    assert_string_equal (why, "event 2: signature_id out of range (0..9223372036854775807)");
}

/* REQ X.3: a timestamp that cannot be is refused, not moved: a day the
   month has not (timegm took 2026-02-31 for March 3rd), and one longer
   than the alert keeps (cut to 39 bytes, an invalid timestamp read as a
   valid one), from an EVE line and from a sensor's batch */
static void
test_x3_timestamps_that_cannot_be_refused (void **state)
{
    (void) state;
    int64_t us;
    const char *impossible [] = { "2026-02-31T00:00:00Z", "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                                  "2026-04-31T00:00:00Z", "2026-11-31T12:00:00+09:00" };
    for (size_t i = 0; i < sizeof impossible / sizeof impossible [0]; i++)
        if (monitor_time_parse (impossible [i], &us) != -1)
            fail_msg ("taken: %s", impossible [i]);
    const char *possible [] = { "2028-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2026-12-31T23:59:59Z",
                                "2026-04-30T00:00:00Z" };
    for (size_t i = 0; i < sizeof possible / sizeof possible [0]; i++)
        if (monitor_time_parse (possible [i], &us) != 0)
            fail_msg ("refused: %s", possible [i]);
    assert_int_equal (monitor_time_parse ("2028-02-29T00:00:00Z", &us), 0);
    assert_int_equal (us, 1835395200000000LL);
    //  39 bytes, valid; with "junk" after it, not
#define LONG_TIME "2027-03-01T00:00:00.000000000000000000Z"
    assert_int_equal (strlen (LONG_TIME), 39);
    assert_int_equal (monitor_time_parse (LONG_TIME, &us), 0);
    char *line = zsys_sprintf ("{\"event_type\":\"alert\",\"timestamp\":\"%sjunk\",\"src_ip\":\"1.2.3.4\","
                               "\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":1}}", LONG_TIME);
    monitor_alert_t a;
    char why [160] = "";
    assert_int_equal (monitor_eve_parse (line, strlen (line), &a, why, sizeof why), -2);
    assert_string_equal (why, "timestamp is longer than 39 bytes");
    zstr_free (&line);
    line = zsys_sprintf ("{\"event_type\":\"alert\",\"timestamp\":\"2026-02-31T00:00:00Z\",\"src_ip\":\"1.2.3.4\","
                         "\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":1}}");
    assert_int_equal (monitor_eve_parse (line, strlen (line), &a, why, sizeof why), -2);
    assert_string_equal (why, "timestamp is not RFC 3339");
    zstr_free (&line);
    line = zsys_sprintf ("{\"event_type\":\"alert\",\"timestamp\":\"%s\",\"src_ip\":\"1.2.3.4\","
                         "\"dest_ip\":\"1.2.3.5\",\"alert\":{\"signature_id\":1}}", LONG_TIME);
    assert_int_equal (monitor_eve_parse (line, strlen (line), &a, why, sizeof why), 0);
    zstr_free (&line);
    //  The same in a batch: the first two refused, the third taken
    Lgwan__V1__SecurityEvent e [3] = { LGWAN__V1__SECURITY_EVENT__INIT, LGWAN__V1__SECURITY_EVENT__INIT,
                                       LGWAN__V1__SECURITY_EVENT__INIT };
    const char *times [] = { LONG_TIME "junk", "2026-02-31T00:00:00Z", LONG_TIME };
    Lgwan__V1__SecurityEvent *list [3];
    for (int i = 0; i < 3; i++) {
        e [i].src_ip = (char *) "198.18.0.1";
        e [i].dest_ip = (char *) "10.0.0.1";
        e [i].timestamp = (char *) times [i];
        e [i].signature_id = (uint64_t) i + 1;
        list [i] = &e [i];
    }
    Lgwan__V1__SecurityEventBatch batch = LGWAN__V1__SECURITY_EVENT_BATCH__INIT;
    batch.events = list;
    batch.n_events = 3;
    uint8_t bytes [512];
    size_t size = lgwan__v1__security_event_batch__pack (&batch, bytes);
    s_seen_t seen = { 0, 0 };
    size_t invalid;
    assert_int_equal (monitor_batch_decode (bytes, size, 1024, s_seen, &seen, &invalid, why, sizeof why), 1);
    assert_int_equal (invalid, 2);
    assert_int_equal (seen.last_signature, 3);
    assert_string_equal (why, "event 1: timestamp is longer than 39 bytes");
#undef LONG_TIME
}

//  The service's own counters in the common Stats reply (lg_stats_add)
static void
test_stats_add (void **state)
{
    (void) state;
    Lgwan__V1__StatsReply *stats = (Lgwan__V1__StatsReply *) malloc (sizeof *stats);
    lgwan__v1__stats_reply__init (stats);
    lg_stats_add (stats, "intake.frames", 3);
    lg_stats_add (stats, "intake.events_sensor", 3000);
    assert_int_equal (stats->n_service_counters, 2);
    assert_string_equal (stats->service_counters [1]->name, "intake.events_sensor");
    assert_int_equal (stats->service_counters [1]->count, 3000);
    //  It packs and frees like any reply built for the wire
    size_t size = lgwan__v1__stats_reply__get_packed_size (stats);
    assert_true (size > 0);
    lgwan__v1__stats_reply__free_unpacked (stats, NULL);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r16_1_lpm_longest_prefix),
        cmocka_unit_test (test_r16_1_ipv4_mapped_address_attributes_to_ipv4),
        cmocka_unit_test (test_time_parse),
        cmocka_unit_test (test_r16_1_eve_alert),
        cmocka_unit_test (test_x3_eve_malformed),
        cmocka_unit_test (test_x3_batch_decode),
        cmocka_unit_test (test_x3_frames_that_are_not_batches_refused),
        cmocka_unit_test (test_x3_signature_id_past_bigint),
        cmocka_unit_test (test_x3_timestamps_that_cannot_be_refused),
        cmocka_unit_test (test_stats_add),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
