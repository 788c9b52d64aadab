/*  isolation - desired enforcement state and the enforcement points that
    apply it (R15.3, R16.1, X.4). isolation.c holds the rules and requests;
    isolation_points.c the channel to the enforcers.
*/
#ifndef ISOLATION_H_INCLUDED
#define ISOLATION_H_INCLUDED

#include "lg_lib.h"

extern const lg_service_def_t isolation_service;

//  Cut a list "a,b,c" in place (prefixes, point names: no commas inside);
//  the items, pointing into text, and their count in *count. The caller
//  frees the array, not the items.
char **isolation_split (char *text, size_t *count);

//  Publish every pending event whose version every point acknowledged;
//  *in_force (when not NULL) gets the version every point has
int isolation_emit_in_force (lg_ctx_t *ctx, uint64_t *in_force);

//  The enforcer channel, the service's state (isolation_points.c)
void *isolation_points_new (lg_db_t *db, const lg_config_t *cfg);
void isolation_points_destroy (void **state_p);
int isolation_points_attach (void *state, const lg_service_env_t *env);

//  SQL: the version in force, the lowest acked by a point not retired
//  (with no such point, the head)
#define ISOLATION_IN_FORCE_SQL \
    "coalesce ((SELECT min (acked_version) FROM points WHERE retired_at IS NULL)," \
    " (SELECT version FROM desired_head WHERE id = 1))"

#endif
