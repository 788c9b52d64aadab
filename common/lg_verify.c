/*  lg_verify - is every service's event chain intact? (see lg_verify.h) */
#include "lg_lib.h"

#define PAGE 1000

typedef struct {
    char consumer [32];
    char source [32];
    uint64_t seq;
    uint8_t hash [32];
    size_t hash_size;
} s_head_t;

struct _lg_verify_t {
    zlist_t *heads;             //  s_head_t
};

lg_verify_t *
lg_verify_new (void)
{
    lg_verify_t *self = (lg_verify_t *) zmalloc (sizeof (lg_verify_t));
    self->heads = zlist_new ();         //  owns its s_head_t items (not strings)
    return self;
}

void
lg_verify_destroy (lg_verify_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_head_t *head;
        while ((head = (s_head_t *) zlist_pop ((*self_p)->heads)))
            free (head);
        zlist_destroy (&(*self_p)->heads);
        free (*self_p);
        *self_p = NULL;
    }
}

void
lg_verify_add_cursors (lg_verify_t *self, const char *consumer,
                       const Lgwan__V1__CursorsReply *cursors)
{
    for (size_t i = 0; i < cursors->n_cursors; i++) {
        const Lgwan__V1__Cursor *c = cursors->cursors [i];
        if (c->head_seq == 0 || c->head_hash.len > 32)
            continue;
        s_head_t *head = (s_head_t *) zmalloc (sizeof *head);
        snprintf (head->consumer, sizeof head->consumer, "%s", consumer);
        snprintf (head->source, sizeof head->source, "%s", c->source);
        head->seq = c->head_seq;
        memcpy (head->hash, c->head_hash.data, c->head_hash.len);
        head->hash_size = c->head_hash.len;
        zlist_append (self->heads, head);
    }
}

bool
lg_verify_has_head (lg_verify_t *self, const char *service)
{
    for (s_head_t *h = (s_head_t *) zlist_first (self->heads); h;
         h = (s_head_t *) zlist_next (self->heads))
        if (streq (h->source, service))
            return true;
    return false;
}

//  Compare one row with the heads recorded for it; 1 when one disagrees
static int
s_check_heads (lg_verify_t *self, const char *service, uint64_t seq, const uint8_t *hash,
               char *why, size_t why_size)
{
    for (s_head_t *h = (s_head_t *) zlist_first (self->heads); h;
         h = (s_head_t *) zlist_next (self->heads))
        if (streq (h->source, service) && h->seq == seq
        &&  (h->hash_size != 32 || memcmp (h->hash, hash, 32))) {
            snprintf (why, why_size, "%s saw another hash at this seq: the chain was rewritten",
                      h->consumer);
            return 1;
        }
    return 0;
}

int
lg_verify_chain (lg_verify_t *self, lg_client_t *client, const char *service,
                 const uint8_t *key, size_t key_size, uint64_t *head_seq,
                 uint64_t *broken_seq, char *why, size_t why_size)
{
    //  The chain links' field numbers, cut from each event before hashing
    const uint32_t links [2] = {
        protobuf_c_message_descriptor_get_field_by_name (&lgwan__v1__event__descriptor,
                                                         "prev_hash")->id,
        protobuf_c_message_descriptor_get_field_by_name (&lgwan__v1__event__descriptor,
                                                         "hash")->id
    };
    uint8_t prev [32];
    size_t prev_size = 0;
    uint64_t expected = 1;
    int verdict = 0;
    *head_seq = 0;
    *broken_seq = 0;
    while (verdict == 0) {
        Lgwan__V1__Replay ask = LGWAN__V1__REPLAY__INIT;
        ask.from_seq = expected;
        ask.limit = PAGE;
        lg_request_t request = LGWAN__V1__REQUEST__INIT;
        request.body_case = LGWAN__V1__REQUEST__BODY_REPLAY;
        request.replay = &ask;
        lg_reply_t *reply = NULL;
        int rc = lg_client_call (client, &request, &reply);
        free (request.request_id);
        if (rc == -2) {
            //  It answered: not an absence (asked again, the same reply)
            snprintf (why, why_size, "%s", lg_client_unreadable (client));
            return -3;
        }
        if (rc || !reply->status || reply->status->code != LGWAN__V1__CODE__OK
        ||  reply->body_case != LGWAN__V1__REPLY__BODY_REPLAY) {
            //  A refusal (the certificate's role) is not an absence: the
            //  caller says so, and does not wait for the service to return
            bool refused = reply && (!reply->status
                                 ||  reply->status->code != LGWAN__V1__CODE__UNAVAILABLE);
            const ProtobufCEnumValue *code = reply && reply->status?
                protobuf_c_enum_descriptor_get_value (&lgwan__v1__code__descriptor,
                                                      (int) reply->status->code): NULL;
            snprintf (why, why_size, "%s did not replay its events: %s%s%s%s", service,
                      reply && reply->status? reply->status->message: "no answer",
                      refused? " (": "", refused && code? code->name: "", refused? ")": "");
            if (reply)
                lgwan__v1__reply__free_unpacked (reply, NULL);
            return refused? -2: -1;
        }
        Lgwan__V1__ReplayReply *replay = reply->replay;
        uint64_t server_head = replay->head_seq;
        for (size_t i = 0; i < replay->n_events && verdict == 0; i++) {
            lg_event_t *event = lgwan__v1__event__unpack (NULL, replay->events [i].len,
                                                          replay->events [i].data);
            if (!event || event->seq != expected) {
                *broken_seq = expected;
                snprintf (why, why_size, "row missing or unreadable");
                verdict = 1;
            }
            else {
                //  The hash covers the event's bytes as stored, which are
                //  the bytes served less the links after them: cut from
                //  the wire, not packed anew (a row a newer service wrote
                //  can hold a field this build would move or drop)
                ProtobufCBinaryData link_prev = event->prev_hash, link_hash = event->hash;
                const ProtobufCBinaryData *served = &replay->events [i];
                uint8_t *bytes = (uint8_t *) malloc (served->len? served->len: 1);
                size_t size = 0;
                uint8_t mac [32] = { 0 };
                if (lg_codec_without_fields (served->data, served->len, links, 2, bytes, &size) == 0)
                    lg_outbox_hash (key, key_size, prev, prev_size, event->seq, bytes, size, mac);
                free (bytes);
                if (link_prev.len != prev_size || (prev_size && memcmp (link_prev.data, prev, prev_size))) {
                    *broken_seq = expected;
                    snprintf (why, why_size, "prev_hash does not link to the row before");
                    verdict = 1;
                }
                else
                if (link_hash.len != 32 || memcmp (link_hash.data, mac, 32)) {
                    *broken_seq = expected;
                    snprintf (why, why_size, "hash does not match the row's contents");
                    verdict = 1;
                }
                else
                if (s_check_heads (self, service, expected, mac, why, why_size)) {
                    *broken_seq = expected;
                    verdict = 1;
                }
                memcpy (prev, mac, 32);
                prev_size = 32;
                *head_seq = expected;
                expected++;
            }
            if (event)
                lgwan__v1__event__free_unpacked (event, NULL);
        }
        size_t got = replay->n_events;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        if (verdict == 0 && got == 0) {
            if (server_head >= expected) {
                //  The head row says there is more than the outbox holds
                *broken_seq = expected;
                snprintf (why, why_size, "outbox ends at %" PRIu64 " but its head is %" PRIu64,
                          expected - 1, server_head);
                verdict = 1;
            }
            break;
        }
    }
    if (verdict)
        return 1;
    //  Cut off the end? A consumer saw a head past what the chain has now
    for (s_head_t *h = (s_head_t *) zlist_first (self->heads); h;
         h = (s_head_t *) zlist_next (self->heads))
        if (streq (h->source, service) && h->seq > *head_seq) {
            *broken_seq = *head_seq + 1;
            snprintf (why, why_size, "chain ends at %" PRIu64 " but %s saw head %" PRIu64
                      ": rows were removed", *head_seq, h->consumer, h->seq);
            return 1;
        }
    return 0;
}
