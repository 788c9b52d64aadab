/*  lg_service - the actor every service runs (see lg_service.h).

    Start order: config, clock and faults, auth, database (waits for it,
    retrying, until $TERM), migrations, the service's state, outbox, server,
    reactor. Teardown is the reverse. One thread; the reactor is the only loop.
*/
#include "lg_lib.h"

#define MAX_SUBSCRIPTIONS 8
#define MAX_DUTIES        8

typedef struct _s_leader_t s_leader_t;

//  What a duty's timer carries
typedef struct {
    s_leader_t *leader;
    const lg_duty_t *duty;
    int timer;
    bool waiting;               //  after_catch_up: its first run is still to come
} s_duty_slot_t;

//  Leadership of the background duties: consumers and timers
struct _s_leader_t {
    const lg_service_def_t *def;
    lg_db_t *db;                //  a connection of its own: the lock lives on it
    lg_server_t *server;        //  runs the duties in its transactions
    zloop_t *loop;
    bool leading;
    char key [64];
    lg_consumer_t *consumers [MAX_SUBSCRIPTIONS];
    size_t count;
    s_duty_slot_t duties [MAX_DUTIES];
    size_t duty_count;
    int64_t duty_ms;            //  LG_DUTY_MS, 0: each duty's own period
    int64_t catch_up_wait_ms;   //  LG_CATCH_UP_WAIT_MS
    int catch_up_timer;         //  polls the consumers while a duty waits, or -1
    int64_t catch_up_until;     //  zclock_mono past which they run anyway
};

static int
s_on_duty (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_duty_slot_t *slot = (s_duty_slot_t *) arg;
    if (slot->leader->leading && !slot->waiting)
        lg_server_run_duty (slot->leader->server, slot->duty->run, slot->duty->name);
    return 0;
}

//  While after_catch_up duties wait for their first run (lg_service.h):
//  they run, in their order, once every consumer caught up or the wait ran out
static int
s_on_catch_up (zloop_t *loop, int timer_id, void *arg)
{
    s_leader_t *self = (s_leader_t *) arg;
    const char *behind = NULL;
    for (size_t i = 0; i < self->count && !behind; i++)
        if (!lg_consumer_caught_up (self->consumers [i]))
            behind = self->def->subscriptions [i].source;
    if (behind && zclock_mono () < self->catch_up_until)
        return 0;
    if (behind)
        lg_warning ("%s runs its duties without having caught up with %s's events in %d s",
                    self->def->name, behind, (int) (self->catch_up_wait_ms / 1000));
    else
        lg_info ("%s caught up with the events it follows: its duties run", self->def->name);
    zloop_timer_end (loop, timer_id);
    self->catch_up_timer = -1;
    for (size_t i = 0; i < self->duty_count; i++)
        if (self->duties [i].waiting) {
            self->duties [i].waiting = false;
            lg_server_run_duty (self->server, self->duties [i].duty->run,
                                self->duties [i].duty->name);
        }
    return 0;
}

static void
s_lead (s_leader_t *self)
{
    self->leading = true;
    lg_info ("%s leads the background duties", self->def->name);
    for (size_t i = 0; i < self->count; i++)
        lg_consumer_start (self->consumers [i], self->loop);
    bool waiting = false;
    for (size_t i = 0; i < self->duty_count; i++) {
        s_duty_slot_t *slot = &self->duties [i];
        //  What came due while nobody led is done now, or once caught up
        slot->waiting = slot->duty->after_catch_up && self->count > 0;
        waiting = waiting || slot->waiting;
        if (!slot->waiting)
            lg_server_run_duty (self->server, slot->duty->run, slot->duty->name);
        size_t period = (size_t) (self->duty_ms? self->duty_ms: slot->duty->interval_ms);
        slot->timer = zloop_timer (self->loop, period, 0, s_on_duty, slot);
    }
    if (waiting) {
        //  Said when the wait starts too: a source down holds the duties
        //  for the whole wait, and nothing said why until it ended
        lg_info ("%s holds its duties until it has caught up with the events it follows"
                 " (%d s at most)", self->def->name, (int) (self->catch_up_wait_ms / 1000));
        self->catch_up_until = zclock_mono () + self->catch_up_wait_ms;
        self->catch_up_timer = zloop_timer (self->loop, 100, 0, s_on_catch_up, self);
    }
}

static void
s_follow (s_leader_t *self)
{
    self->leading = false;
    lg_warning ("%s lost the leadership with its database session", self->def->name);
    for (size_t i = 0; i < self->count; i++)
        lg_consumer_stop (self->consumers [i], self->loop);
    for (size_t i = 0; i < self->duty_count; i++)
        if (self->duties [i].timer >= 0) {
            zloop_timer_end (self->loop, self->duties [i].timer);
            self->duties [i].timer = -1;
        }
    if (self->catch_up_timer >= 0) {
        zloop_timer_end (self->loop, self->catch_up_timer);
        self->catch_up_timer = -1;
    }
}

static void
s_leader_step (s_leader_t *self)
{
    const char *params [] = { self->key };
    if (!self->leading) {
        PGresult *res = lg_db_exec (self->db, "SELECT pg_try_advisory_lock(hashtext($1)) AS won",
                                    1, params);
        const char *won = res && PQresultStatus (res) == PGRES_TUPLES_OK?
                          lg_db_value (res, 0, "won"): NULL;
        bool leading = won && streq (won, "t");
        PQclear (res);
        if (leading)
            s_lead (self);
    }
    else {
        //  The lock is this session's: lg_db replaces a connection the
        //  server closed as it runs the next statement, so "it answers" is
        //  not enough. A replaced session holds no lock, and the standby
        //  that took it leads now; before, both led (a terminated backend,
        //  a quick restart of PostgreSQL)
        PGresult *res = lg_db_exec (self->db,
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid () AND objsubid = 1"
            " AND classid = ((hashtext ($1)::bigint >> 32) & 4294967295)::oid"
            " AND objid = (hashtext ($1)::bigint & 4294967295)::oid) AS held", 1, params);
        const char *held = res && PQresultStatus (res) == PGRES_TUPLES_OK?
                           lg_db_value (res, 0, "held"): NULL;
        bool still = held && streq (held, "t");
        PQclear (res);
        if (!still)
            s_follow (self);
    }
}

static int
s_on_leader_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_leader_step ((s_leader_t *) arg);
    return 0;
}

//  A connection the reactor waits on: its duties, Stats and Beats must not
//  hold it for long on a silent network (lg_db.c note 4) nor behind a lock
//  another session holds (lg_db.h note 2a)
static lg_db_t *
s_reactor_db (const lg_config_t *cfg, const char *service)
{
    lg_db_t *db = lg_db_new (cfg->db, service);
    if (db) {
        lg_db_set_user_timeout (db, LG_REACTOR_USER_TIMEOUT_MS);
        lg_db_set_lock_wait (db, LG_REACTOR_LOCK_WAIT_MS);
    }
    return db;
}

static s_leader_t *
s_leader_new (const lg_service_def_t *def, const lg_config_t *cfg, lg_db_t *db, void *state,
              lg_server_t *server, zloop_t *loop)
{
    s_leader_t *self = (s_leader_t *) zmalloc (sizeof (s_leader_t));
    self->def = def;
    self->loop = loop;
    self->server = server;
    self->duty_ms = cfg->duty_ms;
    self->catch_up_wait_ms = cfg->catch_up_wait_ms;
    self->catch_up_timer = -1;
    self->db = s_reactor_db (cfg, def->name);   //  the reactor uses it too
    snprintf (self->key, sizeof self->key, "lgwan.leader.%s", def->name);
    for (const lg_subscription_t *s = def->subscriptions; s && s->source; s++)
        if (self->count < MAX_SUBSCRIPTIONS)
            self->consumers [self->count++] = lg_consumer_new (cfg, db, s->source, s->apply,
                                                               def->consume_begin, state);
    for (const lg_duty_t *d = def->duties; d && d->name; d++)
        if (self->duty_count < MAX_DUTIES)
            self->duties [self->duty_count++] = (s_duty_slot_t) { self, d, -1, false };
    zloop_timer (loop, 1000, 0, s_on_leader_timer, self);
    s_leader_step (self);
    return self;
}

static void
s_leader_destroy (s_leader_t **self_p)
{
    if (*self_p) {
        s_leader_t *self = *self_p;
        for (size_t i = 0; i < self->count; i++)
            lg_consumer_destroy (&self->consumers [i]);
        lg_db_destroy (&self->db);          //  closing the connection frees the lock
        free (self);
        *self_p = NULL;
    }
}

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
    s_leader_t *leader = NULL;

    zsock_signal (pipe, 0);
    if (lg_config_load (&cfg, def->name, why, sizeof why)) {
        zstr_sendf (pipe, "FAILED %s", why);
        goto cleanup;
    }
    lg_clock_configure (cfg.clock_file);
    lg_fault_configure (cfg.faults);
    auth = lg_auth_new (cfg.cert_dir);
    db = s_reactor_db (&cfg, def->name);
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
    if (def->subscriptions || def->duties)
        leader = s_leader_new (def, &cfg, db, state, server, loop);
    if (def->attach) {
        lg_service_env_t env = { loop, db, server, outbox, auth, &cfg };
        if (def->attach (state, &env)) {
            zstr_sendf (pipe, "FAILED could not attach the service's own sockets (see log)");
            goto cleanup;
        }
    }
    lg_info ("%s ready: requests on %s, events on %s", def->name,
             lg_server_endpoint (server), lg_outbox_endpoint (outbox));
    zstr_sendf (pipe, "READY %s %s", lg_server_endpoint (server), lg_outbox_endpoint (outbox));
    zloop_start (loop);
    if (def->detach)
        def->detach (state);

cleanup:
    s_leader_destroy (&leader);
    zloop_destroy (&loop);
    lg_server_destroy (&server);
    lg_outbox_destroy (&outbox);
    if (state && def->state_destroy)
        def->state_destroy (&state);
    lg_db_destroy (&db);
    lg_auth_destroy (&auth);
    OPENSSL_thread_stop ();     //  see s_worker in lg_server.c
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
    if ((!status || strncmp (status, "READY", 5)) && zsys_interrupted) {
        //  Stopped before it was ready (waiting for its database): a stop
        //  asked for, which ends 0 as any other; it ended 1, FATAL
        lg_info ("%s stopped before it was ready", def->name);
        zstr_free (&status);
        zactor_destroy (&actor);
        return 0;
    }
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
    //  A reactor that ended with no signal to end it gave up (said in the log)
    bool failed = !zsys_interrupted;
    lg_info ("%s shutting down", def->name);
    zactor_destroy (&actor);
    return failed? 1: 0;
}
