/*  lg_client - calling a service: CURVE DEALER with the Lazy Pirate pattern.

    1. Every request carries a request_id (a fresh UUID unless the caller set one).
    2. No reply within the timeout: close the socket, open a new one, send the
       same bytes again (same request_id, so the service answers a retry from
       its stored reply), up to `retries` times, then give up: UNAVAILABLE.
    3. A reply whose request_id is not the one we wait for is dropped. A
       reply without one is taken when the socket has carried this request
       alone: a service does not echo an id it would not take (over
       LG_REQUEST_ID_MAX bytes, not UTF-8) in its refusal, and such a request
       is sent on a socket of its own. A socket reused for a later call has
       carried only answered requests, and each retry opens a new one, so a
       late answer to an earlier try never arrives where it is awaited.
    4. A reply this build cannot decode (an enum value a newer service
       added, a string that is not UTF-8) whose frame carries our request_id
       (read from the wire, lg_codec_find_field) is not taken for no reply:
       the service answered, and asking again would get the same stored
       reply, so the call ends at once with -2 and lg_client_unreadable says
       why. One without our request_id is dropped as before.
    5. With several endpoints (replicas), each new socket connects to them
       starting one further along than the last: a try that got no answer
       is sent again to the next replica. A DEALER queues a message on a
       peer it is still connecting to, so a socket connecting to a dead
       replica first sent every try there, and the live one was never
       asked.
    6. A server that refuses our certificate (its ZAP handler: a key revoked,
       or never in its allowed/) does not take the request: the DEALER keeps
       it queued, and reconnects and is refused again, so a call used to end
       as no reply after every try, said "whether it was done is not known".
       The dealer's handshakes are watched (zmq_socket_monitor,
       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with ZAP status 400, libzmq 4.3): a
       refusal ends the call at once, not retried, with -3. Nothing was sent
       past the handshake, so nothing was done. With several replicas, a
       refusal by any ends it. ZAP 300 and 500 (try later, the handler's own
       error) say nothing of our key: no reply, as before.
*/
#ifndef LG_CLIENT_H_INCLUDED
#define LG_CLIENT_H_INCLUDED

//  endpoint: tcp://host:port, or several replicas of one service separated by
//  commas (requests are dealt among them round robin); cert: our certificate
//  file (with _secret);
//  server_cert: the service's public certificate file.
lg_client_t *lg_client_new (const char *endpoint, const char *cert, const char *server_cert);
void lg_client_destroy (lg_client_t **self_p);

//  Per-try timeout and number of retries (defaults 2500 ms, 3).
void lg_client_set_timeout (lg_client_t *self, int timeout_ms, int retries);

//  Send request (request_id filled in if empty; the string is then owned by
//  the request as a heap copy) and wait. Returns 0 with *reply_p set (free
//  with lgwan__v1__reply__free_unpacked), -1 when no reply came (unavailable),
//  -2 when the service answered but this build cannot read its reply (point
//  4; not retried, lg_client_unreadable says why), -3 when the server
//  refused our certificate (point 6; not retried, nothing was sent).
//  A request over the size a service takes (LG_MAX_MSG in our environment,
//  else LG_MAX_MSG_DEFAULT) is not sent: *reply_p is then a RESOURCE_EXHAUSTED
//  refusal made here.
int lg_client_call (lg_client_t *self, lg_request_t *request, lg_reply_t **reply_p);

//  Why the last lg_client_call's reply could not be read (after -2), else "".
const char *lg_client_unreadable (lg_client_t *self);

//  Send raw bytes as one frame and wait for one raw reply frame; for tests of
//  malformed input. Returns the reply frame or NULL on timeout.
zframe_t *lg_client_call_raw (lg_client_t *self, const void *data, size_t size, int timeout_ms);

//  A new random request id (UUID v4 text); caller frees.
char *lg_client_new_id (void);

//  Self test
void lg_client_test (bool verbose);

#endif
