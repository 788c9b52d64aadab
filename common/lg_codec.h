/*  lg_codec - one protobuf per frame, bounded and validated before use.

    Decoding checks the size before unpack, then walks the unpacked message
    with its descriptor: every string must be valid UTF-8 without a NUL byte
    (protobuf-c would hand it over cut at the NUL), every enum value must be
    one the descriptor knows (proto3 enums are open on the wire, ours are
    not), and no field may be numbered 0. Nothing from the wire is ever
    asserted on.
*/
#ifndef LG_CODEC_H_INCLUDED
#define LG_CODEC_H_INCLUDED

//  Decode size bytes as a message of the descriptor, refusing more than limit.
//  Returns 0 and sets *msg_p (free with protobuf_c_message_free_unpacked), -1
//  when size is over limit, -2 when malformed; why (if not NULL) then says how.
int lg_codec_decode (const ProtobufCMessageDescriptor *descriptor,
                     const void *data, size_t size, size_t limit,
                     ProtobufCMessage **msg_p, char *why, size_t why_size);

//  Validate an in-memory message tree (UTF-8, enum ranges) as above; 0 or -2.
int lg_codec_validate (const ProtobufCMessage *msg, char *why, size_t why_size);

//  The first 64-bit unsigned field (uint64, fixed64) of msg, at any depth
//  and in repeated fields too, whose value is above max: 1 with *value and
//  where it is ("holders[1].provider") in where, 0 when there is none. The
//  ids of our tables are bigint, and a request's uint64 past INT64_MAX is
//  refused with this before it reaches SQL (lg_server.h step 3).
int lg_codec_uint64_above (const ProtobufCMessage *msg, uint64_t max, char *where,
                           size_t where_size, uint64_t *value);

//  Copy a message's wire bytes into out (size bytes at most) without its
//  top-level fields of the count numbers, every occurrence; what stays is
//  byte for byte as it was, in its order, unknown fields too (a message
//  packed anew could differ). 0 with *out_size, -1 when malformed.
int lg_codec_without_fields (const uint8_t *data, size_t size, const uint32_t *numbers,
                             size_t count, uint8_t *out, size_t *out_size);

//  Where the value of a message's top-level length-delimited field numbered
//  number lies in its wire bytes, without unpacking them (a frame over the
//  size bound, or malformed): the fields are walked as far as they hold
//  together, every length checked, and the last occurrence is the one taken,
//  as protobuf takes a singular field. 0 with *value_at and *value_size, -1
//  when none was found before the end or the first malformed field.
int lg_codec_find_field (const uint8_t *data, size_t size, uint32_t number,
                         size_t *value_at, size_t *value_size);

//  Pack a message into a new frame; NULL only when out of memory.
zframe_t *lg_codec_frame (const ProtobufCMessage *msg);

//  The oneof `body` field of an envelope message for a case number, or NULL.
const ProtobufCFieldDescriptor *lg_codec_body_field (const ProtobufCMessageDescriptor *d,
                                                      unsigned case_number);

//  The IsolationApplied of an isolation event (Disconnected, Suspended,
//  Reconnected, Decommissioned), or NULL for any other event.
const Lgwan__V1__IsolationApplied *lg_codec_isolation_applied (const lg_event_t *event);

//  What is said of a version "in force" that dropped nothing somewhere,
//  whichever reply, event or record tells it: counted at no point (no_point:
//  isolation counts a change in force at once when none is registered),
//  "NO ENFORCEMENT POINT registered: nothing dropped anywhere"; else points
//  in dry run, "DRY RUN at east, west: nothing dropped there". Their acks
//  count towards "in force", so it is said beside it (lgwanctl after a reply
//  and an event, the registry in a connection's history), never left to a
//  field. The names as given: a caller printing for a terminal escapes them
//  first (ctl_render_not_dropped). Caller frees; NULL when neither, or out
//  of memory.
char *lg_codec_not_dropped_said (bool no_point, char *const *points, size_t n);

//  Self test
void lg_codec_test (bool verbose);

#endif
