/*  monitor_lpm - longest-prefix match of an address to a value (a
    connection id), IPv4 and IPv6.

    One open-addressing hash table of (family, length, masked address) and
    a bitmap of the lengths present per family: a lookup masks the address
    at each present length, longest first, and probes once per length
    (DIR-24-8 would be faster for IPv4 only; this stays small and serves
    both families). The table is rebuilt when the set of prefixes changes,
    which is rare next to lookups.
*/
#ifndef MONITOR_LPM_H_INCLUDED
#define MONITOR_LPM_H_INCLUDED

#include "monitor_alert.h"

typedef struct _monitor_lpm_t monitor_lpm_t;

monitor_lpm_t *monitor_lpm_new (void);
void monitor_lpm_destroy (monitor_lpm_t **self_p);

//  Add a prefix ("198.18.0.16/28", "2001:db8::/56") for value (non-zero).
//  A prefix added twice keeps the last value. 0 ok, -1 malformed.
int monitor_lpm_insert (monitor_lpm_t *self, const char *prefix, uint64_t value);

//  Forget everything
void monitor_lpm_clear (monitor_lpm_t *self);

//  The value of the longest prefix holding addr; 0 when none. *length gets
//  the prefix length when not NULL.
uint64_t monitor_lpm_lookup (const monitor_lpm_t *self, const monitor_addr_t *addr, int *length);

size_t monitor_lpm_size (const monitor_lpm_t *self);

//  Self test
void monitor_lpm_test (bool verbose);

#endif
