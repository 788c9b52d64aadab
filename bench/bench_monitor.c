/*  bench_monitor - the monitor's intake with 10,000 active prefixes, each
    figure next to a raw baseline measured in the same run.

    1. 10,000 connections with one /28 each are written straight into the
       monitor's table before it starts (the registry is not what is
       measured here), with three rules; ten connections get bursts that
       open incidents, so the incident path is on the way too.
    2. Protobuf: batches of 1,000 SecurityEvents (about 150 KB a frame)
       PUSHed with a sensor certificate over CURVE to the service's PULL;
       events/s by the service's own counter (Stats intake.events_sensor)
       from the first frame sent until the counter reaches the total.
       Baseline: the same frames over CURVE PUSH -> PULL to a receiver
       that only receives them, in this process.
    3. EVE: JSON lines through the service's Unix socket; lines/s by Stats
       intake.eve_lines. Baseline: json_loadb (jansson) of the same lines,
       as the issue names it. Also shown: the monitor's own line parser
       (monitor_eve_parse, yajl) alone on the same lines, in this process.
    4. Resident memory (VmRSS of the service) after 1,000,000 events of each
       kind. Targets (issue 7): >= 300,000 events/s, >= 100,000 lines/s,
       < 64 MiB.
    --smoke: 50,000 events and lines.
*/
#include "bench_env.h"
#include "lgwan/v1/monitor.pb-c.h"

#include "monitor_alert.h"

#include <jansson.h>
#include <sys/socket.h>
#include <sys/un.h>

#define PREFIXES    10000
#define BATCH       1000
#define FRAMES      16          //  distinct frames, sent in turn
#define LINES       20000       //  distinct EVE lines, sent in turn

static char s_sensor [64];
static char s_socket [100];
static lg_test_proc_t s_monitor = { .service = "monitor" };

static double
s_now (void)
{
    return (double) zclock_usecs () / 1e6;
}

//  A host of prefix i: 100.64.0.0/10 cut into /28s
static void
s_host (int i, int host, char *out, size_t size)
{
    uint32_t base = (100u << 24) | (64u << 16);
    uint32_t addr = base + (uint32_t) i * 16 + (uint32_t) host;
    snprintf (out, size, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255, addr & 255);
}

//  Which connection an event comes from, its signature: 1 in 20 from no
//  prefix (unattributed); 1 in 50 a burst of signature 9001 on the first ten
static void
s_pick (unsigned n, int *prefix, uint64_t *signature, bool *outside)
{
    *outside = n % 20 == 7;
    *prefix = (int) ((n * 2654435761u) % PREFIXES);
    *signature = 2000000 + n % 97;
    if (n % 50 == 3) {
        *prefix = (int) (n / 50 % 10);
        *signature = 9001;
    }
}

static zframe_t *
s_frame (unsigned first)
{
    Lgwan__V1__SecurityEvent *events = (Lgwan__V1__SecurityEvent *) calloc (BATCH, sizeof *events);
    Lgwan__V1__SecurityEvent **list = (Lgwan__V1__SecurityEvent **) calloc (BATCH, sizeof (void *));
    char (*src) [20] = calloc (BATCH, 20);
    for (unsigned i = 0; i < BATCH; i++) {
        int prefix;
        uint64_t signature;
        bool outside;
        s_pick (first + i, &prefix, &signature, &outside);
        if (outside)
            snprintf (src [i], 20, "203.0.113.%u", i % 250 + 1);
        else
            s_host (prefix, 1 + (int) (i % 14), src [i], 20);
        Lgwan__V1__SecurityEvent *e = &events [i];
        lgwan__v1__security_event__init (e);
        e->sensor = (char *) "bench-ids";
        e->timestamp = (char *) "";
        e->src_ip = src [i];
        e->dest_ip = (char *) "10.20.30.40";
        e->src_port = 40000 + i;
        e->dest_port = 445;
        e->proto = (char *) "TCP";
        e->signature_id = signature;
        e->signature = (char *) "ET EXPLOIT Possible ETERNALBLUE MS17-010 Echo Response";
        e->category = (char *) (signature == 9001? "A Network Trojan was detected": "Misc activity");
        e->severity = signature == 9001? 1: 3;
        e->flow_id = first + i;
        list [i] = e;
    }
    Lgwan__V1__SecurityEventBatch batch = LGWAN__V1__SECURITY_EVENT_BATCH__INIT;
    batch.events = list;
    batch.n_events = BATCH;
    size_t size = lgwan__v1__security_event_batch__get_packed_size (&batch);
    zframe_t *frame = zframe_new (NULL, size);
    lgwan__v1__security_event_batch__pack (&batch, zframe_data (frame));
    free (src);
    free (list);
    free (events);
    return frame;
}

static char *
s_line (unsigned n)
{
    int prefix;
    uint64_t signature;
    bool outside;
    s_pick (n, &prefix, &signature, &outside);
    char src [20];
    if (outside)
        snprintf (src, sizeof src, "203.0.113.%u", n % 250 + 1);
    else
        s_host (prefix, 1 + (int) (n % 14), src, sizeof src);
    return zsys_sprintf (
        "{\"timestamp\":\"2027-03-01T09:00:00.%06u+0900\",\"flow_id\":%u,\"in_iface\":\"eth1\","
        "\"event_type\":\"alert\",\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"10.20.30.40\","
        "\"dest_port\":445,\"proto\":\"TCP\",\"alert\":{\"action\":\"allowed\",\"gid\":1,"
        "\"signature_id\":%" PRIu64 ",\"rev\":3,\"signature\":\"ET EXPLOIT Possible ETERNALBLUE"
        " MS17-010 Echo Response\",\"category\":\"%s\",\"severity\":%d},\"host\":\"bench-eve\"}\n",
        n % 1000000, n, src, 40000 + n % 20000, signature,
        signature == 9001? "A Network Trojan was detected": "Misc activity",
        signature == 9001? 1: 3);
}

//  One of the monitor's Stats counters
static uint64_t
s_counter (bench_env_t *env, const char *name)
{
    lg_client_t *client = lg_test_proc_client (&s_monitor, env->certs, "viewer");
    lg_client_set_timeout (client, 5000, 1);
    Lgwan__V1__Stats stats = LGWAN__V1__STATS__INIT;
    lg_reply_t *reply = lg_test_call (client, LGWAN__V1__REQUEST__BODY_STATS, &stats, "bench");
    lg_client_destroy (&client);
    uint64_t value = 0;
    if (reply && reply->stats)
        for (size_t i = 0; i < reply->stats->n_service_counters; i++)
            if (streq (reply->stats->service_counters [i]->name, name))
                value = reply->stats->service_counters [i]->count;
    if (reply)
        lgwan__v1__reply__free_unpacked (reply, NULL);
    return value;
}

//  Seconds until the counter reaches want (polled every 20 ms), from start
static double
s_wait_counter (bench_env_t *env, const char *name, uint64_t want, double start)
{
    double deadline = s_now () + 600;
    while (s_now () < deadline) {
        if (s_counter (env, name) >= want)
            return s_now () - start;
        zclock_sleep (50);
    }
    fprintf (stderr, "bench_monitor: %s never reached %" PRIu64 "\n", name, want);
    exit (1);
}

static long
s_rss_kib (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    char line [256];
    long kib = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kib = atol (line + 6);
    if (file)
        fclose (file);
    return kib;
}

static zsock_t *
s_push (bench_env_t *env, const char *endpoint, const char *server_cert)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    char *cert = zsys_sprintf ("%s/clients/sensor", env->certs);
    if (lg_auth_client (push, cert, server_cert)) {
        fprintf (stderr, "bench_monitor: could not read the sensor certificate\n");
        exit (1);
    }
    zsock_set_sndhwm (push, 50);
    zsock_connect (push, "%s", endpoint);
    zstr_free (&cert);
    return push;
}

//  Raw baseline: a PULL with CURVE that only receives, in a thread
typedef struct {
    char endpoint [64];
    const char *certs;
    size_t frames;
} s_raw_t;

static void
s_raw_receiver (zsock_t *pipe, void *args)
{
    s_raw_t *raw = (s_raw_t *) args;
    lg_auth_t *auth = lg_auth_new (raw->certs);
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (pull, 50);
    zsock_set_maxmsgsize (pull, 1024 * 1024);
    lg_auth_server (auth, pull, "monitor");
    zsock_bind (pull, "%s", raw->endpoint);
    zsock_signal (pipe, 0);
    for (size_t i = 0; i < raw->frames; i++) {
        zframe_t *frame = zframe_recv (pull);
        if (!frame)
            break;
        zframe_destroy (&frame);
    }
    zsock_signal (pipe, 0);
    zsock_destroy (&pull);
    lg_auth_destroy (&auth);
}

static double
s_raw_rate (bench_env_t *env, zframe_t **frames, size_t count)
{
    s_raw_t raw = { .certs = env->certs, .frames = count };
    snprintf (raw.endpoint, sizeof raw.endpoint, "tcp://127.0.0.1:%d", lg_test_free_port ());
    zactor_t *actor = zactor_new (s_raw_receiver, &raw);
    char *server = zsys_sprintf ("%s/services/monitor", env->certs);
    zsock_t *push = s_push (env, raw.endpoint, server);
    double start = s_now ();
    for (size_t i = 0; i < count; i++) {
        zframe_t *copy = zframe_dup (frames [i % FRAMES]);
        zframe_send (&copy, push, 0);
    }
    zsock_wait (actor);
    double took = s_now () - start;
    zsock_destroy (&push);
    zactor_destroy (&actor);
    zstr_free (&server);
    return (double) (count * BATCH) / took;
}

static void
s_send_lines (char **lines, size_t count)
{
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr;
    memset (&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", s_socket);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr)) {
        fprintf (stderr, "bench_monitor: could not connect to %s\n", s_socket);
        exit (1);
    }
    //  Lines gathered into 256 KiB writes, as a sensor's buffered writer does
    size_t cap = 256 * 1024, len = 0;
    char *buf = (char *) malloc (cap);
    for (size_t i = 0; i < count; i++) {
        const char *line = lines [i % LINES];
        size_t size = strlen (line);
        if (len + size > cap) {
            for (size_t sent = 0; sent < len; ) {
                ssize_t n = write (fd, buf + sent, len - sent);
                if (n <= 0)
                    exit (1);
                sent += (size_t) n;
            }
            len = 0;
        }
        memcpy (buf + len, line, size);
        len += size;
    }
    for (size_t sent = 0; sent < len; ) {
        ssize_t n = write (fd, buf + sent, len - sent);
        if (n <= 0)
            exit (1);
        sent += (size_t) n;
    }
    free (buf);
    close (fd);
}

static void
s_load (bench_env_t *env)
{
    PGconn *conn = PQconnectdb (env->admin_dsn);
    PGresult *res = PQexec (conn,
        "INSERT INTO monitor.connections (id, provider_id, service_id, prefixes, changed_by)"
        " SELECT i + 1, i / 4 + 1, i / 4 + 1,"
        "   ARRAY [host (('100.64.0.0'::inet + i * 16)) || '/28'], 'bench'"
        " FROM generate_series (0, 9999) i;"
        "INSERT INTO monitor.rules (name, category, max_severity, signature_id, window_seconds,"
        "   threshold, action, updated_at, updated_by) VALUES"
        " ('trojan-burst', 'A Network Trojan was detected', 1, 9001, 600, 50, 2, now (), 'bench'),"
        " ('misc-flood', 'Misc activity', 3, 0, 60, 1000, 1, now (), 'bench'),"
        " ('one-signature', '', 0, 2000013, 60, 1000, 1, now (), 'bench')");
    if (PQresultStatus (res) != PGRES_COMMAND_OK) {
        fprintf (stderr, "bench_monitor: %s", PQerrorMessage (conn));
        exit (1);
    }
    PQclear (res);
    PQfinish (conn);
}

int
main (int argc, char **argv)
{
    bench_env_t env;
    setvbuf (stdout, NULL, _IOLBF, 0);      //  figures as they come
    bench_env_start (&env, argc, argv);
    //  The monitor's schema exists once it migrated: start it, load, restart
    size_t events = env.smoke? 50000: 1000000;
    size_t frames_n = events / BATCH;
    snprintf (s_sensor, sizeof s_sensor, "tcp://127.0.0.1:%d", lg_test_free_port ());
    snprintf (s_socket, sizeof s_socket, "%s/eve.sock", env.dir);
    char *sensor = zsys_sprintf ("LG_MONITOR_SENSOR_ENDPOINT=%s", s_sensor);
    char *sock = zsys_sprintf ("LG_MONITOR_EVE_SOCKET=%s", s_socket);
    const char *extra [] = { sensor, sock, "LG_LOG_LEVEL=warning", NULL };
    if (!lg_test_proc_start (&s_monitor, env.admin_dsn, env.certs, NULL, extra)) {
        fprintf (stderr, "bench_monitor: the monitor did not start\n");
        return 1;
    }
    lg_test_proc_teardown (&s_monitor);
    s_load (&env);
    if (!lg_test_proc_start (&s_monitor, env.admin_dsn, env.certs, NULL, extra)) {
        fprintf (stderr, "bench_monitor: the monitor did not start again\n");
        return 1;
    }
    printf ("bench_monitor: %" PRIu64 " prefixes, %" PRIu64 " rules, %zu events of each kind%s"
            " (2-core VM, shared)\n", s_counter (&env, "attribution.prefixes"),
            s_counter (&env, "detection.rules"), events, env.smoke? " (smoke)": "");

    //  Protobuf over CURVE
    zframe_t *frames [FRAMES];
    for (unsigned i = 0; i < FRAMES; i++)
        frames [i] = s_frame (i * BATCH);
    printf ("  frame: %d events, %zu bytes\n", BATCH, zframe_size (frames [0]));
    double raw_pb = s_raw_rate (&env, frames, frames_n);
    char *server = zsys_sprintf ("%s/services/monitor", env.certs);
    zsock_t *push = s_push (&env, s_sensor, server);
    zclock_sleep (200);                     //  the CURVE handshake
    double start = s_now ();
    for (size_t i = 0; i < frames_n; i++) {
        zframe_t *copy = zframe_dup (frames [i % FRAMES]);
        zframe_send (&copy, push, 0);
    }
    double took = s_wait_counter (&env, "intake.events_sensor", events, start);
    double pb = (double) events / took;
    long rss_pb = s_rss_kib (s_monitor.pid);
    printf ("  protobuf intake with CURVE:   %10.0f events/s   (raw CURVE PULL of the same frames:"
            " %10.0f events/s; %.0f%% of raw)   target >= 300,000: %s\n", pb, raw_pb,
            100.0 * pb / raw_pb, pb >= 300000? "met": "NOT MET");
    zsock_destroy (&push);
    zstr_free (&server);
    for (unsigned i = 0; i < FRAMES; i++)
        zframe_destroy (&frames [i]);

    //  EVE lines through the Unix socket
    char **lines = (char **) calloc (LINES, sizeof (char *));
    for (unsigned i = 0; i < LINES; i++)
        lines [i] = s_line (i);
    size_t n_lines = events;
    double parse_start = s_now ();
    for (size_t i = 0; i < n_lines; i++) {
        json_error_t error;
        const char *line = lines [i % LINES];
        json_t *root = json_loadb (line, strlen (line) - 1, 0, &error);
        if (!root)
            return 1;
        json_decref (root);
    }
    double raw_eve = (double) n_lines / (s_now () - parse_start);
    parse_start = s_now ();
    for (size_t i = 0; i < n_lines; i++) {
        const char *line = lines [i % LINES];
        monitor_alert_t alert;
        char why [160];
        if (monitor_eve_parse (line, strlen (line) - 1, &alert, why, sizeof why))
            return 1;
    }
    double own_eve = (double) n_lines / (s_now () - parse_start);
    uint64_t before = s_counter (&env, "intake.eve_lines");
    start = s_now ();
    s_send_lines (lines, n_lines);
    took = s_wait_counter (&env, "intake.eve_lines", before + n_lines, start);
    double eve = (double) n_lines / took;
    printf ("  EVE intake (Unix socket):     %10.0f lines/s    (json_loadb of the same lines:"
            "      %10.0f lines/s; %.0f%% of raw)   target >= 100,000: %s\n", eve, raw_eve,
            100.0 * eve / raw_eve, eve >= 100000? "met": "NOT MET");
    printf ("  (the monitor's line parser alone, monitor_eve_parse with yajl: %.0f lines/s)\n",
            own_eve);
    for (unsigned i = 0; i < LINES; i++)
        zstr_free (&lines [i]);
    free (lines);

    zclock_sleep (1500);                    //  a flush of the counts
    long rss = s_rss_kib (s_monitor.pid);
    printf ("  resident memory: %.1f MiB after %zu protobuf events, %.1f MiB after %zu more EVE"
            " lines   target < 64 MiB: %s\n", (double) rss_pb / 1024, events, (double) rss / 1024,
            n_lines, rss >= 0 && rss < 64 * 1024? "met": "NOT MET");
    printf ("  attributed %" PRIu64 ", unattributed %" PRIu64 ", malformed %" PRIu64
            ", incidents opened %" PRIu64 ", events attached %" PRIu64 ", windows %" PRIu64 "\n",
            s_counter (&env, "attribution.attributed"), s_counter (&env, "attribution.unattributed"),
            s_counter (&env, "intake.malformed"), s_counter (&env, "incidents.opened"),
            s_counter (&env, "incidents.attached_events"), s_counter (&env, "detection.windows"));
    long incidents = bench_query_long (&env, "SELECT count(*) FROM monitor.incidents");
    printf ("  incidents in the table: %ld (one per burst connection)\n", incidents);
    int rc = incidents == 10? 0: 1;
    lg_test_proc_teardown (&s_monitor);
    zstr_free (&sensor);
    zstr_free (&sock);
    bench_env_stop (&env);
    return rc;
}
