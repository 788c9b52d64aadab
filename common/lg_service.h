/*  lg_service - the actor every service runs: config, database, auth, server,
    outbox and reactor, so a service only brings its tables and handlers.

    Background duties (following other services' events) run only in the
    replica that holds the advisory lock lgwan.leader.<service> on a
    connection of its own; a standby tries for it every second, so it takes
    over about a second after the leader's connection closes.

    main () is thin:  lg_service_main (argc, argv, &registry_definition);
    Tests start the same actor in-process with zactor_new (lg_service_actor, def).
*/
#ifndef LG_SERVICE_H_INCLUDED
#define LG_SERVICE_H_INCLUDED

//  A background duty: run every interval_ms by the leader only (see
//  lg_server_run_duty), and once as soon as it leads, so what came due while
//  no replica ran is done at start. With after_catch_up, that first run
//  waits until every stream the service follows has caught up with what its
//  source wrote meanwhile (lg_consumer_caught_up), or LG_CATCH_UP_WAIT_MS
//  passed (a source down: said in the log); the duties so held then run in
//  their order. For a duty that acts for good on what those streams say:
//  audit marked overdue, at start, the requests of a provider the registry
//  had cancelled while audit was down, before it applied the cancellation.
typedef struct {
    const char *name;
    int interval_ms;
    lg_handler_fn *run;
    bool after_catch_up;
} lg_duty_t;

//  How long a leader's first run of an after_catch_up duty waits at most,
//  unless LG_CATCH_UP_WAIT_MS is set (lg_config.c: tests whose source is
//  not running at all)
#define LG_CATCH_UP_WAIT_MS 30000

//  The user timeout of connections the reactor waits on (lg_db_set_user_timeout):
//  a silent network must not hold it for long (lg_db.c note 4)
#define LG_REACTOR_USER_TIMEOUT_MS 3000

//  The lock wait of those connections (lg_db_set_lock_wait): a Beat may
//  queue behind one statement of a duty that waits it out, and the rest of
//  that round gives way (lg_db.h note 2a), well below the 3 s after which
//  an enforcer asks its replica again
#define LG_REACTOR_LOCK_WAIT_MS 1000

//  What a service's attach hook gets: the reactor's own pieces
typedef struct {
    zloop_t *loop;
    lg_db_t *db;                        //  the reactor's connection
    lg_server_t *server;                //  for lg_server_run_duty
    lg_outbox_t *outbox;
    lg_auth_t *auth;
    const lg_config_t *cfg;
} lg_service_env_t;

typedef struct {
    const char *name;                   //  registry, billing, ...
    const lg_migration_t *migrations;   //  the service's own, { 0 } ended
    const lg_route_t *routes;           //  { 0 } ended
    int stream_roles;                   //  roles allowed to subscribe / Replay
    const lg_subscription_t *subscriptions; //  streams followed, { NULL } ended, or NULL
    //  Optional: run at the start of each transaction in which a
    //  subscription applies a batch of events (lg_consumer.h note 7)
    lg_batch_fn *consume_begin;
    const lg_duty_t *duties;            //  background duties, { NULL } ended, or NULL
    //  Optional: build the service's state after migrations, tear it down
    void *(*state_new) (lg_db_t *db, const lg_config_t *cfg);
    void (*state_destroy) (void **state_p);
    //  Optional: add the service's own sockets and timers to the reactor
    //  (after the server and outbox exist); 0 ok, -1 fails the start
    int (*attach) (void *state, const lg_service_env_t *env);
    //  Optional: at stop, after the reactor ended and before the server,
    //  outbox and database go (only when attach succeeded): a last write of
    //  what the service holds in memory
    void (*detach) (void *state);
} lg_service_def_t;

//  zactor body; args is an lg_service_def_t. Sends "READY" (or "FAILED
//  <reason>") on the pipe, then runs until $TERM or interrupt.
void lg_service_actor (zsock_t *pipe, void *args);

//  A whole main: logging, config, signals, actor, wait, teardown. Returns the
//  process exit code.
int lg_service_main (int argc, char **argv, const lg_service_def_t *def);

#endif
