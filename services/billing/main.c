/*  lgwan-billing: configured by environment (README), stopped by SIGTERM. */
#include "billing.h"

int
main (int argc, char **argv)
{
    return lg_service_main (argc, argv, &billing_service);
}
