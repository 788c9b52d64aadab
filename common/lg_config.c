/*  lg_config - a service's configuration, from environment variables only.

    1. Every setting has a default that works for a developer on one host, so
       `registry` with an empty environment binds its ROUTER to port 7101 on
       all interfaces.
    2. A variable that is set but does not parse stops the service at start
       with a message naming the variable and its value: never a silent
       default, never a truncated string.
    3. Integers are decimal digits with an optional leading minus sign, no
       spaces, no '+', no hex, no trailing junk, and within their bounds.
    4. A variable set to the empty string is the empty string, not "unset":
       refused where a value is needed, kept where empty means "none".

    The variables follow (a line comment, since the endpoints contain a star
    and a slash). <SVC> is the service name upper-cased (REGISTRY, BILLING,
    ...), <svc> the name as given.
*/
//  Variable               Default                            Bounds / meaning
//  ---------------------  ---------------------------------  ----------------------------------------
//  LG_<SVC>_ENDPOINT      tcp://*:<port>                     ROUTER bind; not empty; < 256 bytes
//  LG_<SVC>_PUB_ENDPOINT  tcp://*:<port + 100>               PUB bind; not empty; < 256 bytes
//  LG_<SVC>_DB            dbname=lgwan user=lgwan_<svc>      libpq connection string; < 1024 bytes
//  LG_CERT_DIR            certs                              certificate directory; not empty; < 512 bytes
//  LG_<SVC>_KEY_FILE      <LG_CERT_DIR>/services/<svc>.hmac  outbox HMAC key; not empty; < 512 bytes
//  LG_CLOCK_FILE          (empty: real time)                 settable test clock (lg_clock); < 512 bytes
//  LG_FAULTS              (empty: none)                      comma separated fault points; < 256 bytes
//  LG_MAX_MSG             1048576                            bytes of one message, 1024 .. 67108864
//  LG_HEARTBEAT_MS        1000                               milliseconds, 50 .. 60000
//  LG_DUTY_MS             0 (each duty's own)                background duty period, 0 .. 86400000 ms
//  LG_CATCH_UP_WAIT_MS    30000                              after_catch_up duties wait at most, 0 .. 3600000 ms
//  LG_WORKERS             online processors, at least 2      request workers (own connections), 0 .. 64
//  LG_PUB_HWM             100000                             PUB high-water mark, 1 .. 10000000
//  LG_MAX_WAITING         1024                               requests queued for a busy worker, 1 .. 100000
//  LG_MAX_WAITING_MB      64                                 MiB of requests queued so, 1 .. 4096
//  LG_MAX_QUEUE_MS        3000 (a client's try + 500)        ms one may wait queued and still run, 1 .. 3600000
//  LG_LOG_LEVEL           info                               debug, info (or log), warning, error
//
//  Default <port>: registry 7101, billing 7102, audit 7103, monitor 7104,
//  isolation 7105, orchestrator 7106.

#include "lg_lib.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Every write of a service holds its outbox head's row lock from its events
//  to its COMMIT, so writes finish one at a time however many workers run: a
//  worker per processor keeps the processors busy, and more mostly wait on
//  that lock and on each other's wake-ups (bench_connections on 2 cores,
//  five runs each, alternated: 2 workers 874 - 1,153 approvals/s, 4 workers
//  728 - 981). Two at least, so one request waiting on a lock does not stop
//  the rest.
int64_t
lg_config_default_workers (void)
{
    long online = sysconf (_SC_NPROCESSORS_ONLN);
    return online < 2? 2: online > 64? 64: online;
}

static const struct {
    const char *name;
    int port;
} s_services [] = {
    { "registry",     7101 },
    { "billing",      7102 },
    { "audit",        7103 },
    { "monitor",      7104 },
    { "isolation",    7105 },
    { "orchestrator", 7106 }
};

//  Bounds of the integer settings
#define S_MAX_MSG_MIN       1024
#define S_MAX_MSG_MAX       (64 * 1024 * 1024)
#define S_HEARTBEAT_DFLT    1000
#define S_HEARTBEAT_MIN     50
#define S_HEARTBEAT_MAX     60000
#define S_PUB_HWM_DFLT      100000
#define S_PUB_HWM_MIN       1
#define S_PUB_HWM_MAX       10000000
//  A request that waited for a worker longer than a client's try was given
//  up by that try; the client's retry, with the same request_id, waits
//  behind it. The first is answered busy unrun, so the retry is what runs
//  (LG_MAX_QUEUE_MS_DEFAULT, lg_lib.h)
#define S_MAX_QUEUE_MS_MAX  3600000

int
lg_config_string (const char *name, const char *dflt, bool allow_empty,
                  char *dest, size_t dest_size, char *why, size_t why_size)
{
    const char *value = getenv (name);
    bool from_env = value != NULL;
    if (!from_env && dflt == NULL) {
        lg_why (why, why_size, "%s: must be set", name);
        return -1;
    }
    if (!from_env)
        value = dflt;
    if (*value == '\0' && !allow_empty) {
        lg_why (why, why_size, "%s: must not be empty", name);
        return -1;
    }
    size_t length = strlen (value);
    if (length >= dest_size) {
        lg_why (why, why_size, "%s: %s is %zu bytes, longer than the limit of %zu",
                name, from_env? "value": "default", length, dest_size - 1);
        return -1;
    }
    memcpy (dest, value, length + 1);
    return 0;
}


//  --------------------------------------------------------------------------
//  Default request port of a service, or -1 if unknown.

int
lg_config_default_port (const char *service)
{
    if (service == NULL)
        return -1;
    for (size_t index = 0; index < sizeof s_services / sizeof s_services [0]; index++)
        if (strcmp (service, s_services [index].name) == 0)
            return s_services [index].port;
    return -1;
}


//  --------------------------------------------------------------------------
//  Read one variable as a bounded integer; -1 and why when malformed.

int
lg_config_int (const char *name, int64_t dflt, int64_t min, int64_t max,
               int64_t *value, char *why, size_t why_size)
{
    assert (name);
    assert (value);
    assert (min <= dflt && dflt <= max);

    const char *text = getenv (name);
    if (text == NULL) {
        *value = dflt;
        return 0;
    }
    //  Accumulate as a negative number, so INT64_MIN parses too
    const char *digit = text;
    bool negative = *digit == '-';
    if (negative)
        digit++;
    bool valid = *digit != '\0';
    int64_t result = 0;
    for (; valid && *digit; digit++) {
        if (*digit < '0' || *digit > '9'
        ||  result < (INT64_MIN + (*digit - '0')) / 10)
            valid = false;
        else
            result = result * 10 - (*digit - '0');
    }
    if (valid && !negative) {
        if (result == INT64_MIN)
            valid = false;
        else
            result = -result;
    }
    if (!valid || result < min || result > max) {
        lg_why (why, why_size, "%s: \"%s\" is not an integer between %" PRId64 " and %" PRId64,
                name, text, min, max);
        return -1;
    }
    *value = result;
    return 0;
}


//  --------------------------------------------------------------------------
//  Fill cfg for the service. 0 ok, -1 with why (the variable and the value).

int
lg_config_load (lg_config_t *cfg, const char *service, char *why, size_t why_size)
{
    assert (cfg);
    int port = lg_config_default_port (service);
    if (port < 0) {
        lg_why (why, why_size, "unknown service \"%s\"", service? service: "(null)");
        return -1;
    }
    memset (cfg, 0, sizeof *cfg);
    snprintf (cfg->service, sizeof cfg->service, "%s", service);

    //  Known service names are short lower-case words
    char upper [sizeof cfg->service];
    for (size_t index = 0; index < sizeof upper; index++)
        upper [index] = (char) toupper ((unsigned char) cfg->service [index]);

    char name [64];
    char dflt [1024];

    snprintf (name, sizeof name, "LG_%s_ENDPOINT", upper);
    snprintf (dflt, sizeof dflt, "tcp://*:%d", port);
    if (lg_config_string (name, dflt, false, cfg->endpoint, sizeof cfg->endpoint, why, why_size))
        return -1;

    snprintf (name, sizeof name, "LG_%s_PUB_ENDPOINT", upper);
    snprintf (dflt, sizeof dflt, "tcp://*:%d", port + 100);
    if (lg_config_string (name, dflt, false, cfg->pub_endpoint, sizeof cfg->pub_endpoint,
                          why, why_size))
        return -1;

    snprintf (name, sizeof name, "LG_%s_DB", upper);
    snprintf (dflt, sizeof dflt, "dbname=lgwan user=lgwan_%s", service);
    if (lg_config_string (name, dflt, true, cfg->db, sizeof cfg->db, why, why_size))
        return -1;

    if (lg_config_string ("LG_CERT_DIR", "certs", false, cfg->cert_dir, sizeof cfg->cert_dir,
                          why, why_size))
        return -1;

    snprintf (name, sizeof name, "LG_%s_KEY_FILE", upper);
    snprintf (dflt, sizeof dflt, "%s/services/%s.hmac", cfg->cert_dir, service);
    if (lg_config_string (name, dflt, false, cfg->key_file, sizeof cfg->key_file, why, why_size))
        return -1;

    if (lg_config_string ("LG_CLOCK_FILE", "", true, cfg->clock_file, sizeof cfg->clock_file,
                          why, why_size)
    ||  lg_config_string ("LG_FAULTS", "", true, cfg->faults, sizeof cfg->faults, why, why_size))
        return -1;

    if (lg_config_int ("LG_MAX_MSG", LG_MAX_MSG_DEFAULT, S_MAX_MSG_MIN, S_MAX_MSG_MAX,
                       &cfg->max_msg, why, why_size)
    ||  lg_config_int ("LG_HEARTBEAT_MS", S_HEARTBEAT_DFLT, S_HEARTBEAT_MIN, S_HEARTBEAT_MAX,
                       &cfg->heartbeat_ms, why, why_size)
    ||  lg_config_int ("LG_PUB_HWM", S_PUB_HWM_DFLT, S_PUB_HWM_MIN, S_PUB_HWM_MAX,
                       &cfg->pub_hwm, why, why_size)
    ||  lg_config_int ("LG_DUTY_MS", 0, 0, 86400000, &cfg->duty_ms, why, why_size)
    ||  lg_config_int ("LG_CATCH_UP_WAIT_MS", LG_CATCH_UP_WAIT_MS, 0, 3600000,
                       &cfg->catch_up_wait_ms, why, why_size)
    ||  lg_config_int ("LG_MAX_WAITING", 1024, 1, 100000, &cfg->max_waiting, why, why_size)
    ||  lg_config_int ("LG_MAX_WAITING_MB", 64, 1, 4096, &cfg->max_waiting_mb, why, why_size)
    ||  lg_config_int ("LG_MAX_QUEUE_MS", LG_MAX_QUEUE_MS_DEFAULT, 1, S_MAX_QUEUE_MS_MAX,
                       &cfg->max_queue_ms, why, why_size)
    ||  lg_config_int ("LG_WORKERS", lg_config_default_workers (), 0, 64, &cfg->workers,
                       why, why_size))
        return -1;

    const char *level_name = getenv ("LG_LOG_LEVEL");
    if (level_name == NULL)
        level_name = "info";
    cfg->log_level = lg_log_level_parse (level_name);
    if (cfg->log_level < 0) {
        lg_why (why, why_size, "LG_LOG_LEVEL: \"%s\" is not one of debug, info, warning, error",
                level_name);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Self test: the first example of use.

void
lg_config_test (bool verbose)
{
    printf (" * lg_config: ");

    //  A service's main starts like this
    lg_config_t cfg;
    char why [256];
    int rc = lg_config_load (&cfg, "registry", why, sizeof why);
    if (rc != 0)
        printf ("(environment: %s) ", why);
    else {
        assert (streq (cfg.service, "registry"));
        if (getenv ("LG_REGISTRY_ENDPOINT") == NULL)
            assert (streq (cfg.endpoint, "tcp://*:7101"));
        if (getenv ("LG_WORKERS") == NULL)
            assert (cfg.workers == lg_config_default_workers ());
        if (verbose)
            printf ("%s ", cfg.endpoint);
    }
    assert (lg_config_load (&cfg, "nosuch", why, sizeof why) == -1);
    assert (streq (why, "unknown service \"nosuch\""));
    assert (lg_config_default_port ("orchestrator") == 7106);
    int64_t workers = lg_config_default_workers ();
    long online = sysconf (_SC_NPROCESSORS_ONLN);
    assert (workers == (online < 2? 2: online > 64? 64: online));

    //  A bounded integer
    int64_t value;
    unsetenv ("LG_CONFIG_SELFTEST");
    assert (lg_config_int ("LG_CONFIG_SELFTEST", 5, 1, 9, &value, why, sizeof why) == 0);
    assert (value == 5);
    setenv ("LG_CONFIG_SELFTEST", "10", 1);
    assert (lg_config_int ("LG_CONFIG_SELFTEST", 5, 1, 9, &value, why, sizeof why) == -1);
    assert (streq (why, "LG_CONFIG_SELFTEST: \"10\" is not an integer between 1 and 9"));
    unsetenv ("LG_CONFIG_SELFTEST");
    printf ("OK\n");
}
