/*  audit - the service definition, what audit follows of the registry, and
    the deadline duty.

    1. Registry events are applied by lg_consumer in audit's own transaction,
       together with the cursor; handlers here only say what an event means
       for audit's tables. A provider's copy moves forward only (a higher
       version). Services and their role holders say which controls apply
       to whom (a facility control to a facility provider). ServiceRegistered
       comes again when a change of the holders takes effect, and replaces
       the service's name and holders (a provider taken off is no longer
       audited for it). Only services in effect count (view
       services_in_effect): not one the registry cancelled
       (CancellationEffective of kind service), nor one whose hosting
       provider is cancelled, which ended with it (R4.2).
    2. A consumer cannot emit events, so CancellationEffective only marks
       the provider cancelled; the duty withdraws the open remediation
       requests of its open audits, each with RemediationWithdrawn (the
       orchestrator waiting for one to be accepted learns it never will),
       and closes the audits with the same reason (AuditClosed). The
       withdrawal is kept as the request's step, with the duty as its actor
       (migration 008), as an operator's RemediationWithdraw is.
    3. Deadlines are rows, not timers. The duty (leader only, at start once
       the registry's events are caught up with, after the withdrawals of
       note 2, and every LG_DUTY_MS or 10 s) reads "now" from lg_clock and
         a. marks each request whose deadline has come overdue_at = now and
            appends RemediationOverdue in the same transaction: a request
            leaves the partial index remediation_requests_due when it is
            marked, so it is found once, also after a deadline passed while
            no replica ran, and never twice after a restart;
         b. inserts one reminders_sent row per (request, deadline, policy
            offset) that came due, and emits RemediationReminder for the
            nearest offset only (a 7-day reminder is not sent on the last
            day because the service was down on the seventh), and none for
            an offset that had passed when the deadline was given (a 5-day
            deadline gets the 1-day reminder only). A run handles at most 500 overdue
            requests; the next run takes the rest.
       Neither a nor b looks at a request of a cancelled provider: the
       withdrawals of note 2 take it, and they may fail a run (an open
       audit row held past the lock wait) while this duty goes on; the
       order of the duties alone let such a request go overdue, then be
       withdrawn.
       A request counts as waiting while it is requested or insufficient.
       No time is kept while a report waits for verification: the deadline
       stays as it was, and a reported request is neither reminded of nor
       marked overdue. Verified insufficient, it gets a fresh deadline, the
       request's days (period_days) after the verdict, and overdue_at is
       cleared (R15.3, migration 007): it waited again for its first
       deadline and was overdue at once when the verdict came after it.
       RemediationOverdue is then once per deadline, and so is each
       reminder (reminders_sent is keyed by the deadline), none for an
       offset that had passed when the deadline was given (the request
       made, or the verdict).
*/
#include "audit.h"

extern const lg_migration_t audit_migrations [];

//  ---------------------------------------------------------------------------
//  Helpers shared with audit_requests.c

void
audit_event_evidence (Lgwan__V1__Evidence **given, size_t n, Lgwan__V1__Evidence *copies,
                      Lgwan__V1__Evidence **list)
{
    for (size_t i = 0; i < n && i < AUDIT_MAX_EVIDENCE; i++) {
        lgwan__v1__evidence__init (&copies [i]);
        copies [i].reference = given [i]->reference;
        copies [i].effective_on = given [i]->effective_on;
        list [i] = &copies [i];
    }
}

//  A remediation event (audit_emit_remediation), with the report when one
//  is given (audit_emit_reported)
static int
s_emit_remediation (lg_ctx_t *ctx, unsigned body_case, const char *id, uint32_t days_before,
                    const char *reason, const Lgwan__V1__RemediationReport *report)
{
    const char *params [] = { id };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "SELECT provider_id, audit_id, coalesce (finding_id, 0) AS finding_id, control_code,"
        " " AUDIT_TS ("deadline") " AS deadline, deadline_day (deadline)::text AS deadline_on,"
        " coalesce (verified_by, '') AS verified_by"
        " FROM remediation_requests WHERE id = $1::bigint", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return -2;
    }
    Lgwan__V1__RemediationEvent body = LGWAN__V1__REMEDIATION_EVENT__INIT;
    body.remediation = strtoull (id, NULL, 10);
    body.provider = strtoull (lg_db_value (res, 0, "provider_id"), NULL, 10);
    body.audit = strtoull (lg_db_value (res, 0, "audit_id"), NULL, 10);
    body.finding = strtoull (lg_db_value (res, 0, "finding_id"), NULL, 10);
    body.control = (char *) lg_db_value (res, 0, "control_code");
    body.deadline = (char *) lg_db_value (res, 0, "deadline");
    body.deadline_on = (char *) lg_db_value (res, 0, "deadline_on");
    body.days_before = days_before;
    body.verified_by = (char *) lg_db_value (res, 0, "verified_by");
    body.reason = (char *) (reason? reason: "");
    Lgwan__V1__Evidence copies [AUDIT_MAX_EVIDENCE], *evidence [AUDIT_MAX_EVIDENCE];
    if (report) {
        body.report = report->report;
        body.n_evidence = report->n_evidence < AUDIT_MAX_EVIDENCE
                        ? report->n_evidence: AUDIT_MAX_EVIDENCE;
        audit_event_evidence (report->evidence, body.n_evidence, copies, evidence);
        body.evidence = evidence;
    }
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = (Lgwan__V1__Event__BodyCase) body_case;
    switch (body_case) {
        case LGWAN__V1__EVENT__BODY_REMEDIATION_REQUESTED:
            event.remediation_requested = &body; break;
        case LGWAN__V1__EVENT__BODY_REMEDIATION_REMINDER:
            event.remediation_reminder = &body; break;
        case LGWAN__V1__EVENT__BODY_REMEDIATION_REPORTED:
            event.remediation_reported = &body; break;
        case LGWAN__V1__EVENT__BODY_REMEDIATION_ACCEPTED:
            event.remediation_accepted = &body; break;
        case LGWAN__V1__EVENT__BODY_REMEDIATION_INSUFFICIENT:
            event.remediation_insufficient = &body; break;
        case LGWAN__V1__EVENT__BODY_REMEDIATION_WITHDRAWN:
            event.remediation_withdrawn = &body; break;
        default:
            event.remediation_overdue = &body; break;
    }
    rc = lg_ctx_emit (ctx, &event);
    PQclear (res);
    return rc;
}

int
audit_emit_remediation (lg_ctx_t *ctx, unsigned body_case, const char *id,
                        uint32_t days_before, const char *reason)
{
    return s_emit_remediation (ctx, body_case, id, days_before, reason, NULL);
}

int
audit_emit_reported (lg_ctx_t *ctx, const char *id, const Lgwan__V1__RemediationReport *report)
{
    return s_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_REPORTED, id, 0, NULL,
                               report);
}

//  ---------------------------------------------------------------------------
//  Registry events

static const char *s_role_names [] = {
    "", "application_content", "hosting", "network_layer", "telecom", "facility"
};

//  A provider record (applied or changed): the copy moves forward only
static int
s_upsert_provider (lg_db_t *db, const lg_event_t *event, const Lgwan__V1__Provider *p,
                   const char *kind)
{
    if (!p || p->id == 0)
        return -1;
    char id [24], type [8], version [24], seq [24];
    snprintf (id, sizeof id, "%" PRIu64, p->id);
    snprintf (type, sizeof type, "%d", p->entity_type);
    snprintf (version, sizeof version, "%" PRIu64, p->version);
    snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
    const char *params [] = { id, p->name_ja, type, p->status, version,
                              event->source, seq, event->event_id, event->occurred_at, kind };
    return lg_db_run (db,
        "WITH copy AS ("
        "  INSERT INTO providers (id, name_ja, entity_type, status, version)"
        "  VALUES ($1::bigint, $2, $3::smallint, $4, $5::integer)"
        "  ON CONFLICT (id) DO UPDATE SET name_ja = excluded.name_ja,"
        "  entity_type = excluded.entity_type, status = excluded.status,"
        "  version = excluded.version, updated_at = now()"
        "  WHERE providers.version < excluded.version)"
        " INSERT INTO provider_events (source, seq, event_id, provider_id, kind, occurred_at)"
        " VALUES ($6, $7::bigint, $8, $1::bigint, $10, $9::timestamptz)",
        10, params)? 0: -2;
}

//  A status change that carries no version (qualification, cancellation)
static int
s_provider_status (lg_db_t *db, const lg_event_t *event, uint64_t provider,
                   const char *status, const char *cancelled_on, const char *kind)
{
    char id [24], seq [24];
    snprintf (id, sizeof id, "%" PRIu64, provider);
    snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
    const char *params [] = { id, status, cancelled_on && *cancelled_on? cancelled_on: NULL,
                              event->source, seq, event->event_id, event->occurred_at, kind };
    return lg_db_run (db,
        "WITH copy AS (UPDATE providers SET status = $2,"
        "  cancelled_on = coalesce ($3::date, cancelled_on), updated_at = now()"
        "  WHERE id = $1::bigint AND status <> 'cancelled')"
        " INSERT INTO provider_events (source, seq, event_id, provider_id, kind, occurred_at)"
        " VALUES ($4, $5::bigint, $6, $1::bigint, $8, $7::timestamptz)", 8, params)? 0: -2;
}

static int
s_on_registry (lg_db_t *db, const lg_event_t *event, void *state)
{
    (void) state;
    switch (event->body_case) {
        case LGWAN__V1__EVENT__BODY_PROVIDER_APPLIED:
            return s_upsert_provider (db, event, event->provider_applied->provider,
                                      "provider_applied");
        case LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED:
            return s_upsert_provider (db, event, event->provider_changed->record,
                                      "provider_changed");
        case LGWAN__V1__EVENT__BODY_QUALIFICATION_DECIDED: {
            const Lgwan__V1__QualificationDecided *q = event->qualification_decided;
            return s_provider_status (db, event, q->provider,
                                      q->outcome == LGWAN__V1__OUTCOME__OUTCOME_APPROVED?
                                      "qualified": "rejected", NULL, "qualification_decided");
        }
        case LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE: {
            const Lgwan__V1__CancellationEffective *c = event->cancellation_effective;
            if (streq (c->kind, "provider"))
                //  The duty closes its open audits, with AuditClosed
                return s_provider_status (db, event, c->provider ? c->provider: c->id,
                                          "cancelled", c->effective_on, "cancellation_effective");
            if (streq (c->kind, "service")) {
                char id [24];
                snprintf (id, sizeof id, "%" PRIu64, c->id);
                const char *params [] = { id };
                return lg_db_run (db, "UPDATE services SET status = 'cancelled', updated_at = now()"
                                      " WHERE id = $1::bigint", 1, params)? 0: -2;
            }
            return 0;
        }
        case LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED: {
            //  The registry announces a service again, with its holders as
            //  they are now, when a change of them takes effect: the copy
            //  takes the name and holders it carries, in place of the ones
            //  it had (in the consumer's transaction: both or neither). A
            //  provider no longer a holder is no longer audited for it
            const Lgwan__V1__ServiceRegistered *s = event->service_registered;
            if (s->service == 0)
                return -1;
            char id [24];
            snprintf (id, sizeof id, "%" PRIu64, s->service);
            const char *params [] = { id, s->name? s->name: "" };
            if (!lg_db_run (db, "INSERT INTO services (id, name) VALUES ($1::bigint, $2)"
                                " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                                " updated_at = now ()", 2, params)
            ||  !lg_db_run (db, "DELETE FROM service_holders WHERE service_id = $1::bigint",
                            1, params))
                return -2;
            for (size_t i = 0; i < s->n_holders; i++) {
                int role = (int) s->holders [i]->role;
                if (role < 1 || role > 5)
                    continue;
                char provider [24];
                snprintf (provider, sizeof provider, "%" PRIu64, s->holders [i]->provider);
                const char *holder [] = { id, provider, s_role_names [role] };
                if (!lg_db_run (db, "INSERT INTO service_holders (service_id, provider_id, role)"
                                    " VALUES ($1::bigint, $2::bigint, $3) ON CONFLICT DO NOTHING",
                                3, holder))
                    return -2;
            }
            return 0;
        }
        default:
            return 0;                   //  nothing for audit in it
    }
}

//  ---------------------------------------------------------------------------
//  Duties

//  Deadlines: overdue once, then reminders for the nearest offset due that
//  came after the deadline was given (the request made, or its fresh
//  deadline from an insufficient verdict: verified_at, note 3)
static int
s_deadlines (lg_ctx_t *ctx)
{
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "UPDATE remediation_requests SET overdue_at = $1::timestamptz"
        " WHERE id IN (" AUDIT_DUE_SQL ") RETURNING id::text", 1, params);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        rc = audit_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_OVERDUE,
                                     PQgetvalue (res, row, 0), 0, NULL);
        if (rc == 0)
            lg_info ("remediation %s is overdue", PQgetvalue (res, row, 0));
    }
    PQclear (res);
    if (rc)
        return rc;
    rc = lg_ctx_query (ctx, &res,
        "WITH due AS ("
        "  SELECT r.id, r.deadline, o.days_before,"
        "   min (o.days_before) OVER (PARTITION BY r.id) AS nearest"
        "  FROM remediation_requests r JOIN reminder_offsets o"
        "    ON r.deadline - o.days_before * interval '1 day' <= $1::timestamptz"
        "    AND r.deadline - o.days_before * interval '1 day'"
        "      > coalesce (r.verified_at, r.created_at)"
        "  WHERE r.status IN ('requested', 'insufficient') AND r.overdue_at IS NULL"
        "    AND" AUDIT_PROVIDER_NOT_CANCELLED ("r")
        "    AND r.deadline > $1::timestamptz AND r.deadline <= $1::timestamptz"
        "      + (SELECT coalesce (max (days_before), 0) FROM reminder_offsets) * interval '1 day'),"
        " sent AS (INSERT INTO reminders_sent (remediation_id, deadline, days_before, sent_at)"
        "  SELECT id, deadline, days_before, $1::timestamptz FROM due ON CONFLICT DO NOTHING"
        "  RETURNING remediation_id, days_before)"
        " SELECT sent.remediation_id::text AS id, sent.days_before FROM sent JOIN due"
        "  ON due.id = sent.remediation_id AND due.days_before = sent.days_before"
        "  WHERE sent.days_before = due.nearest ORDER BY 1", 1, params);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (res) && rc == 0; row++)
        rc = audit_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_REMINDER,
                                     PQgetvalue (res, row, 0),
                                     (uint32_t) atoi (PQgetvalue (res, row, 1)), NULL);
    PQclear (res);
    return rc;
}

//  Why a cancelled provider's audits close and their requests are
//  withdrawn (p: its providers row)
#define CANCELLED_REASON \
    "'provider cancelled' || coalesce (', effective ' || p.cancelled_on::text, '')"

//  A cancelled provider's open audits close with that reason, their open
//  requests withdrawn first, each announced
static int
s_cancelled (lg_ctx_t *ctx)
{
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { now, ctx->actor };
    //  The audits to close locked first, in a statement of its own (queued),
    //  so the withdrawal below sees a request a finding being recorded made
    //  (as AuditClose does)
    if (!lg_db_run (ctx->db, "SELECT a.id FROM audits a JOIN providers p ON p.id = a.provider_id"
                             " WHERE a.status = 'open' AND p.status = 'cancelled'"
                             " ORDER BY a.id FOR UPDATE OF a", 0, NULL))
        return -2;
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "WITH withdrawn AS (UPDATE remediation_requests r SET status = 'withdrawn',"
        "   withdrawn_by = $2, withdrawn_at = $1::timestamptz,"
        "   withdrawal_reason = " CANCELLED_REASON
        "   FROM audits a JOIN providers p ON p.id = a.provider_id"
        "   WHERE r.audit_id = a.id AND a.status = 'open' AND p.status = 'cancelled'"
        "   AND r.status IN ('requested', 'reported', 'insufficient')"
        "   RETURNING r.id, r.withdrawal_reason AS reason)"
        " SELECT id::text AS id, reason FROM withdrawn ORDER BY withdrawn.id", 2, params);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (res) && rc == 0; row++)
        rc = audit_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_WITHDRAWN,
                                     lg_db_value (res, row, "id"), 0,
                                     lg_db_value (res, row, "reason"));
    PQclear (res);
    if (rc)
        return rc;
    rc = lg_ctx_query (ctx, &res,
        "UPDATE audits a SET status = 'closed', closed_by = $2, closed_at = $1::timestamptz,"
        " close_reason = " CANCELLED_REASON
        " FROM providers p WHERE p.id = a.provider_id AND a.status = 'open'"
        " AND p.status = 'cancelled' RETURNING a.id, a.provider_id, a.close_reason", 2, params);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        Lgwan__V1__AuditClosed body = LGWAN__V1__AUDIT_CLOSED__INIT;
        body.audit = strtoull (lg_db_value (res, row, "id"), NULL, 10);
        body.provider = strtoull (lg_db_value (res, row, "provider_id"), NULL, 10);
        body.reason = (char *) lg_db_value (res, row, "close_reason");
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.body_case = LGWAN__V1__EVENT__BODY_AUDIT_CLOSED;
        event.audit_closed = &body;
        rc = lg_ctx_emit (ctx, &event);
        if (rc == 0)
            lg_info ("audit %" PRIu64 " closed: %s", body.audit, body.reason);
    }
    PQclear (res);
    return rc;
}

//  ---------------------------------------------------------------------------

//  Staff: the catalogue (the operating body's rules), opening and closing
//  audits (the operating body's decisions, a closing's conditions checked
//  here, R15.2). An auditor's alone: a finding and a verification, the
//  judgements the remediation and, insufficient, a suspension follow
//  (DESIGN, roles: "auditor (audits, findings, verification)"; R15.3);
//  an operator's certificate made both
#define STAFF_WRITERS   (LG_ROLE_OPERATOR | LG_ROLE_AUDITOR)

static const lg_route_t s_routes [] = {
    { LGWAN__V1__REQUEST__BODY_CONTROL_ADD, audit_control_add,
      STAFF_WRITERS, LG_ROUTE_WRITE, "R5.1" },
    { LGWAN__V1__REQUEST__BODY_CONTROL_LIST, audit_control_list,
      LG_ROLE_READERS | LG_ROLE_PROVIDER, LG_ROUTE_READ, "R5.1" },
    //  Staff open plan and request audits, the orchestrator incident ones;
    //  the handler refuses an incident audit from anyone else (R16.1)
    { LGWAN__V1__REQUEST__BODY_AUDIT_OPEN, audit_open, STAFF_WRITERS | LG_ROLE_SERVICE,
      LG_ROUTE_WRITE, "R15.1" },
    { LGWAN__V1__REQUEST__BODY_AUDIT_GET, audit_get, LG_ROLE_READERS | LG_ROLE_PROVIDER,
      LG_ROUTE_READ, "R15.1" },
    { LGWAN__V1__REQUEST__BODY_AUDIT_LIST, audit_list, LG_ROLE_READERS | LG_ROLE_PROVIDER,
      LG_ROUTE_READ, "R15.1" },
    { LGWAN__V1__REQUEST__BODY_AUDIT_CLOSE, audit_close, STAFF_WRITERS, LG_ROUTE_WRITE, "R15.2" },
    { LGWAN__V1__REQUEST__BODY_FINDING_RECORD, audit_finding_record, LG_ROLE_AUDITOR,
      LG_ROUTE_WRITE, "R15.2" },
    //  Only a provider, for its own requests (the handler): another role is
    //  refused here, before a worker, a transaction and a stored answer
    { LGWAN__V1__REQUEST__BODY_REMEDIATION_REPORT, audit_remediation_report, LG_ROLE_PROVIDER,
      LG_ROUTE_WRITE, "R15.2" },
    { LGWAN__V1__REQUEST__BODY_REMEDIATION_VERIFY, audit_remediation_verify, LG_ROLE_AUDITOR,
      LG_ROUTE_WRITE, "R15.2" },
    { LGWAN__V1__REQUEST__BODY_REMEDIATION_WITHDRAW, audit_remediation_withdraw,
      LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R15.2" },
    { LGWAN__V1__REQUEST__BODY_REMEDIATION_GET, audit_remediation_get,
      LG_ROLE_READERS | LG_ROLE_PROVIDER, LG_ROUTE_READ, "R15.2" },
    { LGWAN__V1__REQUEST__BODY_REMEDIATION_LIST, audit_remediation_list,
      LG_ROLE_READERS | LG_ROLE_PROVIDER, LG_ROUTE_READ, "R15.2" },
    { LGWAN__V1__REQUEST__BODY_COMPLIANCE_GET, audit_compliance_get,
      LG_ROLE_READERS | LG_ROLE_PROVIDER, LG_ROUTE_READ, "R15.2" },
    { 0, NULL, 0, 0, NULL }
};

static const lg_subscription_t s_subscriptions [] = {
    { "registry", s_on_registry },
    { NULL, NULL }
};

//  Both run first once audit caught up with the registry, the withdrawals
//  before the deadlines (note 3): a provider cancelled while audit was down
//  had its requests marked overdue at the start, before the cancellation
//  was applied
static const lg_duty_t s_duties [] = {
    { "cancelled providers", 1000, s_cancelled, true },
    { "remediation deadlines", 10000, s_deadlines, true },
    { NULL, 0, NULL, false }
};

const lg_service_def_t audit_service = {
    .name = "audit",
    .migrations = audit_migrations,
    .routes = s_routes,
    .stream_roles = LG_ROLE_READERS,
    .subscriptions = s_subscriptions,
    .duties = s_duties
};
