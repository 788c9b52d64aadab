/*  ctl_events - lgwanctl's verbs over event streams: verify and events tail.

    Both read through the services' own Replay and Cursors requests with the
    caller's certificate (LGWANCTL_CERT: a viewer suffices), never through
    the database, so they need no more rights than a dashboard has.
*/
#include "ctl_local.h"
#include "ctl_render.h"

//  The Cursors of a service, or NULL when it does not answer
static lg_reply_t *
s_cursors (lg_client_t *client)
{
    Lgwan__V1__Cursors ask = LGWAN__V1__CURSORS__INIT;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_CURSORS;
    request.cursors = &ask;
    lg_reply_t *reply = NULL;
    int rc = lg_client_call (client, &request, &reply);
    free (request.request_id);
    if (rc == 0 && (reply->status->code != LGWAN__V1__CODE__OK
                ||  reply->body_case != LGWAN__V1__REPLY__BODY_CURSORS)) {
        char *message = ctl_render_escape (reply->status->message);
        fprintf (stderr, "lgwanctl: cursors refused: %s\n", message? message: "");
        free (message);
        lgwan__v1__reply__free_unpacked (reply, NULL);
        return NULL;
    }
    return rc == 0? reply: NULL;
}

int
ctl_local_verify (ctl_args_t *args)
{
    if (ctl_local_need_cert () != CTL_EXIT_OK)
        return CTL_EXIT_USAGE;
    zlistx_t *asked = ctl_args_values (args, "service");
    bool explicit = zlistx_size (asked) > 0;
    for (size_t i = 0; !explicit && ctl_args_service_at (i); i++)
        zlistx_add_end (asked, (void *) ctl_args_service_at (i));
    for (const char *s = (const char *) zlistx_first (asked); s; s = (const char *) zlistx_next (asked))
        if (!ctl_args_known_service (s)) {
            fprintf (stderr, "lgwanctl: unknown service \"%.40s\"\n", s);
            zlistx_destroy (&asked);
            return CTL_EXIT_USAGE;
        }
    const char *key_dir = ctl_args_value (args, "key-dir");
    char *keys = key_dir? strdup (key_dir): zsys_sprintf ("%s/services", ctl_args_cert_dir ());

    //  1. Which services answer, and what their consumers saw of the others
    lg_verify_t *verify = lg_verify_new ();
    zlistx_t *up = zlistx_new ();
    int rc = CTL_EXIT_OK;
    json_t *result = json_array ();
    for (const char *s = (const char *) zlistx_first (asked); s; s = (const char *) zlistx_next (asked)) {
        lg_client_t *client = ctl_local_client (s, 1000, explicit? 2: 0);
        lg_reply_t *reply = client? s_cursors (client): NULL;
        if (reply) {
            lg_verify_add_cursors (verify, s, reply->cursors);
            zlistx_add_end (up, (void *) s);
            lgwan__v1__reply__free_unpacked (reply, NULL);
        }
        else {
            json_t *row = json_pack ("{s:s, s:s}", "service", s, "status", "unavailable");
            json_array_append_new (result, row);
            if (!args->json)
                printf ("%-13s not answering: not verified\n", s);
            if (explicit)
                rc = CTL_EXIT_UNAVAILABLE;
        }
        lg_client_destroy (&client);
    }
    //  2. Walk each chain that answers with its key
    for (const char *s = (const char *) zlistx_first (up); s; s = (const char *) zlistx_next (up)) {
        uint8_t key [64];
        size_t key_size;
        char *path = zsys_sprintf ("%s/%s.hmac", keys, s);
        char why [512] = "";
        uint64_t head = 0, broken = 0;
        int verdict;
        if (lg_outbox_load_key (path, key, &key_size)) {
            snprintf (why, sizeof why, "no readable key at %s", path);
            verdict = -2;
        }
        else {
            lg_client_t *client = ctl_local_client (s, 5000, 2);
            verdict = client? lg_verify_chain (verify, client, s, key, key_size, &head, &broken,
                                               why, sizeof why): -1;
            lg_client_destroy (&client);
        }
        zstr_free (&path);
        json_t *row = json_pack ("{s:s, s:s, s:I}", "service", s, "status",
                                 verdict == 0? "intact": verdict == 1? "broken":
                                 verdict == -1? "unavailable": "unverified",
                                 "head_seq", (json_int_t) head);
        if (verdict) {
            json_object_set_new (row, "why", json_string (why));
            if (verdict == 1)
                json_object_set_new (row, "broken_seq", json_integer ((json_int_t) broken));
        }
        json_array_append_new (result, row);
        if (!args->json) {
            //  why may quote what the service said
            char *said = ctl_render_escape (why);
            if (verdict == 0)
                printf ("%-13s intact, %" PRIu64 " events\n", s, head);
            else
            if (verdict == 1)
                printf ("%s/%" PRIu64 ": broken: %s\n", s, broken, said? said: "");
            else
                printf ("%-13s not verified: %s\n", s, said? said: "");
            free (said);
        }
        if (verdict == 1 || verdict == -2)
            rc = CTL_EXIT_REFUSED;
        else
        if (verdict == -1 && rc == CTL_EXIT_OK)
            rc = CTL_EXIT_UNAVAILABLE;
    }
    if (args->json) {
        char *text = json_dumps (result, JSON_COMPACT);
        printf ("%s\n", text);
        free (text);
    }
    json_decref (result);
    lg_verify_destroy (&verify);
    zlistx_destroy (&up);
    zlistx_destroy (&asked);
    free (keys);
    return rc;
}

//  Print one event: a line for people, or proto3 JSON
static void
s_print_event (ctl_args_t *args, const lg_event_t *event)
{
    if (args->json) {
        json_t *json = lg_pbjson_from_message (&event->base, 0);
        char *text = json? json_dumps (json, JSON_COMPACT): NULL;
        if (text)
            printf ("%s\n", text);
        free (text);
        json_decref (json);
    }
    else {
        //  The reason is any text a caller gave its request: escaped, as
        //  every text a service sends
        const ProtobufCFieldDescriptor *field =
            lg_codec_body_field (&lgwan__v1__event__descriptor, event->body_case);
        char *occurred_at = ctl_render_escape (event->occurred_at);
        char *actor = ctl_render_escape (event->actor);
        char *reason = ctl_render_escape (event->reason);
        printf ("%-8" PRIu64 " %s  %-24s %s%s%s\n", event->seq, occurred_at? occurred_at: "",
                field? field->name: "?", actor? actor: "", reason && *reason? "  ": "",
                reason? reason: "");
        free (occurred_at);
        free (actor);
        free (reason);
    }
    fflush (stdout);
}

int
ctl_local_events_tail (ctl_args_t *args)
{
    const char *service = ctl_args_value (args, "service");
    const char *from_text = ctl_args_value (args, "from-seq");
    bool follow = ctl_args_value (args, "follow") != NULL;
    if (!ctl_args_known_service (service)) {
        fprintf (stderr, "lgwanctl: unknown service \"%.40s\"\n", service);
        return CTL_EXIT_USAGE;
    }
    if (ctl_local_need_cert () != CTL_EXIT_OK)
        return CTL_EXIT_USAGE;
    int64_t from = 0;
    char why [256];
    if (from_text && ctl_args_int ("from-seq", from_text, 1, INT64_MAX, &from, why, sizeof why)) {
        fprintf (stderr, "lgwanctl: %s\n", why);
        return CTL_EXIT_REFUSED;
    }
    lg_client_t *client = ctl_local_client (service, 2500, 2);
    if (!client)
        return CTL_EXIT_REFUSED;
    int rc = CTL_EXIT_OK;
    uint64_t next = (uint64_t) from;
    while (true) {
        Lgwan__V1__Replay ask = LGWAN__V1__REPLAY__INIT;
        ask.from_seq = next? next: UINT64_MAX;      //  unknown start: ask for the head
        ask.limit = 1000;
        lg_request_t request = LGWAN__V1__REQUEST__INIT;
        request.body_case = LGWAN__V1__REQUEST__BODY_REPLAY;
        request.replay = &ask;
        lg_reply_t *reply = NULL;
        int called = lg_client_call (client, &request, &reply);
        free (request.request_id);
        if (called) {
            fprintf (stderr, "lgwanctl: %s is not answering\n", service);
            rc = CTL_EXIT_UNAVAILABLE;
            break;
        }
        if (reply->status->code != LGWAN__V1__CODE__OK) {
            ctl_print_status (reply->status);
            lgwan__v1__reply__free_unpacked (reply, NULL);
            rc = CTL_EXIT_REFUSED;
            break;
        }
        if (next == 0) {
            uint64_t head = reply->replay->head_seq;
            next = head > 20? head - 19: 1;
            lgwan__v1__reply__free_unpacked (reply, NULL);
            continue;
        }
        for (size_t i = 0; i < reply->replay->n_events; i++) {
            ProtobufCMessage *msg = NULL;
            if (lg_codec_decode (&lgwan__v1__event__descriptor, reply->replay->events [i].data,
                                 reply->replay->events [i].len, SIZE_MAX, &msg, NULL, 0) == 0) {
                lg_event_t *event = (lg_event_t *) msg;
                s_print_event (args, event);
                next = event->seq + 1;
                lgwan__v1__event__free_unpacked (event, NULL);
            }
        }
        size_t got = reply->replay->n_events;
        lgwan__v1__reply__free_unpacked (reply, NULL);
        if (got > 0)
            continue;
        if (!follow || zsys_interrupted)
            break;
        //  Following: poll the outbox; Replay is the reliable path
        zclock_sleep (500);
    }
    lg_client_destroy (&client);
    return rc;
}
