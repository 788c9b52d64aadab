/*  System test of the billing service (REQ R6.1): the real lgwan-billing,
    following the real registry and isolation, all three on one business
    clock (LG_CLOCK_FILE) that the test moves from October 2026 to May 2027.

    The timeline comes from real events: connections activated on
    2026-10-17 (JST), a bandwidth class changed on 2026-11-16, a suspension
    from 2026-11-20 lifted on 2026-11-25, a cancellation effective
    2026-11-05. Every expected amount is stated in yen, never recomputed.
*/
#include "registry_fixture.h"
#include <pthread.h>

#define ISSUER      "T7123456789012"
#define INVOICE_RUN LGWAN__V1__REQUEST__BODY_INVOICE_RUN

static lg_test_proc_t s_isolation = { .service = "isolation" };
static lg_test_proc_t s_billing = { .service = "billing" };
static uint64_t s_conn1;                //  provider 1, 1G, cancelled effective 2026-11-05
static uint64_t s_conn2;                //  provider 2, 100M then 1G from 2026-11-16
static uint64_t s_service1;             //  hosted by provider 1, by provider 2 from 2027-07-11
static uint64_t s_service2;             //  hosted by provider 2

//  The tariff: 1G 31,000 and 100M 20,000 a month until March 2027 (no
//  service fee, suspended days at 50 %), then a version with a service fee
static const char *s_tariff =
    "{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": ["
    " {\"version\": \"FY2026\", \"effective_from\": \"2026-04-01\", \"effective_to\": \"2027-04-01\","
    "  \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000},"
    "                        {\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000}],"
    "  \"service_monthly_yen\": 0, \"suspended\": \"50%\", \"disconnected\": \"none\","
    "  \"tax_rate_percent\": 10, \"payment_due_days\": 30},"
    " {\"version\": \"FY2027\", \"effective_from\": \"2027-04-01\","
    "  \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000},"
    "                        {\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000}],"
    "  \"service_monthly_yen\": 3000, \"suspended\": \"full\", \"disconnected\": \"none\","
    "  \"one_off_fees\": [{\"name\": \"開通手数料\", \"on\": \"activation\", \"yen\": 10000}],"
    "  \"tax_rate_percent\": 10}]}";

static lg_reply_t *
s_call (lg_test_proc_t *proc, const char *who, unsigned body_case, void *body, int timeout_ms)
{
    lg_client_t *client = lg_test_proc_client (proc, rf.certs, who);
    assert_non_null (client);
    lg_client_set_timeout (client, timeout_ms, 0);
    lg_reply_t *reply = lg_test_call (client, body_case, body, "billing test");
    lg_client_destroy (&client);
    return reply;
}

static lg_reply_t *
s_ask (lg_test_proc_t *proc, const char *who, unsigned body_case, void *body)
{
    lg_reply_t *reply = s_call (proc, who, body_case, body, 20000);
    assert_non_null (reply);
    return reply;
}

static void
s_start_billing (const char *faults)
{
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    char *fault = zsys_sprintf ("LG_FAULTS=%s", faults? faults: "");
    const char *extra [] = { clock, fault, "LG_BILLING_ISSUER_REGISTRATION=" ISSUER,
                             "LG_HEARTBEAT_MS=200", NULL };
    lg_test_proc_t *follows [] = { &rf.registry, &s_isolation, NULL };
    assert_true (lg_test_proc_start (&s_billing, rf.admin, rf.certs, follows, extra));
    zstr_free (&clock);
    zstr_free (&fault);
}

//  Isolation, its enforcers on a port where nothing listens
static int s_enforcer_port;
static void
s_start_isolation (void)
{
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    char *enforcers = zsys_sprintf ("LG_ISOLATION_ENFORCER_ENDPOINT=tcp://127.0.0.1:%d",
                                    s_enforcer_port);
    const char *extra [] = { clock, enforcers, "LG_DUTY_MS=200", "LG_HEARTBEAT_MS=200", NULL };
    lg_test_proc_t *for_isolation [] = { &rf.registry, NULL };
    assert_true (lg_test_proc_start (&s_isolation, rf.admin, rf.certs, for_isolation, extra));
    zstr_free (&clock);
    zstr_free (&enforcers);
}

static uint64_t
s_connection (uint64_t service, const char *who, const char *bandwidth)
{
    Lgwan__V1__ConnectionApply apply = LGWAN__V1__CONNECTION_APPLY__INIT;
    apply.service = service;
    apply.router = (char *) "rt-billing";
    apply.line_carrier = (char *) "test";
    apply.bandwidth_class = (char *) bandwidth;
    apply.ipv4_prefix_length = 28;
    lg_reply_t *reply = rf_ask (who, RF_BODY (CONNECTION_APPLY), &apply);
    rf_expect (reply, RF_CODE (OK), NULL);
    uint64_t id = reply->connection->connection->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__ConnectionReview review = LGWAN__V1__CONNECTION_REVIEW__INIT;
    review.connection = id;
    rf_ok (rf_ask ("reviewer", RF_BODY (CONNECTION_REVIEW), &review));
    Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
    decide.connection = id;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "接続";
    rf_ok (rf_ask ("reviewer", RF_BODY (CONNECTION_DECIDE), &decide));
    return id;
}

//  A change application filed by who and approved by a reviewer
static void
s_change_approved_by (const char *who, Lgwan__V1__ChangeFile *change, const char *why)
{
    change->kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    rf_change_in_effect (who, change, why);
}

//  ... filed by the operator
static void
s_change_approved (Lgwan__V1__ChangeFile *change, const char *why)
{
    s_change_approved_by ("operator", change, why);
}

//  Provider 2's connection conn changed to bandwidth, approved
static void
s_bandwidth_changed (uint64_t conn, const char *bandwidth, const char *why)
{
    Lgwan__V1__ConnectionPatch patch = LGWAN__V1__CONNECTION_PATCH__INIT;
    patch.bandwidth_class = (char *) bandwidth;
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.subject = (char *) "connection";
    change.id = conn;
    change.connection = &patch;
    s_change_approved_by ("provider2", &change, why);
}

static int
s_setup (void **state)
{
    (void) state;
    rf_setup ("billing");
    rf_set_clock ("2026-10-17T01:00:00Z");          //  10:00 on 2026-10-17 in Tokyo
    s_enforcer_port = lg_test_free_port ();
    s_start_isolation ();
    s_start_billing (NULL);

    Lgwan__V1__PoolAdd pool = LGWAN__V1__POOL_ADD__INIT;
    pool.name = (char *) "v4";
    pool.prefix = (char *) "198.18.0.0/24";
    rf_ok (rf_ask ("operator", RF_BODY (POOL_ADD), &pool));
    rf_contacts (1);
    rf_contacts (2);
    s_service1 = rf_registered_service (1, 1);
    s_service2 = rf_registered_service (2, 2);
    s_conn1 = s_connection (s_service1, "provider1", "1G");
    s_conn2 = s_connection (s_service2, "provider2", "100M");
    rf_wait_sql (2, "SELECT count(*) FROM billing.timeline WHERE kind = 1 AND day = '2026-10-17'");
    rf_wait_sql (2, "SELECT count(*) FROM billing.providers");
    return 0;
}

static int
s_teardown (void **state)
{
    lg_test_proc_teardown (&s_billing);
    lg_test_proc_teardown (&s_isolation);
    return rf_teardown (state);
}

static lg_reply_t *
s_tariff_load (const char *who, const char *document)
{
    Lgwan__V1__TariffLoad load = LGWAN__V1__TARIFF_LOAD__INIT;
    load.document = (char *) document;
    return s_ask (&s_billing, who, LGWAN__V1__REQUEST__BODY_TARIFF_LOAD, &load);
}

//  A refused tariff names R6.1 and what is wrong, and loads nothing
static void
s_tariff_refused (const char *document, lg_code_t code, const char *what)
{
    long versions = rf_sqlf_long ("SELECT count(*) FROM billing.tariff_versions");
    long classes = rf_sqlf_long ("SELECT count(*) FROM billing.tariff_classes");
    lg_reply_t *reply = s_tariff_load ("operator", document);
    rf_expect (reply, code, "R6.1");
    if (!strstr (reply->status->message, what))
        fail_msg ("refusal \"%s\" does not say \"%s\"", reply->status->message, what);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.tariff_versions"), versions);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.tariff_classes"), classes);
}

#define FEES(ONE_G, HUNDRED_M) \
    "\"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": " ONE_G "}," \
    " {\"bandwidth_class\": \"100M\", \"monthly_yen\": " HUNDRED_M "}]," \
    " \"suspended\": \"full\", \"disconnected\": \"none\", \"tax_rate_percent\": 10"

/* REQ R6.1: a bad tariff file is refused with the reason and nothing is
   loaded (negative or fractional price, overlapping versions, unknown
   bandwidth class); only an operator loads one */
static void
test_r6_1_tariff_refusals (void **state)
{
    (void) state;
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": [{\"version\": \"A\","
                      " \"effective_from\": \"2026-04-01\", " FEES ("-31000", "20000") "}]}",
                      RF_CODE (INVALID_ARGUMENT), "negative price -31000");
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": [{\"version\": \"A\","
                      " \"effective_from\": \"2026-04-01\", " FEES ("31000.5", "20000") "}]}",
                      RF_CODE (INVALID_ARGUMENT), "monthly");
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": ["
                      "{\"version\": \"A\", \"effective_from\": \"2026-04-01\","
                      " \"effective_to\": \"2027-04-01\", " FEES ("31000", "20000") "},"
                      "{\"version\": \"B\", \"effective_from\": \"2027-01-01\", "
                      FEES ("31000", "20000") "}]}",
                      RF_CODE (INVALID_ARGUMENT), "versions A and B overlap");
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": [{\"version\": \"A\","
                      " \"effective_from\": \"2026-04-01\", \"connection_fees\": ["
                      "{\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000},"
                      "{\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000},"
                      "{\"bandwidth_class\": \"10G\", \"monthly_yen\": 90000}],"
                      " \"suspended\": \"full\", \"disconnected\": \"none\"}]}",
                      RF_CODE (INVALID_ARGUMENT), "unknown bandwidth class \"10G\"");
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": [{\"version\": \"A\","
                      " \"effective_from\": \"2026-04-01\", \"connection_fees\": ["
                      "{\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000},"
                      "{\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000}],"
                      " \"suspended\": \"half\", \"disconnected\": \"none\"}]}",
                      RF_CODE (INVALID_ARGUMENT), "suspended must be full, none or a percentage");
    lg_reply_t *reply = s_tariff_load ("billing", s_tariff);
    rf_refused (reply, RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.tariff_versions"), 0);

    //  The good file; again: nothing new; a version overlapping a loaded one
    reply = s_tariff_load ("operator", s_tariff);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 2);
    assert_int_equal (reply->tariff->n_versions, 2);
    assert_int_equal (reply->tariff->versions [0]->payment_due_days, 30);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_tariff_load ("operator", s_tariff);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": [{\"version\": \"C\","
                      " \"effective_from\": \"2028-04-01\", " FEES ("31000", "20000") "}]}",
                      RF_CODE (FAILED_PRECONDITION), "overlaps version FY2027");
    //  The demo tariff through lgwanctl: it parses, and overlaps what is loaded
    lg_test_proc_export (&s_billing);
    char *out = lg_test_sh_output ("LGWANCTL_CERT=%s/clients/operator_secret LG_CERT_DIR=%s"
                                   " %s/tools/lgwanctl/lgwanctl tariff load --file"
                                   " %s/deploy/demo/tariff.json 2>&1; echo rc=$?", rf.certs, rf.certs,
                                   getenv ("LG_BUILD_DIR"), getenv ("LG_SOURCE_DIR"));
    if (!strstr (out, "tariff demo-FY2026 overlaps version FY2026") || !strstr (out, "rc=1"))
        fail_msg ("lgwanctl tariff load: %s", out);
    zstr_free (&out);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.tariff_versions"), 2);
}

static lg_reply_t *
s_run (const char *period, bool preview)
{
    Lgwan__V1__InvoiceRun run = LGWAN__V1__INVOICE_RUN__INIT;
    run.period = (char *) period;
    run.preview = preview;
    return s_ask (&s_billing, "billing", INVOICE_RUN, &run);
}

static const Lgwan__V1__Invoice *
s_of (const Lgwan__V1__InvoiceRunReply *r, uint64_t provider)
{
    for (size_t i = 0; i < r->n_invoices; i++)
        if (r->invoices [i]->provider == provider)
            return r->invoices [i];
    fail_msg ("no invoice of provider %" PRIu64 " in %s", provider, r->period);
    return NULL;
}

//  Both invoices say the same but the number
static void
s_same (const Lgwan__V1__Invoice *a, const Lgwan__V1__Invoice *b)
{
    assert_int_equal (a->provider, b->provider);
    assert_string_equal (a->tariff_version, b->tariff_version);
    assert_int_equal (a->subtotal_yen, b->subtotal_yen);
    assert_int_equal (a->tax_yen, b->tax_yen);
    assert_int_equal (a->total_yen, b->total_yen);
    assert_string_equal (a->addressee, b->addressee);
    assert_string_equal (a->due_on, b->due_on);
    assert_int_equal (a->n_lines, b->n_lines);
    for (size_t i = 0; i < a->n_lines; i++) {
        assert_string_equal (a->lines [i]->description, b->lines [i]->description);
        assert_string_equal (a->lines [i]->from_day, b->lines [i]->from_day);
        assert_string_equal (a->lines [i]->to_day, b->lines [i]->to_day);
        assert_int_equal (a->lines [i]->amount_yen, b->lines [i]->amount_yen);
    }
}

/* REQ R6.1: activated 2026-10-17 at 31,000 yen a month: 15 of 31 days ->
   15,000, tax 1,500, total 16,500; the preview is the run exactly; a second
   run creates nothing and returns the same invoices */
static void
test_r6_1_october_run_preview_idempotent (void **state)
{
    (void) state;
    rf_set_clock ("2026-11-01T01:00:00Z");
    lg_reply_t *preview = s_run ("2026-10", true);
    rf_expect (preview, RF_CODE (OK), NULL);
    assert_int_equal (preview->invoice_run->created, 2);
    assert_int_equal (preview->invoice_run->existing, 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices"), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox"), 0);

    lg_reply_t *run = s_run ("2026-10", false);
    rf_expect (run, RF_CODE (OK), NULL);
    const Lgwan__V1__InvoiceRunReply *r = run->invoice_run;
    assert_int_equal (r->created, 2);
    assert_int_equal (r->n_invoices, 2);
    const Lgwan__V1__Invoice *one = s_of (r, 1);
    assert_string_equal (one->number, "INV-2026-000001");
    assert_string_equal (one->tariff_version, "FY2026");
    assert_string_equal (one->issuer_registration, ISSUER);
    assert_string_equal (one->addressee, "株式会社いちばん");
    assert_string_equal (one->issued_on, "2026-11-01");
    assert_string_equal (one->due_on, "2026-12-01");
    assert_int_equal (one->n_lines, 1);
    assert_string_equal (one->lines [0]->from_day, "2026-10-17");
    assert_string_equal (one->lines [0]->to_day, "2026-11-01");
    assert_int_equal (one->lines [0]->days, 15);
    assert_int_equal (one->lines [0]->month_days, 31);
    assert_int_equal (one->lines [0]->amount_yen, 15000);
    assert_int_equal (one->subtotal_yen, 15000);
    assert_int_equal (one->tax_yen, 1500);
    assert_int_equal (one->total_yen, 16500);
    //  100M at 20,000: 15 of 31 days -> 9,677 (9,677.41...), tax 967, total 10,644
    const Lgwan__V1__Invoice *two = s_of (r, 2);
    assert_string_equal (two->number, "INV-2026-000002");
    assert_int_equal (two->subtotal_yen, 9677);
    assert_int_equal (two->tax_yen, 967);
    assert_int_equal (two->total_yen, 10644);
    assert_int_equal (r->total_yen, 27144);
    //  Preview == run, line by line
    s_same (s_of (preview->invoice_run, 1), one);
    s_same (s_of (preview->invoice_run, 2), two);
    assert_int_equal (preview->invoice_run->total_yen, r->total_yen);
    assert_string_equal (s_of (preview->invoice_run, 1)->number, "");
    lgwan__v1__reply__free_unpacked (preview, NULL);

    //  Again: the same invoices, nothing created, no event
    lg_reply_t *again = s_run ("2026-10", false);
    rf_expect (again, RF_CODE (OK), NULL);
    assert_int_equal (again->invoice_run->created, 0);
    assert_int_equal (again->invoice_run->existing, 2);
    assert_string_equal (s_of (again->invoice_run, 1)->number, "INV-2026-000001");
    s_same (s_of (again->invoice_run, 1), one);
    s_same (s_of (again->invoice_run, 2), two);
    lgwan__v1__reply__free_unpacked (again, NULL);
    lgwan__v1__reply__free_unpacked (run, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices"), 2);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox WHERE body_case = 200"), 2);
    //  A provider reads its own invoices, not another's
    Lgwan__V1__InvoiceGet get = LGWAN__V1__INVOICE_GET__INIT;
    get.number = (char *) "INV-2026-000002";
    rf_refused (s_ask (&s_billing, "provider1", LGWAN__V1__REQUEST__BODY_INVOICE_GET, &get),
                RF_CODE (NOT_FOUND), "");
    rf_ok (s_ask (&s_billing, "provider2", LGWAN__V1__REQUEST__BODY_INVOICE_GET, &get));
    //  November is not over: previewed, not invoiced
    rf_refused (s_run ("2026-11", false), RF_CODE (FAILED_PRECONDITION), "R6.1");
    rf_ok (s_run ("2026-11", true));
    //  No tariff in force, a malformed period
    rf_refused (s_run ("2026-03", false), RF_CODE (FAILED_PRECONDITION), "R6.1");
    rf_refused (s_run ("2026-3", false), RF_CODE (INVALID_ARGUMENT), "R6.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices"), 2);
}

/* REQ R6.1: November from events: provider 1's connection cancelled
   effective 2026-11-05 bills 11-01 ... 11-04, 4 of 30 days -> 4,133;
   provider 2's class changed on 11-16 (two lines, one per class) and
   suspended 11-20 ... 11-24 at 50 % */
static void
test_r6_1_november_from_events (void **state)
{
    (void) state;
    rf_set_clock ("2026-11-02T01:00:00Z");
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    cancel.subject = (char *) "connection";
    cancel.id = s_conn1;
    cancel.cancel = true;
    cancel.effective_on = (char *) "2026-11-05";
    rf_ok (rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel));
    rf_set_clock ("2026-11-05T00:30:00Z");          //  09:30 on 11-05 in Tokyo
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 4 AND day = '2026-11-05'");

    rf_set_clock ("2026-11-16T02:00:00Z");
    s_bandwidth_changed (s_conn2, "1G", "増速");
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 2 AND day = '2026-11-16'");

    rf_set_clock ("2026-11-20T03:00:00Z");
    Lgwan__V1__Suspend suspend = LGWAN__V1__SUSPEND__INIT;
    suspend.provider = 2;
    suspend.remediation = (char *) "REM-1";
    rf_ok (s_ask (&s_isolation, "operator", LGWAN__V1__REQUEST__BODY_SUSPEND, &suspend));
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 3 AND value = 'suspended'"
                 " AND day = '2026-11-20'");
    rf_set_clock ("2026-11-25T03:00:00Z");
    Lgwan__V1__Lift lift = LGWAN__V1__LIFT__INIT;
    lift.connection = s_conn2;
    lift.cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_SUSPENSION;
    lift.saga = (char *) "SAGA-1";
    rf_ok (s_ask (&s_isolation, "service", LGWAN__V1__REQUEST__BODY_LIFT, &lift));
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 3 AND value = 'connected'"
                 " AND day = '2026-11-25'");

    rf_set_clock ("2026-12-01T01:00:00Z");
    lg_reply_t *preview = s_run ("2026-11", true);
    rf_expect (preview, RF_CODE (OK), NULL);
    lg_reply_t *reply = s_run ("2026-11", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *one = s_of (reply->invoice_run, 1);
    assert_string_equal (one->number, "INV-2026-000003");
    assert_int_equal (one->n_lines, 1);
    assert_string_equal (one->lines [0]->from_day, "2026-11-01");
    assert_string_equal (one->lines [0]->to_day, "2026-11-05");
    assert_int_equal (one->lines [0]->days, 4);
    assert_int_equal (one->lines [0]->amount_yen, 4133);
    assert_int_equal (one->tax_yen, 413);
    assert_int_equal (one->total_yen, 4546);
    const Lgwan__V1__Invoice *two = s_of (reply->invoice_run, 2);
    assert_string_equal (two->number, "INV-2026-000004");
    assert_int_equal (two->n_lines, 4);
    //  100M 11-01 ... 11-15: 20,000 * 15/30 = 10,000
    assert_string_equal (two->lines [0]->bandwidth_class, "100M");
    assert_int_equal (two->lines [0]->days, 15);
    assert_int_equal (two->lines [0]->amount_yen, 10000);
    //  1G 11-16 ... 11-19: 31,000 * 4/30 = 4,133
    assert_string_equal (two->lines [1]->bandwidth_class, "1G");
    assert_string_equal (two->lines [1]->from_day, "2026-11-16");
    assert_int_equal (two->lines [1]->amount_yen, 4133);
    //  1G suspended 11-20 ... 11-24 at 50 %: 2,583 (2,583.33)
    assert_string_equal (two->lines [2]->state, "suspended");
    assert_int_equal (two->lines [2]->days, 5);
    assert_int_equal (two->lines [2]->charge_percent, 50);
    assert_int_equal (two->lines [2]->amount_yen, 2583);
    //  1G 11-25 ... 11-30: 6,200
    assert_int_equal (two->lines [3]->days, 6);
    assert_int_equal (two->lines [3]->amount_yen, 6200);
    assert_int_equal (two->subtotal_yen, 22916);
    assert_int_equal (two->tax_yen, 2291);
    assert_int_equal (two->total_yen, 25207);
    s_same (s_of (preview->invoice_run, 2), two);
    lgwan__v1__reply__free_unpacked (preview, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  Nothing is billed to provider 1 in December
    rf_set_clock ("2027-01-01T01:00:00Z");
    reply = s_run ("2026-12", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 1);
    assert_int_equal (reply->invoice_run->invoices [0]->provider, 2);
    assert_string_equal (reply->invoice_run->invoices [0]->number, "INV-2026-000005");
    //  1G all month: 31,000, tax 3,100
    assert_int_equal (reply->invoice_run->invoices [0]->total_yen, 34100);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R6.1: a run killed in the middle (fault point) and repeated: no
   duplicate invoice, no gap in the numbers */
static void
test_r6_1_run_killed_midway (void **state)
{
    (void) state;
    rf_set_clock ("2027-02-01T01:00:00Z");
    assert_int_equal (lg_test_proc_stop (&s_billing, SIGTERM), 0);
    s_start_billing ("billing_run_before_commit");
    long events = rf_sqlf_long ("SELECT count(*) FROM billing.outbox");
    Lgwan__V1__InvoiceRun run = LGWAN__V1__INVOICE_RUN__INIT;
    run.period = (char *) "2027-01";
    lg_reply_t *reply = s_call (&s_billing, "billing", INVOICE_RUN, &run, 3000);
    assert_null (reply);
    assert_int_equal (lg_test_proc_stop (&s_billing, 0), 99);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE period = '2027-01'"), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox"), events);
    s_start_billing (NULL);
    reply = s_run ("2027-01", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 1);
    assert_string_equal (reply->invoice_run->invoices [0]->number, "INV-2026-000006");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE fiscal_year = 2026"), 6);
    assert_int_equal (rf_sqlf_long ("SELECT max(seq) FROM billing.invoices WHERE fiscal_year = 2026"), 6);
}

/* REQ R6.1: invoices of March 2027 and April 2027 fall in different
   fiscal-year sequences, each gap-free; April names the next tariff version
   and bills its service fee */
static void
test_r6_1_fiscal_years (void **state)
{
    (void) state;
    rf_set_clock ("2027-03-01T01:00:00Z");
    rf_ok (s_run ("2027-02", false));
    rf_set_clock ("2027-04-01T01:00:00Z");
    lg_reply_t *reply = s_run ("2027-03", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->invoice_run->invoices [0]->number, "INV-2026-000008");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_set_clock ("2027-05-01T01:00:00Z");
    reply = s_run ("2027-04", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    //  Provider 1's service is still registered: 3,000, tax 300
    const Lgwan__V1__Invoice *service_only = s_of (reply->invoice_run, 1);
    assert_string_equal (service_only->number, "INV-2027-000001");
    assert_int_equal (service_only->n_lines, 1);
    assert_int_equal (service_only->total_yen, 3300);
    const Lgwan__V1__Invoice *april = s_of (reply->invoice_run, 2);
    assert_string_equal (april->number, "INV-2027-000002");
    assert_int_equal (april->fiscal_year, 2027);
    assert_string_equal (april->tariff_version, "FY2027");
    //  1G 31,000 and the service 3,000: 34,000, tax 3,400, total 37,400
    assert_int_equal (april->n_lines, 2);
    assert_string_equal (april->lines [1]->kind, "service");
    assert_int_equal (april->subtotal_yen, 34000);
    assert_int_equal (april->total_yen, 37400);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    for (int fy = 2026; fy <= 2027; fy++)
        assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE fiscal_year = %d", fy),
                          rf_sqlf_long ("SELECT max(seq) FROM billing.invoices WHERE fiscal_year = %d", fy));
}

/* REQ R6.1: corrections are credit notes, never edits; payments are
   recorded by the billing role only; the overdue list */
static void
test_r6_1_credit_notes_payments_overdue (void **state)
{
    (void) state;
    Lgwan__V1__CreditNoteIssue credit = LGWAN__V1__CREDIT_NOTE_ISSUE__INIT;
    credit.invoice = (char *) "INV-2026-000001";
    credit.amount_yen = 1000;
    credit.reason = (char *) "回線障害の減額";
    lg_reply_t *reply = s_ask (&s_billing, "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE,
                               &credit);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->credit_note->credit_note->number, "CN-2027-000001");
    assert_int_equal (reply->credit_note->credit_note->tax_yen, 100);
    assert_int_equal (reply->credit_note->credit_note->total_yen, 1100);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    credit.amount_yen = 14001;                      //  15,000 - 1,000 is left
    rf_refused (s_ask (&s_billing, "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit),
                RF_CODE (FAILED_PRECONDITION), "R6.1");
    rf_refused (s_ask (&s_billing, "provider1", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit),
                RF_CODE (PERMISSION_DENIED), "X.3");
    //  The invoice itself is as issued, and cannot be edited even by hand
    assert_int_equal (rf_sqlf_long ("SELECT total_yen FROM billing.invoices WHERE number ="
                               " 'INV-2026-000001'"), 16500);
    PGconn *conn = PQconnectdb (rf.admin);
    PGresult *res = PQexec (conn, "UPDATE billing.invoices SET total_yen = 1");
    assert_int_equal (PQresultStatus (res), PGRES_FATAL_ERROR);
    assert_non_null (strstr (PQresultErrorMessage (res), "R6.1"));
    PQclear (res);
    res = PQexec (conn, "DELETE FROM billing.invoice_lines");
    assert_int_equal (PQresultStatus (res), PGRES_FATAL_ERROR);
    PQclear (res);
    PQfinish (conn);

    Lgwan__V1__PaymentRecord pay = LGWAN__V1__PAYMENT_RECORD__INIT;
    pay.invoice = (char *) "INV-2026-000001";
    pay.amount_yen = 10000;
    pay.paid_on = (char *) "2026-11-20";
    const char *others [] = { "operator", "provider1", "viewer", "service" };
    for (size_t i = 0; i < 4; i++)
        rf_refused (s_ask (&s_billing, others [i], LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay),
                    RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.payments"), 0);
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay);
    rf_expect (reply, RF_CODE (OK), NULL);
    //  16,500 - 1,100 credited - 10,000 paid
    assert_int_equal (reply->payment->invoice->outstanding_yen, 5400);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    pay.amount_yen = 5401;
    rf_refused (s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay),
                RF_CODE (FAILED_PRECONDITION), "R6.1");
    pay.amount_yen = 0;
    rf_refused (s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay),
                RF_CODE (INVALID_ARGUMENT), "R6.1");
    //  Pay provider 1's November invoice in full: it is not overdue
    pay.invoice = (char *) "INV-2026-000003";
    pay.amount_yen = 4546;
    pay.paid_on = (char *) "2026-12-10";            //  issued 2026-12-01
    rf_ok (s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay));
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.payments"), 2);

    Lgwan__V1__OverdueList overdue = LGWAN__V1__OVERDUE_LIST__INIT;
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_OVERDUE_LIST, &overdue);
    rf_expect (reply, RF_CODE (OK), NULL);
    //  On 2027-05-01 everything up to the March invoice is due; 000003 is paid
    bool seen_one = false;
    for (size_t i = 0; i < reply->invoice_list->n_invoices; i++) {
        const Lgwan__V1__Invoice *invoice = reply->invoice_list->invoices [i];
        assert_string_not_equal (invoice->number, "INV-2026-000003");
        assert_string_not_equal (invoice->number, "INV-2027-000001");
        if (streq (invoice->number, "INV-2026-000001")) {
            seen_one = true;
            assert_int_equal (invoice->outstanding_yen, 5400);
        }
    }
    assert_true (seen_one);
    assert_int_equal (reply->invoice_list->n_invoices, 6);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox WHERE body_case = 201"), 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox WHERE body_case = 202"), 2);
}

/* REQ R6.1: the CSV export of a period has stable columns */
static void
test_r6_1_csv_export (void **state)
{
    (void) state;
    Lgwan__V1__BillingExport e = LGWAN__V1__BILLING_EXPORT__INIT;
    e.period = (char *) "2026-11";
    e.limit = 3;
    lg_reply_t *reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_BILLING_EXPORT, &e);
    rf_expect (reply, RF_CODE (OK), NULL);
    const char *csv = reply->billing_export->csv;
    const char *header =
        "invoice_number,fiscal_year,period,provider,addressee,issued_on,due_on,tariff_version,"
        "issuer_registration,line_no,kind,subject,bandwidth_class,state,from_day,to_day,days,"
        "month_days,monthly_yen,charge_percent,amount_yen,tax_rate_percent,invoice_subtotal_yen,"
        "invoice_tax_yen,invoice_total_yen\r\n";
    assert_memory_equal (csv, header, strlen (header));
    char *first = zsys_sprintf ("INV-2026-000003,2026,2026-11,1,株式会社いちばん,2026-12-01,"
                                "2026-12-31,FY2026," ISSUER ",1,connection,%" PRIu64 ",1G,"
                                "connected,2026-11-01,2026-11-05,4,30,31000,100,4133,10,4133,413,"
                                "4546\r\n", s_conn1);
    assert_memory_equal (csv + strlen (header), first, strlen (first));
    zstr_free (&first);
    assert_int_equal (reply->billing_export->lines, 3);
    assert_int_equal (reply->billing_export->next_offset, 3);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    e.offset = 3;
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_BILLING_EXPORT, &e);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->billing_export->lines, 2);
    assert_int_equal (reply->billing_export->next_offset, 0);
    assert_ptr_equal (strstr (reply->billing_export->csv, "invoice_number"), NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  The same through lgwanctl: five lines and the header
    lg_test_proc_export (&s_billing);
    char *out = lg_test_sh_output ("LGWANCTL_CERT=%s/clients/billing_secret LG_CERT_DIR=%s"
                                   " %s/tools/lgwanctl/lgwanctl invoice export --period 2026-11"
                                   " | wc -l", rf.certs, rf.certs, getenv ("LG_BUILD_DIR"));
    assert_int_equal (atoi (out), 6);
    zstr_free (&out);
    //  An invoice for people, and a payment refused to an operator
    out = lg_test_sh_output ("LGWANCTL_CERT=%s/clients/viewer_secret LG_CERT_DIR=%s"
                             " %s/tools/lgwanctl/lgwanctl invoice show --number INV-2026-000001"
                             " 2>&1; echo rc=$?", rf.certs, rf.certs, getenv ("LG_BUILD_DIR"));
    if (!strstr (out, "INV-2026-000001") || !strstr (out, "16500") || !strstr (out, "CN-2027-000001")
    ||  !strstr (out, "rc=0"))
        fail_msg ("lgwanctl invoice show: %s", out);
    zstr_free (&out);
    out = lg_test_sh_output ("LGWANCTL_CERT=%s/clients/operator_secret LG_CERT_DIR=%s"
                             " %s/tools/lgwanctl/lgwanctl payment record --invoice INV-2026-000002"
                             " --amount-yen 100 2>&1; echo rc=$?", rf.certs, rf.certs,
                             getenv ("LG_BUILD_DIR"));
    if (!strstr (out, "PERMISSION_DENIED") || !strstr (out, "rc=1"))
        fail_msg ("lgwanctl payment record as operator: %s", out);
    zstr_free (&out);
}

/* REQ R6.1, X.1: billing systems follow InvoiceIssued (every line),
   CreditNoteIssued and PaymentRecorded with replay from any seq */
static void
test_r6_1_replay_events (void **state)
{
    (void) state;
    Lgwan__V1__Replay replay = LGWAN__V1__REPLAY__INIT;
    replay.from_seq = 3;
    replay.limit = 2;
    lg_reply_t *reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_REPLAY, &replay);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->replay->n_events, 2);
    lg_event_t *event = lgwan__v1__event__unpack (NULL, reply->replay->events [0].len,
                                                  reply->replay->events [0].data);
    assert_non_null (event);
    assert_int_equal (event->seq, 3);
    assert_int_equal (event->body_case, LGWAN__V1__EVENT__BODY_INVOICE_ISSUED);
    const Lgwan__V1__Invoice *invoice = event->invoice_issued->invoice;
    assert_string_equal (invoice->number, "INV-2026-000003");
    assert_int_equal (invoice->n_lines, 1);
    assert_int_equal (invoice->lines [0]->amount_yen, 4133);
    assert_int_equal (invoice->total_yen, 4546);
    lgwan__v1__event__free_unpacked (event, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_ask (&s_billing, "provider1", LGWAN__V1__REQUEST__BODY_REPLAY, &replay),
                RF_CODE (PERMISSION_DENIED), "X.3");
    //  REQ X.1: the chain of a run's events, appended together, is intact
    lg_test_proc_export (&s_billing);
    char *out = lg_test_sh_output ("LGWANCTL_CERT=%s/clients/viewer_secret LG_CERT_DIR=%s"
                                   " %s/tools/lgwanctl/lgwanctl verify --service billing; echo rc=$?",
                                   rf.certs, rf.certs, getenv ("LG_BUILD_DIR"));
    if (!strstr (out, "intact") || !strstr (out, "rc=0"))
        fail_msg ("lgwanctl verify: %s", out);
    zstr_free (&out);
}

/* REQ R6.1: invoices are listed page by page in the order of their
   numbers, all of them, one provider's or the overdue ones; none is left
   out (both lists stopped silently at 200) */

//  Every page of InvoiceList (overdue: OverdueList) of provider (0: all),
//  limit at a time; how many were listed
static long
s_invoice_pages (bool overdue, uint64_t provider, uint32_t limit)
{
    char after [40] = "", last [40] = "";
    long listed = 0;
    for (int pages = 0; pages < 1000; pages++) {
        Lgwan__V1__InvoiceList all = LGWAN__V1__INVOICE_LIST__INIT;
        Lgwan__V1__OverdueList due = LGWAN__V1__OVERDUE_LIST__INIT;
        all.provider = provider;
        all.limit = due.limit = limit;
        all.after_number = due.after_number = after;
        lg_reply_t *reply = overdue
            ? s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_OVERDUE_LIST, &due)
            : s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_INVOICE_LIST, &all);
        rf_expect (reply, RF_CODE (OK), NULL);
        const Lgwan__V1__InvoiceListReply *page = reply->invoice_list;
        assert_true (page->n_invoices <= (limit? limit: 200));
        for (size_t i = 0; i < page->n_invoices; i++) {
            //  INV-YYYY-NNNNNN: text order is the order they were issued in
            assert_true (strcmp (page->invoices [i]->number, last) > 0);
            snprintf (last, sizeof last, "%s", page->invoices [i]->number);
            if (provider)
                assert_int_equal (page->invoices [i]->provider, provider);
        }
        listed += (long) page->n_invoices;
        snprintf (after, sizeof after, "%s", page->next_after_number);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        if (!*after)
            return listed;
        assert_string_equal (after, last);      //  more: from this page's last
    }
    fail_msg ("the invoice list never said there was no more");
    return -1;
}

static void
test_r6_1_invoice_lists_page (void **state)
{
    (void) state;
    long total = rf_sqlf_long ("SELECT count(*) FROM billing.invoices");
    assert_true (total >= 3);
    assert_int_equal (s_invoice_pages (false, 0, 2), total);
    assert_int_equal (s_invoice_pages (false, 0, 0), total);  //  the default page
    assert_int_equal (s_invoice_pages (false, 1, 1),
                      rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE provider_id = 1"));
    assert_int_equal (s_invoice_pages (true, 0, 4), 6);       //  as the overdue test found

    //  A page over 200, or an after_number that is no invoice number: refused
    Lgwan__V1__InvoiceList q = LGWAN__V1__INVOICE_LIST__INIT;
    q.limit = 201;
    lg_reply_t *reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_INVOICE_LIST, &q);
    assert_non_null (strstr (reply->status->message, "at most 200"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
    q.limit = 0;
    q.after_number = (char *) "INV-2026-000001' OR '1' = '1'; DROP TABLE invoices; --";
    rf_refused (s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_INVOICE_LIST, &q),
                RF_CODE (INVALID_ARGUMENT), "R6.1");
    //  A number that is no invoice: NOT_FOUND, not an empty page that reads
    //  as the end of the list (it was answered so)
    q.after_number = (char *) "INV-9999-999999";
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_INVOICE_LIST, &q);
    assert_non_null (strstr (reply->status->message, "INV-9999-999999"));
    rf_refused (reply, RF_CODE (NOT_FOUND), "");
    Lgwan__V1__OverdueList o = LGWAN__V1__OVERDUE_LIST__INIT;
    o.after_number = (char *) "INV-2026-999999";
    rf_refused (s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_OVERDUE_LIST, &o),
                RF_CODE (NOT_FOUND), "");
    //  Another provider's invoice is as none to a provider (R6.1)
    char *other = rf_sql_text ("SELECT min (number) FROM billing.invoices WHERE provider_id <> 1");
    assert_non_null (other);
    q.after_number = other;
    rf_refused (s_ask (&s_billing, "provider1", LGWAN__V1__REQUEST__BODY_INVOICE_LIST, &q),
                RF_CODE (NOT_FOUND), "");
    free (other);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices"), total);
}

//  Billing has applied every event the registry has published so far
static bool
s_registry_followed (void *arg)
{
    (void) arg;
    return rf_sql_long ("SELECT count(*) FROM billing.cursors WHERE source = 'registry'"
                        " AND last_seq >= (SELECT max(seq) FROM registry.outbox)") == 1;
}

static void
s_wait_registry_followed (void)
{
    if (!lg_test_wait_for (s_registry_followed, NULL, 15000))
        fail_msg ("billing did not catch up with the registry's events");
}

//  Whether OverdueList (one page: there are fewer than 200) names number
static bool
s_overdue (const char *number)
{
    Lgwan__V1__OverdueList overdue = LGWAN__V1__OVERDUE_LIST__INIT;
    lg_reply_t *reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_OVERDUE_LIST, &overdue);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (reply->invoice_list->next_after_number, "");
    bool found = false;
    for (size_t i = 0; i < reply->invoice_list->n_invoices; i++)
        found |= streq (reply->invoice_list->invoices [i]->number, number);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return found;
}

static const Lgwan__V1__InvoiceLine *
s_line_of (const Lgwan__V1__Invoice *invoice, const char *kind, uint64_t subject)
{
    for (size_t i = 0; i < invoice->n_lines; i++)
        if (streq (invoice->lines [i]->kind, kind) && invoice->lines [i]->subject == subject)
            return invoice->lines [i];
    fail_msg ("invoice of provider %" PRIu64 " has no %s line of %" PRIu64, invoice->provider,
              kind, subject);
    return NULL;
}

/* REQ R6.1: a credit note that brings what is left of an invoice before tax
   to zero takes exactly the tax left of it, so a fully credited invoice has
   nothing outstanding. Each credit note's tax on its own amount, rounded
   down, lost a yen: INV-2026-000002 (9,677 + tax 967) credited 9 (tax 0)
   then 9,668 (tax 966.8 -> 966) left 1 yen outstanding for ever, overdue,
   and a further credit was refused (0 left before tax) */
static void
test_r6_1_credit_note_settling_an_invoice_takes_its_remaining_tax (void **state)
{
    (void) state;
    const char *number = "INV-2026-000002";
    assert_true (s_overdue (number));
    Lgwan__V1__CreditNoteIssue credit = LGWAN__V1__CREDIT_NOTE_ISSUE__INIT;
    credit.invoice = (char *) number;
    credit.reason = (char *) "請求誤り";
    //  Part of it: tax on its own amount, rounded down (0.9 -> 0)
    credit.amount_yen = 9;
    lg_reply_t *reply = s_ask (&s_billing, "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE,
                               &credit);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->credit_note->credit_note->tax_yen, 0);
    assert_int_equal (reply->credit_note->credit_note->total_yen, 9);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  The rest: 9,668 and the 967 - 0 yen of tax left, not 966
    credit.amount_yen = 9668;
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->credit_note->credit_note->amount_yen, 9668);
    assert_int_equal (reply->credit_note->credit_note->tax_rate_percent, 10);
    assert_int_equal (reply->credit_note->credit_note->tax_yen, 967);
    assert_int_equal (reply->credit_note->credit_note->total_yen, 10635);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  Nothing outstanding, no longer overdue; the invoice is as issued
    Lgwan__V1__InvoiceGet get = LGWAN__V1__INVOICE_GET__INIT;
    get.number = (char *) number;
    reply = s_ask (&s_billing, "viewer", LGWAN__V1__REQUEST__BODY_INVOICE_GET, &get);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *invoice = reply->invoice->invoice;
    assert_int_equal (invoice->subtotal_yen, 9677);
    assert_int_equal (invoice->tax_yen, 967);
    assert_int_equal (invoice->total_yen, 10644);
    assert_int_equal (invoice->credited_yen, 10644);
    assert_int_equal (invoice->outstanding_yen, 0);
    assert_int_equal (reply->invoice->n_credit_notes, 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_false (s_overdue (number));
    assert_int_equal (rf_sqlf_long ("SELECT sum (tax_yen) FROM billing.credit_notes"
                                    " WHERE invoice = '%s'", number), 967);
    //  Nothing is left to credit
    long notes = rf_sqlf_long ("SELECT count(*) FROM billing.credit_notes");
    credit.amount_yen = 1;
    reply = s_ask (&s_billing, "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit);
    assert_non_null (strstr (reply->status->message, "(0 yen before tax)"));
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R6.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.credit_notes"), notes);
    //  Billing systems get the credit note as issued
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox WHERE body_case = 201"), 3);
}

/* REQ R6.1: an approved name change (ProviderChanged) is the addressee of
   the invoices issued after it; an invoice already issued keeps the name it
   was issued with (billing followed ProviderApplied only: every invoice
   said the name the provider applied with, before the change and after) */
static void
test_r6_1_name_change_reaches_later_invoices (void **state)
{
    (void) state;
    rf_set_clock ("2027-05-10T01:00:00Z");
    Lgwan__V1__ProviderPatch rename = LGWAN__V1__PROVIDER_PATCH__INIT;
    rename.name_ja = (char *) "株式会社にばんホールディングス";
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.subject = (char *) "provider";
    change.id = 2;
    change.provider = &rename;
    s_change_approved (&change, "商号変更の登記を確認");
    s_wait_registry_followed ();

    rf_set_clock ("2027-06-01T01:00:00Z");
    lg_reply_t *reply = s_run ("2027-05", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *may = s_of (reply->invoice_run, 2);
    assert_string_equal (may->addressee, "株式会社にばんホールディングス");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  Those issued before keep their name
    const char *before [] = { "INV-2026-000002", "INV-2027-000002" };
    for (size_t i = 0; i < 2; i++) {
        Lgwan__V1__InvoiceGet get = LGWAN__V1__INVOICE_GET__INIT;
        get.number = (char *) before [i];
        reply = s_ask (&s_billing, "provider2", LGWAN__V1__REQUEST__BODY_INVOICE_GET, &get);
        rf_expect (reply, RF_CODE (OK), NULL);
        assert_int_equal (reply->invoice->invoice->provider, 2);
        assert_string_equal (reply->invoice->invoice->addressee, "株式会社にばん");
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE provider_id = 2"
                                    " AND addressee = '株式会社にばん'"),
                      rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE provider_id = 2"
                                    " AND period < '2027-05'"));
}

/* REQ R6.1: a hosting transfer moves the service fee from the day it takes
   effect (JST): the old hosting provider pays the days before it, the new
   one the days from it, each prorated like a connection. Service 1 moves
   from provider 1 to provider 2 on 2027-07-11: 3,000 * 10/31 -> 967 to
   provider 1, 3,000 * 21/31 -> 2,032 to provider 2 (it was 3,000 to
   provider 1 and nothing to provider 2) */
static void
test_r6_1_hosting_transfer_moves_the_service_fee (void **state)
{
    (void) state;
    rf_set_clock ("2027-07-11T01:00:00Z");          //  10:00 on 07-11 in Tokyo
    rf_holders_t h;
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.subject = (char *) "service";
    change.id = s_service1;
    change.service = rf_holders_patch (&h, 1, 2);
    s_change_approved (&change, "ホスティング事業者の変更");
    //  A title change re-announces the same holders: nothing moves
    rf_set_clock ("2027-07-20T01:00:00Z");
    Lgwan__V1__ServicePatch title = LGWAN__V1__SERVICE_PATCH__INIT;
    title.title_ja = (char *) "電子申請サービス（移管後）";
    change.kind = LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    change.service = &title;
    rf_ok (rf_ask ("operator", RF_BODY (CHANGE_FILE), &change));
    s_wait_registry_followed ();

    rf_set_clock ("2027-08-01T01:00:00Z");
    lg_reply_t *preview = s_run ("2027-07", true);
    rf_expect (preview, RF_CODE (OK), NULL);
    lg_reply_t *reply = s_run ("2027-07", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 2);
    //  Provider 1: service 1 from 07-01 to 07-10
    const Lgwan__V1__Invoice *one = s_of (reply->invoice_run, 1);
    assert_int_equal (one->n_lines, 1);
    const Lgwan__V1__InvoiceLine *line = s_line_of (one, "service", s_service1);
    assert_string_equal (line->from_day, "2027-07-01");
    assert_string_equal (line->to_day, "2027-07-11");
    assert_int_equal (line->days, 10);
    assert_int_equal (line->month_days, 31);
    assert_int_equal (line->amount_yen, 967);
    assert_int_equal (one->subtotal_yen, 967);
    assert_int_equal (one->tax_yen, 96);
    assert_int_equal (one->total_yen, 1063);
    //  Provider 2: its 1G connection, its own service, service 1 from 07-11
    const Lgwan__V1__Invoice *two = s_of (reply->invoice_run, 2);
    assert_int_equal (two->n_lines, 3);
    assert_int_equal (s_line_of (two, "connection", s_conn2)->amount_yen, 31000);
    assert_int_equal (s_line_of (two, "service", s_service2)->amount_yen, 3000);
    line = s_line_of (two, "service", s_service1);
    assert_string_equal (line->from_day, "2027-07-11");
    assert_string_equal (line->to_day, "2027-08-01");
    assert_int_equal (line->days, 21);
    assert_int_equal (line->amount_yen, 2032);
    assert_int_equal (two->subtotal_yen, 36032);
    assert_int_equal (two->tax_yen, 3603);
    assert_int_equal (two->total_yen, 39635);
    s_same (s_of (preview->invoice_run, 1), one);
    s_same (s_of (preview->invoice_run, 2), two);
    lgwan__v1__reply__free_unpacked (preview, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  August: service 1 is provider 2's all month
    reply = s_run ("2027-08", true);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (s_line_of (s_of (reply->invoice_run, 2), "service", s_service1)->amount_yen,
                      3000);
    for (size_t i = 0; i < reply->invoice_run->n_invoices; i++)
        assert_int_not_equal (reply->invoice_run->invoices [i]->provider, 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  ---------------------------------------------------------------------------
//  Two requests against one invoice at once

typedef struct {
    const char *who;
    unsigned body_case;
    void *body;
    lg_reply_t *reply;          //  NULL: no answer
} s_call_t;

static void *
s_call_thread (void *arg)
{
    s_call_t *call = (s_call_t *) arg;
    call->reply = s_call (&s_billing, call->who, call->body_case, call->body, 20000);
    return NULL;
}

//  A session of its own in a transaction that ran sql (a lock taken by
//  hand); the caller commits and finishes it
static PGconn *
s_holder_begin (const char *sql)
{
    PGconn *holder = PQconnectdb (rf.admin);
    assert_int_equal (PQstatus (holder), CONNECTION_OK);
    PQclear (PQexec (holder, "BEGIN"));
    PGresult *res = PQexec (holder, sql);
    if (PQresultStatus (res) != PGRES_COMMAND_OK && PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    PQclear (res);
    return holder;
}

//  Both calls sent while the invoice's row is held FOR UPDATE by hand, so
//  that both wait for it; let go once both wait (well within the 2 s a
//  worker waits for a lock, lg_db.h note 2a)
static void
s_both_at_once (const char *number, s_call_t *a, s_call_t *b)
{
    PGconn *hold = PQconnectdb (rf.admin);
    assert_int_equal (PQstatus (hold), CONNECTION_OK);
    PQclear (PQexec (hold, "BEGIN"));
    const char *params [] = { number };
    PGresult *res = PQexecParams (hold, "SELECT 1 FROM billing.invoices WHERE number = $1"
                                  " FOR UPDATE", 1, NULL, params, NULL, NULL, 0);
    assert_int_equal (PQntuples (res), 1);
    PQclear (res);
    pthread_t ta, tb;
    assert_int_equal (pthread_create (&ta, NULL, s_call_thread, a), 0);
    assert_int_equal (pthread_create (&tb, NULL, s_call_thread, b), 0);
    bool waiting = lg_test_wait_lock_waiters (rf.admin, "billing", 2, 1500) >= 2;
    PQclear (PQexec (hold, "COMMIT"));
    PQfinish (hold);
    pthread_join (ta, NULL);
    pthread_join (tb, NULL);
    assert_true (waiting);
    assert_non_null (a->reply);
    assert_non_null (b->reply);
}

//  Of two replies, the one that is OK; the other must be refused as code
//  with R6.1 and a message saying what
static lg_reply_t *
s_one_ok (s_call_t *a, s_call_t *b, const char *what)
{
    bool a_ok = a->reply->status->code == RF_CODE (OK);
    lg_reply_t *ok = a_ok? a->reply: b->reply;
    lg_reply_t *refused = a_ok? b->reply: a->reply;
    rf_expect (ok, RF_CODE (OK), NULL);
    if (!strstr (refused->status->message, what))
        fail_msg ("refusal \"%s\" does not say \"%s\"", refused->status->message, what);
    rf_refused (refused, RF_CODE (FAILED_PRECONDITION), "R6.1");
    return ok;
}

/* REQ R6.1: two credit notes of all that is left of an invoice, at once:
   one is issued, the other is refused, and the invoice is credited once.
   Both were issued (each read what was credited before it waited for the
   invoice's lock): INV credited twice its total, outstanding negative */
static void
test_r6_1_credit_notes_at_once_credit_an_invoice_once (void **state)
{
    (void) state;
    char *number = rf_sql_text ("SELECT number FROM billing.invoices WHERE period = '2027-07'"
                                " AND provider_id = 2");
    assert_non_null (number);
    long subtotal = rf_sqlf_long ("SELECT subtotal_yen FROM billing.invoices WHERE number = '%s'",
                                  number);
    long notes = rf_sqlf_long ("SELECT count(*) FROM billing.credit_notes");
    Lgwan__V1__CreditNoteIssue credit = LGWAN__V1__CREDIT_NOTE_ISSUE__INIT;
    credit.invoice = number;
    credit.amount_yen = subtotal;
    credit.reason = (char *) "二重請求";
    s_call_t a = { "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit, NULL };
    s_call_t b = { "billing", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit, NULL };
    s_both_at_once (number, &a, &b);
    lg_reply_t *ok = s_one_ok (&a, &b, "more than is left of invoice");
    assert_int_equal (ok->credit_note->credit_note->amount_yen, subtotal);
    lgwan__v1__reply__free_unpacked (ok, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.credit_notes"), notes + 1);
    assert_int_equal (rf_sqlf_long ("SELECT sum (total_yen) FROM billing.credit_notes"
                                    " WHERE invoice = '%s'", number),
                      rf_sqlf_long ("SELECT total_yen FROM billing.invoices WHERE number = '%s'",
                                    number));
    free (number);
}

/* REQ R6.1: two payments of all that is outstanding, at once: one is
   recorded, the other refused; nothing is paid twice */
static void
test_r6_1_payments_at_once_pay_an_invoice_once (void **state)
{
    (void) state;
    char *number = rf_sql_text ("SELECT number FROM billing.invoices WHERE period = '2027-07'"
                                " AND provider_id = 1");
    assert_non_null (number);
    long total = rf_sqlf_long ("SELECT total_yen FROM billing.invoices WHERE number = '%s'", number);
    long payments = rf_sqlf_long ("SELECT count(*) FROM billing.payments");
    Lgwan__V1__PaymentRecord pay = LGWAN__V1__PAYMENT_RECORD__INIT;
    pay.invoice = number;
    pay.amount_yen = total;
    s_call_t a = { "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay, NULL };
    s_call_t b = { "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay, NULL };
    s_both_at_once (number, &a, &b);
    lg_reply_t *ok = s_one_ok (&a, &b, "more than invoice");
    assert_int_equal (ok->payment->invoice->outstanding_yen, 0);
    lgwan__v1__reply__free_unpacked (ok, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.payments"), payments + 1);
    free (number);
}

//  ---------------------------------------------------------------------------
//  A bandwidth class the tariff does not price

//  FY2027 as s_tariff loads it, with TO after its effective_from (e.g.
//  ", \"effective_to\": \"2028-04-01\"") and more connection fees in FEES
#define FY2027(TO, FEES) \
    "{\"version\": \"FY2027\", \"effective_from\": \"2027-04-01\"" TO "," \
    " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000}," \
    "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000}" FEES "]," \
    " \"service_monthly_yen\": 3000, \"suspended\": \"full\", \"disconnected\": \"none\"," \
    " \"one_off_fees\": [{\"name\": \"開通手数料\", \"on\": \"activation\", \"yen\": 10000}]," \
    " \"tax_rate_percent\": 10}"
#define PRICE_10G ", {\"bandwidth_class\": \"10G\", \"monthly_yen\": 90000}"

static uint64_t s_service3;             //  hosted by provider 1 from 2027-08-03
static uint64_t s_conn3;                //  provider 2, 10G from 2027-08-03

/* REQ R6.1: a connection of a bandwidth class the tariff does not price
   (the registry takes any class) keeps its own provider's invoice back, not
   the month's: the run invoices every other provider and names the one it
   could not, and why, in its reply and the log. It refused the whole run:
   'connection 3 has bandwidth class "10G", which tariff FY2027 does not
   price', no provider invoiced */
static void
test_r6_1_unpriced_class_holds_back_its_provider_only (void **state)
{
    (void) state;
    rf_set_clock ("2027-08-03T01:00:00Z");
    s_service3 = rf_registered_service (1, 1);
    s_conn3 = s_connection (s_service2, "provider2", "10G");
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 1 AND value = '10G'");
    rf_wait_sql (1, "SELECT count(*) FROM billing.services WHERE id = %" PRIu64, s_service3);
    rf_set_clock ("2027-09-01T01:00:00Z");
    char *why = zsys_sprintf ("connection %" PRIu64 " has bandwidth class \"10G\", which tariff"
                              " FY2027 does not price", s_conn3);
    for (int preview = 1; preview >= 0; preview--) {
        lg_reply_t *reply = s_run ("2027-08", preview);
        rf_expect (reply, RF_CODE (OK), NULL);
        const Lgwan__V1__InvoiceRunReply *r = reply->invoice_run;
        assert_int_equal (r->created, 1);
        assert_int_equal (r->n_invoices, 1);
        assert_int_equal (r->invoices [0]->provider, 1);
        //  Service 3, 2027-08-03 ... 08-31: 3,000 * 29/31 = 2,806
        assert_int_equal (s_line_of (r->invoices [0], "service", s_service3)->amount_yen, 2806);
        assert_int_equal (r->n_not_invoiced, 1);
        assert_int_equal (r->not_invoiced [0]->provider, 2);
        assert_string_equal (r->not_invoiced [0]->why, why);
        assert_non_null (strstr (reply->status->detail, "provider 2"));
        assert_non_null (strstr (reply->status->detail, why));
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.invoices WHERE period = '2027-08'"
                                   " AND provider_id = 1"), 1);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.invoices WHERE period = '2027-08'"
                                   " AND provider_id = 2"), 0);
    assert_true (lg_test_log_count (s_billing.pid, "invoice run 2027-08: 1 provider(s) not"
                                                   " invoiced") >= 1);
    assert_true (lg_test_log_count (s_billing.pid, why) >= 1);
    //  Again: nothing new, provider 2 still named
    lg_reply_t *reply = s_run ("2027-08", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 0);
    assert_int_equal (reply->invoice_run->existing, 1);
    assert_int_equal (reply->invoice_run->n_not_invoiced, 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    zstr_free (&why);
}

/* REQ R6.1: a loaded tariff version takes prices for classes it does not
   price yet (no invoice issued under it can change: a provider with such a
   connection was not invoiced), recorded with the body it replaced; it
   never changes a price or a date. The provider left out is invoiced by the
   next run. (Reloading the version with the price added was ALREADY_EXISTS
   and a new version overlapped it: no load could price the class) */
static void
test_r6_1_tariff_version_takes_prices_it_lacks (void **state)
{
    (void) state;
    //  A price changed alongside: refused whole, nothing loaded
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
                      "{\"version\": \"FY2027\", \"effective_from\": \"2027-04-01\","
                      " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 32000},"
                      "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000}" PRICE_10G "],"
                      " \"service_monthly_yen\": 3000, \"suspended\": \"full\","
                      " \"disconnected\": \"none\", \"one_off_fees\": [{\"name\": \"開通手数料\","
                      " \"on\": \"activation\", \"yen\": 10000}], \"tax_rate_percent\": 10}]}",
                      RF_CODE (ALREADY_EXISTS), "tariff FY2027 is loaded with other content");
    //  Another setting changed alongside, likewise
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
                      "{\"version\": \"FY2027\", \"effective_from\": \"2027-04-01\","
                      " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000},"
                      "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000}" PRICE_10G "],"
                      " \"service_monthly_yen\": 3000, \"suspended\": \"50%\","
                      " \"disconnected\": \"none\", \"one_off_fees\": [{\"name\": \"開通手数料\","
                      " \"on\": \"activation\", \"yen\": 10000}], \"tax_rate_percent\": 10}]}",
                      RF_CODE (ALREADY_EXISTS), "tariff FY2027 is loaded with other content");
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_amendments"), 0);
    char *before = rf_sql_text ("SELECT body::text FROM billing.tariff_versions"
                                " WHERE version = 'FY2027'");
    const char *document = "{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
                           FY2027 ("", PRICE_10G) "]}";
    lg_reply_t *reply = s_tariff_load ("operator", document);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 1);
    assert_int_equal (reply->tariff->n_bandwidth_classes, 3);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_amendments"
                                   " WHERE version = 'FY2027' AND what = 'prices added: 10G'"
                                   " AND amended_by = (SELECT loaded_by FROM"
                                   " billing.tariff_versions WHERE version = 'FY2027')"), 1);
    char *kept = rf_sql_text ("SELECT body_before::text FROM billing.tariff_amendments");
    assert_string_equal (kept, before);
    free (kept);
    free (before);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_versions"
                                   " WHERE version = 'FY2027' AND effective_to IS NULL"
                                   " AND body -> 'connection_fees' @> '[{\"bandwidth_class\":"
                                   " \"1G\"}]'"), 1);
    //  The same again: nothing
    reply = s_tariff_load ("operator", document);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_amendments"), 1);

    //  Provider 2 is invoiced now, its 10G connection with it
    reply = s_run ("2027-08", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 1);
    assert_int_equal (reply->invoice_run->n_not_invoiced, 0);
    const Lgwan__V1__Invoice *two = s_of (reply->invoice_run, 2);
    assert_string_equal (two->tariff_version, "FY2027");
    //  10G from 2027-08-03: 90,000 * 29/31 = 84,193 (84,193.5...)
    const Lgwan__V1__InvoiceLine *line = s_line_of (two, "connection", s_conn3);
    assert_string_equal (line->bandwidth_class, "10G");
    assert_int_equal (line->days, 29);
    assert_int_equal (line->amount_yen, 84193);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.invoices WHERE period = '2027-08'"),
                      2);
}

/* REQ R6.1: a new tariff version prices every bandwidth class declared,
   by its file or an earlier one, and is refused INVALID_ARGUMENT naming the
   class otherwise; nothing is loaded. A later file declaring fewer classes
   (here 100M and 1G, with 10G declared before) loaded a version that left
   10G out, and every provider with a 10G connection went uninvoiced for
   each month under it */
static void
test_r6_1_new_tariff_version_prices_every_declared_class (void **state)
{
    (void) state;
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": [{\"version\":"
                      " \"FY2025\", \"effective_from\": \"2025-04-01\", \"effective_to\":"
                      " \"2026-04-01\", " FEES ("31000", "20000") "}]}",
                      RF_CODE (INVALID_ARGUMENT), "tariff FY2025: bandwidth class \"10G\" has no"
                      " monthly fee");
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_versions"
                                   " WHERE version = 'FY2025'"), 0);
}

//  ---------------------------------------------------------------------------
//  Events billing has not applied when a month is invoiced

/* REQ R6.1: a run waits until billing has applied every event its sources
   reported, and is refused otherwise, naming the source and how far behind.
   Provider 2 suspended on 2027-09-10 while billing could not write its
   timeline (the table locked by hand): the run went ahead without the
   suspension, and the repeat and the next month never billed it */
static void
test_r6_1_run_waits_for_the_events_its_sources_reported (void **state)
{
    (void) state;
    rf_set_clock ("2027-09-10T03:00:00Z");
    PGconn *hold = s_holder_begin ("LOCK TABLE billing.timeline IN EXCLUSIVE MODE");
    Lgwan__V1__Suspend suspend = LGWAN__V1__SUSPEND__INIT;
    suspend.provider = 2;
    suspend.remediation = (char *) "REM-2";
    rf_ok (s_ask (&s_isolation, "operator", LGWAN__V1__REQUEST__BODY_SUSPEND, &suspend));
    rf_wait_sql (1, "SELECT count(*) FROM billing.cursors WHERE source = 'isolation'"
                 " AND reported_seq > last_seq");
    rf_set_clock ("2027-10-01T01:00:00Z");
    lg_reply_t *reply = s_run ("2027-09", false);
    long invoiced = rf_sql_long ("SELECT count(*) FROM billing.invoices WHERE period = '2027-09'");
    PQclear (PQexec (hold, "COMMIT"));         //  let go before anything may fail
    PQfinish (hold);
    if (!strstr (reply->status->message, "isolation: applied up to seq")
    ||  !strstr (reply->status->message, "behind"))
        fail_msg ("refusal \"%s\" does not say how far behind isolation", reply->status->message);
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R6.1");
    assert_int_equal (invoiced, 0);
    //  Caught up: the suspension is billed (FY2027 charges a suspended day
    //  in full, on a line of its own)
    rf_wait_sql (2, "SELECT count(*) FROM billing.timeline WHERE kind = 3 AND value = 'suspended'"
                 " AND day = '2027-09-10'");
    reply = s_run ("2027-09", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *two = s_of (reply->invoice_run, 2);
    bool suspended = false;
    for (size_t i = 0; i < two->n_lines; i++)
        suspended |= two->lines [i]->subject == s_conn2
                  && streq (two->lines [i]->state, "suspended")
                  && streq (two->lines [i]->from_day, "2027-09-10");
    assert_true (suspended);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R6.1: a change that lands in a period already invoiced is said in
   the log (the invoices stay as issued). Isolation lifts connection 2's
   suspension on 2027-10-05 while billing is down, then goes down itself:
   October is invoiced without the lift (billing applied all isolation had
   told it of), and when isolation is back the lift lands in October. It was
   applied without a word */
static void
test_r6_1_change_landing_in_an_invoiced_period_is_said (void **state)
{
    (void) state;
    assert_int_equal (lg_test_proc_stop (&s_billing, SIGTERM), 0);
    rf_set_clock ("2027-10-05T03:00:00Z");
    Lgwan__V1__Lift lift = LGWAN__V1__LIFT__INIT;
    lift.connection = s_conn2;
    lift.cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_SUSPENSION;
    lift.saga = (char *) "SAGA-2";
    rf_ok (s_ask (&s_isolation, "service", LGWAN__V1__REQUEST__BODY_LIFT, &lift));
    assert_int_equal (lg_test_proc_stop (&s_isolation, SIGTERM), 0);
    s_start_billing (NULL);
    rf_set_clock ("2027-11-01T01:00:00Z");
    rf_ok (s_run ("2027-10", false));
    assert_int_equal (lg_test_log_count (s_billing.pid, "lands in a period already invoiced"), 0);
    s_start_isolation ();
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 3 AND value = 'connected'"
                 " AND day = '2027-10-05'");
    char *said = zsys_sprintf ("connection %" PRIu64 " of provider 2 from 2027-10-05 (event"
                               " isolation/", s_conn2);
    assert_int_equal (lg_test_log_count (s_billing.pid, "lands in a period already invoiced"), 1);
    assert_int_equal (lg_test_log_count (s_billing.pid, said), 1);
    assert_int_equal (lg_test_log_count (s_billing.pid, "the invoices of provider 2 for 2027-10"),
                      1);
    zstr_free (&said);
}

/* REQ R6.1: a version loaded without an end takes one, once, on a month's
   first day after every period invoiced under it, so that the next version
   can follow (in the same file); its dates never change after that. FY2027
   was loaded open (as the README's example and the demo's file load theirs)
   and no later version could ever be loaded: it overlapped, and FY2027 with
   an end was ALREADY_EXISTS */
static void
test_r6_1_open_tariff_version_takes_an_end_once (void **state)
{
    (void) state;
    const char *fy2028 =
        "{\"version\": \"FY2028\", \"effective_from\": \"2028-04-01\","
        " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 33000},"
        "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 21000}" PRICE_10G "],"
        " \"service_monthly_yen\": 3000, \"suspended\": \"full\", \"disconnected\": \"none\","
        " \"tax_rate_percent\": 10}";
    //  Not within what it priced: October 2027 is invoiced under it
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
                      FY2027 (", \"effective_to\": \"2027-10-01\"", PRICE_10G) "]}",
                      RF_CODE (FAILED_PRECONDITION), "tariff FY2027 cannot end on 2027-10-01:"
                      " it priced the invoices of 2027-10");
    //  Nor with anything else changed
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\"], \"versions\": ["
                      FY2027 (", \"effective_to\": \"2028-04-01\"", "") "]}",
                      RF_CODE (ALREADY_EXISTS), "tariff FY2027 is loaded with other content");
    //  The next version alone still overlaps it
    char *document = zsys_sprintf ("{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"],"
                                   " \"versions\": [%s]}", fy2028);
    s_tariff_refused (document, RF_CODE (FAILED_PRECONDITION),
                      "tariff FY2028 overlaps version FY2027");
    zstr_free (&document);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_versions"
                                   " WHERE version = 'FY2027' AND effective_to IS NULL"), 1);
    long amendments = rf_sql_long ("SELECT count(*) FROM billing.tariff_amendments");

    //  The next version first in the file, FY2027 with its end after it
    document = zsys_sprintf ("{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"],"
                             " \"versions\": [%s, " FY2027 (", \"effective_to\":"
                             " \"2028-04-01\"", PRICE_10G) "]}", fy2028);
    lg_reply_t *reply = s_tariff_load ("operator", document);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_versions"
                                   " WHERE version = 'FY2027' AND effective_to = '2028-04-01'"
                                   " AND body ->> 'effective_to' = '2028-04-01'"), 1);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_versions"
                                   " WHERE version = 'FY2028' AND effective_to IS NULL"), 1);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_amendments"),
                      amendments + 1);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_amendments"
                                   " WHERE what = 'effective_to set to 2028-04-01'"
                                   " AND body_before ->> 'effective_to' IS NULL"), 1);
    //  The same file again: nothing
    reply = s_tariff_load ("operator", document);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    zstr_free (&document);
    //  Once: not moved, not opened again
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
                      FY2027 (", \"effective_to\": \"2028-05-01\"", PRICE_10G) "]}",
                      RF_CODE (ALREADY_EXISTS), "it ends on 2028-04-01");
    s_tariff_refused ("{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
                      FY2027 ("", PRICE_10G) "]}",
                      RF_CODE (ALREADY_EXISTS), "it ends on 2028-04-01");
    //  April 2028 is FY2028's
    rf_set_clock ("2028-04-10T01:00:00Z");
    reply = s_run ("2028-04", true);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_string_equal (s_of (reply->invoice_run, 2)->tariff_version, "FY2028");
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  May 2028's version, with TO after its effective_from
#define FY2028_05(TO) \
    "{\"version\": \"FY2028-05\", \"effective_from\": \"2028-05-01\"" TO "," \
    " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 33000}," \
    "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 21000}" PRICE_10G "]," \
    " \"service_monthly_yen\": 3000, \"suspended\": \"full\", \"disconnected\": \"none\"," \
    " \"one_off_fees\": [{\"name\": \"再接続手数料\", \"on\": \"reconnection\", \"yen\": 1000}]," \
    " \"tax_rate_percent\": 10}"

/* REQ R6.1: every one-off fee a connection triggers in a month is billed,
   however many. Provider 2 is suspended and reconnected nine times in May
   2028 under a version with a reconnection fee: nine fees a connection.
   More than eight of one kind were dropped, all of them, without a word */
static void
test_r6_1_every_one_off_fee_of_a_month_is_billed (void **state)
{
    (void) state;
    //  Connection 3 is still suspended (since 2027-09-10)
    Lgwan__V1__Lift lift = LGWAN__V1__LIFT__INIT;
    lift.cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_SUSPENSION;
    lift.connection = s_conn3;
    lift.saga = (char *) "SAGA-3";
    rf_ok (s_ask (&s_isolation, "service", LGWAN__V1__REQUEST__BODY_LIFT, &lift));
    //  FY2028 ends with April; May's version charges 1,000 a reconnection
    lg_reply_t *reply = s_tariff_load ("operator",
        "{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
        "{\"version\": \"FY2028\", \"effective_from\": \"2028-04-01\","
        " \"effective_to\": \"2028-05-01\","
        " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 33000},"
        "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 21000}" PRICE_10G "],"
        " \"service_monthly_yen\": 3000, \"suspended\": \"full\", \"disconnected\": \"none\","
        " \"tax_rate_percent\": 10},"
        FY2028_05 ("") "]}");
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    for (int i = 0; i < 9; i++) {
        char *at = zsys_sprintf ("2028-05-%02dT03:00:00Z", 2 + 2 * i);
        rf_set_clock (at);
        zstr_free (&at);
        char *remediation = zsys_sprintf ("REM-R%d", i);
        Lgwan__V1__Suspend suspend = LGWAN__V1__SUSPEND__INIT;
        suspend.provider = 2;
        suspend.remediation = remediation;
        rf_ok (s_ask (&s_isolation, "operator", LGWAN__V1__REQUEST__BODY_SUSPEND, &suspend));
        zstr_free (&remediation);
        at = zsys_sprintf ("2028-05-%02dT03:00:00Z", 3 + 2 * i);
        rf_set_clock (at);
        zstr_free (&at);
        uint64_t both [] = { s_conn2, s_conn3 };
        for (int c = 0; c < 2; c++) {
            char *saga = zsys_sprintf ("SAGA-R%d-%d", i, c);
            lift.connection = both [c];
            lift.saga = saga;
            rf_ok (s_ask (&s_isolation, "service", LGWAN__V1__REQUEST__BODY_LIFT, &lift));
            zstr_free (&saga);
        }
    }
    rf_wait_sql (18, "SELECT count(*) FROM billing.timeline WHERE kind = 3 AND value = 'connected'"
                 " AND day >= '2028-05-01'");
    rf_set_clock ("2028-06-01T01:00:00Z");
    reply = s_run ("2028-05", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *two = s_of (reply->invoice_run, 2);
    assert_string_equal (two->tariff_version, "FY2028-05");
    uint64_t both [] = { s_conn2, s_conn3 };
    for (int c = 0; c < 2; c++) {
        int fees = 0;
        for (size_t i = 0; i < two->n_lines; i++)
            if (streq (two->lines [i]->kind, "one_off") && two->lines [i]->subject == both [c]) {
                assert_int_equal (two->lines [i]->amount_yen, 1000);
                fees++;
            }
        assert_int_equal (fees, 9);
    }
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R6.1: the export is for spreadsheets too: a field that would start a
   formula there (=, +, -, @, a tab or a carriage return first) starts with
   an apostrophe. A tariff version named =HYPERLINK(...) went out as it
   was, a live formula in every line of the month */
static void
test_r6_1_export_fields_start_no_formula (void **state)
{
    (void) state;
    //  Its name as it goes in JSON
#define FORMULA "=HYPERLINK(\\\"http://example.invalid\\\",\\\"x\\\")"
    lg_reply_t *reply = s_tariff_load ("operator",
        "{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": ["
        FY2028_05 (", \"effective_to\": \"2028-06-01\"") ","
        "{\"version\": \"" FORMULA "\", \"effective_from\": \"2028-06-01\","
        " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 33000},"
        "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 21000}" PRICE_10G "],"
        " \"service_monthly_yen\": 3000, \"suspended\": \"full\", \"disconnected\": \"none\","
        " \"tax_rate_percent\": 10}]}");
#undef FORMULA
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_set_clock ("2028-07-01T01:00:00Z");
    rf_ok (s_run ("2028-06", false));
    Lgwan__V1__BillingExport e = LGWAN__V1__BILLING_EXPORT__INIT;
    e.period = (char *) "2028-06";
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_BILLING_EXPORT, &e);
    rf_expect (reply, RF_CODE (OK), NULL);
    const char *csv = reply->billing_export->csv;
    assert_true (reply->billing_export->lines > 0);
    //  Quoted (it holds quotes and a comma), the apostrophe inside
    const char *defused = ",\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"x\"\")\",";
    long lines = 0;
    for (const char *at = strstr (csv, defused); at; at = strstr (at + 1, defused))
        lines++;
    assert_int_equal (lines, reply->billing_export->lines);
    assert_null (strstr (csv, ",\"=HYPERLINK"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R6.1: credit notes are numbered gap-free per fiscal year past
   999,999: the note's seq is the counter's. It was read back from the
   number's last six characters, so CN-2028-1000000 was stored as seq 0 and
   the next as seq 1 */
static void
test_r6_1_credit_note_seq_past_999999 (void **state)
{
    (void) state;
    PGconn *conn = PQconnectdb (rf.admin);
    PGresult *res = PQexec (conn, "INSERT INTO billing.number_counters (kind, fiscal_year, last)"
                                  " VALUES ('CN', 2028, 999999) ON CONFLICT (kind, fiscal_year)"
                                  " DO UPDATE SET last = 999999");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    PQfinish (conn);
    char *invoice = rf_sql_text ("SELECT number FROM billing.invoices WHERE period = '2028-06'"
                                 " AND provider_id = 2");
    assert_non_null (invoice);
    Lgwan__V1__CreditNoteIssue credit = LGWAN__V1__CREDIT_NOTE_ISSUE__INIT;
    credit.invoice = invoice;
    credit.amount_yen = 1;
    credit.reason = (char *) "端数調整";
    const char *numbers [] = { "CN-2028-1000000", "CN-2028-1000001" };
    for (int i = 0; i < 2; i++) {
        lg_reply_t *reply = s_ask (&s_billing, "operator",
                                   LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit);
        rf_expect (reply, RF_CODE (OK), NULL);
        assert_string_equal (reply->credit_note->credit_note->number, numbers [i]);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        assert_int_equal (rf_sqlf_long ("SELECT seq FROM billing.credit_notes WHERE number = '%s'",
                                        numbers [i]), 1000000 + i);
    }
    free (invoice);
}

//  The run waiting for invoices held by hand (its compute done, its store
//  under way)
static bool
s_run_storing (void *arg)
{
    (void) arg;
    return rf_sql_long ("SELECT count(*) FROM pg_locks WHERE NOT granted"
                        " AND relation = 'billing.invoices'::regclass") >= 1;
}

//  The isolation event applied (before the fix), or the batch that applies
//  it waiting for the run (its advisory lock, BILLING_LOCK_KEY)
static bool
s_event_applied_or_waiting (void *arg)
{
    (void) arg;
    return rf_sql_long ("SELECT (SELECT count(*) FROM billing.timeline WHERE kind = 3"
                        "  AND value = 'suspended' AND day = '2028-07-31')"
                        " + (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        "  AND NOT granted AND classid = 7102 AND objid = 1 AND objsubid = 2)")
           >= 1;
}

/* REQ R6.1: an event billing applies while a run computes or stores the
   invoices of its day's month is billed by the run or said in the log once
   the run commits. Provider 2 is suspended on 2028-07-31 while the run of
   July is held storing (billing.invoices locked by hand): the event was
   applied beside the run, which had read the timeline without it, and the
   check of billing.c note 6 did not see the run's invoices, not yet
   committed: neither billed nor said */
static void
test_r6_1_event_applied_during_a_run_is_billed_or_said (void **state)
{
    (void) state;
    rf_set_clock ("2028-08-01T01:00:00Z");
    PGconn *hold = s_holder_begin ("LOCK TABLE billing.invoices IN EXCLUSIVE MODE");
    Lgwan__V1__InvoiceRun run = LGWAN__V1__INVOICE_RUN__INIT;
    run.period = (char *) "2028-07";
    s_call_t call = { "billing", INVOICE_RUN, &run, NULL };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_call_thread, &call), 0);
    //  All of it well within the 2 s a worker waits for a lock (lg_db.h
    //  note 2a)
    bool storing = lg_test_wait_for (s_run_storing, NULL, 1500);
    bool applied_or_waiting = false;
    if (storing) {
        rf_set_clock ("2028-07-31T03:00:00Z");
        Lgwan__V1__Suspend suspend = LGWAN__V1__SUSPEND__INIT;
        suspend.provider = 2;
        suspend.remediation = (char *) "REM-RUN";
        lg_reply_t *reply = s_call (&s_isolation, "operator", LGWAN__V1__REQUEST__BODY_SUSPEND,
                                    &suspend, 1000);
        if (reply && reply->status->code == RF_CODE (OK))
            applied_or_waiting = lg_test_wait_for (s_event_applied_or_waiting, NULL, 500);
        if (reply)
            lgwan__v1__reply__free_unpacked (reply, NULL);
        rf_set_clock ("2028-08-01T01:00:00Z");
    }
    PQclear (PQexec (hold, "COMMIT"));         //  let go before anything may fail
    PQfinish (hold);
    pthread_join (thread, NULL);
    assert_true (storing);
    assert_true (applied_or_waiting);
    assert_non_null (call.reply);
    rf_expect (call.reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *two = s_of (call.reply->invoice_run, 2);
    bool billed = false;
    for (size_t i = 0; i < two->n_lines; i++)
        billed |= two->lines [i]->subject == s_conn2
               && streq (two->lines [i]->state, "suspended")
               && streq (two->lines [i]->from_day, "2028-07-31");
    lgwan__v1__reply__free_unpacked (call.reply, NULL);
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 3 AND value = 'suspended'"
                 " AND day = '2028-07-31' AND connection_id = %" PRIu64, s_conn2);
    char *said = zsys_sprintf ("connection %" PRIu64 " of provider 2 from 2028-07-31 (event"
                               " isolation/", s_conn2);
    int count = lg_test_log_count (s_billing.pid, said);
    zstr_free (&said);
    if (billed? count != 0: count != 1)
        fail_msg ("the suspension of 2028-07-31 is %s and said %d time(s) in the log",
                  billed? "billed": "not billed", count);
}

/* REQ R6.1: InvoiceList, billing's one request with an id (its provider),
   refuses one past a bigint INVALID_ARGUMENT naming R6.1 and the field,
   and changes nothing; it took it to SQL, where the cast failed */
static void
test_r6_1_invoice_list_refuses_a_provider_past_bigint (void **state)
{
    (void) state;
    static const lg_test_id_request_t requests [] = {
        { "invoice_list", "viewer", "R6.1" },
        { NULL }
    };
    assert_true (lg_test_ids_past_bigint (&s_billing, rf.admin, rf.certs, 200, 299, requests) > 0);
}

//  A preview waiting for billing's lock (BILLING_LOCK_KEY), held by hand
static bool
s_preview_waits (void *arg)
{
    (void) arg;
    return rf_sql_long ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND NOT granted AND classid = 7102 AND objid = 1 AND objsubid = 2") >= 1;
}

/* REQ R6.1: a preview shows exactly what the run would issue: it takes
   turns with the batches of events as a run does, so no batch commits
   between its reads. It took billing's lock shared, as a batch does, and a
   batch committed between its read of the connections and its read of the
   services gave a preview of neither state */
static void
test_r6_1_preview_takes_turns_with_events (void **state)
{
    (void) state;
    PGconn *batch = s_holder_begin ("SELECT pg_advisory_xact_lock_shared (7102, 1)");
    Lgwan__V1__InvoiceRun run = LGWAN__V1__INVOICE_RUN__INIT;
    run.period = (char *) "2026-10";
    run.preview = true;
    s_call_t call = { "billing", INVOICE_RUN, &run, NULL };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_call_thread, &call), 0);
    bool waited = lg_test_wait_for (s_preview_waits, NULL, 1500);
    PQclear (PQexec (batch, "COMMIT"));         //  let go before anything may fail
    PQfinish (batch);
    pthread_join (thread, NULL);
    assert_true (waited);
    assert_non_null (call.reply);
    rf_expect (call.reply, RF_CODE (OK), NULL);
    lgwan__v1__reply__free_unpacked (call.reply, NULL);
}

/* REQ R6.1: a change that lands in a period already run, of a provider
   with no invoice of it, is said in the log at ERROR, naming the provider
   and the period to run again; that run invoices it. Provider 3 registers
   a service on 2028-08-02 and its first connection is activated on
   2028-08-31 at 23:00 JST while billing is down; August is invoiced
   (providers 1 and 2) while the registry is down. Both changes were
   applied without a word (only a provider with an invoice of the period
   was checked), and August's charges of provider 3 were never billed */
static void
test_r6_1_change_of_a_provider_not_invoiced_in_a_run_period_is_said (void **state)
{
    (void) state;
    assert_int_equal (lg_test_proc_stop (&s_billing, SIGTERM), 0);
    rf_set_clock ("2028-08-02T01:00:00Z");
    uint64_t provider = rf_qualified_provider ("株式会社さんばん");
    rf_contacts (provider);
    uint64_t service = rf_registered_service (provider, provider);
    rf_set_clock ("2028-08-31T14:00:00Z");          //  23:00 on 08-31 in Tokyo
    uint64_t connection = s_connection (service, "operator", "1G");
    rf_stop ();
    s_start_billing (NULL);
    rf_set_clock ("2028-09-01T01:00:00Z");
    lg_reply_t *reply = s_run ("2028-08", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 2);
    assert_int_equal (reply->invoice_run->n_not_invoiced, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_start ();
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 1 AND connection_id = %"
                 PRIu64, connection);
    char *run_again = zsys_sprintf ("in which provider %" PRIu64 " has no invoice: run 2028-08"
                                    " again to invoice it", provider);
    char *of_connection = zsys_sprintf ("connection %" PRIu64 " of provider %" PRIu64 " from"
                                        " 2028-08-31 (event registry/", connection, provider);
    char *of_service = zsys_sprintf ("service %" PRIu64 " of provider %" PRIu64 " from"
                                     " 2028-08-02 (event registry/", service, provider);
    assert_int_equal (lg_test_log_count (s_billing.pid, run_again), 2);
    assert_int_equal (lg_test_log_count (s_billing.pid, of_connection), 1);
    assert_int_equal (lg_test_log_count (s_billing.pid, of_service), 1);
    assert_int_equal (lg_test_log_count (s_billing.pid, "issued without it"), 0);
    zstr_free (&run_again);
    zstr_free (&of_connection);
    zstr_free (&of_service);
    //  Run again as said: provider 3 is invoiced, the others keep theirs
    reply = s_run ("2028-08", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 1);
    assert_int_equal (reply->invoice_run->existing, 2);
    const Lgwan__V1__Invoice *three = s_of (reply->invoice_run, provider);
    //  Service 2028-08-02 ... 08-31: 3,000 * 30/31 = 2,903; 1G on 08-31:
    //  33,000 * 1/31 = 1,064
    assert_int_equal (s_line_of (three, "service", service)->amount_yen, 2903);
    assert_int_equal (s_line_of (three, "connection", connection)->amount_yen, 1064);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  The last CreditNoteIssued in billing's outbox, as billing systems get it
//  (caller frees with lgwan__v1__event__free_unpacked)
static lg_event_t *
s_last_credit_note_event (void)
{
    return rf_newest_event ("billing", LGWAN__V1__EVENT__BODY_CREDIT_NOTE_ISSUED);
}

/* REQ R6.1: a credit note on an invoice that was paid credits money the
   provider paid: past what is outstanding it is refused naming R6.1 unless
   asked as a refund, and then the part owed back is recorded on the note
   (and in CreditNoteIssued) and the invoice reads outstanding 0 and
   refund_owed_yen, never a negative outstanding. INV-2026-000001 (16,500,
   credited 1,100, paid 10,000: 5,400 outstanding) credited 6,000 + 600 tax
   was issued without a word, and the invoice read outstanding -1,200 with
   nothing saying that the provider was owed it */
static void
test_r6_1_credit_note_on_a_paid_invoice_records_the_refund_owed (void **state)
{
    (void) state;
    const char *number = "INV-2026-000001";
    Lgwan__V1__CreditNoteIssue credit = LGWAN__V1__CREDIT_NOTE_ISSUE__INIT;
    credit.invoice = (char *) number;
    credit.reason = (char *) "回線障害の減額";
    credit.amount_yen = 6000;
    long notes = rf_sqlf_long ("SELECT count(*) FROM billing.credit_notes");
    long events = rf_sqlf_long ("SELECT count(*) FROM billing.outbox");
    lg_reply_t *reply = s_ask (&s_billing, "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE,
                               &credit);
    if (!reply->status || !strstr (reply->status->message, "1200 yen of it was paid and would be"
                                   " owed back to provider 1"))
        fail_msg ("refusal does not say what would be owed back: %s",
                  reply->status? reply->status->message: "OK");
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R6.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.credit_notes"), notes);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox"), events);

    //  Within what is outstanding: no refund, asked for or not
    credit.amount_yen = 4000;
    reply = s_ask (&s_billing, "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->credit_note->credit_note->total_yen, 4400);
    assert_int_equal (reply->credit_note->credit_note->refund_yen, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  As a refund: 6,600 against the 1,000 outstanding, 5,600 owed back
    credit.amount_yen = 6000;
    credit.refund = true;
    reply = s_ask (&s_billing, "operator", LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, &credit);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->credit_note->credit_note->tax_yen, 600);
    assert_int_equal (reply->credit_note->credit_note->total_yen, 6600);
    assert_int_equal (reply->credit_note->credit_note->refund_yen, 5600);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_event_t *event = s_last_credit_note_event ();
    assert_int_equal (event->credit_note_issued->credit_note->refund_yen, 5600);
    lgwan__v1__event__free_unpacked (event, NULL);

    Lgwan__V1__InvoiceGet get = LGWAN__V1__INVOICE_GET__INIT;
    get.number = (char *) number;
    reply = s_ask (&s_billing, "viewer", LGWAN__V1__REQUEST__BODY_INVOICE_GET, &get);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *invoice = reply->invoice->invoice;
    assert_int_equal (invoice->total_yen, 16500);
    assert_int_equal (invoice->credited_yen, 12100);
    assert_int_equal (invoice->paid_yen, 10000);
    assert_int_equal (invoice->outstanding_yen, 0);
    assert_int_equal (invoice->refund_owed_yen, 5600);
    assert_int_equal (reply->invoice->n_credit_notes, 3);
    assert_int_equal (reply->invoice->credit_notes [2]->refund_yen, 5600);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  Listed the same; no longer overdue; nothing more can be paid
    Lgwan__V1__InvoiceList list = LGWAN__V1__INVOICE_LIST__INIT;
    list.period = (char *) "2026-10";
    list.provider = 1;
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_INVOICE_LIST, &list);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_list->n_invoices, 1);
    assert_int_equal (reply->invoice_list->invoices [0]->outstanding_yen, 0);
    assert_int_equal (reply->invoice_list->invoices [0]->refund_owed_yen, 5600);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_false (s_overdue (number));
    Lgwan__V1__PaymentRecord pay = LGWAN__V1__PAYMENT_RECORD__INIT;
    pay.invoice = (char *) number;
    pay.amount_yen = 1;
    reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay);
    assert_non_null (strstr (reply->status->message, "outstanding (0 yen)"));
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R6.1");
}

//  FY2025, before every version loaded, with TAX for its tax rate
#define FY2025(TAX) \
    "{\"bandwidth_classes\": [\"100M\", \"1G\", \"10G\"], \"versions\": [{\"version\": \"FY2025\"," \
    " \"effective_from\": \"2025-04-01\", \"effective_to\": \"2026-04-01\"," \
    " \"connection_fees\": [{\"bandwidth_class\": \"1G\", \"monthly_yen\": 31000}," \
    "  {\"bandwidth_class\": \"100M\", \"monthly_yen\": 20000}" PRICE_10G "]," \
    " \"suspended\": \"full\", \"disconnected\": \"none\"" TAX "}]}"

/* REQ R6.1: a tariff version that leaves tax_rate_percent out is refused
   INVALID_ARGUMENT naming R6.1, and nothing is loaded; a version without
   tax says 0, and loads. proto3 read the rate left out as 0: FY2025 was
   loaded taxing nothing, without a word, and its invoices would have been
   issued with 0 % consumption tax */
static void
test_r6_1_tariff_version_without_a_tax_rate_is_refused (void **state)
{
    (void) state;
    s_tariff_refused (FY2025 (""), RF_CODE (INVALID_ARGUMENT),
                      "tariff FY2025: tax_rate_percent is mandatory");
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.tariff_versions"
                                   " WHERE version = 'FY2025'"), 0);
    //  Said as 0: loaded, and read back as 0 said
    lg_reply_t *reply = s_tariff_load ("operator", FY2025 (", \"tax_rate_percent\": 0"));
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 1);
    bool seen = false;
    for (size_t i = 0; i < reply->tariff->n_versions; i++) {
        const Lgwan__V1__TariffVersion *t = reply->tariff->versions [i];
        assert_int_equal (t->tax_rate_case, LGWAN__V1__TARIFF_VERSION__TAX_RATE_TAX_RATE_PERCENT);
        if (streq (t->version, "FY2025")) {
            seen = true;
            assert_int_equal (t->tax_rate_percent, 0);
        }
        else
            assert_int_equal (t->tax_rate_percent, 10);
    }
    assert_true (seen);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  The same again is the same content
    reply = s_tariff_load ("operator", FY2025 (", \"tax_rate_percent\": 0"));
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->tariff->loaded, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}
#undef FY2025

/* REQ R6.1: a run of a period with nothing to bill is a run all the same:
   a change that lands in it later is said, naming the provider and the
   period to run again, and that run invoices it. September 2026, before
   the first connection, is run and issues no invoice; a provider's first
   connection activated on 2026-09-10 while billing was down reaches billing
   after the run (the registry was down). It was said of every period run
   from October on, and not of September, which no invoice counted as run */
static void
test_r6_1_change_landing_in_a_period_run_without_invoices_is_said (void **state)
{
    (void) state;
    assert_int_equal (lg_test_proc_stop (&s_billing, SIGTERM), 0);
    rf_set_clock ("2026-09-10T01:00:00Z");
    uint64_t provider = rf_qualified_provider ("株式会社よんばん");
    rf_contacts (provider);
    uint64_t service = rf_registered_service (provider, provider);
    uint64_t connection = s_connection (service, "operator", "1G");
    rf_stop ();
    rf_set_clock ("2028-09-01T01:00:00Z");
    s_start_billing (NULL);
    lg_reply_t *reply = s_run ("2026-09", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 0);
    assert_int_equal (reply->invoice_run->existing, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_start ();
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 1 AND connection_id = %"
                 PRIu64, connection);
    char *run_again = zsys_sprintf ("in which provider %" PRIu64 " has no invoice: run 2026-09,"
                                    " 2026-10, ", provider);
    char *of_connection = zsys_sprintf ("connection %" PRIu64 " of provider %" PRIu64 " from"
                                        " 2026-09-10 (event registry/", connection, provider);
    assert_int_equal (lg_test_log_count (s_billing.pid, of_connection), 1);
    assert_int_equal (lg_test_log_count (s_billing.pid, run_again), 2);
    zstr_free (&run_again);
    zstr_free (&of_connection);
    //  Run again as said: the provider is invoiced, 1G 2026-09-10 ...
    //  09-30: 31,000 * 21/30 = 21,700
    reply = s_run ("2026-09", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    assert_int_equal (reply->invoice_run->created, 1);
    const Lgwan__V1__Invoice *four = s_of (reply->invoice_run, provider);
    assert_int_equal (s_line_of (four, "connection", connection)->amount_yen, 21700);
    assert_int_equal (four->subtotal_yen, 21700);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  The operator's rewind of billing (README "Rewind"), as the superuser:
//  refused naming requirement (and saying says, when given), and nothing
//  changed, when requirement is given; done otherwise
static void
s_rewind_says (long seq, const char *requirement, const char *says)
{
    char *sql = zsys_sprintf ("SELECT billing.rewind ('registry', %ld)", seq);
    PGconn *conn = PQconnectdb (rf.admin);
    PGresult *res = PQexec (conn, sql);
    const char *error = PQresultErrorMessage (res);
    if (requirement? PQresultStatus (res) != PGRES_FATAL_ERROR || strncmp (error, "ERROR:  ", 8)
                     || strncmp (error + 8, requirement, strlen (requirement))
                     || (says && !strstr (error, says))
                   : PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, requirement? (*error? error: "done"): error);
    PQclear (res);
    PQfinish (conn);
    zstr_free (&sql);
}

static void
s_rewind (long seq, const char *requirement)
{
    s_rewind_says (seq, requirement, NULL);
}

//  The registry loses its events past seq (a failover that lost its last
//  commits, a restore), as in test_events.c
static void
s_lose_registry_events_after (long seq)
{
    char *sql = zsys_sprintf ("BEGIN; DELETE FROM registry.outbox WHERE seq > %ld;"
                              " UPDATE registry.outbox_head SET seq = %ld, hash = (SELECT hash"
                              "  FROM registry.outbox WHERE seq = %ld); COMMIT", seq, seq, seq);
    PGconn *conn = PQconnectdb (rf.admin);
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_COMMAND_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    PQclear (res);
    PQfinish (conn);
    zstr_free (&sql);
}

/* REQ X.2, REQ R6.1: a source that lost events billing applied and wrote
   others under their seqs is rewound by the operator with billing.rewind:
   the lost events' rows out, what they set rebuilt, the cursor back, and
   billing bills the chain written anew. A new 1G connection of provider 2
   (2028-09-01) is changed to 100M on 09-10; the registry loses that and
   writes a cancellation effective 09-15 instead. Moving the cursor back
   (lg_consumer.h note 8) was all there was, and billing's rows keyed by
   (source, seq) kept the lost change and dropped the new events: the
   cancellation was billed as the lost bandwidth change. A rewind to the
   cursor or past it, or over a period invoiced, is refused */
static void
test_x2_rewind_bills_the_chain_the_source_wrote_anew (void **state)
{
    (void) state;
    rf_set_clock ("2028-09-01T01:00:00Z");
    uint64_t conn = s_connection (s_service2, "provider2", "1G");
    //  Provider 2 is suspended: isolation suspends it too, from its first day
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 3 AND connection_id = %"
                 PRIu64 " AND day = '2028-09-01'", conn);
    s_wait_registry_followed ();
    long fork = rf_sql_long ("SELECT seq FROM registry.outbox_head");
    //  The chain billing applies, then loses
    rf_set_clock ("2028-09-10T02:00:00Z");
    s_bandwidth_changed (conn, "100M", "減速");
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 2 AND connection_id = %"
                 PRIu64, conn);
    s_wait_registry_followed ();
    long lost = rf_sql_long ("SELECT seq FROM registry.outbox_head");
    assert_int_equal (lg_test_proc_stop (&s_billing, SIGTERM), 0);
    s_lose_registry_events_after (fork);
    //  The chain written anew, past the lost head
    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    cancel.subject = (char *) "connection";
    cancel.id = conn;
    cancel.cancel = true;
    cancel.effective_on = (char *) "2028-09-15";
    rf_ok (rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel));
    rf_set_clock ("2028-09-15T01:00:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM registry.outbox WHERE seq > %ld AND body_case = %d",
                 fork, LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE);
    while (rf_sql_long ("SELECT seq FROM registry.outbox_head") <= lost)
        rf_contacts (2);
    //  Isolation, which follows the registry too, goes on from the fork
    char *sql = zsys_sprintf ("UPDATE isolation.cursors SET last_seq = %ld, last_hash = '\\x'"
                              " WHERE source = 'registry' RETURNING 1", fork);
    assert_int_equal (rf_sql_long (sql), 1);
    zstr_free (&sql);
    s_start_billing (NULL);
    for (int i = 0; i < 100 && !lg_test_log_count (s_billing.pid, "does not follow"); i++)
        zclock_sleep (100);
    assert_true (lg_test_log_count (s_billing.pid, "does not follow") > 0);

    //  Refused, nothing changed: at the cursor, and over invoiced periods
    long rows = rf_sql_long ("SELECT count(*) FROM billing.timeline");
    s_rewind (lost, "X.2: cannot rewind registry to seq");
    s_rewind (0, "R6.1: cannot rewind registry to seq 0: event registry/");
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.timeline"), rows);
    assert_int_equal (rf_sql_long ("SELECT last_seq FROM billing.cursors"
                                   " WHERE source = 'registry'"), lost);
    //  The operator's rewind: the new chain applied, the lost one gone
    s_rewind (fork, NULL);
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 4 AND connection_id = %"
                 PRIu64 " AND day = '2028-09-15'", conn);
    s_wait_registry_followed ();
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.timeline WHERE kind = 2"
                                    " AND connection_id = %" PRIu64, conn), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.connections WHERE id = %"
                                    PRIu64 " AND end_day = '2028-09-15'", conn), 1);
    //  What events set in place is what their rows say
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.providers p WHERE name_ja"
                                   " IS DISTINCT FROM (SELECT name_ja FROM billing.provider_names"
                                   " n WHERE n.provider_id = p.id ORDER BY n.id DESC LIMIT 1)"), 0);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.services s WHERE end_day"
                                   " IS DISTINCT FROM (SELECT min (day) FROM billing.service_ends"
                                   " e WHERE e.service_id = s.id)"), 0);
    assert_true (rf_sql_long ("SELECT count(*) FROM billing.provider_names"
                              " WHERE source = 'registry'") > 0);
    //  September bills 1G 09-01 ... 09-14, suspended (FY2028: in full):
    //  33,000 * 14/30 = 15,400 (the lost chain billed 9,900 at 1G and
    //  14,700 at 100M)
    rf_set_clock ("2028-10-01T01:00:00Z");
    lg_reply_t *reply = s_run ("2028-09", false);
    rf_expect (reply, RF_CODE (OK), NULL);
    const Lgwan__V1__Invoice *two = s_of (reply->invoice_run, 2);
    size_t lines = 0;
    for (size_t i = 0; i < two->n_lines; i++)
        lines += streq (two->lines [i]->kind, "connection") && two->lines [i]->subject == conn;
    assert_int_equal (lines, 1);
    const Lgwan__V1__InvoiceLine *line = s_line_of (two, "connection", conn);
    assert_string_equal (line->bandwidth_class, "1G");
    assert_string_equal (line->from_day, "2028-09-01");
    assert_string_equal (line->to_day, "2028-09-15");
    assert_int_equal (line->amount_yen, 15400);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R6.1: an effective_on in a registry event that is no YYYY-MM-DD (here
   a ConnectionActivated's, made "2028-90-02" by hand in the outbox) is not
   guessed at: the event is refused like any malformed one (skipped, the
   stream goes on), said at ERROR with its source and seq and counted, and
   nothing of it is in billing's tables. It fell back to the JST day of the
   event without a word, and billed the connection from a day nobody chose */
static void
test_r6_1_malformed_effective_on_in_an_event_is_refused (void **state)
{
    (void) state;
    assert_int_equal (lg_test_proc_stop (&s_billing, SIGTERM), 0);
    rf_set_clock ("2028-10-02T01:00:00Z");
    uint64_t conn = s_connection (s_service2, "provider2", "1G");
    //  ConnectionActivated's effective_on is field 7: tag 0x3a, length 10
    long seq = rf_sqlf_long ("SELECT max (seq) FROM registry.outbox WHERE body_case = %d",
                            LGWAN__V1__EVENT__BODY_CONNECTION_ACTIVATED);
    char *sql = zsys_sprintf ("UPDATE registry.outbox SET event = set_byte (event, position"
                              " ('\\x3a0a'::bytea || '2028-10-02'::bytea IN event) + 6, 57)"
                              " WHERE seq = %ld AND position ('\\x3a0a'::bytea || '2028-10-02'"
                              "::bytea IN event) > 0 RETURNING 1", seq);
    assert_int_equal (rf_sql_long (sql), 1);
    zstr_free (&sql);
    s_start_billing (NULL);
    s_wait_registry_followed ();
    char *said = zsys_sprintf ("event registry/%ld has a malformed effective_on \"2028-90-02\"",
                               seq);
    assert_int_equal (lg_test_log_count (s_billing.pid, said), 1);
    assert_int_equal (lg_test_log_count (s_billing.pid, "1 such event since start"), 1);
    zstr_free (&said);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.timeline WHERE source ="
                                    " 'registry' AND seq = %ld", seq), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.connections WHERE id = %"
                                    PRIu64, conn), 0);
}

/* REQ R6.1: a payment dated before its invoice was issued, or after today
   (JST), is refused INVALID_ARGUMENT naming R6.1 and paid_on, and nothing is
   recorded. One dated before the issue was recorded: provider 1's November
   invoice, issued 2026-12-01, was paid "on 2026-11-20" */
static void
test_r6_1_payment_before_its_invoice_was_issued_is_refused (void **state)
{
    (void) state;
    char *number = rf_sql_text ("SELECT number FROM billing.invoices WHERE period = '2028-09'"
                                " AND provider_id = 2");
    assert_non_null (number);
    char *sql = zsys_sprintf ("SELECT issued_on::text FROM billing.invoices WHERE number = '%s'",
                              number);
    char *issued = rf_sql_text (sql);
    zstr_free (&sql);
    sql = zsys_sprintf ("SELECT (issued_on - 1)::text FROM billing.invoices WHERE number = '%s'",
                        number);
    char *before = rf_sql_text (sql);
    zstr_free (&sql);
    assert_non_null (issued);
    assert_non_null (before);
    long payments = rf_sqlf_long ("SELECT count(*) FROM billing.payments");
    long events = rf_sqlf_long ("SELECT count(*) FROM billing.outbox");
    Lgwan__V1__PaymentRecord pay = LGWAN__V1__PAYMENT_RECORD__INIT;
    pay.invoice = number;
    pay.amount_yen = 1;
    pay.paid_on = before;
    lg_reply_t *reply = s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD,
                               &pay);
    char *said = zsys_sprintf ("paid_on %s is before invoice %s was issued (%s)", before, number,
                               issued);
    rf_expect (reply, RF_CODE (INVALID_ARGUMENT), "R6.1");
    if (!strstr (reply->status->message, said))
        fail_msg ("refusal \"%s\" does not say \"%s\"", reply->status->message, said);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    pay.paid_on = (char *) "2099-01-01";
    rf_refused (s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay),
                RF_CODE (INVALID_ARGUMENT), "R6.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.payments"), payments);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.outbox"), events);
    //  On the day it was issued, it is paid
    pay.paid_on = issued;
    rf_ok (s_ask (&s_billing, "billing", LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, &pay));
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.payments"), payments + 1);
    zstr_free (&said);
    free (before);
    free (issued);
    free (number);
}

/* REQ R6.1, REQ X.2: a rewind is refused over a period invoiced to a
   provider its lost events concern, and only then. A new provider with no
   invoice of 2028-09 is given a service and a connection on 2028-09-20,
   after September was invoiced to provider 2: a rewind of those events
   is done, though provider 2's September is invoiced (it was refused, "lands
   in a period invoiced (through 2028-09)"); one that also takes out a
   connection of provider 2 from 2028-09-20 is refused, naming provider 2
   and 2028-09, and changes nothing. Billing is stopped for them, and
   applies the events again when it starts */
static void
test_r6_1_rewind_is_refused_only_over_a_concerned_providers_invoice (void **state)
{
    (void) state;
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE period ="
                                    " '2028-09' AND provider_id = 2"), 1);
    rf_set_clock ("2028-09-20T01:00:00Z");
    s_wait_registry_followed ();
    long before_two = rf_sql_long ("SELECT seq FROM registry.outbox_head");
    uint64_t of_two = s_connection (s_service2, "provider2", "1G");
    s_wait_registry_followed ();
    long before_new = rf_sql_long ("SELECT seq FROM registry.outbox_head");
    uint64_t provider = rf_qualified_provider ("株式会社ごばん");
    rf_contacts (provider);
    uint64_t service = rf_registered_service (provider, provider);
    uint64_t connection = s_connection (service, "operator", "1G");
    rf_wait_sql (1, "SELECT count(*) FROM billing.timeline WHERE kind = 1 AND connection_id = %"
                 PRIu64, connection);
    s_wait_registry_followed ();
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.invoices WHERE provider_id = %"
                                    PRIu64, provider), 0);

    //  As the README says: the stream waiting, or billing stopped
    assert_int_equal (lg_test_proc_stop (&s_billing, SIGTERM), 0);
    //  The new provider's alone: done (applied again when billing starts)
    s_rewind (before_new, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.connections WHERE id = %"
                                    PRIu64, connection), 0);
    //  With provider 2's connection: refused, nothing changed
    long rows = rf_sql_long ("SELECT count(*) FROM billing.timeline");
    char *refused = zsys_sprintf ("R6.1: cannot rewind registry to seq %ld: event registry/",
                                  before_two);
    s_rewind_says (before_two, refused, "(provider 2: 2028-09)");
    zstr_free (&refused);
    assert_int_equal (rf_sql_long ("SELECT count(*) FROM billing.timeline"), rows);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.connections WHERE id = %"
                                    PRIu64, of_two), 1);
    assert_int_equal (rf_sql_long ("SELECT last_seq FROM billing.cursors"
                                   " WHERE source = 'registry'"), before_new);
    s_start_billing (NULL);
    rf_wait_sql (1, "SELECT count(*) FROM billing.connections WHERE id = %" PRIu64, connection);
    s_wait_registry_followed ();
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM billing.timeline WHERE kind = 1"
                                    " AND connection_id = %" PRIu64, connection), 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r6_1_tariff_refusals),
        cmocka_unit_test (test_r6_1_october_run_preview_idempotent),
        cmocka_unit_test (test_r6_1_november_from_events),
        cmocka_unit_test (test_r6_1_run_killed_midway),
        cmocka_unit_test (test_r6_1_fiscal_years),
        cmocka_unit_test (test_r6_1_credit_notes_payments_overdue),
        cmocka_unit_test (test_r6_1_invoice_lists_page),
        cmocka_unit_test (test_r6_1_csv_export),
        cmocka_unit_test (test_r6_1_replay_events),
        cmocka_unit_test (test_r6_1_credit_note_settling_an_invoice_takes_its_remaining_tax),
        cmocka_unit_test (test_r6_1_name_change_reaches_later_invoices),
        cmocka_unit_test (test_r6_1_hosting_transfer_moves_the_service_fee),
        cmocka_unit_test (test_r6_1_credit_notes_at_once_credit_an_invoice_once),
        cmocka_unit_test (test_r6_1_payments_at_once_pay_an_invoice_once),
        cmocka_unit_test (test_r6_1_unpriced_class_holds_back_its_provider_only),
        cmocka_unit_test (test_r6_1_tariff_version_takes_prices_it_lacks),
        cmocka_unit_test (test_r6_1_new_tariff_version_prices_every_declared_class),
        cmocka_unit_test (test_r6_1_run_waits_for_the_events_its_sources_reported),
        cmocka_unit_test (test_r6_1_change_landing_in_an_invoiced_period_is_said),
        cmocka_unit_test (test_r6_1_open_tariff_version_takes_an_end_once),
        cmocka_unit_test (test_r6_1_every_one_off_fee_of_a_month_is_billed),
        cmocka_unit_test (test_r6_1_export_fields_start_no_formula),
        cmocka_unit_test (test_r6_1_credit_note_seq_past_999999),
        cmocka_unit_test (test_r6_1_event_applied_during_a_run_is_billed_or_said),
        cmocka_unit_test (test_r6_1_preview_takes_turns_with_events),
        cmocka_unit_test (test_r6_1_invoice_list_refuses_a_provider_past_bigint),
        cmocka_unit_test (test_r6_1_change_of_a_provider_not_invoiced_in_a_run_period_is_said),
        cmocka_unit_test (test_r6_1_credit_note_on_a_paid_invoice_records_the_refund_owed),
        cmocka_unit_test (test_r6_1_tariff_version_without_a_tax_rate_is_refused),
        cmocka_unit_test (test_r6_1_change_landing_in_a_period_run_without_invoices_is_said),
        cmocka_unit_test (test_x2_rewind_bills_the_chain_the_source_wrote_anew),
        cmocka_unit_test (test_r6_1_malformed_effective_on_in_an_event_is_refused),
        cmocka_unit_test (test_r6_1_payment_before_its_invoice_was_issued_is_refused),
        cmocka_unit_test (test_r6_1_rewind_is_refused_only_over_a_concerned_providers_invoice),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
