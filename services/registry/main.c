/*  lgwan-registry: configured by environment (README), stopped by SIGTERM. */
#include "registry.h"

int
main (int argc, char **argv)
{
    return lg_service_main (argc, argv, &registry_service);
}
