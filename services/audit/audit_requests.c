/*  audit_requests - the requests of the audit service.

    1. Audits have an origin (R15.1): `plan`, `request` and `commission`
       are opened by staff (operator, auditor); `request` and `commission`
       (at a using body's request or commission, Art.15) record the using
       body: a local government's code, checked for its form and check
       digit (the reference list of local governments is the registry's;
       audit does not hold it), or the name of an organisation J-LIS
       approved to use LGWAN (機構承認団体, which has no code; migration
       009). `incident` is opened only by the orchestrator (role `service`)
       after a forced disconnection: it names the incident and at once
       requests remediation against control R16.1 with the policy's default
       deadline; an auditor adds findings later. One audit per incident
       (unique index audits_incident): the saga asks again with a new
       request_id when it lost an answer, and gets the audit opened first,
       with its request; nothing is opened or announced twice. The same
       incident for another provider is ALREADY_EXISTS.
    2. Only a qualified provider is audited, and has findings recorded
       (R15.1: FAILED_PRECONDITION for one only applied, under review,
       rejected or cancelled, in audit's copy of the registry). An audit's
       scope names only services in effect that the provider holds a role
       in (R15.1): a cancelled service, or one whose hosting provider is
       cancelled, is refused (FAILED_PRECONDITION). A finding is an
       auditor's (auditor certificate; an operator's was taken too) and
       names a catalogue control that applies to a role the provider holds
       in a service in effect (a facility control to a facility provider),
       and a severity of the policy table. One that requires remediation
       creates its remediation request with a deadline: the day given, or the
       severity's default days after today, ending at the end of that day
       in Asia/Tokyo (R15.2). A day given is YYYY-MM-DD, a real date, not
       ended and at most the policy's deadline_max_days ahead: PostgreSQL
       would take 'infinity', a deadline never overdue nor reminded of.
    3. Only the provider itself reports remediation (provider certificate,
       its provider_id); an auditor (auditor certificate: an operator's
       was taken too, DESIGN gives verification to the auditor) verifies a
       reported request as sufficient (accepted) or insufficient with a
       reason (R15.2, R15.3), which the orchestrator may follow with a
       suspension. An insufficient request
       may be reported again, by a fresh deadline: as many days after the
       verdict as it was first given (R15.3; it kept its first deadline and
       a verdict given after it made it overdue at once). An operator
       withdraws an open request with a reason (a finding recorded in
       error, the service concerned cancelled): it will never be accepted,
       and no longer holds its audit open; before, only the provider's
       cancellation withdrew one.
    4. Every refusal changes nothing (the transaction rolls back); evidence
       carries the day it speaks for, apart from when it was recorded.
    5. A provider certificate reads only its own records and cannot tell
       another provider's ids from ids that do not exist: a get of another's
       audit or request, or a report on another's request, is NOT_FOUND
       with the same message, and so is a RemediationList page after
       another's request, as after one that does not exist. A question
       that names another provider (AuditList, RemediationList,
       ComplianceGet) is refused PERMISSION_DENIED: it says nothing of a
       record.
*/
#include "audit.h"

#define INVALID(ctx, req, ...) lg_ctx_refuse ((ctx), LGWAN__V1__CODE__INVALID_ARGUMENT, (req), __VA_ARGS__)
#define REFUSE(ctx, req, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__FAILED_PRECONDITION, (req), __VA_ARGS__)
#define DENIED(ctx, req, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__PERMISSION_DENIED, (req), __VA_ARGS__)
#define MISSING(ctx, ...)      lg_ctx_refuse ((ctx), LGWAN__V1__CODE__NOT_FOUND, NULL, __VA_ARGS__)
#define EXISTS(ctx, req, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__ALREADY_EXISTS, (req), __VA_ARGS__)

#define MAX_TEXT        4000
#define MAX_LIST        1000

//  The columns a Remediation is built from (table alias r)
#define REMEDIATION_COLUMNS \
    "r.id, r.audit_id, coalesce (r.finding_id, 0) AS finding_id, r.provider_id, r.control_code," \
    " " AUDIT_TS ("r.deadline") " AS deadline, deadline_day (r.deadline)::text AS deadline_on," \
    " r.status, coalesce (r.report, '') AS report, " AUDIT_TS ("r.reported_at") " AS reported_at," \
    " coalesce (r.reported_by, '') AS reported_by, coalesce (r.verified_by, '') AS verified_by," \
    " " AUDIT_TS ("r.verified_at") " AS verified_at," \
    " coalesce (r.verification_reason, '') AS verification_reason," \
    " " AUDIT_TS ("r.overdue_at") " AS overdue_at, " AUDIT_TS ("r.created_at") " AS created_at"

//  The columns an Audit is built from (table alias a)
#define AUDIT_COLUMNS \
    "a.id, a.origin, a.provider_id, array_to_string (a.services, ',') AS services," \
    " array_to_string (a.auditors, ',') AS auditors, coalesce (a.lgcode, '') AS lgcode," \
    " coalesce (a.approved_body, '') AS approved_body," \
    " coalesce (a.incident, '') AS incident, coalesce (a.starts_on::text, '') AS starts_on," \
    " coalesce (a.ends_on::text, '') AS ends_on, a.status, a.title, a.opened_by," \
    " " AUDIT_TS ("a.opened_at") " AS opened_at, coalesce (a.closed_by, '') AS closed_by," \
    " " AUDIT_TS ("a.closed_at") " AS closed_at, coalesce (a.close_reason, '') AS close_reason"

#define FINDING_COLUMNS \
    "f.id, f.audit_id, f.control_code, f.severity, f.description, f.requires_remediation," \
    " f.recorded_by, " AUDIT_TS ("f.recorded_at") " AS recorded_at," \
    " coalesce ((SELECT id FROM remediation_requests WHERE finding_id = f.id), 0) AS remediation"

static void
s_id (char *buf, size_t size, uint64_t id)
{
    snprintf (buf, size, "%" PRIu64, id);
}

//  Whether the caller is a provider certificate and provider another one
static bool
s_other_provider (const lg_ctx_t *ctx, uint64_t provider)
{
    return ctx->caller && ctx->caller->role == LG_ROLE_PROVIDER
        && ctx->caller->provider_id != provider;
}

//  A provider certificate reads only its own records: a question that names
//  another provider is refused
static int
s_only_self (lg_ctx_t *ctx, uint64_t provider)
{
    if (s_other_provider (ctx, provider))
        return DENIED (ctx, NULL, "a provider reads only its own audits and remediation");
    return 0;
}

//  The provider a list is for: a provider certificate lists only its own,
//  with or without naming itself
static int
s_list_scope (lg_ctx_t *ctx, uint64_t *provider)
{
    if (ctx->caller && ctx->caller->role == LG_ROLE_PROVIDER) {
        if (*provider)
            return s_only_self (ctx, *provider);
        *provider = ctx->caller->provider_id;
    }
    return 0;
}

//  An operator id, auditor name: [A-Za-z0-9._@-]{1,64}
static bool
s_name_ok (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > 64)
        return false;
    for (const char *at = name; *at; at++)
        if (!isalnum ((unsigned char) *at) && !strchr ("._@-", *at))
            return false;
    return true;
}

//  ---------------------------------------------------------------------------
//  Evidence

static int
s_evidence_check (lg_ctx_t *ctx, Lgwan__V1__Evidence **evidence, size_t n)
{
    if (n > AUDIT_MAX_EVIDENCE)
        return INVALID (ctx, NULL, "at most %d evidence references", AUDIT_MAX_EVIDENCE);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen (evidence [i]->reference);
        if (len == 0 || len > 400)
            return INVALID (ctx, NULL, "an evidence reference is 1-400 bytes");
        if (!*evidence [i]->effective_on)
            return INVALID (ctx, NULL, "evidence %s needs the day it is effective (effective_on)",
                            evidence [i]->reference);
        if (!lg_check_date (evidence [i]->effective_on))
            return INVALID (ctx, NULL, "evidence %s: effective_on \"%.16s\" is not a day"
                            " YYYY-MM-DD", evidence [i]->reference, evidence [i]->effective_on);
    }
    return 0;
}

//  Store evidence for a finding or a remediation (column names which)
static int
s_evidence_store (lg_ctx_t *ctx, const char *column, const char *id,
                  Lgwan__V1__Evidence **evidence, size_t n)
{
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    bool finding = streq (column, "finding_id");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *params [] = { id, evidence [i]->reference, evidence [i]->effective_on,
                                  ctx->actor, now };
        rc = lg_ctx_exec (ctx, finding
            ? "INSERT INTO evidence (finding_id, reference, effective_on, recorded_by, recorded_at)"
              " VALUES ($1::bigint, $2, $3::date, $4, $5::timestamptz)"
            : "INSERT INTO evidence (remediation_id, reference, effective_on, recorded_by, recorded_at)"
              " VALUES ($1::bigint, $2, $3::date, $4, $5::timestamptz)", 5, params);
    }
    return rc;
}

static int
s_evidence_load (lg_ctx_t *ctx, const char *column, uint64_t id,
                 Lgwan__V1__Evidence ***list_p, size_t *n_p)
{
    char text [24];
    s_id (text, sizeof text, id);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, streq (column, "finding_id")
        ? "SELECT reference, effective_on::text AS effective_on, recorded_by, "
          AUDIT_TS ("recorded_at") " AS recorded_at FROM evidence WHERE finding_id = $1::bigint"
          " ORDER BY id"
        : "SELECT reference, effective_on::text AS effective_on, recorded_by, "
          AUDIT_TS ("recorded_at") " AS recorded_at FROM evidence WHERE remediation_id = $1::bigint"
          " ORDER BY id", 1, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    *list_p = (Lgwan__V1__Evidence **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__Evidence *e = (Lgwan__V1__Evidence *) malloc (sizeof *e);
        lgwan__v1__evidence__init (e);
        e->reference = lg_db_strdup (res, row, "reference");
        e->effective_on = lg_db_strdup (res, row, "effective_on");
        e->recorded_by = lg_db_strdup (res, row, "recorded_by");
        e->recorded_at = lg_db_strdup (res, row, "recorded_at");
        (*list_p) [row] = e;
    }
    *n_p = rows;
    PQclear (res);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Building replies

static Lgwan__V1__Remediation *
s_remediation_new (const PGresult *res, int row)
{
    Lgwan__V1__Remediation *r = (Lgwan__V1__Remediation *) malloc (sizeof *r);
    lgwan__v1__remediation__init (r);
    r->id = lg_db_u64 (res, row, "id");
    r->audit = lg_db_u64 (res, row, "audit_id");
    r->finding = lg_db_u64 (res, row, "finding_id");
    r->provider = lg_db_u64 (res, row, "provider_id");
    r->control = lg_db_strdup (res, row, "control_code");
    r->deadline = lg_db_strdup (res, row, "deadline");
    r->deadline_on = lg_db_strdup (res, row, "deadline_on");
    r->status = lg_db_strdup (res, row, "status");
    r->report = lg_db_strdup (res, row, "report");
    r->reported_at = lg_db_strdup (res, row, "reported_at");
    r->reported_by = lg_db_strdup (res, row, "reported_by");
    r->verified_by = lg_db_strdup (res, row, "verified_by");
    r->verified_at = lg_db_strdup (res, row, "verified_at");
    r->verification_reason = lg_db_strdup (res, row, "verification_reason");
    r->overdue_at = lg_db_strdup (res, row, "overdue_at");
    r->created_at = lg_db_strdup (res, row, "created_at");
    return r;
}

//  One remediation request with its evidence; NULL *r_p when none
//  Every report and verification of request id (text), in order
//  (remediation_steps, migration 006), into r
static int
s_steps_load (lg_ctx_t *ctx, const char *id, Lgwan__V1__Remediation *r)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT action, actor, " AUDIT_TS ("at") " AS at, text"
                           " FROM remediation_steps WHERE remediation_id = $1::bigint ORDER BY step",
                           1, (const char *[]) { id });
    if (rc)
        return rc;
    int rows = PQntuples (res);
    r->steps = (Lgwan__V1__RemediationStep **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__RemediationStep *step = (Lgwan__V1__RemediationStep *) malloc (sizeof *step);
        lgwan__v1__remediation_step__init (step);
        step->action = lg_db_strdup (res, row, "action");
        step->actor = lg_db_strdup (res, row, "actor");
        step->at = lg_db_strdup (res, row, "at");
        step->text = lg_db_strdup (res, row, "text");
        r->steps [r->n_steps++] = step;
    }
    PQclear (res);
    return 0;
}

static int
s_remediation_load (lg_ctx_t *ctx, uint64_t id, Lgwan__V1__Remediation **r_p)
{
    char text [24];
    s_id (text, sizeof text, id);
    const char *params [] = { text };
    PGresult *res;
    *r_p = NULL;
    int rc = lg_ctx_query (ctx, &res, "SELECT " REMEDIATION_COLUMNS
                           " FROM remediation_requests r WHERE r.id = $1::bigint", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 1)
        *r_p = s_remediation_new (res, 0);
    PQclear (res);
    if (*r_p)
        rc = s_evidence_load (ctx, "remediation_id", id, &(*r_p)->evidence, &(*r_p)->n_evidence);
    if (*r_p && rc == 0)
        rc = s_steps_load (ctx, text, *r_p);
    return rc;
}

static Lgwan__V1__Finding *
s_finding_new (const PGresult *res, int row)
{
    Lgwan__V1__Finding *f = (Lgwan__V1__Finding *) malloc (sizeof *f);
    lgwan__v1__finding__init (f);
    f->id = lg_db_u64 (res, row, "id");
    f->audit = lg_db_u64 (res, row, "audit_id");
    f->control = lg_db_strdup (res, row, "control_code");
    f->severity = lg_db_strdup (res, row, "severity");
    f->description = lg_db_strdup (res, row, "description");
    f->requires_remediation = streq (lg_db_value (res, row, "requires_remediation"), "t");
    f->recorded_by = lg_db_strdup (res, row, "recorded_by");
    f->recorded_at = lg_db_strdup (res, row, "recorded_at");
    f->remediation = lg_db_u64 (res, row, "remediation");
    return f;
}

//  Split "a,b,c" into a heap array
static char **
s_split (const char *text, size_t *n_p)
{
    size_t count = 1;
    for (const char *at = text; *at; at++)
        count += *at == ',';
    char **list = (char **) calloc (count + 1, sizeof (char *));
    char *copy = strdup (text);
    char *save = NULL;
    size_t n = 0;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save))
        list [n++] = strdup (item);
    free (copy);
    *n_p = n;
    return list;
}

static Lgwan__V1__Audit *
s_audit_new (const PGresult *res, int row)
{
    Lgwan__V1__Audit *a = (Lgwan__V1__Audit *) malloc (sizeof *a);
    lgwan__v1__audit__init (a);
    a->id = lg_db_u64 (res, row, "id");
    a->origin = lg_db_strdup (res, row, "origin");
    a->provider = lg_db_u64 (res, row, "provider_id");
    size_t n;
    char **services = s_split (lg_db_value (res, row, "services"), &n);
    a->services = (uint64_t *) calloc (n + 1, sizeof (uint64_t));
    for (size_t i = 0; i < n; i++) {
        a->services [i] = strtoull (services [i], NULL, 10);
        free (services [i]);
    }
    free (services);
    a->n_services = n;
    a->auditors = s_split (lg_db_value (res, row, "auditors"), &a->n_auditors);
    a->lgcode = lg_db_strdup (res, row, "lgcode");
    a->approved_body = lg_db_strdup (res, row, "approved_body");
    a->incident = lg_db_strdup (res, row, "incident");
    a->starts_on = lg_db_strdup (res, row, "starts_on");
    a->ends_on = lg_db_strdup (res, row, "ends_on");
    a->status = lg_db_strdup (res, row, "status");
    a->title = lg_db_strdup (res, row, "title");
    a->opened_by = lg_db_strdup (res, row, "opened_by");
    a->opened_at = lg_db_strdup (res, row, "opened_at");
    a->closed_by = lg_db_strdup (res, row, "closed_by");
    a->closed_at = lg_db_strdup (res, row, "closed_at");
    a->close_reason = lg_db_strdup (res, row, "close_reason");
    return a;
}

//  An audit with its findings (and their evidence) and remediation requests;
//  NULL *a_p when there is none
static int
s_audit_load (lg_ctx_t *ctx, uint64_t id, Lgwan__V1__Audit **a_p)
{
    char text [24];
    s_id (text, sizeof text, id);
    const char *params [] = { text };
    PGresult *res;
    *a_p = NULL;
    int rc = lg_ctx_query (ctx, &res, "SELECT " AUDIT_COLUMNS " FROM audits a WHERE a.id = $1::bigint",
                           1, params);
    if (rc)
        return rc;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return 0;
    }
    Lgwan__V1__Audit *a = s_audit_new (res, 0);
    *a_p = a;
    PQclear (res);
    if ((rc = lg_ctx_query (ctx, &res, "SELECT " FINDING_COLUMNS " FROM findings f"
                            " WHERE f.audit_id = $1::bigint ORDER BY f.id", 1, params)))
        return rc;
    int rows = PQntuples (res);
    a->findings = (Lgwan__V1__Finding **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++)
        a->findings [a->n_findings++] = s_finding_new (res, row);
    PQclear (res);
    for (size_t i = 0; i < a->n_findings && rc == 0; i++)
        rc = s_evidence_load (ctx, "finding_id", a->findings [i]->id, &a->findings [i]->evidence,
                              &a->findings [i]->n_evidence);
    if (rc)
        return rc;
    if ((rc = lg_ctx_query (ctx, &res, "SELECT " REMEDIATION_COLUMNS " FROM remediation_requests r"
                            " WHERE r.audit_id = $1::bigint ORDER BY r.id", 1, params)))
        return rc;
    rows = PQntuples (res);
    a->remediations = (Lgwan__V1__Remediation **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++)
        a->remediations [a->n_remediations++] = s_remediation_new (res, row);
    PQclear (res);
    return 0;
}

static int
s_audit_reply (lg_ctx_t *ctx, uint64_t id)
{
    Lgwan__V1__AuditReply *reply = (Lgwan__V1__AuditReply *) malloc (sizeof *reply);
    lgwan__v1__audit_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_AUDIT;
    ctx->reply->audit = reply;
    return s_audit_load (ctx, id, &reply->audit);
}

static int
s_remediation_reply (lg_ctx_t *ctx, uint64_t id)
{
    Lgwan__V1__RemediationReply *reply = (Lgwan__V1__RemediationReply *) malloc (sizeof *reply);
    lgwan__v1__remediation_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_REMEDIATION;
    ctx->reply->remediation = reply;
    return s_remediation_load (ctx, id, &reply->remediation);
}

//  ---------------------------------------------------------------------------
//  The control catalogue

static const char *s_applies [] = {
    "any", "hosting", "facility", "application_content", "telecom", "network_layer", NULL
};

static Lgwan__V1__Control *
s_control_new (const PGresult *res, int row)
{
    Lgwan__V1__Control *c = (Lgwan__V1__Control *) malloc (sizeof *c);
    lgwan__v1__control__init (c);
    c->code = lg_db_strdup (res, row, "code");
    c->requirement = lg_db_strdup (res, row, "requirement");
    c->applies_to = lg_db_strdup (res, row, "applies_to");
    c->title = lg_db_strdup (res, row, "title");
    c->origin = lg_db_strdup (res, row, "origin");
    c->created_by = lg_db_strdup (res, row, "created_by");
    c->created_at = lg_db_strdup (res, row, "created_at");
    return c;
}

#define CONTROL_COLUMNS "code, requirement, applies_to, title, origin, created_by, " \
                        AUDIT_TS ("created_at") " AS created_at"

//  A requirement ID as REQUIREMENTS.md writes them: R<n>.<n> or X.<n>, at
//  most 16 bytes. Refusals name a control's requirement as their rule, so
//  free text there made refusals name "foo"
static bool
s_requirement_id (const char *text)
{
    size_t len = strlen (text);
    if (len < 3 || len > 16)
        return false;
    const char *at = text + 1;
    if (text [0] == 'R') {
        if (!isdigit ((unsigned char) *at))
            return false;
        while (isdigit ((unsigned char) *at))
            at++;
    }
    else
    if (text [0] != 'X')
        return false;
    if (*at++ != '.' || !isdigit ((unsigned char) *at))
        return false;
    while (isdigit ((unsigned char) *at))
        at++;
    return *at == 0;
}

int
audit_control_add (lg_ctx_t *ctx)
{
    const Lgwan__V1__ControlAdd *c = ctx->request->control_add;
    size_t len = strlen (c->code);
    bool code_ok = len >= 1 && len <= 32;
    for (const char *at = c->code; *at && code_ok; at++)
        code_ok = isalnum ((unsigned char) *at) || strchr ("._-", *at);
    if (!code_ok)
        return INVALID (ctx, "R5.1", "a control code is [A-Za-z0-9._-]{1,32}");
    if (!s_requirement_id (c->requirement))
        return INVALID (ctx, "R5.1", "a control names the requirement it comes from by its ID"
                        " (R5.1, X.3: R or X, numbers and one dot; at most 16 bytes), not"
                        " \"%.32s\"", c->requirement);
    bool known = false;
    for (int i = 0; s_applies [i]; i++)
        known |= streq (s_applies [i], c->applies_to);
    if (!known)
        return INVALID (ctx, "R5.1", "applies_to is any, hosting, facility, application_content,"
                                     " telecom or network_layer, not '%s'", c->applies_to);
    if (!*c->title || strlen (c->title) > 400)
        return INVALID (ctx, "R5.1", "a control has a title of 1-400 bytes");
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { c->code, c->requirement, c->applies_to, c->title, ctx->actor, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "INSERT INTO controls (code, requirement, applies_to, title, origin, created_by, created_at)"
        " VALUES ($1, $2, $3, $4, 'operating_body', $5, $6::timestamptz) RETURNING " CONTROL_COLUMNS,
        6, params);
    if (rc)
        return rc;
    Lgwan__V1__ControlReply *reply = (Lgwan__V1__ControlReply *) malloc (sizeof *reply);
    lgwan__v1__control_reply__init (reply);
    reply->control = s_control_new (res, 0);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONTROL;
    ctx->reply->control = reply;
    PQclear (res);
    return 0;
}

int
audit_control_list (lg_ctx_t *ctx)
{
    const char *applies = ctx->request->control_list->applies_to;
    const char *params [] = { applies };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " CONTROL_COLUMNS " FROM controls"
                           " WHERE $1 = '' OR applies_to = $1 ORDER BY code", 1, params);
    if (rc)
        return rc;
    Lgwan__V1__ControlListReply *reply = (Lgwan__V1__ControlListReply *) malloc (sizeof *reply);
    lgwan__v1__control_list_reply__init (reply);
    int rows = PQntuples (res);
    reply->controls = (Lgwan__V1__Control **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++)
        reply->controls [reply->n_controls++] = s_control_new (res, row);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONTROL_LIST;
    ctx->reply->control_list = reply;
    PQclear (res);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Audits

//  R15.1: only a qualified provider (its id as text) is audited and has
//  findings recorded, in audit's copy of the registry: not one only
//  applied, under review, rejected or cancelled. For a finding in audit
//  (NULL: opening one), a cancelled provider's audit is closing (the duty).
//  Read in a statement of its own: a cancellation committed while the
//  caller waited for a lock is seen
static int
s_provider_qualified (lg_ctx_t *ctx, const char *provider, const char *audit)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT status FROM providers WHERE id = $1::bigint", 1,
                           (const char *[]) { provider });
    if (rc)
        return rc;
    bool found = PQntuples (res) == 1;
    char status [24] = "";
    if (found)
        snprintf (status, sizeof status, "%s", lg_db_value (res, 0, "status"));
    PQclear (res);
    if (!found)
        return MISSING (ctx, "no provider %s in audit's copy of the registry", provider);
    if (audit && streq (status, "cancelled"))
        return REFUSE (ctx, "R15.1", "provider %s is cancelled: its audit %s is closing", provider,
                       audit);
    if (!streq (status, "qualified"))
        return REFUSE (ctx, "R15.1", "provider %s is %s: %s", provider, status, audit
                       ? "findings are recorded only of a qualified provider"
                       : "only a qualified provider is audited");
    return 0;
}

//  The audit already opened for the incident, as the answer to opening it
//  again (*answered): for the same provider that audit, with its request;
//  for another, ALREADY_EXISTS (R16.1). Nothing when there is none
static int
s_incident_answer (lg_ctx_t *ctx, const Lgwan__V1__AuditOpen *o, bool *answered)
{
    *answered = false;
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT id, provider_id FROM audits"
                           " WHERE origin = 'incident' AND incident = $1", 1,
                           (const char *[]) { o->incident });
    if (rc)
        return rc;
    bool found = PQntuples (res) == 1;
    uint64_t audit = found? lg_db_u64 (res, 0, "id"): 0;
    uint64_t provider = found? lg_db_u64 (res, 0, "provider_id"): 0;
    PQclear (res);
    if (!found)
        return 0;
    if (provider != o->provider)
        return EXISTS (ctx, "R16.1", "incident %s has its audit %" PRIu64 ", of provider %" PRIu64,
                       o->incident, audit, provider);
    *answered = true;
    return s_audit_reply (ctx, audit);
}

int
audit_open (lg_ctx_t *ctx)
{
    const Lgwan__V1__AuditOpen *o = ctx->request->audit_open;
    //  A using body (a local government or an organisation J-LIS approved
    //  to use LGWAN) asks for the audit, or commissions it (Art.15)
    bool plan = streq (o->origin, "plan"), incident = streq (o->origin, "incident"),
         by_body = streq (o->origin, "request") || streq (o->origin, "commission");
    if (!plan && !by_body && !incident)
        return INVALID (ctx, "R15.1", "an audit's origin is plan, request, commission or"
                        " incident, not '%.16s'", o->origin);
    //  Only the orchestrator, after a forced disconnection; the others only
    //  by the audit staff, who plan them or take a using body's request
    if (incident && ctx->caller->role != LG_ROLE_SERVICE)
        return DENIED (ctx, "R16.1", "an incident audit is opened by the orchestrator after a"
                       " forced disconnection, not by a %s certificate", ctx->caller->role_name);
    if (!incident && ctx->caller->role == LG_ROLE_SERVICE)
        return DENIED (ctx, "R15.1", "an audit of origin %s is opened by the audit staff (an"
                       " operator or an auditor), not by a service certificate", o->origin);
    if (o->provider == 0)
        return INVALID (ctx, "R15.1", "provider is mandatory");
    size_t body_len = strlen (o->approved_body);
    if (by_body && (*o->lgcode? 1: 0) + (body_len? 1: 0) != 1)
        return INVALID (ctx, "R15.1", "an audit at a using body's %s records that body: a local"
                        " government code (lgcode) or the name of an organisation J-LIS"
                        " approved (approved_body), one of them", o->origin);
    if (by_body && *o->lgcode && !lg_check_lgcode (o->lgcode))
        return INVALID (ctx, "R15.1", "an audit at a using body's %s records the body's"
                        " local government code: '%.16s' is not 6 digits with a valid check"
                        " digit", o->origin, o->lgcode);
    if (by_body && body_len && (body_len > 256 || !lg_check_utf8 (o->approved_body, body_len)))
        return INVALID (ctx, "R15.1", "an approved organisation is named in 1-256 bytes of UTF-8");
    if (!by_body && (*o->lgcode || body_len))
        return INVALID (ctx, "R15.1", "only an audit at a using body's request or commission"
                        " names a using body (lgcode, approved_body)");
    size_t len = strlen (o->incident);
    if (incident && (len == 0 || len > 128))
        return INVALID (ctx, "R16.1", "an incident audit names its incident (1-128 bytes)");
    if (!incident && len)
        return INVALID (ctx, "R15.1", "only an incident audit names an incident");
    if ((*o->starts_on && !lg_check_date (o->starts_on))
    ||  (*o->ends_on && !lg_check_date (o->ends_on)))
        return INVALID (ctx, "R15.1", "an audit's starts_on and ends_on are days YYYY-MM-DD,"
                        " not \"%.16s\", \"%.16s\"", o->starts_on, o->ends_on);
    //  Both are YYYY-MM-DD: compared as text
    if (*o->starts_on && *o->ends_on && strcmp (o->ends_on, o->starts_on) < 0)
        return INVALID (ctx, "R15.1", "an audit ends on or after the day it starts, not on %s"
                        " before %s", o->ends_on, o->starts_on);
    if (strlen (o->title) > 400)
        return INVALID (ctx, NULL, "a title is at most 400 bytes");
    if (o->n_auditors > 16 || o->n_services > 64)
        return INVALID (ctx, NULL, "at most 16 auditors and 64 services");
    //  Each name quoted: unquoted, an auditor named null (or NULL) was an
    //  SQL NULL in the array. A name holds no quote or backslash
    char auditors [16 * 67 + 3] = "{";
    for (size_t i = 0; i < o->n_auditors; i++) {
        if (!s_name_ok (o->auditors [i]))
            return INVALID (ctx, NULL, "an auditor is named by [A-Za-z0-9._@-]{1,64}");
        strcat (auditors, i? ",\"": "\"");
        strcat (auditors, o->auditors [i]);
        strcat (auditors, "\"");
    }
    strcat (auditors, "}");
    char services [64 * 21 + 3] = "{";
    for (size_t i = 0; i < o->n_services; i++) {
        char id [24];
        s_id (id, sizeof id, o->services [i]);
        strcat (services, i? ",": "");
        strcat (services, id);
    }
    strcat (services, "}");
    char provider [24], now [40];
    s_id (provider, sizeof provider, o->provider);
    lg_clock_format (ctx->now_us, now, sizeof now);

    //  One audit per incident (R16.1): the orchestrator's saga asking again
    //  with a new request_id gets the audit opened first, and nothing is
    //  opened, requested or announced again
    PGresult *res;
    bool answered = false;
    int rc = incident? s_incident_answer (ctx, o, &answered): 0;
    if (rc || answered)
        return rc;

    //  The scope: a provider audit knows, qualified; services in effect
    //  that it holds a role in
    if ((rc = s_provider_qualified (ctx, provider, NULL)))
        return rc;
    const char *scope [] = { provider, services };
    rc = lg_ctx_query (ctx, &res,
        "SELECT (SELECT count (DISTINCT h.service_id) FROM service_holders h"
        "  JOIN services_in_effect s ON s.id = h.service_id WHERE h.provider_id = p.id"
        "  AND h.service_id = ANY ($2::bigint[])) AS held,"
        " (SELECT count (DISTINCT x) FROM unnest ($2::bigint[]) x) AS named,"
        " (SELECT string_agg (s.id::text, ', ' ORDER BY s.id) FROM services s"
        "  WHERE s.id = ANY ($2::bigint[])"
        "  AND s.id NOT IN (SELECT id FROM services_in_effect)) AS ended"
        " FROM providers p WHERE p.id = $1::bigint", 2, scope);
    if (rc)
        return rc;
    bool held = lg_db_u64 (res, 0, "held") == lg_db_u64 (res, 0, "named");
    char ended [200] = "";
    if (lg_db_value (res, 0, "ended"))
        snprintf (ended, sizeof ended, "%s", lg_db_value (res, 0, "ended"));
    PQclear (res);
    if (*ended)
        return REFUSE (ctx, "R15.1", "the scope names a service no longer in effect (%s):"
                       " cancelled, or its hosting provider is", ended);
    if (!held)
        return INVALID (ctx, "R15.1", "the scope names a service provider %s holds no role in",
                        provider);

    const char *params [] = { o->origin, provider, services, auditors,
                              *o->lgcode? o->lgcode: NULL, incident? o->incident: NULL,
                              *o->starts_on? o->starts_on: NULL, *o->ends_on? o->ends_on: NULL,
                              o->title, ctx->actor, now, body_len? o->approved_body: NULL };
    //  An incident's audit opened meanwhile (the same call from another
    //  replica, committed while this one waited on the index) is the answer
    if ((rc = lg_ctx_query (ctx, &res,
            "INSERT INTO audits (origin, provider_id, services, auditors, lgcode, incident,"
            " starts_on, ends_on, title, opened_by, opened_at, approved_body) VALUES ($1,"
            " $2::bigint, $3::bigint[], $4::text[], $5, $6, $7::date, $8::date, $9, $10,"
            " $11::timestamptz, $12)"
            " ON CONFLICT (incident) WHERE origin = 'incident' DO NOTHING RETURNING id",
            12, params)))
        return rc;
    bool inserted = PQntuples (res) == 1;
    uint64_t audit = inserted? lg_db_u64 (res, 0, "id"): 0;
    PQclear (res);
    if (!inserted) {
        if ((rc = s_incident_answer (ctx, o, &answered)) || answered)
            return rc;
        return -2;                      //  cannot be: a conflict is with a committed row
    }

    Lgwan__V1__AuditOpened opened = LGWAN__V1__AUDIT_OPENED__INIT;
    opened.audit = audit;
    opened.provider = o->provider;
    opened.origin = o->origin;
    opened.lgcode = o->lgcode;
    opened.approved_body = o->approved_body;
    opened.incident = o->incident;
    opened.services = o->services;
    opened.n_services = o->n_services;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_AUDIT_OPENED;
    event.audit_opened = &opened;
    if ((rc = lg_ctx_emit (ctx, &event)))
        return rc;

    //  An incident audit asks for remediation at once (R16.1 control)
    if (incident) {
        char id [24];
        s_id (id, sizeof id, audit);
        const char *request_params [] = { id, provider, now };
        if ((rc = lg_ctx_query (ctx, &res,
                "INSERT INTO remediation_requests (audit_id, provider_id, control_code, deadline,"
                " created_at) SELECT $1::bigint, $2::bigint, 'R16.1',"
                " deadline_after ($3::timestamptz, incident_days), $3::timestamptz"
                " FROM policy WHERE id = 1 RETURNING id::text", 3, request_params)))
            return rc;
        char remediation [24];
        snprintf (remediation, sizeof remediation, "%s", PQgetvalue (res, 0, 0));
        PQclear (res);
        if ((rc = audit_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_REQUESTED,
                                          remediation, 0, NULL)))
            return rc;
    }
    return s_audit_reply (ctx, audit);
}

int
audit_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->audit_get->audit;
    if (id == 0)
        return INVALID (ctx, NULL, "audit is mandatory");
    int rc = s_audit_reply (ctx, id);
    if (rc)
        return rc;
    //  Another provider's is not found either: which ids exist is not said
    if (!ctx->reply->audit->audit || s_other_provider (ctx, ctx->reply->audit->audit->provider))
        return MISSING (ctx, "no audit %" PRIu64, id);
    return 0;
}

int
audit_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__AuditList *l = ctx->request->audit_list;
    uint64_t provider = l->provider;
    uint32_t limit;
    char count [16];
    if (s_list_scope (ctx, &provider)
    ||  lg_ctx_page (ctx, l->limit, 50, 500, &limit, count, sizeof count))
        return -1;
    char text [24], after [24];
    s_id (text, sizeof text, provider);
    s_id (after, sizeof after, l->after_id);
    const char *params [] = { text, l->status, after, count };
    PGresult *res;
    //  Newest first: the next page is older than the last of this one
    int rc = lg_ctx_query (ctx, &res, "SELECT " AUDIT_COLUMNS " FROM audits a"
                           " WHERE ($1::bigint = 0 OR a.provider_id = $1::bigint)"
                           " AND ($2 = '' OR a.status = $2)"
                           " AND ($3::bigint = 0 OR a.id < $3::bigint)"
                           " ORDER BY a.id DESC LIMIT $4::integer", 4, params);
    if (rc)
        return rc;
    Lgwan__V1__AuditListReply *reply = (Lgwan__V1__AuditListReply *) malloc (sizeof *reply);
    lgwan__v1__audit_list_reply__init (reply);
    int rows = PQntuples (res);
    reply->audits = (Lgwan__V1__Audit **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows && row < (int) limit; row++)
        reply->audits [reply->n_audits++] = s_audit_new (res, row);
    if (rows > (int) limit)
        reply->next_after_id = reply->audits [limit - 1]->id;
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_AUDIT_LIST;
    ctx->reply->audit_list = reply;
    return 0;
}

//  An audit closes when every remediation it asked for is verified
int
audit_close (lg_ctx_t *ctx)
{
    const Lgwan__V1__AuditClose *c = ctx->request->audit_close;
    const char *reason = *c->reason? c->reason: ctx->request->reason;
    if (c->audit == 0)
        return INVALID (ctx, NULL, "audit is mandatory");
    if (!*reason || strlen (reason) > 400)
        return INVALID (ctx, NULL, "closing an audit records why (reason, 1-400 bytes)");
    char id [24], now [40];
    s_id (id, sizeof id, c->audit);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { id };
    //  The audit locked first, in a statement of its own (queued): a finding
    //  being recorded holds it, and the count below, a statement after the
    //  wait, sees the request that finding made. In one statement the count
    //  was of the moment it began, and an audit closed with a request open
    if (!lg_db_run (ctx->db, "SELECT 1 FROM audits WHERE id = $1::bigint FOR UPDATE", 1, params))
        return -2;
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "SELECT status, provider_id, (SELECT count (*) FROM remediation_requests r"
        " WHERE r.audit_id = a.id AND r.status IN ('requested', 'reported', 'insufficient'))"
        " AS waiting FROM audits a WHERE id = $1::bigint", 1, params);
    if (rc)
        return rc;
    bool found = PQntuples (res) == 1;
    bool closed = found && streq (lg_db_value (res, 0, "status"), "closed");
    uint64_t waiting = found? lg_db_u64 (res, 0, "waiting"): 0;
    uint64_t provider = found? lg_db_u64 (res, 0, "provider_id"): 0;
    PQclear (res);
    if (!found)
        return MISSING (ctx, "no audit %s", id);
    if (closed)
        return REFUSE (ctx, "R15.2", "audit %s is already closed", id);
    if (waiting)
        return REFUSE (ctx, "R15.2", "audit %s has %" PRIu64 " remediation request(s) not yet"
                       " verified as sufficient", id, waiting);
    if ((rc = lg_ctx_exec (ctx, "UPDATE audits SET status = 'closed', closed_by = $2,"
                                " closed_at = $3::timestamptz, close_reason = $4"
                                " WHERE id = $1::bigint", 4,
                           (const char *[]) { id, ctx->actor, now, reason })))
        return rc;
    Lgwan__V1__AuditClosed body = LGWAN__V1__AUDIT_CLOSED__INIT;
    body.audit = c->audit;
    body.provider = provider;
    body.reason = (char *) reason;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_AUDIT_CLOSED;
    event.audit_closed = &body;
    if ((rc = lg_ctx_emit (ctx, &event)))
        return rc;
    return s_audit_reply (ctx, c->audit);
}

//  ---------------------------------------------------------------------------
//  Findings

int
audit_finding_record (lg_ctx_t *ctx)
{
    Lgwan__V1__FindingRecord *f = ctx->request->finding_record;
    if (f->audit == 0)
        return INVALID (ctx, NULL, "audit is mandatory");
    if (!*f->control)
        return INVALID (ctx, "R5.1", "a finding names a control of the catalogue");
    if (!*f->severity)
        return INVALID (ctx, NULL, "a finding has a severity");
    size_t len = strlen (f->description);
    if (len == 0 || len > MAX_TEXT)
        return INVALID (ctx, NULL, "a finding is described in 1-%d bytes", MAX_TEXT);
    int rc = s_evidence_check (ctx, f->evidence, f->n_evidence);
    if (rc)
        return rc;
    if (!f->requires_remediation && *f->deadline_on)
        return INVALID (ctx, "R15.2", "a deadline is given only to a finding that requires"
                        " remediation");
    if (*f->deadline_on && !lg_check_date (f->deadline_on))
        return INVALID (ctx, "R15.2", "deadline_on \"%.16s\" is not a day YYYY-MM-DD",
                        f->deadline_on);
    char audit [24], now [40];
    s_id (audit, sizeof audit, f->audit);
    lg_clock_format (ctx->now_us, now, sizeof now);
    PGresult *res;
    //  The audit, open
    if ((rc = lg_ctx_query (ctx, &res, "SELECT status, provider_id::text FROM audits"
                            " WHERE id = $1::bigint FOR UPDATE", 1, (const char *[]) { audit })))
        return rc;
    bool found = PQntuples (res) == 1;
    bool open = found && streq (PQgetvalue (res, 0, 0), "open");
    char provider [24] = "";
    if (found)
        snprintf (provider, sizeof provider, "%s", PQgetvalue (res, 0, 1));
    PQclear (res);
    if (!found)
        return MISSING (ctx, "no audit %s", audit);
    if (!open)
        return REFUSE (ctx, "R15.2", "audit %s is closed", audit);
    //  Its provider qualified, read after the audit's lock. Not cancelled:
    //  the duty closes such an audit within a second, and a finding
    //  recorded before that asked a cancelled provider for remediation,
    //  withdrawn at once. Nor one never qualified (an audit opened before
    //  AuditOpen required it)
    if ((rc = s_provider_qualified (ctx, provider, audit)))
        return rc;
    //  The control, and that it applies to a role the provider holds
    if ((rc = lg_ctx_query (ctx, &res,
            "SELECT c.requirement, c.applies_to, c.applies_to = 'any' OR EXISTS (SELECT 1"
            " FROM service_holders h JOIN services_in_effect s ON s.id = h.service_id"
            " WHERE h.provider_id = $2::bigint AND h.role = c.applies_to)"
            " AS applies FROM controls c WHERE c.code = $1", 2,
            (const char *[]) { f->control, provider })))
        return rc;
    found = PQntuples (res) == 1;
    char requirement [24] = "", applies_to [32] = "";
    bool applies = false;
    if (found) {
        snprintf (requirement, sizeof requirement, "%s", lg_db_value (res, 0, "requirement"));
        snprintf (applies_to, sizeof applies_to, "%s", lg_db_value (res, 0, "applies_to"));
        applies = streq (lg_db_value (res, 0, "applies"), "t");
    }
    PQclear (res);
    if (!found)
        return INVALID (ctx, "R5.1", "unknown control '%s': see lgwanctl control list", f->control);
    if (!applies)
        return INVALID (ctx, requirement, "control %s applies to %s providers; provider %s holds"
                        " no %s role in any service in effect", f->control, applies_to, provider,
                        applies_to);
    //  The severity and its default deadline
    if ((rc = lg_ctx_query (ctx, &res, "SELECT coalesce (remediation_days::text, '') FROM severities"
                            " WHERE severity = $1", 1, (const char *[]) { f->severity })))
        return rc;
    found = PQntuples (res) == 1;
    char days [16] = "";
    if (found)
        snprintf (days, sizeof days, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (!found)
        return INVALID (ctx, NULL, "unknown severity '%s' (critical, high, medium, low, info)",
                        f->severity);
    if (f->requires_remediation && !*days && !*f->deadline_on)
        return INVALID (ctx, "R15.2", "severity %s has no default deadline: give deadline_on",
                        f->severity);
    //  A day given: not ended, and not further than the policy allows (a
    //  deadline that never comes is no deadline)
    if (f->requires_remediation && *f->deadline_on) {
        if ((rc = lg_ctx_query (ctx, &res,
                "SELECT deadline_of_day ($1::date) > $2::timestamptz AS future,"
                " deadline_of_day ($1::date) <= deadline_after ($2::timestamptz, deadline_max_days)"
                " AS near, deadline_max_days,"
                " deadline_day (deadline_after ($2::timestamptz, deadline_max_days))::text AS last"
                " FROM policy WHERE id = 1", 2, (const char *[]) { f->deadline_on, now })))
            return rc;
        bool future = streq (lg_db_value (res, 0, "future"), "t");
        bool near = streq (lg_db_value (res, 0, "near"), "t");
        char last [16], max_days [16];
        snprintf (last, sizeof last, "%s", lg_db_value (res, 0, "last"));
        snprintf (max_days, sizeof max_days, "%s", lg_db_value (res, 0, "deadline_max_days"));
        PQclear (res);
        if (!future)
            return INVALID (ctx, "R15.2", "the deadline day %s has already ended", f->deadline_on);
        if (!near)
            return INVALID (ctx, "R15.2", "the deadline day %s is after %s: a remediation deadline"
                            " is at most %s days ahead (policy)", f->deadline_on, last, max_days);
    }
    //  The finding, its evidence, its event
    if ((rc = lg_ctx_query (ctx, &res,
            "INSERT INTO findings (audit_id, control_code, severity, description,"
            " requires_remediation, recorded_by, recorded_at) VALUES ($1::bigint, $2, $3, $4,"
            " $5::boolean, $6, $7::timestamptz) RETURNING id::text", 7,
            (const char *[]) { audit, f->control, f->severity, f->description,
                                f->requires_remediation? "true": "false", ctx->actor, now })))
        return rc;
    char finding [24];
    snprintf (finding, sizeof finding, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if ((rc = s_evidence_store (ctx, "finding_id", finding, f->evidence, f->n_evidence)))
        return rc;
    Lgwan__V1__FindingRecorded recorded = LGWAN__V1__FINDING_RECORDED__INIT;
    recorded.finding = strtoull (finding, NULL, 10);
    recorded.audit = f->audit;
    recorded.provider = strtoull (provider, NULL, 10);
    recorded.control = f->control;
    recorded.severity = f->severity;
    recorded.requires_remediation = f->requires_remediation;
    recorded.description = f->description;
    Lgwan__V1__Evidence copies [AUDIT_MAX_EVIDENCE], *evidence [AUDIT_MAX_EVIDENCE];
    recorded.n_evidence = f->n_evidence;
    audit_event_evidence (f->evidence, f->n_evidence, copies, evidence);
    recorded.evidence = evidence;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_FINDING_RECORDED;
    event.finding_recorded = &recorded;
    if ((rc = lg_ctx_emit (ctx, &event)))
        return rc;
    //  R15.2: the remediation request and its deadline
    uint64_t remediation = 0;
    if (f->requires_remediation) {
        if ((rc = lg_ctx_query (ctx, &res,
                "INSERT INTO remediation_requests (audit_id, finding_id, provider_id, control_code,"
                " deadline, created_at) VALUES ($1::bigint, $2::bigint, $3::bigint, $4,"
                " CASE WHEN $5 <> '' THEN deadline_of_day ($5::date)"
                " ELSE deadline_after ($6::timestamptz, $7::integer) END, $6::timestamptz)"
                " RETURNING id::text", 7,
                (const char *[]) { audit, finding, provider, f->control, f->deadline_on, now,
                                    *days? days: "0" })))
            return rc;
        char id [24];
        snprintf (id, sizeof id, "%s", PQgetvalue (res, 0, 0));
        PQclear (res);
        remediation = strtoull (id, NULL, 10);
        if ((rc = audit_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_REQUESTED,
                                          id, 0, NULL)))
            return rc;
    }
    //  The reply
    Lgwan__V1__FindingReply *reply = (Lgwan__V1__FindingReply *) malloc (sizeof *reply);
    lgwan__v1__finding_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_FINDING;
    ctx->reply->finding = reply;
    if ((rc = lg_ctx_query (ctx, &res, "SELECT " FINDING_COLUMNS " FROM findings f"
                            " WHERE f.id = $1::bigint", 1, (const char *[]) { finding })))
        return rc;
    reply->finding = s_finding_new (res, 0);
    PQclear (res);
    if ((rc = s_evidence_load (ctx, "finding_id", reply->finding->id, &reply->finding->evidence,
                               &reply->finding->n_evidence)))
        return rc;
    if (remediation)
        rc = s_remediation_load (ctx, remediation, &reply->remediation);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Remediation

int
audit_remediation_report (lg_ctx_t *ctx)
{
    //  A provider certificate: the route admits no other role
    Lgwan__V1__RemediationReport *r = ctx->request->remediation_report;
    if (r->remediation == 0)
        return INVALID (ctx, NULL, "remediation is mandatory");
    size_t len = strlen (r->report);
    if (len == 0 || len > MAX_TEXT)
        return INVALID (ctx, "R15.2", "a remediation report says what was done (1-%d bytes)",
                        MAX_TEXT);
    int rc = s_evidence_check (ctx, r->evidence, r->n_evidence);
    if (rc)
        return rc;
    char id [24], now [40];
    s_id (id, sizeof id, r->remediation);
    lg_clock_format (ctx->now_us, now, sizeof now);
    PGresult *res;
    //  late: its deadline passed and the deadline duty has not marked it
    //  overdue yet (it runs every few seconds, and skips a request locked
    //  as this one is): the report marks it, or nothing ever would
    if ((rc = lg_ctx_query (ctx, &res, "SELECT provider_id, status, overdue_at IS NULL"
                            " AND deadline <= $2::timestamptz AS late FROM remediation_requests"
                            " WHERE id = $1::bigint FOR UPDATE", 2, (const char *[]) { id, now })))
        return rc;
    bool found = PQntuples (res) == 1;
    uint64_t owner = found? lg_db_u64 (res, 0, "provider_id"): 0;
    char status [16] = "";
    bool late = found && streq (lg_db_value (res, 0, "late"), "t");
    if (found)
        snprintf (status, sizeof status, "%s", lg_db_value (res, 0, "status"));
    PQclear (res);
    //  Another provider's request is answered as one that does not exist
    //  (point 5): the refusal said whose it was
    if (!found || owner != ctx->caller->provider_id)
        return MISSING (ctx, "no remediation request %s", id);
    if (!streq (status, "requested") && !streq (status, "insufficient"))
        return REFUSE (ctx, "R15.2", "remediation request %s is %s: nothing to report", id, status);
    if (late) {
        if ((rc = lg_ctx_exec (ctx, "UPDATE remediation_requests SET overdue_at = $2::timestamptz"
                                    " WHERE id = $1::bigint", 2, (const char *[]) { id, now }))
        ||  (rc = audit_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_OVERDUE, id, 0,
                                          NULL)))
            return rc;
        lg_info ("remediation %s is overdue: reported after its deadline", id);
    }
    if ((rc = lg_ctx_exec (ctx, "UPDATE remediation_requests SET status = 'reported', report = $2,"
                                " reported_by = $3, reported_at = $4::timestamptz"
                                " WHERE id = $1::bigint", 4,
                           (const char *[]) { id, r->report, ctx->actor, now })))
        return rc;
    if ((rc = s_evidence_store (ctx, "remediation_id", id, r->evidence, r->n_evidence)))
        return rc;
    if ((rc = audit_emit_reported (ctx, id, r)))
        return rc;
    return s_remediation_reply (ctx, r->remediation);
}

//  The status of request id (text), its row locked until the transaction
//  ends (every writer of a request takes it first); "" when there is none
static int
s_remediation_lock (lg_ctx_t *ctx, const char *id, char *status, size_t size)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT status FROM remediation_requests"
                           " WHERE id = $1::bigint FOR UPDATE", 1, (const char *[]) { id });
    if (rc)
        return rc;
    snprintf (status, size, "%s", PQntuples (res) == 1? PQgetvalue (res, 0, 0): "");
    PQclear (res);
    return 0;
}

int
audit_remediation_verify (lg_ctx_t *ctx)
{
    const Lgwan__V1__RemediationVerify *v = ctx->request->remediation_verify;
    const char *reason = *v->reason? v->reason: ctx->request->reason;
    if (v->remediation == 0)
        return INVALID (ctx, NULL, "remediation is mandatory");
    if (!v->sufficient && !*reason)
        return INVALID (ctx, "R15.3", "remediation verified as insufficient says why (reason)");
    if (strlen (reason) > MAX_TEXT)
        return INVALID (ctx, NULL, "a reason is at most %d bytes", MAX_TEXT);
    char id [24], now [40];
    s_id (id, sizeof id, v->remediation);
    lg_clock_format (ctx->now_us, now, sizeof now);
    char status [16];
    int rc = s_remediation_lock (ctx, id, status, sizeof status);
    if (rc)
        return rc;
    if (!*status)
        return MISSING (ctx, "no remediation request %s", id);
    if (streq (status, "requested") || streq (status, "insufficient"))
        return REFUSE (ctx, "R15.2", "remediation request %s was never reported%s: there is"
                       " nothing to verify", id, streq (status, "insufficient")?
                       " since it was found insufficient": "");
    if (!streq (status, "reported"))
        return REFUSE (ctx, "R15.2", "remediation request %s is already %s", id, status);
    //  R15.3: insufficient, a fresh deadline as many days after the verdict
    //  as the request was given, not yet overdue (the events below carry
    //  it). It waited again for its first deadline: a verdict after that,
    //  or close to it, left no time to remediate again
    if ((rc = lg_ctx_exec (ctx, "UPDATE remediation_requests SET status = $2, verified_by = $3,"
                                " verified_at = $4::timestamptz, verification_reason = $5,"
                                " deadline = CASE WHEN $2 = 'insufficient'"
                                "  THEN deadline_after ($4::timestamptz, period_days)"
                                "  ELSE deadline END,"
                                " overdue_at = CASE WHEN $2 = 'insufficient' THEN NULL"
                                "  ELSE overdue_at END"
                                " WHERE id = $1::bigint", 5,
                           (const char *[]) { id, v->sufficient? "accepted": "insufficient",
                                              ctx->actor, now, reason })))
        return rc;
    //  R15.3: an insufficient remediation is the orchestrator's cue to suspend
    if ((rc = audit_emit_remediation (ctx, v->sufficient
                                      ? LGWAN__V1__EVENT__BODY_REMEDIATION_ACCEPTED
                                      : LGWAN__V1__EVENT__BODY_REMEDIATION_INSUFFICIENT,
                                      id, 0, reason)))
        return rc;
    return s_remediation_reply (ctx, v->remediation);
}

//  An operator withdraws an open request: a finding recorded in error, the
//  service concerned cancelled. It will never be accepted; who, when and
//  why are kept (a step, migration 008) and announced (RemediationWithdrawn).
//  Only the provider's cancellation withdrew a request before
int
audit_remediation_withdraw (lg_ctx_t *ctx)
{
    const Lgwan__V1__RemediationWithdraw *w = ctx->request->remediation_withdraw;
    const char *reason = *w->reason? w->reason: ctx->request->reason;
    if (w->remediation == 0)
        return INVALID (ctx, "R15.2", "remediation is mandatory");
    if (!*reason || strlen (reason) > MAX_TEXT)
        return INVALID (ctx, "R15.2", "withdrawing a remediation request says why (reason,"
                        " 1-%d bytes)", MAX_TEXT);
    char id [24], now [40], status [16];
    s_id (id, sizeof id, w->remediation);
    lg_clock_format (ctx->now_us, now, sizeof now);
    int rc = s_remediation_lock (ctx, id, status, sizeof status);
    if (rc)
        return rc;
    if (!*status)
        return MISSING (ctx, "no remediation request %s", id);
    if (!streq (status, "requested") && !streq (status, "reported")
    &&  !streq (status, "insufficient"))
        return REFUSE (ctx, "R15.2", "remediation request %s is %s: only an open one (requested,"
                       " reported, insufficient) is withdrawn", id, status);
    if ((rc = lg_ctx_exec (ctx, "UPDATE remediation_requests SET status = 'withdrawn',"
                                " withdrawn_by = $2, withdrawn_at = $3::timestamptz,"
                                " withdrawal_reason = $4 WHERE id = $1::bigint", 4,
                           (const char *[]) { id, ctx->actor, now, reason }))
    ||  (rc = audit_emit_remediation (ctx, LGWAN__V1__EVENT__BODY_REMEDIATION_WITHDRAWN, id, 0,
                                      reason)))
        return rc;
    return s_remediation_reply (ctx, w->remediation);
}

int
audit_remediation_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->remediation_get->remediation;
    if (id == 0)
        return INVALID (ctx, NULL, "remediation is mandatory");
    int rc = s_remediation_reply (ctx, id);
    if (rc)
        return rc;
    //  Another provider's is not found either: which ids exist is not said
    if (!ctx->reply->remediation->remediation
    ||  s_other_provider (ctx, ctx->reply->remediation->remediation->provider))
        return MISSING (ctx, "no remediation request %" PRIu64, id);
    return 0;
}

int
audit_remediation_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__RemediationList *l = ctx->request->remediation_list;
    uint64_t provider = l->provider;
    uint32_t limit;
    char count [16];
    if (s_list_scope (ctx, &provider)
    ||  lg_ctx_page (ctx, l->limit, 50, 500, &limit, count, sizeof count))
        return -1;
    char text [24], after [24];
    s_id (text, sizeof text, provider);
    s_id (after, sizeof after, l->after_id);
    const char *params [] = { text, l->status, l->overdue_only? "t": "f", after, count };
    PGresult *res;
    //  By id, oldest first: the next page comes after the last of this one
    //  by a key that never changes. By deadline, which an insufficient
    //  verdict moves later, a request moved from a page read showed again
    //  on a later one, and moving the page's last moved the cursor past
    //  requests never shown. The request after_id names is one of the
    //  list's provider, else NOT_FOUND, as for one that does not exist:
    //  the page was empty, and read as the end of the list
    if (l->after_id) {
        int rc = lg_ctx_query (ctx, &res, "SELECT 1 FROM remediation_requests WHERE id = $2::bigint"
                               " AND ($1::bigint = 0 OR provider_id = $1::bigint)", 2,
                               (const char *[]) { text, after });
        if (rc)
            return rc;
        bool known = PQntuples (res) == 1;
        PQclear (res);
        if (!known)
            return MISSING (ctx, "no remediation request %s to list after", after);
    }
    int rc = lg_ctx_query (ctx, &res, "SELECT " REMEDIATION_COLUMNS " FROM remediation_requests r"
                           " WHERE ($1::bigint = 0 OR r.provider_id = $1::bigint)"
                           " AND ($2 = '' OR r.status = $2)"
                           " AND (NOT $3::boolean OR r.overdue_at IS NOT NULL)"
                           " AND r.id > $4::bigint"
                           " ORDER BY r.id LIMIT $5::integer", 5, params);
    if (rc)
        return rc;
    Lgwan__V1__RemediationListReply *reply =
        (Lgwan__V1__RemediationListReply *) malloc (sizeof *reply);
    lgwan__v1__remediation_list_reply__init (reply);
    int rows = PQntuples (res);
    reply->remediations = (Lgwan__V1__Remediation **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows && row < (int) limit; row++)
        reply->remediations [reply->n_remediations++] = s_remediation_new (res, row);
    if (rows > (int) limit)
        reply->next_after_id = reply->remediations [limit - 1]->id;
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_REMEDIATION_LIST;
    ctx->reply->remediation_list = reply;
    return 0;
}

//  The per-provider view: open findings, overdue requests, last audit
int
audit_compliance_get (lg_ctx_t *ctx)
{
    uint64_t provider = ctx->request->compliance_get->provider;
    if (provider == 0 && ctx->caller->role == LG_ROLE_PROVIDER)
        provider = ctx->caller->provider_id;
    if (provider == 0)
        return INVALID (ctx, NULL, "provider is mandatory");
    int rc = s_only_self (ctx, provider);
    if (rc)
        return rc;
    char text [24];
    s_id (text, sizeof text, provider);
    const char *params [] = { text };
    PGresult *res;
    if ((rc = lg_ctx_query (ctx, &res,
            "SELECT p.status,"
            " (SELECT count (*) FROM findings f JOIN audits a ON a.id = f.audit_id"
            "  LEFT JOIN remediation_requests r ON r.finding_id = f.id"
            "  WHERE a.provider_id = p.id AND f.requires_remediation"
            "  AND coalesce (r.status, 'requested') NOT IN ('accepted', 'withdrawn')) AS open_findings,"
            " (SELECT count (*) FROM remediation_requests r WHERE r.provider_id = p.id"
            "  AND r.overdue_at IS NOT NULL AND r.status NOT IN ('accepted', 'withdrawn')) AS overdue,"
            " (SELECT max (id) FROM audits a WHERE a.provider_id = p.id) AS last_audit"
            " FROM providers p WHERE p.id = $1::bigint", 1, params)))
        return rc;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return MISSING (ctx, "no provider %s in audit's copy of the registry", text);
    }
    Lgwan__V1__ComplianceReply *reply = (Lgwan__V1__ComplianceReply *) malloc (sizeof *reply);
    lgwan__v1__compliance_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_COMPLIANCE;
    ctx->reply->compliance = reply;
    reply->provider = provider;
    reply->provider_status = lg_db_strdup (res, 0, "status");
    reply->open_findings = (uint32_t) lg_db_u64 (res, 0, "open_findings");
    reply->overdue_requests = (uint32_t) lg_db_u64 (res, 0, "overdue");
    uint64_t last = lg_db_u64 (res, 0, "last_audit");
    PQclear (res);
    if (last) {
        char id [24];
        s_id (id, sizeof id, last);
        if ((rc = lg_ctx_query (ctx, &res, "SELECT " AUDIT_COLUMNS " FROM audits a"
                                " WHERE a.id = $1::bigint", 1, (const char *[]) { id })))
            return rc;
        reply->last_audit = s_audit_new (res, 0);
        PQclear (res);
    }
    if ((rc = lg_ctx_query (ctx, &res, "SELECT " REMEDIATION_COLUMNS " FROM remediation_requests r"
                            " WHERE r.provider_id = $1::bigint AND r.status IN ('requested',"
                            " 'reported', 'insufficient') ORDER BY r.deadline, r.id LIMIT 1000",
                            1, params)))
        return rc;
    int rows = PQntuples (res);
    reply->open_requests = (Lgwan__V1__Remediation **) calloc (rows + 1, sizeof (void *));
    for (int row = 0; row < rows; row++)
        reply->open_requests [reply->n_open_requests++] = s_remediation_new (res, row);
    PQclear (res);
    return 0;
}
