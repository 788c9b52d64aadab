/*  lg_db - one PostgreSQL connection of one service, through libpq.

    1. Statements are prepared lazily, keyed by their SQL text; a reconnect
       forgets them and they are prepared again on first use.
    2. When the server goes away, calls fail fast (NULL) and the connection is
       retried with backoff (100 ms doubling to 2 s) on the next call after the
       wait; nothing blocks for long and nothing is lost (the caller's
       transaction rolled back). A server that is back is used at once: the
       first attempt after a loss is not delayed, one connection of the
       process that connects ends the others' wait, and an idle connection
       the server closed (a restart) is replaced before it is used. Over
       TCP, a database gone silent (a partition) is given up within seconds
       on both ends, not minutes (lg_db.c, note 4); one connection lost
       makes the process's idle others prove themselves before use, and
       while connecting times out the process tries one connection at a
       time (notes 2d, 2e). A connection lost inside a transaction is not
       replaced until that transaction is ended (commit, rollback), a new
       one begun or lg_db_ensure called: its statements and its COMMIT fail
       meanwhile, rather than run alone in autocommit on a new connection
       (note 2g).
    2a. No call waits longer than LG_DB_LOCK_WAIT_MS (a reactor's
       connections: lg_db_set_lock_wait) for a lock another session holds
       (an operator's open transaction, a migration, a VACUUM FULL): the
       statement fails (SQLSTATE 55P03, lg_db_busy) and the connection
       stays up. Unless the session already has a lock_timeout (the
       role's, the database's, the conninfo's options).
       A reactor's connection then gives way: for its lock wait after one
       of its statements waited that out, what it runs from its next
       transaction or statement outside one waits LG_DB_GIVE_WAY_MS at
       most. One round of a reactor (a Beat, the duties and a Stats due
       with it) ran its statements one after another, each waiting the
       whole bound for the one lock, and a Beat came 3 s after the last
       (CI saw 3,006 ms), when an enforcer leaves for another replica.
       Work that needs no lock held elsewhere runs as before; what gives
       way fails as busy, as it would have a moment later, and duties run
       again at their next period. A statement that gave way starts no new
       while, so a lock held for long costs a reactor one whole wait every
       other period, not every one.
    2b. No statement runs longer than LG_DB_STATEMENT_MS (a query that ran
       away, a plan gone wrong on a grown table): PostgreSQL cancels it
       (SQLSTATE 57014, lg_db_cancelled; an operator's pg_cancel_backend
       gives the same), its transaction rolls back and the connection stays
       up, so a worker or a reactor is not held for good. Unless the session
       has a statement_timeout of its own: the operator's knob is the role's
       (ALTER ROLE lgwan_billing SET statement_timeout = '5min'), and the
       lock wait of 2a likewise. A migration runs as long as it needs.
    2c. No transaction of ours sits idle longer than LG_DB_IDLE_IN_TX_MS
       (idle_in_transaction_session_timeout, unless the session has one):
       a process frozen in the middle of one (stopped, swapped out, a thread
       stuck) would otherwise hold its locks for good, and every write of
       the service takes the outbox head's lock last (lg_outbox.h), so one
       frozen replica would hold every other replica's writes at "busy".
       PostgreSQL ends such a session and rolls its transaction back; the
       process finds the connection lost when it wakes, and a write runs
       again on a new one (lg_server.h point 5).
    3. Migrations are numbered and forward-only, embedded in the binary, and
       applied at start under an advisory lock, so replicas may start together.
    4. A service connects as its own role, lgwan_<service>, which owns its own
       schema and has no rights on another's (lg_db_bootstrap, run by an admin).
*/
#ifndef LG_DB_H_INCLUDED
#define LG_DB_H_INCLUDED

typedef struct {
    int version;            //  0 ends an array
    const char *name;
    const char *sql;
} lg_migration_t;

//  conninfo is a libpq connection string; schema becomes the search_path.
lg_db_t *lg_db_new (const char *conninfo, const char *schema);
void lg_db_destroy (lg_db_t **self_p);

//  For the connections a reactor uses, which must not hold it long: bytes
//  sent and not acknowledged for ms give the connection up (libpq's
//  tcp_user_timeout, 10 s by default, lg_db.c note 4), unless the conninfo
//  sets tcp_user_timeout itself. Applies from the next connect.
void lg_db_set_user_timeout (lg_db_t *self, int ms);

//  The longest a statement waits for a lock (note 2a): below a client's
//  2.5 s try (lg_client.h), so a caller held up by a lock hears "busy" and
//  not a timeout. A reactor's connections wait less (lg_db_set_lock_wait).
#define LG_DB_LOCK_WAIT_MS 2000

//  The longest a statement runs (note 2b): far above any statement of ours
//  at the sizes benchmarked (a billing run's largest, 2.3 s at 10,000
//  providers), so only one that ran away meets it.
#define LG_DB_STATEMENT_MS 30000

//  The longest a transaction of ours sits idle between statements (note 2c):
//  our gaps are the C work between statements, milliseconds (a billing run
//  computes its 10,000 invoices in 0.2 s), so only a frozen process meets it.
#define LG_DB_IDLE_IN_TX_MS 10000

//  For the connections a reactor uses: wait at most ms for a lock (note
//  2a), unless the session has a lock_timeout of its own, and give way
//  after a wait that long. Applies from the next connect; ms is above
//  LG_DB_GIVE_WAY_MS.
void lg_db_set_lock_wait (lg_db_t *self, int ms);

//  How long a reactor's connection waits for a lock while it gives way
//  (note 2a): a worker's row lock, held for the few statements of a
//  request, is waited for; a table an operator locked is not.
#define LG_DB_GIVE_WAY_MS 50

//  Connect now if down and the backoff allows; 0 when connected. A
//  transaction whose connection was lost is given up (note 2 above).
int lg_db_ensure (lg_db_t *self);

//  True while the connection is believed healthy.
bool lg_db_is_up (lg_db_t *self);

//  Run a statement with text parameters (NULL = SQL NULL). Returns a result
//  the caller PQclear()s, which may carry an SQL error; NULL when the
//  connection is lost (the database is then down until lg_db_ensure).
PGresult *lg_db_exec (lg_db_t *self, const char *sql, int nparams, const char *const *params);

//  As lg_db_exec, but true only for PGRES_COMMAND_OK / PGRES_TUPLES_OK; the
//  result is cleared.
bool lg_db_run (lg_db_t *self, const char *sql, int nparams, const char *const *params);

//  Pipelining (libpq pipeline mode), for transactions of many statements:
//  while on, lg_db_run, lg_db_begin and rollback queue their statement
//  (true / 0 when queued); lg_db_exec sends its statement with everything
//  queued and waits once: one round trip. If a queued statement failed, the
//  result lg_db_exec returns is that failure (so its SQL error is mapped
//  like any other) and the transaction is aborted. lg_db_commit sends COMMIT
//  and waits. lg_db_pipeline_end waits for what is left and leaves the mode:
//  0 when all succeeded, -1 when one failed or the connection was lost.
int lg_db_pipeline_begin (lg_db_t *self);
int lg_db_pipeline_end (lg_db_t *self);

//  Transactions; 0 ok, -1 failed (connection lost or error). Between
//  lg_db_begin and its commit or rollback, a lost connection makes every
//  statement fail (NULL, false, -1) without connecting again (note 2).
int lg_db_begin (lg_db_t *self);
int lg_db_commit (lg_db_t *self);
void lg_db_rollback (lg_db_t *self);

//  Last error text of this connection (never NULL).
const char *lg_db_error (lg_db_t *self);

//  True when the last failure was a serialization failure (40001) or a
//  deadlock (40P01) and the connection is up: the transaction was rolled
//  back by PostgreSQL and running it again may succeed.
bool lg_db_retryable (lg_db_t *self);

//  True when the last failure was a lock another session held longer than
//  the session's lock_timeout (55P03; note 2a) and the connection is up:
//  nothing is wrong but the wait, and the caller may try again later.
bool lg_db_busy (lg_db_t *self);

//  True when the last failure was a statement cancelled (57014): it ran past
//  the session's statement_timeout (note 2b) or an operator cancelled it,
//  and the connection is up. Running it again at once would likely meet
//  the same bound.
bool lg_db_cancelled (lg_db_t *self);

//  True when the last failure was about the statement's data: a data
//  exception (class 22), an integrity constraint (23), or a refusal raised
//  by a trigger or function (P0). Any other failure, the connection up,
//  says nothing of the data: a privilege revoked (42501), a table or
//  column missing (42P01, 42703: a leader older than the schema).
bool lg_db_data_error (lg_db_t *self);

//  True when the last failure came from the server's state, not from the
//  statement or its data: out of disk, memory or a configured limit (class
//  53), an I/O or system error (58), shutting down (57P), an internal error
//  (XX), or an outcome not known (40003); the connection is up. The same
//  statement may well work later; a caller that would otherwise give up on
//  the data for good waits instead.
bool lg_db_short_of_resources (lg_db_t *self);

//  True when the connection was lost since this transaction began (it is
//  down now). Nothing of the transaction is committed unless its COMMIT was
//  sent; whether that took effect is not known.
bool lg_db_lost (lg_db_t *self);

//  Of every connection of the process since it started: connects made, and
//  connections lost after being up.
void lg_db_counts (uint64_t *connects, uint64_t *losses);

//  Test hook (fault point write_commit_result_lost): the next pipelined
//  COMMIT takes effect, then the connection breaks before its result is read.
void lg_db_fault_lose_commit_result (lg_db_t *self);

//  SQLSTATE of a failed result, or "" .
const char *lg_db_sqlstate (const PGresult *res);

//  bytea as a text parameter ("\\x..."); caller frees.
char *lg_db_hex (const void *data, size_t size);

//  bytea column of a row, decoded; caller PQfreemem()s; NULL when SQL NULL.
uint8_t *lg_db_bytes (const PGresult *res, int row, const char *column, size_t *size);

//  Text of a column by name, or NULL when SQL NULL or no such column/row.
const char *lg_db_value (const PGresult *res, int row, const char *column);

//  The same as an unsigned integer (0 when NULL), and as a heap copy for a
//  reply field ("" when NULL; freed with the reply).
uint64_t lg_db_u64 (const PGresult *res, int row, const char *column);
char *lg_db_strdup (const PGresult *res, int row, const char *column);

//  LISTEN on channel ([a-z_]+), connecting first if down. The connection
//  is then kept for that alone: its socket (PQsocket of lg_db_conn) turns
//  readable when a notification arrives, and lg_db_notified drains them.
//  A reconnect does not listen again: the caller does, when lg_db_notified
//  said the connection was lost. 0 listening, -1 down (try again later).
int lg_db_listen (lg_db_t *self, const char *channel);

//  The notifications waiting on a listening connection, drained: their
//  count, and the highest of their payloads read as decimal numbers (0 when
//  none is one); -1 when the connection is lost (it is down from then on).
int lg_db_notified (lg_db_t *self, uint64_t *highest);

//  Raw connection (for PQsocket polling and tests); NULL when down.
PGconn *lg_db_conn (lg_db_t *self);

//  Apply the common tables and then the service's migrations, each once, in
//  one transaction each, under an advisory lock. 0 ok, -1 failed (logged).
int lg_db_migrate (lg_db_t *self, const lg_migration_t *migrations);

//  As an administrator: create role lgwan_<service> (LOGIN, password if not
//  NULL) and schema <service> owned by it, closed to everybody else, in one
//  transaction. A role or schema that exists is kept; when the service could
//  not use it (a role that may not log in, a schema another role owns) it is
//  -1 with why, and nothing is done; so is a database it may not prepare
//  (lg_db_bootstrap_database). service must be [a-z]+. 0 ok, -1 with why;
//  -2 with why when the server does not answer (PQping: nothing listening,
//  or it takes no connections now), so nothing was done and the same may
//  be tried again; a server that answered and refused the role or the
//  password is -1.
int lg_db_bootstrap (const char *admin_conninfo, const char *service,
                     const char *password, char *why, size_t why_size);

//  The database admin_conninfo names, when lg_db_bootstrap may prepare it:
//  named in it (without dbname libpq takes the user's name, postgres say),
//  and neither postgres nor template0/1. Caller frees; NULL with why.
//  lg_db_bootstrap asks it first.
char *lg_db_bootstrap_database (const char *admin_conninfo, char *why, size_t why_size);

//  Self test (needs LG_TEST_PGHOST; skipped in-process otherwise)
void lg_db_test (bool verbose);

#endif
