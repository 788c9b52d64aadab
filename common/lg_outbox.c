/*  lg_outbox - a service's events: written with its state, chained, published.
    The guarantees are in lg_outbox.h; the how is here.
*/
#include "lg_lib.h"
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>

#define REPLAY_DEFAULT   1000
#define REPLAY_MAX       10000
#define REPLAY_BYTES     (512 * 1024)   //  keep a reply well under LG_MAX_MSG

typedef struct {
    char *topic;                //  body field name, e.g. provider_applied
    zframe_t *frame;            //  the packed Event, hash included
} s_pending_t;

struct _lg_outbox_t {
    char *service;
    lg_db_t *db;                //  borrowed
    lg_auth_t *auth;            //  borrowed
    uint8_t key [64];
    size_t key_size;
    zsock_t *xpub;
    char *endpoint;
    int hwm;
    zloop_t *loop;              //  the reactor that reads subscriptions
    uint64_t removals;          //  lg_auth_removals when the PUB socket was bound
    int stream_roles;
    zlist_t *staged;            //  zframe_t, appended: packed without seq and links
    zlist_t *pending;           //  s_pending_t, written but not yet committed
    zmsg_t *committed;          //  without a PUB socket: [topic][event]... for lg_outbox_take
    lg_outbox_listener_fn *listener;
    void *listener_arg;
};

void
lg_outbox_set_listener (lg_outbox_t *self, lg_outbox_listener_fn *fn, void *arg)
{
    self->listener = fn;
    self->listener_arg = arg;
}

//  Publish one [topic][event] and tell the listener
static void
s_publish (lg_outbox_t *self, zframe_t **topic_p, zframe_t **event_p)
{
    if (self->listener) {
        char *topic = zframe_strdup (*topic_p);
        self->listener (self->listener_arg, topic, *event_p);
        zstr_free (&topic);
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, topic_p);
    zmsg_append (msg, event_p);
    zmsg_send (&msg, self->xpub);           //  drops at HWM: consumers replay
}

static void
s_pending_destroy (s_pending_t **item_p)
{
    if (*item_p) {
        zstr_free (&(*item_p)->topic);
        zframe_destroy (&(*item_p)->frame);
        free (*item_p);
        *item_p = NULL;
    }
}

int
lg_outbox_load_key (const char *path, uint8_t *key, size_t *size)
{
    //  A key others could read could forge the chain (lg_auth.h note 4)
    char why [512];
    if (lg_auth_private_ok (path, why, sizeof why)) {
        lg_log_write (LG_LOG_ERROR, why, "the outbox key is not used");
        return -1;
    }
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char text [160] = "";
    bool ok = fgets (text, sizeof text, file) != NULL;
    fclose (file);
    size_t len = strcspn (text, "\r\n ");
    if (!ok || len < 32 || len > 128 || len % 2)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned int byte;
        if (!isxdigit ((unsigned char) text [2 * i]) || !isxdigit ((unsigned char) text [2 * i + 1])
        ||  sscanf (text + 2 * i, "%2x", &byte) != 1)
            return -1;
        key [i] = (uint8_t) byte;
    }
    *size = len / 2;
    OPENSSL_cleanse (text, sizeof text);
    return 0;
}

void
lg_outbox_hash (const uint8_t *key, size_t key_size, const uint8_t *prev_hash, size_t prev_size,
                uint64_t seq, const uint8_t *event, size_t event_size, uint8_t out [32])
{
    uint8_t seq_be [8];
    for (int i = 0; i < 8; i++)
        seq_be [i] = (uint8_t) (seq >> (56 - 8 * i));
    EVP_MAC *mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac? EVP_MAC_CTX_new (mac): NULL;
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
        OSSL_PARAM_construct_end ()
    };
    size_t out_size = 0;
    //  Failure here is a broken OpenSSL install: our bug to trap, not input
    int ok = ctx
          && EVP_MAC_init (ctx, key, key_size, params)
          && EVP_MAC_update (ctx, prev_hash, prev_size)
          && EVP_MAC_update (ctx, seq_be, sizeof seq_be)
          && EVP_MAC_update (ctx, event, event_size)
          && EVP_MAC_final (ctx, out, &out_size, 32);
    assert (ok && out_size == 32);
    (void) ok;
    EVP_MAC_CTX_free (ctx);
    EVP_MAC_free (mac);
}

//  The PUB socket, bound to endpoint; a port just let go may stay taken a
//  moment while libzmq's I/O thread closes it, so bind tries for patience_ms
static int
s_xpub_open (lg_outbox_t *self, const char *endpoint, int patience_ms)
{
    self->xpub = zsock_new (ZMQ_XPUB);
    zsock_set_linger (self->xpub, 0);
    zsock_set_sndhwm (self->xpub, self->hwm);
    zsock_set_xpub_manual (self->xpub, 1);
    zsock_set_maxmsgsize (self->xpub, 4096);
    //  lg_auth_server says itself why it failed
    if (self->auth && lg_auth_server (self->auth, self->xpub, self->service))
        return -1;
    int64_t until = zclock_mono () + patience_ms;
    while (zsock_bind (self->xpub, "%s", endpoint) < 0) {
        if (zmq_errno () != EADDRINUSE || zclock_mono () >= until) {
            lg_log_write (LG_LOG_ERROR, zmq_strerror (zmq_errno ()), "could not bind %s",
                          endpoint);
            zsock_destroy (&self->xpub);
            return -1;
        }
        zclock_sleep (5);
    }
    return 0;
}

lg_outbox_t *
lg_outbox_new (const char *service, lg_db_t *db, lg_auth_t *auth, const char *key_file,
               const char *pub_endpoint, int stream_roles, int hwm)
{
    lg_outbox_t *self = (lg_outbox_t *) zmalloc (sizeof (lg_outbox_t));
    self->service = strdup (service);
    self->db = db;
    self->auth = auth;
    self->stream_roles = stream_roles;
    self->staged = zlist_new ();
    self->pending = zlist_new ();
    self->committed = zmsg_new ();
    if (lg_outbox_load_key (key_file, self->key, &self->key_size)) {
        lg_log_write (LG_LOG_ERROR, key_file, "could not read the outbox key of %s", service);
        lg_outbox_destroy (&self);
        return NULL;
    }
    self->hwm = hwm;
    if (pub_endpoint) {
        self->removals = auth? lg_auth_removals (auth): 0;
        if (s_xpub_open (self, pub_endpoint, 0)) {
            lg_outbox_destroy (&self);
            return NULL;
        }
        self->endpoint = zsock_last_endpoint (self->xpub);
    }
    return self;
}

void
lg_outbox_destroy (lg_outbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        lg_outbox_t *self = *self_p;
        lg_outbox_discard (self);
        zlist_destroy (&self->staged);
        zlist_destroy (&self->pending);
        zmsg_destroy (&self->committed);
        zsock_destroy (&self->xpub);
        zstr_free (&self->endpoint);
        zstr_free (&self->service);
        OPENSSL_cleanse (self->key, sizeof self->key);
        free (self);
        *self_p = NULL;
    }
}

int
lg_outbox_stream_roles (lg_outbox_t *self)
{
    return self->stream_roles;
}

const char *
lg_outbox_endpoint (lg_outbox_t *self)
{
    return self->endpoint;
}

int
lg_outbox_append (lg_outbox_t *self, lg_event_t *event, const char *actor, const char *reason,
                  const char *correlation_id, int64_t now_us)
{
    return lg_outbox_append_many (self, &event, 1, actor, reason, correlation_id, now_us);
}

//  Up to this many events in one INSERT of lg_outbox_append_many
#define APPEND_BATCH 1000

//  Text array literal of n strings made only of [0-9a-zA-Z:.+-] (hex,
//  numbers, UUIDs, RFC 3339 times): each element quoted, so "" is empty
static char *
s_array (char **items, size_t n)
{
    size_t size = 3;
    for (size_t i = 0; i < n; i++)
        size += strlen (items [i]) + 3;
    char *text = (char *) malloc (size);
    char *at = text;
    *at++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *at++ = ',';
        *at++ = '"';
        size_t len = strlen (items [i]);
        memcpy (at, items [i], len);
        at += len;
        *at++ = '"';
    }
    *at++ = '}';
    *at = 0;
    return text;
}

int
lg_outbox_append_many (lg_outbox_t *self, lg_event_t **events, size_t n, const char *actor,
                       const char *reason, const char *correlation_id, int64_t now_us)
{
    //  Staged with their whole header but seq and the chain links, packed
    //  (the caller's message may live on its stack)
    char occurred [40];
    lg_clock_format (now_us, occurred, sizeof occurred);
    for (size_t i = 0; i < n; i++) {
        lg_event_t *event = events [i];
        zuuid_t *uuid = zuuid_new ();
        event->source = self->service;
        event->seq = 0;
        event->event_id = (char *) zuuid_str_canonical (uuid);
        event->occurred_at = occurred;
        event->correlation_id = (char *) (correlation_id? correlation_id: "");
        event->actor = (char *) (actor? actor: "");
        event->reason = (char *) (reason? reason: "");
        event->prev_hash.len = event->hash.len = 0;
        zlist_append (self->staged, lg_codec_frame (&event->base));
        event->source = event->event_id = event->occurred_at = (char *) protobuf_c_empty_string;
        event->correlation_id = event->actor = event->reason = (char *) protobuf_c_empty_string;
        zuuid_destroy (&uuid);
    }
    return 0;
}

int
lg_outbox_write (lg_outbox_t *self)
{
    size_t n = zlist_size (self->staged);
    if (n == 0)
        return 0;
    //  All the seqs at once: one update of the head row, which stays locked
    //  until COMMIT; the caller commits right after
    char count [24];
    snprintf (count, sizeof count, "%zu", n);
    PGresult *res = lg_db_exec (self->db,
        "UPDATE outbox_head SET seq = seq + $1::bigint WHERE id = 1 RETURNING seq, hash", 1,
        (const char *[]) { count });
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
        PQclear (res);
        return -2;
    }
    uint64_t seq = strtoull (lg_db_value (res, 0, "seq"), NULL, 10) - n;
    size_t prev_size;
    uint8_t *head = lg_db_bytes (res, 0, "hash", &prev_size);
    PQclear (res);
    uint8_t prev [32];
    if (prev_size > sizeof prev)
        prev_size = 0;
    if (head)
        memcpy (prev, head, prev_size);
    if (head)
        PQfreemem (head);

    bool ok = true;
    for (size_t first = 0; first < n && ok; first += APPEND_BATCH) {
        size_t count_now = n - first < APPEND_BATCH? n - first: APPEND_BATCH;
        char **columns [7];
        for (int c = 0; c < 7; c++)
            columns [c] = (char **) calloc (count_now, sizeof (char *));
        for (size_t i = 0; i < count_now; i++) {
            zframe_t *staged = (zframe_t *) zlist_pop (self->staged);
            lg_event_t *event = lgwan__v1__event__unpack (NULL, zframe_size (staged),
                                                          zframe_data (staged));
            zframe_destroy (&staged);
            assert (event);             //  we packed it ourselves
            //  The chained bytes are the event as packed with its seq
            event->seq = ++seq;
            size_t size = protobuf_c_message_get_packed_size (&event->base);
            uint8_t *packed = (uint8_t *) malloc (size? size: 1);
            protobuf_c_message_pack (&event->base, packed);
            uint8_t hash [32];
            lg_outbox_hash (self->key, self->key_size, prev, prev_size, seq, packed, size, hash);
            columns [0] [i] = zsys_sprintf ("%" PRIu64, seq);
            columns [1] [i] = strdup (event->event_id);
            columns [2] [i] = zsys_sprintf ("%u", event->body_case);
            char *hex = lg_db_hex (packed, size);         //  \x..., the array wants plain hex
            columns [3] [i] = strdup (hex + 2);
            free (hex);
            hex = lg_db_hex (prev, prev_size);
            columns [4] [i] = strdup (hex + 2);
            free (hex);
            hex = lg_db_hex (hash, sizeof hash);
            columns [5] [i] = strdup (hex + 2);
            free (hex);
            columns [6] [i] = strdup (event->occurred_at);
            //  What subscribers get carries the chain links too
            event->prev_hash.data = prev;
            event->prev_hash.len = prev_size;
            event->hash.data = hash;
            event->hash.len = sizeof hash;
            s_pending_t *item = (s_pending_t *) zmalloc (sizeof *item);
            const ProtobufCFieldDescriptor *field =
                lg_codec_body_field (&lgwan__v1__event__descriptor, event->body_case);
            item->topic = strdup (field? field->name: "event");
            item->frame = lg_codec_frame (&event->base);
            zlist_append (self->pending, item);
            memcpy (prev, hash, sizeof hash);
            prev_size = sizeof hash;
            //  Not ours to free: the unpacked message's own buffers
            event->prev_hash.data = event->hash.data = NULL;
            event->prev_hash.len = event->hash.len = 0;
            lgwan__v1__event__free_unpacked (event, NULL);
            free (packed);
        }
        char *arrays [7];
        for (int c = 0; c < 7; c++)
            arrays [c] = s_array (columns [c], count_now);
        //  The head's new link travels with the last rows (both queued:
        //  they go with the transaction's next round trip, its COMMIT)
        char seq_text [24];
        snprintf (seq_text, sizeof seq_text, "%" PRIu64, seq);
        char *hash_hex = lg_db_hex (prev, prev_size);
        bool last = first + count_now == n;
        ok = lg_db_run (self->db,
            last? "WITH head AS (UPDATE outbox_head SET hash = $9::bytea WHERE id = 1"
                  " AND seq = $8::bigint)"
                  " INSERT INTO outbox (seq, event_id, body_case, occurred_at, event, prev_hash, hash)"
                  " SELECT s, e, b, o::timestamptz, decode (ev, 'hex'), decode (p, 'hex'),"
                  " decode (h, 'hex') FROM unnest ($1::bigint[], $2::text[], $3::integer[],"
                  " $4::text[], $5::text[], $6::text[], $7::text[]) AS u (s, e, b, ev, p, h, o)"
                : "INSERT INTO outbox (seq, event_id, body_case, occurred_at, event, prev_hash, hash)"
                  " SELECT s, e, b, o::timestamptz, decode (ev, 'hex'), decode (p, 'hex'),"
                  " decode (h, 'hex') FROM unnest ($1::bigint[], $2::text[], $3::integer[],"
                  " $4::text[], $5::text[], $6::text[], $7::text[]) AS u (s, e, b, ev, p, h, o)",
            last? 9: 7,
            (const char *[]) { arrays [0], arrays [1], arrays [2], arrays [3], arrays [4],
                               arrays [5], arrays [6], seq_text, hash_hex });
        free (hash_hex);
        for (int c = 0; c < 7; c++) {
            for (size_t i = 0; i < count_now; i++)
                free (columns [c] [i]);
            free (columns [c]);
            free (arrays [c]);
        }
    }
    //  What a failure left staged goes with the rollback
    zframe_t *left;
    while ((left = (zframe_t *) zlist_pop (self->staged)))
        zframe_destroy (&left);
    return ok? 0: -2;
}

void
lg_outbox_flush (lg_outbox_t *self)
{
    s_pending_t *item;
    while ((item = (s_pending_t *) zlist_pop (self->pending))) {
        if (self->xpub) {
            zframe_t *topic = zframe_from (item->topic);
            s_publish (self, &topic, &item->frame);
        }
        else {
            //  A worker's outbox: the thread that owns the PUB socket publishes
            zmsg_addstr (self->committed, item->topic);
            zmsg_append (self->committed, &item->frame);
        }
        s_pending_destroy (&item);
    }
}

zmsg_t *
lg_outbox_take (lg_outbox_t *self)
{
    zmsg_t *taken = self->committed;
    self->committed = zmsg_new ();
    return taken;
}

void
lg_outbox_publish (lg_outbox_t *self, zmsg_t *events)
{
    while (self->xpub && zmsg_size (events) >= 2) {
        zframe_t *topic = zmsg_pop (events);
        zframe_t *event = zmsg_pop (events);
        s_publish (self, &topic, &event);
    }
}

void
lg_outbox_discard (lg_outbox_t *self)
{
    zframe_t *staged;
    while ((staged = (zframe_t *) zlist_pop (self->staged)))
        zframe_destroy (&staged);
    s_pending_t *item;
    while ((item = (s_pending_t *) zlist_pop (self->pending)))
        s_pending_destroy (&item);
}

void
lg_outbox_heartbeat (lg_outbox_t *self)
{
    if (!self->xpub)
        return;
    PGresult *res = lg_db_exec (self->db, "SELECT seq, hash FROM outbox_head WHERE id = 1", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
        PQclear (res);
        return;                     //  no database: no head to vouch for
    }
    Lgwan__V1__Heartbeat beat = LGWAN__V1__HEARTBEAT__INIT;
    beat.head_seq = strtoull (lg_db_value (res, 0, "seq"), NULL, 10);
    size_t size;
    uint8_t *hash = lg_db_bytes (res, 0, "hash", &size);
    PQclear (res);
    beat.head_hash.data = hash;
    beat.head_hash.len = size;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.source = self->service;
    event.seq = beat.head_seq;
    event.body_case = LGWAN__V1__EVENT__BODY_HEARTBEAT;
    event.heartbeat = &beat;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "heartbeat");
    zframe_t *frame = lg_codec_frame (&event.base);
    zmsg_append (msg, &frame);
    zmsg_send (&msg, self->xpub);
    if (hash)
        PQfreemem (hash);
}

//  A subscription is honoured only for roles allowed to read this stream
static int
s_on_subscription (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    lg_outbox_t *self = (lg_outbox_t *) arg;
    zframe_t *frame = zframe_recv (reader);
    if (!frame)
        return zsys_interrupted? -1: 0;
    lg_caller_t caller;
    size_t size = zframe_size (frame);
    const char *data = (const char *) zframe_data (frame);
    if (size >= 1 && (data [0] == 0 || data [0] == 1)) {
        bool allowed = !self->auth
                    || (lg_auth_caller (self->auth, frame, &caller) == 0
                    &&  (caller.role & self->stream_roles));
        char *topic = (char *) zmalloc (size);
        memcpy (topic, data + 1, size - 1);
        if (data [0] == 0)
            zmq_setsockopt (zsock_resolve (reader), ZMQ_UNSUBSCRIBE, topic, size - 1);
        else
        if (allowed)
            zmq_setsockopt (zsock_resolve (reader), ZMQ_SUBSCRIBE, topic, size - 1);
        else
            lg_info ("refused a subscription from a %s certificate",
                     self->auth && lg_auth_caller (self->auth, frame, &caller) == 0?
                     caller.role_name: "unknown");
        free (topic);
    }
    zframe_destroy (&frame);
    return 0;
}

//  A certificate taken out of allowed/ ends its subscriptions: libzmq keeps a
//  connection open past its handshake and a PUB socket cannot drop one
//  subscriber, so the socket is bound anew and every subscriber connects
//  again through zauth, which refuses the revoked key. What is published in
//  between the others take from Replay, as after any loss (lg_consumer)
static int
s_drop_revoked (lg_outbox_t *self)
{
    uint64_t removals = lg_auth_removals (self->auth);
    if (removals == self->removals)
        return 0;
    lg_info ("a certificate was revoked: %s binds its event stream anew", self->service);
    zloop_reader_end (self->loop, self->xpub);
    zsock_destroy (&self->xpub);
    if (s_xpub_open (self, self->endpoint, 2000)
    ||  zloop_reader (self->loop, self->xpub, s_on_subscription, self)) {
        //  Without the stream the service cannot tell its consumers anything:
        //  its reactor ends, and the process with a failure (lg_service_main)
        lg_log_write (LG_LOG_ERROR, self->endpoint, "%s lost its event stream", self->service);
        return -1;
    }
    self->removals = removals;
    return 0;
}

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    lg_outbox_t *self = (lg_outbox_t *) arg;
    if (self->auth && s_drop_revoked (self))
        return -1;
    lg_outbox_heartbeat (self);
    return 0;
}

int
lg_outbox_attach (lg_outbox_t *self, zloop_t *loop, int heartbeat_ms)
{
    if (!self->xpub)
        return 0;
    self->loop = loop;
    if (zloop_reader (loop, self->xpub, s_on_subscription, self))
        return -1;
    return zloop_timer (loop, (size_t) heartbeat_ms, 0, s_on_heartbeat, self) < 0? -1: 0;
}

int
lg_outbox_replay (lg_outbox_t *self, uint64_t from_seq, uint32_t limit,
                  Lgwan__V1__ReplayReply *reply)
{
    if (limit == 0)
        limit = REPLAY_DEFAULT;
    if (limit > REPLAY_MAX)
        limit = REPLAY_MAX;
    if (from_seq > INT64_MAX)
        from_seq = INT64_MAX;               //  past any head: nothing, and the head
    char from [24], count [16];
    snprintf (from, sizeof from, "%" PRIu64, from_seq);
    snprintf (count, sizeof count, "%u", limit);
    const char *params [] = { from, count };
    PGresult *head = lg_db_exec (self->db, "SELECT seq FROM outbox_head WHERE id = 1", 0, NULL);
    if (!head || PQresultStatus (head) != PGRES_TUPLES_OK || PQntuples (head) != 1) {
        PQclear (head);
        return -2;
    }
    reply->head_seq = strtoull (lg_db_value (head, 0, "seq"), NULL, 10);
    PQclear (head);
    PGresult *res = lg_db_exec (self->db,
        "SELECT seq, event, prev_hash, hash FROM outbox WHERE seq >= $1::bigint"
        " ORDER BY seq LIMIT $2::integer", 2, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    int rows = PQntuples (res);
    reply->events = (ProtobufCBinaryData *) calloc (rows? rows: 1, sizeof (ProtobufCBinaryData));
    size_t total = 0;
    for (int row = 0; row < rows && total < REPLAY_BYTES; row++) {
        size_t size, prev_size, hash_size;
        uint8_t *bytes = lg_db_bytes (res, row, "event", &size);
        uint8_t *prev = lg_db_bytes (res, row, "prev_hash", &prev_size);
        uint8_t *hash = lg_db_bytes (res, row, "hash", &hash_size);
        if (bytes) {
            //  The stored bytes stay as they are, byte for byte, and the chain
            //  links ride after them: a field appended to a message sets it.
            //  (Packed anew, a row could change: a value written longer than
            //  protobuf-c writes it, a field this build does not know.) Not
            //  decoded here: a row that does not decode (changed by hand, or
            //  written by a newer build) is served too, for the reader to
            //  name at its place (lg_consumer.h note 5, `lgwanctl events
            //  tail`); left out, it was a gap Replay never filled
            lg_event_t links = LGWAN__V1__EVENT__INIT;
            links.prev_hash = (ProtobufCBinaryData) { prev_size, prev };
            links.hash = (ProtobufCBinaryData) { hash_size, hash };
            size_t extra = protobuf_c_message_get_packed_size (&links.base);
            uint8_t *copy = (uint8_t *) malloc (size + extra);
            memcpy (copy, bytes, size);
            protobuf_c_message_pack (&links.base, copy + size);
            reply->events [reply->n_events].data = copy;
            reply->events [reply->n_events].len = size + extra;
            reply->n_events++;
            total += size + extra;
        }
        else
            lg_error ("outbox row %d of %s could not be read", row, self->service);
        PQfreemem (bytes);
        PQfreemem (prev);
        PQfreemem (hash);
    }
    PQclear (res);
    return 0;
}
