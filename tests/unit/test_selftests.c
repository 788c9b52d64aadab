/*  test_selftests - the self tests the common library and the billing
    arithmetic carry in their own files (CZMQ style: a first example of use
    next to the code), run here so that none of them rots unseen.

    Only local effects: lg_auth writes keys into a temporary folder, lg_client
    calls a loopback port nobody listens on (50 ms, then UNAVAILABLE), lg_db
    connects to a socket folder that does not exist.
*/
#include "lg_lib.h"
#include "billing_calc.h"
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static void
test_lg_check (void **state)
{
    (void) state;
    lg_check_test (false);
}

static void
test_lg_clock (void **state)
{
    (void) state;
    lg_clock_test (false);
}

static void
test_lg_config (void **state)
{
    (void) state;
    lg_config_test (false);
}

static void
test_lg_log (void **state)
{
    (void) state;
    lg_log_test (false);
}

static void
test_lg_auth (void **state)
{
    (void) state;
    lg_auth_test (false);
}

static void
test_lg_client (void **state)
{
    (void) state;
    lg_client_test (false);
}

/* REQ X.2: a stale head (a Replay answer read before an event applied
   since, a heartbeat queued behind) is not taken for a source behind us */
static void
test_lg_consumer (void **state)
{
    (void) state;
    lg_consumer_test (false);
}

static void
test_lg_db (void **state)
{
    (void) state;
    lg_db_test (false);
}

static void
test_billing_calc (void **state)
{
    (void) state;
    bc_test (false);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_lg_check),
        cmocka_unit_test (test_lg_clock),
        cmocka_unit_test (test_lg_config),
        cmocka_unit_test (test_lg_log),
        cmocka_unit_test (test_lg_auth),
        cmocka_unit_test (test_lg_client),
        cmocka_unit_test (test_lg_consumer),
        cmocka_unit_test (test_lg_db),
        cmocka_unit_test (test_billing_calc),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
