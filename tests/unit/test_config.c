/*  test_config - lg_config: defaults, overrides, and refusal of values that
    do not parse, with a message naming the variable.
*/
#include "lg_lib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

//  Every variable lg_config_load reads for the services used here
static const char *s_variables [] = {
    "LG_REGISTRY_ENDPOINT", "LG_REGISTRY_PUB_ENDPOINT", "LG_REGISTRY_DB", "LG_REGISTRY_KEY_FILE",
    "LG_BILLING_ENDPOINT", "LG_BILLING_PUB_ENDPOINT", "LG_BILLING_DB", "LG_BILLING_KEY_FILE",
    "LG_ORCHESTRATOR_ENDPOINT", "LG_ORCHESTRATOR_PUB_ENDPOINT", "LG_ORCHESTRATOR_DB",
    "LG_ORCHESTRATOR_KEY_FILE",
    "LG_CERT_DIR", "LG_CLOCK_FILE", "LG_FAULTS", "LG_MAX_MSG", "LG_HEARTBEAT_MS", "LG_PUB_HWM",
    "LG_MAX_WAITING", "LG_MAX_WAITING_MB", "LG_MAX_QUEUE_MS", "LG_LOG_LEVEL", "LG_TEST_INT"
};

static int
s_clean_environment (void **state)
{
    (void) state;
    for (size_t index = 0; index < sizeof s_variables / sizeof s_variables [0]; index++)
        unsetenv (s_variables [index]);
    return 0;
}

//  Load the registry with one variable set; returns the rc, why in why.
static int
s_load_with (const char *name, const char *value, lg_config_t *cfg, char *why, size_t why_size)
{
    setenv (name, value, 1);
    strcpy (why, "untouched");
    return lg_config_load (cfg, "registry", why, why_size);
}

static void
test_default_ports (void **state)
{
    (void) state;
    assert_int_equal (lg_config_default_port ("registry"), 7101);
    assert_int_equal (lg_config_default_port ("billing"), 7102);
    assert_int_equal (lg_config_default_port ("audit"), 7103);
    assert_int_equal (lg_config_default_port ("monitor"), 7104);
    assert_int_equal (lg_config_default_port ("isolation"), 7105);
    assert_int_equal (lg_config_default_port ("orchestrator"), 7106);
    assert_int_equal (lg_config_default_port ("Registry"), -1);
    assert_int_equal (lg_config_default_port ("registryx"), -1);
    assert_int_equal (lg_config_default_port (""), -1);
    assert_int_equal (lg_config_default_port (NULL), -1);
}

static void
test_defaults (void **state)
{
    (void) state;
    lg_config_t cfg;
    char why [256] = "untouched";
    assert_int_equal (lg_config_load (&cfg, "registry", why, sizeof why), 0);
    assert_string_equal (why, "untouched");
    assert_string_equal (cfg.service, "registry");
    assert_string_equal (cfg.endpoint, "tcp://*:7101");
    assert_string_equal (cfg.pub_endpoint, "tcp://*:7201");
    assert_string_equal (cfg.db, "dbname=lgwan user=lgwan_registry");
    assert_string_equal (cfg.cert_dir, "certs");
    assert_string_equal (cfg.key_file, "certs/services/registry.hmac");
    assert_string_equal (cfg.clock_file, "");
    assert_string_equal (cfg.faults, "");
    assert_int_equal (cfg.max_msg, 1048576);
    assert_int_equal (cfg.heartbeat_ms, 1000);
    assert_int_equal (cfg.pub_hwm, 100000);
    assert_int_equal (cfg.max_waiting, 1024);
    assert_int_equal (cfg.max_waiting_mb, 64);
    //  A little over a client's try: its retry is what runs (REQ X.3)
    assert_int_equal (cfg.max_queue_ms, 3000);
    assert_true (cfg.max_queue_ms > LG_CLIENT_TRY_MS);
    assert_int_equal (cfg.log_level, LG_LOG_INFO);

    assert_int_equal (lg_config_load (&cfg, "orchestrator", why, sizeof why), 0);
    assert_string_equal (cfg.endpoint, "tcp://*:7106");
    assert_string_equal (cfg.pub_endpoint, "tcp://*:7206");
    assert_string_equal (cfg.db, "dbname=lgwan user=lgwan_orchestrator");
    assert_string_equal (cfg.key_file, "certs/services/orchestrator.hmac");
}

static void
test_overrides (void **state)
{
    (void) state;
    setenv ("LG_REGISTRY_ENDPOINT", "tcp://127.0.0.1:17101", 1);
    setenv ("LG_REGISTRY_PUB_ENDPOINT", "ipc:///tmp/registry.pub", 1);
    setenv ("LG_REGISTRY_DB", "host=/tmp dbname=test_1", 1);
    setenv ("LG_CERT_DIR", "/etc/lgwan/certs", 1);
    setenv ("LG_CLOCK_FILE", "/tmp/clock", 1);
    setenv ("LG_FAULTS", "outbox.before_commit,db.connect", 1);
    setenv ("LG_MAX_MSG", "1024", 1);
    setenv ("LG_HEARTBEAT_MS", "60000", 1);
    setenv ("LG_PUB_HWM", "1", 1);
    setenv ("LG_LOG_LEVEL", "debug", 1);
    setenv ("LG_BILLING_ENDPOINT", "tcp://*:9999", 1);     //  another service's

    lg_config_t cfg;
    char why [256] = "untouched";
    assert_int_equal (lg_config_load (&cfg, "registry", why, sizeof why), 0);
    assert_string_equal (cfg.endpoint, "tcp://127.0.0.1:17101");
    assert_string_equal (cfg.pub_endpoint, "ipc:///tmp/registry.pub");
    assert_string_equal (cfg.db, "host=/tmp dbname=test_1");
    assert_string_equal (cfg.cert_dir, "/etc/lgwan/certs");
    //  The key file follows the certificate directory unless set itself
    assert_string_equal (cfg.key_file, "/etc/lgwan/certs/services/registry.hmac");
    assert_string_equal (cfg.clock_file, "/tmp/clock");
    assert_string_equal (cfg.faults, "outbox.before_commit,db.connect");
    assert_int_equal (cfg.max_msg, 1024);
    assert_int_equal (cfg.heartbeat_ms, 60000);
    assert_int_equal (cfg.pub_hwm, 1);
    assert_int_equal (cfg.log_level, LG_LOG_DEBUG);

    setenv ("LG_REGISTRY_KEY_FILE", "/run/secrets/registry.hmac", 1);
    setenv ("LG_MAX_MSG", "67108864", 1);
    setenv ("LG_HEARTBEAT_MS", "50", 1);
    setenv ("LG_PUB_HWM", "10000000", 1);
    setenv ("LG_LOG_LEVEL", "WARNING", 1);
    setenv ("LG_REGISTRY_DB", "", 1);                       //  libpq defaults
    assert_int_equal (lg_config_load (&cfg, "registry", why, sizeof why), 0);
    assert_string_equal (cfg.key_file, "/run/secrets/registry.hmac");
    assert_string_equal (cfg.db, "");
    assert_int_equal (cfg.max_msg, 67108864);
    assert_int_equal (cfg.heartbeat_ms, 50);
    assert_int_equal (cfg.pub_hwm, 10000000);
    assert_int_equal (cfg.log_level, LG_LOG_WARNING);
    assert_string_equal (why, "untouched");

    //  Another service reads its own variables only
    assert_int_equal (lg_config_load (&cfg, "billing", why, sizeof why), 0);
    assert_string_equal (cfg.endpoint, "tcp://*:9999");
    assert_string_equal (cfg.pub_endpoint, "tcp://*:7202");
    assert_string_equal (cfg.db, "dbname=lgwan user=lgwan_billing");
    assert_string_equal (cfg.key_file, "/etc/lgwan/certs/services/billing.hmac");
}

static void
test_unknown_service (void **state)
{
    (void) state;
    lg_config_t cfg;
    char why [256];
    assert_int_equal (lg_config_load (&cfg, "registrar", why, sizeof why), -1);
    assert_string_equal (why, "unknown service \"registrar\"");
    assert_int_equal (lg_config_load (&cfg, "REGISTRY", why, sizeof why), -1);
    assert_string_equal (why, "unknown service \"REGISTRY\"");
    assert_int_equal (lg_config_load (&cfg, NULL, why, sizeof why), -1);
    assert_string_equal (why, "unknown service \"(null)\"");
}

//  Each integer variable refuses each malformed value, naming itself
static void
test_malformed_integers (void **state)
{
    (void) state;
    static const struct {
        const char *name;
        const char *bounds;
    } variables [] = {
        { "LG_MAX_MSG",      "between 1024 and 67108864" },
        { "LG_HEARTBEAT_MS", "between 50 and 60000" },
        { "LG_PUB_HWM",      "between 1 and 10000000" },
    };
    static const char *values [] = {
        "", " ", "12x", "x12", " 2048", "2048 ", "+2048", "0x800", "2048.0", "1e4",
        "2 048", "-", "--2048", "99999999999999999999", "-99999999999999999999",
    };
    for (size_t var = 0; var < sizeof variables / sizeof variables [0]; var++)
        for (size_t val = 0; val < sizeof values / sizeof values [0]; val++) {
            s_clean_environment (NULL);
            lg_config_t cfg;
            char why [256];
            char expected [256];
            if (s_load_with (variables [var].name, values [val], &cfg, why, sizeof why) != -1) {
                print_error ("%s=\"%s\" was accepted\n", variables [var].name, values [val]);
                fail ();
            }
            snprintf (expected, sizeof expected, "%s: \"%s\" is not an integer %s",
                      variables [var].name, values [val], variables [var].bounds);
            assert_string_equal (why, expected);
        }
}

static void
test_integers_out_of_range (void **state)
{
    (void) state;
    lg_config_t cfg;
    char why [256];
    assert_int_equal (s_load_with ("LG_MAX_MSG", "1023", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_MAX_MSG: \"1023\" is not an integer between 1024 and 67108864");
    assert_int_equal (s_load_with ("LG_MAX_MSG", "67108865", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_MAX_MSG: \"67108865\" is not an integer between 1024 and 67108864");
    assert_int_equal (s_load_with ("LG_MAX_MSG", "2048", &cfg, why, sizeof why), 0);
    assert_int_equal (cfg.max_msg, 2048);

    assert_int_equal (s_load_with ("LG_HEARTBEAT_MS", "49", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_HEARTBEAT_MS: \"49\" is not an integer between 50 and 60000");
    assert_int_equal (s_load_with ("LG_HEARTBEAT_MS", "60001", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_HEARTBEAT_MS: \"60001\" is not an integer between 50 and 60000");
    assert_int_equal (s_load_with ("LG_HEARTBEAT_MS", "-1000", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_HEARTBEAT_MS: \"-1000\" is not an integer between 50 and 60000");
    unsetenv ("LG_HEARTBEAT_MS");

    assert_int_equal (s_load_with ("LG_PUB_HWM", "0", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_PUB_HWM: \"0\" is not an integer between 1 and 10000000");
    assert_int_equal (s_load_with ("LG_PUB_HWM", "10000001", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_PUB_HWM: \"10000001\" is not an integer between 1 and 10000000");
    //  Leading zeros are still decimal, not octal
    assert_int_equal (s_load_with ("LG_PUB_HWM", "010", &cfg, why, sizeof why), 0);
    assert_int_equal (cfg.pub_hwm, 10);

    assert_int_equal (s_load_with ("LG_MAX_QUEUE_MS", "0", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_MAX_QUEUE_MS: \"0\" is not an integer between 1 and 3600000");
    assert_int_equal (s_load_with ("LG_MAX_QUEUE_MS", "3600001", &cfg, why, sizeof why), -1);
    assert_int_equal (s_load_with ("LG_MAX_QUEUE_MS", "500", &cfg, why, sizeof why), 0);
    assert_int_equal (cfg.max_queue_ms, 500);
    unsetenv ("LG_MAX_QUEUE_MS");
}

static void
test_config_int (void **state)
{
    (void) state;
    int64_t value = -42;
    char why [256] = "untouched";
    assert_int_equal (lg_config_int ("LG_TEST_INT", 7, -10, 10, &value, why, sizeof why), 0);
    assert_int_equal (value, 7);
    setenv ("LG_TEST_INT", "-10", 1);
    assert_int_equal (lg_config_int ("LG_TEST_INT", 7, -10, 10, &value, why, sizeof why), 0);
    assert_int_equal (value, -10);
    setenv ("LG_TEST_INT", "-0", 1);
    assert_int_equal (lg_config_int ("LG_TEST_INT", 7, -10, 10, &value, why, sizeof why), 0);
    assert_int_equal (value, 0);
    assert_string_equal (why, "untouched");

    //  The whole int64 range, and one past each end
    setenv ("LG_TEST_INT", "9223372036854775807", 1);
    assert_int_equal (lg_config_int ("LG_TEST_INT", 0, INT64_MIN, INT64_MAX, &value, why, sizeof why), 0);
    assert_true (value == INT64_MAX);
    setenv ("LG_TEST_INT", "-9223372036854775808", 1);
    assert_int_equal (lg_config_int ("LG_TEST_INT", 0, INT64_MIN, INT64_MAX, &value, why, sizeof why), 0);
    assert_true (value == INT64_MIN);
    setenv ("LG_TEST_INT", "9223372036854775808", 1);
    value = -42;
    assert_int_equal (lg_config_int ("LG_TEST_INT", 0, INT64_MIN, INT64_MAX, &value, why, sizeof why), -1);
    assert_int_equal (value, -42);
    assert_string_equal (why, "LG_TEST_INT: \"9223372036854775808\" is not an integer between "
                              "-9223372036854775808 and 9223372036854775807");
    setenv ("LG_TEST_INT", "-9223372036854775809", 1);
    assert_int_equal (lg_config_int ("LG_TEST_INT", 0, INT64_MIN, INT64_MAX, &value, why, sizeof why), -1);

    //  why may be absent or short: never overrun
    setenv ("LG_TEST_INT", "11", 1);
    assert_int_equal (lg_config_int ("LG_TEST_INT", 7, -10, 10, &value, NULL, 0), -1);
    char short_why [8];
    assert_int_equal (lg_config_int ("LG_TEST_INT", 7, -10, 10, &value, short_why, sizeof short_why), -1);
    assert_string_equal (short_why, "LG_TEST");
}

static void
test_log_level (void **state)
{
    (void) state;
    lg_config_t cfg;
    char why [256];
    assert_int_equal (s_load_with ("LG_LOG_LEVEL", "error", &cfg, why, sizeof why), 0);
    assert_int_equal (cfg.log_level, LG_LOG_ERROR);
    assert_int_equal (s_load_with ("LG_LOG_LEVEL", "log", &cfg, why, sizeof why), 0);
    assert_int_equal (cfg.log_level, LG_LOG_INFO);
    assert_int_equal (s_load_with ("LG_LOG_LEVEL", "verbose", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_LOG_LEVEL: \"verbose\" is not one of debug, info, warning, error");
    assert_int_equal (s_load_with ("LG_LOG_LEVEL", "", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_LOG_LEVEL: \"\" is not one of debug, info, warning, error");
}

//  A string that does not fit is refused, never cut
static void
test_too_long_strings (void **state)
{
    (void) state;
    lg_config_t cfg;
    char why [256];
    char value [2048];

    memset (value, 'a', 255);
    value [255] = '\0';
    assert_int_equal (s_load_with ("LG_REGISTRY_ENDPOINT", value, &cfg, why, sizeof why), 0);
    assert_int_equal (strlen (cfg.endpoint), 255);
    value [255] = 'a';
    value [256] = '\0';
    assert_int_equal (s_load_with ("LG_REGISTRY_ENDPOINT", value, &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_REGISTRY_ENDPOINT: value is 256 bytes, longer than the limit of 255");
    unsetenv ("LG_REGISTRY_ENDPOINT");

    memset (value, 'b', 1024);
    value [1024] = '\0';
    assert_int_equal (s_load_with ("LG_REGISTRY_DB", value, &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_REGISTRY_DB: value is 1024 bytes, longer than the limit of 1023");
    unsetenv ("LG_REGISTRY_DB");

    memset (value, 'c', 256);
    value [256] = '\0';
    assert_int_equal (s_load_with ("LG_FAULTS", value, &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_FAULTS: value is 256 bytes, longer than the limit of 255");
    unsetenv ("LG_FAULTS");

    memset (value, 'd', 512);
    value [512] = '\0';
    assert_int_equal (s_load_with ("LG_CLOCK_FILE", value, &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_CLOCK_FILE: value is 512 bytes, longer than the limit of 511");
    unsetenv ("LG_CLOCK_FILE");

    //  A certificate directory that fits, but leaves no room for the default key file
    memset (value, 'e', 500);
    value [500] = '\0';
    assert_int_equal (s_load_with ("LG_CERT_DIR", value, &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_REGISTRY_KEY_FILE: default is 523 bytes, longer than the limit of 511");
    assert_int_equal (s_load_with ("LG_REGISTRY_KEY_FILE", "/run/key", &cfg, why, sizeof why), 0);
    assert_int_equal (strlen (cfg.cert_dir), 500);
}

//  lg_config_string on its own, as the enforcer uses it: a variable without
//  a default must be set; dest and why stay as they were when no room
static void
test_config_string (void **state)
{
    (void) state;
    char dest [8] = "before", why [256] = "untouched";
    unsetenv ("LG_TEST_STRING");
    assert_int_equal (lg_config_string ("LG_TEST_STRING", NULL, false, dest, sizeof dest,
                                        why, sizeof why), -1);
    assert_string_equal (why, "LG_TEST_STRING: must be set");
    assert_string_equal (dest, "before");
    assert_int_equal (lg_config_string ("LG_TEST_STRING", "dflt", false, dest, sizeof dest,
                                        NULL, 0), 0);
    assert_string_equal (dest, "dflt");
    setenv ("LG_TEST_STRING", "1234567", 1);
    assert_int_equal (lg_config_string ("LG_TEST_STRING", NULL, false, dest, sizeof dest,
                                        why, sizeof why), 0);
    assert_string_equal (dest, "1234567");
    setenv ("LG_TEST_STRING", "12345678", 1);
    assert_int_equal (lg_config_string ("LG_TEST_STRING", NULL, false, dest, sizeof dest,
                                        NULL, 0), -1);
    assert_string_equal (dest, "1234567");
    unsetenv ("LG_TEST_STRING");
}

static void
test_empty_strings (void **state)
{
    (void) state;
    lg_config_t cfg;
    char why [256];
    assert_int_equal (s_load_with ("LG_REGISTRY_ENDPOINT", "", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_REGISTRY_ENDPOINT: must not be empty");
    s_clean_environment (NULL);
    assert_int_equal (s_load_with ("LG_CERT_DIR", "", &cfg, why, sizeof why), -1);
    assert_string_equal (why, "LG_CERT_DIR: must not be empty");
    s_clean_environment (NULL);
    assert_int_equal (s_load_with ("LG_CLOCK_FILE", "", &cfg, why, sizeof why), 0);
    assert_string_equal (cfg.clock_file, "");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_default_ports, s_clean_environment),
        cmocka_unit_test_setup (test_defaults, s_clean_environment),
        cmocka_unit_test_setup (test_overrides, s_clean_environment),
        cmocka_unit_test_setup (test_unknown_service, s_clean_environment),
        cmocka_unit_test_setup (test_malformed_integers, s_clean_environment),
        cmocka_unit_test_setup (test_integers_out_of_range, s_clean_environment),
        cmocka_unit_test_setup (test_config_int, s_clean_environment),
        cmocka_unit_test_setup (test_log_level, s_clean_environment),
        cmocka_unit_test_setup (test_too_long_strings, s_clean_environment),
        cmocka_unit_test_setup (test_config_string, s_clean_environment),
        cmocka_unit_test_setup (test_empty_strings, s_clean_environment),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
