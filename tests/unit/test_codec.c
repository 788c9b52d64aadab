/*  test_codec - the wire decoder every service runs on what arrives (X.3).

    No I/O. Each refusal checks the reason, which names the field path.
    fuzz_envelope (tests/fuzz) explores the same decoder with any bytes.
*/
#include "lg_lib.h"
#include "lg_codec.h"
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static int
s_decode (const uint8_t *data, size_t size, char *why, size_t why_size)
{
    ProtobufCMessage *msg = NULL;
    int rc = lg_codec_decode (&lgwan__v1__request__descriptor, data, size, 1024, &msg, why,
                              why_size);
    if (rc == 0)
        protobuf_c_message_free_unpacked (msg, NULL);
    else
        assert_null (msg);
    return rc;
}

static void
test_self_test (void **state)
{
    (void) state;
    lg_codec_test (false);
}

//  protobuf-c keeps a field numbered 0 as an unknown field and would pack
//  it into bytes it then refuses (found by fuzz_envelope)
static void
test_x3_field_numbered_zero_refused (void **state)
{
    (void) state;
    char why [128];
    static const uint8_t top [] = { 0x81, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 };
    assert_int_equal (s_decode (top, sizeof top, why, sizeof why), -2);
    assert_string_equal (why, "a field numbered 0");
    //  provider_apply (field 100, length 10) holding it
    static const uint8_t nested [] = { 0xa2, 0x06, 10, 0x81, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 };
    assert_int_equal (s_decode (nested, sizeof nested, why, sizeof why), -2);
    assert_string_equal (why, "a field numbered 0 in provider_apply");
    //  An unknown field with a valid number is kept (fields are added over
    //  time: DESIGN, Evolution)
    static const uint8_t later [] = { 0xf8, 0xff, 0x01, 7 };     //  field 4095, varint
    assert_int_equal (s_decode (later, sizeof later, why, sizeof why), 0);
}

static void
test_x3_invalid_utf8_refused (void **state)
{
    (void) state;
    char why [128];
    //  request_id (field 1) of two bytes, the second a lone continuation byte
    static const uint8_t bad [] = { 0x0a, 2, 'r', 0x80 };
    assert_int_equal (s_decode (bad, sizeof bad, why, sizeof why), -2);
    assert_string_equal (why, "request_id: not valid UTF-8");
}

/* REQ X.3: protobuf-c ends a string at its first NUL, so a string holding one
   reached handlers cut short, with whatever followed it (any bytes, not
   UTF-8) unchecked; bytes fields may hold NULs */
static void
test_x3_string_with_nul_refused (void **state)
{
    (void) state;
    char why [128];
    //  provider_apply.name_ja (field 1): "A", NUL, then a byte that is not UTF-8
    static const uint8_t nested [] = { 0xa2, 0x06, 5, 0x0a, 3, 'A', 0, 0xff };
    assert_int_equal (s_decode (nested, sizeof nested, why, sizeof why), -2);
    assert_string_equal (why, "provider_apply.name_ja: holds a NUL byte");
    static const uint8_t top [] = { 0x0a, 3, 'r', 0, '1' };
    assert_int_equal (s_decode (top, sizeof top, why, sizeof why), -2);
    assert_string_equal (why, "request_id: holds a NUL byte");
    //  The same string without its NUL, and NULs in bytes, pass
    static const uint8_t clean [] = { 0xa2, 0x06, 3, 0x0a, 1, 'A' };
    assert_int_equal (s_decode (clean, sizeof clean, why, sizeof why), 0);
    //  ReplayReply.events (repeated bytes, field 1)
    static const uint8_t bytes [] = { 0x0a, 2, 0, 0, 0x10, 5 };
    ProtobufCMessage *msg = NULL;
    assert_int_equal (lg_codec_decode (&lgwan__v1__replay_reply__descriptor, bytes, sizeof bytes,
                                       1024, &msg, why, sizeof why), 0);
    protobuf_c_message_free_unpacked (msg, NULL);
    //  An unknown field may hold anything: nobody reads it
    static const uint8_t unknown [] = { 0xfa, 0xff, 0x01, 2, 0, 0xff };     //  field 4095
    assert_int_equal (s_decode (unknown, sizeof unknown, why, sizeof why), 0);
}

static void
test_x3_enum_out_of_range_refused (void **state)
{
    (void) state;
    char why [128];
    //  provider_apply.entity_type (field 3) = 99
    static const uint8_t bad [] = { 0xa2, 0x06, 2, 0x18, 99 };
    assert_int_equal (s_decode (bad, sizeof bad, why, sizeof why), -2);
    assert_string_equal (why, "provider_apply.entity_type: enum value out of range");
}

static void
test_x3_oversized_and_malformed_refused (void **state)
{
    (void) state;
    char why [128];
    uint8_t big [2048];
    memset (big, 0, sizeof big);
    assert_int_equal (s_decode (big, sizeof big, why, sizeof why), -1);
    assert_string_equal (why, "message of 2048 bytes is over the limit of 1024");
    //  A length running past the end
    static const uint8_t cut [] = { 0x0a, 50, 'r' };
    assert_int_equal (s_decode (cut, sizeof cut, why, sizeof why), -2);
    assert_string_equal (why, "malformed Request");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_self_test),
        cmocka_unit_test (test_x3_field_numbered_zero_refused),
        cmocka_unit_test (test_x3_invalid_utf8_refused),
        cmocka_unit_test (test_x3_string_with_nul_refused),
        cmocka_unit_test (test_x3_enum_out_of_range_refused),
        cmocka_unit_test (test_x3_oversized_and_malformed_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
