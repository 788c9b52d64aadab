/*  monitor_intake - the reactor side of the monitor: security events in,
    incidents out, without touching PostgreSQL per event.

    1. Three ways in, all in the reactor thread: protobuf SecurityEventBatch
       frames on a CURVE PULL socket (LG_MONITOR_SENSOR_ENDPOINT; only frames
       whose certificate has the `sensor` role are taken, the rest counted as
       refused), EVE JSON lines on a Unix stream socket
       (LG_MONITOR_EVE_SOCKET; up to 64 senders, a 65th closing the one
       idle longest: a new one was refused, so 64 that connected and said
       nothing locked the IDS out) and EVE lines from a followed file
       (LG_MONITOR_EVE_FILE), read by a timer that survives rotation (a new
       inode, read once the old one has been quiet at its end for
       LG_MONITOR_EVE_ROTATE_WAIT_MS: the IDS writes on into the renamed
       file until its HUP) and truncation (after the rest of its copy, when
       <file>.1 is a copytruncate's copy: same first bytes, as long), and
       keeps its offset and first bytes in eve_files. A restart resumes the
       file read, also when rotations while the monitor was stopped moved
       it to <file>.1 … .9 (then each newer name in turn), and reads from
       its start a file whose first bytes are not those stored. Truncation is looked for before each
       read: the file is shorter than the offset, or its first bytes
       (FILE_HEAD) are not those read, for a file truncated and written
       again past the offset between two polls. Either is read from its
       start, counted as a rotation; before, only a file shorter at the end
       of a read was seen, and one rewritten past the offset was read on
       from the middle of a line, its first lines lost.
       The offset goes in the transaction of what the lines read made
       (incidents, evidence, counts), a line counted as read before it is
       taken: a crash after that COMMIT does not read them again. It was
       saved after it, alone, so a monitor that died between the two read
       the same events again at its restart and attached them to their
       incident a second time (event_count and evidence doubled). What was
       counted and not yet flushed is lost in a crash, never counted twice.
    2. Bad input never stops intake: a malformed line or event is counted
       (per sensor, in sensor_counts) and logged with its position (file and
       line, or socket connection and line); a line over 1 MiB is skipped to
       its newline.
    3. Attribution: longest-prefix match of the source, then the destination
       address, against the prefixes of active connections (monitor_lpm),
       rebuilt from table connections whenever a followed event changed it.
       The event is the source's connection's when there is one, and the
       destination's only when the source is no connection's: the longer of
       the two prefixes won before, so an attack from one connection on
       another with a longer prefix was blamed on its victim.
       An event that matches nothing is counted per sensor and kept as a
       sample; none is dropped silently (PacketFence #4187).
    4. Detection: every enabled rule that matches (category, severity at
       most, signature) and no unexpired allow-list entry covers (its
       connection and/or signature) counts the event in a sliding window
       per (connection, rule), exact: the window keeps the time of each
       event it counted in the span before its newest (at most threshold
       of them, 16 bytes each), so any two events less than the window
       apart count together. In 32 buckets of window/32, two events 31/32
       of the window apart, at a bucket's edge, were not. An event's time
       is its own, unless that is before 1970 or ahead of ours: then ours
       (a time before 1970 indexed the buckets below zero). That one time
       is where its window counts it, and what first_seen and last_seen
       say; the evidence keeps the sensor's timestamp as given. So a
       sensor's backlog counts when it happened, but nothing moves a
       window ahead of our clock (one event an hour ahead, or a sensor
       whose clock runs ahead of another's by more than the window, moved
       the window's head so far that every event of the right time behind
       it was "older than the window", and the pair opened nothing), and
       an incident is never first seen after it opened (events dated
       ahead within the hour kept their own time for first_seen and
       last_seen, so an incident of them was first seen after its
       opened_at).
       An event still older than the window's span (a sensor whose clock
       is behind another's by more than the window, or a backlog) is not
       counted in it: it is counted apart (Stats detection.too_old), where
       it was dropped with nothing said.
       One alert delivered twice (the same EVE line over the socket and
       from the followed file, or twice in the file) counts once: a window
       keeps with each event it counted what identifies it (the sensor's
       flow id, the alert's own time, signature, both addresses and
       ports), and a repeat of one it holds is counted apart
       (Stats detection.duplicates). Each delivery counted before, so
       repeats alone could reach a threshold and isolation. The same
       while the pair's incident is open: the events that attach to it are
       counted in the window too (its latest threshold of them), and a
       repeat attaches nothing; repeats added to the incident's event_count
       and evidence before. An alert with
       no flow id or no time is never taken for a repeat: nothing tells it
       from a second alert alike.
       A window whose rule got another width keeps what it counted, each
       event leaving by its own time. Reaching the threshold opens an
       incident, in one transaction with IncidentOpened
       (and, for rule action incident_and_isolate, the confirmation and
       IncidentConfirmed); it is logged and counted (Stats
       incidents.opened) once that transaction committed, since one write
       of the input that fails rolls back all of them.
    5. After an incident is closed, the pair opens nothing for the rule's
       grace_seconds (PacketFence's grace), also across a restart and
       across replicas: the grace is the table's (the last closed_at of the
       pair plus the rule's grace_seconds). An open looks it up in its own
       transaction and opens nothing in it; the pairs in grace are loaded
       at start and at each look at what other replicas changed (note 8);
       our own IncidentClosed starts it also for a pair whose window did
       not hold the incident. Before, only a window that held the incident
       started a grace, so a standby that took the sensors after a close
       through another replica opened (with incident_and_isolate,
       confirmed) at once.
    6. While an incident of a (connection, rule) is not closed, its events
       attach to it: the first LG_MONITOR_EVIDENCE are written as evidence,
       the rest only counted and added every flush; both only while the
       incident is not closed in the table (one closed by a request worker
       or another replica gets nothing from the events that attached before
       the reactor heard of its close). The unique partial index on
       incidents (connection, rule) WHERE status <> 'closed' and the open
       incidents loaded at start make a restarted monitor attach to the
       incident of a burst instead of opening another.
    7. Every LG_MONITOR_FLUSH_MS the counts of incidents and sensors and the
       samples (the latest MAX_SAMPLES events no connection matched since
       the last flush; the table keeps the latest MAX_SAMPLES; only the
       first 32 of a flush were kept) are written in one transaction. The
       counts per connection and minute go with it every
       LG_MONITOR_COUNTS_MS (10 s by default: with 10,000 active
       connections that upsert is about 100 ms, which intake would
       otherwise stop for every second), when 100,000 (connection, minute)
       pairs are held, and at stop. The in-memory maps are emptied
       after each write, so memory stays bounded.
    8. Rules, allow-list and closed incidents are reloaded when this
       service's own RuleChanged, AllowlistChanged or IncidentClosed is
       published (after COMMIT, in this thread, before any later input).
       What another replica changed is found every MONITOR_SYNC_MS: one
       statement reads the head of the shared outbox and the cursors; when
       the head moved, rules and allow-list are reloaded and the incidents
       this replica holds open are looked up (one closed elsewhere empties
       its window, as our own IncidentClosed does) and the pairs in grace
       are loaded again (note 5); when a cursor moved
       (the leader applied registry or isolation events), the prefixes are.
       Before, a replica that took the sensors went on applying a rule
       disabled, an allow-list entry removed, or an incident closed through
       another replica.
*/
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MONITOR_SYNC_MS 2000        //  how often what other replicas changed is looked for
#define MAX_RULES       MONITOR_MAX_RULES
#define S_TEXT(x)       S_TEXT_OF (x)
#define S_TEXT_OF(x)    #x
#define MAX_CLIENTS     64          //  EVE socket senders; a 65th closes the one idle longest
#define MAX_SENSORS     1024
#define MAX_SAMPLES     1000        //  unattributed events kept, the latest (per flush and table)
#define MAX_MINUTES     100000      //  (connection, minute) pairs before an early flush
#define MAX_OPS         1024
#define READ_CHUNK      (256 * 1024)
#define FILE_HEAD       256         //  first bytes of the followed file kept to know it again
#define FILE_OLDER_MAX  9           //  <file>.1 .. .9 looked for at a restart

typedef struct {
    uint64_t a;
    uint64_t b;
} s_key_t;

typedef struct {
    uint64_t id;
    char name [129];
    char category [128];
    uint32_t max_severity;
    uint64_t signature_id;
    uint32_t window_s;
    uint32_t threshold;
    int action;
    uint32_t grace_s;
} s_rule_t;

typedef struct {
    uint64_t connection;
    uint64_t signature_id;
    int64_t expires_us;
} s_allow_t;

//  An event a window counted
typedef struct {
    int64_t at_us;                  //  its own time, at most ours (note 4)
    uint64_t print;                 //  what identifies it (s_alert_print), 0: nothing
} s_counted_t;

//  Sliding window and incident of one (connection, rule)
typedef struct _s_window_t {
    struct _s_window_t *next;       //  the connection's next window
    s_key_t key;
    int64_t head;                   //  the newest count time, -1 when started again
    s_counted_t *counted;           //  the events counted after head - window, unordered
    uint32_t n_counted, max_counted;    //  at most the rule's threshold
    uint64_t incident;              //  open or confirmed incident, 0 when none
    uint32_t evidence;              //  evidence rows written
    bool opening;                   //  an open is queued
    uint64_t pending;               //  events attached, not yet added to event_count
    int64_t last_us;                //  newest event time attached
    int64_t touched;                //  zclock_mono of the last event
    int64_t grace_until;            //  business time until which nothing opens
    //  During a write duty, what it would make true
    uint64_t t_incident;
    uint32_t t_evidence;
    int64_t t_grace;                //  the open found the pair in grace until then
} s_window_t;

//  An active connection, as the prefix table's value (index + 1): the
//  events of its current minute and its windows, without a hash lookup
typedef struct {
    uint64_t id;
    uint64_t minute;                //  minute (since the epoch) of count
    uint64_t count;                 //  events of that minute not yet flushed
    uint64_t in_minute;             //  events of that minute (Stats)
    s_window_t *windows;
} s_conn_t;

typedef struct {
    uint64_t events, unattributed, malformed;           //  since start
    uint64_t d_events, d_unattributed, d_malformed;     //  not yet flushed
} s_sensor_t;

typedef enum { OP_OPEN, OP_EVIDENCE } s_op_kind_t;

typedef struct {
    s_op_kind_t kind;
    s_window_t *window;
    const s_rule_t *rule;
    monitor_alert_t alert;
    int64_t at_us;
    int64_t first_us;               //  an open's first_seen: its window's oldest as it crossed
    uint64_t opened;                //  the incident its write opened, told after COMMIT
} s_op_t;

//  Lines from a byte stream, bounded
typedef struct {
    char *buf;
    size_t len;
    size_t scanned;                 //  bytes of buf known to hold no newline
    bool discarding;                //  inside a line over MONITOR_LINE_MAX
    int64_t line_no;
    int64_t consumed;               //  bytes of complete lines (file offset)
} s_lines_t;

typedef struct {
    int fd;
    int number;
    int64_t active;                 //  zclock_mono of its connect or last read
    s_lines_t lines;
} s_client_t;

typedef struct {
    lg_db_t *db;                    //  the reactor's connection (attach)
    lg_server_t *server;
    lg_auth_t *auth;
    zloop_t *loop;
    int64_t max_msg;
    int64_t evidence_max;
    int64_t flush_ms;
    int64_t counts_ms;
    int64_t counts_due;             //  zclock_mono of the next minute counts write
    bool with_minutes;              //  this flush writes the minute counts
    int64_t poll_ms;
    int64_t rotate_wait_ms;         //  a rotated file is left once quiet this long
    char sensor_endpoint [256];
    char eve_socket [108];
    char eve_file [512];
    //  What intake knows
    monitor_lpm_t *lpm;
    s_conn_t *conns;                //  active connections, by id
    size_t n_conns;
    s_rule_t rules [MAX_RULES];
    size_t n_rules;
    s_allow_t *allow;
    size_t n_allow;
    bool dirty_prefixes, dirty_rules, dirty_allow;
    int64_t seen_events, seen_applied;  //  outbox head and cursors at the last look (-1: none)
    zhashx_t *windows;              //  s_key_t {connection, rule} -> s_window_t
    zhashx_t *minutes;              //  s_key_t {connection, minute} -> uint64_t *, past minutes
    zhashx_t *sensors;              //  name -> s_sensor_t
    s_sensor_t *last_sensor;        //  the last one looked up, by name
    char last_sensor_name [64];
    monitor_alert_t samples [MAX_SAMPLES];  //  a ring: the latest since the last flush
    size_t n_samples;
    size_t first_sample;            //  the oldest of them
    s_op_t *ops;
    size_t n_ops;
    int64_t now_us;                 //  business clock of the input being handled
    int64_t mono;                   //  zclock_mono () of it
    //  Sockets
    zsock_t *pull;
    int listen_fd;
    s_client_t *clients [MAX_CLIENTS];
    int client_serial;
    //  Followed file
    int file_fd;
    char file_name [512 + 12];      //  eve_file or <eve_file>.n, as opened
    int file_older;                 //  0: the path; n: logrotate's <path>.n
    int64_t file_quiet_since;       //  zclock_mono since which it is moved and at its end; 0
    uint64_t file_inode;
    char file_head [FILE_HEAD];     //  its first bytes, as read
    size_t file_head_len;
    s_lines_t file_lines;
    int64_t saved_offset;           //  the offset eve_files has (-1: not yet written)
    int64_t t_saved_offset;         //  during a write, what it would make true
    //  Counters since start (Stats)
    uint64_t frames, frames_refused, frames_malformed;
    uint64_t events_sensor, events_eve, eve_lines, eve_other, malformed;
    uint64_t attributed, unattributed, allowlisted, matched, too_old, duplicates;
    int64_t allow_expiry_us;        //  the first loaded allow-list entry expires (INT64_MAX)
    uint64_t incidents_opened, attached, evidence_written, rotations, in_grace;
    uint64_t eve_idle_closed;       //  EVE senders closed for a new one
    uint64_t log_budget;            //  malformed lines logged this second
    int64_t log_second;
    uint64_t log_suppressed;
    int64_t last_retention;
} s_intake_t;

//  ---------------------------------------------------------------------------
//  Hash keys of two integers

static size_t
s_key_hash (const void *key)
{
    const s_key_t *k = (const s_key_t *) key;
    uint64_t h = k->a * 0x9E3779B97F4A7C15ULL ^ (k->b + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    return (size_t) (h ^ (h >> 31));
}

static int
s_key_compare (const void *x, const void *y)
{
    const s_key_t *a = (const s_key_t *) x, *b = (const s_key_t *) y;
    return a->a < b->a? -1: a->a > b->a? 1: a->b < b->b? -1: a->b > b->b? 1: 0;
}

static void *
s_key_dup (const void *key)
{
    s_key_t *copy = (s_key_t *) malloc (sizeof (s_key_t));
    if (copy)
        *copy = *(const s_key_t *) key;
    return copy;
}

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static zhashx_t *
s_key_table (void)
{
    zhashx_t *table = zhashx_new ();
    zhashx_set_key_hasher (table, s_key_hash);
    zhashx_set_key_comparator (table, s_key_compare);
    zhashx_set_key_duplicator (table, s_key_dup);
    zhashx_set_key_destructor (table, s_free);
    zhashx_set_destructor (table, s_free);
    return table;
}

//  ---------------------------------------------------------------------------
//  Logging bad input without flooding: 20 lines a second, then a count.
//  format gives "primary\ndetail", PostgreSQL's shape.

static void
s_log_bad (s_intake_t *self, const char *format, ...)
{
    int64_t second = zclock_mono () / 1000;
    if (second != self->log_second) {
        if (self->log_suppressed)
            lg_warning ("%" PRIu64 " more malformed inputs not logged", self->log_suppressed);
        self->log_second = second;
        self->log_budget = 0;
        self->log_suppressed = 0;
    }
    if (self->log_budget++ >= 20) {
        self->log_suppressed++;
        return;
    }
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    //  "primary\ndetail": the detail (where it was) on its own DETAIL line
    char *detail = text? strchr (text, '\n'): NULL;
    if (detail)
        *detail++ = 0;
    lg_log_write (LG_LOG_WARNING, detail, "%s", text? text: "malformed input");
    zstr_free (&text);
}

static s_sensor_t *
s_sensor (s_intake_t *self, const char *name)
{
    //  A batch comes from one sensor: the last one found is asked first
    if (self->last_sensor && streq (self->last_sensor_name, name))
        return self->last_sensor;
    s_sensor_t *sensor = (s_sensor_t *) zhashx_lookup (self->sensors, *name? name: "(unnamed)");
    if (sensor) {
        self->last_sensor = sensor;
        snprintf (self->last_sensor_name, sizeof self->last_sensor_name, "%s", name);
        return sensor;
    }
    if (zhashx_size (self->sensors) >= MAX_SENSORS)
        name = "(other)";
    sensor = (s_sensor_t *) zhashx_lookup (self->sensors, *name? name: "(unnamed)");
    if (!sensor) {
        sensor = (s_sensor_t *) zmalloc (sizeof *sensor);
        zhashx_insert (self->sensors, *name? name: "(unnamed)", sensor);
    }
    return sensor;
}

static void
s_count_malformed (s_intake_t *self, const char *source)
{
    self->malformed++;
    s_sensor_t *sensor = s_sensor (self, source);
    sensor->malformed++;
    sensor->d_malformed++;
}

//  ---------------------------------------------------------------------------
//  Loading what intake knows from the tables

//  A connection's count of a past minute goes to the map the flush writes
static void
s_park (s_intake_t *self, s_conn_t *conn)
{
    if (!conn->count)
        return;
    s_key_t key = { conn->id, conn->minute };
    uint64_t *count = (uint64_t *) zhashx_lookup (self->minutes, &key);
    if (!count) {
        count = (uint64_t *) zmalloc (sizeof (uint64_t));
        zhashx_insert (self->minutes, &key, count);
    }
    *count += conn->count;
    conn->count = 0;
}

static s_conn_t *
s_conn_find (s_intake_t *self, uint64_t id)
{
    size_t low = 0, high = self->n_conns;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (self->conns [mid].id < id)
            low = mid + 1;
        else
            high = mid;
    }
    return low < self->n_conns && self->conns [low].id == id? &self->conns [low]: NULL;
}

//  Each window in its connection's list (after the connections or the
//  windows changed)
static void
s_relink (s_intake_t *self)
{
    for (size_t i = 0; i < self->n_conns; i++)
        self->conns [i].windows = NULL;
    for (s_window_t *w = (s_window_t *) zhashx_first (self->windows); w;
         w = (s_window_t *) zhashx_next (self->windows)) {
        s_conn_t *conn = s_conn_find (self, w->key.a);
        w->next = conn? conn->windows: NULL;
        if (conn)
            conn->windows = w;
    }
}

static int
s_load_prefixes (s_intake_t *self)
{
    PGresult *res = lg_db_exec (self->db, "SELECT id, unnest (prefixes) AS prefix"
                                          " FROM connections WHERE active ORDER BY id", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -1;
    }
    for (size_t i = 0; i < self->n_conns; i++)
        s_park (self, &self->conns [i]);
    free (self->conns);
    self->conns = (s_conn_t *) calloc ((size_t) PQntuples (res) + 1, sizeof (s_conn_t));
    self->n_conns = 0;
    monitor_lpm_clear (self->lpm);
    for (int row = 0; row < PQntuples (res); row++) {
        uint64_t id = strtoull (PQgetvalue (res, row, 0), NULL, 10);
        if (self->n_conns == 0 || self->conns [self->n_conns - 1].id != id)
            self->conns [self->n_conns++].id = id;
        if (monitor_lpm_insert (self->lpm, PQgetvalue (res, row, 1), self->n_conns))
            lg_warning ("connection %" PRIu64 ": prefix %s does not parse", id,
                        PQgetvalue (res, row, 1));
    }
    PQclear (res);
    s_relink (self);
    lg_debug ("%zu prefixes of %zu connections attribute", monitor_lpm_size (self->lpm),
              self->n_conns);
    self->dirty_prefixes = false;
    return 0;
}

static int
s_load_rules (s_intake_t *self)
{
    PGresult *res = lg_db_exec (self->db, "SELECT id, name, category, max_severity, signature_id,"
                                          " window_seconds, threshold, action, grace_seconds FROM rules"
                                          " WHERE enabled ORDER BY id LIMIT " S_TEXT (MAX_RULES)
                                          " + 1", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -1;
    }
    //  Only by hand (RuleSet refuses a rule more): say which are left out
    if (PQntuples (res) > MAX_RULES)
        lg_warning ("more than %d rules are enabled: rule %s and those after it are not applied",
                    MAX_RULES, PQgetvalue (res, MAX_RULES, 0));
    self->n_rules = 0;
    for (int row = 0; row < PQntuples (res) && self->n_rules < MAX_RULES; row++) {
        s_rule_t *rule = &self->rules [self->n_rules++];
        rule->id = strtoull (PQgetvalue (res, row, 0), NULL, 10);
        snprintf (rule->name, sizeof rule->name, "%s", PQgetvalue (res, row, 1));
        snprintf (rule->category, sizeof rule->category, "%s", PQgetvalue (res, row, 2));
        rule->max_severity = (uint32_t) atoi (PQgetvalue (res, row, 3));
        rule->signature_id = strtoull (PQgetvalue (res, row, 4), NULL, 10);
        rule->window_s = (uint32_t) atoi (PQgetvalue (res, row, 5));
        rule->threshold = (uint32_t) atoi (PQgetvalue (res, row, 6));
        rule->action = atoi (PQgetvalue (res, row, 7));
        rule->grace_s = (uint32_t) atoi (PQgetvalue (res, row, 8));
    }
    PQclear (res);
    self->dirty_rules = false;
    return 0;
}

//  The allow-list entries not removed and not expired on the business
//  clock; loaded again when the first of them expires (s_refresh), so that
//  expired ones leave the list every event is looked up in (they never
//  leave the table, and were loaded and looked through for good)
static int
s_load_allow (s_intake_t *self)
{
    char now [40];
    lg_clock_format (lg_clock_now_us (), now, sizeof now);
    PGresult *res = lg_db_exec (self->db, "SELECT connection_id, signature_id,"
                                          " (extract (epoch FROM expires_at) * 1000000)::bigint"
                                          " FROM allowlist WHERE removed_at IS NULL"
                                          " AND expires_at > $1::timestamptz", 1,
                                (const char *[]) { now });
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -1;
    }
    free (self->allow);
    self->n_allow = 0;
    self->allow_expiry_us = INT64_MAX;
    self->allow = (s_allow_t *) calloc ((size_t) PQntuples (res) + 1, sizeof (s_allow_t));
    for (int row = 0; row < PQntuples (res); row++) {
        s_allow_t *entry = &self->allow [self->n_allow++];
        entry->connection = strtoull (PQgetvalue (res, row, 0), NULL, 10);
        entry->signature_id = strtoull (PQgetvalue (res, row, 1), NULL, 10);
        entry->expires_us = strtoll (PQgetvalue (res, row, 2), NULL, 10);
        if (entry->expires_us < self->allow_expiry_us)
            self->allow_expiry_us = entry->expires_us;
    }
    PQclear (res);
    self->dirty_allow = false;
    return 0;
}

static void
s_window_destroy (void **item_p)
{
    if (*item_p)
        free (((s_window_t *) *item_p)->counted);
    s_free (item_p);
}

static s_window_t *
s_window (s_intake_t *self, uint64_t connection, uint64_t rule)
{
    s_key_t key = { connection, rule };
    s_window_t *window = (s_window_t *) zhashx_lookup (self->windows, &key);
    if (!window) {
        window = (s_window_t *) zmalloc (sizeof *window);
        window->key = key;
        window->head = -1;
        zhashx_insert (self->windows, &key, window);
        s_conn_t *conn = s_conn_find (self, connection);
        if (conn) {
            window->next = conn->windows;
            conn->windows = window;
        }
    }
    return window;
}

//  The hot path's way: the connection's own short list first
static s_window_t *
s_conn_window (s_intake_t *self, s_conn_t *conn, uint64_t rule)
{
    for (s_window_t *w = conn->windows; w; w = w->next)
        if (w->key.b == rule)
            return w;
    return s_window (self, conn->id, rule);
}

//  The pairs (connection, rule) whose last closed incident's grace has not
//  ended at now_us: rows of connection_id, rule_id and until (us since the
//  epoch); only the pair's when connection is not 0. The table's, so every
//  replica sees a close made through any of them (note 5). An incident
//  closed more than 30 days ago (the longest grace) is in none.
static PGresult *
s_grace_rows (lg_db_t *db, int64_t now_us, uint64_t connection, uint64_t rule)
{
    char now [40], conn [24], rul [24];
    lg_clock_format (now_us, now, sizeof now);
    snprintf (conn, sizeof conn, "%" PRIu64, connection);
    snprintf (rul, sizeof rul, "%" PRIu64, rule);
    return lg_db_exec (db, "SELECT i.connection_id, i.rule_id, (extract (epoch FROM max (i.closed_at)"
                           " + r.grace_seconds * interval '1 second') * 1000000)::bigint AS until"
                           " FROM incidents i JOIN rules r ON r.id = i.rule_id"
                           " WHERE i.status = 'closed' AND r.grace_seconds > 0"
                           " AND i.closed_at > $1::timestamptz - interval '30 days'"
                           " AND ($2::bigint = 0 OR (i.connection_id = $2::bigint"
                           " AND i.rule_id = $3::bigint))"
                           " GROUP BY i.connection_id, i.rule_id, r.grace_seconds"
                           " HAVING max (i.closed_at) + r.grace_seconds * interval '1 second'"
                           " > $1::timestamptz", 3, (const char *[]) { now, conn, rul });
}

//  The pair opens nothing until until (business time, us); what its window
//  counted before the close is forgotten. A pair with an incident not
//  closed attaches to it instead.
static void
s_window_grace (s_window_t *w, int64_t until)
{
    if (w->incident || until <= w->grace_until)
        return;
    w->grace_until = until;
    w->head = -1;
    w->n_counted = 0;
}

//  Every pair in grace, as the table says: at start, and at each look at
//  what other replicas changed (a close through another replica, whose
//  IncidentClosed this one does not hear; only the replica that closed
//  kept the grace before, and a standby that took the sensors opened, and
//  with incident_and_isolate confirmed, at once)
static int
s_load_grace (s_intake_t *self)
{
    PGresult *res = s_grace_rows (self->db, lg_clock_now_us (), 0, 0);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -1;
    }
    for (int row = 0; row < PQntuples (res); row++) {
        s_window_t *window = s_window (self, strtoull (PQgetvalue (res, row, 0), NULL, 10),
                                       strtoull (PQgetvalue (res, row, 1), NULL, 10));
        s_window_grace (window, strtoll (PQgetvalue (res, row, 2), NULL, 10));
    }
    PQclear (res);
    return 0;
}

//  Incidents not closed: their events attach (a restart in a burst)
static int
s_load_incidents (s_intake_t *self)
{
    PGresult *res = lg_db_exec (self->db, "SELECT i.id, i.connection_id, i.rule_id,"
                                          " (SELECT count (*) FROM evidence e WHERE e.incident_id = i.id)"
                                          " FROM incidents i WHERE i.status <> 'closed'", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -1;
    }
    for (int row = 0; row < PQntuples (res); row++) {
        s_window_t *window = s_window (self, strtoull (PQgetvalue (res, row, 1), NULL, 10),
                                       strtoull (PQgetvalue (res, row, 2), NULL, 10));
        window->incident = strtoull (PQgetvalue (res, row, 0), NULL, 10);
        window->evidence = (uint32_t) atoi (PQgetvalue (res, row, 3));
    }
    if (PQntuples (res))
        lg_info ("%d incidents not closed: their events attach to them", PQntuples (res));
    PQclear (res);
    return s_load_grace (self);
}

static void
s_refresh (s_intake_t *self)
{
    if (self->dirty_prefixes)
        s_load_prefixes (self);
    if (self->dirty_rules)
        s_load_rules (self);
    if (self->dirty_allow || self->now_us >= self->allow_expiry_us)
        s_load_allow (self);
}

//  Each input is handled at one business time, with what is known now
static void
s_begin (s_intake_t *self)
{
    self->now_us = lg_clock_now_us ();
    self->mono = zclock_mono ();
    s_refresh (self);
}

void
monitor_intake_touch (void *state)
{
    if (state)
        ((s_intake_t *) state)->dirty_prefixes = true;
}

//  ---------------------------------------------------------------------------
//  Writing incidents: one duty (transaction) for the ops of one input

static const char *
s_origin (const monitor_alert_t *alert)
{
    return alert->origin == MONITOR_ORIGIN_EVE? "eve": "sensor";
}

//  Evidence n of an incident, unless the incident is closed: a close
//  committed by a request worker (or another replica) is known here only
//  once its IncidentClosed is published (or the next look, note 8), and
//  its window attached events until then
static int
s_write_evidence (lg_ctx_t *ctx, uint64_t incident, uint32_t n,
                  const monitor_alert_t *a)
{
    char id [24], number [16], sig [24], sev [16];
    snprintf (id, sizeof id, "%" PRIu64, incident);
    snprintf (number, sizeof number, "%u", n);
    snprintf (sig, sizeof sig, "%" PRIu64, a->signature_id);
    snprintf (sev, sizeof sev, "%u", a->severity);
    const char *params [] = { id, number, a->timestamp, a->sensor, a->src_ip, a->dest_ip, sig,
                              a->signature, a->category, sev, s_origin (a) };
    //  Queued, not synced: one round trip for the whole write, not one a row
    return lg_db_run (ctx->db, "INSERT INTO evidence (incident_id, n, at, sensor, src_ip, dest_ip,"
                               " signature_id, signature, category, severity, origin)"
                               " SELECT i.id, $2::integer, $3, $4, $5, $6, $7::bigint, $8, $9,"
                               " $10::integer, $11 FROM incidents i WHERE i.id = $1::bigint"
                               " AND i.status <> 'closed' ON CONFLICT DO NOTHING", 11, params)? 0: -2;
}

static int64_t s_window_first (const s_window_t *w);
static int s_file_offset_write (s_intake_t *self, lg_db_t *db);

//  The burst of an open that found an incident not closed (opened before a
//  restart, or by another replica) attaches to it; none, and nothing opens
//  (the pair is in grace, or its connection is unknown to the table, which
//  cannot be: it was attributed)
static int
s_attach (lg_ctx_t *ctx, s_intake_t *self, s_op_t *op)
{
    s_window_t *w = op->window;
    char conn [24], rule [24], count [16], at [40];
    snprintf (conn, sizeof conn, "%" PRIu64, w->key.a);
    snprintf (rule, sizeof rule, "%" PRIu64, op->rule->id);
    snprintf (count, sizeof count, "%u", op->rule->threshold);
    lg_clock_format (op->at_us, at, sizeof at);
    PGresult *res = lg_db_exec (ctx->db, "UPDATE incidents i SET event_count = event_count + $3::bigint,"
                                         " last_seen = greatest (last_seen, $4::timestamptz)"
                                         " WHERE connection_id = $1::bigint AND rule_id = $2::bigint"
                                         " AND status <> 'closed' RETURNING id,"
                                         " (SELECT count (*) FROM evidence e WHERE e.incident_id = i.id)",
                                4, (const char *[]) { conn, rule, count, at });
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    int rc = 0;
    if (PQntuples (res) == 1) {
        w->t_incident = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
        w->t_evidence = (uint32_t) atoi (PQgetvalue (res, 0, 1));
        if (w->t_evidence < self->evidence_max)
            rc = s_write_evidence (ctx, w->t_incident, ++w->t_evidence, &op->alert);
    }
    PQclear (res);
    return rc;
}


static int
s_open (lg_ctx_t *ctx, s_intake_t *self, s_op_t *op)
{
    s_window_t *w = op->window;
    char conn [24], rule [24], sig [24], count [16], at [40], now [40], first [40];
    snprintf (conn, sizeof conn, "%" PRIu64, w->key.a);
    snprintf (rule, sizeof rule, "%" PRIu64, op->rule->id);
    snprintf (sig, sizeof sig, "%" PRIu64, op->alert.signature_id);
    snprintf (count, sizeof count, "%u", op->rule->threshold);
    lg_clock_format (op->at_us, at, sizeof at);
    int64_t first_us = op->first_us;
    lg_clock_format (first_us && first_us < op->at_us? first_us: op->at_us, first, sizeof first);
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  The pair's grace, as the table has it: a close through another
    //  replica holds here before this one's look at it (note 5)
    PGresult *res = s_grace_rows (ctx->db, ctx->now_us, w->key.a, op->rule->id);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    w->t_grace = PQntuples (res) == 1? strtoll (PQgetvalue (res, 0, 2), NULL, 10): 0;
    PQclear (res);
    if (w->t_grace)
        return s_attach (ctx, self, op);
    const char *params [] = { conn, rule, op->rule->name, sig, count, at, now, first };
    res = lg_db_exec (ctx->db,
        "INSERT INTO incidents (connection_id, provider_id, service_id, prefixes, rule_id,"
        " rule_name, signature_id, status, event_count, first_seen, last_seen, opened_at)"
        " SELECT c.id, c.provider_id, c.service_id, c.prefixes, $2::bigint, $3, $4::bigint, 'open',"
        " $5::bigint, $8::timestamptz, $6::timestamptz, $7::timestamptz FROM connections c"
        " WHERE c.id = $1::bigint"
        " ON CONFLICT (connection_id, rule_id) WHERE status <> 'closed' DO NOTHING RETURNING id",
        8, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    int rc = 0;
    if (PQntuples (res) == 1) {
        w->t_incident = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
        w->t_evidence = 0;
        op->opened = w->t_incident;
        PQclear (res);
        char id [24];
        snprintf (id, sizeof id, "%" PRIu64, w->t_incident);
        if ((rc = s_write_evidence (ctx, w->t_incident, ++w->t_evidence, &op->alert))
        ||  (rc = monitor_emit_opened (ctx, id)))
            return rc;
        if (op->rule->action == LGWAN__V1__RULE_ACTION__RULE_ACTION_INCIDENT_AND_ISOLATE) {
            //  R16.1: the rule decided; the orchestrator disconnects on it
            char decided [160];
            snprintf (decided, sizeof decided, "rule:%s %s", rule, op->rule->name);
            const char *confirm [] = { id, now, decided };
            if (!lg_db_run (ctx->db, "UPDATE incidents SET status = 'confirmed', confirmed_at ="
                                     " $2::timestamptz, decided_by = $3, isolate = true"
                                     " WHERE id = $1::bigint", 3, confirm))
                return -2;
            rc = monitor_emit_confirmed (ctx, id);
        }
        return rc;
    }
    PQclear (res);
    return s_attach (ctx, self, op);
}

static int
s_write_ops (lg_ctx_t *ctx)
{
    s_intake_t *self = (s_intake_t *) ctx->state;
    for (size_t i = 0; i < self->n_ops; i++) {
        s_window_t *w = self->ops [i].window;
        w->t_incident = w->incident;
        w->t_evidence = w->evidence;
        w->t_grace = 0;
        self->ops [i].opened = 0;
    }
    int rc = 0;
    for (size_t i = 0; i < self->n_ops && rc == 0; i++) {
        s_op_t *op = &self->ops [i];
        s_window_t *w = op->window;
        if (op->kind == OP_OPEN && w->t_incident == 0)
            rc = s_open (ctx, self, op);
        else
        if (w->t_incident && w->t_evidence < self->evidence_max)
            rc = s_write_evidence (ctx, w->t_incident, ++w->t_evidence, &op->alert);
    }
    //  The file read up to here, in the same transaction (note 1)
    return rc? rc: s_file_offset_write (self, ctx->db);
}

static void
s_flush_ops (s_intake_t *self)
{
    if (self->n_ops == 0)
        return;
    int rc = lg_server_run_duty (self->server, s_write_ops, "incidents");
    if (rc == 0)
        self->saved_offset = self->t_saved_offset;
    for (size_t i = 0; i < self->n_ops; i++) {
        const s_op_t *op = &self->ops [i];
        s_window_t *w = op->window;
        if (rc == 0 && op->opened) {
            //  Told once committed: a write rolled back opened nothing
            lg_info ("incident %" PRIu64 " opened: connection %" PRIu64 ", rule %" PRIu64
                     " (%s), %u events", op->opened, w->key.a, op->rule->id, op->rule->name,
                     op->rule->threshold);
            self->incidents_opened++;
        }
        if (rc == 0) {
            //  Rows sent: one an incident closed meanwhile skipped counts too
            if (w->t_evidence > w->evidence)
                self->evidence_written += w->t_evidence - w->evidence;
            w->incident = w->t_incident;
            w->evidence = w->t_evidence;
            if (w->t_grace && !w->incident) {
                //  The table said the pair is in grace: counted, opens nothing
                self->in_grace++;
                w->pending = 0;
                s_window_grace (w, w->t_grace);
            }
        }
        else
        if (!w->incident)
            w->pending = 0;         //  not opened: the next event opens (its window is full)
        w->opening = false;
    }
    if (rc)
        lg_warning ("could not write %zu incident changes: the next events try again", self->n_ops);
    self->n_ops = 0;
}

static void
s_queue (s_intake_t *self, s_op_kind_t kind, s_window_t *w, const s_rule_t *rule,
         const monitor_alert_t *alert, int64_t at_us)
{
    if (self->n_ops == MAX_OPS)
        s_flush_ops (self);
    s_op_t *op = &self->ops [self->n_ops++];
    op->kind = kind;
    op->window = w;
    op->rule = rule;
    op->alert = *alert;
    op->at_us = at_us;
    //  As it crossed: the events that attach before the write count in
    //  the window too, and can push its oldest out
    op->first_us = kind == OP_OPEN? s_window_first (w): 0;
    //  An event sent without its time happened when it arrived (the
    //  proto's rule): its evidence says so. It said '', no time at all
    if (!*op->alert.timestamp)
        lg_clock_format (self->now_us, op->alert.timestamp, sizeof op->alert.timestamp);
}

//  ---------------------------------------------------------------------------
//  One event

static bool
s_allowed (s_intake_t *self, uint64_t connection, uint64_t signature_id)
{
    for (size_t i = 0; i < self->n_allow; i++) {
        const s_allow_t *e = &self->allow [i];
        if (e->expires_us > self->now_us
        &&  (e->connection == 0 || e->connection == connection)
        &&  (e->signature_id == 0 || e->signature_id == signature_id))
            return true;
    }
    return false;
}

static bool
s_matches (const s_rule_t *rule, const monitor_alert_t *alert)
{
    return (!rule->category [0] || streq (rule->category, alert->category))
        && (rule->max_severity == 0 || (alert->severity >= 1 && alert->severity <= rule->max_severity))
        && (rule->signature_id == 0 || rule->signature_id == alert->signature_id);
}

//  What tells one alert from another, whichever way it came (EVE socket,
//  followed file, sensor batch): the sensor's flow id, the alert's own
//  time, its signature and both ends. 0 for an alert without a flow id or
//  a time (a sensor's batch may carry neither), which nothing tells from
//  a second one alike: such alerts are never taken for repeats
static uint64_t
s_alert_print (const monitor_alert_t *a)
{
    if (!a->flow_id || !a->at_us)
        return 0;
    uint64_t fields [] = { a->flow_id, (uint64_t) a->at_us, a->signature_id,
                           a->src_port, a->dest_port, a->src.family, a->dest.family };
    uint64_t hash = 0xCBF29CE484222325ULL;            //  FNV-1a
    const uint8_t *parts [] = { (const uint8_t *) fields, a->src.bytes, a->dest.bytes };
    const size_t sizes [] = { sizeof fields, sizeof a->src.bytes, sizeof a->dest.bytes };
    for (size_t part = 0; part < 3; part++)
        for (size_t i = 0; i < sizes [part]; i++)
            hash = (hash ^ parts [part] [i]) * 0x100000001B3ULL;
    return hash? hash: 1;
}

//  The events older than the window's span before its head leave it. A
//  rule given another width keeps what its windows counted: each event
//  leaves by its own time, at the next count
static void
s_window_leave (s_window_t *w, int64_t span)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < w->n_counted; i++)
        if (w->counted [i].at_us > w->head - span)
            w->counted [kept++] = w->counted [i];
    w->n_counted = kept;
}

//  One more event counted. At most threshold are kept (more are counted
//  only while an incident could not be written, or after the rule's
//  threshold was lowered): the one that would leave first goes. false
//  when there is no memory for it
static bool
s_window_add (s_window_t *w, const s_rule_t *rule, const s_counted_t *event)
{
    uint32_t most = rule->threshold? rule->threshold: 1;
    while (w->n_counted >= most) {
        uint32_t first = 0;
        for (uint32_t i = 1; i < w->n_counted; i++)
            if (w->counted [i].at_us < w->counted [first].at_us)
                first = i;
        w->counted [first] = w->counted [--w->n_counted];
    }
    if (w->n_counted == w->max_counted) {
        uint32_t room = w->max_counted? w->max_counted * 2: 4;
        room = room < most? room: most;
        s_counted_t *counted = (s_counted_t *) realloc (w->counted, room * sizeof (s_counted_t));
        if (!counted)
            return false;
        w->counted = counted;
        w->max_counted = room;
    }
    w->counted [w->n_counted++] = *event;
    return true;
}

//  Count the event of time at_us (print: s_alert_print) in its window
//  (note 4): 1 when the window reaches threshold, 0 counted below
//  it; not counted, -1: older than the window's span, which a later event
//  (another sensor's, whose clock is ahead) moved past it, -2: a repeat of
//  an event the window holds. The window is (head - window, head]: any
//  two events less than the window apart count together. Kept in 32
//  buckets of window/32 before, two events 31/32 of the window apart, at
//  a bucket's edge, were not
static int
s_window_count (s_window_t *w, const s_rule_t *rule, int64_t at_us, uint64_t print)
{
    int64_t span = (int64_t) rule->window_s * 1000000;
    if (at_us < 0)
        return -1;                  //  s_take does not let one through
    if (w->head >= 0 && at_us <= w->head - span)
        return -1;                  //  older than the window: the caller counts it apart
    //  A repeat of an event the window holds (the same EVE alert over the
    //  socket and from the file) counts once: the caller counts it apart
    for (uint32_t i = 0; print && i < w->n_counted; i++)
        if (w->counted [i].print == print)
            return -2;
    if (at_us > w->head)
        w->head = at_us;
    s_window_leave (w, span);
    s_counted_t event = { at_us, print };
    if (!s_window_add (w, rule, &event))
        return 0;                   //  no memory: not counted
    return w->n_counted >= rule->threshold? 1: 0;
}

//  The own time of the oldest event still in the window, 0 when it is
//  empty: an incident's first_seen. Kept per event, since one that leaves
//  the window takes its time with it: the window's oldest was taken once
//  to be the event that moved it, and first_seen came out late
static int64_t
s_window_first (const s_window_t *w)
{
    int64_t first = 0;
    for (uint32_t i = 0; i < w->n_counted; i++)
        if (first == 0 || w->counted [i].at_us < first)
            first = w->counted [i].at_us;
    return first;
}

static void
s_minute (s_intake_t *self, s_conn_t *conn)
{
    uint64_t minute = (uint64_t) (self->now_us / 60000000);
    if (conn->minute != minute) {
        s_park (self, conn);
        conn->minute = minute;
        conn->in_minute = 0;
    }
    conn->count++;
    conn->in_minute++;
}

static void s_flush (s_intake_t *self, bool minutes);

static void
s_take (void *arg, const monitor_alert_t *alert)
{
    s_intake_t *self = (s_intake_t *) arg;
    s_sensor_t *sensor = s_sensor (self, alert->sensor);
    sensor->events++;
    sensor->d_events++;
    //  The source's connection, else the destination's (note 3)
    uint64_t index = monitor_lpm_lookup (self->lpm, &alert->src, NULL);
    if (!index)
        index = monitor_lpm_lookup (self->lpm, &alert->dest, NULL);
    if (!index || index > self->n_conns) {
        self->unattributed++;
        sensor->unattributed++;
        sensor->d_unattributed++;
        //  The latest are kept, the oldest giving way: the first 32 of
        //  a flush were, the rest of a burst never sampled
        if (self->n_samples < MAX_SAMPLES)
            self->samples [(self->first_sample + self->n_samples++) % MAX_SAMPLES] = *alert;
        else {
            self->samples [self->first_sample] = *alert;
            self->first_sample = (self->first_sample + 1) % MAX_SAMPLES;
        }
        return;
    }
    self->attributed++;
    s_conn_t *conn = &self->conns [index - 1];
    uint64_t connection = conn->id;
    s_minute (self, conn);
    if (zhashx_size (self->minutes) >= MAX_MINUTES)
        s_flush (self, true);
    //  Its own time, unless our clock says it cannot be: never later than
    //  ours (note 4)
    int64_t at_us = alert->at_us;
    if (at_us <= 0 || at_us > self->now_us)
        at_us = self->now_us;
    uint64_t print = s_alert_print (alert);
    for (size_t i = 0; i < self->n_rules; i++) {
        const s_rule_t *rule = &self->rules [i];
        if (!s_matches (rule, alert))
            continue;
        if (s_allowed (self, connection, alert->signature_id)) {
            self->allowlisted++;
            continue;
        }
        self->matched++;
        s_window_t *w = s_conn_window (self, conn, rule->id);
        w->touched = self->mono;
        if (w->incident || w->opening) {
            //  Counted in the window too, for what tells a repeat: one
            //  attaches nothing (it added to the incident's event_count
            //  and evidence, though the window counted it once)
            if (s_window_count (w, rule, at_us, print) == -2) {
                self->duplicates++;
                continue;
            }
            self->attached++;
            w->pending++;
            if (at_us > w->last_us)
                w->last_us = at_us;
            if (w->evidence < self->evidence_max)
                s_queue (self, OP_EVIDENCE, w, rule, alert, at_us);
            continue;
        }
        if (w->grace_until > self->now_us) {
            self->in_grace++;       //  counted, opens nothing (PacketFence grace)
            continue;
        }
        int counted = s_window_count (w, rule, at_us, print);
        if (counted == -2) {
            //  Delivered twice: one alert never counts twice toward a
            //  threshold (isolation was reachable by repeats)
            self->duplicates++;
            continue;
        }
        if (counted < 0) {
            //  Said, not hidden: a sensor whose clock is behind another's,
            //  or a backlog older than the window's span
            self->too_old++;
            continue;
        }
        if (counted > 0) {
            //  The window keeps its burst until the incident is written (a
            //  failed write leaves it over the threshold: the next event
            //  opens); an open incident's events attach, and its close
            //  empties the window
            w->opening = true;
            w->last_us = at_us;
            s_queue (self, OP_OPEN, w, rule, alert, at_us);
        }
    }
}

//  ---------------------------------------------------------------------------
//  Periodic flush of counts and samples (one duty)

//  Append an element to a PostgreSQL array literal, quoted
static void
s_array_add (zchunk_t *array, const char *text)
{
    zchunk_extend (array, zchunk_size (array) > 1? ",\"": "\"", zchunk_size (array) > 1? 2: 1);
    for (const char *at = text; *at; at++) {
        if (*at == '"' || *at == '\\')
            zchunk_extend (array, "\\", 1);
        zchunk_extend (array, at, 1);
    }
    zchunk_extend (array, "\"", 1);
}

static zchunk_t *
s_array_new (void)
{
    zchunk_t *array = zchunk_new ("{", 1);
    return array;
}

static char *
s_array_end (zchunk_t **array_p)
{
    zchunk_extend (*array_p, "}", 2);     //  with the NUL
    char *text = strdup ((const char *) zchunk_data (*array_p));
    zchunk_destroy (array_p);
    return text;
}

static int
s_write_counts (lg_ctx_t *ctx)
{
    s_intake_t *self = (s_intake_t *) ctx->state;
    int rc = 0;
    //  Incidents: events attached since the last flush
    for (s_window_t *w = (s_window_t *) zhashx_first (self->windows); w && rc == 0;
         w = (s_window_t *) zhashx_next (self->windows)) {
        if (!w->incident || !w->pending)
            continue;
        char id [24], add [24], last [40];
        snprintf (id, sizeof id, "%" PRIu64, w->incident);
        snprintf (add, sizeof add, "%" PRIu64, w->pending);
        lg_clock_format (w->last_us, last, sizeof last);
        const char *params [] = { id, add, last };
        rc = lg_db_run (ctx->db, "UPDATE incidents SET event_count = event_count + $2::bigint,"
                                 " last_seen = greatest (last_seen, $3::timestamptz)"
                                 " WHERE id = $1::bigint AND status <> 'closed'", 3, params)? 0: -2;
    }
    //  Per connection and minute
    if (rc == 0 && self->with_minutes && zhashx_size (self->minutes)) {
        zchunk_t *ids = s_array_new (), *mins = s_array_new (), *counts = s_array_new ();
        for (uint64_t *count = (uint64_t *) zhashx_first (self->minutes); count;
             count = (uint64_t *) zhashx_next (self->minutes)) {
            const s_key_t *key = (const s_key_t *) zhashx_cursor (self->minutes);
            char text [24];
            snprintf (text, sizeof text, "%" PRIu64, key->a);
            s_array_add (ids, text);
            snprintf (text, sizeof text, "%" PRIu64, key->b * 60);
            s_array_add (mins, text);
            snprintf (text, sizeof text, "%" PRIu64, *count);
            s_array_add (counts, text);
        }
        char *a = s_array_end (&ids), *b = s_array_end (&mins), *c = s_array_end (&counts);
        const char *params [] = { a, b, c };
        rc = lg_db_run (ctx->db, "INSERT INTO minute_counts (connection_id, minute, events)"
                                 " SELECT i, to_timestamp (m), n FROM unnest ($1::bigint[],"
                                 " $2::bigint[], $3::bigint[]) AS u (i, m, n)"
                                 " ON CONFLICT (connection_id, minute) DO UPDATE"
                                 " SET events = minute_counts.events + excluded.events",
                        3, params)? 0: -2;
        free (a);
        free (b);
        free (c);
    }
    //  Per sensor
    if (rc == 0) {
        zchunk_t *names = s_array_new (), *events = s_array_new (), *unattr = s_array_new (),
                 *bad = s_array_new ();
        size_t n = 0;
        for (s_sensor_t *s = (s_sensor_t *) zhashx_first (self->sensors); s;
             s = (s_sensor_t *) zhashx_next (self->sensors)) {
            if (!s->d_events && !s->d_unattributed && !s->d_malformed)
                continue;
            char text [24];
            s_array_add (names, (const char *) zhashx_cursor (self->sensors));
            snprintf (text, sizeof text, "%" PRIu64, s->d_events);
            s_array_add (events, text);
            snprintf (text, sizeof text, "%" PRIu64, s->d_unattributed);
            s_array_add (unattr, text);
            snprintf (text, sizeof text, "%" PRIu64, s->d_malformed);
            s_array_add (bad, text);
            n++;
        }
        char *a = s_array_end (&names), *b = s_array_end (&events), *c = s_array_end (&unattr),
             *d = s_array_end (&bad);
        const char *params [] = { a, b, c, d };
        if (n)
            rc = lg_db_run (ctx->db, "INSERT INTO sensor_counts (sensor, events, unattributed,"
                                     " malformed) SELECT * FROM unnest ($1::text[], $2::bigint[],"
                                     " $3::bigint[], $4::bigint[]) ON CONFLICT (sensor) DO UPDATE"
                                     " SET events = sensor_counts.events + excluded.events,"
                                     " unattributed = sensor_counts.unattributed + excluded.unattributed,"
                                     " malformed = sensor_counts.malformed + excluded.malformed",
                            4, params)? 0: -2;
        free (a);
        free (b);
        free (c);
        free (d);
    }
    //  Samples of what matched no connection, oldest first: the table
    //  keeps the latest MAX_SAMPLES (by id)
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    for (size_t i = 0; i < self->n_samples && rc == 0; i++) {
        const monitor_alert_t *a = &self->samples [(self->first_sample + i) % MAX_SAMPLES];
        char sig [24], sev [16];
        snprintf (sig, sizeof sig, "%" PRIu64, a->signature_id);
        snprintf (sev, sizeof sev, "%u", a->severity);
        const char *params [] = { now, a->timestamp, a->sensor, a->src_ip, a->dest_ip, sig,
                                  a->signature, a->category, sev, s_origin (a) };
        rc = lg_db_run (ctx->db, "INSERT INTO unattributed_samples (received_at, at, sensor, src_ip,"
                                 " dest_ip, signature_id, signature, category, severity, origin)"
                                 " VALUES ($1::timestamptz, $2, $3, $4, $5, $6::bigint, $7, $8,"
                                 " $9::integer, $10)", 10, params)? 0: -2;
    }
    if (rc == 0 && self->n_samples)
        rc = lg_db_run (ctx->db, "DELETE FROM unattributed_samples WHERE id <="
                                 " (SELECT max (id) - " S_TEXT (MAX_SAMPLES)
                                 " FROM unattributed_samples)", 0, NULL)? 0: -2;
    //  A day of minutes is kept
    if (rc == 0 && zclock_mono () - self->last_retention > 60000) {
        rc = lg_db_run (ctx->db, "DELETE FROM minute_counts WHERE minute < $1::timestamptz"
                                 " - interval '1 day'", 1, (const char *[]) { now })? 0: -2;
        if (rc == 0)
            self->last_retention = zclock_mono ();
    }
    //  The counts of the lines read go with their offset (note 1)
    return rc? rc: s_file_offset_write (self, ctx->db);
}

//  Write what is counted (the minute counts too when asked or due)
static void
s_flush (s_intake_t *self, bool minutes)
{
    s_flush_ops (self);
    self->with_minutes = minutes || zclock_mono () >= self->counts_due;
    if (self->with_minutes) {
        for (size_t i = 0; i < self->n_conns; i++)
            s_park (self, &self->conns [i]);
        self->counts_due = zclock_mono () + self->counts_ms;
    }
    if (lg_server_run_duty (self->server, s_write_counts, "counts") == 0) {
        self->saved_offset = self->t_saved_offset;
        for (s_window_t *w = (s_window_t *) zhashx_first (self->windows); w;
             w = (s_window_t *) zhashx_next (self->windows))
            if (w->incident)
                w->pending = 0;
        for (s_sensor_t *s = (s_sensor_t *) zhashx_first (self->sensors); s;
             s = (s_sensor_t *) zhashx_next (self->sensors))
            s->d_events = s->d_unattributed = s->d_malformed = 0;
        self->n_samples = 0;
    }
    //  Counts of a lost database are dropped, not kept growing
    if (self->with_minutes)
        zhashx_purge (self->minutes);
    self->n_samples = self->first_sample = 0;
    //  Windows with no incident and nothing for a day are forgotten
    zlistx_t *idle = zlistx_new ();
    int64_t now = zclock_mono ();
    for (s_window_t *w = (s_window_t *) zhashx_first (self->windows); w;
         w = (s_window_t *) zhashx_next (self->windows))
        if (!w->incident && !w->opening && now - w->touched > 86400000LL
        &&  w->grace_until <= self->now_us)
            zlistx_add_end (idle, w);
    bool swept = zlistx_size (idle) > 0;
    for (s_window_t *w = (s_window_t *) zlistx_first (idle); w; w = (s_window_t *) zlistx_next (idle))
        zhashx_delete (self->windows, &w->key);
    zlistx_destroy (&idle);
    if (swept)
        s_relink (self);
}

static int
s_on_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_intake_t *self = (s_intake_t *) arg;
    s_begin (self);
    s_flush (self, false);
    return 0;
}

//  ---------------------------------------------------------------------------
//  EVE lines

static void
s_eve_line (s_intake_t *self, const char *line, size_t size, const char *source,
            const char *where, int64_t line_no)
{
    self->eve_lines++;
    if (size == 0)
        return;                 //  an empty line is no event
    monitor_alert_t alert;
    char why [160];
    int rc = monitor_eve_parse (line, size, &alert, why, sizeof why);
    if (rc == 1) {
        self->eve_other++;
        return;
    }
    if (rc) {
        s_count_malformed (self, source);
        s_log_bad (self, "malformed EVE line: %s\n%s, line %" PRId64, why, where, line_no);
        return;
    }
    if (!*alert.sensor)
        snprintf (alert.sensor, sizeof alert.sensor, "%s", source);
    self->events_eve++;
    s_take (self, &alert);
}

//  Take the complete lines in lines->buf; keep the partial one
static void
s_lines_drain (s_intake_t *self, s_lines_t *lines, const char *source, const char *where)
{
    //  A line that comes a few bytes a read is looked through once: its
    //  start was looked through at every read, up to 1 MiB each time
    size_t start = 0;
    while (start < lines->len) {
        size_t from = lines->scanned > start? lines->scanned: start;
        char *newline = (char *) memchr (lines->buf + from, '\n', lines->len - from);
        if (!newline)
            break;
        size_t size = (size_t) (newline - (lines->buf + start));
        lines->line_no++;
        //  Past the line before it is taken: a write its event makes
        //  carries an offset after it, so it is never read twice (note 1)
        lines->consumed += (int64_t) size + 1;
        if (lines->discarding)
            lines->discarding = false;      //  the end of a line already counted
        else {
            size_t trimmed = size && lines->buf [start + size - 1] == '\r'? size - 1: size;
            s_eve_line (self, lines->buf + start, trimmed, source, where, lines->line_no);
        }
        start += size + 1;
    }
    if (start)                          //  a sender that sent nothing has no buffer
        memmove (lines->buf, lines->buf + start, lines->len - start);
    lines->len -= start;
    lines->scanned = lines->len;        //  what is left holds no newline
    if (lines->len > MONITOR_LINE_MAX) {
        //  Over the bound with no newline: counted once, skipped to its end
        if (!lines->discarding) {
            s_count_malformed (self, source);
            s_log_bad (self, "malformed EVE line: longer than %d bytes\n%s, line %" PRId64,
                       MONITOR_LINE_MAX, where, lines->line_no + 1);
        }
        lines->discarding = true;
        lines->consumed += (int64_t) lines->len;
        lines->len = 0;
        lines->scanned = 0;
    }
}

//  Read what fd has (up to max bytes) into lines; bytes read, 0 at EOF, -1
static ssize_t
s_lines_read (s_lines_t *lines, int fd)
{
    if (!lines->buf)
        lines->buf = (char *) malloc (MONITOR_LINE_MAX + READ_CHUNK + 1);
    size_t room = MONITOR_LINE_MAX + READ_CHUNK - lines->len;
    if (room > READ_CHUNK)
        room = READ_CHUNK;
    ssize_t got = read (fd, lines->buf + lines->len, room);
    if (got > 0)
        lines->len += (size_t) got;
    return got;
}

static void
s_client_destroy (s_intake_t *self, int slot)
{
    s_client_t *client = self->clients [slot];
    zmq_pollitem_t item = { NULL, client->fd, ZMQ_POLLIN, 0 };
    zloop_poller_end (self->loop, &item);
    close (client->fd);
    free (client->lines.buf);
    free (client);
    self->clients [slot] = NULL;
}

//  Where a sender's lines are, for the log
static void
s_client_where (const s_client_t *client, char *where, size_t size)
{
    snprintf (where, size, "EVE socket connection %d", client->number);
}

//  A sender that is gone, or closed for a new one: its last line may come
//  without its newline
static void
s_client_end (s_intake_t *self, int slot, const char *where)
{
    s_client_t *client = self->clients [slot];
    s_lines_drain (self, &client->lines, "eve-socket", where);
    if (client->lines.len && !client->lines.discarding)
        s_eve_line (self, client->lines.buf, client->lines.len, "eve-socket", where,
                    client->lines.line_no + 1);
    s_flush_ops (self);
    s_client_destroy (self, slot);
}

static int
s_on_client (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    s_intake_t *self = (s_intake_t *) arg;
    int slot = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (self->clients [i] && self->clients [i]->fd == item->fd)
            slot = i;
    if (slot < 0)
        return 0;
    s_client_t *client = self->clients [slot];
    s_begin (self);
    client->active = self->mono;
    char where [64];
    s_client_where (client, where, sizeof where);
    //  A few chunks at a time, so one sender cannot hold the reactor
    for (int round = 0; round < 16; round++) {
        ssize_t got = s_lines_read (&client->lines, client->fd);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (got <= 0) {
            s_client_end (self, slot, where);
            return 0;
        }
        s_lines_drain (self, &client->lines, "eve-socket", where);
    }
    s_flush_ops (self);
    return 0;
}

static int
s_on_accept (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_intake_t *self = (s_intake_t *) arg;
    int fd = accept (item->fd, NULL, NULL);
    if (fd < 0)
        return 0;
    int slot = -1;
    for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
        if (!self->clients [i])
            slot = i;
    if (slot < 0) {
        //  All taken: the sender idle longest makes room (it reconnects
        //  when it has something to say). The new one was refused, so
        //  64 senders that connected and said nothing locked out the IDS
        slot = 0;
        for (int i = 1; i < MAX_CLIENTS; i++)
            if (self->clients [i]->active < self->clients [slot]->active)
                slot = i;
        s_begin (self);
        char where [64];
        s_client_where (self->clients [slot], where, sizeof where);
        lg_warning ("EVE socket: %d senders, %s closed for a new one (idle %" PRId64 " ms)",
                    MAX_CLIENTS, where, self->mono - self->clients [slot]->active);
        s_client_end (self, slot, where);
        self->eve_idle_closed++;
    }
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    s_client_t *client = (s_client_t *) zmalloc (sizeof *client);
    client->fd = fd;
    client->number = ++self->client_serial;
    client->active = zclock_mono ();
    self->clients [slot] = client;
    zmq_pollitem_t poll = { NULL, fd, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &poll, s_on_client, self);
    return 0;
}

//  path opened for reading, with its stat; -1 when it cannot be
static int
s_file_at (const char *path, struct stat *st)
{
    int fd = open (path, O_RDONLY | O_NONBLOCK);
    if (fd >= 0 && fstat (fd, st)) {
        close (fd);
        fd = -1;
    }
    return fd;
}

//  True when the file (fd) starts with head (len bytes, at most FILE_HEAD):
//  the file whose first bytes were read, or a copy of it. Nothing to
//  compare (len 0, a row from before migration 002) is true
static bool
s_file_starts_with (int fd, const void *head, size_t len)
{
    char first [FILE_HEAD];
    return len == 0
        || (len <= FILE_HEAD && pread (fd, first, len, 0) == (ssize_t) len
            && memcmp (first, head, len) == 0);
}

//  The name the followed file had when it was opened: the path (older 0)
//  or logrotate's older name for it, <path>.<older>
static void
s_file_name (const s_intake_t *self, int older, char *name, size_t size)
{
    if (older)
        snprintf (name, size, "%s.%d", self->eve_file, older);
    else
        snprintf (name, size, "%s", self->eve_file);
}

//  A copytruncate's copy of the followed file: <path>.1, another inode than
//  inode, starting with head (head_len bytes) and at least at_least bytes
//  long. Its descriptor at at_least (*st its stat), or -1 when there is none
static int
s_file_copy_open (const s_intake_t *self, uint64_t inode, const void *head, size_t head_len,
                  int64_t at_least, struct stat *st)
{
    char name [sizeof self->file_name];
    s_file_name (self, 1, name, sizeof name);
    int fd = s_file_at (name, st);
    if (fd < 0)
        return -1;
    bool copy = head_len > 0 && (uint64_t) st->st_ino != inode
             && (int64_t) st->st_size >= at_least && s_file_starts_with (fd, head, head_len)
             && lseek (fd, (off_t) at_least, SEEK_SET) == (off_t) at_least;
    if (!copy) {
        close (fd);
        return -1;
    }
    return fd;
}

//  The followed file was truncated (copytruncate): when <path>.1 is its
//  copy, what was not read yet is there. Followed from where reading was
//  (the line under way goes on), as the older name it is: the file at the
//  path follows it from its start once it is quiet. False when there is no
//  copy: the caller reads the path from its start
static bool
s_file_take_copy (s_intake_t *self)
{
    struct stat st;
    int64_t at = self->file_lines.consumed + (int64_t) self->file_lines.len;
    int fd = s_file_copy_open (self, self->file_inode, self->file_head, self->file_head_len, at,
                               &st);
    if (fd < 0)
        return false;
    close (self->file_fd);
    self->file_fd = fd;
    self->file_inode = (uint64_t) st.st_ino;
    self->file_older = 1;
    s_file_name (self, 1, self->file_name, sizeof self->file_name);
    self->file_quiet_since = 0;
    self->rotations++;
    lg_info ("%s was truncated after line %" PRId64 " and copied to %s: the rest of the copy"
             " first", self->eve_file, self->file_lines.line_no, self->file_name);
    return true;
}

//  The followed file: open it, at the stored offset when it is the same
//  file: the same inode, as long as the offset, and starting with the
//  first bytes stored with it (a copytruncate while the monitor was
//  stopped keeps the inode; read from its start, counted as a rotation).
//  At start (resume), the stored file may have been rotated while the
//  monitor was stopped, once or more: when <path>.1 … <path>.FILE_OLDER_MAX
//  (logrotate's names) is that file, its unread end is read first, then
//  each newer name from its start down to the path (s_on_file moves on at
//  the end of each). Otherwise the file opened is the one named by
//  file_older, or the next newer one that exists
static void
s_file_open (s_intake_t *self, bool resume)
{
    struct stat st;
    if (resume)
        self->file_older = 0;
    s_file_name (self, self->file_older, self->file_name, sizeof self->file_name);
    int fd = s_file_at (self->file_name, &st);
    while (fd < 0 && self->file_older > 0) {
        self->file_older--;
        s_file_name (self, self->file_older, self->file_name, sizeof self->file_name);
        fd = s_file_at (self->file_name, &st);
    }
    int64_t offset = 0, line_no = 0;
    if (resume) {
        const char *params [] = { self->eve_file };
        PGresult *res = lg_db_exec (self->db, "SELECT inode, read_offset, line_no, head"
                                              " FROM eve_files WHERE path = $1", 1, params);
        if (res && PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1) {
            uint64_t inode = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
            offset = strtoll (PQgetvalue (res, 0, 1), NULL, 10);
            line_no = strtoll (PQgetvalue (res, 0, 2), NULL, 10);
            for (int older = 1; older <= FILE_OLDER_MAX
                             && (fd < 0 || (uint64_t) st.st_ino != inode); older++) {
                char name [sizeof self->file_name];
                s_file_name (self, older, name, sizeof name);
                struct stat old_st;
                int old = s_file_at (name, &old_st);
                if (old >= 0 && (uint64_t) old_st.st_ino == inode) {
                    lg_info ("%s was rotated while the monitor was stopped: the rest of %s first",
                             self->eve_file, name);
                    if (fd >= 0)
                        close (fd);
                    fd = old;
                    st = old_st;
                    self->file_older = older;
                    snprintf (self->file_name, sizeof self->file_name, "%s", name);
                }
                else
                if (old >= 0)
                    close (old);
            }
            //  The first bytes stored with the offset (none in a row from
            //  before migration 002)
            size_t head_len = 0;
            uint8_t *head = lg_db_bytes (res, 0, "head", &head_len);
            bool same = fd >= 0 && (uint64_t) st.st_ino == inode;
            bool cut = same && offset && (offset > (int64_t) st.st_size
                                      || !s_file_starts_with (fd, head, head? head_len: 0));
            if (cut && self->file_older == 0) {
                //  Truncated, or truncated and written again, while the
                //  monitor was stopped: a copytruncate's copy holds the
                //  rest; else the file is read from its start
                struct stat copy_st;
                int copy = head? s_file_copy_open (self, inode, head, head_len, offset, &copy_st): -1;
                if (copy >= 0) {
                    close (fd);
                    fd = copy;
                    st = copy_st;
                    self->file_older = 1;
                    s_file_name (self, 1, self->file_name, sizeof self->file_name);
                    lg_info ("%s was truncated while the monitor was stopped and copied to %s:"
                             " the rest of the copy first", self->eve_file, self->file_name);
                }
                else {
                    lg_info ("%s was truncated while the monitor was stopped (shorter than the"
                             " offset, or its first bytes are not those read): following it from"
                             " its start", self->file_name);
                    offset = line_no = 0;
                }
                self->rotations++;
            }
            else
            if (!same || cut)
                offset = line_no = 0;
            PQfreemem (head);
        }
        PQclear (res);
    }
    if (fd < 0)
        return;
    self->file_fd = fd;
    self->file_inode = (uint64_t) st.st_ino;
    //  Its first bytes now, so that an offset is never saved without them
    ssize_t got = pread (fd, self->file_head, sizeof self->file_head, 0);
    self->file_head_len = got > 0? (size_t) got: 0;
    self->file_lines.len = 0;
    self->file_lines.scanned = 0;
    self->file_lines.discarding = false;
    self->file_lines.consumed = offset;
    self->file_lines.line_no = line_no;
    if (offset) {
        lseek (fd, (off_t) offset, SEEK_SET);
        lg_info ("following %s from line %" PRId64 " (offset %" PRId64 ")", self->file_name,
                 line_no, offset);
    }
    self->saved_offset = -1;
}

//  The followed file's offset, line and first bytes, on db: alone, or in
//  the transaction of what the lines read made (note 1), so that a crash
//  after its COMMIT never reads them again. 0, or -2; t_saved_offset is
//  what a COMMIT makes true. Nothing before the file was first opened
static int
s_file_offset_write (s_intake_t *self, lg_db_t *db)
{
    self->t_saved_offset = self->saved_offset;
    if (!self->file_inode || self->file_lines.consumed == self->saved_offset)
        return 0;
    char inode [24], offset [24], line [24];
    snprintf (inode, sizeof inode, "%" PRIu64, self->file_inode);
    snprintf (offset, sizeof offset, "%" PRId64, self->file_lines.consumed);
    snprintf (line, sizeof line, "%" PRId64, self->file_lines.line_no);
    //  With the first bytes read, which tell this file from one rewritten
    //  while the monitor was stopped (s_file_open)
    char *head = lg_db_hex (self->file_head, self->file_head_len);
    if (!head)
        return -2;
    const char *params [] = { self->eve_file, inode, offset, line, head };
    int rc = lg_db_run (db, "INSERT INTO eve_files (path, inode, read_offset, line_no, head)"
                            " VALUES ($1, $2::bigint, $3::bigint, $4::bigint, $5::bytea)"
                            " ON CONFLICT (path) DO UPDATE SET inode = excluded.inode,"
                            " read_offset = excluded.read_offset, line_no = excluded.line_no,"
                            " head = excluded.head, updated_at = now ()", 5, params)? 0: -2;
    free (head);
    if (rc == 0)
        self->t_saved_offset = self->file_lines.consumed;
    return rc;
}

//  The offset, when nothing else was written with it (saved at the next
//  poll when it could not be)
static void
s_file_save (s_intake_t *self)
{
    if (s_file_offset_write (self, self->db) == 0)
        self->saved_offset = self->t_saved_offset;
}

//  True when the followed file no longer holds what was read of it: it is
//  shorter than the offset, or its first bytes are not those read (it was
//  truncated and written again past the offset between two polls). The
//  first FILE_HEAD bytes are kept as they are seen
static bool
s_file_cut (s_intake_t *self)
{
    struct stat st;
    if (fstat (self->file_fd, &st))
        return false;
    if ((int64_t) st.st_size < self->file_lines.consumed + (int64_t) self->file_lines.len)
        return true;
    char head [FILE_HEAD];
    ssize_t got = pread (self->file_fd, head, sizeof head, 0);
    if (got < 0)
        return false;
    if ((size_t) got < self->file_head_len || memcmp (head, self->file_head, self->file_head_len))
        return true;
    memcpy (self->file_head, head, (size_t) got);
    self->file_head_len = (size_t) got;
    return false;
}

//  The file followed is done with (rotated away, truncated or rewritten):
//  a line it cut is malformed, and the next file is read from its start:
//  the one at the path, or the next newer of logrotate's older names while
//  those rotated during a stop are caught up with (s_file_open)
static void
s_file_restart (s_intake_t *self, const char *where, const char *how)
{
    if (self->file_lines.len && !self->file_lines.discarding) {
        s_count_malformed (self, "eve-file");
        s_log_bad (self, "malformed EVE line: cut by rotation\n%s, line %" PRId64,
                   where, self->file_lines.line_no + 1);
    }
    char was [sizeof self->file_name];
    snprintf (was, sizeof was, "%s", self->file_name);
    self->rotations++;
    close (self->file_fd);
    self->file_fd = -1;
    s_file_open (self, false);
    lg_info ("%s was %s after line %" PRId64 ": following %s from its start", was, how,
             self->file_lines.line_no, self->file_name);
}

static int
s_on_file (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_intake_t *self = (s_intake_t *) arg;
    s_begin (self);
    if (self->file_fd < 0)
        s_file_open (self, false);
    if (self->file_fd < 0)
        return 0;
    char where [sizeof self->file_name];
    snprintf (where, sizeof where, "%s", self->file_name);
    //  Truncated since the last poll, even when written again past where
    //  we were: read from its start (a copytruncate rotation)
    if (s_file_cut (self) && (self->file_older > 0 || !s_file_take_copy (self)))
        s_file_restart (self, where, "truncated");
    if (self->file_fd < 0)
        return 0;
    //  Up to about 200 ms of work per tick, then the reactor serves others
    int64_t until = zclock_mono () + 200;
    ssize_t got = 0;
    bool read = false;
    while (zclock_mono () < until) {
        got = s_lines_read (&self->file_lines, self->file_fd);
        if (got <= 0)
            break;
        read = true;
        s_lines_drain (self, &self->file_lines, "eve-file", where);
    }
    s_flush_ops (self);
    if (got == 0) {
        //  At the end: was it rotated (another file at the path), or is it
        //  an older name rotated during a stop (the next newer follows)?
        //  The IDS writes on into a renamed file until its HUP, so it is
        //  left only once it has been quiet for rotate_wait_ms at its end:
        //  left at its first end, the lines written to it after were lost
        struct stat st;
        bool moved = self->file_older > 0
                  || (stat (self->eve_file, &st) == 0 && (uint64_t) st.st_ino != self->file_inode);
        int64_t now = zclock_mono ();
        if (!moved)
            self->file_quiet_since = 0;
        else
        if (read || self->file_quiet_since == 0)
            self->file_quiet_since = now;
        if (moved && now - self->file_quiet_since >= self->rotate_wait_ms) {
            self->file_quiet_since = 0;
            if (self->file_older > 0) {
                self->file_older--;
                s_file_restart (self, where, "read to its end");
            }
            else
                s_file_restart (self, where, "rotated");
        }
    }
    s_file_save (self);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Sensor batches

static int
s_on_pull (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    s_intake_t *self = (s_intake_t *) arg;
    s_begin (self);
    for (int round = 0; round < 256; round++) {
        if (round && !(zsock_events (reader) & ZMQ_POLLIN))
            break;
        zframe_t *frame = zframe_recv (reader);
        if (!frame)
            break;
        self->frames++;
        lg_caller_t caller;
        if (!self->auth || lg_auth_caller (self->auth, frame, &caller) || caller.role != LG_ROLE_SENSOR) {
            self->frames_refused++;
            s_log_bad (self, "sensor frame refused: the certificate is not a sensor's (%s)",
                       self->auth && lg_auth_caller (self->auth, frame, &caller) == 0
                       ? caller.role_name: "unknown");
            zframe_destroy (&frame);
            continue;
        }
        size_t invalid = 0;
        char why [128];
        int taken = monitor_batch_decode (zframe_data (frame), zframe_size (frame),
                                          (size_t) self->max_msg, s_take, self, &invalid,
                                          why, sizeof why);
        if (taken < 0) {
            self->frames_malformed++;
            s_count_malformed (self, "sensor-frames");
            s_log_bad (self, "malformed sensor frame: %s\nframe %" PRIu64 " of %zu bytes",
                       why, self->frames, zframe_size (frame));
        }
        else {
            self->events_sensor += (uint64_t) taken;
            for (size_t i = 0; i < invalid; i++)
                s_count_malformed (self, "sensor-events");
            if (invalid)
                s_log_bad (self, "%zu malformed events in sensor frame %" PRIu64 ", the rest taken\n"
                           "%s", invalid, self->frames, why);
        }
        zframe_destroy (&frame);
    }
    s_flush_ops (self);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Our own events, after COMMIT

//  The window's incident was closed: the next burst opens a new one, after
//  the rule's grace
static void
s_window_closed (s_intake_t *self, s_window_t *w)
{
    w->incident = 0;
    w->evidence = 0;
    w->pending = 0;
    w->head = -1;
    w->n_counted = 0;
    for (size_t i = 0; i < self->n_rules; i++)
        if (self->rules [i].id == w->key.b && self->rules [i].grace_s)
            s_window_grace (w, lg_clock_now_us () + (int64_t) self->rules [i].grace_s * 1000000);
}

//  Timer: what other replicas changed (note 8)
static int
s_on_sync (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_intake_t *self = (s_intake_t *) arg;
    PGresult *res = lg_db_exec (self->db, "SELECT (SELECT seq FROM outbox_head WHERE id = 1)"
                                          " AS events, (SELECT coalesce (sum (last_seq), 0)"
                                          " FROM cursors) AS applied", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1) {
        PQclear (res);
        return 0;                   //  the next look
    }
    int64_t events = strtoll (lg_db_value (res, 0, "events"), NULL, 10);
    int64_t applied = strtoll (lg_db_value (res, 0, "applied"), NULL, 10);
    PQclear (res);
    if (self->seen_applied >= 0 && applied != self->seen_applied)
        self->dirty_prefixes = true;
    self->seen_applied = applied;
    if (self->seen_events < 0 || events == self->seen_events) {
        self->seen_events = events;
        return 0;
    }
    self->seen_events = events;
    self->dirty_rules = self->dirty_allow = true;
    //  The incidents held open here that were closed elsewhere
    char *ids = NULL;
    size_t len = 0;
    for (s_window_t *w = (s_window_t *) zhashx_first (self->windows); w;
         w = (s_window_t *) zhashx_next (self->windows))
        if (w->incident) {
            char item [24];
            snprintf (item, sizeof item, "%s%" PRIu64, len? ",": "{", w->incident);
            ids = (char *) realloc (ids, len + strlen (item) + 2);
            memcpy (ids + len, item, strlen (item) + 1);
            len += strlen (item);
        }
    if (ids) {
        strcat (ids, "}");
        res = lg_db_exec (self->db, "SELECT id FROM incidents WHERE id = ANY ($1::bigint[])"
                                    " AND status = 'closed'", 1, (const char *[]) { ids });
        free (ids);
        if (res && PQresultStatus (res) == PGRES_TUPLES_OK)
            for (int row = 0; row < PQntuples (res); row++) {
                uint64_t closed = strtoull (PQgetvalue (res, row, 0), NULL, 10);
                for (s_window_t *w = (s_window_t *) zhashx_first (self->windows); w;
                     w = (s_window_t *) zhashx_next (self->windows))
                    if (w->incident == closed)
                        s_window_closed (self, w);
            }
        PQclear (res);
    }
    //  And the grace of every incident closed elsewhere, whether or not
    //  this replica held it open
    s_load_grace (self);
    return 0;
}

static void
s_on_published (void *arg, const char *topic, zframe_t *frame)
{
    s_intake_t *self = (s_intake_t *) arg;
    if (streq (topic, "rule_changed"))
        self->dirty_rules = true;
    else
    if (streq (topic, "allowlist_changed"))
        self->dirty_allow = true;
    else
    if (streq (topic, "incident_closed")) {
        lg_event_t *event = lgwan__v1__event__unpack (NULL, zframe_size (frame), zframe_data (frame));
        if (event && event->body_case == LGWAN__V1__EVENT__BODY_INCIDENT_CLOSED) {
            //  The grace starts also for a pair whose window did not know
            //  the incident (or had none)
            s_window_t *w = s_window (self, event->incident_closed->connection,
                                      event->incident_closed->rule);
            if (!w->incident || w->incident == event->incident_closed->incident)
                s_window_closed (self, w);
        }
        if (event)
            lgwan__v1__event__free_unpacked (event, NULL);
    }
}

static void
s_stats (void *arg, Lgwan__V1__StatsReply *stats)
{
    s_intake_t *self = (s_intake_t *) arg;
    lg_stats_add (stats, "intake.frames", self->frames);
    lg_stats_add (stats, "intake.frames_refused", self->frames_refused);
    lg_stats_add (stats, "intake.frames_malformed", self->frames_malformed);
    lg_stats_add (stats, "intake.events_sensor", self->events_sensor);
    lg_stats_add (stats, "intake.eve_lines", self->eve_lines);
    lg_stats_add (stats, "intake.events_eve", self->events_eve);
    lg_stats_add (stats, "intake.eve_other", self->eve_other);
    lg_stats_add (stats, "intake.malformed", self->malformed);
    lg_stats_add (stats, "intake.eve_rotations", self->rotations);
    lg_stats_add (stats, "intake.eve_idle_closed", self->eve_idle_closed);
    lg_stats_add (stats, "attribution.attributed", self->attributed);
    lg_stats_add (stats, "attribution.unattributed", self->unattributed);
    lg_stats_add (stats, "attribution.prefixes", monitor_lpm_size (self->lpm));
    lg_stats_add (stats, "detection.rules", self->n_rules);
    lg_stats_add (stats, "detection.allowlist_entries", self->n_allow);
    lg_stats_add (stats, "detection.matched", self->matched);
    lg_stats_add (stats, "detection.too_old", self->too_old);
    lg_stats_add (stats, "detection.duplicates", self->duplicates);
    lg_stats_add (stats, "detection.allowlisted", self->allowlisted);
    lg_stats_add (stats, "detection.in_grace", self->in_grace);
    lg_stats_add (stats, "detection.windows", zhashx_size (self->windows));
    lg_stats_add (stats, "incidents.opened", self->incidents_opened);
    lg_stats_add (stats, "incidents.attached_events", self->attached);
    lg_stats_add (stats, "incidents.evidence_written", self->evidence_written);
    //  The current minute, per connection (the query ConnectionCounts has
    //  the minutes flushed); at most 20 listed
    uint64_t minute = (uint64_t) (lg_clock_now_us () / 60000000);
    int listed = 0;
    for (size_t i = 0; i < self->n_conns && listed < 20; i++) {
        const s_conn_t *conn = &self->conns [i];
        if (conn->minute != minute || !conn->in_minute)
            continue;
        char name [64];
        snprintf (name, sizeof name, "minute.connection.%" PRIu64, conn->id);
        lg_stats_add (stats, name, conn->in_minute);
        listed++;
    }
}

//  ---------------------------------------------------------------------------
//  Life cycle

void *
monitor_intake_new (lg_db_t *db, const lg_config_t *cfg)
{
    (void) db;
    s_intake_t *self = (s_intake_t *) zmalloc (sizeof (s_intake_t));
    self->max_msg = cfg->max_msg;
    self->listen_fd = -1;
    self->file_fd = -1;
    char why [256];
    if (lg_config_int ("LG_MONITOR_EVIDENCE", 20, 1, 1000, &self->evidence_max, why, sizeof why)
    ||  lg_config_int ("LG_MONITOR_FLUSH_MS", 1000, 10, 600000, &self->flush_ms, why, sizeof why)
    ||  lg_config_int ("LG_MONITOR_COUNTS_MS", 10000, 10, 600000, &self->counts_ms, why, sizeof why)
    ||  lg_config_int ("LG_MONITOR_EVE_POLL_MS", 500, 10, 60000, &self->poll_ms, why, sizeof why)
    ||  lg_config_int ("LG_MONITOR_EVE_ROTATE_WAIT_MS", 2000, 0, 600000, &self->rotate_wait_ms,
                       why, sizeof why)) {
        lg_error ("%s", why);
        free (self);
        return NULL;
    }
    const char *value = getenv ("LG_MONITOR_SENSOR_ENDPOINT");
    snprintf (self->sensor_endpoint, sizeof self->sensor_endpoint, "%s",
              value && *value? value: "tcp://*:7304");
    value = getenv ("LG_MONITOR_EVE_SOCKET");
    if (value && strlen (value) >= sizeof self->eve_socket) {
        lg_error ("LG_MONITOR_EVE_SOCKET: path of %zu bytes, at most %zu", strlen (value),
                  sizeof self->eve_socket - 1);
        free (self);
        return NULL;
    }
    snprintf (self->eve_socket, sizeof self->eve_socket, "%s", value? value: "");
    value = getenv ("LG_MONITOR_EVE_FILE");
    snprintf (self->eve_file, sizeof self->eve_file, "%s", value? value: "");
    self->lpm = monitor_lpm_new ();
    self->windows = s_key_table ();
    zhashx_set_destructor (self->windows, s_window_destroy);
    self->minutes = s_key_table ();
    self->sensors = zhashx_new ();
    zhashx_set_destructor (self->sensors, s_free);
    self->ops = (s_op_t *) calloc (MAX_OPS, sizeof (s_op_t));
    return self;
}

void
monitor_intake_detach (void *state)
{
    s_intake_t *self = (s_intake_t *) state;
    s_begin (self);
    s_flush (self, true);
}

void
monitor_intake_destroy (void **state_p)
{
    if (*state_p) {
        s_intake_t *self = (s_intake_t *) *state_p;
        zsock_destroy (&self->pull);
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (self->clients [i]) {
                close (self->clients [i]->fd);
                free (self->clients [i]->lines.buf);
                free (self->clients [i]);
            }
        if (self->listen_fd >= 0) {
            close (self->listen_fd);
            unlink (self->eve_socket);
        }
        if (self->file_fd >= 0)
            close (self->file_fd);
        free (self->file_lines.buf);
        monitor_lpm_destroy (&self->lpm);
        free (self->conns);
        zhashx_destroy (&self->windows);
        zhashx_destroy (&self->minutes);
        zhashx_destroy (&self->sensors);
        free (self->allow);
        free (self->ops);
        free (self);
        *state_p = NULL;
    }
}

static int
s_listen_unix (s_intake_t *self)
{
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr;
    memset (&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", self->eve_socket);
    unlink (self->eve_socket);
    if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) || listen (fd, 16)) {
        lg_log_write (LG_LOG_ERROR, strerror (errno), "could not listen on %s", self->eve_socket);
        if (fd >= 0)
            close (fd);
        return -1;
    }
    //  Sensors on this host run as the monitor's group
    chmod (self->eve_socket, 0660);
    self->listen_fd = fd;
    return 0;
}

int
monitor_intake_attach (void *state, const lg_service_env_t *env)
{
    s_intake_t *self = (s_intake_t *) state;
    self->db = env->db;
    self->server = env->server;
    self->auth = env->auth;
    self->loop = env->loop;
    //  The marks of note 8 before what they stand for is loaded: a change
    //  made in between is seen at the first look
    self->seen_events = self->seen_applied = -1;
    s_on_sync (NULL, 0, self);
    if (s_load_prefixes (self) || s_load_rules (self) || s_load_allow (self) || s_load_incidents (self)) {
        lg_log_write (LG_LOG_ERROR, lg_db_error (env->db), "could not load rules and prefixes");
        return -1;
    }
    self->pull = zsock_new (ZMQ_PULL);
    zsock_set_linger (self->pull, 0);
    //  The socket bound is twice the application bound, as lg_server's: a
    //  frame between the two reaches the decoder, which refuses it, counted
    //  and logged (X.3). At LG_MAX_MSG itself, libzmq dropped the sender's
    //  connection and every frame over it vanished uncounted; one over
    //  twice still does (never seen here).
    zsock_set_maxmsgsize (self->pull, (int) (env->cfg->max_msg * 2));
    //  Backpressure on the sensors, and a bound on what waits here: 50
    //  frames of at most twice LG_MAX_MSG each
    zsock_set_rcvhwm (self->pull, 50);
    if ((env->auth && lg_auth_server (env->auth, self->pull, "monitor"))
    ||  zsock_bind (self->pull, "%s", self->sensor_endpoint) < 0) {
        lg_log_write (LG_LOG_ERROR, zmq_strerror (zmq_errno ()), "could not bind %s",
                      self->sensor_endpoint);
        return -1;
    }
    char *bound = zsock_last_endpoint (self->pull);
    lg_info ("sensors push to %s", bound);
    zstr_free (&bound);
    zloop_reader (env->loop, self->pull, s_on_pull, self);
    if (*self->eve_socket) {
        if (s_listen_unix (self))
            return -1;
        zmq_pollitem_t item = { NULL, self->listen_fd, ZMQ_POLLIN, 0 };
        zloop_poller (env->loop, &item, s_on_accept, self);
        lg_info ("EVE lines on %s", self->eve_socket);
    }
    if (*self->eve_file) {
        s_file_open (self, true);
        zloop_timer (env->loop, (size_t) self->poll_ms, 0, s_on_file, self);
        lg_info ("following EVE file %s", self->eve_file);
    }
    self->counts_due = zclock_mono () + self->counts_ms;
    zloop_timer (env->loop, (size_t) self->flush_ms, 0, s_on_flush, self);
    zloop_timer (env->loop, MONITOR_SYNC_MS, 0, s_on_sync, self);
    lg_outbox_set_listener (env->outbox, s_on_published, self);
    lg_server_set_stats (env->server, s_stats, self);
    return 0;
}
