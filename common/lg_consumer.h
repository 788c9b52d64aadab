/*  lg_consumer - follow another service's events, each applied exactly once,
    in order, with nothing lost.

    1. The cursor (source, last_seq) lives in the consumer's own schema and
       is advanced in the same transaction as the effect of the events, with
       a compare-and-set on the old value: if anything else advanced it (a
       second replica that thought it led), the transaction rolls back and the
       cursor is read again. An event is therefore applied once or not at all.
    2. PUB is only the fast path. On start, on a gap, on a heartbeat whose
       head is past our cursor, and every few seconds regardless, the consumer
       asks the source's ROUTER for Replay{from_seq = last_seq + 1}.
    3. Events arriving together are applied in one transaction (batches of up
       to LG_CONSUMER_BATCH), which is what makes thousands a second possible.
    4. The last head a heartbeat showed is stored too, so `lgwanctl verify`
       can tell when rows were cut off the end of a chain (head_seq and
       head_hash: only a heartbeat's head at our cursor with the hash we
       applied there, so one that extends every head recorded before it; a
       head below our cursor, whose hash we do not hold, is not recorded,
       and one at our cursor with another hash is a fork, said, the head
       recorded before kept for verify, note 8). The largest head the
       source reported at all, in a heartbeat or a Replay answer, is stored
       as reported_seq, reached or not, so a service can tell whether it has
       applied everything its source said it had (billing's invoice run
       waits for that).
    5. The apply function returns 0 (applied), -1 (refused: logged, and the
       cursor moves on) or -2 (database failure). A batch is first applied
       with its writes pipelined (lg_db_run only queues; its BEGIN goes
       with them); if anything in it fails, it is applied again one event
       at a time under savepoints (each released with the next one's
       SAVEPOINT, not nested to the COMMIT), and
       an event that still fails while the database is up because of its
       data (a data exception, a constraint, a trigger's refusal:
       lg_db_data_error) is logged and skipped, so one poison event never
       stops a stream. Any other failure says nothing of the event (a
       deadlock, a lock held elsewhere past the wait of lg_db.h note 2a, a
       statement cancelled, the server short of disk, memory or itself, a
       privilege revoked, a table this build does not find): nothing of the
       batch is applied and it comes again. Such failures were taken for
       poison but the first list, and every event skipped while they lasted. An event this build cannot
       decode is neither applied nor skipped: the stream waits at it, said
       once, until a build that reads it takes over (named by the seq in its
       bytes, or, when they do not unpack at all, by its place in the
       Replay page, which serves every row as stored).
    6. A source whose head is behind our cursor lost events we applied; the
       seqs it writes next are taken for ones applied, and the first it
       writes past our cursor does not follow our chain (note 8). That is
       said in the log, not guessed at, once a head: a Replay answer's head
       judged against what we had applied when we asked (the source reads
       its head before its rows, and an event written since may have been
       applied from PUB before the answer is read), a heartbeat's not at all
       (one queued behind Replay pages is as old); Replay polls every half
       second anyway. An operator moves the cursor back (note 8), and
       reported_seq with it: otherwise what waits for the consumer to reach
       the lost head (billing's invoice run) waits until the source writes
       past it.
    7. A service may have a statement of its own run at the start of each
       batch's transaction, before its first event (lg_batch_fn, e.g. a
       lock it takes turns with, or what every event of the batch reads):
       once a batch, not once an event. It is pipelined with the batch (a
       query of it waits for the answer: one round trip a batch), and run
       again when the batch is applied again the careful way (note 5).
    8. The cursor holds the hash of the event last_seq too (last_hash,
       written by the statement that moves last_seq), and the next event
       is taken only if its prev_hash is that hash (within a batch, the
       hash of the event before it). One that does not link was written by
       a source that lost events we applied (a failover that lost its last
       commits, a restore from a backup) and wrote others under their seqs,
       which were taken for applied ones, even when no head we saw was ever
       behind our cursor (note 6). The stream waits at it, nothing applied
       and nothing skipped, said once per event naming the source and the
       seq (the last applied seq come again with another hash is said too,
       and so is a heartbeat whose head is our cursor with another hash:
       a source that wrote anew up to our cursor and no further, which no
       event shows; that head is not recorded for verify, note 4);
       an operator decides, with the cursor, read again at each poll while
       the stream waits: last_seq back to where the chains part and
       last_hash '\x' to apply what the source wrote anew, or last_hash set
       to the hash of the source's event last_seq to go on past it. An empty
       last_hash (a cursor from before, or one so set) is not checked.
*/
#ifndef LG_CONSUMER_H_INCLUDED
#define LG_CONSUMER_H_INCLUDED

#define LG_CONSUMER_BATCH 1000

typedef struct _lg_consumer_t lg_consumer_t;
typedef int (lg_consume_fn) (lg_db_t *db, const lg_event_t *event, void *state);
//  Note 7: 0, or -2 on a database failure (the batch is not applied and
//  comes again; it is not skipped)
typedef int (lg_batch_fn) (lg_db_t *db, void *state);

//  A service's subscriptions, { NULL } ended, in lg_service_def_t
typedef struct {
    const char *source;
    lg_consume_fn *apply;
} lg_subscription_t;

//  Follow source: requests at LG_<SOURCE>_CONNECT, events at
//  LG_<SOURCE>_PUB_CONNECT (defaults: 127.0.0.1 and the ports of DESIGN.md),
//  with our key pair services/<cfg->service>. begin (or NULL) is run at the
//  start of each batch's transaction (note 7).
lg_consumer_t *lg_consumer_new (const lg_config_t *cfg, lg_db_t *db, const char *source,
                                lg_consume_fn *apply, lg_batch_fn *begin, void *state);
void lg_consumer_destroy (lg_consumer_t **self_p);

//  Begin (connect, catch up, then follow) / end following, e.g. when this
//  replica wins or loses the leadership.
int lg_consumer_start (lg_consumer_t *self, zloop_t *loop);
void lg_consumer_stop (lg_consumer_t *self, zloop_t *loop);

//  Last seq applied
uint64_t lg_consumer_last_seq (lg_consumer_t *self);

//  True once, since its last start, it heard the source's head (a Replay
//  answer or a heartbeat) and applied every event up to it: what the source
//  wrote while we did not follow is in our tables (lg_service.h,
//  after_catch_up). False while the source does not answer.
bool lg_consumer_caught_up (lg_consumer_t *self);

//  Self test
void lg_consumer_test (bool verbose);

//  Endpoint of a service from LG_<SVC>_CONNECT or LG_<SVC>_PUB_CONNECT, else
//  tcp://127.0.0.1:<default port (+100 for pub)>. Caller frees; NULL if unknown.
char *lg_consumer_endpoint (const char *service, bool pub);

#endif
