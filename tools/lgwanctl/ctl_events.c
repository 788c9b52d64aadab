/*  ctl_events - lgwanctl's verbs over event streams: verify and events tail.

    Both read through the services' own Replay and Cursors requests with the
    caller's certificate (LGWANCTL_CERT: a viewer suffices), never through
    the database, so they need no more rights than a dashboard has. events
    tail asks through ctl_call as every command does: UNAVAILABLE is asked
    again, a refusal is JSON on stdout with --json, and no reply or the last
    UNAVAILABLE exits 3.
*/
#include "ctl_local.h"
#include "ctl_render.h"

/*  verify's verdicts. It exits 0 only when it walked at least one chain and
    every chain it walked is intact: a command that checked nothing must not
    look like one that found nothing wrong (`lgwanctl verify || alert`).
    Refused (the certificate's role, or a service's refusal): exit 1 with the
    refusal, as any command. Not answering (down, or a certificate nobody
    lets in, revoked): exit 3 for a service named with --service, and when
    no chain at all was walked ("nothing verified"). Broken or no key: 1.
    Answered with a reply this build cannot read, to Cursors or to Replay
    (lg_client.h point 4: an enum value a newer service added, a string
    that is not UTF-8): not
    verified, said so with lg_client_unreadable's reason ("S answered
    Replay, but the reply is not readable by this build (why)", status
    "unreadable" in JSON), exit 1 as any command given such a reply (asked
    again, it would answer the same); it was taken for a service not
    answering ("not answering: not verified", exit 3), which sent an
    operator to restart a service that was up.

    Rows cut off the end of a chain together with its head row leave a
    chain intact in itself: only the heads its consumers saw show the cut
    (lg_verify.h point 2), and the consumers of S are other services. So
    every known service is asked for its Cursors, whichever chains were
    asked for (best effort: one that does not answer, or refuses, only
    leaves its heads out; it is named only when its own chain was asked
    for), and only the chains asked for are walked. A chain intact with no
    consumer's head of it seen is said so, "tail not checked", in its row
    (and "tail": "not checked" in JSON); it still exits 0, since in this
    build the chains of audit, billing and monitor have no consumer at all
    (the orchestrator is not built) and verify would otherwise never exit 0.

    A service whose public certificate ($LG_CERT_DIR/services/S) is not
    there cannot be asked (CURVE needs it): "not verified: no certificate
    of S at PATH", JSON status "no certificate", exit 1, as a missing key.
    It was said "not answering" (exit 3), and the service was up.
*/
typedef enum {
    S_INTACT,
    S_BROKEN,
    S_UNAVAILABLE,          //  no answer, or UNAVAILABLE
    S_REFUSED,
    S_NO_KEY,
    S_UNREADABLE,           //  an answer this build cannot read
    S_NO_CERT               //  no certificate of the service to check it by
} s_verdict_t;

static const char *s_verdict_names [] = {
    "intact", "broken", "unavailable", "refused", "unverified", "unreadable", "no certificate"
};

//  "message (CODE, requirement R)" of a status, into why
static void
s_status_text (const lg_status_t *status, char *why, size_t why_size)
{
    if (!status) {
        snprintf (why, why_size, "a reply without a status");
        return;
    }
    const ProtobufCEnumValue *code =
        protobuf_c_enum_descriptor_get_value (&lgwan__v1__code__descriptor, (int) status->code);
    snprintf (why, why_size, "%s (%s%s%s)", status->message, code? code->name: "UNKNOWN",
              *status->requirement? ", requirement ": "", status->requirement);
}

//  Ask service for its Cursors: S_INTACT with *reply_p, S_UNAVAILABLE, or
//  S_REFUSED (a refusal, or our certificate refused) or S_UNREADABLE with why
static s_verdict_t
s_cursors (lg_client_t *client, const char *service, lg_reply_t **reply_p, char *why,
           size_t why_size)
{
    *reply_p = NULL;
    Lgwan__V1__Cursors ask = LGWAN__V1__CURSORS__INIT;
    lg_request_t request = LGWAN__V1__REQUEST__INIT;
    request.body_case = LGWAN__V1__REQUEST__BODY_CURSORS;
    request.cursors = &ask;
    lg_reply_t *reply = NULL;
    int rc = lg_client_call (client, &request, &reply);
    free (request.request_id);
    if (rc == -2) {
        ctl_unreadable_text (why, why_size, service, "Cursors", lg_client_unreadable (client));
        return S_UNREADABLE;
    }
    if (rc == -3) {
        ctl_refused_cert_text (why, why_size, service);
        return S_REFUSED;
    }
    if (rc)
        return S_UNAVAILABLE;
    s_verdict_t verdict = S_INTACT;
    if (reply->status && reply->status->code == LGWAN__V1__CODE__UNAVAILABLE)
        verdict = S_UNAVAILABLE;
    else
    if (!reply->status || reply->status->code != LGWAN__V1__CODE__OK
    ||  reply->body_case != LGWAN__V1__REPLY__BODY_CURSORS) {
        s_status_text (reply->status, why, why_size);
        verdict = S_REFUSED;
    }
    if (verdict == S_INTACT)
        *reply_p = reply;
    else
        lgwan__v1__reply__free_unpacked (reply, NULL);
    return verdict;
}

//  One row of the verdict: a JSON object (with head_seq when its chain was
//  asked for), or a line for people
static void
s_verify_row (ctl_args_t *args, json_t *result, const char *service, s_verdict_t verdict,
              bool chain, uint64_t head, uint64_t broken, bool tail, const char *said_why)
{
    //  why was composed in a buffer that may have cut its last character
    //  (a long refusal in Japanese): JSON takes only whole UTF-8
    char *why = said_why? strdup (said_why): NULL;
    if (why)
        lg_utf8_clean (why);
    json_t *row = json_pack ("{s:s, s:s}", "service", service, "status",
                             s_verdict_names [verdict]);
    if (chain)
        json_object_set_new (row, "head_seq", json_integer ((json_int_t) head));
    if (verdict == S_INTACT)
        json_object_set_new (row, "tail", json_string (tail? "checked": "not checked"));
    if (verdict != S_INTACT && why && *why)
        json_object_set_new (row, "why", json_string (why));
    if (verdict == S_BROKEN)
        json_object_set_new (row, "broken_seq", json_integer ((json_int_t) broken));
    json_array_append_new (result, row);
    if (args->json) {
        free (why);
        return;
    }
    //  why may quote what the service said
    char *said = ctl_render_escape (why);
    if (verdict == S_INTACT && tail)
        printf ("%-13s intact, %" PRIu64 " events\n", service, head);
    else
    if (verdict == S_INTACT)
        printf ("%-13s intact, %" PRIu64 " events; tail not checked: no consumer's head of %s"
                " was seen, so rows cut off its end would not show\n", service, head, service);
    else
    if (verdict == S_BROKEN)
        printf ("%s/%" PRIu64 ": broken: %s\n", service, broken, said? said: "");
    else
    if (verdict == S_REFUSED)
        printf ("%-13s refused: %s\n", service, said? said: "");
    else
    if (verdict == S_UNAVAILABLE && !(why && *why))
        printf ("%-13s not answering: not verified\n", service);
    else
        printf ("%-13s not verified: %s\n", service, said? said: "");
    free (said);
    free (why);
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

    //  1. Which services answer, and what their consumers saw of the others:
    //  every known service, asked for or not (the consumers of a chain are
    //  other services); a chain asked for is walked if it answers
    lg_verify_t *verify = lg_verify_new ();
    zlistx_t *up = zlistx_new ();
    bool refused = false, missing = false, unreadable = false, no_cert = false;
    json_t *result = json_array ();
    const char *s;
    for (size_t i = 0; (s = ctl_args_service_at (i)); i++) {
        bool wanted = false;
        for (const char *a = (const char *) zlistx_first (asked); a && !wanted;
             a = (const char *) zlistx_next (asked))
            wanted = streq (a, s);
        char why [512] = "";
        lg_reply_t *reply = NULL;
        s_verdict_t verdict = S_UNAVAILABLE;
        char *server = ctl_local_server_cert (s);
        if (!server || !zsys_file_exists (server)) {
            snprintf (why, sizeof why, "no certificate of %s at %s", s, server? server: "");
            verdict = S_NO_CERT;
        }
        else {
            lg_client_t *client = ctl_local_client (s, 1000, explicit && wanted? 2: 0);
            if (client)
                verdict = s_cursors (client, s, &reply, why, sizeof why);
            lg_client_destroy (&client);
        }
        zstr_free (&server);
        if (reply) {
            lg_verify_add_cursors (verify, s, reply->cursors);
            if (wanted)
                zlistx_add_end (up, (void *) s);
            lgwan__v1__reply__free_unpacked (reply, NULL);
            continue;
        }
        if (!wanted)
            continue;           //  best effort: only its heads of the others are missing
        s_verify_row (args, result, s, verdict, false, 0, 0, false, why);
        refused = refused || verdict == S_REFUSED;
        unreadable = unreadable || verdict == S_UNREADABLE;
        no_cert = no_cert || verdict == S_NO_CERT;
        missing = missing || explicit;
    }
    //  2. Walk each chain that answers with its key
    size_t walked = 0;
    bool broken_any = false;
    for (s = (const char *) zlistx_first (up); s; s = (const char *) zlistx_next (up)) {
        uint8_t key [64];
        size_t key_size;
        char *path = zsys_sprintf ("%s/%s.hmac", keys, s);
        char why [512] = "";
        uint64_t head = 0, broken = 0;
        s_verdict_t verdict;
        if (lg_outbox_load_key (path, key, &key_size)) {
            snprintf (why, sizeof why, "no readable key at %s", path);
            verdict = S_NO_KEY;
        }
        else {
            lg_client_t *client = ctl_local_client (s, 5000, 2);
            int rc = client? lg_verify_chain (verify, client, s, key, key_size, &head, &broken,
                                              why, sizeof why): -1;
            if (rc == -3) {
                char reason [256];
                snprintf (reason, sizeof reason, "%s", why);
                ctl_unreadable_text (why, sizeof why, s, "Replay", reason);
            }
            lg_client_destroy (&client);
            verdict = rc == 0? S_INTACT: rc == 1? S_BROKEN: rc == -2? S_REFUSED:
                      rc == -3? S_UNREADABLE: S_UNAVAILABLE;
        }
        zstr_free (&path);
        s_verify_row (args, result, s, verdict, true, head, broken,
                      lg_verify_has_head (verify, s), why);
        walked += verdict == S_INTACT || verdict == S_BROKEN;
        broken_any = broken_any || verdict == S_BROKEN || verdict == S_NO_KEY;
        refused = refused || verdict == S_REFUSED;
        unreadable = unreadable || verdict == S_UNREADABLE;
        //  It answered Cursors a moment ago: gone meanwhile counts as named
        missing = missing || verdict == S_UNAVAILABLE;
    }
    if (args->json) {
        char *text = json_dumps (result, JSON_COMPACT);
        printf ("%s\n", text? text: "[]");
        free (text);
    }
    if (walked == 0)
        fprintf (stderr, "lgwanctl: nothing verified: no chain could be read\n");
    int rc = broken_any || refused || unreadable || no_cert? CTL_EXIT_REFUSED:
             missing || walked == 0? CTL_EXIT_UNAVAILABLE: CTL_EXIT_OK;
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
        //  A change in force at points in dry run, or at none, was dropped
        //  nowhere there
        const Lgwan__V1__IsolationApplied *applied = lg_codec_isolation_applied (event);
        char *dry_run = applied? ctl_render_not_dropped (applied->no_enforcement_point,
                                                         applied->dry_run_points,
                                                         applied->n_dry_run_points): NULL;
        printf ("%-8" PRIu64 " %s  %-24s %s%s%s%s%s\n", event->seq, occurred_at? occurred_at: "",
                field? field->name: "?", actor? actor: "", reason && *reason? "  ": "",
                reason? reason: "", dry_run? "  ": "", dry_run? dry_run: "");
        free (occurred_at);
        free (actor);
        free (reason);
        free (dry_run);
    }
    fflush (stdout);
}

//  The outbox numbers its events one after another: the seqs from to
//  before (excluded) that are not in the reply are events missing (X.2),
//  said, not hidden; unplaced events of the reply in that span were
//  unreadable, their seqs too (said already), and stand for as many of them
static void
s_say_gap (const char *service, uint64_t from, uint64_t before, uint64_t unplaced)
{
    if (before <= from || before - from <= unplaced)
        return;
    if (unplaced)
        fprintf (stderr, "lgwanctl: %s: no event for %" PRIu64 " of the seqs %" PRIu64 " to %"
                 PRIu64 " in the reply (%" PRIu64 " more unreadable): missing (a gap in its"
                 " outbox)\n", service, before - from - unplaced, from, before - 1, unplaced);
    else
    if (before == from + 1)
        fprintf (stderr, "lgwanctl: %s: no event with seq %" PRIu64 " in the reply: missing"
                 " (a gap in its outbox)\n", service, from);
    else
        fprintf (stderr, "lgwanctl: %s: no events with seq %" PRIu64 " to %" PRIu64 " in the"
                 " reply: missing (a gap in its outbox)\n", service, from, before - 1);
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
        //  As every command: UNAVAILABLE asked again, a refusal as JSON
        //  with --json, exit 3 when nothing or only UNAVAILABLE answered
        int called = ctl_call (args, client, &request, service, &reply);
        free (request.request_id);
        if (called != CTL_EXIT_OK) {
            //  Where a tail cut short by no answer goes on from
            if (called == CTL_EXIT_UNAVAILABLE && next)
                fprintf (stderr, "lgwanctl: resume with --from-seq %" PRIu64 "\n", next);
            rc = called;
            break;
        }
        if (reply->body_case != LGWAN__V1__REPLY__BODY_REPLAY) {
            fprintf (stderr, "lgwanctl: %s answered without a page of its events\n", service);
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
        //  Every event moves next past it, read or not. One this build cannot
        //  read (a row edited by hand, an enum value of a newer service) is
        //  named on stderr with its seq, read without the checks, and the
        //  tail goes on: never skipped silently, never asked for again
        //  A seq skipped is said (s_say_gap), but not for an unreadable
        //  event whose seq could not be read either: it is one of them
        uint64_t first = next, unplaced = 0;
        size_t got = reply->replay->n_events;
        for (size_t i = 0; i < got; i++) {
            const ProtobufCBinaryData *bytes = reply->replay->events + i;
            ProtobufCMessage *msg = NULL;
            char problem [256] = "";
            if (lg_codec_decode (&lgwan__v1__event__descriptor, bytes->data, bytes->len,
                                 SIZE_MAX, &msg, problem, sizeof problem) == 0) {
                lg_event_t *event = (lg_event_t *) msg;
                if (event->seq >= next) {
                    s_say_gap (service, next, event->seq, unplaced);
                    s_print_event (args, event);
                    next = event->seq + 1;
                    unplaced = 0;
                }
                lgwan__v1__event__free_unpacked (event, NULL);
                continue;
            }
            lg_event_t *raw = lgwan__v1__event__unpack (NULL, bytes->len, bytes->data);
            if (raw && raw->seq >= next) {
                s_say_gap (service, next, raw->seq, unplaced);
                fprintf (stderr, "lgwanctl: seq %" PRIu64 ": unreadable (%s)\n", raw->seq, problem);
                next = raw->seq + 1;
                unplaced = 0;
            }
            else {
                fprintf (stderr, "lgwanctl: the event after seq %" PRIu64 ": unreadable (%s)\n",
                         next - 1, problem);
                unplaced += raw == NULL;
            }
            if (raw)
                lgwan__v1__event__free_unpacked (raw, NULL);
            rc = CTL_EXIT_REFUSED;
        }
        lgwan__v1__reply__free_unpacked (reply, NULL);
        //  Events came but none could be gone past: asking again would get
        //  the same page for ever
        if (got > 0 && next == first) {
            fprintf (stderr, "lgwanctl: %s: nothing could be read past seq %" PRIu64 "; stopped\n",
                     service, next - 1);
            rc = CTL_EXIT_REFUSED;
            break;
        }
        //  Output that cannot be written ends the tail (main says it)
        if (ferror (stdout))
            break;
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
