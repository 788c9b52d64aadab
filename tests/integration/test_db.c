/*  Integration tests of lg_db against the real PostgreSQL test cluster:
    per-service roles, migrations, reconnect and re-prepare.
*/
#include "lg_test.h"
#include <poll.h>

static const lg_migration_t s_none [] = { { 0, NULL, NULL } };
static const lg_migration_t s_two [] = {
    { 1, "things", "CREATE TABLE things (id integer PRIMARY KEY, name text NOT NULL)" },
    { 2, "more", "ALTER TABLE things ADD COLUMN note text" },
    { 0, NULL, NULL }
};

static char *s_admin;

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    s_admin = lg_test_db_new ("db");
    assert_non_null (s_admin);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    lg_test_db_drop (&s_admin);
    return 0;
}

static lg_db_t *
s_open (const char *service)
{
    char *dsn = lg_test_db_service_dsn (s_admin, service);
    lg_db_t *db = lg_db_new (dsn, service);
    zstr_free (&dsn);
    return db;
}

//  A connection whose conninfo sets option (name=value) for its session
static lg_db_t *
s_open_with (const char *service, const char *option)
{
    char *dsn = lg_test_db_service_dsn (s_admin, service);
    char *own = zsys_sprintf ("%s options='-c %s'", dsn, option);
    lg_db_t *db = lg_db_new (own, service);
    zstr_free (&own);
    zstr_free (&dsn);
    return db;
}

//  The session's bound name (a time setting) is ms, as PostgreSQL shows it
static void
s_bound_is (lg_db_t *db, const char *name, int ms)
{
    char expect [24];
    if (ms % 1000 == 0)
        snprintf (expect, sizeof expect, "%ds", ms / 1000);
    else
        snprintf (expect, sizeof expect, "%dms", ms);
    const char *params [] = { name };
    PGresult *res = lg_db_exec (db, "SELECT current_setting ($1) AS value", 1, params);
    assert_non_null (res);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    assert_string_equal (PQgetvalue (res, 0, 0), expect);
    PQclear (res);
}

//  Note 2a: a lock another session holds stops a statement after
//  LG_DB_LOCK_WAIT_MS, with SQLSTATE 55P03 (lg_db_busy), on a connection
//  that stays up; a lock_timeout the session has already stays
static void
test_lock_wait_bounded (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("audit");
    assert_true (lg_db_run (db, "CREATE TABLE IF NOT EXISTS held (id integer)", 0, NULL));
    //  A worker's connection
    s_bound_is (db, "lock_timeout", LG_DB_LOCK_WAIT_MS);

    lg_db_t *holder = s_open ("audit");
    assert_true (lg_db_run (holder, "BEGIN", 0, NULL));
    assert_true (lg_db_run (holder, "LOCK TABLE held IN ACCESS EXCLUSIVE MODE", 0, NULL));
    int64_t started = zclock_mono ();
    PGresult *res = lg_db_exec (db, "SELECT count (*) FROM held", 0, NULL);
    int64_t waited = zclock_mono () - started;
    assert_non_null (res);
    assert_int_equal (PQresultStatus (res), PGRES_FATAL_ERROR);
    assert_string_equal (lg_db_sqlstate (res), "55P03");
    PQclear (res);
    assert_true (lg_db_busy (db));
    assert_false (lg_db_retryable (db));
    assert_true (lg_db_is_up (db));
    assert_true (waited >= LG_DB_LOCK_WAIT_MS - 50);
    assert_true (waited < LG_DB_LOCK_WAIT_MS + 1500);

    //  In a pipelined transaction too: the queued statement's failure is
    //  what the next result says
    assert_int_equal (lg_db_pipeline_begin (db), 0);
    assert_int_equal (lg_db_begin (db), 0);
    assert_true (lg_db_run (db, "INSERT INTO held VALUES (1)", 0, NULL));
    res = lg_db_exec (db, "SELECT 1", 0, NULL);
    assert_string_equal (lg_db_sqlstate (res), "55P03");
    PQclear (res);
    assert_true (lg_db_busy (db));
    lg_db_rollback (db);
    lg_db_pipeline_end (db);

    //  Released: the same statement runs, on the same connection
    assert_true (lg_db_run (holder, "COMMIT", 0, NULL));
    assert_true (lg_db_run (db, "INSERT INTO held VALUES (2)", 0, NULL));
    assert_false (lg_db_busy (db));
    lg_db_destroy (&holder);
    lg_db_destroy (&db);

    //  A reactor's connection waits less
    db = s_open ("audit");
    lg_db_set_lock_wait (db, 500);
    holder = s_open ("audit");
    assert_true (lg_db_run (holder, "BEGIN", 0, NULL));
    assert_true (lg_db_run (holder, "LOCK TABLE held IN ACCESS EXCLUSIVE MODE", 0, NULL));
    started = zclock_mono ();
    assert_false (lg_db_run (db, "SELECT count (*) FROM held", 0, NULL));
    waited = zclock_mono () - started;
    assert_true (lg_db_busy (db));
    assert_true (waited >= 450 && waited < 1500);
    assert_true (lg_db_run (holder, "COMMIT", 0, NULL));
    lg_db_destroy (&holder);
    lg_db_destroy (&db);

    //  A session with a lock_timeout of its own keeps it
    db = s_open_with ("audit", "lock_timeout=700");
    s_bound_is (db, "lock_timeout", 700);
    lg_db_destroy (&db);
}

//  How long one statement of db takes, and that it failed busy
static int64_t
s_busy_after (lg_db_t *db, const char *sql)
{
    int64_t started = zclock_mono ();
    assert_false (lg_db_run (db, sql, 0, NULL));
    int64_t took = zclock_mono () - started;
    assert_true (lg_db_busy (db));
    assert_true (lg_db_is_up (db));
    return took;
}

//  Note 2a: a reactor's connection whose statement waited a lock out gives
//  way for its lock wait: what needs the held lock, in a statement or a
//  transaction, is busy within LG_DB_GIVE_WAY_MS, what needs none runs,
//  and after the while the whole wait comes again (one that gave way
//  started no new while). A worker's connection waits the whole bound
//  every time; a session's own lock_timeout stays
static void
test_reactor_gives_way (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("audit");
    lg_db_set_lock_wait (db, 600);
    assert_true (lg_db_run (db, "CREATE TABLE IF NOT EXISTS held (id integer)", 0, NULL));
    assert_true (lg_db_run (db, "CREATE TABLE IF NOT EXISTS free (id integer)", 0, NULL));
    s_bound_is (db, "lock_timeout", 600);
    lg_db_t *holder = s_open ("audit");
    assert_true (lg_db_run (holder, "BEGIN", 0, NULL));
    assert_true (lg_db_run (holder, "LOCK TABLE held IN ACCESS EXCLUSIVE MODE", 0, NULL));

    int64_t waited = s_busy_after (db, "SELECT count (*) FROM held");
    int64_t while_from = zclock_mono ();
    assert_in_range (waited, 550, 1500);
    //  Giving way: a statement, then a transaction pipelined as a duty's
    s_bound_is (db, "lock_timeout", LG_DB_GIVE_WAY_MS);
    assert_in_range (s_busy_after (db, "SELECT count (*) FROM held"), 0, 400);
    int64_t started = zclock_mono ();
    assert_int_equal (lg_db_pipeline_begin (db), 0);
    assert_int_equal (lg_db_begin (db), 0);
    assert_true (lg_db_run (db, "INSERT INTO held VALUES (1)", 0, NULL));
    PGresult *res = lg_db_exec (db, "SELECT 1", 0, NULL);
    assert_string_equal (lg_db_sqlstate (res), "55P03");
    PQclear (res);
    lg_db_rollback (db);
    lg_db_pipeline_end (db);
    assert_in_range (zclock_mono () - started, 0, 400);
    assert_true (lg_db_busy (db));
    //  What needs no held lock runs
    assert_true (lg_db_run (db, "INSERT INTO free VALUES (1)", 0, NULL));

    //  The while over: the whole wait again, then giving way again
    int64_t left = while_from + 650 - zclock_mono ();
    if (left > 0)
        zclock_sleep ((int) left);
    assert_in_range (s_busy_after (db, "SELECT count (*) FROM held"), 550, 1500);
    assert_in_range (s_busy_after (db, "SELECT count (*) FROM held"), 0, 400);

    //  Released: the same statement runs; the bound is its own again after the while
    assert_true (lg_db_run (holder, "COMMIT", 0, NULL));
    assert_true (lg_db_run (db, "SELECT count (*) FROM held", 0, NULL));
    zclock_sleep (650);
    s_bound_is (db, "lock_timeout", 600);
    lg_db_destroy (&db);

    //  A worker's connection waits the whole bound each time
    db = s_open ("audit");
    assert_true (lg_db_run (holder, "BEGIN", 0, NULL));
    assert_true (lg_db_run (holder, "LOCK TABLE held IN ACCESS EXCLUSIVE MODE", 0, NULL));
    for (int i = 0; i < 2; i++)
        assert_in_range (s_busy_after (db, "SELECT count (*) FROM held"),
                         LG_DB_LOCK_WAIT_MS - 50, LG_DB_LOCK_WAIT_MS + 1500);
    lg_db_destroy (&db);

    //  A session's own lock_timeout stays, giving way or not
    db = s_open_with ("audit", "lock_timeout=700");
    lg_db_set_lock_wait (db, 600);
    for (int i = 0; i < 2; i++)
        assert_in_range (s_busy_after (db, "SELECT count (*) FROM held"), 650, 2000);
    s_bound_is (db, "lock_timeout", 700);
    assert_true (lg_db_run (holder, "COMMIT", 0, NULL));
    lg_db_destroy (&holder);
    lg_db_destroy (&db);
}

//  Note 2b: a statement that runs past the bound is cancelled (57014,
//  lg_db_cancelled) on a connection that stays up; the default is
//  LG_DB_STATEMENT_MS, a session's own statement_timeout stays, and a
//  migration runs past it
static void
test_statement_bounded (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("monitor");
    s_bound_is (db, "statement_timeout", LG_DB_STATEMENT_MS);
    lg_db_destroy (&db);

    db = s_open_with ("monitor", "statement_timeout=300");
    s_bound_is (db, "statement_timeout", 300);
    int64_t started = zclock_mono ();
    PGresult *res = lg_db_exec (db, "SELECT pg_sleep (5)", 0, NULL);
    int64_t took = zclock_mono () - started;
    assert_non_null (res);
    assert_string_equal (lg_db_sqlstate (res), "57014");
    PQclear (res);
    assert_true (took >= 250 && took < 1500);
    assert_true (lg_db_cancelled (db));
    assert_false (lg_db_busy (db));
    assert_false (lg_db_retryable (db));
    assert_true (lg_db_is_up (db));

    //  In a pipelined transaction: nothing of it stays
    assert_true (lg_db_run (db, "CREATE TABLE IF NOT EXISTS slow (id integer)", 0, NULL));
    assert_int_equal (lg_db_pipeline_begin (db), 0);
    assert_int_equal (lg_db_begin (db), 0);
    assert_true (lg_db_run (db, "INSERT INTO slow VALUES (1)", 0, NULL));
    assert_true (lg_db_run (db, "SELECT pg_sleep (5)", 0, NULL));
    res = lg_db_exec (db, "SELECT 1", 0, NULL);
    assert_string_equal (lg_db_sqlstate (res), "57014");
    PQclear (res);
    assert_true (lg_db_cancelled (db));
    lg_db_rollback (db);
    lg_db_pipeline_end (db);
    res = lg_db_exec (db, "SELECT count (*) AS n FROM slow", 0, NULL);
    assert_string_equal (lg_db_value (res, 0, "n"), "0");
    PQclear (res);
    assert_false (lg_db_cancelled (db));

    //  A migration runs as long as it needs, and the bound is back after it
    static const lg_migration_t slow [] = {
        { 1, "slow", "SELECT pg_sleep (0.6)" },
        { 0, NULL, NULL }
    };
    assert_int_equal (lg_db_migrate (db, slow), 0);
    s_bound_is (db, "statement_timeout", 300);
    lg_db_destroy (&db);
}

//  Note 2c: a transaction left idle past the bound is ended by PostgreSQL,
//  its locks released; the connection is found lost and made again
static void
test_idle_transaction_bounded (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("monitor");
    s_bound_is (db, "idle_in_transaction_session_timeout", LG_DB_IDLE_IN_TX_MS);
    assert_true (lg_db_run (db, "CREATE TABLE IF NOT EXISTS frozen (id integer)", 0, NULL));
    lg_db_destroy (&db);

    db = s_open_with ("monitor", "idle_in_transaction_session_timeout=300");
    assert_int_equal (lg_db_begin (db), 0);
    assert_true (lg_db_run (db, "LOCK TABLE frozen IN ACCESS EXCLUSIVE MODE", 0, NULL));
    assert_true (lg_db_run (db, "INSERT INTO frozen VALUES (1)", 0, NULL));
    zclock_sleep (800);                     //  frozen, in the transaction

    //  Another session takes the lock at once; nothing of it was committed
    lg_db_t *other = s_open ("monitor");
    lg_db_set_lock_wait (other, 200);
    assert_int_equal (lg_db_begin (other), 0);
    assert_true (lg_db_run (other, "LOCK TABLE frozen IN ACCESS EXCLUSIVE MODE", 0, NULL));
    PGresult *res = lg_db_exec (other, "SELECT count (*) AS n FROM frozen", 0, NULL);
    assert_string_equal (lg_db_value (res, 0, "n"), "0");
    PQclear (res);
    assert_int_equal (lg_db_commit (other), 0);
    lg_db_destroy (&other);

    //  Woken, the process finds its connection gone, and the next one works
    assert_int_equal (lg_db_commit (db), -1);
    assert_true (lg_db_lost (db));
    assert_int_equal (lg_db_ensure (db), 0);
    assert_true (lg_db_run (db, "SELECT 1", 0, NULL));
    lg_db_destroy (&db);
}

/* REQ X.3: a service's database role cannot touch another service's schema */
static void
test_roles_are_isolated (void **state)
{
    (void) state;
    lg_db_t *billing = s_open ("billing");
    assert_int_equal (lg_db_migrate (billing, s_none), 0);
    lg_db_t *registry = s_open ("registry");
    assert_int_equal (lg_db_migrate (registry, s_two), 0);

    //  Its own schema: yes
    assert_true (lg_db_run (registry, "SELECT count(*) FROM registry.outbox", 0, NULL));
    const char *steps [] = {
        "SELECT count(*) FROM billing.outbox",
        "INSERT INTO billing.requests (caller, request_id, body_case, digest) VALUES ('x','y',1,'')",
        "CREATE TABLE billing.evil (id integer)",
        "CREATE TABLE public.evil (id integer)",
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps [0]; i++) {
        PGresult *res = lg_db_exec (registry, steps [i], 0, NULL);
        assert_non_null (res);
        //  42501 insufficient_privilege
        if (strcmp (lg_db_sqlstate (res), "42501"))
            fail_msg ("%s: expected 42501, got %s", steps [i], lg_db_sqlstate (res));
        PQclear (res);
    }
    lg_db_destroy (&registry);
    lg_db_destroy (&billing);
}

static void
test_migrations_once (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("audit");
    assert_int_equal (lg_db_migrate (db, s_two), 0);
    assert_int_equal (lg_db_migrate (db, s_two), 0);        //  second start: nothing to do
    PGresult *res = lg_db_exec (db, "SELECT count(*) FROM schema_migrations", 0, NULL);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    assert_string_equal (PQgetvalue (res, 0, 0), "6");      //  4 common + 2 own
    PQclear (res);
    lg_db_destroy (&db);
}

/* REQ X.2: a session the server closed while idle is noticed before the
   next call, which reconnects at once and prepares its statements again.
   (That call used to fail, and the next waited out a backoff.) */
static void
test_reconnect_reprepares (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("monitor");
    assert_int_equal (lg_db_migrate (db, s_none), 0);
    const char *sql = "SELECT $1::integer + 1 AS n";
    const char *one [] = { "1" };
    PGresult *res = lg_db_exec (db, sql, 1, one);
    assert_string_equal (lg_db_value (res, 0, "n"), "2");
    PQclear (res);

    //  The server closes the idle connection (and is gone before we go on)
    PGconn *admin = PQconnectdb (s_admin);
    res = PQexec (admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE usename = 'lgwan_monitor' AND datname = current_database()");
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    PQclear (res);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        res = PQexec (admin, "SELECT count(*) = 0 FROM pg_stat_activity"
                             " WHERE usename = 'lgwan_monitor' AND datname = current_database()");
        gone = streq (PQgetvalue (res, 0, 0), "t");
        PQclear (res);
        if (!gone)
            zclock_sleep (10);
    }
    assert_true (gone);
    PQfinish (admin);

    //  The closed connection is noticed before use and replaced at once (no
    //  backoff), and the statement is prepared again on the new one
    res = lg_db_exec (db, sql, 1, one);
    assert_non_null (res);
    assert_string_equal (lg_db_value (res, 0, "n"), "2");
    PQclear (res);
    assert_true (lg_db_is_up (db));
    uint64_t connects, losses;
    lg_db_counts (&connects, &losses);
    assert_true (losses >= 1);
    lg_db_destroy (&db);
}

//  Whether the socket of a listening connection turns readable within ms
static bool
s_readable (lg_db_t *db, int ms)
{
    struct pollfd pfd = { .fd = PQsocket (lg_db_conn (db)), .events = POLLIN };
    return poll (&pfd, 1, ms) == 1;
}

//  LISTEN on a connection of its own: a notification committed makes its
//  socket readable and is drained with the highest payload; one rolled back
//  never arrives; a connection the server closed is reported lost, and
//  listening again works
static void
test_listen (void **state)
{
    (void) state;
    lg_db_t *listener = s_open ("audit");
    lg_db_t *writer = s_open ("audit");
    assert_int_equal (lg_db_listen (listener, "lgwan_test_channel"), 0);
    uint64_t highest = 99;
    assert_int_equal (lg_db_notified (listener, &highest), 0);
    assert_true (highest == 0);

    assert_true (lg_db_run (writer, "BEGIN", 0, NULL));
    assert_true (lg_db_run (writer, "SELECT pg_notify ('lgwan_test_channel', '7')", 0, NULL));
    assert_true (lg_db_run (writer, "SELECT pg_notify ('lgwan_test_channel', '12')", 0, NULL));
    assert_false (s_readable (listener, 100));          //  not before COMMIT
    assert_true (lg_db_run (writer, "COMMIT", 0, NULL));
    assert_true (s_readable (listener, 5000));
    assert_int_equal (lg_db_notified (listener, &highest), 2);
    assert_true (highest == 12);

    assert_true (lg_db_run (writer, "BEGIN", 0, NULL));
    assert_true (lg_db_run (writer, "SELECT pg_notify ('lgwan_test_channel', '13')", 0, NULL));
    assert_true (lg_db_run (writer, "ROLLBACK", 0, NULL));
    assert_true (lg_db_run (writer, "SELECT pg_notify ('lgwan_test_channel', 'not a number')",
                            0, NULL));
    assert_true (s_readable (listener, 5000));
    assert_int_equal (lg_db_notified (listener, &highest), 1);
    assert_true (highest == 0);

    //  The server ends the listening backend
    const char *pid [1];
    char text [16];
    snprintf (text, sizeof text, "%d", PQbackendPID (lg_db_conn (listener)));
    pid [0] = text;
    assert_true (lg_db_run (writer, "SELECT pg_terminate_backend ($1::integer)", 1, pid));
    //  Its FATAL and its close may come apart, each making the socket readable
    int notified = 0;
    for (int tries = 0; tries < 50 && notified == 0; tries++)
        if (s_readable (listener, 100))
            notified = lg_db_notified (listener, &highest);
    assert_int_equal (notified, -1);
    assert_false (lg_db_is_up (listener));
    assert_int_equal (lg_db_notified (listener, &highest), -1);
    assert_int_equal (lg_db_listen (listener, "lgwan_test_channel"), 0);
    assert_true (lg_db_run (writer, "NOTIFY lgwan_test_channel, '3'", 0, NULL));
    assert_true (s_readable (listener, 5000));
    assert_int_equal (lg_db_notified (listener, &highest), 1);
    assert_true (highest == 3);
    lg_db_destroy (&writer);
    lg_db_destroy (&listener);
}

//  Pipelined writes: queued statements land, a read in between sees them,
//  and one failure fails the batch
static void
test_pipeline (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("isolation");
    assert_int_equal (lg_db_migrate (db, s_two), 0);
    assert_int_equal (lg_db_begin (db), 0);
    assert_int_equal (lg_db_pipeline_begin (db), 0);
    for (int i = 1; i <= 100; i++) {
        char id [8];
        snprintf (id, sizeof id, "%d", i);
        const char *params [] = { id };
        assert_true (lg_db_run (db, "INSERT INTO things (id, name) VALUES ($1::integer, 'x')",
                                1, params));
    }
    PGresult *res = lg_db_exec (db, "SELECT count(*) AS n FROM things", 0, NULL);
    assert_string_equal (lg_db_value (res, 0, "n"), "100");
    PQclear (res);
    assert_int_equal (lg_db_pipeline_end (db), 0);
    assert_int_equal (lg_db_commit (db), 0);

    //  A duplicate key in the middle: the batch fails as a whole
    assert_int_equal (lg_db_begin (db), 0);
    assert_int_equal (lg_db_pipeline_begin (db), 0);
    const char *dup [] = { "50" }, *fresh [] = { "500" };
    assert_true (lg_db_run (db, "INSERT INTO things (id, name) VALUES ($1::integer, 'y')", 1, fresh));
    lg_db_run (db, "INSERT INTO things (id, name) VALUES ($1::integer, 'y')", 1, dup);
    assert_int_equal (lg_db_pipeline_end (db), -1);
    lg_db_rollback (db);
    res = lg_db_exec (db, "SELECT count(*) AS n FROM things", 0, NULL);
    assert_string_equal (lg_db_value (res, 0, "n"), "100");
    PQclear (res);

    //  Failures again and again leave the session one statement of the
    //  text, used again: a failure used to forget every name, and each
    //  statement was prepared anew while the old ones stayed
    for (int round = 0; round < 50; round++) {
        assert_int_equal (lg_db_begin (db), 0);
        assert_int_equal (lg_db_pipeline_begin (db), 0);
        assert_true (lg_db_run (db, "INSERT INTO things (id, name) VALUES ($1::integer, 'y')", 1,
                                fresh));
        lg_db_run (db, "INSERT INTO things (id, name) VALUES ($1::integer, 'y')", 1, dup);
        assert_int_equal (lg_db_pipeline_end (db), -1);
        lg_db_rollback (db);
    }
    res = lg_db_exec (db, "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement ="
                          " 'INSERT INTO things (id, name) VALUES ($1::integer, ''y'')'", 0, NULL);
    assert_string_equal (lg_db_value (res, 0, "n"), "1");
    PQclear (res);
    //  A prepare that fails leaves its name unknown, and the next use works
    assert_int_equal (lg_db_begin (db), 0);
    assert_int_equal (lg_db_pipeline_begin (db), 0);
    lg_db_run (db, "SELECT no_such_column FROM things", 0, NULL);
    assert_int_equal (lg_db_pipeline_end (db), -1);
    lg_db_rollback (db);
    res = lg_db_exec (db, "SELECT count(*) AS n FROM things", 0, NULL);
    assert_string_equal (lg_db_value (res, 0, "n"), "100");
    PQclear (res);
    lg_db_destroy (&db);
}

static void
test_bootstrap_refuses_bad_names (void **state)
{
    (void) state;
    char why [256];
    assert_int_equal (lg_db_bootstrap (s_admin, "x; DROP", NULL, why, sizeof why), -1);
    assert_non_null (strstr (why, "lower-case"));
    assert_int_equal (lg_db_bootstrap (s_admin, "", NULL, why, sizeof why), -1);
}

//  The value of keyword in the options a live connection was made with
static char *
s_used (lg_db_t *db, const char *keyword)
{
    PQconninfoOption *options = PQconninfo (lg_db_conn (db));
    char *value = NULL;
    for (PQconninfoOption *o = options; o && o->keyword; o++)
        if (streq (o->keyword, keyword))
            value = strdup (o->val? o->val: "");
    PQconninfoFree (options);
    return value? value: strdup ("(absent)");
}

static void
s_expect (lg_db_t *db, const char *keyword, const char *value)
{
    char *used = s_used (db, keyword);
    assert_string_equal (used, value);
    free (used);
}

//  A database gone silent over TCP is given up in seconds (lg_db.c note 4;
//  the partition itself is test_db_partition): bounds are added where the
//  operator set none, and what the operator set stays
static void
test_connection_bounds (void **state)
{
    (void) state;
    //  The tests' conninfo sets connect_timeout itself: without it here
    char *dsn = lg_test_db_service_dsn (s_admin, "registry");
    char *own_timeout = strstr (dsn, " connect_timeout=");
    assert_non_null (own_timeout);
    *own_timeout = 0;
    lg_db_t *db = lg_db_new (dsn, "registry");
    assert_int_equal (lg_db_ensure (db), 0);
    s_expect (db, "connect_timeout", "3");
    s_expect (db, "keepalives", "1");
    s_expect (db, "keepalives_idle", "10");
    s_expect (db, "keepalives_interval", "3");
    s_expect (db, "keepalives_count", "3");
    s_expect (db, "tcp_user_timeout", "10000");
    lg_db_destroy (&db);
    //  A reactor's connection is given up sooner
    db = lg_db_new (dsn, "registry");
    lg_db_set_user_timeout (db, 3000);
    assert_int_equal (lg_db_ensure (db), 0);
    s_expect (db, "tcp_user_timeout", "3000");
    lg_db_destroy (&db);

    char *own = zsys_sprintf ("%s connect_timeout=7 keepalives_idle=30 tcp_user_timeout=2500", dsn);
    db = lg_db_new (own, "registry");
    lg_db_set_user_timeout (db, 3000);      //  the conninfo's own value stays
    assert_int_equal (lg_db_ensure (db), 0);
    s_expect (db, "connect_timeout", "7");
    s_expect (db, "keepalives_idle", "30");
    s_expect (db, "tcp_user_timeout", "2500");
    s_expect (db, "keepalives_count", "3");
    lg_db_destroy (&db);

    setenv ("PGCONNECT_TIMEOUT", "9", 1);
    db = lg_db_new (dsn, "registry");
    assert_int_equal (lg_db_ensure (db), 0);
    s_expect (db, "connect_timeout", "9");
    s_expect (db, "tcp_user_timeout", "10000");
    lg_db_destroy (&db);
    unsetenv ("PGCONNECT_TIMEOUT");

    //  A connection service's file may set any of them: none is added
    char services [] = "/tmp/lg_pgservice_XXXXXX";
    int fd = mkstemp (services);
    assert_true (fd >= 0);
    const char *file = "[lgtest]\nconnect_timeout=11\n";
    assert_int_equal (write (fd, file, strlen (file)), (ssize_t) strlen (file));
    close (fd);
    setenv ("PGSERVICEFILE", services, 1);
    zstr_free (&own);
    own = zsys_sprintf ("%s service=lgtest", dsn);
    db = lg_db_new (own, "registry");
    assert_int_equal (lg_db_ensure (db), 0);
    s_expect (db, "connect_timeout", "11");
    s_expect (db, "tcp_user_timeout", "");
    s_expect (db, "keepalives_idle", "");
    lg_db_destroy (&db);
    unsetenv ("PGSERVICEFILE");
    unlink (services);
    zstr_free (&own);
    zstr_free (&dsn);
}

/* REQ X.2: one backend terminated costs the process's other connections
   one round trip each, not a reconnect: a session's state (the leader's
   advisory lock) stays (lg_db.c note 2d) */
//  The backend of db's connection is terminated, and gone when this returns
static void
s_terminate (lg_db_t *db)
{
    char pid [24];
    snprintf (pid, sizeof pid, "%d", PQbackendPID (lg_db_conn (db)));
    const char *params [] = { pid };
    PGconn *admin = PQconnectdb (s_admin);
    PGresult *res = PQexecParams (admin, "SELECT pg_terminate_backend ($1::integer)", 1, NULL,
                                  params, NULL, NULL, 0);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    PQclear (res);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        res = PQexecParams (admin, "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $1::integer",
                            1, NULL, params, NULL, NULL, 0);
        gone = streq (PQgetvalue (res, 0, 0), "t");
        PQclear (res);
        if (!gone)
            zclock_sleep (10);
    }
    assert_true (gone);
    PQfinish (admin);
}

static void
test_a_loss_elsewhere_costs_a_probe (void **state)
{
    (void) state;
    lg_db_t *victim = s_open ("audit");
    lg_db_t *sibling = s_open ("audit");
    assert_true (lg_db_run (victim, "SELECT 1", 0, NULL));
    PGresult *res = lg_db_exec (sibling, "SELECT pg_try_advisory_lock (4711) AS won", 0, NULL);
    assert_string_equal (lg_db_value (res, 0, "won"), "t");
    PQclear (res);
    int sibling_pid = PQbackendPID (lg_db_conn (sibling));

    //  The victim's backend is terminated; the victim finds out on its next
    //  use, which counts a loss for the process
    s_terminate (victim);
    PGconn *admin = PQconnectdb (s_admin);
    uint64_t connects, losses, connects_after, losses_after;
    lg_db_counts (&connects, &losses);
    assert_true (lg_db_run (victim, "SELECT 1", 0, NULL));
    lg_db_counts (&connects_after, &losses_after);
    assert_true (losses_after == losses + 1);
    assert_true (connects_after == connects + 1);

    //  The sibling answers the probe: same backend, lock still held, no
    //  connect, no loss
    assert_true (lg_db_run (sibling, "SELECT 1", 0, NULL));
    assert_int_equal (PQbackendPID (lg_db_conn (sibling)), sibling_pid);
    lg_db_counts (&connects, &losses);
    assert_true (connects == connects_after && losses == losses_after);
    res = PQexec (admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                         " AND objid = 4711 AND granted");
    assert_string_equal (PQgetvalue (res, 0, 0), "1");
    PQclear (res);
    PQfinish (admin);
    lg_db_destroy (&sibling);
    lg_db_destroy (&victim);
}

//  How many rows things holds, read on a connection of its own
static long
s_things (const char *service)
{
    lg_db_t *db = s_open (service);
    PGresult *res = lg_db_exec (db, "SELECT count(*) AS n FROM things", 0, NULL);
    assert_non_null (res);
    long n = atol (lg_db_value (res, 0, "n"));
    PQclear (res);
    lg_db_destroy (&db);
    return n;
}

/* REQ X.2: a connection lost inside a transaction takes the transaction
   with it, and nothing more of it runs until it is ended (note 2g): each
   statement after the loss, and its COMMIT, fails without reconnecting,
   in a plain and in a pipelined transaction (a consumer's: BEGIN, then the
   events pipelined). The next statement reconnected at once and ran alone
   in autocommit: an event applied without its cursor was applied again at
   the next try, and the COMMIT on the new connection "succeeded". The next
   BEGIN, or an explicit lg_db_ensure, connects again */
static void
test_x2_lost_transaction_runs_nothing_more (void **state)
{
    (void) state;
    lg_db_t *db = s_open ("orchestrator");
    assert_int_equal (lg_db_migrate (db, s_two), 0);
    const char *insert = "INSERT INTO things (id, name) VALUES ($1::integer, 'x')";
    const char *one [] = { "1" }, *two [] = { "2" }, *three [] = { "3" };
    assert_int_equal (lg_db_begin (db), 0);
    assert_true (lg_db_run (db, insert, 1, one));
    s_terminate (db);
    assert_false (lg_db_run (db, insert, 1, two));          //  finds the loss
    assert_false (lg_db_run (db, insert, 1, three));        //  runs nothing
    assert_false (lg_db_is_up (db));
    assert_non_null (strstr (lg_db_error (db), "lost inside a transaction"));
    assert_int_equal (lg_db_commit (db), -1);
    assert_int_equal (s_things ("orchestrator"), 0);
    //  The next transaction connects again
    assert_int_equal (lg_db_begin (db), 0);
    assert_true (lg_db_run (db, insert, 1, three));
    assert_int_equal (lg_db_commit (db), 0);
    assert_int_equal (s_things ("orchestrator"), 1);

    //  Pipelined after BEGIN, as a consumer applies a batch
    const char *four [] = { "4" }, *five [] = { "5" };
    assert_int_equal (lg_db_begin (db), 0);
    assert_int_equal (lg_db_pipeline_begin (db), 0);
    assert_true (lg_db_run (db, insert, 1, four));
    s_terminate (db);
    assert_null (lg_db_exec (db, "SELECT count(*) FROM things", 0, NULL));
    assert_false (lg_db_run (db, insert, 1, five));
    assert_int_equal (lg_db_pipeline_end (db), -1);
    lg_db_rollback (db);
    assert_int_equal (s_things ("orchestrator"), 1);

    //  An explicit lg_db_ensure gives the lost transaction up and connects
    assert_int_equal (lg_db_begin (db), 0);
    assert_true (lg_db_run (db, insert, 1, four));
    s_terminate (db);
    assert_false (lg_db_run (db, insert, 1, five));
    assert_int_equal (lg_db_ensure (db), 0);
    assert_true (lg_db_run (db, insert, 1, five));          //  on its own, by choice
    assert_int_equal (s_things ("orchestrator"), 2);
    lg_db_destroy (&db);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_roles_are_isolated),
        cmocka_unit_test (test_migrations_once),
        cmocka_unit_test (test_reconnect_reprepares),
        cmocka_unit_test (test_pipeline),
        cmocka_unit_test (test_listen),
        cmocka_unit_test (test_bootstrap_refuses_bad_names),
        cmocka_unit_test (test_connection_bounds),
        cmocka_unit_test (test_lock_wait_bounded),
        cmocka_unit_test (test_reactor_gives_way),
        cmocka_unit_test (test_statement_bounded),
        cmocka_unit_test (test_idle_transaction_bounded),
        cmocka_unit_test (test_a_loss_elsewhere_costs_a_probe),
        cmocka_unit_test (test_x2_lost_transaction_runs_nothing_more),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
