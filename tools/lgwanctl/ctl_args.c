/*  ctl_args - lgwanctl's command line: argv in, a request and its target out.

    The whole surface of the tool is the tables below; nothing names a
    message field. What it guarantees:

    1. A remote command is one row { noun, verb, Request oneof member }. Its
       flags are the fields of that member's message, found through the
       descriptor (--name-ja -> name_ja), so a new request needs one row and
       a new field needs nothing. The target service follows from the oneof
       number (100-199 registry, ...); the common range (1-99: stats, replay)
       goes where --service says.
    2. Values are parsed by the field's type (lg_pbjson_set_field): integers
       with a range check, enums by name or number, UTF-8 strings, JSON for
       message fields. A repeated field takes the flag again for each value.
       --body gives the whole body as proto3 JSON; flags then set fields on
       top of it.
    3. Name clashes between the tool's flags and body fields: --service is the
       body's field when the body has one (its target is fixed by its number);
       --reason fills the request's reason and also the body's reason field if
       it has one. Other tool flags win; such a field is still reachable
       through --body (a unit test keeps the current bodies clash-free).
    4. An unknown command or flag, a missing value or a flag given twice is a
       usage error (exit 2); a value that does not parse is bad input (exit 1).
       Nothing on the command line is trusted or asserted on.
*/
#include "ctl_args.h"
#include "ctl_local.h"
#include <errno.h>
#include <inttypes.h>

//  Where each oneof range of Request goes (envelope.proto); NULL: --service
static const struct {
    unsigned low;
    unsigned high;
    const char *service;
} s_ranges [] = {
    {   1,  99, NULL },
    { 100, 199, "registry" },
    { 200, 299, "billing" },
    { 300, 399, "audit" },
    { 400, 499, "monitor" },
    { 500, 599, "isolation" },
    { 600, 699, "orchestrator" }
};

//  Switches every command takes
static const ctl_flag_t s_switches [] = {
    { "json", CTL_FLAG_SWITCH, "print proto3 JSON on stdout" },
    { "help", CTL_FLAG_SWITCH, "list the command's flags" },
    { NULL }
};

//  The tool's own flags for remote commands
static const ctl_flag_t s_remote_flags [] = {
    { "body", 0, "the whole request body as proto3 JSON; flags add to it" },
    { "request-id", 0, "idempotency key: a retry with it gets the stored reply "
                       "(default: a fresh UUID)" },
    { "reason", 0, "why, for the record (also the body's reason field, if any)" },
    { "service", 0, "target service of a common request (stats, replay)" },
    { "endpoint", 0, "tcp://host:port (default: LG_<SVC>_CONNECT, else the "
                     "service's port on 127.0.0.1)" },
    { "timeout", 0, "milliseconds to wait for each try (default 2500)" },
    { "retries", 0, "tries after the first one times out or is UNAVAILABLE (default 3)" },
    { NULL }
};

static const ctl_flag_t s_keygen_flags [] = {
    { "role", 0, "operator, reviewer, auditor, provider, billing, "
                 "sensor, enforcer, viewer or service (with --name)" },
    { "name", 0, "certificate name, [A-Za-z0-9._-@] (with --role)" },
    { "service", 0, "instead of --role/--name: the key pair and outbox key of a "
                    "service, in $LG_CERT_DIR/services (idempotent)" },
    { "provider-id", 0, "the provider a provider certificate speaks for (required for the"
                        " provider role, refused for the others: exit 2)" },
    { "operator-id", 0, "who holds an operator, reviewer or auditor certificate (required"
                        " for those roles, refused for the others: exit 2)" },
    { "point", 0, "the enforcement point an enforcer certificate speaks as, [a-z0-9-]"
                  " (required for the enforcer role, refused for the others: exit 2; X.3)" },
    { "out", 0, "folder for the key pair (default $LG_CERT_DIR/clients)" },
    { NULL }
};

static const ctl_flag_t s_revoke_flags [] = {
    { "name", CTL_FLAG_REQUIRED, "certificate name to move to revoked/" },
    { NULL }
};

static const ctl_flag_t s_db_init_flags [] = {
    { "admin-dsn", CTL_FLAG_REQUIRED, "libpq connection string of an administrator, naming"
                                      " the platform's database (dbname=, not postgres or a"
                                      " template)" },
    { "service", CTL_FLAG_REPEAT, "a service to prepare (default: all)" },
    { "password", 0, "password for the lgwan_<service> roles (default: none)" },
    { NULL }
};

static const ctl_flag_t s_verify_flags [] = {
    { "service", CTL_FLAG_REPEAT, "a service to verify (default: every one that answers)" },
    { "key-dir", 0, "folder of the <service>.hmac keys (default $LG_CERT_DIR/services)" },
    { NULL }
};

static const ctl_flag_t s_reference_flags [] = {
    { "file", CTL_FLAG_REQUIRED, "CSV with the header lgcode,prefecture,name,kind" },
    { "source", 0, "where the list came from (default: the file name)" },
    { "request-id", 0, "idempotency key (default: a fresh UUID)" },
    { "reason", 0, "why, for the record" },
    { NULL }
};

static const ctl_flag_t s_tariff_flags [] = {
    { "file", CTL_FLAG_REQUIRED, "JSON tariff file (a TariffFile: bandwidth_classes, versions)" },
    { "request-id", 0, "idempotency key (default: a fresh UUID)" },
    { "reason", 0, "why, for the record" },
    { NULL }
};

static const ctl_flag_t s_export_flags [] = {
    { "period", CTL_FLAG_REQUIRED, "the month, YYYY-MM" },
    { "out", 0, "write the CSV to this file (default: stdout), whole or not at all: an"
                " export that fails or is ended by SIGINT, SIGTERM or SIGHUP leaves none" },
    { NULL }
};

static const ctl_flag_t s_tail_flags [] = {
    { "service", CTL_FLAG_REQUIRED, "whose events" },
    { "from-seq", 0, "first seq to show (default: the last 20)" },
    { "follow", CTL_FLAG_SWITCH, "then keep printing new events until interrupted" },
    { NULL }
};

//  Every command. A new request of a service is one row here.
static const ctl_command_t s_commands [] = {
    //  noun        verb      body              local              flags
    { "stats",    "show",   "stats",          NULL, NULL,
      "counters of one service since it started (--service)" },
    { "replay",   "list",   "replay",         NULL, NULL,
      "outbox events of one service from --from-seq (--service)" },
    { "cursors",  "show",   "cursors",        NULL, NULL,
      "what one service has applied of each event stream (--service)" },
    { "provider", "apply",  "provider_apply", NULL, NULL,
      "file a qualification review application (R3.1, R4.1)" },
    { "provider", "show",   "provider_get",   NULL, NULL,
      "one provider by --provider id" },
    { "provider", "list",   "provider_list",  NULL, NULL,
      "providers filtered by --entity-type, --status, --name-prefix; page with --after-id" },
    { "provider", "approve-president", "president_approval_record", NULL, NULL,
      "record the J-LIS President's approval of a type 7 provider, applied or under review"
      " (R3.2)" },
    { "qualification", "review", "qualification_review", NULL, NULL,
      "take a qualification application under review (R4.3)" },
    { "qualification", "decide", "qualification_decide", NULL, NULL,
      "approve or reject a qualification with --outcome and --reason (R4.3)" },
    { "service",  "register", "service_register", NULL, NULL,
      "file a registration application with --holders JSON (R4.1, R9.1)" },
    { "service",  "show",   "service_get",    NULL, NULL,
      "one service by --service id" },
    { "service",  "list",   "service_list",   NULL, NULL,
      "services by --status and --provider (a role holder); page with --after-id" },
    { "service",  "review", "service_review", NULL, NULL,
      "take a registration application under review (R4.3)" },
    { "service",  "decide", "service_decide", NULL, NULL,
      "approve or reject a registration with --outcome and --reason (R4.3)" },
    { "contract", "create", "contract_create", NULL, NULL,
      "a contract with a using body: --provider --lgcode --services --responsibility (R7.1)" },
    { "contract", "deliver", "contract_record_delivery", NULL, NULL,
      "record the delivery of --document TERMS_OF_USE or USER_MANUAL (R7.2)" },
    { "contract", "activate", "contract_activate", NULL, NULL,
      "activate a contract once both documents are delivered (R7.2)" },
    { "contract", "show",   "contract_get",   NULL, NULL,
      "one contract by --contract id" },
    { "contract", "list",   "contracts_of_provider", NULL, NULL,
      "the contracts of --provider (--active-only)" },
    { "interconnection", "register", "interconnection_register", NULL, NULL,
      "register an interconnection of two providers with its --justification (R8.1, R8.2)" },
    { "interconnection", "list", "interconnection_list", NULL, NULL,
      "interconnections by --provider (either side) and --status; page with --after-id" },
    { "change",   "file",   "change_file",    NULL, NULL,
      "a change or cancellation notification or application (R4.2)" },
    { "change",   "decide", "change_decide",  NULL, NULL,
      "approve or reject a change application (R4.2, R4.3)" },
    { "review",   "queue",  "review_queue",   NULL, NULL,
      "what waits for a reviewer, oldest first: applications of providers, services, connections and changes (--kind) (R4.3)" },
    { "change",   "list",   "change_list",    NULL, NULL,
      "changes by --subject, --id, --status; page with --after-id" },
    { "history",  "show",   "history",        NULL, NULL,
      "every version of a record: --subject provider|service|contract|connection|interconnection --id" },
    { "reference", "show",  "reference_get",  NULL, NULL,
      "one local government by --lgcode" },
    { "pool",     "add",    "pool_add",       NULL, NULL,
      "an ASP segment pool to allocate from: --name --prefix, with --reason (R12.1; X.1: mandatory)" },
    { "pool",     "list",   "pool_list",      NULL, NULL,
      "the pools" },
    { "connection", "apply", "connection_apply", NULL, NULL,
      "a connection application by the hosting provider: --service --router --line-carrier"
      " --bandwidth-class --ipv4-prefix-length/--ipv6-prefix-length (R4.1, R5.2, R9.2)" },
    { "connection", "show", "connection_get", NULL, NULL,
      "one connection by --connection id" },
    { "connection", "review", "connection_review", NULL, NULL,
      "take a connection application under review (R4.3)" },
    { "connection", "decide", "connection_decide", NULL, NULL,
      "approve (allocates prefixes and the domain) or reject, with --reason (R4.3, R12.1)" },
    { "connection", "lookup", "connection_lookup", NULL, NULL,
      "the active connection holding --address" },
    { "connection", "list", "connection_list", NULL, NULL,
      "connections by --provider, --service, --status; page with --after-id" },
    { "server",   "register", "server_register", NULL, NULL,
      "a server behind a connection: --address inside its prefix, --ports JSON, with --reason"
      " (R5.2, R11.3, R11.6; X.1: mandatory)" },
    { "server",   "list",   "server_list",    NULL, NULL,
      "the servers of --connection" },
    { "control",  "add",    "control_add",    NULL, NULL,
      "add the operating body's own control: --code --requirement --applies-to --title (R5.1)" },
    { "control",  "list",   "control_list",   NULL, NULL,
      "the control catalogue (R5.1, R11.1, R14.1 and the operating body's), by --applies-to" },
    { "audit",    "open",   "audit_open",     NULL, NULL,
      "open an audit: --origin plan|request|commission (a using body's: --lgcode, or"
      " --approved-body naming an organisation J-LIS approved)|incident, --provider,"
      " --services, --auditors, --starts-on, --ends-on (R15.1)" },
    { "audit",    "show",   "audit_get",      NULL, NULL,
      "one audit by --audit, with its findings and remediation requests" },
    { "audit",    "list",   "audit_list",     NULL, NULL,
      "audits, newest first, by --provider and --status; older ones with --after-id" },
    { "audit",    "close",  "audit_close",    NULL, NULL,
      "close --audit once every remediation is verified, with --reason" },
    { "audit",    "compliance", "compliance_get", NULL, NULL,
      "a provider's compliance: open findings, overdue requests, last audit (--provider)" },
    { "finding",  "record", "finding_record", NULL, NULL,
      "an auditor's finding of --audit against --control with --severity, --description,"
      " --evidence JSON, --requires-remediation, --deadline-on (R15.2)" },
    { "remediation", "report", "remediation_report", NULL, NULL,
      "the provider reports --remediation with --report and --evidence JSON (R15.2)" },
    { "remediation", "verify", "remediation_verify", NULL, NULL,
      "an auditor verifies a reported --remediation: --sufficient, or insufficient with --reason"
      " (R15.2, R15.3)" },
    { "remediation", "withdraw", "remediation_withdraw", NULL, NULL,
      "an operator withdraws an open --remediation, with --reason: a finding recorded in error,"
      " the service concerned cancelled (R15.2)" },
    { "remediation", "show", "remediation_get", NULL, NULL,
      "one remediation request by --remediation" },
    { "remediation", "list", "remediation_list", NULL, NULL,
      "remediation requests, oldest first, by --provider, --status, --overdue-only; page with"
      " --after-id" },
    { "rule",     "set",    "rule_set",       NULL, NULL,
      "create (no id) or replace a detection rule: --rule JSON {name, category, maxSeverity,"
      " signatureId, windowSeconds, threshold, action, graceSeconds} (R16.1)" },
    { "rule",     "show",   "rule_get",       NULL, NULL,
      "one detection rule by --rule id" },
    { "rule",     "list",   "rule_list",      NULL, NULL,
      "every detection rule, enabled or not" },
    { "rule",     "disable", "rule_disable",  NULL, NULL,
      "stop a detection rule (--rule id); rule set enables it again" },
    { "allowlist", "add",   "allowlist_add",  NULL, NULL,
      "allow --signature-id and/or --connection until --expires-at, with --reason (R16.1)" },
    { "allowlist", "remove", "allowlist_remove", NULL, NULL,
      "end an allow-list --entry before it expires" },
    { "allowlist", "list",  "allowlist_list", NULL, NULL,
      "allow-list entries in force (--expired: all of them)" },
    { "incident", "list",   "incident_list",  NULL, NULL,
      "incidents, newest first, by --status and --connection; older ones with --after-id" },
    { "incident", "show",   "incident_get",   NULL, NULL,
      "one --incident with its counts and evidence" },
    { "incident", "confirm", "incident_confirm", NULL, NULL,
      "confirm an open --incident; --isolate asks for the forced disconnection (R16.1)" },
    { "incident", "close",  "incident_close", NULL, NULL,
      "close an --incident with --reason" },
    { "monitor",  "counts", "connection_counts", NULL, NULL,
      "events attributed to --connection per minute (--minutes back, default 60)" },
    { "monitor",  "unattributed", "unattributed", NULL, NULL,
      "per sensor: events, unattributed and malformed counts, and the latest samples" },
    { "isolation", "disconnect", "disconnect", NULL, NULL,
      "forcibly disconnect --provider (or --connections) for --incident, with --reason (R16.1)" },
    { "isolation", "suspend", "suspend",      NULL, NULL,
      "suspend --provider (or --connections) for --remediation, with --reason (R15.3)" },
    { "isolation", "lift",   "lift",           NULL, NULL,
      "lift a cause (--reference: the incident or remediation it ends; the oldest by default),"
      " with --reason: only the orchestrator's saga may (X.4); refused otherwise" },
    { "isolation", "decommission", "decommission", NULL, NULL,
      "drop a cancelled --connection until its allocation is released, with --reason (R4.2)" },
    { "isolation", "show",   "isolation_get",  NULL, NULL,
      "the causes and state of --connection, and whether it is in force" },
    { "isolation", "list",   "enforced_list",  NULL, NULL,
      "connections with a cause in force, by --provider; page with --after-id" },
    { "isolation", "points", "point_list",     NULL, NULL,
      "the enforcement points and the version each applied" },
    { "isolation", "retire-point", "point_retire", NULL, NULL,
      "retire an enforcement point gone for good (--point, --reason): changes stop waiting for it (R16.1)" },
    { "tariff",   "list",   "tariff_list",    NULL, NULL,
      "the tariff versions loaded and the bandwidth classes (R6.1)" },
    { "invoice",  "run",    "invoice_run",    NULL, NULL,
      "issue the invoices of --period YYYY-MM, idempotent; --preview stores nothing (R6.1)" },
    { "invoice",  "show",   "invoice_get",    NULL, NULL,
      "an invoice by --number with its credit notes and payments" },
    { "invoice",  "list",   "invoice_list",   NULL, NULL,
      "invoices of a --period and/or --provider, by number; page with --after-number" },
    { "invoice",  "overdue", "overdue_list",  NULL, NULL,
      "invoices past their due date with something outstanding; page with --after-number" },
    { "invoice",  "credit", "credit_note_issue", NULL, NULL,
      "a credit note of --amount-yen against --invoice, with --reason (never an edit); --refund"
      " when it credits what was paid (owed back)" },
    { "payment",  "record", "payment_record", NULL, NULL,
      "record a payment of --amount-yen against --invoice, --paid-on a day from its issue to"
      " today (default today; billing role only)" },
    { "tariff",   "load",   "tariff_load",    ctl_local_tariff_load, s_tariff_flags,
      "load tariff versions from a JSON file: all or nothing (R6.1)" },
    { "invoice",  "export", "billing_export", ctl_local_invoice_export, s_export_flags,
      "CSV of a period's invoice lines, stable columns" },
    { "keygen",   NULL,     NULL,             ctl_local_keygen,  s_keygen_flags,
      "create a client certificate (public part in $LG_CERT_DIR/allowed)" },
    { "cert",     "revoke", NULL,             ctl_local_revoke,  s_revoke_flags,
      "revoke a client certificate; takes effect without a restart" },
    { "db",       "init",   NULL,             ctl_local_db_init, s_db_init_flags,
      "create the lgwan_<service> roles and their schemas (idempotent); exit 3 when the"
      " server does not answer" },
    { "verify",   NULL,     NULL,             ctl_local_verify,  s_verify_flags,
      "check every event chain and the heads consumers saw (X.1); exit 1 if broken or"
      " refused, 3 if nothing was verified" },
    { "reference", "load",  "reference_load", ctl_local_reference_load, s_reference_flags,
      "replace the registry's list of local government codes from a CSV file" },
    { "events",   "tail",   NULL,             ctl_local_events_tail, s_tail_flags,
      "print a service's events from its outbox, then follow them (--follow)" },
    { NULL }
};

//  --------------------------------------------------------------------------
//  Tables

const ctl_command_t *
ctl_args_commands (void)
{
    return s_commands;
}

const char *
ctl_args_service_of (unsigned body_number)
{
    for (size_t i = 0; i < sizeof s_ranges / sizeof s_ranges [0]; i++)
        if (body_number >= s_ranges [i].low && body_number <= s_ranges [i].high)
            return s_ranges [i].service;
    return NULL;
}

const char *
ctl_args_service_at (size_t index)
{
    for (size_t i = 0; i < sizeof s_ranges / sizeof s_ranges [0]; i++)
        if (s_ranges [i].service && index-- == 0)
            return s_ranges [i].service;
    return NULL;
}

bool
ctl_args_known_service (const char *service)
{
    const char *known;
    for (size_t i = 0; service && (known = ctl_args_service_at (i)); i++)
        if (streq (known, service))
            return true;
    return false;
}

const char *
ctl_args_cert_dir (void)
{
    const char *dir = getenv ("LG_CERT_DIR");
    return dir && *dir? dir: "certs";
}

const char *
ctl_args_client_cert (void)
{
    const char *cert = getenv ("LGWANCTL_CERT");
    return cert && *cert? cert: NULL;
}

static const ctl_flag_t *
s_flag (const ctl_flag_t *flags, const char *name)
{
    for (; flags && flags->name; flags++)
        if (streq (flags->name, name))
            return flags;
    return NULL;
}

//  The Request oneof member a remote command fills, or NULL
static const ProtobufCFieldDescriptor *
s_body_field (const ctl_command_t *command)
{
    const ProtobufCFieldDescriptor *field =
        command->body? lg_pbjson_field (&lgwan__v1__request__descriptor, command->body): NULL;
    if (field && (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    &&  field->type == PROTOBUF_C_TYPE_MESSAGE)
        return field;
    return NULL;
}

//  The flag of a field: name_ja -> name-ja
static void
s_flag_name (const char *field_name, char *buffer, size_t size)
{
    size_t len = 0;
    for (const char *c = field_name; *c && len + 1 < size; c++)
        buffer [len++] = *c == '_'? '-': *c;
    buffer [len] = 0;
}

//  The field of d a flag names (name-ja), or NULL
static const ProtobufCFieldDescriptor *
s_flag_field (const ProtobufCMessageDescriptor *d, const char *flag)
{
    char name [128];
    size_t len = 0;
    for (; flag [len] && len + 1 < sizeof name; len++)
        name [len] = flag [len] == '-'? '_': flag [len];
    name [len] = 0;
    return flag [len]? NULL: lg_pbjson_field (d, name);
}

//  --------------------------------------------------------------------------
//  Class

ctl_args_t *
ctl_args_new (void)
{
    ctl_args_t *self = (ctl_args_t *) zmalloc (sizeof (ctl_args_t));
    if (!self)
        return NULL;
    self->timeout_ms = LG_CLIENT_TRY_MS;
    self->retries = 3;
    return self;
}

void
ctl_args_destroy (ctl_args_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctl_args_t *self = *self_p;
    if (self->request)
        protobuf_c_message_free_unpacked (&self->request->base, NULL);
    free (self->pairs);
    free (self);
    *self_p = NULL;
}

static int
s_error (ctl_args_t *self, int code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->why, sizeof self->why, format, args);
    va_end (args);
    return code;
}

//  Append ", item" (or the first item) to a bounded list, cutting it short
static void
s_list_add (char *buffer, size_t size, const char *prefix, const char *item)
{
    size_t len = strlen (buffer);
    if (len + 1 < size)
        snprintf (buffer + len, size - len, "%s%s%s", len? ", ": "", prefix, item);
}

//  "--a, --b, --c" for an error message
static void
s_list_flags (ctl_args_t *self, char *buffer, size_t size)
{
    buffer [0] = 0;
    if (self->command->local) {
        for (const ctl_flag_t *flag = self->command->flags; flag->name; flag++)
            s_list_add (buffer, size, "--", flag->name);
        return;
    }
    const ProtobufCMessageDescriptor *d = self->body->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        char flag [128];
        s_flag_name (d->fields [i].name, flag, sizeof flag);
        s_list_add (buffer, size, "--", flag);
    }
    if (d->n_fields == 0)
        snprintf (buffer, size, "none");
}

int
ctl_args_int (const char *flag, const char *text, int64_t min, int64_t max, int64_t *value,
              char *why, size_t why_size)
{
    const char *digits = text && *text == '-'? text + 1: text;
    bool ok = digits && *digits;
    for (const char *c = digits; ok && *c; c++)
        ok = *c >= '0' && *c <= '9';
    if (ok) {
        errno = 0;
        long long parsed = strtoll (text, NULL, 10);
        ok = errno == 0 && parsed >= min && parsed <= max;
        *value = parsed;
    }
    if (!ok) {
        snprintf (why, why_size, "--%s: \"%.40s\" is not a whole number from %" PRId64
                  " to %" PRId64, flag, text? text: "", min, max);
        return -1;
    }
    return 0;
}

int
ctl_args_set_field (ProtobufCMessage *msg, const char *flag, const char *text,
                    char *why, size_t why_size)
{
    const ProtobufCFieldDescriptor *field = s_flag_field (msg->descriptor, flag);
    if (!field) {
        snprintf (why, why_size, "%s has no field %s", msg->descriptor->short_name, flag);
        return CTL_EXIT_USAGE;
    }
    if (lg_pbjson_set_field (msg, field, text, why, why_size))
        return CTL_EXIT_REFUSED;
    return CTL_EXIT_OK;
}

const char *
ctl_args_value (ctl_args_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_pairs; i++)
        if (streq (self->pairs [i].name, name))
            return self->pairs [i].value;
    return NULL;
}

bool
ctl_args_takes (const ctl_args_t *self, const char *name)
{
    const ctl_command_t *command = self->command;
    if (!command)
        return false;
    return s_flag (command->local? command->flags: s_remote_flags, name) != NULL;
}

zlistx_t *
ctl_args_values (ctl_args_t *self, const char *name)
{
    zlistx_t *list = zlistx_new ();
    for (size_t i = 0; list && i < self->n_pairs; i++)
        if (streq (self->pairs [i].name, name) && !zlistx_add_end (list, (void *) self->pairs [i].value))
            zlistx_destroy (&list);
    return list;
}

//  A request_id a service takes: 1 to LG_REQUEST_ID_MAX bytes of UTF-8. A
//  service refuses another (lg_client matches that refusal, which cannot
//  echo the id, by its socket): checked here before anything is sent, naming
//  the flag, for remote commands and the local verbs that send a request alike
static int
s_check_request_id (ctl_args_t *self, const char *value)
{
    if (!value)
        return CTL_EXIT_OK;
    if (!*value || strlen (value) > LG_REQUEST_ID_MAX)
        return s_error (self, CTL_EXIT_REFUSED, "--request-id: must be 1 to %d bytes",
                        LG_REQUEST_ID_MAX);
    if (!lg_check_utf8 (value, strlen (value)))
        return s_error (self, CTL_EXIT_REFUSED, "--request-id: not valid UTF-8");
    return CTL_EXIT_OK;
}

//  How often a flag was given
static size_t
s_count (ctl_args_t *self, const char *name)
{
    size_t count = 0;
    for (size_t i = 0; i < self->n_pairs; i++)
        count += streq (self->pairs [i].name, name);
    return count;
}

//  --------------------------------------------------------------------------
//  Parsing

//  How a remote command reads one flag: a tool flag (*spec) or a body field
//  (*field); false when it is neither
static bool
s_remote_flag (ctl_args_t *self, const char *name, const ctl_flag_t **spec,
               const ProtobufCFieldDescriptor **field)
{
    *spec = s_flag (s_switches, name);
    if (!*spec)
        *spec = s_flag (s_remote_flags, name);
    *field = s_flag_field (self->body->descriptor, name);
    if (*spec && streq (name, "service") && self->service && *field)
        *spec = NULL;           //  the body's own service field (rule 3)
    if (*spec)
        *field = NULL;
    return *spec || *field;
}

//  Whether a flag is a switch for this command (no value follows)
static bool
s_is_switch (ctl_args_t *self, const char *name, bool *optional_value)
{
    *optional_value = false;
    if (s_flag (s_switches, name))
        return true;
    if (self->command->local) {
        const ctl_flag_t *flag = s_flag (self->command->flags, name);
        return flag && (flag->flags & CTL_FLAG_SWITCH);
    }
    //  A bool body field alone means true; a value may follow
    const ctl_flag_t *spec;
    const ProtobufCFieldDescriptor *field;
    if (s_remote_flag (self, name, &spec, &field) && field
    &&  field->type == PROTOBUF_C_TYPE_BOOL)
        *optional_value = true;
    return false;
}

//  Split argv into (name, value) pairs
static int
s_collect (ctl_args_t *self, int argc, char **argv, int first)
{
    self->pairs = (ctl_pair_t *) calloc ((size_t) argc, sizeof (ctl_pair_t));
    if (!self->pairs)
        return s_error (self, CTL_EXIT_REFUSED, "out of memory");
    for (int i = first; i < argc; i++) {
        const char *arg = argv [i];
        if (strncmp (arg, "--", 2) != 0 || !arg [2])
            return s_error (self, CTL_EXIT_USAGE, "unexpected argument \"%.60s\"", arg);
        char *name = self->pairs [self->n_pairs].name;
        const char *equals = strchr (arg + 2, '=');
        size_t len = equals? (size_t) (equals - arg - 2): strlen (arg + 2);
        if (len == 0 || len >= sizeof self->pairs [0].name)
            return s_error (self, CTL_EXIT_USAGE, "unknown flag %.70s", arg);
        memcpy (name, arg + 2, len);
        name [len] = 0;

        bool optional_value;
        const char *value = equals? equals + 1: NULL;
        if (s_is_switch (self, name, &optional_value)) {
            if (value)
                return s_error (self, CTL_EXIT_USAGE, "--%s takes no value", name);
            value = "true";
        }
        else
        if (!value) {
            if (i + 1 < argc && strncmp (argv [i + 1], "--", 2) != 0)
                value = argv [++i];
            else
            if (optional_value)
                value = "true";
            else
                return s_error (self, CTL_EXIT_USAGE, "--%s needs a value", name);
        }
        self->pairs [self->n_pairs++].value = value;
    }
    return CTL_EXIT_OK;
}

//  Find the command; returns the index of its first flag in argv, or -1
static int
s_find_command (ctl_args_t *self, int argc, char **argv)
{
    const char *noun = argv [1];
    //  Help for the noun: "help" where its verb goes, or --help or -h there
    //  (as after lgwanctl itself)
    const char *second = argc > 2? argv [2]: NULL;
    bool help = second && (streq (second, "help") || streq (second, "--help")
                           || streq (second, "-h"));
    const char *verb = second && strncmp (second, "--", 2) != 0? second: NULL;
    bool known_noun = false;
    char verbs [256] = "";
    for (const ctl_command_t *command = s_commands; command->noun; command++) {
        if (!streq (command->noun, noun))
            continue;
        known_noun = true;
        if (help)
            continue;
        if (!command->verb) {
            self->command = command;
            return 2;
        }
        if (verb && streq (command->verb, verb)) {
            self->command = command;
            return 3;
        }
        s_list_add (verbs, sizeof verbs, "", command->verb);
    }
    if (!known_noun)
        s_error (self, CTL_EXIT_USAGE, "unknown command \"%.60s\"", noun);
    else
    if (help) {
        //  The first of its rows stands for the noun
        self->help = true;
        for (self->command = s_commands; !streq (self->command->noun, noun); self->command++)
            ;
        return argc;
    }
    else
    if (!verb)
        s_error (self, CTL_EXIT_USAGE, "%s needs a verb: %s", noun, verbs);
    else
        s_error (self, CTL_EXIT_USAGE, "unknown verb \"%.60s\" for %s (verbs: %s)",
                 verb, noun, verbs);
    return -1;
}

//  Check the flags of a local command
static int
s_parse_local (ctl_args_t *self)
{
    for (size_t i = 0; i < self->n_pairs; i++) {
        const char *name = self->pairs [i].name;
        if (s_flag (s_switches, name))
            continue;
        const ctl_flag_t *flag = s_flag (self->command->flags, name);
        if (!flag) {
            char list [512];
            s_list_flags (self, list, sizeof list);
            return s_error (self, CTL_EXIT_USAGE, "unknown flag --%s for %s%s%s; its flags: %s",
                            name, self->command->noun, self->command->verb? " ": "",
                            self->command->verb? self->command->verb: "", list);
        }
    }
    for (const ctl_flag_t *flag = self->command->flags; flag->name; flag++) {
        size_t count = s_count (self, flag->name);
        if (count == 0 && (flag->flags & CTL_FLAG_REQUIRED))
            return s_error (self, CTL_EXIT_USAGE, "--%s is required", flag->name);
        if (count > 1 && !(flag->flags & CTL_FLAG_REPEAT))
            return s_error (self, CTL_EXIT_USAGE, "--%s given more than once", flag->name);
    }
    return s_check_request_id (self, ctl_args_value (self, "request-id"));
}

//  Where to connect and with which certificates
static int
s_resolve_endpoint (ctl_args_t *self, const char *given)
{
    //  Without --endpoint, as every client finds a service and the local
    //  verbs do: LG_<SERVICE>_CONNECT, an empty one as unset, else the
    //  service's port on 127.0.0.1 (lg_consumer_endpoint)
    char *endpoint = given? strdup (given): lg_consumer_endpoint (self->service, false);
    if (!endpoint)
        return s_error (self, CTL_EXIT_USAGE, "no default port for %s: give --endpoint",
                        self->service);
    if ((strncmp (endpoint, "tcp://", 6) != 0 && strncmp (endpoint, "ipc://", 6) != 0)
    ||  strlen (endpoint) >= sizeof self->endpoint || strlen (endpoint) < 7) {
        char from [64] = "--endpoint";
        if (!given) {
            snprintf (from, sizeof from, "LG_%s_CONNECT", self->service);
            for (char *c = from; *c; c++)
                *c = (char) toupper ((unsigned char) *c);
        }
        s_error (self, CTL_EXIT_REFUSED, "%s: \"%.60s\" is not a tcp:// or ipc:// endpoint",
                 from, endpoint);
        free (endpoint);
        return CTL_EXIT_REFUSED;
    }
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    free (endpoint);
    snprintf (self->server_cert, sizeof self->server_cert, "%s/services/%s",
              ctl_args_cert_dir (), self->service);
    self->client_cert = ctl_args_client_cert ();
    return CTL_EXIT_OK;
}

//  Set the request's body from JSON text, replacing what it held
static int
s_set_body (ctl_args_t *self, const char *text)
{
    const ProtobufCFieldDescriptor *member = s_body_field (self->command);
    if (lg_pbjson_set_field (&self->request->base, member, text, self->why, sizeof self->why))
        return CTL_EXIT_REFUSED;
    self->body = *(ProtobufCMessage **) ((char *) self->request + member->offset);
    return CTL_EXIT_OK;
}

//  The request of a remote command with an empty body, and its target when
//  the body's number fixes it
static int
s_new_request (ctl_args_t *self)
{
    const ProtobufCFieldDescriptor *member = s_body_field (self->command);
    if (!member)
        return s_error (self, CTL_EXIT_USAGE, "%s %s: Request has no body %s",
                        self->command->noun, self->command->verb, self->command->body);
    self->service = ctl_args_service_of (member->id);
    ProtobufCMessage *request;
    if (lg_pbjson_parse (&lgwan__v1__request__descriptor, "{}", &request,
                         self->why, sizeof self->why))
        return CTL_EXIT_REFUSED;
    self->request = (lg_request_t *) request;
    return s_set_body (self, "{}");
}

//  Fill the request of a remote command from the collected flags
static int
s_parse_remote (ctl_args_t *self)
{
    //  1. Every flag is known, and only a repeated field comes twice
    for (size_t i = 0; i < self->n_pairs; i++) {
        const ctl_flag_t *spec;
        const ProtobufCFieldDescriptor *field;
        if (!s_remote_flag (self, self->pairs [i].name, &spec, &field)) {
            char list [512];
            s_list_flags (self, list, sizeof list);
            return s_error (self, CTL_EXIT_USAGE, "unknown flag --%s for %s %s; its fields: %s",
                            self->pairs [i].name, self->command->noun, self->command->verb,
                            list);
        }
        for (size_t j = 0; j < i; j++) {
            const ctl_flag_t *earlier_spec;
            const ProtobufCFieldDescriptor *earlier_field;
            s_remote_flag (self, self->pairs [j].name, &earlier_spec, &earlier_field);
            if ((spec && earlier_spec == spec && !(spec->flags & CTL_FLAG_SWITCH))
            ||  (field && earlier_field == field && field->label != PROTOBUF_C_LABEL_REPEATED))
                return s_error (self, CTL_EXIT_USAGE, "--%s given more than once",
                                self->pairs [i].name);
        }
    }

    //  2. The target: fixed by the body's number, else --service
    const char *service = NULL;
    for (size_t i = 0; i < self->n_pairs; i++) {
        const ctl_flag_t *spec;
        const ProtobufCFieldDescriptor *field;
        s_remote_flag (self, self->pairs [i].name, &spec, &field);
        if (spec && streq (spec->name, "service"))
            service = self->pairs [i].value;
    }
    if (!self->service) {
        if (!service)
            return s_error (self, CTL_EXIT_USAGE, "%s %s needs --service (one of registry, "
                            "billing, audit, monitor, isolation, orchestrator)",
                            self->command->noun, self->command->verb);
        if (!ctl_args_known_service (service))
            return s_error (self, CTL_EXIT_USAGE, "unknown service \"%.40s\"", service);
        self->service = service;
    }
    else
    if (service && !streq (service, self->service))
        return s_error (self, CTL_EXIT_USAGE, "%s %s goes to %s, not %.40s",
                        self->command->noun, self->command->verb, self->service, service);

    //  3. Values: --body first, then each flag in the order given
    const char *body_json = ctl_args_value (self, "body");
    if (body_json) {
        int rc = s_set_body (self, body_json);
        if (rc != CTL_EXIT_OK)
            return rc;
    }
    const char *endpoint = NULL;
    for (size_t i = 0; i < self->n_pairs; i++) {
        const char *name = self->pairs [i].name;
        const char *value = self->pairs [i].value;
        const ctl_flag_t *spec;
        const ProtobufCFieldDescriptor *field;
        s_remote_flag (self, name, &spec, &field);
        int64_t number;
        int rc = CTL_EXIT_OK;
        if (field)
            rc = ctl_args_set_field (self->body, name, value, self->why, sizeof self->why);
        else
        if (streq (spec->name, "request-id")) {
            if (s_check_request_id (self, value))
                return CTL_EXIT_REFUSED;
            rc = ctl_args_set_field (&self->request->base, "request_id", value,
                                     self->why, sizeof self->why);
        }
        else
        if (streq (spec->name, "reason")) {
            rc = ctl_args_set_field (&self->request->base, "reason", value,
                                     self->why, sizeof self->why);
            if (rc == CTL_EXIT_OK && s_flag_field (self->body->descriptor, "reason"))
                rc = ctl_args_set_field (self->body, "reason", value,
                                         self->why, sizeof self->why);
        }
        else
        if (streq (spec->name, "timeout")) {
            if (ctl_args_int ("timeout", value, 1, 3600000, &number,
                              self->why, sizeof self->why))
                return CTL_EXIT_REFUSED;
            self->timeout_ms = (int) number;
        }
        else
        if (streq (spec->name, "retries")) {
            if (ctl_args_int ("retries", value, 0, 100, &number, self->why, sizeof self->why))
                return CTL_EXIT_REFUSED;
            self->retries = (int) number;
        }
        else
        if (streq (spec->name, "endpoint"))
            endpoint = value;
        if (rc != CTL_EXIT_OK)
            return rc == CTL_EXIT_USAGE? CTL_EXIT_REFUSED: rc;
    }
    return s_resolve_endpoint (self, endpoint);
}

int
ctl_args_parse (ctl_args_t *self, int argc, char **argv)
{
    self->why [0] = 0;
    if (argc < 2 || !argv [1])
        return s_error (self, CTL_EXIT_USAGE, "no command given");
    if (streq (argv [1], "help") || streq (argv [1], "--help") || streq (argv [1], "-h")) {
        self->help = true;
        return CTL_EXIT_OK;
    }
    int first = s_find_command (self, argc, argv);
    if (first < 0)
        return CTL_EXIT_USAGE;
    if (self->help)
        return CTL_EXIT_OK;
    //  A remote command's body comes first: its bool fields are switches
    int rc = self->command->local? CTL_EXIT_OK: s_new_request (self);
    if (rc == CTL_EXIT_OK)
        rc = s_collect (self, argc, argv, first);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (ctl_args_value (self, "help")) {
        self->help = true;
        return CTL_EXIT_OK;
    }
    self->json = ctl_args_value (self, "json") != NULL;
    return self->command->local? s_parse_local (self): s_parse_remote (self);
}

//  --------------------------------------------------------------------------
//  Help

static void
s_help_flags (FILE *out, const ctl_flag_t *flags)
{
    for (; flags && flags->name; flags++)
        fprintf (out, "  --%-14s %s%s%s\n", flags->name, flags->help,
                 flags->flags & CTL_FLAG_REQUIRED? " (required)": "",
                 flags->flags & CTL_FLAG_REPEAT? " (repeatable)": "");
}

static void
s_help_command (FILE *out, const ctl_command_t *command)
{
    fprintf (out, "\nlgwanctl %s%s%s [--flag value]... [--json]\n  %s\n", command->noun,
             command->verb? " ": "", command->verb? command->verb: "", command->help);
    if (command->local) {
        s_help_flags (out, command->flags);
        return;
    }
    const ProtobufCFieldDescriptor *member = s_body_field (command);
    if (!member)
        return;
    const ProtobufCMessageDescriptor *d = member->descriptor;
    const char *service = ctl_args_service_of (member->id);
    fprintf (out, "  service: %s; body: %s (%s)\n", service? service: "--service",
             d->short_name, member->name);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = d->fields + i;
        char flag [128];
        s_flag_name (field->name, flag, sizeof flag);
        fprintf (out, "  --%-18s %s%s%s", flag, lg_pbjson_type_name (field),
                 field->type == PROTOBUF_C_TYPE_MESSAGE? " as JSON": "",
                 field->label == PROTOBUF_C_LABEL_REPEATED? " (repeat the flag for more)": "");
        if (field->type == PROTOBUF_C_TYPE_ENUM) {
            const ProtobufCEnumDescriptor *ed = field->descriptor;
            for (unsigned j = 0; j < ed->n_values; j++)
                fprintf (out, "%s%s", j? ", ": ": ", ed->values [j].name);
        }
        fprintf (out, "\n");
    }
}

void
ctl_args_help (FILE *out, const char *noun)
{
    if (noun) {
        for (const ctl_command_t *command = s_commands; command->noun; command++)
            if (streq (command->noun, noun))
                s_help_command (out, command);
        fprintf (out, "\nflags of every remote command:\n");
        s_help_flags (out, s_switches);
        s_help_flags (out, s_remote_flags);
        return;
    }
    fprintf (out, "usage: lgwanctl <noun> <verb> [--flag value]... [--json]\n\n"
                  "commands:\n");
    for (const ctl_command_t *command = s_commands; command->noun; command++) {
        char name [64];
        snprintf (name, sizeof name, "%s%s%s", command->noun, command->verb? " ": "",
                  command->verb? command->verb: "");
        const ProtobufCFieldDescriptor *member = s_body_field (command);
        const char *service = member? ctl_args_service_of (member->id): NULL;
        fprintf (out, "  %-16s %-13s %s\n", name,
                 command->local? "(local)": service? service: "(--service)", command->help);
    }
    fprintf (out, "\n'lgwanctl <noun> help' (or --help, -h) lists a command's flags: the"
                  " fields of its request.\nflags of every remote command:\n");
    s_help_flags (out, s_switches);
    s_help_flags (out, s_remote_flags);
    fprintf (out, "\nexit codes: 0 ok, 1 refused or bad input, 2 usage, 3 unavailable\n"
                  "environment: LGWANCTL_CERT (your secret certificate file), LG_CERT_DIR "
                  "(default certs),\n  LG_<SERVICE>_CONNECT (endpoint of a service)\n");
}
