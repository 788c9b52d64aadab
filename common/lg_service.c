/*  lg_service - the actor every service runs (see lg_service.h).

    Start order: config, clock and faults, auth, database (waits for it,
    retrying, until $TERM), migrations, the service's state, outbox, server,
    reactor. Teardown is the reverse. One thread; the reactor is the only loop.
*/
#include "lg_lib.h"

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    (void) arg;
    char *command = zstr_recv (pipe);
    bool term = !command || streq (command, "$TERM");
    zstr_free (&command);
    return term? -1: 0;
}

//  Wait for the database and migrate; false if told to stop meanwhile
static bool
s_database_ready (zsock_t *pipe, lg_db_t *db, const lg_migration_t *migrations)
{
    int64_t next_log = 0;
    while (lg_db_migrate (db, migrations)) {
        if (zclock_mono () >= next_log) {
            lg_log_write (LG_LOG_WARNING, lg_db_error (db), "waiting for the database");
            next_log = zclock_mono () + 10000;
        }
        zpoller_t *poller = zpoller_new (pipe, NULL);
        void *which = zpoller_wait (poller, 1000);
        zpoller_destroy (&poller);
        if (which || zsys_interrupted)
            return false;
    }
    return true;
}

void
lg_service_actor (zsock_t *pipe, void *args)
{
    const lg_service_def_t *def = (const lg_service_def_t *) args;
    lg_config_t cfg;
    char why [512];
    lg_auth_t *auth = NULL;
    lg_db_t *db = NULL;
    void *state = NULL;
    lg_outbox_t *outbox = NULL;
    lg_server_t *server = NULL;
    zloop_t *loop = NULL;

    zsock_signal (pipe, 0);
    if (lg_config_load (&cfg, def->name, why, sizeof why)) {
        zstr_sendf (pipe, "FAILED %s", why);
        goto cleanup;
    }
    lg_clock_configure (cfg.clock_file);
    lg_fault_configure (cfg.faults);
    auth = lg_auth_new (cfg.cert_dir);
    db = lg_db_new (cfg.db, def->name);
    if (!auth || !db) {
        zstr_sendf (pipe, "FAILED could not start authentication");
        goto cleanup;
    }
    if (!s_database_ready (pipe, db, def->migrations)) {
        zstr_sendf (pipe, "FAILED stopped while waiting for the database");
        goto cleanup;
    }
    state = def->state_new? def->state_new (db, &cfg): NULL;
    outbox = lg_outbox_new (def->name, db, auth, cfg.key_file, cfg.pub_endpoint,
                            def->stream_roles, (int) cfg.pub_hwm);
    server = outbox? lg_server_new (&cfg, auth, db, def->routes, state): NULL;
    if (!server || (def->state_new && !state)) {
        zstr_sendf (pipe, "FAILED could not open sockets or state (see log)");
        goto cleanup;
    }
    lg_server_set_outbox (server, outbox);
    loop = zloop_new ();
    zloop_reader (loop, pipe, s_on_pipe, NULL);
    lg_server_attach (server, loop);
    lg_outbox_attach (outbox, loop, (int) cfg.heartbeat_ms);
    lg_info ("%s ready: requests on %s, events on %s", def->name,
             lg_server_endpoint (server), lg_outbox_endpoint (outbox));
    zstr_sendf (pipe, "READY %s %s", lg_server_endpoint (server), lg_outbox_endpoint (outbox));
    zloop_start (loop);

cleanup:
    zloop_destroy (&loop);
    lg_server_destroy (&server);
    lg_outbox_destroy (&outbox);
    if (state && def->state_destroy)
        def->state_destroy (&state);
    lg_db_destroy (&db);
    lg_auth_destroy (&auth);
}

int
lg_service_main (int argc, char **argv, const lg_service_def_t *def)
{
    const char *level_name = getenv ("LG_LOG_LEVEL");
    int level = level_name? lg_log_level_parse (level_name): LG_LOG_INFO;
    lg_log_init (def->name, level < 0? LG_LOG_INFO: (lg_log_level_t) level);
    if (argc > 1) {
        fprintf (stderr, "usage: %s\n  configured by environment variables only (see README)\n",
                 argv [0]);
        return strcmp (argv [1], "--help") == 0? 0: 2;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    zactor_t *actor = zactor_new (lg_service_actor, (void *) def);
    char *status = zstr_recv (actor);
    if (!status || strncmp (status, "READY", 5)) {
        lg_log_write (LG_LOG_FATAL, NULL, "%s could not start: %s", def->name,
                      status? status: "interrupted");
        zstr_free (&status);
        zactor_destroy (&actor);
        return 1;
    }
    zstr_free (&status);
    //  The actor ends on SIGTERM/SIGINT (czmq's handler stops its reactor)
    zpoller_t *poller = zpoller_new (actor, NULL);
    while (!zsys_interrupted) {
        if (zpoller_wait (poller, 500) == actor)
            break;
    }
    zpoller_destroy (&poller);
    lg_info ("%s shutting down", def->name);
    zactor_destroy (&actor);
    return 0;
}
