/*  registry_connections - connections to LGWAN, the address pools of the
    ASP segment, allocation, and the servers behind each connection.

    1. A connection application is filed by the service's hosting provider
       (or staff): the provider qualified and the service registered (R4.1),
       the hosting provider with an emergency response contact and an
       operations manager (R9.2), a router and a line named (R5.2). Approval
       checks R4.1 and R9.2 again; a change of the contacts and an approval
       take turns on the provider's contacts lock (shared by approvals,
       exclusive by the change: reg_lock_connection_contacts), so neither
       commits on what the other is changing.
    2. Pools are data (PoolAdd); they never overlap (an exclusion constraint).
       A pool, like a server (point 5), has no versions: its row names who
       added it, when, and the request's reason (X.1), which is mandatory
       (lg_ctx_reason_required: none is refused, nothing added).
    3. On approval, each requested prefix is allocated from the first pool of
       its family with room: under a per-pool transaction lock (so two
       replicas take turns, as NetBox learnt), the next aligned block after
       the pool's last allocation, else the first gap from the start (so
       released space is used again). An exclusion constraint on every
       allocation not yet released makes an overlap impossible whatever the
       code does. No room is RESOURCE_EXHAUSTED naming R12.1.
    4. The domain is <service>.p<provider>.asp.lgwan.jp; a further connection
       of the same service is <service>-c<connection>.p<provider>.asp.lgwan.jp.
    5. A server's address lies inside its connection's allocation (R5.2); its
       ports and protocols are recorded (R11.3); an external-facing server
       needs a firewall and an access-control record (R11.6), and who
       registered it, when and why (a reason is mandatory) are on its row
       (X.1). An address is one server among the servers whose allocation
       is not released: a release marks the servers inside it (released_at,
       a trigger of migration 008), kept as history, and the connection
       given the block next registers its servers at the same addresses.
    6. A connection no longer in effect keeps its addresses (decommissioning)
       until isolation reports it decommissioned; a duty then releases them,
       and the release is a new version of the connection like every other
       change of its record (R4.2, R12.1).
*/
#include "registry_internal.h"
#include <arpa/inet.h>

typedef unsigned __int128 u128;

//  Parse "address/length" (or a bare address with want_host) into family,
//  host-order value and length; -1 when malformed or not aligned
static int
s_parse (const char *text, int *family, u128 *value, int *length, bool want_host)
{
    char buf [64];
    if (!text || strlen (text) >= sizeof buf)
        return -1;
    snprintf (buf, sizeof buf, "%s", text);
    char *slash = strchr (buf, '/');
    if (slash)
        *slash = 0;
    uint8_t bytes [16];
    int bits;
    if (inet_pton (AF_INET, buf, bytes) == 1) {
        *family = 4;
        bits = 32;
    }
    else
    if (inet_pton (AF_INET6, buf, bytes) == 1) {
        *family = 6;
        bits = 128;
    }
    else
        return -1;
    u128 v = 0;
    for (int i = 0; i < bits / 8; i++)
        v = (v << 8) | bytes [i];
    *value = v;
    if (!slash) {
        *length = bits;
        return 0;
    }
    if (want_host)
        return -1;
    char *end;
    long len = strtol (slash + 1, &end, 10);
    if (*end || end == slash + 1 || len < 0 || len > bits)
        return -1;
    *length = (int) len;
    //  A /0 of IPv6 has 128 host bits: shifting by 128 is undefined
    int host_bits = bits - (int) len;
    u128 host_mask = host_bits == 128? ~(u128) 0: ((u128) 1 << host_bits) - 1;
    return (v & host_mask)? -1: 0;      //  host bits set: not a prefix
}

static void
s_format (int family, u128 value, int length, char *out, size_t size)
{
    uint8_t bytes [16];
    int n = family == 4? 4: 16;
    for (int i = n - 1; i >= 0; i--) {
        bytes [i] = (uint8_t) (value & 0xff);
        value >>= 8;
    }
    char text [INET6_ADDRSTRLEN];
    inet_ntop (family == 4? AF_INET: AF_INET6, bytes, text, sizeof text);
    snprintf (out, size, "%s/%d", text, length);
}

static int
s_bits (int family)
{
    return family == 4? 32: 128;
}

//  ---------------------------------------------------------------------------
//  Pools

static Lgwan__V1__Pool *
s_pool_from_row (const PGresult *res, int row)
{
    Lgwan__V1__Pool *p = (Lgwan__V1__Pool *) malloc (sizeof *p);
    lgwan__v1__pool__init (p);
    p->id = strtoull (lg_db_value (res, row, "id"), NULL, 10);
    p->name = lg_strdup (lg_db_value (res, row, "name"));
    p->prefix = lg_strdup (lg_db_value (res, row, "prefix"));
    p->family = (uint32_t) atoi (lg_db_value (res, row, "family"));
    p->created_at = lg_strdup (lg_db_value (res, row, "created_at"));
    p->added_by = lg_strdup (lg_db_value (res, row, "added_by"));
    p->reason = lg_strdup (lg_db_value (res, row, "reason"));
    return p;
}

#define POOL_COLUMNS "id, name, prefix::text AS prefix, family, " \
    TIME_TEXT ("created_at") " AS created_at, added_by, reason"

int
reg_pool_add (lg_ctx_t *ctx)
{
    const Lgwan__V1__PoolAdd *a = ctx->request->pool_add;
    if (lg_ctx_reason_required (ctx, "X.1", "a pool")
    ||  reg_check_text (ctx, "name", a->name, 64, true))
        return -1;
    int family, length;
    u128 value;
    if (s_parse (a->prefix, &family, &value, &length, false) || !strchr (a->prefix, '/'))
        return INVALID (ctx, "R12.1", "pool prefix \"%.64s\" is not an address/length with no"
                        " host bits set", a->prefix);
    if ((family == 4 && (length < 8 || length > 28)) || (family == 6 && (length < 16 || length > 56)))
        return INVALID (ctx, "R12.1", "a pool is an IPv4 /8../28 or an IPv6 /16../56");
    char canonical [64], fam [4], now [40];
    s_format (family, value, length, canonical, sizeof canonical);
    snprintf (fam, sizeof fam, "%d", family);
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  Who added it and why, on its row (X.1): a pool has no versions
    const char *params [] = { a->name, canonical, fam, now, ctx->actor, reg_reason (ctx) };
    //  A pool is the operating body's allocation data (R12.1): its space is
    //  one pool's, and its name one pool's
    char overlaps [128], named [128];
    snprintf (overlaps, sizeof overlaps, "pool %s overlaps a pool already configured", canonical);
    snprintf (named, sizeof named, "a pool named %s exists", a->name);
    const reg_key_t keys [] = {
        { "pools_no_overlap", LGWAN__V1__CODE__FAILED_PRECONDITION, "R12.1", overlaps },
        { "pools_name_key", LGWAN__V1__CODE__ALREADY_EXISTS, "R12.1", named } };
    PGresult *res;
    int rc = reg_query_keys (ctx, &res, "INSERT INTO pools (name, prefix, family, created_at,"
                             " added_by, reason) VALUES ($1, $2::cidr, $3::smallint,"
                             " $4::timestamptz, $5, $6) RETURNING " POOL_COLUMNS, 6, params,
                             REG_KEYS (keys));
    if (rc)
        return rc;
    Lgwan__V1__PoolReply *reply = (Lgwan__V1__PoolReply *) malloc (sizeof *reply);
    lgwan__v1__pool_reply__init (reply);
    reply->pool = s_pool_from_row (res, 0);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_POOL;
    ctx->reply->pool = reply;
    return 0;
}

int
reg_pool_list (lg_ctx_t *ctx)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " POOL_COLUMNS " FROM pools ORDER BY family, prefix",
                           0, NULL);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__PoolListReply *list = (Lgwan__V1__PoolListReply *) malloc (sizeof *list);
    lgwan__v1__pool_list_reply__init (list);
    list->pools = (Lgwan__V1__Pool **) calloc (rows? rows: 1, sizeof (void *));
    for (int row = 0; row < rows; row++)
        list->pools [list->n_pools++] = s_pool_from_row (res, row);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_POOL_LIST;
    ctx->reply->pool_list = list;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Connections

#define CONNECTION_COLUMNS \
    "c.id, c.service_id, c.provider_id, c.router, c.line_carrier, c.bandwidth_class," \
    " c.ipv4_length, c.ipv6_length, coalesce (c.domain, '') AS domain, c.status, c.state," \
    " c.version, coalesce (c.effective_on::text, '') AS effective_on," \
    " " TIME_TEXT ("c.created_at") " AS created_at, " TIME_TEXT ("c.updated_at") " AS updated_at," \
    " coalesce ((SELECT a.prefix::text FROM allocations a WHERE a.connection_id = c.id" \
    "   AND a.family = 4 AND a.status <> 'released' LIMIT 1), '') AS ipv4_prefix," \
    " coalesce ((SELECT a.prefix::text FROM allocations a WHERE a.connection_id = c.id" \
    "   AND a.family = 6 AND a.status <> 'released' LIMIT 1), '') AS ipv6_prefix"

static Lgwan__V1__Connection *
s_connection_from_row (const PGresult *res, int row)
{
    Lgwan__V1__Connection *c = (Lgwan__V1__Connection *) malloc (sizeof *c);
    lgwan__v1__connection__init (c);
    c->id = strtoull (lg_db_value (res, row, "id"), NULL, 10);
    c->service = strtoull (lg_db_value (res, row, "service_id"), NULL, 10);
    c->provider = strtoull (lg_db_value (res, row, "provider_id"), NULL, 10);
    c->router = lg_strdup (lg_db_value (res, row, "router"));
    c->line_carrier = lg_strdup (lg_db_value (res, row, "line_carrier"));
    c->bandwidth_class = lg_strdup (lg_db_value (res, row, "bandwidth_class"));
    c->ipv4_prefix_length = (uint32_t) atoi (lg_db_value (res, row, "ipv4_length"));
    c->ipv6_prefix_length = (uint32_t) atoi (lg_db_value (res, row, "ipv6_length"));
    c->ipv4_prefix = lg_strdup (lg_db_value (res, row, "ipv4_prefix"));
    c->ipv6_prefix = lg_strdup (lg_db_value (res, row, "ipv6_prefix"));
    c->domain = lg_strdup (lg_db_value (res, row, "domain"));
    c->status = lg_strdup (lg_db_value (res, row, "status"));
    c->state = lg_strdup (lg_db_value (res, row, "state"));
    c->version = strtoull (lg_db_value (res, row, "version"), NULL, 10);
    c->effective_on = lg_strdup (lg_db_value (res, row, "effective_on"));
    c->created_at = lg_strdup (lg_db_value (res, row, "created_at"));
    c->updated_at = lg_strdup (lg_db_value (res, row, "updated_at"));
    return c;
}

//  The reply of a query of CONNECTION_COLUMNS and "decision" (its first row);
//  the result is cleared
static void
s_reply_row (lg_ctx_t *ctx, PGresult *res, Lgwan__V1__Connection **connection_p)
{
    Lgwan__V1__Connection *connection = s_connection_from_row (res, 0);
    connection->decision = reg_decision_from_json (lg_db_value (res, 0, "decision"));
    PQclear (res);
    Lgwan__V1__ConnectionReply *reply = (Lgwan__V1__ConnectionReply *) malloc (sizeof *reply);
    lgwan__v1__connection_reply__init (reply);
    reply->connection = connection;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONNECTION;
    ctx->reply->connection = reply;
    if (connection_p)
        *connection_p = connection;
}

static int
s_reply_connection (lg_ctx_t *ctx, uint64_t id, Lgwan__V1__Connection **connection_p)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " CONNECTION_COLUMNS "," DECISION_JSON ("connection", "c.id")
                                      " FROM connections c WHERE c.id = $1::bigint", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "connection", text);
    }
    s_reply_row (ctx, res, connection_p);
    return 0;
}

//  The columns s_check_row reads, for a query of services s with these joins
#define SERVICE_CHECK_COLUMNS \
    "s.status AS service_status, h.provider_id AS hosting, p.status AS provider_status, " \
    LACKS_CONNECTION_CONTACTS ("SELECT pc.kind FROM provider_contacts pc" \
                               " WHERE pc.provider_id = h.provider_id") " AS lacks_contacts"
#define SERVICE_CHECK_JOINS \
    " LEFT JOIN service_holders h ON h.service_id = s.id AND h.role = 2" \
    " LEFT JOIN providers p ON p.id = h.provider_id"

//  R4.1 and R9.2 for a service: registered, its hosting provider qualified
//  with its two contacts. *hosting gets the hosting provider. The queries
//  share-lock the service row until COMMIT: it cannot be cancelled under an
//  approval, and approvals of one service do not wait for each other.
static int
s_check_row (lg_ctx_t *ctx, const PGresult *res, uint64_t service, uint64_t *hosting)
{
    const char *status = lg_db_value (res, 0, "service_status");
    *hosting = lg_db_u64 (res, 0, "hosting");
    const char *provider_status = lg_db_value (res, 0, "provider_status");
    if (!streq (status? status: "", "registered"))
        return REFUSE (ctx, "R4.1", "service %" PRIu64 " is %s, not registered", service, status);
    if (!streq (provider_status? provider_status: "missing", "qualified"))
        return REFUSE (ctx, "R4.1", "hosting provider %" PRIu64 " is %s, not qualified",
                       *hosting, provider_status? provider_status: "missing");
    if (streq (lg_db_value (res, 0, "lacks_contacts"), "t"))
        return reg_refuse_connection_contacts (ctx, *hosting, "before a connection");
    return 0;
}

int
reg_refuse_connection_contacts (lg_ctx_t *ctx, uint64_t provider, const char *what)
{
    return REFUSE (ctx, "R9.2", "hosting provider %" PRIu64 " needs an emergency response"
                   " contact and an operations manager %s", provider, what);
}

int
reg_lock_connection_contacts (lg_ctx_t *ctx, uint64_t provider, bool shared)
{
    char key [48];
    snprintf (key, sizeof key, "lgwan.contacts.%" PRIu64, provider);
    const char *lock [] = { key };
    return reg_queue (ctx, shared? "SELECT pg_advisory_xact_lock_shared (hashtext ($1))"
                                 : "SELECT pg_advisory_xact_lock (hashtext ($1))", 1, lock);
}

int
reg_check_connection_contacts (lg_ctx_t *ctx, uint64_t provider, Lgwan__V1__Contact **contacts,
                               size_t n)
{
    //  Approvals of the provider's connections under way are waited for
    //  (they hold the lock shared), and the query after it sees them active
    int rc = reg_lock_connection_contacts (ctx, provider, false);
    if (rc)
        return rc;
    //  The kinds as a PostgreSQL array
    char *kinds = (char *) malloc (n * 12 + 3);
    size_t at = 0;
    kinds [at++] = '{';
    for (size_t i = 0; i < n; i++)
        at += sprintf (kinds + at, "%s%d", i? ",": "", (int) contacts [i]->kind);
    snprintf (kinds + at, 2, "}");
    char text [24];
    ID_TEXT (text, provider);
    const char *params [] = { text, kinds };
    PGresult *res;
    rc = lg_ctx_query (ctx, &res, "SELECT string_agg (c.id::text, ', ' ORDER BY c.id) AS ids"
                                  " FROM connections c JOIN services s ON s.id = c.service_id"
                                  " WHERE c.provider_id = $1::bigint AND c.status = 'active'"
                                  " AND s.status <> 'cancelled' AND "
                                  LACKS_CONNECTION_CONTACTS ("SELECT unnest ($2::smallint[])"),
                       2, params);
    free (kinds);
    if (rc)
        return rc;
    const char *ids = lg_db_value (res, 0, "ids");
    if (ids) {
        char *what = zsys_sprintf ("while connections it hosts are in effect (%.200s): the"
                                   " contacts it names instead keep both", ids);
        rc = reg_refuse_connection_contacts (ctx, provider, what);
        zstr_free (&what);
    }
    PQclear (res);
    return rc;
}

//  s_check_row of a service, locked; a provider calling must be its hosting
//  provider, which is checked first (X.3)
static int
s_check_service (lg_ctx_t *ctx, uint64_t service, uint64_t *hosting)
{
    char text [24];
    ID_TEXT (text, service);
    const char *params [] = { text };
    PGresult *res;
    //  Locked in a statement of its own, then read: a statement that waits
    //  for the lock reads the holders as they were when it began, and the
    //  provider a hosting move (approved meanwhile) took the role from
    //  filed a connection of the service it no longer hosted (R9.2)
    int rc = reg_queue (ctx, "SELECT 1 FROM services WHERE id = $1::bigint FOR SHARE", 1, params);
    if (rc == 0)
        rc = lg_ctx_query (ctx, &res, "SELECT " SERVICE_CHECK_COLUMNS " FROM services s"
                                      SERVICE_CHECK_JOINS " WHERE s.id = $1::bigint", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "service", text);
    }
    //  X.3: a provider other than the host is refused before the checks,
    //  whose refusals tell the service's and its host's state, and as for
    //  a service that does not exist: it learns not even that one does
    rc = reg_only_owner (ctx, "service", service, lg_db_u64 (res, 0, "hosting"), 0);
    if (rc == 0)
        rc = s_check_row (ctx, res, service, hosting);
    PQclear (res);
    return rc;
}

//  A bandwidth class names the line's billed class: 1-16 of [A-Za-z0-9-]
int
reg_check_bandwidth (lg_ctx_t *ctx, const char *rule, const char *bandwidth)
{
    size_t len = strlen (bandwidth);
    if (len == 0 || len > 16 || strspn (bandwidth, "abcdefghijklmnopqrstuvwxyz"
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != len)
        return INVALID (ctx, rule, "bandwidth_class must be 1-16 of [A-Za-z0-9-]");
    return 0;
}

int
reg_connection_apply (lg_ctx_t *ctx)
{
    const Lgwan__V1__ConnectionApply *a = ctx->request->connection_apply;
    if (a->service == 0)
        return INVALID (ctx, "R4.1", "service is mandatory");
    if (reg_check_text (ctx, "router", a->router, 128, false)
    ||  reg_check_text (ctx, "line_carrier", a->line_carrier, 128, false))
        return -1;
    if (!*a->router || !*a->line_carrier)
        return INVALID (ctx, "R5.2", "a connection names its LGWAN connection router and its line");
    if (reg_check_bandwidth (ctx, NULL, a->bandwidth_class))
        return -1;
    if (a->ipv4_prefix_length == 0 && a->ipv6_prefix_length == 0)
        return INVALID (ctx, "R12.1", "ask for an IPv4 or an IPv6 prefix length, or both");
    if (a->ipv4_prefix_length && (a->ipv4_prefix_length < 16 || a->ipv4_prefix_length > 30))
        return INVALID (ctx, "R12.1", "an IPv4 prefix is /16 to /30");
    if (a->ipv6_prefix_length && (a->ipv6_prefix_length < 40 || a->ipv6_prefix_length > 64))
        return INVALID (ctx, "R12.1", "an IPv6 prefix is /40 to /64");
    uint64_t hosting = 0;
    int rc = s_check_service (ctx, a->service, &hosting);
    if (rc)
        return rc;
    char service [24], provider [24], v4 [8], v6 [8], now [40];
    ID_TEXT (service, a->service);
    ID_TEXT (provider, hosting);
    snprintf (v4, sizeof v4, "%u", a->ipv4_prefix_length);
    snprintf (v6, sizeof v6, "%u", a->ipv6_prefix_length);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { service, provider, a->router, a->line_carrier, a->bandwidth_class,
                              v4, v6, now };
    PGresult *res;
    if ((rc = lg_ctx_query (ctx, &res, "INSERT INTO connections (service_id, provider_id, router,"
                                       " line_carrier, bandwidth_class, ipv4_length, ipv6_length,"
                                       " created_at, updated_at) VALUES ($1::bigint, $2::bigint, $3,"
                                       " $4, $5, $6::smallint, $7::smallint, $8::timestamptz,"
                                       " $8::timestamptz) RETURNING id", 8, params)))
        return rc;
    uint64_t id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    if ((rc = reg_version (ctx, "connection", id)))
        return rc;
    return s_reply_connection (ctx, id, NULL);
}

int
reg_connection_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->connection_get->connection;
    if (id == 0)
        return INVALID (ctx, NULL, "connection is mandatory");
    Lgwan__V1__Connection *connection = NULL;
    int rc = s_reply_connection (ctx, id, &connection);
    return rc? rc: reg_only_owner (ctx, "connection", id, connection->provider, 0);
}

//  Lock a connection; its status
static int
s_lock_connection (lg_ctx_t *ctx, uint64_t id, char *status, size_t size)
{
    char text [24];
    ID_TEXT (text, id);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT status FROM connections"
                                      " WHERE id = $1::bigint FOR UPDATE", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "connection", text);
    }
    snprintf (status, size, "%s", lg_db_value (res, 0, "status"));
    PQclear (res);
    return 0;
}

int
reg_connection_review (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->connection_review->connection;
    if (id == 0)
        return INVALID (ctx, NULL, "connection is mandatory");
    char status [32];
    int rc = s_lock_connection (ctx, id, status, sizeof status);
    if (rc)
        return rc;
    if (!streq (status, "applied"))
        return REFUSE (ctx, "R4.3", "connection %" PRIu64 " is %s, not applied", id, status);
    if ((rc = reg_set_status (ctx, "connection", id, "under_review")))
        return rc;
    return s_reply_connection (ctx, id, NULL);
}

//  The first aligned block of 2^(bits-length) addresses in [pool, pool end]
//  that no live allocation overlaps; 0 found, -1 none. allocations are the
//  live ones inside the pool, sorted by address.
static int
s_find_block (const PGresult *allocations, int family, u128 pool, int pool_length, int length,
              bool from_last, u128 *found)
{
    int bits = s_bits (family);
    u128 size = (u128) 1 << (bits - length);
    u128 pool_end = pool + (((u128) 1 << (bits - pool_length)) - 1);
    u128 candidate = pool;
    int rows = PQntuples (allocations);
    for (int row = from_last && rows? rows - 1: 0; row < rows; row++) {
        int f, l;
        u128 start;
        if (s_parse (PQgetvalue (allocations, row, 0), &f, &start, &l, false))
            continue;
        u128 end = start + (((u128) 1 << (bits - l)) - 1);
        if (!from_last && candidate + size - 1 < start)
            break;                              //  the gap before this one fits
        if (end >= candidate)
            candidate = ((end / size) + 1) * size;      //  next aligned block after it
        if (candidate == 0 || candidate > pool_end)
            return -1;                          //  wrapped or past the pool
    }
    if (candidate < pool || candidate + size - 1 > pool_end || candidate + size - 1 < candidate)
        return -1;
    *found = candidate;
    return 0;
}

//  Whether the service already has a connection with a domain, looked at
//  again under the service's naming lock. A domain, once given, is kept, so
//  an approval that saw one needs no lock; approvals that saw none take
//  turns here until COMMIT, and each looks again after the lock (READ
//  COMMITTED: a new statement sees what the one before it committed). So
//  only one takes the bare name, and approvals of one service otherwise run
//  side by side.
static int
s_first_domain (lg_ctx_t *ctx, uint64_t service, bool *others)
{
    char key [64], text [24];
    snprintf (key, sizeof key, "lgwan.domain.%" PRIu64, service);
    ID_TEXT (text, service);
    const char *lock [] = { key };
    const char *params [] = { text };
    int rc = reg_queue (ctx, "SELECT pg_advisory_xact_lock (hashtext ($1))", 1, lock);
    PGresult *res;
    if (rc || (rc = lg_ctx_query (ctx, &res, "SELECT EXISTS (SELECT 1 FROM connections"
                                             " WHERE service_id = $1::bigint"
                                             " AND domain IS NOT NULL) AS others", 1, params)))
        return rc;
    *others = streq (lg_db_value (res, 0, "others"), "t");
    PQclear (res);
    return 0;
}

//  Allocation (R12.1). The exclusion constraint on live allocations is what
//  keeps blocks apart; locks only keep approvals out of each other's way.
//  1. A pool is cut into stripes: up to 64 aligned sub-prefixes, each with
//     room for at least 16 blocks of the requested length (a small pool is
//     one stripe). A connection starts in stripe (id mod stripes) and takes
//     that stripe's lock (an advisory lock until COMMIT), so approvals run
//     side by side, and approvals in one stripe take turns.
//  2. In the stripe: the first aligned block after its last live block (one
//     index probe), else its first gap.
//  3. The stripe is full, or the same block was lost twice (a live block
//     larger than the stripe covers it; the stripe's range does not list
//     it): the pool's first gap, without a lock.
//  4. Every INSERT says ON CONFLICT DO NOTHING: a block another transaction
//     holds, even one not yet committed (PostgreSQL waits for it), inserts
//     nothing, and the search runs again, seeing what was committed. Each
//     lost race means another block was taken, so this ends; a pool with no
//     gap is RESOURCE_EXHAUSTED.
//  Only one blocking lock is taken per pool, pools in id order: no cycle.
#define STRIPE_BITS_MAX   6
#define STRIPE_MIN_BITS   4         //  a stripe holds at least 2^4 blocks
#define ALLOCATE_TRIES    1000

//  Live blocks in [base, last address of base/base_length]: the last only,
//  or all in order. Live blocks are the btree range [prefix, last address as
//  a host route] (inet orders by the bits the two masks share, then by mask
//  length; ordered by the cidr column itself: its text would sort 10 before 9)
static int
s_live_blocks (lg_ctx_t *ctx, int family, u128 base, int base_length, bool last_only,
               PGresult **res)
{
    int bits = s_bits (family);
    char first [64], last_host [64];
    s_format (family, base, base_length, first, sizeof first);
    s_format (family, base + (((u128) 1 << (bits - base_length)) - 1), bits, last_host,
              sizeof last_host);
    const char *within [] = { first, last_host };
    return lg_ctx_query (ctx, res, last_only
        ? "SELECT a.prefix::text AS block FROM allocations a WHERE a.status <> 'released'"
          " AND a.prefix >= $1::cidr AND a.prefix <= $2::inet ORDER BY a.prefix DESC LIMIT 1"
        : "SELECT a.prefix::text AS block FROM allocations a WHERE a.status <> 'released'"
          " AND a.prefix >= $1::cidr AND a.prefix <= $2::inet ORDER BY a.prefix",
        2, within);
}

//  A free block of length inside base/base_length as committed now: after
//  the last (when after_last), else the first gap. 0 found, 1 none, or rc
static int
s_search (lg_ctx_t *ctx, int family, u128 base, int base_length, int length, bool after_last,
          u128 *block)
{
    PGresult *res;
    int rc;
    if (after_last) {
        if ((rc = s_live_blocks (ctx, family, base, base_length, true, &res)))
            return rc;
        int found = s_find_block (res, family, base, base_length, length, true, block);
        PQclear (res);
        if (found == 0)
            return 0;
    }
    if ((rc = s_live_blocks (ctx, family, base, base_length, false, &res)))
        return rc;
    int found = s_find_block (res, family, base, base_length, length, false, block);
    PQclear (res);
    return found? 1: 0;
}

//  Insert block for the connection unless a live block overlaps it: 0
//  inserted, 1 taken by another transaction, or rc
static int
s_claim_block (lg_ctx_t *ctx, const char *connection, const char *pool_id, int family,
               u128 block, int length, char *out, size_t size)
{
    char fam [4], now [40];
    snprintf (fam, sizeof fam, "%d", family);
    s_format (family, block, length, out, size);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *row [] = { connection, pool_id, out, fam, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "INSERT INTO allocations (connection_id, pool_id, prefix,"
                                      " family, allocated_at) VALUES ($1::bigint, $2::bigint,"
                                      " $3::cidr, $4::smallint, $5::timestamptz)"
                                      " ON CONFLICT DO NOTHING RETURNING id", 5, row);
    if (rc)
        return rc;
    int inserted = PQntuples (res);
    PQclear (res);
    return inserted? 0: 1;
}

//  Allocate one prefix of family/length for the connection from pools
//  ("id=prefix,..." in id order, NULL for none); 0 and the prefix text, a
//  refusal (no room), or -2 database
static int
s_allocate (lg_ctx_t *ctx, const char *connection, const char *pools, int family, int length,
            char *out, size_t size)
{
    int rc = 0;
    int bits = s_bits (family);
    uint64_t id = strtoull (connection, NULL, 10);
    for (const char *next = pools; next && *next && rc == 0; ) {
        //  One "id=prefix" of the list
        char item [80];
        size_t span = strcspn (next, ",");
        snprintf (item, sizeof item, "%.*s", (int) span, next);
        next += span + (next [span] == ',');
        char *equals = strchr (item, '=');
        if (!equals)
            continue;
        *equals = 0;
        const char *pool_id = item;
        int f, pool_length;
        u128 pool;
        if (s_parse (equals + 1, &f, &pool, &pool_length, false) || pool_length > length)
            continue;
        int stripe_bits = length - pool_length - STRIPE_MIN_BITS;
        stripe_bits = stripe_bits < 0? 0: stripe_bits > STRIPE_BITS_MAX? STRIPE_BITS_MAX: stripe_bits;
        int stripe_length = pool_length + stripe_bits;
        unsigned stripe = (unsigned) (id % (1u << stripe_bits));
        u128 base = pool + ((u128) stripe << (bits - stripe_length));
        char key [112], number [16];
        snprintf (key, sizeof key, "lgwan.pool.%s/%d", pool_id, length);
        snprintf (number, sizeof number, "%u", stripe);
        const char *lock [] = { key, number };
        //  Queued: it runs, and waits, before the search that follows it
        if ((rc = reg_queue (ctx, "SELECT pg_advisory_xact_lock (hashtext ($1), $2::integer)",
                             2, lock)))
            break;
        bool in_stripe = true, lost_any = false;
        u128 lost = 0;
        for (int tries = 0; ; tries++) {
            if (tries == ALLOCATE_TRIES) {
                rc = lg_ctx_refuse (ctx, LGWAN__V1__CODE__UNAVAILABLE, NULL, "pool %s is too"
                                    " busy to allocate from; try again", pool_id);
                break;
            }
            u128 block;
            rc = in_stripe? s_search (ctx, family, base, stripe_length, length, true, &block)
                          : s_search (ctx, family, pool, pool_length, length, false, &block);
            if (rc == 1 && in_stripe && stripe_bits > 0) {
                in_stripe = false;          //  the stripe is full: the whole pool
                continue;
            }
            if (rc == 1) {
                rc = 0;                     //  this pool is full for this length
                break;
            }
            if (rc)
                break;
            if (in_stripe && lost_any && block == lost) {
                //  The same block lost twice: a live block larger than the
                //  stripe covers it (the stripe's range does not list it)
                in_stripe = false;
                continue;
            }
            if ((rc = s_claim_block (ctx, connection, pool_id, family, block, length, out,
                                     size)) != 1) {
                if (rc == 0)
                    return 0;
                break;
            }
            rc = 0;                         //  lost a race for that block: look again
            lost = block;
            lost_any = true;
        }
    }
    if (rc)
        return rc;
    return lg_ctx_refuse (ctx, LGWAN__V1__CODE__RESOURCE_EXHAUSTED, "R12.1",
                          "no room for an IPv%d /%d in the ASP segment pools", family, length);
}

int
reg_connection_decide (lg_ctx_t *ctx)
{
    const Lgwan__V1__ConnectionDecide *d = ctx->request->connection_decide;
    if (d->connection == 0)
        return INVALID (ctx, NULL, "connection is mandatory");
    if (reg_check_decision (ctx, d->outcome, d->reason))
        return -1;
    //  One round trip: the connection locked, its service share-locked with
    //  what R4.1 and R9.2 need, what the approval needs, and the pools. The
    //  hosting provider is read, not locked (share locks of one row by many
    //  approvals at once cost PostgreSQL a multixact each): its cancellation
    //  locks its connections, so it waits for an approval under way and then
    //  sees the new allocation, and the approval's last statement asks again
    //  whether the provider is still qualified (see below). Its contacts
    //  (R9.2) are ordered with a change of them by the provider's contacts
    //  lock, an advisory lock held shared here, so approvals of one provider
    //  do not wait for each other, and exclusive by the change
    //  (reg_check_connection_contacts): a change under way is waited for,
    //  and the last statement reads the contacts again; an approval under
    //  way is waited for by the change, which then sees it active
    char text [24];
    ID_TEXT (text, d->connection);
    const char *own [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT c.status, c.service_id, c.provider_id AS filed_by,"
        " c.ipv4_length, c.ipv6_length, c.bandwidth_class, s.name, " SERVICE_CHECK_COLUMNS ","
        " EXISTS (SELECT 1 FROM connections o WHERE o.service_id = c.service_id"
        "  AND o.domain IS NOT NULL) AS others,"
        " (SELECT string_agg (id || '=' || prefix::text, ',' ORDER BY id) FROM pools"
        "  WHERE family = 4) AS pools4,"
        " (SELECT string_agg (id || '=' || prefix::text, ',' ORDER BY id) FROM pools"
        "  WHERE family = 6) AS pools6"
        " FROM connections c JOIN services s ON s.id = c.service_id" SERVICE_CHECK_JOINS
        " WHERE c.id = $1::bigint FOR UPDATE OF c FOR SHARE OF s", 1, own);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "connection", text);
    }
    uint64_t service_id = lg_db_u64 (res, 0, "service_id");
    const char *status = lg_db_value (res, 0, "status");
    if (!streq (status, "under_review")) {
        rc = REFUSE (ctx, "R4.3", "connection %" PRIu64 " is %s, not under review",
                     d->connection, status);
        PQclear (res);
        return rc;
    }
    if (d->outcome == LGWAN__V1__OUTCOME__OUTCOME_REJECTED) {
        PQclear (res);
        if ((rc = reg_set_status (ctx, "connection", d->connection, "rejected"))
        ||  (rc = reg_decide (ctx, "connection", d->connection, d->outcome, d->reason)))
            return rc;
        return s_reply_connection (ctx, d->connection, NULL);
    }
    //  Approval: the rules again, then the addresses and the domain
    uint64_t hosting;
    if ((rc = s_check_row (ctx, res, service_id, &hosting))
    ||  (rc = reg_lock_connection_contacts (ctx, hosting, true))) {
        PQclear (res);
        return rc;
    }
    //  Filed by the service's hosting provider, as it is now: a connection
    //  is its hosting provider's (R9.2), and a hosting move is refused while
    //  the one before has a connection of the service
    uint64_t filed_by = lg_db_u64 (res, 0, "filed_by");
    if (filed_by != hosting) {
        PQclear (res);
        return REFUSE (ctx, "R9.2", "connection %" PRIu64 " was filed by provider %" PRIu64
                       ", and service %" PRIu64 " is hosted by provider %" PRIu64 " now",
                       d->connection, filed_by, service_id, hosting);
    }
    int v4 = atoi (lg_db_value (res, 0, "ipv4_length"));
    int v6 = atoi (lg_db_value (res, 0, "ipv6_length"));
    bool others = streq (lg_db_value (res, 0, "others"), "t");
    if (!others && (rc = s_first_domain (ctx, service_id, &others))) {
        PQclear (res);
        return rc;
    }
    char domain [256], bandwidth [32];
    snprintf (bandwidth, sizeof bandwidth, "%s", lg_db_value (res, 0, "bandwidth_class"));
    //  The first connection of a service gets its name; a further one its id too
    if (!others)
        snprintf (domain, sizeof domain, "%s.p%" PRIu64 ".asp.lgwan.jp",
                  lg_db_value (res, 0, "name"), hosting);
    else
        snprintf (domain, sizeof domain, "%s-c%" PRIu64 ".p%" PRIu64 ".asp.lgwan.jp",
                  lg_db_value (res, 0, "name"), d->connection, hosting);
    char *pools4 = lg_db_strdup (res, 0, "pools4");
    char *pools6 = lg_db_strdup (res, 0, "pools6");
    PQclear (res);
    char prefix4 [64] = "", prefix6 [64] = "";
    if (v4)
        rc = s_allocate (ctx, text, pools4, 4, v4, prefix4, sizeof prefix4);
    if (rc == 0 && v6)
        rc = s_allocate (ctx, text, pools6, 6, v6, prefix6, sizeof prefix6);
    free (pools4);
    free (pools6);
    if (rc)
        return rc;
    char today [16], now [40];
    reg_today_jst (ctx, today, sizeof today);
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  The connection, its version, the decision and the reply: one statement
    //  (the version and the reply read the row the UPDATE returns). It reads
    //  the hosting provider afresh: one cancelled while this approval waited
    //  for the connection's lock was read above as it had been (R4.1), and
    //  so were contacts a change replaced while it waited for their lock
    //  (R9.2)
    char host [24];
    ID_TEXT (host, hosting);
    const char *params [] = { text, domain, today, now, ctx->actor, reg_reason (ctx), d->reason,
                              host };
    //  A domain name is allocated once (R12.1): the naming above and the
    //  service's domain lock keep this key, which says so if they did not
    char taken [320];
    snprintf (taken, sizeof taken, "domain %s is allocated to another connection", domain);
    const reg_key_t keys [] = {
        { "connections_domain_key", LGWAN__V1__CODE__ALREADY_EXISTS, "R12.1", taken } };
    rc = reg_query_keys (ctx, &res, "WITH c0 AS (UPDATE connections SET status = 'active',"
        " state = 'connected', domain = $2, effective_on = $3::date, version = version + 1,"
        " updated_at = $4::timestamptz WHERE id = $1::bigint AND EXISTS (SELECT 1 FROM"
        " providers p WHERE p.id = $8::bigint AND p.status = 'qualified') AND NOT "
        LACKS_CONNECTION_CONTACTS ("SELECT pc.kind FROM provider_contacts pc"
                                   " WHERE pc.provider_id = $8::bigint") " RETURNING *),"
        " v AS (INSERT INTO versions (subject, subject_id, version, actor, reason, recorded_at,"
        "  record) SELECT 'connection', c.id, c.version, $5, $6, $4::timestamptz, "
        CONNECTION_RECORD " FROM c0 c),"
        " x AS (INSERT INTO decisions (subject, subject_id, outcome, reviewer, decided_at, reason)"
        "  VALUES ('connection', $1::bigint, 'approved', $5, $4::timestamptz, $7) RETURNING *)"
        " SELECT " CONNECTION_COLUMNS ", (SELECT " DECISION_OBJECT " FROM x)::text AS decision"
        " FROM c0 c", 8, params, REG_KEYS (keys));
    if (rc)
        return rc;
    if (PQntuples (res) != 1) {
        //  The hosting provider changed while this approval waited: the
        //  checks of the first statement, read again, say how (R4.1: it is
        //  cancelled; R9.2: its contacts lack one)
        PQclear (res);
        uint64_t again;
        if ((rc = s_check_service (ctx, service_id, &again)))
            return rc;
        return REFUSE (ctx, "R4.1", "hosting provider %" PRIu64 " was cancelled while"
                       " connection %" PRIu64 " was being approved", hosting, d->connection);
    }
    s_reply_row (ctx, res, NULL);
    char *prefixes [2];
    size_t n = 0;
    if (*prefix4)
        prefixes [n++] = prefix4;
    if (*prefix6)
        prefixes [n++] = prefix6;
    Lgwan__V1__ConnectionActivated activated = LGWAN__V1__CONNECTION_ACTIVATED__INIT;
    activated.connection = d->connection;
    activated.service = service_id;
    activated.provider = hosting;
    activated.prefixes = prefixes;
    activated.n_prefixes = n;
    activated.domain = domain;
    activated.bandwidth_class = bandwidth;
    activated.effective_on = today;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_CONNECTION_ACTIVATED;
    event.connection_activated = &activated;
    return lg_ctx_emit (ctx, &event);
}

int
reg_connection_lookup (lg_ctx_t *ctx)
{
    const char *address = ctx->request->connection_lookup->address;
    int family, length;
    u128 value;
    if (s_parse (address, &family, &value, &length, true))
        return INVALID (ctx, NULL, "\"%.64s\" is not an IPv4 or IPv6 address", address);
    const char *params [] = { address };
    PGresult *res;
    //  Live allocations never overlap: the one holding the address, if any, is
    //  the greatest prefix not after it (one btree probe), checked to contain it
    int rc = lg_ctx_query (ctx, &res, "SELECT " CONNECTION_COLUMNS " FROM (SELECT a.connection_id,"
                                      " a.prefix, a.status FROM allocations a WHERE a.status <> 'released'"
                                      " AND a.prefix <= $1::inet ORDER BY a.prefix DESC LIMIT 1) a"
                                      " JOIN connections c ON c.id = a.connection_id"
                                      " WHERE a.status = 'active' AND a.prefix >>= $1::inet", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return MISSING (ctx, "no active connection holds %s", address);
    }
    Lgwan__V1__ConnectionReply *reply = (Lgwan__V1__ConnectionReply *) malloc (sizeof *reply);
    lgwan__v1__connection_reply__init (reply);
    reply->connection = s_connection_from_row (res, 0);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONNECTION;
    ctx->reply->connection = reply;
    return 0;
}

int
reg_connection_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__ConnectionList *q = ctx->request->connection_list;
    uint32_t limit;
    char count [16];
    uint64_t provider = q->provider;
    if (reg_list_scope (ctx, q->limit, q->status, &provider, "its own connections", &limit, count,
                        sizeof count))
        return -1;
    char p [24], s [24], after [24];
    ID_TEXT (p, provider);
    ID_TEXT (s, q->service);
    ID_TEXT (after, q->after_id);
    const char *params [] = { p, s, *q->status? q->status: NULL, after, count };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT " CONNECTION_COLUMNS " FROM connections c"
                                      " WHERE ($1::bigint = 0 OR c.provider_id = $1::bigint)"
                                      " AND ($2::bigint = 0 OR c.service_id = $2::bigint)"
                                      " AND ($3::text IS NULL OR c.status = $3)"
                                      " AND c.id > $4::bigint ORDER BY c.id LIMIT $5::integer",
                           5, params);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__ConnectionListReply *list = (Lgwan__V1__ConnectionListReply *) malloc (sizeof *list);
    lgwan__v1__connection_list_reply__init (list);
    list->connections = (Lgwan__V1__Connection **) calloc (rows? rows: 1, sizeof (void *));
    for (int row = 0; row < rows && row < (int) limit; row++)
        list->connections [list->n_connections++] = s_connection_from_row (res, row);
    if (rows > (int) limit)
        list->next_after_id = list->connections [limit - 1]->id;
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CONNECTION_LIST;
    ctx->reply->connection_list = list;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Servers (R5.2, R11.3, R11.6)

static Lgwan__V1__Server *
s_server_from_row (const PGresult *res, int row)
{
    Lgwan__V1__Server *s = (Lgwan__V1__Server *) malloc (sizeof *s);
    lgwan__v1__server__init (s);
    s->id = strtoull (lg_db_value (res, row, "id"), NULL, 10);
    s->connection = strtoull (lg_db_value (res, row, "connection_id"), NULL, 10);
    s->name = lg_strdup (lg_db_value (res, row, "name"));
    s->address = lg_strdup (lg_db_value (res, row, "address"));
    s->external_facing = streq (lg_db_value (res, row, "external_facing"), "t");
    s->firewall_record = lg_strdup (lg_db_value (res, row, "firewall_record"));
    s->access_control_record = lg_strdup (lg_db_value (res, row, "access_control_record"));
    s->created_at = lg_strdup (lg_db_value (res, row, "created_at"));
    s->released_at = lg_strdup (lg_db_value (res, row, "released_at"));
    s->registered_by = lg_strdup (lg_db_value (res, row, "registered_by"));
    s->reason = lg_strdup (lg_db_value (res, row, "reason"));
    json_t *ports = json_loads (lg_db_value (res, row, "ports"), 0, NULL);
    size_t n = json_array_size (ports);
    s->ports = (Lgwan__V1__PortSpec **) calloc (n? n: 1, sizeof (void *));
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get (ports, i);
        Lgwan__V1__PortSpec *p = (Lgwan__V1__PortSpec *) malloc (sizeof *p);
        lgwan__v1__port_spec__init (p);
        p->port = (uint32_t) json_integer_value (json_object_get (item, "port"));
        p->protocol = lg_strdup (json_string_value (json_object_get (item, "protocol")));
        s->ports [s->n_ports++] = p;
    }
    json_decref (ports);
    return s;
}

#define SERVER_COLUMNS "id, connection_id, name, host (address) AS address, ports::text AS ports," \
    " external_facing, firewall_record, access_control_record," \
    " " TIME_TEXT ("created_at") " AS created_at," \
    " coalesce (" TIME_TEXT ("released_at") ", '') AS released_at, registered_by, reason"

int
reg_server_register (lg_ctx_t *ctx)
{
    const Lgwan__V1__ServerRegister *r = ctx->request->server_register;
    if (lg_ctx_reason_required (ctx, "X.1", "a server"))
        return -1;
    if (r->connection == 0)
        return INVALID (ctx, "R5.2", "connection is mandatory");
    if (reg_check_text (ctx, "name", r->name, 128, true))
        return -1;
    int family, length;
    u128 value;
    if (s_parse (r->address, &family, &value, &length, true))
        return INVALID (ctx, "R11.3", "\"%.64s\" is not one IPv4 or IPv6 address", r->address);
    if (r->n_ports == 0)
        return INVALID (ctx, "R11.3", "a server lists its ports and protocols");
    if (reg_check_count (ctx, "ports", r->n_ports))
        return -1;
    json_t *ports = json_array ();
    for (size_t i = 0; i < r->n_ports; i++) {
        const Lgwan__V1__PortSpec *p = r->ports [i];
        bool icmp = streq (p->protocol, "icmp") || streq (p->protocol, "icmpv6");
        if (!icmp && !streq (p->protocol, "tcp") && !streq (p->protocol, "udp")) {
            json_decref (ports);
            return INVALID (ctx, "R11.3", "ports[%zu]: protocol must be tcp, udp, icmp or icmpv6", i);
        }
        if ((icmp && p->port != 0) || (!icmp && (p->port < 1 || p->port > 65535))) {
            json_decref (ports);
            return INVALID (ctx, "R11.3", "ports[%zu]: port %u is not valid for %s", i, p->port,
                            p->protocol);
        }
        for (size_t j = 0; j < i; j++)
            if (r->ports [j]->port == p->port && streq (r->ports [j]->protocol, p->protocol)) {
                json_decref (ports);
                return INVALID (ctx, "R11.3", "ports[%zu]: %s/%u is listed twice", i, p->protocol,
                                p->port);
            }
        json_array_append_new (ports, json_pack ("{s:i, s:s}", "port", (int) p->port,
                                                 "protocol", p->protocol));
    }
    char *ports_text = json_dumps (ports, JSON_COMPACT);
    json_decref (ports);
    int rc = 0;
    if (r->external_facing && (reg_chars (r->firewall_record) == 0
                           ||  reg_chars (r->access_control_record) == 0))
        rc = REFUSE (ctx, "R11.6", "an external-facing server needs its firewall record and its"
                     " access-control record");
    else
    if (reg_check_text (ctx, "firewall_record", r->firewall_record, TEXT_MAX_CHARS, false)
    ||  reg_check_text (ctx, "access_control_record", r->access_control_record,
                        TEXT_MAX_CHARS, false))
        rc = -1;
    if (rc) {
        free (ports_text);
        return rc;
    }
    //  The connection: active, the caller's own, and the address inside it
    char text [24];
    ID_TEXT (text, r->connection);
    const char *params [] = { text, r->address };
    PGresult *res;
    if ((rc = lg_ctx_query (ctx, &res, "SELECT c.status, c.provider_id, EXISTS (SELECT 1 FROM"
                                       " allocations a WHERE a.connection_id = c.id AND"
                                       " a.status = 'active' AND a.prefix >>= $2::inet) AS inside"
                                       " FROM connections c WHERE c.id = $1::bigint", 2, params))) {
        free (ports_text);
        return rc;
    }
    if (PQntuples (res) == 0) {
        PQclear (res);
        free (ports_text);
        return reg_missing (ctx, "connection", text);
    }
    bool active = streq (lg_db_value (res, 0, "status"), "active");
    bool inside = streq (lg_db_value (res, 0, "inside"), "t");
    uint64_t owner = strtoull (lg_db_value (res, 0, "provider_id"), NULL, 10);
    PQclear (res);
    if ((rc = reg_only_owner (ctx, "connection", r->connection, owner, 0))) {
        free (ports_text);
        return rc;
    }
    if (!active) {
        free (ports_text);
        return REFUSE (ctx, "R5.2", "connection %s is not active", text);
    }
    if (!inside) {
        free (ports_text);
        return REFUSE (ctx, "R5.2", "server address %s is outside the prefix allocated to"
                       " connection %s", r->address, text);
    }
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  Who registered it and why, on its row (X.1): a server has no versions
    const char *row [] = { text, r->name, r->address, ports_text, r->external_facing? "t": "f",
                           r->firewall_record, r->access_control_record, now, ctx->actor,
                           reg_reason (ctx) };
    //  R11.3: each server is registered with its address, one server an
    //  address (among the servers not released) and a name of its connection
    char held [160], named [200];
    snprintf (held, sizeof held, "address %s is registered for another server", r->address);
    snprintf (named, sizeof named, "connection %s has a server named %.128s", text, r->name);
    const reg_key_t keys [] = {
        { "servers_address_live", LGWAN__V1__CODE__ALREADY_EXISTS, "R11.3", held },
        { "servers_connection_id_name_key", LGWAN__V1__CODE__ALREADY_EXISTS, "R11.3", named } };
    rc = reg_query_keys (ctx, &res, "INSERT INTO servers (connection_id, name, address, ports,"
                                    " external_facing, firewall_record, access_control_record,"
                                    " created_at, registered_by, reason) VALUES ($1::bigint, $2,"
                                    " $3::inet, $4::jsonb, $5::boolean, $6, $7, $8::timestamptz,"
                                    " $9, $10) RETURNING " SERVER_COLUMNS, 10, row,
                                    REG_KEYS (keys));
    free (ports_text);
    if (rc)
        return rc;
    Lgwan__V1__ServerReply *reply = (Lgwan__V1__ServerReply *) malloc (sizeof *reply);
    lgwan__v1__server_reply__init (reply);
    reply->server = s_server_from_row (res, 0);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_SERVER;
    ctx->reply->server = reply;
    return 0;
}

int
reg_server_list (lg_ctx_t *ctx)
{
    uint64_t connection = ctx->request->server_list->connection;
    if (connection == 0)
        return INVALID (ctx, NULL, "connection is mandatory");
    char text [24];
    ID_TEXT (text, connection);
    const char *params [] = { text };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT provider_id FROM connections WHERE id = $1::bigint",
                           1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return reg_missing (ctx, "connection", text);
    }
    uint64_t owner = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    if ((rc = reg_only_owner (ctx, "connection", connection, owner, 0)))
        return rc;
    if ((rc = lg_ctx_query (ctx, &res, "SELECT " SERVER_COLUMNS " FROM servers"
                                       " WHERE connection_id = $1::bigint ORDER BY id", 1, params)))
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__ServerListReply *list = (Lgwan__V1__ServerListReply *) malloc (sizeof *list);
    lgwan__v1__server_list_reply__init (list);
    list->servers = (Lgwan__V1__Server **) calloc (rows? rows: 1, sizeof (void *));
    for (int row = 0; row < rows; row++)
        list->servers [list->n_servers++] = s_server_from_row (res, row);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_SERVER_LIST;
    ctx->reply->server_list = list;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Mirroring isolation (the registry never sets a connection's state itself)

int
reg_on_isolation (lg_db_t *db, const lg_event_t *event, void *state)
{
    (void) state;
    const Lgwan__V1__IsolationApplied *applied = lg_codec_isolation_applied (event);
    if (!applied)
        return 0;
    const char *known [] = { "connected", "suspended", "disconnected", "decommissioned" };
    bool valid = false;
    for (size_t i = 0; i < 4; i++)
        valid = valid || streq (applied->state, known [i]);
    if (!valid)
        return -1;
    char id [24];
    snprintf (id, sizeof id, "%" PRIu64, applied->connection);
    //  A version of the record like any other change (R4.2, X.1): who asked
    //  isolation, why, and when it was in force at every point; and, where
    //  it was counted in force at no point, or points in dry run acked it
    //  (their acks count towards in force), that nothing was dropped there,
    //  in the words lgwanctl says it with: the history said "disconnected"
    //  and nothing of either (R16.1)
    const char *at = *applied->applied_at? applied->applied_at: event->occurred_at;
    char *dry_run = lg_codec_not_dropped_said (applied->no_enforcement_point,
                                               applied->dry_run_points, applied->n_dry_run_points);
    char *reason = dry_run? zsys_sprintf ("%s%s%s", event->reason, *event->reason? " — ": "",
                                          dry_run): NULL;
    const char *params [] = { id, applied->state, *event->actor? event->actor: "system:isolation",
                              reason? reason: event->reason, at };
    int rc = lg_db_run (db, "WITH c0 AS (UPDATE connections SET state = $2, version = version + 1,"
                            " updated_at = $5::timestamptz WHERE id = $1::bigint RETURNING *)"
                            " INSERT INTO versions (subject, subject_id, version, actor, reason,"
                            " recorded_at, record) SELECT 'connection', c.id, c.version, $3, $4,"
                            " $5::timestamptz, " CONNECTION_RECORD " FROM c0 c", 5, params)? 0: -2;
    zstr_free (&reason);
    zstr_free (&dry_run);
    return rc;
}

//  Duty: the allocations of a connection that is both decommissioned (as
//  isolation reports it) and no longer in effect (decommissioning: itself,
//  its service or its provider cancelled, registry_changes.c) are released,
//  reusable from now on, and AllocationReleased tells isolation and monitor.
//  Decommissioned alone is not enough: an operator may decommission a
//  connection that is still active (R12.1: its addresses were given to the
//  next connection while it was billed and still held them in the
//  registry). A release changes the connection's record (its allocations):
//  the connection gets a new version like any other change of it (R4.2,
//  X.1), by system:registry with what was released and why, and the event
//  carries the same. The connections are locked first, as a provider's
//  cancellation locks them before their allocations; one locked by a
//  request is skipped, released at a later run: the duty runs on the
//  reactor, which must not wait on locks. Only allocations and connections
//  are read
int
reg_release_allocations (lg_ctx_t *ctx)
{
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "WITH c0 AS (SELECT c.id FROM connections c WHERE c.state = 'decommissioned'"
        "  AND EXISTS (SELECT 1 FROM allocations x WHERE x.connection_id = c.id"
        "  AND x.status = 'decommissioning') ORDER BY c.id FOR UPDATE SKIP LOCKED),"
        " a AS (UPDATE allocations SET status = 'released', released_at = $1::timestamptz"
        "  WHERE connection_id IN (SELECT id FROM c0) AND status = 'decommissioning'"
        "  RETURNING connection_id, prefix::text AS prefix),"
        " c AS (UPDATE connections SET version = version + 1, updated_at = $1::timestamptz"
        "  WHERE id IN (SELECT connection_id FROM a))"
        " SELECT connection_id, prefix FROM a ORDER BY connection_id, prefix", 1, params);
    if (rc)
        return rc;
    //  One version and one event per connection, with all of its prefixes
    int rows = PQntuples (res);
    for (int row = 0, next; row < rows && rc == 0; row = next) {
        const char *connection = lg_db_value (res, row, "connection_id");
        char *prefixes [8], listed [8 * 48] = "";
        size_t n = 0, at = 0;
        for (next = row; next < rows
                      && streq (lg_db_value (res, next, "connection_id"), connection); next++)
            if (n < 8) {
                prefixes [n] = (char *) lg_db_value (res, next, "prefix");
                at += (size_t) snprintf (listed + at, sizeof listed - at, "%s%s", n? ", ": "",
                                         prefixes [n]);
                n++;
            }
        uint64_t id = strtoull (connection, NULL, 10);
        char *why = zsys_sprintf ("allocations released (R12.1): %s back to the pool, the"
                                  " connection decommissioned as isolation reported and no"
                                  " longer in effect", listed);
        lg_request_t released_by = LGWAN__V1__REQUEST__INIT;
        released_by.reason = why;
        ctx->request = &released_by;
        rc = reg_version (ctx, "connection", id);
        if (rc == 0) {
            Lgwan__V1__AllocationReleased released = LGWAN__V1__ALLOCATION_RELEASED__INIT;
            released.connection = id;
            released.prefixes = prefixes;
            released.n_prefixes = n;
            lg_event_t event = LGWAN__V1__EVENT__INIT;
            event.body_case = LGWAN__V1__EVENT__BODY_ALLOCATION_RELEASED;
            event.allocation_released = &released;
            rc = lg_ctx_emit (ctx, &event);
        }
        ctx->request = NULL;
        zstr_free (&why);
        if (rc == 0)
            lg_info ("connection %s decommissioned: %zu prefix(es) released", connection, n);
    }
    PQclear (res);
    return rc;
}
