/*  lg_server - the request side of a service (see lg_server.h for the order
    in which a request is checked and run).

    Idempotency, precisely:
    1. The claim is an INSERT of (caller key, request_id, digest of the request
       bytes, reply), the last statement before COMMIT; it fails on the
       primary key when the request_id is claimed. A concurrent duplicate,
       here or on another replica, blocks on that row until the first
       commits, then fails, rolls its own work back, finds the claim and
       answers the stored reply: one state change, same reply.
    2. A request_id reused with different bytes is refused (ALREADY_EXISTS):
       a client bug must not read another request's reply.
    3. Refusals are stored like successes (a retry sees the same refusal);
       UNAVAILABLE, INTERNAL and DEADLINE_EXCEEDED (a statement cancelled,
       lg_db.h note 2b) are not stored, so a retry may succeed.
    4. A write that PostgreSQL rolls back as a deadlock victim (40P01) or a
       serialization failure (40001) is run again from its start, up to
       S_ATTEMPTS times in all, after a short random pause: the caller sees
       one answer, as if the conflict had not happened. A handler's effects
       are its transaction's (what it stages in the outbox is discarded with
       it), so running it again is safe. The pause is at most 19 ms; with
       LG_WORKERS=0 it is the reactor's.
    5. So is a write whose connection was lost (the server restarted, its
       backend was terminated), at once on a new connection if one can be
       made; otherwise the caller gets UNAVAILABLE. Lost before its COMMIT
       was sent, nothing of it was committed. Lost after, nobody knows, and
       point 1 decides: if that COMMIT took effect, the claim of the second
       run finds the first run's row, and the caller gets the first run's
       stored reply; if not, the second run does the work. (Its reactions
       after COMMIT did not run for the first run; the events are in the
       outbox and reach consumers through the heartbeat and Replay.)
       A read is run again likewise.
*/
#include "lg_lib.h"
#include <openssl/evp.h>
#include <stdatomic.h>

#define MAX_CODES 17
#define S_ATTEMPTS 3            //  runs of a write rolled back (points 4 and 5)

//  Requests run again after a conflict, and after a lost connection, by any
//  thread of the process; Stats shows them as the service counters
//  requests.rerun_after_conflict and requests.rerun_after_reconnect
static atomic_uint_fast64_t s_reruns;
static atomic_uint_fast64_t s_reconnect_reruns;

//  What a worker thread needs; it builds its own server core from it
typedef struct {
    lg_config_t cfg;
    const lg_route_t *routes;
    void *state;
    int stream_roles;
} s_worker_args_t;

struct _lg_server_t {
    lg_config_t cfg;
    lg_auth_t *auth;            //  borrowed
    lg_db_t *db;                //  borrowed
    lg_outbox_t *outbox;        //  borrowed
    const lg_route_t *routes;
    void *state;
    zsock_t *router;
    char *endpoint;
    int64_t started_us;
    int64_t started_mono;
    uint64_t requests;
    uint64_t by_code [MAX_CODES];
    zhashx_t *by_request;       //  body name -> s_tally_t
    //  Request workers (LG_WORKERS): threads with their own connections
    zactor_t **workers;
    bool *busy;
    size_t n_workers;
    zlist_t *waiting;           //  jobs (s_job_t) for the next free worker
    size_t waiting_bytes;       //  their size
    //  Jobs answered busy for their age since the last summary of them in
    //  the log (s_log_aged, once a second at most), and the longest wait
    uint64_t aged;
    int64_t aged_longest_ms;
    s_worker_args_t worker_args;
    lg_stats_fn *stats_fn;      //  the service's own counters, in the reactor
    void *stats_arg;
};



typedef struct {
    uint64_t count;
    uint64_t total_us;
} s_tally_t;

//  A request waiting for a worker: the job a worker takes, [identity] [r|d]
//  [caller] [payload], when the reactor read it (LG_MAX_QUEUE_MS), and its
//  body's name, for Stats when it is answered without being run
typedef struct {
    zmsg_t *msg;
    size_t size;                //  zmsg_content_size (msg)
    int64_t arrived;            //  zclock_mono ()
    const char *body_name;      //  static: the request body's field name
} s_job_t;

static void
s_job_destroy (s_job_t **self_p)
{
    if (*self_p) {
        zmsg_destroy (&(*self_p)->msg);
        free (*self_p);
        *self_p = NULL;
    }
}

static int s_stats (lg_ctx_t *ctx);
static void s_log_aged (lg_server_t *self);
static int s_on_second (zloop_t *loop, int timer_id, void *arg);
//  A refusal of a request not read whole (over the size bound, malformed,
//  not taken) still carries its request_id, so the client can match it to
//  its request. It is read from the wire bytes without unpacking them (a
//  frame over the bound is not unpacked at all). An id the service would
//  not take (empty, over LG_REQUEST_ID_MAX bytes, not UTF-8) is not echoed:
//  the client matches such a refusal by its socket (lg_client.h point 3)
static void
s_echo_request_id (lg_reply_t *reply, zframe_t *payload)
{
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name (
        &lgwan__v1__request__descriptor, "request_id");
    const char *data = (const char *) zframe_data (payload);
    size_t at, size;
    if (field && lg_codec_find_field ((const uint8_t *) data, zframe_size (payload), field->id,
                                      &at, &size) == 0
    &&  size > 0 && size <= LG_REQUEST_ID_MAX && !memchr (data + at, 0, size)
    &&  lg_check_utf8 (data + at, size)) {
        //  Not strndup: the frame holds no NUL to stop at (ASan's strict
        //  string checks read the source up to one)
        reply->request_id = (char *) zmalloc (size + 1);
        memcpy (reply->request_id, data + at, size);
    }
}

static int s_replay (lg_ctx_t *ctx);
static int s_cursors (lg_ctx_t *ctx);

//  Requests every service answers, before its own table
static const lg_route_t s_common_routes [] = {
    { LGWAN__V1__REQUEST__BODY_STATS,  s_stats,  LG_ROLE_READERS, LG_ROUTE_READ, NULL },
    { LGWAN__V1__REQUEST__BODY_REPLAY, s_replay, 0,               LG_ROUTE_READ, "X.2" },
    { LGWAN__V1__REQUEST__BODY_CURSORS, s_cursors, LG_ROLE_READERS, LG_ROUTE_READ, "X.1" },
    { 0, NULL, 0, 0, NULL }
};

char *
lg_strdup (const char *text)
{
    return strdup (text? text: "");
}

lg_server_t *
lg_server_new (const lg_config_t *cfg, lg_auth_t *auth, lg_db_t *db,
               const lg_route_t *routes, void *state)
{
    lg_server_t *self = (lg_server_t *) zmalloc (sizeof (lg_server_t));
    self->cfg = *cfg;
    self->auth = auth;
    self->db = db;
    self->routes = routes;
    self->state = state;
    self->started_us = lg_clock_now_us ();
    self->started_mono = zclock_mono ();
    self->by_request = zhashx_new ();
    zhashx_set_destructor (self->by_request, (zhashx_destructor_fn *) zstr_free);   //  frees any block
    self->router = zsock_new (ZMQ_ROUTER);
    //  The socket bound is twice the application bound: frames between the
    //  two get RESOURCE_EXHAUSTED, larger ones cost the sender its connection.
    zsock_set_maxmsgsize (self->router, (int) (cfg->max_msg * 2));
    zsock_set_linger (self->router, 0);
    zsock_set_router_mandatory (self->router, 0);
    if (auth && lg_auth_server (auth, self->router, cfg->service)) {
        lg_server_destroy (&self);
        return NULL;
    }
    if (zsock_bind (self->router, "%s", cfg->endpoint) < 0) {
        lg_log_write (LG_LOG_ERROR, zmq_strerror (zmq_errno ()),
                      "could not bind %s", cfg->endpoint);
        lg_server_destroy (&self);
        return NULL;
    }
    self->endpoint = zsock_last_endpoint (self->router);
    return self;
}

void
lg_server_destroy (lg_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        lg_server_t *self = *self_p;
        s_log_aged (self);
        for (size_t i = 0; i < self->n_workers; i++)
            zactor_destroy (&self->workers [i]);
        free (self->workers);
        free (self->busy);
        if (self->waiting) {
            s_job_t *job;
            while ((job = (s_job_t *) zlist_pop (self->waiting)))
                s_job_destroy (&job);
            zlist_destroy (&self->waiting);
        }
        zsock_destroy (&self->router);
        zhashx_destroy (&self->by_request);
        zstr_free (&self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
lg_server_socket (lg_server_t *self)
{
    return self->router;
}

const char *
lg_server_endpoint (lg_server_t *self)
{
    return self->endpoint;
}

void
lg_server_set_outbox (lg_server_t *self, lg_outbox_t *outbox)
{
    self->outbox = outbox;
}

void
lg_server_set_stats (lg_server_t *self, lg_stats_fn *fn, void *arg)
{
    self->stats_fn = fn;
    self->stats_arg = arg;
}

void
lg_stats_add (Lgwan__V1__StatsReply *stats, const char *name, uint64_t count)
{
    Lgwan__V1__StatsCounter **grown = (Lgwan__V1__StatsCounter **) realloc (
        stats->service_counters, (stats->n_service_counters + 1) * sizeof (void *));
    Lgwan__V1__StatsCounter *counter = (Lgwan__V1__StatsCounter *) malloc (sizeof *counter);
    if (!grown || !counter) {
        free (counter);
        if (grown)
            stats->service_counters = grown;
        return;
    }
    lgwan__v1__stats_counter__init (counter);
    counter->name = lg_strdup (name);
    counter->count = count;
    stats->service_counters = grown;
    stats->service_counters [stats->n_service_counters++] = counter;
}

static void
s_set_status (lg_reply_t *reply, lg_code_t code, const char *requirement, const char *message)
{
    if (!reply->status) {
        reply->status = (lg_status_t *) malloc (sizeof (lg_status_t));
        lgwan__v1__status__init (reply->status);
    }
    lg_status_t *status = reply->status;
    if (status->message != protobuf_c_empty_string)
        free (status->message);
    if (status->requirement != protobuf_c_empty_string)
        free (status->requirement);
    status->code = code;
    status->message = lg_strdup (message);
    //  A message quoting what we were sent (%.16s of Japanese, say) may cut
    //  a character: the client would refuse the whole reply as malformed
    lg_utf8_clean (status->message);
    status->requirement = lg_strdup (requirement);
}

//  The requirement a refusal names when its caller gave none (lg_server.h,
//  lg_ctx_refuse): a message refused as unauthorised or malformed is X.3's.
//  One rule here rather than "X.3" at some 70 refusals of the handlers,
//  which named none: a provider reading another's record, a page past the
//  limit, a name of 10 KiB were refused naming no rule
static const char *
s_requirement (lg_code_t code, const char *requirement)
{
    if (requirement)
        return requirement;
    if (code == LGWAN__V1__CODE__PERMISSION_DENIED || code == LGWAN__V1__CODE__INVALID_ARGUMENT)
        return "X.3";
    return NULL;
}

int
lg_ctx_refuse (lg_ctx_t *ctx, lg_code_t code, const char *requirement, const char *format, ...)
{
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    s_set_status (ctx->reply, code, s_requirement (code, requirement), message);
    return -1;
}

int
lg_ctx_reason_required (lg_ctx_t *ctx, const char *requirement, const char *what)
{
    const char *c = ctx->request && ctx->request->reason? ctx->request->reason: "";
    while (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n' || *c == '\f' || *c == '\v'
       ||  strncmp (c, "\xe3\x80\x80", 3) == 0)
        c += (unsigned char) *c == 0xe3? 3: 1;
    if (*c)
        return 0;
    return lg_ctx_refuse (ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, requirement,
                          "%s records why (X.1): a reason of 1-%d bytes, not only blanks",
                          what, LG_REASON_MAX);
}

int
lg_ctx_page (lg_ctx_t *ctx, uint32_t asked, uint32_t dflt, uint32_t max, uint32_t *limit,
             char *fetch, size_t fetch_size)
{
    *limit = asked? asked: dflt;
    if (*limit > max)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, NULL,
                              "limit is at most %u", max);
    if (fetch)
        snprintf (fetch, fetch_size, "%u", *limit + 1);
    return 0;
}

//  A lock held elsewhere past the bound (lg_db.h note 2a): try again later
static int
s_refuse_busy (lg_ctx_t *ctx)
{
    //  The operator's cue to look for the session holding it (pg_locks);
    //  a duty says so itself
    if (ctx->request)
        lg_warning ("request %s: a lock it needs was held by another session past the wait"
                    " allowed (lock_timeout): answered busy", ctx->request->request_id);
    return lg_ctx_refuse (ctx, LGWAN__V1__CODE__UNAVAILABLE, NULL, "busy: a lock it needs is"
                          " held by another session; try again");
}

//  A statement cancelled (lg_db.h note 2b): it ran past the bound, or an
//  operator cancelled it. Not stored, and not "try again": the same request
//  would likely meet the same bound
static int
s_refuse_cancelled (lg_ctx_t *ctx, const char *error)
{
    if (ctx->request)
        lg_log_write (LG_LOG_ERROR, error, "request %s: a statement was cancelled"
                      " (statement_timeout or an operator)", ctx->request->request_id);
    return lg_ctx_refuse (ctx, LGWAN__V1__CODE__DEADLINE_EXCEEDED, NULL, "a statement ran longer"
                          " than the database allows (statement_timeout) or was cancelled by"
                          " an operator; nothing was changed");
}

int
lg_ctx_sql_error (lg_ctx_t *ctx, const PGresult *res)
{
    const char *state = lg_db_sqlstate (res);
    const char *constraint = res? PQresultErrorField (res, PG_DIAG_CONSTRAINT_NAME): NULL;
    if (!res || !lg_db_is_up (ctx->db) || !*state || strncmp (state, "08", 2) == 0)
        return -2;
    if (streq (state, "23505"))
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__ALREADY_EXISTS, NULL,
                              "already exists (%s)", constraint? constraint: "unique");
    //  A rule of the schema: the rule of the request it refused
    if (streq (state, "23P01") || streq (state, "23514") || streq (state, "23503"))
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__FAILED_PRECONDITION, ctx->requirement,
                              "refused by constraint %s", constraint? constraint: state);
    if (streq (state, "55P03"))
        return s_refuse_busy (ctx);
    if (streq (state, "57014"))
        return s_refuse_cancelled (ctx, PQresultErrorMessage (res));
    if (strncmp (state, "22", 2) == 0)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, NULL, "invalid value: %s",
                              PQresultErrorField (res, PG_DIAG_MESSAGE_PRIMARY));
    //  A conflict (point 4) is logged where the write is run again or not
    if (!streq (state, "40001") && !streq (state, "40P01"))
        lg_log_write (LG_LOG_ERROR, PQresultErrorMessage (res), "statement failed (%s)", state);
    return -2;
}

int
lg_ctx_query (lg_ctx_t *ctx, PGresult **res_p, const char *sql, int nparams,
              const char *const *params)
{
    PGresult *res = lg_db_exec (ctx->db, sql, nparams, params);
    if (res && (PQresultStatus (res) == PGRES_TUPLES_OK
            ||  PQresultStatus (res) == PGRES_COMMAND_OK)) {
        *res_p = res;
        return 0;
    }
    int rc = lg_ctx_sql_error (ctx, res);
    PQclear (res);
    *res_p = NULL;
    return rc;
}

int
lg_ctx_exec (lg_ctx_t *ctx, const char *sql, int nparams, const char *const *params)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, sql, nparams, params);
    PQclear (res);
    return rc;
}

int
lg_ctx_emit (lg_ctx_t *ctx, lg_event_t *event)
{
    const char *reason = ctx->request && ctx->request->reason? ctx->request->reason: "";
    const char *correlation = ctx->request? ctx->request->request_id: "";
    return lg_outbox_append (ctx->outbox, event, ctx->actor, reason, correlation, ctx->now_us);
}

//  A refusal carries no body: whatever a handler put there before it
//  refused (a record it read before checking who asks) is dropped
static void
s_clear_body (lg_reply_t *reply)
{
    const ProtobufCFieldDescriptor *field =
        lg_codec_body_field (&lgwan__v1__reply__descriptor, reply->body_case);
    if (field) {
        ProtobufCMessage **member = (ProtobufCMessage **) ((char *) reply + field->offset);
        if (*member)
            protobuf_c_message_free_unpacked (*member, NULL);
        *member = NULL;
    }
    reply->body_case = LGWAN__V1__REPLY__BODY__NOT_SET;
}

static const lg_route_t *
s_route (const lg_route_t *table, unsigned body_case)
{
    for (const lg_route_t *r = table; r && r->handler; r++)
        if (r->body_case == body_case)
            return r;
    return NULL;
}

//  Step 3: a uint64 of the body (field, of the request's oneof) past a
//  bigint, refused with the route's requirement; 0 when there is none
static int
s_refuse_past_bigint (lg_ctx_t *ctx, const lg_route_t *route,
                      const ProtobufCFieldDescriptor *field)
{
    const ProtobufCMessage *body =
        *(ProtobufCMessage * const *) ((const char *) ctx->request + field->offset);
    char where [256];
    uint64_t value;
    if (!lg_codec_uint64_above (body, INT64_MAX, where, sizeof where, &value))
        return 0;
    return lg_ctx_refuse (ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, route->requirement,
                          "%s.%s %" PRIu64 " is out of range (at most %" PRId64 ")",
                          field->name, where, value, INT64_MAX);
}

static void
s_count (lg_server_t *self, int code, const char *body_name, int64_t took_us)
{
    self->requests++;
    if (code >= 0 && code < MAX_CODES)
        self->by_code [code]++;
    if (body_name) {
        s_tally_t *tally = (s_tally_t *) zhashx_lookup (self->by_request, body_name);
        if (!tally) {
            tally = (s_tally_t *) zmalloc (sizeof *tally);
            zhashx_insert (self->by_request, body_name, tally);
        }
        tally->count++;
        tally->total_us += (uint64_t) took_us;
    }
}

//  Who acts, for the record: a service may act for an operator it names
static void
s_actor (const lg_caller_t *caller, const lg_request_t *request, char *buf, size_t size)
{
    if (caller->role == LG_ROLE_SERVICE && request->actor && *request->actor)
        snprintf (buf, size, "%s", request->actor);
    else
    if (caller->role == LG_ROLE_PROVIDER)
        snprintf (buf, size, "provider:%" PRIu64, caller->provider_id);
    else
    if (*caller->operator_id)
        snprintf (buf, size, "%s:%s", caller->role_name, caller->operator_id);
    else
        snprintf (buf, size, "%s:%.8s", caller->role_name, caller->public_key);
}

//  Answer a request_id claimed before: the stored reply, or a refusal when
//  the same id came with other bytes. Runs after our own work was rolled back.
static void
s_answer_stored (lg_server_t *self, lg_ctx_t *ctx, const char *const *claim,
                 const uint8_t *digest, size_t digest_size)
{
    PGresult *res = lg_db_exec (self->db, "SELECT digest, reply FROM requests"
                                          " WHERE caller = $1 AND request_id = $2", 2, claim);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
        PQclear (res);
        lg_ctx_refuse (ctx, lg_db_is_up (self->db)? LGWAN__V1__CODE__INTERNAL:
                       LGWAN__V1__CODE__UNAVAILABLE, NULL, "stored reply could not be read");
        return;
    }
    size_t size, dsize;
    uint8_t *old_digest = lg_db_bytes (res, 0, "digest", &dsize);
    bool same = old_digest && dsize == digest_size && memcmp (old_digest, digest, dsize) == 0;
    uint8_t *stored = lg_db_bytes (res, 0, "reply", &size);
    PQfreemem (old_digest);
    PQclear (res);
    ProtobufCMessage *msg = NULL;
    s_clear_body (ctx->reply);
    if (!same)
        lg_ctx_refuse (ctx, LGWAN__V1__CODE__ALREADY_EXISTS, NULL,
                       "request_id %s was used for a different request", ctx->request->request_id);
    else
    if (stored && lg_codec_decode (&lgwan__v1__reply__descriptor, stored, size, SIZE_MAX,
                                   &msg, NULL, 0) == 0) {
        lgwan__v1__reply__free_unpacked (ctx->reply, NULL);
        ctx->reply = (lg_reply_t *) msg;
    }
    else
        lg_ctx_refuse (ctx, LGWAN__V1__CODE__INTERNAL, NULL, "stored reply is unreadable");
    PQfreemem (stored);
}

//  Before a write or duty rolled back by a conflict runs again (point 4): a
//  short random pause, longer at each run, so the two sides part
static void
s_conflict_pause (int attempt)
{
    zclock_sleep (1 + (int) (randof (10) * attempt));
}

//  A refusal that says nothing about the request: not stored (point 3)
static bool
s_transient (const lg_reply_t *reply)
{
    return reply->status && (reply->status->code == LGWAN__V1__CODE__UNAVAILABLE
                         ||  reply->status->code == LGWAN__V1__CODE__INTERNAL
                         ||  reply->status->code == LGWAN__V1__CODE__DEADLINE_EXCEEDED);
}

//  Run a write: handler, then claim with the reply, commit, publish.
//  The claim is the last statement before COMMIT: a duplicate (a retry, or
//  the same request on another replica) blocks on that row until the first
//  commits, then finds it claimed, rolls its own work back and answers the
//  stored reply. A retry thus costs a rerun; every first try saves a round trip.
static void
s_run_write (lg_server_t *self, lg_ctx_t *ctx, const lg_route_t *route, zframe_t *payload)
{
    lg_db_t *db = self->db;
    uint8_t digest [32];
    unsigned digest_size = 0;
    EVP_Digest (zframe_data (payload), zframe_size (payload), digest, &digest_size, EVP_sha256 (), NULL);
    char *digest_hex = lg_db_hex (digest, digest_size);
    char *reply_hex = NULL;
    char body_case [16];
    snprintf (body_case, sizeof body_case, "%u", route->body_case);
    const char *claim [] = { ctx->caller->public_key, ctx->request->request_id };
    PGresult *res = NULL;
    int attempt = 0;

again:
    attempt++;
    //  The whole transaction is pipelined: statements whose result is not
    //  needed travel with the next one that is (see lg_db.h)
    if (lg_db_pipeline_begin (db) || lg_db_begin (db)
    ||  !lg_db_run (db, "SAVEPOINT handler", 0, NULL))
        goto unavailable;
    int rc = route->handler (ctx);
    if (rc)
        s_clear_body (ctx->reply);
    if (rc == -2)
        goto unavailable;
    if (rc == -1 && s_transient (ctx->reply)) {
        //  Point 3: not stored, so the same request may succeed later
        if (self->outbox)
            lg_outbox_discard (self->outbox);
        lg_db_rollback (db);
        goto done;
    }
    if (rc == -1) {
        if (self->outbox)
            lg_outbox_discard (self->outbox);
        if (!lg_db_run (db, "ROLLBACK TO SAVEPOINT handler", 0, NULL))
            goto unavailable;
    }
    else
        s_set_status (ctx->reply, LGWAN__V1__CODE__OK, NULL, "");

    size_t size = protobuf_c_message_get_packed_size (&ctx->reply->base);
    uint8_t *packed = (uint8_t *) malloc (size? size: 1);
    protobuf_c_message_pack (&ctx->reply->base, packed);
    reply_hex = lg_db_hex (packed, size);
    free (packed);
    //  The events, the claim and COMMIT in one round trip after the head
    //  (lg_outbox_write). A request claimed before (a retry that crossed its
    //  first try) fails the claim's unique key at COMMIT: our work goes, and
    //  the path below answers with the first reply
    const char *record [] = { claim [0], claim [1], body_case, digest_hex, reply_hex };
    if ((self->outbox && lg_outbox_write (self->outbox))
    ||  !lg_db_run (db, "INSERT INTO requests (caller, request_id, body_case, digest, reply)"
                        " VALUES ($1, $2, $3::integer, $4::bytea, $5::bytea)", 5, record))
        goto unavailable;
    if (lg_fault_fires ("write_commit_result_lost"))
        lg_db_fault_lose_commit_result (db);
    //  A test's worker frozen holding the outbox head (lg_db.h note 2c)
    lg_fault_stall ("write_stall_before_commit", 3000);
    if (lg_db_commit (db))
        goto unavailable;
    if (self->outbox) {
        lg_fault_point ("after_commit_before_publish");
        lg_outbox_flush (self->outbox);
    }
    goto done;

unavailable: ;
    bool conflict = lg_db_retryable (db);
    bool busy = lg_db_busy (db);
    bool cancelled = lg_db_cancelled (db);
    bool lost = lg_db_lost (db);
    bool short_of = lg_db_short_of_resources (db);
    if (self->outbox)
        lg_outbox_discard (self->outbox);
    lg_db_rollback (db);
    lg_db_pipeline_end (db);
    s_clear_body (ctx->reply);
    if (attempt < S_ATTEMPTS && ((conflict && lg_db_is_up (db))
                             ||  (lost && lg_db_ensure (db) == 0))) {
        lg_log_write (LG_LOG_WARNING, lg_db_error (db), "request %s %s (run %d of %d):"
                      " running it again", ctx->request->request_id, conflict?
                      "rolled back by a conflict": "lost its database connection",
                      attempt, S_ATTEMPTS);
        free (reply_hex);
        reply_hex = NULL;
        atomic_fetch_add (conflict? &s_reruns: &s_reconnect_reruns, 1);
        if (conflict)
            s_conflict_pause (attempt);
        goto again;
    }
    if (lg_db_is_up (db)) {
        //  A retry may trip over what its first try made: answer that
        PGresult *seen = lg_db_exec (db, "SELECT 1 FROM requests WHERE caller = $1"
                                         " AND request_id = $2", 2, claim);
        bool claimed = seen && PQresultStatus (seen) == PGRES_TUPLES_OK && PQntuples (seen) == 1;
        PQclear (seen);
        if (claimed) {
            s_answer_stored (self, ctx, claim, digest, digest_size);
            goto done;
        }
        if (busy)
            s_refuse_busy (ctx);
        else
        if (cancelled)
            s_refuse_cancelled (ctx, lg_db_error (db));
        else
        if (conflict || short_of) {
            //  Of the moment, not stored: the client tries again (lgwanctl
            //  and lg_client retry UNAVAILABLE, and took INTERNAL as final)
            lg_log_write (LG_LOG_ERROR, lg_db_error (db), "request %s failed: %s; answered"
                          " unavailable", ctx->request->request_id, conflict?
                          "rolled back by a conflict at every run": "the database server is"
                          " short of disk, memory or itself");
            lg_ctx_refuse (ctx, LGWAN__V1__CODE__UNAVAILABLE, NULL, "%s; nothing was changed,"
                           " try again", conflict? "rolled back by conflicts with other"
                           " requests": "the database is short of resources");
        }
        else {
            lg_log_write (LG_LOG_ERROR, lg_db_error (db), "request %s failed",
                          ctx->request->request_id);
            lg_ctx_refuse (ctx, LGWAN__V1__CODE__INTERNAL, NULL, "internal error");
        }
    }
    else
        lg_ctx_refuse (ctx, LGWAN__V1__CODE__UNAVAILABLE, NULL, "database unavailable");
done:
    if (lg_db_is_up (db))
        lg_db_pipeline_end (db);
    PQclear (res);
    free (reply_hex);
    free (digest_hex);
}

int
lg_server_run_duty (lg_server_t *self, lg_handler_fn *duty, const char *name)
{
    char actor [64];
    snprintf (actor, sizeof actor, "system:%s", self->cfg.service);
    int rc = -2;
    for (int attempt = 1; ; attempt++) {
        lg_reply_t *reply = (lg_reply_t *) malloc (sizeof (lg_reply_t));
        lgwan__v1__reply__init (reply);
        lg_ctx_t ctx = { .server = self, .db = self->db, .reply = reply, .state = self->state,
                         .outbox = self->outbox, .actor = actor, .now_us = lg_clock_now_us () };
        rc = -2;
        //  Pipelined like a write: BEGIN travels with the duty's first statement
        if (lg_db_pipeline_begin (self->db) == 0 && lg_db_begin (self->db) == 0) {
            rc = duty (&ctx);
            if (rc == 0 && (!self->outbox || lg_outbox_write (self->outbox) == 0)
            &&  lg_db_commit (self->db) == 0) {
                if (self->outbox)
                    lg_outbox_flush (self->outbox);
            }
            else {
                if (self->outbox)
                    lg_outbox_discard (self->outbox);
                lg_db_rollback (self->db);
                if (rc == 0)
                    rc = -2;
            }
        }
        if (lg_db_is_up (self->db))
            lg_db_pipeline_end (self->db);
        //  A conflict (point 4) runs the duty again at once, as it does a
        //  write: its effects were its transaction's
        bool again = rc == -2 && lg_db_retryable (self->db) && attempt < S_ATTEMPTS;
        const char *why = ctx.reply->status? ctx.reply->status->message: lg_db_error (self->db);
        if (again)
            lg_log_write (LG_LOG_WARNING, why, "duty %s rolled back by a conflict (run %d of %d):"
                          " running it again", name, attempt, S_ATTEMPTS);
        else
        if (rc)
            lg_log_write (LG_LOG_WARNING, why, "duty %s did not complete", name);
        lgwan__v1__reply__free_unpacked (ctx.reply, NULL);
        if (!again)
            break;
        atomic_fetch_add (&s_reruns, 1);
        s_conflict_pause (attempt);
    }
    return rc;
}

//  Whether the reactor runs a request itself: Stats (it reads the
//  reactor's counters) always; a read when no worker has anything to do,
//  which saves the two thread hops a worker costs (about 100 us here) while
//  under load reads still go to the workers side by side
static bool
s_on_reactor (lg_server_t *self, const lg_route_t *route)
{
    if (route->body_case == LGWAN__V1__REQUEST__BODY_STATS)
        return true;
    if (route->kind != LG_ROUTE_READ || zlist_size (self->waiting))
        return false;
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->busy [i])
            return false;
    return true;
}

//  Decode, check and run one request; returns the reply to send. The
//  checks (lg_server.h steps 1 to 3) need no database, so with workers the
//  reactor makes them (for_worker not NULL) and answers their refusals
//  itself: a request its caller may not make takes no worker and no place
//  in the queue. A request that passes them and is not the reactor's to run
//  (s_on_reactor) is not run: NULL is returned with *for_worker true, for
//  the caller to hand it to a worker, which checks it again as it decodes it
static lg_reply_t *
s_process (lg_server_t *self, zframe_t *payload, const lg_caller_t *known,
           const char **body_name, bool *for_worker)
{
    lg_reply_t *reply = (lg_reply_t *) malloc (sizeof (lg_reply_t));
    lgwan__v1__reply__init (reply);
    lg_ctx_t ctx = { .server = self, .db = self->db, .reply = reply, .state = self->state,
                     .outbox = self->outbox };
    ctx.reply = reply;
    lg_request_t *request = NULL;
    char why [256] = "";
    ProtobufCMessage *msg = NULL;

    int rc = lg_codec_decode (&lgwan__v1__request__descriptor, zframe_data (payload),
                              zframe_size (payload), (size_t) self->cfg.max_msg, &msg,
                              why, sizeof why);
    if (rc) {
        s_echo_request_id (reply, payload);
        lg_ctx_refuse (&ctx, rc == -1? LGWAN__V1__CODE__RESOURCE_EXHAUSTED:
                       LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3", "%s", why);
        goto done;
    }
    request = (lg_request_t *) msg;
    ctx.request = request;
    //  Not echoed (s_echo_request_id)
    if (!request->request_id || !*request->request_id
    ||  strlen (request->request_id) > LG_REQUEST_ID_MAX) {
        lg_ctx_refuse (&ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3",
                       "request_id is mandatory (1-%d bytes)", LG_REQUEST_ID_MAX);
        goto done;
    }
    reply->request_id = lg_strdup (request->request_id);
    //  Both go into the record and every event the request emits: an actor
    //  was cut at 127 bytes (inside a character, which PostgreSQL then
    //  refused), and a reason of a megabyte was copied into each of
    //  thousands of events
    if (request->actor && strlen (request->actor) > LG_ACTOR_MAX) {
        lg_ctx_refuse (&ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3",
                       "actor is at most %d bytes", LG_ACTOR_MAX);
        goto done;
    }
    if (request->reason && strlen (request->reason) > LG_REASON_MAX) {
        lg_ctx_refuse (&ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3",
                       "reason is at most %d bytes", LG_REASON_MAX);
        goto done;
    }
    const lg_route_t *route = s_route (s_common_routes, request->body_case);
    bool common = route != NULL;
    if (!route)
        route = s_route (self->routes, request->body_case);
    const ProtobufCFieldDescriptor *field =
        lg_codec_body_field (&lgwan__v1__request__descriptor, request->body_case);
    if (!route || !field) {
        lg_ctx_refuse (&ctx, LGWAN__V1__CODE__INVALID_ARGUMENT, "X.3",
                       "request body %u is not served by %s", request->body_case,
                       self->cfg.service);
        goto done;
    }
    *body_name = field->name;
    ctx.requirement = route->requirement;
    if (!known) {
        lg_ctx_refuse (&ctx, LGWAN__V1__CODE__UNAUTHENTICATED, "X.3", "certificate not allowed");
        goto done;
    }
    lg_caller_t caller = *known;
    ctx.caller = &caller;
    int roles = route->roles;
    if (route->body_case == LGWAN__V1__REQUEST__BODY_REPLAY)
        roles = self->outbox? lg_outbox_stream_roles (self->outbox): 0;
    if (!(caller.role & roles)) {
        lg_ctx_refuse (&ctx, LGWAN__V1__CODE__PERMISSION_DENIED, "X.3",
                       "role %s may not call %s", caller.role_name, field->name);
        goto done;
    }
    if (!common && s_refuse_past_bigint (&ctx, route, field))
        goto done;
    if (for_worker && !s_on_reactor (self, route)) {
        *for_worker = true;
        lgwan__v1__reply__free_unpacked (ctx.reply, NULL);
        ctx.reply = NULL;
        goto done;
    }
    char actor [LG_ACTOR_MAX + 96];     //  a service's, or role:operator_id
    s_actor (&caller, request, actor, sizeof actor);
    ctx.actor = actor;
    ctx.now_us = lg_clock_now_us ();
    //  Stats answers without the database too: it says whether it is there
    if (route->body_case != LGWAN__V1__REQUEST__BODY_STATS && lg_db_ensure (self->db)) {
        lg_ctx_refuse (&ctx, LGWAN__V1__CODE__UNAVAILABLE, NULL, "database unavailable");
        goto done;
    }
    if (route->kind == LG_ROUTE_READ) {
        rc = route->handler (&ctx);
        if (rc)
            s_clear_body (ctx.reply);
        if (rc == -2 && !lg_db_is_up (self->db) && lg_db_ensure (self->db) == 0) {
            //  Point 5: the connection was lost under the read; once more
            atomic_fetch_add (&s_reconnect_reruns, 1);
            if ((rc = route->handler (&ctx)))
                s_clear_body (ctx.reply);
        }
        if (rc == 0)
            s_set_status (ctx.reply, LGWAN__V1__CODE__OK, NULL, "");
        else
        if (rc == -2)
            lg_ctx_refuse (&ctx, lg_db_is_up (self->db)? LGWAN__V1__CODE__INTERNAL:
                           LGWAN__V1__CODE__UNAVAILABLE, NULL, lg_db_is_up (self->db)?
                           "internal error": "database unavailable");
    }
    else
        s_run_write (self, &ctx, route, payload);
done:
    if (request)
        protobuf_c_message_free_unpacked (&request->base, NULL);
    return ctx.reply;
}

//  Send a reply on the ROUTER: [identity] [delimiter if it came with one] [reply]
static void
s_send_reply (lg_server_t *self, zframe_t **identity_p, bool delimiter, zframe_t **reply_p)
{
    zmsg_t *out = zmsg_new ();
    zmsg_append (out, identity_p);
    if (delimiter)
        zmsg_addmem (out, NULL, 0);
    zmsg_append (out, reply_p);
    zmsg_send (&out, self->router);
}

static void
s_log_refusal (lg_reply_t *reply, const char *body_name)
{
    if (reply->status && reply->status->code != LGWAN__V1__CODE__OK)
        lg_debug ("%s: %s %s", body_name? body_name: "request",
                  protobuf_c_enum_descriptor_get_value (&lgwan__v1__code__descriptor,
                                                        reply->status->code)->name,
                  reply->status->message);
}

//  A refusal the reactor makes of a request it does not run (the queue is
//  full; it waited for a worker too long; its caller was revoked while it
//  waited): not stored, so the same request may be sent again. Its
//  request_id is echoed
static lg_reply_t *
s_not_run (zframe_t *payload, lg_code_t code, const char *message)
{
    lg_reply_t *reply = (lg_reply_t *) malloc (sizeof (lg_reply_t));
    lgwan__v1__reply__init (reply);
    s_echo_request_id (reply, payload);
    s_set_status (reply, code, "X.3", message);
    return reply;
}

//  Count, log and send a reply made in the reactor, and free it
static void
s_answer (lg_server_t *self, zframe_t **identity_p, bool delimiter, lg_reply_t **reply_p,
          const char *body_name, int64_t took_us)
{
    lg_reply_t *reply = *reply_p;
    s_count (self, reply->status? (int) reply->status->code: 0, body_name, took_us);
    s_log_refusal (reply, body_name);
    zframe_t *frame = lg_codec_frame (&reply->base);
    s_send_reply (self, identity_p, delimiter, &frame);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    *reply_p = NULL;
}

//  Answer a job taken from the queue that is not to run, with code and
//  message, and destroy it. Counted under its request's name, with the time
//  it waited; logged at WARNING when warn (each one), else only at DEBUG
//  as any refusal (s_answer)
static void
s_refuse_job (lg_server_t *self, s_job_t **job_p, lg_code_t code, const char *message,
              bool warn)
{
    zmsg_t *msg = (*job_p)->msg;
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *flag = zmsg_pop (msg);
    zframe_t *who = zmsg_pop (msg);
    zframe_t *payload = zmsg_pop (msg);
    lg_reply_t *reply = s_not_run (payload, code, message);
    if (warn)
        lg_warning ("request %s (%s): %s", *reply->request_id? reply->request_id:
                    "(no request_id)", (*job_p)->body_name, message);
    s_answer (self, &identity, zframe_size (flag) == 1 && zframe_data (flag) [0] == 'r',
              &reply, (*job_p)->body_name, (zclock_mono () - (*job_p)->arrived) * 1000);
    zframe_destroy (&identity);
    zframe_destroy (&flag);
    zframe_destroy (&who);
    zframe_destroy (&payload);
    s_job_destroy (job_p);
}

//  The jobs answered busy for their age since the last call, in one line:
//  under sustained overload one each was a WARNING line per request, the
//  log growing with the load it reported. Called once a second
//  (s_on_second) and as the server goes
static void
s_log_aged (lg_server_t *self)
{
    if (self->aged)
        lg_warning ("%" PRIu64 " request%s waited longer than LG_MAX_QUEUE_MS (%" PRId64 " ms)"
                    " for a worker, the longest %" PRId64 " ms: answered busy, not run (each"
                    " one at DEBUG)", self->aged, self->aged == 1? "": "s",
                    self->cfg.max_queue_ms, self->aged_longest_ms);
    self->aged = 0;
    self->aged_longest_ms = 0;
}

static int
s_on_second (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_log_aged ((lg_server_t *) arg);
    return 0;
}

//  Jobs at the head of the queue that waited longer than LG_MAX_QUEUE_MS
//  are answered busy, unrun: their client's try is over (a try is
//  LG_CLIENT_TRY_MS by default, a little less than the bound), and its
//  retry, the same request_id, waits behind them. Run, they would commit a
//  change their client had been told was not made, long after it. The log
//  sums them up (s_log_aged)
static void
s_shed_aged (lg_server_t *self)
{
    s_job_t *job;
    while ((job = (s_job_t *) zlist_first (self->waiting))) {
        int64_t waited = zclock_mono () - job->arrived;
        if (waited <= self->cfg.max_queue_ms)
            break;
        zlist_pop (self->waiting);
        self->waiting_bytes -= job->size;
        char message [200];
        snprintf (message, sizeof message, "busy: waited %" PRId64 " ms for a worker, longer"
                  " than LG_MAX_QUEUE_MS (%" PRId64 " ms) allows; not run, try again",
                  waited, self->cfg.max_queue_ms);
        s_refuse_job (self, &job, LGWAN__V1__CODE__UNAVAILABLE, message, false);
        self->aged++;
        if (waited > self->aged_longest_ms)
            self->aged_longest_ms = waited;
    }
}

//  The next job of the queue to run, or NULL. Its caller is looked up
//  again (lg_auth.h note 2): a certificate revoked while its request waited
//  is refused here as it would have been on arrival, not trusted because it
//  was allowed then (the worker runs with the caller it is handed)
static zmsg_t *
s_next_job (lg_server_t *self)
{
    while (true) {
        s_shed_aged (self);
        s_job_t *job = (s_job_t *) zlist_pop (self->waiting);
        if (!job)
            return NULL;
        self->waiting_bytes -= job->size;
        lg_caller_t caller;
        if (self->auth && lg_auth_caller (self->auth, zmsg_last (job->msg), &caller)) {
            //  A security event, and rare: a line each
            s_refuse_job (self, &job, LGWAN__V1__CODE__UNAUTHENTICATED, "certificate not"
                          " allowed: revoked while the request waited for a worker", true);
            continue;
        }
        zmsg_t *msg = job->msg;
        job->msg = NULL;
        s_job_destroy (&job);
        return msg;
    }
}

//  Hand a job to a free worker, or queue it; false when the queue is full
//  (the caller answers busy). body_name is the request body's (static)
static bool
s_dispatch (lg_server_t *self, zmsg_t **job_p, const char *body_name)
{
    for (size_t i = 0; i < self->n_workers; i++)
        if (!self->busy [i]) {
            self->busy [i] = true;
            zmsg_send (job_p, self->workers [i]);
            return true;
        }
    //  Bounded in count and in bytes (LG_MAX_WAITING, LG_MAX_WAITING_MB):
    //  the reactor drains the ROUTER whatever the workers do, so without a
    //  bound a client sending while every worker waits (a held lock, a
    //  database away) grew the process without end. Jobs past their age
    //  hold no place
    s_shed_aged (self);
    size_t size = zmsg_content_size (*job_p);
    if ((int64_t) zlist_size (self->waiting) >= self->cfg.max_waiting
    ||  self->waiting_bytes + size > (size_t) self->cfg.max_waiting_mb * 1024 * 1024)
        return false;
    s_job_t *job = (s_job_t *) zmalloc (sizeof (s_job_t));
    job->msg = *job_p;
    job->size = size;
    job->arrived = zclock_mono ();
    job->body_name = body_name;
    *job_p = NULL;
    self->waiting_bytes += size;
    zlist_append (self->waiting, job);
    return true;
}

static int
s_on_request (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    lg_server_t *self = (lg_server_t *) arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return zsys_interrupted? -1: 0;
    //  [identity] [payload] from a DEALER; [identity] [empty] [payload] from a REQ
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *delimiter = zmsg_size (msg) == 2? zmsg_pop (msg): NULL;
    zframe_t *payload = zmsg_pop (msg);
    if (!identity || !payload || zmsg_size (msg) || (delimiter && zframe_size (delimiter))) {
        lg_warning ("dropped a request of unexpected shape");
        goto cleanup;
    }
    //  Who asks is known only here: metadata rides on the frames of the
    //  CURVE connection, not on what we pass to a worker
    lg_caller_t caller;
    bool known = self->auth && lg_auth_caller (self->auth, payload, &caller) == 0;
    const char *body_name = NULL;
    bool for_worker = false;
    int64_t started = zclock_usecs ();
    lg_reply_t *reply = s_process (self, payload, known? &caller: NULL, &body_name,
                                   self->n_workers? &for_worker: NULL);
    if (for_worker) {
        zmsg_t *job = zmsg_new ();
        zmsg_append (job, &identity);
        zmsg_addmem (job, delimiter? "r": "d", 1);
        zmsg_addmem (job, &caller, sizeof caller);
        zmsg_append (job, &payload);
        if (s_dispatch (self, &job, body_name))
            goto cleanup;
        //  Not taken: its frames back, to answer busy
        identity = zmsg_pop (job);
        for (int i = 0; i < 2; i++) {
            zframe_t *what = zmsg_pop (job);    //  the reply's shape, the caller
            zframe_destroy (&what);
        }
        payload = zmsg_pop (job);
        zmsg_destroy (&job);
        char message [128];
        snprintf (message, sizeof message, "busy: %zu requests wait for a worker; try again",
                  zlist_size (self->waiting));
        reply = s_not_run (payload, LGWAN__V1__CODE__UNAVAILABLE, message);
    }
    s_answer (self, &identity, delimiter != NULL, &reply, body_name, zclock_usecs () - started);
cleanup:
    zframe_destroy (&identity);
    zframe_destroy (&delimiter);
    zframe_destroy (&payload);
    zmsg_destroy (&msg);
    return 0;
}

//  A worker thread: its own connection and outbox, the same handlers. Jobs
//  come as [identity] [r|d] [caller] [payload]; answers go back as
//  [identity] [r|d] [reply] [code] [microseconds] [body name] then the
//  events it committed as [topic] [event] pairs, for the reactor to publish.
static void
s_worker (zsock_t *pipe, void *args)
{
    s_worker_args_t *a = (s_worker_args_t *) args;
    lg_db_t *db = lg_db_new (a->cfg.db, a->cfg.service);
    lg_outbox_t *outbox = lg_outbox_new (a->cfg.service, db, NULL, a->cfg.key_file, NULL,
                                         a->stream_roles, 0);
    lg_server_t *core = (lg_server_t *) zmalloc (sizeof (lg_server_t));
    core->cfg = a->cfg;
    core->db = db;
    core->outbox = outbox;
    core->routes = a->routes;
    core->state = a->state;
    core->by_request = zhashx_new ();
    zsock_signal (pipe, 0);
    while (outbox) {
        zmsg_t *job = zmsg_recv (pipe);
        if (!job)
            break;
        zframe_t *identity = zmsg_pop (job);
        if (!identity || zframe_streq (identity, "$TERM")) {
            zframe_destroy (&identity);
            zmsg_destroy (&job);
            break;
        }
        zframe_t *flag = zmsg_pop (job);
        zframe_t *who = zmsg_pop (job);
        zframe_t *payload = zmsg_pop (job);
        lg_caller_t caller;
        bool known = who && zframe_size (who) == sizeof caller;
        if (known)
            memcpy (&caller, zframe_data (who), sizeof caller);
        const char *body_name = NULL;
        int64_t started = zclock_usecs ();
        lg_reply_t *reply = s_process (core, payload, known? &caller: NULL, &body_name, NULL);
        int64_t took = zclock_usecs () - started;
        int32_t code = reply->status? (int32_t) reply->status->code: 0;
        s_log_refusal (reply, body_name);
        zmsg_t *out = zmsg_new ();
        zmsg_append (out, &identity);
        zmsg_append (out, &flag);
        zframe_t *frame = lg_codec_frame (&reply->base);
        zmsg_append (out, &frame);
        zmsg_addmem (out, &code, sizeof code);
        zmsg_addmem (out, &took, sizeof took);
        zmsg_addstr (out, body_name? body_name: "");
        zmsg_t *events = lg_outbox_take (outbox);
        zframe_t *event;
        while ((event = zmsg_pop (events)))
            zmsg_append (out, &event);
        zmsg_destroy (&events);
        zmsg_send (&out, pipe);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        zframe_destroy (&who);
        zframe_destroy (&payload);
        zmsg_destroy (&job);
    }
    zhashx_destroy (&core->by_request);
    free (core);
    lg_outbox_destroy (&outbox);
    lg_db_destroy (&db);
    //  Now, not in the thread's exit handlers: zactor_destroy returns at our
    //  signal, and a process that exits at once would report OpenSSL's
    //  per-thread state (from the digests above) as leaked
    OPENSSL_thread_stop ();
}

//  A worker answered: reply, count, publish its events, give it the next job
static int
s_on_worker (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    lg_server_t *self = (lg_server_t *) arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return zsys_interrupted? -1: 0;
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *flag = zmsg_pop (msg);
    zframe_t *frame = zmsg_pop (msg);
    zframe_t *code = zmsg_pop (msg);
    zframe_t *took = zmsg_pop (msg);
    char *body_name = zmsg_popstr (msg);
    if (identity && flag && frame && code && zframe_size (code) == sizeof (int32_t)
    &&  took && zframe_size (took) == sizeof (int64_t)) {
        int32_t c;
        int64_t t;
        memcpy (&c, zframe_data (code), sizeof c);
        memcpy (&t, zframe_data (took), sizeof t);
        s_count (self, c, body_name && *body_name? body_name: NULL, t);
        bool delimiter = zframe_size (flag) == 1 && zframe_data (flag) [0] == 'r';
        s_send_reply (self, &identity, delimiter, &frame);
        if (self->outbox)
            lg_outbox_publish (self->outbox, msg);
    }
    zframe_destroy (&identity);
    zframe_destroy (&flag);
    zframe_destroy (&frame);
    zframe_destroy (&code);
    zframe_destroy (&took);
    zstr_free (&body_name);
    zmsg_destroy (&msg);
    for (size_t i = 0; i < self->n_workers; i++)
        if (zactor_sock (self->workers [i]) == reader) {
            zmsg_t *job = s_next_job (self);
            if (job)
                zmsg_send (&job, self->workers [i]);
            else
                self->busy [i] = false;
        }
    return 0;
}

int
lg_server_attach (lg_server_t *self, zloop_t *loop)
{
    //  Workers start here, once the outbox (and so the stream roles) is known
    size_t count = (size_t) self->cfg.workers;
    if (count && !self->workers) {
        self->worker_args = (s_worker_args_t) { self->cfg, self->routes, self->state,
            self->outbox? lg_outbox_stream_roles (self->outbox): 0 };
        self->workers = (zactor_t **) calloc (count, sizeof (zactor_t *));
        self->busy = (bool *) calloc (count, sizeof (bool));
        self->waiting = zlist_new ();
        for (size_t i = 0; i < count; i++) {
            self->workers [i] = zactor_new (s_worker, &self->worker_args);
            zloop_reader (loop, zactor_sock (self->workers [i]), s_on_worker, self);
        }
        self->n_workers = count;
        zloop_timer (loop, 1000, 0, s_on_second, self);
    }
    return zloop_reader (loop, self->router, s_on_request, self);
}

//  Stats: counters since start, answered by every service
static Lgwan__V1__StatsCounter **
s_counters (size_t count)
{
    return (Lgwan__V1__StatsCounter **) calloc (count? count: 1, sizeof (void *));
}

static Lgwan__V1__StatsCounter *
s_counter (const char *name, uint64_t count)
{
    Lgwan__V1__StatsCounter *counter = (Lgwan__V1__StatsCounter *) malloc (sizeof *counter);
    lgwan__v1__stats_counter__init (counter);
    counter->name = lg_strdup (name);
    counter->count = count;
    return counter;
}

static int
s_stats (lg_ctx_t *ctx)
{
    lg_server_t *self = ctx->server;
    Lgwan__V1__StatsReply *stats = (Lgwan__V1__StatsReply *) malloc (sizeof *stats);
    lgwan__v1__stats_reply__init (stats);
    stats->service = lg_strdup (self->cfg.service);
    stats->uptime_seconds = (uint64_t) ((zclock_mono () - self->started_mono) / 1000);
    stats->requests = self->requests;
    PGresult *head = lg_db_exec (ctx->db, "SELECT seq FROM outbox_head WHERE id = 1", 0, NULL);
    if (head && PQresultStatus (head) == PGRES_TUPLES_OK && PQntuples (head) == 1)
        stats->outbox_head_seq = strtoull (lg_db_value (head, 0, "seq"), NULL, 10);
    PQclear (head);
    char started [40];
    lg_clock_format (self->started_us, started, sizeof started);
    stats->started_at = lg_strdup (started);
    stats->by_code = s_counters (MAX_CODES);
    for (int code = 0; code < MAX_CODES; code++)
        if (self->by_code [code])
            stats->by_code [stats->n_by_code++] = s_counter (
                protobuf_c_enum_descriptor_get_value (&lgwan__v1__code__descriptor, code)->name,
                self->by_code [code]);
    stats->by_request = s_counters (zhashx_size (self->by_request));
    for (s_tally_t *tally = (s_tally_t *) zhashx_first (self->by_request); tally;
         tally = (s_tally_t *) zhashx_next (self->by_request)) {
        Lgwan__V1__StatsCounter *counter =
            s_counter ((const char *) zhashx_cursor (self->by_request), tally->count);
        counter->total_micros = tally->total_us;
        stats->by_request [stats->n_by_request++] = counter;
    }
    uint64_t reruns = atomic_load (&s_reruns);
    if (reruns)
        lg_stats_add (stats, "requests.rerun_after_conflict", reruns);
    reruns = atomic_load (&s_reconnect_reruns);
    if (reruns)
        lg_stats_add (stats, "requests.rerun_after_reconnect", reruns);
    uint64_t connects, losses;
    lg_db_counts (&connects, &losses);
    lg_stats_add (stats, "database.up", lg_db_is_up (ctx->db)? 1: 0);
    lg_stats_add (stats, "database.connects", connects);
    lg_stats_add (stats, "database.connections_lost", losses);
    //  Stats is always answered in the reactor, where the service's own
    //  counters live (s_on_reactor)
    if (self->stats_fn)
        self->stats_fn (self->stats_arg, stats);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_STATS;
    ctx->reply->stats = stats;
    return 0;
}

//  Replay: outbox rows from a seq, for consumers catching up
static int
s_replay (lg_ctx_t *ctx)
{
    if (!ctx->outbox)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__FAILED_PRECONDITION, "X.2",
                              "%s has no event stream", ctx->server->cfg.service);
    const Lgwan__V1__Replay *ask = ctx->request->replay;
    Lgwan__V1__ReplayReply *replay = (Lgwan__V1__ReplayReply *) malloc (sizeof *replay);
    lgwan__v1__replay_reply__init (replay);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    ctx->reply->replay = replay;
    return lg_outbox_replay (ctx->outbox, ask->from_seq, ask->limit, replay);
}

//  Cursors: what this service has consumed of others, for `lgwanctl verify`
static int
s_cursors (lg_ctx_t *ctx)
{
    PGresult *res = lg_db_exec (ctx->db,
        "SELECT source, last_seq, head_seq, head_hash,"
        " to_char (updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        " AS updated_at FROM cursors ORDER BY source", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        int rc = lg_ctx_sql_error (ctx, res);
        PQclear (res);
        return rc;
    }
    Lgwan__V1__CursorsReply *cursors = (Lgwan__V1__CursorsReply *) malloc (sizeof *cursors);
    lgwan__v1__cursors_reply__init (cursors);
    int rows = PQntuples (res);
    cursors->cursors = (Lgwan__V1__Cursor **) calloc (rows? rows: 1, sizeof (void *));
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__Cursor *cursor = (Lgwan__V1__Cursor *) malloc (sizeof *cursor);
        lgwan__v1__cursor__init (cursor);
        cursor->source = lg_strdup (lg_db_value (res, row, "source"));
        cursor->last_seq = strtoull (lg_db_value (res, row, "last_seq"), NULL, 10);
        cursor->head_seq = strtoull (lg_db_value (res, row, "head_seq"), NULL, 10);
        size_t size;
        uint8_t *hash = lg_db_bytes (res, row, "head_hash", &size);
        cursor->head_hash.data = (uint8_t *) malloc (size? size: 1);
        if (hash)
            memcpy (cursor->head_hash.data, hash, size);
        cursor->head_hash.len = size;
        PQfreemem (hash);
        cursor->updated_at = lg_strdup (lg_db_value (res, row, "updated_at"));
        cursors->cursors [cursors->n_cursors++] = cursor;
    }
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CURSORS;
    ctx->reply->cursors = cursors;
    return 0;
}
