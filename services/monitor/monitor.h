/*  monitor - security events from sensors to incidents (R16.1, detection).

    monitor.c         requests (rules, allow-list, incidents, counts), the
                      events it follows, the service definition
    monitor_intake.c  the reactor side: sensor PULL socket, EVE Unix socket,
                      followed EVE file, attribution, windows, incidents
    monitor_lpm.c     longest-prefix match (IPv4, IPv6)
    monitor_alert.c, monitor_eve.c, monitor_batch.c   the decoders
*/
#ifndef MONITOR_H_INCLUDED
#define MONITOR_H_INCLUDED

#include "lg_lib.h"
#include "monitor_alert.h"
#include "monitor_lpm.h"

extern const lg_service_def_t monitor_service;

//  The rules the intake applies at most: RuleSet refuses to enable more
#define MONITOR_MAX_RULES 1024

//  Emit IncidentConfirmed for an incident just confirmed (in ctx's
//  transaction): the provider, its active connections and their prefixes,
//  the rule, who decided and whether to isolate. 0, or -2.
int monitor_emit_confirmed (lg_ctx_t *ctx, const char *incident);

//  Emit IncidentOpened for a new incident. 0, or -2.
int monitor_emit_opened (lg_ctx_t *ctx, const char *incident);

//  The reactor side (monitor_intake.c): the service's state
void *monitor_intake_new (lg_db_t *db, const lg_config_t *cfg);
void monitor_intake_destroy (void **state_p);
//  At stop, before the server and database go: the last counts written
void monitor_intake_detach (void *state);
int monitor_intake_attach (void *state, const lg_service_env_t *env);

//  The connections table changed (a consumer applied an event): rebuild the
//  prefix table before the next event is attributed. Reactor thread only.
void monitor_intake_touch (void *state);

#endif
