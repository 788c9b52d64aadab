/*  audit - requests and event handlers of the audit service.

    Registry events are applied by lg_consumer in audit's own transaction,
    together with the cursor; handlers here only say what an event means for
    audit's tables. A provider's copy moves forward only (a higher version).
*/
#include "audit.h"

extern const lg_migration_t audit_migrations [];

//  A provider's copy moves forward only (a higher version); the event log
//  gets one row per event. One statement, so a batch pipelines well.
static int
s_on_registry (lg_db_t *db, const lg_event_t *event, void *state)
{
    (void) state;
    if (event->body_case != LGWAN__V1__EVENT__BODY_PROVIDER_APPLIED)
        return 0;                       //  nothing for audit in it (yet)
    const Lgwan__V1__Provider *p = event->provider_applied->provider;
    if (!p || p->id == 0)
        return -1;
    char id [24], type [8], version [24], seq [24];
    snprintf (id, sizeof id, "%" PRIu64, p->id);
    snprintf (type, sizeof type, "%d", p->entity_type);
    snprintf (version, sizeof version, "%" PRIu64, p->version);
    snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
    const char *params [] = { id, p->name_ja, type, p->status, version,
                              event->source, seq, event->event_id, event->occurred_at };
    return lg_db_run (db,
        "WITH copy AS ("
        "  INSERT INTO providers (id, name_ja, entity_type, status, version)"
        "  VALUES ($1::bigint, $2, $3::smallint, $4, $5::integer)"
        "  ON CONFLICT (id) DO UPDATE SET name_ja = excluded.name_ja,"
        "  entity_type = excluded.entity_type, status = excluded.status,"
        "  version = excluded.version, updated_at = now()"
        "  WHERE providers.version < excluded.version)"
        " INSERT INTO provider_events (source, seq, event_id, provider_id, kind, occurred_at)"
        " VALUES ($6, $7::bigint, $8, $1::bigint, 'provider_applied', $9::timestamptz)",
        9, params)? 0: -2;
}

static const lg_route_t s_routes [] = {
    { 0, NULL, 0, 0 }
};

static const lg_subscription_t s_subscriptions [] = {
    { "registry", s_on_registry },
    { NULL, NULL }
};

const lg_service_def_t audit_service = {
    .name = "audit",
    .migrations = audit_migrations,
    .routes = s_routes,
    .stream_roles = LG_ROLE_READERS,
    .subscriptions = s_subscriptions
};
