/*  audit - audits of providers (R5.1, R11.1, R14.1, R15): the control
    catalogue, audits and their origin, findings with evidence, remediation
    requests with durable deadlines, verification and escalation events.

    audit.c follows the registry and holds the service definition and the
    deadline duty; audit_requests.c answers requests.
*/
#ifndef AUDIT_H_INCLUDED
#define AUDIT_H_INCLUDED

#include "lg_lib.h"

extern const lg_service_def_t audit_service;

//  A timestamptz column as RFC 3339 UTC with microseconds, "" when NULL
#define AUDIT_TS(col) "coalesce (to_char ((" col ") AT TIME ZONE 'UTC'," \
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')"

//  A remediation request (table remediation_requests, or alias r) of a
//  provider that is not cancelled: a cancelled provider's requests are the
//  cancelled-provider duty's to withdraw, never overdue nor reminded of,
//  also while that duty cannot run (R15.1)
#define AUDIT_PROVIDER_NOT_CANCELLED(table) \
    " NOT EXISTS (SELECT 1 FROM providers p WHERE p.id = " table ".provider_id" \
    " AND p.status = 'cancelled')"

//  The deadline duty's scan (the service's query, timed by bench_audit):
//  requests still waiting for a provider not cancelled whose deadline has
//  come ($1 now), through the partial index remediation_requests_due
#define AUDIT_DUE_SQL \
    "SELECT id FROM remediation_requests WHERE status IN ('requested', 'insufficient')" \
    " AND overdue_at IS NULL AND deadline <= $1::timestamptz" \
    " AND" AUDIT_PROVIDER_NOT_CANCELLED ("remediation_requests") \
    " ORDER BY deadline, id LIMIT 500 FOR UPDATE SKIP LOCKED"



#define AUDIT_MAX_EVIDENCE 32     //  evidence references a finding or a report gives

//  A remediation event of body_case for request id (read back from the table)
int audit_emit_remediation (lg_ctx_t *ctx, unsigned body_case, const char *id,
                            uint32_t days_before, const char *reason);

//  RemediationReported for request id, with the report and its evidence
int audit_emit_reported (lg_ctx_t *ctx, const char *id, const Lgwan__V1__RemediationReport *report);

//  An event's copy of the evidence given (at most AUDIT_MAX_EVIDENCE, in
//  copies and list): each reference and effective_on, nothing a client
//  sent in the fields the service sets
void audit_event_evidence (Lgwan__V1__Evidence **given, size_t n, Lgwan__V1__Evidence *copies,
                           Lgwan__V1__Evidence **list);

//  Request handlers (audit_requests.c)
int audit_control_add (lg_ctx_t *ctx);
int audit_control_list (lg_ctx_t *ctx);
int audit_open (lg_ctx_t *ctx);
int audit_get (lg_ctx_t *ctx);
int audit_list (lg_ctx_t *ctx);
int audit_close (lg_ctx_t *ctx);
int audit_finding_record (lg_ctx_t *ctx);
int audit_remediation_report (lg_ctx_t *ctx);
int audit_remediation_verify (lg_ctx_t *ctx);
int audit_remediation_withdraw (lg_ctx_t *ctx);
int audit_remediation_get (lg_ctx_t *ctx);
int audit_remediation_list (lg_ctx_t *ctx);
int audit_compliance_get (lg_ctx_t *ctx);

#endif
