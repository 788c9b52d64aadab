/*  lgwan-monitor: configured by environment (README), stopped by SIGTERM. */
#include "monitor.h"

int
main (int argc, char **argv)
{
    return lg_service_main (argc, argv, &monitor_service);
}
