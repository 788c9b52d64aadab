/*  lgwan-audit: configured by environment (README), stopped by SIGTERM. */
#include "audit.h"

int
main (int argc, char **argv)
{
    return lg_service_main (argc, argv, &audit_service);
}
