/*  registry_fixture - what the registry system tests share (test_registry_*.c).

    1. One fresh database, the real lgwan-registry binary and the test
       certificates per test program, started in the group setup.
    2. The business clock is a file (LG_CLOCK_FILE), at RF_TODAY_UTC unless a
       test moves it, so every recorded time is known exactly; background
       duties run every 200 ms (LG_DUTY_MS).
    3. The reference list of local governments is the shipped CSV, loaded by
       an operator.
    4. Providers 1 and 2 are applied and qualified first, so that their ids
       are the provider_id of the provider1 and provider2 certificates.
    5. Every check of "nothing changed" reads row counts through the admin
       conninfo, never through the service.
*/
#ifndef REGISTRY_FIXTURE_H_INCLUDED
#define REGISTRY_FIXTURE_H_INCLUDED

#include "lg_test.h"
#include <stdarg.h>

//  The business day of the tests: 2027-03-01 in Asia/Tokyo all day
#define RF_TODAY_UTC    "2027-03-01T00:00:00Z"
#define RF_TODAY        "2027-03-01"
#define RF_NOW_TEXT     "2027-03-01T00:00:00.000000Z"      //  how records show it

#define RF_BODY(NAME)   LGWAN__V1__REQUEST__BODY_##NAME
#define RF_CODE(NAME)   LGWAN__V1__CODE__##NAME

typedef struct {
    char *admin;                //  conninfo as postgres
    char *certs;
    char clock [64];            //  the clock file
    lg_test_proc_t registry;
    int serial;                 //  unique names and numbers
} rf_fixture_t;

static rf_fixture_t rf = { .registry = { .service = "registry" } };

//  ---------------------------------------------------------------------------
//  Database (admin conninfo)

//  One text from the database; caller frees; NULL when no row or NULL. A
//  query that fails fails the test (a count of a mistyped table must not
//  compare equal to itself)
static inline char *
rf_sql_text (const char *sql)
{
    PGconn *conn = PQconnectdb (rf.admin);
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    char *value = PQntuples (res) == 1 && !PQgetisnull (res, 0, 0)?
                  strdup (PQgetvalue (res, 0, 0)): NULL;
    PQclear (res);
    PQfinish (conn);
    return value;
}

//  One number from the database; the query must give one
static inline long
rf_sql_long (const char *sql)
{
    char *text = rf_sql_text (sql);
    if (!text)
        fail_msg ("%s: no value", sql);
    long value = atol (text);
    free (text);
    return value;
}

//  The same with the statement formatted
static inline long __attribute__ ((format (printf, 1, 2)))
rf_sqlf_long (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *sql = zsys_vprintf (format, args);
    va_end (args);
    long value = rf_sql_long (sql);
    zstr_free (&sql);
    return value;
}

typedef struct {
    const char *sql;
    long want;
} rf_wait_t;

static inline bool
rf_sql_reached (void *arg)
{
    rf_wait_t *wait = (rf_wait_t *) arg;
    return rf_sql_long (wait->sql) == wait->want;
}

//  Wait (15 s at most) until the formatted statement gives want: services
//  apply what they follow asynchronously. Fails the test when it never does.
static inline void __attribute__ ((format (printf, 2, 3)))
rf_wait_sql (long want, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *sql = zsys_vprintf (format, args);
    va_end (args);
    rf_wait_t wait = { sql, want };
    if (!lg_test_wait_for (rf_sql_reached, &wait, 15000))
        fail_msg ("waited for %ld from %s, have %ld", want, sql, rf_sql_long (sql));
    zstr_free (&sql);
}

static inline long
rf_count (const char *table)
{
    char sql [160];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.%s", table);
    return rf_sql_long (sql);
}

//  Events of one kind in the registry's outbox
static inline long
rf_events (int body_case)
{
    char sql [120];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM registry.outbox WHERE body_case = %d",
              body_case);
    return rf_sql_long (sql);
}

//  An event from its outbox row as encode (event, 'hex') gives it, of the
//  kind expected (caller frees with lgwan__v1__event__free_unpacked)
static inline lg_event_t *
rf_event_from_hex (const char *hex, int body_case)
{
    assert_non_null (hex);
    size_t size = strlen (hex) / 2;
    uint8_t *bytes = (uint8_t *) malloc (size? size: 1);
    for (size_t i = 0; i < size; i++)
        sscanf (hex + 2 * i, "%2hhx", &bytes [i]);
    lg_event_t *event = lgwan__v1__event__unpack (NULL, size, bytes);
    free (bytes);
    assert_non_null (event);
    assert_int_equal (event->body_case, body_case);
    return event;
}

//  The newest event of body_case in the outbox of schema (caller frees)
static inline lg_event_t *
rf_newest_event (const char *schema, int body_case)
{
    char *sql = zsys_sprintf ("SELECT encode (event, 'hex') FROM %s.outbox WHERE body_case = %d"
                              " ORDER BY seq DESC LIMIT 1", schema, body_case);
    char *hex = rf_sql_text (sql);
    zstr_free (&sql);
    lg_event_t *event = rf_event_from_hex (hex, body_case);
    free (hex);
    return event;
}

//  CancellationEffective events for one record, read from the outbox itself:
//  how many, and the last one in *last when asked for (caller frees it with
//  lgwan__v1__event__free_unpacked; NULL when none)
static inline long
rf_cancellation_events (const char *kind, uint64_t id, lg_event_t **last)
{
    PGconn *conn = PQconnectdb (rf.admin);
    PGresult *res = PQexec (conn, "SELECT encode (event, 'hex') FROM registry.outbox"
                                  " WHERE body_case = 106 ORDER BY seq");
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    long found = 0;
    if (last)
        *last = NULL;
    for (int row = 0; row < PQntuples (res); row++) {
        lg_event_t *event = rf_event_from_hex (PQgetvalue (res, row, 0),
                                               LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE);
        const Lgwan__V1__CancellationEffective *c = event->cancellation_effective;
        if (streq (c->kind, kind) && c->id == id) {
            found++;
            if (last) {
                if (*last)
                    lgwan__v1__event__free_unpacked (*last, NULL);
                *last = event;
                continue;
            }
        }
        lgwan__v1__event__free_unpacked (event, NULL);
    }
    PQclear (res);
    PQfinish (conn);
    return found;
}

//  The same, with effective_on (11 bytes) and provider of the last one when
//  asked for
static inline long
rf_cancellations (const char *kind, uint64_t id, char *effective, uint64_t *provider)
{
    lg_event_t *last;
    long found = rf_cancellation_events (kind, id, &last);
    if (last && effective)
        snprintf (effective, 11, "%s", last->cancellation_effective->effective_on);
    if (last && provider)
        *provider = last->cancellation_effective->provider;
    if (last)
        lgwan__v1__event__free_unpacked (last, NULL);
    return found;
}

//  A change as one filed before a rule that now refuses it may still wait
//  in a database: written into the table, filed by operator:alice now, for
//  effective_on (a date, or "" for none); its id
static inline uint64_t
rf_change_filed_before (const char *kind, const char *subject, uint64_t id, bool cancel,
                        const char *status, const char *effective_on)
{
    return (uint64_t) rf_sqlf_long (
        "INSERT INTO registry.changes (kind, subject, subject_id, cancel, effective_on, status,"
        " filed_by, filed_at, reason) VALUES ('%s', '%s', %" PRIu64 ", %s, nullif ('%s', '')::date,"
        " '%s', 'operator:alice', now (), '申請済み') RETURNING id", kind, subject, id,
        cancel? "true": "false", effective_on, status);
}

//  ---------------------------------------------------------------------------
//  The registry process and its clock

static inline void
rf_set_clock (const char *rfc3339)
{
    FILE *file = fopen (rf.clock, "w");
    assert_non_null (file);
    fprintf (file, "%s\n", rfc3339);
    assert_int_equal (fclose (file), 0);
}

//  Isolation, which the registry follows, is not run here: the duties that
//  wait until the registry caught up with it (released allocations) wait
//  catch_up_ms, not the 30 s of a real start
static inline void
rf_start_waiting (int catch_up_ms)
{
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    char *wait = zsys_sprintf ("LG_CATCH_UP_WAIT_MS=%d", catch_up_ms);
    const char *extra [] = { clock, wait, "LG_DUTY_MS=200", "LG_LOG_LEVEL=info", NULL };
    assert_true (lg_test_proc_start (&rf.registry, rf.admin, rf.certs, NULL, extra));
    zstr_free (&clock);
    zstr_free (&wait);
}

static inline void
rf_start (void)
{
    rf_start_waiting (1000);
}

static inline void
rf_stop (void)
{
    assert_int_equal (lg_test_proc_stop (&rf.registry, SIGTERM), 0);
}

//  Teardown of a test that moves the business clock: back to RF_TODAY_UTC,
//  also when the test failed
static inline int
rf_clock_back (void **state)
{
    (void) state;
    rf_set_clock (RF_TODAY_UTC);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Requests

//  Call the registry as `who` with one request body and an envelope reason;
//  the reply is never NULL (the call itself must work)
static inline lg_reply_t *
rf_ask_why (const char *who, const char *reason, Lgwan__V1__Request__BodyCase body_case,
            void *body)
{
    lg_client_t *client = lg_test_proc_client (&rf.registry, rf.certs, who);
    assert_non_null (client);
    lg_client_set_timeout (client, 3000, 1);
    lg_reply_t *reply = lg_test_call (client, body_case, body, reason);
    lg_client_destroy (&client);
    assert_non_null (reply);
    assert_non_null (reply->status);
    return reply;
}

static inline lg_reply_t *
rf_ask (const char *who, Lgwan__V1__Request__BodyCase body_case, void *body)
{
    return rf_ask_why (who, "system test", body_case, body);
}

//  The reply has this code and requirement; a refusal also carries no
//  record body. A refusal's requirement is always given (DESIGN: a rule
//  refusal names its requirement ID; tests assert that ID): the ID it must
//  name, or "" for one that names none (NOT_FOUND, UNAVAILABLE); NULL there
//  is a test bug. For OK, NULL: not checked. The macros below name the
//  caller's line.
static inline void
rf_expect_at (const lg_reply_t *reply, lg_code_t code, const char *requirement,
              const char *file, int line)
{
    if (!requirement && code != LGWAN__V1__CODE__OK)
        fail_msg ("%s:%d: test bug: a refusal (code %d) is expected without the requirement"
                  " it names (got \"%s\": %s); give it, or \"\" for none", file, line, code,
                  reply->status->requirement, reply->status->message);
    if (reply->status->code != code)
        fail_msg ("%s:%d: expected code %d (%s), got %d (%s): %s", file, line, code,
                  requirement? requirement: "-", reply->status->code,
                  reply->status->requirement, reply->status->message);
    if (requirement && !streq (reply->status->requirement, requirement))
        fail_msg ("%s:%d: expected requirement \"%s\", got \"%s\": %s", file, line,
                  requirement, reply->status->requirement, reply->status->message);
    if (code != LGWAN__V1__CODE__OK && reply->body_case != LGWAN__V1__REPLY__BODY__NOT_SET)
        fail_msg ("%s:%d: a refusal carries a record (body %d)", file, line, reply->body_case);
}

//  rf_expect_at, then free the reply
static inline void
rf_refused_at (lg_reply_t *reply, lg_code_t code, const char *requirement, const char *file,
               int line)
{
    rf_expect_at (reply, code, requirement, file, line);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

#define rf_expect(reply, code, requirement) \
    rf_expect_at ((reply), (code), (requirement), __FILE__, __LINE__)
#define rf_refused(reply, code, requirement) \
    rf_refused_at ((reply), (code), (requirement), __FILE__, __LINE__)
#define rf_ok(reply) \
    rf_refused_at ((reply), LGWAN__V1__CODE__OK, NULL, __FILE__, __LINE__)

//  A change filed by who and in effect today: an application (pending
//  when filed) approved by the reviewer with why, a notification at once
static inline void
rf_change_in_effect (const char *who, Lgwan__V1__ChangeFile *change, const char *why)
{
    lg_reply_t *reply = rf_ask (who, RF_BODY (CHANGE_FILE), change);
    rf_expect (reply, RF_CODE (OK), NULL);
    if (change->kind == LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION) {
        assert_string_equal (reply->change->change->status, "pending");
        Lgwan__V1__ChangeDecide decide = LGWAN__V1__CHANGE_DECIDE__INIT;
        decide.change = reply->change->change->id;
        decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
        decide.reason = (char *) why;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        reply = rf_ask ("reviewer", RF_BODY (CHANGE_DECIDE), &decide);
        rf_expect (reply, RF_CODE (OK), NULL);
    }
    assert_string_equal (reply->change->change->status, "effective");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  ---------------------------------------------------------------------------
//  Records

//  A fresh valid corporate number (13 digits, leading check digit)
static inline void
rf_corporate_number (char *number)
{
    char base [13];
    snprintf (base, sizeof base, "%012u", 300000000u + (unsigned) ++rf.serial);
    int sum = 0;
    for (int n = 1; n <= 12; n++)
        sum += (base [12 - n] - '0') * (n % 2? 1: 2);
    number [0] = (char) ('0' + 9 - sum % 9);
    memcpy (number + 1, base, sizeof base);
}

//  A fresh service name
static inline void
rf_service_name (char *name, size_t size)
{
    snprintf (name, size, "svc-%d", ++rf.serial);
}

//  A ProviderApply of a private corporation (type 6) with a fresh corporate
//  number; the caller changes what it tests. number holds 14 bytes.
static inline Lgwan__V1__ProviderApply
rf_apply_body (const char *name, char *number)
{
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    rf_corporate_number (number);
    apply.name_ja = (char *) name;
    apply.name_en = (char *) "Test Corporation";
    apply.entity_type = LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION;
    apply.corporate_number = number;
    return apply;
}

//  Apply (as operator); returns the new provider's id
static inline uint64_t
rf_apply (Lgwan__V1__ProviderApply *apply)
{
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (PROVIDER_APPLY), apply);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->provider->provider->status, "applied");
    uint64_t id = reply->provider->provider->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  A private corporation that applied (not yet reviewed)
static inline uint64_t
rf_applied_provider (const char *name)
{
    char number [14];
    Lgwan__V1__ProviderApply apply = rf_apply_body (name, number);
    return rf_apply (&apply);
}

//  Review and approve a provider's qualification (reviewer)
static inline void
rf_qualify (uint64_t id)
{
    Lgwan__V1__QualificationReview review = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    review.provider = id;
    rf_ok (rf_ask ("reviewer", RF_BODY (QUALIFICATION_REVIEW), &review));
    Lgwan__V1__QualificationDecide decide = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
    decide.provider = id;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "要件を満たす";
    lg_reply_t *reply = rf_ask ("reviewer", RF_BODY (QUALIFICATION_DECIDE), &decide);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->provider->provider->status, "qualified");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

static inline uint64_t
rf_qualified_provider (const char *name)
{
    uint64_t id = rf_applied_provider (name);
    rf_qualify (id);
    return id;
}

//  A hosting provider names its emergency contact and operations manager
//  before a connection (R9.2); by notification, as operator
static inline void
rf_contacts (uint64_t provider)
{
    Lgwan__V1__Contact emergency = LGWAN__V1__CONTACT__INIT, manager = LGWAN__V1__CONTACT__INIT;
    emergency.kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
    emergency.name = (char *) "緊急対応窓口";
    emergency.phone = (char *) "0120-000-000";
    manager.kind = LGWAN__V1__CONTACT_KIND__CONTACT_OPERATIONS_MANAGER;
    manager.name = (char *) "運用管理責任者";
    manager.email = (char *) "ops@example.jp";
    Lgwan__V1__Contact *contacts [] = { &emergency, &manager };
    Lgwan__V1__ProviderPatch patch = LGWAN__V1__PROVIDER_PATCH__INIT;
    patch.contacts = contacts;
    patch.n_contacts = 2;
    patch.replace_contacts = true;
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    change.subject = (char *) "provider";
    change.id = provider;
    change.provider = &patch;
    rf_ok (rf_ask ("operator", RF_BODY (CHANGE_FILE), &change));
}

//  The holders of a service: application & content by content, hosting by
//  hosting (list points into holder: pass h.list, 2)
typedef struct {
    Lgwan__V1__RoleHolder holder [2];
    Lgwan__V1__RoleHolder *list [2];
    Lgwan__V1__ServicePatch patch;      //  rf_holders_patch
} rf_holders_t;

static inline void
rf_holders (rf_holders_t *h, uint64_t content, uint64_t hosting)
{
    for (int i = 0; i < 2; i++) {
        lgwan__v1__role_holder__init (&h->holder [i]);
        h->list [i] = &h->holder [i];
    }
    h->holder [0].provider = content;
    h->holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    h->holder [1].provider = hosting;
    h->holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
}

//  A service's patch (a holders change) that replaces its holders with
//  those of rf_holders; it points into h
static inline Lgwan__V1__ServicePatch *
rf_holders_patch (rf_holders_t *h, uint64_t content, uint64_t hosting)
{
    rf_holders (h, content, hosting);
    lgwan__v1__service_patch__init (&h->patch);
    h->patch.holders = h->list;
    h->patch.n_holders = 2;
    h->patch.replace_holders = true;
    return &h->patch;
}

//  File a service registration as operator; the reply (caller frees)
static inline lg_reply_t *
rf_service_register (const char *name, const char *title, Lgwan__V1__RoleHolder **holders,
                     size_t n)
{
    Lgwan__V1__ServiceRegister r = LGWAN__V1__SERVICE_REGISTER__INIT;
    r.name = (char *) name;
    r.title_ja = (char *) title;
    r.holders = holders;
    r.n_holders = n;
    return rf_ask ("operator", RF_BODY (SERVICE_REGISTER), &r);
}

//  Review and approve a service (reviewer)
static inline void
rf_service_approve (uint64_t id)
{
    Lgwan__V1__ServiceReview review = LGWAN__V1__SERVICE_REVIEW__INIT;
    review.service = id;
    rf_ok (rf_ask ("reviewer", RF_BODY (SERVICE_REVIEW), &review));
    Lgwan__V1__ServiceDecide decide = LGWAN__V1__SERVICE_DECIDE__INIT;
    decide.service = id;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "登録要件を満たす";
    lg_reply_t *reply = rf_ask ("reviewer", RF_BODY (SERVICE_DECIDE), &decide);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->service->service->status, "registered");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  A service applied for, not decided: application & content by content,
//  hosting by hosting
static inline uint64_t
rf_applied_service (uint64_t content, uint64_t hosting)
{
    rf_holders_t h;
    rf_holders (&h, content, hosting);
    char name [32];
    rf_service_name (name, sizeof name);
    lg_reply_t *reply = rf_service_register (name, "電子申請サービス", h.list, 2);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t id = reply->service->service->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  The same, registered
static inline uint64_t
rf_registered_service (uint64_t content, uint64_t hosting)
{
    uint64_t id = rf_applied_service (content, hosting);
    rf_service_approve (id);
    return id;
}

//  A draft contract of provider with the using body lgcode, filed by who
static inline uint64_t
rf_contract (const char *who, uint64_t provider, const char *lgcode, uint64_t service)
{
    Lgwan__V1__ContractCreate c = LGWAN__V1__CONTRACT_CREATE__INIT;
    c.provider = provider;
    c.lgcode = (char *) lgcode;
    c.services = &service;
    c.n_services = 1;
    c.responsibility = (char *) "サービスの提供及び運用管理について事業者が責任を負う";
    lg_reply_t *reply = rf_ask (who, RF_BODY (CONTRACT_CREATE), &c);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->contract->contract->status, "draft");
    uint64_t id = reply->contract->contract->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  Record one delivery of a contract's documents (operator)
static inline lg_reply_t *
rf_deliver (uint64_t contract, Lgwan__V1__Document document, const char *on)
{
    Lgwan__V1__ContractRecordDelivery d = LGWAN__V1__CONTRACT_RECORD_DELIVERY__INIT;
    d.contract = contract;
    d.document = document;
    d.delivered_on = (char *) on;
    return rf_ask ("operator", RF_BODY (CONTRACT_RECORD_DELIVERY), &d);
}

static inline lg_reply_t *
rf_activate (const char *who, uint64_t contract)
{
    Lgwan__V1__ContractActivate a = LGWAN__V1__CONTRACT_ACTIVATE__INIT;
    a.contract = contract;
    return rf_ask (who, RF_BODY (CONTRACT_ACTIVATE), &a);
}

//  A contract in effect: rf_contract, both documents delivered today, and
//  activated by the operator
static inline uint64_t
rf_active_contract (const char *who, uint64_t provider, const char *lgcode, uint64_t service)
{
    uint64_t id = rf_contract (who, provider, lgcode, service);
    rf_ok (rf_deliver (id, LGWAN__V1__DOCUMENT__DOCUMENT_TERMS_OF_USE, RF_TODAY));
    rf_ok (rf_deliver (id, LGWAN__V1__DOCUMENT__DOCUMENT_USER_MANUAL, RF_TODAY));
    rf_ok (rf_activate ("operator", id));
    return id;
}

//  ContractsOfProvider as who: all of provider's contracts, or the active
//  ones (caller frees the reply)
static inline lg_reply_t *
rf_contracts_of (const char *who, uint64_t provider, bool active_only)
{
    Lgwan__V1__ContractsOfProvider q = LGWAN__V1__CONTRACTS_OF_PROVIDER__INIT;
    q.provider = provider;
    q.active_only = active_only;
    return rf_ask (who, RF_BODY (CONTRACTS_OF_PROVIDER), &q);
}

//  The whole provider record as a viewer reads it (caller frees the reply)
static inline lg_reply_t *
rf_provider_get (const char *who, uint64_t id)
{
    Lgwan__V1__ProviderGet get = LGWAN__V1__PROVIDER_GET__INIT;
    get.provider = id;
    return rf_ask (who, RF_BODY (PROVIDER_GET), &get);
}

//  ---------------------------------------------------------------------------
//  Group setup and teardown

static inline int
rf_setup (const char *hint)
{
    lg_test_require_pg ();
    zsys_init ();
    rf.admin = lg_test_db_new (hint);
    rf.certs = lg_test_certs_new ();
    assert_non_null (rf.admin);
    assert_non_null (rf.certs);
    snprintf (rf.clock, sizeof rf.clock, "/tmp/lg-clock-XXXXXX");
    int fd = mkstemp (rf.clock);
    assert_true (fd >= 0);
    close (fd);
    rf_set_clock (RF_TODAY_UTC);
    rf_start ();

    char *path = zsys_sprintf ("%s/deploy/data/local-governments.csv", getenv ("LG_SOURCE_DIR"));
    char why [256];
    Lgwan__V1__ReferenceLoad *list = lg_reference_read (path, why, sizeof why);
    if (!list)
        fail_msg ("%s", why);
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (REFERENCE_LOAD), list);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->reference_load->entries, 1963);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lgwan__v1__reference_load__free_unpacked (list, NULL);
    zstr_free (&path);

    //  provider1 and provider2 are the certificates of these two
    assert_int_equal (rf_qualified_provider ("株式会社いちばん"), 1);
    assert_int_equal (rf_qualified_provider ("株式会社にばん"), 2);
    return 0;
}

static inline int
rf_teardown (void **state)
{
    (void) state;
    lg_test_proc_teardown (&rf.registry);
    lg_test_certs_destroy (&rf.certs);
    lg_test_db_drop (&rf.admin);
    unlink (rf.clock);
    return 0;
}

#endif
