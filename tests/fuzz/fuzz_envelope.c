/*  fuzz_envelope - libFuzzer target of the wire decoder every service runs
    on what arrives (X.3): lg_codec_decode of a Request (what a client
    sends), a Reply (what lgwanctl and the consumers read) or an Event (what
    a follower replays); the input's first byte chooses which, the rest is
    the frame.

    Any frame is refused (-1, -2, with a reason) or decoded; never a crash,
    a leak or an out-of-bounds read. A decoded message must also
    1. pack and decode again, to the same bytes (what a service stores and
       forwards is what it accepted), and
    2. print as JSON (lgwanctl --json) and parse back from that JSON into a
       message that prints the same (lg_pbjson's printer and parser agree on
       everything the decoder lets through).
    Built with clang -fsanitize=fuzzer,address,undefined
    (tests/fuzz/CMakeLists.txt); seeds in corpus/envelope.
*/
#include "lg_lib.h"
#include "lg_codec.h"
#include "lg_pbjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_LIMIT (64 * 1024)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, const char *why)
{
    fprintf (stderr, "fuzz_envelope: %s%s%s\n", what, why? ": ": "", why? why: "");
    abort ();
}

static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (msg);
    uint8_t *bytes = (uint8_t *) malloc (*size? *size: 1);
    if (!bytes || protobuf_c_message_pack (msg, bytes) != *size)
        s_fail ("pack", NULL);
    return bytes;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const kinds [] = {
        &lgwan__v1__request__descriptor, &lgwan__v1__reply__descriptor,
        &lgwan__v1__event__descriptor
    };
    if (size == 0)
        return 0;
    const ProtobufCMessageDescriptor *d = kinds [data [0] % 3];
    ProtobufCMessage *msg = NULL;
    char why [512] = "";
    int rc = lg_codec_decode (d, data + 1, size - 1, FRAME_LIMIT, &msg, why, sizeof why);
    if (rc == -1 || rc == -2) {
        if (msg || !*why)
            s_fail ("a refusal without its reason, or with a message", NULL);
        return 0;
    }
    if (rc != 0 || !msg)
        s_fail ("decode answered outside 0, -1, -2", NULL);

    //  1. Packed again, decoded again: the same bytes
    size_t first_size, second_size;
    uint8_t *first = s_pack (msg, &first_size);
    ProtobufCMessage *again = NULL;
    if (lg_codec_decode (d, first, first_size, SIZE_MAX, &again, why, sizeof why))
        s_fail ("a decoded message packed does not decode again", why);
    uint8_t *second = s_pack (again, &second_size);
    if (second_size != first_size || memcmp (first, second, first_size))
        s_fail ("packing a decoded message is not stable", NULL);

    //  2. JSON out, JSON in, JSON out: the same JSON
    json_t *json = lg_pbjson_from_message (msg, 0);
    if (!json)
        s_fail ("a decoded message does not print as JSON", NULL);
    ProtobufCMessage *parsed = NULL;
    if (lg_pbjson_to_message (d, json, &parsed, why, sizeof why))
        s_fail ("the JSON of a decoded message does not parse back", why);
    json_t *json_again = lg_pbjson_from_message (parsed, 0);
    if (!json_again || !json_equal (json, json_again))
        s_fail ("JSON printed, parsed and printed again differs", NULL);

    json_decref (json_again);
    json_decref (json);
    protobuf_c_message_free_unpacked (parsed, NULL);
    free (second);
    free (first);
    protobuf_c_message_free_unpacked (again, NULL);
    protobuf_c_message_free_unpacked (msg, NULL);
    return 0;
}
