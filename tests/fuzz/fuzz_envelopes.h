/*  fuzz_envelopes - what the envelope fuzz targets (fuzz_envelope,
    fuzz_pbjson) share: the envelope kinds the input's first byte chooses
    among, packing, and failing loudly with the target's name.
*/
#ifndef FUZZ_ENVELOPES_H_INCLUDED
#define FUZZ_ENVELOPES_H_INCLUDED

#include <stdio.h>
#include <stdlib.h>

//  Request (what a client sends), Reply, Event
static const ProtobufCMessageDescriptor *const fuzz_kinds [] = {
    &lgwan__v1__request__descriptor, &lgwan__v1__reply__descriptor,
    &lgwan__v1__event__descriptor
};

static void
fuzz_fail (const char *target, const char *what, const char *why)
{
    fprintf (stderr, "%s: %s%s%s\n", target, what, why? ": ": "", why? why: "");
    abort ();
}

static uint8_t *
fuzz_pack (const char *target, const ProtobufCMessage *msg, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (msg);
    uint8_t *bytes = (uint8_t *) malloc (*size? *size: 1);
    if (!bytes || protobuf_c_message_pack (msg, bytes) != *size)
        fuzz_fail (target, "pack", NULL);
    return bytes;
}

#endif
