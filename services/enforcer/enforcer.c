/*  enforcer - the enforcement point's reactor: the isolation service's
    desired state in, table inet lgwan kept equal to it, acks and repairs out.

    The channel (proto/lgwan/v1/isolation.proto) is the zguide's Clone
    pattern: a snapshot, then updates that each name the version they build
    on, and a beat every second that carries the service's current version.
    One EnforcerFrame per ZeroMQ message, on our DEALER connected to the
    isolation service's ROUTER with CURVE (role `enforcer`).

    What it guarantees:

    1. An Ack{point, version, dry_run} leaves only after the version was
       applied as one batch and read back: a snapshot by listing the whole
       table and comparing it with the desired state, an update by asking
       the kernel for exactly the elements it changed and for the ruleset's
       generation, which must have moved by our own batches only since the
       table was last listed (so its cost does not grow with the table; the
       reconcile lists the whole table every LG_RECONCILE_MS). When it moved
       otherwise (a chain flushed, a foreign rule, the table made dormant,
       anything committed in the namespace) the update is read back by a
       listing, and rebuilt if need be, before its ack. A dry run applies
       nothing, records, and says so in every Ack and Hello. A version that
       could not be applied or verified is marked dirty: no Ack, and every
       reconcile tick retries (a full rebuild) until the kernel holds it,
       then the Ack goes out, after a Repaired for any drift the rebuild
       repaired besides the changes not acked yet (point 4). A version is
       acked once (the isolation service takes a point's ack of a version
       once): a reconcile that fails marks an acked version dirty too (the
       next Update is then applied by a rebuild), and the one that then
       finds the kernel holding it reports what it repaired, not a second
       Ack, which a failed reconcile used to bring. A difference a
       Snapshot's full read found (the kernel at start) is reported when
       found, also when its rebuild's read-back falls short: the retry acked
       without it, and the Repaired at start was lost.
    2. Nothing is applied that was not validated. Every prefix of a frame is
       parsed (enf_prefix_parse); one bad prefix, a prefix both added and
       removed, or an undecodable frame makes the whole frame ignored and
       logged, never partly applied. The desired state is a zhashx of
       canonical prefixes; applying an update twice changes nothing.
    3. Gaps are never papered over. An Update whose base_version is not the
       version we hold, a Beat ahead of us for half a second with no Update,
       a Beat behind us (the service went back), a (re)connection (socket
       monitor: handshake succeeded), and 3 s without any frame (a half-dead
       connection; ZMTP heartbeats drop it too) each make us send Hello
       {point, applied_version, dry_run}; the service answers with a
       Snapshot, which replaces the desired state whatever its version.
       Hellos are spaced at least 500 ms apart and retried while the socket
       has no connection (ZMQ_IMMEDIATE: nothing queues for a peer that is
       not there).
    4. Drift is repaired. Every LG_RECONCILE_MS the table is read back; when
       the kernel differs (a `nft flush ruleset`, an element deleted or added
       by hand, a foreign rule in our chain) it is rebuilt in one batch, read
       back again, and Repaired{point, version, missing, extra} says what was
       wrong. The first snapshot after a start is compared with what the
       kernel held before it was applied, and a difference is reported the
       same way: after a restart the enforcer cannot tell drift from changes
       made while it was down, the isolation service (which knows what the
       point acked before) can. A later snapshot (a reconnect, a fail-over,
       a gap) is compared the same way, less what it changes (a prefix in
       the desired state it replaces or in its own, not both) and the
       changes not acked yet: the kernel held the state it replaces, so the
       rest is drift (a snapshot used to rebuild it saying nothing). An
       Update whose batch fails because the
       kernel drifted (the table deleted, an element removed by hand), or
       whose read-back finds the ruleset changed by someone else (point 1),
       is applied by a rebuild if need be and the drift reported the same
       way, less the Update's own changes: the reconcile would have found it
       the same.
    5. Never pretend. EPERM from nftables at any time stops the process with
       its cause on stderr and a non-zero exit; it does not keep acking from
       memory. The cause as it is: "table inet lgwan is owned by another
       process" when the table has the owner flag (ENF_NFT_OWNED, with the
       owner's netlink port id), else "needs CAP_NET_ADMIN", or, when the
       process holds that capability in its effective set (capget), that
       nftables refused although it does. An owned table used to stop the
       enforcer saying it needed CAP_NET_ADMIN, which it had.
    6. Replicas. LG_ISOLATION_ENFORCER_CONNECT may name up to four
       endpoints, one per isolation replica; we are connected to one at a
       time (a DEALER connected to several would deal our Hellos and Acks
       out among them). 1 s (more after Snapshots too big, point 8) after
       the connection to our replica was lost
       (the process or the way to it is gone; ZMTP heartbeats close a dead
       connection within 3 s), 3 s when the replica we moved to never
       answered, or 10 s connected without a frame (Beats come every
       second), we connect to the next, say Hello and take its Snapshot.
       Moving costs one Snapshot, and while we have no replica no change
       reaches the gateway, so a lost connection does not wait for its
       replica to come back; with every replica down we move every 3 s.
       10 s when connected: a replica whose database is away holds its
       reactor for a few seconds, and should not send every point
       elsewhere for that. With one endpoint, the same one again: libzmq
       reconnects by itself after a connection error, not after a protocol
       error (point 8), after which nothing connected again, ever. With no
       replica reachable, a move is warned of once a minute (it was every
       3 s: twenty lines a minute for as long as an outage lasted).
    7. One certificate, one point (X.3). The isolation service takes a
       Hello only for the point our certificate's metadata names, and
       refuses any other for good (Refused{final}); the enforcer checks at
       start that LG_ENFORCER_POINT is that point, and stops on a final
       Refused, saying why on stderr, rather than saying Hello in a loop.
       A Refused that is not final (another live connection holds the
       name) is logged, and Hello is said again after the silence.
    8. A frame over LG_MAX_MSG is said, not dropped unseen. ZeroMQ's own
       bound (ZMQ_MAXMSGSIZE) is twice LG_MAX_MSG (+ 64), so a Snapshot a
       growing set pushed past the limit reaches lg_codec_decode, whose
       "message of N bytes is over the limit" is logged each time it comes,
       with what to raise; the frame is ignored, and the silence or a Beat
       ahead brings a Hello again. It used to be LG_MAX_MSG + 64: libzmq
       closed the connection as a protocol error and never reconnected.
       Not unbounded: a hostile replica could then make ZeroMQ allocate
       whatever a frame header claims. A frame over ZeroMQ's bound still
       closes the connection, and point 6 opens it again. What ZeroMQ holds
       for us is at most S_RCVHWM (100) frames of that bound (ZMQ_RCVHWM:
       at the bound it stops reading the socket, nothing is lost here): 200
       MiB at the default 1 MiB, where 1000 frames of 1 MiB were before.
       Each frame over LG_MAX_MSG doubles the spacing of our Hellos (500 ms
       up to 32 s) until a Snapshot within it comes: every Hello makes the
       service build a Snapshot as big again, and we asked twice a second.
       A frame over ZeroMQ's bound is never seen here: ZeroMQ closes the
       connection, and the monitor says only that it was lost. A loss after
       our Hello went on the connection and before its Snapshot (or a
       Refused) came is taken for one, logged with ZeroMQ's bound, and
       counted like a frame over LG_MAX_MSG: we connect again (point 6)
       after the Hello spacing, 1 s up to 32 s, not 1 s. We connected again
       every second, said Hello and were sent the same Snapshot, for ever,
       with nothing in the log about its size. A replica that went away
       in that moment costs the first step, 1 s, as before.
    9. A Repaired frame stays under what the isolation service decodes:
       its lists are cut at the smaller of LG_MAX_MSG and
       LG_MAX_MSG_DEFAULT (the service decodes enforcer frames at its own
       LG_MAX_MSG, 1 MiB unless raised), some 20,000 prefixes, and the log
       says how many of how many went (the frame has no field for it).
   10. The gateway's namespace, not a dead one. Our nftables contexts were
       opened in the namespace /run/netns/<name> named at start (main.c),
       and keep it alive when it is deleted: after `ip netns del` and `ip
       netns add` (a gateway restarted) every batch and read-back went to
       the old one, Updates were acked and no drift was found while the new
       namespace held no table. Each reconcile tick, each frame from the
       service before it is handled, and every Ack and Repaired before it
       leaves, asks enf_nft_netns_same whether the name still names the
       namespace entered (one stat; the old namespace, alive while we hold
       it, keeps its inode from being reused); when not, the
       enforcer stops with a FATAL naming it (exit 1), sending nothing
       more, so that its supervisor starts it in the new one.
   11. A repair is reported even when no replica was there to hear it. A
       reconcile repairs drift whether we are connected or not, and our
       socket queues nothing for a replica that is not there
       (ZMQ_IMMEDIATE): the Repaired was logged and dropped, and the
       Snapshot after the reconnect found the kernel already repaired, so
       the DriftRepaired record (who changed a gateway, X.1) was lost. An
       unsent Repaired is kept, merged with any later one (the prefixes of
       both lists, at the version of the latest), bounded like one frame
       (point 9: what goes past is counted and logged), and sent after the
       next Snapshot, the answer to our Hello on a live connection.
*/
#include "enforcer.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TICK_MS           100     //  Hello retries, beat and silence checks
#define S_HELLO_SPACING_MS  500     //  at most two Hellos a second
#define S_BEHIND_MS         500     //  a Beat ahead of us, no Update since: gap
#define S_SILENCE_MS        3000    //  no frame at all: Hello again
#define S_FAILOVER_MS       10000   //  connected, no frame at all: the next replica, if any
#define S_UNREACHABLE_MS    3000    //  never connected since we moved here: the next, if any
#define S_LOST_MS           1000    //  connected here once, not now: the next, if any
#define S_LIST_LOG_MAX      10      //  prefixes named in a log DETAIL
#define S_ZMQ_MSG_FACTOR    2       //  ZeroMQ's bound on a frame: this many times LG_MAX_MSG
#define S_RCVHWM            100     //  frames ZeroMQ queues for us, at most (point 8)
#define S_OVERSIZE_SHIFT    6       //  Hellos after Snapshots too big: up to 500 ms << 6, 32 s
#define S_OUTAGE_WARN_MS    60000   //  no replica reachable: warned once a minute (point 6)

typedef struct {
    enforcer_config_t config;
    enf_nft_t *nft;                 //  NULL in dry run
    zsock_t *pipe;
    zsock_t *dealer;                //  to the isolation service
    zsock_t *monitor;               //  events of dealer
    char monitor_endpoint [64];
    zloop_t *loop;

    zhashx_t *desired;              //  canonical prefixes of `version`
    uint64_t version;
    bool have_state;                //  a snapshot arrived since start
    bool dirty;                     //  the kernel may not hold `version` (point 1)
    bool ack_owed;                  //  `version` came and was not acked yet (point 1)
    uint64_t acked;                 //  last version acked
    //  Until the next ack: what the kernel may differ in by our own doing,
    //  not drift (point 4): the prefixes of the Updates since the last ack,
    //  and those a Snapshot (not the first) since changed (in the desired
    //  state before it or after it, not both)
    zhashx_t *own;

    bool hello_pending;             //  a Hello is wanted and not sent yet
    int64_t hello_sent_at;
    int oversize;                   //  Snapshots too big since the last one taken (point 8)
    bool snapshot_due;              //  our Hello went on this connection, no Snapshot since
    int64_t outage_warned;          //  zclock_mono of this outage's last warning, 0 if none (point 6)
    int outage_moves;               //  moves since then, not warned of
    int64_t frame_at;               //  last frame from the service
    int64_t refused_logged;         //  zclock_mono of the last Refused logged
    int64_t behind_since;           //  a Beat showed a newer version, 0 if none
    size_t target;                  //  the endpoint we are connected to
    int64_t switched_at;            //  zclock_mono when we connected to it
    bool connected;                 //  the connection to it is up (socket monitor)
    bool reached;                   //  it was up at least once since we moved to it
    int64_t down_since;             //  zclock_mono since when it is not
    uint64_t beat_version;
    char fatal [512];               //  set: stop the reactor
    //  Point 11: repairs no replica heard yet, canonical prefixes, at most
    //  s_repaired_max in all; what went past that, counted
    zhashx_t *unsent_missing;
    zhashx_t *unsent_extra;
    uint64_t unsent_version;
    size_t unsent_dropped;
} s_enforcer_t;

typedef void (s_frame_fn) (s_enforcer_t *self, Lgwan__V1__EnforcerFrame *frame);

static s_frame_fn s_on_snapshot, s_on_update, s_on_beat, s_on_refused;

//  What arrives from the isolation service; other bodies are ours to send
static const struct {
    Lgwan__V1__EnforcerFrame__BodyCase body;
    const char *name;
    s_frame_fn *handler;
} s_frames [] = {
    { LGWAN__V1__ENFORCER_FRAME__BODY_SNAPSHOT, "Snapshot", s_on_snapshot },
    { LGWAN__V1__ENFORCER_FRAME__BODY_UPDATE,   "Update",   s_on_update },
    { LGWAN__V1__ENFORCER_FRAME__BODY_BEAT,     "Beat",     s_on_beat },
    { LGWAN__V1__ENFORCER_FRAME__BODY_REFUSED,  "Refused",  s_on_refused }
};


//  --------------------------------------------------------------------------
//  Configuration

int
enforcer_config_load (enforcer_config_t *config, char *why, size_t why_size)
{
    assert (config);
    memset (config, 0, sizeof *config);
    if (lg_config_string ("LG_ENFORCER_POINT", NULL, false, config->point, sizeof config->point,
                          why, why_size))
        return -1;
    if (!lg_check_point_name (config->point)) {
        lg_why (why, why_size, "LG_ENFORCER_POINT: \"%s\" is not [a-z0-9-]{1,32}", config->point);
        return -1;
    }
    if (lg_config_string ("LG_ENFORCER_NETNS", NULL, false, config->netns, sizeof config->netns,
                          why, why_size))
        return -1;
    if (!enf_netns_valid (config->netns)) {
        lg_why (why, why_size, "LG_ENFORCER_NETNS: \"%s\" is neither \"host\" nor a name of "
                "[A-Za-z0-9._-]{1,%d} under /run/netns", config->netns, ENF_NETNS_MAX - 1);
        return -1;
    }
    const char *dry_run = getenv ("LG_ENFORCER_DRY_RUN");
    if (dry_run && strcmp (dry_run, "true") && strcmp (dry_run, "false")) {
        lg_why (why, why_size, "LG_ENFORCER_DRY_RUN: \"%s\" is neither true nor false", dry_run);
        return -1;
    }
    config->dry_run = dry_run && strcmp (dry_run, "true") == 0;
    if (lg_config_int ("LG_RECONCILE_MS", 2000, 50, 3600000, &config->reconcile_ms,
                       why, why_size)
    ||  lg_config_int ("LG_MAX_MSG", LG_MAX_MSG_DEFAULT, 1024, 64 * 1024 * 1024,
                       &config->max_msg, why, why_size))
        return -1;
    if (lg_config_string ("LG_ISOLATION_ENFORCER_CONNECT", "tcp://127.0.0.1:7305", false,
                          config->connect, sizeof config->connect, why, why_size)
    ||  lg_config_string ("LG_CERT_DIR", "certs", false, config->cert_dir,
                          sizeof config->cert_dir, why, why_size))
        return -1;
    //  One endpoint per isolation replica, tried in turn (point 6)
    for (const char *next = config->connect; ; next++) {
        size_t span = strcspn (next, ",");
        if (span == 0 || span >= sizeof config->endpoints [0]
        ||  strcspn (next, " \t") < span || config->n_endpoints == ENFORCER_CONNECT_MAX) {
            lg_why (why, why_size, "LG_ISOLATION_ENFORCER_CONNECT: \"%s\" is not 1 to %d"
                    " endpoints separated by commas", config->connect, ENFORCER_CONNECT_MAX);
            return -1;
        }
        snprintf (config->endpoints [config->n_endpoints++], sizeof config->endpoints [0],
                  "%.*s", (int) span, next);
        next += span;
        if (*next == 0)
            break;
    }
    char dflt [600];
    snprintf (dflt, sizeof dflt, "%s/clients/enforcer_secret", config->cert_dir);
    if (lg_config_string ("LG_ENFORCER_CERT", dflt, false, config->cert, sizeof config->cert,
                          why, why_size))
        return -1;
    snprintf (config->server_cert, sizeof config->server_cert, "%s/services/isolation",
              config->cert_dir);
    if (lg_config_string ("LG_FAULTS", "", true, config->faults, sizeof config->faults,
                          why, why_size))
        return -1;
    const char *level = getenv ("LG_LOG_LEVEL");
    config->log_level = level? lg_log_level_parse (level): LG_LOG_INFO;
    if (config->log_level < 0) {
        lg_why (why, why_size, "LG_LOG_LEVEL: \"%s\" is not debug, info, log, warning or error",
                level);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Sending

//  Send one frame without waiting; -1 when there is no connection to send on
static int
s_send (s_enforcer_t *self, Lgwan__V1__EnforcerFrame *frame)
{
    zframe_t *packed = lg_codec_frame (&frame->base);
    if (!packed)
        return -1;
    if (zframe_send (&packed, self->dealer, ZFRAME_DONTWAIT)) {
        zframe_destroy (&packed);
        return -1;
    }
    return 0;
}

//  The spacing of Hellos: doubled by each frame over LG_MAX_MSG since the
//  last Snapshot (point 8), up to S_OVERSIZE_SHIFT times
static int64_t
s_hello_spacing (const s_enforcer_t *self)
{
    int shift = self->oversize < S_OVERSIZE_SHIFT? self->oversize: S_OVERSIZE_SHIFT;
    return (int64_t) S_HELLO_SPACING_MS << shift;
}

//  How long after losing a connection that was up we connect again (point
//  6), spaced like the Hellos after Snapshots too big (point 8): connecting
//  again means a Hello, and a Snapshot as big again
static int64_t
s_lost_ms (const s_enforcer_t *self)
{
    return s_hello_spacing (self) > S_LOST_MS? s_hello_spacing (self): S_LOST_MS;
}

//  ZeroMQ's own bound on a frame (ZMQ_MAXMSGSIZE, point 8)
static int64_t
s_zmq_bound (const s_enforcer_t *self)
{
    return (int64_t) S_ZMQ_MSG_FACTOR * self->config.max_msg + 64;
}

static void
s_try_hello (s_enforcer_t *self)
{
    int64_t now = zclock_mono ();
    if (!self->hello_pending || now - self->hello_sent_at < s_hello_spacing (self))
        return;
    Lgwan__V1__EnforcerHello hello = LGWAN__V1__ENFORCER_HELLO__INIT;
    hello.point = self->config.point;
    hello.applied_version = self->acked;
    hello.dry_run = self->config.dry_run;
    Lgwan__V1__EnforcerFrame frame = LGWAN__V1__ENFORCER_FRAME__INIT;
    frame.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_HELLO;
    frame.hello = &hello;
    if (s_send (self, &frame) == 0) {
        self->hello_pending = false;
        self->snapshot_due = true;
        self->hello_sent_at = now;
        lg_debug ("sent Hello, applied version %" PRIu64, self->acked);
    }
}

//  Ask for a snapshot (point 3); reason is logged once per Hello
static void
s_want_hello (s_enforcer_t *self, const char *reason)
{
    if (!self->hello_pending)
        lg_info ("asking the isolation service for a snapshot: %s", reason);
    self->hello_pending = true;
    s_try_hello (self);
}

//  Point 10: false, with the fatal set, when the gateway's namespace is no
//  longer the one our contexts act on (or a fatal was set before): nothing
//  of ours may then be claimed
static bool
s_namespace_held (s_enforcer_t *self)
{
    if (self->fatal [0])
        return false;
    char why [400] = "";
    if (!self->nft || enf_nft_netns_same (self->nft, why, sizeof why) == 0)
        return true;
    fprintf (stderr, "lgwan-enforcer: network namespace %s is not the one entered at start: %s;"
             " exiting, to be started again in the new one\n", self->config.netns, why);
    snprintf (self->fatal, sizeof self->fatal, "network namespace %s is not the one entered"
              " at start: %.300s", self->config.netns, why);
    lg_log_write (LG_LOG_FATAL, why, "network namespace %s was deleted or replaced since start:"
                  " nothing applied reaches the gateway; exiting, to be started again in the new"
                  " one", self->config.netns);
    return false;
}

static void
s_send_ack (s_enforcer_t *self)
{
    if (!s_namespace_held (self))
        return;                         //  no ack of what is not in force (point 10)
    Lgwan__V1__EnforcerAck ack = LGWAN__V1__ENFORCER_ACK__INIT;
    ack.point = self->config.point;
    ack.version = self->version;
    ack.dry_run = self->config.dry_run;
    Lgwan__V1__EnforcerFrame frame = LGWAN__V1__ENFORCER_FRAME__INIT;
    frame.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_ACK;
    frame.ack = &ack;
    self->acked = self->version;
    self->ack_owed = false;
    zhashx_purge (self->own);
    if (s_send (self, &frame))
        lg_warning ("could not send Ack for version %" PRIu64 ": not connected",
                    self->version);
}

//  Point at up to max strings of list (borrowed); returns the count
static size_t
s_pointers (zlistx_t *list, char **array, size_t max)
{
    size_t count = 0;
    for (char *item = (char *) zlistx_first (list); item && count < max;
         item = (char *) zlistx_next (list))
        array [count++] = item;
    return count;
}

//  The first few prefixes of a list, for a log DETAIL
static void
s_list_text (zlistx_t *list, char *text, size_t size)
{
    size_t used = 0, count = 0;
    text [0] = '\0';
    for (const char *item = (const char *) zlistx_first (list); item && used < size;
         item = (const char *) zlistx_next (list)) {
        if (count++ == S_LIST_LOG_MAX) {
            snprintf (text + used, size - used, ", ... (%zu in all)", zlistx_size (list));
            break;
        }
        int wrote = snprintf (text + used, size - used, "%s%s", used? ", ": "", item);
        used += wrote > 0? (size_t) wrote: 0;
    }
}

//  What one Repaired frame may list, in prefixes, and in bytes (*bound_p):
//  under the smaller of LG_MAX_MSG and LG_MAX_MSG_DEFAULT, what the service
//  decodes unless its own LG_MAX_MSG is raised (point 9), each prefix at
//  most ENF_PREFIX_MAX bytes plus framing
static size_t
s_repaired_max (const s_enforcer_t *self, size_t *bound_p)
{
    size_t bound = (size_t) self->config.max_msg < LG_MAX_MSG_DEFAULT?
                   (size_t) self->config.max_msg: LG_MAX_MSG_DEFAULT;
    if (bound_p)
        *bound_p = bound;
    return bound / (ENF_PREFIX_MAX + 4);
}

//  Send Repaired{point, version, missing, extra}, its lists cut to fit
//  (point 9); -1 when there is no connection to send it on
static int
s_repaired_frame (s_enforcer_t *self, uint64_t version, zlistx_t *missing, zlistx_t *extra)
{
    size_t bound = 0;
    size_t max = s_repaired_max (self, &bound);
    size_t max_missing = zlistx_size (missing) < max? zlistx_size (missing): max;
    size_t max_extra = zlistx_size (extra) < max - max_missing?
                       zlistx_size (extra): max - max_missing;
    char **missing_array = (char **) calloc (max_missing + 1, sizeof (char *));
    char **extra_array = (char **) calloc (max_extra + 1, sizeof (char *));
    if (!missing_array || !extra_array) {
        free (missing_array);
        free (extra_array);
        return -1;
    }
    Lgwan__V1__EnforcerRepaired repaired = LGWAN__V1__ENFORCER_REPAIRED__INIT;
    repaired.point = self->config.point;
    repaired.version = version;
    repaired.n_missing = s_pointers (missing, missing_array, max_missing);
    repaired.missing = missing_array;
    repaired.n_extra = s_pointers (extra, extra_array, max_extra);
    repaired.extra = extra_array;
    if (repaired.n_missing < zlistx_size (missing) || repaired.n_extra < zlistx_size (extra))
        lg_warning ("Repaired at version %" PRIu64 " lists only %zu of %zu missing and %zu of"
                    " %zu extra prefixes: the frame stays under %zu bytes (the smaller of"
                    " LG_MAX_MSG and %d, what the isolation service decodes by default)",
                    version, repaired.n_missing, zlistx_size (missing),
                    repaired.n_extra, zlistx_size (extra), bound, LG_MAX_MSG_DEFAULT);
    Lgwan__V1__EnforcerFrame frame = LGWAN__V1__ENFORCER_FRAME__INIT;
    frame.body_case = LGWAN__V1__ENFORCER_FRAME__BODY_REPAIRED;
    frame.repaired = &repaired;
    int rc = s_send (self, &frame);
    free (missing_array);
    free (extra_array);
    return rc;
}

//  Keep the prefixes of list in unsent, within the bound of one frame
//  (point 11)
static void
s_unsent_add (s_enforcer_t *self, zhashx_t *unsent, zlistx_t *list)
{
    size_t max = s_repaired_max (self, NULL);
    for (const char *prefix = (const char *) zlistx_first (list); prefix;
         prefix = (const char *) zlistx_next (list)) {
        if (zhashx_lookup (unsent, prefix))
            continue;
        if (zhashx_size (self->unsent_missing) + zhashx_size (self->unsent_extra) < max)
            zhashx_insert (unsent, prefix, (void *) "1");
        else
            self->unsent_dropped++;
    }
}

//  The sorted prefixes of a set, in a new list
static zlistx_t *
s_sorted (zhashx_t *set)
{
    zlistx_t *list = enf_strings_new ();
    for (void *item = zhashx_first (set); item; item = zhashx_next (set))
        zlistx_add_end (list, (void *) zhashx_cursor (set));
    zlistx_sort (list);
    return list;
}

//  Send what repairs no replica heard (point 11), if any; kept when it
//  cannot go either
static void
s_send_unsent (s_enforcer_t *self)
{
    if (zhashx_size (self->unsent_missing) == 0 && zhashx_size (self->unsent_extra) == 0)
        return;
    zlistx_t *missing = s_sorted (self->unsent_missing);
    zlistx_t *extra = s_sorted (self->unsent_extra);
    if (s_repaired_frame (self, self->unsent_version, missing, extra) == 0) {
        lg_info ("sent the Repaired no isolation service heard when it was made (version %"
                 PRIu64 "): %zu missing, %zu extra%s", self->unsent_version,
                 zlistx_size (missing), zlistx_size (extra), self->unsent_dropped?
                 "; more prefixes than one frame lists were repaired meanwhile and not kept": "");
        zhashx_purge (self->unsent_missing);
        zhashx_purge (self->unsent_extra);
        self->unsent_dropped = 0;
    }
    zlistx_destroy (&missing);
    zlistx_destroy (&extra);
}

//  Log and report a repair; what says what was wrong ("3 missing, 0 extra;
//  table inet lgwan does not exist"). Not sent (no replica connected): kept
//  for the next Snapshot (point 11)
static void
s_send_repaired (s_enforcer_t *self, zlistx_t *missing, zlistx_t *extra, const char *what)
{
    if (!s_namespace_held (self))
        return;                         //  repaired a dead namespace (point 10)
    char lost [512], stray [512], detail [1100];
    s_list_text (missing, lost, sizeof lost);
    s_list_text (extra, stray, sizeof stray);
    snprintf (detail, sizeof detail, "missing: %s; extra: %s", *lost? lost: "none",
              *stray? stray: "none");
    lg_log_write (LG_LOG_WARNING, detail, "repaired table inet " ENF_TABLE
                  " in network namespace %s at version %" PRIu64 ": %s",
                  self->config.netns, self->version, what);
    if (s_repaired_frame (self, self->version, missing, extra) == 0)
        return;
    size_t dropped = self->unsent_dropped;
    s_unsent_add (self, self->unsent_missing, missing);
    s_unsent_add (self, self->unsent_extra, extra);
    self->unsent_version = self->version;
    lg_warning ("could not send Repaired for version %" PRIu64 ": not connected; kept for the"
                " next connection (%zu missing, %zu extra kept%s)", self->version,
                zhashx_size (self->unsent_missing), zhashx_size (self->unsent_extra),
                self->unsent_dropped > dropped? ", more than one frame lists: the rest dropped":
                "");
}


//  --------------------------------------------------------------------------
//  Applying

//  nftables failed: EPERM stops the enforcer (point 5), the rest is logged
//  and leaves the version dirty for the next reconcile
static void
s_nft_failed (s_enforcer_t *self, int rc, const char *what, const char *why)
{
    if (rc == ENF_NFT_DENIED || rc == ENF_NFT_OWNED) {
        const char *cause = enf_nft_denied_cause (rc, enf_nft_has_net_admin ());
        fprintf (stderr, "lgwan-enforcer: %s: nftables refused to %s in network namespace %s:"
                 " %s\n", cause, what, self->config.netns, why);
        if (rc == ENF_NFT_OWNED)
            fprintf (stderr, "lgwan-enforcer: no other process may hold table inet " ENF_TABLE
                     " with the owner flag: stop the one that does (the table goes with its"
                     " netlink socket) or have it delete the table, then start the enforcer"
                     " again\n");
        snprintf (self->fatal, sizeof self->fatal, "%s: could not %s: %s", cause, what, why);
        lg_log_write (LG_LOG_FATAL, why, "%s: could not %s", cause, what);
        return;
    }
    lg_log_write (LG_LOG_ERROR, why, "could not %s in network namespace %s at version %" PRIu64,
                  what, self->config.netns, self->version);
    self->dirty = true;
}

//  Drop from list every item that is a key of own; how many went
static size_t
s_drop_own (zlistx_t *list, zhashx_t *own)
{
    size_t dropped = 0;
    void *item = zlistx_first (list);
    while (item) {
        void *handle = zlistx_cursor (list);
        bool ours = zhashx_lookup (own, item) != NULL;
        item = zlistx_next (list);
        if (ours) {
            zlistx_delete (list, handle);
            dropped++;
        }
    }
    return dropped;
}

//  The changes of an Update, ours until acked (self->own)
static void
s_own_add (s_enforcer_t *self, zlistx_t *list)
{
    for (const char *prefix = (const char *) zlistx_first (list); prefix;
         prefix = (const char *) zlistx_next (list))
        zhashx_insert (self->own, prefix, (void *) "1");
}

//  The prefixes in one of before and after and not in the other: what a
//  Snapshot changed, ours until acked (self->own)
static void
s_own_changes (s_enforcer_t *self, zhashx_t *before, zhashx_t *after)
{
    for (void *item = zhashx_first (before); item; item = zhashx_next (before))
        if (!zhashx_lookup (after, zhashx_cursor (before)))
            zhashx_insert (self->own, zhashx_cursor (before), (void *) "1");
    for (void *item = zhashx_first (after); item; item = zhashx_next (after))
        if (!zhashx_lookup (before, zhashx_cursor (after)))
            zhashx_insert (self->own, zhashx_cursor (after), (void *) "1");
}

//  A difference the kernel had from desired, found by a full read (report
//  says when: "at start", ...), as a Repaired; nothing without report or
//  a difference
static void
s_report_drift (s_enforcer_t *self, const char *report, zlistx_t *missing, zlistx_t *extra)
{
    if (report && (zlistx_size (missing) || zlistx_size (extra))) {
        char what [160];
        snprintf (what, sizeof what, "the kernel %s lacked %zu prefixes and held %zu more",
                  report, zlistx_size (missing), zlistx_size (extra));
        s_send_repaired (self, missing, extra, what);
    }
}

//  Make the kernel hold desired (rebuild when it differs), verify, and ack.
//  report: when what the kernel held is to be reported (point 4), what it
//  was ("at start", "before Update 7", "before Snapshot 9"), else NULL.
//  What differs in self->own is our own change not yet acked, not drift,
//  so not reported
static void
s_apply_full (s_enforcer_t *self, const char *report)
{
    if (self->config.dry_run) {
        self->dirty = false;
        lg_info ("recorded version %" PRIu64 ": %zu prefixes (dry run, nothing applied)",
                 self->version, zhashx_size (self->desired));
        s_send_ack (self);
        return;
    }
    char why [512] = "";
    zlistx_t *missing = enf_strings_new ();
    zlistx_t *extra = enf_strings_new ();
    bool ok = false;
    int64_t started = zclock_usecs ();
    int rc = enf_nft_verify (self->nft, self->desired, missing, extra, &ok, why, sizeof why);
    if (rc) {
        s_nft_failed (self, rc, "read table inet " ENF_TABLE, why);
        goto cleanup;
    }
    bool rebuilt = !ok;
    s_drop_own (missing, self->own);
    s_drop_own (extra, self->own);
    if (!ok) {
        const char *step = "apply isolation batch";
        rc = enf_nft_rebuild (self->nft, self->desired, why, sizeof why);
        if (rc == 0) {
            step = "verify isolation batch";
            rc = enf_nft_verify (self->nft, self->desired, NULL, NULL, &ok, why, sizeof why);
        }
        if (rc || !ok) {
            //  The difference found is drift whether or not the rebuild is
            //  in force yet: said now, since the reconcile that retries it
            //  acks without it (it was lost when the read-back after a
            //  rebuild of 30,000 prefixes fell short once under load)
            s_report_drift (self, report, missing, extra);
            s_nft_failed (self, rc? rc: ENF_NFT_FAILED, step, why);
            goto cleanup;
        }
    }
    self->dirty = false;
    lg_info ("version %" PRIu64 " in force: %zu prefixes (%s, %.1f ms with read-back)",
             self->version, zhashx_size (self->desired),
             rebuilt? "table rebuilt": "the kernel held it already",
             (double) (zclock_usecs () - started) / 1000.0);
    s_report_drift (self, report, missing, extra);
    s_send_ack (self);
cleanup:
    zlistx_destroy (&missing);
    zlistx_destroy (&extra);
}

//  Canonical prefixes of a frame's list into list (and hash, if given);
//  -1 and why at the first that does not parse
static int
s_canon_list (char **prefixes, size_t count, zlistx_t *list, zhashx_t *hash,
              char *why, size_t why_size)
{
    for (size_t index = 0; index < count; index++) {
        char canon [ENF_PREFIX_MAX];
        if (enf_prefix_canon (prefixes [index], canon, why, why_size))
            return -1;
        if (list)
            zlistx_add_end (list, canon);
        if (hash)
            zhashx_insert (hash, canon, (void *) "1");
    }
    return 0;
}

static void
s_on_snapshot (s_enforcer_t *self, Lgwan__V1__EnforcerFrame *frame)
{
    Lgwan__V1__EnforcementSnapshot *snapshot = frame->snapshot;
    self->oversize = 0;                 //  one came within the limit (point 8)
    self->snapshot_due = false;
    char why [256] = "";
    zhashx_t *next = enf_prefix_set_new ();
    if (s_canon_list (snapshot->prefixes, snapshot->n_prefixes, NULL, next, why, sizeof why)) {
        lg_log_write (LG_LOG_ERROR, why, "ignoring Snapshot of version %" PRIu64
                      ": a prefix is malformed", snapshot->version);
        zhashx_destroy (&next);
        return;
    }
    //  The first after a start: all the kernel differs in is reported. After
    //  it, the kernel holds the desired state it replaces, less what we
    //  changed and did not ack yet (self->own): what the Snapshot changes is
    //  ours as well, the rest drift (point 4)
    bool first = !self->have_state;
    char report [48];
    if (first)
        snprintf (report, sizeof report, "at start");
    else {
        s_own_changes (self, self->desired, next);
        snprintf (report, sizeof report, "before Snapshot %" PRIu64, snapshot->version);
    }
    zhashx_destroy (&self->desired);
    self->desired = next;
    self->version = snapshot->version;
    self->ack_owed = true;
    self->have_state = true;
    self->hello_pending = false;
    if (self->version >= self->beat_version)
        self->behind_since = 0;
    s_apply_full (self, report);
    if (!self->fatal [0])
        s_send_unsent (self);           //  a live connection again (point 11)
}

static void
s_on_update (s_enforcer_t *self, Lgwan__V1__EnforcerFrame *frame)
{
    Lgwan__V1__EnforcementUpdate *update = frame->update;
    char reason [160];
    if (!self->have_state || update->base_version != self->version) {
        if (self->have_state && update->version <= self->version) {
            lg_debug ("ignoring Update %" PRIu64 ": we hold %" PRIu64,
                      update->version, self->version);
            return;
        }
        if (self->have_state)
            snprintf (reason, sizeof reason, "Update %" PRIu64 " builds on %" PRIu64
                      ", we hold %" PRIu64, update->version, update->base_version, self->version);
        else
            snprintf (reason, sizeof reason, "Update %" PRIu64 " before any snapshot",
                      update->version);
        s_want_hello (self, reason);
        return;
    }
    //  Validate all of it before changing anything (point 2)
    char why [256] = "";
    zlistx_t *add = enf_strings_new ();
    zlistx_t *remove = enf_strings_new ();
    zhashx_t *adding = enf_prefix_set_new ();
    zlistx_t *add_now = enf_strings_new ();
    zlistx_t *remove_now = enf_strings_new ();
    if (s_canon_list (update->add, update->n_add, add, adding, why, sizeof why)
    ||  s_canon_list (update->remove, update->n_remove, remove, NULL, why, sizeof why)) {
        lg_log_write (LG_LOG_ERROR, why, "ignoring Update %" PRIu64 ": a prefix is malformed",
                      update->version);
        goto cleanup;
    }
    for (const char *prefix = (const char *) zlistx_first (remove); prefix;
         prefix = (const char *) zlistx_next (remove))
        if (zhashx_lookup (adding, prefix)) {
            lg_error ("ignoring Update %" PRIu64 ": %s is both added and removed",
                      update->version, prefix);
            goto cleanup;
        }
    //  Only what changes: an add of what we hold or a remove of what we do
    //  not is a no-op, so a repeated change stays idempotent
    for (const char *prefix = (const char *) zlistx_first (remove); prefix;
         prefix = (const char *) zlistx_next (remove))
        if (zhashx_lookup (self->desired, prefix)) {
            zlistx_add_end (remove_now, (void *) prefix);
            zhashx_delete (self->desired, prefix);
        }
    for (const char *prefix = (const char *) zlistx_first (add); prefix;
         prefix = (const char *) zlistx_next (add))
        if (!zhashx_lookup (self->desired, prefix)) {
            zlistx_add_end (add_now, (void *) prefix);
            zhashx_insert (self->desired, prefix, (void *) "1");
        }
    self->version = update->version;
    self->ack_owed = true;
    if (self->version >= self->beat_version)
        self->behind_since = 0;
    s_own_add (self, add_now);
    s_own_add (self, remove_now);
    char before [48];
    snprintf (before, sizeof before, "before Update %" PRIu64, self->version);
    if (self->config.dry_run) {
        lg_info ("recorded version %" PRIu64 ": +%zu -%zu, %zu prefixes (dry run, nothing applied)",
                 self->version, zlistx_size (add_now), zlistx_size (remove_now),
                 zhashx_size (self->desired));
        s_send_ack (self);
        goto cleanup;
    }
    if (self->dirty) {
        //  The kernel is not where the last batch should have left it: what
        //  differs by the changes not acked yet is our own failure, the rest
        //  drift
        s_apply_full (self, before);
        goto cleanup;
    }
    int64_t started = zclock_usecs ();
    int rc = enf_nft_update (self->nft, add_now, remove_now, why, sizeof why);
    if (rc == ENF_NFT_DENIED || rc == ENF_NFT_OWNED) {
        s_nft_failed (self, rc, "apply isolation batch", why);
        goto cleanup;
    }
    if (rc) {
        //  The kernel is not where our last ack left it (a table deleted, an
        //  element deleted by hand that we now delete): drift, rebuilt and
        //  reported like the reconcile's, less this Update's own changes
        lg_log_write (LG_LOG_WARNING, why, "could not apply Update %" PRIu64
                      " element by element; rebuilding the table", self->version);
        s_apply_full (self, before);
        goto cleanup;
    }
    //  Read back what changed, not the whole table (enf_nft point 4), and
    //  that nothing but our batches changed the ruleset since it was last
    //  read back whole (point 7 there): the reconcile reads all of it every
    //  LG_RECONCILE_MS
    int64_t applied = zclock_usecs ();
    bool ok = false;
    rc = enf_nft_confirm (self->nft, add_now, remove_now, &ok, why, sizeof why);
    if (rc == 0 && lg_fault_fires ("update_read_back_fails")) {
        rc = ENF_NFT_FAILED;            //  a test's: the version dirty
        snprintf (why, sizeof why, "fault point update_read_back_fails");
    }
    if (rc) {
        s_nft_failed (self, rc, "verify isolation batch", why);
        goto cleanup;
    }
    if (!ok) {
        //  The chain flushed, a foreign rule in front, the table dormant, an
        //  element deleted, or only a change elsewhere in the namespace:
        //  only a listing tells, and the ack waits for it. Drift is rebuilt
        //  and reported like the reconcile's, less this Update's own changes
        lg_log_write (LG_LOG_INFO, why, "Update %" PRIu64 " applied; reading the whole table"
                      " back before the ack", self->version);
        s_apply_full (self, before);
        goto cleanup;
    }
    lg_info ("version %" PRIu64 " in force: +%zu -%zu, %zu prefixes "
             "(batch %.2f ms, read-back %.2f ms)", self->version, zlistx_size (add_now),
             zlistx_size (remove_now), zhashx_size (self->desired),
             (double) (applied - started) / 1000.0, (double) (zclock_usecs () - applied) / 1000.0);
    s_send_ack (self);
cleanup:
    zlistx_destroy (&add);
    zlistx_destroy (&remove);
    zhashx_destroy (&adding);
    zlistx_destroy (&add_now);
    zlistx_destroy (&remove_now);
}

static void
s_on_beat (s_enforcer_t *self, Lgwan__V1__EnforcerFrame *frame)
{
    uint64_t version = frame->beat->version;
    self->beat_version = version;
    if (!self->have_state || version > self->version) {
        if (self->behind_since == 0)
            self->behind_since = zclock_mono ();
    }
    else {
        self->behind_since = 0;
        if (version < self->version) {
            char reason [128];
            snprintf (reason, sizeof reason, "Beat shows version %" PRIu64 ", behind ours %" PRIu64,
                      version, self->version);
            s_want_hello (self, reason);
        }
    }
}


//  Our Hello was not taken. Final (our certificate is not for our point,
//  point 7): stop, saying why. Otherwise (another live connection holds our
//  point name): say so, and Hello again after the silence (point 3) until it
//  is taken
static void
s_on_refused (s_enforcer_t *self, Lgwan__V1__EnforcerFrame *frame)
{
    self->snapshot_due = false;         //  the answer to our Hello
    if (frame->refused->final) {
        char requirement [16];
        snprintf (requirement, sizeof requirement, "%.8s", frame->refused->requirement);
        fprintf (stderr, "lgwan-enforcer: the isolation service refused our Hello as point %s"
                 " for good: %s%s%s; certificate %s\n", self->config.point,
                 frame->refused->reason, *requirement? ", rule ": "", requirement,
                 self->config.cert);
        snprintf (self->fatal, sizeof self->fatal, "refused as point %s for good: %.200s",
                  self->config.point, frame->refused->reason);
        lg_log_write (LG_LOG_FATAL, frame->refused->reason, "the isolation service refused our"
                      " Hello as point %s for good (certificate %s)", self->config.point,
                      self->config.cert);
        return;
    }
    int64_t now = zclock_mono ();
    if (self->refused_logged && now - self->refused_logged < 30000)
        return;
    self->refused_logged = now;
    lg_error ("the isolation service refused our Hello as point %s: %s (is another enforcer"
              " configured with this name?); saying Hello again every 3 s",
              self->config.point, frame->refused->reason);
}

//  --------------------------------------------------------------------------
//  Reactor

static int
s_stop_if_fatal (s_enforcer_t *self)
{
    if (!self->fatal [0])
        return 0;
    zstr_sendf (self->pipe, "FATAL %s", self->fatal);
    return -1;
}

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    (void) arg;
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return -1;
    char *command = zmsg_popstr (msg);
    bool term = command && strcmp (command, "$TERM") == 0;
    zstr_free (&command);
    zmsg_destroy (&msg);
    return term? -1: 0;
}

static int
s_on_frame (zloop_t *loop, zsock_t *dealer, void *arg)
{
    (void) loop;
    s_enforcer_t *self = (s_enforcer_t *) arg;
    zmsg_t *msg = zmsg_recv (dealer);
    if (!msg)
        return 0;
    if (zmsg_size (msg) != 1) {
        lg_warning ("ignoring a message of %zu frames from the isolation service",
                    zmsg_size (msg));
        zmsg_destroy (&msg);
        return 0;
    }
    zframe_t *data = zmsg_first (msg);
    ProtobufCMessage *decoded = NULL;
    char why [256] = "";
    int rc = lg_codec_decode (&lgwan__v1__enforcer_frame__descriptor, zframe_data (data),
                              zframe_size (data), (size_t) self->config.max_msg, &decoded,
                              why, sizeof why);
    zmsg_destroy (&msg);
    if (rc == -1) {
        //  Point 8: the gateway keeps its last state, said every time; the
        //  next Hellos are spaced further, each asking the service for a
        //  Snapshot as big again
        self->oversize++;
        self->snapshot_due = false;     //  it came, and is counted
        lg_log_write (LG_LOG_WARNING, why, "ignoring a frame from the isolation service over"
                      " LG_MAX_MSG (%" PRId64 " bytes): nothing changes at this gateway until"
                      " LG_MAX_MSG is raised here and at the service; asking again in %.1f s",
                      self->config.max_msg, s_hello_spacing (self) / 1000.0);
        return 0;
    }
    if (rc) {
        lg_log_write (LG_LOG_WARNING, why, "ignoring a frame from the isolation service");
        return 0;
    }
    self->frame_at = zclock_mono ();
    if (!s_namespace_held (self)) {
        //  Nothing to apply in a namespace that is gone (point 10)
        protobuf_c_message_free_unpacked (decoded, NULL);
        return s_stop_if_fatal (self);
    }
    Lgwan__V1__EnforcerFrame *frame = (Lgwan__V1__EnforcerFrame *) decoded;
    size_t index = 0;
    size_t count = sizeof s_frames / sizeof s_frames [0];
    while (index < count && s_frames [index].body != frame->body_case)
        index++;
    if (index < count && frame->snapshot)   //  any member of the union: the body is there
        s_frames [index].handler (self, frame);
    else
        lg_warning ("ignoring a frame from the isolation service with body %d",
                    (int) frame->body_case);
    protobuf_c_message_free_unpacked (decoded, NULL);
    return s_stop_if_fatal (self);
}

//  Socket monitor: (re)connected means Hello (point 3)
static int
s_on_monitor (zloop_t *loop, zsock_t *monitor, void *arg)
{
    (void) loop;
    s_enforcer_t *self = (s_enforcer_t *) arg;
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return 0;
    zframe_t *head = zmsg_first (msg);
    uint16_t event = 0;
    uint32_t value = 0;
    if (head && zframe_size (head) >= 6) {
        memcpy (&event, zframe_data (head), sizeof event);
        memcpy (&value, zframe_data (head) + 2, sizeof value);
    }
    char *endpoint = zmsg_size (msg) > 1? zframe_strdup (zmsg_next (msg)): NULL;
    zmsg_destroy (&msg);
    const char *where = endpoint? endpoint: self->config.endpoints [self->target];
    switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            self->connected = true;
            self->reached = true;
            self->outage_warned = 0;
            self->outage_moves = 0;
            lg_info ("connected to the isolation service at %s", where);
            self->hello_sent_at = 0;
            s_want_hello (self, "connected");
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (self->connected)
                self->down_since = zclock_mono ();
            if (self->connected && self->snapshot_due) {
                //  Point 8: ZeroMQ drops a frame over its bound by closing
                //  the connection, and says nothing else; a Snapshot as big
                //  comes again at every Hello
                self->oversize++;
                lg_warning ("lost the connection to the isolation service at %s before the"
                            " Snapshot our Hello asked for came: most likely a frame over"
                            " ZeroMQ's bound of %" PRId64 " bytes (twice LG_MAX_MSG + 64),"
                            " which ZeroMQ drops by closing the connection; nothing changes"
                            " at this gateway until LG_MAX_MSG is raised here; connecting"
                            " again in %.1f s", where, s_zmq_bound (self),
                            s_lost_ms (self) / 1000.0);
            }
            else
                lg_warning ("lost the connection to the isolation service at %s", where);
            self->connected = false;
            self->snapshot_due = false;
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            lg_error ("the isolation service at %s refused our certificate %s (status %u)",
                      where, self->config.cert, value);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            lg_error ("CURVE handshake with %s failed (is %s the isolation service's key?)",
                      where, self->config.server_cert);
            break;
        default:
            break;
    }
    zstr_free (&endpoint);
    return 0;
}

//  No connection to our replica, or silence on it: connect to the next one
//  instead, or to the same one again when it is the only one (point 6).
//  The kernel keeps what we applied; the replica's Snapshot brings us level.
static void
s_fail_over (s_enforcer_t *self)
{
    const char *from = self->config.endpoints [self->target];
    size_t next = (self->target + 1) % self->config.n_endpoints;
    const char *to = self->config.endpoints [next];
    //  libzmq reconnects by itself after a connection error, not after a
    //  protocol error (a frame over its bound, point 8): nothing would
    char instead [400];
    if (next == self->target)
        snprintf (instead, sizeof instead, "connecting to it again (ZeroMQ does not, after a"
                  " protocol error such as a frame over %" PRId64 " bytes)", s_zmq_bound (self));
    else
        snprintf (instead, sizeof instead, "connecting to %s instead", to);
    if (self->connected)
        lg_warning ("nothing from the isolation service at %s for %d s: %s", from,
                    S_FAILOVER_MS / 1000, instead);
    else
    if (self->reached)
        lg_warning ("the connection to the isolation service at %s was lost %" PRId64
                    " s ago: %s", from, s_lost_ms (self) / 1000, instead);
    else {
        //  Every replica down moves us every 3 s: said once a minute
        int64_t now = zclock_mono ();
        if (self->outage_warned && now - self->outage_warned < S_OUTAGE_WARN_MS) {
            self->outage_moves++;
            lg_debug ("unreachable at %s too: %s", from, instead);
        }
        else {
            lg_warning ("no connection to the isolation service at %s for %d s: %s%s", from,
                        S_UNREACHABLE_MS / 1000, instead, self->outage_moves
                        ? " (every replica was unreachable for the last minute too)": "");
            self->outage_warned = now;
            self->outage_moves = 0;
        }
    }
    zsock_disconnect (self->dealer, "%s", from);
    if (zsock_connect (self->dealer, "%s", to))
        lg_error ("could not connect to %s; trying the next one in %d s", to,
                  S_UNREACHABLE_MS / 1000);
    self->target = next;
    self->switched_at = self->down_since = zclock_mono ();
    self->connected = false;
    self->snapshot_due = false;         //  we closed it, not ZeroMQ (point 8)
    self->reached = false;
    self->hello_pending = true;         //  sent once connected
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_enforcer_t *self = (s_enforcer_t *) arg;
    int64_t now = zclock_mono ();
    char reason [128];
    if (self->behind_since && now - self->behind_since >= S_BEHIND_MS) {
        snprintf (reason, sizeof reason, "Beat shows version %" PRIu64 ", we hold %" PRIu64,
                  self->beat_version, self->version);
        self->behind_since = now;
        s_want_hello (self, reason);
    }
    if (now - self->frame_at >= S_SILENCE_MS && now - self->hello_sent_at >= S_SILENCE_MS)
        s_want_hello (self, "nothing from the isolation service for 3 s");
    //  Connected but silent: its reactor may be held up (by its database)
    //  and come back; no connection: the process or the way to it is gone
    //  (ZMTP heartbeats close a dead connection within 3 s), point 6. With
    //  one replica, the same one again: libzmq would not after a protocol
    //  error (point 8), and nothing else connects
    if ((self->connected && now - self->frame_at >= S_FAILOVER_MS
                         && now - self->switched_at >= S_FAILOVER_MS)
    ||  (!self->connected && now - self->down_since >= (self->reached? s_lost_ms (self)
                                                                  : S_UNREACHABLE_MS)))
        s_fail_over (self);
    s_try_hello (self);
    return 0;
}

static int
s_on_reconcile (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_enforcer_t *self = (s_enforcer_t *) arg;
    if (self->config.dry_run)
        return 0;
    if (!s_namespace_held (self) || !self->have_state)
        return s_stop_if_fatal (self);
    char why [512] = "";
    zlistx_t *missing = enf_strings_new ();
    zlistx_t *extra = enf_strings_new ();
    bool repaired = false;
    int rc = enf_nft_reconcile (self->nft, self->desired, missing, extra, &repaired,
                                why, sizeof why);
    if (rc == 0 && lg_fault_fires ("reconcile_fails")) {
        rc = ENF_NFT_FAILED;            //  a test's: the version dirty
        snprintf (why, sizeof why, "fault point reconcile_fails");
    }
    if (rc)
        s_nft_failed (self, rc, "reconcile table inet " ENF_TABLE, why);
    else
    if (self->dirty && !self->ack_owed) {
        //  A reconcile of an acked version failed, and this one found the
        //  kernel holding it: acked once already, so a repair only (point 1)
        self->dirty = false;
        lg_info ("version %" PRIu64 " in force again after a failed reconcile; acked before,"
                 " not again", self->version);
        if (repaired)
            s_send_repaired (self, missing, extra, why);
    }
    else
    if (self->dirty) {
        //  Our own failed apply, now in force: the ack it owes, after what
        //  a rebuild repaired besides the changes not acked yet (point 4)
        self->dirty = false;
        lg_info ("version %" PRIu64 " in force after a retry", self->version);
        size_t ours = s_drop_own (missing, self->own) + s_drop_own (extra, self->own);
        if (repaired && (zlistx_size (missing) || zlistx_size (extra))) {
            char what [600];
            snprintf (what, sizeof what, "%s (%zu prefixes of changes not acked yet left out)",
                      why, ours);
            s_send_repaired (self, missing, extra, what);
        }
        s_send_ack (self);
    }
    else
    if (repaired)
        s_send_repaired (self, missing, extra, why);
    zlistx_destroy (&missing);
    zlistx_destroy (&extra);
    return s_stop_if_fatal (self);
}

//  Set up sockets; NULL-free fields on failure are torn down by s_destroy
static int
s_sockets (s_enforcer_t *self, char *why, size_t why_size)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        lg_why (why, why_size, "could not create the DEALER socket");
        return -1;
    }
    if (lg_auth_client (self->dealer, self->config.cert, self->config.server_cert)) {
        lg_why (why, why_size, "could not read the certificates %s (ours, with its secret) "
                "and %s (the isolation service's)", self->config.cert, self->config.server_cert);
        return -1;
    }
    //  Point 7: the isolation service takes us only as our certificate's
    //  point; said here, at start, rather than by a refusal
    zcert_t *cert = zcert_load (self->config.cert);
    const char *point = cert? zcert_meta (cert, "point"): NULL;
    if (!point || strcmp (point, self->config.point)) {
        if (point)
            lg_why (why, why_size, "certificate %s is for enforcement point %.40s, not"
                    " LG_ENFORCER_POINT %s: the isolation service would refuse it (X.3)",
                    self->config.cert, point, self->config.point);
        else
            lg_why (why, why_size, "certificate %s names no enforcement point: make one with"
                    " lgwanctl keygen --role enforcer --name <name> --point %s (X.3)",
                    self->config.cert, self->config.point);
        zcert_destroy (&cert);
        return -1;
    }
    zcert_destroy (&cert);
    zsock_set_linger (self->dealer, 0);
    zsock_set_immediate (self->dealer, 1);
    //  Point 8: a frame over LG_MAX_MSG reaches lg_codec_decode, which
    //  says so; ZeroMQ's own bound only keeps a hostile replica from making
    //  us allocate without bound (S_RCVHWM frames of it queued, at most)
    zsock_set_maxmsgsize (self->dealer, (int) s_zmq_bound (self));
    zsock_set_rcvhwm (self->dealer, S_RCVHWM);
    zsock_set_heartbeat_ivl (self->dealer, 1000);
    zsock_set_heartbeat_timeout (self->dealer, S_SILENCE_MS);
    zsock_set_heartbeat_ttl (self->dealer, S_SILENCE_MS);
    snprintf (self->monitor_endpoint, sizeof self->monitor_endpoint,
              "inproc://lgwan-enforcer-monitor-%p", (void *) self);
    if (zmq_socket_monitor (zsock_resolve (self->dealer), self->monitor_endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED
                            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
        lg_why (why, why_size, "could not monitor the DEALER socket: %s", zmq_strerror (errno));
        return -1;
    }
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor || zsock_connect (self->monitor, "%s", self->monitor_endpoint)) {
        lg_why (why, why_size, "could not connect the socket monitor");
        return -1;
    }
    if (zsock_connect (self->dealer, "%s", self->config.endpoints [0])) {
        lg_why (why, why_size, "LG_ISOLATION_ENFORCER_CONNECT: could not connect to %s",
                self->config.endpoints [0]);
        return -1;
    }
    self->switched_at = self->down_since = zclock_mono ();
    return 0;
}

static void
s_destroy (s_enforcer_t **self_p)
{
    s_enforcer_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy (&self->loop);
    if (self->dealer && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
    zhashx_destroy (&self->desired);
    zhashx_destroy (&self->own);
    zhashx_destroy (&self->unsent_missing);
    zhashx_destroy (&self->unsent_extra);
    enf_nft_destroy (&self->nft);
    free (self);
    *self_p = NULL;
}

void
enforcer_actor (zsock_t *pipe, void *args)
{
    enforcer_args_t *start = (enforcer_args_t *) args;
    s_enforcer_t *self = (s_enforcer_t *) calloc (1, sizeof *self);
    char why [600] = "";
    if (!self) {
        zsock_signal (pipe, 0);
        zstr_send (pipe, "FAILED out of memory");
        return;
    }
    self->config = *start->config;
    self->nft = start->nft;
    start->nft = NULL;
    self->pipe = pipe;
    self->desired = enf_prefix_set_new ();
    self->own = enf_prefix_set_new ();
    self->unsent_missing = enf_prefix_set_new ();
    self->unsent_extra = enf_prefix_set_new ();
    self->frame_at = zclock_mono ();
    zsock_signal (pipe, 0);
    if (s_sockets (self, why, sizeof why)) {
        zstr_sendf (pipe, "FAILED %s", why);
        s_destroy (&self);
        return;
    }
    self->loop = zloop_new ();
    zloop_reader (self->loop, pipe, s_on_pipe, self);
    zloop_reader (self->loop, self->dealer, s_on_frame, self);
    zloop_reader (self->loop, self->monitor, s_on_monitor, self);
    zloop_timer (self->loop, S_TICK_MS, 0, s_on_tick, self);
    zloop_timer (self->loop, (size_t) self->config.reconcile_ms, 0, s_on_reconcile, self);
    lg_info ("enforcement point %s: network namespace %s, %s, isolation service %s",
             self->config.point, self->config.netns,
             self->config.dry_run? "DRY RUN (records, applies nothing)": "applying with nftables",
             self->config.connect);
    zstr_send (pipe, "READY");
    self->hello_pending = true;         //  sent once connected
    zloop_start (self->loop);
    s_destroy (&self);
}
