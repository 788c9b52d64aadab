/*  lgwanctl - every request of every service from a shell.

    lgwanctl <noun> <verb> [--flag value]... [--json]

    main is thin: parse (ctl_args), run a local verb (ctl_local) or call the
    service (lg_client: CURVE, Lazy Pirate retries with the same request_id),
    and print the reply for people (ctl_render, then what its fields leave
    unsaid: s_print_notes) or as proto3 JSON (lg_pbjson).
    Exit codes: 0 ok, 1 refused or bad input, 2 usage, 3 unavailable.
    Output that could not be written (a full disk, stdout closed) is said on
    stderr and exits 1, whatever printed it (s_flushed): a script reading
    the exit code took a list cut short for the whole of it.
*/
#include "ctl_args.h"
#include "ctl_local.h"
#include "ctl_render.h"

//  What a reply's fields do not say plainly enough, after them: a cause
//  imposed on a whole provider reaches the provider's later connections
//  ("provider-wide" beside the cause), one a new connection is still to
//  inherit is not in force on it ("pending"); a change "in force" whose
//  points include some in dry run was acked there, and dropped nowhere
//  there; one counted at no point was dropped nowhere; a cause kept for a
//  provider whose connections were all released reaches its next one
static void
s_print_notes (const lg_reply_t *reply)
{
    if (reply->body_case != LGWAN__V1__REPLY__BODY_ISOLATION)
        return;
    const Lgwan__V1__IsolationReply *isolation = reply->isolation;
    for (size_t i = 0; i < isolation->n_connections; i++) {
        const Lgwan__V1__ConnectionIsolation *c = isolation->connections [i];
        for (size_t j = 0; j < c->n_causes; j++) {
            const Lgwan__V1__CauseRecord *k = c->causes [j];
            if (!k->provider_wide && !k->pending)
                continue;
            const ProtobufCEnumValue *cause = protobuf_c_enum_descriptor_get_value (
                &lgwan__v1__isolation_cause__descriptor, (int) k->cause);
            char *reference = ctl_render_escape (k->reference);
            printf ("connection %" PRIu64 ": %s %s%s%s\n", c->connection,
                    cause? cause->name: "CAUSE_UNKNOWN", reference? reference: "",
                    k->provider_wide? " provider-wide": "",
                    k->pending? " pending (to be inherited, not in force on it yet)": "");
            free (reference);
        }
    }
    for (size_t i = 0; i < isolation->n_kept; i++) {
        const Lgwan__V1__KeptCause *kept = isolation->kept [i];
        const ProtobufCEnumValue *cause = kept->cause? protobuf_c_enum_descriptor_get_value (
            &lgwan__v1__isolation_cause__descriptor, (int) kept->cause->cause): NULL;
        char *reference = ctl_render_escape (kept->cause? kept->cause->reference: "");
        printf ("provider %" PRIu64 ": %s %s kept for the provider: no connection carries it"
                " (the last, %" PRIu64 ", was released); its next connection gets it\n",
                kept->provider, cause? cause->name: "CAUSE_UNKNOWN", reference? reference: "",
                kept->last_connection);
        free (reference);
    }
    char *dry_run = ctl_render_not_dropped (isolation->no_enforcement_point,
                                            isolation->dry_run_points,
                                            isolation->n_dry_run_points);
    if (dry_run)
        printf ("%s — %s\n", isolation->in_force? "in force": "not in force yet", dry_run);
    free (dry_run);
}

//  The body of an OK reply
static int
s_print_body (ctl_args_t *args, const lg_reply_t *reply)
{
    const ProtobufCFieldDescriptor *field =
        lg_codec_body_field (&lgwan__v1__reply__descriptor, reply->body_case);
    const ProtobufCMessage *body =
        field? *(ProtobufCMessage * const *) ((const char *) reply + field->offset): NULL;
    if (!body) {
        if (args->json)
            printf ("{}\n");
        return CTL_EXIT_OK;
    }
    int rc = ctl_print_message (args, body);
    if (rc == CTL_EXIT_OK && !args->json)
        s_print_notes (reply);
    return rc;
}

//  Send the request and print what came back
static int
s_call (ctl_args_t *args)
{
    if (!args->client_cert)
        return ctl_local_need_cert ();
    if (!zsys_file_exists (args->client_cert) || !zsys_file_exists (args->server_cert)) {
        fprintf (stderr, "lgwanctl: cannot read %s\n", zsys_file_exists (args->client_cert)
                 ? args->server_cert: args->client_cert);
        return CTL_EXIT_REFUSED;
    }
    if (!*args->request->request_id)
        args->request->request_id = lg_client_new_id ();
    if (!args->request->request_id) {
        fprintf (stderr, "lgwanctl: out of memory\n");
        return CTL_EXIT_REFUSED;
    }
    lg_client_t *client = lg_client_new (args->endpoint, args->client_cert, args->server_cert);
    if (!client) {
        fprintf (stderr, "lgwanctl: could not set up a CURVE connection to %s with %s and %s\n",
                 args->endpoint, args->client_cert, args->server_cert);
        return CTL_EXIT_REFUSED;
    }
    lg_client_set_timeout (client, args->timeout_ms, args->retries);
    lg_reply_t *reply = NULL;
    char who [512];
    snprintf (who, sizeof who, "%s at %s after %d %s", args->service, args->endpoint,
              args->retries + 1, args->retries? "tries": "try");
    int rc = ctl_call (args, client, args->request, who, &reply);
    if (rc == CTL_EXIT_OK)
        rc = s_print_body (args, reply);
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_client_destroy (&client);
    return rc;
}

//  rc, or 1 when what was printed did not all reach stdout
static int
s_flushed (int rc)
{
    bool flushed = fflush (stdout) == 0;
    int error = errno;
    if (flushed && !ferror (stdout))
        return rc;
    fprintf (stderr, "lgwanctl: could not write the output: %s\n",
             flushed? "a write failed": strerror (error));
    return rc == CTL_EXIT_OK? CTL_EXIT_REFUSED: rc;
}

int
main (int argc, char **argv)
{
    //  A command-line tool: Ctrl-C ends it at once
    zsys_handler_set (NULL);
    ctl_args_t *args = ctl_args_new ();
    if (!args) {
        fprintf (stderr, "lgwanctl: out of memory\n");
        return CTL_EXIT_REFUSED;
    }
    int rc = ctl_args_parse (args, argc, argv);
    if (rc != CTL_EXIT_OK) {
        fprintf (stderr, "lgwanctl: %s\n", args->why);
        if (rc == CTL_EXIT_USAGE)
            fprintf (stderr, "usage: lgwanctl <noun> <verb> [--flag value]... [--json]; "
                             "'lgwanctl help' lists the commands\n");
    }
    else
    if (args->help)
        ctl_args_help (stdout, args->command? args->command->noun: NULL);
    else
    if (args->command->local)
        rc = args->command->local (args);
    else
        rc = s_call (args);
    ctl_args_destroy (&args);
    return s_flushed (rc);
}
