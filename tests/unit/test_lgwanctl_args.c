/*  test_lgwanctl_args - lgwanctl's command line and its rendering, no sockets.

    The tool's sources are compiled in by path, so the static tables are
    checked as they are: every Request body has a command, every command's
    body exists, and no body field is shadowed by a tool flag.
*/
#include "../../tools/lgwanctl/ctl_args.c"
#include "../../tools/lgwanctl/ctl_local.c"
#include "../../tools/lgwanctl/ctl_events.c"
#include "../../tools/lgwanctl/ctl_render.c"
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#define NAME_JA "株式会社テスト'; DROP TABLE x;--"

//  Parse a NULL-ended argv; returns the exit code, args in *args_p
static int
s_parse (ctl_args_t **args_p, ...)
{
    char *argv [32] = { (char *) "lgwanctl" };
    int argc = 1;
    va_list list;
    va_start (list, args_p);
    char *arg;
    while ((arg = va_arg (list, char *)) != NULL && argc < 31)
        argv [argc++] = arg;
    va_end (list);
    *args_p = ctl_args_new ();
    assert_non_null (*args_p);
    return ctl_args_parse (*args_p, argc, argv);
}

//  Parse and expect the exit code; why must contain the text (if any)
static void
s_expect (int code, const char *contains, ...)
{
    char *argv [32] = { (char *) "lgwanctl" };
    int argc = 1;
    va_list list;
    va_start (list, contains);
    char *arg;
    while ((arg = va_arg (list, char *)) != NULL && argc < 31)
        argv [argc++] = arg;
    va_end (list);
    ctl_args_t *args = ctl_args_new ();
    int rc = ctl_args_parse (args, argc, argv);
    if (rc != code || (contains && !strstr (args->why, contains)))
        fail_msg ("%s %s: exit %d (%s), expected %d with \"%s\"", argv [1], argc > 2? argv [2]: "",
                  rc, args->why, code, contains? contains: "");
    ctl_args_destroy (&args);
    assert_null (args);
}

//  Parse a NULL-ended argv and run its local verb (the parse must succeed);
//  its exit code, and what it wrote on stderr in *err (caller frees)
static int
s_run (char **err, ...)
{
    char *argv [32] = { (char *) "lgwanctl" };
    int argc = 1;
    va_list list;
    va_start (list, err);
    char *arg;
    while ((arg = va_arg (list, char *)) != NULL && argc < 31)
        argv [argc++] = arg;
    va_end (list);
    ctl_args_t *args = ctl_args_new ();
    assert_int_equal (ctl_args_parse (args, argc, argv), CTL_EXIT_OK);
    assert_non_null (args->command->local);
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    FILE *capture = tmpfile ();
    assert_true (saved >= 0 && capture);
    dup2 (fileno (capture), STDERR_FILENO);
    int rc = args->command->local (args);
    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
    size_t size = (size_t) ftell (capture);
    *err = (char *) zmalloc (size + 1);
    rewind (capture);
    assert_int_equal (fread (*err, 1, size, capture), size);
    fclose (capture);
    ctl_args_destroy (&args);
    return rc;
}

static int
s_setup (void **state)
{
    (void) state;
    unsetenv ("LG_REGISTRY_CONNECT");
    unsetenv ("LG_AUDIT_CONNECT");
    unsetenv ("LGWANCTL_CERT");
    setenv ("LG_CERT_DIR", "/etc/lgwan/certs", 1);
    return 0;
}

static void
test_provider_apply (void **state)
{
    (void) state;
    ctl_args_t *args;
    int rc = s_parse (&args, "provider", "apply", "--name-ja", NAME_JA,
                      "--entity-type", "private-corporation", "--corporate-number=1234567890123",
                      "--reason", "審査のため", "--request-id", "r-1", "--json", NULL);
    assert_int_equal (rc, CTL_EXIT_OK);
    assert_false (args->help);
    assert_true (args->json);
    assert_string_equal (args->service, "registry");
    assert_string_equal (args->endpoint, "tcp://127.0.0.1:7101");
    assert_string_equal (args->server_cert, "/etc/lgwan/certs/services/registry");
    assert_null (args->client_cert);
    lg_request_t *request = args->request;
    assert_int_equal (request->body_case, LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY);
    assert_ptr_equal (args->body, &request->provider_apply->base);
    assert_memory_equal (request->provider_apply->name_ja, NAME_JA, strlen (NAME_JA) + 1);
    assert_int_equal (request->provider_apply->entity_type,
                      LGWAN__V1__ENTITY_TYPE__PRIVATE_CORPORATION);
    assert_string_equal (request->provider_apply->corporate_number, "1234567890123");
    assert_string_equal (request->request_id, "r-1");
    assert_string_equal (request->reason, "審査のため");
    assert_int_equal (args->timeout_ms, 2500);
    assert_int_equal (args->retries, 3);
    ctl_args_destroy (&args);

    //  Enum by number, --body with flags on top, client settings
    rc = s_parse (&args, "provider", "apply", "--body",
                  "{\"nameJa\": \"A\", \"entityType\": \"COUNCIL\", \"lgcode\": \"131016\"}",
                  "--name-ja", "B", "--timeout", "100", "--retries", "0", NULL);
    assert_int_equal (rc, CTL_EXIT_OK);
    assert_string_equal (args->request->provider_apply->name_ja, "B");
    assert_int_equal (args->request->provider_apply->entity_type, LGWAN__V1__ENTITY_TYPE__COUNCIL);
    assert_string_equal (args->request->provider_apply->lgcode, "131016");
    assert_string_equal (args->request->request_id, "");
    assert_int_equal (args->timeout_ms, 100);
    assert_int_equal (args->retries, 0);
    ctl_args_destroy (&args);

    rc = s_parse (&args, "provider", "show", "--provider", "12", "--entity-type", NULL);
    assert_int_equal (rc, CTL_EXIT_USAGE);
    ctl_args_destroy (&args);
    rc = s_parse (&args, "provider", "show", "--provider", "12", NULL);
    assert_int_equal (rc, CTL_EXIT_OK);
    assert_int_equal (args->request->body_case, LGWAN__V1__REQUEST__BODY_PROVIDER_GET);
    assert_int_equal (args->request->provider_get->provider, 12);
    ctl_args_destroy (&args);
}

static void
test_endpoint_and_certs (void **state)
{
    (void) state;
    ctl_args_t *args;
    setenv ("LG_REGISTRY_CONNECT", "tcp://10.0.0.1:9101", 1);
    setenv ("LGWANCTL_CERT", "certs/clients/alice_secret", 1);
    assert_int_equal (s_parse (&args, "provider", "show", "--provider", "1", NULL), 0);
    assert_string_equal (args->endpoint, "tcp://10.0.0.1:9101");
    assert_string_equal (args->client_cert, "certs/clients/alice_secret");
    ctl_args_destroy (&args);
    assert_int_equal (s_parse (&args, "provider", "show", "--provider", "1",
                               "--endpoint", "tcp://127.0.0.1:5555", NULL), 0);
    assert_string_equal (args->endpoint, "tcp://127.0.0.1:5555");
    ctl_args_destroy (&args);
    unsetenv ("LG_REGISTRY_CONNECT");
    unsetenv ("LGWANCTL_CERT");
    unsetenv ("LG_CERT_DIR");
    assert_int_equal (s_parse (&args, "stats", "show", "--service", "audit", NULL), 0);
    assert_string_equal (args->endpoint, "tcp://127.0.0.1:7103");
    assert_string_equal (args->server_cert, "certs/services/audit");
    ctl_args_destroy (&args);
    setenv ("LG_CERT_DIR", "/etc/lgwan/certs", 1);

    s_expect (CTL_EXIT_REFUSED, "--endpoint: \"http://x\" is not a tcp:// or ipc:// endpoint",
              "provider", "show", "--endpoint", "http://x", NULL);
    setenv ("LG_REGISTRY_CONNECT", "bogus", 1);
    s_expect (CTL_EXIT_REFUSED, "LG_REGISTRY_CONNECT: \"bogus\"", "provider", "show", NULL);
    unsetenv ("LG_REGISTRY_CONNECT");
}

static void
test_common_requests_need_service (void **state)
{
    (void) state;
    s_expect (CTL_EXIT_USAGE, "stats show needs --service", "stats", "show", NULL);
    s_expect (CTL_EXIT_USAGE, "unknown service \"hosts\"", "stats", "show", "--service", "hosts",
              NULL);
    ctl_args_t *args;
    assert_int_equal (s_parse (&args, "stats", "show", "--service", "registry", NULL), 0);
    assert_string_equal (args->service, "registry");
    assert_int_equal (args->request->body_case, LGWAN__V1__REQUEST__BODY_STATS);
    ctl_args_destroy (&args);
    assert_int_equal (s_parse (&args, "replay", "list", "--service", "audit",
                               "--from-seq", "18446744073709551615", "--limit", "10", NULL), 0);
    assert_string_equal (args->service, "audit");
    assert_true (args->request->replay->from_seq == UINT64_MAX);
    assert_int_equal (args->request->replay->limit, 10);
    ctl_args_destroy (&args);

    //  A service request goes where its number says
    s_expect (CTL_EXIT_USAGE, "provider show goes to registry, not billing",
              "provider", "show", "--service", "billing", NULL);
    assert_int_equal (s_parse (&args, "provider", "show", "--service", "registry", NULL), 0);
    ctl_args_destroy (&args);
}

static void
test_usage_errors (void **state)
{
    (void) state;
    s_expect (CTL_EXIT_USAGE, "no command given", NULL);
    s_expect (CTL_EXIT_USAGE, "unknown command \"hosts\"", "hosts", NULL);
    s_expect (CTL_EXIT_USAGE, "provider needs a verb: apply, show", "provider", NULL);
    s_expect (CTL_EXIT_USAGE, "provider needs a verb", "provider", "--name-ja", "x", NULL);
    s_expect (CTL_EXIT_USAGE, "unknown verb \"delete\" for provider", "provider", "delete", NULL);
    s_expect (CTL_EXIT_USAGE,
              "unknown flag --hosts for provider apply; its fields: --name-ja, --name-en, "
              "--entity-type, --corporate-number, --lgcode",
              "provider", "apply", "--hosts", "1", NULL);
    s_expect (CTL_EXIT_USAGE, "--name-ja needs a value", "provider", "apply", "--name-ja", NULL);
    s_expect (CTL_EXIT_USAGE, "--name-ja needs a value",
              "provider", "apply", "--name-ja", "--name-en", "x", NULL);
    s_expect (CTL_EXIT_USAGE, "unexpected argument \"12\"", "provider", "show", "12", NULL);
    s_expect (CTL_EXIT_USAGE, "unexpected argument \"-x\"", "provider", "show", "-x", NULL);
    s_expect (CTL_EXIT_USAGE, "unexpected argument \"--\"", "provider", "show", "--", NULL);
    s_expect (CTL_EXIT_USAGE, "--provider given more than once",
              "provider", "show", "--provider", "1", "--provider", "2", NULL);
    s_expect (CTL_EXIT_USAGE, "--timeout given more than once",
              "provider", "show", "--timeout", "1", "--timeout", "2", NULL);
    s_expect (CTL_EXIT_USAGE, "--json takes no value", "provider", "show", "--json=yes", NULL);
    s_expect (CTL_EXIT_USAGE, "unknown flag", "provider", "show", "--=1", NULL);
    s_expect (CTL_EXIT_USAGE, "unknown flag --provider_ for", "provider", "show",
              "--provider_", "1", NULL);
}

static void
test_bad_values (void **state)
{
    (void) state;
    s_expect (CTL_EXIT_REFUSED, "provider: -1 is out of range for uint64",
              "provider", "show", "--provider", "-1", NULL);
    s_expect (CTL_EXIT_REFUSED, "provider: \"12x\" is not an integer",
              "provider", "show", "--provider", "12x", NULL);
    s_expect (CTL_EXIT_REFUSED, "limit: 4294967296 is out of range for uint32",
              "replay", "list", "--service", "audit", "--limit", "4294967296", NULL);
    s_expect (CTL_EXIT_REFUSED, "entity_type: unknown enum value \"hosts\"",
              "provider", "apply", "--entity-type", "hosts", NULL);
    s_expect (CTL_EXIT_REFUSED, "name_ja: not valid UTF-8",
              "provider", "apply", "--name-ja", "\xe6\xa0", NULL);
    s_expect (CTL_EXIT_REFUSED, "reason: not valid UTF-8",
              "provider", "apply", "--reason", "\xff", NULL);
    s_expect (CTL_EXIT_REFUSED, "--timeout: \"soon\" is not a whole number",
              "provider", "show", "--timeout", "soon", NULL);
    s_expect (CTL_EXIT_REFUSED, "--retries: \"101\" is not a whole number from 0 to 100",
              "provider", "show", "--retries", "101", NULL);
    s_expect (CTL_EXIT_REFUSED, "--request-id: must be 1 to 64 bytes",
              "provider", "show", "--request-id", "", NULL);
    s_expect (CTL_EXIT_REFUSED, "--request-id: must be 1 to 64 bytes", "provider", "show",
              "--request-id", "0123456789012345678901234567890123456789012345678901234567890123X",
              NULL);
    //  The local verbs that send a request check it the same way: the
    //  service refuses a bad one without echoing it, so the reply never
    //  matched and lgwanctl retried for a minute (they took it before)
    s_expect (CTL_EXIT_REFUSED, "--request-id: must be 1 to 64 bytes", "reference", "load",
              "--file", "x.csv", "--request-id",
              "0123456789012345678901234567890123456789012345678901234567890123X", NULL);
    s_expect (CTL_EXIT_REFUSED, "--request-id: must be 1 to 64 bytes", "tariff", "load",
              "--file", "x.json", "--request-id", "", NULL);
    s_expect (CTL_EXIT_REFUSED, "--request-id: not valid UTF-8", "tariff", "load",
              "--file", "x.json", "--request-id", "\xe6\xa0", NULL);
    s_expect (CTL_EXIT_OK, NULL, "tariff", "load", "--file", "x.json", "--request-id",
              "0123456789012345678901234567890123456789012345678901234567890123", NULL);
    s_expect (CTL_EXIT_REFUSED, "--request-id: not valid UTF-8", "provider", "show",
              "--request-id", "r\xff", NULL);
    s_expect (CTL_EXIT_REFUSED, "provider_apply: not valid JSON",
              "provider", "apply", "--body", "{", NULL);
    s_expect (CTL_EXIT_REFUSED, "provider_apply: unknown field \"hosts\" in ProviderApply",
              "provider", "apply", "--body", "{\"hosts\": 1}", NULL);
    s_expect (CTL_EXIT_REFUSED, "provider_apply.nameJa: expected a string",
              "provider", "apply", "--body", "{\"nameJa\": 5}", NULL);
}

static void
test_help (void **state)
{
    (void) state;
    const char *forms [][4] = {
        { "help" }, { "--help" }, { "provider", "help" }, { "keygen", "help" },
        { "provider", "apply", "--help" }, { "db", "init", "--help" }
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms [0]; i++) {
        char *argv [5] = { (char *) "lgwanctl" };
        int argc = 1;
        for (int j = 0; j < 4 && forms [i][j]; j++)
            argv [argc++] = (char *) forms [i][j];
        ctl_args_t *args = ctl_args_new ();
        assert_int_equal (ctl_args_parse (args, argc, argv), CTL_EXIT_OK);
        assert_true (args->help);
        ctl_args_destroy (&args);
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    ctl_args_help (out, "provider");
    ctl_args_help (out, NULL);
    fclose (out);
    assert_non_null (strstr (text, "--name-ja"));
    assert_non_null (strstr (text, "PRIVATE_CORPORATION"));
    assert_non_null (strstr (text, "provider apply"));
    assert_non_null (strstr (text, "keygen"));
    free (text);
}

/* No requirement: the usage. --help and -h where a noun's verb goes are
   help for the noun, as "help" there and as after lgwanctl itself; an
   unknown verb is still a usage error. Before, "provider --help" was the
   usage error "provider needs a verb" (exit 2) and "provider -h" an unknown
   verb */
static void
test_help_in_the_verb_place (void **state)
{
    (void) state;
    const char *forms [][3] = {
        { "provider", "--help" }, { "provider", "-h" }, { "db", "--help" },
        { "keygen", "-h" }, { "isolation", "--help", "--json" }
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms [0]; i++) {
        char *argv [4] = { (char *) "lgwanctl" };
        int argc = 1;
        for (int j = 0; j < 3 && forms [i][j]; j++)
            argv [argc++] = (char *) forms [i][j];
        ctl_args_t *args = ctl_args_new ();
        int rc = ctl_args_parse (args, argc, argv);
        if (rc != CTL_EXIT_OK || !args->help || !args->command
        ||  !streq (args->command->noun, forms [i][0]))
            fail_msg ("%s %s: %d %s", forms [i][0], forms [i][1], rc, args->why);
        ctl_args_destroy (&args);
    }
    s_expect (CTL_EXIT_USAGE, "unknown verb \"-x\" for provider", "provider", "-x", NULL);
    s_expect (CTL_EXIT_USAGE, "provider needs a verb", "provider", "--json", NULL);
}

static void
test_local_commands (void **state)
{
    (void) state;
    ctl_args_t *args;
    assert_int_equal (s_parse (&args, "keygen", "--role", "operator", "--operator-id", "alice",
                               "--name", "alice", "--json", NULL), 0);
    assert_ptr_equal (args->command->local, ctl_local_keygen);
    assert_null (args->request);
    assert_true (args->json);
    assert_string_equal (ctl_args_value (args, "role"), "operator");
    assert_string_equal (ctl_args_value (args, "operator-id"), "alice");
    assert_null (ctl_args_value (args, "out"));
    ctl_args_destroy (&args);

    assert_int_equal (s_parse (&args, "db", "init", "--admin-dsn", "host=/tmp",
                               "--service", "registry", "--service", "audit", NULL), 0);
    assert_ptr_equal (args->command->local, ctl_local_db_init);
    zlistx_t *services = ctl_args_values (args, "service");
    assert_int_equal (zlistx_size (services), 2);
    assert_string_equal ((char *) zlistx_first (services), "registry");
    assert_string_equal ((char *) zlistx_next (services), "audit");
    zlistx_destroy (&services);
    ctl_args_destroy (&args);

    s_expect (CTL_EXIT_USAGE, "--name is required", "cert", "revoke", NULL);
    assert_int_equal (s_parse (&args, "keygen", "--service", "registry", NULL), 0);
    assert_string_equal (ctl_args_value (args, "service"), "registry");
    ctl_args_destroy (&args);
    s_expect (CTL_EXIT_USAGE, "--name given more than once",
              "keygen", "--role", "viewer", "--name", "a", "--name", "b", NULL);
    s_expect (CTL_EXIT_USAGE, "unknown flag --hosts for cert revoke; its flags: --name",
              "cert", "revoke", "--name", "a", "--hosts", "b", NULL);
    s_expect (CTL_EXIT_USAGE, "--admin-dsn is required", "db", "init", NULL);
    s_expect (CTL_EXIT_USAGE, "unexpected argument \"now\"", "keygen", "now", NULL);

    int64_t number;
    char why [256];
    assert_int_equal (ctl_args_int ("provider-id", "42", 1, INT64_MAX, &number, why, sizeof why), 0);
    assert_int_equal (number, 42);
    assert_int_equal (ctl_args_int ("provider-id", "0", 1, INT64_MAX, &number, why, sizeof why), -1);
    assert_int_equal (ctl_args_int ("provider-id", "99999999999999999999", 1, INT64_MAX,
                                    &number, why, sizeof why), -1);
    assert_int_equal (ctl_args_int ("provider-id", "-", 1, 9, &number, why, sizeof why), -1);
    assert_string_equal (why, "--provider-id: \"-\" is not a whole number from 1 to 9");
}

/* The local verbs that call a service need LGWANCTL_CERT as remote commands
   do: unset or empty is a usage error (exit 2), said before anything is read
   or written (exit 1 before, and export left an empty --out file) */
static void
test_local_verbs_need_a_certificate (void **state)
{
    (void) state;
    char *out = zsys_sprintf ("/tmp/test_lgwanctl_args-%d.csv", getpid ());
    const char *settings [] = { NULL, "" };
    for (size_t i = 0; i < 2; i++) {
        if (settings [i])
            setenv ("LGWANCTL_CERT", settings [i], 1);
        else
            unsetenv ("LGWANCTL_CERT");
        char *err;
        assert_int_equal (s_run (&err, "verify", NULL), CTL_EXIT_USAGE);
        assert_non_null (strstr (err, "LGWANCTL_CERT is not set"));
        free (err);
        assert_int_equal (s_run (&err, "events", "tail", "--service", "audit", NULL),
                          CTL_EXIT_USAGE);
        free (err);
        assert_int_equal (s_run (&err, "reference", "load", "--file", "/nonexistent.csv", NULL),
                          CTL_EXIT_USAGE);
        assert_null (strstr (err, "nonexistent"));
        free (err);
        assert_int_equal (s_run (&err, "tariff", "load", "--file", "/nonexistent.json", NULL),
                          CTL_EXIT_USAGE);
        free (err);
        assert_int_equal (s_run (&err, "invoice", "export", "--period", "2026-10", "--out", out,
                                 NULL), CTL_EXIT_USAGE);
        assert_non_null (strstr (err, "LGWANCTL_CERT is not set"));
        free (err);
        assert_false (zsys_file_exists (out));
    }
    unsetenv ("LGWANCTL_CERT");
    zstr_free (&out);
}

//  A file of size bytes: fill, with a NUL at nul_at (size: none); caller
//  frees the path and removes the file
static char *
s_file (size_t size, char fill, size_t nul_at)
{
    char *path = zsys_sprintf ("/tmp/test_lgwanctl_args-%d-%zu.json", getpid (), size);
    char *bytes = (char *) malloc (size + 1);
    assert_non_null (bytes);
    memset (bytes, fill, size);
    if (nul_at < size)
        bytes [nul_at] = 0;
    FILE *file = fopen (path, "wb");
    assert_non_null (file);
    assert_int_equal (fwrite (bytes, 1, size, file), size);
    assert_int_equal (fclose (file), 0);
    free (bytes);
    return path;
}

/* REQ R6.1: a tariff file is loaded whole or not at all: one over 512 KiB, or
   holding a NUL byte, is refused, not sent cut short (zfile_read stopped at
   512 KiB and the copy at the NUL; the rest was lost without a word) */
static void
test_r6_1_tariff_file_sent_whole_or_refused (void **state)
{
    (void) state;
    //  No client can be made with this certificate: what is read is all that runs
    setenv ("LGWANCTL_CERT", "/nonexistent/operator_secret", 1);
    char *err;
    char *big = s_file (600000, ' ', SIZE_MAX);
    assert_int_equal (s_run (&err, "tariff", "load", "--file", big, NULL), CTL_EXIT_REFUSED);
    if (!strstr (err, "is 600000 bytes, over the limit of 524288 bytes (512 KiB)"))
        fail_msg ("%s", err);
    free (err);
    char *nul = s_file (1000, ' ', 500);
    assert_int_equal (s_run (&err, "tariff", "load", "--file", nul, NULL), CTL_EXIT_REFUSED);
    if (!strstr (err, "holds a NUL byte (at 500)"))
        fail_msg ("%s", err);
    free (err);
    //  At the limit it is read, and fails only for want of a client
    char *whole = s_file (512 * 1024, ' ', SIZE_MAX);
    assert_int_equal (s_run (&err, "tariff", "load", "--file", whole, NULL), CTL_EXIT_REFUSED);
    if (!strstr (err, "could not set up a client of billing"))
        fail_msg ("%s", err);
    free (err);
    char *paths [] = { big, nul, whole };
    for (size_t i = 0; i < 3; i++) {
        unlink (paths [i]);
        zstr_free (&paths [i]);
    }
    unsetenv ("LGWANCTL_CERT");
}

static void
test_set_field_any_message (void **state)
{
    (void) state;
    //  Repeated fields take the flag again; messages take JSON
    ProtobufCMessage *msg;
    char why [256];
    assert_int_equal (lg_pbjson_parse (&lgwan__v1__stats_reply__descriptor, "{}", &msg,
                                       why, sizeof why), 0);
    assert_int_equal (ctl_args_set_field (msg, "by-code", "{\"name\": \"OK\", \"count\": 3}",
                                          why, sizeof why), CTL_EXIT_OK);
    assert_int_equal (ctl_args_set_field (msg, "by-code", "{\"name\": \"NOT_FOUND\"}",
                                          why, sizeof why), CTL_EXIT_OK);
    assert_int_equal (ctl_args_set_field (msg, "uptime-seconds", "7", why, sizeof why), 0);
    Lgwan__V1__StatsReply *stats = (Lgwan__V1__StatsReply *) msg;
    assert_int_equal (stats->n_by_code, 2);
    assert_int_equal (stats->by_code [0]->count, 3);
    assert_int_equal (stats->uptime_seconds, 7);
    assert_int_equal (ctl_args_set_field (msg, "by-code", "{\"name\": \"x\", \"count\": -1}",
                                          why, sizeof why), CTL_EXIT_REFUSED);
    assert_string_equal (why, "by_code.count: -1 is out of range for uint64");
    assert_int_equal (ctl_args_set_field (msg, "hosts", "1", why, sizeof why), CTL_EXIT_USAGE);
    assert_string_equal (why, "StatsReply has no field hosts");
    protobuf_c_message_free_unpacked (msg, NULL);

    assert_int_equal (lg_pbjson_parse (&lgwan__v1__replay_reply__descriptor, "{}", &msg,
                                       why, sizeof why), 0);
    assert_int_equal (ctl_args_set_field (msg, "events", "AP8=", why, sizeof why), 0);
    assert_int_equal (ctl_args_set_field (msg, "events", "YQ", why, sizeof why), 0);
    assert_int_equal (ctl_args_set_field (msg, "events", "*", why, sizeof why), CTL_EXIT_REFUSED);
    Lgwan__V1__ReplayReply *replay = (Lgwan__V1__ReplayReply *) msg;
    assert_int_equal (replay->n_events, 2);
    assert_int_equal (replay->events [0].len, 2);
    assert_int_equal (replay->events [1].data [0], 'a');
    protobuf_c_message_free_unpacked (msg, NULL);
}

//  The tables as data: a new Request body without a row, a row without a
//  body, or a body field a tool flag hides, fails here
static void
test_tables_are_sound (void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *request = &lgwan__v1__request__descriptor;
    for (unsigned i = 0; i < request->n_fields; i++) {
        const ProtobufCFieldDescriptor *member = request->fields + i;
        if (!(member->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        bool found = false;
        for (const ctl_command_t *command = ctl_args_commands (); command->noun; command++)
            found = found || (command->body && streq (command->body, member->name));
        if (!found)
            fail_msg ("Request body %s (%u) has no lgwanctl command", member->name, member->id);
        if (member->id >= 100)
            assert_non_null (ctl_args_service_of (member->id));
        else
            assert_null (ctl_args_service_of (member->id));
        //  No body field is hidden by one of the tool's own flags
        const ProtobufCMessageDescriptor *body = member->descriptor;
        for (unsigned j = 0; j < body->n_fields; j++) {
            char flag [128];
            s_flag_name (body->fields [j].name, flag, sizeof flag);
            if ((s_flag (s_remote_flags, flag) || s_flag (s_switches, flag))
            &&  !streq (flag, "service") && !streq (flag, "reason"))
                fail_msg ("%s.%s is hidden by lgwanctl's --%s", body->short_name,
                          body->fields [j].name, flag);
        }
    }
    for (const ctl_command_t *command = ctl_args_commands (); command->noun; command++) {
        if (command->local)
            assert_non_null (command->flags);
        else
            assert_non_null (s_body_field (command));
        assert_non_null (command->help);
        for (const ctl_command_t *other = command + 1; other->noun; other++)
            if (streq (other->noun, command->noun))
                assert_true (command->verb && other->verb && !streq (command->verb, other->verb));
    }
    for (size_t i = 0; ctl_args_service_at (i); i++)
        assert_true (lg_config_default_port (ctl_args_service_at (i)) > 0);
    assert_true (ctl_args_known_service ("orchestrator"));
    assert_false (ctl_args_known_service ("console"));
    assert_false (ctl_args_known_service (NULL));
}

//  What ctl_render prints of a JSON text (caller frees)
static char *
s_rendered (const char *json_text)
{
    json_error_t error;
    json_t *json = json_loads (json_text, 0, &error);
    if (!json)
        fail_msg ("%s: %s", json_text, error.text);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    ctl_render (out, json);
    fclose (out);
    json_decref (json);
    return text;
}

/* REQ X.3: text a provider controls cannot reorder the terminal's line:
   the bidirectional marks, embeddings, overrides and isolates (U+200E-200F,
   U+202A-202E, U+2066-2069) and the line and paragraph separators
   (U+2028-2029) are printed escaped, as the C0 and C1 controls, and the
   width is the escaped text's. They reached the terminal as they were */
static void
test_x3_bidi_controls_are_escaped (void **state)
{
    (void) state;
    const struct {
        const char *text;
        const char *printed;
    } cases [] = {
        { "a\u200eb\u200fc",           "a\\u200eb\\u200fc" },
        { "\u202aa\u202bb\u202cc\u202dd\u202ee", "\\u202aa\\u202bb\\u202cc\\u202dd\\u202ee" },
        { "\u2066x\u2067y\u2068z\u2069", "\\u2066x\\u2067y\\u2068z\\u2069" },
        { "line\u2028para\u2029",      "line\\u2028para\\u2029" },
        //  Their neighbours are text: printed as they are
        { "\u200a\u2010\u2030\u2065\u206a", "\u200a\u2010\u2030\u2065\u206a" },
        { "株式会社\u202e",             "株式会社\\u202e" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *printed = ctl_render_escape (cases [i].text);
        assert_non_null (printed);
        assert_string_equal (printed, cases [i].printed);
        free (printed);
    }
    //  In a table, the column is as wide as the escaped text
    char *text = s_rendered ("{\"rows\": [{\"name\": \"ab\\u202ecd\", \"id\": \"1\"},"
                             " {\"name\": \"x\", \"id\": \"2\"}]}");
    if (!strstr (text, "ab\\u202ecd  1\n") || !strstr (text, "x           2\n")
    ||  strstr (text, "\u202e"))
        fail_msg ("rendered: %s", text);
    free (text);
}

/* REQ X.2: which commands take --request-id (ctl_args_takes), so that
   ctl_call names it in its hints only for those: every remote command and
   the local verbs that list it, not verify, events tail or invoice export */
static void
test_x2_which_commands_take_a_request_id (void **state)
{
    (void) state;
    const struct {
        const char *noun, *verb, *flag, *value;
        bool takes;
    } cases [] = {
        { "stats", "show", "--service", "registry", true },
        { "provider", "list", NULL, NULL, true },
        { "reference", "load", "--file", "x.csv", true },
        { "tariff", "load", "--file", "x.json", true },
        { "events", "tail", "--service", "billing", false },
        { "verify", NULL, NULL, NULL, false },
        { "invoice", "export", "--period", "2026-10", false },
        { "keygen", NULL, "--service", "registry", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        ctl_args_t *args;
        int rc = cases [i].verb
               ? s_parse (&args, cases [i].noun, cases [i].verb, cases [i].flag, cases [i].value,
                          NULL)
               : s_parse (&args, cases [i].noun, cases [i].flag, cases [i].value, NULL);
        if (rc != CTL_EXIT_OK || ctl_args_takes (args, "request-id") != cases [i].takes)
            fail_msg ("%s %s: rc %d, takes %d", cases [i].noun, cases [i].verb? cases [i].verb: "",
                      rc, !cases [i].takes);
        ctl_args_destroy (&args);
    }
}

static void
test_render (void **state)
{
    (void) state;
    assert_int_equal (ctl_render_width ("abc"), 3);
    assert_int_equal (ctl_render_width ("株式会社"), 8);
    assert_int_equal (ctl_render_width ("ｱｲ"), 2);         //  halfwidth katakana
    assert_int_equal (ctl_render_width ("\xff"), 1);

    char *text = s_rendered ("{\"service\": \"registry\", \"uptime_seconds\": \"60\","
                             " \"by_code\": [{\"name\": \"株式会社\", \"count\": \"1\"},"
                             "              {\"name\": \"OK\", \"count\": \"12\"}],"
                             " \"by_request\": [],"
                             " \"provider\": {\"id\": \"7\", \"name_ja\": \"a\\u001b[2Jb\"},"
                             " \"tags\": [\"x\", \"y\"]}");
    const char *expected =
        "service:        registry\n"
        "uptime_seconds: 60\n"
        "by_code:\n"
        "  name      count\n"
        "  株式会社  1\n"
        "  OK        12\n"
        "by_request:     (none)\n"
        "provider:\n"
        "  id:      7\n"
        "  name_ja: a\\u001b[2Jb\n"
        "tags:           x, y\n";
    assert_string_equal (text, expected);
    free (text);
}

/* REQ X.3: the other characters a terminal reorders by or does not show
   are printed escaped too: the Arabic letter mark U+061C (bidirectional),
   the zero-width space and joiners U+200B-200D, the word joiner and
   invisible operators U+2060-2064, and U+FEFF; so two names alike on the
   screen cannot differ unseen. They reached the terminal as they were */
static void
test_x3_invisible_characters_are_escaped (void **state)
{
    (void) state;
    const struct {
        const char *text;
        const char *printed;
    } cases [] = {
        { "テスト\u061c\u200b\ufeff株式会社", "テスト\\u061c\\u200b\\ufeff株式会社" },
        { "a\u200cb\u200dc",          "a\\u200cb\\u200dc" },
        { "\u2060\u2061\u2062\u2063\u2064", "\\u2060\\u2061\\u2062\\u2063\\u2064" },
        //  Their neighbours are text: printed as they are
        { "\u061b\u061d\u200a\u2065\ufefe", "\u061b\u061d\u200a\u2065\ufefe" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *printed = ctl_render_escape (cases [i].text);
        assert_non_null (printed);
        assert_string_equal (printed, cases [i].printed);
        free (printed);
    }
}

/* REQ X.3: reference load reads a CSV that starts with a UTF-8 byte order
   mark ("CSV UTF-8" as Excel saves it) as it reads one without: the mark
   is no part of the header, nor of the first row's code. Before, the header
   "\ufefflgcode,..." was taken for a row, and the registry refused the
   whole list for its code */
static void
test_x3_reference_csv_with_a_byte_order_mark (void **state)
{
    (void) state;
    const char *files [] = {
        "\xef\xbb\xbflgcode,prefecture,name,kind\r\n011002,北海道,札幌市,designated-city\r\n",
        "\xef\xbb\xbf" "011002,北海道,札幌市,designated-city\n"
    };
    for (size_t i = 0; i < sizeof files / sizeof files [0]; i++) {
        char path [] = "/tmp/lgwanctl-reference-XXXXXX";
        int fd = mkstemp (path);
        assert_true (fd >= 0);
        size_t size = strlen (files [i]);
        assert_int_equal (write (fd, files [i], size), (ssize_t) size);
        close (fd);
        char why [256] = "";
        Lgwan__V1__ReferenceLoad *list = lg_reference_read (path, why, sizeof why);
        unlink (path);
        if (!list)
            fail_msg ("file %zu refused: %s", i, why);
        assert_int_equal (list->n_entries, 1);
        assert_string_equal (list->entries [0]->lgcode, "011002");
        assert_string_equal (list->entries [0]->kind, "designated-city");
        lgwan__v1__reference_load__free_unpacked (list, NULL);
    }
}

/* REQ X.3: keygen takes --provider-id, --operator-id and --point only for
   the roles that carry them, and needs them for those: a flag that does
   not fit the role (an empty value given too) and an unknown role are
   usage errors, exit 2, naming X.3, nothing written; a value that does not
   parse stays exit 1. Before, --operator-id was written into any role's
   certificate (a viewer's, billing's) without a word, and the refusals of
   the other flags, a missing one and an unknown role exited 1 */
static void
test_x3_keygen_flags_fit_the_role (void **state)
{
    (void) state;
    char dir [] = "/tmp/test_lgwanctl_args-keygen-XXXXXX";
    assert_non_null (mkdtemp (dir));
    setenv ("LG_CERT_DIR", dir, 1);
    const struct {
        int rc;
        const char *said;
        const char *flags [6];
    } refused [] = {
        { CTL_EXIT_USAGE, "only an operator, reviewer or auditor certificate carries an"
          " operator id (--operator-id), not a viewer certificate (X.3)",
          { "--role", "viewer", "--operator-id", "sato" } },
        { CTL_EXIT_USAGE, "not a billing certificate (X.3)",
          { "--role", "billing", "--operator-id", "bob" } },
        { CTL_EXIT_USAGE, "not a viewer certificate (X.3)",
          { "--role", "viewer", "--operator-id", "" } },
        { CTL_EXIT_USAGE, "only an enforcer certificate carries a point (--point), not a"
          " viewer certificate (X.3)", { "--role", "viewer", "--point", "east" } },
        { CTL_EXIT_USAGE, "not a viewer certificate (X.3)", { "--role", "viewer", "--point", "" } },
        { CTL_EXIT_USAGE, "only a provider certificate carries a provider id",
          { "--role", "viewer", "--provider-id", "3" } },
        { CTL_EXIT_USAGE, "a provider certificate needs --provider-id (X.3)",
          { "--role", "provider" } },
        { CTL_EXIT_USAGE, "a reviewer certificate needs --operator-id (X.3)",
          { "--role", "reviewer" } },
        { CTL_EXIT_USAGE, "an auditor certificate needs --operator-id (X.3)",
          { "--role", "auditor", "--operator-id", "" } },
        { CTL_EXIT_USAGE, "an enforcer certificate needs --point", { "--role", "enforcer" } },
        { CTL_EXIT_USAGE, "only an enforcer certificate carries a point",
          { "--role", "operator", "--operator-id", "sato", "--point", "east" } },
        { CTL_EXIT_USAGE, "unknown role \"king\"", { "--role", "king" } },
        //  Values that do not parse: bad input, exit 1
        { CTL_EXIT_REFUSED, "point must be 1-32 of [a-z0-9-]",
          { "--role", "enforcer", "--point", "East" } },
        { CTL_EXIT_REFUSED, "operator id must be", { "--role", "operator", "--operator-id", "a b" } },
        { CTL_EXIT_REFUSED, "provider-id", { "--role", "provider", "--provider-id", "x" } },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        const char *const *f = refused [i].flags;
        char *err;
        int rc = s_run (&err, "keygen", "--name", "kg", f [0], f [1], f [2], f [3], f [4], f [5],
                        NULL);
        if (rc != refused [i].rc || !strstr (err, refused [i].said))
            fail_msg ("keygen %s %s %s %s said %d: %s", f [0], f [1], f [2]? f [2]: "",
                      f [3]? f [3]: "", rc, err);
        free (err);
        char *allowed = zsys_sprintf ("%s/allowed/kg", dir);
        char *secret = zsys_sprintf ("%s/clients/kg_secret", dir);
        assert_false (zsys_file_exists (allowed) || zsys_file_exists (secret));
        zstr_free (&allowed);
        zstr_free (&secret);
    }
    //  Each role with what it carries, and nothing else
    const struct {
        const char *name;
        const char *meta;       //  its one metadata besides role, or NULL
        const char *flags [4];
    } made [] = {
        { "kg-viewer", NULL, { "--role", "viewer" } },
        { "kg-provider", "provider_id", { "--role", "provider", "--provider-id", "4" } },
        { "kg-operator", "operator_id", { "--role", "operator", "--operator-id", "sato" } },
        { "kg-enforcer", "point", { "--role", "enforcer", "--point", "east" } },
    };
    const char *metadata [] = { "provider_id", "operator_id", "point" };
    for (size_t i = 0; i < sizeof made / sizeof made [0]; i++) {
        const char *const *f = made [i].flags;
        char *err;
        assert_int_equal (s_run (&err, "keygen", "--name", made [i].name, f [0], f [1], f [2],
                                 f [3], NULL), CTL_EXIT_OK);
        free (err);
        char *path = zsys_sprintf ("%s/allowed/%s", dir, made [i].name);
        zcert_t *cert = zcert_load (path);
        assert_non_null (cert);
        for (size_t m = 0; m < sizeof metadata / sizeof metadata [0]; m++)
            assert_true ((zcert_meta (cert, metadata [m]) != NULL)
                         == (made [i].meta && streq (made [i].meta, metadata [m])));
        zcert_destroy (&cert);
        zstr_free (&path);
    }
    zdir_t *folder = zdir_new (dir, NULL);
    assert_non_null (folder);
    zdir_remove (folder, true);
    zdir_destroy (&folder);
    assert_false (zsys_file_exists (dir));
    setenv ("LG_CERT_DIR", "/etc/lgwan/certs", 1);
}

/* REQ X.3: an LG_<SERVICE>_CONNECT set but empty is as unset, for the remote
   commands as for the local verbs and the services (lg_consumer_endpoint):
   the service's default endpoint. Before, a remote command refused it (exit
   1, "LG_REGISTRY_CONNECT: "" is not a tcp:// or ipc:// endpoint") while
   verify, events tail and the loads took it as unset */
static void
test_x3_empty_connect_variable_is_unset (void **state)
{
    (void) state;
    setenv ("LG_REGISTRY_CONNECT", "", 1);
    ctl_args_t *args;
    assert_int_equal (s_parse (&args, "provider", "show", "--provider", "1", NULL), CTL_EXIT_OK);
    assert_string_equal (args->endpoint, "tcp://127.0.0.1:7101");
    ctl_args_destroy (&args);
    //  The local verbs' endpoint, the same
    char *endpoint = lg_consumer_endpoint ("registry", false);
    assert_string_equal (endpoint, "tcp://127.0.0.1:7101");
    free (endpoint);
    //  --endpoint still wins; a value that is no endpoint is still refused
    assert_int_equal (s_parse (&args, "provider", "show", "--provider", "1", "--endpoint",
                               "tcp://127.0.0.1:5555", NULL), CTL_EXIT_OK);
    assert_string_equal (args->endpoint, "tcp://127.0.0.1:5555");
    ctl_args_destroy (&args);
    setenv ("LG_REGISTRY_CONNECT", " ", 1);
    s_expect (CTL_EXIT_REFUSED, "LG_REGISTRY_CONNECT: \" \" is not a tcp:// or ipc://",
              "provider", "show", "--provider", "1", NULL);
    unsetenv ("LG_REGISTRY_CONNECT");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_provider_apply),
        cmocka_unit_test (test_endpoint_and_certs),
        cmocka_unit_test (test_common_requests_need_service),
        cmocka_unit_test (test_usage_errors),
        cmocka_unit_test (test_bad_values),
        cmocka_unit_test (test_help),
        cmocka_unit_test (test_help_in_the_verb_place),
        cmocka_unit_test (test_local_commands),
        cmocka_unit_test (test_local_verbs_need_a_certificate),
        cmocka_unit_test (test_r6_1_tariff_file_sent_whole_or_refused),
        cmocka_unit_test (test_set_field_any_message),
        cmocka_unit_test (test_tables_are_sound),
        cmocka_unit_test (test_render),
        cmocka_unit_test (test_x2_which_commands_take_a_request_id),
        cmocka_unit_test (test_x3_bidi_controls_are_escaped),
        cmocka_unit_test (test_x3_invisible_characters_are_escaped),
        cmocka_unit_test (test_x3_reference_csv_with_a_byte_order_mark),
        cmocka_unit_test (test_x3_keygen_flags_fit_the_role),
        cmocka_unit_test (test_x3_empty_connect_variable_is_unset),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
