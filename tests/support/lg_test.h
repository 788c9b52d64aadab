/*  lg_test - what integration and system tests share: a fresh database per
    test, a certificate folder, real processes, free ports.

    1. Databases. The CTest fixture `pg` (tests/support/pg_cluster.sh) runs
       one private PostgreSQL 15 cluster per test run, reachable only through
       the Unix socket folder in LG_TEST_PGHOST, with a template database
       lgwan_template that `lgwanctl db init` prepared (roles lgwan_<svc>, one
       schema per service). lg_test_db_new copies it into a database of the
       test's own; nothing a test does reaches the template or another test.
    2. Nothing real is skipped silently in CI. When PostgreSQL, a binary or
       anything else a test needs cannot start, lg_test_require_pg () and
       lg_test_unavailable () skip the test on a developer's machine and fail
       it when CI=true.
    3. Processes started with lg_test_spawn get SIGTERM when the test process
       dies, so a crashed or timed-out test leaves no service running; their
       output goes to $LG_BUILD_DIR/testlogs/<binary>-<pid>.log. A service
       stopped with SIGTERM ends with exit code 0, or the test fails: a
       test asserts it, and a group teardown (whose failures cmocka does not
       count) stops its services with lg_test_proc_teardown.
    4. One way to run a service. Tests and benchmarks start the real service
       binaries through lg_test_proc_t and nothing else: fresh ports on
       127.0.0.1 the first time (kept across restarts, so clients and
       followers need not learn new ones), the database of the test as the
       service's own role, the test's certificates, and the endpoints of the
       services it follows. What a test varies (heartbeat, faults, log level,
       a high-water mark) is an extra NAME=VALUE that wins over the rest, not
       another way to start a process. Ready means it answers Stats.

    Environment (set by tests/CMakeLists.txt):
        LG_TEST_PGHOST  socket folder of the test cluster
        LG_BUILD_DIR    top of the build tree (binaries, testlogs/)
        LG_SOURCE_DIR   top of the source tree
        CI              "true" in CI
*/
#ifndef LG_TEST_H_INCLUDED
#define LG_TEST_H_INCLUDED

#include "lg_lib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

//  The six services with a database, a key pair and a request port
extern const char *const lg_test_services [];   //  NULL ended

//  --------------------------------------------------------------------------
//  Databases

//  True when LG_TEST_PGHOST is set and the cluster answers.
bool lg_test_pg_available (void);

//  CREATE DATABASE t_<hint>_<pid>_<n> TEMPLATE lgwan_template. Returns the
//  conninfo of the new database as user postgres (caller frees with
//  lg_test_db_drop), or NULL with the reason on stderr.
char *lg_test_db_new (const char *hint);

//  Conninfo of the same database as the service's role lgwan_<service>.
//  Caller frees; NULL if admin_dsn does not parse.
char *lg_test_db_service_dsn (const char *admin_dsn, const char *service);

//  Drop the database (closing other sessions on it) and free the conninfo.
void lg_test_db_drop (char **dsn_p);

//  Wait up to timeout_ms until at least count sessions of role
//  lgwan_<service> on the database of admin_dsn wait for a lock
//  (pg_stat_activity.wait_event_type 'Lock'). Returns how many wait at the
//  end: count or more when they came in time, fewer when not, -1 when it
//  could not be read. A test that holds a lock by hand to race a request
//  with it asks this before it lets go, and asserts the count: a request
//  that came after the COMMIT gives the same reply, and proves nothing.
long lg_test_wait_lock_waiters (const char *admin_dsn, const char *service, long count,
                                int timeout_ms);

//  --------------------------------------------------------------------------
//  Not available: skip, or fail in CI (CI=true)

void lg_test_unavailable_at (const char *file, int line, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
#define lg_test_unavailable(...) lg_test_unavailable_at (__FILE__, __LINE__, __VA_ARGS__)

//  In a cmocka test or setup: the test cluster must be there.
#define lg_test_require_pg() do { \
    if (!lg_test_pg_available ()) \
        lg_test_unavailable ("PostgreSQL test cluster not reachable (LG_TEST_PGHOST=%s)", \
                             getenv ("LG_TEST_PGHOST")? getenv ("LG_TEST_PGHOST"): "unset"); \
} while (0)

//  True when CI=true.
bool lg_test_in_ci (void);

//  --------------------------------------------------------------------------
//  Certificates

//  A temporary certificate folder: services/<svc> key pairs (and outbox HMAC
//  keys) for the six services, and clients/<name>[_secret] with the public
//  part in allowed/ for: operator (operator_id alice), operator2 (bob),
//  reviewer (rita), auditor (aki), viewer, billing, sensor, enforcer (point
//  east), service, provider1 (provider_id 1), provider2 (provider_id 2); and
//  clients/stranger[_secret], a key pair that is NOT in allowed/. Returns the
//  folder (caller frees with lg_test_certs_destroy) or NULL.
char *lg_test_certs_new (void);

//  Remove the folder and free its name.
void lg_test_certs_destroy (char **dir_p);

//  The secret certificate file of enforcement point `point` (role enforcer,
//  metadata point: the only point it may speak as, X.3), made in certs the
//  first time it is asked for: clients/enforcer-<point>_secret, public part
//  in allowed/enforcer-<point>. Caller frees; NULL (the reason on stderr)
//  when it could not be made.
char *lg_test_enforcer_cert (const char *certs, const char *point);

//  --------------------------------------------------------------------------
//  Processes

//  $LG_BUILD_DIR/services/<svc>/lgwan-<svc>, and lgwanctl; caller frees.
//  NULL when LG_BUILD_DIR is not set.
char *lg_test_service_binary (const char *service);
char *lg_test_lgwanctl_binary (void);

//  Start binary (no arguments) with the current environment plus env, a
//  NULL-ended list of "NAME=VALUE" that override variables of the same name.
//  Output goes to a log file under $LG_BUILD_DIR/testlogs/. Returns the pid,
//  or -1 if it could not fork.
pid_t lg_test_spawn (const char *binary, const char *const *env);

//  As lg_test_spawn, with arguments: argv [0] is the program name.
pid_t lg_test_spawn_argv (const char *binary, const char *const *argv, const char *const *env);

//  Send sig (0 = none, just wait), wait up to timeout_ms, then SIGKILL.
//  Returns the exit code, 128 + signal number when killed by a signal, or
//  -1 if pid is not a child of ours. A non-zero result prints the tail of the
//  process's log on stderr.
int lg_test_stop (pid_t pid, int sig, int timeout_ms);

//  A group teardown's (or a bench's) stop: SIGTERM, then lg_test_stop's
//  wait (5 s). cmocka 1.1.5 prints a failed assertion or a non-zero return
//  of a group teardown ("[  FAILED  ] GROUP TEARDOWN") and still exits 0,
//  and a bench prints its figures however its services ended, so neither
//  fails by itself: when pid ends otherwise than with exit code 0
//  (128 + signal for a crash, 128 + SIGKILL when it outlived the wait, or
//  the code it exited with), this names what on stderr and the test (or
//  bench) process exits 1 at its end, as it does for a sanitizer report. The teardown goes
//  on stopping and cleaning up. Nothing is done when pid <= 0 (not running).
//  Returns the exit code (0 when not running). A stop that a test itself
//  makes is asserted there: assert_int_equal (lg_test_stop (...), 0).
int lg_test_teardown_stop (pid_t pid, const char *what);

//  Log file of a process started with lg_test_spawn, or NULL.
const char *lg_test_log_path (pid_t pid);

//  How many lines of that log contain text (0 when there is no log).
int lg_test_log_count (pid_t pid, const char *text);

//  A TCP port on 127.0.0.1 that was free a moment ago and that this process
//  has not been given before, or -1. Taken from
//  20000-31999, below Linux's ephemeral range (32768-60999), so that no
//  outgoing connection's source port can take it before our service binds.
int lg_test_free_port (void);

//  Poll ready (arg) every 20 ms until it returns true or timeout_ms passes.
bool lg_test_wait_for (bool (*ready) (void *), void *arg, int timeout_ms);

//  One query giving a digest of every row of a service's tables (in the
//  schema named as the service) but requests (where refusals are stored on
//  purpose, so that a retry gets the same answer) and cursors (how far it
//  follows others: heartbeats move it); caller frees. With lg_test_digest,
//  "a refusal changed nothing" is the same digest before and after.
char *lg_test_digest_sql (PGconn *conn, const char *service);

//  The digest that query gives now; caller frees. A failure fails the test.
char *lg_test_digest (PGconn *conn, const char *sql);

//  A paginated list read to its end. page (arg, after_id, &items, &last_id)
//  asks one page from after_id, checks its items (their order across pages
//  is arg's to keep) and returns its next_after_id; a page that says there
//  is more must end at that id. Returns how many items were listed; fails
//  the test after 1,000 pages.
typedef uint64_t (lg_test_page_fn) (void *arg, uint64_t after_id, size_t *items,
                                    uint64_t *last_id);
long lg_test_pages (lg_test_page_fn *page, void *arg);

//  --------------------------------------------------------------------------
//  Service processes

//  One service process; set service, the rest starts zeroed:
//  static lg_test_proc_t s_registry = { .service = "registry" };
typedef struct {
    const char *service;        //  registry, audit, ...
    char endpoint [256];        //  tcp://127.0.0.1:<port>, chosen on first spawn
    char pub [64];
    char netns [32];            //  if set, it runs in this network namespace
    pid_t pid;
} lg_test_proc_t;

//  Spawn the service's binary: fresh ports the first time (kept across
//  restarts), database = the database of admin_dsn as role lgwan_<service>
//  (lg_test_db_service_dsn), LG_CERT_DIR=certs, LG_<SVC>_ENDPOINT/PUB_ENDPOINT,
//  and for each process in follows (NULL-ended array, or NULL) its
//  LG_<SRC>_CONNECT and LG_<SRC>_PUB_CONNECT; then the NULL-ended extra
//  NAME=VALUE list (may be NULL), which overrides. Does not wait. pid is -1
//  when the process could not be started (the reason on stderr).
void lg_test_proc_spawn (lg_test_proc_t *proc, const char *admin_dsn, const char *certs,
                         lg_test_proc_t *const *follows, const char *const *extra);

//  As spawn, then wait up to 15 s until it answers Stats; false if not.
bool lg_test_proc_start (lg_test_proc_t *proc, const char *admin_dsn, const char *certs,
                         lg_test_proc_t *const *follows, const char *const *extra);

//  True when it answers a Stats request within 300 ms (viewer certificate).
bool lg_test_proc_answers (lg_test_proc_t *proc, const char *certs);

//  A client of proc speaking with certs/clients/<who>; caller destroys.
//  NULL if the certificates cannot be read.
lg_client_t *lg_test_proc_client (const lg_test_proc_t *proc, const char *certs, const char *who);

//  How many requests of this name (Stats, e.g. "replay") the process has
//  served; -1 when it does not answer.
long lg_test_proc_served (const lg_test_proc_t *proc, const char *certs, const char *request);

//  A PostgreSQL cluster of the test's own in dir/pg (pg_cluster.sh), for
//  tests that stop or cut it without disturbing the others: action "start"
//  (database lgwan, made if missing; options such as "--netns NS --listen
//  ADDR" added, or NULL) or "stop"; output in dir/cluster.log. Its exit code.
int lg_test_cluster (const char *dir, const char *action, const char *options);

//  Run a shell command made from format; its exit code, -1 when it could
//  not run or was killed by a signal.
int lg_test_sh (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  What a shell command made from format wrote on stdout (caller frees;
//  "" when it could not run). Add 2>&1 to the command to see stderr too.
char *lg_test_sh_output (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  Table inet lgwan in network namespace netns (which must not have one)
//  made with the nftables owner flag by a process kept running (`nft -i`
//  reading from a pipe): only that process's netlink socket may change or
//  delete the table, and it goes when the process ends. The pipe for
//  lg_test_nft_release, or NULL (the reason on stderr).
FILE *lg_test_nft_hold_owned (const char *netns);

//  End that process (and so its table); *holder_p is NULL after.
void lg_test_nft_release (FILE **holder_p);

//  One request of body_case carrying body (any member of the oneof) with
//  reason, on client; the reply (caller frees) or NULL when none came.
lg_reply_t *lg_test_call (lg_client_t *client, unsigned body_case, void *body,
                          const char *reason);

//  The same, naming actor (honoured from a service certificate only)
lg_reply_t *lg_test_call_as (lg_client_t *client, unsigned body_case, void *body,
                             const char *reason, const char *actor);

//  One request of a service for lg_test_ids_past_bigint: its body (the
//  Request member by its .proto name), a certificate the route lets make
//  it, and the requirement ID of the rule it serves (its route's)
typedef struct {
    const char *body;
    const char *who;
    const char *requirement;
} lg_test_id_request_t;

//  Every uint64 of every request of proc's service (the Request members
//  numbered lowest to highest) sent past a bigint, 2^63 and 2^64 - 1, one
//  field at a time, the rest of the body empty; every field at any depth,
//  an element of a repeated field or a field of a message field too. Each
//  must be refused INVALID_ARGUMENT naming the request's requirement and
//  the field ("disconnect.connections[0]"), and leave the service's tables
//  as they were (lg_test_digest; they must first stand still for a second,
//  15 s at most, so that what the service still writes of earlier input is
//  not taken for a change). A request of the range that holds a
//  uint64 and is not in requests ({ NULL } ended) fails the test, as does
//  an entry naming no such request. Returns how many requests were sent.
long lg_test_ids_past_bigint (const lg_test_proc_t *proc, const char *admin_dsn,
                              const char *certs, unsigned lowest, unsigned highest,
                              const lg_test_id_request_t *requests);

//  lg_test_stop (pid, sig, 5000) and pid = 0; returns its exit code (0 if
//  not running).
int lg_test_proc_stop (lg_test_proc_t *proc, int sig);

//  In a group teardown, or where a bench stops a service it started:
//  lg_test_teardown_stop of proc, named by its service, and pid = 0; returns
//  its exit code (0 if not running).
int lg_test_proc_teardown (lg_test_proc_t *proc);

//  setenv LG_<SVC>_CONNECT and LG_<SVC>_PUB_CONNECT in this process (for
//  lgwanctl run by the test).
void lg_test_proc_export (const lg_test_proc_t *proc);

#endif
