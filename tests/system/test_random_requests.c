/*  test_random_requests - every service, sent well-formed requests full of
    random values by every role, answers each one with a clear status and
    changes nothing when it refuses (X.3).

    The requests are built from the descriptors, so every request type and
    every field is reached without code per type: a body (mostly one of the
    service's own, sometimes any other), each field present or not, values
    from palettes of what breaks software (empty, 10 KB, SQL metacharacters,
    Japanese, boundaries of every integer type, impossible dates, addresses
    and prefixes of both families, every enum value), arrays of 0 to 3,
    messages nested up to depth 4, at most one member of each oneof.
    The registry first gets a little real state (pools, two qualified
    providers, a service, a connection) so that small ids reach real rows,
    and the others follow it. A third of each service's requests are valid
    requests with one or two fields changed, which get past most checks to
    the rules behind them.

    Checked for every request: a reply came (the service is alive) with the
    request's id; its code is not INTERNAL, UNAVAILABLE or UNKNOWN; a refusal
    has a message and no body, names its requirement when PERMISSION_DENIED,
    INVALID_ARGUMENT or FAILED_PRECONDITION (X.3, or the rule's), and left
    every row of the service's tables as it was (a digest of them all, but
    `requests`, where refusals are stored so that a retry gets the same
    answer). At the end: no event in the service's outbox carries the id of
    a refused request (events are written with their
    request's id as correlation_id), the service still answers, and it stops
    cleanly (exit 0; in the sanitizer build, with no report). Isolation also
    gets random frames on its enforcer channel, from enforcer certificates
    and others, and bytes that are no frame: it must keep answering, and no
    point's acknowledged version may be above the head. One request
    in four is sent again with the same id: the same reply, byte for byte,
    and no further change (idempotency; Stats, which counts, aside).

    LG_TEST_SEED repeats a run (the seed is printed); LG_TEST_RANDOM_REQUESTS
    sets the count per service (default 400).
*/
#include "lg_test.h"
#include "lg_pbjson.h"

#define STRING_BIG  10240

static char *s_admin;
static char *s_certs;
static lg_test_proc_t s_registry = { .service = "registry" };
static uint64_t s_seed;
static uint64_t s_first_seed;           //  what LG_TEST_SEED repeats
static char s_big [STRING_BIG + 1];

static const char *s_roles [] = {
    "operator", "reviewer", "auditor", "viewer", "billing", "sensor", "enforcer", "service",
    "provider1", "provider2"
};

//  ---------------------------------------------------------------------------
//  Random values (xorshift64*, seeded: a failing run can be repeated)

static uint64_t
s_next (void)
{
    s_seed ^= s_seed >> 12;
    s_seed ^= s_seed << 25;
    s_seed ^= s_seed >> 27;
    return s_seed * 2685821657736338717ULL;
}

static size_t
s_below (size_t n)
{
    return (size_t) (s_next () % n);
}

#define PICK(array) ((array) [s_below (sizeof (array) / sizeof ((array) [0]))])

static json_t *
s_string (void)
{
    static const char *palette [] = {
        "", "a", "x", "試験", "株式会社テスト", "'; DROP TABLE providers;--", "\"quoted\" \\ back",
        "%s%n%x", "../../etc/passwd", "1", "0", "-1", "18446744073709551616", "7123456789012",
        "7010705000725", "1234567890123", "011002", "131016", "999999", "01", "13", "47", "48",
        "JP", "US", "2027-03-01", "2027-02-30", "1900-01-01", "9999-12-31", "not a date",
        "2027-03-01T00:00:00Z", "198.18.0.0/24", "198.18.0.1", "198.18.0.0/15", "0.0.0.0/0",
        "2001:db8::/48", "2001:db8::1", "::/0", "256.1.1.1", "198.18.0.1/33", "100M", "1G",
        "active", "qualified", "under_review", "connected", "approved", "incident",
        "ASP-2027-0001", "saga-1", "a@example.jp", "03-0000-0000", "\t\n", " leading space",
        "ＡＢＣ全角", "🙂", "web.p1.asp.lgwan.jp", "provider", "hosting"
    };
    if (s_below (40) == 0)
        return json_string (s_big);
    return json_string (PICK (palette));
}

static json_t *
s_value (const ProtobufCFieldDescriptor *field, int depth);

static json_t *
s_message (const ProtobufCMessageDescriptor *d, int depth)
{
    json_t *object = json_object ();
    if (depth > 4)
        return object;
    //  Oneof members share a quantifier: at most one of each group
    unsigned chosen_oneof [64];
    size_t n_chosen = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            bool taken = false;
            for (size_t k = 0; k < n_chosen; k++)
                taken |= chosen_oneof [k] == field->quantifier_offset;
            if (taken || s_below (4) || n_chosen == 64)
                continue;
            chosen_oneof [n_chosen++] = field->quantifier_offset;
        }
        else
        if (s_below (3) == 0)
            continue;               //  absent
        json_t *value;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            value = json_array ();
            size_t count = s_below (4);
            for (size_t k = 0; k < count; k++)
                json_array_append_new (value, s_value (field, depth));
        }
        else
            value = s_value (field, depth);
        json_object_set_new (object, field->name, value);
    }
    return object;
}

static json_t *
s_value (const ProtobufCFieldDescriptor *field, int depth)
{
    static const json_int_t int32s [] = { 0, 1, 2, 3, 5, 16, 28, 30, 56, 64, 65, -1, 2147483647,
                                          -2147483647 - 1 };
    static const json_int_t uint32s [] = { 0, 1, 2, 3, 5, 16, 28, 30, 56, 64, 65, 65535,
                                           4294967295LL };
    static const char *int64s [] = { "0", "1", "2", "3", "-1", "9223372036854775807",
                                     "-9223372036854775808" };
    static const char *uint64s [] = { "0", "1", "2", "3", "4", "5", "100", "18446744073709551615" };
    static const char *bytes [] = { "", "AAEC", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" };
    static const double reals [] = { 0, 1.5, -1, 1e30 };
    switch (field->type) {
        case PROTOBUF_C_TYPE_STRING:
            return s_string ();
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            return json_integer (PICK (int32s));
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return json_integer (PICK (uint32s));
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            return json_string (PICK (int64s));
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return json_string (PICK (uint64s));
        case PROTOBUF_C_TYPE_BOOL:
            return json_boolean (s_below (2));
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_DOUBLE:
            return json_real (PICK (reals));
        case PROTOBUF_C_TYPE_BYTES:
            return json_string (PICK (bytes));
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumDescriptor *e = (const ProtobufCEnumDescriptor *) field->descriptor;
            return json_string (e->values [s_below (e->n_values)].name);
        }
        case PROTOBUF_C_TYPE_MESSAGE:
            return s_message ((const ProtobufCMessageDescriptor *) field->descriptor, depth + 1);
    }
    return json_null ();
}

//  A random Request body: mostly one in the service's range of field
//  numbers (DESIGN: 100s registry, 200s billing, ...), sometimes any
static const ProtobufCFieldDescriptor *
s_body (unsigned lowest, unsigned highest)
{
    const ProtobufCMessageDescriptor *d = &lgwan__v1__request__descriptor;
    const ProtobufCFieldDescriptor *bodies [256];
    size_t own = 0, all = 0;
    const ProtobufCFieldDescriptor *any [256];
    for (unsigned i = 0; i < d->n_fields && all < 256; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        if (!(field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        any [all++] = field;
        if (field->id >= lowest && field->id <= highest)
            bodies [own++] = field;
    }
    assert_true (own > 0);
    return s_below (8) == 0? any [s_below (all)]: bodies [s_below (own)];
}

//  Set one field somewhere in a request's JSON (by its .proto name, after
//  dropping it under either name) to a random value: at the top of the
//  body, or inside a message field already present
static void
s_mutate (json_t *object, const ProtobufCMessageDescriptor *d, int depth)
{
    const ProtobufCFieldDescriptor *field = d->fields + s_below (d->n_fields);
    char json_name [128];
    lg_pbjson_json_name (field->name, json_name, sizeof json_name);
    json_t *present = json_object_get (object, field->name);
    if (!present)
        present = json_object_get (object, json_name);
    if (field->type == PROTOBUF_C_TYPE_MESSAGE && json_is_object (present) && s_below (2)) {
        s_mutate (present, (const ProtobufCMessageDescriptor *) field->descriptor, depth + 1);
        return;
    }
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return;                 //  another member may be set: leave the oneof alone
    json_object_del (object, field->name);
    json_object_del (object, json_name);
    json_t *value;
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        value = json_array ();
        for (size_t k = s_below (3); k > 0; k--)
            json_array_append_new (value, s_value (field, depth));
    }
    else
        value = s_value (field, depth);
    json_object_set_new (object, field->name, value);
}

//  ---------------------------------------------------------------------------
//  Requests

static lg_reply_t *
s_call_json (lg_test_proc_t *proc, const char *who, json_t *json, const char *request_id)
{
    lg_request_t *request = NULL;
    char why [512];
    if (lg_pbjson_to_message (&lgwan__v1__request__descriptor, json, (ProtobufCMessage **) &request,
                              why, sizeof why)) {
        char *text = json_dumps (json, JSON_COMPACT);
        fail_msg ("the generator built a request the JSON parser refuses: %s\n%.2000s", why, text);
    }
    lg_client_t *client = lg_test_proc_client (proc, s_certs, who);
    assert_non_null (client);
    lg_client_set_timeout (client, 15000, 0);
    lg_reply_t *reply = NULL;
    int rc = lg_client_call (client, request, &reply);
    lg_client_destroy (&client);
    if (rc) {
        char *text = json_dumps (json, JSON_COMPACT);
        fail_msg ("%s: no reply to %s from %s (LG_TEST_SEED=%" PRIu64 "):\n%.2000s",
                  proc->service, request_id, who, s_first_seed, text);
    }
    protobuf_c_message_free_unpacked (&request->base, NULL);
    return reply;
}

static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (msg);
    uint8_t *bytes = (uint8_t *) malloc (*size + 1);
    protobuf_c_message_pack (msg, bytes);
    return bytes;
}

//  Requests the registry must accept, in order: its starting state, and
//  valid requests to mutate one field at a time (past most checks, to the
//  rules behind them). The body is the first member (the mutation takes
//  it), a reason (X.1: a pool says why) after it
static const char *s_seeds [] [2] = {
    { "operator", "{\"poolAdd\": {\"name\": \"v4\", \"prefix\": \"198.18.0.0/24\"},"
                  " \"reason\": \"試験\"}" },
    { "operator", "{\"poolAdd\": {\"name\": \"v6\", \"prefix\": \"2001:db8:100::/40\"},"
                  " \"reason\": \"試験\"}" },
    { "operator", "{\"providerApply\": {\"nameJa\": \"事業者A\", \"entityType\": \"PRIVATE_CORPORATION\","
                  " \"corporateNumber\": \"7123456789012\", \"contacts\": ["
                  "{\"kind\": \"CONTACT_EMERGENCY_RESPONSE\", \"name\": \"緊急\"},"
                  "{\"kind\": \"CONTACT_OPERATIONS_MANAGER\", \"name\": \"運用\"}]}}" },
    { "operator", "{\"providerApply\": {\"nameJa\": \"事業者B\", \"entityType\": \"PRIVATE_CORPORATION\","
                  " \"corporateNumber\": \"7010705000725\", \"contacts\": ["
                  "{\"kind\": \"CONTACT_EMERGENCY_RESPONSE\", \"name\": \"緊急\"},"
                  "{\"kind\": \"CONTACT_OPERATIONS_MANAGER\", \"name\": \"運用\"}]}}" },
    { "reviewer", "{\"qualificationReview\": {\"provider\": \"1\"}}" },
    { "reviewer", "{\"qualificationDecide\": {\"provider\": \"1\", \"outcome\": \"OUTCOME_APPROVED\","
                  " \"reason\": \"適格\"}}" },
    { "reviewer", "{\"qualificationReview\": {\"provider\": \"2\"}}" },
    { "reviewer", "{\"qualificationDecide\": {\"provider\": \"2\", \"outcome\": \"OUTCOME_APPROVED\","
                  " \"reason\": \"適格\"}}" },
    { "operator", "{\"serviceRegister\": {\"name\": \"svc-a\", \"titleJa\": \"試験\", \"holders\": ["
                  "{\"provider\": \"1\", \"role\": \"ROLE_APPLICATION_CONTENT\"},"
                  "{\"provider\": \"1\", \"role\": \"ROLE_HOSTING\"}]}}" },
    { "reviewer", "{\"serviceReview\": {\"service\": \"1\"}}" },
    { "reviewer", "{\"serviceDecide\": {\"service\": \"1\", \"outcome\": \"OUTCOME_APPROVED\","
                  " \"reason\": \"登録\"}}" },
    { "operator", "{\"connectionApply\": {\"service\": \"1\", \"router\": \"rt\", \"lineCarrier\": \"c\","
                  " \"bandwidthClass\": \"100M\", \"ipv4PrefixLength\": 28, \"ipv6PrefixLength\": 56}}" },
    { "reviewer", "{\"connectionReview\": {\"connection\": \"1\"}}" },
    { "reviewer", "{\"connectionDecide\": {\"connection\": \"1\", \"outcome\": \"OUTCOME_APPROVED\","
                  " \"reason\": \"接続\"}}" },
};

//  Valid requests of the other services, only to mutate (they need not
//  succeed as they are: most do, against the seeded registry's state)
static const char *s_others [] [3] = {
    { "billing", "operator", "{\"invoiceRun\": {\"period\": \"2026-12\", \"preview\": true}}" },
    { "billing", "operator", "{\"invoiceRun\": {\"period\": \"2026-12\"}}" },
    { "billing", "billing", "{\"paymentRecord\": {\"invoice\": \"ASP-2026-000001\","
                            " \"amountYen\": \"1000\", \"paidOn\": \"2027-03-01\"}}" },
    { "audit", "operator", "{\"controlAdd\": {\"code\": \"X-1\", \"requirement\": \"R5.1\","
                           " \"appliesTo\": \"hosting\", \"title\": \"試験\"}}" },
    { "audit", "operator", "{\"auditOpen\": {\"origin\": \"plan\", \"provider\": \"1\","
                           " \"services\": [\"1\"], \"auditors\": [\"aki\"],"
                           " \"startsOn\": \"2027-03-01\", \"endsOn\": \"2027-03-31\","
                           " \"title\": \"定期監査\"}}" },
    { "audit", "auditor", "{\"findingRecord\": {\"audit\": \"1\", \"control\": \"R5.1\","
                          " \"severity\": \"major\", \"description\": \"所見\","
                          " \"requiresRemediation\": true}}" },
    { "monitor", "operator", "{\"ruleSet\": {\"rule\": {\"name\": \"burst\", \"signatureId\":"
                             " \"9001\", \"windowSeconds\": 60, \"threshold\": 5,"
                             " \"action\": \"RULE_ACTION_INCIDENT\", \"enabled\": true}}}" },
    { "monitor", "operator", "{\"allowlistAdd\": {\"connection\": \"1\", \"signatureId\": \"9001\","
                             " \"expiresAt\": \"2027-03-02T00:00:00Z\", \"reason\": \"試験\"}}" },
    { "isolation", "operator", "{\"disconnect\": {\"connections\": [\"1\"], \"incident\": \"INC-1\"}}" },
    { "isolation", "operator", "{\"suspend\": {\"provider\": \"1\", \"remediation\": \"REM-1\"}}" },
    { "isolation", "service", "{\"lift\": {\"connection\": \"1\", \"cause\":"
                              " \"CAUSE_DISCONNECTION\", \"saga\": \"saga-1\"}}" },
};

//  A valid request of this service to mutate, and its role; false if none
static bool
s_pick_seed (const char *service, const char **json, const char **who)
{
    size_t n_registry = sizeof s_seeds / sizeof s_seeds [0];
    size_t n_others = sizeof s_others / sizeof s_others [0];
    size_t candidates [64], n = 0;
    for (size_t i = 0; i < n_registry + n_others && n < 64; i++)
        if (i < n_registry? streq (service, "registry"): streq (service, s_others [i - n_registry] [0]))
            candidates [n++] = i;
    if (n == 0)
        return false;
    size_t which = candidates [s_below (n)];
    *json = which < n_registry? s_seeds [which] [1]: s_others [which - n_registry] [2];
    *who = which < n_registry? s_seeds [which] [0]: s_others [which - n_registry] [1];
    return true;
}

static void
s_seed_registry (lg_test_proc_t *registry)
{
    for (size_t i = 0; i < sizeof s_seeds / sizeof s_seeds [0]; i++) {
        json_error_t error;
        json_t *json = json_loads (s_seeds [i] [1], 0, &error);
        assert_non_null (json);
        char id [32];
        snprintf (id, sizeof id, "seed-%zu", i);
        json_object_set_new (json, "requestId", json_string (id));
        lg_reply_t *reply = s_call_json (registry, s_seeds [i] [0], json, id);
        if (reply->status->code != LGWAN__V1__CODE__OK)
            fail_msg ("seed request %zu refused: %s", i, reply->status->message);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        json_decref (json);
    }
}

//  Request ids the service refused
typedef struct {
    char **ids;
    size_t count;
} s_refused_t;

static bool
s_refused_has (const s_refused_t *refused, const char *id)
{
    for (size_t i = 0; i < refused->count; i++)
        if (streq (refused->ids [i], id))
            return true;
    return false;
}

//  No event in the service's outbox carries a refused request's id
static void
s_check_outbox (const char *service, const s_refused_t *refused, size_t *events)
{
    PGconn *conn = PQconnectdb (s_admin);
    char *sql = zsys_sprintf ("SELECT event FROM %s.outbox ORDER BY seq", service);
    PGresult *res = PQexecParams (conn, sql, 0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    *events = (size_t) PQntuples (res);
    for (int row = 0; row < PQntuples (res); row++) {
        lg_event_t *event = lgwan__v1__event__unpack (NULL, (size_t) PQgetlength (res, row, 0),
                                                      (const uint8_t *) PQgetvalue (res, row, 0));
        assert_non_null (event);
        if (s_refused_has (refused, event->correlation_id))
            fail_msg ("%s: event %" PRIu64 " (body %u) was written by request %s, which was"
                      " refused", service, event->seq, event->body_case, event->correlation_id);
        lgwan__v1__event__free_unpacked (event, NULL);
    }
    PQclear (res);
    zstr_free (&sql);
    PQfinish (conn);
}

//  What a service's test does after its requests, before the final checks
typedef void (s_after_fn) (lg_test_proc_t *proc, void *arg);

static void
s_run (const char *service, unsigned lowest, unsigned highest, const char *const *extra,
       s_after_fn *then, void *then_arg)
{
    //  The others follow the registry, and start once they have caught up
    //  with it (connections, providers and services known to them too)
    lg_test_proc_t own = { .service = service };
    lg_test_proc_t *follows [] = { &s_registry, NULL };
    bool registry = streq (service, "registry");
    if (!registry) {
        assert_true (lg_test_proc_start (&own, s_admin, s_certs, follows, extra));
        char *sql = zsys_sprintf ("SELECT (SELECT seq FROM registry.outbox_head)"
                                  " = coalesce ((SELECT last_seq FROM %s.cursors"
                                  " WHERE source = 'registry'), -1)", service);
        PGconn *conn = PQconnectdb (s_admin);
        bool caught = false;
        for (int i = 0; i < 200 && !caught; i++) {
            PGresult *res = PQexec (conn, sql);
            caught = PQresultStatus (res) == PGRES_TUPLES_OK && streq (PQgetvalue (res, 0, 0), "t");
            PQclear (res);
            if (!caught)
                zclock_sleep (50);
        }
        PQfinish (conn);
        assert_true (caught);
        zstr_free (&sql);
    }
    lg_test_proc_t *proc = registry? &s_registry: &own;
    if (streq (service, "billing")) {
        //  The demo tariff, so that invoice runs get past "no tariff"
        char *path = zsys_sprintf ("%s/deploy/demo/tariff.json", getenv ("LG_SOURCE_DIR"));
        zfile_t *file = zfile_new (NULL, path);
        assert_non_null (file);
        assert_int_equal (zfile_input (file), 0);
        zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
        json_t *json = json_pack ("{s:s, s:{s:s%}}", "requestId", "tariff", "tariffLoad",
                                  "document", (const char *) zchunk_data (chunk),
                                  zchunk_size (chunk));
        lg_reply_t *reply = s_call_json (proc, "operator", json, "tariff");
        if (reply->status->code != LGWAN__V1__CODE__OK)
            fail_msg ("the demo tariff was refused: %s", reply->status->message);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        json_decref (json);
        zchunk_destroy (&chunk);
        zfile_destroy (&file);
        zstr_free (&path);
    }
    const char *count_text = getenv ("LG_TEST_RANDOM_REQUESTS");
    size_t count = count_text? strtoul (count_text, NULL, 10): 400;
    s_refused_t refused = { calloc (count, sizeof (char *)), 0 };
    size_t by_code [32] = { 0 };
    PGconn *conn = PQconnectdb (s_admin);
    char *digest_sql = lg_test_digest_sql (conn, service);
    char *digest = lg_test_digest (conn, digest_sql);
    for (size_t i = 0; i < count; i++) {
        const ProtobufCFieldDescriptor *body = s_body (lowest, highest);
        //  Half by the operator, who may do the most, so that more requests
        //  get past the role check to the rules
        const char *who = s_below (2)? "operator": PICK (s_roles);
        char id [64];
        snprintf (id, sizeof id, "random-%s-%zu", service, i);
        json_t *json = json_object ();
        json_object_set_new (json, "requestId", json_string (id));
        if (s_below (2))
            json_object_set_new (json, "reason", s_string ());
        const char *seed_text, *seed_who;
        if (s_below (3) == 0 && s_pick_seed (service, &seed_text, &seed_who)) {
            //  A valid request with one or two fields changed, mostly by its own role
            json_error_t error;
            json_t *seed = json_loads (seed_text, 0, &error);
            if (!seed)
                fail_msg ("seed %s: %s", seed_text, error.text);
            const char *key = json_object_iter_key (json_object_iter (seed));
            body = lg_pbjson_field (&lgwan__v1__request__descriptor, key);
            assert_non_null (body);
            json_t *inner = json_object_get (seed, key);
            for (size_t k = 1 + s_below (2); k > 0; k--)
                s_mutate (inner, (const ProtobufCMessageDescriptor *) body->descriptor, 1);
            json_object_set (json, key, inner);
            json_decref (seed);
            if (s_below (4))
                who = seed_who;
        }
        else
            json_object_set_new (json, body->name,
                                 s_message ((const ProtobufCMessageDescriptor *) body->descriptor, 1));
        lg_reply_t *reply = s_call_json (proc, who, json, id);
        lg_code_t code = reply->status? reply->status->code: LGWAN__V1__CODE__UNKNOWN;
        char *text = NULL;
        if (code == LGWAN__V1__CODE__INTERNAL || code == LGWAN__V1__CODE__UNAVAILABLE
        ||  code == LGWAN__V1__CODE__UNKNOWN || !streq (reply->request_id, id)
        ||  (code != LGWAN__V1__CODE__OK
             && (!*reply->status->message || reply->body_case != LGWAN__V1__REPLY__BODY__NOT_SET))) {
            text = json_dumps (json, JSON_COMPACT);
            fail_msg ("%s answered %s from %s with code %d \"%s\" (reply id %s, body %d;"
                      " LG_TEST_SEED=%" PRIu64 "):\n%.3000s\nlog: %s", service, body->name, who,
                      code, reply->status? reply->status->message: "", reply->request_id,
                      reply->body_case, s_first_seed, text, lg_test_log_path (proc->pid));
        }
        //  A refusal of the request itself names its rule (DESIGN; lg_ctx_refuse):
        //  X.3 for what is unauthorised, malformed or oversized, a rule's own
        //  for a rule's FAILED_PRECONDITION
        if ((code == LGWAN__V1__CODE__PERMISSION_DENIED || code == LGWAN__V1__CODE__INVALID_ARGUMENT
        ||   code == LGWAN__V1__CODE__FAILED_PRECONDITION) && !*reply->status->requirement) {
            text = json_dumps (json, JSON_COMPACT);
            fail_msg ("%s refused %s from %s with code %d \"%s\" naming no requirement"
                      " (LG_TEST_SEED=%" PRIu64 "):\n%.3000s", service, body->name, who, code,
                      reply->status->message, s_first_seed, text);
        }
        char *after = lg_test_digest (conn, digest_sql);
        if (code != LGWAN__V1__CODE__OK) {
            refused.ids [refused.count++] = strdup (id);
            if (!streq (after, digest)) {
                text = json_dumps (json, JSON_COMPACT);
                fail_msg ("%s refused %s from %s (code %d \"%s\") but its tables changed"
                          " (LG_TEST_SEED=%" PRIu64 "):\n%.3000s", service, body->name, who,
                          code, reply->status->message, s_first_seed, text);
            }
        }
        free (digest);
        digest = after;
        //  A retry (same id, same bytes) gets the same answer and changes
        //  nothing more; Stats, which counts requests, is the one exception
        if (s_below (4) == 0 && body->id != LGWAN__V1__REQUEST__BODY_STATS) {
            lg_reply_t *again = s_call_json (proc, who, json, id);
            size_t size, again_size;
            uint8_t *first = s_pack (&reply->base, &size);
            uint8_t *second = s_pack (&again->base, &again_size);
            after = lg_test_digest (conn, digest_sql);
            if (size != again_size || memcmp (first, second, size) || !streq (after, digest)) {
                text = json_dumps (json, JSON_COMPACT);
                fail_msg ("%s: a retry of %s from %s got another answer (code %d, then %d)"
                          " or changed the tables (LG_TEST_SEED=%" PRIu64 "):\n%.3000s",
                          service, body->name, who, code, again->status? (int) again->status->code: -1,
                          s_first_seed, text);
            }
            free (digest);
            digest = after;
            free (first);
            free (second);
            lgwan__v1__reply__free_unpacked (again, NULL);
        }
        by_code [code < 32? code: 31]++;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        json_decref (json);
    }
    free (digest);
    free (digest_sql);
    PQfinish (conn);
    if (then)
        then (proc, then_arg);
    size_t events;
    s_check_outbox (service, &refused, &events);
    assert_true (lg_test_proc_answers (proc, s_certs));
    printf ("%s: %zu random requests: %zu OK, %zu INVALID_ARGUMENT, %zu NOT_FOUND,"
            " %zu PERMISSION_DENIED, %zu FAILED_PRECONDITION, %zu other refusals;"
            " %zu events, none from a refusal\n", service, count, by_code [0], by_code [3],
            by_code [5], by_code [7], by_code [9],
            refused.count - by_code [3] - by_code [5] - by_code [7] - by_code [9], events);
    if (!registry)
        assert_int_equal (lg_test_proc_stop (&own, SIGTERM), 0);
    for (size_t i = 0; i < refused.count; i++)
        free (refused.ids [i]);
    free (refused.ids);
}

//  ---------------------------------------------------------------------------

static void
test_x3_registry_random_requests (void **state)
{
    (void) state;
    s_run ("registry", 100, 199, NULL, NULL, NULL);
}

static void
test_x3_billing_random_requests (void **state)
{
    (void) state;
    //  The issuer's registration number (T and a corporate number) is
    //  required; billing's day is in January 2027, so that December 2026,
    //  when the seeded connection was active, is over and can be invoiced
    char *clock = zsys_sprintf ("/tmp/lg_random_clock_%d", (int) getpid ());
    FILE *file = fopen (clock, "w");
    assert_non_null (file);
    fprintf (file, "2027-01-15T00:00:00Z\n");
    assert_int_equal (fclose (file), 0);
    char *clock_env = zsys_sprintf ("LG_CLOCK_FILE=%s", clock);
    const char *extra [] = { "LG_BILLING_ISSUER_REGISTRATION=T7123456789012", clock_env, NULL };
    s_run ("billing", 200, 299, extra, NULL, NULL);
    unlink (clock);
    zstr_free (&clock_env);
    zstr_free (&clock);
}

static void
test_x3_audit_random_requests (void **state)
{
    (void) state;
    s_run ("audit", 300, 399, NULL, NULL, NULL);
}

static void
test_x3_monitor_random_requests (void **state)
{
    (void) state;
    char *sensor = zsys_sprintf ("LG_MONITOR_SENSOR_ENDPOINT=tcp://127.0.0.1:%d",
                                 lg_test_free_port ());
    char *dir = zsys_sprintf ("/tmp/lg_random_%d", (int) getpid ());
    zsys_dir_create ("%s", dir);
    char *sock = zsys_sprintf ("LG_MONITOR_EVE_SOCKET=%s/eve.sock", dir);
    const char *extra [] = { sensor, sock, NULL };
    s_run ("monitor", 400, 499, extra, NULL, NULL);
    lg_test_sh ("rm -rf '%s'", dir);
    zstr_free (&sock);
    zstr_free (&dir);
    zstr_free (&sensor);
}

//  Random frames on isolation's enforcer channel, from the certificates of
//  points east, west and north and from others (which must not be heard),
//  and bytes that are no frame at all: isolation keeps answering, and no
//  point's acknowledged version is ever above the head
static void
s_enforcer_frames (lg_test_proc_t *proc, void *arg)
{
    (void) proc;
    const char *endpoint = (const char *) arg;
    //  Each point's own certificate (X.3: a point speaks only with its own;
    //  `enforcer` is east's): with east's for all three, every frame
    //  stamped west or north was refused, and only east was ever heard
    char *west = lg_test_enforcer_cert (s_certs, "west");
    char *north = lg_test_enforcer_cert (s_certs, "north");
    assert_non_null (west);
    assert_non_null (north);
    char *enforcer = zsys_sprintf ("%s/clients/enforcer", s_certs);
    char *operator = zsys_sprintf ("%s/clients/operator", s_certs);
    char *sensor = zsys_sprintf ("%s/clients/sensor", s_certs);
    const char *who [] = { enforcer, west, north, operator, sensor };
    zsock_t *points [5];
    for (size_t k = 0; k < 5; k++) {
        points [k] = zsock_new (ZMQ_DEALER);
        const char *cert = who [k];
        char *server = zsys_sprintf ("%s/services/isolation", s_certs);
        assert_int_equal (lg_auth_client (points [k], cert, server), 0);
        assert_int_equal (zsock_connect (points [k], "%s", endpoint), 0);
        zstr_free (&server);
    }
    zstr_free (&west);
    zstr_free (&north);
    zstr_free (&enforcer);
    zstr_free (&operator);
    zstr_free (&sensor);
    const char *count_text = getenv ("LG_TEST_RANDOM_REQUESTS");
    size_t count = count_text? strtoul (count_text, NULL, 10): 400;
    for (size_t i = 0; i < count; i++) {
        size_t k = s_below (5);
        zsock_t *point = points [k];
        zframe_t *out;
        if (s_below (10) == 0) {
            char garbage [64];
            for (size_t b = 0; b < sizeof garbage; b++)
                garbage [b] = (char) s_next ();
            out = zframe_new (garbage, 1 + s_below (sizeof garbage));
        }
        else {
            //  Mostly under the socket's own point name, so that acks count
            static const char *names [] = { "east", "west", "north", "south", "centre" };
            json_t *json = s_message (&lgwan__v1__enforcer_frame__descriptor, 1);
            const char *members [] = { "hello", "ack", "repaired" };
            for (size_t m = 0; m < 3; m++) {
                json_t *member = json_object_get (json, members [m]);
                if (member && s_below (4))
                    json_object_set_new (member, "point", json_string (names [k]));
            }
            ProtobufCMessage *frame = NULL;
            char why [256];
            if (lg_pbjson_to_message (&lgwan__v1__enforcer_frame__descriptor, json, &frame, why,
                                      sizeof why))
                fail_msg ("the generator built a frame the JSON parser refuses: %s", why);
            out = lg_codec_frame (frame);
            protobuf_c_message_free_unpacked (frame, NULL);
            json_decref (json);
        }
        assert_int_equal (zframe_send (&out, point, 0), 0);
        //  Whatever isolation sends back (snapshots, updates, beats) is read
        for (size_t j = 0; j < 5; j++)
            while (zsock_events (points [j]) & ZMQ_POLLIN) {
                zframe_t *in = zframe_recv (points [j]);
                zframe_destroy (&in);
            }
    }
    zclock_sleep (500);
    for (size_t k = 0; k < 5; k++)
        zsock_destroy (&points [k]);
    assert_true (lg_test_proc_answers (proc, s_certs));
    PGconn *conn = PQconnectdb (s_admin);
    PGresult *res = PQexec (conn, "SELECT count(*), count(*) FILTER (WHERE acked_version >"
                                  " (SELECT version FROM isolation.desired_head WHERE id = 1)),"
                                  " count(*) FILTER (WHERE name IN ('east', 'west', 'north'))"
                                  " FROM isolation.points");
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    printf ("isolation: %zu random frames on the enforcer channel; %s points said hello"
            " (%s of east, west and north), %s acked a version above the head\n", count,
            PQgetvalue (res, 0, 0), PQgetvalue (res, 0, 2), PQgetvalue (res, 0, 1));
    assert_string_equal (PQgetvalue (res, 0, 1), "0");
    //  Each point's certificate was heard as its point (a Hello of each
    //  comes about once in 20 frames of its socket)
    if (count >= 200)
        assert_string_equal (PQgetvalue (res, 0, 2), "3");
    PQclear (res);
    PQfinish (conn);
}

static void
test_x3_isolation_random_requests (void **state)
{
    (void) state;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    char *enforcers = zsys_sprintf ("LG_ISOLATION_ENFORCER_ENDPOINT=%s", endpoint);
    const char *extra [] = { enforcers, NULL };
    s_run ("isolation", 500, 599, extra, s_enforcer_frames, endpoint);
    zstr_free (&enforcers);
}

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    zsys_init ();
    const char *seed = getenv ("LG_TEST_SEED");
    s_seed = seed? strtoull (seed, NULL, 10): (uint64_t) zclock_time () | 1;
    s_first_seed = s_seed;
    printf ("test_random_requests: LG_TEST_SEED=%" PRIu64 "\n", s_seed);
    memset (s_big, 'z', STRING_BIG);
    s_admin = lg_test_db_new ("random");
    s_certs = lg_test_certs_new ();
    assert_true (lg_test_proc_start (&s_registry, s_admin, s_certs, NULL, NULL));
    s_seed_registry (&s_registry);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    lg_test_proc_teardown (&s_registry);
    lg_test_certs_destroy (&s_certs);
    lg_test_db_drop (&s_admin);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_x3_registry_random_requests),
        cmocka_unit_test (test_x3_billing_random_requests),
        cmocka_unit_test (test_x3_audit_random_requests),
        cmocka_unit_test (test_x3_monitor_random_requests),
        cmocka_unit_test (test_x3_isolation_random_requests),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
