/*  lg_fault - named fault points for kill tests (see lg_fault.h). */
#include "lg_lib.h"
#include <stdatomic.h>

#define MAX_POINTS 8

static struct {
    char name [64];
    atomic_long remaining;      //  passes left before the point fires (any thread)
} s_points [MAX_POINTS];
static int s_count;

void
lg_fault_configure (const char *list)
{
    s_count = 0;
    if (!list || !*list)
        return;
    char *copy = strdup (list);
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item && s_count < MAX_POINTS;
         item = strtok_r (NULL, ",", &save)) {
        char *at = strchr (item, '@');
        long after = 0;
        if (at) {
            *at = 0;
            after = strtol (at + 1, NULL, 10);
        }
        snprintf (s_points [s_count].name, sizeof s_points [0].name, "%s", item);
        atomic_store (&s_points [s_count].remaining, after);
        lg_warning ("fault point %s armed after %ld passes", item, after);
        s_count++;
    }
    free (copy);
}

bool
lg_fault_fires (const char *name)
{
    for (int i = 0; i < s_count; i++)
        if (streq (s_points [i].name, name))
            return atomic_fetch_sub (&s_points [i].remaining, 1) == 0;
    return false;
}

void
lg_fault_point (const char *name)
{
    if (lg_fault_fires (name)) {
        lg_log_write (LG_LOG_FATAL, NULL, "fault point %s reached: exiting", name);
        _exit (99);
    }
}

void
lg_fault_stall (const char *name, int ms)
{
    if (lg_fault_fires (name)) {
        lg_warning ("fault point %s reached: holding this thread for %d ms", name, ms);
        zclock_sleep (ms);
    }
}
