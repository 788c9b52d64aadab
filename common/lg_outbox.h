/*  lg_outbox - a service's events: written with its state, chained, published.

    1. lg_outbox_append stages the event in the request's transaction;
       lg_outbox_write, called just before COMMIT, advances the head row
       (locking it until COMMIT, so seq is gap-free even across replicas),
       gives each staged event seq = head + 1, ..., and stores hash =
       HMAC-SHA256(key, prev_hash || seq as 8 bytes big-endian || event
       bytes), where the event bytes are the packed Event with prev_hash and
       hash left empty. Taking the head last keeps the one lock every
       event-emitting write of a service shares down to the write itself and
       the COMMIT, whatever else the transaction does.
    2. Only after COMMIT are the rows published (lg_outbox_flush); a rollback
       forgets them (lg_outbox_discard). PUB may drop: consumers ask Replay.
       PUB order is not seq order: with request workers (LG_WORKERS), each
       worker's events go out when the reactor reads its reply, so two
       writes that committed close together may be heard in either order
       (seq 78 before 77). lg_consumer takes a seq ahead of the next as a
       gap and asks Replay; a subscriber of its own orders by seq, or
       follows through Replay as lg_consumer does.
    3. The PUB socket is an XPUB with manual subscriptions: a subscription is
       honoured only from a certificate whose role may read this stream, so a
       provider certificate subscribes to nothing.
    4. Every heartbeat interval the head (seq, hash) is published, so a
       consumer sees gaps at once and can detect a chain cut at its end.
    Frames on the PUB socket: [topic: body name, e.g. "ProviderApplied"] [Event].
*/
#ifndef LG_OUTBOX_H_INCLUDED
#define LG_OUTBOX_H_INCLUDED

//  Open the outbox of service; key_file holds the HMAC key (hex).
//  pub_endpoint may be NULL (no publishing, e.g. in tools).
lg_outbox_t *lg_outbox_new (const char *service, lg_db_t *db, lg_auth_t *auth,
                            const char *key_file, const char *pub_endpoint,
                            int stream_roles, int hwm);
void lg_outbox_destroy (lg_outbox_t **self_p);

//  Append an event (body set by the caller; header filled here, the
//  caller's message left as it was) to what the current transaction emits.
//  Nothing is written until lg_outbox_write. 0 ok.
int lg_outbox_append (lg_outbox_t *self, lg_event_t *event, const char *actor,
                      const char *reason, const char *correlation_id, int64_t now_us);

//  Append n events in order, as n calls of lg_outbox_append would. 0 ok.
int lg_outbox_append_many (lg_outbox_t *self, lg_event_t **events, size_t n, const char *actor,
                           const char *reason, const char *correlation_id, int64_t now_us);

//  Write what was appended, in the current transaction, right before its
//  COMMIT: one update of the head and one INSERT per thousand events, queued
//  so that they travel with the COMMIT. 0 ok (also when nothing was
//  appended), -2 database failure (roll back).
int lg_outbox_write (lg_outbox_t *self);

//  After COMMIT: publish what was appended. After ROLLBACK: forget it.
void lg_outbox_flush (lg_outbox_t *self);
void lg_outbox_discard (lg_outbox_t *self);

//  An outbox without a PUB socket (a request worker's) keeps what it
//  committed: take it as [topic][event] pairs, and have the outbox that owns
//  the PUB socket publish them.
zmsg_t *lg_outbox_take (lg_outbox_t *self);
void lg_outbox_publish (lg_outbox_t *self, zmsg_t *events);

//  Call fn (arg, topic, event frame) for every event this outbox publishes,
//  in the reactor, after COMMIT (a service reacting to its own events).
typedef void (lg_outbox_listener_fn) (void *arg, const char *topic, zframe_t *event);
void lg_outbox_set_listener (lg_outbox_t *self, lg_outbox_listener_fn *fn, void *arg);

//  Publish the head now (also from the heartbeat timer).
void lg_outbox_heartbeat (lg_outbox_t *self);

//  Add the XPUB reader and heartbeat timer to loop.
int lg_outbox_attach (lg_outbox_t *self, zloop_t *loop, int heartbeat_ms);

//  Rows from from_seq on, at most limit, each as stored with its chain links
//  appended, whether it decodes or not; 0 ok, -2 database failure.
int lg_outbox_replay (lg_outbox_t *self, uint64_t from_seq, uint32_t limit,
                      Lgwan__V1__ReplayReply *reply);

//  Roles allowed to read this stream
int lg_outbox_stream_roles (lg_outbox_t *self);

//  Endpoint actually bound
const char *lg_outbox_endpoint (lg_outbox_t *self);

//  HMAC-SHA256 of one row, for writers and for `lgwanctl verify`.
void lg_outbox_hash (const uint8_t *key, size_t key_size, const uint8_t *prev_hash,
                     size_t prev_size, uint64_t seq, const uint8_t *event, size_t event_size,
                     uint8_t out [32]);

//  Read a hex key file; 0 ok (key has *size bytes, at most 64), -1.
int lg_outbox_load_key (const char *path, uint8_t *key, size_t *size);

//  Self test
void lg_outbox_test (bool verbose);

#endif
