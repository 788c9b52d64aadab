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
#include "fuzz_envelopes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_LIMIT (64 * 1024)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define TARGET "fuzz_envelope"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const ProtobufCMessageDescriptor *d = fuzz_kinds [data [0] % 3];
    ProtobufCMessage *msg = NULL;
    char why [512] = "";
    int rc = lg_codec_decode (d, data + 1, size - 1, FRAME_LIMIT, &msg, why, sizeof why);
    if (rc == -1 || rc == -2) {
        if (msg || !*why)
            fuzz_fail (TARGET, "a refusal without its reason, or with a message", NULL);
        return 0;
    }
    if (rc != 0 || !msg)
        fuzz_fail (TARGET, "decode answered outside 0, -1, -2", NULL);

    //  1. Packed again, decoded again: the same bytes
    size_t first_size, second_size;
    uint8_t *first = fuzz_pack (TARGET, msg, &first_size);
    ProtobufCMessage *again = NULL;
    if (lg_codec_decode (d, first, first_size, SIZE_MAX, &again, why, sizeof why))
        fuzz_fail (TARGET, "a decoded message packed does not decode again", why);
    uint8_t *second = fuzz_pack (TARGET, again, &second_size);
    if (second_size != first_size || memcmp (first, second, first_size))
        fuzz_fail (TARGET, "packing a decoded message is not stable", NULL);

    //  2. JSON out, JSON in, JSON out: the same JSON
    json_t *json = lg_pbjson_from_message (msg, 0);
    if (!json)
        fuzz_fail (TARGET, "a decoded message does not print as JSON", NULL);
    ProtobufCMessage *parsed = NULL;
    if (lg_pbjson_to_message (d, json, &parsed, why, sizeof why))
        fuzz_fail (TARGET, "the JSON of a decoded message does not parse back", why);
    json_t *json_again = lg_pbjson_from_message (parsed, 0);
    if (!json_again || !json_equal (json, json_again))
        fuzz_fail (TARGET, "JSON printed, parsed and printed again differs", NULL);

    json_decref (json_again);
    json_decref (json);
    protobuf_c_message_free_unpacked (parsed, NULL);
    free (second);
    free (first);
    protobuf_c_message_free_unpacked (again, NULL);
    protobuf_c_message_free_unpacked (msg, NULL);
    return 0;
}
