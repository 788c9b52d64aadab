/*  registry_internal.h - what the registry's files share: result helpers,
    the record loaders, versions and events. Not for other services.
*/
#ifndef REGISTRY_INTERNAL_H_INCLUDED
#define REGISTRY_INTERNAL_H_INCLUDED

#include "registry.h"

#define NAME_MAX_CHARS   256
#define TEXT_MAX_CHARS   4000

//  Refusals with a requirement ID
#define REFUSE(ctx, req, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__FAILED_PRECONDITION, (req), __VA_ARGS__)
#define INVALID(ctx, req, ...) lg_ctx_refuse ((ctx), LGWAN__V1__CODE__INVALID_ARGUMENT, (req), __VA_ARGS__)
#define DENIED(ctx, ...)       lg_ctx_refuse ((ctx), LGWAN__V1__CODE__PERMISSION_DENIED, NULL, __VA_ARGS__)
#define MISSING(ctx, ...)      lg_ctx_refuse ((ctx), LGWAN__V1__CODE__NOT_FOUND, NULL, __VA_ARGS__)

//  A timestamptz column as the text of our replies (UTC, microseconds)
#define TIME_TEXT(column) \
    "to_char (" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  A decisions row x as the JSON reg_decision_from_json reads
#define DECISION_OBJECT \
    "json_build_object ('outcome', x.outcome, 'reviewer', x.reviewer, 'decided_at', " \
    TIME_TEXT ("x.decided_at") ", 'reason', x.reason)"

//  The latest decision of a subject as a JSON column "decision" (one-query loads)
#define DECISION_JSON(subject, id) \
    " (SELECT " DECISION_OBJECT " FROM decisions x WHERE x.subject = '" subject "'" \
    "  AND x.subject_id = " id " ORDER BY x.id DESC LIMIT 1)::text AS decision"

//  A connections row c as its versions record: the row and its allocations
#define CONNECTION_RECORD \
    "to_jsonb (c) || jsonb_build_object ('allocations'," \
    " (SELECT coalesce (jsonb_agg (jsonb_build_object ('prefix', a.prefix, 'status', a.status)" \
    "  ORDER BY a.id), '[]') FROM allocations a WHERE a.connection_id = c.id))"

//  Decimal text of an id, in a caller's buffer of 24 bytes
#define ID_TEXT(buffer, id) snprintf ((buffer), sizeof (buffer), "%" PRIu64, (uint64_t) (id))



//  For writes that cannot fail but for a bug (the rules were checked in C
//  first): queued in the request's pipeline, so they cost no round trip of
//  their own; a failure surfaces at the next statement or at COMMIT.
int reg_queue (lg_ctx_t *ctx, const char *sql, int nparams, const char *const *params);

//  A key of the schema a statement may break (a unique key: a name or an
//  address held once; an exclusion constraint), with the refusal that names
//  the rule it keeps: the code (ALREADY_EXISTS for a unique key), the
//  requirement and the message, formatted before the statement
typedef struct {
    const char *constraint;
    lg_code_t code;
    const char *requirement;
    const char *message;
} reg_key_t;

//  lg_ctx_query for a statement that may break one of keys: a violation of
//  one is refused as it says, any other error as lg_ctx_sql_error (where a
//  unique key names no rule)
int reg_query_keys (lg_ctx_t *ctx, PGresult **res_p, const char *sql, int nparams,
                    const char *const *params, const reg_key_t *keys, size_t nkeys);
#define REG_KEYS(keys) (keys), sizeof (keys) / sizeof ((keys) [0])

//  Characters (code points) of valid UTF-8.
size_t reg_chars (const char *text);

//  A mandatory or optional text of at most max characters; -1 refused.
//  What a list of providers' records asks, checked: the page (lg_ctx_page:
//  50 by default, at most 500; *count for LIMIT), the status filter, and
//  *provider, which a provider certificate names only as itself, the
//  default for it ("a provider lists only <what>"). 0, or -1 refused.
int reg_list_scope (lg_ctx_t *ctx, uint32_t asked, const char *status, uint64_t *provider,
                    const char *what, uint32_t *limit, char *count, size_t count_size);

int reg_check_text (lg_ctx_t *ctx, const char *field, const char *text, size_t max,
                    bool mandatory);

//  The entries of one list in a request (holders, contacts, data centres,
//  ports, a contract's services): at most REG_LIST_MAX, refused before any
//  lock is taken. Their checks compare each entry with those before it;
//  200,000 services in one ContractCreate held a worker 17 s under the
//  provider's lock. 0, or -1 refused (INVALID_ARGUMENT)
#define REG_LIST_MAX    256
int reg_check_count (lg_ctx_t *ctx, const char *what, size_t n);

//  Today in Asia/Tokyo on the business clock, YYYY-MM-DD (11 bytes).
void reg_today_jst (lg_ctx_t *ctx, char *buf, size_t size);

//  The date of something recorded as done (an approval, a delivery): a real
//  date, not after today in Asia/Tokyo. 0, or -1 refused INVALID_ARGUMENT
//  naming rule.
int reg_check_date_not_future (lg_ctx_t *ctx, const char *rule, const char *field,
                               const char *date);

//  NOT_FOUND "no <what> <id>": a record that does not exist, and (X.3) to
//  a provider one that is not its own (reg_only_owner). -1.
int reg_missing (lg_ctx_t *ctx, const char *what, const char *id);

//  X.3: a provider reads and files only for itself, and learns nothing of
//  another provider's records, not even which exist: to a provider caller
//  that is neither owner nor other (an interconnection's second side; 0
//  none), the record what/id (a provider: its own id) is refused as one
//  that does not exist, the same status and words (reg_missing); only a
//  service it holds a role in, which it reads and so knows, is
//  PERMISSION_DENIED. Staff, viewers and services act for all, and are
//  told precisely. 0, or -1 (-2 when the database failed).
int reg_only_owner (lg_ctx_t *ctx, const char *what, uint64_t id, uint64_t owner, uint64_t other);

//  The words of a refusal saying provider (its status given) is not
//  qualified (R4.1, R8.1): "is <status>, not qualified" to staff, a service
//  and the provider itself; "is not qualified" to another provider, which
//  learns no other provider's state (applied, rejected, cancelled...: X.3).
//  Returns words or buf (size bytes), borrowed.
const char *reg_not_qualified (lg_ctx_t *ctx, uint64_t provider, const char *status, char *buf,
                               size_t size);

//  The request's reason ("" when none was given, or in a duty): what every
//  record of a change keeps with its actor (X.1)
const char *reg_reason (lg_ctx_t *ctx);

//  Record the current row of subject/id as a new version (R4.2, X.1).
int reg_version (lg_ctx_t *ctx, const char *subject, uint64_t id);
//  The same with a reason of its own (what ended with its parent says why)
int reg_version_why (lg_ctx_t *ctx, const char *subject, uint64_t id, const char *reason);

//  Set the status of a provider, service or connection, with a new version.
int reg_set_status (lg_ctx_t *ctx, const char *subject, uint64_t id, const char *status);

//  A decision's outcome and reason are both given (R4.3); -1 refused.
int reg_check_decision (lg_ctx_t *ctx, Lgwan__V1__Outcome outcome, const char *reason);


//  The status of a provider, locked FOR UPDATE; -1 NOT_FOUND set.
int reg_provider_lock (lg_ctx_t *ctx, uint64_t id, char *status, size_t size, int *type);

//  Whole records with their children, heap trees for replies and events;
//  NULL with *rc set (-1 NOT_FOUND, -2 database).
Lgwan__V1__Provider *reg_provider_load (lg_ctx_t *ctx, uint64_t id, int *rc);
//  A services row s with its holders and last decision, as the columns
//  reg_service_from_row reads
#define SERVICE_COLUMNS "s.id, s.name, s.title_ja, s.status, s.version, " \
    TIME_TEXT ("s.created_at") " AS created_at, " TIME_TEXT ("s.updated_at") " AS updated_at," \
    " (SELECT coalesce (json_agg (json_build_object ('provider', h.provider_id, 'role'," \
    "   h.role, 'carrier_number', coalesce (h.carrier_number, ''))" \
    "   ORDER BY h.role, h.provider_id), '[]')" \
    "  FROM service_holders h WHERE h.service_id = s.id)::text AS holders," \
    DECISION_JSON ("service", "s.id")
Lgwan__V1__Service *reg_service_from_row (const PGresult *res, int row);
Lgwan__V1__Service *reg_service_load (lg_ctx_t *ctx, uint64_t id, int *rc);
Lgwan__V1__Contract *reg_contract_load (lg_ctx_t *ctx, uint64_t id, int *rc);

//  A decision from the JSON of DECISION_JSON, or NULL (for one-query loads).
Lgwan__V1__Decision *reg_decision_from_json (const char *text);

//  Record a decision (R4.3): reviewer from the certificate, time, outcome, reason.
int reg_decide (lg_ctx_t *ctx, const char *subject, uint64_t id, Lgwan__V1__Outcome outcome,
                const char *reason);

//  Validate and store contacts / data centres of a provider (R3.3, R9.2).
//  lgcode is a local government of the reference list, not a designated
//  city's ward; refused under rule otherwise, the code called what
int reg_local_government (lg_ctx_t *ctx, const char *lgcode, const char *rule, const char *what);
int reg_check_contacts (lg_ctx_t *ctx, Lgwan__V1__Contact **contacts, size_t n);
int reg_check_data_centres (lg_ctx_t *ctx, Lgwan__V1__DataCentre **centres, size_t n);
int reg_store_contacts (lg_ctx_t *ctx, const char *provider, Lgwan__V1__Contact **contacts,
                        size_t n);
int reg_store_data_centres (lg_ctx_t *ctx, const char *provider,
                            Lgwan__V1__DataCentre **centres, size_t n);

//  R9.2: a hosting provider names an emergency response contact (kind 2)
//  and an operations manager (3) before a connection and keeps them while
//  one is in effect. True (an SQL boolean) when the contact kinds of the
//  query kinds (one smallint column) lack either
#define LACKS_CONNECTION_CONTACTS(kinds) \
    "((SELECT count (DISTINCT k) FROM (" kinds ") AS x (k) WHERE k IN (2, 3)) < 2)"
//  The refusal of a hosting provider without them (registry_connections.c)
int reg_refuse_connection_contacts (lg_ctx_t *ctx, uint64_t provider, const char *what);
//  The provider's contacts lock (an advisory lock until COMMIT, queued):
//  shared by ConnectionDecide's approval, which reads the contacts again in
//  its last statement; exclusive by a change of the contacts, before it
//  looks for connections in effect. So each waits for the other under way
//  and then sees what it committed (R9.2); approvals share it, and it
//  writes no row (no multixact, as a share lock of the provider row would)
int reg_lock_connection_contacts (lg_ctx_t *ctx, uint64_t provider, bool shared);
//  A provider's contacts replaced by these: -1 refused R9.2 when they lack
//  what LACKS_CONNECTION_CONTACTS asks while a connection it hosts is in
//  effect (active, its service not cancelled). It takes the provider's
//  contacts lock exclusive first (a caller has the provider row locked)
int reg_check_connection_contacts (lg_ctx_t *ctx, uint64_t provider,
                                   Lgwan__V1__Contact **contacts, size_t n);

//  The Art.9 rules of a service's holders (R9.1, R9.2, R10.1, R12.1, R13.1,
//  R4.1 qualified); -1 refusal set.
int reg_check_holders (lg_ctx_t *ctx, Lgwan__V1__RoleHolder **holders, size_t n);
int reg_store_holders (lg_ctx_t *ctx, const char *service, Lgwan__V1__RoleHolder **holders,
                       size_t n);

//  Provider handlers (registry_providers.c)
int reg_provider_apply (lg_ctx_t *ctx);
int reg_provider_get (lg_ctx_t *ctx);
int reg_provider_list (lg_ctx_t *ctx);
int reg_president_approval_record (lg_ctx_t *ctx);
int reg_qualification_review (lg_ctx_t *ctx);
int reg_qualification_decide (lg_ctx_t *ctx);
int reg_reference_load (lg_ctx_t *ctx);
int reg_reference_get (lg_ctx_t *ctx);

//  Service handlers (registry_services.c)
int reg_service_register (lg_ctx_t *ctx);
int reg_service_get (lg_ctx_t *ctx);
int reg_service_list (lg_ctx_t *ctx);
int reg_interconnection_list (lg_ctx_t *ctx);
int reg_review_queue (lg_ctx_t *ctx);
int reg_service_review (lg_ctx_t *ctx);
int reg_service_decide (lg_ctx_t *ctx);

//  Contracts and interconnections (registry_contracts.c)
int reg_contract_create (lg_ctx_t *ctx);
int reg_contract_record_delivery (lg_ctx_t *ctx);
int reg_contract_activate (lg_ctx_t *ctx);
int reg_contract_get (lg_ctx_t *ctx);
int reg_contracts_of_provider (lg_ctx_t *ctx);
int reg_interconnection_register (lg_ctx_t *ctx);

//  Pools, connections and servers (registry_connections.c)
//  A bandwidth class is 1-16 of [A-Za-z0-9-]; -1 refusal set (naming rule).
int reg_check_bandwidth (lg_ctx_t *ctx, const char *rule, const char *bandwidth);
int reg_pool_add (lg_ctx_t *ctx);
int reg_pool_list (lg_ctx_t *ctx);
int reg_connection_apply (lg_ctx_t *ctx);
int reg_connection_get (lg_ctx_t *ctx);
int reg_connection_review (lg_ctx_t *ctx);
int reg_connection_decide (lg_ctx_t *ctx);
int reg_connection_lookup (lg_ctx_t *ctx);
int reg_connection_list (lg_ctx_t *ctx);
int reg_server_register (lg_ctx_t *ctx);
int reg_server_list (lg_ctx_t *ctx);

//  Mirroring isolation: connection state, and the release of addresses
int reg_on_isolation (lg_db_t *db, const lg_event_t *event, void *state);
int reg_release_allocations (lg_ctx_t *ctx);

//  Changes, cancellations and history (registry_changes.c)
int reg_change_file (lg_ctx_t *ctx);
int reg_change_decide (lg_ctx_t *ctx);
int reg_change_list (lg_ctx_t *ctx);
int reg_history (lg_ctx_t *ctx);
int reg_due_changes (lg_ctx_t *ctx);

#endif
