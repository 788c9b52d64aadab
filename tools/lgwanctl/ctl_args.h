/*  ctl_args - lgwanctl's command line: argv in, a request and its target out.

    `lgwanctl <noun> <verb> [--flag value]... [--json]`. No sockets, no files:
    what it reads besides argv is the environment (endpoints, certificate
    paths), so it is tested as a pure function.
*/
#ifndef CTL_ARGS_H_INCLUDED
#define CTL_ARGS_H_INCLUDED

#include "lg_lib.h"

typedef struct _ctl_args_t ctl_args_t;

//  A verb that runs here, without a service (keygen, cert revoke, db init);
//  returns the exit code
typedef int (ctl_local_fn) (ctl_args_t *args);

//  A flag of a local verb, or one of the tool's own
typedef struct {
    const char *name;           //  without the dashes
    int flags;                  //  CTL_FLAG_*
    const char *help;
} ctl_flag_t;

#define CTL_FLAG_SWITCH   1     //  takes no value (--json)
#define CTL_FLAG_REQUIRED 2
#define CTL_FLAG_REPEAT   4     //  may be given more than once

//  One row of the command table
typedef struct {
    const char *noun;
    const char *verb;           //  NULL: the noun alone is the command (keygen)
    const char *body;           //  the Request oneof member it fills (a local verb that
                                //  sends one, like reference load, names it too)
    ctl_local_fn *local;        //  local: what runs it
    const ctl_flag_t *flags;    //  local: its flags, { NULL } ended
    const char *help;
} ctl_command_t;

//  Exit codes (DESIGN.md "Interfaces for people")
#define CTL_EXIT_OK          0
#define CTL_EXIT_REFUSED     1  //  refused by the service, or a value that does not parse
#define CTL_EXIT_USAGE       2
#define CTL_EXIT_UNAVAILABLE 3

//  One flag as given: --name value or --name=value (a switch: "true")
typedef struct {
    char name [64];
    const char *value;
} ctl_pair_t;

struct _ctl_args_t {
    const ctl_command_t *command;   //  NULL with help: the list of commands
    bool help;                      //  print help (for command, or all) and exit 0
    bool json;                      //  --json
    //  Remote commands
    lg_request_t *request;          //  envelope with its body; free_unpacked by destroy
    ProtobufCMessage *body;         //  borrowed: the member of request
    const char *service;            //  target service (static string)
    char endpoint [256];            //  --endpoint, LG_<SVC>_CONNECT, or the default port
    char server_cert [512];         //  $LG_CERT_DIR/services/<service>
    const char *client_cert;        //  ctl_args_client_cert ()
    int timeout_ms;                 //  0: the client's default
    int retries;                    //  -1: the client's default
    //  Every flag in the order given; values borrowed from argv
    ctl_pair_t *pairs;
    size_t n_pairs;
    char why [512];                 //  what was wrong, for the user
};

//  Create an empty set of arguments.
ctl_args_t *ctl_args_new (void);
void ctl_args_destroy (ctl_args_t **self_p);

//  Parse argv (argv [0] is the program; argv must outlive self). Returns CTL_EXIT_OK (then either
//  help is set, or command with, for a remote one, request, body, service
//  and endpoint), CTL_EXIT_REFUSED for a value that does not parse, or
//  CTL_EXIT_USAGE; why then says what.
int ctl_args_parse (ctl_args_t *self, int argc, char **argv);

//  Value of a local flag (the first when repeated), or NULL.
const char *ctl_args_value (ctl_args_t *self, const char *name);

//  Whether the command takes the flag (a remote command: the tool's own
//  flags; a local verb: its list), given or not.
bool ctl_args_takes (const ctl_args_t *self, const char *name);

//  Values of a repeatable local flag, in order, into a new list of borrowed
//  strings (caller destroys the list).
zlistx_t *ctl_args_values (ctl_args_t *self, const char *name);

//  Set the field of msg named by a flag (name-ja or name_ja) from text; the
//  rules of lg_pbjson_set_field. CTL_EXIT_OK, CTL_EXIT_USAGE when msg has no
//  such field, CTL_EXIT_REFUSED when the value does not parse; why says.
int ctl_args_set_field (ProtobufCMessage *msg, const char *flag, const char *text,
                        char *why, size_t why_size);

//  The command table, { NULL } ended, and the service a body goes to by its
//  oneof number (NULL for the common range: --service says).
const ctl_command_t *ctl_args_commands (void);
const char *ctl_args_service_of (unsigned body_number);

//  Whether a service name is one we know; the index-th service name or NULL.
bool ctl_args_known_service (const char *service);
const char *ctl_args_service_at (size_t index);

//  Folder of certificates: $LG_CERT_DIR, default "certs".
const char *ctl_args_cert_dir (void);

//  Our secret certificate file: $LGWANCTL_CERT, NULL when unset or empty.
const char *ctl_args_client_cert (void);

//  Parse a flag's text as a whole number in [min, max]; 0, or -1 with why.
int ctl_args_int (const char *flag, const char *text, int64_t min, int64_t max,
                  int64_t *value, char *why, size_t why_size);

//  Print help: all commands (command NULL) or one noun's verbs with flags.
void ctl_args_help (FILE *out, const char *noun);

#endif
