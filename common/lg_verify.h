/*  lg_verify - is every service's event chain intact? (X.1)

    1. Each chain is read through Replay (a `viewer` or `service`
       certificate suffices) and checked row by row: seq is gap-free from 1,
       prev_hash is the previous row's hash, and hash is the HMAC-SHA256 of
       (prev_hash || seq || event bytes) under the service's key, the event
       bytes as stored: the bytes Replay serves less the links after them,
       cut from the wire (packed anew by an older build, a row holding a
       field it does not know would change). An edited
       payload breaks its own row; a deleted row breaks the next.
    2. Cutting rows off the end leaves a shorter chain that is intact in
       itself, so every service's cursors are read too: a consumer that saw a
       head (seq, hash) in a heartbeat which the chain no longer has, or has
       with another hash, proves the chain was cut or rewritten. With no
       head of a service seen (its consumers down, or it has none in this
       build), rows cut off its end together with its head row cannot be
       told from a shorter chain: lg_verify_has_head says so, and the
       caller must say the tail was not checked rather than call it intact.
    3. The verdict names the first broken place as service/seq.
*/
#ifndef LG_VERIFY_H_INCLUDED
#define LG_VERIFY_H_INCLUDED

typedef struct _lg_verify_t lg_verify_t;

lg_verify_t *lg_verify_new (void);
void lg_verify_destroy (lg_verify_t **self_p);

//  Record the heads one service's consumers saw (its Cursors reply).
void lg_verify_add_cursors (lg_verify_t *self, const char *consumer,
                            const Lgwan__V1__CursorsReply *cursors);

//  Whether any consumer's head of service was recorded, so lg_verify_chain
//  can tell rows cut off its end (point 2).
bool lg_verify_has_head (lg_verify_t *self, const char *service);

//  Walk service's chain through client with its key. Returns 0 intact,
//  1 broken (then *broken_seq and why), -1 unavailable: no reply, or
//  UNAVAILABLE (why), -2 refused: any other status, such as a role that may
//  not replay the stream (why, with the code), -3 unreadable: it answered
//  Replay with a reply this build cannot read (lg_client.h point 4; why is
//  lg_client_unreadable's reason alone, for the caller to say it whole).
int lg_verify_chain (lg_verify_t *self, lg_client_t *client, const char *service,
                     const uint8_t *key, size_t key_size, uint64_t *head_seq,
                     uint64_t *broken_seq, char *why, size_t why_size);

#endif
