/*  lgwan-isolation: configured by environment (README), stopped by SIGTERM. */
#include "isolation.h"

int
main (int argc, char **argv)
{
    return lg_service_main (argc, argv, &isolation_service);
}
