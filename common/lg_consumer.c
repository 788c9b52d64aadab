/*  lg_consumer - follow another service's events exactly once (see the
    numbered guarantees in lg_consumer.h).
*/
#include "lg_lib.h"

#define POLL_MS         500     //  ask Replay this often (one request in flight at most)
//  A Replay that finds every worker of the source busy waits in its queue
//  for up to LG_MAX_QUEUE_MS (lg_server.h point 7), and is run then: given
//  up sooner, its answer was lost with the DEALER made anew and the
//  question asked again at the back of the queue, so under load catch-up
//  stalled (it was 2 s, below the 3 s bound). The source's default bound,
//  and a second to run it (a page of LG_CONSUMER_BATCH events)
#define REPLAY_RUN_MS   1000
#define REPLAY_TIMEOUT  (LG_MAX_QUEUE_MS_DEFAULT + REPLAY_RUN_MS)

struct _lg_consumer_t {
    char *service;              //  who we are
    char *source;               //  whom we follow
    char *cert;                 //  our key pair
    char *server_cert;          //  the source's public certificate
    lg_db_t *db;                //  borrowed
    lg_consume_fn *apply;
    lg_batch_fn *begin;         //  run first in each batch's transaction, or NULL
    void *state;
    int64_t max_msg;
    zsock_t *sub;
    zsock_t *dealer;            //  Replay requests, answered asynchronously
    zloop_t *loop;
    char *req_endpoint;
    char pending [40];          //  request_id of the Replay in flight, or ""
    uint64_t asked_from;        //  its from_seq
    bool holding;               //  taking a replayed page: apply it after the next ask
    int64_t sent_at;            //  zclock_mono when it went
    int timer;
    bool running;
    uint64_t last_seq;
    uint8_t last_hash [64];     //  hash of the event last_seq (lg_consumer.h note 8)
    size_t last_hash_len;       //  0: not known (a cursor from before), not checked
    uint64_t seen_head;         //  largest head seen (heartbeat or event)
    uint64_t stored_head;       //  head_seq in our cursor row
    uint64_t stored_reported;   //  reported_seq in our cursor row
    bool source_down;           //  warned that the source does not answer
    bool heard;                 //  a head heard from the source since our start
    uint64_t unreadable_seq;    //  the event last said to be unreadable
    uint64_t behind_head;       //  the source's head last said to be behind us
    uint64_t forked_seq;        //  the event last said not to follow our chain
    zlist_t *batch;             //  lg_event_t * in seq order, not yet applied
};

char *
lg_consumer_endpoint (const char *service, bool pub)
{
    int port = lg_config_default_port (service);
    if (port < 0)
        return NULL;
    char name [64];
    snprintf (name, sizeof name, "LG_%s_%sCONNECT", service, pub? "PUB_": "");
    for (char *c = name; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    const char *value = getenv (name);
    if (value && *value)
        return strdup (value);
    return zsys_sprintf ("tcp://127.0.0.1:%d", port + (pub? 100: 0));
}

lg_consumer_t *
lg_consumer_new (const lg_config_t *cfg, lg_db_t *db, const char *source, lg_consume_fn *apply,
                 lg_batch_fn *begin, void *state)
{
    lg_consumer_t *self = (lg_consumer_t *) zmalloc (sizeof (lg_consumer_t));
    self->service = strdup (cfg->service);
    self->source = strdup (source);
    self->cert = zsys_sprintf ("%s/services/%s", cfg->cert_dir, cfg->service);
    self->server_cert = zsys_sprintf ("%s/services/%s", cfg->cert_dir, source);
    self->db = db;
    self->apply = apply;
    self->begin = begin;
    self->state = state;
    self->max_msg = cfg->max_msg;
    self->timer = -1;
    self->batch = zlist_new ();
    return self;
}

static void
s_batch_clear (lg_consumer_t *self)
{
    lg_event_t *event;
    while ((event = (lg_event_t *) zlist_pop (self->batch)))
        lgwan__v1__event__free_unpacked (event, NULL);
}

void
lg_consumer_destroy (lg_consumer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        lg_consumer_t *self = *self_p;
        zsock_destroy (&self->sub);
        zsock_destroy (&self->dealer);
        zstr_free (&self->req_endpoint);
        s_batch_clear (self);
        zlist_destroy (&self->batch);
        free (self->service);
        free (self->source);
        free (self->cert);
        free (self->server_cert);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
lg_consumer_last_seq (lg_consumer_t *self)
{
    return self->last_seq;
}

bool
lg_consumer_caught_up (lg_consumer_t *self)
{
    return self->running && self->heard && self->last_seq >= self->seen_head;
}

//  Read our cursor row (creating it the first time); -1 without a database
static int
s_load_cursor (lg_consumer_t *self)
{
    const char *params [] = { self->source };
    if (!lg_db_run (self->db, "INSERT INTO cursors (source) VALUES ($1) ON CONFLICT DO NOTHING",
                    1, params))
        return -1;
    PGresult *res = lg_db_exec (self->db,
        "SELECT last_seq, last_hash, head_seq, reported_seq FROM cursors WHERE source = $1",
        1, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
        PQclear (res);
        return -1;
    }
    self->last_seq = strtoull (lg_db_value (res, 0, "last_seq"), NULL, 10);
    size_t size = 0;
    uint8_t *hash = lg_db_bytes (res, 0, "last_hash", &size);
    self->last_hash_len = hash && size <= sizeof self->last_hash? size: 0;
    if (self->last_hash_len)
        memcpy (self->last_hash, hash, self->last_hash_len);
    if (hash)
        PQfreemem (hash);
    self->stored_head = strtoull (lg_db_value (res, 0, "head_seq"), NULL, 10);
    self->stored_reported = strtoull (lg_db_value (res, 0, "reported_seq"), NULL, 10);
    PQclear (res);
    return 0;
}

//  The careful way's savepoint of an event, the one of the event before (when
//  open) released with it, in the same round trip: kept, a batch of a
//  thousand events nested a thousand subtransactions deep until its COMMIT.
//  (Released, a subtransaction that wrote still holds its XID in the
//  backend's cache of 64 until the transaction ends: the careful way of a
//  large batch overflows it either way)
static bool
s_savepoint (lg_consumer_t *self, bool release)
{
    if (!release)
        return lg_db_run (self->db, "SAVEPOINT event", 0, NULL);
    if (lg_db_pipeline_begin (self->db))
        return false;
    bool ok = lg_db_run (self->db, "RELEASE SAVEPOINT event", 0, NULL)
           && lg_db_run (self->db, "SAVEPOINT event", 0, NULL);
    return lg_db_pipeline_end (self->db) == 0 && ok;
}

//  Apply the batch in one transaction and move the cursor with it.
//  fast: all writes pipelined, no savepoints; any failure gives up (-1) so
//  the caller can take the slow way. slow: a savepoint per event, and an
//  event whose statements fail while the database is up is skipped (logged),
//  so one poison event cannot stop the stream, unless what failed was of the
//  moment (lg_consumer.h note 5). Returns 0, or -1 with nothing
//  applied.
static int
s_apply_events (lg_consumer_t *self, bool fast)
{
    lg_event_t *last = (lg_event_t *) zlist_last (self->batch);
    uint64_t new_seq = last->seq;
    //  The fast way queues BEGIN too: it goes with the batch's first
    //  statements, not in a round trip of its own
    if (fast && lg_db_pipeline_begin (self->db))
        return -1;
    if (lg_db_begin (self->db)) {
        if (fast)
            lg_db_pipeline_end (self->db);
        return -1;
    }
    //  The service's own statement of the batch (lg_consumer.h note 7):
    //  nothing of the batch is applied without it, nor skipped for it
    if (self->begin && self->begin (self->db, self->state)) {
        if (!fast && lg_db_is_up (self->db)) {
            lg_event_t *first = (lg_event_t *) zlist_first (self->batch);
            bool moment = lg_db_retryable (self->db) || lg_db_busy (self->db)
                       || lg_db_cancelled (self->db) || lg_db_short_of_resources (self->db);
            lg_log_write (moment? LG_LOG_WARNING: LG_LOG_ERROR, lg_db_error (self->db),
                          "%s: events %s/%" PRIu64 "-%" PRIu64 " not applied yet (the"
                          " batch's first statement failed); trying again", self->service,
                          self->source, first->seq, new_seq);
        }
        goto failed;
    }
    bool saved = false;                 //  the savepoint of the event before is open
    for (lg_event_t *event = (lg_event_t *) zlist_first (self->batch); event;
         event = (lg_event_t *) zlist_next (self->batch)) {
        if (!fast && !s_savepoint (self, saved))
            goto failed;
        saved = !fast;
        int rc = self->apply (self->db, event, self->state);
        if (rc == 0)
            continue;
        if (fast || !lg_db_is_up (self->db))
            goto failed;
        //  Only the event's data is a reason to skip it: a data exception,
        //  a constraint, a trigger's refusal (lg_db_data_error), or the
        //  handler's own refusal (-1). A conflict, a lock held elsewhere
        //  past the bound, a statement cancelled (lg_db.h note 2b) or the
        //  server short of disk, memory or itself passes; a privilege
        //  revoked or a schema this build does not know is the operator's
        //  to put right. Either way the event is applied later, not
        //  skipped as if it were poison: every event behind it was skipped
        //  while the condition lasted. One that always fails so holds the
        //  stream here, said in the log, rather than being lost
        if (rc == -2 && !lg_db_data_error (self->db)) {
            bool moment = lg_db_retryable (self->db) || lg_db_busy (self->db)
                       || lg_db_cancelled (self->db) || lg_db_short_of_resources (self->db);
            lg_log_write (moment? LG_LOG_WARNING: LG_LOG_ERROR, lg_db_error (self->db),
                          "%s: event %s/%" PRIu64 " not applied yet; trying again",
                          self->service, self->source, event->seq);
            goto failed;
        }
        lg_log_write (LG_LOG_ERROR, rc == -2? lg_db_error (self->db): NULL,
                      "%s: event %s/%" PRIu64 " not applied; moving on",
                      self->service, self->source, event->seq);
        if (!lg_db_run (self->db, "ROLLBACK TO SAVEPOINT event", 0, NULL))
            goto failed;
    }
    if (fast && lg_db_pipeline_end (self->db))
        goto failed;
    lg_fault_point ("after_apply_before_cursor");
    char old_text [24], new_text [24];
    snprintf (old_text, sizeof old_text, "%" PRIu64, self->last_seq);
    snprintf (new_text, sizeof new_text, "%" PRIu64, new_seq);
    //  The link the next event must name (note 8), with the seq it belongs to
    size_t new_hash_len = last->hash.len <= sizeof self->last_hash? last->hash.len: 0;
    char *new_hash = lg_db_hex (last->hash.data, new_hash_len);
    const char *params [] = { self->source, old_text, new_text, new_hash };
    PGresult *res = lg_db_exec (self->db,
        "UPDATE cursors SET last_seq = $3::bigint, last_hash = $4::bytea, updated_at = now()"
        " WHERE source = $1 AND last_seq = $2::bigint", 4, params);
    free (new_hash);
    if (!res || PQresultStatus (res) != PGRES_COMMAND_OK) {
        PQclear (res);
        goto failed;
    }
    bool ours = streq (PQcmdTuples (res), "1");
    PQclear (res);
    if (!ours) {
        //  Somebody else advanced the cursor: their work stands, ours goes
        lg_warning ("%s: cursor of %s moved under us; reloading", self->service, self->source);
        lg_db_rollback (self->db);
        s_batch_clear (self);
        s_load_cursor (self);
        return -1;
    }
    if (lg_db_commit (self->db))
        goto failed;
    self->last_seq = new_seq;
    self->last_hash_len = new_hash_len;
    if (new_hash_len)
        memcpy (self->last_hash, last->hash.data, new_hash_len);
    s_batch_clear (self);
    return 0;
failed:
    if (fast)
        lg_db_pipeline_end (self->db);
    lg_db_rollback (self->db);
    return -1;
}

//  Apply what is batched: the fast way, else the careful way; -1 retry later
static int
s_apply_batch (lg_consumer_t *self)
{
    if (zlist_size (self->batch) == 0)
        return 0;
    if (s_apply_events (self, true) == 0)
        return 0;
    if (zlist_size (self->batch) && lg_db_is_up (self->db) && s_apply_events (self, false) == 0)
        return 0;
    s_batch_clear (self);               //  the cursor did not move: replay brings them back
    return -1;
}

//  The seq we take next
static uint64_t
s_expected (lg_consumer_t *self)
{
    lg_event_t *last = (lg_event_t *) zlist_last (self->batch);
    return (last? last->seq: self->last_seq) + 1;
}

//  What became of an event offered to s_take
typedef enum {
    S_TAKEN,                    //  joined the batch, or seen already, or not ours
    S_GAP,                      //  past the next one: ask Replay
    S_HELD                      //  the stream waits at the next one (note 8)
} s_take_t;

//  Whether hash (len) is the link we hold, when we hold one
static bool
s_links (const uint8_t *link, size_t link_len, const ProtobufCBinaryData *hash)
{
    return link_len == 0 || (hash->len == link_len && memcmp (hash->data, link, link_len) == 0);
}

//  An event that does not follow the chain we applied (lg_consumer.h note 8):
//  the source lost events we applied and wrote others under their seqs.
//  Said once per event, with the hash we hold (ours) and the one the source
//  showed (theirs); not ours to guess which to keep
static void
s_forked (lg_consumer_t *self, uint64_t seq, const char *what, const uint8_t *ours,
          size_t ours_len, const ProtobufCBinaryData *theirs)
{
    if (seq == self->forked_seq)
        return;
    self->forked_seq = seq;
    char *ours_hex = lg_db_hex (ours, ours_len);
    char *theirs_hex = lg_db_hex (theirs->data, theirs->len);
    lg_error ("%s: event %s/%" PRIu64 " %s: %s lost events we applied (up to %" PRIu64 ") and"
              " wrote others under their seqs; the stream waits past %" PRIu64 " until an"
              " operator decides (the cursor: last_seq, and last_hash '\\x' to apply from"
              " there); ours %s, theirs %s", self->service, self->source, seq, what,
              self->source, self->last_seq, self->last_seq, ours_hex? ours_hex: "?",
              theirs_hex? theirs_hex: "?");
    free (ours_hex);
    free (theirs_hex);
}

//  Take one event: the next one joins the batch if it links to the one
//  before it (note 8)
static s_take_t
s_take (lg_consumer_t *self, lg_event_t **event_p)
{
    lg_event_t *event = *event_p;
    uint64_t expected = s_expected (self);
    if (event->seq > self->seen_head)
        self->seen_head = event->seq;
    if (!streq (event->source, self->source))
        return S_TAKEN;                         //  not ours
    //  The last one we applied, come again with another hash: written anew
    if (event->seq == self->last_seq && !s_links (self->last_hash, self->last_hash_len,
                                                  &event->hash))
        s_forked (self, event->seq, "is not the one we applied under its seq",
                  self->last_hash, self->last_hash_len, &event->hash);
    if (event->seq < expected)
        return S_TAKEN;                         //  seen already
    if (event->seq > expected)                  //  a gap, unless held at the next one
        return self->forked_seq == expected? S_HELD: S_GAP;
    lg_event_t *before = (lg_event_t *) zlist_last (self->batch);
    const uint8_t *link = before? before->hash.data: self->last_hash;
    size_t link_len = before? before->hash.len: self->last_hash_len;
    if (!s_links (link, link_len, &event->prev_hash)) {
        s_forked (self, event->seq, "does not follow the one we applied before it", link,
                  link_len, &event->prev_hash);
        return S_HELD;
    }
    zlist_append (self->batch, event);
    *event_p = NULL;
    if (zlist_size (self->batch) >= LG_CONSUMER_BATCH && !self->holding)
        s_apply_batch (self);
    return S_TAKEN;
}

//  Store the head we saw in a heartbeat (for verify), when it moved, and
//  only one that extends the head recorded before: our cursor, with the hash
//  we applied there (every event we applied linked to the one before it,
//  note 8, so that head follows every head we recorded). A head at our
//  cursor with another hash was written anew (a source restored, a failover
//  that lost its last commits), up to our cursor and no further: no event
//  would ever show it (note 8), so it is said here, and not recorded. A head
//  below our cursor is not recorded either: we hold no hash of that seq to
//  tell whether it is on the chain we applied (the Replay answer says a head
//  behind us, note 6). Either was recorded in place of the head before it,
//  and `lgwanctl verify` found the rewritten chain agreeing with it
static void
s_record_head (lg_consumer_t *self, const Lgwan__V1__Heartbeat *beat)
{
    if (beat->head_seq != self->last_seq)
        return;                 //  record only heads we have reached ourselves
    if (!s_links (self->last_hash, self->last_hash_len, &beat->head_hash)) {
        s_forked (self, beat->head_seq, "is not the one we applied under its seq (its"
                  " heartbeat names another hash; the head recorded for verify is kept)",
                  self->last_hash, self->last_hash_len, &beat->head_hash);
        return;
    }
    if (beat->head_seq <= self->stored_head)
        return;
    char seq [24];
    snprintf (seq, sizeof seq, "%" PRIu64, beat->head_seq);
    char *hash = lg_db_hex (beat->head_hash.data, beat->head_hash.len);
    const char *params [] = { self->source, seq, hash };
    if (lg_db_run (self->db, "UPDATE cursors SET head_seq = $2::bigint, head_hash = $3::bytea"
                             " WHERE source = $1 AND head_seq < $2::bigint", 3, params))
        self->stored_head = beat->head_seq;
    free (hash);
}

//  Store the largest head the source reported, reached or not (lg_consumer.h
//  note 4), when it moved: how far behind we are, for whoever must know that
//  we applied everything the source had (billing's invoice run)
static void
s_record_reported (lg_consumer_t *self, uint64_t head)
{
    if (head <= self->stored_reported)
        return;
    char seq [24];
    snprintf (seq, sizeof seq, "%" PRIu64, head);
    const char *params [] = { self->source, seq };
    if (lg_db_run (self->db, "UPDATE cursors SET reported_seq = $2::bigint"
                             " WHERE source = $1 AND reported_seq < $2::bigint", 2, params))
        self->stored_reported = head;
}

//  A source's head never goes back. Behind our cursor, the source lost
//  events we applied (restored from a backup, a failover that lost its last
//  commits), and the events it writes next reuse their seqs: taken for ones
//  already applied, they are not applied. Not ours to guess which are which:
//  said once a head, for an operator to decide (lg_consumer.h note 6).
//  The head of a Replay answer is judged against what we had applied when
//  we asked (applied, its from_seq - 1), not against our cursor now: the
//  source reads its head before its rows, and an event written after that
//  may have come by PUB and been applied before the answer is read. A
//  heartbeat is not judged at all (lg_consumer.h note 6): one read behind
//  Replay pages or events shows a head older than what we applied since,
//  and a Replay answer comes every POLL_MS anyway
static void
s_check_head (lg_consumer_t *self, uint64_t head, uint64_t applied)
{
    if (head >= applied || head == self->behind_head)
        return;
    self->behind_head = head;
    lg_error ("%s: %s is at seq %" PRIu64 ", behind our cursor %" PRIu64 ": it lost events"
              " we applied, and its events up to %" PRIu64 " will not be applied unless an"
              " operator moves the cursor", self->service, self->source, head, applied, applied);
}

static int s_on_replay (zloop_t *loop, zsock_t *reader, void *arg);

//  A DEALER to the source's ROUTER, read by the reactor: the consumer never
//  blocks its reactor waiting for a source that may be down
static int
s_dealer_open (lg_consumer_t *self)
{
    self->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->dealer, 0);
    zsock_set_maxmsgsize (self->dealer, self->max_msg * 2);
    if (lg_auth_client (self->dealer, self->cert, self->server_cert)
    ||  zsock_connect (self->dealer, "%s", self->req_endpoint)) {
        zsock_destroy (&self->dealer);
        return -1;
    }
    self->pending [0] = 0;
    return zloop_reader (self->loop, self->dealer, s_on_replay, self);
}

static void
s_dealer_close (lg_consumer_t *self)
{
    if (self->dealer) {
        zloop_reader_end (self->loop, self->dealer);
        zsock_destroy (&self->dealer);
    }
    self->pending [0] = 0;
}

static void
s_source_down (lg_consumer_t *self, const char *why)
{
    if (!self->source_down)             //  once per outage, not every poll
        lg_warning ("%s: could not replay %s from %" PRIu64 ": %s", self->service,
                    self->source, self->last_seq + 1, why);
    self->source_down = true;
}

//  Send a Replay from `from` on the DEALER (open, nothing in flight)
static void
s_send_replay (lg_consumer_t *self, uint64_t from)
{
    Lgwan__V1__Replay ask = LGWAN__V1__REPLAY__INIT;
    ask.from_seq = from;
    ask.limit = LG_CONSUMER_BATCH;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_REPLAY;
    request.replay = &ask;
    char *id = lg_client_new_id ();
    request.request_id = id;
    zframe_t *frame = lg_codec_frame (&request.base);
    snprintf (self->pending, sizeof self->pending, "%s", id);
    self->asked_from = from;
    self->sent_at = zclock_mono ();
    if (zframe_send (&frame, self->dealer, ZFRAME_DONTWAIT)) {   //  czmq flags, not ZMQ_*
        zframe_destroy (&frame);
        self->pending [0] = 0;
    }
    free (id);
}

//  Ask the source for what follows our cursor, unless a request is in flight.
//  An unanswered request expires after REPLAY_TIMEOUT: the DEALER is made
//  anew (Lazy Pirate) and the question asked again.
static void
s_ask_replay (lg_consumer_t *self)
{
    if (!self->running)
        return;
    if (self->pending [0]) {
        if (zclock_mono () - self->sent_at < REPLAY_TIMEOUT)
            return;
        s_source_down (self, "no answer");
        s_dealer_close (self);
    }
    if (!self->dealer && s_dealer_open (self))
        return;
    if (s_apply_batch (self))
        return;
    //  Held at an event that does not follow our chain, or our last one
    //  found written anew (note 8): the operator's decision, the cursor, is
    //  read at each poll, no restart; once it changed, a fork is news again
    if (self->forked_seq && (self->forked_seq == self->last_seq + 1
                         ||  self->forked_seq == self->last_seq)) {
        uint64_t seq = self->last_seq;
        uint8_t hash [sizeof self->last_hash];
        size_t hash_len = self->last_hash_len;
        memcpy (hash, self->last_hash, hash_len);
        s_load_cursor (self);
        if (self->last_seq != seq || self->last_hash_len != hash_len
        ||  memcmp (self->last_hash, hash, hash_len) != 0)
            self->forked_seq = 0;
    }
    s_send_replay (self, self->last_seq + 1);
}

//  The seq of an event this build cannot decode: from the bytes as they
//  are, when they unpack at all, else from its place in the Replay page
//  (rows are served in seq order from from_seq, seqs without gaps)
static uint64_t
s_unreadable_seq (const ProtobufCBinaryData *bytes, uint64_t place)
{
    lg_event_t *raw = lgwan__v1__event__unpack (NULL, bytes->len, bytes->data);
    uint64_t seq = raw? raw->seq: place;
    if (raw)
        lgwan__v1__event__free_unpacked (raw, NULL);
    return seq;
}

//  An event this build cannot decode (a value a newer source added, or a row
//  changed by hand) is neither applied nor skipped: the stream waits there,
//  said once per event, until a build that reads it takes over (X.2)
static void
s_unreadable (lg_consumer_t *self, uint64_t seq, const char *why)
{
    if (seq == self->unreadable_seq)
        return;
    self->unreadable_seq = seq;
    lg_error ("%s: event %s/%" PRIu64 " cannot be read by this build (%s); the stream"
              " waits at it until it can", self->service, self->source, seq, why);
}

//  A Replay answer: apply what came, and ask for more while behind. While
//  catching up the next page is asked for before this one is applied, so
//  the source reads while we write; if the apply fails, that answer starts
//  past our cursor and is dropped, and we ask again from the cursor.
static int
s_on_replay (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    lg_consumer_t *self = (lg_consumer_t *) arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return zsys_interrupted? -1: 0;
    zframe_t *frame = zmsg_pop (msg);
    zmsg_destroy (&msg);
    ProtobufCMessage *decoded = NULL;
    if (!frame || lg_codec_decode (&lgwan__v1__reply__descriptor, zframe_data (frame),
                                   zframe_size (frame), SIZE_MAX, &decoded, NULL, 0)) {
        zframe_destroy (&frame);
        return 0;
    }
    zframe_destroy (&frame);
    lg_reply_t *reply = (lg_reply_t *) decoded;
    if (!self->pending [0] || !streq (reply->request_id, self->pending)) {
        lgwan__v1__reply__free_unpacked (reply, NULL);
        return 0;                       //  a late answer to an expired request
    }
    self->pending [0] = 0;
    if (!reply->status || reply->status->code != LGWAN__V1__CODE__OK
    ||  reply->body_case != LGWAN__V1__REPLY__BODY_REPLAY) {
        s_source_down (self, reply->status? reply->status->message: "malformed reply");
        lgwan__v1__reply__free_unpacked (reply, NULL);
        return 0;
    }
    if (self->source_down)
        lg_info ("%s: %s answers again", self->service, self->source);
    self->source_down = false;
    Lgwan__V1__ReplayReply *replay = reply->replay;
    self->heard = true;
    s_check_head (self, replay->head_seq, self->asked_from - 1);
    if (replay->head_seq > self->seen_head)
        self->seen_head = replay->head_seq;
    s_record_reported (self, replay->head_seq);
    if (self->asked_from > s_expected (self)) {
        lgwan__v1__reply__free_unpacked (reply, NULL);
        s_ask_replay (self);            //  asked ahead of an apply that failed
        return 0;
    }
    bool gap = false, unreadable = false, held = false;
    self->holding = true;
    for (size_t i = 0; i < replay->n_events && !gap && !unreadable && !held; i++) {
        ProtobufCMessage *event_msg = NULL;
        char why [256];
        if (lg_codec_decode (&lgwan__v1__event__descriptor, replay->events [i].data,
                             replay->events [i].len, SIZE_MAX, &event_msg, why, sizeof why)) {
            uint64_t seq = s_unreadable_seq (&replay->events [i], self->asked_from + i);
            if (seq < s_expected (self))
                continue;                       //  seen already
            s_unreadable (self, seq, why);
            unreadable = true;
            break;
        }
        lg_event_t *event = (lg_event_t *) event_msg;
        s_take_t taken = s_take (self, &event);
        gap = taken == S_GAP;
        held = taken == S_HELD;
        if (event)
            lgwan__v1__event__free_unpacked (event, NULL);
    }
    self->holding = false;
    size_t got = replay->n_events;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  Past an event it cannot read, or one that does not follow our chain,
    //  the stream waits for the next poll: asked again at once, the same page
    //  came back as fast as it could be served
    if (!gap && !unreadable && !held && got > 0 && s_expected (self) <= self->seen_head)
        s_send_replay (self, s_expected (self));
    if (s_apply_batch (self))
        return 0;                       //  the next poll asks again
    if (gap)
        lg_error ("%s: %s replayed a gap after %" PRIu64, self->service, self->source,
                  self->last_seq);
    else
    if (!unreadable && !held && got > 0 && self->last_seq < self->seen_head)
        s_ask_replay (self);            //  the next page at once, unless asked already
    return 0;
}

static int
s_on_event (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    lg_consumer_t *self = (lg_consumer_t *) arg;
    bool gap = false, held = false;
    //  Drain what is there, up to a batch, then apply it in one transaction
    for (int count = 0; count < LG_CONSUMER_BATCH; count++) {
        if (count && !(zsock_events (reader) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv (reader);
        if (!msg)
            return zsys_interrupted? -1: 0;
        zframe_t *topic = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        ProtobufCMessage *decoded = NULL;
        if (body && lg_codec_decode (&lgwan__v1__event__descriptor, zframe_data (body),
                                     zframe_size (body), (size_t) self->max_msg, &decoded,
                                     NULL, 0) == 0) {
            lg_event_t *event = (lg_event_t *) decoded;
            if (event->body_case == LGWAN__V1__EVENT__BODY_HEARTBEAT) {
                if (event->heartbeat->head_seq > self->seen_head)
                    self->seen_head = event->heartbeat->head_seq;
                self->heard = true;
                s_apply_batch (self);
                s_record_head (self, event->heartbeat);
                s_record_reported (self, event->heartbeat->head_seq);
            }
            else {
                s_take_t taken = s_take (self, &event);
                gap = gap || taken == S_GAP;
                held = held || taken == S_HELD;
            }
            if (event)
                lgwan__v1__event__free_unpacked (event, NULL);
        }
        zframe_destroy (&topic);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
        if (gap)
            break;
    }
    s_apply_batch (self);
    //  Held at an event that does not follow our chain, the poll asks
    if (!held && (gap || self->seen_head > self->last_seq))
        s_ask_replay (self);
    return 0;
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_ask_replay ((lg_consumer_t *) arg);
    return 0;
}

int
lg_consumer_start (lg_consumer_t *self, zloop_t *loop)
{
    if (self->running)
        return 0;
    char *pub = lg_consumer_endpoint (self->source, true);
    char *req = lg_consumer_endpoint (self->source, false);
    int rc = -1;
    if (!pub || !req)
        goto cleanup;
    self->sub = zsock_new (ZMQ_SUB);
    zsock_set_linger (self->sub, 0);
    zsock_set_rcvhwm (self->sub, 100000);
    zsock_set_maxmsgsize (self->sub, self->max_msg * 2);
    if (lg_auth_client (self->sub, self->cert, self->server_cert)) {
        lg_log_write (LG_LOG_ERROR, self->cert, "could not load the keys to follow %s",
                      self->source);
        goto cleanup;
    }
    zsock_set_subscribe (self->sub, "");
    if (zsock_connect (self->sub, "%s", pub))
        goto cleanup;
    self->loop = loop;
    self->heard = false;
    zstr_free (&self->req_endpoint);
    self->req_endpoint = strdup (req);
    if (s_dealer_open (self))
        goto cleanup;
    zloop_reader (loop, self->sub, s_on_event, self);
    self->timer = zloop_timer (loop, POLL_MS, 0, s_on_timer, self);
    self->running = true;
    s_load_cursor (self);
    lg_info ("following %s from seq %" PRIu64 " (events %s, replay %s)", self->source,
             self->last_seq + 1, pub, req);
    s_ask_replay (self);
    rc = 0;
cleanup:
    if (rc) {
        zsock_destroy (&self->sub);
        s_dealer_close (self);
    }
    free (pub);
    free (req);
    return rc;
}

void
lg_consumer_stop (lg_consumer_t *self, zloop_t *loop)
{
    if (!self->running)
        return;
    zloop_reader_end (loop, self->sub);
    if (self->timer >= 0)
        zloop_timer_end (loop, self->timer);
    self->timer = -1;
    zsock_destroy (&self->sub);
    s_dealer_close (self);
    s_batch_clear (self);
    self->running = false;
    lg_info ("stopped following %s at seq %" PRIu64, self->source, self->last_seq);
}

//  A Replay answer (request_id, head, no events) or a heartbeat, sent to the
//  consumer's socket, for the self test
static void
s_test_send_answer (zsock_t *sock, const char *id, uint64_t head)
{
    Lgwan__V1__ReplayReply replay = LGWAN__V1__REPLAY_REPLY__INIT;
    replay.head_seq = head;
    lg_status_t status = LGWAN__V1__STATUS__INIT;
    status.code = LGWAN__V1__CODE__OK;
    lg_reply_t reply = LGWAN__V1__REPLY__INIT;
    reply.request_id = (char *) id;
    reply.status = &status;
    reply.body_case = LGWAN__V1__REPLY__BODY_REPLAY;
    reply.replay = &replay;
    zframe_t *frame = lg_codec_frame (&reply.base);
    zframe_send (&frame, sock, 0);
}

static void
s_test_send_heartbeat (zsock_t *sock, const char *source, uint64_t head)
{
    Lgwan__V1__Heartbeat beat = LGWAN__V1__HEARTBEAT__INIT;
    beat.head_seq = head;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.source = (char *) source;
    event.seq = head;
    event.body_case = LGWAN__V1__EVENT__BODY_HEARTBEAT;
    event.heartbeat = &beat;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "heartbeat");
    zframe_t *frame = lg_codec_frame (&event.base);
    zmsg_append (msg, &frame);
    zmsg_send (&msg, sock);
}

void
lg_consumer_test (bool verbose)
{
    if (verbose)
        printf (" * lg_consumer: ");
    //  A consumer of no database and no source, which has applied up to 11
    //  and stores no head (both stored as far as they go): what it makes
    //  of heads it is told (s_check_head)
    lg_config_t cfg = { .service = "test", .cert_dir = "/nonexistent", .max_msg = 1 << 20 };
    lg_consumer_t *self = lg_consumer_new (&cfg, NULL, "registry", NULL, NULL, NULL);
    self->stored_head = self->stored_reported = UINT64_MAX;
    self->last_seq = 11;
    zsock_t *source = zsock_new_pair ("@inproc://lg_consumer_test");
    zsock_t *sink = zsock_new_pair (">inproc://lg_consumer_test");
    assert (source && sink);

    //  1. Asked from 11; event 11 came by PUB and was applied before the
    //  answer, whose head the source read before it wrote 11: not behind
    snprintf (self->pending, sizeof self->pending, "ask-1");
    self->asked_from = 11;
    s_test_send_answer (source, "ask-1", 10);
    s_on_replay (NULL, sink, self);
    assert (self->behind_head == 0);
    //  2. A heartbeat of head 10 read after 11 was applied: not judged
    s_test_send_heartbeat (source, "registry", 10);
    s_on_event (NULL, sink, self);
    assert (self->behind_head == 0);
    //  3. Asked from 12 (11 applied), the answer's head 9: behind, said
    snprintf (self->pending, sizeof self->pending, "ask-2");
    self->asked_from = 12;
    s_test_send_answer (source, "ask-2", 9);
    s_on_replay (NULL, sink, self);
    assert (self->behind_head == 9);

    zsock_destroy (&sink);
    zsock_destroy (&source);
    lg_consumer_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
