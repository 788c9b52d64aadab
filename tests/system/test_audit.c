/*  System test of the audit service with the registry: the real binaries,
    one fresh database, one business clock file for both.

    1. The registry (registry_fixture.h) qualifies providers 1 and 2 and
       registers their services; audit follows its events into its copy
       (providers, services, role holders), which scopes audits and says
       which controls apply to whom.
    2. Time moves only by writing the clock file; the deadline duty runs
       every 200 ms (LG_DUTY_MS) and once at start. The overdue test stops
       audit, moves the clock past a deadline and starts it again: exactly
       one RemediationOverdue, read back through Replay, also after a second
       restart (whose duty run is proven by a second request going overdue).
    3. Every refusal is checked for its code and requirement ID, and for
       having changed nothing (row counts through the admin conninfo).
*/
#include "registry_fixture.h"

#include <pthread.h>

#define AU_BODY(NAME)   LGWAN__V1__REQUEST__BODY_##NAME
#define AU_EVENT(NAME)  LGWAN__V1__EVENT__BODY_##NAME

static lg_test_proc_t s_audit = { .service = "audit" };
static uint64_t s_service1;             //  provider 1: content, hosting, facility
static uint64_t s_service2;             //  provider 2: content, hosting
static uint64_t s_plan_audit;           //  provider 1, from the catalogue test
static uint64_t s_remediation_hosting;  //  its R11.1-4 finding's request
static uint64_t s_remediation_facility; //  its R14.1 finding's request
static uint64_t s_incident_remediation;

//  ---------------------------------------------------------------------------
//  The audit process and its requests

static void
s_audit_start (void)
{
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    const char *extra [] = { clock, "LG_DUTY_MS=200", "LG_LOG_LEVEL=info", NULL };
    lg_test_proc_t *follows [] = { &rf.registry, NULL };
    assert_true (lg_test_proc_start (&s_audit, rf.admin, rf.certs, follows, extra));
    zstr_free (&clock);
}

static void
s_audit_stop (void)
{
    assert_int_equal (lg_test_proc_stop (&s_audit, SIGTERM), 0);
}

//  A request of who, naming actor (NULL: none) and reason
static lg_reply_t *
s_ask_as (const char *who, const char *actor, const char *reason, unsigned body_case,
          void *body)
{
    lg_client_t *client = lg_test_proc_client (&s_audit, rf.certs, who);
    assert_non_null (client);
    lg_client_set_timeout (client, 5000, 1);
    lg_reply_t *reply = lg_test_call_as (client, body_case, body, reason, actor);
    lg_client_destroy (&client);
    assert_non_null (reply);
    assert_non_null (reply->status);
    return reply;
}

static lg_reply_t *
s_ask_why (const char *who, const char *reason, unsigned body_case, void *body)
{
    return s_ask_as (who, NULL, reason, body_case, body);
}

static lg_reply_t *
s_ask (const char *who, unsigned body_case, void *body)
{
    return s_ask_why (who, "監査試験", body_case, body);
}

//  Events of body_case in audit's stream, read through Replay (viewer); when
//  remediation is not 0, only those about that request; days_before too
//  when not 0. The last one's reason and deadline day in reason and
//  deadline_on (size bytes each) when not NULL
static long
s_replayed_why (unsigned body_case, uint64_t remediation, uint32_t days_before, char *reason,
                char *deadline_on, size_t size)
{
    lg_client_t *client = lg_test_proc_client (&s_audit, rf.certs, "viewer");
    lg_client_set_timeout (client, 5000, 1);
    long found = 0;
    uint64_t from = 1;
    while (true) {
        Lgwan__V1__Replay replay = LGWAN__V1__REPLAY__INIT;
        replay.from_seq = from;
        lg_reply_t *reply = lg_test_call (client, AU_BODY (REPLAY), &replay, "");
        assert_non_null (reply);
        assert_int_equal (reply->status->code, LGWAN__V1__CODE__OK);
        size_t n = reply->replay->n_events;
        for (size_t i = 0; i < n; i++) {
            lg_event_t *event = lgwan__v1__event__unpack (NULL, reply->replay->events [i].len,
                                                          reply->replay->events [i].data);
            assert_non_null (event);
            from = event->seq + 1;
            if (event->body_case == body_case) {
                const Lgwan__V1__RemediationEvent *r = NULL;
                if (body_case == AU_EVENT (REMEDIATION_OVERDUE))
                    r = event->remediation_overdue;
                else
                if (body_case == AU_EVENT (REMEDIATION_REMINDER))
                    r = event->remediation_reminder;
                else
                if (body_case == AU_EVENT (REMEDIATION_INSUFFICIENT))
                    r = event->remediation_insufficient;
                else
                if (body_case == AU_EVENT (REMEDIATION_ACCEPTED))
                    r = event->remediation_accepted;
                else
                if (body_case == AU_EVENT (REMEDIATION_WITHDRAWN))
                    r = event->remediation_withdrawn;
                if (!remediation || (r && r->remediation == remediation
                                     && (!days_before || r->days_before == days_before))) {
                    found++;
                    if (reason && r)
                        snprintf (reason, size, "%s", r->reason);
                    if (deadline_on && r)
                        snprintf (deadline_on, size, "%s", r->deadline_on);
                }
            }
            lgwan__v1__event__free_unpacked (event, NULL);
        }
        lgwan__v1__reply__free_unpacked (reply, NULL);
        if (n == 0)
            break;
    }
    lg_client_destroy (&client);
    return found;
}

static long
s_replayed (unsigned body_case, uint64_t remediation, uint32_t days_before)
{
    return s_replayed_why (body_case, remediation, days_before, NULL, NULL, 0);
}

//  Open an audit as who; the reply (caller frees)
//  AuditOpen asked by who, naming actor (NULL: none) and reason
static lg_reply_t *
s_open_as (const char *who, const char *actor, const char *reason, const char *origin,
           uint64_t provider, uint64_t *services, size_t n_services, const char *lgcode,
           const char *incident)
{
    Lgwan__V1__AuditOpen o = LGWAN__V1__AUDIT_OPEN__INIT;
    o.origin = (char *) origin;
    o.provider = provider;
    o.services = services;
    o.n_services = n_services;
    char *auditors [] = { (char *) "aki" };
    o.auditors = auditors;
    o.n_auditors = 1;
    o.lgcode = (char *) lgcode;
    o.incident = (char *) incident;
    o.starts_on = (char *) "2027-03-01";
    o.ends_on = (char *) "2027-03-31";
    o.title = (char *) "令和8年度 定期監査";
    return s_ask_as (who, actor, reason, AU_BODY (AUDIT_OPEN), &o);
}

static lg_reply_t *
s_open (const char *who, const char *origin, uint64_t provider, uint64_t *services,
        size_t n_services, const char *lgcode, const char *incident)
{
    return s_open_as (who, NULL, "監査試験", origin, provider, services, n_services, lgcode,
                      incident);
}

static uint64_t
s_plan (uint64_t provider)
{
    lg_reply_t *reply = s_open ("auditor", "plan", provider, NULL, 0, "", "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t id = reply->audit->audit->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  A finding asked by who, whose evidence is effective on evidence_on
static lg_reply_t *
s_finding_as (const char *who, uint64_t audit, const char *control, const char *severity,
              bool remediate, const char *deadline_on, const char *evidence_on)
{
    Lgwan__V1__Evidence evidence = LGWAN__V1__EVIDENCE__INIT;
    evidence.reference = (char *) "監査調書 2027-007";
    evidence.effective_on = (char *) evidence_on;
    Lgwan__V1__Evidence *list [] = { &evidence };
    Lgwan__V1__FindingRecord f = LGWAN__V1__FINDING_RECORD__INIT;
    f.audit = audit;
    f.control = (char *) control;
    f.severity = (char *) severity;
    f.description = (char *) "ファイアウォール設定の不備";
    f.requires_remediation = remediate;
    f.evidence = list;
    f.n_evidence = 1;
    f.deadline_on = (char *) deadline_on;
    return s_ask (who, AU_BODY (FINDING_RECORD), &f);
}

//  An auditor's finding whose evidence is effective on evidence_on
static lg_reply_t *
s_finding_evidenced (uint64_t audit, const char *control, const char *severity, bool remediate,
                     const char *deadline_on, const char *evidence_on)
{
    return s_finding_as ("auditor", audit, control, severity, remediate, deadline_on, evidence_on);
}

static lg_reply_t *
s_finding (uint64_t audit, const char *control, const char *severity, bool remediate,
           const char *deadline_on)
{
    return s_finding_evidenced (audit, control, severity, remediate, deadline_on, "2027-02-15");
}

//  A finding that requires remediation; its request's id
static uint64_t
s_remediation (uint64_t audit, const char *control, const char *severity, const char *deadline_on)
{
    lg_reply_t *reply = s_finding (audit, control, severity, true, deadline_on);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_non_null (reply->finding->remediation);
    uint64_t id = reply->finding->remediation->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

static lg_reply_t *
s_report_text (const char *who, uint64_t remediation, const char *text)
{
    Lgwan__V1__Evidence evidence = LGWAN__V1__EVIDENCE__INIT;
    evidence.reference = (char *) "是正報告書 第3号";
    evidence.effective_on = (char *) "2027-03-02";
    Lgwan__V1__Evidence *list [] = { &evidence };
    Lgwan__V1__RemediationReport r = LGWAN__V1__REMEDIATION_REPORT__INIT;
    r.remediation = remediation;
    r.report = (char *) text;
    r.evidence = list;
    r.n_evidence = 1;
    return s_ask (who, AU_BODY (REMEDIATION_REPORT), &r);
}

static lg_reply_t *
s_report (const char *who, uint64_t remediation)
{
    return s_report_text (who, remediation, "ファイアウォールの設定を是正した");
}

static lg_reply_t *
s_verify_as (const char *who, uint64_t remediation, bool sufficient, const char *reason)
{
    Lgwan__V1__RemediationVerify v = LGWAN__V1__REMEDIATION_VERIFY__INIT;
    v.remediation = remediation;
    v.sufficient = sufficient;
    v.reason = (char *) reason;
    return s_ask_why (who, "", AU_BODY (REMEDIATION_VERIFY), &v);
}

static lg_reply_t *
s_verify (uint64_t remediation, bool sufficient, const char *reason)
{
    return s_verify_as ("auditor", remediation, sufficient, reason);
}

static char *
s_status (uint64_t remediation)
{
    char *sql = zsys_sprintf ("SELECT status FROM audit.remediation_requests WHERE id = %" PRIu64,
                              remediation);
    char *status = rf_sql_text (sql);
    zstr_free (&sql);
    return status;
}

static void
s_assert_status (uint64_t remediation, const char *expected)
{
    char *status = s_status (remediation);
    assert_non_null (status);
    assert_string_equal (status, expected);
    free (status);
}

//  ---------------------------------------------------------------------------
//  Setup

static uint64_t
s_registered (Lgwan__V1__RoleHolder **holders, size_t n)
{
    char name [32];
    rf_service_name (name, sizeof name);
    lg_reply_t *reply = rf_service_register (name, "監査対象サービス", holders, n);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t id = reply->service->service->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_service_approve (id);
    return id;
}

//  A service of one provider holding the content, hosting and facility roles
static uint64_t
s_facility_service (uint64_t provider)
{
    Lgwan__V1__RoleHolder holder [3] = { LGWAN__V1__ROLE_HOLDER__INIT, LGWAN__V1__ROLE_HOLDER__INIT,
                                         LGWAN__V1__ROLE_HOLDER__INIT };
    holder [0].provider = holder [1].provider = holder [2].provider = provider;
    holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    holder [2].role = LGWAN__V1__SERVICE_ROLE__ROLE_FACILITY;
    Lgwan__V1__RoleHolder *holders [] = { &holder [0], &holder [1], &holder [2] };
    return s_registered (holders, 3);
}

//  A change filed in the registry (as operator) and in effect today: an
//  application is approved by the reviewer, a notification is at once
static void
s_change_in_effect (Lgwan__V1__ChangeFile *change, const char *why)
{
    rf_change_in_effect ("operator", change, why);
}

//  Cancel a provider (an application) or a service (a notification) today
static void
s_cancel (const char *subject, uint64_t id)
{
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = streq (subject, "provider")? LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION:
                                               LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    change.subject = (char *) subject;
    change.id = id;
    change.cancel = true;
    s_change_in_effect (&change, "事業撤退");
}

static int
s_setup (void **state)
{
    (void) state;
    rf_setup ("audit");
    s_service1 = s_facility_service (1);
    s_service2 = rf_registered_service (2, 2);
    s_audit_start ();
    rf_wait_sql (2, "SELECT count(*) FROM audit.providers WHERE status = 'qualified'");
    rf_wait_sql (5, "SELECT count(*) FROM audit.service_holders");
    return 0;
}

static int
s_teardown (void **state)
{
    lg_test_proc_teardown (&s_audit);
    return rf_teardown (state);
}

//  ---------------------------------------------------------------------------
//  Tests

/* REQ R5.1 R11.1 R14.1: the catalogue is seeded with the security measures
   (R5.1), the hosting provider's eight duties (R11.1) and the facility
   provider's duty (R14.1), each saying which role it applies to; the
   operating body adds its own; findings are recorded against them, and a
   control never applies to a provider without its role */
static void
test_r5_1_r11_1_r14_1_catalogue_and_findings (void **state)
{
    (void) state;
    Lgwan__V1__ControlList list = LGWAN__V1__CONTROL_LIST__INIT;
    lg_reply_t *reply = s_ask ("auditor", AU_BODY (CONTROL_LIST), &list);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    int r5 = 0, r11 = 0, r14 = 0;
    for (size_t i = 0; i < reply->control_list->n_controls; i++) {
        const Lgwan__V1__Control *c = reply->control_list->controls [i];
        assert_string_equal (c->origin, "seed");
        if (streq (c->requirement, "R5.1")) {
            assert_string_equal (c->applies_to, "any");
            r5++;
        }
        if (streq (c->requirement, "R11.1")) {
            assert_string_equal (c->applies_to, "hosting");
            r11++;
        }
        if (streq (c->requirement, "R14.1")) {
            assert_string_equal (c->applies_to, "facility");
            r14++;
        }
    }
    assert_int_equal (r5, 3);           //  institutional, technical, operational
    assert_int_equal (r11, 8);          //  the eight duties
    assert_int_equal (r14, 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  The operating body's own control
    Lgwan__V1__ControlAdd add = LGWAN__V1__CONTROL_ADD__INIT;
    add.code = (char *) "JLIS-LOG-1";
    add.requirement = (char *) "R5.1";
    add.applies_to = (char *) "hosting";
    add.title = (char *) "アクセスログを1年間保存する";
    reply = s_ask ("operator", AU_BODY (CONTROL_ADD), &add);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->control->control->origin, "operating_body");
    assert_string_equal (reply->control->control->created_by, "operator:alice");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_ask ("operator", AU_BODY (CONTROL_ADD), &add), RF_CODE (ALREADY_EXISTS), "");
    add.code = (char *) "JLIS-LOG-2";
    add.applies_to = (char *) "cloud";
    rf_refused (s_ask ("operator", AU_BODY (CONTROL_ADD), &add), RF_CODE (INVALID_ARGUMENT), "R5.1");
    //  Its requirement is an ID: refusals name it as their rule
    add.applies_to = (char *) "hosting";
    const char *not_ids [] = { "foo", "R5", "R.1", "R5.1a", "X5.1", "r5.1", "R5.1.2", "X." };
    for (size_t i = 0; i < sizeof not_ids / sizeof not_ids [0]; i++) {
        add.requirement = (char *) not_ids [i];
        lg_reply_t *refused = s_ask ("operator", AU_BODY (CONTROL_ADD), &add);
        if (refused->status->code != LGWAN__V1__CODE__INVALID_ARGUMENT)
            fail_msg ("requirement \"%s\": %d %s", not_ids [i], refused->status->code,
                      refused->status->message);
        rf_refused (refused, RF_CODE (INVALID_ARGUMENT), "R5.1");
    }
    add.requirement = (char *) "R5.1";
    rf_refused (s_ask ("provider1", AU_BODY (CONTROL_ADD), &add),
                RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.controls"), 14);

    //  A planned audit of provider 1 and findings against each kind
    uint64_t services [] = { s_service1 };
    reply = s_open ("auditor", "plan", 1, services, 1, "", "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    s_plan_audit = reply->audit->audit->id;
    assert_string_equal (reply->audit->audit->origin, "plan");
    assert_string_equal (reply->audit->audit->status, "open");
    assert_string_equal (reply->audit->audit->opened_by, "auditor:aki");
    assert_int_equal (reply->audit->audit->n_services, 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    reply = s_finding (s_plan_audit, "R11.1-4", "high", true, "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    //  R15.2: high = 30 days from 2027-03-01 (JST), to the end of that day
    assert_string_equal (reply->finding->remediation->deadline_on, "2027-03-31");
    assert_string_equal (reply->finding->remediation->deadline, "2027-03-31T15:00:00.000000Z");
    assert_string_equal (reply->finding->remediation->status, "requested");
    assert_int_equal (reply->finding->finding->n_evidence, 1);
    assert_string_equal (reply->finding->finding->evidence [0]->effective_on, "2027-02-15");
    assert_string_equal (reply->finding->finding->evidence [0]->recorded_at, RF_NOW_TEXT);
    s_remediation_hosting = reply->finding->remediation->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);

    reply = s_finding (s_plan_audit, "R5.1-technical", "medium", false, "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_null (reply->finding->remediation);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    s_remediation_facility = s_remediation (s_plan_audit, "R14.1", "low", "");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests WHERE id = %" PRIu64
                             " AND audit.deadline_day (deadline) = '2027-05-30'", s_remediation_facility), 1);

    //  Unknown control or severity: refused, nothing recorded
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    long requests = rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests");
    rf_refused (s_finding (s_plan_audit, "R99.9", "high", true, ""), RF_CODE (INVALID_ARGUMENT), "R5.1");
    rf_refused (s_finding (s_plan_audit, "R11.1-4", "severe", true, ""),
                RF_CODE (INVALID_ARGUMENT), "X.3");
    rf_refused (s_finding (s_plan_audit, "R11.1-4", "info", true, ""), RF_CODE (INVALID_ARGUMENT), "R15.2");
    rf_refused (s_finding (s_plan_audit, "R11.1-4", "high", true, "2027-02-28"),
                RF_CODE (INVALID_ARGUMENT), "R15.2");

    //  R14.1 is the facility provider's: provider 2 holds no facility role
    uint64_t other = s_plan (2);
    rf_refused (s_finding (other, "R14.1", "low", false, ""), RF_CODE (INVALID_ARGUMENT), "R14.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests"), requests);
    //  ... and R11.1 the hosting provider's, which provider 2 is
    reply = s_finding (other, "R11.1-5", "critical", false, "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox WHERE body_case = %d",
                             AU_EVENT (FINDING_RECORDED)), 4);
}

/* REQ R15.1: an audit at a using body's request records that body's local
   government code, checked for its check digit; the origin is one of plan,
   request, incident; the scope is a provider and services audit knows */
static void
test_r15_1_request_records_using_body (void **state)
{
    (void) state;
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    uint64_t services [] = { s_service1 };
    rf_refused (s_open ("operator", "request", 1, services, 1, "131040", ""),
                RF_CODE (INVALID_ARGUMENT), "R15.1");
    rf_refused (s_open ("operator", "request", 1, services, 1, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R15.1");
    rf_refused (s_open ("operator", "plan", 1, services, 1, "131041", ""),
                RF_CODE (INVALID_ARGUMENT), "R15.1");
    rf_refused (s_open ("operator", "whim", 1, services, 1, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R15.1");
    uint64_t not_held [] = { s_service2 };
    rf_refused (s_open ("operator", "plan", 1, not_held, 1, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R15.1");
    rf_refused (s_open ("operator", "plan", 99, NULL, 0, "", ""), RF_CODE (NOT_FOUND), "");
    rf_refused (s_open ("provider1", "plan", 1, NULL, 0, "", ""),
                RF_CODE (PERMISSION_DENIED), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);

    lg_reply_t *reply = s_open ("operator", "request", 1, services, 1, "131041", "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->audit->audit->origin, "request");
    assert_string_equal (reply->audit->audit->lgcode, "131041");
    uint64_t id = reply->audit->audit->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    char *sql = zsys_sprintf ("SELECT origin || ' ' || lgcode FROM audit.audits WHERE id = %" PRIu64, id);
    char *recorded = rf_sql_text (sql);
    assert_string_equal (recorded, "request 131041");
    free (recorded);
    zstr_free (&sql);
    //  Readable back, by the provider audited too
    Lgwan__V1__AuditGet get = LGWAN__V1__AUDIT_GET__INIT;
    get.audit = id;
    reply = s_ask ("provider1", AU_BODY (AUDIT_GET), &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->audit->audit->lgcode, "131041");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_ask ("provider2", AU_BODY (AUDIT_GET), &get), RF_CODE (NOT_FOUND), "");

    //  Lists: a provider names only itself, and without a name gets its own
    Lgwan__V1__AuditList list = LGWAN__V1__AUDIT_LIST__INIT;
    list.provider = 1;
    rf_refused (s_ask ("provider2", AU_BODY (AUDIT_LIST), &list),
                RF_CODE (PERMISSION_DENIED), "X.3");
    reply = s_ask ("provider1", AU_BODY (AUDIT_LIST), &list);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_true (reply->audit_list->n_audits >= 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    list.provider = 0;
    reply = s_ask ("provider2", AU_BODY (AUDIT_LIST), &list);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    for (size_t i = 0; i < reply->audit_list->n_audits; i++)
        assert_int_equal (reply->audit_list->audits [i]->provider, 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__RemediationList remediations = LGWAN__V1__REMEDIATION_LIST__INIT;
    remediations.provider = 1;
    rf_refused (s_ask ("provider2", AU_BODY (REMEDIATION_LIST), &remediations),
                RF_CODE (PERMISSION_DENIED), "X.3");
}

/* REQ R16.1: only the orchestrator (service role) opens an incident audit,
   which at once requests remediation against the R16.1 control with the
   policy's default deadline (14 days); findings come later */
static void
test_r16_1_incident_audit (void **state)
{
    (void) state;
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    rf_refused (s_open ("operator", "incident", 1, NULL, 0, "", "INC-7"),
                RF_CODE (PERMISSION_DENIED), "R16.1");
    rf_refused (s_open ("auditor", "incident", 1, NULL, 0, "", "INC-7"),
                RF_CODE (PERMISSION_DENIED), "R16.1");
    rf_refused (s_open ("service", "incident", 1, NULL, 0, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R16.1");
    //  The other origins are the staff's
    rf_refused (s_open ("service", "plan", 1, NULL, 0, "", ""),
                RF_CODE (PERMISSION_DENIED), "R15.1");
    rf_refused (s_open ("service", "request", 1, NULL, 0, "131041", ""),
                RF_CODE (PERMISSION_DENIED), "R15.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);
    lg_reply_t *reply = s_open ("service", "incident", 1, NULL, 0, "", "INC-7");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__Audit *a = reply->audit->audit;
    assert_string_equal (a->incident, "INC-7");
    assert_int_equal (a->n_remediations, 1);
    assert_string_equal (a->remediations [0]->control, "R16.1");
    assert_int_equal (a->remediations [0]->finding, 0);
    assert_string_equal (a->remediations [0]->deadline_on, "2027-03-15");
    s_incident_remediation = a->remediations [0]->id;
    uint64_t audit = a->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_finding (audit, "R11.1-5", "critical", false, "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox WHERE body_case = %d",
                             AU_EVENT (REMEDIATION_REQUESTED)), 3);
}

/* REQ R15.2 R15.3 X.3: the provider reports remediation for itself only; an
   auditor verifies a reported request, as insufficient with a reason (the
   orchestrator's cue to suspend, R15.3) or as sufficient; an audit closes
   only when every request is verified */
static void
test_r15_2_report_and_verify (void **state)
{
    (void) state;
    uint64_t id = s_remediation_hosting;
    //  Another provider's request is one that does not exist to provider 2
    //  (X.3: it said whose the request was)
    lg_reply_t *theirs = s_report ("provider2", id), *none = s_report ("provider2", 999999);
    rf_expect (theirs, RF_CODE (NOT_FOUND), "");
    rf_expect (none, RF_CODE (NOT_FOUND), "");
    char *expected = zsys_sprintf ("no remediation request %" PRIu64, id);
    assert_string_equal (theirs->status->message, expected);
    assert_string_equal (none->status->message, "no remediation request 999999");
    zstr_free (&expected);
    lgwan__v1__reply__free_unpacked (theirs, NULL);
    lgwan__v1__reply__free_unpacked (none, NULL);
    rf_refused (s_report ("operator", id), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_verify (id, true, "確認"), RF_CODE (FAILED_PRECONDITION), "R15.2");
    s_assert_status (id, "requested");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.evidence WHERE remediation_id = %" PRIu64, id), 0);

    lg_reply_t *reply = s_report ("provider1", id);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->remediation->remediation->status, "reported");
    assert_string_equal (reply->remediation->remediation->reported_by, "provider:1");
    assert_int_equal (reply->remediation->remediation->n_evidence, 1);
    assert_string_equal (reply->remediation->remediation->evidence [0]->effective_on, "2027-03-02");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  R15.3: insufficient needs a reason, and is an event
    rf_refused (s_verify (id, false, ""), RF_CODE (INVALID_ARGUMENT), "R15.3");
    s_assert_status (id, "reported");
    reply = s_verify (id, false, "外部からの到達性が残っている");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->remediation->remediation->status, "insufficient");
    assert_string_equal (reply->remediation->remediation->verified_by, "auditor:aki");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_INSUFFICIENT), id, 0), 1);
    rf_refused (s_verify (id, true, "確認"), RF_CODE (FAILED_PRECONDITION), "R15.2");

    //  Reported again, accepted
    rf_ok (s_report_text ("provider1", id, "外部からの到達経路も閉じた"));
    reply = s_verify (id, true, "再検査で到達性なしを確認");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->remediation->remediation->status, "accepted");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  X.1: every report and verdict kept, in order; the second report
    //  overwrote the first, which the insufficient verdict was about
    Lgwan__V1__RemediationGet get = LGWAN__V1__REMEDIATION_GET__INIT;
    get.remediation = id;
    reply = s_ask ("provider1", AU_BODY (REMEDIATION_GET), &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__Remediation *r = reply->remediation->remediation;
    const char *steps [][3] = {
        { "reported", "provider:1", "ファイアウォールの設定を是正した" },
        { "insufficient", "auditor:aki", "外部からの到達性が残っている" },
        { "reported", "provider:1", "外部からの到達経路も閉じた" },
        { "accepted", "auditor:aki", "再検査で到達性なしを確認" }
    };
    assert_int_equal (r->n_steps, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal (r->steps [i]->action, steps [i][0]);
        assert_string_equal (r->steps [i]->actor, steps [i][1]);
        assert_string_equal (r->steps [i]->text, steps [i][2]);
        assert_true (*r->steps [i]->at);
    }
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_ACCEPTED), id, 0), 1);
    rf_refused (s_verify (id, true, "確認"), RF_CODE (FAILED_PRECONDITION), "R15.2");
    rf_refused (s_report ("provider1", id), RF_CODE (FAILED_PRECONDITION), "R15.2");

    //  The facility request is still open: the audit cannot close
    Lgwan__V1__AuditClose close = LGWAN__V1__AUDIT_CLOSE__INIT;
    close.audit = s_plan_audit;
    close.reason = (char *) "監査終了";
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_CLOSE), &close), RF_CODE (FAILED_PRECONDITION), "R15.2");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                             " AND status = 'open'", s_plan_audit), 1);
}

/* REQ R15.2: the per-provider compliance view: open findings, overdue
   requests, last audit; a provider sees only its own */
static void
test_r15_2_compliance_view (void **state)
{
    (void) state;
    Lgwan__V1__ComplianceGet get = LGWAN__V1__COMPLIANCE_GET__INIT;
    get.provider = 1;
    lg_reply_t *reply = s_ask ("viewer", AU_BODY (COMPLIANCE_GET), &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__ComplianceReply *c = reply->compliance;
    assert_string_equal (c->provider_status, "qualified");
    assert_int_equal (c->open_findings, 1);            //  the facility finding
    assert_int_equal (c->overdue_requests, 0);
    assert_non_null (c->last_audit);
    assert_string_equal (c->last_audit->origin, "incident");
    assert_int_equal (c->n_open_requests, 2);          //  facility, incident
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_ask ("provider2", AU_BODY (COMPLIANCE_GET), &get),
                RF_CODE (PERMISSION_DENIED), "X.3");
    rf_ok (s_ask ("provider1", AU_BODY (COMPLIANCE_GET), &get));

    //  The same through lgwanctl, and a refusal's exit code (1)
    char *ctl = lg_test_lgwanctl_binary ();
    char *out = lg_test_sh_output ("LG_CERT_DIR=%s LGWANCTL_CERT=%s/clients/viewer"
                                   " LG_AUDIT_CONNECT=%s %s audit compliance --provider 1 --json",
                                   rf.certs, rf.certs, s_audit.endpoint, ctl);
    assert_non_null (strstr (out, "\"openFindings\""));
    assert_non_null (strstr (out, "\"incident\""));
    zstr_free (&out);
    assert_int_equal (lg_test_sh ("LG_CERT_DIR=%s LGWANCTL_CERT=%s/clients/auditor"
                                  " LG_AUDIT_CONNECT=%s %s finding record --audit %" PRIu64
                                  " --control R99.9 --severity high --description x"
                                  " >/dev/null 2>&1", rf.certs, rf.certs, s_audit.endpoint,
                                  ctl, s_plan_audit), 1);
    zstr_free (&ctl);
}

/* REQ R15.2 R15.3: reminders 7 days and 1 day before the deadline, once
   each, none for an offset passed before the request was made; a deadline that passes while the service is stopped gives exactly
   one RemediationOverdue after start, and still one after another restart */
static void
test_r15_3_overdue_once_across_restarts (void **state)
{
    (void) state;
    uint64_t audit = s_plan (1);
    uint64_t id = s_remediation (audit, "R11.1-7", "critical", "2027-03-10");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests WHERE id = %" PRIu64
                             " AND deadline = '2027-03-10T15:00:00Z'", id), 1);
    //  7 days before: 2027-03-03 15:00Z has passed on 2027-03-04
    rf_set_clock ("2027-03-04T00:00:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM audit.reminders_sent WHERE remediation_id = %" PRIu64, id);
    //  Made 6 days before its deadline: its 7-day reminder had passed
    uint64_t late = s_remediation (audit, "R11.1-6", "critical", "2027-03-10");
    rf_set_clock ("2027-03-10T00:00:00Z");
    rf_wait_sql (2, "SELECT count(*) FROM audit.reminders_sent WHERE remediation_id = %" PRIu64, id);
    rf_wait_sql (1, "SELECT count(*) FROM audit.reminders_sent WHERE remediation_id = %" PRIu64, late);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_REMINDER), id, 7), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_REMINDER), id, 1), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_REMINDER), late, 1), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_REMINDER), late, 0), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 0);

    //  The deadline passes while audit is down
    s_audit_stop ();
    rf_set_clock ("2027-03-12T00:00:00Z");
    s_audit_start ();
    rf_wait_sql (1, "SELECT count(*) FROM audit.remediation_requests WHERE id = %" PRIu64
                   " AND overdue_at = '2027-03-12T00:00:00Z'", id);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), late, 0), 1);
    //  The incident's request (deadline 2027-03-15) is not overdue yet
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), s_incident_remediation, 0), 0);

    //  A second request whose deadline also passes while down proves that
    //  the duty ran after the second restart
    uint64_t second = s_remediation (audit, "R11.1-8", "high", "2027-03-20");
    s_audit_stop ();
    rf_set_clock ("2027-03-25T00:00:00Z");
    s_audit_start ();
    rf_wait_sql (1, "SELECT count(*) FROM audit.remediation_requests WHERE id = %" PRIu64
                   " AND overdue_at IS NOT NULL", second);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), second, 0), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), s_incident_remediation, 0), 1);
    //  No reminder is sent for a deadline that has passed
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_REMINDER), second, 0), 0);

    //  Reported late and accepted, it leaves the view's overdue count
    Lgwan__V1__ComplianceGet get = LGWAN__V1__COMPLIANCE_GET__INIT;
    get.provider = 1;
    lg_reply_t *reply = s_ask ("viewer", AU_BODY (COMPLIANCE_GET), &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->compliance->overdue_requests, 4);      //  id, late, second, incident
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_report ("provider1", id));
    rf_ok (s_verify (id, true, "是正を確認"));
    reply = s_ask ("viewer", AU_BODY (COMPLIANCE_GET), &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->compliance->overdue_requests, 3);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R15.1: a cancelled provider's open audits are closed with that reason
   (registry CancellationEffective), their requests withdrawn, and no new
   audit opens for it. REQ R15.2: the closed audit takes no finding and is
   not closed again, refused naming R15.2 (both were refused naming no
   rule) */
static void
test_r15_1_cancelled_provider_closes_audits (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("株式会社さんばん");
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                   " AND status = 'qualified'", provider);
    uint64_t audit = s_plan (provider);
    uint64_t request = s_remediation (audit, "R5.1-operational", "high", "");
    long closed = rf_sqlf_long ("SELECT count(*) FROM audit.outbox WHERE body_case = %d",
                         AU_EVENT (AUDIT_CLOSED));

    s_cancel ("provider", provider);

    rf_wait_sql (1, "SELECT count(*) FROM audit.audits WHERE id = %" PRIu64 " AND status = 'closed'"
                   " AND close_reason = 'provider cancelled, effective 2027-03-25'", audit);
    s_assert_status (request, "withdrawn");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox WHERE body_case = %d",
                             AU_EVENT (AUDIT_CLOSED)), closed + 1);
    rf_refused (s_open ("auditor", "plan", provider, NULL, 0, "", ""),
                RF_CODE (FAILED_PRECONDITION), "R15.1");
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    rf_refused (s_finding (audit, "R5.1-operational", "high", true, ""),
                RF_CODE (FAILED_PRECONDITION), "R15.2");
    Lgwan__V1__AuditClose close = LGWAN__V1__AUDIT_CLOSE__INIT;
    close.audit = audit;
    close.reason = (char *) "もう一度";
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_CLOSE), &close),
                RF_CODE (FAILED_PRECONDITION), "R15.2");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox WHERE body_case = %d",
                             AU_EVENT (AUDIT_CLOSED)), closed + 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                                    " AND close_reason = 'provider cancelled, effective"
                                    " 2027-03-25'", audit), 1);
}

/* REQ R15.1 R15.2: audits (newest first) and remediation requests (oldest
   first) are read page by page; none is left out (both lists stopped
   silently at 1,000) */

typedef struct {
    uint64_t provider;                  //  0: all
    uint32_t limit;
    uint64_t last;                      //  the last listed
} s_pages_t;

//  One page of AuditList, newest first (lg_test_pages)
static uint64_t
s_audit_page (void *arg, uint64_t after, size_t *items, uint64_t *last_id)
{
    s_pages_t *l = (s_pages_t *) arg;
    Lgwan__V1__AuditList q = LGWAN__V1__AUDIT_LIST__INIT;
    q.after_id = after;
    q.limit = l->limit;
    lg_reply_t *reply = s_ask ("auditor", AU_BODY (AUDIT_LIST), &q);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    Lgwan__V1__AuditListReply *page = reply->audit_list;
    assert_true (page->n_audits <= (l->limit? l->limit: 50));
    for (size_t i = 0; i < page->n_audits; i++) {
        assert_true (page->audits [i]->id < l->last);
        *last_id = l->last = page->audits [i]->id;
    }
    *items = page->n_audits;
    uint64_t next = page->next_after_id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return next;
}

//  One page of RemediationList, oldest first (lg_test_pages)
static uint64_t
s_remediation_page (void *arg, uint64_t after, size_t *items, uint64_t *last_id)
{
    s_pages_t *l = (s_pages_t *) arg;
    Lgwan__V1__RemediationList q = LGWAN__V1__REMEDIATION_LIST__INIT;
    q.provider = l->provider;
    q.after_id = after;
    q.limit = l->limit;
    lg_reply_t *reply = s_ask ("auditor", AU_BODY (REMEDIATION_LIST), &q);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    Lgwan__V1__RemediationListReply *page = reply->remediation_list;
    assert_true (page->n_remediations <= (l->limit? l->limit: 50));
    for (size_t i = 0; i < page->n_remediations; i++) {
        const Lgwan__V1__Remediation *r = page->remediations [i];
        assert_true (r->id > l->last);
        *last_id = l->last = r->id;
        if (l->provider)
            assert_int_equal (r->provider, l->provider);
    }
    *items = page->n_remediations;
    uint64_t next = page->next_after_id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return next;
}

static long
s_audit_pages (uint32_t limit)
{
    s_pages_t list = { 0, limit, UINT64_MAX };
    return lg_test_pages (s_audit_page, &list);
}

static long
s_remediation_pages (uint64_t provider, uint32_t limit)
{
    s_pages_t list = { provider, limit, 0 };
    return lg_test_pages (s_remediation_page, &list);
}

static void
test_r15_1_lists_page (void **state)
{
    (void) state;
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    long remediations = rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests");
    assert_true (audits >= 3);
    assert_true (remediations >= 3);
    assert_int_equal (s_audit_pages (2), audits);
    assert_int_equal (s_audit_pages (0), audits);           //  the default page
    assert_int_equal (s_remediation_pages (0, 2), remediations);
    assert_int_equal (s_remediation_pages (0, 0), remediations);
    assert_int_equal (s_remediation_pages (1, 1),
                      rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests"
                                    " WHERE provider_id = 1"));

    //  A page larger than 500 is refused
    Lgwan__V1__AuditList list = LGWAN__V1__AUDIT_LIST__INIT;
    list.limit = 501;
    lg_reply_t *reply = s_ask ("auditor", AU_BODY (AUDIT_LIST), &list);
    assert_non_null (strstr (reply->status->message, "at most 500"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
    Lgwan__V1__RemediationList rl = LGWAN__V1__REMEDIATION_LIST__INIT;
    rl.limit = 501;
    rf_refused (s_ask ("auditor", AU_BODY (REMEDIATION_LIST), &rl), RF_CODE (INVALID_ARGUMENT),
                "X.3");
    //  After a request there is not, or (to provider 1) another provider's:
    //  NOT_FOUND, not an empty page that reads as the end of the list
    rl.limit = 0;
    rl.after_id = (uint64_t) rf_sqlf_long ("SELECT max (id) + 1 FROM audit.remediation_requests");
    reply = s_ask ("auditor", AU_BODY (REMEDIATION_LIST), &rl);
    assert_non_null (strstr (reply->status->message, "to list after"));
    rf_refused (reply, RF_CODE (NOT_FOUND), "");
    rl.after_id = (uint64_t) rf_sqlf_long ("SELECT min (id) FROM audit.remediation_requests"
                                           " WHERE provider_id <> 1");
    rf_refused (s_ask ("provider1", AU_BODY (REMEDIATION_LIST), &rl), RF_CODE (NOT_FOUND), "");
    rf_ok (s_ask ("auditor", AU_BODY (REMEDIATION_LIST), &rl));
}

//  A request to audit from a thread of its own (no cmocka asserts there),
//  asked again while it is answered busy: it waits on a lock a test holds
typedef struct {
    const char *who;
    unsigned body_case;
    void *body;
    lg_reply_t *reply;
} s_call_t;

static void *
s_call_thread (void *arg)
{
    s_call_t *call = (s_call_t *) arg;
    lg_client_t *client = lg_test_proc_client (&s_audit, rf.certs, call->who);
    lg_client_set_timeout (client, 8000, 1);
    for (int attempt = 0; attempt < 5; attempt++) {
        call->reply = lg_test_call (client, call->body_case, call->body, "監査試験");
        if (!call->reply || call->reply->status->code != LGWAN__V1__CODE__UNAVAILABLE)
            break;
        lgwan__v1__reply__free_unpacked (call->reply, NULL);
        call->reply = NULL;
    }
    lg_client_destroy (&client);
    return NULL;
}

//  Run call in a thread while holder's transaction, begun with sql, holds
//  what it waits for (meanwhile, unless NULL, runs once it holds it, before
//  the call; waiting_fn once the call waits for it); commit once the audit service's session waits for a
//  lock (1.5 s at most, within the 2 s a worker waits, lg_db.h note 2a),
//  which must have happened: a call that came after the COMMIT gets the
//  same reply and shows nothing of the race. The reply, or NULL
static lg_reply_t *
s_call_while_held_after (s_call_t *call, const char *sql, void (*meanwhile) (void),
                         void (*waiting_fn) (void))
{
    PGconn *holder = PQconnectdb (rf.admin);
    PGresult *res = PQexec (holder, sql);
    bool held = PQresultStatus (res) == PGRES_COMMAND_OK || PQresultStatus (res) == PGRES_TUPLES_OK;
    PQclear (res);
    if (held && meanwhile)
        meanwhile ();
    pthread_t thread;
    int started = held? pthread_create (&thread, NULL, s_call_thread, call): -1;
    long waiting = started == 0? lg_test_wait_lock_waiters (rf.admin, "audit", 1, 1500): 0;
    if (waiting == 1 && waiting_fn)
        waiting_fn ();
    res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
    if (started == 0)
        pthread_join (thread, NULL);
    assert_true (held);
    assert_int_equal (started, 0);
    assert_int_equal (waiting, 1);
    return call->reply;
}

static lg_reply_t *
s_call_while_held (s_call_t *call, const char *sql)
{
    return s_call_while_held_after (call, sql, NULL, NULL);
}

/* REQ R15.2: an audit is not closed while a finding recorded at the same
   moment asks for a remediation. A session does what FindingRecord does
   (the audit locked, its request inserted) and commits while AuditClose
   waits on the audit; the close then counts that request and is refused.
   Before, the close counted as of the moment it began, and closed the
   audit with a request open */
static void
test_r15_2_close_sees_a_finding_recorded_meanwhile (void **state)
{
    (void) state;
    uint64_t audit = s_plan (2);
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM audit.audits WHERE id = %" PRIu64 " FOR UPDATE;"
                              " INSERT INTO audit.remediation_requests (audit_id, provider_id,"
                              " control_code, deadline, created_at) SELECT %" PRIu64 ", 2,"
                              " min (code), now () + interval '30 days', now () FROM audit.controls",
                              audit, audit);
    Lgwan__V1__AuditClose c = LGWAN__V1__AUDIT_CLOSE__INIT;
    c.audit = audit;
    c.reason = (char *) "監査終了";
    s_call_t call = { "auditor", AU_BODY (AUDIT_CLOSE), &c, NULL };
    lg_reply_t *reply = s_call_while_held (&call, sql);
    zstr_free (&sql);
    assert_non_null (reply);
    rf_expect (reply, LGWAN__V1__CODE__FAILED_PRECONDITION, "R15.2");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                                    " AND status = 'open'", audit), 1);
}

/* REQ R14.1 R15.1: audit's copy of a service follows a change of its
   holders: the registry announces the service again (ServiceRegistered)
   with the holders as they are now, and the copy takes them in place of
   the old. The provider taken off is then out of an audit's scope (R15.1)
   and gets no finding of the facility role it no longer holds (R14.1); the
   new holder does. Before, the copy only added holders, and the old one
   kept both */
static void
test_r14_1_r15_1_holders_replaced_follow_the_registry (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("株式会社よんばん設備");
    uint64_t service = s_facility_service (provider);
    rf_wait_sql (3, "SELECT count(*) FROM audit.service_holders WHERE service_id = %" PRIu64
                    " AND provider_id = %" PRIu64, service, provider);
    uint64_t services [] = { service };
    lg_reply_t *reply = s_open ("auditor", "plan", provider, services, 1, "", "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t audit = reply->audit->audit->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_finding (audit, "R14.1", "low", false, ""));

    //  All three roles move to provider 2
    Lgwan__V1__RoleHolder holder [3] = { LGWAN__V1__ROLE_HOLDER__INIT, LGWAN__V1__ROLE_HOLDER__INIT,
                                         LGWAN__V1__ROLE_HOLDER__INIT };
    holder [0].provider = holder [1].provider = holder [2].provider = 2;
    holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    holder [2].role = LGWAN__V1__SERVICE_ROLE__ROLE_FACILITY;
    Lgwan__V1__RoleHolder *holders [] = { &holder [0], &holder [1], &holder [2] };
    Lgwan__V1__ServicePatch patch = LGWAN__V1__SERVICE_PATCH__INIT;
    patch.holders = holders;
    patch.n_holders = 3;
    patch.replace_holders = true;
    Lgwan__V1__ChangeFile change = LGWAN__V1__CHANGE_FILE__INIT;
    change.kind = LGWAN__V1__CHANGE_KIND__CHANGE_APPLICATION;
    change.subject = (char *) "service";
    change.id = service;
    change.service = &patch;
    s_change_in_effect (&change, "事業譲渡");
    rf_wait_sql (3, "SELECT count(*) FROM audit.service_holders WHERE service_id = %" PRIu64
                    " AND provider_id = 2", service);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.service_holders"
                                    " WHERE service_id = %" PRIu64 " AND provider_id = %" PRIu64,
                                    service, provider), 0);

    //  The old holder: out of scope, no facility finding; nothing recorded
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    rf_refused (s_open ("auditor", "plan", provider, services, 1, "", ""),
                RF_CODE (INVALID_ARGUMENT), "R15.1");
    rf_refused (s_finding (audit, "R14.1", "low", false, ""), RF_CODE (INVALID_ARGUMENT), "R14.1");
    rf_refused (s_finding (audit, "R11.1-4", "low", false, ""), RF_CODE (INVALID_ARGUMENT), "R11.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    //  The new one: in scope, and the facility provider now
    reply = s_open ("auditor", "plan", 2, services, 1, "", "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    audit = reply->audit->audit->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_finding (audit, "R14.1", "low", false, ""));
}

/* REQ R14.1 R15.1: a service no longer in effect scopes no audit (R15.1,
   FAILED_PRECONDITION) and makes no control of its roles apply (R14.1,
   R11.1): one the registry cancelled (CancellationEffective of kind
   service), and one whose hosting provider is cancelled, which ended with
   it. Before, audit marked the cancelled service and both checks passed */
static void
test_r14_1_r15_1_services_no_longer_in_effect (void **state)
{
    (void) state;
    //  A service cancelled
    uint64_t provider = rf_qualified_provider ("株式会社ごばん設備");
    uint64_t service = s_facility_service (provider);
    rf_wait_sql (3, "SELECT count(*) FROM audit.service_holders WHERE service_id = %" PRIu64,
                 service);
    uint64_t audit = s_plan (provider);
    s_cancel ("service", service);
    rf_wait_sql (1, "SELECT count(*) FROM audit.services WHERE id = %" PRIu64
                    " AND status = 'cancelled'", service);
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    uint64_t services [] = { service };
    rf_refused (s_open ("auditor", "plan", provider, services, 1, "", ""),
                RF_CODE (FAILED_PRECONDITION), "R15.1");
    rf_refused (s_finding (audit, "R14.1", "low", false, ""), RF_CODE (INVALID_ARGUMENT), "R14.1");
    rf_refused (s_finding (audit, "R11.1-4", "low", false, ""), RF_CODE (INVALID_ARGUMENT), "R11.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    //  A control for any provider still applies
    rf_ok (s_finding (audit, "R5.1-technical", "low", false, ""));

    //  A service whose hosting provider is cancelled: its facility provider
    uint64_t hosting = rf_qualified_provider ("株式会社ろくばん");
    uint64_t facility = rf_qualified_provider ("株式会社ななばん設備");
    Lgwan__V1__RoleHolder holder [3] = { LGWAN__V1__ROLE_HOLDER__INIT, LGWAN__V1__ROLE_HOLDER__INIT,
                                         LGWAN__V1__ROLE_HOLDER__INIT };
    holder [0].provider = holder [1].provider = hosting;
    holder [2].provider = facility;
    holder [0].role = LGWAN__V1__SERVICE_ROLE__ROLE_APPLICATION_CONTENT;
    holder [1].role = LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING;
    holder [2].role = LGWAN__V1__SERVICE_ROLE__ROLE_FACILITY;
    Lgwan__V1__RoleHolder *holders [] = { &holder [0], &holder [1], &holder [2] };
    service = s_registered (holders, 3);
    rf_wait_sql (3, "SELECT count(*) FROM audit.service_holders WHERE service_id = %" PRIu64,
                 service);
    services [0] = service;
    lg_reply_t *reply = s_open ("auditor", "plan", facility, services, 1, "", "");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    audit = reply->audit->audit->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_ok (s_finding (audit, "R14.1", "low", false, ""));
    s_cancel ("provider", hosting);
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'cancelled'", hosting);
    findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    rf_refused (s_open ("auditor", "plan", facility, services, 1, "", ""),
                RF_CODE (FAILED_PRECONDITION), "R15.1");
    rf_refused (s_finding (audit, "R14.1", "low", false, ""), RF_CODE (INVALID_ARGUMENT), "R14.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
}

/* REQ R15.2: a remediation carries a deadline, so a deadline day given is a
   real day YYYY-MM-DD, not ended and at most the policy's 365 days ahead.
   'infinity' was taken by PostgreSQL's date input: a request never overdue
   and never reminded of; 'today' was the server's day, not the business
   clock's. Evidence days and an audit's dates are days too. Each refusal
   names R15.2 (R15.1 for the audit) and records nothing */
static void
test_r15_2_deadline_is_a_day_within_the_policy (void **state)
{
    (void) state;
    rf_set_clock ("2027-03-25T00:00:00Z");              //  09:00 on 03-25 in Tokyo
    uint64_t audit = s_plan (1);
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    long requests = rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests");
    const char *bad [] = { "infinity", "today", "2027-02-30", "2027-4-01", " 2027-04-01",
                           "2027-04-01 ", "2027-04-01T00:00:00Z", "2999-12-31", "2028-03-25" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        lg_reply_t *reply = s_finding (audit, "R11.1-4", "high", true, bad [i]);
        if (reply->status->code != LGWAN__V1__CODE__INVALID_ARGUMENT)
            fail_msg ("deadline_on \"%s\": %d %s", bad [i], reply->status->code,
                      reply->status->message);
        rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "R15.2");
    }
    rf_refused (s_finding_evidenced (audit, "R11.1-4", "high", true, "", "infinity"),
                RF_CODE (INVALID_ARGUMENT), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests"), requests);
    //  365 days from 2027-03-25 (JST) ends with 2028-03-24
    lg_reply_t *reply = s_finding (audit, "R11.1-4", "high", true, "2028-03-24");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->finding->remediation->deadline_on, "2028-03-24");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    Lgwan__V1__AuditOpen o = LGWAN__V1__AUDIT_OPEN__INIT;
    o.origin = (char *) "plan";
    o.provider = 1;
    o.starts_on = (char *) "infinity";
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    o.starts_on = (char *) "2027-04-01";
    o.ends_on = (char *) "2027-04-31";
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    //  Ending before it starts: refused as the dates, not by a constraint
    o.starts_on = (char *) "2027-04-02";
    o.ends_on = (char *) "2027-04-01";
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);
}

/* REQ R16.1: one incident audit per incident. The orchestrator's saga asks
   again with a new request_id when it lost the answer: it gets the audit
   opened first, with its one R16.1 request, and nothing is opened,
   requested or announced again; the same incident for another provider is
   ALREADY_EXISTS. Before, each call opened another incident audit and
   another remediation request */
static void
test_r16_1_one_incident_audit_per_incident (void **state)
{
    (void) state;
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    long requests = rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests");
    long events = rf_sqlf_long ("SELECT count(*) FROM audit.outbox");
    //  INC-7 was opened by test_r16_1_incident_audit
    lg_reply_t *reply = s_open ("service", "incident", 1, NULL, 0, "", "INC-7");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__Audit *a = reply->audit->audit;
    assert_string_equal (a->incident, "INC-7");
    assert_int_equal (a->n_remediations, 1);
    assert_int_equal (a->remediations [0]->id, s_incident_remediation);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    rf_refused (s_open ("service", "incident", 2, NULL, 0, "", "INC-7"),
                RF_CODE (ALREADY_EXISTS), "R16.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests"), requests);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox"), events);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits WHERE incident = 'INC-7'"), 1);
    //  Another incident opens its own
    reply = s_open ("service", "incident", 1, NULL, 0, "", "INC-8");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->audit->audit->n_remediations, 1);
    assert_true (reply->audit->audit->remediations [0]->id != s_incident_remediation);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Two calls at once: a session opens INC-9 and commits while the
    //  service's call waits on the index; the call answers with that audit
    Lgwan__V1__AuditOpen o = LGWAN__V1__AUDIT_OPEN__INIT;
    o.origin = (char *) "incident";
    o.provider = 1;
    o.incident = (char *) "INC-9";
    s_call_t call = { "service", AU_BODY (AUDIT_OPEN), &o, NULL };
    reply = s_call_while_held (&call, "BEGIN; INSERT INTO audit.audits (origin, provider_id,"
                               " incident, opened_by, opened_at) VALUES ('incident', 1, 'INC-9',"
                               " 'service:other', now ())");
    assert_non_null (reply);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->audit->audit->opened_by, "service:other");
    assert_int_equal (reply->audit->audit->n_remediations, 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits WHERE incident = 'INC-9'"), 1);
}

/* REQ R15.1 R15.2 X.3: a provider reads only its own audits and requests,
   and learns nothing of another's: AuditGet and RemediationGet of another
   provider's answer as for an id that does not exist (NOT_FOUND, the same
   message), and so does a RemediationList page after another provider's
   request. Before, the gets answered
   PERMISSION_DENIED for an id that exists, and the page held the caller's
   requests whose deadline came after that request's */
static void
test_r15_1_another_providers_records_are_not_found (void **state)
{
    (void) state;
    uint64_t missing = 1 + (uint64_t) rf_sqlf_long ("SELECT max (id) FROM audit.audits")
                         + (uint64_t) rf_sqlf_long ("SELECT max (id) FROM audit.remediation_requests");
    struct { unsigned body_case; uint64_t id; } asked [] = {
        { AU_BODY (AUDIT_GET), s_plan_audit }, { AU_BODY (AUDIT_GET), missing },
        { AU_BODY (REMEDIATION_GET), s_remediation_facility },
        { AU_BODY (REMEDIATION_GET), missing }
    };
    for (size_t i = 0; i < sizeof asked / sizeof asked [0]; i++) {
        Lgwan__V1__AuditGet audit = LGWAN__V1__AUDIT_GET__INIT;
        Lgwan__V1__RemediationGet remediation = LGWAN__V1__REMEDIATION_GET__INIT;
        audit.audit = remediation.remediation = asked [i].id;
        bool of_audit = asked [i].body_case == AU_BODY (AUDIT_GET);
        lg_reply_t *reply = s_ask ("provider2", asked [i].body_case,
                                   of_audit? (void *) &audit: (void *) &remediation);
        char *expected = zsys_sprintf ("%s %" PRIu64, of_audit? "no audit": "no remediation request",
                                       asked [i].id);
        if (!streq (reply->status->message, expected))
            fail_msg ("%s: expected \"%s\", got %d \"%s\"", of_audit? "AuditGet": "RemediationGet",
                      expected, reply->status->code, reply->status->message);
        zstr_free (&expected);
        rf_refused (reply, RF_CODE (NOT_FOUND), "");
    }
    //  Provider 1 still reads its own
    Lgwan__V1__RemediationGet get = LGWAN__V1__REMEDIATION_GET__INIT;
    get.remediation = s_remediation_facility;
    rf_ok (s_ask ("provider1", AU_BODY (REMEDIATION_GET), &get));

    //  A page of provider 2's requests after provider 1's (deadline
    //  2027-05-30) or after none: both NOT_FOUND, in the same words, though
    //  provider 2 has one due 2027-12-31 (both were empty pages, which read
    //  as the end of the list)
    uint64_t audit = s_plan (2);
    uint64_t own = s_remediation (audit, "R11.1-4", "high", "2027-12-31");
    uint64_t after [] = { s_remediation_facility, missing };
    for (size_t i = 0; i < 2; i++) {
        Lgwan__V1__RemediationList list = LGWAN__V1__REMEDIATION_LIST__INIT;
        list.after_id = after [i];
        lg_reply_t *reply = s_ask ("provider2", AU_BODY (REMEDIATION_LIST), &list);
        char *expected = zsys_sprintf ("no remediation request %" PRIu64 " to list after",
                                       after [i]);
        if (!streq (reply->status->message, expected))
            fail_msg ("a page after request %" PRIu64 ": expected \"%s\", got %d \"%s\"",
                      after [i], expected, reply->status->code, reply->status->message);
        zstr_free (&expected);
        rf_refused (reply, RF_CODE (NOT_FOUND), "");
    }
    //  ... and after its own, its next
    Lgwan__V1__RemediationList list = LGWAN__V1__REMEDIATION_LIST__INIT;
    list.limit = 500;
    lg_reply_t *reply = s_ask ("provider2", AU_BODY (REMEDIATION_LIST), &list);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    bool listed = false;
    for (size_t i = 0; i < reply->remediation_list->n_remediations; i++)
        listed |= reply->remediation_list->remediations [i]->id == own;
    assert_true (listed);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R15.1 X.1: an audit records its auditors as named: one named null
   (a valid name) was written unquoted into an array literal and stored as
   SQL NULL, so the audit showed no such auditor */
static void
test_r15_1_auditor_named_null_is_recorded (void **state)
{
    (void) state;
    Lgwan__V1__AuditOpen o = LGWAN__V1__AUDIT_OPEN__INIT;
    o.origin = (char *) "plan";
    o.provider = 1;
    char *auditors [] = { (char *) "null", (char *) "aki", (char *) "NULL" };
    o.auditors = auditors;
    o.n_auditors = 3;
    lg_reply_t *reply = s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__Audit *a = reply->audit->audit;
    assert_int_equal (a->n_auditors, 3);
    assert_string_equal (a->auditors [0], "null");
    assert_string_equal (a->auditors [1], "aki");
    assert_string_equal (a->auditors [2], "NULL");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                                    " AND auditors = ARRAY['null', 'aki', 'NULL']", a->id), 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R15.1 R15.3 R16.1: the requests withdrawn because their provider was
   cancelled are announced, each with RemediationWithdrawn and the reason:
   the orchestrator waiting for a request to be accepted (to lift a
   suspension, R15.3, or a forced disconnection, R16.1) learns it never
   will. Before, they were withdrawn in silence; only AuditClosed came */
static void
test_r15_1_withdrawn_requests_are_announced (void **state)
{
    (void) state;
    uint64_t provider = rf_qualified_provider ("株式会社はちばん");
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'qualified'", provider);
    uint64_t plan = s_plan (provider);
    uint64_t requests [3];
    requests [0] = s_remediation (plan, "R5.1-operational", "high", "");
    requests [1] = s_remediation (plan, "R5.1-technical", "critical", "");
    lg_reply_t *reply = s_open ("service", "incident", provider, NULL, 0, "", "INC-80");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t incident = reply->audit->audit->id;
    requests [2] = reply->audit->audit->remediations [0]->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  One already verified: it stays as it is, unannounced
    uint64_t done = s_remediation (plan, "R5.1-institutional", "low", "");
    assert_int_equal (rf_sqlf_long ("WITH u AS (UPDATE audit.remediation_requests SET status ="
                                    " 'accepted' WHERE id = %" PRIu64 " RETURNING 1)"
                                    " SELECT count(*) FROM u", done), 1);

    s_cancel ("provider", provider);
    rf_wait_sql (2, "SELECT count(*) FROM audit.audits WHERE provider_id = %" PRIu64
                    " AND status = 'closed'", provider);
    for (int i = 0; i < 3; i++) {
        s_assert_status (requests [i], "withdrawn");
        char reason [128] = "";
        assert_int_equal (s_replayed_why (AU_EVENT (REMEDIATION_WITHDRAWN), requests [i], 0,
                                          reason, NULL, sizeof reason), 1);
        assert_string_equal (reason, "provider cancelled, effective 2027-03-25");
        //  X.1: kept as a step of the request, as an operator's withdrawal
        assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_steps"
                                        " WHERE remediation_id = %" PRIu64 " AND action ="
                                        " 'withdrawn' AND text = 'provider cancelled,"
                                        " effective 2027-03-25'", requests [i]), 1);
    }
    s_assert_status (done, "accepted");
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_WITHDRAWN), done, 0), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits WHERE id IN (%" PRIu64
                                    ", %" PRIu64 ") AND close_reason = 'provider cancelled,"
                                    " effective 2027-03-25'", plan, incident), 2);
}

/* REQ R15.1, REQ R15.2: every request of audit that carries an id (a
   provider, a service, an audit, a remediation request, a page's after_id)
   refuses one past a bigint INVALID_ARGUMENT naming the rule of the
   request (R15.1 audits, R15.2 findings and remediation) and the field,
   and changes nothing; each took it to SQL, where the cast failed */
static void
test_r15_1_requests_refuse_ids_past_bigint (void **state)
{
    (void) state;
    static const lg_test_id_request_t requests [] = {
        { "audit_open", "operator", "R15.1" },
        { "audit_get", "viewer", "R15.1" },
        { "audit_list", "viewer", "R15.1" },
        { "audit_close", "operator", "R15.2" },
        { "finding_record", "auditor", "R15.2" },
        { "remediation_report", "provider1", "R15.2" },
        { "remediation_verify", "auditor", "R15.2" },
        { "remediation_withdraw", "operator", "R15.2" },
        { "remediation_get", "viewer", "R15.2" },
        { "remediation_list", "viewer", "R15.2" },
        { "compliance_get", "viewer", "R15.2" },
        { NULL }
    };
    assert_true (lg_test_ids_past_bigint (&s_audit, rf.admin, rf.certs, 300, 399, requests) > 0);
}

//  The deadline of test_r15_3_reported_late_is_overdue passes, while the
//  test holds its request: the deadline duty skips what is locked
static void
s_past_the_late_deadline (void)
{
    rf_set_clock ("2027-04-12T00:00:00Z");
    zclock_sleep (800);                 //  the duty ran, and passed it by
}

/* REQ R15.3: a remediation reported after its deadline is overdue, whether
   or not the deadline duty ran between the deadline and the report: the
   report marks it and announces RemediationOverdue before
   RemediationReported. The report took it out of the duty's reach first,
   and it was never overdue; an accepted late report left no trace of the
   missed deadline */
static void
test_r15_3_reported_late_is_overdue (void **state)
{
    (void) state;
    rf_set_clock ("2027-04-01T00:00:00Z");
    uint64_t audit = s_plan (1);
    uint64_t id = s_remediation (audit, "R11.1-5", "high", "2027-04-10");
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM audit.remediation_requests WHERE id = %" PRIu64
                              " FOR UPDATE", id);
    Lgwan__V1__Evidence evidence = LGWAN__V1__EVIDENCE__INIT;
    evidence.reference = (char *) "是正報告書 第4号";
    evidence.effective_on = (char *) "2027-04-11";
    Lgwan__V1__Evidence *list [] = { &evidence };
    Lgwan__V1__RemediationReport r = LGWAN__V1__REMEDIATION_REPORT__INIT;
    r.remediation = id;
    r.report = (char *) "期限後に是正した";
    r.evidence = list;
    r.n_evidence = 1;
    s_call_t call = { "provider1", AU_BODY (REMEDIATION_REPORT), &r, NULL };
    lg_reply_t *reply = s_call_while_held_after (&call, sql, s_past_the_late_deadline, NULL);
    zstr_free (&sql);
    assert_non_null (reply);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_assert_status (id, "reported");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests WHERE id = %"
                                    PRIu64 " AND overdue_at = '2027-04-12T00:00:00Z'", id), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox o1, audit.outbox o2"
                                    " WHERE o1.body_case = %d AND o2.body_case = %d"
                                    " AND o1.seq < o2.seq AND o1.seq > (SELECT max (seq) - 2"
                                    " FROM audit.outbox)", AU_EVENT (REMEDIATION_OVERDUE),
                                    AU_EVENT (REMEDIATION_REPORTED)), 1);
    //  Once: the duty finds nothing more to do for it
    zclock_sleep (600);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 1);
    //  Reported in time: not overdue
    uint64_t timely = s_remediation (audit, "R11.1-5", "high", "2027-04-20");
    rf_ok (s_report ("provider1", timely));
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests WHERE id = %"
                                    PRIu64 " AND overdue_at IS NULL", timely), 1);
}

//  The provider of test_r15_1_finding_refused_once_the_provider_is_cancelled
static uint64_t s_cancelling;

//  Its cancellation, in effect and read by audit, while a finding waits
static void
s_cancel_while_the_finding_waits (void)
{
    s_cancel ("provider", s_cancelling);
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'cancelled'", s_cancelling);
}

/* REQ R15.1: a finding waiting for its audit while the provider's
   cancellation comes into effect is refused, and asks nothing of the
   cancelled provider: it was recorded with its remediation request (and
   both announced), which the duty then withdrew */
static void
test_r15_1_finding_refused_once_the_provider_is_cancelled (void **state)
{
    (void) state;
    s_cancelling = rf_qualified_provider ("株式会社よんばん");
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'qualified'", s_cancelling);
    uint64_t audit = s_plan (s_cancelling);
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    long requested = rf_sqlf_long ("SELECT count(*) FROM audit.outbox WHERE body_case = %d",
                                   AU_EVENT (REMEDIATION_REQUESTED));
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM audit.audits WHERE id = %" PRIu64
                              " FOR UPDATE", audit);
    Lgwan__V1__Evidence evidence = LGWAN__V1__EVIDENCE__INIT;
    evidence.reference = (char *) "監査調書 2027-011";
    evidence.effective_on = (char *) "2027-03-20";
    Lgwan__V1__Evidence *list [] = { &evidence };
    Lgwan__V1__FindingRecord f = LGWAN__V1__FINDING_RECORD__INIT;
    f.audit = audit;
    f.control = (char *) "R5.1-operational";
    f.severity = (char *) "high";
    f.description = (char *) "運用手順書が古い";
    f.requires_remediation = true;
    f.evidence = list;
    f.n_evidence = 1;
    s_call_t call = { "auditor", AU_BODY (FINDING_RECORD), &f, NULL };
    lg_reply_t *reply = s_call_while_held_after (&call, sql, NULL, s_cancel_while_the_finding_waits);
    zstr_free (&sql);
    assert_non_null (reply);
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R15.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox WHERE body_case = %d",
                                    AU_EVENT (REMEDIATION_REQUESTED)), requested);
    rf_wait_sql (1, "SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                    " AND status = 'closed'", audit);
}

/* REQ R15.1 R15.3: a provider cancelled while audit was down has its
   requests withdrawn, not marked overdue, though their deadline passed
   meanwhile: audit's duties run first once it caught up with the
   registry. They ran at its start, before the cancellation was applied:
   RemediationOverdue went out for a provider that no longer was one, then
   RemediationWithdrawn */
static void
test_r15_1_cancelled_while_audit_was_down_is_not_overdue (void **state)
{
    (void) state;
    rf_set_clock ("2027-05-06T00:00:00Z");
    uint64_t provider = rf_qualified_provider ("株式会社ごばん");
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'qualified'", provider);
    uint64_t audit = s_plan (provider);
    uint64_t request = s_remediation (audit, "R5.1-operational", "high", "2027-05-10");
    s_audit_stop ();
    rf_set_clock ("2027-05-12T00:00:00Z");
    s_cancel ("provider", provider);
    s_audit_start ();
    rf_wait_sql (1, "SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                    " AND status = 'closed'", audit);
    s_assert_status (request, "withdrawn");
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_WITHDRAWN), request, 0), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), request, 0), 0);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests WHERE id = %"
                                    PRIu64 " AND overdue_at IS NULL", request), 1);
}

/* REQ R15.1 R15.3: a cancelled provider's request is neither reminded of
   nor marked overdue, also while the withdrawals cannot run (here an open
   audit row held by another session, as an in-flight write holds it, past
   the duty's lock wait); once they can, it is withdrawn. The deadline duty
   did not look at the provider: the request got its reminder and went
   overdue (both announced), then was withdrawn */
static void
test_r15_1_cancelled_provider_not_overdue_while_withdrawal_waits (void **state)
{
    (void) state;
    rf_set_clock ("2027-06-01T00:00:00Z");
    uint64_t provider = rf_qualified_provider ("株式会社きゅうばん");
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'qualified'", provider);
    uint64_t audit = s_plan (provider);
    uint64_t request = s_remediation (audit, "R5.1-operational", "high", "2027-06-10");
    //  A request of provider 2 with the same deadline shows the duty ran
    uint64_t witness = s_remediation (s_plan (2), "R5.1-operational", "high", "2027-06-10");
    PGconn *holder = PQconnectdb (rf.admin);
    char *sql = zsys_sprintf ("BEGIN; SELECT 1 FROM audit.audits WHERE id = %" PRIu64
                              " FOR UPDATE", audit);
    PGresult *res = PQexec (holder, sql);
    zstr_free (&sql);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    PQclear (res);
    s_cancel ("provider", provider);
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'cancelled'", provider);
    //  7 days before the deadline (2027-06-03T15:00Z) has passed
    rf_set_clock ("2027-06-05T00:00:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM audit.reminders_sent WHERE remediation_id = %" PRIu64,
                 witness);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.reminders_sent"
                                    " WHERE remediation_id = %" PRIu64, request), 0);
    //  The deadline has passed
    rf_set_clock ("2027-06-12T00:00:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM audit.remediation_requests WHERE id = %" PRIu64
                    " AND overdue_at IS NOT NULL", witness);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests WHERE id = %"
                                    PRIu64 " AND overdue_at IS NULL", request), 1);
    s_assert_status (request, "requested");
    PQclear (PQexec (holder, "ROLLBACK"));
    PQfinish (holder);
    rf_wait_sql (1, "SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                    " AND status = 'closed'", audit);
    s_assert_status (request, "withdrawn");
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_WITHDRAWN), request, 0), 1);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_REMINDER), request, 0), 0);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), request, 0), 0);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), witness, 0), 1);
}

/* REQ X.3 X.1: the actor a service names for whom it acts is recorded
   whole, up to LG_ACTOR_MAX bytes: 43 characters of Japanese (129 bytes)
   were cut at 127, inside a character, and PostgreSQL refused the record
   (INVALID_ARGUMENT for a valid request, stored as its answer); an ASCII
   actor past 127 bytes was cut in silence. An actor or a reason over its
   bound is refused naming X.3, and nothing is written: a reason of a
   megabyte was copied into every event of the request */
static void
test_x3_actor_and_reason_bounds (void **state)
{
    (void) state;
    char actor [LG_ACTOR_MAX + 2] = "";
    for (int i = 0; i < 43; i++)
        strcat (actor, "監");
    lg_reply_t *reply = s_open_as ("service", actor, "監査試験", "incident", 1, NULL, 0, "",
                                   "INC-ACTOR-1");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t audit = reply->audit->audit->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    char *sql = zsys_sprintf ("SELECT count(*) FROM audit.audits WHERE id = %" PRIu64
                              " AND opened_by = '%s'", audit, actor);
    assert_int_equal (rf_sql_long (sql), 1);
    zstr_free (&sql);

    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    memset (actor, 'a', LG_ACTOR_MAX + 1);
    actor [LG_ACTOR_MAX + 1] = 0;
    reply = s_open_as ("service", actor, "監査試験", "incident", 1, NULL, 0, "", "INC-ACTOR-2");
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
    char *reason = (char *) malloc (LG_REASON_MAX + 2);
    memset (reason, 'r', LG_REASON_MAX + 1);
    reason [LG_REASON_MAX + 1] = 0;
    reply = s_open_as ("auditor", NULL, reason, "plan", 1, NULL, 0, "", "");
    free (reason);
    assert_non_null (strstr (reply->status->message, "reason is at most 8192 bytes"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);
}

/* REQ X.3: only a provider certificate reports remediation: any other (a
   sensor's, an enforcer's, billing's, staff's) is refused PERMISSION_DENIED
   by the server, before a worker or the database, and nothing is stored.
   Every role was routed to a write transaction that the handler refused,
   and each refusal was stored in audit.requests as the request's answer:
   any certificate could grow the table without bound */
static void
test_x3_remediation_report_only_from_a_provider (void **state)
{
    (void) state;
    const char *others [] = { "sensor", "enforcer", "billing", "operator", "auditor", "viewer" };
    long requests = rf_sqlf_long ("SELECT count(*) FROM audit.requests");
    for (size_t i = 0; i < sizeof others / sizeof others [0]; i++) {
        lg_reply_t *reply = s_report (others [i], s_remediation_facility);
        assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.requests"), requests);
        char *expected = zsys_sprintf ("role %s may not call remediation_report", others [i]);
        assert_string_equal (reply->status->message, expected);
        zstr_free (&expected);
        rf_refused (reply, RF_CODE (PERMISSION_DENIED), "X.3");
    }
    s_assert_status (s_remediation_facility, "requested");
}

/* REQ X.3 R15.3: only an auditor certificate records a finding and
   verifies a reported remediation (DESIGN, roles: "auditor (audits,
   findings, verification)"): an operator's, or any other role's, is
   refused PERMISSION_DENIED by the server and nothing is stored, no
   finding, no verdict, no step, no answer in audit.requests. An operator's
   certificate recorded findings and gave verdicts, an insufficient one the
   orchestrator's cue to suspend */
static void
test_x3_only_an_auditor_finds_and_verifies (void **state)
{
    (void) state;
    uint64_t audit = s_plan (1);
    uint64_t id = s_remediation (audit, "R5.1-technical", "high", "");
    rf_ok (s_report ("provider1", id));
    const char *others [] = { "operator", "reviewer", "viewer", "service", "provider1" };
    long requests = rf_sqlf_long ("SELECT count(*) FROM audit.requests");
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    for (size_t i = 0; i < sizeof others / sizeof others [0]; i++) {
        lg_reply_t *reply = s_verify_as (others [i], id, false, "不十分");
        assert_non_null (strstr (reply->status->message, "may not call remediation_verify"));
        rf_refused (reply, RF_CODE (PERMISSION_DENIED), "X.3");
        rf_refused (s_finding_as (others [i], audit, "R5.1-technical", "high", true, "",
                                  "2027-02-15"), RF_CODE (PERMISSION_DENIED), "X.3");
    }
    s_assert_status (id, "reported");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_steps"
                                    " WHERE remediation_id = %" PRIu64, id), 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.requests"), requests);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_INSUFFICIENT), id, 0), 0);
    //  The auditor's verdict is taken
    rf_ok (s_verify (id, true, "是正を確認"));
    s_assert_status (id, "accepted");
}

/* REQ R15.1: only a qualified provider is audited and has findings
   recorded: AuditOpen of a provider rejected, or only applied, is refused
   FAILED_PRECONDITION, and so is a finding in an audit of one (opened
   before this rule), changing nothing. Both were audited, and a finding
   asked the rejected one for remediation; only a cancelled provider was
   refused */
static void
test_r15_1_only_a_qualified_provider_is_audited (void **state)
{
    (void) state;
    uint64_t applied = rf_applied_provider ("株式会社じゅうばん");
    uint64_t rejected = rf_applied_provider ("株式会社じゅういちばん");
    Lgwan__V1__QualificationReview review = LGWAN__V1__QUALIFICATION_REVIEW__INIT;
    review.provider = rejected;
    rf_ok (rf_ask ("reviewer", RF_BODY (QUALIFICATION_REVIEW), &review));
    Lgwan__V1__QualificationDecide decide = LGWAN__V1__QUALIFICATION_DECIDE__INIT;
    decide.provider = rejected;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_REJECTED;
    decide.reason = (char *) "要件を満たさない";
    rf_ok (rf_ask ("reviewer", RF_BODY (QUALIFICATION_DECIDE), &decide));
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'applied'", applied);
    rf_wait_sql (1, "SELECT count(*) FROM audit.providers WHERE id = %" PRIu64
                    " AND status = 'rejected'", rejected);
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    lg_reply_t *reply = s_open ("auditor", "plan", rejected, NULL, 0, "", "");
    char *expected = zsys_sprintf ("provider %" PRIu64 " is rejected: only a qualified provider"
                                   " is audited", rejected);
    assert_string_equal (reply->status->message, expected);
    zstr_free (&expected);
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R15.1");
    rf_refused (s_open ("auditor", "plan", applied, NULL, 0, "", ""),
                RF_CODE (FAILED_PRECONDITION), "R15.1");
    rf_refused (s_open ("service", "incident", rejected, NULL, 0, "", "INC-REJECTED-1"),
                RF_CODE (FAILED_PRECONDITION), "R15.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);

    //  An audit of the rejected provider, as one opened before the rule
    uint64_t audit = (uint64_t) rf_sqlf_long ("INSERT INTO audit.audits (origin, provider_id,"
                                              " opened_by, opened_at) VALUES ('plan', %" PRIu64
                                              ", 'test', now ()) RETURNING id", rejected);
    long findings = rf_sqlf_long ("SELECT count(*) FROM audit.findings");
    long requests = rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests");
    reply = s_finding (audit, "R5.1-technical", "high", true, "");
    expected = zsys_sprintf ("provider %" PRIu64 " is rejected: findings are recorded only of a"
                             " qualified provider", rejected);
    assert_string_equal (reply->status->message, expected);
    zstr_free (&expected);
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R15.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings"), findings);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests"), requests);
    //  One unknown to audit's copy of the registry is not found
    reply = s_open ("auditor", "plan", 999999, NULL, 0, "", "");
    assert_string_equal (reply->status->message, "no provider 999999 in audit's copy of the"
                         " registry");
    rf_refused (reply, RF_CODE (NOT_FOUND), "");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits + 1);
}

/* REQ R15.3: a remediation verified insufficient gets a fresh deadline, as
   many days after the verdict as the request was first given (the
   guidelines, Art.15 para.2, set no period), carried by
   RemediationInsufficient: reminded of and overdue by that deadline, once
   each, and again after a further verdict. It waited again for its first
   deadline: a verdict given after it made the request overdue at the
   duty's next run, with no time to remediate again */
static void
test_r15_3_insufficient_gets_a_fresh_deadline (void **state)
{
    (void) state;
    rf_set_clock ("2027-07-01T00:00:00Z");
    uint64_t id = s_remediation (s_plan (1), "R11.1-3", "high", "2027-07-11");     //  10 days
    //  Its 7-day reminder (2027-07-04T15:00Z) goes out; it is reported
    rf_set_clock ("2027-07-05T00:00:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM audit.reminders_sent WHERE remediation_id = %" PRIu64, id);
    rf_ok (s_report ("provider1", id));
    //  Verified insufficient after its deadline: due 10 days after the verdict
    rf_set_clock ("2027-07-15T00:00:00Z");
    lg_reply_t *reply = s_verify (id, false, "アクセス制御が不十分");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->remediation->remediation->deadline_on, "2027-07-25");
    assert_string_equal (reply->remediation->remediation->deadline, "2027-07-25T15:00:00.000000Z");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    char day [16] = "";
    assert_int_equal (s_replayed_why (AU_EVENT (REMEDIATION_INSUFFICIENT), id, 0, NULL, day,
                                      sizeof day), 1);
    assert_string_equal (day, "2027-07-25");
    zclock_sleep (600);                 //  the duty ran, and passed it by
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 0);
    s_assert_status (id, "insufficient");
    //  The fresh deadline's own 7-day reminder, then overdue once
    rf_set_clock ("2027-07-19T00:00:00Z");
    rf_wait_sql (2, "SELECT count(*) FROM audit.reminders_sent WHERE remediation_id = %" PRIu64, id);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_REMINDER), id, 7), 2);
    rf_set_clock ("2027-07-26T00:00:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM audit.remediation_requests WHERE id = %" PRIu64
                    " AND overdue_at IS NOT NULL", id);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 1);
    //  Reported late and verified insufficient again: not overdue until
    //  its next fresh deadline (2027-08-06)
    rf_ok (s_report ("provider1", id));
    rf_set_clock ("2027-07-27T00:00:00Z");
    rf_ok (s_verify (id, false, "再検査でも不十分"));
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests WHERE id = %"
                                    PRIu64 " AND overdue_at IS NULL AND audit.deadline_day (deadline)"
                                    " = '2027-08-06'", id), 1);
    rf_set_clock ("2027-08-07T00:00:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM audit.remediation_requests WHERE id = %" PRIu64
                    " AND overdue_at IS NOT NULL", id);
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_OVERDUE), id, 0), 2);
}

static lg_reply_t *
s_withdraw (const char *who, uint64_t remediation, const char *reason)
{
    Lgwan__V1__RemediationWithdraw w = LGWAN__V1__REMEDIATION_WITHDRAW__INIT;
    w.remediation = remediation;
    w.reason = (char *) reason;
    return s_ask_why (who, "", AU_BODY (REMEDIATION_WITHDRAW), &w);
}

/* REQ R15.2 X.1: an operator withdraws an open remediation request (a
   finding recorded in error, the service concerned cancelled) with a
   reason (lgwanctl remediation withdraw): announced, kept as a step of the
   request with who and why, the finding kept, and its audit may close.
   Without a reason, by another role, or when no longer open it is refused
   and nothing changes. Only a cancellation of the provider withdrew a
   request: a request made in error held its audit open */
static void
test_r15_2_operator_withdraws_a_request (void **state)
{
    (void) state;
    uint64_t audit = s_plan (1);
    uint64_t id = s_remediation (audit, "R5.1-technical", "high", "");
    rf_refused (s_withdraw ("operator", id, ""), RF_CODE (INVALID_ARGUMENT), "R15.2");
    rf_refused (s_withdraw ("operator", 0, "誤記録"), RF_CODE (INVALID_ARGUMENT), "R15.2");
    rf_refused (s_withdraw ("auditor", id, "誤記録"), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_withdraw ("provider1", id, "誤記録"), RF_CODE (PERMISSION_DENIED), "X.3");
    rf_refused (s_withdraw ("operator", 999999, "誤記録"), RF_CODE (NOT_FOUND), "");
    s_assert_status (id, "requested");
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_WITHDRAWN), id, 0), 0);

    char *ctl = lg_test_lgwanctl_binary ();
    assert_int_equal (lg_test_sh ("LG_CERT_DIR=%s LGWANCTL_CERT=%s/clients/operator"
                                  " LG_AUDIT_CONNECT=%s %s remediation withdraw --remediation %"
                                  PRIu64 " --reason 指摘の誤記録 >/dev/null", rf.certs, rf.certs,
                                  s_audit.endpoint, ctl, id), 0);
    zstr_free (&ctl);
    s_assert_status (id, "withdrawn");
    char reason [64] = "";
    assert_int_equal (s_replayed_why (AU_EVENT (REMEDIATION_WITHDRAWN), id, 0, reason, NULL,
                                      sizeof reason), 1);
    assert_string_equal (reason, "指摘の誤記録");
    Lgwan__V1__RemediationGet get = LGWAN__V1__REMEDIATION_GET__INIT;
    get.remediation = id;
    lg_reply_t *reply = s_ask ("viewer", AU_BODY (REMEDIATION_GET), &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__Remediation *r = reply->remediation->remediation;
    assert_int_equal (r->n_steps, 1);
    assert_string_equal (r->steps [0]->action, "withdrawn");
    assert_string_equal (r->steps [0]->actor, "operator:alice");
    assert_string_equal (r->steps [0]->text, "指摘の誤記録");
    assert_int_equal (r->finding != 0, true);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  No longer open: refused, nothing more announced
    rf_refused (s_withdraw ("operator", id, "もう一度"), RF_CODE (FAILED_PRECONDITION), "R15.2");
    rf_refused (s_report ("provider1", id), RF_CODE (FAILED_PRECONDITION), "R15.2");
    assert_int_equal (s_replayed (AU_EVENT (REMEDIATION_WITHDRAWN), id, 0), 1);
    //  The audit it held open closes; its finding stays
    Lgwan__V1__AuditClose close = LGWAN__V1__AUDIT_CLOSE__INIT;
    close.audit = audit;
    close.reason = (char *) "誤記録の指摘を取り下げて終了";
    rf_ok (s_ask ("auditor", AU_BODY (AUDIT_CLOSE), &close));
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.findings WHERE audit_id = %"
                                    PRIu64, audit), 1);
}

/* REQ R15.1: an audit at a using body's request (要請) or commission (委託),
   Art.15, records that body: a local government's code, or the name of an
   organisation J-LIS approved to use LGWAN (機構承認団体), which has no
   code; exactly one, and neither on another origin. Only a local
   government's request could be recorded: origin commission was refused,
   and an approved organisation could not be named at all */
static void
test_r15_1_audit_at_a_using_bodys_request_or_commission (void **state)
{
    (void) state;
    const char *body = "一般財団法人 試験承認団体";
    uint64_t services [] = { s_service1 };
    long audits = rf_sqlf_long ("SELECT count(*) FROM audit.audits");
    long events = rf_sqlf_long ("SELECT count(*) FROM audit.outbox");
    Lgwan__V1__AuditOpen o = LGWAN__V1__AUDIT_OPEN__INIT;
    o.origin = (char *) "commission";
    o.provider = 1;
    o.services = services;
    o.n_services = 1;
    o.title = (char *) "委託による監査";
    //  Neither, both, a bad code, a name too long, a body on a plan
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    o.lgcode = (char *) "131041";
    o.approved_body = (char *) body;
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    o.approved_body = (char *) "";
    o.lgcode = (char *) "131040";
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    o.lgcode = (char *) "";
    char too_long [258];
    memset (too_long, 'x', 257);
    too_long [257] = 0;
    o.approved_body = too_long;
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    o.origin = (char *) "plan";
    o.approved_body = (char *) body;
    rf_refused (s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o), RF_CODE (INVALID_ARGUMENT), "R15.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.outbox"), events);

    //  Commissioned by a local government
    o.origin = (char *) "commission";
    o.approved_body = (char *) "";
    o.lgcode = (char *) "131041";
    lg_reply_t *reply = s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->audit->audit->origin, "commission");
    assert_string_equal (reply->audit->audit->lgcode, "131041");
    assert_string_equal (reply->audit->audit->approved_body, "");
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Asked for by an approved organisation: named, shown, announced
    o.origin = (char *) "request";
    o.lgcode = (char *) "";
    o.approved_body = (char *) body;
    reply = s_ask ("auditor", AU_BODY (AUDIT_OPEN), &o);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t id = reply->audit->audit->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__AuditGet get = LGWAN__V1__AUDIT_GET__INIT;
    get.audit = id;
    reply = s_ask ("provider1", AU_BODY (AUDIT_GET), &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->audit->audit->origin, "request");
    assert_string_equal (reply->audit->audit->lgcode, "");
    assert_string_equal (reply->audit->audit->approved_body, body);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    char *sql = zsys_sprintf ("SELECT count(*) FROM audit.outbox WHERE body_case = %d"
                              " AND position (convert_to ('%s', 'UTF8') IN event) > 0",
                              AU_EVENT (AUDIT_OPENED), body);
    assert_int_equal (rf_sqlf_long ("%s", sql), 1);
    zstr_free (&sql);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.audits"), audits + 2);
}

/* REQ X.1: what a finding says and the remediation a provider reports,
   with the evidence each gives, are in the tamper-evident chain: the
   events carry them. They were only in the tables, where a change to a
   finding's description or a report left no trace; the events said which
   control and how severe, not what was found */
static void
test_x1_finding_and_report_are_in_the_chain (void **state)
{
    (void) state;
    uint64_t audit = s_plan (1);
    uint64_t id = s_remediation (audit, "R5.1-technical", "high", "");
    lg_event_t *event = rf_newest_event ("audit", AU_EVENT (FINDING_RECORDED));
    const Lgwan__V1__FindingRecorded *f = event->finding_recorded;
    assert_int_equal (f->audit, audit);
    assert_string_equal (f->description, "ファイアウォール設定の不備");
    assert_int_equal (f->n_evidence, 1);
    assert_string_equal (f->evidence [0]->reference, "監査調書 2027-007");
    assert_string_equal (f->evidence [0]->effective_on, "2027-02-15");
    lgwan__v1__event__free_unpacked (event, NULL);

    rf_ok (s_report_text ("provider1", id, "設定を是正し、運用手順書を改訂した"));
    event = rf_newest_event ("audit", AU_EVENT (REMEDIATION_REPORTED));
    const Lgwan__V1__RemediationEvent *r = event->remediation_reported;
    assert_int_equal (r->remediation, id);
    assert_string_equal (r->report, "設定を是正し、運用手順書を改訂した");
    assert_int_equal (r->n_evidence, 1);
    assert_string_equal (r->evidence [0]->reference, "是正報告書 第3号");
    assert_string_equal (r->evidence [0]->effective_on, "2027-03-02");
    assert_string_equal (r->evidence [0]->recorded_by, "");
    lgwan__v1__event__free_unpacked (event, NULL);
}

/* REQ R15.3 R15.2: a client paging through RemediationList sees every
   request once while an insufficient verdict moves a deadline between its
   pages: the list is by id, which never changes. By deadline, a request
   of a page read whose deadline moved showed again on a later page, or,
   the page's last, moved the cursor past requests never shown */
static void
test_r15_3_list_pages_while_a_deadline_moves (void **state)
{
    (void) state;
    rf_set_clock ("2027-09-01T00:00:00Z");
    uint64_t audit = s_plan (1);
    //  Three requests of the furthest deadline; the first will move past
    //  the others, whether its page ends with it or with the next
    uint64_t moved = s_remediation (audit, "R11.1-3", "high", "2028-08-30");
    uint64_t other = s_remediation (audit, "R11.1-5", "high", "2028-08-30");
    s_remediation (audit, "R11.1-5", "medium", "2028-08-30");
    rf_ok (s_report ("provider1", moved));
    long total = rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests"
                               " WHERE provider_id = 1");
    uint64_t *seen = (uint64_t *) calloc ((size_t) total + 8, sizeof *seen);
    size_t n_seen = 0;
    bool verdict = false, other_seen = false;
    uint64_t after = 0;
    do {
        Lgwan__V1__RemediationList q = LGWAN__V1__REMEDIATION_LIST__INIT;
        q.provider = 1;
        q.after_id = after;
        q.limit = 2;
        lg_reply_t *reply = s_ask ("auditor", AU_BODY (REMEDIATION_LIST), &q);
        rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
        const Lgwan__V1__RemediationListReply *page = reply->remediation_list;
        for (size_t i = 0; i < page->n_remediations; i++) {
            uint64_t id = page->remediations [i]->id;
            for (size_t j = 0; j < n_seen; j++)
                if (seen [j] == id)
                    fail_msg ("remediation request %" PRIu64 " listed twice", id);
            assert_true (n_seen < (size_t) total);
            seen [n_seen++] = id;
            other_seen |= id == other;
        }
        after = page->next_after_id;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        //  Right after the page that listed it: insufficient, a fresh
        //  deadline 2028-09-07, past every other request's
        if (!verdict && n_seen && (seen [n_seen - 1] == moved
                               ||  (n_seen > 1 && seen [n_seen - 2] == moved))) {
            rf_set_clock ("2027-09-09T00:00:00Z");
            rf_ok (s_verify (moved, false, "不十分"));
            assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM audit.remediation_requests"
                                            " WHERE id = %" PRIu64 " AND deadline > (SELECT"
                                            " max (deadline) FROM audit.remediation_requests"
                                            " WHERE id <> %" PRIu64 ")", moved, moved), 1);
            verdict = true;
        }
    } while (after);
    free (seen);
    assert_true (verdict);
    assert_true (other_seen);
    assert_int_equal ((long) n_seen, total);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r5_1_r11_1_r14_1_catalogue_and_findings),
        cmocka_unit_test (test_r15_1_request_records_using_body),
        cmocka_unit_test (test_r15_1_audit_at_a_using_bodys_request_or_commission),
        cmocka_unit_test (test_r16_1_incident_audit),
        cmocka_unit_test (test_r15_2_report_and_verify),
        cmocka_unit_test (test_r15_2_compliance_view),
        cmocka_unit_test (test_r15_3_overdue_once_across_restarts),
        cmocka_unit_test (test_r15_1_cancelled_provider_closes_audits),
        cmocka_unit_test (test_r15_1_lists_page),
        cmocka_unit_test (test_r15_2_close_sees_a_finding_recorded_meanwhile),
        cmocka_unit_test (test_r14_1_r15_1_holders_replaced_follow_the_registry),
        cmocka_unit_test (test_r14_1_r15_1_services_no_longer_in_effect),
        cmocka_unit_test (test_r15_2_deadline_is_a_day_within_the_policy),
        cmocka_unit_test (test_r16_1_one_incident_audit_per_incident),
        cmocka_unit_test (test_r15_1_another_providers_records_are_not_found),
        cmocka_unit_test (test_r15_1_auditor_named_null_is_recorded),
        cmocka_unit_test (test_r15_1_withdrawn_requests_are_announced),
        cmocka_unit_test (test_r15_1_requests_refuse_ids_past_bigint),
        cmocka_unit_test (test_r15_3_reported_late_is_overdue),
        cmocka_unit_test (test_r15_1_finding_refused_once_the_provider_is_cancelled),
        cmocka_unit_test (test_x3_actor_and_reason_bounds),
        cmocka_unit_test (test_x3_remediation_report_only_from_a_provider),
        cmocka_unit_test (test_x3_only_an_auditor_finds_and_verifies),
        cmocka_unit_test (test_r15_1_only_a_qualified_provider_is_audited),
        cmocka_unit_test_teardown (test_r15_1_cancelled_while_audit_was_down_is_not_overdue,
                                   rf_clock_back),
        cmocka_unit_test_teardown (test_r15_1_cancelled_provider_not_overdue_while_withdrawal_waits,
                                   rf_clock_back),
        cmocka_unit_test_teardown (test_r15_3_insufficient_gets_a_fresh_deadline, rf_clock_back),
        cmocka_unit_test (test_r15_2_operator_withdraws_a_request),
        cmocka_unit_test (test_x1_finding_and_report_are_in_the_chain),
        cmocka_unit_test_teardown (test_r15_3_list_pages_while_a_deadline_moves, rf_clock_back),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
