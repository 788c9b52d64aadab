/*  billing - the charging policy as data (R6.1): versioned tariff, the
    billable timeline from the registry's and isolation's events, idempotent
    invoice runs with gap-free numbers per fiscal year, credit notes,
    payments, a CSV export and the billing systems' event stream.
*/
#ifndef BILLING_H_INCLUDED
#define BILLING_H_INCLUDED

#include "lg_lib.h"
#include "billing_calc.h"

extern const lg_service_def_t billing_service;

//  What the handlers share (read-only once the service runs), and what the
//  consumers keep from one batch's start to its events (the reactor's only)
typedef struct {
    char issuer [16];           //  LG_BILLING_ISSUER_REGISTRATION: T + 13 digits
    char invoiced_through [8];  //  the latest period run when the batch began (invoice_runs)
    uint64_t malformed;         //  events refused for a malformed effective_on since start
    uint64_t malformed_seq;     //  the registry seq of the last one counted
} billing_state_t;

//  The advisory lock by which invoice runs and tariff loads take turns
//  (exclusive) and a batch of events waits for them (shared; billing.c note 6)
#define BILLING_LOCK_KEY "7102, 1"

//  The issuer's registration number is T and a corporate number (13 digits
//  with its check digit); true when text is one
bool billing_issuer_valid (const char *text);

//  Today on the business clock, Asia/Tokyo
int32_t billing_today (lg_ctx_t *ctx);

//  Request handlers of billing_invoices.c
int billing_invoice_run (lg_ctx_t *ctx);
int billing_invoice_get (lg_ctx_t *ctx);
int billing_invoice_list (lg_ctx_t *ctx);
int billing_overdue_list (lg_ctx_t *ctx);
int billing_credit_note_issue (lg_ctx_t *ctx);
int billing_payment_record (lg_ctx_t *ctx);
int billing_export (lg_ctx_t *ctx);

#endif
