/*  System test of lgwan-registry: the real binary, a fresh database, real
    certificates, driven black-box through its ROUTER socket.

    Covers the core contract every service inherits (X.3 bad input and
    authorisation, idempotent requests, losing PostgreSQL) and the first
    registry rules (R3.1).
*/
#include "lg_test.h"
#include <sys/stat.h>
#include <pthread.h>

typedef struct {
    char *admin_dsn;
    char *certs;
    char endpoint [64];
    char pub_endpoint [64];
    pid_t pid;
} fixture_t;

static fixture_t s_fx;
static int s_try_ms = 3000;         //  a client's try (lg_client_set_timeout)

//  ---------------------------------------------------------------------------
//  Helpers

static lg_client_t *
s_client (const char *who)
{
    char *cert = zsys_sprintf ("%s/clients/%s", s_fx.certs, who);
    char *server = zsys_sprintf ("%s/services/registry", s_fx.certs);
    lg_client_t *client = lg_client_new (s_fx.endpoint, cert, server);
    lg_client_set_timeout (client, s_try_ms, 1);
    zstr_free (&cert);
    zstr_free (&server);
    return client;
}

static lg_reply_t *
s_call (const char *who, lg_request_t *request)
{
    lg_client_t *client = s_client (who);
    lg_reply_t *reply = NULL;
    int rc = lg_client_call (client, request, &reply);
    lg_client_destroy (&client);
    return rc == 0? reply: NULL;
}

static lg_reply_t *
s_apply (const char *who, const char *request_id, int type, const char *name,
         const char *corporate, const char *lgcode)
{
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) name;
    apply.name_en = (char *) "Test";
    apply.entity_type = (Lgwan__V1__EntityType) type;
    apply.corporate_number = (char *) (corporate? corporate: "");
    apply.lgcode = (char *) (lgcode? lgcode: "");
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    char *id = request_id? NULL: lg_client_new_id ();
    request.request_id = request_id? (char *) request_id: id;
    request.reason = (char *) "paper application received";
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;
    lg_reply_t *reply = s_call (who, &request);
    free (id);
    return reply;
}

//  A ProviderApply of a voluntary organisation, as a request to send
#define S_APPLY(request, apply) \
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT; \
    apply.name_ja = (char *) "任意団体"; \
    apply.entity_type = (Lgwan__V1__EntityType) 7; \
    lg_request_t request = LGWAN__V1__REQUEST__INIT; \
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY; \
    request.provider_apply = &apply

//  The first page of providers, as the operator asks for it
static lg_reply_t *
s_list (const char *request_id)
{
    Lgwan__V1__ProviderList list = LGWAN__V1__PROVIDER_LIST__INIT;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) request_id;
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_LIST;
    request.provider_list = &list;
    return s_call ("operator", &request);
}

static long
s_count_rows (const char *table)
{
    PGconn *conn = PQconnectdb (s_fx.admin_dsn);
    char *sql = zsys_sprintf ("SELECT count(*) FROM %s", table);
    PGresult *res = PQexec (conn, sql);
    long count = PQresultStatus (res) == PGRES_TUPLES_OK? atol (PQgetvalue (res, 0, 0)): -1;
    PQclear (res);
    PQfinish (conn);
    zstr_free (&sql);
    return count;
}

static bool
s_answers (void *arg)
{
    (void) arg;
    lg_client_t *client = s_client ("viewer");
    lg_client_set_timeout (client, 300, 0);
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_STATS;
    request.stats = &stats;
    lg_reply_t *reply = NULL;
    bool ok = lg_client_call (client, &request, &reply) == 0
           && reply->status && reply->status->code == LGWAN__V1__CODE__OK;
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    free (request.request_id);
    lg_client_destroy (&client);
    return ok;
}

//  Spawn the registry of this fixture, with extra and more (each one
//  NAME=VALUE, or NULL)
static pid_t
s_spawn_registry_with (const char *extra, const char *more)
{
    char *db = lg_test_db_service_dsn (s_fx.admin_dsn, "registry");
    char *e_db = zsys_sprintf ("LG_REGISTRY_DB=%s", db);
    char *e_certs = zsys_sprintf ("LG_CERT_DIR=%s", s_fx.certs);
    char *e_ep = zsys_sprintf ("LG_REGISTRY_ENDPOINT=%s", s_fx.endpoint);
    char *e_pub = zsys_sprintf ("LG_REGISTRY_PUB_ENDPOINT=%s", s_fx.pub_endpoint);
    const char *env [] = { e_db, e_certs, e_ep, e_pub, "LG_MAX_MSG=262144",
                           "LG_LOG_LEVEL=debug", extra, extra? more: NULL, NULL };
    char *binary = lg_test_service_binary ("registry");
    pid_t pid = lg_test_spawn (binary, env);
    assert_true (pid > 0);
    zstr_free (&binary);
    zstr_free (&db);
    zstr_free (&e_db);
    zstr_free (&e_certs);
    zstr_free (&e_ep);
    zstr_free (&e_pub);
    return pid;
}

static pid_t
s_spawn_registry (const char *extra)
{
    return s_spawn_registry_with (extra, NULL);
}

static void
s_start_registry_with (const char *extra, const char *more)
{
    s_fx.pid = s_spawn_registry_with (extra, more);
    assert_true (lg_test_wait_for (s_answers, NULL, 15000));
}

static void
s_start_registry (const char *extra)
{
    s_start_registry_with (extra, NULL);
}

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    zsys_init ();
    s_fx.admin_dsn = lg_test_db_new ("registry");
    assert_non_null (s_fx.admin_dsn);
    s_fx.certs = lg_test_certs_new ();
    assert_non_null (s_fx.certs);
    snprintf (s_fx.endpoint, sizeof s_fx.endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    snprintf (s_fx.pub_endpoint, sizeof s_fx.pub_endpoint, "tcp://127.0.0.1:%d",
              lg_test_free_port ());
    s_start_registry (NULL);
    //  The reference list of local government codes, as an operator loads it
    char *path = zsys_sprintf ("%s/deploy/data/local-governments.csv", getenv ("LG_SOURCE_DIR"));
    char why [256];
    Lgwan__V1__ReferenceLoad *list = lg_reference_read (path, why, sizeof why);
    assert_non_null (list);
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) "reference-1";
    request.body_case = LGWAN__V1__REQUEST__BODY_REFERENCE_LOAD;
    request.reference_load = list;
    lg_reply_t *reply = s_call ("operator", &request);
    assert_non_null (reply);
    assert_int_equal (reply->status->code, LGWAN__V1__CODE__OK);
    assert_int_equal (reply->reference_load->entries, 1963);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lgwan__v1__reference_load__free_unpacked (list, NULL);
    zstr_free (&path);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    lg_test_teardown_stop (s_fx.pid, "registry");
    s_fx.pid = 0;
    lg_test_certs_destroy (&s_fx.certs);
    lg_test_db_drop (&s_fx.admin_dsn);
    return 0;
}

//  The reply has this code and requirement; a refusal carries no record.
//  A refusal's requirement is always given: the ID it must name, or "" for
//  one that names none (NOT_FOUND, UNAVAILABLE); NULL there is a test bug.
//  For OK, NULL: not checked
static void
s_expect_at (lg_reply_t *reply, lg_code_t code, const char *requirement, const char *file,
             int line)
{
    assert_non_null (reply);
    assert_non_null (reply->status);
    if (!requirement && code != LGWAN__V1__CODE__OK)
        fail_msg ("%s:%d: test bug: a refusal (code %d) is expected without the requirement"
                  " it names (got \"%s\": %s); give it, or \"\" for none", file, line, code,
                  reply->status->requirement, reply->status->message);
    if (reply->status->code != code)
        fail_msg ("%s:%d: expected code %d, got %d: %s", file, line, code, reply->status->code,
                  reply->status->message);
    if (requirement && !streq (reply->status->requirement, requirement))
        fail_msg ("%s:%d: expected requirement \"%s\", got \"%s\": %s", file, line,
                  requirement, reply->status->requirement, reply->status->message);
    if (code != LGWAN__V1__CODE__OK && reply->body_case != LGWAN__V1__REPLY__BODY__NOT_SET)
        fail_msg ("%s:%d: a refusal carries a record (body %d)", file, line, reply->body_case);
}

#define s_expect(reply, code, requirement) \
    s_expect_at ((reply), (code), (requirement), __FILE__, __LINE__)

//  ---------------------------------------------------------------------------
//  Tests

/* REQ R3.1 */
static void
test_apply_and_get (void **state)
{
    (void) state;
    const char *name = "株式会社テスト'; DROP TABLE providers;--";
    lg_reply_t *reply = s_apply ("operator", NULL, 6, name, "7123456789012", NULL);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->body_case, LGWAN__V1__REPLY__BODY_PROVIDER);
    uint64_t id = reply->provider->provider->id;
    assert_true (id > 0);
    assert_string_equal (reply->provider->provider->status, "applied");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    Lgwan__V1__ProviderGet get = LGWAN__V1__PROVIDER_GET__INIT;
    get.provider = id;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) "get-1";
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_GET;
    request.provider_get = &get;
    reply = s_call ("viewer", &request);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->provider->provider->name_ja, name);   //  byte-exact
    assert_string_equal (reply->provider->provider->corporate_number, "7123456789012");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  A provider reads only itself: the first provider of the test's fresh
    //  database is provider 1, whom the certificate provider1 speaks for
    assert_int_equal (id, 1);
    reply = s_call ("provider1", &request);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->provider->provider->id, 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_call ("provider2", &request);
    s_expect (reply, LGWAN__V1__CODE__NOT_FOUND, "");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    get.provider = 999999;
    reply = s_call ("viewer", &request);
    s_expect (reply, LGWAN__V1__CODE__NOT_FOUND, "");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R3.1: each entity-type boundary and check digit */
static void
test_r3_1_refusals (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    struct {
        int type;
        const char *corporate;
        const char *lgcode;
        const char *requirement;
    } cases [] = {
        { 0, "7123456789012", NULL, "R3.1" },      //  below type 1
        //  8 is not an EntityType at all: the codec refuses the frame first
        //  (X.3, bad input), naming the field
        { 8, "7123456789012", NULL, "X.3" },       //  above type 7
        { 6, "7123456789013", NULL, "R3.1" },      //  wrong check digit
        { 6, "712345678901", NULL, "R3.1" },       //  12 digits
        { 6, NULL, NULL, "R3.1" },                 //  a corporation without its number
        { 1, NULL, "131017", "R3.1" },             //  wrong lgcode check digit
        { 1, "8000020130002", "130001", "R3.1" },  //  corporate number not Tokyo's
        { 6, "7123456789012", "130001", "R3.1" },  //  lgcode on a corporation
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        lg_reply_t *reply = s_apply ("operator", NULL, cases [i].type, "名前",
                                     cases [i].corporate, cases [i].lgcode);
        s_expect (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, cases [i].requirement);
        if (cases [i].type == 8)
            assert_non_null (strstr (reply->status->message, "entity_type"));
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    //  Valid edges: a local government with and without its corporate number,
    //  and a voluntary organisation without one
    lg_reply_t *reply = s_apply ("operator", NULL, 1, "東京都", "8000020130001", "130001");
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_apply ("operator", NULL, 7, "任意団体", NULL, NULL);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 2);
}

/* REQ R3.1: a corporate number of the local-government form ("000020" +
   lgcode behind its check digit) belongs to a local government, so only a
   type 1 applicant may give one. Before, types 2-7 were checked for the
   check digit only: a private corporation took Osaka Prefecture's number,
   and Osaka itself was then refused as "already registered". */
static void
test_r3_1_local_government_number_only_for_a_local_government (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    for (int type = 2; type <= 7; type++) {
        lg_reply_t *reply = s_apply ("operator", NULL, type, "大阪府のふり", "4000020270008",
                                     NULL);
        s_expect (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "R3.1");
        assert_non_null (strstr (reply->status->message, "local government"));
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (s_count_rows ("registry.providers"), before);
    //  The number is still Osaka's to give
    lg_reply_t *reply = s_apply ("operator", NULL, 1, "大阪府", "4000020270008", "270008");
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
}

/* REQ X.3: long strings refused, nothing written */
static void
test_x3_long_names (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    char *name = (char *) malloc (10 * 1024 + 1);
    memset (name, 'A', 10 * 1024);
    name [10 * 1024] = 0;
    lg_reply_t *reply = s_apply ("operator", NULL, 6, name, "4011001098993", NULL);
    s_expect (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    free (name);
    assert_int_equal (s_count_rows ("registry.providers"), before);
}

/* REQ X.3: malformed frames get a clear error and change nothing */
static void
test_x3_malformed (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    long outbox = s_count_rows ("registry.outbox");
    lg_client_t *client = s_client ("operator");

    //  A valid request, packed, then cut in the middle of a field
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) "切られた名前";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    apply.corporate_number = (char *) "7010705000725";
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.request_id = (char *) "cut-1";
    request.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    request.provider_apply = &apply;
    zframe_t *whole = lg_codec_frame (&request.base);
    struct {
        const void *data;
        size_t size;
        lg_code_t code;
    } cases [] = {
        { zframe_data (whole), zframe_size (whole) - 3, LGWAN__V1__CODE__INVALID_ARGUMENT },
        { "\xff\xff\xff\xff garbage", 13, LGWAN__V1__CODE__INVALID_ARGUMENT },
        { "", 0, LGWAN__V1__CODE__INVALID_ARGUMENT },           //  no request_id
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        zframe_t *raw = lg_client_call_raw (client, cases [i].data, cases [i].size, 3000);
        assert_non_null (raw);
        lg_reply_t *reply = lgwan__v1__reply__unpack (NULL, zframe_size (raw), zframe_data (raw));
        s_expect (reply, cases [i].code, "X.3");
        lgwan__v1__reply__free_unpacked (reply, NULL);
        zframe_destroy (&raw);
    }
    zframe_destroy (&whole);

    //  Unknown oneof member (field 199 of the registry range, not defined)
    uint8_t unknown [] = { 0x0a, 0x02, 'u', '1', 0xba, 0x0c, 0x00 };    //  field 199, LEN 0
    zframe_t *raw = lg_client_call_raw (client, unknown, sizeof unknown, 3000);
    assert_non_null (raw);
    lg_reply_t *reply = lgwan__v1__reply__unpack (NULL, zframe_size (raw), zframe_data (raw));
    s_expect (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    zframe_destroy (&raw);

    //  Bad UTF-8 in a name
    apply.name_ja = (char *) "\xe3\x81";
    request.request_id = (char *) "utf8-1";
    reply = NULL;
    assert_int_equal (lg_client_call (client, &request, &reply), 0);
    s_expect (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Missing mandatory field: ProviderGet without a provider
    Lgwan__V1__ProviderGet get = LGWAN__V1__PROVIDER_GET__INIT;
    lg_request_t empty = LGWAN__V1__REQUEST__INIT;
    empty.request_id = (char *) "missing-1";
    empty.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_GET;
    empty.provider_get = &get;
    assert_int_equal (lg_client_call (client, &empty, &reply), 0);
    s_expect (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Over the application bound (256 KiB here) but under the socket's: refused
    size_t big = 300 * 1024;
    uint8_t *blob = (uint8_t *) calloc (1, big);
    raw = lg_client_call_raw (client, blob, big, 3000);
    assert_non_null (raw);
    reply = lgwan__v1__reply__unpack (NULL, zframe_size (raw), zframe_data (raw));
    s_expect (reply, LGWAN__V1__CODE__RESOURCE_EXHAUSTED, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    zframe_destroy (&raw);
    free (blob);

    //  Over ZMQ_MAXMSGSIZE: the connection is dropped, nothing is answered
    big = 1024 * 1024;
    blob = (uint8_t *) calloc (1, big);
    raw = lg_client_call_raw (client, blob, big, 1000);
    assert_null (raw);
    free (blob);
    lg_client_destroy (&client);

    //  ... and the service keeps answering everybody
    assert_true (s_answers (NULL));
    assert_int_equal (s_count_rows ("registry.providers"), before);
    assert_int_equal (s_count_rows ("registry.outbox"), outbox);
}

/* REQ X.3: a request refused before it is read whole reaches its client,
   with the reason: one over the service's size bound (LG_MAX_MSG 256 KiB
   here; the client, with the default 1 MiB in its environment, sends it)
   carries its request_id, read from the wire bytes without unpacking them;
   one whose request_id is over 64 bytes, which is not echoed, is taken by
   the client on the socket that carried it alone, also after earlier calls
   on the same client. Neither refusal carried a request_id, so the client
   dropped both and ended unavailable after its retries (lgwanctl exit 3, the
   reason never shown) */
static void
test_x3_refusals_of_requests_not_read_reach_their_client (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    lg_client_t *client = s_client ("operator");
    lg_client_set_timeout (client, 1000, 1);
    size_t big = 300 * 1024;
    char *name = (char *) malloc (big + 1);
    memset (name, 'a', big);
    name [big] = 0;
    S_APPLY (request, apply);
    apply.name_ja = name;
    request.request_id = (char *) "over-bound-1";
    lg_reply_t *reply = NULL;
    int64_t started = zclock_mono ();
    assert_int_equal (lg_client_call (client, &request, &reply), 0);
    assert_true (zclock_mono () - started < 1000);          //  at the first try
    s_expect (reply, LGWAN__V1__CODE__RESOURCE_EXHAUSTED, "X.3");
    assert_string_equal (reply->request_id, "over-bound-1");
    assert_non_null (strstr (reply->status->message, "over the limit of 262144"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    free (name);

    //  A request_id over the bound, on a client that has made calls before
    apply.name_ja = (char *) "任意団体";
    char long_id [LG_REQUEST_ID_MAX + 2];
    memset (long_id, 'x', sizeof long_id - 1);
    long_id [sizeof long_id - 1] = 0;
    request.request_id = long_id;
    started = zclock_mono ();
    assert_int_equal (lg_client_call (client, &request, &reply), 0);
    assert_true (zclock_mono () - started < 1000);
    s_expect (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3");
    assert_string_equal (reply->request_id, "");
    assert_non_null (strstr (reply->status->message, "request_id is mandatory (1-64 bytes)"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  And the client goes on
    request.request_id = (char *) "after-long-id-1";
    assert_int_equal (lg_client_call (client, &request, &reply), 0);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_client_destroy (&client);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
}

/* REQ X.3: unauthorised callers */
static void
test_x3_unauthorised (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    //  A key pair that is not in allowed/ never gets a connection
    lg_reply_t *reply = s_apply ("stranger", NULL, 6, "名前", "7123456789012", NULL);
    assert_null (reply);
    //  A viewer may read, never write
    reply = s_apply ("viewer", NULL, 6, "名前", "7010705000725", NULL);
    s_expect (reply, LGWAN__V1__CODE__PERMISSION_DENIED, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  A provider cannot file another provider's qualification application
    reply = s_apply ("provider1", NULL, 6, "名前", "7010705000725", NULL);
    s_expect (reply, LGWAN__V1__CODE__PERMISSION_DENIED, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before);
}

/* REQ X.3: a revoked certificate stops working without a restart, also on a
   connection that was open before the revocation */
static void
test_x3_revocation (void **state)
{
    (void) state;
    lg_client_t *client = s_client ("reviewer");
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_STATS;
    request.stats = &stats;
    request.request_id = (char *) "before-revoke";
    lg_reply_t *reply = NULL;
    assert_int_equal (lg_client_call (client, &request, &reply), 0);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    char why [256];
    assert_int_equal (lg_auth_revoke (s_fx.certs, "reviewer", why, sizeof why), 0);
    //  The open connection: refused from the next request on
    request.request_id = (char *) "after-revoke";
    lg_client_set_timeout (client, 1000, 0);
    assert_int_equal (lg_client_call (client, &request, &reply), 0);
    s_expect (reply, LGWAN__V1__CODE__UNAUTHENTICATED, "X.3");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_client_destroy (&client);
    //  A new connection: no handshake at all, which lg_client sees refused
    //  (-3, not -1 for no reply: lg_client.h point 6)
    client = s_client ("reviewer");
    lg_client_set_timeout (client, 1000, 0);
    request.request_id = (char *) "after-revoke-2";
    assert_int_equal (lg_client_call (client, &request, &reply), -3);
    lg_client_destroy (&client);
}

/* REQ X.1: the same request_id twice is one state change and one event */
static void
test_idempotent_retry (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    long events = s_count_rows ("registry.outbox");
    lg_reply_t *first = s_apply ("operator", "same-id-1", 5, "一般社団法人", "7010705000725", NULL);
    lg_reply_t *second = s_apply ("operator", "same-id-1", 5, "一般社団法人", "7010705000725", NULL);
    s_expect (first, LGWAN__V1__CODE__OK, NULL);
    s_expect (second, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (first->provider->provider->id, second->provider->provider->id);
    size_t a = protobuf_c_message_get_packed_size (&first->base);
    size_t b = protobuf_c_message_get_packed_size (&second->base);
    assert_int_equal (a, b);
    uint8_t *pa = malloc (a), *pb = malloc (b);
    protobuf_c_message_pack (&first->base, pa);
    protobuf_c_message_pack (&second->base, pb);
    assert_memory_equal (pa, pb, a);
    free (pa);
    free (pb);
    lgwan__v1__reply__free_unpacked (first, NULL);
    lgwan__v1__reply__free_unpacked (second, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
    assert_int_equal (s_count_rows ("registry.outbox"), events + 1);
    //  The same id for different bytes is a client bug, not a retry
    lg_reply_t *other = s_apply ("operator", "same-id-1", 5, "別の名前", "7010705000725", NULL);
    s_expect (other, LGWAN__V1__CODE__ALREADY_EXISTS, "");
    lgwan__v1__reply__free_unpacked (other, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
}

//  A lock held elsewhere (an operator's open transaction, a migration) for
//  longer than LG_DB_LOCK_WAIT_MS: the caller hears UNAVAILABLE "busy" in
//  about that time instead of waiting on, nothing is written, nothing is
//  stored for the request_id, and the same request succeeds once it is gone
/* REQ X.3 */
static void
test_x3_busy_is_unavailable_and_not_stored (void **state)
{
    (void) state;
    long before = s_count_rows ("registry.providers");
    long events = s_count_rows ("registry.outbox");
    PGconn *holder = PQconnectdb (s_fx.admin_dsn);
    PGresult *res = PQexec (holder, "BEGIN; LOCK TABLE registry.providers IN ACCESS EXCLUSIVE MODE");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);

    int64_t started = zclock_mono ();
    lg_reply_t *reply = s_apply ("operator", "busy-1", 7, "任意団体", NULL, NULL);
    int64_t took = zclock_mono () - started;
    //  A read waits no longer
    lg_reply_t *read = s_list ("busy-list-1");
    long stored = s_count_rows ("registry.requests WHERE request_id = 'busy-1'");
    //  The lock goes before anything is asserted: held, it would hang every
    //  test after this one until ctest's timeout
    res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
    s_expect (reply, LGWAN__V1__CODE__UNAVAILABLE, "");
    assert_non_null (strstr (reply->status->message, "busy"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_true (took >= LG_DB_LOCK_WAIT_MS - 50 && took < LG_DB_LOCK_WAIT_MS + 900);
    assert_int_equal (stored, 0);
    s_expect (read, LGWAN__V1__CODE__UNAVAILABLE, "");
    lgwan__v1__reply__free_unpacked (read, NULL);

    reply = s_apply ("operator", "busy-1", 7, "任意団体", NULL, NULL);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
    assert_int_equal (s_count_rows ("registry.outbox"), events + 1);

    //  The outbox head, which every write takes last, held by a session:
    //  the same, once the handler's work is done
    holder = PQconnectdb (s_fx.admin_dsn);
    res = PQexec (holder, "BEGIN; SELECT 1 FROM registry.outbox_head FOR UPDATE");
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    PQclear (res);
    reply = s_apply ("operator", "busy-2", 7, "任意団体", NULL, NULL);
    res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
    s_expect (reply, LGWAN__V1__CODE__UNAVAILABLE, "");
    assert_non_null (strstr (reply->status->message, "busy"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.requests WHERE request_id = 'busy-2'"), 0);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
    reply = s_apply ("operator", "busy-2", 7, "任意団体", NULL, NULL);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 2);
    assert_int_equal (s_count_rows ("registry.outbox"), events + 2);
}

//  A DEALER of who to the registry, past its CURVE handshake
static zsock_t *
s_dealer_of (const char *who)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    char *cert = zsys_sprintf ("%s/clients/%s", s_fx.certs, who);
    char *server = zsys_sprintf ("%s/services/registry", s_fx.certs);
    assert_int_equal (lg_auth_client (dealer, cert, server), 0);
    assert_int_equal (zsock_connect (dealer, "%s", s_fx.endpoint), 0);
    zstr_free (&cert);
    zstr_free (&server);
    zclock_sleep (300);
    return dealer;
}

//  The operator's
static zsock_t *
s_dealer (void)
{
    return s_dealer_of ("operator");
}

//  Send count copies of request, ids <tag>-<i>, without waiting for replies
static void
s_send (zsock_t *dealer, lg_request_t *request, const char *tag, int count)
{
    for (int i = 0; i < count; i++) {
        char id [32];
        snprintf (id, sizeof id, "%s-%d", tag, i);
        request->request_id = id;
        zframe_t *frame = lg_codec_frame (&request->base);
        zframe_send (&frame, dealer, 0);
    }
    request->request_id = NULL;
}

//  For 1.5 s, count the replies to <tag>-... that say busy, and the others
//  to <tag>-... Under a lock the requests wait for, no worker finishes
//  within that time (the lock wait is 2 s), so every reply is a refusal
static void
s_count_busy (zsock_t *dealer, const char *tag, int *busy, int *other)
{
    *busy = *other = 0;
    int64_t until = zclock_mono () + 1500;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    while (zclock_mono () < until && zpoller_wait (poller, 100) != NULL) {
        zframe_t *frame = zframe_recv (dealer);
        lg_reply_t *reply = lgwan__v1__reply__unpack (NULL, zframe_size (frame),
                                                      zframe_data (frame));
        zframe_destroy (&frame);
        if (reply && reply->request_id && strncmp (reply->request_id, tag, strlen (tag)) == 0) {
            if (reply->status && reply->status->code == LGWAN__V1__CODE__UNAVAILABLE
            &&  strstr (reply->status->message, "wait for a worker"))
                (*busy)++;
            else
                (*other)++;
        }
        if (reply)
            lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    zpoller_destroy (&poller);
}

//  A transaction of the superuser holding a table; NULL if not
static PGconn *
s_hold (const char *table)
{
    PGconn *holder = PQconnectdb (s_fx.admin_dsn);
    char *sql = zsys_sprintf ("BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", table);
    PGresult *res = PQexec (holder, sql);
    zstr_free (&sql);
    bool held = PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    if (!held)
        PQfinish (holder);
    return held? holder: NULL;
}

static void
s_release (PGconn *holder)
{
    PGresult *res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
}

/* REQ X.3: requests that find every worker busy wait in a bounded queue
   (LG_MAX_WAITING, here 2); one more is answered UNAVAILABLE "busy" at
   once, stored nowhere. The reactor drained the socket into a queue without
   bound, so a client sending while the workers waited (here on a held lock)
   grew the process without end */
static void
test_x3_queue_for_workers_is_bounded (void **state)
{
    (void) state;
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry ("LG_MAX_WAITING=2");
    zsock_t *dealer = s_dealer ();
    PGconn *holder = s_hold ("registry.providers");
    assert_non_null (holder);
    //  More than the workers (at most 64) and the queue can hold
    S_APPLY (request, apply);
    int sent = 80, busy, other;
    s_send (dealer, &request, "queue", sent);
    s_count_busy (dealer, "queue", &busy, &other);
    s_release (holder);
    zsock_destroy (&dealer);
    printf ("%d requests sent under the lock: %d answered busy at once, %d other replies\n",
            sent, busy, other);
    assert_true (busy >= sent - 64 - 2);
    assert_int_equal (other, 0);
    //  Only those taken may have been done (after the lock, the queued ones,
    //  which waited less than LG_MAX_QUEUE_MS)
    assert_true (s_count_rows ("registry.requests WHERE request_id LIKE 'queue-%'") <= sent - busy);
    //  Stats counts every one of them, the busy ones too, as provider_apply
    //  (those taken once their worker is done with them)
    lg_test_proc_t registry = { .service = "registry" };
    snprintf (registry.endpoint, sizeof registry.endpoint, "%s", s_fx.endpoint);
    long served = 0;
    for (int i = 0; i < 50 && served < sent; i++) {
        if (i)
            zclock_sleep (100);
        served = lg_test_proc_served (&registry, s_fx.certs, "provider_apply");
    }
    assert_int_equal (served, sent);
    //  The same request again is taken once the workers are free again
    lg_reply_t *reply = NULL;
    for (int i = 0; i < 50; i++) {
        reply = s_apply ("operator", "queue-79", 7, "任意団体", NULL, NULL);
        if (reply->status->code != LGWAN__V1__CODE__UNAVAILABLE)
            break;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        zclock_sleep (100);
    }
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry (NULL);
}

/* REQ X.3: the queue for the workers is bounded in bytes too
   (LG_MAX_WAITING_MB, here 2 MiB; 64 by default), before LG_MAX_WAITING
   when the requests are large. 64 applications wait for a lock held on
   providers, one in each worker (at most 64) and the rest queued; of 104
   requests of 94 KB sent after them (reference lists whose names are too
   long, refused by a worker at once when one is free), what fits in 2 MiB
   waits too, and the rest is answered busy at once */
static void
test_x3_queue_for_workers_is_bounded_in_bytes (void **state)
{
    (void) state;
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry ("LG_MAX_WAITING_MB=2");
    char name [23001];
    memset (name, 'a', sizeof name - 1);
    name [sizeof name - 1] = 0;
    Lgwan__V1__LocalGovernment entry = LGWAN__V1__LOCAL_GOVERNMENT__INIT;
    entry.lgcode = (char *) "011002";
    entry.prefecture = (char *) "北海道";
    entry.name = name;
    entry.kind = (char *) "municipality";
    Lgwan__V1__LocalGovernment *entries [] = { &entry, &entry, &entry, &entry };
    Lgwan__V1__ReferenceLoad load = LGWAN__V1__REFERENCE_LOAD__INIT;
    load.entries = entries;
    load.n_entries = 4;
    lg_request_t big = LGWAN__V1__REQUEST__INIT;
    big.body_case = LGWAN__V1__REQUEST__BODY_REFERENCE_LOAD;
    big.reference_load = &load;
    size_t size = protobuf_c_message_get_packed_size (&big.base);
    S_APPLY (request, apply);
    zsock_t *dealer = s_dealer ();
    PGconn *holder = s_hold ("registry.providers");
    assert_non_null (holder);
    s_send (dealer, &request, "hold", 64);
    int sent = 104, busy, other;
    s_send (dealer, &big, "bytes", sent);
    s_count_busy (dealer, "bytes", &busy, &other);
    s_release (holder);
    zsock_destroy (&dealer);
    printf ("%d requests of %zu bytes sent behind 64 held: %d answered busy at once,"
            " %d other replies\n", sent, size, busy, other);
    assert_int_equal (other, 0);
    //  Taken: what fits in 2 MiB besides the held ones still queued
    size_t fits = 2 * 1024 * 1024 / size;
    assert_true ((size_t) busy >= sent - fits);
    assert_true ((size_t) busy <= sent - fits + 1);
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 30000), 0);
    s_start_registry (NULL);
}

//  Until every one of count replies to <tag>-0 ... <tag>-<count - 1> came,
//  or for ms at most: each reply in replies [i] (NULL when none came)
static void
s_collect (zsock_t *dealer, const char *tag, lg_reply_t **replies, int count, int ms)
{
    memset (replies, 0, count * sizeof (lg_reply_t *));
    int64_t until = zclock_mono () + ms;
    int got = 0;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    while (got < count && zclock_mono () < until) {
        if (!zpoller_wait (poller, 100))
            continue;
        zframe_t *frame = zframe_recv (dealer);
        lg_reply_t *reply = frame? lgwan__v1__reply__unpack (NULL, zframe_size (frame),
                                                             zframe_data (frame)): NULL;
        zframe_destroy (&frame);
        size_t len = strlen (tag);
        int i = reply && strncmp (reply->request_id, tag, len) == 0
             && reply->request_id [len] == '-'? atoi (reply->request_id + len + 1): -1;
        if (i >= 0 && i < count && !replies [i]) {
            replies [i] = reply;
            got++;
        }
        else
        if (reply)
            lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    zpoller_destroy (&poller);
}

/* REQ X.3: a request that waited for a worker longer than LG_MAX_QUEUE_MS
   (here 500 ms; by default a little over a client's 2.5 s try) is not run:
   when a worker is free it is answered UNAVAILABLE "busy", nothing is
   stored, and the same request_id (the client's retry) is done once later.
   One worker, held 1 s by a write waiting for a lock, three more queued
   behind it whose clients gave up: before, all three ran once the lock
   was gone, changes every client had been told were not made. The log
   says it in one WARNING line for the three (it said one line per
   request, under sustained overload a line for each), and Stats counts
   them under their request, provider_apply (they were counted under no
   request) */
static void
test_x3_queued_request_past_its_age_is_not_run (void **state)
{
    (void) state;
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry_with ("LG_WORKERS=1", "LG_MAX_QUEUE_MS=500");
    long before = s_count_rows ("registry.providers");
    long events = s_count_rows ("registry.outbox");
    zsock_t *dealer = s_dealer ();
    PGconn *holder = s_hold ("registry.providers");
    assert_non_null (holder);
    S_APPLY (request, apply);
    s_send (dealer, &request, "aged", 4);
    zclock_sleep (1000);
    s_release (holder);
    lg_reply_t *replies [4];
    s_collect (dealer, "aged", replies, 4, 3000);
    zsock_destroy (&dealer);
    //  The worker's own: it waited on the lock, not in the queue
    s_expect (replies [0], LGWAN__V1__CODE__OK, NULL);
    for (int i = 1; i < 4; i++) {
        s_expect (replies [i], LGWAN__V1__CODE__UNAVAILABLE, "X.3");
        printf ("aged-%d: %s\n", i, replies [i]->status->message);
        assert_non_null (strstr (replies [i]->status->message, "busy"));
        assert_non_null (strstr (replies [i]->status->message, "LG_MAX_QUEUE_MS (500 ms)"));
    }
    for (int i = 0; i < 4; i++)
        lgwan__v1__reply__free_unpacked (replies [i], NULL);
    assert_int_equal (s_count_rows ("registry.requests WHERE request_id LIKE 'aged-%'"), 1);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
    assert_int_equal (s_count_rows ("registry.outbox"), events + 1);
    //  One summary line, within a second or so
    const char *path = lg_test_log_path (s_fx.pid);
    for (int i = 0; i < 30 && lg_test_log_count (s_fx.pid, "requests waited longer than"
                                                 " LG_MAX_QUEUE_MS (500 ms)") == 0; i++)
        zclock_sleep (100);
    char *warned = lg_test_sh_output ("grep -c 'WARNING.*LG_MAX_QUEUE_MS (500 ms)' '%s'", path);
    printf ("WARNING lines of LG_MAX_QUEUE_MS: %s", warned);
    assert_int_equal (atoi (warned), 1);
    zstr_free (&warned);
    assert_int_equal (lg_test_log_count (s_fx.pid, "3 requests waited longer than"
                                         " LG_MAX_QUEUE_MS (500 ms)"), 1);
    //  Stats: the four under provider_apply
    lg_test_proc_t registry = { .service = "registry" };
    snprintf (registry.endpoint, sizeof registry.endpoint, "%s", s_fx.endpoint);
    assert_int_equal (lg_test_proc_served (&registry, s_fx.certs, "provider_apply"), 4);
    //  The retry of one of them is done, once
    lg_reply_t *reply = s_apply ("operator", "aged-2", 7, "任意団体", NULL, NULL);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 2);
    assert_int_equal (s_count_rows ("registry.requests WHERE request_id LIKE 'aged-%'"), 2);
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry (NULL);
}

/* REQ X.3: a certificate revoked while its request waits for a worker is
   refused when the request's turn comes (UNAUTHENTICATED), and nothing of
   the request is done or stored. One worker, held by a write waiting for a
   lock; the write of another operator queued behind it; that operator's
   certificate revoked; the lock released. The caller was checked on
   arrival only and the worker trusted the copy it was handed, so the
   revoked operator's write was committed */
static void
test_x3_certificate_revoked_while_its_request_waits (void **state)
{
    (void) state;
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry ("LG_WORKERS=1");
    char *clients = zsys_sprintf ("%s/clients", s_fx.certs);
    char why [256];
    assert_int_equal (lg_auth_keygen (s_fx.certs, clients, "operator-carol", "operator", 0,
                                      "carol", NULL, why, sizeof why), 0);
    zstr_free (&clients);
    long before = s_count_rows ("registry.providers");
    long events = s_count_rows ("registry.outbox");
    zsock_t *alice = s_dealer ();
    zsock_t *carol = s_dealer_of ("operator-carol");
    PGconn *holder = s_hold ("registry.providers");
    assert_non_null (holder);
    S_APPLY (request, apply);
    s_send (alice, &request, "alice", 1);       //  the worker takes it
    zclock_sleep (200);
    s_send (carol, &request, "carol", 1);       //  it waits in the queue
    zclock_sleep (200);
    assert_int_equal (lg_auth_revoke (s_fx.certs, "operator-carol", why, sizeof why), 0);
    zclock_sleep (200);
    s_release (holder);
    lg_reply_t *reply = NULL;
    s_collect (alice, "alice", &reply, 1, 3000);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_collect (carol, "carol", &reply, 1, 3000);
    s_expect (reply, LGWAN__V1__CODE__UNAUTHENTICATED, "X.3");
    printf ("carol-0: %s\n", reply->status->message);
    assert_non_null (strstr (reply->status->message, "revoked while the request waited"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    zsock_destroy (&alice);
    zsock_destroy (&carol);
    assert_int_equal (s_count_rows ("registry.requests WHERE request_id = 'carol-0'"), 0);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
    assert_int_equal (s_count_rows ("registry.outbox"), events + 1);
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry (NULL);
}

/* REQ X.3: requests their caller may not make are refused by the reactor
   at once, before they take a worker or a place in its queue: with the
   one worker held by a write waiting for a lock and a queue of two, a
   provider's 40 requests for what its role may not call (PERMISSION_DENIED),
   5 of a body the registry does not serve (INVALID_ARGUMENT) and 20 on the
   open connection of a revoked certificate (UNAUTHENTICATED) are refused
   with their reason, and an operator's write sent after them waits for the
   worker and is done. Identity and role were checked only by the worker, so
   the forbidden requests filled the queue, were answered busy, and so was
   the operator */
static void
test_x3_forbidden_requests_take_no_place_in_the_queue (void **state)
{
    (void) state;
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry_with ("LG_WORKERS=1", "LG_MAX_WAITING=2");
    char *clients = zsys_sprintf ("%s/clients", s_fx.certs);
    char why [256];
    assert_int_equal (lg_auth_keygen (s_fx.certs, clients, "operator-dave", "operator", 0,
                                      "dave", NULL, why, sizeof why), 0);
    zstr_free (&clients);
    long before = s_count_rows ("registry.providers");
    zsock_t *operator = s_dealer ();
    zsock_t *provider = s_dealer_of ("provider1");
    zsock_t *revoked = s_dealer_of ("operator-dave");
    assert_int_equal (lg_auth_revoke (s_fx.certs, "operator-dave", why, sizeof why), 0);
    PGconn *holder = s_hold ("registry.providers");
    assert_non_null (holder);
    S_APPLY (request, apply);
    s_send (operator, &request, "held", 1);     //  the worker takes it
    zclock_sleep (200);
    s_send (provider, &request, "forbidden", 20);
    Lgwan__V1__ProviderList list = LGWAN__V1__PROVIDER_LIST__INIT;
    lg_request_t read = LGWAN__V1__REQUEST__INIT;
    read.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_LIST;
    read.provider_list = &list;
    s_send (provider, &read, "unreadable", 20);
    for (int i = 0; i < 5; i++) {
        //  Field 199 of the registry's range, not defined, after a request_id
        uint8_t unknown [] = { 0x0a, 0x09, 'u', 'n', 'k', 'n', 'o', 'w', 'n', '-', '0' + i,
                               0xba, 0x0c, 0x00 };
        zsock_send (provider, "b", unknown, sizeof unknown);
    }
    s_send (revoked, &request, "revoked", 20);
    zclock_sleep (300);
    s_send (operator, &request, "allowed", 1);
    const struct {
        zsock_t *socket;
        const char *tag;
        int count;
        lg_code_t code;
        const char *said;
    } refused [] = {
        { provider, "forbidden", 20, LGWAN__V1__CODE__PERMISSION_DENIED,
          "role provider may not call provider_apply" },
        { provider, "unreadable", 20, LGWAN__V1__CODE__PERMISSION_DENIED,
          "role provider may not call provider_list" },
        { provider, "unknown", 5, LGWAN__V1__CODE__INVALID_ARGUMENT,
          "is not served by registry" },
        { revoked, "revoked", 20, LGWAN__V1__CODE__UNAUTHENTICATED, "certificate not allowed" },
    };
    size_t kinds = sizeof refused / sizeof refused [0];
    lg_reply_t *replies [4][20];
    for (size_t k = 0; k < kinds; k++)
        s_collect (refused [k].socket, refused [k].tag, replies [k], refused [k].count, 1000);
    //  The operator's write waits for the worker, not answered busy
    lg_reply_t *early = NULL;
    s_collect (operator, "allowed", &early, 1, 200);
    //  Released before anything is asserted, or it would hold every later test
    s_release (holder);
    if (early)
        fail_msg ("allowed-0 was answered while the worker was held: %s",
                  early->status->message);
    for (size_t k = 0; k < kinds; k++)
        for (int i = 0; i < refused [k].count; i++) {
            s_expect (replies [k][i], refused [k].code, "X.3");
            assert_non_null (strstr (replies [k][i]->status->message, refused [k].said));
            lgwan__v1__reply__free_unpacked (replies [k][i], NULL);
        }
    lg_reply_t *reply = NULL;
    s_collect (operator, "held", &reply, 1, 3000);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_collect (operator, "allowed", &reply, 1, 3000);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    zsock_destroy (&operator);
    zsock_destroy (&provider);
    zsock_destroy (&revoked);
    assert_int_equal (s_count_rows ("registry.providers"), before + 2);
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_start_registry (NULL);
}

//  The registry's role in this database, as an operator sets it (lg_db.h
//  notes 2b, 2c), for the registry's next connections: it is restarted,
//  with extra (one NAME=VALUE, or NULL) in its environment
static void
s_restart_with_role_settings (const char *settings, const char *extra)
{
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    PGconn *admin = PQconnectdb (s_fx.admin_dsn);
    char *sql = zsys_sprintf ("DO $$ BEGIN EXECUTE format ('ALTER ROLE lgwan_registry"
                              " IN DATABASE %%I %s', current_database ()); END $$", settings);
    PGresult *res = PQexec (admin, sql);
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    PQfinish (admin);
    zstr_free (&sql);
    s_start_registry (extra);
}

/* REQ X.3: a statement that runs past the database's bound (statement_timeout,
   here the role's own 400 ms; a lock held elsewhere keeps the statement
   running, below its 2 s lock wait) is cancelled: the caller hears DEADLINE_EXCEEDED at once, nothing is
   written or stored, the worker is free, and the same request_id succeeds
   once the statement can finish */
static void
test_x3_statement_past_the_bound_is_cancelled (void **state)
{
    (void) state;
    s_restart_with_role_settings ("SET statement_timeout = 400", NULL);
    PGconn *admin = PQconnectdb (s_fx.admin_dsn);
    long before = s_count_rows ("registry.providers");
    long events = s_count_rows ("registry.outbox");
    PGresult *res = PQexec (admin, "BEGIN; LOCK TABLE registry.providers IN ACCESS EXCLUSIVE MODE");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);

    for (int i = 0; i < 3; i++) {
        //  More than the workers: each is freed by the bound
        int64_t started = zclock_mono ();
        lg_reply_t *reply = s_apply ("operator", "slow-1", 7, "任意団体", NULL, NULL);
        int64_t took = zclock_mono () - started;
        s_expect (reply, LGWAN__V1__CODE__DEADLINE_EXCEEDED, "");
        assert_non_null (strstr (reply->status->message, "statement_timeout"));
        assert_non_null (strstr (reply->status->message, "nothing was changed"));
        lgwan__v1__reply__free_unpacked (reply, NULL);
        assert_true (took >= 350 && took < 1500);
    }
    assert_int_equal (s_count_rows ("registry.requests WHERE request_id = 'slow-1'"), 0);

    //  A read the same
    lg_reply_t *reply = s_list ("slow-list-1");
    s_expect (reply, LGWAN__V1__CODE__DEADLINE_EXCEEDED, "");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    res = PQexec (admin, "COMMIT");
    PQclear (res);
    PQfinish (admin);
    assert_int_equal (s_count_rows ("registry.providers"), before);
    assert_int_equal (s_count_rows ("registry.outbox"), events);
    reply = s_apply ("operator", "slow-1", 7, "任意団体", NULL, NULL);
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 1);
    assert_int_equal (s_count_rows ("registry.outbox"), events + 1);
    s_restart_with_role_settings ("RESET ALL", NULL);
}

static void *
s_apply_in_thread (void *request_id)
{
    return s_apply ("operator", (const char *) request_id, 7, "任意団体", NULL, NULL);
}

/* REQ X.3: a worker frozen in the middle of a write, holding the outbox
   head's lock that every write takes last (here a fault point stalls it for
   3 s), holds other writes up only until PostgreSQL ends its idle
   transaction (the role's 1 s here; LG_DB_IDLE_IN_TX_MS by default). Without
   that bound the other write waited out its lock bound and was answered
   busy. The frozen write, woken, finds its connection gone and runs again:
   both are done once. */
static void
test_x3_frozen_write_does_not_hold_the_others (void **state)
{
    (void) state;
    s_restart_with_role_settings ("SET idle_in_transaction_session_timeout = 1000",
                                  "LG_FAULTS=write_stall_before_commit");
    //  The frozen write is answered by its own run again, not by a retry
    s_try_ms = 10000;
    long before = s_count_rows ("registry.providers");
    long events = s_count_rows ("registry.outbox");
    pthread_t frozen;
    assert_int_equal (pthread_create (&frozen, NULL, s_apply_in_thread, (void *) "frozen-1"), 0);
    zclock_sleep (300);                     //  it holds the head by now

    int64_t started = zclock_mono ();
    lg_reply_t *reply = s_apply ("operator", "behind-1", 7, "任意団体", NULL, NULL);
    int64_t took = zclock_mono () - started;
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  Released when the frozen transaction was ended, not at the lock bound
    printf ("the write behind the frozen one: %" PRId64 " ms\n", took);
    assert_true (took < LG_DB_LOCK_WAIT_MS);

    void *result = NULL;
    assert_int_equal (pthread_join (frozen, &result), 0);
    reply = (lg_reply_t *) result;
    s_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_count_rows ("registry.providers"), before + 2);
    assert_int_equal (s_count_rows ("registry.outbox"), events + 2);
    assert_int_equal (s_count_rows ("registry.requests WHERE request_id IN ('frozen-1', 'behind-1')"), 2);
    char *log = lg_test_sh_output ("cat '%s'", lg_test_log_path (s_fx.pid));
    assert_non_null (strstr (log, "request frozen-1 lost its database connection (run 1 of 3)"));
    zstr_free (&log);
    s_try_ms = 3000;
    s_restart_with_role_settings ("RESET ALL", NULL);
}

//  The registry started with one file of its certificate folder at mode:
//  it must stop at once, non-zero, saying why in its log
static void
s_expect_refused_start (const char *file, mode_t mode, const char *said)
{
    char *path = zsys_sprintf ("%s/%s", s_fx.certs, file);
    assert_int_equal (chmod (path, mode), 0);
    pid_t pid = s_spawn_registry (NULL);
    char *log_path = strdup (lg_test_log_path (pid));
    int code = lg_test_stop (pid, 0, 10000);
    assert_true (code > 0 && code < 128);
    char *log = lg_test_sh_output ("cat '%s'", log_path);
    assert_non_null (log);
    if (!strstr (log, said) || !strstr (log, path))
        fail_msg ("the log of a refused start does not say \"%s\" of %s:\n%s", said, path, log);
    assert_int_equal (chmod (path, 0600), 0);
    zstr_free (&log);
    free (log_path);
    zstr_free (&path);
}

/* REQ X.1: a secret that others could read (lg_auth.h note 4) is refused, not
   used: the service's own key pair or its outbox HMAC key (whoever read it
   could forge the tamper evidence) stop it at start; a client's secret makes
   no connection. Put right, each works again. A secret root owns may be
   read by its group, also when the process is root (libpq's rule): that is
   how docker-compose.yml shares the services' secrets with the containers'
   user while root's own processes (an enforcer, lgwanctl, scripts/run.sh)
   still use them. */
static void
test_x1_secrets_others_may_read_are_refused (void **state)
{
    (void) state;
    assert_int_equal (lg_test_stop (s_fx.pid, SIGTERM, 5000), 0);
    s_fx.pid = 0;
    s_expect_refused_start ("services/registry_secret", 0644, "others may read");
    s_expect_refused_start ("services/registry.hmac", 0660, "the outbox key is not used");
    char *key_secret = zsys_sprintf ("%s/services/registry_secret", s_fx.certs);
    char *key_hmac = zsys_sprintf ("%s/services/registry.hmac", s_fx.certs);
    if (geteuid () == 0) {
        //  Root's files, its group may read them: root's registry starts
        assert_int_equal (chmod (key_secret, 0640), 0);
        assert_int_equal (chmod (key_hmac, 0640), 0);
    }
    else
        s_expect_refused_start ("services/registry.hmac", 0640, "the outbox key is not used");
    s_start_registry (NULL);
    assert_int_equal (chmod (key_secret, 0600), 0);
    assert_int_equal (chmod (key_hmac, 0600), 0);
    zstr_free (&key_secret);
    zstr_free (&key_hmac);

    //  A client whose secret others may read is not made; root's own,
    //  readable by its group, is
    char *secret = zsys_sprintf ("%s/clients/viewer_secret", s_fx.certs);
    char *server = zsys_sprintf ("%s/services/registry", s_fx.certs);
    assert_int_equal (chmod (secret, 0644), 0);
    lg_client_t *client = lg_client_new (s_fx.endpoint, secret, server);
    assert_null (client);
    assert_int_equal (chmod (secret, 0640), 0);
    client = lg_client_new (s_fx.endpoint, secret, server);
    if (geteuid () == 0)
        assert_non_null (client);
    else
        assert_null (client);
    lg_client_destroy (&client);
    assert_int_equal (chmod (secret, 0600), 0);
    assert_true (s_answers (NULL));
    zstr_free (&secret);
    zstr_free (&server);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_apply_and_get),
        cmocka_unit_test (test_r3_1_refusals),
        cmocka_unit_test (test_r3_1_local_government_number_only_for_a_local_government),
        cmocka_unit_test (test_x3_long_names),
        cmocka_unit_test (test_x3_malformed),
        cmocka_unit_test (test_x3_refusals_of_requests_not_read_reach_their_client),
        cmocka_unit_test (test_x3_unauthorised),
        cmocka_unit_test (test_idempotent_retry),
        cmocka_unit_test (test_x3_busy_is_unavailable_and_not_stored),
        cmocka_unit_test (test_x3_queue_for_workers_is_bounded),
        cmocka_unit_test (test_x3_queue_for_workers_is_bounded_in_bytes),
        cmocka_unit_test (test_x3_queued_request_past_its_age_is_not_run),
        cmocka_unit_test (test_x3_certificate_revoked_while_its_request_waits),
        cmocka_unit_test (test_x3_forbidden_requests_take_no_place_in_the_queue),
        cmocka_unit_test (test_x3_statement_past_the_bound_is_cancelled),
        cmocka_unit_test (test_x3_frozen_write_does_not_hold_the_others),
        cmocka_unit_test (test_x1_secrets_others_may_read_are_refused),
        cmocka_unit_test (test_x3_revocation),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
