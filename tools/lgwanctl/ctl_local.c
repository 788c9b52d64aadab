/*  ctl_local - the verbs lgwanctl runs itself, without a service.

    Certificates go through lg_auth and databases through lg_db: the rules
    (names, roles, metadata size, role rights) live there, once. With --json
    the result is one JSON object on stdout; errors go to stderr.
*/
#include "ctl_local.h"
#include "ctl_render.h"

//  Print the result object (--json) or its lines "key: value"
static void
s_print (ctl_args_t *args, json_t *result)
{
    if (args->json) {
        char *text = json_dumps (result, JSON_COMPACT);
        if (text)
            printf ("%s\n", text);
        free (text);
    }
    else {
        const char *key;
        json_t *value;
        json_object_foreach (result, key, value)
            printf ("%s: %s\n", key, json_string_value (value));
    }
}

int
ctl_local_keygen (ctl_args_t *args)
{
    const char *role = ctl_args_value (args, "role");
    const char *name = ctl_args_value (args, "name");
    const char *operator_id = ctl_args_value (args, "operator-id");
    const char *text = ctl_args_value (args, "provider-id");
    const char *point = ctl_args_value (args, "point");
    const char *out = ctl_args_value (args, "out");
    const char *cert_dir = ctl_args_cert_dir ();
    const char *service = ctl_args_value (args, "service");
    char why [256];
    int64_t provider_id = 0;
    if (service) {
        if (role || name || operator_id || text || point || out) {
            fprintf (stderr, "lgwanctl: keygen --service takes no other flag\n");
            return CTL_EXIT_USAGE;
        }
        if (!ctl_args_known_service (service)) {
            fprintf (stderr, "lgwanctl: unknown service \"%.40s\"\n", service);
            return CTL_EXIT_USAGE;
        }
        if (lg_auth_service_keygen (cert_dir, service)) {
            fprintf (stderr, "lgwanctl: could not write the keys of %s in %s/services\n",
                     service, cert_dir);
            return CTL_EXIT_REFUSED;
        }
        json_t *result = json_object ();
        json_object_set_new (result, "keys", json_string (cert_dir));
        json_object_set_new (result, "service", json_string (service));
        s_print (args, result);
        json_decref (result);
        return CTL_EXIT_OK;
    }
    if (!role || !name) {
        fprintf (stderr, "lgwanctl: keygen needs --role and --name (or --service)\n");
        return CTL_EXIT_USAGE;
    }
    //  A flag the role does not take, or one it needs left out, is a usage
    //  error before any value is read: --provider-id abc on a viewer said
    //  "must be a number" (exit 1)
    if (lg_auth_keygen_fits (role, text, operator_id, point, why, sizeof why)) {
        fprintf (stderr, "lgwanctl: keygen: %s\n", why);
        return CTL_EXIT_USAGE;
    }
    if (text && ctl_args_int ("provider-id", text, 1, INT64_MAX, &provider_id, why, sizeof why)) {
        fprintf (stderr, "lgwanctl: %s\n", why);
        return CTL_EXIT_REFUSED;
    }
    int rc = CTL_EXIT_REFUSED;
    char *out_dir = out? strdup (out): zsys_sprintf ("%s/clients", cert_dir);
    char *allowed = zsys_sprintf ("%s/allowed/%s", cert_dir, name);
    char *public_path = zsys_sprintf ("%s/%s", out_dir? out_dir: "", name);
    char *secret_path = zsys_sprintf ("%s/%s_secret", out_dir? out_dir: "", name);
    json_t *result = json_object ();
    if (!out_dir || !allowed || !public_path || !secret_path || !result) {
        fprintf (stderr, "lgwanctl: out of memory\n");
        goto cleanup;
    }
    //  lg_auth_keygen asks lg_auth_keygen_fits again (-2)
    int made = lg_auth_keygen (cert_dir, out_dir, name, role, (uint64_t) provider_id,
                               operator_id, point, why, sizeof why);
    if (made == -2) {
        fprintf (stderr, "lgwanctl: keygen: %s\n", why);
        rc = CTL_EXIT_USAGE;
        goto cleanup;
    }
    if (made) {
        fprintf (stderr, "lgwanctl: could not create certificate %s: %s\n", name, why);
        goto cleanup;
    }
    json_object_set_new (result, "allowed", json_string (allowed));
    json_object_set_new (result, "public", json_string (public_path));
    json_object_set_new (result, "secret", json_string (secret_path));
    s_print (args, result);
    rc = CTL_EXIT_OK;
cleanup:
    json_decref (result);
    free (out_dir);
    zstr_free (&allowed);
    zstr_free (&public_path);
    zstr_free (&secret_path);
    return rc;
}

int
ctl_local_revoke (ctl_args_t *args)
{
    const char *name = ctl_args_value (args, "name");
    const char *cert_dir = ctl_args_cert_dir ();
    char why [256];
    if (lg_auth_revoke (cert_dir, name, why, sizeof why)) {
        fprintf (stderr, "lgwanctl: could not revoke certificate %s: %s\n", name, why);
        return CTL_EXIT_REFUSED;
    }
    json_t *result = json_object ();
    char *revoked = zsys_sprintf ("%s/revoked/%s", cert_dir, name);
    if (result && revoked) {
        json_object_set_new (result, "revoked", json_string (revoked));
        s_print (args, result);
    }
    zstr_free (&revoked);
    json_decref (result);
    return CTL_EXIT_OK;
}

int
ctl_local_db_init (ctl_args_t *args)
{
    const char *admin_dsn = ctl_args_value (args, "admin-dsn");
    const char *password = ctl_args_value (args, "password");
    int rc = CTL_EXIT_OK;
    json_t *result = json_object ();
    zlistx_t *services = ctl_args_values (args, "service");
    if (!result || !services) {
        fprintf (stderr, "lgwanctl: out of memory\n");
        rc = CTL_EXIT_REFUSED;
        goto cleanup;
    }
    //  Default: every service; check all names before touching anything
    bool all = zlistx_size (services) == 0;
    for (size_t i = 0; all && ctl_args_service_at (i); i++)
        zlistx_add_end (services, (void *) ctl_args_service_at (i));
    for (const char *service = (const char *) zlistx_first (services); service;
         service = (const char *) zlistx_next (services)) {
        if (!ctl_args_known_service (service)) {
            fprintf (stderr, "lgwanctl: unknown service \"%.40s\"\n", service);
            rc = CTL_EXIT_USAGE;
            goto cleanup;
        }
    }
    //  The database prepared: named, and not the server's own; a usage
    //  error before anything is touched
    char refused [512];
    char *database = lg_db_bootstrap_database (admin_dsn, refused, sizeof refused);
    if (!database) {
        fprintf (stderr, "lgwanctl: %s\n", refused);
        rc = CTL_EXIT_USAGE;
        goto cleanup;
    }
    json_object_set_new (result, "database", json_string (database));
    zstr_free (&database);
    //  A server that cannot be reached fails every service alike: said once,
    //  and exit 3, as for a service that does not answer; a service that
    //  failed with the server answering (refused, a role it could not use)
    //  is exit 1 and says more than the server being away
    bool unreachable = false, failed = false;
    for (const char *service = (const char *) zlistx_first (services); service;
         service = (const char *) zlistx_next (services)) {
        if (unreachable) {
            json_object_set_new (result, service, json_string ("not tried"));
            continue;
        }
        char why [512];
        int prepared = lg_db_bootstrap (admin_dsn, service, password, why, sizeof why);
        if (prepared) {
            fprintf (stderr, "lgwanctl: could not prepare %s: %s\n", service, why);
            json_object_set_new (result, service, json_string ("failed"));
            unreachable = prepared == -2;
            failed = failed || !unreachable;
        }
        else
            json_object_set_new (result, service, json_string ("ready"));
    }
    rc = failed? CTL_EXIT_REFUSED: unreachable? CTL_EXIT_UNAVAILABLE: CTL_EXIT_OK;
    s_print (args, result);
cleanup:
    zlistx_destroy (&services);
    json_decref (result);
    return rc;
}

int
ctl_print_json (json_t *json)
{
    char *text = json? json_dumps (json, JSON_COMPACT): NULL;
    if (!text)
        return -1;
    printf ("%s\n", text);
    free (text);
    return 0;
}

int
ctl_print_message (ctl_args_t *args, const ProtobufCMessage *message)
{
    json_t *json = lg_pbjson_from_message (message, args->json? 0: LG_PBJSON_EMIT_DEFAULTS
                                                                 | LG_PBJSON_PROTO_NAMES);
    int rc = CTL_EXIT_OK;
    if (!json || (args->json && ctl_print_json (json))) {
        fprintf (stderr, "lgwanctl: could not print the reply of %s\n", args->service);
        rc = CTL_EXIT_REFUSED;
    }
    else
    if (!args->json)
        ctl_render (stdout, json);
    json_decref (json);
    return rc;
}

void
ctl_print_status (const lg_status_t *status)
{
    //  Every text of it comes from the service: escaped
    const ProtobufCEnumValue *code =
        protobuf_c_enum_descriptor_get_value (&lgwan__v1__code__descriptor, (int) status->code);
    char *message = ctl_render_escape (status->message);
    fprintf (stderr, "lgwanctl: %s (%s", message? message: "", code? code->name: "UNKNOWN");
    if (status->requirement && *status->requirement) {
        char *requirement = ctl_render_escape (status->requirement);
        fprintf (stderr, ", requirement %s", requirement? requirement: "");
        free (requirement);
    }
    fprintf (stderr, ")\n");
    if (status->detail && *status->detail) {
        char *detail = ctl_render_escape (status->detail);
        fprintf (stderr, "detail: %s\n", detail? detail: "");
        free (detail);
    }
    free (message);
}

void
ctl_unreadable_text (char *text, size_t size, const char *service, const char *what,
                     const char *why)
{
    snprintf (text, size, "%s answered%s%s, but the reply is not readable by this build (%s)",
              service, what? " ": "", what? what: "", why);
}

void
ctl_refused_cert_text (char *text, size_t size, const char *service)
{
    const char *cert = ctl_args_client_cert ();
    snprintf (text, size, "%s refused our certificate (LGWANCTL_CERT %s): revoked, or never"
              " allowed there; nothing was done", service, cert? cert: "");
}

int
ctl_call (ctl_args_t *args, lg_client_t *client, lg_request_t *request, const char *who,
          lg_reply_t **reply_p)
{
    if (!request->request_id || !*request->request_id)
        request->request_id = lg_client_new_id ();
    lg_reply_t *reply = NULL;
    char message [600];
    lg_status_t silence = LGWAN__V1__STATUS__INIT;
    const lg_status_t *status = &silence;
    //  UNAVAILABLE from a service that answers (its database is away) is
    //  asked again with the same request_id after a pause: done at most once
    int tries = args->retries < 0? 3: args->retries, pause_ms = 250, called = 0;
    for (int attempt = 0; ; attempt++) {
        if ((called = lg_client_call (client, request, &reply)))
            break;
        if (!reply->status || reply->status->code != LGWAN__V1__CODE__UNAVAILABLE
        ||  attempt == tries)
            break;
        char *said = ctl_render_escape (reply->status->message);
        fprintf (stderr, "lgwanctl: %s (UNAVAILABLE); asking again in %d ms with the same"
                         " request_id\n", said? said: "", pause_ms);
        free (said);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        reply = NULL;
        zclock_sleep (pause_ms);
        pause_ms = pause_ms * 2 > 2000? 2000: pause_ms * 2;
    }
    if (called == -2) {
        //  It answered (done, or refused): not UNAVAILABLE, and not asked
        //  again, which would get the same stored reply
        //  who of a remote command counts the tries, and there was one
        ctl_unreadable_text (message, sizeof message, args->service? args->service: who, NULL,
                             lg_client_unreadable (client));
        silence.code = LGWAN__V1__CODE__UNKNOWN;
        silence.message = message;
    }
    else
    if (called == -3) {
        //  The server would not let our certificate in (lg_client point 6):
        //  the request never went past the handshake, so nothing was done
        ctl_refused_cert_text (message, sizeof message, args->service? args->service: who);
        silence.code = LGWAN__V1__CODE__UNAUTHENTICATED;
        silence.message = message;
        silence.requirement = (char *) "X.3";
    }
    else
    if (!reply) {
        snprintf (message, sizeof message, "no reply from %s", who);
        silence.code = LGWAN__V1__CODE__UNAVAILABLE;
        silence.message = message;
    }
    else
    if (reply->status && reply->status->code != LGWAN__V1__CODE__OK)
        status = reply->status;
    else {
        //  An OK reply's detail says what its body leaves out (invoice run:
        //  providers it did not invoice): a note on stderr, with --json too
        if (reply->status && reply->status->detail && *reply->status->detail) {
            char *detail = ctl_render_escape (reply->status->detail);
            fprintf (stderr, "lgwanctl: note: %s\n", detail? detail: "");
            free (detail);
        }
        *reply_p = reply;
        return CTL_EXIT_OK;
    }
    *reply_p = NULL;
    if (args->json) {
        json_t *json = lg_pbjson_from_message (&status->base, 0);
        ctl_print_json (json);
        json_decref (json);
    }
    else
        ctl_print_status (status);
    int rc = CTL_EXIT_REFUSED;
    //  The hints name --request-id: only for a command that takes it (verify,
    //  events tail and invoice export read, each request with an id of its own)
    bool repeatable = ctl_args_takes (args, "request-id");
    if (status->code == LGWAN__V1__CODE__UNAVAILABLE) {
        //  A change, done or not, nobody knows: the same request_id does it
        //  at most once (a read changed nothing either way)
        if (repeatable)
            fprintf (stderr, "lgwanctl: if the command changes something, whether it was done"
                             " is not known; the same command with --request-id %s repeats it"
                             " safely (done at most once)\n", request->request_id);
        rc = CTL_EXIT_UNAVAILABLE;
    }
    else
    if (called == -2 && repeatable)
        fprintf (stderr, "lgwanctl: whether it was done or refused, a newer lgwanctl can tell:"
                         " the same command with --request-id %s gets the stored reply\n",
                 request->request_id);
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    return rc;
}

int
ctl_local_need_cert (void)
{
    if (ctl_args_client_cert ())
        return CTL_EXIT_OK;
    fprintf (stderr, "lgwanctl: LGWANCTL_CERT is not set: it names your secret certificate file"
                     " (lgwanctl keygen makes one)\n");
    return CTL_EXIT_USAGE;
}

lg_client_t *
ctl_local_client (const char *service, int timeout_ms, int retries)
{
    //  The verbs asked ctl_local_need_cert first; this only guards
    const char *cert = ctl_args_client_cert ();
    if (!cert) {
        ctl_local_need_cert ();
        return NULL;
    }
    char *endpoint = lg_consumer_endpoint (service, false);
    char *server = ctl_local_server_cert (service);
    lg_client_t *client = endpoint && server? lg_client_new (endpoint, cert, server): NULL;
    if (!client)
        fprintf (stderr, "lgwanctl: could not set up a client of %s (LGWANCTL_CERT, %s)\n",
                 service, server);
    else
        lg_client_set_timeout (client, timeout_ms, retries);
    free (endpoint);
    zstr_free (&server);
    return client;
}

char *
ctl_local_server_cert (const char *service)
{
    return zsys_sprintf ("%s/services/%s", ctl_args_cert_dir (), service);
}

int
ctl_local_reference_load (ctl_args_t *args)
{
    int rc = ctl_local_need_cert ();
    if (rc != CTL_EXIT_OK)
        return rc;
    const char *path = ctl_args_value (args, "file");
    char why [512];
    Lgwan__V1__ReferenceLoad *list = lg_reference_read (path, why, sizeof why);
    if (!list) {
        fprintf (stderr, "lgwanctl: %s\n", why);
        return CTL_EXIT_REFUSED;
    }
    const char *source = ctl_args_value (args, "source");
    if (source) {
        free (list->source);
        list->source = strdup (source);
    }
    lg_client_t *client = ctl_local_client ("registry", 10000, 2);
    if (!client) {
        lgwan__v1__reference_load__free_unpacked (list, NULL);
        return CTL_EXIT_REFUSED;
    }
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_REFERENCE_LOAD;
    request.reference_load = list;
    const char *id = ctl_args_value (args, "request-id");
    request.request_id = id? strdup (id): NULL;
    const char *reason = ctl_args_value (args, "reason");
    request.reason = (char *) (reason? reason: "reference list loaded");
    lg_reply_t *reply = NULL;
    rc = ctl_call (args, client, &request, "registry", &reply);
    if (rc == CTL_EXIT_OK && reply->body_case != LGWAN__V1__REPLY__BODY_REFERENCE_LOAD) {
        fprintf (stderr, "lgwanctl: registry answered without the list it loaded\n");
        rc = CTL_EXIT_REFUSED;
    }
    else
    if (rc == CTL_EXIT_OK)
        rc = ctl_print_message (args, &reply->reference_load->base);
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    request.reference_load = NULL;
    request.reason = NULL;
    free (request.request_id);
    lgwan__v1__reference_load__free_unpacked (list, NULL);
    lg_client_destroy (&client);
    return rc;
}

//  One request to billing (long timeout: a run can take seconds); 0 with
//  *reply_p OK, else the exit code with the refusal printed
static int
s_billing_call (ctl_args_t *args, lg_request_t *request, lg_reply_t **reply_p)
{
    *reply_p = NULL;
    lg_client_t *client = ctl_local_client ("billing", 30000, 1);
    if (!client)
        return CTL_EXIT_REFUSED;
    const char *id = ctl_args_value (args, "request-id");
    request->request_id = id? strdup (id): lg_client_new_id ();
    int rc = ctl_call (args, client, request, "billing", reply_p);
    free (request->request_id);
    request->request_id = NULL;
    lg_client_destroy (&client);
    return rc;
}

//  The largest tariff file sent: well inside the 1 MiB a request may take
#define S_TARIFF_FILE_MAX (512 * 1024)

int
ctl_local_tariff_load (ctl_args_t *args)
{
    int rc = ctl_local_need_cert ();
    if (rc != CTL_EXIT_OK)
        return rc;
    const char *path = ctl_args_value (args, "file");
    zfile_t *file = zfile_new (NULL, path);
    //  One byte past the limit tells a file that is too big from one that fits
    zchunk_t *chunk = file && zfile_input (file) == 0?
                      zfile_read (file, S_TARIFF_FILE_MAX + 1, 0): NULL;
    off_t file_size = file? zfile_cursize (file): 0;
    zfile_destroy (&file);
    if (!chunk) {
        fprintf (stderr, "lgwanctl: cannot read %s\n", path);
        return CTL_EXIT_REFUSED;
    }
    //  Loaded whole or not at all (R6.1): never a document cut short
    size_t size = zchunk_size (chunk);
    const void *nul = memchr (zchunk_data (chunk), 0, size);
    if (size > S_TARIFF_FILE_MAX) {
        if (file_size > S_TARIFF_FILE_MAX)
            fprintf (stderr, "lgwanctl: %s is %jd bytes, over the limit of %d bytes (512 KiB)\n",
                     path, (intmax_t) file_size, S_TARIFF_FILE_MAX);
        else
            fprintf (stderr, "lgwanctl: %s is over the limit of %d bytes (512 KiB)\n",
                     path, S_TARIFF_FILE_MAX);
    }
    else
    if (nul)
        fprintf (stderr, "lgwanctl: %s holds a NUL byte (at %td): not a JSON text\n", path,
                 (const byte *) nul - zchunk_data (chunk));
    if (size > S_TARIFF_FILE_MAX || nul) {
        zchunk_destroy (&chunk);
        return CTL_EXIT_REFUSED;
    }
    char *document = zchunk_strdup (chunk);
    zchunk_destroy (&chunk);
    Lgwan__V1__TariffLoad load = LGWAN__V1__TARIFF_LOAD__INIT;
    load.document = document;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_TARIFF_LOAD;
    request.tariff_load = &load;
    const char *reason = ctl_args_value (args, "reason");
    request.reason = (char *) (reason? reason: "tariff loaded");
    lg_reply_t *reply;
    rc = s_billing_call (args, &request, &reply);
    if (rc == CTL_EXIT_OK && reply->body_case != LGWAN__V1__REPLY__BODY_TARIFF) {
        fprintf (stderr, "lgwanctl: billing answered without the tariff it loaded\n");
        lgwan__v1__reply__free_unpacked (reply, NULL);
        rc = CTL_EXIT_REFUSED;
    }
    else
    if (rc == CTL_EXIT_OK) {
        rc = ctl_print_message (args, &reply->tariff->base);
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }
    free (document);
    return rc;
}

//  The signals that end lgwanctl midway (main leaves them their default
//  action: Ctrl-C ends it at once), and the temporary file of an export
//  they remove first while one is written: its whole name, set with the
//  signals held, so the handler never reads half of one
static const int s_ending_signals [] = { SIGINT, SIGTERM, SIGHUP };
#define S_ENDING_SIGNALS (sizeof s_ending_signals / sizeof s_ending_signals [0])
static char s_temporary [PATH_MAX];

//  Async-signal-safe only: unlink, then the same signal again, now with its
//  default action (SA_RESETHAND), which ends the process as it would have
//  ended without us, so the exit status still names the signal
static void
s_remove_temporary (int sig)
{
    if (*s_temporary)
        unlink (s_temporary);
    raise (sig);
}

static void
s_ending_signals_set (sigset_t *set)
{
    sigemptyset (set);
    for (size_t i = 0; i < S_ENDING_SIGNALS; i++)
        sigaddset (set, s_ending_signals [i]);
}

//  path (NULL: none any more) is removed when one of the ending signals
//  ends lgwanctl. A signal ignored when lgwanctl started (nohup, a job in
//  the background of a script) stays ignored
static void
s_remove_on_signal (const char *path)
{
    sigset_t ending, was;
    s_ending_signals_set (&ending);
    pthread_sigmask (SIG_BLOCK, &ending, &was);
    bool armed = path && strlen (path) < sizeof s_temporary;
    memcpy (s_temporary, armed? path: "", armed? strlen (path) + 1: 1);
    for (size_t i = 0; i < S_ENDING_SIGNALS; i++) {
        struct sigaction now;
        if (sigaction (s_ending_signals [i], NULL, &now) || now.sa_handler == SIG_IGN)
            continue;
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = armed? s_remove_temporary: SIG_DFL;
        action.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigemptyset (&action.sa_mask);
        sigaction (s_ending_signals [i], &action, NULL);
    }
    pthread_sigmask (SIG_SETMASK, &was, NULL);
}

//  A file of our own beside out_path, made anew under a name nobody could
//  guess (mkstemp: O_CREAT | O_EXCL, so nothing planted there, a symbolic
//  link to another file say, is followed), with the mode a file fopen made
//  would have, and removed if a signal ends lgwanctl before the caller
//  says s_remove_on_signal (NULL) (the signals are held from its making
//  until then, so none comes in between). NULL with errno; *tmp_path_p is
//  its name either way (caller frees)
static FILE *
s_open_temporary (const char *out_path, char **tmp_path_p)
{
    char *tmp_path = zsys_sprintf ("%s.tmp.XXXXXX", out_path);
    sigset_t ending, was;
    s_ending_signals_set (&ending);
    pthread_sigmask (SIG_BLOCK, &ending, &was);
    int fd = tmp_path? mkstemp (tmp_path): -1;
    FILE *file = NULL;
    if (fd >= 0) {
        s_remove_on_signal (tmp_path);
        mode_t mask = umask (0);
        umask (mask);
        if (fchmod (fd, 0666 & ~mask) == 0)
            file = fdopen (fd, "w");
        if (!file) {
            int error = errno;
            close (fd);
            unlink (tmp_path);
            s_remove_on_signal (NULL);
            errno = error;
        }
    }
    pthread_sigmask (SIG_SETMASK, &was, NULL);
    *tmp_path_p = tmp_path;
    return file;
}

//  The export goes to OUT.tmp.XXXXXX (s_open_temporary) and is renamed to
//  OUT once every page is written and the file closed without an error, so
//  OUT is the whole period or is not there: a refusal midway, a page that
//  does not advance, a full disk leave no file (and exit 1), and neither
//  does SIGINT, SIGTERM or SIGHUP midway (which end it as they would). On stdout the
//  same errors exit 1, after what was written. The output is CSV only:
//  --json is a usage error (a refusal midway would be printed as JSON on
//  stdout, into the CSV).
int
ctl_local_invoice_export (ctl_args_t *args)
{
    if (args->json) {
        fprintf (stderr, "lgwanctl: invoice export writes CSV only: --json is not taken\n");
        return CTL_EXIT_USAGE;
    }
    if (ctl_local_need_cert () != CTL_EXIT_OK)
        return CTL_EXIT_USAGE;
    const char *out_path = ctl_args_value (args, "out");
    char *tmp_path = NULL;
    FILE *out = out_path? s_open_temporary (out_path, &tmp_path): stdout;
    if (!out) {
        fprintf (stderr, "lgwanctl: cannot write %s: %s\n", tmp_path? tmp_path: out_path,
                 strerror (errno));
        zstr_free (&tmp_path);
        return CTL_EXIT_REFUSED;
    }
    const char *where = out_path? tmp_path: "stdout";
    Lgwan__V1__BillingExport page = LGWAN__V1__BILLING_EXPORT__INIT;
    page.period = (char *) ctl_args_value (args, "period");
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_BILLING_EXPORT;
    request.billing_export = &page;
    request.reason = (char *) "export";
    int rc = CTL_EXIT_OK;
    bool written = true;
    //  Page after page until billing says it was the last
    do {
        lg_reply_t *reply;
        if ((rc = s_billing_call (args, &request, &reply)))
            break;
        if (reply->body_case != LGWAN__V1__REPLY__BODY_BILLING_EXPORT) {
            fprintf (stderr, "lgwanctl: billing answered without a page of the export\n");
            lgwan__v1__reply__free_unpacked (reply, NULL);
            rc = CTL_EXIT_REFUSED;
            break;
        }
        uint32_t next = reply->billing_export->next_offset;
        written = fputs (reply->billing_export->csv, out) >= 0;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        if (!written)
            break;
        //  A next page before or at this one would be asked for without end
        if (next && next <= page.offset) {
            fprintf (stderr, "lgwanctl: billing answered next_offset %u after offset %u; the"
                             " export stops here, incomplete\n", next, page.offset);
            rc = CTL_EXIT_REFUSED;
            break;
        }
        page.offset = next;
    } while (page.offset);
    if (written && (fflush (out) || ferror (out)))
        written = false;
    if (!written)
        fprintf (stderr, "lgwanctl: could not write the CSV to %s: %s\n", where,
                 strerror (errno));
    if (out_path) {
        if (fclose (out) && written) {
            fprintf (stderr, "lgwanctl: could not write the CSV to %s: %s\n", where,
                     strerror (errno));
            written = false;
        }
        if (written && rc == CTL_EXIT_OK && rename (tmp_path, out_path)) {
            fprintf (stderr, "lgwanctl: could not rename %s to %s: %s\n", tmp_path, out_path,
                     strerror (errno));
            written = false;
        }
        if (!written || rc != CTL_EXIT_OK)
            unlink (tmp_path);
        s_remove_on_signal (NULL);
    }
    zstr_free (&tmp_path);
    return !written && rc == CTL_EXIT_OK? CTL_EXIT_REFUSED: rc;
}
