/*  lg_client - calling a service: CURVE DEALER with the Lazy Pirate pattern
    (zguide ch.4). See lg_client.h for what a caller can rely on.
*/
#include "lg_lib.h"
#include <stdatomic.h>

struct _lg_client_t {
    char *endpoint;
    char *cert;
    char *server_cert;
    zsock_t *dealer;
    zsock_t *monitor;           //  the dealer's handshakes refused by the server (point 6)
    size_t sent;                //  requests sent on this dealer
    size_t first;               //  the endpoint a new dealer connects to first (point 5)
    int timeout_ms;
    int retries;
    size_t max_msg;             //  the largest request a service takes (LG_MAX_MSG)
    char unreadable [200];      //  why the last call's reply could not be read (-2)
    bool refused;               //  the server refused our certificate in the last call (-3)
};

//  Watch dealer's handshakes for the server refusing our certificate
//  (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, libzmq 4.3: the server's ZAP handler
//  said 300, 400 or 500 and sent us the ERROR command): a PAIR socket on an
//  inproc endpoint of its own, NULL when that could not be set up (the
//  client then works as before, a refusal being no reply)
static zsock_t *
s_monitor (zsock_t *dealer)
{
    static atomic_uint_fast64_t serial;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://lg-client-monitor-%" PRIuFAST64,
              atomic_fetch_add (&serial, 1));
    if (zmq_socket_monitor (zsock_resolve (dealer), endpoint, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
        return NULL;
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    if (monitor && zsock_connect (monitor, "%s", endpoint))
        zsock_destroy (&monitor);
    return monitor;
}

//  A new dealer, and self->monitor watching it from before it connects, so
//  no refusal of its handshakes goes unseen
static zsock_t *
s_connect (lg_client_t *self)
{
    zsock_destroy (&self->monitor);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer)
        return NULL;
    zsock_set_linger (dealer, 0);
    zsock_set_maxmsgsize (dealer, 64 * 1024 * 1024);
    if ((self->cert || self->server_cert)
    &&  lg_auth_client (dealer, self->cert, self->server_cert)) {
        lg_log_write (LG_LOG_ERROR, self->cert, "could not load client or server certificate");
        zsock_destroy (&dealer);
        return NULL;
    }
    if (self->cert || self->server_cert)
        self->monitor = s_monitor (dealer);
    //  Several endpoints (replicas of one service, comma separated): the
    //  DEALER deals requests among them round robin, from the one connected
    //  first, self->first on (point 5 of lg_client.h)
    char *list = strdup (self->endpoint);
    size_t count = 1;
    for (const char *comma = strchr (list, ','); comma; comma = strchr (comma + 1, ','))
        count++;
    char **ones = (char **) calloc (count, sizeof (char *));
    char *save = NULL;
    size_t found = 0;
    for (char *one = strtok_r (list, ",", &save); one && ones; one = strtok_r (NULL, ",", &save))
        ones [found++] = one;
    int connected = 0;
    for (size_t i = 0; i < found; i++)
        if (zsock_connect (dealer, "%s", ones [(self->first + i) % found]) == 0)
            connected++;
        else {
            connected = 0;
            break;
        }
    free (ones);
    free (list);
    if (!connected) {
        zsock_destroy (&dealer);
        zsock_destroy (&self->monitor);
    }
    return dealer;
}

lg_client_t *
lg_client_new (const char *endpoint, const char *cert, const char *server_cert)
{
    assert (endpoint);
    lg_client_t *self = (lg_client_t *) zmalloc (sizeof (lg_client_t));
    self->endpoint = strdup (endpoint);
    self->cert = cert? strdup (cert): NULL;
    self->server_cert = server_cert? strdup (server_cert): NULL;
    self->timeout_ms = LG_CLIENT_TRY_MS;
    self->retries = 3;
    //  The services' own setting, when this process shares their environment;
    //  a malformed value leaves the default, the services' too
    int64_t max_msg;
    if (lg_config_int ("LG_MAX_MSG", LG_MAX_MSG_DEFAULT, 1024, 64 * 1024 * 1024, &max_msg,
                       NULL, 0))
        max_msg = LG_MAX_MSG_DEFAULT;
    self->max_msg = (size_t) max_msg;
    self->dealer = s_connect (self);
    if (!self->dealer)
        lg_client_destroy (&self);
    return self;
}

void
lg_client_destroy (lg_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        lg_client_t *self = *self_p;
        zsock_destroy (&self->dealer);
        zsock_destroy (&self->monitor);
        free (self->endpoint);
        free (self->cert);
        free (self->server_cert);
        free (self);
        *self_p = NULL;
    }
}

void
lg_client_set_timeout (lg_client_t *self, int timeout_ms, int retries)
{
    self->timeout_ms = timeout_ms;
    self->retries = retries;
}

char *
lg_client_new_id (void)
{
    zuuid_t *uuid = zuuid_new ();
    char *id = strdup (zuuid_str_canonical (uuid));
    zuuid_destroy (&uuid);
    return id;
}

//  Whether a monitor event (two frames: 16-bit event and 32-bit value in
//  host order, then the endpoint) says the server refused our certificate:
//  a handshake failed with ZAP status 400. 300 (try later) and 500 (the
//  handler's own error) are not a verdict on us: tried again as before
static bool
s_refusal (zsock_t *monitor)
{
    zmsg_t *msg = zmsg_recv (monitor);
    zframe_t *frame = msg? zmsg_first (msg): NULL;
    bool refused = false;
    if (frame && zframe_size (frame) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (frame), 2);
        memcpy (&value, zframe_data (frame) + 2, 4);
        refused = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && value == 400;
    }
    zmsg_destroy (&msg);
    return refused;
}

//  Wait for one frame on the dealer within the time left; NULL on timeout,
//  or when the server refused our certificate (self->refused set)
static zframe_t *
s_wait (lg_client_t *self, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return NULL;
        zmq_pollitem_t items [] = {
            { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 },
            { self->monitor? zsock_resolve (self->monitor): NULL, 0, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, self->monitor? 2: 1, (long) left);
        if (rc < 0 && zmq_errno () != EINTR)
            return NULL;
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN)) {
            zmsg_t *msg = zmsg_recv (self->dealer);
            zframe_t *frame = msg? zmsg_pop (msg): NULL;
            zmsg_destroy (&msg);
            return frame;
        }
        if (rc > 0 && (items [1].revents & ZMQ_POLLIN)
        &&  (self->refused = s_refusal (self->monitor)))
            return NULL;
    }
}

//  Close the dealer (Lazy Pirate: it may be stuck); the next try opens a new
//  one, which connects to the next endpoint first
static void
s_disconnect (lg_client_t *self)
{
    zsock_destroy (&self->dealer);
    zsock_destroy (&self->monitor);
    self->sent = 0;
    self->first++;
}

//  Whether the wire bytes of a reply that could not be decoded carry
//  request_id: read from the frame itself (field 1 of Reply), not unpacked
static bool
s_carries_id (const uint8_t *data, size_t size, const char *request_id)
{
    static uint32_t number;
    if (!number)
        number = protobuf_c_message_descriptor_get_field_by_name (&lgwan__v1__reply__descriptor,
                                                                  "request_id")->id;
    size_t at, length;
    return *request_id && lg_codec_find_field (data, size, number, &at, &length) == 0
        && length == strlen (request_id) && memcmp (data + at, request_id, length) == 0;
}

//  One try after another, each after the first with a fresh socket (the
//  first reuses the socket of the calls before, when they were answered).
//  With a request_id, only a reply carrying it counts, or one carrying none
//  on a socket that carried this request alone (point 3 of lg_client.h), and
//  it is returned decoded in *reply_p. A reply carrying it that cannot be
//  decoded ends the exchange without a retry, self->unreadable saying why
//  (point 4 of lg_client.h).
static zframe_t *
s_exchange (lg_client_t *self, const void *data, size_t size, int timeout_ms, int retries,
            const char *request_id, lg_reply_t **reply_p)
{
    self->unreadable [0] = 0;
    self->refused = false;
    //  An id a service does not echo goes on a socket of its own, so its
    //  refusal is matched at the first try
    if (request_id && self->sent
    &&  (strlen (request_id) > LG_REQUEST_ID_MAX || !lg_check_utf8 (request_id,
                                                                   strlen (request_id))))
        s_disconnect (self);
    for (int attempt = 0; attempt <= retries; attempt++) {
        if (!self->dealer && !(self->dealer = s_connect (self)))
            return NULL;
        zframe_t *out = zframe_new (data, size);
        if (zframe_send (&out, self->dealer, 0)) {
            zframe_destroy (&out);
            return NULL;
        }
        self->sent++;
        int64_t deadline = zclock_mono () + timeout_ms;
        zframe_t *in;
        while ((in = s_wait (self, deadline))) {
            if (!request_id)
                return in;
            ProtobufCMessage *msg = NULL;
            char why [160];
            if (lg_codec_decode (&lgwan__v1__reply__descriptor, zframe_data (in),
                                 zframe_size (in), SIZE_MAX, &msg, why, sizeof why)) {
                //  Ours, answered: asking again would get the same stored
                //  reply; the caller says the service answered
                if (s_carries_id (zframe_data (in), zframe_size (in), request_id)) {
                    snprintf (self->unreadable, sizeof self->unreadable, "%s", why);
                    zframe_destroy (&in);
                    return NULL;
                }
                //  Dropped, so the call ends as a timeout: say why here
                lg_warning ("a reply of %zu bytes from %s could not be decoded and was"
                            " dropped: %s", zframe_size (in), self->endpoint, why);
            }
            lg_reply_t *reply = (lg_reply_t *) msg;
            if (reply && reply->request_id && (streq (reply->request_id, request_id)
                                           ||  (!*reply->request_id && self->sent == 1))) {
                *reply_p = reply;
                return in;
            }
            if (reply)
                lgwan__v1__reply__free_unpacked (reply, NULL);
            zframe_destroy (&in);       //  garbage, or not ours to take
        }
        //  Lazy Pirate: the socket may be stuck; start again with a new one.
        //  Not when the server refused our certificate: it did not take the
        //  request, and will refuse every try alike (point 6)
        s_disconnect (self);
        if (self->refused)
            return NULL;
    }
    return NULL;
}

//  The reply to a request too big to send: RESOURCE_EXHAUSTED (X.3), as the
//  service would answer, with the request_id. Sent, it would cost the bytes
//  for nothing, and past twice the service's bound its connection too, with
//  no answer at all. NULL when out of memory.
static lg_reply_t *
s_too_big (const char *request_id, size_t size, size_t limit)
{
    char message [160];
    snprintf (message, sizeof message, "request of %zu bytes is over the limit of %zu bytes a"
              " service takes (LG_MAX_MSG); not sent", size, limit);
    lg_status_t status = LGWAN__V1__STATUS__INIT;
    status.code = LGWAN__V1__CODE__RESOURCE_EXHAUSTED;
    status.message = message;
    status.requirement = (char *) "X.3";
    lg_reply_t reply = LGWAN__V1__REPLY__INIT;
    reply.request_id = (char *) request_id;
    reply.status = &status;
    //  Packed and unpacked, so the caller frees it as any reply
    size_t packed = protobuf_c_message_get_packed_size (&reply.base);
    uint8_t *data = (uint8_t *) malloc (packed? packed: 1);
    lg_reply_t *copy = NULL;
    if (data) {
        protobuf_c_message_pack (&reply.base, data);
        copy = lgwan__v1__reply__unpack (NULL, packed, data);
    }
    free (data);
    return copy;
}

int
lg_client_call (lg_client_t *self, lg_request_t *request, lg_reply_t **reply_p)
{
    *reply_p = NULL;
    if (!request->request_id || !*request->request_id)
        request->request_id = lg_client_new_id ();
    size_t size = protobuf_c_message_get_packed_size (&request->base);
    if (size > self->max_msg) {
        *reply_p = s_too_big (request->request_id, size, self->max_msg);
        return *reply_p? 0: -1;
    }
    uint8_t *data = (uint8_t *) malloc (size? size: 1);
    protobuf_c_message_pack (&request->base, data);
    zframe_t *in = s_exchange (self, data, size, self->timeout_ms, self->retries,
                               request->request_id, reply_p);
    free (data);
    zframe_destroy (&in);
    return *reply_p? 0: *self->unreadable? -2: self->refused? -3: -1;
}

const char *
lg_client_unreadable (lg_client_t *self)
{
    return self->unreadable;
}

zframe_t *
lg_client_call_raw (lg_client_t *self, const void *data, size_t size, int timeout_ms)
{
    return s_exchange (self, data, size, timeout_ms, 0, NULL, NULL);
}

//  --------------------------------------------------------------------------
//  Self test: a first example of use (nobody answers: unavailable)

//  Self test: a server that answers every request with the same bytes
typedef struct {
    const void *data;
    size_t size;
} s_canned_t;

static void
s_canned_server (zsock_t *pipe, void *args)
{
    const s_canned_t *canned = (const s_canned_t *) args;
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zstr_send (pipe, zsock_endpoint (router));
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, -1);
        if (which != router)
            break;
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (msg);
        zmsg_destroy (&msg);
        zmsg_t *reply = zmsg_new ();
        zmsg_append (reply, &identity);
        zmsg_addmem (reply, canned->data, canned->size);
        zmsg_send (&reply, router);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

void
lg_client_test (bool verbose)
{
    if (verbose)
        printf (" * lg_client: ");
    lg_client_t *client = lg_client_new ("tcp://127.0.0.1:9", NULL, NULL);
    assert (client);
    lg_client_set_timeout (client, 50, 1);
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_STATS;
    request.stats = &stats;
    lg_reply_t *reply;
    assert (lg_client_call (client, &request, &reply) == -1);
    free (request.request_id);
    request.request_id = NULL;

    //  A request over the size a service takes is refused here, not sent:
    //  the service's refusal would not carry its request_id
    Lgwan__V1__ProviderApply apply = LGWAN__V1__PROVIDER_APPLY__INIT;
    apply.name_ja = (char *) malloc (LG_MAX_MSG_DEFAULT + 1);
    assert (apply.name_ja);
    memset (apply.name_ja, 'a', LG_MAX_MSG_DEFAULT);
    apply.name_ja [LG_MAX_MSG_DEFAULT] = 0;
    lg_request_t big = LGWAN__V1__REQUEST__INIT;
    big.request_id = (char *) "big-1";
    big.body_case = LGWAN__V1__REQUEST__BODY_PROVIDER_APPLY;
    big.provider_apply = &apply;
    assert (lg_client_call (client, &big, &reply) == 0);
    assert (streq (reply->request_id, "big-1"));
    assert (reply->status->code == LGWAN__V1__CODE__RESOURCE_EXHAUSTED);
    assert (strstr (reply->status->message, "over the limit of 1048576 bytes"));
    lgwan__v1__reply__free_unpacked (reply, NULL);
    free (apply.name_ja);
    lg_client_destroy (&client);

    //  A reply that cannot be decoded is dropped (the call times out), and
    //  the log says so: bytes that are not a Reply (field 1 as a varint
    //  where a string is expected)
    s_canned_t garbage = { "\x08\x01\xff", 3 };
    zactor_t *server = zactor_new (s_canned_server, &garbage);
    char *endpoint = zstr_recv (server);
    client = lg_client_new (endpoint, NULL, NULL);
    lg_client_set_timeout (client, 300, 0);
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    FILE *capture = tmpfile ();
    assert (saved >= 0 && capture);
    dup2 (fileno (capture), STDERR_FILENO);
    int rc = lg_client_call (client, &request, &reply);
    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
    assert (rc == -1);
    char said [1024] = "";
    rewind (capture);
    size_t got = fread (said, 1, sizeof said - 1, capture);
    said [got] = 0;
    fclose (capture);
    assert (strstr (said, "could not be decoded and was dropped"));
    free (request.request_id);
    lg_client_destroy (&client);
    zstr_free (&endpoint);
    zactor_destroy (&server);

    //  A reply without a request_id (a refusal of an id a service does not
    //  echo) is taken on a socket that carried this request alone: on the
    //  client's first socket, and for an id over the bound, which goes on a
    //  socket of its own; not on a socket that carried another request
    lg_status_t status = LGWAN__V1__STATUS__INIT;
    status.code = LGWAN__V1__CODE__INVALID_ARGUMENT;
    status.message = (char *) "request_id is mandatory";
    lg_reply_t anonymous = LGWAN__V1__REPLY__INIT;
    anonymous.status = &status;
    uint8_t packed [64];
    assert (protobuf_c_message_get_packed_size (&anonymous.base) <= sizeof packed);
    s_canned_t canned = { packed, protobuf_c_message_pack (&anonymous.base, packed) };
    server = zactor_new (s_canned_server, &canned);
    endpoint = zstr_recv (server);
    client = lg_client_new (endpoint, NULL, NULL);
    lg_client_set_timeout (client, 300, 0);
    request.request_id = (char *) "first";
    assert (lg_client_call (client, &request, &reply) == 0);
    assert (reply->status->code == LGWAN__V1__CODE__INVALID_ARGUMENT);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    request.request_id = (char *) "second";             //  the same socket
    assert (lg_client_call (client, &request, &reply) == -1);
    char long_id [LG_REQUEST_ID_MAX + 2];
    memset (long_id, 'x', sizeof long_id - 1);
    long_id [sizeof long_id - 1] = 0;
    request.request_id = (char *) "third";              //  a new socket, then
    assert (lg_client_call (client, &request, &reply) == 0);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    request.request_id = long_id;                       //  one of its own
    assert (lg_client_call (client, &request, &reply) == 0);
    assert (reply->status->code == LGWAN__V1__CODE__INVALID_ARGUMENT);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    lg_client_destroy (&client);
    zstr_free (&endpoint);
    zactor_destroy (&server);
    if (verbose)
        printf ("OK\n");
}
