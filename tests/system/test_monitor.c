/*  System test of the monitor with the registry and isolation: the real
    binaries, one fresh database, the registry producing the connections the
    monitor attributes to, and sensors speaking to the monitor's own sockets
    (CURVE PULL, EVE Unix socket, followed EVE file).

    What is checked (R16.1, detection; X.3 for bad input):
    - an EVE file of alerts from a provider's prefix crossing a threshold
      opens exactly one incident, confirmed per the rule, with evidence and
      IncidentConfirmed{provider, connections, prefixes, isolate};
    - an allow-listed signature opens nothing until the entry expires;
    - a monitor killed in the middle of a burst attaches the rest of the
      burst to the same incident, without reading the file twice;
    - the followed file survives rotation (rename and truncation);
    - a released allocation no longer attributes: its events are counted
      and sampled as unattributed, never dropped;
    - malformed lines and frames are counted and never stop intake; only
      sensor certificates are heard on the PULL socket; idle senders on the
      EVE socket do not lock out a new one;
    - operators confirm and close; a closed incident is not confirmed; a
      rule's grace keeps a closed incident's connection quiet for a while;
    - an alert delivered twice counts once toward a threshold; a rule's
      window counts exactly the events less than the window apart.
*/
#include "registry_fixture.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static lg_test_proc_t s_isolation = { .service = "isolation" };
static lg_test_proc_t s_monitor = { .service = "monitor" };
static char s_dir [64];
static char s_eve_file [128];
static char s_eve_socket [100];
static char s_sensor [64];
static uint64_t s_provider [3];         //  1: A (connections 1, 2), 2: B (connection 3)
static uint64_t s_conn [4];             //  0: one a test makes for itself
static char s_prefix [4] [64];          //  IPv4 prefix of each connection
static int s_flow;

//  ---------------------------------------------------------------------------
//  Helpers

static lg_reply_t *
s_ask (lg_test_proc_t *proc, const char *who, unsigned body_case, void *body, const char *reason)
{
    lg_client_t *client = lg_test_proc_client (proc, rf.certs, who);
    assert_non_null (client);
    lg_client_set_timeout (client, 5000, 1);
    lg_reply_t *reply = lg_test_call (client, body_case, body, reason);
    lg_client_destroy (&client);
    assert_non_null (reply);
    assert_non_null (reply->status);
    return reply;
}

static lg_reply_t *
s_monitor_ask (const char *who, unsigned body_case, void *body)
{
    return s_ask (&s_monitor, who, body_case, body, "試験");
}

static void
s_ok (lg_test_proc_t *proc, const char *who, unsigned body_case, void *body)
{
    lg_reply_t *reply = s_ask (proc, who, body_case, body, "試験");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

//  One of a monitor replica's own Stats counters. Each is named once (REQ
//  R16.1: detection.allowlist_entries was in the reply twice)
static uint64_t
s_counter_of (lg_test_proc_t *proc, const char *name)
{
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    lg_reply_t *reply = s_ask (proc, "viewer", LGWAN__V1__REQUEST__BODY_STATS, &stats, "試験");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t value = 0;
    Lgwan__V1__StatsCounter **counters = reply->stats->service_counters;
    for (size_t i = 0; i < reply->stats->n_service_counters; i++) {
        if (streq (counters [i]->name, name))
            value = counters [i]->count;
        for (size_t j = 0; j < i; j++)
            if (streq (counters [j]->name, counters [i]->name))
                fail_msg ("Stats names %s twice", counters [i]->name);
    }
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return value;
}

//  One of the test's monitor's
static uint64_t
s_counter (const char *name)
{
    return s_counter_of (&s_monitor, name);
}

typedef struct {
    lg_test_proc_t *proc;
    const char *name;
    uint64_t want;
} s_count_wait_t;

static bool
s_counter_reached (void *arg)
{
    s_count_wait_t *w = (s_count_wait_t *) arg;
    return s_counter_of (w->proc, w->name) >= w->want;
}

//  Until a replica's counter reaches want (15 s)
static void
s_wait_counter_of (lg_test_proc_t *proc, const char *name, uint64_t want)
{
    s_count_wait_t w = { proc, name, want };
    if (!lg_test_wait_for (s_counter_reached, &w, 15000))
        fail_msg ("counter %s stayed at %" PRIu64 ", waited for %" PRIu64, name,
                  s_counter_of (proc, name), want);
}

static void
s_wait_counter (const char *name, uint64_t want)
{
    s_wait_counter_of (&s_monitor, name, want);
}

//  An address inside an IPv4 prefix (the fifth host)
static void
s_host_in (const char *prefix, char *out, size_t size)
{
    char copy [64];
    snprintf (copy, sizeof copy, "%.40s", prefix);
    *strchr (copy, '/') = 0;
    char *last = strrchr (copy, '.');
    *last = 0;
    snprintf (out, size, "%s.%d", copy, atoi (last + 1) + 5);
}

//  An address inside a connection's prefix
static void
s_host (int connection, char *out, size_t size)
{
    s_host_in (s_prefix [connection], out, size);
}

//  One EVE alert line of the shape Suricata writes
static char *
s_eve_line (int connection, uint64_t signature, const char *category, int severity,
            const char *when)
{
    char host [80];
    s_host (connection, host, sizeof host);
    int flow = ++s_flow;
    return zsys_sprintf (
        "{\"timestamp\":\"%s\",\"flow_id\":%d,\"in_iface\":\"eth1\",\"event_type\":\"alert\","
        "\"src_ip\":\"%s\",\"src_port\":%d,\"dest_ip\":\"10.20.30.40\",\"dest_port\":445,"
        "\"proto\":\"TCP\",\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":%" PRIu64 ","
        "\"rev\":3,\"signature\":\"ET EXPLOIT SMB relay attempt\",\"category\":\"%s\","
        "\"severity\":%d},\"host\":\"ids-east\"}\n",
        when, flow, host, 40000 + flow, signature, category, severity);
}

static void
s_append_to (const char *path, const char *text)
{
    FILE *file = fopen (path, "a");
    assert_non_null (file);
    fputs (text, file);
    assert_int_equal (fclose (file), 0);
}

static void
s_append_file (const char *text)
{
    s_append_to (s_eve_file, text);
}

//  count alerts of connection appended to the file at path
static void
s_append_alerts_to (const char *path, int connection, uint64_t signature, int count,
                    const char *when)
{
    for (int i = 0; i < count; i++) {
        char *line = s_eve_line (connection, signature, "A Network Trojan was detected", 1, when);
        s_append_to (path, line);
        zstr_free (&line);
    }
}

static void
s_append_alerts (int connection, uint64_t signature, int count, const char *when)
{
    s_append_alerts_to (s_eve_file, connection, signature, count, when);
}

//  A sender on the EVE socket
static int
s_socket_open (void)
{
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr;
    memset (&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", s_eve_socket);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    return fd;
}

static void
s_socket_write (int fd, const char *data, size_t size)
{
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = write (fd, data + sent, size - sent);
        assert_true (n > 0);
        sent += (size_t) n;
    }
}

static void
s_send_socket (const char *data, size_t size)
{
    int fd = s_socket_open ();
    s_socket_write (fd, data, size);
    close (fd);
}

//  Push one frame to the sensor socket with who's certificate
static void
s_push_frame (const char *who, const void *data, size_t size)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    char *cert = zsys_sprintf ("%s/clients/%s", rf.certs, who);
    char *server = zsys_sprintf ("%s/services/monitor", rf.certs);
    assert_int_equal (lg_auth_client (push, cert, server), 0);
    assert_int_equal (zsock_connect (push, "%s", s_sensor), 0);
    zframe_t *frame = zframe_new (data, size);
    assert_int_equal (zframe_send (&frame, push, 0), 0);
    zsock_set_linger (push, 2000);
    zsock_destroy (&push);
    zstr_free (&cert);
    zstr_free (&server);
}

//  Push one frame of count events from src to dest, event i of signature
//  signatures [i]
static void
s_push_events (const char *who, const char *src, const char *dest, const uint64_t *signatures,
               int count, const char *when)
{
    Lgwan__V1__SecurityEvent *events = (Lgwan__V1__SecurityEvent *) calloc ((size_t) count, sizeof *events);
    Lgwan__V1__SecurityEvent **list = (Lgwan__V1__SecurityEvent **) calloc ((size_t) count, sizeof (void *));
    for (int i = 0; i < count; i++) {
        lgwan__v1__security_event__init (&events [i]);
        events [i].sensor = (char *) "ids-west";
        events [i].timestamp = (char *) when;
        events [i].src_ip = (char *) src;
        events [i].dest_ip = (char *) dest;
        events [i].src_port = 40000;
        events [i].dest_port = 3389;
        events [i].proto = (char *) "TCP";
        events [i].signature_id = signatures [i];
        events [i].signature = (char *) "ET SCAN RDP brute force";
        events [i].category = (char *) "Attempted Administrator Privilege Gain";
        events [i].severity = 1;
        list [i] = &events [i];
    }
    Lgwan__V1__SecurityEventBatch batch = LGWAN__V1__SECURITY_EVENT_BATCH__INIT;
    batch.events = list;
    batch.n_events = (size_t) count;
    size_t size = lgwan__v1__security_event_batch__get_packed_size (&batch);
    uint8_t *bytes = (uint8_t *) malloc (size + 1);
    lgwan__v1__security_event_batch__pack (&batch, bytes);
    s_push_frame (who, bytes, size);
    free (bytes);
    free (list);
    free (events);
}

//  Push count events of a signature from a connection's prefix
static void
s_push_alerts (const char *who, int connection, uint64_t signature, int count, const char *when)
{
    char host [80];
    if (connection)
        s_host (connection, host, sizeof host);
    else
        snprintf (host, sizeof host, "203.0.113.9");
    uint64_t *signatures = (uint64_t *) calloc ((size_t) count, sizeof (uint64_t));
    for (int i = 0; i < count; i++)
        signatures [i] = signature;
    s_push_events (who, host, "10.20.30.41", signatures, count, when);
    free (signatures);
}

//  RuleSet as operator: a new rule (id 0) or rule id replaced, with a
//  grace after a close of grace seconds; its id
static uint64_t
s_rule_set (uint64_t id, const char *name, uint64_t signature, uint32_t threshold,
            uint32_t window, uint32_t grace, Lgwan__V1__RuleAction action)
{
    Lgwan__V1__Rule rule = LGWAN__V1__RULE__INIT;
    rule.id = id;
    rule.name = (char *) name;
    rule.signature_id = signature;
    rule.max_severity = 2;
    rule.threshold = threshold;
    rule.window_seconds = window;
    rule.grace_seconds = grace;
    rule.action = action;
    Lgwan__V1__RuleSet set = LGWAN__V1__RULE_SET__INIT;
    set.rule = &rule;
    lg_reply_t *reply = s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->rule->rule->grace_seconds, grace);
    id = reply->rule->rule->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  Create a rule as operator; its id
static uint64_t
s_rule (const char *name, uint64_t signature, uint32_t threshold, uint32_t window,
        Lgwan__V1__RuleAction action)
{
    return s_rule_set (0, name, signature, threshold, window, 0, action);
}

//  A qualified provider with the contacts a hosting provider needs (R9.2)
static uint64_t
s_hosting_provider (const char *name)
{
    Lgwan__V1__Contact emergency = LGWAN__V1__CONTACT__INIT, manager = LGWAN__V1__CONTACT__INIT;
    emergency.kind = LGWAN__V1__CONTACT_KIND__CONTACT_EMERGENCY_RESPONSE;
    emergency.name = (char *) "緊急";
    manager.kind = LGWAN__V1__CONTACT_KIND__CONTACT_OPERATIONS_MANAGER;
    manager.name = (char *) "運用";
    Lgwan__V1__Contact *contacts [] = { &emergency, &manager };
    char number [14];
    Lgwan__V1__ProviderApply apply = rf_apply_body (name, number);
    apply.contacts = contacts;
    apply.n_contacts = 2;
    uint64_t id = rf_apply (&apply);
    rf_qualify (id);
    return id;
}

//  An approved connection of service with an IPv4 prefix of length bits
static uint64_t
s_connection (uint64_t service, uint32_t length, char *prefix, size_t size)
{
    Lgwan__V1__ConnectionApply apply = LGWAN__V1__CONNECTION_APPLY__INIT;
    apply.service = service;
    apply.router = (char *) "rt-test";
    apply.line_carrier = (char *) "test";
    apply.bandwidth_class = (char *) "100M";
    apply.ipv4_prefix_length = length;
    lg_reply_t *reply = rf_ask ("operator", RF_BODY (CONNECTION_APPLY), &apply);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t id = reply->connection->connection->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__ConnectionReview review = LGWAN__V1__CONNECTION_REVIEW__INIT;
    review.connection = id;
    rf_ok (rf_ask ("reviewer", RF_BODY (CONNECTION_REVIEW), &review));
    Lgwan__V1__ConnectionDecide decide = LGWAN__V1__CONNECTION_DECIDE__INIT;
    decide.connection = id;
    decide.outcome = LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    decide.reason = (char *) "接続";
    reply = rf_ask ("reviewer", RF_BODY (CONNECTION_DECIDE), &decide);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    snprintf (prefix, size, "%s", reply->connection->connection->ipv4_prefix);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return id;
}

//  The last IncidentConfirmed in the monitor's outbox
static lg_event_t *
s_last_confirmed (void)
{
    return rf_newest_event ("monitor", LGWAN__V1__EVENT__BODY_INCIDENT_CONFIRMED);
}

//  How often the monitor writes its minute counts (a test changes it)
static const char *s_counts_ms = "LG_MONITOR_COUNTS_MS=200";

//  The monitor, following registry (the test's, or one that is not there)
//  and isolation
static void
s_monitor_start_following (lg_test_proc_t *registry)
{
    char *file = zsys_sprintf ("LG_MONITOR_EVE_FILE=%s", s_eve_file);
    char *sock = zsys_sprintf ("LG_MONITOR_EVE_SOCKET=%s", s_eve_socket);
    char *sensor = zsys_sprintf ("LG_MONITOR_SENSOR_ENDPOINT=%s", s_sensor);
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    const char *extra [] = { file, sock, sensor, clock, "LG_MONITOR_EVE_POLL_MS=100",
                             "LG_MONITOR_FLUSH_MS=200", s_counts_ms, "LG_MONITOR_EVIDENCE=5",
                             "LG_HEARTBEAT_MS=200", "LG_DUTY_MS=200", NULL };
    lg_test_proc_t *follows [] = { registry, &s_isolation, NULL };
    assert_true (lg_test_proc_start (&s_monitor, rf.admin, rf.certs, follows, extra));
    zstr_free (&file);
    zstr_free (&sock);
    zstr_free (&sensor);
    zstr_free (&clock);
}

static void
s_monitor_start (void)
{
    s_monitor_start_following (&rf.registry);
}

static int
s_setup (void **state)
{
    (void) state;
    lg_test_require_pg ();
    zsys_init ();
    rf.admin = lg_test_db_new ("monitor");
    rf.certs = lg_test_certs_new ();
    assert_non_null (rf.admin);
    assert_non_null (rf.certs);
    snprintf (rf.clock, sizeof rf.clock, "/tmp/lg-clock-XXXXXX");
    int fd = mkstemp (rf.clock);
    assert_true (fd >= 0);
    close (fd);
    rf_set_clock (RF_TODAY_UTC);
    snprintf (s_dir, sizeof s_dir, "/tmp/lg-monitor-XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    snprintf (s_eve_file, sizeof s_eve_file, "%s/eve.json", s_dir);
    snprintf (s_eve_socket, sizeof s_eve_socket, "%s/eve.sock", s_dir);
    snprintf (s_sensor, sizeof s_sensor, "tcp://127.0.0.1:%d", lg_test_free_port ());

    //  Registry and isolation follow each other: both sets of ports first
    lg_test_proc_t *procs [] = { &rf.registry, &s_isolation, &s_monitor };
    for (int i = 0; i < 3; i++) {
        snprintf (procs [i]->endpoint, sizeof procs [i]->endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
        snprintf (procs [i]->pub, sizeof procs [i]->pub, "tcp://127.0.0.1:%d", lg_test_free_port ());
    }
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    char *enforcers = zsys_sprintf ("LG_ISOLATION_ENFORCER_ENDPOINT=tcp://127.0.0.1:%d",
                                    lg_test_free_port ());
    const char *extra [] = { "LG_DUTY_MS=200", "LG_HEARTBEAT_MS=200", clock, enforcers, NULL };
    lg_test_proc_t *for_registry [] = { &s_isolation, NULL };
    lg_test_proc_t *for_isolation [] = { &rf.registry, NULL };
    assert_true (lg_test_proc_start (&rf.registry, rf.admin, rf.certs, for_registry, extra));
    assert_true (lg_test_proc_start (&s_isolation, rf.admin, rf.certs, for_isolation, extra));
    zstr_free (&clock);
    zstr_free (&enforcers);
    s_monitor_start ();

    Lgwan__V1__PoolAdd pool = LGWAN__V1__POOL_ADD__INIT;
    pool.name = (char *) "v4";
    pool.prefix = (char *) "198.18.0.0/24";
    rf_ok (rf_ask ("operator", RF_BODY (POOL_ADD), &pool));
    s_provider [1] = s_hosting_provider ("監視試験株式会社A");
    s_provider [2] = s_hosting_provider ("監視試験株式会社B");
    uint64_t sa = rf_registered_service (s_provider [1], s_provider [1]);
    uint64_t sb = rf_registered_service (s_provider [2], s_provider [2]);
    s_conn [1] = s_connection (sa, 28, s_prefix [1], sizeof s_prefix [1]);
    s_conn [2] = s_connection (sa, 28, s_prefix [2], sizeof s_prefix [2]);
    s_conn [3] = s_connection (sb, 28, s_prefix [3], sizeof s_prefix [3]);
    rf_wait_sql (3, "SELECT count(*) FROM monitor.connections WHERE active");
    s_wait_counter ("attribution.prefixes", 0);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    lg_test_proc_teardown (&s_monitor);
    lg_test_proc_teardown (&s_isolation);
    rf_teardown (state);
    lg_test_sh ("rm -rf %s", s_dir);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Tests

/* REQ R16.1: alerts in an EVE file from a provider's prefix crossing a
   rule's threshold open exactly one incident, confirmed by the rule
   (incident_and_isolate), with its evidence, and IncidentConfirmed carries
   the provider, its connections and prefixes, the rule and isolate */
static void
test_r16_1_eve_threshold_opens_one_confirmed_incident (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("trojan-burst", 2001, 5, 60,
                            LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT_AND_ISOLATE);
    //  Four: under the threshold
    s_append_alerts (1, 2001, 4, "2027-03-01T08:59:50.123456+0900");
    rf_wait_sql (4, "SELECT coalesce (sum (events), 0) FROM monitor.minute_counts"
                   " WHERE connection_id = %" PRIu64, s_conn [1]);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents"), 0);
    //  Four more: the fifth crosses it
    s_append_alerts (1, 2001, 4, "2027-03-01T08:59:55.5+0900");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    rf_wait_sql (8 - 5 + 5, "SELECT event_count FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents"), 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE status = 'confirmed'"
                             " AND isolate AND decided_by LIKE 'rule:%%' AND connection_id = %" PRIu64
                             " AND provider_id = %" PRIu64, s_conn [1], s_provider [1]), 1);
    //  Evidence: the event that crossed and the next ones (LG_MONITOR_EVIDENCE=5: 4 here)
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.evidence"), 4);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.evidence WHERE signature_id = 2001"
                             " AND sensor = 'ids-east' AND origin = 'eve'"), 4);

    //  The request shows it with its evidence
    Lgwan__V1__IncidentList list = LGWAN__V1__INCIDENT_LIST__INIT;
    lg_reply_t *reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_INCIDENT_LIST, &list);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->incident_list->n_incidents, 1);
    uint64_t incident = reply->incident_list->incidents [0]->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    Lgwan__V1__IncidentGet get = LGWAN__V1__INCIDENT_GET__INIT;
    get.incident = incident;
    reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_INCIDENT_GET, &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__Incident *i = reply->incident->incident;
    assert_string_equal (i->status, "confirmed");
    assert_true (i->isolate);
    assert_int_equal (i->event_count, 8);
    assert_int_equal (i->n_evidence, 4);
    assert_string_equal (i->evidence [0]->signature, "ET EXPLOIT SMB relay attempt");
    assert_int_equal (i->n_prefixes, 1);
    assert_string_equal (i->prefixes [0], s_prefix [1]);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  The events the orchestrator acts on: opened, then confirmed for the
    //  whole provider (both its connections and prefixes)
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.outbox WHERE body_case = 400"), 1);
    lg_event_t *event = s_last_confirmed ();
    const Lgwan__V1__IncidentConfirmed *c = event->incident_confirmed;
    assert_int_equal (c->incident, incident);
    assert_int_equal (c->provider, s_provider [1]);
    assert_int_equal (c->rule, rule);
    assert_true (c->isolate);
    assert_int_equal (c->n_connections, 2);
    assert_int_equal (c->n_prefixes, 2);
    assert_true (strncmp (c->decided_by, "rule:", 5) == 0);
    lgwan__v1__event__free_unpacked (event, NULL);
}

/* REQ R16.1: a rule or an allow-list entry naming a signature or a
   connection past a bigint (2^63 or more) is refused INVALID_ARGUMENT with
   the rule, as a sensor's event with one is malformed, and nothing is
   written; it reached the database as a statement that failed on the cast */
static void
test_r16_1_ids_past_bigint_refused (void **state)
{
    (void) state;
    long rules = rf_sqlf_long ("SELECT count(*) FROM monitor.rules");
    long entries = rf_sqlf_long ("SELECT count(*) FROM monitor.allowlist");
    Lgwan__V1__Rule rule = LGWAN__V1__RULE__INIT;
    rule.name = (char *) "too-far";
    rule.signature_id = (uint64_t) INT64_MAX + 1;
    rule.threshold = 3;
    rule.window_seconds = 60;
    rule.action = LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT;
    Lgwan__V1__RuleSet set = LGWAN__V1__RULE_SET__INIT;
    set.rule = &rule;
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    rule.signature_id = 7;
    rule.id = UINT64_MAX;
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    Lgwan__V1__AllowlistAdd add = LGWAN__V1__ALLOWLIST_ADD__INIT;
    add.signature_id = (uint64_t) INT64_MAX + 1;
    add.expires_at = (char *) "2027-03-01T01:00:00Z";
    add.reason = (char *) "scan";
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &add),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    add.signature_id = 7;
    add.connection = UINT64_MAX;
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &add),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.rules"), rules);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.allowlist"), entries);
}

/* REQ R16.1 X.1: a rule out of bounds, and an allow-list entry without its
   reason or its expiry, are refused INVALID_ARGUMENT naming the rule (R16.1;
   X.1 for the reason an entry records), and nothing is written. They named
   no requirement, so a refusal did not say which rule it applied. */
static void
test_r16_1_x1_rule_and_entry_refusals_name_their_rule (void **state)
{
    (void) state;
    long rules = rf_sqlf_long ("SELECT count(*) FROM monitor.rules");
    long entries = rf_sqlf_long ("SELECT count(*) FROM monitor.allowlist");
    char long_name [130], long_category [129];
    memset (long_name, 'n', 129);
    long_name [129] = 0;
    memset (long_category, 'c', 128);
    long_category [128] = 0;
    const struct {
        const char *name, *category;
        uint32_t window, threshold, severity, grace;
        Lgwan__V1__RuleAction action;
    } bad [] = {
        { "",        "", 60,    3,    2,   0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { long_name, "", 60,    3,    2,   0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r", long_category, 60, 3,  2,   0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r",       "", 0,     3,    2,   0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r",       "", 86401, 3,    2,   0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r",       "", 60,    0,    2,   0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r",       "", 60,    1001, 2,   0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r",       "", 60,    3,    256, 0,       LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r",       "", 60,    3,    2,   2592001, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT },
        { "r",       "", 60,    3,    2,   0,       (Lgwan__V1__RuleAction) 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        Lgwan__V1__Rule rule = LGWAN__V1__RULE__INIT;
        rule.name = (char *) bad [i].name;
        rule.category = (char *) bad [i].category;
        rule.window_seconds = bad [i].window;
        rule.threshold = bad [i].threshold;
        rule.max_severity = bad [i].severity;
        rule.grace_seconds = bad [i].grace;
        rule.action = bad [i].action;
        Lgwan__V1__RuleSet set = LGWAN__V1__RULE_SET__INIT;
        set.rule = &rule;
        rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set),
                    LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    }
    Lgwan__V1__RuleSet empty = LGWAN__V1__RULE_SET__INIT;
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &empty),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    Lgwan__V1__AllowlistAdd add = LGWAN__V1__ALLOWLIST_ADD__INIT;
    add.signature_id = 7;
    add.expires_at = (char *) "2027-03-01T01:00:00Z";
    rf_refused (s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &add, ""),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "X.1");
    add.reason = (char *) "scan";
    add.expires_at = (char *) "soon";
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &add),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    add.expires_at = (char *) "2020-01-01T00:00:00Z";
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &add),
                LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.rules"), rules);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.allowlist"), entries);
}

/* REQ R16.1: an allow-listed signature never opens an incident; after the
   entry expires, the same alerts do. An entry for everything is refused. */
static void
test_r16_1_allowlist_until_expiry (void **state)
{
    (void) state;
    //  Scoped or refused, and nothing changes
    Lgwan__V1__AllowlistAdd everything = LGWAN__V1__ALLOWLIST_ADD__INIT;
    everything.expires_at = (char *) "2027-03-01T01:00:00Z";
    lg_reply_t *reply = s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &everything);
    rf_refused (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.allowlist"), 0);
    //  A sensor may not change the allow-list
    Lgwan__V1__AllowlistAdd add = LGWAN__V1__ALLOWLIST_ADD__INIT;
    add.connection = s_conn [2];
    add.signature_id = 2002;
    add.expires_at = (char *) "2027-03-01T01:00:00Z";
    reply = s_ask (&s_monitor, "sensor", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &add, "scanner test");
    rf_refused (reply, LGWAN__V1__CODE__PERMISSION_DENIED, "X.3");
    reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_ADD, &add,
                   "脆弱性診断 (vulnerability scan) agreed with the provider");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->allowlist->entry->connection, s_conn [2]);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    uint64_t rule = s_rule ("rdp-brute", 2002, 3, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t before = s_counter ("detection.allowlisted");
    s_push_alerts ("sensor", 2, 2002, 6, "2027-03-01T00:00:10Z");
    s_wait_counter ("detection.allowlisted", before + 6);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule), 0);
    uint64_t entries = s_counter ("detection.allowlist_entries");
    assert_true (entries >= 1);

    //  The entry expires: the same alerts now open one incident (not
    //  confirmed), and it leaves the list events are looked up in (expired
    //  entries were loaded and looked through for good)
    rf_set_clock ("2027-03-01T02:00:00Z");
    s_push_alerts ("sensor", 2, 2002, 6, "2027-03-01T02:00:10Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                   " AND status = 'open' AND connection_id = %" PRIu64, rule, s_conn [2]);
    rf_wait_sql (6, "SELECT event_count FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    assert_int_equal (s_counter ("detection.allowlist_entries"), entries - 1);
    rf_set_clock (RF_TODAY_UTC);
}

/* REQ R16.1: the monitor killed in the middle of a burst finds its
   incident again: the rest of the burst attaches, no second incident, and
   the followed file is not read twice */
static void
test_r16_1_restart_mid_burst_no_duplicate (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("worm-burst", 2003, 5, 3600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_append_alerts (3, 2003, 6, "2027-03-01T00:01:00Z");
    rf_wait_sql (6, "SELECT coalesce (max (event_count), 0) FROM monitor.incidents WHERE rule_id = %"
                   PRIu64, rule);
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGKILL), 128 + SIGKILL);
    s_append_alerts (3, 2003, 6, "2027-03-01T00:02:00Z");
    s_monitor_start ();
    rf_wait_sql (12, "SELECT coalesce (max (event_count), 0) FROM monitor.incidents WHERE rule_id = %"
                    PRIu64, rule);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule), 1);
    //  Nothing more arrives later (the file was not read again from its start)
    zclock_sleep (600);
    assert_int_equal (rf_sqlf_long ("SELECT event_count FROM monitor.incidents WHERE rule_id = %" PRIu64, rule), 12);
    //  The evidence kept counting from where it was (at most 5)
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.evidence e JOIN monitor.incidents i"
                             " ON i.id = e.incident_id WHERE i.rule_id = %" PRIu64, rule), 5);
}

/* REQ R16.1: an operator confirms an open incident (isolate) and closes it
   with a reason (not only blanks: one of spaces was taken); a closed
   incident is not confirmed again, and the next burst opens a new one */
static void
test_r16_1_operator_confirms_and_closes (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("c2-beacon", 2004, 2, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_push_alerts ("sensor", 1, 2004, 2, "2027-03-01T00:03:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    uint64_t id = (uint64_t) rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    Lgwan__V1__IncidentConfirm confirm = LGWAN__V1__INCIDENT_CONFIRM__INIT;
    confirm.incident = id;
    confirm.isolate = true;
    lg_reply_t *reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, &confirm);
    rf_refused (reply, LGWAN__V1__CODE__PERMISSION_DENIED, "X.3");
    long confirmed = rf_sqlf_long ("SELECT count(*) FROM monitor.outbox WHERE body_case = 401");
    //  X.1: the decision to isolate says why, as a close does (it was taken
    //  with no reason)
    reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, &confirm, "");
    rf_refused (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    //  Nor with only blanks, ASCII or the full-width space (it was taken)
    reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, &confirm,
                   " \xe3\x80\x80\t");
    rf_refused (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE id = %" PRIu64
                                    " AND status = 'open'", id), 1);
    reply = s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, &confirm);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->incident->incident->status, "confirmed");
    assert_string_equal (reply->incident->incident->decided_by, "operator:alice");
    assert_true (reply->incident->incident->isolate);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.outbox WHERE body_case = 401"), confirmed + 1);
    //  Confirmed twice: refused, nothing emitted
    reply = s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, &confirm);
    rf_refused (reply, LGWAN__V1__CODE__FAILED_PRECONDITION, "R16.1");
    //  Closing records a reason
    Lgwan__V1__IncidentClose close_ = LGWAN__V1__INCIDENT_CLOSE__INIT;
    close_.incident = id;
    reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE, &close_, "");
    rf_refused (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE, &close_,
                   "\xe3\x80\x80");
    rf_refused (reply, LGWAN__V1__CODE__INVALID_ARGUMENT, "R16.1");
    reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE, &close_,
                   "事業者が駆除を完了");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_string_equal (reply->incident->incident->status, "closed");
    lgwan__v1__reply__free_unpacked (reply, NULL);
    reply = s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, &confirm);
    rf_refused (reply, LGWAN__V1__CODE__FAILED_PRECONDITION, "R16.1");
    //  The next burst: a new incident
    s_push_alerts ("sensor", 1, 2004, 2, "2027-03-01T00:04:00Z");
    rf_wait_sql (2, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                             " AND status = 'open'", rule), 1);
}

/* REQ X.3: malformed EVE lines (truncated, not JSON, wrong types, invalid
   UTF-8, missing fields, over 1 MiB) are counted and never stop intake;
   frames from a non-sensor certificate and broken frames are refused */
//  Disable a rule (later tests do not see it)
static void
s_rule_off (uint64_t rule)
{
    Lgwan__V1__RuleDisable off = LGWAN__V1__RULE_DISABLE__INIT;
    off.rule = rule;
    rf_ok (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_DISABLE, &off));
}

/* REQ R16.1: a monitor that dies after the commit of an incident and its
   evidence, before the followed file's offset is saved, reads those lines
   again at its restart, and they count once: the offset is written in the
   transaction of what its lines made. It was saved after it, alone, so the
   restarted monitor attached the same five events to the incident again
   (event_count 8, the evidence of three events written five times) */
static void
test_r16_1_crash_before_the_offset_is_saved_counts_nothing_twice (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("replayed-burst", 8830, 3, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    //  All that is in the file read, and its offset saved
    s_append_file ("");
    struct stat st;
    assert_int_equal (stat (s_eve_file, &st), 0);
    rf_wait_sql ((long) st.st_size, "SELECT coalesce (max (read_offset), -1) FROM monitor.eve_files"
                                    " WHERE path = '%s'",
                 s_eve_file);
    //  The offset cannot be written: the monitor dies waiting to write it
    PGconn *holder = PQconnectdb (rf.admin);
    PGresult *res = PQexec (holder, "BEGIN; LOCK TABLE monitor.eve_files IN EXCLUSIVE MODE");
    bool held = PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    s_append_alerts (1, 8830, 5, "2027-03-01T00:30:00Z");
    long waiting = lg_test_wait_lock_waiters (rf.admin, "monitor", 1, 5000);
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGKILL), 128 + SIGKILL);
    //  A crash takes its sessions with it (this one would write once let go)
    const char *sessions = "FROM pg_stat_activity WHERE usename = 'lgwan_monitor'"
                           " AND datname = current_database ()";
    rf_sqlf_long ("SELECT count (pg_terminate_backend (pid)) %s", sessions);
    rf_wait_sql (0, "SELECT count(*) %s", sessions);
    res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
    assert_true (held);
    assert_true (waiting >= 1);
    s_monitor_start ();
    rf_wait_sql (5, "SELECT coalesce (max (event_count), 0) FROM monitor.incidents WHERE rule_id = %"
                    PRIu64, rule);
    zclock_sleep (600);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, rule), 1);
    assert_int_equal (rf_sqlf_long ("SELECT event_count FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, rule), 5);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.evidence e JOIN monitor.incidents i"
                                    " ON i.id = e.incident_id WHERE i.rule_id = %" PRIu64, rule), 3);
    s_rule_off (rule);
}

/* REQ X.3: a sensor's time that cannot be neither corrupts nor stops
   detection: it counts at the monitor's own time. Before 1970 once its
   offset is applied, an event indexed its window's buckets below zero and
   wrote outside them (the next event of another rule on the connection then
   crashed the monitor); one from 2099 moved its window so far ahead that
   every later event was older than the window, and nothing opened again */
static void
test_x3_times_that_cannot_be (void **state)
{
    (void) state;
    uint64_t a = s_rule ("clock-before-1970", 8801, 3, 60,
                         LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t b = s_rule ("clock-2099", 8802, 3, 60, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t eve = s_counter ("intake.events_eve");
    char *line = s_eve_line (1, 8801, "Misc activity", 1, "1970-01-01T00:00:44+00:01");
    s_append_file (line);
    zstr_free (&line);
    line = s_eve_line (1, 8802, "Misc activity", 1, "2099-01-01T00:00:00Z");
    s_append_file (line);
    zstr_free (&line);
    s_wait_counter ("intake.events_eve", eve + 2);
    //  Both rules count the events that come after
    s_append_alerts (1, 8801, 3, "2027-03-01T00:07:00Z");
    s_append_alerts (1, 8802, 3, "2027-03-01T00:07:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, a);
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, b);
    s_rule_off (a);
    s_rule_off (b);
}

/* REQ R16.1: a rule given a longer window by RuleSet goes on counting. Its
   windows held bucket indices in the old width; with the new one every
   event looked older than the window, and the rule opened nothing until a
   restart */
static void
test_r16_1_rule_widened_goes_on_counting (void **state)
{
    (void) state;
    uint64_t id = s_rule ("widened", 8803, 5, 60, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t eve = s_counter ("intake.events_eve");
    s_append_alerts (1, 8803, 1, "2027-03-01T00:08:00Z");
    s_wait_counter ("intake.events_eve", eve + 1);
    s_rule_set (id, "widened", 8803, 5, 300, 0, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_append_alerts (1, 8803, 5, "2027-03-01T00:08:30Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, id);
    s_rule_off (id);
}

/* REQ R16.1: a window whose rule changes width keeps what it counted. An
   operator who widens a rule during a burst (3 of 5 counted in 60 s, 2 more
   once it is 300 s) gets the incident; the window started again, and the
   burst so far was forgotten. One narrowed (300 s to 60 s) lets go of what
   is now older than its span, and counts on */
static void
test_r16_1_rule_new_width_keeps_what_it_counted (void **state)
{
    (void) state;
    uint64_t widened = s_rule ("kept-widened", 8816, 5, 60,
                               LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t narrowed = s_rule ("kept-narrowed", 8817, 4, 300,
                                LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t eve = s_counter ("intake.events_eve");
    rf_set_clock ("2027-03-01T03:41:00Z");
    s_append_alerts (1, 8816, 3, "2027-03-01T03:41:00Z");
    s_append_alerts (1, 8817, 3, "2027-03-01T03:41:00Z");
    s_wait_counter ("intake.events_eve", eve + 6);
    s_rule_set (widened, "kept-widened", 8816, 5, 300, 0,
                LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_rule_set (narrowed, "kept-narrowed", 8817, 4, 60, 0,
                LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    rf_set_clock ("2027-03-01T03:43:00Z");
    s_append_alerts (1, 8816, 2, "2027-03-01T03:42:00Z");
    s_append_alerts (1, 8817, 1, "2027-03-01T03:43:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, widened);
    s_wait_counter ("intake.events_eve", eve + 9);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, narrowed), 0);
    rf_set_clock ("2027-03-01T03:43:10Z");
    s_append_alerts (1, 8817, 3, "2027-03-01T03:43:10Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, narrowed);
    s_rule_off (widened);
    s_rule_off (narrowed);
}

/* REQ R16.1: a burst that crossed the threshold while its incident could
   not be written (a session held the incidents table past the reactor's
   lock wait) opens the incident with the next event. The window was
   emptied as the burst crossed, before the write, so the burst was lost
   and the next event counted one */
static void
test_r16_1_burst_kept_when_its_incident_could_not_be_written (void **state)
{
    (void) state;
    uint64_t id = s_rule ("held-burst", 8804, 3, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    const char *failed = "incident changes: the next events try again";
    long before = lg_test_log_count (s_monitor.pid, failed);
    PGconn *holder = PQconnectdb (rf.admin);
    PGresult *res = PQexec (holder, "BEGIN; LOCK TABLE monitor.incidents IN EXCLUSIVE MODE");
    bool held = PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    s_append_alerts (1, 8804, 3, "2027-03-01T00:09:00Z");
    for (int i = 0; i < 60 && lg_test_log_count (s_monitor.pid, failed) == before; i++)
        zclock_sleep (100);
    long after = lg_test_log_count (s_monitor.pid, failed);
    res = PQexec (holder, "COMMIT");
    PQclear (res);
    PQfinish (holder);
    assert_true (held);
    assert_true (after > before);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, id), 0);
    s_append_alerts (1, 8804, 1, "2027-03-01T00:09:10Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, id);
    s_rule_off (id);
}

/* REQ R16.1: what an operator changes through one monitor replica reaches
   another that takes sensors: a rule disabled, and an incident closed,
   through the test's replica no longer open or hold incidents on the
   second (within MONITOR_SYNC_MS). Before, a replica reloaded only on what
   it published itself, and went on applying a rule disabled elsewhere */
static void
test_r16_1_a_second_replica_follows_the_first (void **state)
{
    (void) state;
    uint64_t kept = s_rule ("replica-kept", 8806, 2, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t dropped = s_rule ("replica-dropped", 8805, 2, 600,
                               LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    lg_test_proc_t second = { .service = "monitor" };
    char *path = zsys_sprintf ("%s/eve-second.sock", s_dir);
    char *sock = zsys_sprintf ("LG_MONITOR_EVE_SOCKET=%s", path);
    char *sensor = zsys_sprintf ("LG_MONITOR_SENSOR_ENDPOINT=tcp://127.0.0.1:%d", lg_test_free_port ());
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    const char *extra [] = { sock, sensor, clock, "LG_MONITOR_FLUSH_MS=200", NULL };
    lg_test_proc_t *follows [] = { &rf.registry, &s_isolation, NULL };
    assert_true (lg_test_proc_start (&second, rf.admin, rf.certs, follows, extra));
    //  It took both rules at its start; the first replica disables one
    s_rule_off (dropped);
    zclock_sleep (2500);                //  a look of the second (every 2 s)
    //  A burst of each, to the second replica's socket
    char saved [100];
    snprintf (saved, sizeof saved, "%s", s_eve_socket);
    snprintf (s_eve_socket, sizeof s_eve_socket, "%s", path);
    for (int i = 0; i < 3; i++) {
        char *line = s_eve_line (1, 8805, "Misc activity", 1, "2027-03-01T00:10:00Z");
        s_send_socket (line, strlen (line));
        zstr_free (&line);
        line = s_eve_line (1, 8806, "Misc activity", 1, "2027-03-01T00:10:00Z");
        s_send_socket (line, strlen (line));
        zstr_free (&line);
    }
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, kept);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, dropped), 0);
    assert_true (s_counter_of (&second, "intake.events_eve") >= 6);

    //  The incident closed through the first: the second's next burst of
    //  that rule opens a new one instead of attaching to the closed one
    uint64_t incident = (uint64_t) rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_id = %"
                                                 PRIu64, kept);
    Lgwan__V1__IncidentClose closing = LGWAN__V1__INCIDENT_CLOSE__INIT;
    closing.incident = incident;
    s_ok (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE, &closing);
    zclock_sleep (2500);
    for (int i = 0; i < 2; i++) {
        char *line = s_eve_line (1, 8806, "Misc activity", 1, "2027-03-01T00:11:00Z");
        s_send_socket (line, strlen (line));
        zstr_free (&line);
    }
    rf_wait_sql (2, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, kept);
    snprintf (s_eve_socket, sizeof s_eve_socket, "%s", saved);
    assert_int_equal (lg_test_proc_stop (&second, SIGTERM), 0);
    s_rule_off (kept);
    zstr_free (&path);
    zstr_free (&sock);
    zstr_free (&sensor);
    zstr_free (&clock);
}

/* REQ X.3: a line that arrives in pieces is taken once, whole: over the
   socket in two writes a second apart, or 7 bytes a write, the last line of a sender that
   closes without its newline, and in the followed file a half line that
   waits several polls for its end. None of them counts as malformed */
static void
test_x3_line_in_pieces_taken_whole (void **state)
{
    (void) state;
    uint64_t malformed = s_counter ("intake.malformed");
    uint64_t eve = s_counter ("intake.events_eve");
    char *first = s_eve_line (1, 9997, "Misc activity", 3, "2027-03-01T00:06:00Z");
    char *last = s_eve_line (1, 9997, "Misc activity", 3, "2027-03-01T00:06:01Z");
    size_t half = strlen (first) / 2;
    int fd = s_socket_open ();
    s_socket_write (fd, first, half);
    zclock_sleep (1000);
    assert_int_equal (s_counter ("intake.events_eve"), eve);
    s_socket_write (fd, first + half, strlen (first) - half);
    //  A line 7 bytes a write, then two lines in one write: the part of a
    //  line looked through is not looked through again at the next read
    char *trickled = s_eve_line (1, 9997, "Misc activity", 3, "2027-03-01T00:06:00Z");
    for (size_t at = 0; at < strlen (trickled); at += 7) {
        size_t piece = strlen (trickled) - at < 7? strlen (trickled) - at: 7;
        s_socket_write (fd, trickled + at, piece);
        zclock_sleep (1);
    }
    char *pair = zsys_sprintf ("%s%s", first, trickled);
    s_socket_write (fd, pair, strlen (pair));
    zstr_free (&pair);
    zstr_free (&trickled);
    s_socket_write (fd, last, strlen (last) - 1);           //  no newline
    close (fd);
    s_wait_counter ("intake.events_eve", eve + 5);
    eve += 3;

    //  The file: the poll is 100 ms, so the half line is seen ten times
    char *line = s_eve_line (1, 9997, "Misc activity", 3, "2027-03-01T00:06:02Z");
    half = strlen (line) / 2;
    char *head = zsys_sprintf ("%.*s", (int) half, line);
    s_append_file (head);
    zclock_sleep (1000);
    assert_int_equal (s_counter ("intake.events_eve"), eve + 2);
    s_append_file (line + half);
    s_wait_counter ("intake.events_eve", eve + 3);
    //  Taken once: nothing more comes of it
    zclock_sleep (500);
    assert_int_equal (s_counter ("intake.events_eve"), eve + 3);
    assert_int_equal (s_counter ("intake.malformed"), malformed);
    zstr_free (&head);
    zstr_free (&line);
    zstr_free (&first);
    zstr_free (&last);
}

static void
test_x3_bad_input_counted_never_stops_intake (void **state)
{
    (void) state;
    uint64_t malformed = s_counter ("intake.malformed");
    uint64_t eve = s_counter ("intake.events_eve");
    char *good = s_eve_line (1, 9999, "Misc activity", 3, "2027-03-01T00:05:00Z");
    zchunk_t *data = zchunk_new (NULL, 0);
    const char *bad [] = {
        "{\"timestamp\":\"2027-03-01T00:05:00Z\",\"event_type\":\"alert\",\"src_ip\":\"198.18",
        "this is not json",
        "{\"event_type\":\"alert\",\"src_ip\":5,\"dest_ip\":\"10.0.0.1\",\"alert\":{\"signature_id\":1}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"198.18.0.1\",\"dest_ip\":\"10.0.0.1\",\"alert\":{\"signature_id\":\"x\"}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"198.18.0.1\",\"dest_ip\":\"10.0.0.1\",\"alert\":{\"signature_id\":1,\"signature\":\"\xff\xfe\"}}",
        "{\"event_type\":\"alert\",\"dest_ip\":\"10.0.0.1\",\"alert\":{\"signature_id\":1}}",
        "{\"event_type\":\"alert\",\"src_ip\":\"999.1.1.1\",\"dest_ip\":\"10.0.0.1\",\"alert\":{\"signature_id\":1}}",
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        zchunk_extend (data, bad [i], strlen (bad [i]));
        zchunk_extend (data, "\n", 1);
    }
    //  A line of 1.5 MiB
    size_t huge = 1536 * 1024;
    char *big = (char *) malloc (huge);
    memset (big, 'a', huge);
    memcpy (big, "{\"event_type\":\"alert\",\"x\":\"", 27);
    zchunk_extend (data, big, huge);
    zchunk_extend (data, "\n", 1);
    free (big);
    //  A flow event: valid, not an alert, ignored
    const char *flow = "{\"event_type\":\"flow\",\"src_ip\":\"198.18.0.1\",\"dest_ip\":\"10.0.0.1\"}\n";
    zchunk_extend (data, flow, strlen (flow));
    zchunk_extend (data, good, strlen (good));
    s_send_socket ((const char *) zchunk_data (data), zchunk_size (data));
    s_wait_counter ("intake.events_eve", eve + 1);
    assert_int_equal (s_counter ("intake.malformed"), malformed + 9);
    zchunk_destroy (&data);
    //  The same through the followed file
    s_append_file (bad [1]);
    s_append_file ("\n");
    s_append_file (good);
    s_wait_counter ("intake.events_eve", eve + 2);
    assert_int_equal (s_counter ("intake.malformed"), malformed + 10);
    zstr_free (&good);
    rf_wait_sql (10, "SELECT coalesce (sum (malformed), 0) FROM monitor.sensor_counts"
                    " WHERE sensor IN ('eve-socket', 'eve-file')");

    //  Frames: an operator's certificate is not heard; garbage is counted
    uint64_t refused = s_counter ("intake.frames_refused");
    uint64_t frames_bad = s_counter ("intake.frames_malformed");
    uint64_t events = s_counter ("intake.events_sensor");
    s_push_alerts ("operator", 1, 2005, 3, "2027-03-01T00:05:00Z");
    s_wait_counter ("intake.frames_refused", refused + 1);
    s_push_frame ("sensor", "\xff\xff\xff\xff", 4);
    s_wait_counter ("intake.frames_malformed", frames_bad + 1);
    s_push_alerts ("sensor", 1, 2005, 3, "2027-03-01T00:05:00Z");
    s_wait_counter ("intake.events_sensor", events + 3);
    //  A batch with one bad address among good events: the rest is taken
    Lgwan__V1__SecurityEvent e [2] = { LGWAN__V1__SECURITY_EVENT__INIT, LGWAN__V1__SECURITY_EVENT__INIT };
    e [0].src_ip = (char *) "not-an-address";
    e [0].dest_ip = (char *) "10.0.0.1";
    e [1].src_ip = (char *) "198.18.0.200";
    e [1].dest_ip = (char *) "10.0.0.1";
    e [1].signature_id = 1;
    Lgwan__V1__SecurityEvent *list [] = { &e [0], &e [1] };
    Lgwan__V1__SecurityEventBatch batch = LGWAN__V1__SECURITY_EVENT_BATCH__INIT;
    batch.events = list;
    batch.n_events = 2;
    uint8_t bytes [256];
    size_t size = lgwan__v1__security_event_batch__pack (&batch, bytes);
    uint64_t bad_now = s_counter ("intake.malformed");
    s_push_frame ("sensor", bytes, size);
    s_wait_counter ("intake.events_sensor", events + 4);
    assert_int_equal (s_counter ("intake.malformed"), bad_now + 1);
}

/* REQ X.3: a sensor frame over LG_MAX_MSG (1 MiB here) is counted as
   malformed, per sensor and in the table, and logged; intake goes on with
   the next frame. Before, the socket's own bound was LG_MAX_MSG: libzmq
   dropped the sender's connection and the frame vanished uncounted */
static void
test_x3_oversized_sensor_frame_counted (void **state)
{
    (void) state;
    zclock_sleep (1000);                    //  the counts so far flushed (every 200 ms)
    uint64_t malformed = s_counter ("intake.malformed");
    uint64_t frames_bad = s_counter ("intake.frames_malformed");
    long table = rf_sqlf_long ("SELECT coalesce (sum (malformed), 0) FROM monitor.sensor_counts");
    const char *why = "is over 1048576";
    long logged = lg_test_log_count (s_monitor.pid, why);
    size_t size = LG_MAX_MSG_DEFAULT + 100;
    uint8_t *big = (uint8_t *) calloc (1, size);
    assert_non_null (big);
    s_push_frame ("sensor", big, size);
    free (big);
    //  A good frame after it: the monitor has looked at both
    uint64_t events = s_counter ("intake.events_sensor");
    s_push_alerts ("sensor", 1, 2008, 1, "2027-03-01T00:05:00Z");
    s_wait_counter ("intake.events_sensor", events + 1);
    assert_int_equal (s_counter ("intake.frames_malformed"), frames_bad + 1);
    assert_int_equal (s_counter ("intake.malformed"), malformed + 1);
    rf_wait_sql (table + 1, "SELECT coalesce (sum (malformed), 0) FROM monitor.sensor_counts");
    assert_int_equal (lg_test_log_count (s_monitor.pid, why), logged + 1);
}

/* REQ X.3: sensor frames that protobuf takes for a batch but are none (an
   empty frame, one of fields a batch has not) are counted as malformed
   and logged, and intake goes on. Before, each was taken as an empty batch
   and nothing counted it */
static void
test_x3_sensor_frames_that_are_not_batches_counted (void **state)
{
    (void) state;
    uint64_t malformed = s_counter ("intake.malformed");
    uint64_t frames_bad = s_counter ("intake.frames_malformed");
    long logged = lg_test_log_count (s_monitor.pid, "not a batch");
    s_push_frame ("sensor", "", 0);
    s_push_frame ("sensor", "\x10\x01\x18\x02", 4);
    uint64_t events = s_counter ("intake.events_sensor");
    s_push_alerts ("sensor", 1, 2009, 1, "2027-03-01T00:05:00Z");
    s_wait_counter ("intake.events_sensor", events + 1);
    assert_int_equal (s_counter ("intake.frames_malformed"), frames_bad + 2);
    assert_int_equal (s_counter ("intake.malformed"), malformed + 2);
    assert_int_equal (lg_test_log_count (s_monitor.pid, "not a batch"), logged + 2);
}

/* REQ R16.1: the followed EVE file survives rotation: renamed away and
   started again (logrotate's create), and truncated in place (copytruncate);
   lines written to the old file before it moved are read too */
static void
test_r16_1_followed_file_rotation (void **state)
{
    (void) state;
    uint64_t eve = s_counter ("intake.events_eve");
    uint64_t rotations = s_counter ("intake.eve_rotations");
    //  Renamed: the last lines of the old file, then the new file
    s_append_alerts (2, 8001, 2, "2027-03-01T00:08:00Z");
    char *old = zsys_sprintf ("%s.1", s_eve_file);
    assert_int_equal (rename (s_eve_file, old), 0);
    s_append_alerts (2, 8001, 3, "2027-03-01T00:08:01Z");
    s_wait_counter ("intake.eve_rotations", rotations + 1);
    s_wait_counter ("intake.events_eve", eve + 5);
    //  Truncated in place
    assert_int_equal (truncate (s_eve_file, 0), 0);
    s_append_alerts (2, 8001, 1, "2027-03-01T00:08:02Z");
    s_wait_counter ("intake.eve_rotations", rotations + 2);
    s_wait_counter ("intake.events_eve", eve + 6);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), eve + 6);
    unlink (old);
    zstr_free (&old);
}

/* REQ R16.1: lines the IDS writes to the followed file after logrotate
   renamed it (and created a new one), before its HUP reaches the IDS, are
   read: the old file is followed until it has been quiet for
   LG_MONITOR_EVE_ROTATE_WAIT_MS (2 s by default), then the new one from its
   start. The old one was left at its first end after the rename, and every
   line the IDS wrote to it after that was lost */
static void
test_r16_1_renamed_file_read_while_still_written (void **state)
{
    (void) state;
    uint64_t eve = s_counter ("intake.events_eve");
    uint64_t rotations = s_counter ("intake.eve_rotations");
    uint64_t malformed = s_counter ("intake.malformed");
    s_append_alerts (2, 8002, 2, "2027-03-01T00:09:00Z");
    s_wait_counter ("intake.events_eve", eve + 2);
    char *old = zsys_sprintf ("%s.1", s_eve_file);
    assert_int_equal (rename (s_eve_file, old), 0);
    s_append_to (s_eve_file, "");                   //  logrotate's create
    zclock_sleep (400);                             //  polls at the old file's end
    s_append_alerts_to (old, 2, 8002, 3, "2027-03-01T00:09:01Z");
    s_append_alerts (2, 8002, 1, "2027-03-01T00:09:02Z");
    s_wait_counter ("intake.events_eve", eve + 6);
    s_wait_counter ("intake.eve_rotations", rotations + 1);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), eve + 6);
    assert_int_equal (s_counter ("intake.malformed"), malformed);
    unlink (old);
    zstr_free (&old);
}

//  logrotate's copytruncate: the followed file copied to copy, then
//  truncated in place
static void
s_copy_truncate (const char *copy)
{
    char *command = zsys_sprintf ("cp '%s' '%s' && truncate -s 0 '%s'", s_eve_file, copy,
                                  s_eve_file);
    assert_int_equal (system (command), 0);
    zstr_free (&command);
}

/* REQ R16.1: a copytruncate rotation loses nothing: what was not read yet
   is read from the copy (<file>.1, starting with the bytes read and at
   least as long) from where reading was, then the file from its start;
   while the monitor runs (lines written since the last poll) and at a
   restart after one done while it was stopped. The file was read from its
   start, and its unread end, left in the copy only, was lost */
static void
test_r16_1_copytruncate_reads_the_rest_from_the_copy (void **state)
{
    (void) state;
    char *copy = zsys_sprintf ("%s.1", s_eve_file);
    uint64_t eve = s_counter ("intake.events_eve");
    uint64_t malformed = s_counter ("intake.malformed");
    s_append_alerts (2, 8003, 2, "2027-03-01T00:09:30Z");
    s_wait_counter ("intake.events_eve", eve + 2);
    //  Written and rotated between two polls
    s_append_alerts (2, 8003, 3, "2027-03-01T00:09:31Z");
    s_copy_truncate (copy);
    s_append_alerts (2, 8003, 4, "2027-03-01T00:09:32Z");
    s_wait_counter ("intake.events_eve", eve + 9);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), eve + 9);
    assert_int_equal (s_counter ("intake.malformed"), malformed);
    unlink (copy);

    //  Rotated while the monitor is stopped
    s_append_alerts (2, 8003, 2, "2027-03-01T00:09:40Z");
    struct stat st;
    assert_int_equal (stat (s_eve_file, &st), 0);
    rf_wait_sql ((long) st.st_size, "SELECT read_offset FROM monitor.eve_files");
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    s_append_alerts (2, 8003, 3, "2027-03-01T00:09:41Z");
    s_copy_truncate (copy);
    s_append_alerts (3, 8003, 12, "2027-03-01T00:09:42Z");
    s_monitor_start ();
    s_wait_counter ("intake.events_eve", 15);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), 15);
    assert_int_equal (s_counter ("intake.malformed"), 0);
    unlink (copy);
    zstr_free (&copy);
}

//  lgwanctl as who; its exit code, stdout+stderr in *out (caller frees)
static int
s_ctl (char **out, const char *who, const char *args)
{
    char *binary = lg_test_lgwanctl_binary ();
    char *marker = zsys_sprintf ("%s/ctl.rc", s_dir);
    char *text = lg_test_sh_output ("LG_CERT_DIR=%s LGWANCTL_CERT=%s/clients/%s %s %s 2>&1;"
                                    " echo $? > %s", rf.certs, rf.certs, who, binary, args, marker);
    FILE *file = fopen (marker, "r");
    int rc = -1;
    if (file) {
        if (fscanf (file, "%d", &rc) != 1)
            rc = -1;
        fclose (file);
    }
    *out = text;
    zstr_free (&binary);
    zstr_free (&marker);
    if (rc != 0)
        fprintf (stderr, "lgwanctl %s: exit %d\n%s\n", args, rc, text);
    return rc;
}

/* REQ R16.1: rules, allow-list and incidents through lgwanctl; a refusal
   names its requirement and exits 1 */
static void
test_r16_1_lgwanctl_rule_allowlist_incident (void **state)
{
    (void) state;
    lg_test_proc_export (&s_monitor);
    char *out = NULL;
    assert_int_equal (s_ctl (&out, "operator", "rule set --rule '{\"name\":\"ctl-rule\","
                             "\"signatureId\":6001,\"windowSeconds\":60,\"threshold\":1,"
                             "\"action\":\"RULE_ACTION_INCIDENT\"}' --reason 試験"), 0);
    zstr_free (&out);
    assert_int_equal (s_ctl (&out, "operator", "allowlist add --expires-at 2027-03-02T00:00:00Z"
                             " --reason everything"), 1);
    assert_non_null (strstr (out, "R16.1"));
    zstr_free (&out);
    assert_int_equal (s_ctl (&out, "operator", "allowlist add --signature-id 6002"
                             " --expires-at 2027-03-02T00:00:00Z --reason 'agreed scan'"), 0);
    zstr_free (&out);
    assert_int_equal (s_ctl (&out, "viewer", "allowlist list --json"), 0);
    assert_non_null (strstr (out, "agreed scan"));
    zstr_free (&out);
    s_push_alerts ("sensor", 1, 6001, 1, "2027-03-01T00:09:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_name = 'ctl-rule'");
    long id = rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_name = 'ctl-rule'");
    assert_int_equal (s_ctl (&out, "viewer", "incident list --status open"), 0);
    assert_non_null (strstr (out, "ctl-rule"));
    zstr_free (&out);
    char *args = zsys_sprintf ("incident show --incident %ld --json", id);
    assert_int_equal (s_ctl (&out, "viewer", args), 0);
    assert_non_null (strstr (out, "\"evidence\""));
    zstr_free (&out);
    zstr_free (&args);
    args = zsys_sprintf ("incident confirm --incident %ld --reason 確認", id);
    assert_int_equal (s_ctl (&out, "operator", args), 0);
    zstr_free (&out);
    zstr_free (&args);
    args = zsys_sprintf ("incident close --incident %ld --reason 対処済み", id);
    assert_int_equal (s_ctl (&out, "operator", args), 0);
    zstr_free (&out);
    zstr_free (&args);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE id = %ld"
                             " AND status = 'closed' AND decided_by = 'operator:alice'", id), 1);
}

/* REQ R16.1: after an incident is closed, its rule's grace keeps the same
   connection from opening another until it ends (PacketFence's grace) */
static void
test_r16_1_grace_after_close (void **state)
{
    (void) state;
    uint64_t id = s_rule_set (0, "beacon-grace", 2006, 1, 60, 3600,
                              LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_push_alerts ("sensor", 2, 2006, 1, "2027-03-01T00:10:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, id);
    Lgwan__V1__IncidentClose close_ = LGWAN__V1__INCIDENT_CLOSE__INIT;
    close_.incident = (uint64_t) rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_id = %" PRIu64, id);
    lg_reply_t *reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE,
                               &close_, "誤検知");
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  In the grace: counted, nothing opens
    uint64_t grace = s_counter ("detection.in_grace");
    s_push_alerts ("sensor", 2, 2006, 3, "2027-03-01T00:11:00Z");
    s_wait_counter ("detection.in_grace", grace + 3);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, id), 1);
    //  The grace ends
    rf_set_clock ("2027-03-01T01:30:00Z");
    s_push_alerts ("sensor", 2, 2006, 1, "2027-03-01T01:30:00Z");
    rf_wait_sql (2, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, id);
    rf_set_clock (RF_TODAY_UTC);
}

/* REQ R16.1: the grace after a close holds on every replica. A standby
   (up first, as a standby is) that takes the sensors after incidents were
   closed through the active replica opens nothing for the rule's grace,
   counted as in grace: at once (its open looks the grace up in the table)
   and after its look at what the other changed (it loads the pairs in
   grace); it opens again once the grace has ended. Before, only a window
   that held the closed incident started a grace: the standby opened, and
   with incident_and_isolate confirmed for isolation, at once */
static void
test_r16_1_grace_holds_on_a_standby_replica (void **state)
{
    (void) state;
    lg_test_proc_t standby = { .service = "monitor" };
    char *path = zsys_sprintf ("%s/eve-standby.sock", s_dir);
    char *sock = zsys_sprintf ("LG_MONITOR_EVE_SOCKET=%s", path);
    char *sensor = zsys_sprintf ("LG_MONITOR_SENSOR_ENDPOINT=tcp://127.0.0.1:%d", lg_test_free_port ());
    char *clock = zsys_sprintf ("LG_CLOCK_FILE=%s", rf.clock);
    const char *extra [] = { sock, sensor, clock, "LG_MONITOR_FLUSH_MS=200", NULL };
    lg_test_proc_t *follows [] = { &rf.registry, &s_isolation, NULL };
    assert_true (lg_test_proc_start (&standby, rf.admin, rf.certs, follows, extra));

    uint64_t id = s_rule_set (0, "grace-on-standby", 2007, 1, 60, 3600,
                              LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT_AND_ISOLATE);
    zclock_sleep (2500);                    //  the standby's look: it has the rule

    //  The active replica opens on connections 2 and 3; an operator closes
    //  both: false positives, an hour of grace
#define INCIDENTS_OF_RULE "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, id
    s_push_alerts ("sensor", 2, 2007, 1, "2027-03-01T00:10:00Z");
    s_push_alerts ("sensor", 3, 2007, 1, "2027-03-01T00:10:00Z");
    rf_wait_sql (2, INCIDENTS_OF_RULE);
    for (int connection = 2; connection <= 3; connection++) {
        Lgwan__V1__IncidentClose close_ = LGWAN__V1__INCIDENT_CLOSE__INIT;
        close_.incident = (uint64_t) rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_id = %"
                                                   PRIu64 " AND connection_id = %" PRIu64,
                                                   id, s_conn [connection]);
        lg_reply_t *reply = s_ask (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE,
                                   &close_, "誤検知");
        rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
        lgwan__v1__reply__free_unpacked (reply, NULL);
    }

    //  The sensors fail over to the standby: connection 2's event at once
    char saved [100];
    snprintf (saved, sizeof saved, "%s", s_eve_socket);
    snprintf (s_eve_socket, sizeof s_eve_socket, "%s", path);
    uint64_t matched = s_counter_of (&standby, "detection.matched");
    uint64_t grace = s_counter_of (&standby, "detection.in_grace");
    char *line = s_eve_line (2, 2007, "Misc activity", 1, "2027-03-01T00:11:00Z");
    s_send_socket (line, strlen (line));
    zstr_free (&line);
    s_wait_counter_of (&standby, "detection.matched", matched + 1);
    zclock_sleep (500);
    assert_int_equal (rf_sqlf_long (INCIDENTS_OF_RULE), 2);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                                    " AND status <> 'closed'", id), 0);
    s_wait_counter_of (&standby, "detection.in_grace", grace + 1);

    //  Connection 3's after the standby's look
    zclock_sleep (2500);
    line = s_eve_line (3, 2007, "Misc activity", 1, "2027-03-01T00:12:00Z");
    s_send_socket (line, strlen (line));
    zstr_free (&line);
    s_wait_counter_of (&standby, "detection.in_grace", grace + 2);
    assert_int_equal (rf_sqlf_long (INCIDENTS_OF_RULE), 2);

    //  The grace ends: the standby opens again
    rf_set_clock ("2027-03-01T01:30:00Z");
    line = s_eve_line (2, 2007, "Misc activity", 1, "2027-03-01T01:30:00Z");
    s_send_socket (line, strlen (line));
    zstr_free (&line);
    rf_wait_sql (3, INCIDENTS_OF_RULE);
#undef INCIDENTS_OF_RULE
    snprintf (s_eve_socket, sizeof s_eve_socket, "%s", saved);
    assert_int_equal (lg_test_proc_stop (&standby, SIGTERM), 0);
    s_rule_off (id);
    zstr_free (&path);
    zstr_free (&sock);
    zstr_free (&sensor);
    zstr_free (&clock);
}

/* REQ R16.1: the evidence of an event sent without its time (the proto:
   empty is when it arrived) carries the time it arrived, RFC 3339 UTC, as
   first_seen does. Before, it carried '', no time at all */
static void
test_r16_1_evidence_of_an_event_without_time_says_when_it_arrived (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("no-time", 2010, 1, 60, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_push_alerts ("sensor", 3, 2010, 1, "");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.evidence e JOIN monitor.incidents i ON i.id ="
                    " e.incident_id WHERE i.rule_id = %" PRIu64, rule);
    Lgwan__V1__IncidentGet get = LGWAN__V1__INCIDENT_GET__INIT;
    get.incident = (uint64_t) rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_id = %"
                                            PRIu64, rule);
    lg_reply_t *reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_INCIDENT_GET, &get);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    const Lgwan__V1__Incident *incident = reply->incident->incident;
    assert_int_equal (incident->n_evidence, 1);
    assert_string_equal (incident->evidence [0]->timestamp, RF_NOW_TEXT);
    assert_string_equal (incident->evidence [0]->timestamp, incident->first_seen);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    s_rule_off (rule);
}

static bool
s_released (void *arg)
{
    uint64_t id = *(uint64_t *) arg;
    char *sql = zsys_sprintf ("SELECT count(*) FROM monitor.connections WHERE id = %" PRIu64
                              " AND NOT active AND cardinality (prefixes) = 0", id);
    bool done = rf_sql_long (sql) == 1;
    zstr_free (&sql);
    return done;
}

/* REQ R16.1: the monitor that hears isolation's Decommissioned before the
   registry's ConnectionActivated (behind on the registry: here it follows
   a registry that is not there, then the real one) keeps the connection
   inactive: its alerts are unattributed. The two streams are not ordered
   between them; the Decommissioned changed no row and was lost, and the
   ConnectionActivated after it made the connection attribute. X.4: the
   saga's lift of the decommission makes it attribute again (it stayed
   inactive for good) */
static void
test_r16_1_decommissioned_before_activated_stays_inactive (void **state)
{
    (void) state;
    uint64_t service = (uint64_t) rf_sqlf_long ("SELECT service_id FROM monitor.connections"
                                                " WHERE id = %" PRIu64, s_conn [1]);
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    lg_test_proc_t away = { .service = "registry" };
    snprintf (away.endpoint, sizeof away.endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    snprintf (away.pub, sizeof away.pub, "tcp://127.0.0.1:%d", lg_test_free_port ());
    s_monitor_start_following (&away);
    uint64_t id = s_conn [0] = s_connection (service, 29, s_prefix [0], sizeof s_prefix [0]);
    Lgwan__V1__Decommission d = LGWAN__V1__DECOMMISSION__INIT;
    d.connection = id;
    s_ok (&s_isolation, "service", LGWAN__V1__REQUEST__BODY_DECOMMISSION, &d);
    rf_wait_sql (1, "SELECT count(*) FROM monitor.connections WHERE id = %" PRIu64
                    " AND NOT active", id);
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    s_monitor_start ();
    rf_wait_sql (1, "SELECT count(*) FROM monitor.connections WHERE id = %" PRIu64
                    " AND service_id = %" PRIu64 " AND cardinality (prefixes) = 1", id, service);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.connections WHERE id = %"
                                    PRIu64 " AND active", id), 0);
    uint64_t unattributed = s_counter ("attribution.unattributed");
    uint64_t attributed = s_counter ("attribution.attributed");
    s_append_alerts (0, 7300, 2, "2027-03-01T00:12:00Z");
    s_wait_counter ("attribution.unattributed", unattributed + 2);
    assert_int_equal (s_counter ("attribution.attributed"), attributed);

    Lgwan__V1__Lift lift = LGWAN__V1__LIFT__INIT;
    lift.connection = id;
    lift.cause = LGWAN__V1__ISOLATION_CAUSE__CAUSE_DECOMMISSION;
    lift.saga = (char *) "saga-monitor-1";
    s_ok (&s_isolation, "service", LGWAN__V1__REQUEST__BODY_LIFT, &lift);
    rf_wait_sql (1, "SELECT count(*) FROM monitor.connections WHERE id = %" PRIu64
                    " AND active", id);
    s_append_alerts (0, 7300, 2, "2027-03-01T00:12:30Z");
    s_wait_counter ("attribution.attributed", attributed + 2);
}

/* REQ R16.1: a released allocation no longer attributes; its alerts are
   counted and sampled as unattributed, never dropped (PacketFence #4187) */
static void
test_r16_1_released_allocation_stops_attributing (void **state)
{
    (void) state;
    uint64_t id = s_conn [3];
    uint64_t attributed = s_counter ("attribution.attributed");
    s_push_alerts ("sensor", 3, 7000, 1, "2027-03-01T00:06:00Z");
    s_wait_counter ("attribution.attributed", attributed + 1);
    //  An incident on it, confirmed only after its release (below)
    uint64_t rule = s_rule ("before-release", 7001, 1, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_push_alerts ("sensor", 3, 7001, 1, "2027-03-01T00:06:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    uint64_t incident = (uint64_t) rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_id = %"
                                                 PRIu64, rule);
    s_rule_off (rule);
    //  Its provider keeps another connection, which the confirmation names
    uint64_t service = (uint64_t) rf_sqlf_long ("SELECT service_id FROM monitor.connections"
                                                " WHERE id = %" PRIu64, id);
    uint64_t prefixes = s_counter ("attribution.prefixes");
    char kept_prefix [64];
    uint64_t kept = s_connection (service, 29, kept_prefix, sizeof kept_prefix);
    s_wait_counter ("attribution.prefixes", prefixes + 1);

    Lgwan__V1__ChangeFile cancel = LGWAN__V1__CHANGE_FILE__INIT;
    cancel.kind = LGWAN__V1__CHANGE_KIND__CHANGE_NOTIFICATION;
    cancel.subject = (char *) "connection";
    cancel.id = id;
    cancel.cancel = true;
    rf_ok (rf_ask ("operator", RF_BODY (CHANGE_FILE), &cancel));
    Lgwan__V1__Decommission d = LGWAN__V1__DECOMMISSION__INIT;
    d.connection = id;
    s_ok (&s_isolation, "service", LGWAN__V1__REQUEST__BODY_DECOMMISSION, &d);
    if (!lg_test_wait_for (s_released, &id, 15000))
        fail_msg ("the monitor never saw connection %" PRIu64 " released", id);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM registry.outbox WHERE body_case = 108"), 1);

    uint64_t unattributed = s_counter ("attribution.unattributed");
    attributed = s_counter ("attribution.attributed");
    s_push_alerts ("sensor", 3, 7000, 2, "2027-03-01T00:07:00Z");
    s_wait_counter ("attribution.unattributed", unattributed + 2);
    assert_int_equal (s_counter ("attribution.attributed"), attributed);
    //  Counted per sensor and kept as samples
    rf_wait_sql (1, "SELECT (count(*) >= 2)::int FROM monitor.unattributed_samples"
                   " WHERE signature_id = 7000 AND sensor = 'ids-west'");
    Lgwan__V1__Unattributed u = LGWAN__V1__UNATTRIBUTED__INIT;
    lg_reply_t *reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_UNATTRIBUTED, &u);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    bool west = false;
    for (size_t i = 0; i < reply->unattributed->n_sensors; i++)
        if (streq (reply->unattributed->sensors [i]->sensor, "ids-west"))
            west = reply->unattributed->sensors [i]->unattributed >= 2;
    assert_true (west);
    assert_true (reply->unattributed->n_samples >= 2);
    lgwan__v1__reply__free_unpacked (reply, NULL);

    //  Confirmed now: the prefix released (the pool may have given it to
    //  another provider) is not among those the orchestrator would isolate;
    //  the provider's other connection's is, and only it. The connections
    //  are the provider's active ones and the incident's own
    Lgwan__V1__IncidentConfirm confirm = LGWAN__V1__INCIDENT_CONFIRM__INIT;
    confirm.incident = incident;
    confirm.isolate = true;
    s_ok (&s_monitor, "operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CONFIRM, &confirm);
    lg_event_t *event = s_last_confirmed ();
    const Lgwan__V1__IncidentConfirmed *confirmed = event->incident_confirmed;
    assert_int_equal (confirmed->incident, incident);
    assert_int_equal (confirmed->n_connections, 2);
    assert_int_equal (confirmed->connections [0], kept);
    assert_int_equal (confirmed->connections [1], id);
    assert_int_equal (confirmed->n_prefixes, 1);
    assert_string_equal (confirmed->prefixes [0], kept_prefix);
    assert_string_not_equal (kept_prefix, s_prefix [3]);
    lgwan__v1__event__free_unpacked (event, NULL);
    //  Per-minute counts of an attributed connection, by query
    Lgwan__V1__ConnectionCounts counts = LGWAN__V1__CONNECTION_COUNTS__INIT;
    counts.connection = s_conn [1];
    counts.minutes = 1440;
    reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_CONNECTION_COUNTS, &counts);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_true (reply->connection_counts->n_minutes >= 1);
    lgwan__v1__reply__free_unpacked (reply, NULL);
}

/* REQ R16.1: counts per connection and minute are held between writes
   (LG_MONITOR_COUNTS_MS) and written at stop: a monitor stopped before its
   next write loses none */
static void
test_r16_1_minute_counts_written_at_stop (void **state)
{
    (void) state;
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    s_counts_ms = "LG_MONITOR_COUNTS_MS=600000";
    s_monitor_start ();
#define SUM_OF_CONN_2 "SELECT coalesce (sum (events), 0) FROM monitor.minute_counts" \
                      " WHERE connection_id = %" PRIu64, s_conn [2]
    long before = rf_sqlf_long (SUM_OF_CONN_2);
    uint64_t attributed = s_counter ("attribution.attributed");
    s_append_alerts (2, 2999, 3, "2027-03-01T00:09:00Z");
    s_wait_counter ("attribution.attributed", attributed + 3);
    //  Taken, and the sensor counts written (every LG_MONITOR_FLUSH_MS), but
    //  not yet the minute counts
    zclock_sleep (600);
    assert_int_equal (rf_sqlf_long (SUM_OF_CONN_2), before);
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    assert_int_equal (rf_sqlf_long (SUM_OF_CONN_2), before + 3);
#undef SUM_OF_CONN_2
    s_counts_ms = "LG_MONITOR_COUNTS_MS=200";
    s_monitor_start ();
}

/* REQ R16.1: the incidents are read page by page, newest first, all of
   them or one connection's; none is left out */

typedef struct {
    uint64_t connection;                //  0: all
    uint32_t limit;
    uint64_t last;                      //  the last incident listed
} s_incidents_t;

//  One page of IncidentList (lg_test_pages)
static uint64_t
s_incident_page (void *arg, uint64_t after, size_t *items, uint64_t *last_id)
{
    s_incidents_t *l = (s_incidents_t *) arg;
    Lgwan__V1__IncidentList q = LGWAN__V1__INCIDENT_LIST__INIT;
    q.connection = l->connection;
    q.after_id = after;
    q.limit = l->limit;
    lg_reply_t *reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_INCIDENT_LIST, &q);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    Lgwan__V1__IncidentListReply *page = reply->incident_list;
    assert_true (page->n_incidents <= (l->limit? l->limit: 100));
    for (size_t i = 0; i < page->n_incidents; i++) {
        assert_true (page->incidents [i]->id < l->last);        //  newest first
        *last_id = l->last = page->incidents [i]->id;
        if (l->connection)
            assert_int_equal (page->incidents [i]->connection, l->connection);
    }
    *items = page->n_incidents;
    uint64_t next = page->next_after_id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    return next;
}

//  Every page of IncidentList of connection (0: all), limit at a time; how many
static long
s_incident_pages (uint64_t connection, uint32_t limit)
{
    s_incidents_t list = { connection, limit, UINT64_MAX };
    return lg_test_pages (s_incident_page, &list);
}

static void
test_r16_1_incident_list_pages (void **state)
{
    (void) state;
    long total = rf_sqlf_long ("SELECT count(*) FROM monitor.incidents");
    assert_true (total >= 2);
    assert_int_equal (s_incident_pages (0, 1), total);
    assert_int_equal (s_incident_pages (0, 0), total);     //  the default page
    assert_int_equal (s_incident_pages (s_conn [1], 1),
                      rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE connection_id = %"
                                    PRIu64, s_conn [1]));

    //  A page larger than 1000 is refused
    Lgwan__V1__IncidentList q = LGWAN__V1__INCIDENT_LIST__INIT;
    q.limit = 1001;
    lg_reply_t *reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_INCIDENT_LIST, &q);
    assert_non_null (strstr (reply->status->message, "at most 1000"));
    rf_refused (reply, RF_CODE (INVALID_ARGUMENT), "X.3");
}

/* REQ R16.1: no more rules are enabled than the intake applies (1,024): a
   rule more is refused and changes nothing, until one is disabled. One
   enabled by hand past the limit is named in the log, not silently dropped */
static void
test_r16_1_rules_past_the_intake_refused (void **state)
{
    (void) state;
    long enabled = rf_sqlf_long ("SELECT count(*) FROM monitor.rules WHERE enabled");
    assert_true (enabled < 1024);
    //  Fillers that match nothing: no category or signature of ours
    assert_int_equal (rf_sqlf_long ("WITH f AS (INSERT INTO monitor.rules (name, category,"
                                    " window_seconds, threshold, action, updated_at, updated_by)"
                                    " SELECT 'filler-' || g, 'no-such-category', 60, 1000, 1, now (),"
                                    " 'test' FROM generate_series (1, %ld) g RETURNING 1)"
                                    " SELECT count(*) FROM f", 1024 - enabled), 1024 - enabled);
    long rules = rf_sqlf_long ("SELECT count(*) FROM monitor.rules");
    long events = rf_sqlf_long ("SELECT count(*) FROM monitor.outbox");

    Lgwan__V1__Rule rule = LGWAN__V1__RULE__INIT;
    rule.name = (char *) "one-too-many";
    rule.category = (char *) "no-such-category";
    rule.threshold = 5;
    rule.window_seconds = 60;
    rule.action = LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT;
    Lgwan__V1__RuleSet set = LGWAN__V1__RULE_SET__INIT;
    set.rule = &rule;
    lg_reply_t *reply = s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set);
    assert_non_null (strstr (reply->status->message, "disable one first"));
    rf_refused (reply, RF_CODE (FAILED_PRECONDITION), "R16.1");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.rules"), rules);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.outbox"), events);

    //  Replacing one that is enabled is no rule more
    uint64_t filler = (uint64_t) rf_sqlf_long ("SELECT min(id) FROM monitor.rules"
                                              " WHERE name LIKE 'filler-%%'");
    rule.id = filler;
    rule.name = (char *) "filler-replaced";
    rf_ok (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set));

    //  One disabled: room for one
    Lgwan__V1__RuleDisable off = LGWAN__V1__RULE_DISABLE__INIT;
    off.rule = filler;
    rf_ok (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_DISABLE, &off));
    rule.id = 0;
    rule.name = (char *) "one-too-many";
    rf_ok (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set));
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.rules WHERE enabled"), 1024);

    //  Past the limit by hand: the next reload names the first left out
    assert_int_equal (rf_sqlf_long ("WITH f AS (UPDATE monitor.rules SET enabled = true"
                                    " WHERE id = %" PRIu64 " RETURNING 1) SELECT count(*) FROM f",
                                    filler), 1);
    rule.id = filler + 1;
    rule.name = (char *) "filler-touched";
    rf_ok (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set));
    char *last = zsys_sprintf ("rule %ld and those after it are not applied",
                               rf_sqlf_long ("SELECT max(id) FROM monitor.rules WHERE enabled"));
    for (int i = 0; i < 100 && lg_test_log_count (s_monitor.pid, last) == 0; i++)
        zclock_sleep (50);
    assert_int_equal (lg_test_log_count (s_monitor.pid, last), 1);
    zstr_free (&last);

    //  Later tests see the rules as they were
    rf_sqlf_long ("WITH d AS (DELETE FROM monitor.rules WHERE name LIKE 'filler-%%'"
                  " OR name = 'one-too-many' RETURNING 1) SELECT count(*) FROM d");
}

/* REQ X.3: a sensor event whose signature_id is past a bigint (2^63 or
   more, where it is stored) is malformed: counted, logged with why, and
   the rest of its frame is taken. It was taken, and as evidence of the
   incident its five neighbours opened it failed the frame's whole
   transaction: no incident, while the log and Stats said one opened */
static void
test_x3_signature_id_past_bigint_refused_rest_of_frame_taken (void **state)
{
    (void) state;
    Lgwan__V1__Rule r = LGWAN__V1__RULE__INIT;
    r.name = (char *) "bigint-neighbours";
    r.category = (char *) "Attempted Administrator Privilege Gain";
    r.threshold = 5;
    r.window_seconds = 60;
    r.action = LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT_AND_ISOLATE;
    Lgwan__V1__RuleSet set = LGWAN__V1__RULE_SET__INIT;
    set.rule = &r;
    lg_reply_t *reply = s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_SET, &set);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    uint64_t rule = reply->rule->rule->id;
    lgwan__v1__reply__free_unpacked (reply, NULL);
    uint64_t events = s_counter ("intake.events_sensor");
    uint64_t malformed = s_counter ("intake.malformed");
    uint64_t opened = s_counter ("incidents.opened");
    const char *why = "event 6: signature_id out of range (0..9223372036854775807)";
    long logged = lg_test_log_count (s_monitor.pid, why);
    char host [80];
    s_host (2, host, sizeof host);
    const uint64_t signatures [] = { 8807, 8807, 8807, 8807, 8807, 9223372036854775808ULL };
    s_push_events ("sensor", host, "10.20.30.41", signatures, 6, "2027-03-01T00:12:00Z");
    s_wait_counter ("intake.malformed", malformed + 1);
    s_wait_counter ("intake.events_sensor", events + 5);
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                    " AND status = 'confirmed' AND connection_id = %" PRIu64, rule, s_conn [2]);
    s_wait_counter ("incidents.opened", opened + 1);
    assert_int_equal (s_counter ("intake.events_sensor"), events + 5);
    assert_int_equal (lg_test_log_count (s_monitor.pid, why), logged + 1);
    s_rule_off (rule);
}

/* REQ R16.1: an incident is said to have opened (its log line, Stats
   incidents.opened) only once its transaction committed. A write that
   failed after the incident's INSERT (here its evidence, refused by a
   check the test adds) rolled the incident back, yet the monitor had
   logged and counted it as opened */
static void
test_r16_1_incident_opened_told_after_commit (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("told-after-commit", 8808, 2, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    PGconn *admin = PQconnectdb (rf.admin);
    PGresult *res = PQexec (admin, "ALTER TABLE monitor.evidence ADD CONSTRAINT test_no_8808"
                                   " CHECK (signature_id <> 8808) NOT VALID");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    const char *failed = "incident changes: the next events try again";
    long failures = lg_test_log_count (s_monitor.pid, failed);
    long told = lg_test_log_count (s_monitor.pid, "(told-after-commit)");
    uint64_t opened = s_counter ("incidents.opened");
    s_push_alerts ("sensor", 1, 8808, 2, "2027-03-01T00:13:00Z");
    for (int i = 0; i < 100 && lg_test_log_count (s_monitor.pid, failed) == failures; i++)
        zclock_sleep (100);
    bool rolled_back = lg_test_log_count (s_monitor.pid, failed) > failures;
    long told_then = lg_test_log_count (s_monitor.pid, "(told-after-commit)");
    uint64_t opened_then = s_counter ("incidents.opened");
    res = PQexec (admin, "ALTER TABLE monitor.evidence DROP CONSTRAINT test_no_8808");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    PQfinish (admin);
    assert_true (rolled_back);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, rule), 0);
    assert_int_equal (opened_then, opened);
    assert_int_equal (told_then, told);
    //  The burst was kept: the next event opens it, and that is told
    s_push_alerts ("sensor", 1, 8808, 1, "2027-03-01T00:13:10Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    s_wait_counter ("incidents.opened", opened + 1);
    assert_int_equal (lg_test_log_count (s_monitor.pid, "(told-after-commit)"), told + 1);
    s_rule_off (rule);
}

/* REQ R16.1: an event dated ahead of the monitor's clock (within the hour
   it believes) does not blind its window: a sensor whose clock runs ten
   minutes ahead reports one event, and the burst another sensor reports at
   the right time opens the incident. The window counted the event at its
   own time and moved its head ten minutes on, so every event of the right
   time was "older than the window" and nothing opened. The incident keeps
   each event's own time (first_seen, last_seen), at most the monitor's
   (test_r16_1_an_incident_is_never_first_seen_after_it_opened) */
static void
test_r16_1_event_dated_ahead_does_not_blind_its_window (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("clock-ahead", 8809, 5, 60, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t events = s_counter ("intake.events_sensor");
    s_push_alerts ("sensor", 1, 8809, 1, "2027-03-01T00:10:00Z");
    s_wait_counter ("intake.events_sensor", events + 1);
    //  The monitor's clock is 2027-03-01T00:00:00Z: ten seconds behind it
    s_append_alerts (1, 8809, 5, "2027-02-28T23:59:50Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                    " AND connection_id = %" PRIu64, rule, s_conn [1]);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                                    " AND first_seen = '2027-02-28T23:59:50Z'", rule), 1);
    //  Attached later, ahead: last_seen is ours, not a time to come
    s_append_alerts (1, 8809, 1, "2027-03-01T00:40:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                    " AND last_seen = '2027-03-01T00:00:00Z' AND event_count = 7", rule);
    s_rule_off (rule);
}

/* REQ R16.1: an event is its source's: it is attributed to the active
   connection holding its source address, and to the destination's only
   when the source is no connection's. The longer of the two prefixes won,
   so an attack from a connection's /28 on another provider's /29 was
   blamed on the victim (with an incident_and_isolate rule, its provider
   would have been cut off) */
static void
test_r16_1_attributed_to_the_source_before_the_destination (void **state)
{
    (void) state;
    uint64_t service = (uint64_t) rf_sqlf_long ("SELECT service_id FROM monitor.connections"
                                                " WHERE id = %" PRIu64, s_conn [3]);
    uint64_t prefixes = s_counter ("attribution.prefixes");
    char prefix [64];
    uint64_t victim = s_connection (service, 29, prefix, sizeof prefix);
    s_wait_counter ("attribution.prefixes", prefixes + 1);
    uint64_t rule = s_rule ("blame-the-source", 8810, 1, 60, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    char attacker [80], target [80];
    s_host (1, attacker, sizeof attacker);
    s_host_in (prefix, target, sizeof target);
    const uint64_t signatures [] = { 8810 };
    s_push_events ("sensor", attacker, target, signatures, 1, "2027-03-01T00:14:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                                    " AND connection_id = %" PRIu64, rule, s_conn [1]), 1);
    //  From outside every connection: the destination's
    s_push_events ("sensor", "203.0.113.9", target, signatures, 1, "2027-03-01T00:14:10Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                    " AND connection_id = %" PRIu64, rule, victim);
    s_rule_off (rule);
}

/* REQ R16.1: a followed file truncated and written again past the offset
   it was read to, between two polls (copytruncate, then a burst), is read
   from its start, counted as a rotation. It was seen as truncated only at
   the end of a read and only when shorter: reading went on from the old
   offset, in the middle of a line (counted malformed), and the lines
   before it were lost */
static void
test_r16_1_followed_file_rewritten_past_its_offset (void **state)
{
    (void) state;
    uint64_t eve = s_counter ("intake.events_eve");
    uint64_t malformed = s_counter ("intake.malformed");
    uint64_t rotations = s_counter ("intake.eve_rotations");
    s_append_alerts (3, 9903, 10, "2027-03-01T00:15:00Z");
    s_wait_counter ("intake.events_eve", eve + 10);
    //  Truncated and written again in one write, longer than before
    zchunk_t *all = zchunk_new (NULL, 0);
    for (int i = 0; i < 60; i++) {
        char *line = s_eve_line (3, 9903, "Misc activity", 3, "2027-03-01T00:15:01Z");
        zchunk_extend (all, line, strlen (line));
        zstr_free (&line);
    }
    int fd = open (s_eve_file, O_WRONLY | O_TRUNC);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, zchunk_data (all), zchunk_size (all)), (ssize_t) zchunk_size (all));
    close (fd);
    zchunk_destroy (&all);
    s_wait_counter ("intake.events_eve", eve + 70);
    s_wait_counter ("intake.eve_rotations", rotations + 1);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), eve + 70);
    assert_int_equal (s_counter ("intake.malformed"), malformed);
}

/* REQ R16.1: a monitor restarted after the followed file was rotated
   (renamed to <file>.1, logrotate's name, and started again) reads the
   rest of the old file first, then the new one: nothing skipped, nothing
   read twice. It resumed only on the same inode, so the lines written to
   the old file after the last read were lost */
static void
test_r16_1_restart_finishes_the_rotated_file (void **state)
{
    (void) state;
    s_append_alerts (2, 9904, 2, "2027-03-01T00:16:00Z");
    struct stat st;
    assert_int_equal (stat (s_eve_file, &st), 0);
    rf_wait_sql ((long) st.st_size, "SELECT read_offset FROM monitor.eve_files");
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    //  While it is stopped: three more lines, the rotation, four in the new file
    s_append_alerts (2, 9904, 3, "2027-03-01T00:16:01Z");
    char *old = zsys_sprintf ("%s.1", s_eve_file);
    assert_int_equal (rename (s_eve_file, old), 0);
    s_append_alerts (2, 9904, 4, "2027-03-01T00:16:02Z");
    s_monitor_start ();
    s_wait_counter ("intake.events_eve", 7);
    s_wait_counter ("intake.eve_rotations", 1);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), 7);
    assert_int_equal (s_counter ("intake.malformed"), 0);
    unlink (old);
    zstr_free (&old);
}

/* REQ R16.1: a monitor restarted after the followed file was rotated twice
   while it was stopped (the file read is <file>.2 now, and <file>.1 was
   never read) reads the rest of <file>.2, then <file>.1 and the file at
   the path from their starts: nothing skipped, nothing read twice. Only
   <file>.1 was looked for, so the unread end of the old file and all of
   <file>.1 were lost */
static void
test_r16_1_restart_finishes_files_rotated_twice (void **state)
{
    (void) state;
    s_append_alerts (2, 9906, 2, "2027-03-01T00:16:40Z");
    struct stat st;
    assert_int_equal (stat (s_eve_file, &st), 0);
    rf_wait_sql ((long) st.st_size, "SELECT read_offset FROM monitor.eve_files");
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    //  While it is stopped: three more lines, a rotation, four lines, a
    //  rotation, five lines
    char *first = zsys_sprintf ("%s.1", s_eve_file);
    char *second = zsys_sprintf ("%s.2", s_eve_file);
    s_append_alerts (2, 9906, 3, "2027-03-01T00:16:41Z");
    assert_int_equal (rename (s_eve_file, first), 0);
    s_append_alerts (2, 9906, 4, "2027-03-01T00:16:42Z");
    assert_int_equal (rename (first, second), 0);
    assert_int_equal (rename (s_eve_file, first), 0);
    s_append_alerts (2, 9906, 5, "2027-03-01T00:16:43Z");
    s_monitor_start ();
    s_wait_counter ("intake.events_eve", 12);
    s_wait_counter ("intake.eve_rotations", 2);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), 12);
    assert_int_equal (s_counter ("intake.eve_rotations"), 2);
    assert_int_equal (s_counter ("intake.malformed"), 0);
    unlink (first);
    unlink (second);
    zstr_free (&first);
    zstr_free (&second);
}

/* REQ R16.1: a monitor restarted after the followed file was truncated
   and written again past the offset it was read to (copytruncate while it
   was stopped, then more than was read) reads the file from its start,
   counted as a rotation: the file's first bytes are kept with its offset.
   They were kept in memory only, so a restarted monitor read on from the
   old offset, in the middle of a line (counted malformed), and the lines
   before it were lost */
static void
test_r16_1_restart_sees_the_file_rewritten_while_stopped (void **state)
{
    (void) state;
    s_append_alerts (2, 9905, 2, "2027-03-01T00:16:30Z");
    struct stat st;
    assert_int_equal (stat (s_eve_file, &st), 0);
    rf_wait_sql ((long) st.st_size, "SELECT read_offset FROM monitor.eve_files");
    assert_int_equal (lg_test_proc_stop (&s_monitor, SIGTERM), 0);
    assert_int_equal (truncate (s_eve_file, 0), 0);
    s_append_alerts (3, 9905, 12, "2027-03-01T00:16:31Z");
    struct stat rewritten;
    assert_int_equal (stat (s_eve_file, &rewritten), 0);
    assert_int_equal (rewritten.st_ino, st.st_ino);
    assert_true (rewritten.st_size > st.st_size);
    s_monitor_start ();
    s_wait_counter ("intake.events_eve", 12);
    s_wait_counter ("intake.eve_rotations", 1);
    zclock_sleep (300);
    assert_int_equal (s_counter ("intake.events_eve"), 12);
    assert_int_equal (s_counter ("intake.malformed"), 0);
}

/* REQ R16.1: no evidence is written to a closed incident. A close the
   reactor has not heard of yet (a request worker's before its
   IncidentClosed is published, another replica's before the next look;
   here the table changed by hand, which nothing publishes) left the
   window attached: its next events were written as evidence of the closed
   incident */
static void
test_r16_1_no_evidence_for_a_closed_incident (void **state)
{
    (void) state;
    uint64_t closed = s_rule ("closed-behind", 8811, 1, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t marker = s_rule ("closed-marker", 8812, 1, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_push_alerts ("sensor", 1, 8811, 1, "2027-03-01T00:17:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.evidence e JOIN monitor.incidents i"
                    " ON i.id = e.incident_id WHERE i.rule_id = %" PRIu64, closed);
    long incident = rf_sqlf_long ("SELECT id FROM monitor.incidents WHERE rule_id = %" PRIu64, closed);
    assert_int_equal (rf_sqlf_long ("WITH c AS (UPDATE monitor.incidents SET status = 'closed',"
                                    " closed_at = now (), closed_by = 'test', close_reason = 'test'"
                                    " WHERE id = %ld RETURNING 1) SELECT count(*) FROM c", incident), 1);
    //  Two events of the closed incident's window, then one that opens
    //  another: the same write, committed when the second incident is seen
    char host [80];
    s_host (1, host, sizeof host);
    const uint64_t signatures [] = { 8811, 8811, 8812 };
    s_push_events ("sensor", host, "10.20.30.41", signatures, 3, "2027-03-01T00:17:10Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.evidence e JOIN monitor.incidents i"
                    " ON i.id = e.incident_id WHERE i.rule_id = %" PRIu64, marker);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.evidence WHERE incident_id = %ld",
                                    incident), 1);
    s_rule_off (closed);
    s_rule_off (marker);
}

/* REQ R16.1: an event older than its window's span (a later one, from a
   sensor whose clock is ahead, moved the window past it) is counted apart,
   detection.too_old, not silently. It was counted as matched and then
   nowhere: a burst that a sensor behind the others reported opened
   nothing, and nothing said so */
static void
test_r16_1_events_older_than_the_window_are_counted (void **state)
{
    (void) state;
    rf_set_clock ("2027-03-01T03:00:00Z");
    uint64_t rule = s_rule ("too-old", 8814, 3, 60, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t too_old = s_counter ("detection.too_old");
    uint64_t matched = s_counter ("detection.matched");
    s_push_alerts ("sensor", 1, 8814, 1, "2027-03-01T03:00:00Z");
    s_wait_counter ("detection.matched", matched + 1);
    //  Ten minutes behind: past the window the first moved
    s_push_alerts ("sensor", 1, 8814, 5, "2027-03-01T02:50:00Z");
    s_wait_counter ("detection.too_old", too_old + 5);
    assert_int_equal (s_counter ("detection.matched"), matched + 6);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, rule), 0);
    s_rule_off (rule);
    rf_set_clock (RF_TODAY_UTC);
}

/* REQ R16.1: an incident's first_seen is the oldest event of the burst
   still in the window when it opened. Threshold 5 in 60 s, events at
   02:58:00, :30, :50, 02:59:01, :10, :20: the first leaves the window with
   the fourth, and the incident opens with the sixth, first seen at
   02:58:30. It said 02:59:01, the event that pushed the first out */
static void
test_r16_1_first_seen_is_the_oldest_event_in_the_window (void **state)
{
    (void) state;
    rf_set_clock ("2027-03-01T03:10:00Z");
    uint64_t rule = s_rule ("first-seen", 8815, 5, 60, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    const char *times [] = { "2027-03-01T02:58:00Z", "2027-03-01T02:58:30Z",
                             "2027-03-01T02:58:50Z", "2027-03-01T02:59:01Z",
                             "2027-03-01T02:59:10Z", "2027-03-01T02:59:20Z" };
    uint64_t matched = s_counter ("detection.matched");
    for (size_t i = 0; i < 6; i++) {
        s_push_alerts ("sensor", 1, 8815, 1, times [i]);
        s_wait_counter ("detection.matched", matched + i + 1);
    }
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    char *sql = zsys_sprintf ("SELECT to_char (first_seen AT TIME ZONE 'UTC',"
                              " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM monitor.incidents"
                              " WHERE rule_id = %" PRIu64, rule);
    char *first = rf_sql_text (sql);
    assert_non_null (first);
    assert_string_equal (first, "2027-03-01T02:58:30Z");
    free (first);
    zstr_free (&sql);
    s_rule_off (rule);
    rf_set_clock (RF_TODAY_UTC);
}

/* REQ R16.1: one alert delivered twice (the same EVE line over the socket
   and from the followed file, or the same line twice in the file) counts
   once toward its rule's threshold; the repeats are counted apart,
   detection.duplicates. Each delivery counted, so two alerts delivered
   four times crossed a threshold of 3 and opened the incident (with
   incident_and_isolate, confirmed for isolation) */
static void
test_r16_1_an_alert_delivered_twice_counts_once (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("counted-once", 8818, 3, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t matched = s_counter ("detection.matched");
    uint64_t duplicates = s_counter ("detection.duplicates");
    char *first = s_eve_line (1, 8818, "Misc activity", 1, "2027-03-01T00:18:00.250000Z");
    char *second = s_eve_line (1, 8818, "Misc activity", 1, "2027-03-01T00:18:01.250000Z");
    s_send_socket (first, strlen (first));
    s_wait_counter ("detection.matched", matched + 1);
    s_append_file (first);
    s_append_file (second);
    s_append_file (second);
    s_wait_counter ("detection.matched", matched + 4);
    zclock_sleep (500);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, rule), 0);
    assert_int_equal (s_counter ("detection.duplicates"), duplicates + 2);
    //  A third alert crosses the threshold; the incident counts three
    s_append_alerts (1, 8818, 1, "2027-03-01T00:18:02Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                    " AND event_count = 3", rule);
    zstr_free (&first);
    zstr_free (&second);
    s_rule_off (rule);
}

/* REQ R16.1: a repeat of an alert counts once also once its incident is
   open: it adds nothing to the incident's event_count or evidence, and is
   counted as detection.duplicates. Only the window before the threshold
   knew repeats: the events attached to an open incident were all added,
   so three alerts after the open, two of them repeats, made event_count 6
   of 4 alerts and wrote the evidence of two alerts twice */
static void
test_r16_1_repeats_attach_nothing_to_an_open_incident (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("attached-once", 8831, 3, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t matched = s_counter ("detection.matched");
    uint64_t duplicates = s_counter ("detection.duplicates");
    s_append_alerts (1, 8831, 2, "2027-02-28T23:55:01Z");
    char *third = s_eve_line (1, 8831, "Misc activity", 1, "2027-02-28T23:55:03Z");
    char *fourth = s_eve_line (1, 8831, "Misc activity", 1, "2027-02-28T23:55:04Z");
    s_append_file (third);
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                    " AND event_count = 3", rule);
    //  One more alert, then it and the one that crossed again
    s_append_file (fourth);
    s_append_file (fourth);
    s_append_file (third);
    s_wait_counter ("detection.matched", matched + 6);
    zclock_sleep (600);
    assert_int_equal (rf_sqlf_long ("SELECT event_count FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, rule), 4);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.evidence e JOIN monitor.incidents i"
                                    " ON i.id = e.incident_id WHERE i.rule_id = %" PRIu64, rule), 2);
    assert_int_equal (s_counter ("detection.duplicates"), duplicates + 2);
    zstr_free (&third);
    zstr_free (&fourth);
    s_rule_off (rule);
}

/* REQ R16.1: a rule's window is exact: two events less than the window
   apart count together, two as far apart as the window do not. Window
   32 s, threshold 2: events 31.2 s apart open the incident. Counted in 32
   buckets of 1 s, the first (at .9 s into its second) had left with its
   bucket when the second came 32 buckets on, and nothing opened */
static void
test_r16_1_window_counts_events_less_than_its_span_apart (void **state)
{
    (void) state;
    rf_set_clock ("2027-03-01T04:00:00Z");
    uint64_t within = s_rule ("window-within", 8819, 2, 32, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t apart = s_rule ("window-apart", 8820, 2, 32, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    uint64_t matched = s_counter ("detection.matched");
    s_append_alerts (1, 8820, 1, "2027-03-01T03:50:00Z");
    s_append_alerts (1, 8820, 1, "2027-03-01T03:50:32Z");
    s_append_alerts (1, 8819, 1, "2027-03-01T03:50:00.900000Z");
    s_append_alerts (1, 8819, 1, "2027-03-01T03:50:32.100000Z");
    s_wait_counter ("detection.matched", matched + 4);
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                    " AND first_seen = '2027-03-01T03:50:00.9Z'", within);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %"
                                    PRIu64, apart), 0);
    s_rule_off (within);
    s_rule_off (apart);
}

/* REQ R16.1: the unattributed samples are the latest events no connection
   matched: a burst of 40 in one flush is kept whole, and Unattributed
   shows its last event first; of a burst of 1,010, the last 1,000. Only the first 32 of a flush were kept, so
   the end of a burst, the latest events, was never sampled */
static void
test_r16_1_unattributed_samples_are_the_latest (void **state)
{
    (void) state;
    uint64_t signatures [40];
    for (int i = 0; i < 40; i++)
        signatures [i] = 9100 + (uint64_t) i;
    uint64_t unattributed = s_counter ("attribution.unattributed");
    s_push_events ("sensor", "203.0.113.9", "10.20.30.41", signatures, 40, "2027-03-01T00:19:00Z");
    s_wait_counter ("attribution.unattributed", unattributed + 40);
    rf_wait_sql (40, "SELECT count(*) FROM monitor.unattributed_samples"
                     " WHERE signature_id BETWEEN 9100 AND 9139");
    Lgwan__V1__Unattributed u = LGWAN__V1__UNATTRIBUTED__INIT;
    u.limit = 1;
    lg_reply_t *reply = s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_UNATTRIBUTED, &u);
    rf_expect (reply, LGWAN__V1__CODE__OK, NULL);
    assert_int_equal (reply->unattributed->n_samples, 1);
    assert_int_equal (reply->unattributed->samples [0]->signature_id, 9139);
    lgwan__v1__reply__free_unpacked (reply, NULL);
    //  A burst of 1,010: its latest 1,000 are kept, in memory and in the table
    uint64_t *burst = (uint64_t *) calloc (1010, sizeof (uint64_t));
    for (int i = 0; i < 1010; i++)
        burst [i] = 20000 + (uint64_t) i;
    s_push_events ("sensor", "203.0.113.9", "10.20.30.41", burst, 1010, "2027-03-01T00:19:01Z");
    free (burst);
    s_wait_counter ("attribution.unattributed", unattributed + 1050);
    rf_wait_sql (1000, "SELECT count(*) FROM monitor.unattributed_samples"
                       " WHERE signature_id BETWEEN 20010 AND 21009");
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.unattributed_samples"), 1000);
}

/* REQ R16.1: an incident of events dated ahead of the monitor's clock (a
   sensor whose clock runs 20 minutes ahead) is first and last seen at the
   monitor's time, never after it opened; its evidence keeps the time the
   sensor wrote. Within the hour the monitor believes, the events' own
   times were kept, so the incident was first seen 20 minutes after its
   opened_at */
static void
test_r16_1_an_incident_is_never_first_seen_after_it_opened (void **state)
{
    (void) state;
    uint64_t rule = s_rule ("seen-ahead", 8821, 2, 600, LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT);
    s_append_alerts (1, 8821, 2, "2027-03-01T00:20:00Z");
    rf_wait_sql (1, "SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64, rule);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.incidents WHERE rule_id = %" PRIu64
                                    " AND first_seen <= opened_at AND last_seen <= opened_at"
                                    " AND first_seen = '2027-03-01T00:00:00Z'", rule), 1);
    assert_int_equal (rf_sqlf_long ("SELECT count(*) FROM monitor.evidence e JOIN monitor.incidents i"
                                    " ON i.id = e.incident_id WHERE i.rule_id = %" PRIu64
                                    " AND e.at = '2027-03-01T00:20:00Z'", rule), 1);
    s_rule_off (rule);
}

/* REQ R16.1: 64 senders that connect to the EVE socket and say nothing
   do not lock out the IDS: a 65th sender closes the one idle longest and
   its lines are taken; a sender that spoke since keeps its connection.
   The 65th was refused (closed at once), its alerts lost for as long as
   the idle ones stayed */
static void
test_r16_1_idle_eve_senders_do_not_lock_out_a_sender (void **state)
{
    (void) state;
    int idle [64];
    for (int i = 0; i < 64; i++)
        idle [i] = s_socket_open ();
    uint64_t eve = s_counter ("intake.events_eve");
    uint64_t closed = s_counter ("intake.eve_idle_closed");
    //  The first speaks: the one idle longest is another
    zclock_sleep (100);
    char *line = s_eve_line (1, 9996, "Misc activity", 3, "2027-03-01T00:20:00Z");
    assert_int_equal (send (idle [0], line, strlen (line), MSG_NOSIGNAL), (ssize_t) strlen (line));
    zstr_free (&line);
    s_wait_counter ("intake.events_eve", eve + 1);
    //  The IDS connects: its line is taken (sent without SIGPIPE, since the
    //  old code closed it)
    int ids = s_socket_open ();
    line = s_eve_line (1, 9996, "Misc activity", 3, "2027-03-01T00:20:01Z");
    send (ids, line, strlen (line), MSG_NOSIGNAL);
    zstr_free (&line);
    s_wait_counter ("intake.events_eve", eve + 2);
    assert_int_equal (s_counter ("intake.eve_idle_closed"), closed + 1);
    //  The first sender is still heard
    line = s_eve_line (1, 9996, "Misc activity", 3, "2027-03-01T00:20:02Z");
    assert_int_equal (send (idle [0], line, strlen (line), MSG_NOSIGNAL), (ssize_t) strlen (line));
    zstr_free (&line);
    s_wait_counter ("intake.events_eve", eve + 3);
    close (ids);
    for (int i = 0; i < 64; i++)
        close (idle [i]);
}

/* REQ R16.1: every request of the monitor that carries an id (or a
   signature id: every uint64 of its requests, stored as bigint) refuses
   one past a bigint INVALID_ARGUMENT naming R16.1 and the field, and
   changes nothing; RuleDisable, RuleGet, AllowlistRemove and the incident
   requests took it to SQL, where the cast failed */
static void
test_r16_1_every_request_refuses_ids_past_bigint (void **state)
{
    (void) state;
    static const lg_test_id_request_t requests [] = {
        { "rule_set", "operator", "R16.1" },
        { "rule_get", "viewer", "R16.1" },
        { "rule_disable", "operator", "R16.1" },
        { "allowlist_add", "operator", "R16.1" },
        { "allowlist_remove", "operator", "R16.1" },
        { "incident_list", "viewer", "R16.1" },
        { "incident_get", "viewer", "R16.1" },
        { "incident_confirm", "operator", "R16.1" },
        { "incident_close", "operator", "R16.1" },
        { "connection_counts", "viewer", "R16.1" },
        { NULL }
    };
    assert_true (lg_test_ids_past_bigint (&s_monitor, rf.admin, rf.certs, 400, 499, requests) > 0);
    //  The largest id is one: there is no such row, as before
    Lgwan__V1__RuleGet get = LGWAN__V1__RULE_GET__INIT;
    get.rule = INT64_MAX;
    rf_refused (s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_RULE_GET, &get),
                LGWAN__V1__CODE__NOT_FOUND, "");
    Lgwan__V1__RuleDisable disable = LGWAN__V1__RULE_DISABLE__INIT;
    disable.rule = INT64_MAX;
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_RULE_DISABLE, &disable),
                LGWAN__V1__CODE__NOT_FOUND, "");
    Lgwan__V1__AllowlistRemove remove = LGWAN__V1__ALLOWLIST_REMOVE__INIT;
    remove.entry = INT64_MAX;
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_ALLOWLIST_REMOVE, &remove),
                LGWAN__V1__CODE__NOT_FOUND, "");
    Lgwan__V1__IncidentGet incident = LGWAN__V1__INCIDENT_GET__INIT;
    incident.incident = INT64_MAX;
    rf_refused (s_monitor_ask ("viewer", LGWAN__V1__REQUEST__BODY_INCIDENT_GET, &incident),
                LGWAN__V1__CODE__NOT_FOUND, "");
    Lgwan__V1__IncidentClose close = LGWAN__V1__INCIDENT_CLOSE__INIT;
    close.incident = INT64_MAX;
    rf_refused (s_monitor_ask ("operator", LGWAN__V1__REQUEST__BODY_INCIDENT_CLOSE, &close),
                LGWAN__V1__CODE__NOT_FOUND, "");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_r16_1_eve_threshold_opens_one_confirmed_incident),
        cmocka_unit_test (test_r16_1_ids_past_bigint_refused),
        cmocka_unit_test (test_r16_1_x1_rule_and_entry_refusals_name_their_rule),
        cmocka_unit_test (test_r16_1_allowlist_until_expiry),
        cmocka_unit_test (test_r16_1_restart_mid_burst_no_duplicate),
        cmocka_unit_test (test_r16_1_crash_before_the_offset_is_saved_counts_nothing_twice),
        cmocka_unit_test (test_r16_1_operator_confirms_and_closes),
        cmocka_unit_test (test_x3_bad_input_counted_never_stops_intake),
        cmocka_unit_test (test_x3_oversized_sensor_frame_counted),
        cmocka_unit_test (test_x3_sensor_frames_that_are_not_batches_counted),
        cmocka_unit_test (test_x3_line_in_pieces_taken_whole),
        cmocka_unit_test (test_x3_times_that_cannot_be),
        cmocka_unit_test (test_r16_1_rule_widened_goes_on_counting),
        cmocka_unit_test_teardown (test_r16_1_rule_new_width_keeps_what_it_counted,
                                   rf_clock_back),
        cmocka_unit_test (test_r16_1_burst_kept_when_its_incident_could_not_be_written),
        cmocka_unit_test (test_r16_1_a_second_replica_follows_the_first),
        cmocka_unit_test (test_r16_1_followed_file_rotation),
        cmocka_unit_test (test_r16_1_lgwanctl_rule_allowlist_incident),
        cmocka_unit_test (test_r16_1_grace_after_close),
        cmocka_unit_test_teardown (test_r16_1_grace_holds_on_a_standby_replica, rf_clock_back),
        cmocka_unit_test (test_r16_1_evidence_of_an_event_without_time_says_when_it_arrived),
        cmocka_unit_test (test_r16_1_decommissioned_before_activated_stays_inactive),
        cmocka_unit_test (test_r16_1_released_allocation_stops_attributing),
        cmocka_unit_test (test_r16_1_minute_counts_written_at_stop),
        cmocka_unit_test (test_r16_1_incident_list_pages),
        cmocka_unit_test (test_r16_1_rules_past_the_intake_refused),
        cmocka_unit_test (test_x3_signature_id_past_bigint_refused_rest_of_frame_taken),
        cmocka_unit_test (test_r16_1_incident_opened_told_after_commit),
        cmocka_unit_test (test_r16_1_event_dated_ahead_does_not_blind_its_window),
        cmocka_unit_test (test_r16_1_attributed_to_the_source_before_the_destination),
        cmocka_unit_test (test_r16_1_followed_file_rewritten_past_its_offset),
        cmocka_unit_test (test_r16_1_restart_finishes_the_rotated_file),
        cmocka_unit_test (test_r16_1_restart_sees_the_file_rewritten_while_stopped),
        cmocka_unit_test (test_r16_1_restart_finishes_files_rotated_twice),
        cmocka_unit_test (test_r16_1_renamed_file_read_while_still_written),
        cmocka_unit_test (test_r16_1_copytruncate_reads_the_rest_from_the_copy),
        cmocka_unit_test (test_r16_1_events_older_than_the_window_are_counted),
        cmocka_unit_test (test_r16_1_first_seen_is_the_oldest_event_in_the_window),
        cmocka_unit_test (test_r16_1_no_evidence_for_a_closed_incident),
        cmocka_unit_test (test_r16_1_every_request_refuses_ids_past_bigint),
        cmocka_unit_test (test_r16_1_an_alert_delivered_twice_counts_once),
        cmocka_unit_test (test_r16_1_repeats_attach_nothing_to_an_open_incident),
        cmocka_unit_test_teardown (test_r16_1_window_counts_events_less_than_its_span_apart,
                                   rf_clock_back),
        cmocka_unit_test (test_r16_1_unattributed_samples_are_the_latest),
        cmocka_unit_test (test_r16_1_an_incident_is_never_first_seen_after_it_opened),
        cmocka_unit_test (test_r16_1_idle_eve_senders_do_not_lock_out_a_sender),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
