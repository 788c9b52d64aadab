/*  System test of lgwan-registry connections: connection applications and
    their preconditions (R4.1, R9.2, R5.2), the operating body's pools and
    allocations (R12.1), also with two registries on one database and eight
    concurrent clients, and the servers behind a connection (R5.2, R11.3,
    R11.6). The real binary, driven black-box; see registry_fixture.h.

    Pools are shared by the whole program (one database) and the allocator
    takes the first pool of a family with room, so the tests that count room
    run first, each leaving the IPv4 pools it adds full: reuse, a server's
    address after a release, then the concurrency test, then IPv6 (the only
    IPv6 pool); the later tests take whatever prefix they are given.
*/
#include "registry_fixture.h"
#include <arpa/inet.h>
#include <pthread.h>

#define APPROVED LGWAN__V1__OUTCOME__OUTCOME_APPROVED
#define REJECTED LGWAN__V1__OUTCOME__OUTCOME_REJECTED
#define ACTIVATED LGWAN__V1__EVENT__BODY_CONNECTION_ACTIVATED
#define CHANGED LGWAN__V1__EVENT__BODY_CONNECTION_CHANGED
#define APPLICATION LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION
#define NOTIFICATION LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION

//  ---------------------------------------------------------------------------
//  Helpers

//  A ChangeFile replacing a provider's contacts, and what it points to
typedef struct {
    Lgwan__V1__Contact contact [3];
    Lgwan__V1__Contact *contacts [3];
    Lgwan__V1__ProviderPatch patch;
    Lgwan__V1__ChangeFile change;
} s_contacts_change_t;

//  The change of this kind replacing a provider's contacts by the kinds
//  asked for, each with a name, phone and address
static void
s_contacts_change (s_contacts_change_t *c, Lgwan__V1__ChangeKind kind, uint64_t provider,
                   bool liaison, bool emergency, bool manager)
{
    Lgwan__V1__Contact *contact = c->contact, **contacts = c->contacts;
    for (size_t i = 0; i < 3; i++)
        lgwan__v1__contact__init (&contact [i]);
    size_t n = 0;
    if (liaison) {
        contact [n].kind = LGWAN__V1__CONTACT_KIND__CONTACT_LIAISON;
        contact [n].name = (char *) "連絡担当 佐藤";
        contact [n].email = (char *) "liaison@example.jp";
        contacts [n] = &contact [n];
        n++;
    }
    if (emergency) {
        contact [n].kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
        contact [n].name = (char *) "緊急対応窓口";
        contact [n].phone = (char *) "0120-000-000";
        contacts [n] = &contact [n];
        n++;
    }
    if (manager) {
        contact [n].kind = LGWAN__V1__CONTACT_KIND__CONTACT_OPERATIONS_MANAGER;
        contact [n].name = (char *) "運用管理責任者 鈴木";
        contact [n].email = (char *) "ops@example.jp";
        contacts [n] = &contact [n];
        n++;
    }
    lgwan__v1__provider_patch__init (&c->patch);
    c->patch.contacts = contacts;
    c->patch.n_contacts = n;
    c->patch.replace_contacts = true;
    lgwan__v1__change_file__init (&c->change);
    c->change.kind = kind;
    c->change.subject = (char *) "provider";
    c->change.id = provider;
    c->change.provider = &c->patch;
}

//  Replace a provider's contacts by a change of this kind (operator): the
//  kinds asked for; the reply
static lg_reply_t *
s_contacts_filed (Lgwan__V1__ChangeKind kind, uint64_t provider, bool liaison, bool emergency,
                  bool manager)
{
    s_contacts_change_t c;
    s_contacts_change (&c, kind, provider, liaison, emergency, manager);
    return rf_ask_why ("operator", "連絡先の届出", RF_BODY (CHANGE_FILE), &c.change);
}

//  The same by a notification, which takes effect
static void
s_contacts (uint64_t provider, bool liaison, bool emergency, bool manager)
{
    lg_reply_t *reply = s_contacts_filed (LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION, provider,
                                          liaison, emergency, manager);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

static lg_reply_t *
s_pool_add (const char *who, const char *name, const char *prefix)
{
    Lgwan__V1__PoolAdd add = LGWAN__V1__POOL_ADD__INIT;
    add.name = (char *) name;
    add.prefix = (char *) prefix;
    return rf_ask (who, RF_BODY (POOL_ADD), &add);
}

//  Add a pool as operator; it comes back as given
static void
s_pool (const char *name, const char *prefix, uint32_t family)
{
    lg_reply_t *reply = s_pool_add ("operator", name, prefix);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->pool->pool->name, name);
    assert_string_equal (reply->pool->pool->prefix, prefix);
    assert_int_equal (reply->pool->pool->family, family);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

static lg_reply_t *
s_apply_full (const char *who, uint64_t service, const char *router, const char *line,
              uint32_t v4, uint32_t v6)
{
    Lgwan__V1__ConnectionApply apply = LGWAN__V1__CONNECTION_APPLY__INIT;
    apply.service = service;
    apply.router = (char *) router;
    apply.line_carrier = (char *) line;
    apply.bandwidth_class = (char *) "100M";
    apply.ipv4_prefix_length = v4;
    apply.ipv6_prefix_length = v6;
    return rf_ask (who, RF_BODY (CONNECTION_APPLY), &apply);
}

static lg_reply_t *
s_apply (const char *who, uint64_t service, uint32_t v4, uint32_t v6)
{
    return s_apply_full (who, service, "rt-tokyo-01", "NTT東日本 フレッツ光", v4, v6);
}

//  An applied connection; its id
static uint64_t
s_applied (const char *who, uint64_t service, uint32_t v4, uint32_t v6)
{
    lg_reply_t *reply = s_apply (who, service, v4, v6);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Connection *c = reply->connection->connection;
    assert_string_equal (c->status, "applied");
    assert_int_equal (c->service, service);
    assert_int_equal (c->ipv4_prefix_length, v4);
    assert_int_equal (c->ipv6_prefix_length, v6);
    assert_string_equal (c->ipv4_prefix, "");
    assert_string_equal (c->ipv6_prefix, "");
    assert_string_equal (c->domain, "");
    uint64_t id = c->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

static lg_reply_t *
s_get (const char *who, uint64_t connection)
{
    Lgwan__V1__ConnectionGet get = LGWAN__V1__CONNECTION_GET__INIT;
    get.connection = connection;
    return rf_ask (who, RF_BODY (CONNECTION_GET), &get);
}

static lg_reply_t *
s_review (const char *who, uint64_t connection)
{
    Lgwan__V1__ConnectionReview review = LGWAN__V1__CONNECTION_REVIEW__INIT;
    review.connection = connection;
    return rf_ask (who, RF_BODY (CONNECTION_REVIEW), &review);
}

static lg_reply_t *
s_decide (const char *who, uint64_t connection, Lgwan__V1__Outcome outcome)
{
    Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
    decide.connection = connection;
    decide.outcome = outcome;
    decide.reason = (char *) "接続要件を満たす";
    return rf_ask (who, RF_BODY (CONNECTION_DECIDE), &decide);
}

//  An applied connection put under review; its id
static uint64_t
s_under_review (const char *who, uint64_t service, uint32_t v4, uint32_t v6)
{
    uint64_t id = s_applied (who, service, v4, v6);
    lg_reply_t *reply = s_review ("reviewer", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->connection->connection->status, "under_review");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  Approve a connection under review; the active record (caller frees reply)
static lg_reply_t *
s_approve (uint64_t connection)
{
    lg_reply_t *reply = s_decide ("reviewer", connection, APPROVED);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Connection *c = reply->connection->connection;
    assert_int_equal (c->id, connection);
    assert_string_equal (c->status, "active");
    assert_string_equal (c->state, "connected");
    assert_string_equal (c->effective_on, RF_TODAY);
    assert_non_null (c->decision);
    assert_int_equal (c->decision->outcome, APPROVED);
    assert_string_equal (c->decision->reviewer, "reviewer:rita");
    //  Its history has this version: the active row with its allocations
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.versions WHERE subject ="
                                    " 'connection' AND subject_id = %" PRIu64 " AND version ="
                                    " %" PRIu64 " AND record->>'status' = 'active' AND"
                                    " record->>'domain' = '%s' AND jsonb_array_length"
                                    " (record->'allocations') = (SELECT count(*) FROM"
                                    " registry.allocations WHERE connection_id = %" PRIu64 ")",
                                    connection, c->version, c->domain, connection), 1);
    return reply;
}

//  The status of a connection, read as admin
static void
s_assert_status (uint64_t connection, const char *status)
{
    char sql [120];
    snprintf (sql, sizeof sql, "SELECT status FROM registry.connections WHERE id = %" PRIu64,
              connection);
    char *text = rf_sql_text (sql);
    assert_non_null (text);
    assert_string_equal (text, status);
    free (text);
}

//  Live allocations of one connection, read as admin
static long
s_live_allocations (uint64_t connection)
{
    char sql [160];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.allocations WHERE connection_id"
                               " = %" PRIu64 " AND status <> 'released'", connection);
    return rf_sql_long (sql);
}

//  The ConnectionActivated event of a connection, from the outbox itself:
//  how many there are; the domain and first prefix of the last one
static long
s_activation (uint64_t connection, char *domain, size_t dsize, char *prefixes, size_t psize)
{
    PGconn *conn = PQconnectdb (rf.admin);
    PGresult *res = PQexec (conn, "SELECT encode (event, 'hex') FROM registry.outbox"
                                  " WHERE body_case = 107 ORDER BY seq");
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    long found = 0;
    for (int row = 0; row < PQntuples (res); row++) {
        lg_event_t *event = rf_event_from_hex (PQgetvalue (res, row, 0), ACTIVATED);
        const Lgwan__V1__ConnectionActivated *a = event->connection_activated;
        if (a->connection == connection) {
            found++;
            snprintf (domain, dsize, "%s", a->domain);
            //  The prefixes joined by a space
            *prefixes = 0;
            for (size_t i = 0; i < a->n_prefixes; i++) {
                size_t used = strlen (prefixes);
                snprintf (prefixes + used, psize - used, "%s%s", i? " ": "", a->prefixes [i]);
            }
        }
        lgwan__v1__event__free_unpacked (event, NULL);
    }
    PQclear (res);
    PQfinish (conn);
    return found;
}

static lg_reply_t *
s_server (const char *who, uint64_t connection, const char *name, const char *address,
          Lgwan__V1__PortSpec **ports, size_t n_ports, bool external, const char *firewall,
          const char *access)
{
    Lgwan__V1__ServerRegister r = LGWAN__V1__SERVER_REGISTER__INIT;
    r.connection = connection;
    r.name = (char *) name;
    r.address = (char *) address;
    r.ports = ports;
    r.n_ports = n_ports;
    r.external_facing = external;
    r.firewall_record = (char *) firewall;
    r.access_control_record = (char *) access;
    return rf_ask (who, RF_BODY (SERVER_REGISTER), &r);
}

//  The address at offset (may be negative) from the start of an IPv4 prefix
static void
s_v4_at (const char *prefix, long offset, char *out, size_t size)
{
    char base [32];
    snprintf (base, sizeof base, "%s", prefix);
    char *slash = strchr (base, '/');
    assert_non_null (slash);
    *slash = 0;
    struct in_addr addr;
    assert_int_equal (inet_pton (AF_INET, base, &addr), 1);
    addr.s_addr = htonl ((uint32_t) ((long) ntohl (addr.s_addr) + offset));
    assert_non_null (inet_ntop (AF_INET, &addr, out, (socklen_t) size));
}

static lg_reply_t *
s_lookup (const char *who, const char *address)
{
    Lgwan__V1__ConnectionLookup lookup = LGWAN__V1__CONNECTION_LOOKUP__INIT;
    lookup.address = (char *) address;
    return rf_ask (who, RF_BODY (CONNECTION_LOOKUP), &lookup);
}

//  ---------------------------------------------------------------------------
//  Test 1: two registries, eight clients, room for exactly 100

#define S_CONNECTIONS   130
#define S_ROOM          100
#define S_THREADS       8
#define S_PER_SERVICE   2       //  connections of one service, approved side by side

//  ConnectionDecide requests a registry process has served (its Stats)
typedef struct {
    uint64_t id;
    int code;                   //  -1: no reply came
    char requirement [16];
    char prefix [64];
    char domain [128];
    char status [32];
    char message [200];
} s_result_t;

typedef struct {
    const lg_test_proc_t *both;     //  the two registries' endpoints, comma-joined
    s_result_t *results;
    int first;                      //  this thread approves first, first + S_THREADS, ...
} s_worker_t;

//  One client per thread, requests dealt among both registries. No cmocka
//  assertion here: the main thread checks what was recorded
static void *
s_approver (void *arg)
{
    s_worker_t *w = (s_worker_t *) arg;
    lg_client_t *client = lg_test_proc_client (w->both, rf.certs, "reviewer");
    if (!client)
        return NULL;
    lg_client_set_timeout (client, 10000, 2);
    for (int i = w->first; i < S_CONNECTIONS; i += S_THREADS) {
        s_result_t *r = &w->results [i];
        Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
        decide.connection = r->id;
        decide.outcome = APPROVED;
        decide.reason = (char *) "接続要件を満たす";
        lg_request_t request = LGWAN__V1__REQUEST__INIT;
        request.reason = (char *) "system test: concurrent approvals";
        request.body_case = RF_BODY (CONNECTION_DECIDE);
        request.connection_decide = &decide;
        lg_reply_t *reply = NULL;
        if (lg_client_call (client, &request, &reply) == 0 && reply && reply->status) {
            r->code = (int) reply->status->code;
            snprintf (r->requirement, sizeof r->requirement, "%s", reply->status->requirement);
            snprintf (r->message, sizeof r->message, "%s", reply->status->message);
            if (reply->body_case == LGWAN__V1__REPLY__BODY_CONNECTION) {
                const Lgwan__V1__Connection *c = reply->connection->connection;
                snprintf (r->prefix, sizeof r->prefix, "%s", c->ipv4_prefix);
                snprintf (r->domain, sizeof r->domain, "%s", c->domain);
                snprintf (r->status, sizeof r->status, "%s", c->status);
            }
        }
        else
            r->code = -1;
        if (reply)
            lgwan__v1__reply__free_unpacked (reply, NULL);
        free (request.request_id);
    }
    lg_client_destroy (&client);
    return NULL;
}

/* REQ R12.1: with two registries on one database and eight clients approving
   at once, pools with room for exactly 100 /30 give exactly 100 approvals;
   the other 30 are refused RESOURCE_EXHAUSTED and stay under review; no two
   live allocations overlap, each lies in its pool, 100 domains, 100 events */
static void
test_r12_1_concurrent_allocation_two_registries (void **state)
{
    (void) state;
    //  64 + 32 + 4 blocks of /30
    s_pool ("asp-v4-a", "198.18.0.0/24", 4);
    s_pool ("asp-v4-b", "198.18.1.0/25", 4);
    s_pool ("asp-v4-c", "198.18.2.0/28", 4);

    //  Services hosted by provider 1, two connections each (a service's first
    //  and its further connection), approved by neighbouring threads, so that
    //  approvals of the same service meet in the two registries
    s_result_t *results = (s_result_t *) calloc (S_CONNECTIONS, sizeof *results);
    assert_non_null (results);
    uint64_t service = 0;
    for (int i = 0; i < S_CONNECTIONS; i++) {
        if (i % S_PER_SERVICE == 0)
            service = rf_registered_service (2, 1);
        results [i].id = s_under_review ("provider1", service, 30, 0);
    }
    uint64_t first_id = results [0].id, last_id = results [S_CONNECTIONS - 1].id;
    long activated = rf_events (ACTIVATED);

    //  The second registry, on the same database with the same certificates
    lg_test_proc_t second = { .service = "registry" };
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    const char *extra [] = { clock, "LG_DUTY_MS=200", "LG_LOG_LEVEL=info", NULL };
    assert_true (lg_test_proc_start (&second, rf.admin, rf.certs, NULL, extra));
    zstr_free (&clock);
    //  Both endpoints for every client; odd threads name the second first,
    //  so that from the first request on both registries are busy
    lg_test_proc_t both [2] = { { .service = "registry" }, { .service = "registry" } };
    assert_true (strlen (rf.registry.endpoint) + strlen (second.endpoint) + 2
                 <= sizeof both [0].endpoint);
    for (int order = 0; order < 2; order++) {
        strcpy (both [order].endpoint, order? second.endpoint: rf.registry.endpoint);
        strcat (both [order].endpoint, ",");
        strcat (both [order].endpoint, order? rf.registry.endpoint: second.endpoint);
    }
    long decides [2] = { lg_test_proc_served (&rf.registry, rf.certs, "connection_decide"),
                         lg_test_proc_served (&second, rf.certs, "connection_decide") };

    pthread_t threads [S_THREADS];
    s_worker_t workers [S_THREADS];
    for (int t = 0; t < S_THREADS; t++) {
        workers [t] = (s_worker_t) { .both = &both [t % 2], .results = results, .first = t };
        assert_int_equal (pthread_create (&threads [t], NULL, s_approver, &workers [t]), 0);
    }
    for (int t = 0; t < S_THREADS; t++)
        assert_int_equal (pthread_join (threads [t], NULL), 0);
    //  Both registries took their part, still answer, and stop cleanly
    long first_took = lg_test_proc_served (&rf.registry, rf.certs, "connection_decide")
                    - decides [0];
    long second_took = lg_test_proc_served (&second, rf.certs, "connection_decide")
                     - decides [1];
    print_message ("approvals served: %ld by the first registry, %ld by the second\n",
                   first_took, second_took);
    assert_true (first_took >= S_CONNECTIONS / 4);
    assert_true (second_took >= S_CONNECTIONS / 4);
    assert_int_equal (first_took + second_took, S_CONNECTIONS);
    assert_int_equal (lg_test_proc_stop (&second, SIGTERM), 0);

    //  What came back, told before anything is asserted
    int ok = 0, exhausted = 0, other = 0;
    for (int i = 0; i < S_CONNECTIONS; i++) {
        s_result_t *r = &results [i];
        if (r->code == LGWAN__V1__CODE__OK)
            ok++;
        else
        if (r->code == LGWAN__V1__CODE__RESOURCE_EXHAUSTED && streq (r->requirement, "R12.1"))
            exhausted++;
        else {
            other++;
            print_error ("connection %" PRIu64 ": code %d requirement \"%s\": %s\n", r->id,
                         r->code, r->requirement, r->message);
        }
    }
    print_message ("concurrent approvals: %d ok, %d exhausted, %d other\n", ok, exhausted, other);

    //  The database first: never an overlap, whatever the replies said
    assert_int_equal (rf_sql_long (
        "SELECT count(*) FROM registry.allocations a JOIN registry.allocations b"
        " ON a.id < b.id AND a.prefix && b.prefix"
        " WHERE a.status <> 'released' AND b.status <> 'released'"), 0);
    assert_int_equal (rf_sql_long (
        "SELECT count(*) FROM registry.allocations a WHERE NOT EXISTS (SELECT 1 FROM"
        " registry.pools p WHERE p.id = a.pool_id AND a.prefix <<= p.prefix"
        " AND p.family = a.family)"), 0);
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.allocations a JOIN registry.pools p"
                               " ON p.id = a.pool_id WHERE p.name LIKE 'asp-v4-%%'"
                               " AND a.status = 'active' AND masklen (a.prefix) = 30"
                               " AND a.connection_id BETWEEN %" PRIu64 " AND %" PRIu64,
              first_id, last_id);
    long allocated = rf_sql_long (sql);
    assert_int_equal (allocated, ok);

    //  The replies: each approval active with its /30, each refusal still
    //  under review with nothing allocated
    for (int i = 0; i < S_CONNECTIONS; i++) {
        s_result_t *r = &results [i];
        if (r->code == LGWAN__V1__CODE__OK) {
            assert_string_equal (r->status, "active");
            assert_int_equal (strlen (r->prefix) > 3, 1);
            assert_string_equal (r->prefix + strlen (r->prefix) - 3, "/30");
            assert_int_equal (s_live_allocations (r->id), 1);
        }
        else {
            s_assert_status (r->id, "under_review");
            assert_int_equal (s_live_allocations (r->id), 0);
        }
    }

    //  Every approved prefix once
    for (int i = 0; i < S_CONNECTIONS; i++)
        for (int j = i + 1; j < S_CONNECTIONS; j++)
            if (*results [i].prefix && *results [j].prefix)
                assert_string_not_equal (results [i].prefix, results [j].prefix);

    //  A distinct domain per approval, in the database and in the replies
    snprintf (sql, sizeof sql, "SELECT count(DISTINCT domain) FROM registry.connections"
                               " WHERE status = 'active' AND id BETWEEN %" PRIu64 " AND %" PRIu64,
              first_id, last_id);
    assert_int_equal (rf_sql_long (sql), ok);
    for (int i = 0; i < S_CONNECTIONS; i++)
        for (int j = i + 1; j < S_CONNECTIONS; j++)
            if (*results [i].domain && *results [j].domain)
                assert_string_not_equal (results [i].domain, results [j].domain);

    //  One ConnectionActivated per approval, none for a refusal
    assert_int_equal (rf_events (ACTIVATED), activated + ok);
    char domain [128], prefixes [128];
    for (int i = 0; i < S_CONNECTIONS; i++) {
        long events = s_activation (results [i].id, domain, sizeof domain, prefixes,
                                    sizeof prefixes);
        if (results [i].code == LGWAN__V1__CODE__OK) {
            assert_int_equal (events, 1);
            assert_string_equal (domain, results [i].domain);
            assert_string_equal (prefixes, results [i].prefix);
        }
        else
            assert_int_equal (events, 0);
    }
    free (results);
    //  Last, so that a failure here comes after everything else was checked:
    //  exactly the room was allocated, and every other approval was refused
    //  for want of room
    assert_int_equal (other, 0);
    assert_int_equal (allocated, S_ROOM);
    assert_int_equal (ok, S_ROOM);
    assert_int_equal (exhausted, S_CONNECTIONS - S_ROOM);
}

//  ---------------------------------------------------------------------------
//  Test 4: reuse of allocations

/* REQ R12.1: space still held (decommissioning) is not allocated again;
   released space is, exactly that prefix */
static void
test_r12_1_allocation_reuse (void **state)
{
    (void) state;
    s_pool ("asp-v4-reuse", "198.18.3.0/28", 4);
    uint64_t service = rf_registered_service (1, 1);
    static const char *blocks [] = {
        "198.18.3.0/30", "198.18.3.4/30", "198.18.3.8/30", "198.18.3.12/30" };
    uint64_t ids [4];
    for (int i = 0; i < 4; i++) {
        ids [i] = s_under_review ("provider1", service, 30, 0);
        lg_reply_t *reply = s_approve (ids [i]);
        assert_string_equal (reply->connection->connection->ipv4_prefix, blocks [i]);
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    //  The pool is full
    uint64_t next = s_under_review ("provider1", service, 30, 0);
    long allocations = rf_count ("allocations");
    long activated = rf_events (ACTIVATED);
    rf_refused (s_decide ("reviewer", next, APPROVED), RF_CODE (RESOURCE_EXHAUSTED), "R12.1");
    s_assert_status (next, "under_review");
    assert_int_equal (rf_count ("allocations"), allocations);

    //  No service moves allocations to decommissioning or released yet (the
    //  isolation service will): set the status as admin
    char sql [200];
    snprintf (sql, sizeof sql, "UPDATE registry.allocations SET status = 'decommissioning'"
                               " WHERE connection_id = %" PRIu64 " RETURNING id", ids [1]);
    char *id = rf_sql_text (sql);
    assert_non_null (id);
    free (id);
    rf_refused (s_decide ("reviewer", next, APPROVED), RF_CODE (RESOURCE_EXHAUSTED), "R12.1");
    s_assert_status (next, "under_review");
    assert_int_equal (rf_count ("allocations"), allocations);

    snprintf (sql, sizeof sql, "UPDATE registry.allocations SET status = 'released',"
                               " released_at = now () WHERE connection_id = %" PRIu64
                               " RETURNING id", ids [1]);
    id = rf_sql_text (sql);
    assert_non_null (id);
    free (id);
    lg_reply_t *reply = s_approve (next);
    assert_string_equal (reply->connection->connection->ipv4_prefix, "198.18.3.4/30");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("allocations"), allocations + 1);
    assert_int_equal (rf_events (ACTIVATED), activated + 1);
    //  Full again
    uint64_t last = s_under_review ("provider1", service, 30, 0);
    rf_refused (s_decide ("reviewer", last, APPROVED), RF_CODE (RESOURCE_EXHAUSTED), "R12.1");
    s_assert_status (last, "under_review");
}

//  ---------------------------------------------------------------------------
//  Test 4b: a server's address after its allocation is released

/* REQ R12.1 R5.2: a server address is unique among the addresses still held.
   Connection A holds a /28 (the whole of this pool) and registers a server;
   A is cancelled, isolation reports it decommissioned and the registry
   releases its allocation; connection B gets the same /28 and registers its
   server at the same address. A's server is kept, marked released when the
   allocation was. A second server at that address behind B is refused
   (REQ R11.3: ALREADY_EXISTS naming it, one address one server).
   Before, every address ever registered stayed taken (ALREADY_EXISTS) */
static void
test_r12_1_r5_2_server_address_free_again_after_release (void **state)
{
    (void) state;
    s_pool ("asp-v4-servers-again", "198.18.3.16/28", 4);
    uint64_t service = rf_registered_service (1, 1);
    Lgwan__V1__PortSpec spec = LGWAN__V1__PORT_SPEC__INIT;
    spec.port = 443;
    spec.protocol = (char *) "tcp";
    Lgwan__V1__PortSpec *ports [] = { &spec };
    long servers = rf_count ("servers");

    uint64_t a = s_under_review ("provider1", service, 28, 0);
    lg_reply_t *reply = s_approve (a);
    assert_string_equal (reply->connection->connection->ipv4_prefix, "198.18.3.16/28");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_server ("provider1", a, "web", "198.18.3.21", ports, 1, false, "", "");
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t old = reply->server->server->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  A is cancelled (its allocation waits as decommissioning); isolation's
    //  Decommissioned event sets its state, as reg_on_isolation does; the
    //  registry's own duty releases the allocation
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = NOTIFICATION;
    cancel.subject = (char *) "connection";
    cancel.id = a;
    cancel.cancel = true;
    reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("WITH u AS (UPDATE registry.connections SET state ="
                                    " 'decommissioned', version = version + 1 WHERE id = %"
                                    PRIu64 " RETURNING 1) SELECT count(*) FROM u", a), 1);
    rf_wait_sql (1, "SELECT count(*) FROM registry.allocations WHERE connection_id = %" PRIu64
                    " AND status = 'released'", a);
    assert_int_equal (s_live_allocations (a), 0);

    //  B gets the same block, and its server the same address
    uint64_t b = s_under_review ("provider1", service, 28, 0);
    reply = s_approve (b);
    assert_string_equal (reply->connection->connection->ipv4_prefix, "198.18.3.16/28");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_server ("provider1", b, "web", "198.18.3.21", ports, 1, false, "", "");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->server->server->connection, b);
    assert_string_equal (reply->server->server->address, "198.18.3.21");
    uint64_t now = reply->server->server->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_true (now != old);

    //  Among the addresses held, one address is still one server
    rf_refused (s_server ("provider1", b, "web2", "198.18.3.21", ports, 1, false, "", ""),
                RF_CODE (ALREADY_EXISTS), "R11.3");
    assert_int_equal (rf_count ("servers"), servers + 2);

    //  A's server is kept, marked released when its allocation was; B's is not
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.servers s"
                                    " JOIN registry.allocations a ON a.connection_id = s.connection_id"
                                    " WHERE s.id = %" PRIu64 " AND s.connection_id = %" PRIu64
                                    " AND s.released_at = a.released_at", old, a), 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.servers WHERE id = %" PRIu64
                                    " AND released_at IS NULL", now), 1);
    Lgwan__V1__ServerList list = LGWAN__V1__SERVER_LIST__INIT;
    list.connection = a;
    reply = rf_ask ("provider1", RF_BODY (SERVER_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->server_list->n_servers, 1);
    assert_int_equal (reply->server_list->servers [0]->id, old);
    //  The list says so: released, and when
    assert_true (strlen (reply->server_list->servers [0]->released_at) >= 20);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    list.connection = b;
    reply = rf_ask ("provider1", RF_BODY (SERVER_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->server_list->servers [0]->released_at, "");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  ---------------------------------------------------------------------------
//  Test 3: IPv6, and looking up an address

/* REQ R12.1: IPv6 is allocated like IPv4: aligned blocks, each from its
   connection's stripe of the pool (id mod 64 for a /56 from a /40: stripes
   of /46; id mod 16 for a /48: stripes of /44), after the stripe's last live
   block; ConnectionLookup finds the connection holding an address */
static void
test_r12_1_ipv6_allocation_and_lookup (void **state)
{
    (void) state;
    s_pool ("asp-v6-a", "2001:db8:4000::/40", 6);
    uint64_t service = rf_registered_service (1, 1);
    uint64_t first = s_under_review ("provider1", service, 0, 56);
    uint64_t second = s_under_review ("operator", service, 0, 56);
    uint64_t third = s_under_review ("provider1", service, 0, 48);

    //  The third group of 16 bits of each block, by the rule above
    unsigned h1 = 0x4000 + (unsigned) (first % 64) * 4;
    unsigned h2 = 0x4000 + (unsigned) (second % 64) * 4;
    unsigned stripe3 = 0x4000 + (unsigned) (third % 16) * 16;
    unsigned h3 = stripe3;
    if (h1 >= stripe3 && h1 < stripe3 + 16 && h1 + 1 > h3)
        h3 = h1 + 1;
    if (h2 >= stripe3 && h2 < stripe3 + 16 && h2 + 1 > h3)
        h3 = h2 + 1;
    char want [3][64];
    snprintf (want [0], sizeof want [0], "2001:db8:%x::/56", h1);
    snprintf (want [1], sizeof want [1], "2001:db8:%x::/56", h2);
    snprintf (want [2], sizeof want [2], "2001:db8:%x::/48", h3);

    lg_reply_t *reply = s_approve (first);
    const Lgwan__V1__Connection *c = reply->connection->connection;
    assert_string_equal (c->ipv6_prefix, want [0]);
    assert_string_equal (c->ipv4_prefix, "");
    char expected [128];
    lg_reply_t *service_reply = NULL;
    {
        Lgwan__V1__ServiceGet get = LGWAN__V1__SERVICE_GET__INIT;
        get.service = service;
        service_reply = rf_ask ("viewer", RF_BODY (SERVICE_GET), &get);
        rf_expect (service_reply, RF_CODE (OK), NULL);
    }
    const char *name = service_reply->service->service->name;
    snprintf (expected, sizeof expected, "%s.p1.asp.lgwan.jp", name);
    assert_string_equal (c->domain, expected);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    char domain [128], prefixes [128];
    assert_int_equal (s_activation (first, domain, sizeof domain, prefixes, sizeof prefixes), 1);
    assert_string_equal (domain, expected);
    assert_string_equal (prefixes, want [0]);

    //  A /56 in the next stripe, then a /48
    reply = s_approve (second);
    assert_string_equal (reply->connection->connection->ipv6_prefix, want [1]);
    snprintf (expected, sizeof expected, "%s-c%" PRIu64 ".p1.asp.lgwan.jp", name, second);
    assert_string_equal (reply->connection->connection->domain, expected);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_approve (third);
    assert_string_equal (reply->connection->connection->ipv6_prefix, want [2]);
    snprintf (expected, sizeof expected, "%s-c%" PRIu64 ".p1.asp.lgwan.jp", name, third);
    assert_string_equal (reply->connection->connection->domain, expected);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lgwan__v1__reply__free_unpacked (service_reply, NULL);
    assert_int_equal (rf_sql_long (
        "SELECT count(*) FROM registry.allocations a JOIN registry.allocations b"
        " ON a.id < b.id AND a.prefix && b.prefix"
        " WHERE a.status <> 'released' AND b.status <> 'released'"), 0);

    //  Lookups: inside each, outside all
    char inside [4][64];
    snprintf (inside [0], sizeof inside [0], "2001:db8:%x::1", h1);
    snprintf (inside [1], sizeof inside [1], "2001:db8:%x:ff:ffff:ffff:ffff:ffff", h1);
    snprintf (inside [2], sizeof inside [2], "2001:db8:%x::5", h2);
    snprintf (inside [3], sizeof inside [3], "2001:db8:%x:ffff::1", h3);
    static const int which [] = { 0, 0, 1, 2 };
    uint64_t ids [] = { first, second, third };
    for (size_t i = 0; i < 4; i++) {
        reply = s_lookup ("viewer", inside [i]);
        rf_expect (reply, RF_CODE (OK), NULL);
        assert_int_equal (reply->connection->connection->id, ids [which [i]]);
        assert_string_equal (reply->connection->connection->status, "active");
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    char outside [64];
    snprintf (outside, sizeof outside, "2001:db8:%x:100::1", h1);     //  after the first /56
    rf_refused (s_lookup ("viewer", outside), RF_CODE (NOT_FOUND), "");
    rf_refused (s_lookup ("viewer", "2001:db9::1"), RF_CODE (NOT_FOUND), "");
    rf_refused (s_lookup ("viewer", "192.0.2.1"), RF_CODE (NOT_FOUND), "");
    //  Malformed
    rf_refused (s_lookup ("viewer", "2001:db8:4000::g"), RF_CODE (INVALID_ARGUMENT), "X.3");
    rf_refused (s_lookup ("viewer", "2001:db8:4000::/56"), RF_CODE (INVALID_ARGUMENT), "X.3");
    rf_refused (s_lookup ("viewer", "300.1.1.1"), RF_CODE (INVALID_ARGUMENT), "X.3");
    rf_refused (s_lookup ("viewer", ""), RF_CODE (INVALID_ARGUMENT), "X.3");
}

/* REQ R12.1: a service cannot be named like the domain label of another
   service's further connection (<service>-c<connection>). Service "x" and
   its connection 7 have x-c7.pN; a service named "x-c7" under the same
   hosting provider would want that domain for its first connection, and its
   approval would fail on the unique domain for good */
static void
test_r12_1_service_name_of_a_connection_domain_refused (void **state)
{
    (void) state;
    rf_holders_t h;
    rf_holders (&h, 1, 1);
    long services = rf_sql_long ("SELECT count(*) FROM registry.services");
    rf_refused (rf_service_register ("e-shinsei-c7", "電子申請", h.list, 2),
                RF_CODE (INVALID_ARGUMENT), "R12.1");
    rf_refused (rf_service_register ("e-shinsei-c12345", "電子申請", h.list, 2),
                RF_CODE (INVALID_ARGUMENT), "R12.1");
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM registry.services"), services);
    //  Names that only look alike are taken
    rf_ok (rf_service_register ("e-shinsei-cx", "電子申請", h.list, 2));
    rf_ok (rf_service_register ("e-shinsei-c", "電子申請", h.list, 2));
    rf_ok (rf_service_register ("c7", "電子申請", h.list, 2));
}

/* REQ R12.1: a live block larger than a stripe is respected: in a /24 pool
   a /30 is looked for in stripe (id mod 4) of /26; under a /25 already
   allocated, it goes to the pool's first gap instead, never into the /25 */
static void
test_r12_1_stripe_under_a_larger_block (void **state)
{
    (void) state;
    s_pool ("asp-v4-mixed", "198.18.4.0/24", 4);
    uint64_t service = rf_registered_service (1, 1);
    lg_reply_t *reply = s_approve (s_under_review ("provider1", service, 25, 0));
    assert_string_equal (reply->connection->connection->ipv4_prefix, "198.18.4.0/25");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  A /30 whose stripe (.0/26 or .64/26) lies under the /25
    uint64_t small = 0;
    for (int i = 0; i < 4 && !small; i++) {
        uint64_t id = s_under_review ("provider1", service, 30, 0);
        if (id % 4 < 2)
            small = id;
    }
    assert_true (small != 0);
    reply = s_approve (small);
    assert_string_equal (reply->connection->connection->ipv4_prefix, "198.18.4.128/30");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  Approve a connection under review; its IPv4 and IPv6 prefixes as given
static void
s_approve_expect (uint64_t connection, const char *v4, const char *v6)
{
    lg_reply_t *reply = s_approve (connection);
    assert_string_equal (reply->connection->connection->ipv4_prefix, v4);
    assert_string_equal (reply->connection->connection->ipv6_prefix, v6);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  An approval the pools have no room for: refused, nothing allocated
static void
s_approve_no_room (uint64_t connection)
{
    long allocations = rf_count ("allocations");
    rf_refused (s_decide ("reviewer", connection, APPROVED), RF_CODE (RESOURCE_EXHAUSTED), "R12.1");
    s_assert_status (connection, "under_review");
    assert_int_equal (rf_count ("allocations"), allocations);
}

/* REQ R12.1: the block after a stripe's last live block when the blocks
   differ in length: a /29 after a /30 skips to the next /29 boundary, a /30
   after a /29 follows it; a /28 with no room after the last, nor in a gap,
   is refused; a block released in the middle, and the /30 before it, are
   found by the gap search once the stripe's end is taken. A /27 pool is one
   stripe for these lengths */
static void
test_r12_1_block_after_the_last_of_mixed_lengths (void **state)
{
    (void) state;
    s_pool ("asp-v4-mixed-lengths", "198.18.5.0/27", 4);
    uint64_t service = rf_registered_service (1, 1);
    s_approve_expect (s_under_review ("provider1", service, 30, 0), "198.18.5.0/30", "");
    uint64_t middle = s_under_review ("provider1", service, 29, 0);
    s_approve_expect (middle, "198.18.5.8/29", "");
    s_approve_expect (s_under_review ("provider1", service, 30, 0), "198.18.5.16/30", "");
    s_approve_no_room (s_under_review ("provider1", service, 28, 0));
    s_approve_expect (s_under_review ("provider1", service, 30, 0), "198.18.5.20/30", "");
    char sql [200];
    snprintf (sql, sizeof sql, "UPDATE registry.allocations SET status = 'released',"
                               " released_at = now () WHERE connection_id = %" PRIu64
                               " RETURNING id", middle);
    char *id = rf_sql_text (sql);
    assert_non_null (id);
    free (id);
    s_approve_expect (s_under_review ("provider1", service, 29, 0), "198.18.5.24/29", "");
    s_approve_expect (s_under_review ("provider1", service, 29, 0), "198.18.5.8/29", "");
    s_approve_expect (s_under_review ("provider1", service, 30, 0), "198.18.5.4/30", "");
    s_approve_no_room (s_under_review ("provider1", service, 30, 0));
}

/* REQ R12.1: pools that end the address space (255.255.255.255, and
   ffff:...:ffff) are allocated to their last block, and then have no room
   (the search does not wrap past the end) */
static void
test_r12_1_pool_at_the_end_of_the_address_space (void **state)
{
    (void) state;
    s_pool ("asp-v4-top", "255.255.255.240/28", 4);
    s_pool ("asp-v6-top", "ffff:ffff:ffff:ff00::/56", 6);
    uint64_t service = rf_registered_service (1, 1);
    s_approve_expect (s_under_review ("provider1", service, 30, 56),
                      "255.255.255.240/30", "ffff:ffff:ffff:ff00::/56");
    s_approve_no_room (s_under_review ("provider1", service, 0, 56));
    s_approve_expect (s_under_review ("provider1", service, 30, 0), "255.255.255.244/30", "");
    s_approve_expect (s_under_review ("provider1", service, 30, 0), "255.255.255.248/30", "");
    s_approve_expect (s_under_review ("provider1", service, 30, 0), "255.255.255.252/30", "");
    s_approve_no_room (s_under_review ("provider1", service, 30, 0));
}

//  ---------------------------------------------------------------------------
//  Test 2: bad input

/* REQ R4.1: no connection before the service is registered or while its
   hosting provider is not qualified */
static void
test_r4_1_connection_needs_registration_and_qualification (void **state)
{
    (void) state;
    long connections = rf_count ("connections");
    long versions = rf_count ("versions");

    //  Registration applied for, not decided
    Lgwan__V1__RoleHolder holder [2] = { LGWAN__V1__ROLE_HOLDER__INIT,
                                         LGWAN__V1__ROLE_HOLDER__INIT };
    holder [0].provider = 1;
    holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    holder [1].provider = 1;
    holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    Lgwan__V1__RoleHolder *holders [] = { &holder [0], &holder [1] };
    char name [32];
    rf_service_name (name, sizeof name);
    lg_reply_t *reply = rf_service_register (name, "未登録サービス", holders, 2);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->service->service->status, "applied");
    uint64_t applied = reply->service->service->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    versions = rf_count ("versions");
    rf_refused (s_apply ("provider1", applied, 30, 0), RF_CODE (FAILED_PRECONDITION), "R4.1");
    rf_refused (s_apply ("operator", applied, 30, 0), RF_CODE (FAILED_PRECONDITION), "R4.1");
    assert_int_equal (rf_count ("connections"), connections);
    assert_int_equal (rf_count ("versions"), versions);

    //  A registered service whose hosting provider is no longer qualified
    char number [14];
    Lgwan__V1__Contact contact [2] = { LGWAN__V1__CONTACT__INIT, LGWAN__V1__CONTACT__INIT };
    contact [0].kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
    contact [0].name = (char *) "緊急対応窓口";
    contact [1].kind = LGWAN__V1__CONTACT_KIND__CONTACT_OPERATIONS_MANAGER;
    contact [1].name = (char *) "運用管理責任者";
    Lgwan__V1__Contact *contacts [] = { &contact [0], &contact [1] };
    Lgwan__V1__ProviderApply apply = rf_apply_body ("撤退予定株式会社", number);
    apply.contacts = contacts;
    apply.n_contacts = 2;
    uint64_t leaving = rf_apply (&apply);
    rf_qualify (leaving);
    uint64_t service = rf_registered_service (1, leaving);
    //  ... it can apply now, so the refusal below is the qualification's
    uint64_t before = s_applied ("operator", service, 30, 0);
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    cancel.subject = (char *) "provider";
    cancel.id = leaving;
    cancel.cancel = true;
    reply = rf_ask_why ("operator", "参加資格の取消", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t change = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = change;
    decide.outcome = APPROVED;
    decide.reason = (char *) "取消を承認";
    reply = rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    char sql [160];
    snprintf (sql, sizeof sql, "SELECT status FROM registry.providers WHERE id = %" PRIu64,
              leaving);
    char *status = rf_sql_text (sql);
    assert_string_equal (status, "cancelled");
    free (status);

    connections = rf_count ("connections");
    versions = rf_count ("versions");
    rf_refused (s_apply ("operator", service, 30, 0), RF_CODE (FAILED_PRECONDITION), "R4.1");
    assert_int_equal (rf_count ("connections"), connections);
    assert_int_equal (rf_count ("versions"), versions);

    //  Nor is the one applied before activated: approval checks again
    rf_ok (s_review ("reviewer", before));
    long allocations = rf_count ("allocations");
    long activated = rf_events (ACTIVATED);
    rf_refused (s_decide ("reviewer", before, APPROVED), RF_CODE (FAILED_PRECONDITION), "R4.1");
    s_assert_status (before, "under_review");
    assert_int_equal (rf_count ("allocations"), allocations);
    assert_int_equal (rf_events (ACTIVATED), activated);
}

/* REQ R9.2: the hosting provider has an emergency response contact and an
   operations manager before it applies for a connection */
static void
test_r9_2_connection_needs_both_contacts (void **state)
{
    (void) state;
    uint64_t hosting = rf_qualified_provider ("連絡先未届株式会社");
    uint64_t service = rf_registered_service (1, hosting);
    long connections = rf_count ("connections");
    long versions = rf_count ("versions");

    //  None, one of them, or the two wrong ones
    rf_refused (s_apply ("operator", service, 30, 0), RF_CODE (FAILED_PRECONDITION), "R9.2");
    s_contacts (hosting, false, true, false);
    versions = rf_count ("versions");
    rf_refused (s_apply ("operator", service, 30, 0), RF_CODE (FAILED_PRECONDITION), "R9.2");
    s_contacts (hosting, true, false, true);
    versions = rf_count ("versions");
    rf_refused (s_apply ("operator", service, 30, 0), RF_CODE (FAILED_PRECONDITION), "R9.2");
    s_contacts (hosting, true, true, false);
    versions = rf_count ("versions");
    rf_refused (s_apply ("operator", service, 30, 0), RF_CODE (FAILED_PRECONDITION), "R9.2");
    assert_int_equal (rf_count ("connections"), connections);
    assert_int_equal (rf_count ("versions"), versions);

    //  Both: applied
    s_contacts (hosting, false, true, true);
    uint64_t id = s_applied ("operator", service, 30, 0);
    assert_int_equal (rf_count ("connections"), connections + 1);
    lg_reply_t *reply = s_get ("viewer", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->connection->connection->provider, hosting);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R9.2: a hosting provider keeps its emergency response contact and its
   operations manager while a connection it hosts is in effect: contacts
   replaced by others that lack either are refused R9.2 when filed and, an
   application (the policy is data), when approved; nothing changes. Before,
   the notification took effect: the provider of an active connection had
   none left */
static void
test_r9_2_contacts_kept_while_a_connection_is_in_effect (void **state)
{
    (void) state;
    s_pool ("asp-v4-contacts", "198.18.43.0/28", 4);
    uint64_t hosting = rf_qualified_provider ("連絡先維持株式会社");
    s_contacts (hosting, false, true, true);
    uint64_t service = rf_registered_service (1, hosting);
    //  As an application, filed while no connection is in effect: it waits
    const char *policy = "UPDATE registry.change_policy SET kind = '%s' WHERE subject ="
                         " 'provider' AND field = 'contacts' RETURNING 1";
    char *sql = zsys_sprintf (policy, "application");
    free (rf_sql_text (sql));
    zstr_free (&sql);
    lg_reply_t *reply = s_contacts_filed (APPLICATION, hosting, true, false, false);
    sql = zsys_sprintf (policy, "notification");
    free (rf_sql_text (sql));
    zstr_free (&sql);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "pending");
    uint64_t pending = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);

    uint64_t id = s_under_review ("operator", service, 30, 0);
    lgwan__v1__reply__free_unpacked (s_approve (id), NULL);
    const char *held = "SELECT string_agg (kind::text, ',' ORDER BY kind) FROM"
                       " registry.provider_contacts WHERE provider_id = %" PRIu64;
    sql = zsys_sprintf (held, hosting);
    char *before = rf_sql_text (sql);
    assert_string_equal (before, "2,3");
    long versions = rf_count ("versions");
    long changes = rf_count ("changes");
    long events = rf_count ("outbox");

    //  Approved now: refused, and it still waits
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = pending;
    decide.outcome = APPROVED;
    decide.reason = (char *) "承認";
    reply = rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R9.2");
    assert_non_null (strstr (reply->status->message, "while connections it hosts are in effect"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.changes WHERE id = %" PRIu64
                                    " AND status = 'pending'", pending), 1);

    //  Notifications without either, or without both
    rf_refused (s_contacts_filed (NOTIFICATION, hosting, false, false, false),
                RF_CODE (FAILED_PRECONDITION), "R9.2");
    rf_refused (s_contacts_filed (NOTIFICATION, hosting, true, true, false),
                RF_CODE (FAILED_PRECONDITION), "R9.2");
    rf_refused (s_contacts_filed (NOTIFICATION, hosting, true, false, true),
                RF_CODE (FAILED_PRECONDITION), "R9.2");
    char *after = rf_sql_text (sql);
    assert_string_equal (after, before);
    free (after);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("outbox"), events);

    //  Both kept: it takes effect
    s_contacts (hosting, true, true, true);
    after = rf_sql_text (sql);
    assert_string_equal (after, "1,2,3");
    free (after);
    free (before);
    zstr_free (&sql);
}

/* REQ R5.2: a connection names its router and its line; REQ R12.1: it asks
   for an IPv4 /16../30 or an IPv6 /40../64; only the hosting provider (or
   staff) applies */
static void
test_r5_2_r12_1_connection_application_input (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (2, 1);
    long connections = rf_count ("connections");
    long versions = rf_count ("versions");

    rf_refused (s_apply_full ("provider1", service, "", "NTT東日本", 30, 0),
                RF_CODE (INVALID_ARGUMENT), "R5.2");
    rf_refused (s_apply_full ("provider1", service, "rt-tokyo-01", "", 30, 0),
                RF_CODE (INVALID_ARGUMENT), "R5.2");
    rf_refused (s_apply_full ("operator", service, "", "", 0, 64),
                RF_CODE (INVALID_ARGUMENT), "R5.2");

    static const struct { uint32_t v4, v6; } lengths [] = {
        { 15, 0 }, { 31, 0 }, { 32, 0 }, { 0, 39 }, { 0, 65 }, { 0, 128 }, { 0, 0 },
        { 24, 39 }, { 31, 56 }, { 8, 0 },
    };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths [0]; i++)
        rf_refused (s_apply ("provider1", service, lengths [i].v4, lengths [i].v6),
                    RF_CODE (INVALID_ARGUMENT), "R12.1");

    //  Another provider's service
    rf_refused (s_apply ("provider2", service, 30, 0), RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_count ("connections"), connections);
    assert_int_equal (rf_count ("versions"), versions);

    //  The bounds themselves are accepted, by the hosting provider and staff
    uint64_t a = s_applied ("provider1", service, 16, 0);
    uint64_t b = s_applied ("provider1", service, 30, 40);
    uint64_t c = s_applied ("operator", service, 0, 64);
    assert_true (a < b && b < c);
    assert_int_equal (rf_count ("connections"), connections + 3);
    lg_reply_t *reply = s_get ("provider1", b);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Connection *got = reply->connection->connection;
    assert_string_equal (got->router, "rt-tokyo-01");
    assert_string_equal (got->line_carrier, "NTT東日本 フレッツ光");
    assert_string_equal (got->bandwidth_class, "100M");
    assert_int_equal (got->provider, 1);
    assert_int_equal (got->ipv4_prefix_length, 30);
    assert_int_equal (got->ipv6_prefix_length, 40);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ X.3: a provider that is not a service's hosting provider is refused
   before the service's or its host's state is looked at, and (holding no
   role in it) as for a service that does not exist. Before, R4.1 and R9.2
   were checked first: provider 2, applying for another provider's
   services, was told one was "applied, not registered" and that the host of
   the other "needs an emergency response contact and an operations manager" */
static void
test_x3_not_the_host_is_denied_before_the_state_is_told (void **state)
{
    (void) state;
    uint64_t host = rf_qualified_provider ("他社ホスティング株式会社");   //  no contacts
    uint64_t services [] = { rf_applied_service (host, host), rf_registered_service (host, host) };
    const char *requirements [] = { "R4.1", "R9.2" };
    long connections = rf_count ("connections");
    long versions = rf_count ("versions");
    for (size_t i = 0; i < 2; i++) {
        lg_reply_t *reply = s_apply ("provider2", services [i], 30, 0);
        rf_expect (reply, RF_CODE (NOT_FOUND), "");
        assert_non_null (strstr (reply->status->message, "no service "));
        lgwan__v1__reply__free_unpacked (reply, NULL);
        //  Staff are told why
        rf_refused (s_apply ("operator", services [i], 30, 0), RF_CODE (FAILED_PRECONDITION),
                    requirements [i]);
    }
    assert_int_equal (rf_count ("connections"), connections);
    assert_int_equal (rf_count ("versions"), versions);
}

/* REQ R12.1: a pool is a well-formed prefix of the right size, and never
   overlaps another pool */
static void
test_r12_1_pool_input (void **state)
{
    (void) state;
    long pools = rf_count ("pools");
    static const char *malformed [] = {
        "198.18.0.1/24", "300.1.1.1/8", "abc", "2001:db8::/129", "198.18.20.0",
        "198.18.20.0/33", "198.18.20.0/-1", "198.18.20.0/", "198.18.20.0/24x", "",
        "2001:db8::1/64", "198.0.0.0/7", "198.18.20.0/29", "2001::/15", "2001:db8:0:100::/57",
        "::/0", "::1/0", "0.0.0.0/0",   /*  /0 of IPv6: 128 host bits (UBSan found a shift by 128)  */
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++) {
        char name [32];
        snprintf (name, sizeof name, "bad-%zu", i);
        lg_reply_t *reply = s_pool_add ("operator", name, malformed [i]);
        if (reply->status->code != RF_CODE (INVALID_ARGUMENT))
            print_error ("pool prefix \"%s\": code %d\n", malformed [i], reply->status->code);
        rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "R12.1");
    }
    assert_int_equal (rf_count ("pools"), pools);

    //  Overlaps: the same, a larger one around it, a smaller one inside
    s_pool ("asp-v4-input", "198.18.10.0/28", 4);
    rf_refused (s_pool_add ("operator", "overlap-same", "198.18.10.0/28"),
                RF_CODE (FAILED_PRECONDITION), "R12.1");
    rf_refused (s_pool_add ("operator", "overlap-around", "198.18.10.0/24"),
                RF_CODE (FAILED_PRECONDITION), "R12.1");
    rf_refused (s_pool_add ("operator", "overlap-wide", "198.16.0.0/12"),
                RF_CODE (FAILED_PRECONDITION), "R12.1");
    assert_int_equal (rf_count ("pools"), pools + 1);
    //  A name is one pool: a pool is the operating body's allocation data
    //  (R12.1), and the unique key's refusal names it
    rf_refused (s_pool_add ("operator", "asp-v4-input", "198.18.11.0/28"),
                RF_CODE (ALREADY_EXISTS), "R12.1");
    assert_int_equal (rf_count ("pools"), pools + 1);

    //  Pools are listed as added
    Lgwan__V1__PoolList list = LGWAN__V1__POOL_LIST__INIT;
    lg_reply_t *reply = rf_ask ("viewer", RF_BODY (POOL_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal ((long) reply->pool_list->n_pools, pools + 1);
    bool seen = false;
    for (size_t i = 0; i < reply->pool_list->n_pools; i++)
        if (streq (reply->pool_list->pools [i]->name, "asp-v4-input")) {
            assert_string_equal (reply->pool_list->pools [i]->prefix, "198.18.10.0/28");
            seen = true;
        }
    assert_true (seen);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R5.2 R11.3 R11.6: a server lies inside its connection's prefix, lists
   its ports and protocols as registered, and an external-facing one has its
   firewall and access-control records */
static void
test_r11_servers (void **state)
{
    (void) state;
    //  A connection holding a /28 (this pool's, unless room was left before)
    s_pool ("asp-v4-servers", "198.18.12.0/28", 4);
    uint64_t service = rf_registered_service (1, 1);
    uint64_t pending = s_applied ("provider1", service, 28, 0);
    uint64_t connection = s_under_review ("provider1", service, 28, 0);
    lg_reply_t *reply = s_approve (connection);
    char prefix [64];
    snprintf (prefix, sizeof prefix, "%s", reply->connection->connection->ipv4_prefix);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_string_equal (prefix + strlen (prefix) - 3, "/28");
    char first [32], last [32], after [32], before [32], other [32];
    s_v4_at (prefix, 1, first, sizeof first);
    s_v4_at (prefix, 15, last, sizeof last);
    s_v4_at (prefix, 16, after, sizeof after);
    s_v4_at (prefix, -1, before, sizeof before);
    s_v4_at (prefix, 2, other, sizeof other);

    Lgwan__V1__PortSpec spec [3] = {
        LGWAN__V1__PORT_SPEC__INIT, LGWAN__V1__PORT_SPEC__INIT, LGWAN__V1__PORT_SPEC__INIT };
    spec [0].port = 443;
    spec [0].protocol = (char *) "tcp";
    spec [1].port = 53;
    spec [1].protocol = (char *) "udp";
    spec [2].port = 0;
    spec [2].protocol = (char *) "icmp";
    Lgwan__V1__PortSpec *ports [] = { &spec [0], &spec [1], &spec [2] };
    long servers = rf_count ("servers");

    //  Outside the prefix, or a connection not active
    rf_refused (s_server ("provider1", connection, "web", after, ports, 3, false, "", ""),
                RF_CODE (FAILED_PRECONDITION), "R5.2");
    rf_refused (s_server ("provider1", connection, "web", before, ports, 3, false, "",
                          ""), RF_CODE (FAILED_PRECONDITION), "R5.2");
    rf_refused (s_server ("operator", connection, "web", "2001:db8:4000::1", ports, 3, false, "",
                          ""), RF_CODE (FAILED_PRECONDITION), "R5.2");
    rf_refused (s_server ("provider1", pending, "web", first, ports, 3, false, "", ""),
                RF_CODE (FAILED_PRECONDITION), "R5.2");
    //  A malformed address
    rf_refused (s_server ("provider1", connection, "web", "198.18.12.0/30", ports, 3, false, "",
                          ""), RF_CODE (INVALID_ARGUMENT), "R11.3");
    rf_refused (s_server ("provider1", connection, "web", "198.18.12", ports, 3, false, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R11.3");
    assert_int_equal (rf_count ("servers"), servers);

    //  External-facing without one of its records
    rf_refused (s_server ("provider1", connection, "pub", other, ports, 1, true, "",
                          "ACL-2027-001"), RF_CODE (FAILED_PRECONDITION), "R11.6");
    rf_refused (s_server ("provider1", connection, "pub", other, ports, 1, true,
                          "FW-2027-001", ""), RF_CODE (FAILED_PRECONDITION), "R11.6");
    rf_refused (s_server ("provider1", connection, "pub", other, ports, 1, true, "", ""),
                RF_CODE (FAILED_PRECONDITION), "R11.6");
    assert_int_equal (rf_count ("servers"), servers);

    //  Ports: none, or a bad port or protocol
    rf_refused (s_server ("provider1", connection, "web", first, NULL, 0, false, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R11.3");
    static const struct { uint32_t port; const char *protocol; } bad [] = {
        { 0, "tcp" }, { 65536, "tcp" }, { 70000, "udp" }, { 0, "udp" }, { 80, "sctp" },
        { 80, "" }, { 80, "TCP" }, { 8, "icmp" }, { 1, "icmpv6" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        Lgwan__V1__PortSpec one = LGWAN__V1__PORT_SPEC__INIT;
        one.port = bad [i].port;
        one.protocol = (char *) bad [i].protocol;
        Lgwan__V1__PortSpec *list [] = { &spec [0], &one };
        rf_refused (s_server ("provider1", connection, "web", first, list, 2, false, "",
                              ""), RF_CODE (INVALID_ARGUMENT), "R11.3");
    }
    Lgwan__V1__PortSpec *twice [] = { &spec [0], &spec [1], &spec [0] };
    rf_refused (s_server ("provider1", connection, "web", first, twice, 3, false, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R11.3");
    assert_int_equal (rf_count ("servers"), servers);

    //  Accepted: an internal server, and an external one with both records
    reply = s_server ("provider1", connection, "web", first, ports, 3, false, "", "");
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Server *s = reply->server->server;
    assert_int_equal (s->connection, connection);
    assert_string_equal (s->address, first);
    assert_int_equal (s->n_ports, 3);
    uint64_t web = s->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_server ("operator", connection, "pub", last, ports, 1, true,
                      "FW-2027-001", "ACL-2027-001");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_true (reply->server->server->external_facing);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_count ("servers"), servers + 2);

    //  ServerList returns exactly what was registered
    Lgwan__V1__ServerList list = LGWAN__V1__SERVER_LIST__INIT;
    list.connection = connection;
    reply = rf_ask ("provider1", RF_BODY (SERVER_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__ServerListReply *l = reply->server_list;
    assert_int_equal (l->n_servers, 2);
    assert_int_equal (l->servers [0]->id, web);
    assert_string_equal (l->servers [0]->name, "web");
    assert_string_equal (l->servers [0]->address, first);
    assert_false (l->servers [0]->external_facing);
    assert_int_equal (l->servers [0]->n_ports, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (l->servers [0]->ports [i]->port, spec [i].port);
        assert_string_equal (l->servers [0]->ports [i]->protocol, spec [i].protocol);
    }
    assert_string_equal (l->servers [1]->name, "pub");
    assert_string_equal (l->servers [1]->address, last);
    assert_true (l->servers [1]->external_facing);
    assert_string_equal (l->servers [1]->firewall_record, "FW-2027-001");
    assert_string_equal (l->servers [1]->access_control_record, "ACL-2027-001");
    assert_int_equal (l->servers [1]->n_ports, 1);
    assert_int_equal (l->servers [1]->ports [0]->port, 443);
    assert_string_equal (l->servers [1]->ports [0]->protocol, "tcp");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  One address is one server, and a name one server of its connection
    //  (R11.3: the unique keys' refusals name it)
    lg_reply_t *taken = s_server ("provider1", connection, "web2", first, ports, 1, false, "", "");
    rf_expect (taken, RF_CODE (ALREADY_EXISTS), "R11.3");
    assert_non_null (strstr (taken->status->message, first));
    lgwan__v1__reply__free_unpacked (taken, NULL);
    rf_refused (s_server ("provider1", connection, "web", other, ports, 1, false, "", ""),
                RF_CODE (ALREADY_EXISTS), "R11.3");
    assert_int_equal (rf_count ("servers"), servers + 2);
}

//  A server request of provider 1 (https) for the first address of a new
//  connection of its own service, approved; the request's strings and
//  ports live in self
typedef struct {
    char first [32];
    Lgwan__V1__PortSpec https;
    Lgwan__V1__PortSpec *ports [1];
    Lgwan__V1__ServerRegister request;
} s_server_t;

static void
s_server_on_a_new_connection (s_server_t *self, const char *name)
{
    uint64_t service = rf_registered_service (1, 1);
    uint64_t connection = s_under_review ("provider1", service, 30, 0);
    lg_reply_t *reply = s_approve (connection);
    s_v4_at (reply->connection->connection->ipv4_prefix, 1, self->first, sizeof self->first);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lgwan__v1__port_spec__init (&self->https);
    self->https.port = 443;
    self->https.protocol = (char *) "tcp";
    self->ports [0] = &self->https;
    lgwan__v1__server_register__init (&self->request);
    self->request.connection = connection;
    self->request.name = (char *) name;
    self->request.address = self->first;
    self->request.ports = self->ports;
    self->request.n_ports = 1;
}

/* REQ X.1: a pool and a server are changes like any other: who added or
   registered one, when and the request's reason are kept on its row and
   shown in the reply and in PoolList and ServerList (before, PoolAdd and
   ServerRegister kept only created_at: who added a pool of the ASP segment,
   or put a server behind a connection, and why, was recorded nowhere) */
static void
test_x1_pools_and_servers_say_who_and_why (void **state)
{
    (void) state;
    Lgwan__V1__PoolAdd add = LGWAN__V1__POOL_ADD__INIT;
    add.name = (char *) "asp-v4-who";
    add.prefix = (char *) "198.18.50.0/28";
    lg_reply_t *reply = rf_ask_why ("operator", "ASPセグメントの追加", RF_BODY (POOL_ADD), &add);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->pool->pool->added_by, "operator:alice");
    assert_string_equal (reply->pool->pool->reason, "ASPセグメントの追加");
    assert_string_equal (reply->pool->pool->created_at, RF_NOW_TEXT);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM registry.pools WHERE name = 'asp-v4-who'"
                                   " AND added_by = 'operator:alice'"
                                   " AND reason = 'ASPセグメントの追加'"), 1);
    Lgwan__V1__PoolList pools = LGWAN__V1__POOL_LIST__INIT;
    reply = rf_ask ("viewer", RF_BODY (POOL_LIST), &pools);
    rf_expect (reply, RF_CODE (OK), NULL);
    bool seen = false;
    for (size_t i = 0; i < reply->pool_list->n_pools; i++)
        if (streq (reply->pool_list->pools [i]->name, "asp-v4-who")) {
            assert_string_equal (reply->pool_list->pools [i]->added_by, "operator:alice");
            assert_string_equal (reply->pool_list->pools [i]->reason, "ASPセグメントの追加");
            seen = true;
        }
    assert_true (seen);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  A server registered by its hosting provider, with a reason
    s_server_t server;
    s_server_on_a_new_connection (&server, "web-who");
    Lgwan__V1__ServerRegister r = server.request;
    uint64_t connection = r.connection;
    reply = rf_ask_why ("provider1", "申請受付サーバの設置", RF_BODY (SERVER_REGISTER), &r);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->server->server->registered_by, "provider:1");
    assert_string_equal (reply->server->server->reason, "申請受付サーバの設置");
    assert_string_equal (reply->server->server->created_at, RF_NOW_TEXT);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.servers WHERE connection_id ="
                                    " %" PRIu64 " AND registered_by = 'provider:1'"
                                    " AND reason = '申請受付サーバの設置'", connection), 1);
    Lgwan__V1__ServerList list = LGWAN__V1__SERVER_LIST__INIT;
    list.connection = connection;
    reply = rf_ask ("viewer", RF_BODY (SERVER_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->server_list->n_servers, 1);
    assert_string_equal (reply->server_list->servers [0]->registered_by, "provider:1");
    assert_string_equal (reply->server_list->servers [0]->reason, "申請受付サーバの設置");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ X.1: every change says who and why: PoolAdd and ServerRegister
   without a reason (none, or blank) are refused INVALID_ARGUMENT naming X.1
   and add nothing, for staff and a provider alike (before, both were
   accepted and '' was recorded as the reason on the pool's or the server's
   row, the only record either has) */
static void
test_x1_pools_and_servers_need_a_reason (void **state)
{
    (void) state;
    long pools = rf_count ("pools");
    Lgwan__V1__PoolAdd add = LGWAN__V1__POOL_ADD__INIT;
    add.name = (char *) "asp-v4-why";
    add.prefix = (char *) "198.18.51.0/28";
    rf_refused (rf_ask_why ("operator", "", RF_BODY (POOL_ADD), &add),
                RF_CODE (INVALID_ARGUMENT), "X.1");
    rf_refused (rf_ask_why ("operator", " \t ", RF_BODY (POOL_ADD), &add),
                RF_CODE (INVALID_ARGUMENT), "X.1");
    assert_int_equal (rf_count ("pools"), pools);

    s_server_t server;
    s_server_on_a_new_connection (&server, "web-why");
    Lgwan__V1__ServerRegister r = server.request;
    long servers = rf_count ("servers");
    rf_refused (rf_ask_why ("provider1", "", RF_BODY (SERVER_REGISTER), &r),
                RF_CODE (INVALID_ARGUMENT), "X.1");
    rf_refused (rf_ask_why ("operator", "  ", RF_BODY (SERVER_REGISTER), &r),
                RF_CODE (INVALID_ARGUMENT), "X.1");
    assert_int_equal (rf_count ("servers"), servers);
    //  With a reason, both go through
    rf_ok (rf_ask_why ("operator", "ASPセグメントの追加", RF_BODY (POOL_ADD), &add));
    rf_ok (rf_ask_why ("provider1", "申請受付サーバの設置", RF_BODY (SERVER_REGISTER), &r));
    assert_int_equal (rf_count ("pools"), pools + 1);
    assert_int_equal (rf_count ("servers"), servers + 1);
}

//  ---------------------------------------------------------------------------
//  Test 5: permissions

/* REQ R12.1: only the operating body's staff add pools; a provider reads only
   its own connections, and a viewer files nothing */
static void
test_r12_1_connection_permissions (void **state)
{
    (void) state;
    uint64_t service = rf_registered_service (2, 1);
    uint64_t id = s_applied ("provider1", service, 30, 0);
    long connections = rf_count ("connections");
    long pools = rf_count ("pools");
    long versions = rf_count ("versions");

    //  Reading
    rf_refused (s_get ("provider2", id), RF_CODE (NOT_FOUND), "");
    lg_reply_t *reply = s_get ("provider1", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->connection->connection->id, id);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_get ("viewer", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__ConnectionList list = LGWAN__V1__CONNECTION_LIST__INIT;
    list.provider = 1;
    rf_refused (rf_ask ("provider2", RF_BODY (CONNECTION_LIST), &list),
                RF_CODE (PERMISSION_DENIED), "X.3");
    Lgwan__V1__ServerList servers = LGWAN__V1__SERVER_LIST__INIT;
    servers.connection = id;
    rf_refused (rf_ask ("provider2", RF_BODY (SERVER_LIST), &servers), RF_CODE (NOT_FOUND), "");

    //  Filing
    rf_refused (s_apply ("viewer", service, 30, 0), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_apply ("auditor", service, 30, 0), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_pool_add ("viewer", "viewer-pool", "198.18.40.0/24"),
                RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_pool_add ("provider1", "provider-pool", "198.18.41.0/24"),
                RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_pool_add ("reviewer", "reviewer-pool", "198.18.42.0/24"),
                RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_review ("provider1", id), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_review ("viewer", id), RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_count ("connections"), connections);
    assert_int_equal (rf_count ("pools"), pools);
    assert_int_equal (rf_count ("versions"), versions);
    s_assert_status (id, "applied");
}

//  ---------------------------------------------------------------------------
//  A connection's bandwidth class changes by application (R4.2)

static lg_reply_t *
s_bandwidth (const char *who, uint64_t connection, Lgwan__V1__ChangeKind kind,
             const char *bandwidth)
{
    Lgwan__V1__ConnectionPatch patch = LGWAN__V1__CONNECTION_PATCH__INIT;
    patch.bandwidth_class = (char *) bandwidth;
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = kind;
    change.subject = (char *) "connection";
    change.id = connection;
    change.connection = &patch;
    return rf_ask (who, RF_BODY (CHANGE_FILE), &change);
}

//  An approval (or another request: body) sent to a registry process, from
//  a thread of its own (no cmocka assertion there); the reply, NULL when
//  none came
typedef struct {
    lg_test_proc_t *registry;
    uint64_t connection;        //  approved by the reviewer, when body is NULL
    lg_reply_t *reply;
    const char *who;            //  else body_case and body, sent by who
    unsigned body_case;
    void *body;
} s_stalled_t;

static void *
s_approve_at (void *arg)
{
    s_stalled_t *s = (s_stalled_t *) arg;
    lg_client_t *client = lg_test_proc_client (s->registry, rf.certs,
                                               s->body? s->who: "reviewer");
    if (!client)
        return NULL;
    lg_client_set_timeout (client, 10000, 0);
    Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
    decide.connection = s->connection;
    decide.outcome = APPROVED;
    decide.reason = (char *) "接続要件を満たす";
    s->reply = s->body? lg_test_call (client, s->body_case, s->body, "system test")
                      : lg_test_call (client, RF_BODY (CONNECTION_DECIDE), &decide, "system test");
    lg_client_destroy (&client);
    return NULL;
}

/* REQ R4.2: changing the line of a connection is a change application; an
   approved one changes the bandwidth class and tells billing from when */
static void
test_r4_2_bandwidth_change (void **state)
{
    (void) state;
    s_pool ("asp-v4-bandwidth", "198.18.14.0/28", 4);
    uint64_t service = rf_registered_service (1, 1);
    uint64_t applied = s_applied ("provider1", service, 30, 0);
    uint64_t id = s_under_review ("provider1", service, 30, 0);
    lgwan__v1__reply__free_unpacked (s_approve (id), NULL);
    long changes = rf_count ("changes");
    long versions = rf_count ("versions");
    long changed = rf_events (CHANGED);

    //  Refused, and nothing changes: a notification, a bad class, a
    //  connection not active, a cancellation carrying a patch
    rf_refused (s_bandwidth ("provider1", id, NOTIFICATION, "1G"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_bandwidth ("provider1", id, APPLICATION, "1 G"),
                RF_CODE (INVALID_ARGUMENT), "R4.2");
    rf_refused (s_bandwidth ("provider1", id, APPLICATION, "10000000000000000G"),
                RF_CODE (INVALID_ARGUMENT), "R4.2");
    rf_refused (s_bandwidth ("provider1", id, APPLICATION, ""),
                RF_CODE (INVALID_ARGUMENT), "R4.2");
    rf_refused (s_bandwidth ("provider1", applied, APPLICATION, "1G"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_bandwidth ("provider2", id, APPLICATION, "1G"), RF_CODE (NOT_FOUND), "");
    rf_refused (s_bandwidth ("viewer", id, APPLICATION, "1G"),
                RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_events (CHANGED), changed);

    //  Filed, the line is unchanged until the operating body approves
    lg_reply_t *reply = s_bandwidth ("provider1", id, APPLICATION, "1G");
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t change = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_get ("provider1", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->connection->connection->bandwidth_class, "100M");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (CHANGED), changed);

    char sql [200];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.versions WHERE subject ="
                               " 'connection' AND subject_id = %" PRIu64, id);
    long connection_versions = rf_sql_long (sql);
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = change;
    decide.outcome = APPROVED;
    decide.reason = (char *) "回線増速を承認";
    reply = rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_get ("provider1", id);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->connection->connection->bandwidth_class, "1G");
    assert_string_equal (reply->connection->connection->status, "active");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_events (CHANGED), changed + 1);
    assert_int_equal (rf_sql_long (sql), connection_versions + 1);
}

/* REQ R4.1: an approval and the cancellation of its hosting provider at one
   moment. The approval runs on a second registry whose write stalls 3 s
   before its COMMIT; the cancellation is decided meanwhile. It waits for the
   approval (answered busy while it waits past its lock bound, then asked
   again) and ends the new connection's addresses with the provider's
   others. Before, it did not wait, and the approval's allocation stayed
   active for good, for a cancelled provider */
static void
test_r4_1_approval_meets_its_providers_cancellation (void **state)
{
    (void) state;
    s_pool ("asp-v4-race", "198.18.17.0/28", 4);
    uint64_t provider = rf_qualified_provider ("解約競合株式会社");
    rf_contacts (provider);
    uint64_t service = rf_registered_service (provider, provider);
    uint64_t connection = s_under_review ("operator", service, 30, 0);
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = APPLICATION;
    cancel.subject = (char *) "provider";
    cancel.id = provider;
    cancel.cancel = true;
    lg_reply_t *reply = rf_ask_why ("operator", "事業撤退", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = reply->change->change->id;
    decide.outcome = APPROVED;
    decide.reason = (char *) "解約を承認";
    lgwan__v1__reply__free_unpacked (reply, NULL);

    lg_test_proc_t second = { .service = "registry" };
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    const char *extra [] = { clock, "LG_FAULTS=write_stall_before_commit", NULL };
    assert_true (lg_test_proc_start (&second, rf.admin, rf.certs, NULL, extra));
    zstr_free (&clock);
    pthread_t approval;
    s_stalled_t stalled = { .registry = &second, .connection = connection };
    assert_int_equal (pthread_create (&approval, NULL, s_approve_at, &stalled), 0);
    zclock_sleep (500);                     //  it holds its locks by now

    do {
        reply = rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
        if (reply->status->code == RF_CODE (UNAVAILABLE))
            lgwan__v1__reply__free_unpacked (reply, NULL);
        else
            break;
    } while (true);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (pthread_join (approval, NULL), 0);
    assert_non_null (stalled.reply);
    rf_expect (stalled.reply, RF_CODE (OK), NULL);
    lgwan__v1__reply__free_unpacked (stalled.reply, NULL);
    assert_int_equal (lg_test_proc_stop (&second, SIGTERM), 0);

    //  No live address is left to the cancelled provider
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.allocations"
                                    " WHERE connection_id = %" PRIu64 " AND status = 'active'",
                                    connection), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.allocations"
                                    " WHERE connection_id = %" PRIu64
                                    " AND status = 'decommissioning'", connection), 1);
}

//  Versions of connection id whose record is its current version, with the
//  actor and reason given and its allocation decommissioning: 1 or 0
static long
s_decommissioned_version (uint64_t id, const char *actor, const char *reason)
{
    return rf_sqlf_long ("SELECT count(*) FROM registry.versions v JOIN registry.connections c"
                         " ON c.id = v.subject_id AND c.version = v.version"
                         " WHERE v.subject = 'connection' AND v.subject_id = %" PRIu64
                         " AND v.actor = '%s' AND v.reason = '%s'"
                         " AND v.record -> 'allocations' -> 0 ->> 'status' = 'decommissioning'",
                         id, actor, reason);
}

static long
s_versions_of (uint64_t id)
{
    return rf_sqlf_long ("SELECT count(*) FROM registry.versions WHERE subject = 'connection'"
                         " AND subject_id = %" PRIu64, id);
}

/* REQ R4.2: cancelling a service or a provider puts the allocations of its
   connections into decommissioning, and each connection it touches gets a
   version that shows them (a connection's record holds its allocations),
   with the actor of the cancellation and a reason naming it. Before, the
   allocations changed and the connections' histories did not */
/* REQ X.1 */
static void
test_r4_2_cancellation_versions_the_connections_it_ends (void **state)
{
    (void) state;
    s_pool ("asp-v4-ended", "198.18.15.0/28", 4);
    uint64_t provider = rf_qualified_provider ("廃止予定回線株式会社");
    s_contacts (provider, false, true, true);
    uint64_t service = rf_registered_service (provider, provider);
    uint64_t of_service = s_under_review ("operator", service, 30, 0);
    lgwan__v1__reply__free_unpacked (s_approve (of_service), NULL);
    uint64_t of_provider = s_under_review ("operator", rf_registered_service (provider, provider),
                                           30, 0);
    lgwan__v1__reply__free_unpacked (s_approve (of_provider), NULL);
    long service_versions = s_versions_of (of_service);
    long provider_versions = s_versions_of (of_provider);

    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = NOTIFICATION;
    cancel.subject = (char *) "service";
    cancel.id = service;
    cancel.cancel = true;
    lg_reply_t *reply = rf_ask_why ("operator", "サービス廃止", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    char *why = zsys_sprintf ("ended with the cancellation of service %" PRIu64 " (change %"
                              PRIu64 "): サービス廃止", service, reply->change->change->id);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_versions_of (of_service), service_versions + 1);
    assert_int_equal (s_decommissioned_version (of_service, "operator:alice", why), 1);
    zstr_free (&why);
    assert_int_equal (s_versions_of (of_provider), provider_versions);

    cancel.kind = APPLICATION;
    cancel.subject = (char *) "provider";
    cancel.id = provider;
    reply = rf_ask_why ("operator", "事業撤退", RF_BODY (CHANGE_FILE), &cancel);
    rf_expect (reply, RF_CODE (OK), NULL);
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = reply->change->change->id;
    decide.outcome = APPROVED;
    decide.reason = (char *) "撤退を承認";
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (rf_ask_why ("reviewer", "撤退を承認", RF_BODY (CHANGE_DECIDE), &decide));
    why = zsys_sprintf ("ended with the cancellation of provider %" PRIu64 " (change %" PRIu64
                        "): 撤退を承認", provider, decide.change);
    assert_int_equal (s_versions_of (of_provider), provider_versions + 1);
    assert_int_equal (s_decommissioned_version (of_provider, "reviewer:rita", why), 1);
    zstr_free (&why);
    //  Decommissioning already, with its service: not touched again
    assert_int_equal (s_versions_of (of_service), service_versions + 1);
}

//  A change of subject/id as operator: a cancellation (patch NULL) or a
//  service's patch
static lg_reply_t *
s_change (Lgwan__V1__ChangeKind kind, const char *subject, uint64_t id,
          Lgwan__V1__ServicePatch *patch)
{
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = kind;
    change.subject = (char *) subject;
    change.id = id;
    change.cancel = patch == NULL;
    change.service = patch;
    return rf_ask_why ("operator", "終了", RF_BODY (CHANGE_FILE), &change);
}

static lg_reply_t *
s_change_approve (uint64_t change)
{
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = change;
    decide.outcome = APPROVED;
    decide.reason = (char *) "承認";
    return rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
}

//  The id of a change filed, which must be OK
static uint64_t
s_change_id (lg_reply_t *reply)
{
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t id = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  Current versions of service id by actor with reason whose record is cancelled: 1 or 0
static long
s_service_ended_version (uint64_t id, const char *actor, const char *reason)
{
    return rf_sqlf_long ("SELECT count(*) FROM registry.versions v JOIN registry.services s"
                         " ON s.id = v.subject_id AND s.version = v.version"
                         " WHERE v.subject = 'service' AND v.subject_id = %" PRIu64
                         " AND v.actor = '%s' AND v.reason = '%s'"
                         " AND v.record ->> 'status' = 'cancelled'", id, actor, reason);
}

//  Connections of provider listed by a viewer with status
static size_t
s_listed (uint64_t provider, const char *status)
{
    Lgwan__V1__ConnectionList list = LGWAN__V1__CONNECTION_LIST__INIT;
    list.provider = provider;
    list.status = (char *) status;
    lg_reply_t *reply = rf_ask ("viewer", RF_BODY (CONNECTION_LIST), &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    size_t n = reply->connection_list->n_connections;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return n;
}

/* REQ R4.2: what ends with a cancellation is cancelled as a record: a
   provider's cancellation cancels its active connections and the
   registered services it hosts, a service's its active connections, each
   with a version by whoever made it effective whose reason names the
   cancellation, and no CancellationEffective of its own. ConnectionList
   status=active lists none of them. Before, they stayed active and
   registered (the services without a version, the connections with one
   carrying only the approving request's reason), and ConnectionList
   status=active still listed the lines of a cancelled provider */
static void
test_r4_2_cancellation_cancels_the_connections_and_services_it_ends (void **state)
{
    (void) state;
    s_pool ("asp-v4-ended-records", "198.18.21.0/28", 4);
    uint64_t provider = rf_qualified_provider ("記録終了株式会社");
    s_contacts (provider, false, true, true);
    uint64_t services [2], lines [2];
    for (int i = 0; i < 2; i++) {
        services [i] = rf_registered_service (provider, provider);
        lines [i] = s_under_review ("operator", services [i], 30, 0);
        lgwan__v1__reply__free_unpacked (s_approve (lines [i]), NULL);
    }
    assert_int_equal (s_listed (provider, "active"), 2);

    //  The first service's cancellation ends its line
    uint64_t change = s_change_id (s_change (NOTIFICATION, "service", services [0], NULL));
    s_assert_status (lines [0], "cancelled");
    char *why = zsys_sprintf ("ended with the cancellation of service %" PRIu64 " (change %"
                              PRIu64 "): 終了", services [0], change);
    assert_int_equal (s_decommissioned_version (lines [0], "operator:alice", why), 1);
    zstr_free (&why);
    assert_int_equal (s_listed (provider, "active"), 1);

    //  The provider's ends the other line and the other service
    change = s_change_id (s_change (APPLICATION, "provider", provider, NULL));
    rf_ok (s_change_approve (change));
    s_assert_status (lines [1], "cancelled");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.services WHERE id = %" PRIu64
                                    " AND status = 'cancelled'", services [1]), 1);
    //  The envelope's reason of the approval (rf_ask's)
    why = zsys_sprintf ("ended with the cancellation of provider %" PRIu64 " (change %" PRIu64
                        "): system test", provider, change);
    assert_int_equal (s_decommissioned_version (lines [1], "reviewer:rita", why), 1);
    assert_int_equal (s_service_ended_version (services [1], "reviewer:rita", why), 1);
    zstr_free (&why);
    assert_int_equal (s_listed (provider, "active"), 0);
    assert_int_equal (s_listed (provider, "cancelled"), 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal (rf_cancellations ("connection", lines [i], NULL, NULL), 0);
    assert_int_equal (rf_cancellations ("service", services [1], NULL, NULL), 0);
    assert_int_equal (rf_cancellations ("service", services [0], NULL, NULL), 1);
}

/* REQ R4.2: what ended with its parent takes no change: a connection whose
   service or provider was cancelled, a service whose hosting provider was,
   a contract whose provider was. A change of it is refused when filed, and
   one filed before the parent ended is refused when approved; nothing is
   written. Before, only the record's own status was asked: a bandwidth
   application approved after its service was cancelled published
   ConnectionChanged for a connection that had ended */
static void
test_r4_2_no_change_of_what_ended_with_its_parent (void **state)
{
    (void) state;
    s_pool ("asp-v4-parents", "198.18.16.0/28", 4);
    uint64_t provider = rf_qualified_provider ("親子株式会社");
    s_contacts (provider, false, true, true);
    uint64_t service = rf_registered_service (provider, provider);
    uint64_t line = s_under_review ("operator", service, 30, 0);
    lgwan__v1__reply__free_unpacked (s_approve (line), NULL);
    uint64_t other = rf_registered_service (provider, provider);
    uint64_t second = s_under_review ("operator", other, 30, 0);
    lgwan__v1__reply__free_unpacked (s_approve (second), NULL);
    uint64_t contract = rf_active_contract ("operator", provider, "131016", other);

    //  A bandwidth application waits; meanwhile its service is cancelled
    uint64_t faster = s_change_id (s_bandwidth ("operator", line, APPLICATION, "1G"));
    s_change_id (s_change (NOTIFICATION, "service", service, NULL));
    long changes = rf_count ("changes");
    long versions = rf_count ("versions");
    long events = rf_count ("outbox");
    lg_reply_t *reply = s_change_approve (faster);
    rf_expect (reply, RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_non_null (strstr (reply->status->message, "ended with its service"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_bandwidth ("operator", line, APPLICATION, "10G"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_change (NOTIFICATION, "connection", line, NULL),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("outbox"), events);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.changes WHERE id = %" PRIu64
                                    " AND status = 'pending'", faster), 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.connections WHERE id = %"
                                    PRIu64 " AND bandwidth_class = '100M'", line), 1);

    //  The provider cancelled: its other connection, its other service and
    //  its contract ended with it
    rf_ok (s_change_approve (s_change_id (s_change (APPLICATION, "provider", provider, NULL))));
    changes = rf_count ("changes");
    versions = rf_count ("versions");
    events = rf_count ("outbox");
    rf_refused (s_bandwidth ("operator", second, APPLICATION, "1G"),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_change (NOTIFICATION, "connection", second, NULL),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    Lgwan__V1__ServicePatch title = LGWAN__V1__SERVICE_PATCH__INIT;
    title.title_ja = (char *) "終了したサービス";
    rf_refused (s_change (NOTIFICATION, "service", other, &title),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_change (NOTIFICATION, "service", other, NULL),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    rf_refused (s_change (NOTIFICATION, "contract", contract, NULL),
                RF_CODE (FAILED_PRECONDITION), "R4.2");
    assert_int_equal (rf_count ("changes"), changes);
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("outbox"), events);
}

/* REQ R4.1: an approval that waits for its connection's lock while the
   hosting provider is cancelled (here by hand, in one transaction holding
   the provider's connections as the cancellation does) read the provider
   as qualified before it waited; its last statement reads it again and the
   approval is refused, nothing allocated. Before, it went through: an active
   connection of a cancelled provider */
static void
test_r4_1_approval_waiting_while_its_provider_is_cancelled (void **state)
{
    (void) state;
    s_pool ("asp-v4-waiting", "198.18.18.0/28", 4);
    uint64_t provider = rf_qualified_provider ("承認待機株式会社");
    rf_contacts (provider);
    uint64_t service = rf_registered_service (provider, provider);
    uint64_t connection = s_under_review ("operator", service, 30, 0);
    PGconn *cancel = PQconnectdb (rf.admin);
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM registry.connections WHERE provider_id = %"
                              PRIu64 " FOR UPDATE; UPDATE registry.providers SET status ="
                              " 'cancelled' WHERE id = %" PRIu64, provider, provider);
    PGresult *res = PQexec (cancel, sql);
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    zstr_free (&sql);
    pthread_t approval;
    s_stalled_t waiting = { .registry = &rf.registry, .connection = connection };
    assert_int_equal (pthread_create (&approval, NULL, s_approve_at, &waiting), 0);
    zclock_sleep (500);                     //  it waits for the connection by now
    res = PQexec (cancel, "COMMIT");
    PQclear (res);
    PQfinish (cancel);
    assert_int_equal (pthread_join (approval, NULL), 0);
    assert_non_null (waiting.reply);
    rf_refused (waiting.reply, RF_CODE (FAILED_PRECONDITION), "R4.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.allocations"
                                    " WHERE connection_id = %" PRIu64, connection), 0);
}

/* REQ R4.2: a connection's cancellation scheduled for a later date lapses
   on that date when the connection ended with its parent meanwhile (its
   service or its provider cancelled): the parent's cancellation ended it
   (its addresses decommissioning, a version), and a record's cancellation
   takes effect once. Nothing is written or published on the date: no
   version, no CancellationEffective of the connection. Before, the due duty
   cancelled each connection anyway, wrote its version and published a
   second CancellationEffective for a line that had ended with its parent */
static void
test_r4_2_due_cancellation_of_what_ended_with_its_parent_lapses (void **state)
{
    (void) state;
    s_pool ("asp-v4-due-parents", "198.18.19.0/28", 4);
    uint64_t provider = rf_qualified_provider ("期日前撤退株式会社");
    s_contacts (provider, false, true, true);
    uint64_t service = rf_registered_service (provider, provider);
    uint64_t lines [2];
    lines [0] = s_under_review ("operator", service, 30, 0);
    lines [1] = s_under_review ("operator", rf_registered_service (provider, provider), 30, 0);
    uint64_t later [2];
    for (int i = 0; i < 2; i++) {
        lgwan__v1__reply__free_unpacked (s_approve (lines [i]), NULL);
        //  Each line's own cancellation waits for 5 March
        Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
        cancel.kind = NOTIFICATION;
        cancel.subject = (char *) "connection";
        cancel.id = lines [i];
        cancel.cancel = true;
        cancel.effective_on = (char *) "2027-03-05";
        lg_reply_t *reply = rf_ask_why ("operator", "回線廃止", RF_BODY (CHANGE_FILE), &cancel);
        rf_expect (reply, RF_CODE (OK), NULL);
        assert_string_equal (reply->change->change->status, "scheduled");
        later [i] = reply->change->change->id;
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    //  Today the first line's service is cancelled, then the provider
    rf_ok (s_change (NOTIFICATION, "service", service, NULL));
    rf_ok (s_change_approve (s_change_id (s_change (APPLICATION, "provider", provider, NULL))));
    assert_int_equal (rf_cancellations ("service", service, NULL, NULL), 1);
    assert_int_equal (rf_cancellations ("provider", provider, NULL, NULL), 1);
    long versions = rf_count ("versions");
    long events = rf_count ("outbox");

    rf_set_clock ("2027-03-05T00:00:00Z");
    rf_wait_sql (0, "SELECT count(*) FROM registry.changes WHERE id IN (%" PRIu64 ", %" PRIu64 ")"
                    " AND status = 'scheduled'", later [0], later [1]);
    for (int i = 0; i < 2; i++) {
        if (rf_sqlf_long ("SELECT count(*) FROM registry.changes WHERE id = %" PRIu64
                          " AND status = 'lapsed'", later [i]) != 1)
            fail_msg ("cancellation %" PRIu64 " of connection %" PRIu64 " did not lapse: %s",
                      later [i], lines [i], rf_sql_text ("SELECT string_agg (id || ' '"
                      " || status, ', ') FROM registry.changes WHERE subject = 'connection'"
                      " AND cancel"));
        assert_int_equal (rf_cancellations ("connection", lines [i], NULL, NULL), 0);
    }
    assert_int_equal (rf_count ("versions"), versions);
    assert_int_equal (rf_count ("outbox"), events);
}

/* REQ R12.1: the release of a decommissioned connection's addresses is in
   its history like every change of its record: a version by
   system:registry whose reason names the prefix released and why, its
   record showing the allocation released, and the row's version is that
   version. Before, the allocations changed and the history ended at the
   decommissioning: who released the addresses, when and why was nowhere */
/* REQ R4.2 */
static void
test_r12_1_release_is_in_the_connections_history (void **state)
{
    (void) state;
    s_pool ("asp-v4-released-history", "198.18.20.0/28", 4);
    uint64_t connection = s_under_review ("provider1", rf_registered_service (1, 1), 28, 0);
    lg_reply_t *reply = s_approve (connection);
    char prefix [64];
    snprintf (prefix, sizeof prefix, "%s", reply->connection->connection->ipv4_prefix);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_change (NOTIFICATION, "connection", connection, NULL));
    long versions = s_versions_of (connection);
    //  Isolation's Decommissioned as reg_on_isolation mirrors it: the state,
    //  and a version by isolation's actor; the duty may release at once
    assert_int_equal (rf_sqlf_long ("WITH c0 AS (UPDATE registry.connections SET state ="
                                    " 'decommissioned', version = version + 1 WHERE id = %" PRIu64
                                    " RETURNING *), v AS (INSERT INTO registry.versions (subject,"
                                    " subject_id, version, actor, reason, recorded_at, record)"
                                    " SELECT 'connection', c0.id, c0.version, 'system:isolation',"
                                    " 'decommissioned', now (), to_jsonb (c0) FROM c0 RETURNING 1)"
                                    " SELECT count(*) FROM v", connection), 1);
    rf_wait_sql (1, "SELECT count(*) FROM registry.allocations WHERE connection_id = %" PRIu64
                    " AND status = 'released'", connection);

    Lgwan__V1__History history = LGWAN__V1__HISTORY__INIT;
    history.subject = (char *) "connection";
    history.id = connection;
    reply = rf_ask ("viewer", RF_BODY (HISTORY), &history);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__HistoryReply *h = reply->history;
    assert_int_equal (h->n_versions, versions + 2);
    assert_string_equal (h->versions [h->n_versions - 2]->actor, "system:isolation");
    const Lgwan__V1__Version *last = h->versions [h->n_versions - 1];
    assert_int_equal (last->version, rf_sqlf_long ("SELECT version FROM registry.connections"
                                                   " WHERE id = %" PRIu64, connection));
    assert_string_equal (last->actor, "system:registry");
    assert_string_equal (last->recorded_at, RF_NOW_TEXT);
    if (!strstr (last->reason, prefix) || !strstr (last->reason, "released"))
        fail_msg ("the release's reason \"%s\" does not say %s was released", last->reason,
                  prefix);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.versions v"
                                    " JOIN registry.connections c ON c.id = v.subject_id"
                                    " AND c.version = v.version WHERE v.subject = 'connection'"
                                    " AND v.subject_id = %" PRIu64 " AND v.record -> 'allocations'"
                                    " -> 0 ->> 'status' = 'released'", connection), 1);
}

/* REQ X.2: after a restart the registry releases no allocation until it
   caught up with isolation's events (its duty is after_catch_up, as audit's
   are): the state it mirrors may be one isolation has lifted since (a
   mistaken Decommission undone by the saga), and a release is for good.
   Here isolation is not running, so the duty waits the whole bound
   (LG_CATCH_UP_WAIT_MS, 3 s here), said when it starts and when it ends,
   and only then releases. Before, the duty ran at once on the stale state,
   the addresses back in the pool while isolation still held them */
static void
test_x2_release_waits_until_caught_up_with_isolation (void **state)
{
    (void) state;
    s_pool ("asp-v4-released-caught-up", "198.18.22.0/28", 4);
    uint64_t connection = s_under_review ("provider1", rf_registered_service (1, 1), 28, 0);
    lg_reply_t *reply = s_approve (connection);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_change (NOTIFICATION, "connection", connection, NULL));
    //  Decommissioned as mirrored before the restart; not yet released
    rf_stop ();
    assert_int_equal (rf_sqlf_long ("WITH c0 AS (UPDATE registry.connections SET state ="
                                    " 'decommissioned', version = version + 1 WHERE id = %" PRIu64
                                    " RETURNING 1) SELECT count(*) FROM c0", connection), 1);
    rf_start_waiting (3000);
    int64_t started = zclock_mono ();
    const char *log = lg_test_log_path (rf.registry.pid);
    //  Well inside the wait, a dozen duty periods: still held
    zclock_sleep (1500);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.allocations WHERE"
                                    " connection_id = %" PRIu64 " AND status = 'decommissioning'",
                                    connection), 1);
    char *said = lg_test_sh_output ("grep -c -F 'registry holds its duties until it has caught up'"
                                    " '%s' || true", log);
    assert_int_equal (atol (said), 1);
    zstr_free (&said);
    //  The wait over (said), the duty runs
    rf_wait_sql (1, "SELECT count(*) FROM registry.allocations WHERE connection_id = %" PRIu64
                    " AND status = 'released'", connection);
    assert_true (zclock_mono () - started >= 2900);
    said = lg_test_sh_output ("grep -c -F 'without having caught up with isolation' '%s' || true",
                              log);
    assert_int_equal (atol (said), 1);
    zstr_free (&said);
    rf_stop ();
    rf_start ();
}

/* REQ R12.1: a domain name is allocated once: were the domain an approval
   gives held by another connection (here written there by hand: the naming
   and the service's domain lock keep it from happening), the unique key's
   refusal is ALREADY_EXISTS naming R12.1 and the domain, and nothing is
   allocated. Before, it named no rule ("already exists
   (connections_domain_key)") */
static void
test_r12_1_domain_allocated_once (void **state)
{
    (void) state;
    s_pool ("asp-v4-domain", "198.18.46.0/28", 4);
    uint64_t elsewhere = s_under_review ("operator", rf_registered_service (1, 2), 30, 0);
    lg_reply_t *reply = s_approve (elsewhere);
    char *kept = strdup (reply->connection->connection->domain);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    uint64_t service = rf_registered_service (1, 2);
    uint64_t connection = s_under_review ("operator", service, 30, 0);
    char *sql = zsys_sprintf ("SELECT name FROM registry.services WHERE id = %" PRIu64, service);
    char *name = rf_sql_text (sql);
    zstr_free (&sql);
    char *domain = zsys_sprintf ("%s.p2.asp.lgwan.jp", name);
    assert_int_equal (rf_sqlf_long ("WITH u AS (UPDATE registry.connections SET domain = '%s'"
                                    " WHERE id = %" PRIu64 " RETURNING 1) SELECT count(*) FROM u",
                                    domain, elsewhere), 1);
    long activated = rf_events (ACTIVATED);

    reply = s_decide ("reviewer", connection, APPROVED);
    rf_expect (reply, RF_CODE (ALREADY_EXISTS), "R12.1");
    assert_non_null (strstr (reply->status->message, domain));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_assert_status (connection, "under_review");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.allocations"
                                    " WHERE connection_id = %" PRIu64, connection), 0);
    assert_int_equal (rf_events (ACTIVATED), activated);
    assert_int_equal (rf_sqlf_long ("WITH u AS (UPDATE registry.connections SET domain = '%s'"
                                    " WHERE id = %" PRIu64 " RETURNING 1) SELECT count(*) FROM u",
                                    kept, elsewhere), 1);
    zstr_free (&domain);
    free (name);
    free (kept);
}

//  Two requests raced around a lock held by hand: an admin session runs
//  hold (after BEGIN), first is sent and must wait for that lock, then
//  second is sent; *waiting is how many sessions of the registry wait for a
//  lock once second is under way (2 when second waits for first: 1.5 s at
//  most). Only then does the session commit; both replies come after it
//  (callers free), and the test asserts with no lock held by hand
static void
s_race (const char *hold, s_stalled_t *first, s_stalled_t *second, long *waiting)
{
    //  No session of the registry waits for a lock before
    assert_int_equal (lg_test_wait_lock_waiters (rf.admin, "registry", 0, 0), 0);
    PGconn *holder = PQconnectdb (rf.admin);
    char *sql = zsys_sprintf ("BEGIN; %s", hold);
    PGresult *res = PQexec (holder, sql);
    ExecStatusType held = PQresultStatus (res);
    PQclear (res);
    zstr_free (&sql);
    pthread_t one, two;
    long first_waits = -1;
    *waiting = -1;
    if (held == PGRES_TUPLES_OK
    &&  pthread_create (&one, NULL, s_approve_at, first) == 0) {
        first_waits = lg_test_wait_lock_waiters (rf.admin, "registry", 1, 1500);
        if (pthread_create (&two, NULL, s_approve_at, second) == 0) {
            *waiting = lg_test_wait_lock_waiters (rf.admin, "registry", 2, 1500);
            res = PQexec (holder, "COMMIT");
            PQclear (res);
            pthread_join (two, NULL);
        }
        pthread_join (one, NULL);
    }
    PQfinish (holder);
    assert_int_equal (held, PGRES_TUPLES_OK);
    assert_int_equal (first_waits, 1);
    assert_non_null (first->reply);
    assert_non_null (second->reply);
}

//  A hosting provider with both contacts (R9.2), a service of it and a
//  connection of that under review
static uint64_t
s_contacts_race_connection (const char *name, uint64_t *hosting, uint64_t *service)
{
    *hosting = rf_qualified_provider (name);
    s_contacts (*hosting, false, true, true);
    *service = rf_registered_service (1, *hosting);
    return s_under_review ("operator", *service, 30, 0);
}

//  The kinds of a provider's contacts, "2,3" (caller frees)
static char *
s_contact_kinds (uint64_t provider)
{
    char *sql = zsys_sprintf ("SELECT string_agg (kind::text, ',' ORDER BY kind) FROM"
                              " registry.provider_contacts WHERE provider_id = %" PRIu64, provider);
    char *kinds = rf_sql_text (sql);
    zstr_free (&sql);
    return kinds;
}

/* REQ R9.2: a connection is not activated while a change of its hosting
   provider's contacts that drops the emergency response contact is being
   written: the approval waits for the change's COMMIT (the provider's
   contacts lock, which the change holds exclusive and approvals shared)
   and reads the contacts again, refused R9.2; nothing allocated. Here the
   change is held inside its transaction, after its check, at the contact
   rows an admin session has locked. Before, the approval read the contacts
   the change had not yet committed, and both committed: an active
   connection whose hosting provider had no emergency response contact */
static void
test_r9_2_approval_waits_for_a_contacts_change (void **state)
{
    (void) state;
    s_pool ("asp-v4-contacts-race", "198.18.44.0/28", 4);
    uint64_t hosting, service;
    uint64_t connection = s_contacts_race_connection ("連絡先変更中株式会社", &hosting, &service);
    long activated = rf_events (ACTIVATED);

    s_contacts_change_t c;
    s_contacts_change (&c, NOTIFICATION, hosting, true, false, true);
    s_stalled_t change = { .registry = &rf.registry, .who = "operator",
                          .body_case = RF_BODY (CHANGE_FILE), .body = &c.change };
    s_stalled_t approval = { .registry = &rf.registry, .connection = connection };
    char *hold = zsys_sprintf ("SELECT 1 FROM registry.provider_contacts WHERE provider_id = %"
                               PRIu64 " FOR UPDATE", hosting);
    long waiting;
    s_race (hold, &change, &approval, &waiting);
    zstr_free (&hold);

    rf_expect (change.reply, RF_CODE (OK), NULL);
    assert_string_equal (change.reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (change.reply, NULL);
    rf_expect (approval.reply, RF_CODE (FAILED_PRECONDITION), "R9.2");
    lgwan__v1__reply__free_unpacked (approval.reply, NULL);
    assert_int_equal (waiting, 2);              //  the approval waited for the change
    s_assert_status (connection, "under_review");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.allocations"
                                    " WHERE connection_id = %" PRIu64, connection), 0);
    assert_int_equal (rf_events (ACTIVATED), activated);
    char *kinds = s_contact_kinds (hosting);
    assert_string_equal (kinds, "1,3");
    free (kinds);
}

/* REQ R9.2: and a change of the contacts that drops the operations manager
   waits for an approval of a connection of the provider under way and sees
   the connection active: refused R9.2, the contacts as they were. Here the
   approval is held inside its transaction, after its checks, at the
   service's domain lock (the first domain of a service, see
   registry_connections.c) an admin session holds. Before, the change saw
   no connection in effect and both committed */
static void
test_r9_2_contacts_change_waits_for_an_approval (void **state)
{
    (void) state;
    s_pool ("asp-v4-contacts-race2", "198.18.45.0/28", 4);
    uint64_t hosting, service;
    uint64_t connection = s_contacts_race_connection ("承認中連絡先株式会社", &hosting, &service);
    long versions = rf_sqlf_long ("SELECT count(*) FROM registry.versions WHERE subject ="
                                  " 'provider' AND subject_id = %" PRIu64, hosting);

    s_contacts_change_t c;
    s_contacts_change (&c, NOTIFICATION, hosting, true, true, false);
    s_stalled_t approval = { .registry = &rf.registry, .connection = connection };
    s_stalled_t change = { .registry = &rf.registry, .who = "operator",
                          .body_case = RF_BODY (CHANGE_FILE), .body = &c.change };
    char *hold = zsys_sprintf ("SELECT pg_advisory_xact_lock (hashtext ('lgwan.domain.%" PRIu64
                               "'))", service);
    long waiting;
    s_race (hold, &approval, &change, &waiting);
    zstr_free (&hold);

    rf_expect (approval.reply, RF_CODE (OK), NULL);
    assert_string_equal (approval.reply->connection->connection->status, "active");
    lgwan__v1__reply__free_unpacked (approval.reply, NULL);
    rf_expect (change.reply, RF_CODE (FAILED_PRECONDITION), "R9.2");
    assert_non_null (strstr (change.reply->status->message,
                             "while connections it hosts are in effect"));
    lgwan__v1__reply__free_unpacked (change.reply, NULL);
    assert_int_equal (waiting, 2);              //  the change waited for the approval
    char *kinds = s_contact_kinds (hosting);
    assert_string_equal (kinds, "2,3");
    free (kinds);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.versions WHERE subject ="
                                    " 'provider' AND subject_id = %" PRIu64, hosting), versions);
}

static int
s_setup (void **state)
{
    (void) state;
    int rc = rf_setup ("regconn");
    //  Providers 1 and 2 host services: both their contacts (R9.2)
    s_contacts (1, true, true, true);
    s_contacts (2, false, true, true);
    return rc;
}

//  A holders change of service moving its hosting role from provider 1 to
//  provider 2, filed by the operator, pending; its id
static uint64_t
s_hosting_move (uint64_t service)
{
    rf_holders_t h;
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = APPLICATION;
    change.subject = (char *) "service";
    change.id = service;
    change.service = rf_holders_patch (&h, 1, 2);
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CHANGE_FILE), &change);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->change->change->status, "pending");
    uint64_t id = reply->change->change->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  The hosting move of service approved while request (sent by who) waits
//  for the service: the approval held by hand at the service's holder rows,
//  after it locked the service; the request's reply (caller frees)
static lg_reply_t *
s_during_a_hosting_move (uint64_t service, const char *who, unsigned body_case, void *body)
{
    Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
    decide.change = s_hosting_move (service);
    decide.outcome = APPROVED;
    decide.reason = (char *) "ホスティング事業者の交代を承認";
    s_stalled_t approval = { .registry = &rf.registry, .who = "reviewer",
                            .body_case = RF_BODY (CHANGE_DECIDE), .body = &decide };
    s_stalled_t request = { .registry = &rf.registry, .who = who, .body_case = body_case,
                           .body = body };
    char *hold = zsys_sprintf ("SELECT 1 FROM registry.service_holders WHERE service_id = %" PRIu64
                               " FOR UPDATE", service);
    long waiting;
    s_race (hold, &approval, &request, &waiting);
    zstr_free (&hold);
    rf_expect (approval.reply, RF_CODE (OK), NULL);
    assert_string_equal (approval.reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (approval.reply, NULL);
    assert_int_equal (waiting, 2);              //  the request waited for the approval
    assert_int_equal (rf_sqlf_long ("SELECT provider_id FROM registry.service_holders"
                                    " WHERE service_id = %" PRIu64 " AND role = 2", service), 2);
    return request.reply;
}

/* REQ R9.2: the provider the hosting role leaves applies for no connection
   of the service once the move is approved, also when it asked while the
   approval was under way: it waits for the service, then reads the
   holders as they are. It read the holders as they were when its statement
   began, and filed a connection of the service it no longer hosted, which
   was then approved with the new host's domain */
static void
test_r9_2_hosting_move_meets_an_application_of_the_old_host (void **state)
{
    (void) state;
    rf_contacts (1);
    rf_contacts (2);
    uint64_t service = rf_registered_service (1, 1);
    Lgwan__V1__ConnectionApply apply = LGWAN__V1__CONNECTION_APPLY__INIT;
    apply.service = service;
    apply.router = (char *) "rt-move";
    apply.line_carrier = (char *) "NTT";
    apply.bandwidth_class = (char *) "100M";
    apply.ipv4_prefix_length = 30;
    lg_reply_t *reply = s_during_a_hosting_move (service, "provider1",
                                                 RF_BODY (CONNECTION_APPLY), &apply);
    rf_refused (reply, RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.connections"
                                    " WHERE service_id = %" PRIu64, service), 0);
    //  The new host applies. A connection of the old host (made so by hand
    //  here: the race above no longer makes one) is not approved
    uint64_t id = s_under_review ("provider2", service, 30, 0);
    assert_int_equal (rf_sqlf_long ("WITH u AS (UPDATE registry.connections SET provider_id = 1"
                                    " WHERE id = %" PRIu64 " RETURNING 1) SELECT count(*) FROM u",
                                    id), 1);
    lg_reply_t *refused = s_decide ("reviewer", id, APPROVED);
    assert_non_null (strstr (refused->status->message, "filed by provider 1"));
    rf_refused (refused, RF_CODE (FAILED_PRECONDITION), "R9.2");
    s_assert_status (id, "under_review");
}

/* REQ R4.2: nor does it change or cancel the service it no longer hosts:
   its cancellation, filed while the move was approved, waited for the
   service and was refused. It read the hosting provider as it had been,
   cancelled the service, and CancellationEffective named it */
static void
test_r4_2_hosting_move_meets_a_cancellation_by_the_old_host (void **state)
{
    (void) state;
    rf_contacts (1);
    rf_contacts (2);
    uint64_t service = rf_registered_service (1, 1);
    long effective = rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE);
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = NOTIFICATION;
    cancel.subject = (char *) "service";
    cancel.id = service;
    cancel.cancel = true;
    lg_reply_t *reply = s_during_a_hosting_move (service, "provider1", RF_BODY (CHANGE_FILE),
                                                 &cancel);
    rf_refused (reply, RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.services WHERE id = %" PRIu64
                                    " AND status = 'registered'", service), 1);
    assert_int_equal (rf_events (LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE), effective);
}

int
main (void)
{
    //  The order matters: see the top of the file
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r12_1_allocation_reuse),
        cmocka_unit_test (test_r12_1_r5_2_server_address_free_again_after_release),
        cmocka_unit_test (test_r12_1_concurrent_allocation_two_registries),
        //  These two expect every pool before theirs full, as the three
        //  above leave them, and leave theirs full
        cmocka_unit_test (test_r12_1_block_after_the_last_of_mixed_lengths),
        cmocka_unit_test (test_r12_1_pool_at_the_end_of_the_address_space),
        cmocka_unit_test (test_r12_1_ipv6_allocation_and_lookup),
        cmocka_unit_test (test_r12_1_stripe_under_a_larger_block),
        cmocka_unit_test (test_r12_1_service_name_of_a_connection_domain_refused),
        cmocka_unit_test (test_r4_1_connection_needs_registration_and_qualification),
        cmocka_unit_test (test_r9_2_connection_needs_both_contacts),
        cmocka_unit_test (test_r9_2_contacts_kept_while_a_connection_is_in_effect),
        cmocka_unit_test (test_r5_2_r12_1_connection_application_input),
        cmocka_unit_test (test_x3_not_the_host_is_denied_before_the_state_is_told),
        cmocka_unit_test (test_r12_1_pool_input),
        cmocka_unit_test (test_r11_servers),
        cmocka_unit_test (test_r4_2_bandwidth_change),
        cmocka_unit_test (test_r4_2_cancellation_versions_the_connections_it_ends),
        cmocka_unit_test (test_r4_2_no_change_of_what_ended_with_its_parent),
        cmocka_unit_test (test_r12_1_connection_permissions),
        cmocka_unit_test (test_r4_1_approval_meets_its_providers_cancellation),
        cmocka_unit_test (test_r4_1_approval_waiting_while_its_provider_is_cancelled),
        cmocka_unit_test (test_r9_2_approval_waits_for_a_contacts_change),
        cmocka_unit_test (test_r9_2_contacts_change_waits_for_an_approval),
        cmocka_unit_test (test_r12_1_domain_allocated_once),
        cmocka_unit_test_teardown (test_r4_2_due_cancellation_of_what_ended_with_its_parent_lapses,
                                   rf_clock_back),
        cmocka_unit_test (test_r12_1_release_is_in_the_connections_history),
        cmocka_unit_test (test_x2_release_waits_until_caught_up_with_isolation),
        cmocka_unit_test (test_r4_2_cancellation_cancels_the_connections_and_services_it_ends),
        cmocka_unit_test (test_r9_2_hosting_move_meets_an_application_of_the_old_host),
        cmocka_unit_test (test_r4_2_hosting_move_meets_a_cancellation_by_the_old_host),
        cmocka_unit_test (test_x1_pools_and_servers_say_who_and_why),
        cmocka_unit_test (test_x1_pools_and_servers_need_a_reason),
    };
    return cmocka_run_group_tests (tests, s_setup, rf_teardown);
}
