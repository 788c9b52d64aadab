/*  test_pbjson - proto3 JSON printer and parser over protobuf-c descriptors.

    No I/O. Round trips compare packed protobuf bytes, so "equal" means equal
    on the wire; Japanese text must come back byte for byte. Every refusal
    checks the message, which names the field path.
*/
#include "lg_lib.h"
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#define NAME_JA "株式会社テスト'; DROP TABLE x;--"

//  Pack a message into a heap buffer for comparison
static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (msg);
    uint8_t *data = malloc (*size + 1);
    assert_non_null (data);
    protobuf_c_message_pack (msg, data);
    return data;
}

//  Print, dump to text, load, parse: the message must come back equal
static ProtobufCMessage *
s_round_trip (const ProtobufCMessage *msg, int flags)
{
    json_t *json = lg_pbjson_from_message (msg, flags);
    assert_non_null (json);
    char *text = json_dumps (json, JSON_COMPACT);
    assert_non_null (text);
    json_decref (json);

    ProtobufCMessage *copy = NULL;
    char why [256] = "";
    int rc = lg_pbjson_parse (msg->descriptor, text, &copy, why, sizeof why);
    if (rc)
        fail_msg ("parse of %s failed: %s", text, why);
    free (text);

    size_t size_a, size_b;
    uint8_t *a = s_pack (msg, &size_a);
    uint8_t *b = s_pack (copy, &size_b);
    assert_int_equal (size_a, size_b);
    assert_memory_equal (a, b, size_a);
    free (a);
    free (b);
    return copy;
}

//  Parse text as a Request and expect a refusal with exactly this message
static void
s_refused (const ProtobufCMessageDescriptor *d, const char *text, const char *expected)
{
    ProtobufCMessage *msg = (ProtobufCMessage *) 1;
    char why [256] = "";
    int rc = lg_pbjson_parse (d, text, &msg, why, sizeof why);
    if (rc != -1)
        fail_msg ("%s was accepted", text);
    assert_null (msg);
    assert_string_equal (why, expected);
}

static lg_request_t *
s_parse_request (const char *text)
{
    ProtobufCMessage *msg = NULL;
    char why [256] = "";
    if (lg_pbjson_parse (&lgwan__v1__request__descriptor, text, &msg, why, sizeof why))
        fail_msg ("%s refused: %s", text, why);
    return (lg_request_t *) msg;
}

static void
test_request_round_trip_japanese (void **state)
{
    (void) state;
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) NAME_JA;
    apply.name_en = (char *) "Test K.K.";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    apply.corporate_number = (char *) "1234567890123";
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) "r-1";
    request.reason = (char *) "審査のため";
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;

    //  The printed shape: camelCase, enum by name, defaults left out
    json_t *json = lg_pbjson_from_message (&request.base, 0);
    assert_non_null (json);
    assert_string_equal (json_string_value (json_object_get (json, "requestId")), "r-1");
    assert_null (json_object_get (json, "actor"));
    json_t *body = json_object_get (json, "providerApply");
    assert_non_null (body);
    assert_string_equal (json_string_value (json_object_get (body, "nameJa")), NAME_JA);
    assert_string_equal (json_string_value (json_object_get (body, "entityType")),
                         "PRIVATE_CORPORATION");
    assert_null (json_object_get (body, "lgcode"));
    assert_int_equal (json_object_size (body), 4);
    //  No other oneof member is printed
    assert_int_equal (json_object_size (json), 3);
    json_decref (json);

    lg_request_t *copy = (lg_request_t *) s_round_trip (&request.base, 0);
    assert_int_equal (copy->body_case, LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY);
    assert_int_equal (strlen (copy->provider_apply->name_ja), strlen (NAME_JA));
    assert_memory_equal (copy->provider_apply->name_ja, NAME_JA, strlen (NAME_JA) + 1);
    assert_string_equal (copy->reason, "審査のため");
    protobuf_c_message_free_unpacked (&copy->base, NULL);

    //  And with defaults printed and .proto names
    copy = (lg_request_t *) s_round_trip (&request.base,
                                          LG_PBJSON_EMIT_DEFAULTS | LG_PBJSON_PROTO_NAMES);
    protobuf_c_message_free_unpacked (&copy->base, NULL);
}

static void
test_emit_defaults_and_names (void **state)
{
    (void) state;
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    json_t *json = lg_pbjson_from_message (&apply.base, 0);
    assert_int_equal (json_object_size (json), 0);
    json_decref (json);

    json = lg_pbjson_from_message (&apply.base, LG_PBJSON_EMIT_DEFAULTS | LG_PBJSON_PROTO_NAMES);
    //  Every field of the message, whatever it grows to
    assert_int_equal (json_object_size (json), apply.base.descriptor->n_fields);
    assert_string_equal (json_string_value (json_object_get (json, "name_ja")), "");
    assert_string_equal (json_string_value (json_object_get (json, "entity_type")),
                         "ENTITY_TYPE_UNSPECIFIED");
    json_decref (json);

    //  Repeated fields print as [] with defaults, unset messages not at all
    Lgwan__V1__StatsReply stats = LGWAN__V1__STATS_REPLY__INIT;
    json = lg_pbjson_from_message (&stats.base, LG_PBJSON_EMIT_DEFAULTS);
    assert_true (json_is_array (json_object_get (json, "byCode")));
    assert_string_equal (json_string_value (json_object_get (json, "uptimeSeconds")), "0");
    json_decref (json);

    //  Both names are accepted when parsing
    lg_request_t *request = s_parse_request (
        "{\"request_id\": \"a\", \"provider_apply\": {\"name_ja\": \"x\", \"nameEn\": \"y\"}}");
    assert_string_equal (request->request_id, "a");
    assert_string_equal (request->provider_apply->name_ja, "x");
    assert_string_equal (request->provider_apply->name_en, "y");
    protobuf_c_message_free_unpacked (&request->base, NULL);

    char name [64];
    lg_pbjson_json_name ("uptime_seconds", name, sizeof name);
    assert_string_equal (name, "uptimeSeconds");
    assert_ptr_equal (lg_pbjson_field (&lgwan__v1__stats_reply__descriptor, "byCode"),
                      lg_pbjson_field (&lgwan__v1__stats_reply__descriptor, "by_code"));
    assert_null (lg_pbjson_field (&lgwan__v1__stats_reply__descriptor, "by-code"));
}

static void
test_enum_by_name_and_number (void **state)
{
    (void) state;
    const char *texts [] = {
        "{\"providerApply\": {\"entityType\": \"PRIVATE_CORPORATION\"}}",
        "{\"providerApply\": {\"entityType\": 6}}",
        "{\"providerApply\": {\"entityType\": \"6\"}}"
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts [0]; i++) {
        lg_request_t *request = s_parse_request (texts [i]);
        assert_int_equal (request->provider_apply->entity_type,
                          LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION);
        protobuf_c_message_free_unpacked (&request->base, NULL);
    }
    const ProtobufCMessageDescriptor *d = &lgwan__v1__request__descriptor;
    s_refused (d, "{\"providerApply\": {\"entityType\": \"hosts\"}}",
               "providerApply.entityType: unknown enum value \"hosts\"");
    s_refused (d, "{\"providerApply\": {\"entityType\": 99}}",
               "providerApply.entityType: unknown enum value 99");
    s_refused (d, "{\"providerApply\": {\"entityType\": \"private_corporation\"}}",
               "providerApply.entityType: unknown enum value \"private_corporation\"");
    s_refused (d, "{\"providerApply\": {\"entityType\": true}}",
               "providerApply.entityType: expected a EntityType name or number");

    //  An enum number the schema does not name prints as a number
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.entity_type = (Lgwan__V1__EntityType) 42;
    json_t *json = lg_pbjson_from_message (&apply.base, 0);
    assert_int_equal (json_integer_value (json_object_get (json, "entityType")), 42);
    json_decref (json);
}

static void
test_int64_as_string (void **state)
{
    (void) state;
    Lgwan__V1__StatsReply stats = LGWAN__V1__STATS_REPLY__INIT;
    stats.uptime_seconds = UINT64_MAX;
    stats.requests = 12;
    json_t *json = lg_pbjson_from_message (&stats.base, 0);
    assert_string_equal (json_string_value (json_object_get (json, "uptimeSeconds")),
                         "18446744073709551615");
    assert_string_equal (json_string_value (json_object_get (json, "requests")), "12");
    json_decref (json);
    Lgwan__V1__StatsReply *copy = (Lgwan__V1__StatsReply *) s_round_trip (&stats.base, 0);
    assert_true (copy->uptime_seconds == UINT64_MAX);
    protobuf_c_message_free_unpacked (&copy->base, NULL);

    //  Numbers are accepted as JSON numbers or strings, reals only when whole
    const char *good [] = {
        "{\"replay\": {\"fromSeq\": 7, \"limit\": 7}}",
        "{\"replay\": {\"fromSeq\": \"7\", \"limit\": \"7\"}}",
        "{\"replay\": {\"fromSeq\": 7.0, \"limit\": 0.7e1}}"
    };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++) {
        lg_request_t *request = s_parse_request (good [i]);
        assert_int_equal (request->body_case, LGWAN__V1__REQUEST__BODY_REPLAY);
        assert_int_equal (request->replay->from_seq, 7);
        assert_int_equal (request->replay->limit, 7);
        protobuf_c_message_free_unpacked (&request->base, NULL);
    }
    const ProtobufCMessageDescriptor *d = &lgwan__v1__request__descriptor;
    s_refused (d, "{\"replay\": {\"fromSeq\": \"18446744073709551616\"}}",
               "replay.fromSeq: 18446744073709551616 is out of range for uint64");
    s_refused (d, "{\"replay\": {\"fromSeq\": -1}}",
               "replay.fromSeq: -1 is out of range for uint64");
    s_refused (d, "{\"replay\": {\"fromSeq\": \"-1\"}}",
               "replay.fromSeq: -1 is out of range for uint64");
    s_refused (d, "{\"replay\": {\"limit\": 4294967296}}",
               "replay.limit: 4294967296 is out of range for uint32");
    s_refused (d, "{\"replay\": {\"limit\": 1.5}}",
               "replay.limit: 1.5 is not an integer");
    s_refused (d, "{\"replay\": {\"limit\": \" 1\"}}",
               "replay.limit: \" 1\" is not an integer");
    s_refused (d, "{\"replay\": {\"limit\": 1e30}}",
               "replay.limit: 1e+30 is out of range for uint32");

    //  int64 money, signed
    Lgwan__V1__Money money = LGWAN__V1__MONEY__INIT;
    money.yen = INT64_MIN;
    Lgwan__V1__Money *back = (Lgwan__V1__Money *) s_round_trip (&money.base, 0);
    assert_true (back->yen == INT64_MIN);
    protobuf_c_message_free_unpacked (&back->base, NULL);
    s_refused (&lgwan__v1__money__descriptor, "{\"yen\": \"9223372036854775808\"}",
               "yen: 9223372036854775808 is out of range for int64");
}

static void
test_unknown_field_refused (void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *d = &lgwan__v1__request__descriptor;
    s_refused (d, "{\"providerApply\": {\"nameJa\": \"x\", \"hosts\": 1}}",
               "providerApply: unknown field \"hosts\" in ProviderApply");
    s_refused (d, "{\"bogus\": {}}", "unknown field \"bogus\" in Request");
    //  The same field by both names, two members of one oneof
    s_refused (d, "{\"providerApply\": {\"nameJa\": \"x\", \"name_ja\": \"y\"}}",
               "providerApply: field given twice, as \"name_ja\" and \"nameJa\"");
    s_refused (d, "{\"stats\": {}, \"providerGet\": {\"provider\": 1}}",
               "providerGet: only one of a oneof may be set, and \"stats\" is");
    //  Duplicate keys are refused by the JSON reader
    ProtobufCMessage *msg;
    char why [256];
    assert_int_equal (lg_pbjson_parse (d, "{\"actor\": \"a\", \"actor\": \"b\"}",
                                       &msg, why, sizeof why), -1);
    assert_non_null (strstr (why, "duplicate"));
}

static void
test_wrong_type_refused (void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *d = &lgwan__v1__request__descriptor;
    s_refused (d, "{\"providerApply\": {\"nameJa\": 5}}",
               "providerApply.nameJa: expected a string");
    s_refused (d, "{\"providerApply\": []}",
               "providerApply: expected an object (ProviderApply)");
    s_refused (d, "{\"providerGet\": {\"provider\": \"twelve\"}}",
               "providerGet.provider: \"twelve\" is not an integer");
    s_refused (d, "{\"providerGet\": {\"provider\": true}}",
               "providerGet.provider: expected an integer (uint64)");
    s_refused (d, "[]", "expected a JSON object (Request)");
    s_refused (&lgwan__v1__stats_reply__descriptor, "{\"byCode\": {}}",
               "byCode: expected an array");
    s_refused (&lgwan__v1__stats_reply__descriptor, "{\"byCode\": [null]}",
               "byCode[0]: null is not a value");

    //  null means the default
    lg_request_t *request = s_parse_request ("{\"actor\": null, \"providerGet\": null}");
    assert_string_equal (request->actor, "");
    assert_int_equal (request->body_case, LGWAN__V1__REQUEST__BODY__NOT_SET);
    protobuf_c_message_free_unpacked (&request->base, NULL);

    ProtobufCMessage *msg;
    char why [256];
    assert_int_equal (lg_pbjson_parse (d, "{\"actor\": ", &msg, why, sizeof why), -1);
    assert_non_null (strstr (why, "not valid JSON"));
}

static void
test_bad_utf8_refused (void **state)
{
    (void) state;
    ProtobufCMessage *msg = NULL;
    char why [256];
    //  The JSON reader refuses it in text; a json_t built without checks
    //  is refused by the parser
    assert_int_equal (lg_pbjson_parse (&lgwan__v1__request__descriptor,
                                       "{\"actor\": \"\xff\xfe\"}", &msg, why, sizeof why), -1);
    json_t *json = json_pack ("{s:{s:o}}", "providerApply", "nameJa",
                              json_stringn_nocheck ("\xe6\xa0\xaa\xff", 4));
    assert_non_null (json);
    assert_int_equal (lg_pbjson_to_message (&lgwan__v1__request__descriptor, json,
                                            &msg, why, sizeof why), -1);
    assert_string_equal (why, "providerApply.nameJa: not valid UTF-8");
    json_decref (json);

    //  A surrogate in UTF-8 form and an embedded NUL
    json = json_pack ("{s:o}", "actor", json_stringn_nocheck ("\xed\xa0\x80", 3));
    assert_int_equal (lg_pbjson_to_message (&lgwan__v1__request__descriptor, json,
                                            &msg, why, sizeof why), -1);
    assert_string_equal (why, "actor: not valid UTF-8");
    json_decref (json);
    json = json_pack ("{s:o}", "actor", json_stringn ("a\0b", 3));
    assert_int_equal (lg_pbjson_to_message (&lgwan__v1__request__descriptor, json,
                                            &msg, why, sizeof why), -1);
    assert_string_equal (why, "actor: string holds a NUL character");
    json_decref (json);

    //  The printer does not print what is not UTF-8
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "\xff";
    assert_null (lg_pbjson_from_message (&apply.base, 0));
}

static void
test_nested_repeated (void **state)
{
    (void) state;
    Lgwan__V1__StatsCounter c1 = LGWAN__V1__STATS_COUNTER__INIT;
    Lgwan__V1__StatsCounter c2 = LGWAN__V1__STATS_COUNTER__INIT;
    Lgwan__V1__StatsCounter c3 = LGWAN__V1__STATS_COUNTER__INIT;
    c1.name = (char *) "OK";
    c1.count = 10;
    c2.name = (char *) "FAILED_PRECONDITION";
    c2.count = 0;               //  a default inside a repeated element
    c3.name = (char *) "provider_apply";
    c3.count = 3;
    Lgwan__V1__StatsCounter *by_code [] = { &c1, &c2 };
    Lgwan__V1__StatsCounter *by_request [] = { &c3 };
    Lgwan__V1__StatsReply stats = LGWAN__V1__STATS_REPLY__INIT;
    stats.service = (char *) "registry";
    stats.uptime_seconds = 3600;
    stats.n_by_code = 2;
    stats.by_code = by_code;
    stats.n_by_request = 1;
    stats.by_request = by_request;
    Lgwan__V1__Status status = LGWAN__V1__STATUS__INIT;
    status.code = LGWAN__V1__CODE__OK;
    lg_reply_t reply = LGWAN__V1__REPLY__INIT;
    reply.request_id = (char *) "r-2";
    reply.status = &status;
    reply.body_case = LGWAN__V1__REPLY__BODY_STATS;
    reply.stats = &stats;

    json_t *json = lg_pbjson_from_message (&reply.base, 0);
    //  A set message prints even when all its fields are defaults
    assert_int_equal (json_object_size (json_object_get (json, "status")), 0);
    json_t *list = json_object_get (json_object_get (json, "stats"), "byCode");
    assert_int_equal (json_array_size (list), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (list, 1), "name")),
                         "FAILED_PRECONDITION");
    assert_null (json_object_get (json_array_get (list, 1), "count"));
    json_decref (json);

    lg_reply_t *copy = (lg_reply_t *) s_round_trip (&reply.base, 0);
    assert_int_equal (copy->stats->n_by_code, 2);
    assert_string_equal (copy->stats->by_code [1]->name, "FAILED_PRECONDITION");
    assert_int_equal (copy->stats->by_request [0]->count, 3);
    assert_non_null (copy->status);
    protobuf_c_message_free_unpacked (&copy->base, NULL);

    //  A refusal deep inside names the path, and the partial tree is freed
    s_refused (&lgwan__v1__reply__descriptor,
               "{\"stats\": {\"service\": \"registry\", \"byCode\": "
               "[{\"name\": \"OK\", \"count\": 1}, {\"name\": \"x\", \"count\": \"many\"}]}}",
               "stats.byCode[1].count: \"many\" is not an integer");
    s_refused (&lgwan__v1__reply__descriptor,
               "{\"stats\": {\"by_request\": [{\"name\": \"x\", \"role\": \"hosts\"}]}}",
               "stats.by_request[0]: unknown field \"role\" in StatsCounter");
}

static void
test_repeated_bytes (void **state)
{
    (void) state;
    uint8_t e1 [] = { 0x00, 0xff, 0x10, 0x00 };
    uint8_t e2 [] = { 'a' };
    ProtobufCBinaryData events [] = { { sizeof e1, e1 }, { 0, NULL }, { sizeof e2, e2 } };
    Lgwan__V1__ReplayReply replay = LGWAN__V1__REPLAY_REPLY__INIT;
    replay.n_events = 3;
    replay.events = events;
    replay.head_seq = 9;
    lg_reply_t reply = LGWAN__V1__REPLY__INIT;
    reply.body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    reply.replay = &replay;

    json_t *json = lg_pbjson_from_message (&reply.base, 0);
    json_t *list = json_object_get (json_object_get (json, "replay"), "events");
    assert_string_equal (json_string_value (json_array_get (list, 0)), "AP8QAA==");
    assert_string_equal (json_string_value (json_array_get (list, 1)), "");
    assert_string_equal (json_string_value (json_array_get (list, 2)), "YQ==");
    json_decref (json);

    lg_reply_t *copy = (lg_reply_t *) s_round_trip (&reply.base, 0);
    assert_int_equal (copy->replay->n_events, 3);
    assert_int_equal (copy->replay->events [0].len, 4);
    assert_memory_equal (copy->replay->events [0].data, e1, 4);
    assert_int_equal (copy->replay->events [1].len, 0);
    protobuf_c_message_free_unpacked (&copy->base, NULL);

    //  URL-safe and unpadded base64 are read too
    ProtobufCMessage *msg;
    char why [256];
    assert_int_equal (lg_pbjson_parse (&lgwan__v1__replay_reply__descriptor,
                                       "{\"events\": [\"AP8QAA\", \"-_8\"]}",
                                       &msg, why, sizeof why), 0);
    Lgwan__V1__ReplayReply *back = (Lgwan__V1__ReplayReply *) msg;
    assert_int_equal (back->events [0].len, 4);
    assert_memory_equal (back->events [0].data, e1, 4);
    assert_int_equal (back->events [1].len, 2);
    assert_int_equal (back->events [1].data [0], 0xfb);
    assert_int_equal (back->events [1].data [1], 0xff);
    protobuf_c_message_free_unpacked (msg, NULL);
    s_refused (&lgwan__v1__replay_reply__descriptor, "{\"events\": [\"AP8QAA==\", \"A*==\"]}",
               "events[1]: not valid base64");
    s_refused (&lgwan__v1__replay_reply__descriptor, "{\"events\": [\"AAAAA\"]}",
               "events[0]: not valid base64");
    s_refused (&lgwan__v1__replay_reply__descriptor, "{\"events\": [7]}",
               "events[0]: expected a base64 string");
}

static void
test_set_field (void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *d = &lgwan__v1__provider_apply__descriptor;
    ProtobufCMessage *msg;
    char why [256];
    json_t *empty = json_object ();
    assert_int_equal (lg_pbjson_to_message (d, empty, &msg, why, sizeof why), 0);
    json_decref (empty);
    Lgwan__V1__ProviderApply *apply = (Lgwan__V1__ProviderApply *) msg;
    const ProtobufCFieldDescriptor *name_ja = lg_pbjson_field (d, "name_ja");
    const ProtobufCFieldDescriptor *type = lg_pbjson_field (d, "entity_type");
    //  Replacing a string frees the old one
    assert_int_equal (lg_pbjson_set_field (msg, name_ja, "旧", why, sizeof why), 0);
    assert_int_equal (lg_pbjson_set_field (msg, name_ja, NAME_JA, why, sizeof why), 0);
    assert_string_equal (apply->name_ja, NAME_JA);
    assert_int_equal (lg_pbjson_set_field (msg, name_ja, "\xc3", why, sizeof why), -1);
    assert_string_equal (why, "name_ja: not valid UTF-8");
    assert_string_equal (apply->name_ja, NAME_JA);

    //  Enums by name in any case, dashes for underscores, or by number
    assert_int_equal (lg_pbjson_set_field (msg, type, "private-corporation", why, sizeof why), 0);
    assert_int_equal (apply->entity_type, LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION);
    assert_int_equal (lg_pbjson_set_field (msg, type, "2", why, sizeof why), 0);
    assert_int_equal (apply->entity_type, LGWAN__V1__ENTITY_TYPE__NATIONAL_AGENCY);
    assert_int_equal (lg_pbjson_set_field (msg, type, "hosts", why, sizeof why), -1);
    assert_string_equal (why, "entity_type: unknown enum value \"hosts\"");
    protobuf_c_message_free_unpacked (msg, NULL);

    //  Integers with a range check
    json_t *object = json_object ();
    assert_int_equal (lg_pbjson_to_message (&lgwan__v1__replay__descriptor, object,
                                            &msg, why, sizeof why), 0);
    json_decref (object);
    const ProtobufCFieldDescriptor *limit =
        lg_pbjson_field (&lgwan__v1__replay__descriptor, "limit");
    assert_int_equal (lg_pbjson_set_field (msg, limit, "100", why, sizeof why), 0);
    assert_int_equal (((Lgwan__V1__Replay *) msg)->limit, 100);
    assert_int_equal (lg_pbjson_set_field (msg, limit, "-1", why, sizeof why), -1);
    assert_string_equal (why, "limit: -1 is out of range for uint32");
    assert_int_equal (lg_pbjson_set_field (msg, limit, "", why, sizeof why), -1);
    assert_string_equal (why, "limit: \"\" is not an integer");
    assert_int_equal (((Lgwan__V1__Replay *) msg)->limit, 100);
    protobuf_c_message_free_unpacked (msg, NULL);

    //  Repeated messages: one JSON object or an array of them, appended
    object = json_object ();
    assert_int_equal (lg_pbjson_to_message (&lgwan__v1__stats_reply__descriptor, object,
                                            &msg, why, sizeof why), 0);
    json_decref (object);
    Lgwan__V1__StatsReply *stats = (Lgwan__V1__StatsReply *) msg;
    const ProtobufCFieldDescriptor *by_code =
        lg_pbjson_field (&lgwan__v1__stats_reply__descriptor, "by_code");
    assert_int_equal (lg_pbjson_set_field (msg, by_code, "{\"name\": \"OK\", \"count\": 1}",
                                           why, sizeof why), 0);
    assert_int_equal (lg_pbjson_set_field (msg, by_code,
                                           "[{\"name\": \"A\"}, {\"name\": \"B\", \"count\": \"2\"}]",
                                           why, sizeof why), 0);
    assert_int_equal (stats->n_by_code, 3);
    assert_string_equal (stats->by_code [2]->name, "B");
    assert_int_equal (lg_pbjson_set_field (msg, by_code, "{\"name\": 1}", why, sizeof why), -1);
    assert_string_equal (why, "by_code.name: expected a string");
    //  A failure halfway through an array appends nothing
    assert_int_equal (lg_pbjson_set_field (msg, by_code, "[{\"name\": \"C\"}, {\"name\": 1}]",
                                           why, sizeof why), -1);
    assert_string_equal (why, "by_code[1].name: expected a string");
    assert_int_equal (stats->n_by_code, 3);
    assert_int_equal (lg_pbjson_set_field (msg, by_code, "{nope", why, sizeof why), -1);
    assert_non_null (strstr (why, "by_code: not valid JSON"));
    protobuf_c_message_free_unpacked (msg, NULL);

    //  Setting one oneof member unsets the other
    lg_request_t *request = s_parse_request ("{\"providerApply\": {\"nameJa\": \"x\"}}");
    const ProtobufCFieldDescriptor *get =
        lg_pbjson_field (&lgwan__v1__request__descriptor, "provider_get");
    assert_int_equal (lg_pbjson_set_field (&request->base, get, "{\"provider\": \"12\"}",
                                           why, sizeof why), 0);
    assert_int_equal (request->body_case, LGWAN__V1__REQUEST__BODY_PROVIDER_GET);
    assert_int_equal (request->provider_get->provider, 12);
    assert_int_equal (lg_pbjson_set_field (&request->base, get, "[]", why, sizeof why), -1);
    assert_string_equal (why, "provider_get: expected an object, not an array");
    protobuf_c_message_free_unpacked (&request->base, NULL);

    assert_string_equal (lg_pbjson_type_name (type), "EntityType");
    assert_string_equal (lg_pbjson_type_name (limit), "uint32");
    assert_string_equal (lg_pbjson_type_name (by_code), "StatsCounter");
}

static void
test_self_test (void **state)
{
    (void) state;
    lg_pbjson_test (false);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_request_round_trip_japanese),
        cmocka_unit_test (test_emit_defaults_and_names),
        cmocka_unit_test (test_enum_by_name_and_number),
        cmocka_unit_test (test_int64_as_string),
        cmocka_unit_test (test_unknown_field_refused),
        cmocka_unit_test (test_wrong_type_refused),
        cmocka_unit_test (test_bad_utf8_refused),
        cmocka_unit_test (test_nested_repeated),
        cmocka_unit_test (test_repeated_bytes),
        cmocka_unit_test (test_set_field),
        cmocka_unit_test (test_self_test),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
