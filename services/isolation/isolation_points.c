/*  isolation_points - the channel to the enforcers (isolation.proto).

    1. One ROUTER (LG_ISOLATION_ENFORCER_ENDPOINT, default port 7305 on all addresses),
       CURVE, in the reactor thread; only `enforcer` certificates are heard.
    2. Hello: the point is registered (from then on a change is in force only
       when it acked too) and gets a Snapshot of the version and the whole set,
       read in one statement so the two agree. Its acked version goes down to
       the Hello's applied_version (least of the two; an ack of it kept for a
       later try is cut down the same way): a gateway that restarted with an
       empty kernel says Hello at 0, and was counted at the version it acked
       before until it acked the Snapshot, so a change was said in force at
       a gateway that held none of it (a Beat before its ack may report it
       lagging: it is). The version in force may so go down;
       nothing is published twice: an event is published once, when the
       version in force first reaches its own, and its pending row is
       deleted then; a change made since waits for the point's new ack.
       A retired point's Hello registers it again, erasing the row's
       retirement, and publishes PointReturned (X.1): it came back
       silently, with no record that changes waited for it again.
    3. Every DesiredStateChanged this service publishes goes out as an Update
       {version, base_version = version - 1}; a point that holds another base
       says Hello again and gets a Snapshot, so out-of-order commits of
       parallel workers cost a snapshot, never a wrong state. Another
       replica's changes are not published here: a trigger on
       desired_versions NOTIFYs S_CHANNEL when a version commits (any
       replica's), and on that notification, which a connection of its own
       listens for, the versions above the last one pushed are read from
       desired_versions and pushed the same way (at most S_POLL_VERSIONS;
       further behind, the points learn the head from the Beat and take a
       Snapshot). While that connection is down (notifications sent then
       are lost), the versions are read every S_POLL_MS instead, and once
       more when it listens again. A version is pushed once, by whichever
       of the two paths finds it first. The head is read when the service
       starts listening, whether or not a point is connected yet, so the
       first version after it is pushed like any other (it used to be taken
       for the head at start and left to the Beat, a second late).
    4. Every second a Beat carries the version; a point whose oldest
       version not acked was made more than LG_LAG_MS ago (by the service's
       clock, which stamped it) gets one EnforcementLagging per version of
       the head, and keeps being sent updates. While the head cannot be
       read the Beat says the highest head known, for S_HEAD_GRACE_MS (3
       Beats, 3 s as long as an enforcer waits to say Hello again, and the
       timer's jitter) from the last time the head was read by any path (a
       Beat, a Snapshot, the versions read); then Beats stop until the database
       answers again, so the points' silence rule takes them to a replica
       that has its database (enforcer.c point 6). A Beat of a head it
       could not read told the points that this replica was fine, and they
       stayed with it for as long as its database was away, while another
       replica took every change. The grace used to count the Beats in a
       row that could not read the head, reset only by a Beat that could:
       an outage that began less than a Beat after the last one ended (a
       Snapshot read in between) inherited a spent grace, and had no Beat.
    5. Ack moves the point's acked version forward (never back, and never
       beyond the highest version sent to a point: a point cannot claim a
       state it was never sent) and publishes the pending events now in
       force; Repaired publishes DriftRepaired.
       The points ack a version at nearly the same moment, so the reader
       takes every frame already waiting (up to S_BATCH) before it records
       the acks among them in one duty: one transaction for all the points
       instead of one each, on the path from request to in force. Acks that
       arrive apart are recorded when they can put something in force: when
       the lowest version the live points acked (each since its Hello) goes
       up, or some live point has not acked since its Hello; the others wait
       for that or for the next Beat. A change is in force when every
       registered point acked it, so while one live point is below, the
       acks of the others cannot make anything in force: waiting costs no
       time on that path, and the transaction a point's early ack cost held
       up the last ack behind it. A point acks a version once, so acks a
       failed duty could not record are kept and tried again at every Beat,
       the last one of every point however many points there are (there was
       room for 64: a 65th point's ack was dropped until it acked again).
       So are the repairs a point reports (up to S_REPAIRS_MAX): a
       DriftRepaired is the record that someone changed a gateway's ruleset,
       and the point reports it once.
    6. A point name is held by one connection at a time. The ROUTER is
       mandatory-routing: a send to a connection that is gone fails
       (EHOSTUNREACH) instead of vanishing, and the peer is forgotten then.
       A Hello naming a point that another connection holds first probes
       that connection with a Beat: gone, the new one takes the name over
       (an enforcer restarted after kill -9); still there, the Hello is
       refused (logged, and a Refused frame naming X.3 tells the enforcer
       why: a message it is not authorised to send), and nothing the
       second connection says counts.
       Two enforcers configured with one name would otherwise let either's
       ack stand for a gateway the other never touched. The refused one
       says Hello again after 3 s of silence, so it takes over within
       seconds once the first is really gone (ZMTP heartbeats drop a
       half-dead connection within 3 s).
    7. A point speaks only with its own certificate (X.3). An enforcer
       certificate names its point in its metadata (`point`, made by
       `lgwanctl keygen --role enforcer --point`, lg_auth note 3); a Hello
       naming another point, or from a certificate that names none, is
       refused for good (Refused{final, requirement X.3}: the enforcer
       stops), logged with the certificate's public key, and counted on
       the point it named (points.refusals); an Ack naming another point is
       ignored, logged and counted the same way. The name used to be only
       what the enforcer typed, so any enforcer certificate could say Hello
       and ack as another gateway (one that is offline) and a change was
       reported in force where it was never applied.
       Each certificate's foreign Hellos, and its foreign Acks, are logged
       at most every S_REFUSAL_LOG_MS (an enforcer refused says Hello again
       every 3 s), remembered for up to S_FOREIGN_KEYS_MAX certificates at
       once. One time shared by every certificate and kind of frame let an
       old enforcer (a certificate without a point) saying Hello in a loop
       keep another certificate's Ack as a gateway out of the log, and such
       Acks were counted nowhere.
    8. Enforcer frames are decoded at LG_MAX_MSG, the ROUTER's bound too (an
       enforcer keeps its Repaired under 1 MiB: enforcer.c point 9). One
       that does not decode is dropped and logged with its size, point and
       certificate (not rate-limited: only an enforcer certificate gets
       that far); a caller that is not an enforcer is dropped unsaid.
    Database work runs as duties of the server: one transaction each, events
    committed with it.
*/
#include "isolation.h"

#define S_BATCH 64                 //  frames taken per wake-up
#define S_REFUSAL_LOG_MS 30000     //  a refused Hello is logged at most this often
#define S_FOREIGN_KEYS_MAX 256     //  certificates whose foreign frames' last log is kept (point 7)
#define S_REPAIRS_MAX 256          //  repairs waiting for the database, at most
#define S_POLL_MS 200              //  while not listening: how often versions not pushed are read
#define S_CHANNEL "lgwan_isolation_version"     //  migration 005
#define S_POLL_VERSIONS 64         //  versions pushed from one poll, at most
#define S_HEAD_GRACE_MS 3500       //  Beats of a head not read, for at most: the 3rd after a read, and its jitter

typedef struct {
    char point [40];
    uint64_t version;
    bool dry_run;
} s_ack_t;

typedef struct {
    zsock_t *router;
    zhashx_t *peers;            //  identity (hex) -> s_peer_t
    lg_server_t *server;        //  borrowed: runs our duties
    lg_db_t *db;                //  borrowed: the reactor's connection
    lg_db_t *listener;          //  ours: LISTENs on S_CHANNEL, nothing else
    zloop_t *loop;              //  borrowed
    int listen_fd;              //  its socket while listening, else -1
    lg_auth_t *auth;            //  borrowed
    size_t max_msg;             //  LG_MAX_MSG: the largest frame an enforcer may send
    char endpoint [256];
    char replica [320];         //  host:port of our enforcer channel, for points.replica
    int64_t lag_ms;
    //  The head as last read (s_head), when it was last read by any path
    //  (zclock_mono, 0 never), and whether Beats stopped for it (point 4)
    uint64_t head;
    int64_t head_read_at;
    bool beats_stopped;
    //  The highest version sent to any point (Snapshot, Update, Beat): an
    //  ack above it claims a state this service never sent, and would count
    //  every later change as in force at that point
    uint64_t sent_max;
    //  Every version up to this one went out as an Update to every point
    //  (point 3), once pushed_known: from the first read of the head on
    uint64_t pushed;
    bool pushed_known;
    //  The frame being handled, for the duty that records it
    char point [40];
    bool dry_run;
    uint64_t hello_version;     //  a Hello's applied_version
    Lgwan__V1__EnforcerRepaired *repaired;
    //  Acks taken but not yet recorded, one per point, for as many points
    //  as there are (point 5); room for max_acks
    s_ack_t *acks;
    size_t n_acks;
    size_t max_acks;
    int64_t refusal_logged;     //  zclock_mono of the last refused Hello logged
    //  "<public key> <frame kind>" -> zclock_mono (int64_t) of the last
    //  frame of that certificate for another point logged (point 7)
    zhashx_t *foreign_logged;
    //  Repairs reported but not yet recorded (s_repair_t), oldest first
    zlistx_t *repairs;
} s_points_t;

typedef struct {
    char point [40];
    Lgwan__V1__EnforcerFrame *frame;    //  the Repaired frame as decoded
} s_repair_t;

static void
s_repair_destroy (s_repair_t **repair_p)
{
    if (*repair_p) {
        protobuf_c_message_free_unpacked (&(*repair_p)->frame->base, NULL);
        free (*repair_p);
        *repair_p = NULL;
    }
}

typedef struct {
    zframe_t *identity;
    char point [40];
    int64_t seen;               //  zclock_mono of the last frame
    bool gone;                  //  a send found the connection closed
    bool acked_any;             //  it acked since its last Hello
    uint64_t acked;             //  the highest version it acked since then
} s_peer_t;

static void
s_peer_destroy (s_peer_t **peer_p)
{
    if (*peer_p) {
        zframe_destroy (&(*peer_p)->identity);
        free (*peer_p);
        *peer_p = NULL;
    }
}

void *
isolation_points_new (lg_db_t *db, const lg_config_t *cfg)
{
    (void) db;
    s_points_t *self = (s_points_t *) zmalloc (sizeof (s_points_t));
    self->listen_fd = -1;
    const char *endpoint = getenv ("LG_ISOLATION_ENFORCER_ENDPOINT");
    snprintf (self->endpoint, sizeof self->endpoint, "%s",
              endpoint && *endpoint? endpoint: "tcp://*:7305");
    char why [256];
    if (lg_config_int ("LG_LAG_MS", 10000, 100, 3600000, &self->lag_ms, why, sizeof why)) {
        lg_error ("%s", why);
        free (self);
        return NULL;
    }
    self->listener = lg_db_new (cfg->db, "isolation");
    if (!self->listener) {
        free (self);
        return NULL;
    }
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, (zhashx_destructor_fn *) s_peer_destroy);
    self->repairs = zlistx_new ();
    zlistx_set_destructor (self->repairs, (zlistx_destructor_fn *) s_repair_destroy);
    self->foreign_logged = zhashx_new ();
    zhashx_set_destructor (self->foreign_logged, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
isolation_points_destroy (void **state_p)
{
    if (*state_p) {
        s_points_t *self = (s_points_t *) *state_p;
        zsock_destroy (&self->router);
        lg_db_destroy (&self->listener);
        zhashx_destroy (&self->peers);
        zlistx_destroy (&self->repairs);
        zhashx_destroy (&self->foreign_logged);
        free (self->acks);
        free (self);
        *state_p = NULL;
    }
}

//  Send one frame to a point, never waiting: 0 sent, or dropped because the
//  connection's queue is full (it catches up through Beat and Hello); -1 the
//  connection is gone
static int
s_send (s_points_t *self, zframe_t *identity, Lgwan__V1__EnforcerFrame *frame)
{
    uint64_t version = frame->body_case == LGWAN__V1__ENFORCER_FRAME__BODY_SNAPSHOT
                     ? frame->snapshot->version
                     : frame->body_case == LGWAN__V1__ENFORCER_FRAME__BODY_UPDATE
                     ? frame->update->version
                     : frame->body_case == LGWAN__V1__ENFORCER_FRAME__BODY_BEAT
                     ? frame->beat->version: 0;
    zframe_t *copy = zframe_dup (identity);
    if (zframe_send (&copy, self->router, ZFRAME_MORE | ZFRAME_DONTWAIT)) {
        int error = zmq_errno ();
        zframe_destroy (&copy);
        return error == EHOSTUNREACH? -1: 0;
    }
    zframe_t *body = lg_codec_frame (&frame->base);
    if (zframe_send (&body, self->router, ZFRAME_DONTWAIT))
        zframe_destroy (&body);
    else
    if (version > self->sent_max)
        self->sent_max = version;
    return 0;
}

//  Send to a known point; a connection found gone is marked for s_sweep
static void
s_send_peer (s_points_t *self, s_peer_t *peer, Lgwan__V1__EnforcerFrame *frame)
{
    if (!peer->gone && s_send (self, peer->identity, frame)) {
        peer->gone = true;
        lg_info ("enforcement point %s: its connection is gone", peer->point);
    }
}

//  Forget the points whose connection is gone
static void
s_sweep (s_points_t *self)
{
    zlistx_t *keys = zhashx_keys (self->peers);
    for (const char *key = (const char *) zlistx_first (keys); key;
         key = (const char *) zlistx_next (keys)) {
        s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, key);
        if (peer && peer->gone)
            zhashx_delete (self->peers, key);
    }
    zlistx_destroy (&keys);
}

//  The head of the desired state. When the database does not answer, the
//  highest known: last read, or sent to a point (a Snapshot or an Update
//  since). A Beat of 0 there told every point that it held a version above
//  the head, and each asked for a Snapshot every second of the outage
static uint64_t
s_head (s_points_t *self)
{
    PGresult *res = lg_db_exec (self->db, "SELECT version FROM desired_head WHERE id = 1", 0, NULL);
    bool read = res && PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1;
    if (read) {
        self->head = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
        self->head_read_at = zclock_mono ();
    }
    PQclear (res);
    return read || self->head > self->sent_max? self->head: self->sent_max;
}

//  Is the connection of peer still there? A Beat of the head asks (point 6)
static bool
s_alive (s_points_t *self, s_peer_t *peer)
{
    Lgwan__V1__EnforcementBeat beat = LGWAN__V1__ENFORCEMENT_BEAT__INIT;
    beat.version = s_head (self);
    Lgwan__V1__EnforcerFrame out = LGWAN__V1__ENFORCER_FRAME__INIT;
    out.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_BEAT;
    out.beat = &beat;
    s_send_peer (self, peer, &out);
    return !peer->gone;
}

//  Another live connection holding the point name, or NULL; the ones found
//  gone are forgotten
static s_peer_t *
s_holder (s_points_t *self, const char *point, const char *key)
{
    s_peer_t *holder = NULL;
    for (s_peer_t *peer = (s_peer_t *) zhashx_first (self->peers); peer && !holder;
         peer = (s_peer_t *) zhashx_next (self->peers))
        if (streq (peer->point, point) && !streq ((const char *) zhashx_cursor (self->peers), key)
        &&  s_alive (self, peer))
            holder = peer;
    s_sweep (self);
    return holder;
}

//  The whole set and its version, as of one statement
static void
s_send_snapshot (s_points_t *self, zframe_t *identity)
{
    PGresult *res = lg_db_exec (self->db,
        "SELECT (SELECT version FROM desired_head WHERE id = 1) AS version,"
        " coalesce ((SELECT string_agg (prefix::text, ',' ORDER BY prefix) FROM desired), '')"
        " AS prefixes", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return;                 //  no database: the point asks again
    }
    Lgwan__V1__EnforcementSnapshot snapshot = LGWAN__V1__ENFORCEMENT_SNAPSHOT__INIT;
    snapshot.version = strtoull (lg_db_value (res, 0, "version"), NULL, 10);
    self->head_read_at = zclock_mono ();
    char *list = strdup (lg_db_value (res, 0, "prefixes"));
    PQclear (res);
    snapshot.prefixes = isolation_split (list, &snapshot.n_prefixes);
    Lgwan__V1__EnforcerFrame frame = LGWAN__V1__ENFORCER_FRAME__INIT;
    frame.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_SNAPSHOT;
    frame.snapshot = &snapshot;
    s_send (self, identity, &frame);
    free (snapshot.prefixes);
    free (list);
}

//  Duties: each in its own transaction, events committed with it

//  A Hello says what the point holds now: its acked version goes down to
//  the Hello's applied_version, never up (point 2). A retired point is
//  registered again, its row's retirement erased, and that is published:
//  PointReturned, from then on changes wait for its acks again (X.1). It
//  came back silently, and nothing said when changes began to wait for it
//  again. The row is read as it was (old, locked) in the statement that
//  writes it
static int
s_record_hello (lg_ctx_t *ctx)
{
    s_points_t *self = (s_points_t *) ctx->state;
    char now [40], applied [24];
    lg_clock_format (ctx->now_us, now, sizeof now);
    snprintf (applied, sizeof applied, "%" PRIu64, self->hello_version);
    const char *params [] = { self->point, self->dry_run? "t": "f", now, self->replica, applied };
    PGresult *res = lg_db_exec (ctx->db,
        "WITH old AS (SELECT retired_at, retired_by FROM points WHERE name = $1 FOR UPDATE),"
        " hello AS (INSERT INTO points (name, dry_run, last_seen, replica) VALUES ($1,"
        "  $2::boolean, $3::timestamptz, $4) ON CONFLICT (name) DO UPDATE SET"
        "  dry_run = excluded.dry_run, last_seen = excluded.last_seen,"
        "  replica = excluded.replica,"
        "  acked_version = least (points.acked_version, $5::bigint),"
        "  retired_at = NULL, retired_by = NULL, retire_reason = NULL RETURNING name)"
        " SELECT to_char (old.retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        "  AS retired_at, old.retired_by,"
        "  to_char ($3::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        "  AS returned_at, (SELECT version FROM desired_head WHERE id = 1) AS head"
        " FROM old, hello WHERE old.retired_at IS NOT NULL", 5, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    int rc = 0;
    if (PQntuples (res) == 1) {
        Lgwan__V1__PointReturned returned = LGWAN__V1__POINT_RETURNED__INIT;
        returned.point = self->point;
        returned.retired_at = (char *) lg_db_value (res, 0, "retired_at");
        returned.retired_by = (char *) lg_db_value (res, 0, "retired_by");
        returned.applied_version = self->hello_version;
        returned.version = lg_db_u64 (res, 0, "head");
        returned.replica = self->replica;
        returned.returned_at = (char *) lg_db_value (res, 0, "returned_at");
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.body_case = LGWAN__V1__EVENT__BODY_POINT_RETURNED;
        event.point_returned = &returned;
        char *why = zsys_sprintf ("enforcement point %s, retired at %s by %s, said hello again:"
                                  " registered again, changes wait for its acks", self->point,
                                  returned.retired_at, returned.retired_by);
        rc = lg_outbox_append (ctx->outbox, &event, ctx->actor, why, "", ctx->now_us);
        if (rc == 0)
            lg_info ("%s", why);
        zstr_free (&why);
    }
    PQclear (res);
    return rc;
}

//  A frame refused for the name in self->point (a Hello, or an Ack from
//  another point's certificate), counted on the point
static int
s_record_refusal (lg_ctx_t *ctx)
{
    s_points_t *self = (s_points_t *) ctx->state;
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { self->point, now };
    return lg_db_run (ctx->db, "UPDATE points SET refusals = refusals + 1,"
                               " refused_at = $2::timestamptz WHERE name = $1", 2, params)? 0: -2;
}

//  A PostgreSQL text array "{a,b}" of point names, in a heap buffer; names
//  are [a-z0-9-] (checked at Hello): nothing to quote
static char *
s_names_array (const char **names, size_t count)
{
    size_t size = 3 + count * 41, len = 0;
    char *array = (char *) malloc (size);
    array [len++] = '{';
    for (size_t i = 0; i < count; i++)
        len += snprintf (array + len, size - len, "%s%s", i? ",": "", names [i]);
    snprintf (array + len, size - len, "}");
    return array;
}

//  Every ack taken since the last one, in one statement, then what they put
//  in force (one round trip: the UPDATE is pipelined before the DELETE)
static int
s_record_acks (lg_ctx_t *ctx)
{
    s_points_t *self = (s_points_t *) ctx->state;
    size_t count = self->n_acks;
    size_t versions_size = count * 21 + 3, dry_size = count * 2 + 3;
    char *versions = (char *) malloc (versions_size);
    char *dry = (char *) malloc (dry_size);
    const char **points = (const char **) malloc (count * sizeof (char *));
    char *names = NULL, now [40];
    int rc = -2;
    if (!versions || !dry || !points)
        goto cleanup;
    size_t v = 0, d = 0;
    for (size_t i = 0; i < count; i++) {
        const char *sep = i? ",": "{";
        points [i] = self->acks [i].point;
        v += snprintf (versions + v, versions_size - v, "%s%" PRIu64, sep, self->acks [i].version);
        d += snprintf (dry + d, dry_size - d, "%s%c", sep, self->acks [i].dry_run? 't': 'f');
    }
    names = s_names_array (points, count);
    snprintf (versions + v, versions_size - v, "}");
    snprintf (dry + d, dry_size - d, "}");
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { names, versions, dry, now, self->replica };
    //  A retired point's ack is one kept from before its retirement (a
    //  point seen in the last 10 s cannot be retired, and one that comes
    //  back says Hello first, which registers it again): it changes
    //  nothing. It cleared the retirement, its who and why, and held every
    //  later change for a gateway that was gone
    if (lg_db_run (ctx->db, "UPDATE points p SET acked_version = greatest (p.acked_version,"
                            " a.v), dry_run = a.d, last_seen = $4::timestamptz, replica = $5"
                            " FROM unnest ($1::text[], $2::bigint[], $3::boolean[])"
                            " AS a (name, v, d) WHERE p.name = a.name AND p.retired_at IS NULL",
                   5, params))
        rc = isolation_emit_in_force (ctx, NULL);
cleanup:
    free (names);
    free (versions);
    free (dry);
    free (points);
    return rc;
}

static void
s_flush_acks (s_points_t *self)
{
    if (self->n_acks == 0)
        return;
    //  A point acks a version once: if the duty fails (the database away, a
    //  conflict), the acks are kept and every Beat tries them again, so a
    //  change a point applied cannot stay pending until the next change
    if (lg_server_run_duty (self->server, s_record_acks, "point acks") == 0)
        self->n_acks = 0;
}

//  Keep the highest version per point until the flush, for every point: a
//  point acks a version once, so an ack not kept here would hold its change
//  back until the point acked a later one (there was room for 64 points,
//  and the 65th point's ack was dropped while the database was away)
static void
s_take_ack (s_points_t *self, const char *point, uint64_t version, bool dry_run)
{
    size_t i;
    for (i = 0; i < self->n_acks && !streq (self->acks [i].point, point); i++)
        ;
    if (i == self->n_acks) {
        if (self->n_acks == self->max_acks) {
            size_t max = self->max_acks? 2 * self->max_acks: 16;
            s_ack_t *acks = (s_ack_t *) realloc (self->acks, max * sizeof (s_ack_t));
            if (!acks) {
                lg_error ("enforcement point %s acked version %" PRIu64 ", not recorded: out"
                          " of memory for the acks of %zu points", point, version, max);
                return;
            }
            self->acks = acks;
            self->max_acks = max;
        }
        i = self->n_acks++;
        snprintf (self->acks [i].point, sizeof self->acks [i].point, "%s", point);
        self->acks [i].version = 0;
    }
    if (version > self->acks [i].version)
        self->acks [i].version = version;
    self->acks [i].dry_run = dry_run;
}

//  A point said Hello at version: an ack of it kept for a later try says
//  no more than that (point 2)
static void
s_clamp_ack (s_points_t *self, const char *point, uint64_t version)
{
    for (size_t i = 0; i < self->n_acks; i++)
        if (streq (self->acks [i].point, point) && self->acks [i].version > version)
            self->acks [i].version = version;
}

static int
s_record_repair (lg_ctx_t *ctx)
{
    s_points_t *self = (s_points_t *) ctx->state;
    Lgwan__V1__DriftRepaired drift = LGWAN__V1__DRIFT_REPAIRED__INIT;
    drift.point = self->point;
    drift.missing = self->repaired->missing;
    drift.n_missing = self->repaired->n_missing;
    drift.extra = self->repaired->extra;
    drift.n_extra = self->repaired->n_extra;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_DRIFT_REPAIRED;
    event.drift_repaired = &drift;
    return lg_outbox_append (ctx->outbox, &event, ctx->actor, "drift repaired by the gateway",
                             "", ctx->now_us);
}

//  A prefix as a point writes it: digits, hex, ':', '.' and one '/'; the
//  kernel gave it to the point, so this only keeps junk out of the record
static bool
s_prefix_like (const char *text)
{
    size_t size = strlen (text);
    const char *slash = strchr (text, '/');
    return size >= 3 && size < 48 && slash && slash > text && slash [1]
        && !strchr (slash + 1, '/')
        && strspn (text, "0123456789abcdefABCDEF:./") == size;
}

static bool
s_repair_valid (const Lgwan__V1__EnforcerRepaired *repaired, char *why, size_t why_size)
{
    for (size_t i = 0; i < repaired->n_missing + repaired->n_extra; i++) {
        const char *text = i < repaired->n_missing? repaired->missing [i]
                                                  : repaired->extra [i - repaired->n_missing];
        if (!s_prefix_like (text)) {
            snprintf (why, why_size, "\"%.48s\" is not a prefix", text);
            return false;
        }
    }
    return true;
}

//  Record the waiting repairs, oldest first; what fails waits for the next
//  Beat (point 5)
static void
s_flush_repairs (s_points_t *self)
{
    s_repair_t *repair;
    while ((repair = (s_repair_t *) zlistx_first (self->repairs))) {
        snprintf (self->point, sizeof self->point, "%s", repair->point);
        self->repaired = repair->frame->repaired;
        int rc = lg_server_run_duty (self->server, s_record_repair, "drift repaired");
        self->repaired = NULL;
        if (rc)
            break;
        zlistx_delete (self->repairs, zlistx_cursor (self->repairs));
    }
}

//  The points connected here are seen now (an operator cannot retire a
//  point that is connected); a point behind the head for longer than
//  LG_LAG_MS: one event per version
static int
s_record_lagging (lg_ctx_t *ctx)
{
    s_points_t *self = (s_points_t *) ctx->state;
    if (zhashx_size (self->peers)) {
        const char **points = (const char **) malloc (zhashx_size (self->peers) * sizeof (char *));
        size_t count = 0;
        for (s_peer_t *peer = (s_peer_t *) zhashx_first (self->peers); peer;
             peer = (s_peer_t *) zhashx_next (self->peers))
            if (!peer->gone)
                points [count++] = peer->point;
        char *names = s_names_array (points, count), now [40];
        free (points);
        lg_clock_format (ctx->now_us, now, sizeof now);
        const char *seen [] = { names, now, self->replica };
        bool ok = lg_db_run (ctx->db, "UPDATE points SET last_seen = $2::timestamptz,"
                                      " replica = $3 WHERE name = ANY ($1::text[])", 3, seen);
        free (names);
        if (!ok)
            return -2;
    }
    //  Behind since the oldest version the point has not acked was made, by
    //  the clock that stamped it (ctx->now_us, settable in tests; not the
    //  database's now ()). The head's age said nothing of a point stuck
    //  while versions came more often than LG_LAG_MS
    char lag [24], now [40];
    snprintf (lag, sizeof lag, "%" PRId64, self->lag_ms);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { lag, now };
    PGresult *res = lg_db_exec (ctx->db,
        "UPDATE points p SET lagging_reported = h.version FROM desired_head h"
        " WHERE h.id = 1 AND p.acked_version < h.version"
        " AND p.lagging_reported < h.version AND p.retired_at IS NULL"
        " AND (SELECT v.created_at FROM desired_versions v WHERE v.version > p.acked_version"
        "      ORDER BY v.version LIMIT 1)"
        "     < $2::timestamptz - ($1::bigint * interval '1 millisecond')"
        " RETURNING p.name, p.acked_version, h.version", 2, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    int rc = 0;
    for (int row = 0; row < PQntuples (res) && rc == 0; row++) {
        Lgwan__V1__EnforcementLagging lagging = LGWAN__V1__ENFORCEMENT_LAGGING__INIT;
        lagging.point = PQgetvalue (res, row, 0);
        lagging.applied = strtoull (PQgetvalue (res, row, 1), NULL, 10);
        lagging.desired = strtoull (PQgetvalue (res, row, 2), NULL, 10);
        lg_warning ("enforcement point %s lags: applied %" PRIu64 ", desired %" PRIu64,
                    lagging.point, lagging.applied, lagging.desired);
        lg_event_t event = LGWAN__V1__EVENT__INIT;
        event.body_case = LGWAN__V1__EVENT__BODY_ENFORCEMENT_LAGGING;
        event.enforcement_lagging = &lagging;
        rc = lg_outbox_append (ctx->outbox, &event, ctx->actor, "", "", ctx->now_us);
    }
    PQclear (res);
    return rc;
}

//  Room for one more certificate in self->foreign_logged: the entries
//  older than S_REFUSAL_LOG_MS go (such a certificate's next frame is
//  logged anyway), and the oldest one if that freed none
static void
s_foreign_prune (s_points_t *self, int64_t now)
{
    zlistx_t *keys = zhashx_keys (self->foreign_logged);
    const char *oldest = NULL;
    int64_t oldest_at = 0;
    for (const char *key = (const char *) zlistx_first (keys); key;
         key = (const char *) zlistx_next (keys)) {
        int64_t at = *(int64_t *) zhashx_lookup (self->foreign_logged, key);
        if (now - at >= S_REFUSAL_LOG_MS)
            zhashx_delete (self->foreign_logged, key);
        else
        if (!oldest || at < oldest_at) {
            oldest = key;
            oldest_at = at;
        }
    }
    if (zhashx_size (self->foreign_logged) >= S_FOREIGN_KEYS_MAX && oldest)
        zhashx_delete (self->foreign_logged, oldest);
    zlistx_destroy (&keys);
}

//  Whether this certificate's frame of this kind for another point is to
//  be logged: at most every S_REFUSAL_LOG_MS for each certificate and kind
//  (point 7), so a certificate saying Hello in a loop neither fills the log
//  nor keeps another certificate's frames out of it
static bool
s_foreign_due (s_points_t *self, const lg_caller_t *caller, const char *what)
{
    int64_t now = zclock_mono ();
    char key [sizeof caller->public_key + 24];
    snprintf (key, sizeof key, "%s %s", caller->public_key, what);
    int64_t *logged = (int64_t *) zhashx_lookup (self->foreign_logged, key);
    if (logged && now - *logged < S_REFUSAL_LOG_MS)
        return false;
    if (!logged) {
        if (zhashx_size (self->foreign_logged) >= S_FOREIGN_KEYS_MAX)
            s_foreign_prune (self, now);
        logged = (int64_t *) malloc (sizeof *logged);
        zhashx_insert (self->foreign_logged, key, logged);
    }
    *logged = now;
    return true;
}

//  A frame naming a point that is not its certificate's (point 7): logged
//  with the certificate's public key (s_foreign_due permitting), and
//  counted on the point it named
static void
s_foreign (s_points_t *self, const lg_caller_t *caller, const char *point, const char *what)
{
    //  An Ack's point was never checked: no junk in the log, nor a count
    bool named = lg_check_point_name (point);
    if (s_foreign_due (self, caller, what)) {
        char detail [120];
        snprintf (detail, sizeof detail, "the certificate's public key %s", caller->public_key);
        if (*caller->point)
            lg_log_write (LG_LOG_ERROR, detail, "refused %s as enforcement point %s from the"
                          " certificate of point %s (X.3: a point speaks only with its own"
                          " certificate)", what, named? point: "(not a point name)",
                          caller->point);
        else
            lg_log_write (LG_LOG_ERROR, detail, "refused %s as enforcement point %s from an"
                          " enforcer certificate that names no point (X.3: make one with"
                          " lgwanctl keygen --role enforcer --point)", what,
                          named? point: "(not a point name)");
    }
    //  PointList shows that someone spoke as it (a point not registered
    //  has no row to count on: the log is its record)
    if (named) {
        snprintf (self->point, sizeof self->point, "%s", point);
        lg_server_run_duty (self->server, s_record_refusal, "point refusal");
    }
}

//  Refuse a Hello for a point that is not the certificate's, for good
static void
s_refuse_foreign (s_points_t *self, zframe_t *identity, const lg_caller_t *caller,
                  const char *point)
{
    s_foreign (self, caller, point, "a Hello");
    char reason [160];
    if (*caller->point)
        snprintf (reason, sizeof reason, "this certificate is for point %s, not %s (X.3)",
                  caller->point, point);
    else
        snprintf (reason, sizeof reason, "this enforcer certificate names no point (X.3)");
    Lgwan__V1__EnforcerRefused refused = LGWAN__V1__ENFORCER_REFUSED__INIT;
    refused.point = (char *) point;
    refused.reason = reason;
    refused.requirement = (char *) "X.3";
    refused.final = true;
    Lgwan__V1__EnforcerFrame out = LGWAN__V1__ENFORCER_FRAME__INIT;
    out.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_REFUSED;
    out.refused = &refused;
    s_send (self, identity, &out);
}

//  One frame from a point
static void
s_handle (s_points_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    lg_caller_t caller;
    ProtobufCMessage *decoded = NULL;
    char undecodable [256] = "";
    if (!identity || !body || zmsg_size (msg)
    ||  !self->auth || lg_auth_caller (self->auth, body, &caller) || caller.role != LG_ROLE_ENFORCER)
        goto cleanup;           //  not an enforcer: nothing to say
    if (lg_codec_decode (&lgwan__v1__enforcer_frame__descriptor, zframe_data (body),
                         zframe_size (body), self->max_msg, &decoded, undecodable,
                         sizeof undecodable)) {
        //  Not a frame, or one over LG_MAX_MSG (a Repaired is kept under the
        //  smaller of the enforcer's and 1 MiB): dropped, and said
        lg_log_write (LG_LOG_WARNING, undecodable, "ignoring a frame of %zu bytes from enforcer %s"
                      " (certificate %s)", zframe_size (body), caller.point, caller.public_key);
        goto cleanup;
    }
    Lgwan__V1__EnforcerFrame *frame = (Lgwan__V1__EnforcerFrame *) decoded;
    char *key = zframe_strhex (identity);
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, key);
    switch (frame->body_case) {
        case LGWAN__V1__ENFORCER_FRAME__BODY_HELLO: {
            //  A test's reactor held up with its connections open
            lg_fault_stall ("hello_stall", 15000);
            //  The name an operator can retire (a longer one used to be taken)
            const char *point = frame->hello->point;
            if (!lg_check_point_name (point))
                break;
            if (!streq (point, caller.point)) {
                //  Point 7: not the certificate's point; it gave up any name
                //  it held (one connection, one certificate, one point)
                if (peer)
                    zhashx_delete (self->peers, key);
                s_refuse_foreign (self, identity, &caller, point);
                break;
            }
            if (s_holder (self, point, key)) {
                if (peer)               //  it held another name: that is given up
                    zhashx_delete (self->peers, key);
                Lgwan__V1__EnforcerRefused refused = LGWAN__V1__ENFORCER_REFUSED__INIT;
                refused.point = (char *) point;
                refused.reason = (char *) "another live connection holds this point name";
                refused.requirement = (char *) "X.3";
                Lgwan__V1__EnforcerFrame out = LGWAN__V1__ENFORCER_FRAME__INIT;
                out.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_REFUSED;
                out.refused = &refused;
                s_send (self, identity, &out);
                int64_t now = zclock_mono ();
                if (self->refusal_logged == 0 || now - self->refusal_logged >= S_REFUSAL_LOG_MS) {
                    self->refusal_logged = now;
                    lg_error ("enforcement point %s said hello from a second connection while the"
                              " first is still connected: refused (two enforcers configured with"
                              " one point name?)", point);
                }
                //  ListPoints shows it (the refused enforcer says Hello
                //  again every few seconds: one small write each time)
                snprintf (self->point, sizeof self->point, "%s", point);
                lg_server_run_duty (self->server, s_record_refusal, "point refusal");
                break;
            }
            peer = (s_peer_t *) zhashx_lookup (self->peers, key);
            if (!peer) {
                peer = (s_peer_t *) zmalloc (sizeof *peer);
                peer->identity = zframe_dup (identity);
                zhashx_insert (self->peers, key, peer);
            }
            snprintf (peer->point, sizeof peer->point, "%s", point);
            peer->seen = zclock_mono ();
            peer->acked_any = false;    //  until it acks the snapshot
            snprintf (self->point, sizeof self->point, "%s", point);
            self->dry_run = frame->hello->dry_run;
            self->hello_version = frame->hello->applied_version;
            lg_info ("enforcement point %s said hello at version %" PRIu64 "%s", point,
                     frame->hello->applied_version, self->dry_run? " (dry run)": "");
            //  An ack kept from before says more than the point holds now
            s_clamp_ack (self, point, self->hello_version);
            s_flush_acks (self);         //  in the order the frames came
            if (lg_server_run_duty (self->server, s_record_hello, "point hello") == 0)
                s_send_snapshot (self, identity);
            break;
        }
        case LGWAN__V1__ENFORCER_FRAME__BODY_ACK:
            if (!streq (frame->ack->point, caller.point)) {
                s_foreign (self, &caller, frame->ack->point, "an ack");
                break;          //  point 7
            }
            if (!peer || !streq (peer->point, frame->ack->point))
                break;          //  an ack from a point that never said hello
            peer->seen = zclock_mono ();
            if (frame->ack->version > self->sent_max) {
                lg_warning ("enforcement point %s acked version %" PRIu64 ", which it was never"
                            " sent (highest sent %" PRIu64 "): ignored", peer->point,
                            frame->ack->version, self->sent_max);
                break;
            }
            s_take_ack (self, peer->point, frame->ack->version, frame->ack->dry_run);
            if (!peer->acked_any || frame->ack->version > peer->acked)
                peer->acked = frame->ack->version;
            peer->acked_any = true;
            break;
        case LGWAN__V1__ENFORCER_FRAME__BODY_REPAIRED:
            if (!peer)
                break;
            peer->seen = zclock_mono ();
            char why [80];
            if (!s_repair_valid (frame->repaired, why, sizeof why)) {
                lg_warning ("enforcement point %s reported a repair that is not one (%s):"
                            " ignored", peer->point, why);
                break;
            }
            lg_warning ("enforcement point %s repaired drift: %zu missing, %zu extra",
                        peer->point, frame->repaired->n_missing, frame->repaired->n_extra);
            if (zlistx_size (self->repairs) == S_REPAIRS_MAX) {
                lg_error ("enforcement point %s: a repair could not be recorded, %d older ones"
                          " wait for the database: dropped", peer->point, S_REPAIRS_MAX);
                break;
            }
            s_repair_t *repair = (s_repair_t *) zmalloc (sizeof *repair);
            snprintf (repair->point, sizeof repair->point, "%s", peer->point);
            repair->frame = frame;
            decoded = NULL;             //  the repair owns the frame now
            zlistx_add_end (self->repairs, repair);
            s_flush_repairs (self);
            break;
        default:
            break;
    }
    zstr_free (&key);
    if (decoded)
        protobuf_c_message_free_unpacked (decoded, NULL);
cleanup:
    zframe_destroy (&identity);
    zframe_destroy (&body);
}

//  The lowest version every live point acked since its Hello; false when
//  one of them has not acked since (or none is connected)
static bool
s_live_min (s_points_t *self, uint64_t *min)
{
    bool known = false;
    for (s_peer_t *peer = (s_peer_t *) zhashx_first (self->peers); peer;
         peer = (s_peer_t *) zhashx_next (self->peers)) {
        if (peer->gone)
            continue;
        if (!peer->acked_any)
            return false;
        if (!known || peer->acked < *min)
            *min = peer->acked;
        known = true;
    }
    return known;
}

//  Every frame already waiting, then the acks among them at once: now when
//  they can put something in force, else at the next Beat (point 5)
static int
s_on_enforcer (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    s_points_t *self = (s_points_t *) arg;
    uint64_t before = 0, after = 0;
    bool known_before = s_live_min (self, &before);
    for (int taken = 0; taken < S_BATCH; taken++) {
        if (taken && !(zsock_events (reader) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv (reader);
        if (!msg)
            break;
        s_handle (self, msg);
        zmsg_destroy (&msg);
    }
    if (!known_before || !s_live_min (self, &after) || after > before)
        s_flush_acks (self);
    return zsys_interrupted? -1: 0;
}

//  One version's Update to every point
//  A frame to every point; the ones found gone are forgotten
static void
s_broadcast (s_points_t *self, Lgwan__V1__EnforcerFrame *frame)
{
    for (s_peer_t *peer = (s_peer_t *) zhashx_first (self->peers); peer;
         peer = (s_peer_t *) zhashx_next (self->peers))
        s_send_peer (self, peer, frame);
    s_sweep (self);
}

static void
s_push (s_points_t *self, uint64_t version, char **add, size_t n_add, char **remove,
        size_t n_remove)
{
    Lgwan__V1__EnforcementUpdate update = LGWAN__V1__ENFORCEMENT_UPDATE__INIT;
    update.version = version;
    update.base_version = version - 1;
    update.add = add;
    update.n_add = n_add;
    update.remove = remove;
    update.n_remove = n_remove;
    Lgwan__V1__EnforcerFrame out = LGWAN__V1__ENFORCER_FRAME__INIT;
    out.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_UPDATE;
    out.update = &update;
    s_broadcast (self, &out);
    if (version > self->pushed)
        self->pushed = version;
}

//  Each change of the set goes to every point as it is published, unless
//  the poll found it in the database first
static void
s_on_published (void *arg, const char *topic, zframe_t *frame)
{
    s_points_t *self = (s_points_t *) arg;
    if (!streq (topic, "desired_state_changed"))
        return;
    lg_event_t *event = lgwan__v1__event__unpack (NULL, zframe_size (frame), zframe_data (frame));
    if (!event || event->body_case != LGWAN__V1__EVENT__BODY_DESIRED_STATE_CHANGED) {
        if (event)
            lgwan__v1__event__free_unpacked (event, NULL);
        return;
    }
    Lgwan__V1__DesiredStateChanged *changed = event->desired_state_changed;
    if (changed->version > self->pushed)
        s_push (self, changed->version, changed->add, changed->n_add, changed->remove,
                changed->n_remove);
    lgwan__v1__event__free_unpacked (event, NULL);
}

//  Versions committed that no Update carried yet: another replica's, or
//  ours not yet handed over by the worker that committed them (point 3)
static void
s_read_versions (s_points_t *self)
{
    char after [24], most [16];
    snprintf (after, sizeof after, "%" PRIu64, self->pushed);
    snprintf (most, sizeof most, "%d", S_POLL_VERSIONS);
    const char *params [] = { after, most, self->pushed_known? "t": "f" };
    PGresult *res = lg_db_exec (self->db,
        "SELECT h.version AS head, v.version, array_to_string (v.added, ',') AS added,"
        " array_to_string (v.removed, ',') AS removed FROM desired_head h"
        " LEFT JOIN LATERAL (SELECT * FROM desired_versions d WHERE d.version > $1::bigint"
        "  AND $3::boolean ORDER BY d.version LIMIT $2::integer) v ON true"
        " WHERE h.id = 1 ORDER BY v.version", 3, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) == 0) {
        PQclear (res);
        return;                     //  no database: the Beat says the head when it is back
    }
    uint64_t head = strtoull (lg_db_value (res, 0, "head"), NULL, 10);
    self->head_read_at = zclock_mono ();
    int rows = PQntuples (res);
    if (!self->pushed_known || head < self->pushed || head - self->pushed > S_POLL_VERSIONS) {
        //  At start (whether or not a point is connected yet, and the head
        //  may be 0), after the database went back, or too far behind: the
        //  points learn the head from the Beat and ask for a Snapshot
        self->pushed = head;
        self->pushed_known = true;
    }
    else
        for (int row = 0; row < rows && lg_db_value (res, row, "version"); row++) {
            char *added = lg_db_strdup (res, row, "added");
            char *removed = lg_db_strdup (res, row, "removed");
            size_t n_add, n_remove;
            char **add = isolation_split (added, &n_add);
            char **remove = isolation_split (removed, &n_remove);
            s_push (self, strtoull (lg_db_value (res, row, "version"), NULL, 10),
                    add, n_add, remove, n_remove);
            free (add);
            free (remove);
            free (added);
            free (removed);
        }
    PQclear (res);
}

static int s_on_notified (zloop_t *loop, zmq_pollitem_t *item, void *arg);

//  Listen on the connection of our own, and read what was missed meanwhile
static void
s_listen (s_points_t *self)
{
    if (lg_db_listen (self->listener, S_CHANNEL))
        return;
    self->listen_fd = PQsocket (lg_db_conn (self->listener));
    zmq_pollitem_t item = { NULL, self->listen_fd, ZMQ_POLLIN, 0 };
    if (zloop_poller (self->loop, &item, s_on_notified, self)) {
        self->listen_fd = -1;
        return;
    }
    zloop_poller_set_tolerant (self->loop, &item);
    s_read_versions (self);
}

static int
s_on_notified (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_points_t *self = (s_points_t *) arg;
    uint64_t version;
    int notified = lg_db_notified (self->listener, &version);
    if (notified < 0) {
        //  Lost: the timer reads the versions until it listens again
        zloop_poller_end (loop, item);
        self->listen_fd = -1;
    }
    else
    if (notified > 0 && version > self->pushed)
        s_read_versions (self);     //  ours are mostly pushed already
    return 0;
}

//  Every S_POLL_MS: nothing while listening; else listen again, or read
static int
s_on_poll (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_points_t *self = (s_points_t *) arg;
    if (self->listen_fd >= 0)
        return 0;
    s_listen (self);
    if (self->listen_fd < 0)
        s_read_versions (self);
    return 0;
}

//  Every second: a Beat to every point, and the lagging ones reported
static int
s_on_beat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_points_t *self = (s_points_t *) arg;
    s_flush_acks (self);            //  acks and repairs a failed duty left
    s_flush_repairs (self);
    Lgwan__V1__EnforcementBeat beat = LGWAN__V1__ENFORCEMENT_BEAT__INIT;
    beat.version = s_head (self);
    //  A head not read for longer than the grace: no Beat, so that the
    //  points move to a replica with its database (point 4)
    if (zclock_mono () - self->head_read_at > S_HEAD_GRACE_MS) {
        if (!self->beats_stopped && self->head_read_at)
            lg_warning ("the head of the desired state was last read %" PRId64 " ms ago: no"
                        " more Beats until it can be read, so the enforcement points move to"
                        " another replica", zclock_mono () - self->head_read_at);
        else
        if (!self->beats_stopped)
            lg_warning ("the head of the desired state could not be read yet: no Beats until"
                        " it can");
        self->beats_stopped = true;
        return 0;
    }
    if (self->beats_stopped)
        lg_info ("the head of the desired state can be read again: Beats go on");
    self->beats_stopped = false;
    Lgwan__V1__EnforcerFrame out = LGWAN__V1__ENFORCER_FRAME__INIT;
    out.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_BEAT;
    out.beat = &beat;
    s_broadcast (self, &out);
    lg_server_run_duty (self->server, s_record_lagging, "lagging points");
    return 0;
}

int
isolation_points_attach (void *state, const lg_service_env_t *env)
{
    s_points_t *self = (s_points_t *) state;
    self->server = env->server;
    self->db = env->db;
    self->loop = env->loop;
    lg_db_set_user_timeout (self->listener, LG_REACTOR_USER_TIMEOUT_MS);
    self->auth = env->auth;
    self->router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (self->router, 0);
    self->max_msg = (size_t) env->cfg->max_msg;
    zsock_set_maxmsgsize (self->router, (int) env->cfg->max_msg);
    zsock_set_router_mandatory (self->router, 1);     //  point 6
    zsock_set_heartbeat_ivl (self->router, 1000);
    zsock_set_heartbeat_timeout (self->router, 3000);
    if ((env->auth && lg_auth_server (env->auth, self->router, "isolation"))
    ||  zsock_bind (self->router, "%s", self->endpoint) < 0) {
        lg_log_write (LG_LOG_ERROR, zmq_strerror (zmq_errno ()), "could not bind %s",
                      self->endpoint);
        return -1;
    }
    char *bound = zsock_last_endpoint (self->router);
    const char *port = bound? strrchr (bound, ':'): NULL;
    char *host = zsys_hostname ();
    snprintf (self->replica, sizeof self->replica, "%s:%s", host? host: "", port? port + 1: "");
    zstr_free (&host);
    lg_info ("enforcement points connect to %s", bound);
    zstr_free (&bound);
    lg_outbox_set_listener (env->outbox, s_on_published, self);
    zloop_reader (env->loop, self->router, s_on_enforcer, self);
    zloop_timer (env->loop, 1000, 0, s_on_beat, self);
    zloop_timer (env->loop, S_POLL_MS, 0, s_on_poll, self);
    s_listen (self);
    return 0;
}
