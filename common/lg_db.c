/*  lg_db - one PostgreSQL connection of one service, through libpq.

    See lg_db.h for what it guarantees. Notes on how:
    1. Every statement goes through PQprepare once per connection and then
       PQexecPrepared with text parameters: SQL text is never built from data.
    2. A result of NULL, or a fatal result with the connection in
       CONNECTION_BAD, marks the database down. lg_db_ensure reconnects no
       sooner than the backoff allows, so a dead server costs each request one
       clock read, not one connect attempt. Three exceptions, so that a server
       that is back is used at once:
       a. The first attempt after losing a connection that was up is made
          at once (a restarted server, a terminated backend); the backoff
          starts when that attempt fails.
       b. Once any connection of the process connects, the others stop
          waiting out their backoff (s_connects: the database is back).
       c. Before an idle connection is used, its socket is polled: an idle
          connection has nothing to read, so a readable one was closed by the
          server while it waited (PostgreSQL says FATAL, then closes; the
          close may come a moment after the FATAL) or, rarely, carries a
          notice. Either way it is replaced at once, so a request never runs
          on a dead connection; a notice costs a reconnect.
       d. A connection lost is news for the process's others: whatever took
          it (a partition, a dead host) may have taken theirs, and on a
          silent network an idle connection looks alive until a statement
          waits out the user timeout (note 4). So an idle connection made
          before the latest loss of the process must answer an empty query
          within S_PROBE_MS before it is used, or it is taken for lost. One
          whose backend alone was terminated costs the others a round trip
          each, and no reconnect: a connection holding a session's state
          (the leader's advisory lock) keeps it.
       e. While connecting fails slowly, the process tries with one
          connection at a time: after an attempt that failed after
          S_SLOW_CONNECT_MS or more, none of its connections to the same
          conninfo tries again before that attempt's backoff has passed, nor
          before as long again as the attempt took (s_next_try), unless one
          has connected meanwhile (b). On a silent network each attempt
          waits out the connect timeout, and the reactor's connections would
          otherwise take turns holding it. An attempt refused at once (no
          server on the socket, one starting up) rations nothing: another
          try costs as little, and each connection's own backoff bounds it.
          Were it rationed, a server down for a few seconds would, once
          back, see every first request answered UNAVAILABLE: the reactor's
          attempts while it was down carry backoffs of up to 2 s, and would
          hold off the workers whose connections the restart closed (a).
       f. Why connecting fails goes to the log (WARNING "could not connect
          to the database", the server's or libpq's words as the DETAIL): a
          reason the process has not told since it was last connected at
          once, the same reason again once a minute while it lasts (every
          connection of the process retries, each with its own backoff, and
          would otherwise repeat it several times a second). Otherwise an
          operator saw "lost the connection" and then nothing, while a role
          dropped, a password changed or pg_hba.conf refused the service.
       g. Not inside a transaction: a connection lost between lg_db_begin
          and its commit or rollback takes the transaction with it, and a
          statement on a new connection would run alone, in autocommit,
          committed whatever became of the rest (a consumer's event applied
          without its cursor, applied again at the next try; a migration's
          SQL recorded without its first part). So until that commit or
          rollback, the next lg_db_begin or an explicit lg_db_ensure, every
          statement fails without reconnecting (NULL, -1), the COMMIT too,
          which on a new connection would have "succeeded" with nothing to
          commit.
    3. The common tables (requests, outbox, cursors) are migrations of the
       component "common"; a service's own are component <schema>. Both are
       recorded in <schema>.schema_migrations.
    4. A database reached over TCP can vanish without a word (a partition, a
       host that died): no FIN, no RST, and libpq would wait on the kernel,
       about 2 minutes for a connect and about 15 for a statement whose
       bytes are never acknowledged, with the worker stuck and, on the
       server, the backend holding its locks for as long. So connections
       get bounds the operator did not set (s_bounds; not in the conninfo,
       nor PGCONNECT_TIMEOUT, and no connection service named, whose file
       may set any of them):
       a connect gives up after 3 s, a connection whose sent bytes are not
       acknowledged for 10 s is dead, and an idle one is probed after 10 s
       (3 probes, 3 s apart). The server's side of the connection gets the
       same keepalives and user timeout (set for the session at connect), so
       a backend whose client vanished mid-transaction dies within 10 to
       20 s and its locks go with it. Over a Unix socket none of this
       applies and PostgreSQL ignores it. The reactor's connections give up
       sooner (3 s, lg_db_set_user_timeout from lg_service.c): while one of
       its calls waits, the replies the reactor sends wait with it.
*/
#include "lg_lib.h"
#include <poll.h>
#include <stdatomic.h>

#define BACKOFF_MIN_MS   100
#define BACKOFF_MAX_MS   2000

//  Successful connects of every connection of the process (note 2b), and
//  connections lost after being up (both shown by Stats)
static atomic_uint_fast64_t s_connects;
static atomic_uint_fast64_t s_losses;
static atomic_int_fast64_t s_next_try;     //  note 2e: zclock_mono
static atomic_uint_fast64_t s_next_try_of; //  for the connections of this key (lg_db_t.key)

#define S_PROBE_MS       1000           //  note 2d
#define S_SLOW_CONNECT_MS  500          //  note 2e
#define S_TELL_AGAIN_MS  60000          //  note 2f

//  Note 2f: the reason for failing to connect told last, and when
static pthread_mutex_t s_told_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_told [256];
static int64_t s_told_at;

//  Note 4: libpq options added when the conninfo does not set them
static const char *s_bounds [][2] = {
    { "connect_timeout",     "3" },
    { "keepalives",          "1" },
    { "keepalives_idle",     "10" },
    { "keepalives_interval", "3" },
    { "keepalives_count",    "3" },
    { "tcp_user_timeout",    "10000" },
};
#define S_BOUNDS (sizeof s_bounds / sizeof s_bounds [0])

struct _lg_db_t {
    char *conninfo;
    char **keywords;            //  conninfo with the bounds, for PQconnectdbParams;
    char **values;              //  NULL when the conninfo did not parse
    char server_bounds [256];   //  the session's SETs for the server's side
    size_t given;               //  keywords [0 .. given) are the conninfo's own
    char *schema;
    PGconn *conn;
    bool up;
    zhashx_t *prepared;         //  SQL text -> statement name
    char **parses;              //  per command queued since the sync: the SQL it prepares, or NULL
    int parses_size;
    unsigned next_statement;
    int64_t retry_at;           //  zclock_mono of the next connect attempt
    int backoff_ms;
    uint64_t connects_seen;     //  s_connects when this connection was lost
    uint64_t losses_seen;       //  s_losses when it was last known good (note 2d)
    uint64_t key;               //  of the conninfo (note 2e)
    bool lost;                  //  lost since this transaction began
    bool in_tx;                 //  between lg_db_begin and its commit or rollback (note 2g)
    bool lose_commit_result;    //  test hook: lg_db_fault_lose_commit_result
    bool was_connected;         //  has been connected before
    bool pipeline;              //  in libpq pipeline mode
    bool pipeline_failed;       //  a queued statement failed
    int queued;                 //  statements queued since the last sync
    char error [512];
    char sqlstate [6];          //  of the last failed statement, or ""
    int lock_wait_ms;           //  lock_timeout unless the session has one
    bool gives_way;             //  lg_db_set_lock_wait: a reactor's connection (note 2a)
    bool giving_way;            //  its session waits LG_DB_GIVE_WAY_MS now
    int64_t waited_out_at;      //  zclock_mono when a statement last waited out lock_wait_ms
};

//  Tables every service has; see lg_server.c (requests) and lg_outbox.c.
static const lg_migration_t s_common [] = {
    { 1, "requests",
      "CREATE TABLE requests (\n"
      "    caller      text NOT NULL,\n"
      "    request_id  text NOT NULL,\n"
      "    body_case   integer NOT NULL,\n"
      "    digest      bytea NOT NULL,\n"
      "    reply       bytea,\n"
      "    created_at  timestamptz NOT NULL DEFAULT now(),\n"
      "    PRIMARY KEY (caller, request_id)\n"
      ");\n" },
    { 2, "outbox",
      "CREATE TABLE outbox (\n"
      "    seq          bigint PRIMARY KEY CHECK (seq > 0),\n"
      "    event_id     text NOT NULL UNIQUE,\n"
      "    body_case    integer NOT NULL,\n"
      "    occurred_at  timestamptz NOT NULL,\n"
      "    event        bytea NOT NULL,\n"
      "    prev_hash    bytea NOT NULL,\n"
      "    hash         bytea NOT NULL\n"
      ");\n"
      "CREATE TABLE outbox_head (\n"
      "    id    integer PRIMARY KEY CHECK (id = 1),\n"
      "    seq   bigint NOT NULL,\n"
      "    hash  bytea NOT NULL\n"
      ");\n"
      "INSERT INTO outbox_head VALUES (1, 0, '\\x');\n"
      "CREATE TABLE cursors (\n"
      "    source      text PRIMARY KEY,\n"
      "    last_seq    bigint NOT NULL DEFAULT 0,\n"
      "    head_seq    bigint NOT NULL DEFAULT 0,\n"
      "    head_hash   bytea NOT NULL DEFAULT '\\x',\n"
      "    updated_at  timestamptz NOT NULL DEFAULT now()\n"
      ");\n" },
    //  The largest head a source reported, reached or not (lg_consumer.h
    //  note 4): how far behind its consumer is
    { 3, "cursors_reported",
      "ALTER TABLE cursors ADD COLUMN reported_seq bigint NOT NULL DEFAULT 0;\n" },
    //  The hash of the event last_seq, written with it: the link the next
    //  event must name (lg_consumer.h note 8); empty in a cursor from before
    { 4, "cursors_last_hash",
      "ALTER TABLE cursors ADD COLUMN last_hash bytea NOT NULL DEFAULT '\\x';\n" },
    { 0, NULL, NULL }
};

static void
s_set_error (lg_db_t *self, const char *text)
{
    self->sqlstate [0] = 0;
    snprintf (self->error, sizeof self->error, "%s", text? text: "unknown error");
    size_t len = strlen (self->error);
    while (len && (self->error [len - 1] == '\n' || self->error [len - 1] == ' '))
        self->error [--len] = 0;
}

//  The error of a failed statement, with its SQLSTATE
static void
s_set_result_error (lg_db_t *self, const PGresult *res)
{
    s_set_error (self, PQresultErrorMessage (res));
    snprintf (self->sqlstate, sizeof self->sqlstate, "%s", lg_db_sqlstate (res));
    //  A reactor's statement waited its whole lock wait out: it gives way
    //  for a while (note 2a). One that gave way already starts no new while
    if (self->gives_way && !self->giving_way && streq (self->sqlstate, "55P03"))
        self->waited_out_at = zclock_mono ();
}

static void s_parses_reset (lg_db_t *self);

static void
s_down (lg_db_t *self)
{
    if (self->conn) {
        if (*PQerrorMessage (self->conn))
            s_set_error (self, PQerrorMessage (self->conn));
        PQfinish (self->conn);
        self->conn = NULL;
    }
    if (self->up) {
        lg_log_write (LG_LOG_WARNING, self->error, "lost the connection to the database");
        atomic_fetch_add (&s_losses, 1);
        self->lost = true;
        self->retry_at = 0;                 //  note 2a
    }
    else {
        self->retry_at = zclock_mono () + self->backoff_ms;
        self->backoff_ms = self->backoff_ms * 2 > BACKOFF_MAX_MS? BACKOFF_MAX_MS: self->backoff_ms * 2;
    }
    self->up = false;
    self->pipeline = false;
    s_parses_reset (self);
    zhashx_purge (self->prepared);
    self->connects_seen = atomic_load (&s_connects);
}

//  Note 2c: false when an idle connection has something to read
static bool
s_idle_alive (lg_db_t *self)
{
    struct pollfd pfd = { .fd = PQsocket (self->conn), .events = POLLIN };
    if (poll (&pfd, 1, 0) == 0)
        return true;
    s_set_error (self, "the server spoke on the idle connection (most likely to close it)");
    return false;
}

//  The value of keyword in the effective options, or NULL
static const char *
s_option (lg_db_t *self, const char *keyword)
{
    for (size_t i = 0; self->keywords && self->keywords [i]; i++)
        if (streq (self->keywords [i], keyword))
            return self->values [i];
    return NULL;
}

//  A whole number from an option, or -1
static long
s_option_number (lg_db_t *self, const char *keyword)
{
    const char *value = s_option (self, keyword);
    char *end = NULL;
    long number = value && *value? strtol (value, &end, 10): -1;
    return end && *end == 0 && number >= 0 && number <= 86400000? number: -1;
}

//  Note 4: the conninfo's own options plus the bounds it does not set, and
//  the server's side to match. A conninfo that does not parse is used as it
//  is, so that connecting reports what is wrong with it.
static void
s_bound (lg_db_t *self)
{
    PQconninfoOption *options = PQconninfoParse (self->conninfo, NULL);
    if (!options)
        return;
    size_t given = 0;
    for (PQconninfoOption *o = options; o->keyword; o++)
        given += o->val != NULL;
    self->keywords = (char **) calloc (given + S_BOUNDS + 1, sizeof (char *));
    self->values = (char **) calloc (given + S_BOUNDS + 1, sizeof (char *));
    size_t n = 0;
    for (PQconninfoOption *o = options; o->keyword; o++)
        if (o->val) {
            self->keywords [n] = strdup (o->keyword);
            self->values [n++] = strdup (o->val);
        }
    PQconninfoFree (options);
    self->given = n;
    //  What the operator set elsewhere stays theirs: a connection service
    //  (pg_service.conf) may set any of them, PGCONNECT_TIMEOUT the first
    const char *service = getenv ("PGSERVICE");
    if (!s_option (self, "service") && !(service && *service))
        for (size_t b = 0; b < S_BOUNDS; b++) {
            const char *env = streq (s_bounds [b][0], "connect_timeout")?
                              getenv ("PGCONNECT_TIMEOUT"): NULL;
            if (!s_option (self, s_bounds [b][0]) && !(env && *env)) {
                self->keywords [n] = strdup (s_bounds [b][0]);
                self->values [n++] = strdup (s_bounds [b][1]);
            }
        }
    const char *keepalives = s_option (self, "keepalives");
    long idle = s_option_number (self, "keepalives_idle");
    long interval = s_option_number (self, "keepalives_interval");
    long count = s_option_number (self, "keepalives_count");
    long user_timeout = s_option_number (self, "tcp_user_timeout");
    if (keepalives && !streq (keepalives, "0") && idle >= 0 && interval >= 0 && count >= 0)
        snprintf (self->server_bounds, sizeof self->server_bounds,
                  " SET tcp_keepalives_idle TO %ld; SET tcp_keepalives_interval TO %ld;"
                  " SET tcp_keepalives_count TO %ld;", idle, interval, count);
    if (user_timeout >= 0) {
        size_t len = strlen (self->server_bounds);
        snprintf (self->server_bounds + len, sizeof self->server_bounds - len,
                  " SET tcp_user_timeout TO %ld;", user_timeout);
    }
}

//  Note 2e: after an attempt begun at started failed slowly, the process's
//  next attempt waits for this connection's backoff, and at least as long
//  as the attempt took (a connect timed out on a silent network)
static void
s_ration (lg_db_t *self, int64_t started)
{
    int64_t now = zclock_mono ();
    if (now - started < S_SLOW_CONNECT_MS)
        return;
    atomic_store (&s_next_try_of, self->key);
    int64_t next = now + (now - started);
    if (next < self->retry_at)
        next = self->retry_at;
    int_fast64_t seen = atomic_load (&s_next_try);
    while (seen < next && !atomic_compare_exchange_weak (&s_next_try, &seen, next))
        ;
}

//  Note 2f: a failed connect in the log, unless the same reason was told
//  less than a minute ago; told is NULL after a connect, to start afresh
static void
s_tell (const char *told)
{
    int64_t now = zclock_mono ();
    pthread_mutex_lock (&s_told_lock);
    bool tell = told && (strncmp (s_told, told, sizeof s_told - 1) != 0
                     ||  now - s_told_at >= S_TELL_AGAIN_MS);
    if (tell || !told) {
        snprintf (s_told, sizeof s_told, "%s", told? told: "");
        s_told_at = now;
    }
    pthread_mutex_unlock (&s_told_lock);
    if (tell)
        lg_log_write (LG_LOG_WARNING, told, "could not connect to the database");
}

//  Note 2d: true when an idle connection is known good since the latest
//  loss of the process, or answers an empty query within S_PROBE_MS
static bool
s_idle_answers (lg_db_t *self)
{
    uint64_t losses = atomic_load (&s_losses);
    if (losses == self->losses_seen)
        return true;
    int64_t deadline = zclock_mono () + S_PROBE_MS;
    bool answered = false;
    if (PQsendQuery (self->conn, "") == 1 && PQflush (self->conn) == 0)
        while (true) {
            if (PQconsumeInput (self->conn) == 0)
                break;
            if (!PQisBusy (self->conn)) {
                answered = true;
                break;
            }
            int64_t left = deadline - zclock_mono ();
            if (left <= 0)
                break;
            struct pollfd pfd = { .fd = PQsocket (self->conn), .events = POLLIN };
            if (poll (&pfd, 1, (int) left) < 0 && errno != EINTR)
                break;
        }
    bool good = answered;
    PGresult *res;
    while (answered && (res = PQgetResult (self->conn))) {
        good = good && PQresultStatus (res) == PGRES_EMPTY_QUERY;
        PQclear (res);
    }
    if (good) {
        self->losses_seen = losses;
        return true;
    }
    if (!*PQerrorMessage (self->conn)) {
        char why [128];
        snprintf (why, sizeof why, "no answer from the server within %d ms, after another"
                  " connection of the process was lost", S_PROBE_MS);
        s_set_error (self, why);
    }
    return false;
}

void
lg_db_set_user_timeout (lg_db_t *self, int ms)
{
    assert (self && ms > 0);
    //  Only where the bound is ours (after the conninfo's own options)
    for (size_t i = 0; self->keywords && self->keywords [i]; i++)
        if (streq (self->keywords [i], "tcp_user_timeout") && i >= self->given) {
            free (self->values [i]);
            self->values [i] = zsys_sprintf ("%d", ms);
        }
}

void
lg_db_set_lock_wait (lg_db_t *self, int ms)
{
    assert (self && ms > LG_DB_GIVE_WAY_MS);
    self->lock_wait_ms = ms;
    self->gives_way = true;
}

lg_db_t *
lg_db_new (const char *conninfo, const char *schema)
{
    assert (conninfo);
    assert (schema);
    lg_db_t *self = (lg_db_t *) zmalloc (sizeof (lg_db_t));
    self->lock_wait_ms = LG_DB_LOCK_WAIT_MS;
    self->conninfo = strdup (conninfo);
    self->schema = strdup (schema);
    //  FNV-1a of the conninfo: which connections share a database (note 2e)
    self->key = 14695981039346656037ULL;
    for (const char *c = conninfo; *c; c++)
        self->key = (self->key ^ (uint8_t) *c) * 1099511628211ULL;
    s_bound (self);
    self->prepared = zhashx_new ();
    zhashx_set_destructor (self->prepared, (zhashx_destructor_fn *) zstr_free);
    self->backoff_ms = BACKOFF_MIN_MS;
    s_set_error (self, "not connected");
    return self;
}

void
lg_db_destroy (lg_db_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        lg_db_t *self = *self_p;
        if (self->conn)
            PQfinish (self->conn);
        zhashx_destroy (&self->prepared);
        s_parses_reset (self);
        free (self->parses);
        for (size_t i = 0; self->keywords && self->keywords [i]; i++) {
            free (self->keywords [i]);
            free (self->values [i]);
        }
        free (self->keywords);
        free (self->values);
        free (self->conninfo);
        free (self->schema);
        free (self);
        *self_p = NULL;
    }
}

//  Note 2g: true, with the error set, when this connection's transaction
//  was lost and nothing more of it may run
static bool
s_tx_lost (lg_db_t *self)
{
    if (!self->in_tx || !self->lost || self->up)
        return false;
    s_set_error (self, "the connection was lost inside a transaction: nothing more of it runs"
                       " (it was rolled back) until it is ended and a new one begun");
    return true;
}

static int s_ensure (lg_db_t *self);

int
lg_db_ensure (lg_db_t *self)
{
    //  An explicit call gives a lost transaction up (note 2g)
    if (self->in_tx && self->lost && !self->up)
        self->in_tx = false;
    return s_ensure (self);
}

//  Note 2a: a reactor's connection, between transactions, waits
//  LG_DB_GIVE_WAY_MS for a lock while it gives way and its own lock wait
//  otherwise. Changed only where the session's bound is the other of the
//  two: a lock_timeout of the session's own stays. A failed change is
//  tried again before the next statement (a lost connection is found by it)
static void
s_give_way (lg_db_t *self)
{
    bool give = self->waited_out_at && zclock_mono () - self->waited_out_at < self->lock_wait_ms;
    if (give == self->giving_way)
        return;
    int to = give? LG_DB_GIVE_WAY_MS: self->lock_wait_ms;
    int from = give? self->lock_wait_ms: LG_DB_GIVE_WAY_MS;
    char sql [200];
    snprintf (sql, sizeof sql, "SELECT set_config ('lock_timeout', '%d', false)"
              " WHERE current_setting ('lock_timeout')::interval = interval '%d ms'", to, from);
    PGresult *res = PQexec (self->conn, sql);
    if (PQresultStatus (res) == PGRES_TUPLES_OK)
        self->giving_way = give;
    PQclear (res);
}

//  Connect if down and the backoff allows; 0 when connected
static int
s_ensure (lg_db_t *self)
{
    if (s_tx_lost (self))
        return -1;
    if (self->up && self->conn && PQstatus (self->conn) == CONNECTION_OK
    && (self->pipeline || PQtransactionStatus (self->conn) != PQTRANS_IDLE
    ||  (s_idle_alive (self) && s_idle_answers (self)))) {
        if (self->gives_way && !self->pipeline
        &&  PQtransactionStatus (self->conn) == PQTRANS_IDLE)
            s_give_way (self);
        return 0;
    }
    if (self->conn)
        s_down (self);
    int64_t now = zclock_mono ();
    if (atomic_load (&s_connects) != self->connects_seen)
        ;                                   //  note 2b: try now
    else
    if (now < self->retry_at)
        return -1;
    else
    if (now < atomic_load (&s_next_try) && atomic_load (&s_next_try_of) == self->key) {
        if (!self->was_connected && !self->up)
            s_set_error (self, "not connecting yet: another connection of this process"
                               " failed to connect a moment ago");
        return -1;
    }

    self->conn = self->keywords?
        PQconnectdbParams ((const char *const *) self->keywords,
                           (const char *const *) self->values, 0):
        PQconnectdb (self->conninfo);
    if (PQstatus (self->conn) != CONNECTION_OK) {
        s_down (self);
        s_ration (self, now);
        s_tell (self->error);
        return -1;
    }
    //  Our schema only, UTC on the wire; the schema name is ours ([a-z]+);
    //  the server's side of the bounds are numbers (s_bound)
    //  The lock wait, statement and idle transaction bounds (lg_db.h notes
    //  2a - 2c), each where the session has none
    const struct { const char *name; int ms; } session_bounds [] = {
        { "lock_timeout", self->lock_wait_ms },
        { "statement_timeout", LG_DB_STATEMENT_MS },
        { "idle_in_transaction_session_timeout", LG_DB_IDLE_IN_TX_MS }
    };
    char unless_set [512];
    size_t used = 0;
    for (size_t b = 0; b < sizeof session_bounds / sizeof session_bounds [0]; b++)
        used += snprintf (unless_set + used, sizeof unless_set - used,
                          "SELECT set_config ('%s', '%d', false)"
                          " WHERE current_setting ('%s') = '0'; ", session_bounds [b].name,
                          session_bounds [b].ms, session_bounds [b].name);
    char *setup = zsys_sprintf ("%sSET search_path TO %s; SET TIME ZONE 'UTC';"
                                " SET client_min_messages TO warning;"
                                " SET application_name TO 'lgwan-%s';%s", unless_set,
                                self->schema, self->schema, self->server_bounds);
    PGresult *res = PQexec (self->conn, setup);
    zstr_free (&setup);
    bool ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    if (!ok) {
        s_down (self);
        s_ration (self, now);
        s_tell (self->error);
        return -1;
    }
    s_tell (NULL);
    if (self->was_connected)
        lg_info ("connected to the database again");
    self->was_connected = true;
    self->up = true;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->losses_seen = atomic_load (&s_losses);
    atomic_fetch_add (&s_connects, 1);
    self->giving_way = false;               //  a new session has its own lock wait
    if (self->gives_way)
        s_give_way (self);
    return 0;
}

char *
lg_db_hex (const void *data, size_t size)
{
    static const char digits [] = "0123456789abcdef";
    char *text = (char *) malloc (2 * size + 3);
    if (!text)
        return NULL;
    text [0] = '\\';
    text [1] = 'x';
    const uint8_t *bytes = (const uint8_t *) data;
    for (size_t i = 0; i < size; i++) {
        text [2 + 2 * i] = digits [bytes [i] >> 4];
        text [3 + 2 * i] = digits [bytes [i] & 15];
    }
    text [2 + 2 * size] = 0;
    return text;
}

uint8_t *
lg_db_bytes (const PGresult *res, int row, const char *column, size_t *size)
{
    int col = PQfnumber (res, column);
    *size = 0;
    if (col < 0 || PQgetisnull (res, row, col))
        return NULL;
    return PQunescapeBytea ((const unsigned char *) PQgetvalue (res, row, col), size);
}

const char *
lg_db_value (const PGresult *res, int row, const char *column)
{
    int col = PQfnumber (res, column);
    if (col < 0 || row >= PQntuples (res) || PQgetisnull (res, row, col))
        return NULL;
    return PQgetvalue (res, row, col);
}

uint64_t
lg_db_u64 (const PGresult *res, int row, const char *column)
{
    const char *value = lg_db_value (res, row, column);
    return value? strtoull (value, NULL, 10): 0;
}

char *
lg_db_strdup (const PGresult *res, int row, const char *column)
{
    const char *value = lg_db_value (res, row, column);
    return strdup (value? value: "");
}

bool
lg_db_is_up (lg_db_t *self)
{
    return self->up;
}

PGconn *
lg_db_conn (lg_db_t *self)
{
    return self->up? self->conn: NULL;
}

static int s_simple (lg_db_t *self, const char *sql);

int
lg_db_listen (lg_db_t *self, const char *channel)
{
    assert (channel && *channel
            && strspn (channel, "abcdefghijklmnopqrstuvwxyz_") == strlen (channel));
    char *sql = zsys_sprintf ("LISTEN %s", channel);
    int rc = s_simple (self, sql);
    zstr_free (&sql);
    if (rc)
        s_down (self);              //  not listening: nothing else uses it
    return rc;
}

int
lg_db_notified (lg_db_t *self, uint64_t *highest)
{
    *highest = 0;
    if (!self->up || !self->conn)
        return -1;
    //  A server ending the session sends its FATAL and then closes: the
    //  close is read by a second call, while the socket is still readable
    for (int reads = 0; reads < 4; reads++) {
        if (PQconsumeInput (self->conn) == 0 || PQstatus (self->conn) != CONNECTION_OK) {
            s_down (self);
            return -1;
        }
        struct pollfd pfd = { .fd = PQsocket (self->conn), .events = POLLIN };
        if (poll (&pfd, 1, 0) != 1)
            break;
    }
    int count = 0;
    PGnotify *notify;
    while ((notify = PQnotifies (self->conn))) {
        uint64_t number = strtoull (notify->extra, NULL, 10);
        if (number > *highest)
            *highest = number;
        PQfreemem (notify);
        count++;
    }
    return count;
}

const char *
lg_db_error (lg_db_t *self)
{
    return self->error;
}

bool
lg_db_retryable (lg_db_t *self)
{
    return self->up && (streq (self->sqlstate, "40001") || streq (self->sqlstate, "40P01"));
}

bool
lg_db_busy (lg_db_t *self)
{
    return self->up && streq (self->sqlstate, "55P03");
}

bool
lg_db_cancelled (lg_db_t *self)
{
    return self->up && streq (self->sqlstate, "57014");
}

bool
lg_db_data_error (lg_db_t *self)
{
    const char *state = self->sqlstate;
    return self->up && (strncmp (state, "22", 2) == 0 || strncmp (state, "23", 2) == 0
                    ||  strncmp (state, "P0", 2) == 0);
}

bool
lg_db_short_of_resources (lg_db_t *self)
{
    const char *state = self->sqlstate;
    return self->up && (strncmp (state, "53", 2) == 0 || strncmp (state, "58", 2) == 0
                    ||  strncmp (state, "57P", 3) == 0 || strncmp (state, "XX", 2) == 0
                    ||  streq (state, "40003"));
}

void
lg_db_counts (uint64_t *connects, uint64_t *losses)
{
    *connects = atomic_load (&s_connects);
    *losses = atomic_load (&s_losses);
}

bool
lg_db_lost (lg_db_t *self)
{
    return !self->up && self->lost;
}

void
lg_db_fault_lose_commit_result (lg_db_t *self)
{
    self->lose_commit_result = true;
}

//  The test hook: COMMIT is sent and done by the server, then the
//  connection breaks before its result is read. The socket is swapped for
//  one whose peer is closed, so libpq reads the end of the stream.
static void
s_lose_result (lg_db_t *self)
{
    self->lose_commit_result = false;
    if (PQpipelineSync (self->conn) != 1 || PQflush (self->conn) != 0)
        return;
    int fd = PQsocket (self->conn);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    poll (&pfd, 1, 5000);
    zclock_sleep (50);              //  everything up to the sync is done
    int pair [2];
    if (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0) {
        close (pair [1]);
        dup2 (pair [0], fd);
        close (pair [0]);
    }
}

const char *
lg_db_sqlstate (const PGresult *res)
{
    const char *state = res? PQresultErrorField (res, PG_DIAG_SQLSTATE): NULL;
    return state? state: "";
}

//  True when a failed result means the connection is gone
static bool
s_lost (lg_db_t *self, PGresult *res)
{
    if (!res || PQstatus (self->conn) != CONNECTION_OK) {
        PQclear (res);
        s_down (self);
        return true;
    }
    return false;
}

static PGresult *s_exec_now (lg_db_t *self, const char *sql, int nparams,
                             const char *const *params);

//  The command about to be queued prepares sql (its result says whether
//  the name exists)
static void
s_parse_queued (lg_db_t *self, const char *sql)
{
    if (self->queued >= self->parses_size) {
        int size = self->queued + 64;
        char **parses = (char **) realloc (self->parses, (size_t) size * sizeof (char *));
        assert (parses);
        for (int i = self->parses_size; i < size; i++)
            parses [i] = NULL;
        self->parses = parses;
        self->parses_size = size;
    }
    self->parses [self->queued] = strdup (sql);
}

//  Nothing queued any more
static void
s_parses_reset (lg_db_t *self)
{
    for (int i = 0; i < self->parses_size && i < self->queued; i++)
        zstr_free (&self->parses [i]);
    self->queued = 0;
}

//  Sync the pipeline and read every result up to the sync point. The
//  result of the last command sent is handed back in *last when asked; if
//  any command failed, *last is the first failure instead (its SQL error is
//  what the caller must see). 0 when everything succeeded, -1 otherwise.
static int
s_pipeline_collect (lg_db_t *self, PGresult **last)
{
    if (last)
        *last = NULL;
    self->pipeline_failed = false;
    if (PQpipelineSync (self->conn) != 1) {
        s_down (self);
        return -1;
    }
    PGresult *first_error = NULL, *kept = NULL;
    int command = 0;                //  each command's results end with a NULL
    while (true) {
        PGresult *res = PQgetResult (self->conn);
        if (!res) {
            if (PQstatus (self->conn) != CONNECTION_OK) {
                PQclear (first_error);
                PQclear (kept);
                s_down (self);
                return -1;
            }
            command++;
            continue;
        }
        ExecStatusType status = PQresultStatus (res);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear (res);
            break;
        }
        //  A prepare that failed or never ran leaves its name unknown: it is
        //  prepared again at its next use. Only that one: the statements
        //  prepared before stay, and are used again (forgetting every name
        //  left each statement of the session behind at every failure)
        if ((status == PGRES_FATAL_ERROR || status == PGRES_PIPELINE_ABORTED)
        &&  command < self->queued && command < self->parses_size && self->parses [command])
            zhashx_delete (self->prepared, self->parses [command]);
        if (status == PGRES_FATAL_ERROR) {
            s_set_result_error (self, res);
            self->pipeline_failed = true;
            if (!first_error)
                first_error = res;
            else
                PQclear (res);
        }
        else
        if (status == PGRES_PIPELINE_ABORTED) {
            self->pipeline_failed = true;
            PQclear (res);
        }
        else
        if (last && command == self->queued - 1) {
            PQclear (kept);
            kept = res;
        }
        else
            PQclear (res);
    }
    s_parses_reset (self);
    if (last) {
        *last = first_error? first_error: kept;
        if (first_error)
            PQclear (kept);
    }
    else
        PQclear (first_error);
    return self->pipeline_failed? -1: 0;
}

int
lg_db_pipeline_begin (lg_db_t *self)
{
    self->sqlstate [0] = 0;
    //  Inside a transaction (a consumer pipelines its statements after
    //  BEGIN), a loss since it began still counts (note 2g)
    if (!self->in_tx)
        self->lost = false;
    if (s_ensure (self) || PQenterPipelineMode (self->conn) != 1)
        return -1;
    self->pipeline = true;
    self->pipeline_failed = false;
    s_parses_reset (self);
    return 0;
}

int
lg_db_pipeline_end (lg_db_t *self)
{
    if (!self->pipeline)
        return -1;
    int rc = 0;
    if (self->up && self->queued)
        rc = s_pipeline_collect (self, NULL);
    if (self->up && PQexitPipelineMode (self->conn) != 1)
        rc = -1;
    self->pipeline = false;
    return rc;
}

//  Queue a statement in the pipeline (preparing it first if new)
static bool
s_queue (lg_db_t *self, const char *sql, int nparams, const char *const *params)
{
    const char *name = (const char *) zhashx_lookup (self->prepared, sql);
    char fresh [24];
    if (!name) {
        snprintf (fresh, sizeof fresh, "lg%u", ++self->next_statement);
        if (PQsendPrepare (self->conn, fresh, sql, nparams, NULL) != 1)
            return false;
        s_parse_queued (self, sql);
        self->queued++;
        zhashx_insert (self->prepared, sql, strdup (fresh));
        name = fresh;
    }
    if (PQsendQueryPrepared (self->conn, name, nparams, params, NULL, NULL, 0) != 1)
        return false;
    self->queued++;
    return true;
}

//  Queue a statement without parameters and without preparing it
//  (transaction control)
static bool
s_queue_plain (lg_db_t *self, const char *sql)
{
    if (PQsendQueryParams (self->conn, sql, 0, NULL, NULL, NULL, NULL, 0) != 1)
        return false;
    self->queued++;
    return true;
}

PGresult *
lg_db_exec (lg_db_t *self, const char *sql, int nparams, const char *const *params)
{
    self->sqlstate [0] = 0;         //  what failed before is not this call's
    if (s_ensure (self))
        return NULL;
    if (self->pipeline) {
        //  This statement goes with everything queued: one round trip
        PGresult *res = NULL;
        if (!s_queue (self, sql, nparams, params)) {
            s_down (self);
            return NULL;
        }
        s_pipeline_collect (self, &res);
        return res;
    }
    return s_exec_now (self, sql, nparams, params);
}

static PGresult *
s_exec_now (lg_db_t *self, const char *sql, int nparams, const char *const *params)
{
    const char *name = (const char *) zhashx_lookup (self->prepared, sql);
    char fresh [24];
    if (!name) {
        snprintf (fresh, sizeof fresh, "lg%u", ++self->next_statement);
        PGresult *res = PQprepare (self->conn, fresh, sql, nparams, NULL);
        if (s_lost (self, res))
            return NULL;
        if (PQresultStatus (res) != PGRES_COMMAND_OK) {
            s_set_result_error (self, res);
            return res;             //  the caller sees the SQL error
        }
        PQclear (res);
        zhashx_insert (self->prepared, sql, strdup (fresh));
        name = fresh;
    }
    PGresult *res = PQexecPrepared (self->conn, name, nparams, params, NULL, NULL, 0);
    if (s_lost (self, res))
        return NULL;
    ExecStatusType status = PQresultStatus (res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        s_set_result_error (self, res);
    return res;
}

bool
lg_db_run (lg_db_t *self, const char *sql, int nparams, const char *const *params)
{
    if (self->pipeline && self->up)
        return s_queue (self, sql, nparams, params);
    PGresult *res = lg_db_exec (self, sql, nparams, params);
    bool ok = res && (PQresultStatus (res) == PGRES_COMMAND_OK
                  ||  PQresultStatus (res) == PGRES_TUPLES_OK);
    PQclear (res);
    return ok;
}

//  A plain statement without parameters (transaction control, migrations)
static int
s_simple (lg_db_t *self, const char *sql)
{
    self->sqlstate [0] = 0;
    if (s_ensure (self))
        return -1;
    PGresult *res = PQexec (self->conn, sql);
    if (s_lost (self, res))
        return -1;
    int rc = PQresultStatus (res) == PGRES_COMMAND_OK
          || PQresultStatus (res) == PGRES_TUPLES_OK? 0: -1;
    if (rc)
        s_set_result_error (self, res);
    PQclear (res);
    return rc;
}

int
lg_db_begin (lg_db_t *self)
{
    self->lost = false;
    self->in_tx = false;            //  a new transaction: note 2g starts again
    int rc;
    if (self->pipeline && self->up)
        rc = s_queue_plain (self, "BEGIN")? 0: -1;
    else
        rc = s_simple (self, "BEGIN");
    self->in_tx = rc == 0;
    return rc;
}

int
lg_db_commit (lg_db_t *self)
{
    int rc;
    if (self->pipeline && self->up) {
        rc = s_queue_plain (self, "COMMIT")? 0: -1;
        if (rc == 0 && self->lose_commit_result)
            s_lose_result (self);
        if (rc == 0)
            rc = s_pipeline_collect (self, NULL);
    }
    else
        rc = s_simple (self, "COMMIT");
    self->in_tx = false;
    return rc;
}

void
lg_db_rollback (lg_db_t *self)
{
    if (self->pipeline && self->up) {
        if (s_queue_plain (self, "ROLLBACK"))
            s_pipeline_collect (self, NULL);
    }
    else
    if (self->up)
        s_simple (self, "ROLLBACK");
    self->in_tx = false;
}

//  Apply one component's migrations that are not recorded yet
static int
s_migrate_component (lg_db_t *self, const char *component, const lg_migration_t *list)
{
    for (const lg_migration_t *m = list; m && m->version; m++) {
        char version [16];
        snprintf (version, sizeof version, "%d", m->version);
        const char *params [] = { component, version, m->name };
        PGresult *res = lg_db_exec (self,
            "SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2::integer",
            2, params);
        if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
            PQclear (res);
            return -1;
        }
        bool done = PQntuples (res) > 0;
        PQclear (res);
        if (done)
            continue;
        //  A migration (an index built over a large table) runs as long as
        //  it needs: the statement bound (lg_db.h note 2b) is for services
        if (lg_db_begin (self)
        ||  s_simple (self, "SET LOCAL statement_timeout = 0")
        ||  s_simple (self, m->sql)
        ||  !lg_db_run (self, "INSERT INTO schema_migrations (component, version, name)"
                              " VALUES ($1, $2::integer, $3)", 3, params)
        ||  lg_db_commit (self)) {
            lg_log_write (LG_LOG_ERROR, self->error, "could not apply migration %s/%03d_%s",
                          component, m->version, m->name);
            lg_db_rollback (self);
            return -1;
        }
        lg_info ("applied migration %s/%03d_%s", component, m->version, m->name);
    }
    return 0;
}

int
lg_db_migrate (lg_db_t *self, const lg_migration_t *migrations)
{
    if (lg_db_ensure (self))
        return -1;                          //  the log says why (note 2f)
    char *key = zsys_sprintf ("lgwan.migrate.%s", self->schema);
    const char *params [] = { key };
    int rc = -1;
    if (!lg_db_run (self, "SELECT pg_advisory_lock(hashtext($1))", 1, params))
        goto cleanup;
    if (s_simple (self, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " component text NOT NULL, version integer NOT NULL,"
                        " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
                        " PRIMARY KEY (component, version))") == 0
    &&  s_migrate_component (self, "common", s_common) == 0
    &&  s_migrate_component (self, self->schema, migrations) == 0)
        rc = 0;
    lg_db_run (self, "SELECT pg_advisory_unlock(hashtext($1))", 1, params);
cleanup:
    if (rc)
        lg_log_write (LG_LOG_ERROR, self->error, "could not migrate schema %s", self->schema);
    zstr_free (&key);
    return rc;
}

char *
lg_db_bootstrap_database (const char *admin_conninfo, char *why, size_t why_size)
{
    //  The maintenance database (every role's to connect to) and the
    //  templates (copied into every new database) are no platform's
    static const char *const reserved [] = { "postgres", "template0", "template1" };
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse (admin_conninfo? admin_conninfo: "", &error);
    if (!options) {
        size_t len = error? strcspn (error, "\n"): 0;
        snprintf (why, why_size, "the admin conninfo does not parse: %.*s; nothing done (X.3)",
                  (int) len, error? error: "out of memory");
        PQfreemem (error);
        return NULL;
    }
    const char *dbname = NULL;
    for (PQconninfoOption *o = options; o->keyword; o++)
        if (streq (o->keyword, "dbname") && o->val && *o->val)
            dbname = o->val;
    char *database = NULL;
    if (!dbname)
        snprintf (why, why_size, "the admin conninfo names no database (dbname=...), and"
                  " libpq would take the user's name (postgres, say): name the platform's;"
                  " nothing done (X.3)");
    else {
        for (size_t i = 0; i < sizeof reserved / sizeof reserved [0] && dbname; i++)
            if (streq (dbname, reserved [i])) {
                snprintf (why, why_size, "database %s is %s, not the platform's: name the"
                          " platform's own (dbname=...); nothing done (X.3)", dbname,
                          i == 0? "the maintenance database": "a template");
                dbname = NULL;
            }
        database = dbname? strdup (dbname): NULL;
    }
    PQconninfoFree (options);
    return database;
}

//  What the steps of lg_db_bootstrap cannot make so themselves: an existing
//  role kept as it is (it may not log in) and an existing schema kept as it
//  is (another role may own it). 0 when the service can use both, else -1
//  with why.
static int
s_bootstrap_check (PGconn *conn, const char *service, char *why, size_t why_size)
{
    char *role = zsys_sprintf ("lgwan_%s", service);
    const char *params [] = { service, role };
    PGresult *res = PQexecParams (conn,
        "SELECT r.rolcanlogin AS login, pg_get_userbyid (n.nspowner) AS owner"
        "  FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = $1"
        " WHERE r.rolname = $2", 2, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1)
        snprintf (why, why_size, "could not check role %s and schema %s: %s", role, service,
                  PQresultStatus (res) == PGRES_TUPLES_OK? "role not found":
                  PQresultErrorMessage (res));
    else {
        const char *owner = PQgetvalue (res, 0, PQfnumber (res, "owner"));
        if (!streq (PQgetvalue (res, 0, PQfnumber (res, "login")), "t"))
            snprintf (why, why_size, "role %s exists and may not log in (NOLOGIN), so %s could"
                      " not connect; nothing done (ALTER ROLE %s LOGIN, if it is the"
                      " platform's)", role, service, role);
        else
        if (!streq (owner, role))
            snprintf (why, why_size, "schema %s exists and is owned by %s, not %s, so %s could"
                      " not create its tables there; nothing done (ALTER SCHEMA %s OWNER TO %s,"
                      " if it is the platform's)", service, owner, role, service, service, role);
        else
            rc = 0;
    }
    PQclear (res);
    zstr_free (&role);
    return rc;
}

//  Whether the server db names answers, with the same bounds as a
//  connection (connect_timeout): PQPING_OK even where it then refuses the
//  role or the password. Not when nothing answers, nor when it says it takes
//  no connections now (starting, shutting down: PQPING_REJECT), which will
//  pass; a conninfo libpq would not try (PQPING_NO_ATTEMPT) is refused as
//  the server answering would be, since trying again cannot help
static bool
s_server_answers (lg_db_t *self)
{
    PGPing ping = self->keywords?
        PQpingParams ((const char *const *) self->keywords,
                      (const char *const *) self->values, 0):
        PQping (self->conninfo);
    return ping == PQPING_OK || ping == PQPING_NO_ATTEMPT;
}

int
lg_db_bootstrap (const char *admin_conninfo, const char *service, const char *password,
                 char *why, size_t why_size)
{
    size_t len = service? strlen (service): 0;
    if (len == 0 || len > 30 || strspn (service, "abcdefghijklmnopqrstuvwxyz") != len) {
        snprintf (why, why_size, "service name must be 1-30 lower-case letters");
        return -1;
    }
    char *database = lg_db_bootstrap_database (admin_conninfo, why, why_size);
    if (!database)
        return -1;
    zstr_free (&database);
    //  Connected like a service (note 4: a silent server is given up in
    //  seconds), as the admin
    lg_db_t *db = lg_db_new (admin_conninfo, service);
    if (lg_db_ensure (db)) {
        //  Whether the server answered is libpq's to say (PQping), not
        //  its message's words: a wrong password or an unknown role is the
        //  server answering, and read "could not connect" like an absent one
        bool answers = s_server_answers (db);
        snprintf (why, why_size, "%s: %s", answers? "the server refused the connection":
                  "could not connect", lg_db_error (db));
        lg_db_destroy (&db);
        return answers? -1: -2;
    }
    PGconn *conn = lg_db_conn (db);
    //  The password leaves hashed as the server would store it (its
    //  password_encryption): ALTER ROLE is logged with log_statement = ddl
    char *role = zsys_sprintf ("lgwan_%s", service);
    char *hash = password? PQencryptPasswordConn (conn, password, role, NULL): NULL;
    zstr_free (&role);
    if (password && !hash) {
        snprintf (why, why_size, "could not hash the password for lgwan_%s: %s", service,
                  PQerrorMessage (conn));
        lg_db_destroy (&db);
        return -1;
    }
    char *pw = hash? PQescapeLiteral (conn, hash, strlen (hash)): NULL;
    if (hash)
        PQfreemem (hash);
    char *dbname = PQescapeIdentifier (conn, PQdb (conn), strlen (PQdb (conn)));
    //  Identifiers cannot be parameters; the service name was checked above.
    //  One transaction: a role or schema the service could not use
    //  (s_bootstrap_check) leaves everything as it was
    char *steps [] = {
        zsys_sprintf ("SET client_min_messages TO warning"),
        zsys_sprintf ("BEGIN"),
        zsys_sprintf ("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                      "'lgwan_%s') THEN CREATE ROLE lgwan_%s LOGIN; END IF; END $$",
                      service, service),
        pw? zsys_sprintf ("ALTER ROLE lgwan_%s PASSWORD %s", service, pw): NULL,
        zsys_sprintf ("CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION lgwan_%s", service, service),
        zsys_sprintf ("REVOKE ALL ON SCHEMA %s FROM PUBLIC", service),
        zsys_sprintf ("REVOKE ALL ON SCHEMA public FROM PUBLIC"),
        zsys_sprintf ("REVOKE ALL ON DATABASE %s FROM PUBLIC", dbname),
        zsys_sprintf ("GRANT CONNECT, TEMPORARY ON DATABASE %s TO lgwan_%s", dbname, service)
    };
    size_t nsteps = sizeof steps / sizeof steps [0];
    int rc = 0;
    for (size_t i = 0; i < nsteps; i++) {
        if (!steps [i] || rc)
            continue;
        PGresult *res = PQexec (conn, steps [i]);
        if (PQresultStatus (res) != PGRES_COMMAND_OK) {
            snprintf (why, why_size, "could not create role and schema for %s: %s",
                      service, PQresultErrorMessage (res));
            rc = -1;
        }
        PQclear (res);
    }
    if (rc == 0)
        rc = s_bootstrap_check (conn, service, why, why_size);
    PGresult *res = PQexec (conn, rc == 0? "COMMIT": "ROLLBACK");
    if (rc == 0 && PQresultStatus (res) != PGRES_COMMAND_OK) {
        snprintf (why, why_size, "could not create role and schema for %s: %s",
                  service, PQresultErrorMessage (res));
        rc = -1;
    }
    PQclear (res);
    for (size_t i = 0; i < nsteps; i++)
        zstr_free (&steps [i]);
    if (pw)
        PQfreemem (pw);
    PQfreemem (dbname);
    lg_db_destroy (&db);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self test: a first example of use (runs only against a real server)

void
lg_db_test (bool verbose)
{
    if (verbose)
        printf (" * lg_db: ");
    lg_db_t *db = lg_db_new ("host=/nonexistent dbname=x connect_timeout=1", "registry");
    assert (db);
    assert (lg_db_exec (db, "SELECT 1", 0, NULL) == NULL);
    assert (!lg_db_is_up (db));
    assert (lg_db_ensure (db) == -1);       //  backing off
    lg_db_destroy (&db);
    assert (db == NULL);
    if (verbose)
        printf ("OK\n");
}
