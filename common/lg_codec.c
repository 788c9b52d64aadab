/*  lg_codec - one protobuf per frame, bounded and validated before use.

    protobuf-c checks wire structure only: it accepts a message cut at a field
    boundary, strings that are not UTF-8, strings holding a NUL byte (which it
    hands over cut at the NUL), and enum numbers the schema does not name
    (proto3 enums are open). We close those gaps here, once, for every
    message type, by walking the descriptor; handlers then check only which
    fields are mandatory for them.
*/
#include "lg_lib.h"

#define MAX_DEPTH 32

//  why = "<path><field>: <problem>"
static void
s_why (char *why, size_t why_size, const char *path, const char *field, const char *problem)
{
    if (why && why_size)
        snprintf (why, why_size, "%s%s%s%s", path, field, *field? ": ": "", problem);
}

static int s_validate (const ProtobufCMessage *msg, int depth, const char *path,
                       char *why, size_t why_size);

//  Validate one value of a field (element of a repeated field or singular)
static int
s_validate_value (const ProtobufCFieldDescriptor *field, const void *value, int depth,
                  const char *path, char *why, size_t why_size)
{
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        const char *text = *(char * const *) value;
        if (text && !lg_check_utf8 (text, strlen (text))) {
            s_why (why, why_size, path, field->name, "not valid UTF-8");
            return -2;
        }
    }
    else
    if (field->type == PROTOBUF_C_TYPE_ENUM) {
        int number = *(const int *) value;
        if (!protobuf_c_enum_descriptor_get_value (field->descriptor, number)) {
            s_why (why, why_size, path, field->name, "enum value out of range");
            return -2;
        }
    }
    else
    if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage * const *) value;
        if (sub) {
            char subpath [256];
            snprintf (subpath, sizeof subpath, "%s%s.", path, field->name);
            return s_validate (sub, depth + 1, subpath, why, why_size);
        }
    }
    return 0;
}

static int
s_validate (const ProtobufCMessage *msg, int depth, const char *path, char *why, size_t why_size)
{
    if (depth > MAX_DEPTH) {
        s_why (why, why_size, path, "", "nested too deeply");
        return -2;
    }
    //  protobuf-c refuses field number 0 in a one-byte tag only; written in
    //  more bytes it is kept as an unknown field, which would pack into bytes
    //  protobuf-c itself refuses: not protobuf, refused here
    for (unsigned i = 0; i < msg->n_unknown_fields; i++)
        if (msg->unknown_fields [i].tag == 0) {
            size_t len = strlen (path);
            if (why && why_size)
                snprintf (why, why_size, "a field numbered 0%s%.*s", len? " in ": "",
                          (int) (len? len - 1: 0), path);
            return -2;
        }
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        const char *base = (const char *) msg;
        if (field->type != PROTOBUF_C_TYPE_STRING
        &&  field->type != PROTOBUF_C_TYPE_ENUM
        &&  field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *) (base + field->quantifier_offset);
            const char *array = *(char * const *) (base + field->offset);
            size_t elem = field->type == PROTOBUF_C_TYPE_ENUM? sizeof (int): sizeof (void *);
            for (size_t j = 0; j < count; j++)
                if (s_validate_value (field, array + j * elem, depth, path, why, why_size))
                    return -2;
        }
        else {
            if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t which = *(const uint32_t *) (base + field->quantifier_offset);
                if (which != field->id)
                    continue;
            }
            if (s_validate_value (field, base + field->offset, depth, path, why, why_size))
                return -2;
        }
    }
    return 0;
}

//  Read a varint at *at; 0, or -1 when it runs past the end or past 64 bits
static int
s_varint (const uint8_t *data, size_t size, size_t *at, uint64_t *value)
{
    *value = 0;
    for (unsigned shift = 0; shift < 64 && *at < size; shift += 7) {
        uint8_t byte = data [(*at)++];
        *value |= (uint64_t) (byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return 0;
    }
    return -1;
}

//  The field at *at on the wire: its number, its wire type, and where its
//  value lies (for a length-delimited field, the payload after the length).
//  0 with *at past the field, or -1 when the bytes run out or the wire type
//  is none proto3 writes (3 and 4 are groups).
static int
s_field (const uint8_t *data, size_t size, size_t *at, uint64_t *number, unsigned *wire,
         size_t *value_at, size_t *value_size)
{
    uint64_t tag, length;
    if (s_varint (data, size, at, &tag))
        return -1;
    *number = tag >> 3;
    *wire = (unsigned) (tag & 7);
    *value_at = *at;
    if (*wire == 0) {
        if (s_varint (data, size, at, &length))
            return -1;
    }
    else
    if (*wire == 1 || *wire == 5) {
        size_t width = *wire == 1? 8: 4;
        if (size - *at < width)
            return -1;
        *at += width;
    }
    else {
        if (*wire != 2 || s_varint (data, size, at, &length) || length > size - *at)
            return -1;
        *value_at = *at;
        *at += (size_t) length;
    }
    *value_size = *at - *value_at;
    return 0;
}

//  protobuf-c copies a string to its NUL-ended C form, so one holding a NUL
//  reaches a handler cut there, and whatever followed (any bytes: the UTF-8
//  check sees only the part before) is gone without a word. The unpacked
//  message has lost the length, so the wire bytes are walked with the
//  descriptor: every string field (and every string inside a message field)
//  is searched for a NUL. Unknown fields and bytes fields may hold anything.
//  Runs after a successful unpack, so the structure is sound; every length
//  is still checked. 0, or -2 with why.
static int
s_check_nul (const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size, int depth,
             const char *path, char *why, size_t why_size)
{
    if (depth > MAX_DEPTH) {
        s_why (why, why_size, path, "", "nested too deeply");
        return -2;
    }
    size_t at = 0;
    while (at < size) {
        uint64_t number;
        unsigned wire;
        size_t value_at, length;
        if (s_field (data, size, &at, &number, &wire, &value_at, &length)) {
            s_why (why, why_size, path, "", "malformed");
            return -2;
        }
        const ProtobufCFieldDescriptor *field = wire == 2 && number <= UINT32_MAX?
            protobuf_c_message_descriptor_get_field (d, (unsigned) number): NULL;
        if (field && field->type == PROTOBUF_C_TYPE_STRING
        &&  memchr (data + value_at, 0, length)) {
            s_why (why, why_size, path, field->name, "holds a NUL byte");
            return -2;
        }
        if (field && field->type == PROTOBUF_C_TYPE_MESSAGE) {
            char subpath [256];
            snprintf (subpath, sizeof subpath, "%s%s.", path, field->name);
            if (s_check_nul (field->descriptor, data + value_at, length, depth + 1, subpath,
                             why, why_size))
                return -2;
        }
    }
    return 0;
}

int
lg_codec_without_fields (const uint8_t *data, size_t size, const uint32_t *numbers, size_t count,
                         uint8_t *out, size_t *out_size)
{
    *out_size = 0;
    size_t at = 0;
    while (at < size) {
        size_t start = at, value_at, length;
        uint64_t number;
        unsigned wire;
        if (s_field (data, size, &at, &number, &wire, &value_at, &length))
            return -1;
        bool dropped = false;
        for (size_t i = 0; i < count && !dropped; i++)
            dropped = number == numbers [i];
        if (!dropped) {
            memcpy (out + *out_size, data + start, at - start);
            *out_size += at - start;
        }
    }
    return 0;
}

int
lg_codec_find_field (const uint8_t *data, size_t size, uint32_t number,
                     size_t *value_at, size_t *value_size)
{
    bool found = false;
    size_t at = 0;
    while (at < size) {
        uint64_t this_number;
        unsigned wire;
        size_t this_at, this_size;
        if (s_field (data, size, &at, &this_number, &wire, &this_at, &this_size))
            break;
        if (this_number == number && wire == 2) {
            *value_at = this_at;
            *value_size = this_size;
            found = true;
        }
    }
    return found? 0: -1;
}

//  A 64-bit unsigned field of msg or its messages above max: 1 with where it
//  is, 0 when there is none
static int
s_above (const ProtobufCMessage *msg, uint64_t max, int depth, const char *path,
         char *where, size_t where_size, uint64_t *value)
{
    if (depth > MAX_DEPTH)
        return 0;                   //  lg_codec_decode refuses such a message
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *) msg;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        bool wide = field->type == PROTOBUF_C_TYPE_UINT64 || field->type == PROTOBUF_C_TYPE_FIXED64;
        if (!wide && field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t count = 1;
        const char *values = base + field->offset;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *) (base + field->quantifier_offset);
            values = *(char * const *) (base + field->offset);
        }
        else
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        &&  *(const uint32_t *) (base + field->quantifier_offset) != field->id)
            continue;
        for (size_t j = 0; j < count; j++) {
            char here [256];        //  one byte kept for the '.' of a message's path
            if (field->label == PROTOBUF_C_LABEL_REPEATED)
                snprintf (here, sizeof here - 1, "%s%s[%zu]", path, field->name, j);
            else
                snprintf (here, sizeof here - 1, "%s%s", path, field->name);
            if (wide) {
                uint64_t number = ((const uint64_t *) values) [j];
                if (number > max) {
                    snprintf (where, where_size, "%s", here);
                    *value = number;
                    return 1;
                }
                continue;
            }
            const ProtobufCMessage *sub = ((ProtobufCMessage * const *) values) [j];
            strcat (here, ".");
            if (sub && s_above (sub, max, depth + 1, here, where, where_size, value))
                return 1;
        }
    }
    return 0;
}

int
lg_codec_uint64_above (const ProtobufCMessage *msg, uint64_t max, char *where, size_t where_size,
                       uint64_t *value)
{
    return msg? s_above (msg, max, 0, "", where, where_size, value): 0;
}

int
lg_codec_validate (const ProtobufCMessage *msg, char *why, size_t why_size)
{
    if (!msg)
        return -2;
    return s_validate (msg, 0, "", why, why_size);
}

int
lg_codec_decode (const ProtobufCMessageDescriptor *descriptor, const void *data, size_t size,
                 size_t limit, ProtobufCMessage **msg_p, char *why, size_t why_size)
{
    assert (descriptor);
    assert (msg_p);
    *msg_p = NULL;
    if (size > limit) {
        if (why && why_size)
            snprintf (why, why_size, "message of %zu bytes is over the limit of %zu", size, limit);
        return -1;
    }
    ProtobufCMessage *msg = protobuf_c_message_unpack (descriptor, NULL, size,
                                                       (const uint8_t *) data);
    if (!msg) {
        if (why && why_size)
            snprintf (why, why_size, "malformed %s", descriptor->short_name);
        return -2;
    }
    if (lg_codec_validate (msg, why, why_size)
    ||  s_check_nul (descriptor, (const uint8_t *) data, size, 0, "", why, why_size)) {
        protobuf_c_message_free_unpacked (msg, NULL);
        return -2;
    }
    *msg_p = msg;
    return 0;
}

zframe_t *
lg_codec_frame (const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    zframe_t *frame = zframe_new (NULL, size);
    if (frame)
        protobuf_c_message_pack (msg, zframe_data (frame));
    return frame;
}

const ProtobufCFieldDescriptor *
lg_codec_body_field (const ProtobufCMessageDescriptor *d, unsigned case_number)
{
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field (d, case_number);
    if (field && (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return field;
    return NULL;
}

const Lgwan__V1__IsolationApplied *
lg_codec_isolation_applied (const lg_event_t *event)
{
    switch (event->body_case) {
        case LGWAN__V1__EVENT__BODY_DISCONNECTED:   return event->disconnected;
        case LGWAN__V1__EVENT__BODY_SUSPENDED:      return event->suspended;
        case LGWAN__V1__EVENT__BODY_RECONNECTED:    return event->reconnected;
        case LGWAN__V1__EVENT__BODY_DECOMMISSIONED: return event->decommissioned;
        default:                                    return NULL;
    }
}

char *
lg_codec_not_dropped_said (bool no_point, char *const *points, size_t n)
{
    if (no_point)
        return strdup ("NO ENFORCEMENT POINT registered: nothing dropped anywhere");
    if (n == 0)
        return NULL;
    char *names = strdup ("");
    for (size_t i = 0; i < n && names; i++) {
        char *longer = zsys_sprintf ("%s%s%s", names, i? ", ": "", points [i]);
        free (names);
        names = longer;
    }
    char *said = names? zsys_sprintf ("DRY RUN at %s: nothing dropped there", names): NULL;
    free (names);
    return said;
}

//  --------------------------------------------------------------------------
//  Self test: a first example of use

void
lg_codec_test (bool verbose)
{
    if (verbose)
        printf (" * lg_codec: ");
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "テスト株式会社";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) "r1";
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;
    zframe_t *frame = lg_codec_frame (&request.base);
    assert (frame);

    ProtobufCMessage *msg;
    int rc = lg_codec_decode (&lgwan__v1__request__descriptor, zframe_data (frame),
                              zframe_size (frame), 1024, &msg, NULL, 0);
    assert (rc == 0);
    lg_request_t *copy = (lg_request_t *) msg;
    assert (streq (copy->provider_apply->name_ja, "テスト株式会社"));
    protobuf_c_message_free_unpacked (msg, NULL);

    rc = lg_codec_decode (&lgwan__v1__request__descriptor, zframe_data (frame),
                          zframe_size (frame), 4, &msg, NULL, 0);
    assert (rc == -1);
    zframe_destroy (&frame);

    //  Fields dropped from the wire bytes, the rest byte for byte: an
    //  unknown field 50 in front stays in front, a long varint stays long
    const uint8_t wire [] = { 0x90, 0x03, 0x01,  0x0a, 0x02, 'r', '1',
                              0x10, 0x81, 0x80, 0x00,  0x0a, 0x01, 'x' };
    uint8_t kept [sizeof wire];
    size_t kept_size;
    assert (lg_codec_without_fields (wire, sizeof wire, (const uint32_t []) { 1 }, 1,
                                     kept, &kept_size) == 0);
    assert (kept_size == 7 && memcmp (kept, "\x90\x03\x01\x10\x81\x80\x00", 7) == 0);
    assert (lg_codec_without_fields (wire, sizeof wire - 1, (const uint32_t []) { 1 }, 1,
                                     kept, &kept_size) == -1);

    //  A field found without unpacking: the last of its occurrences, also
    //  in bytes cut short after it; none in bytes cut before it
    size_t at, length;
    assert (lg_codec_find_field (wire, sizeof wire, 1, &at, &length) == 0);
    assert (at == 13 && length == 1 && wire [at] == 'x');
    assert (lg_codec_find_field (wire, 11, 1, &at, &length) == 0);
    assert (at == 5 && length == 2 && memcmp (wire + at, "r1", 2) == 0);
    assert (lg_codec_find_field (wire, 6, 1, &at, &length) == -1);
    assert (lg_codec_find_field (wire, sizeof wire, 2, &at, &length) == -1);   //  a varint

    //  A uint64 past a bigint, wherever it is: in a repeated field, in a
    //  message field, in the oneof member set (the body); INT64_MAX is not
    //  above INT64_MAX
    uint64_t connections [] = { 7, (uint64_t) INT64_MAX, (uint64_t) INT64_MAX + 1 };
    Lgwan__V1__Disconnect disconnect = LGWAN__V1__DISCONNECT__INIT;
    disconnect.connections = connections;
    disconnect.n_connections = 2;
    request.body_case = LGWAN__V1__REQUEST__BODY_DISCONNECT;
    request.disconnect = &disconnect;
    char where [64];
    uint64_t value = 0;
    assert (lg_codec_uint64_above (&request.base, INT64_MAX, where, sizeof where, &value) == 0);
    disconnect.n_connections = 3;
    assert (lg_codec_uint64_above (&request.base, INT64_MAX, where, sizeof where, &value) == 1);
    assert (streq (where, "disconnect.connections[2]") && value == (uint64_t) INT64_MAX + 1);
    assert (lg_codec_uint64_above (&disconnect.base, INT64_MAX, where, sizeof where, &value) == 1);
    assert (streq (where, "connections[2]"));
    Lgwan__V1__Rule rule = LGWAN__V1__RULE__INIT;
    rule.signature_id = UINT64_MAX;
    Lgwan__V1__RuleSet set = LGWAN__V1__RULE_SET__INIT;
    set.rule = &rule;
    assert (lg_codec_uint64_above (&set.base, INT64_MAX, where, sizeof where, &value) == 1);
    assert (streq (where, "rule.signature_id") && value == UINT64_MAX);
    rule.signature_id = 9;
    assert (lg_codec_uint64_above (&set.base, INT64_MAX, where, sizeof where, &value) == 0);
    if (verbose)
        printf ("OK\n");
}
