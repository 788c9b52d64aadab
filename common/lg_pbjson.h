/*  lg_pbjson - proto3 JSON for any protobuf-c message, from its descriptor.

    One printer and one parser for every message type, so a new request or
    reply needs no code here. The mapping is the proto3 canonical one:
    lowerCamelCase names (the parser also takes the .proto names), enums by
    name, 64-bit integers as strings, bytes as base64, repeated fields as
    arrays, default values left out unless asked for.

    1. The parser builds a fresh message with the system allocator: free it
       with protobuf_c_message_free_unpacked (msg, NULL), also after a failure
       halfway (the tree is consistent at every step).
    2. It refuses, naming the field path (`holders[1].role: unknown enum value
       "hosts"`): unknown fields, a field given twice (by both names), two
       members of one oneof, wrong JSON types, integers out of range, enum
       names or numbers the schema does not know, strings that are not UTF-8
       or hold a NUL, and malformed base64.
    3. Strings are copied byte for byte: UTF-8 (Japanese) round-trips exactly.
*/
#ifndef LG_PBJSON_H_INCLUDED
#define LG_PBJSON_H_INCLUDED

#include <jansson.h>

#if JANSSON_VERSION_HEX < 0x020d00
#   error "lgwan needs jansson 2.13 or newer (json_sprintf, json_stringn_nocheck)"
#endif

//  Printer flags
#define LG_PBJSON_EMIT_DEFAULTS 1   //  print scalar and repeated fields at default too
#define LG_PBJSON_PROTO_NAMES   2   //  print the .proto names (name_ja), not nameJa

//  Print msg as a new JSON object. NULL only when out of memory or when the
//  message holds a string that is not UTF-8 (it came from no decoder).
json_t *lg_pbjson_from_message (const ProtobufCMessage *msg, int flags);

//  Parse a JSON object into a new message of descriptor d. 0 ok with *msg_p
//  set, -1 with why (the field path and the reason) and *msg_p NULL.
int lg_pbjson_to_message (const ProtobufCMessageDescriptor *d, json_t *json,
                          ProtobufCMessage **msg_p, char *why, size_t why_size);

//  As lg_pbjson_to_message, from JSON text.
int lg_pbjson_parse (const ProtobufCMessageDescriptor *d, const char *text,
                     ProtobufCMessage **msg_p, char *why, size_t why_size);

//  The field of d named name, by its .proto name (name_ja) or its JSON name
//  (nameJa); NULL when there is none.
const ProtobufCFieldDescriptor *lg_pbjson_field (const ProtobufCMessageDescriptor *d,
                                                 const char *name);

//  Set one field of msg (which must be a message the caller may change, from
//  lg_pbjson_to_message, unpack, or all-heap like them) from text as a person
//  types it: integers in decimal with a range check, bool as true/false/yes/
//  no/1/0, enums by name in any case or by number, bytes in base64, messages
//  as JSON. A repeated field gets one more element (a message field also takes
//  a JSON array of elements); a singular one is replaced, and setting a oneof
//  member clears the other members. 0 ok, -1 with why; on failure the field
//  is as it was (an array of elements is appended all or nothing).
int lg_pbjson_set_field (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                         const char *text, char *why, size_t why_size);

//  The JSON name of a .proto field name (name_ja -> nameJa) into buffer.
void lg_pbjson_json_name (const char *name, char *buffer, size_t size);

//  A short name of the field's type for people: "string", "uint64", the enum
//  or message short name.
const char *lg_pbjson_type_name (const ProtobufCFieldDescriptor *field);

//  Self test
void lg_pbjson_test (bool verbose);

#endif
