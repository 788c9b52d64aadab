/*  lg_pbjson - proto3 JSON for any protobuf-c message, from its descriptor.

    protobuf-c has no JSON of its own, and we want one mapping for every
    message type, old and new, so nothing here names a message. Both sides
    walk ProtobufCMessageDescriptor; what they rely on from protobuf-c:

    1. A field's storage is at ->offset; a repeated field's count (size_t) and
       a oneof's case (uint32_t) are at ->quantifier_offset, as are the has_
       flags of optional scalars.
    2. protobuf_c_message_free_unpacked (msg, NULL) frees, with free (), every
       string that is not the field's default, every bytes buffer, every
       repeated array and its elements, every submessage, and only the oneof
       member whose number is in the case. The parser keeps a message in that
       shape after every single step, so a failure halfway is freed the same
       way as a success.
    3. Proto3 scalars have no presence: a value equal to the default is "not
       set" and is not printed unless LG_PBJSON_EMIT_DEFAULTS. Messages, oneof
       members and proto3 `optional` fields do have presence.
*/
#include "lg_lib.h"
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <strings.h>

#define MAX_DEPTH    32     //  as lg_codec: deeper than any of our messages
#define NAME_MAX_LEN 128    //  a JSON field name

//  Where the parser is, for error messages: holders[1].role
typedef struct {
    char path [256];
    size_t len;
    char *why;
    size_t why_size;
} parse_t;

//  --------------------------------------------------------------------------
//  Field storage

//  Bytes one element of a field takes in a repeated array
static size_t
s_elem_size (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return sizeof (uint32_t);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return sizeof (uint64_t);
        case PROTOBUF_C_TYPE_FLOAT:
            return sizeof (float);
        case PROTOBUF_C_TYPE_DOUBLE:
            return sizeof (double);
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof (protobuf_c_boolean);
        case PROTOBUF_C_TYPE_ENUM:
            return sizeof (int);
        case PROTOBUF_C_TYPE_STRING:
            return sizeof (char *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof (ProtobufCMessage *);
    }
    return sizeof (void *);
}

static void *
s_member (const ProtobufCMessage *msg, unsigned offset)
{
    return (char *) msg + offset;
}

//  Whether an optional field carries a has_ flag (protobuf-c gives strings
//  and messages presence through their pointer instead)
static bool
s_has_flag (const ProtobufCFieldDescriptor *field)
{
    return field->label == PROTOBUF_C_LABEL_OPTIONAL
        && !(field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        && field->type != PROTOBUF_C_TYPE_STRING
        && field->type != PROTOBUF_C_TYPE_MESSAGE;
}

//  Free whatever one value of the field owns; the slot is then garbage
static void
s_free_value (const ProtobufCFieldDescriptor *field, void *slot)
{
    if (field->type == PROTOBUF_C_TYPE_STRING) {
        char *text = *(char **) slot;
        if (text && text != (const char *) field->default_value)
            free (text);
    }
    else
    if (field->type == PROTOBUF_C_TYPE_BYTES) {
        const ProtobufCBinaryData *dflt = field->default_value;
        uint8_t *data = ((ProtobufCBinaryData *) slot)->data;
        if (data && (!dflt || dflt->data != data))
            free (data);
    }
    else
    if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        ProtobufCMessage *sub = *(ProtobufCMessage **) slot;
        if (sub)
            protobuf_c_message_free_unpacked (sub, NULL);
    }
}

//  Free the field's value and put it back to its default (a oneof member:
//  unset, when it is the one set)
static void
s_clear_field (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field)
{
    void *slot = s_member (msg, field->offset);
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *count = s_member (msg, field->quantifier_offset);
        char *array = *(char **) slot;
        size_t elem = s_elem_size (field->type);
        for (size_t i = 0; array && i < *count; i++)
            s_free_value (field, array + i * elem);
        free (array);
        *(char **) slot = NULL;
        *count = 0;
        return;
    }
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = s_member (msg, field->quantifier_offset);
        if (*which != field->id)
            return;
        *which = 0;
    }
    s_free_value (field, slot);
    if (field->type == PROTOBUF_C_TYPE_STRING)
        *(const char **) slot = (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)?
                                NULL: field->default_value;
    else
        memset (slot, 0, s_elem_size (field->type));
    if (s_has_flag (field))
        *(protobuf_c_boolean *) s_member (msg, field->quantifier_offset) = 0;
}

//  Setting one member of a oneof unsets the member that was set
static void
s_clear_oneof (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field)
{
    uint32_t *which = s_member (msg, field->quantifier_offset);
    if (*which == 0 || *which == field->id)
        return;
    const ProtobufCFieldDescriptor *other =
        protobuf_c_message_descriptor_get_field (msg->descriptor, *which);
    if (other)
        s_clear_field (msg, other);
    *which = 0;
}

//  --------------------------------------------------------------------------
//  Names

void
lg_pbjson_json_name (const char *name, char *buffer, size_t size)
{
    if (!buffer || size == 0)
        return;
    size_t len = 0;
    bool upper = false;
    for (const char *s = name? name: ""; *s && len + 1 < size; s++) {
        if (*s == '_')
            upper = true;
        else {
            buffer [len++] = upper? (char) toupper ((unsigned char) *s): *s;
            upper = false;
        }
    }
    buffer [len] = 0;
}

const ProtobufCFieldDescriptor *
lg_pbjson_field (const ProtobufCMessageDescriptor *d, const char *name)
{
    if (!d || !name)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        char json_name [NAME_MAX_LEN];
        lg_pbjson_json_name (d->fields [i].name, json_name, sizeof json_name);
        if (streq (d->fields [i].name, name) || streq (json_name, name))
            return d->fields + i;
    }
    return NULL;
}

const char *
lg_pbjson_type_name (const ProtobufCFieldDescriptor *field)
{
    static const char *names [] = {
        [PROTOBUF_C_TYPE_INT32] = "int32",       [PROTOBUF_C_TYPE_SINT32] = "sint32",
        [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
        [PROTOBUF_C_TYPE_SINT64] = "sint64",     [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
        [PROTOBUF_C_TYPE_UINT32] = "uint32",     [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
        [PROTOBUF_C_TYPE_UINT64] = "uint64",     [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
        [PROTOBUF_C_TYPE_FLOAT] = "float",       [PROTOBUF_C_TYPE_DOUBLE] = "double",
        [PROTOBUF_C_TYPE_BOOL] = "bool",         [PROTOBUF_C_TYPE_STRING] = "string",
        [PROTOBUF_C_TYPE_BYTES] = "bytes"
    };
    if (!field)
        return "";
    if (field->type == PROTOBUF_C_TYPE_ENUM)
        return ((const ProtobufCEnumDescriptor *) field->descriptor)->short_name;
    if (field->type == PROTOBUF_C_TYPE_MESSAGE)
        return ((const ProtobufCMessageDescriptor *) field->descriptor)->short_name;
    if ((unsigned) field->type < sizeof names / sizeof names [0] && names [field->type])
        return names [field->type];
    return "?";
}

//  --------------------------------------------------------------------------
//  Base64 (RFC 4648): we print the standard alphabet with padding and read
//  both alphabets, padded or not, as proto3 JSON asks

static const char s_b64 [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *
s_base64_encode (const uint8_t *data, size_t size)
{
    size_t out_size = (size + 2) / 3 * 4;
    char *out = malloc (out_size + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t chunk = (uint32_t) data [i] << 16;
        if (i + 1 < size)
            chunk |= (uint32_t) data [i + 1] << 8;
        if (i + 2 < size)
            chunk |= data [i + 2];
        out [o++] = s_b64 [(chunk >> 18) & 63];
        out [o++] = s_b64 [(chunk >> 12) & 63];
        out [o++] = i + 1 < size? s_b64 [(chunk >> 6) & 63]: '=';
        out [o++] = i + 2 < size? s_b64 [chunk & 63]: '=';
    }
    json_t *json = json_stringn (out, o);
    free (out);
    return json;
}

static int
s_base64_digit (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

//  0 ok with a heap buffer (NULL when empty), -1 malformed, -2 out of memory
static int
s_base64_decode (const char *text, size_t len, ProtobufCBinaryData *out)
{
    out->data = NULL;
    out->len = 0;
    if (len % 4 == 0 && len >= 1 && text [len - 1] == '=')
        len--;
    if (len % 4 == 3 && len >= 1 && text [len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    if (len == 0)
        return 0;
    uint8_t *data = malloc (len / 4 * 3 + 3);
    if (!data)
        return -2;
    size_t o = 0;
    uint32_t chunk = 0;
    for (size_t i = 0; i < len; i++) {
        int digit = s_base64_digit (text [i]);
        if (digit < 0) {
            free (data);
            return -1;
        }
        chunk = (chunk << 6) | (uint32_t) digit;
        if (i % 4 == 3) {
            data [o++] = (uint8_t) (chunk >> 16);
            data [o++] = (uint8_t) (chunk >> 8);
            data [o++] = (uint8_t) chunk;
            chunk = 0;
        }
    }
    if (len % 4 == 2)
        data [o++] = (uint8_t) (chunk >> 4);
    else
    if (len % 4 == 3) {
        data [o++] = (uint8_t) (chunk >> 10);
        data [o++] = (uint8_t) (chunk >> 2);
    }
    out->data = data;
    out->len = o;
    return 0;
}

//  --------------------------------------------------------------------------
//  Printer

static json_t *s_print_message (const ProtobufCMessage *msg, int flags, int depth);

static json_t *
s_print_real (double value)
{
    if (isnan (value))
        return json_string ("NaN");
    if (isinf (value))
        return json_string (value > 0? "Infinity": "-Infinity");
    return json_real (value);
}

static json_t *
s_print_value (const ProtobufCFieldDescriptor *field, const void *slot, int flags, int depth)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            return json_integer (*(const int32_t *) slot);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return json_integer (*(const uint32_t *) slot);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            return json_sprintf ("%" PRId64, *(const int64_t *) slot);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return json_sprintf ("%" PRIu64, *(const uint64_t *) slot);
        case PROTOBUF_C_TYPE_FLOAT:
            return s_print_real (*(const float *) slot);
        case PROTOBUF_C_TYPE_DOUBLE:
            return s_print_real (*(const double *) slot);
        case PROTOBUF_C_TYPE_BOOL:
            return json_boolean (*(const protobuf_c_boolean *) slot);
        case PROTOBUF_C_TYPE_ENUM: {
            int number = *(const int *) slot;
            const ProtobufCEnumValue *value =
                protobuf_c_enum_descriptor_get_value (field->descriptor, number);
            return value? json_string (value->name): json_integer (number);
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *text = *(char * const *) slot;
            return json_string (text? text: "");        //  NULL if not UTF-8
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *bytes = slot;
            return s_base64_encode (bytes->data, bytes->data? bytes->len: 0);
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage * const *) slot;
            return sub? s_print_message (sub, flags, depth + 1): json_object ();
        }
    }
    return NULL;
}

static bool
s_is_default (const ProtobufCFieldDescriptor *field, const void *slot)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_FLOAT:
            return *(const float *) slot == 0 && !signbit (*(const float *) slot);
        case PROTOBUF_C_TYPE_DOUBLE:
            return *(const double *) slot == 0 && !signbit (*(const double *) slot);
        case PROTOBUF_C_TYPE_STRING: {
            const char *text = *(char * const *) slot;
            return !text || !*text;
        }
        case PROTOBUF_C_TYPE_BYTES:
            return ((const ProtobufCBinaryData *) slot)->len == 0;
        case PROTOBUF_C_TYPE_MESSAGE:
            return *(ProtobufCMessage * const *) slot == NULL;
        default: {
            //  Integers, bools and enums: all bytes zero
            const uint8_t *bytes = slot;
            for (size_t i = 0; i < s_elem_size (field->type); i++)
                if (bytes [i])
                    return false;
            return true;
        }
    }
}

//  Whether a singular field is printed
static bool
s_is_present (const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field, int flags)
{
    const void *slot = s_member (msg, field->offset);
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *) s_member (msg, field->quantifier_offset) == field->id;
    if (field->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(ProtobufCMessage * const *) slot != NULL;
    if (field->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (field->type == PROTOBUF_C_TYPE_STRING)
            return *(char * const *) slot != NULL;
        return *(const protobuf_c_boolean *) s_member (msg, field->quantifier_offset);
    }
    return (flags & LG_PBJSON_EMIT_DEFAULTS) || !s_is_default (field, slot);
}

static json_t *
s_print_field (const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
               int flags, int depth)
{
    if (field->label != PROTOBUF_C_LABEL_REPEATED)
        return s_print_value (field, s_member (msg, field->offset), flags, depth);

    size_t count = *(const size_t *) s_member (msg, field->quantifier_offset);
    const char *array = *(char * const *) s_member (msg, field->offset);
    size_t elem = s_elem_size (field->type);
    json_t *list = json_array ();
    for (size_t i = 0; list && array && i < count; i++) {
        json_t *value = s_print_value (field, array + i * elem, flags, depth);
        if (json_array_append_new (list, value)) {
            json_decref (list);
            list = NULL;
        }
    }
    return list;
}

static json_t *
s_print_message (const ProtobufCMessage *msg, int flags, int depth)
{
    if (depth > MAX_DEPTH)
        return NULL;
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *object = json_object ();
    for (unsigned i = 0; object && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *) s_member (msg, field->quantifier_offset);
            if (count == 0 && !(flags & LG_PBJSON_EMIT_DEFAULTS))
                continue;
        }
        else
        if (!s_is_present (msg, field, flags))
            continue;

        char key [NAME_MAX_LEN];
        if (flags & LG_PBJSON_PROTO_NAMES)
            snprintf (key, sizeof key, "%s", field->name);
        else
            lg_pbjson_json_name (field->name, key, sizeof key);
        if (json_object_set_new (object, key, s_print_field (msg, field, flags, depth))) {
            json_decref (object);
            object = NULL;
        }
    }
    return object;
}

json_t *
lg_pbjson_from_message (const ProtobufCMessage *msg, int flags)
{
    if (!msg || !msg->descriptor)
        return NULL;
    return s_print_message (msg, flags, 0);
}

//  --------------------------------------------------------------------------
//  Parser

static int
s_fail (parse_t *self, const char *format, ...)
{
    if (!self->why || !self->why_size)
        return -1;
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    if (self->len)
        snprintf (self->why, self->why_size, "%s: %s", self->path, message);
    else
        snprintf (self->why, self->why_size, "%s", message);
    return -1;
}

//  Descend into a field or an element; returns the length to pop back to
static size_t
s_push (parse_t *self, const char *key, size_t index)
{
    size_t mark = self->len;
    size_t room = sizeof self->path - self->len;
    int n;
    if (key)
        n = snprintf (self->path + self->len, room, "%s%s", self->len? ".": "", key);
    else
        n = snprintf (self->path + self->len, room, "[%zu]", index);
    if (n > 0)
        self->len += (size_t) n < room? (size_t) n: room - 1;
    return mark;
}

static void
s_pop (parse_t *self, size_t mark)
{
    self->len = mark;
    self->path [mark] = 0;
}

//  A decimal integer as text: optional '-' (when signed), digits, nothing else
static bool
s_is_decimal (const char *text, bool is_signed)
{
    if (is_signed && *text == '-')
        text++;
    if (!*text)
        return false;
    for (; *text; text++)
        if (*text < '0' || *text > '9')
            return false;
    return true;
}

//  Whether a real is a whole number (without libm: every double from 2^53
//  on is whole)
static bool
s_is_whole (double real)
{
    if (!isfinite (real))
        return false;
    if (real >= 9007199254740992.0 || real <= -9007199254740992.0)
        return true;
    return (double) (int64_t) real == real;
}

//  A JSON value as a signed integer within [min, max]
static int
s_json_int (parse_t *self, json_t *json, int64_t min, int64_t max, const char *type,
            int64_t *value)
{
    if (json_is_integer (json))
        *value = json_integer_value (json);
    else
    if (json_is_real (json)) {
        double real = json_real_value (json);
        if (!s_is_whole (real))
            return s_fail (self, "%g is not an integer", real);
        if (!(real >= -9223372036854775808.0 && real < 9223372036854775808.0))
            return s_fail (self, "%g is out of range for %s", real, type);
        *value = (int64_t) real;
    }
    else
    if (json_is_string (json)) {
        const char *text = json_string_value (json);
        if (strlen (text) != json_string_length (json) || !s_is_decimal (text, true))
            return s_fail (self, "\"%.40s\" is not an integer", text);
        errno = 0;
        long long parsed = strtoll (text, NULL, 10);
        if (errno == ERANGE)
            return s_fail (self, "%.40s is out of range for %s", text, type);
        *value = parsed;
    }
    else
        return s_fail (self, "expected an integer (%s)", type);
    if (*value < min || *value > max)
        return s_fail (self, "%" PRId64 " is out of range for %s", *value, type);
    return 0;
}

//  A JSON value as an unsigned integer up to max
static int
s_json_uint (parse_t *self, json_t *json, uint64_t max, const char *type, uint64_t *value)
{
    if (json_is_integer (json)) {
        json_int_t number = json_integer_value (json);
        if (number < 0)
            return s_fail (self, "%lld is out of range for %s", (long long) number, type);
        *value = (uint64_t) number;
    }
    else
    if (json_is_real (json)) {
        double real = json_real_value (json);
        if (!s_is_whole (real))
            return s_fail (self, "%g is not an integer", real);
        if (!(real >= 0 && real < 18446744073709551616.0))
            return s_fail (self, "%g is out of range for %s", real, type);
        *value = (uint64_t) real;
    }
    else
    if (json_is_string (json)) {
        const char *text = json_string_value (json);
        if (strlen (text) != json_string_length (json) || !s_is_decimal (text, true))
            return s_fail (self, "\"%.40s\" is not an integer", text);
        if (*text == '-')
            return s_fail (self, "%.40s is out of range for %s", text, type);
        errno = 0;
        unsigned long long parsed = strtoull (text, NULL, 10);
        if (errno == ERANGE)
            return s_fail (self, "%.40s is out of range for %s", text, type);
        *value = parsed;
    }
    else
        return s_fail (self, "expected an integer (%s)", type);
    if (*value > max)
        return s_fail (self, "%" PRIu64 " is out of range for %s", *value, type);
    return 0;
}

//  A JSON value as a real: a number, a numeric string, "NaN", "Infinity"
static int
s_json_real (parse_t *self, json_t *json, double *value)
{
    if (json_is_number (json)) {
        *value = json_number_value (json);
        return 0;
    }
    if (!json_is_string (json))
        return s_fail (self, "expected a number");
    const char *text = json_string_value (json);
    if (streq (text, "NaN"))
        *value = NAN;
    else
    if (streq (text, "Infinity"))
        *value = INFINITY;
    else
    if (streq (text, "-Infinity"))
        *value = -INFINITY;
    else {
        char *end;
        errno = 0;
        *value = strtod (text, &end);
        bool numeric = *text && (isdigit ((unsigned char) *text) || *text == '-' || *text == '.');
        if (!numeric || *end || end == text || !isfinite (*value) || errno == ERANGE)
            return s_fail (self, "\"%.40s\" is not a number", text);
    }
    return 0;
}

static int
s_json_enum (parse_t *self, json_t *json, const ProtobufCEnumDescriptor *ed, int *value)
{
    const ProtobufCEnumValue *known = NULL;
    if (json_is_string (json)) {
        const char *text = json_string_value (json);
        known = protobuf_c_enum_descriptor_get_value_by_name (ed, text);
        if (!known && s_is_decimal (text, true)) {
            errno = 0;
            long long number = strtoll (text, NULL, 10);
            if (errno == 0 && number >= INT32_MIN && number <= INT32_MAX)
                known = protobuf_c_enum_descriptor_get_value (ed, (int) number);
        }
        if (!known)
            return s_fail (self, "unknown enum value \"%.60s\"", text);
    }
    else
    if (json_is_integer (json)) {
        json_int_t number = json_integer_value (json);
        if (number >= INT32_MIN && number <= INT32_MAX)
            known = protobuf_c_enum_descriptor_get_value (ed, (int) number);
        if (!known)
            return s_fail (self, "unknown enum value %lld", (long long) number);
    }
    else
        return s_fail (self, "expected a %s name or number", ed->short_name);
    *value = known->value;
    return 0;
}

static int s_parse_message (parse_t *self, json_t *json, ProtobufCMessage *msg, int depth);

//  Parse one value into slot, which holds nothing. A submessage is linked
//  into slot before it is filled, so freeing slot frees a half-built one.
static int
s_parse_value (parse_t *self, const ProtobufCFieldDescriptor *field, json_t *json,
               void *slot, int depth)
{
    int64_t signed_value;
    uint64_t unsigned_value;
    double real;
    const char *type = lg_pbjson_type_name (field);

    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            if (s_json_int (self, json, INT32_MIN, INT32_MAX, type, &signed_value))
                return -1;
            *(int32_t *) slot = (int32_t) signed_value;
            return 0;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            if (s_json_int (self, json, INT64_MIN, INT64_MAX, type, &signed_value))
                return -1;
            *(int64_t *) slot = signed_value;
            return 0;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            if (s_json_uint (self, json, UINT32_MAX, type, &unsigned_value))
                return -1;
            *(uint32_t *) slot = (uint32_t) unsigned_value;
            return 0;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            if (s_json_uint (self, json, UINT64_MAX, type, &unsigned_value))
                return -1;
            *(uint64_t *) slot = unsigned_value;
            return 0;
        case PROTOBUF_C_TYPE_FLOAT:
            if (s_json_real (self, json, &real))
                return -1;
            if (isfinite (real) && (real > FLT_MAX || real < -FLT_MAX))
                return s_fail (self, "%g is out of range for float", real);
            *(float *) slot = (float) real;
            return 0;
        case PROTOBUF_C_TYPE_DOUBLE:
            if (s_json_real (self, json, &real))
                return -1;
            *(double *) slot = real;
            return 0;
        case PROTOBUF_C_TYPE_BOOL:
            if (!json_is_boolean (json))
                return s_fail (self, "expected true or false");
            *(protobuf_c_boolean *) slot = json_is_true (json);
            return 0;
        case PROTOBUF_C_TYPE_ENUM:
            return s_json_enum (self, json, field->descriptor, (int *) slot);
        case PROTOBUF_C_TYPE_STRING: {
            if (!json_is_string (json))
                return s_fail (self, "expected a string");
            const char *text = json_string_value (json);
            size_t size = json_string_length (json);
            if (memchr (text, 0, size))
                return s_fail (self, "string holds a NUL character");
            if (!lg_check_utf8 (text, size))
                return s_fail (self, "not valid UTF-8");
            char *copy = malloc (size + 1);
            if (!copy)
                return s_fail (self, "out of memory");
            memcpy (copy, text, size + 1);
            *(char **) slot = copy;
            return 0;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            if (!json_is_string (json))
                return s_fail (self, "expected a base64 string");
            int rc = s_base64_decode (json_string_value (json), json_string_length (json),
                                      (ProtobufCBinaryData *) slot);
            if (rc == -1)
                return s_fail (self, "not valid base64");
            if (rc == -2)
                return s_fail (self, "out of memory");
            return 0;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessageDescriptor *d = field->descriptor;
            if (!json_is_object (json))
                return s_fail (self, "expected an object (%s)", d->short_name);
            if (depth >= MAX_DEPTH)
                return s_fail (self, "nested too deeply");
            ProtobufCMessage *sub = malloc (d->sizeof_message);
            if (!sub)
                return s_fail (self, "out of memory");
            protobuf_c_message_init (d, sub);
            *(ProtobufCMessage **) slot = sub;
            return s_parse_message (self, json, sub, depth + 1);
        }
    }
    return s_fail (self, "unsupported field type");
}

//  Room for one value of any type, parsed before it goes into the message
typedef union {
    uint64_t integer;
    double real;
    void *pointer;
    ProtobufCBinaryData bytes;
} value_t;

//  Parse one value aside; on failure what it holds is freed
static int
s_parse_aside (parse_t *self, const ProtobufCFieldDescriptor *field, json_t *json,
               value_t *value, int depth)
{
    memset (value, 0, sizeof *value);
    if (s_parse_value (self, field, json, value, depth) == 0)
        return 0;
    s_free_value (field, value);
    return -1;
}

//  Append one value to a repeated field
static int
s_append (parse_t *self, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
          json_t *json, int depth)
{
    value_t value;
    if (s_parse_aside (self, field, json, &value, depth))
        return -1;
    size_t *count = s_member (msg, field->quantifier_offset);
    char **array = s_member (msg, field->offset);
    size_t elem = s_elem_size (field->type);
    char *grown = realloc (*array, (*count + 1) * elem);
    if (!grown) {
        s_free_value (field, &value);
        return s_fail (self, "out of memory");
    }
    *array = grown;
    memcpy (grown + *count * elem, &value, elem);
    (*count)++;
    return 0;
}

//  Set one singular field, replacing what it held, or append to a repeated
//  one (each element of an array). On failure the field is as it was.
static int
s_parse_field (parse_t *self, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
               json_t *json, int depth)
{
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        if (!json_is_array (json))
            return s_append (self, msg, field, json, depth);
        size_t *count = s_member (msg, field->quantifier_offset);
        size_t was = *count;
        size_t i;
        json_t *element;
        json_array_foreach (json, i, element) {
            size_t mark = s_push (self, NULL, i);
            int rc = json_is_null (element)
                   ? s_fail (self, "null is not a value")
                   : s_append (self, msg, field, element, depth);
            if (rc) {
                char *array = *(char **) s_member (msg, field->offset);
                size_t elem = s_elem_size (field->type);
                for (; *count > was; (*count)--)
                    s_free_value (field, array + (*count - 1) * elem);
                return rc;
            }
            s_pop (self, mark);
        }
        return 0;
    }
    value_t value;
    if (s_parse_aside (self, field, json, &value, depth))
        return -1;
    s_clear_field (msg, field);
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        s_clear_oneof (msg, field);
        *(uint32_t *) s_member (msg, field->quantifier_offset) = field->id;
    }
    memcpy (s_member (msg, field->offset), &value, s_elem_size (field->type));
    if (s_has_flag (field))
        *(protobuf_c_boolean *) s_member (msg, field->quantifier_offset) = 1;
    return 0;
}

static int
s_parse_message (parse_t *self, json_t *json, ProtobufCMessage *msg, int depth)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (!json_is_object (json))
        return s_fail (self, "expected an object (%s)", d->short_name);

    //  Every key must name a field, by either name
    const char *key;
    json_t *value;
    json_object_foreach (json, key, value) {
        if (!lg_pbjson_field (d, key))
            return s_fail (self, "unknown field \"%.60s\" in %s", key, d->short_name);
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        char json_name [NAME_MAX_LEN];
        lg_pbjson_json_name (field->name, json_name, sizeof json_name);
        json_t *by_proto = json_object_get (json, field->name);
        json_t *by_json = streq (json_name, field->name)? NULL: json_object_get (json, json_name);
        if (by_proto && by_json)
            return s_fail (self, "field given twice, as \"%s\" and \"%s\"",
                           field->name, json_name);
        value = by_proto? by_proto: by_json;
        if (!value || json_is_null (value))
            continue;           //  proto3: null is the default

        size_t mark = s_push (self, by_proto? field->name: json_name, 0);
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *) s_member (msg, field->quantifier_offset);
            if (which && which != field->id) {
                const ProtobufCFieldDescriptor *other =
                    protobuf_c_message_descriptor_get_field (d, which);
                return s_fail (self, "only one of a oneof may be set, and \"%s\" is",
                               other? other->name: "?");
            }
        }
        if (field->label == PROTOBUF_C_LABEL_REPEATED && !json_is_array (value))
            return s_fail (self, "expected an array");
        if (s_parse_field (self, msg, field, value, depth))
            return -1;
        s_pop (self, mark);
    }
    return 0;
}

int
lg_pbjson_to_message (const ProtobufCMessageDescriptor *d, json_t *json,
                      ProtobufCMessage **msg_p, char *why, size_t why_size)
{
    parse_t self = { .why = why, .why_size = why_size };
    if (!msg_p)
        return s_fail (&self, "no place for the message");
    *msg_p = NULL;
    if (!d || !json)
        return s_fail (&self, "no descriptor or no JSON");
    if (!json_is_object (json))
        return s_fail (&self, "expected a JSON object (%s)", d->short_name);

    ProtobufCMessage *msg = malloc (d->sizeof_message);
    if (!msg)
        return s_fail (&self, "out of memory");
    protobuf_c_message_init (d, msg);
    if (s_parse_message (&self, json, msg, 0)) {
        protobuf_c_message_free_unpacked (msg, NULL);
        return -1;
    }
    *msg_p = msg;
    return 0;
}

int
lg_pbjson_parse (const ProtobufCMessageDescriptor *d, const char *text,
                 ProtobufCMessage **msg_p, char *why, size_t why_size)
{
    parse_t self = { .why = why, .why_size = why_size };
    if (msg_p)
        *msg_p = NULL;
    json_error_t error;
    json_t *json = json_loads (text? text: "", JSON_REJECT_DUPLICATES, &error);
    if (!json)
        return s_fail (&self, "not valid JSON: %s (line %d, column %d)",
                       error.text, error.line, error.column);
    int rc = lg_pbjson_to_message (d, json, msg_p, why, why_size);
    json_decref (json);
    return rc;
}

//  --------------------------------------------------------------------------
//  One field from text, as a person types it on a command line

static bool
s_same_name (const char *typed, const char *name)
{
    for (; *typed && *name; typed++, name++) {
        char c = *typed == '-'? '_': *typed;
        if (tolower ((unsigned char) c) != tolower ((unsigned char) *name))
            return false;
    }
    return *typed == *name;
}

//  The JSON value the text stands for, given the field's type
static json_t *
s_text_to_json (parse_t *self, const ProtobufCFieldDescriptor *field, const char *text)
{
    if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
        json_error_t error;
        json_t *json = json_loads (text, JSON_REJECT_DUPLICATES, &error);
        if (!json)
            s_fail (self, "not valid JSON: %s (column %d)", error.text, error.column);
        return json;
    }
    if (field->type == PROTOBUF_C_TYPE_BOOL) {
        static const char *yes [] = { "true", "yes", "on", "1" };
        static const char *no [] = { "false", "no", "off", "0" };
        for (size_t i = 0; i < sizeof yes / sizeof yes [0]; i++) {
            if (strcasecmp (text, yes [i]) == 0)
                return json_true ();
            if (strcasecmp (text, no [i]) == 0)
                return json_false ();
        }
        s_fail (self, "expected true or false, not \"%.40s\"", text);
        return NULL;
    }
    if (field->type == PROTOBUF_C_TYPE_ENUM) {
        const ProtobufCEnumDescriptor *ed = field->descriptor;
        for (unsigned i = 0; i < ed->n_values; i++)
            if (s_same_name (text, ed->values [i].name))
                return json_integer (ed->values [i].value);
    }
    //  Numbers, enum numbers, strings and base64 go through the JSON parser
    //  as strings; it checks UTF-8 and ranges
    json_t *json = json_stringn_nocheck (text, strlen (text));
    if (!json)
        s_fail (self, "out of memory");
    return json;
}

int
lg_pbjson_set_field (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                     const char *text, char *why, size_t why_size)
{
    parse_t self = { .why = why, .why_size = why_size };
    if (!msg || !field || !text)
        return s_fail (&self, "no message, field or value");
    s_push (&self, field->name, 0);
    json_t *json = s_text_to_json (&self, field, text);
    if (!json)
        return -1;
    int rc;
    if (field->label != PROTOBUF_C_LABEL_REPEATED && json_is_array (json)
    &&  field->type == PROTOBUF_C_TYPE_MESSAGE)
        rc = s_fail (&self, "expected an object, not an array");
    else
        rc = s_parse_field (&self, msg, field, json, 0);
    json_decref (json);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self test: a first example of use

//  Checks that hold in release builds too (assert is gone under NDEBUG)
#define s_require(cond) \
    do { if (!(cond)) { fprintf (stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort (); } } while (0)

void
lg_pbjson_test (bool verbose)
{
    if (verbose)
        printf (" * lg_pbjson: ");
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "株式会社テスト";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) "r1";
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;

    json_t *json = lg_pbjson_from_message (&request.base, 0);
    s_require (json);
    json_t *body = json_object_get (json, "providerApply");
    s_require (streq (json_string_value (json_object_get (body, "nameJa")), "株式会社テスト"));
    s_require (streq (json_string_value (json_object_get (body, "entityType")),
                   "PRIVATE_CORPORATION"));

    ProtobufCMessage *msg;
    char why [256];
    int rc = lg_pbjson_to_message (&lgwan__v1__request__descriptor, json, &msg, why, sizeof why);
    s_require (rc == 0);
    lg_request_t *copy = (lg_request_t *) msg;
    s_require (copy->body_case == LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY);
    s_require (streq (copy->provider_apply->name_ja, "株式会社テスト"));
    protobuf_c_message_free_unpacked (msg, NULL);
    json_decref (json);

    rc = lg_pbjson_parse (&lgwan__v1__request__descriptor,
                          "{\"providerGet\": {\"provider\": \"x\"}}", &msg, why, sizeof why);
    s_require (rc == -1);
    s_require (streq (why, "providerGet.provider: \"x\" is not an integer"));
    if (verbose)
        printf ("OK\n");
}
