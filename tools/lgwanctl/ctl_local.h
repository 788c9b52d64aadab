/*  ctl_local - the verbs lgwanctl runs itself, without a service.

    Each takes the parsed arguments (its flags are checked against its row
    of the command table in ctl_args.c), prints what it did, and returns the
    exit code.
*/
#ifndef CTL_LOCAL_H_INCLUDED
#define CTL_LOCAL_H_INCLUDED

#include "ctl_args.h"

//  keygen --role R --name N [--provider-id N | --operator-id ID | --point P] [--out DIR]
//  keygen --service S
int ctl_local_keygen (ctl_args_t *args);

//  cert revoke --name N
int ctl_local_revoke (ctl_args_t *args);

//  db init --admin-dsn DSN [--service S]... [--password P]
int ctl_local_db_init (ctl_args_t *args);

//  verify [--service S]... [--key-dir DIR]   (ctl_events.c)
int ctl_local_verify (ctl_args_t *args);

//  events tail --service S [--from-seq N] [--follow]   (ctl_events.c)
int ctl_local_events_tail (ctl_args_t *args);

//  reference load --file CSV [--source S]: the local government list
int ctl_local_reference_load (ctl_args_t *args);

//  tariff load --file FILE.json: billing's tariff versions (R6.1)
int ctl_local_tariff_load (ctl_args_t *args);

//  invoice export --period YYYY-MM [--out FILE]: CSV of a period, every page
int ctl_local_invoice_export (ctl_args_t *args);

//  Send a request and take its answer: CTL_EXIT_OK with *reply_p (status
//  OK), or the exit code with the refusal printed (proto3 JSON on stdout
//  with --json, a line on stderr otherwise) and *reply_p NULL. who names
//  the service for "no reply from ...". An UNAVAILABLE answer (the service
//  is up, its database is not) is asked again with the same request_id
//  (args->retries times, pauses of 250 ms doubling to 2 s). When nothing
//  answered, or the last answer was UNAVAILABLE, nobody knows whether the
//  service acted: stderr says how to repeat the request safely (its
//  request_id, set here if the request has none; the caller frees it).
//  A reply this build cannot read that carries the request_id (lg_client
//  point 4) is not asked again: exit 1, "S answered, but the reply is not
//  readable by this build (why)" as a status UNKNOWN, and how to get the
//  stored reply. A server that refused our certificate (lg_client point 6:
//  revoked, never allowed) is not asked again either: exit 1, "S refused
//  our certificate ...; nothing was done" as a status UNAUTHENTICATED
//  naming X.3, and no hint to repeat.
int ctl_call (ctl_args_t *args, lg_client_t *client, lg_request_t *request, const char *who,
              lg_reply_t **reply_p);

//  What lgwanctl says of a reply lg_client_call could not read (-2): "S
//  answered[ WHAT], but the reply is not readable by this build (why)",
//  why as lg_client_unreadable gives it; what (a request's name) may be NULL.
void ctl_unreadable_text (char *text, size_t size, const char *service, const char *what,
                          const char *why);

//  What lgwanctl says of a service that refused our certificate
//  (lg_client_call -3): "S refused our certificate (LGWANCTL_CERT PATH):
//  revoked, or never allowed there; nothing was done"
void ctl_refused_cert_text (char *text, size_t size, const char *service);

//  Print a JSON value on one line of stdout; -1 if it could not be made
int ctl_print_json (json_t *json);

//  Print a reply's message as every command does: proto3 JSON with --json
//  (64-bit integers as strings), else for people. CTL_EXIT_OK, or
//  CTL_EXIT_REFUSED when it could not be printed
int ctl_print_message (ctl_args_t *args, const ProtobufCMessage *message);

//  Print a refusal for people on stderr, its texts escaped:
//  "lgwanctl: MESSAGE (CODE, requirement R)" and "detail: ..." when it has one.
void ctl_print_status (const lg_status_t *status);

//  CTL_EXIT_OK when LGWANCTL_CERT names a certificate; else CTL_EXIT_USAGE
//  with a message. Every command that calls a service asks first.
int ctl_local_need_cert (void);

//  A client of service speaking with $LGWANCTL_CERT; NULL with a message
lg_client_t *ctl_local_client (const char *service, int timeout_ms, int retries);

//  The public certificate of a service a client checks it by:
//  $LG_CERT_DIR/services/<service>. Caller frees; NULL when out of memory.
char *ctl_local_server_cert (const char *service);

#endif
