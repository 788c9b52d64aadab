/*  fuzz_pbjson - libFuzzer target of the proto3 JSON parser (lg_pbjson),
    which turns what an operator types (lgwanctl --json, --file) into a
    Request (X.3); the input's first byte chooses Request, Reply or Event,
    the rest is the JSON text.

    Any text is refused (-1, with a reason naming the field path) or
    parsed; never a crash, a leak or an out-of-bounds read. A parsed message
    must also
    1. pass the wire decoder's checks (lg_codec_validate: UTF-8, enum
       values), and pack into bytes lg_codec_decode takes: the parser lets
       through nothing a service would refuse as malformed, and
    2. print as JSON and parse back into a message that packs the same.
    Built with clang -fsanitize=fuzzer,address,undefined
    (tests/fuzz/CMakeLists.txt); seeds in corpus/pbjson.
*/
#include "lg_lib.h"
#include "lg_codec.h"
#include "lg_pbjson.h"
#include "fuzz_envelopes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define TARGET "fuzz_pbjson"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const ProtobufCMessageDescriptor *d = fuzz_kinds [data [0] % 3];
    char *text = (char *) malloc (size);
    memcpy (text, data + 1, size - 1);
    text [size - 1] = 0;
    ProtobufCMessage *msg = NULL;
    char why [512] = "";
    int rc = lg_pbjson_parse (d, text, &msg, why, sizeof why);
    free (text);
    if (rc == -1) {
        if (msg || !*why)
            fuzz_fail (TARGET, "a refusal without its reason, or with a message", NULL);
        return 0;
    }
    if (rc != 0 || !msg)
        fuzz_fail (TARGET, "parse answered outside 0, -1", NULL);

    //  1. What the wire decoder would take
    if (lg_codec_validate (msg, why, sizeof why))
        fuzz_fail (TARGET, "a parsed message fails the wire checks", why);
    size_t first_size;
    uint8_t *first = fuzz_pack (TARGET, msg, &first_size);
    ProtobufCMessage *decoded = NULL;
    if (lg_codec_decode (d, first, first_size, SIZE_MAX, &decoded, why, sizeof why))
        fuzz_fail (TARGET, "a parsed message packed does not decode", why);

    //  2. Printed and parsed again: the same bytes
    json_t *json = lg_pbjson_from_message (msg, 0);
    if (!json)
        fuzz_fail (TARGET, "a parsed message does not print", NULL);
    ProtobufCMessage *again = NULL;
    if (lg_pbjson_to_message (d, json, &again, why, sizeof why))
        fuzz_fail (TARGET, "the printed JSON of a parsed message does not parse", why);
    size_t second_size;
    uint8_t *second = fuzz_pack (TARGET, again, &second_size);
    if (second_size != first_size || memcmp (first, second, first_size))
        fuzz_fail (TARGET, "printed and parsed again, the message packs differently", NULL);

    free (second);
    protobuf_c_message_free_unpacked (again, NULL);
    json_decref (json);
    protobuf_c_message_free_unpacked (decoded, NULL);
    free (first);
    protobuf_c_message_free_unpacked (msg, NULL);
    return 0;
}
