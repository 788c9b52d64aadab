/*  lg_server - the request side of a service: a CURVE ROUTER and a dispatch table.

    One request, one frame, one reply. For each request, in this order:
    1. size bound (RESOURCE_EXHAUSTED), decode + UTF-8 + enums (INVALID_ARGUMENT);
    2. a known body (INVALID_ARGUMENT), a request_id (INVALID_ARGUMENT);
    3. the caller's certificate is still allowed (UNAUTHENTICATED) and its role
       is one the route allows (PERMISSION_DENIED); then every uint64 of the
       body, at any depth, is at most INT64_MAX, else INVALID_ARGUMENT
       naming the route's requirement and the field (lg_codec_uint64_above):
       every uint64 a request carries is an id or a number stored as
       bigint, and one past it went on to SQL, whose cast refused it as an
       "invalid value" without the rule. The common requests bound their
       own numbers (Replay from past the head serves the head);
    4. a write runs in one transaction that ends by claiming (caller,
       request_id) in <schema>.requests together with its reply; if it was
       claimed before, everything is rolled back and the stored reply is sent.
       The handler's work, its events in the outbox and the reply commit
       together; a refusal rolls the handler's work back and keeps only the reply. A lost database answers UNAVAILABLE and stores nothing.
    5. reads (LG_ROUTE_READ) run without the claim.
    6. Steps 4 and 5 run in one of LG_WORKERS threads, each with its own
       database connection (libpq blocks: this is the one reason for a
       thread), so requests wait on PostgreSQL side by side. The reactor
       keeps the sockets: it authenticates (metadata exists only on the
       CURVE connection's frames), makes the checks of steps 1 to 3, which
       need no database, and answers their refusals itself (a request its
       caller may not make takes no worker and no place in the queue of
       point 7), answers Stats from its own counters, hands
       jobs to free workers over inproc, sends their replies and publishes
       the events they committed. A read that arrives while every worker is
       idle the reactor runs itself on its own connection (two thread hops
       saved); under load reads go to the workers like writes. A handler's service state is shared by the
       workers and must be read-only. LG_WORKERS=0 runs everything in the
       reactor.
    7. Requests that find every worker busy wait in a queue bounded in count
       and bytes (LG_MAX_WAITING, LG_MAX_WAITING_MB; one more is answered
       UNAVAILABLE "busy" at once) and in age: one that waited longer than
       LG_MAX_QUEUE_MS (by default a little over a client's try,
       LG_MAX_QUEUE_MS_DEFAULT; a consumer's Replay waits longer) is answered
       "busy" unrun when its turn comes, since its client has given up that
       try and its retry, with the same request_id, waits behind it. When a
       queued request's turn comes its caller is looked up again, so a
       certificate revoked while it waited is refused (UNAUTHENTICATED).
       Both are counted in Stats under their request; the log says those
       refused for their age in one WARNING line a second at most (a line
       each grew with the overload it reported), and each revoked one in
       a WARNING line of its own.
    Handlers never see a request they were not written for.
    Every refusal a client can act on names its requirement ID: the server's
    own of steps 1 to 3 X.3 (step 3's bigint the route's), a handler's the
    one it gives, X.3 for PERMISSION_DENIED and INVALID_ARGUMENT given none
    (lg_ctx_refuse).
*/
#ifndef LG_SERVER_H_INCLUDED
#define LG_SERVER_H_INCLUDED


//  What a handler gets
typedef struct {
    lg_server_t *server;
    lg_db_t *db;
    const lg_caller_t *caller;
    const lg_request_t *request;
    lg_reply_t *reply;          //  fill body; status is set by lg_ctx_* helpers
    const char *actor;          //  who, for the record: operator_id, provider:<id>, or
                                //  request.actor when the caller is a service
    void *state;                //  the service's own state (lg_server_new)
    lg_outbox_t *outbox;        //  append events here (same transaction)
    int64_t now_us;             //  business clock at the start of the request
    const char *requirement;    //  the route's requirement (lg_route_t); NULL in a duty
} lg_ctx_t;

//  Handler result: 0 done (OK), -1 refused (status set with lg_ctx_refuse),
//  -2 database failure (the server answers UNAVAILABLE or INTERNAL).
typedef int (lg_handler_fn) (lg_ctx_t *ctx);

typedef enum {
    LG_ROUTE_WRITE = 0,         //  transaction + idempotency record
    LG_ROUTE_READ  = 1          //  no claim, no stored reply
} lg_route_kind_t;

typedef struct {
    unsigned body_case;         //  LGWAN__V1__REQUEST__BODY_...
    lg_handler_fn *handler;
    int roles;                  //  lg_role_t bits allowed
    lg_route_kind_t kind;
    //  The requirement ID of the rule the request serves, as its handler's
    //  refusals name it, for the refusals the server makes of the request
    //  itself (step 3: an id past a bigint); NULL for none
    const char *requirement;
} lg_route_t;

//  Create a server for cfg->service on cfg->endpoint. routes ends with a
//  { 0 } entry and must outlive the server. state is passed to handlers.
lg_server_t *lg_server_new (const lg_config_t *cfg, lg_auth_t *auth, lg_db_t *db,
                            const lg_route_t *routes, void *state);
void lg_server_destroy (lg_server_t **self_p);

//  Add the ROUTER reader to loop.
int lg_server_attach (lg_server_t *self, zloop_t *loop);

//  The socket, for tests and for the actor's poller
zsock_t *lg_server_socket (lg_server_t *self);

//  Endpoint actually bound (resolves tcp://127.0.0.1:* in tests)
const char *lg_server_endpoint (lg_server_t *self);

//  Give the server its outbox, so handlers can emit and Replay is served.
void lg_server_set_outbox (lg_server_t *self, lg_outbox_t *outbox);

//  A service's own counters for the common Stats reply (intake rates,
//  queues): fn runs in the reactor thread, where Stats is always answered,
//  and adds them with lg_stats_add.
typedef void (lg_stats_fn) (void *arg, Lgwan__V1__StatsReply *stats);
void lg_server_set_stats (lg_server_t *self, lg_stats_fn *fn, void *arg);
void lg_stats_add (Lgwan__V1__StatsReply *stats, const char *name, uint64_t count);

//  Run a background duty (a timer of the leader: deadlines, scheduled
//  changes) like a write without a caller: one transaction with its events,
//  committed then published. The handler gets ctx->request NULL, ctx->caller
//  NULL and ctx->actor "system:<service>". Returns the handler's result.
//  Like a write, a duty rolled back by a conflict (deadlock, serialization
//  failure) is run again at once, up to three runs after short pauses (on
//  the calling thread): its effects must be its transaction's, so that
//  running it again is safe.
int lg_server_run_duty (lg_server_t *self, lg_handler_fn *duty, const char *name);

//  Set the reply status: code, requirement ID and message; returns -1.
//  Every refusal a client can act on names the rule that made it (DESIGN:
//  "a rule refusal is FAILED_PRECONDITION and names its requirement ID"):
//  - PERMISSION_DENIED or INVALID_ARGUMENT given no requirement (NULL)
//    names X.3: an unauthorised, malformed or oversized message, refused
//    and nothing changed. A handler's own rule, when the refusal is that
//    rule's (a provider type R3.1, a Lift X.4), is given and kept;
//  - FAILED_PRECONDITION is a rule's refusal and is always given its rule;
//  - NOT_FOUND, ALREADY_EXISTS, UNAVAILABLE, DEADLINE_EXCEEDED,
//    RESOURCE_EXHAUSTED and INTERNAL given NULL name none ("").
int lg_ctx_refuse (lg_ctx_t *ctx, lg_code_t code, const char *requirement,
                   const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  A request that must say why (X.1) gives the envelope's reason, not
//  empty nor only blanks (ASCII white space, U+3000 of Japanese text): 0;
//  else refused INVALID_ARGUMENT naming requirement ("<what> records why
//  (X.1): ..."), -1, before the handler reads or changes anything. Its
//  length is every request's bound, LG_REASON_MAX, refused before a
//  handler runs. One rule for every service: isolation, registry and
//  monitor each had their own, and took a blank reason.
int lg_ctx_reason_required (lg_ctx_t *ctx, const char *requirement, const char *what);

//  The page a list request asks for: *limit is asked, or dflt when 0; more
//  than max is refused (INVALID_ARGUMENT, -1). fetch, unless NULL, gets
//  limit + 1 as text, for LIMIT: a row past the page says there is more,
//  from the page's last.
int lg_ctx_page (lg_ctx_t *ctx, uint32_t asked, uint32_t dflt, uint32_t max, uint32_t *limit,
                 char *fetch, size_t fetch_size);

//  Map a failed SQL result to a status; returns -1 when it set a refusal
//  (unique violation -> ALREADY_EXISTS, check/exclusion/foreign key ->
//  FAILED_PRECONDITION naming the route's requirement, data errors ->
//  INVALID_ARGUMENT, X.3) and -2 for connection or internal errors.
int lg_ctx_sql_error (lg_ctx_t *ctx, const PGresult *res);

//  Run a statement in the handler's transaction: 0 with *res_p (the caller
//  clears it), or what lg_ctx_sql_error made of the failure (-1 a refusal is
//  set, -2 database); *res_p is then NULL.
int lg_ctx_query (lg_ctx_t *ctx, PGresult **res_p, const char *sql, int nparams,
                  const char *const *params);

//  The same for a statement whose result is not needed.
int lg_ctx_exec (lg_ctx_t *ctx, const char *sql, int nparams, const char *const *params);

//  Append an event to the outbox in the handler's (or duty's) transaction,
//  with the actor, the request's reason and its request id as correlation.
int lg_ctx_emit (lg_ctx_t *ctx, lg_event_t *event);

//  Heap copy for reply fields (replies are freed with free_unpacked)
char *lg_strdup (const char *text);

//  Self test
void lg_server_test (bool verbose);

#endif
