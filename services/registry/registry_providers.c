/*  registry_providers - providers, their qualification review (R3, R4.1,
    R4.3) and the reference list of local governments.
*/
#include "registry_internal.h"

#define PROVIDER_COLUMNS \
    "id, name_ja, name_en, entity_type, coalesce (corporate_number, '') AS corporate_number," \
    " coalesce (lgcode, '') AS lgcode, status, version, operating_body," \
    " president_approved_by, president_approved_on::text AS president_approved_on," \
    " president_reference, " \
    TIME_TEXT ("created_at") " AS created_at, " TIME_TEXT ("updated_at") " AS updated_at"

//  The point query of ProviderGet: the record and its children in one round
//  trip (bench_rpc runs the same text raw)
const char *registry_provider_get_sql =
    "SELECT " PROVIDER_COLUMNS ","
    " (SELECT coalesce (json_agg (json_build_object ('kind', c.kind, 'name', c.name,"
    "   'phone', c.phone, 'email', c.email) ORDER BY c.kind), '[]')"
    "  FROM provider_contacts c WHERE c.provider_id = p.id)::text AS contacts,"
    " (SELECT coalesce (json_agg (json_build_object ('name', d.name, 'country', d.country,"
    "   'prefecture', d.prefecture, 'address', d.address) ORDER BY d.name), '[]')"
    "  FROM data_centres d WHERE d.provider_id = p.id)::text AS data_centres,"
    DECISION_JSON ("provider", "p.id")
    " FROM providers p WHERE id = $1::bigint";

//  The form of a local government's corporate number: "000020" + lgcode
//  behind its check digit. Only a local government holds a number of this
//  form, so only a type 1 applicant may give one (R3.1)
static bool
s_has_lg_form (const char *number)
{
    return lg_check_corporate_number (number) && strncmp (number + 1, "000020", 6) == 0;
}

//  Corporate number of the local government lgcode
static bool
s_is_lg_corporate_number (const char *number, const char *lgcode)
{
    return s_has_lg_form (number) && strcmp (number + 7, lgcode) == 0;
}


//  lgcode names a local government in the current reference list: neither
//  unknown nor a designated city's ward (migration 014); refused under
//  rule, the code called what; 0, -1 with the refusal set, or -2
int
reg_local_government (lg_ctx_t *ctx, const char *lgcode, const char *rule, const char *what)
{
    const char *params [] = { lgcode };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT name, kind FROM local_governments WHERE lgcode = $1",
                           1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0)
        rc = REFUSE (ctx, rule, "%s %s is not in the reference list", what, lgcode);
    else
    if (streq (lg_db_value (res, 0, "kind"), "ward"))
        rc = REFUSE (ctx, rule, "%s %s (%s) is a ward of a designated city, not a local"
                     " government: its city is", what, lgcode, lg_db_value (res, 0, "name"));
    PQclear (res);
    return rc;
}

//  R3.1 checks of an application; -1 with the refusal set
static int
s_check_apply (lg_ctx_t *ctx, const Lgwan__V1__ProviderApply *a)
{
    if (a->entity_type < LGWAN__V1__ENTITY_TYPE__LOCAL_GOVERNMENT
    ||  a->entity_type > LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION)
        return INVALID (ctx, "R3.1", "entity type must be one of the seven of Art.3 (1-7)");
    if (reg_check_text (ctx, "name_ja", a->name_ja, NAME_MAX_CHARS, true)
    ||  reg_check_text (ctx, "name_en", a->name_en, NAME_MAX_CHARS, false))
        return -1;
    if (a->entity_type == LGWAN__V1__ENTITY_TYPE__LOCAL_GOVERNMENT) {
        if (!lg_check_lgcode (a->lgcode))
            return INVALID (ctx, "R3.1", "local government code \"%.16s\" is not 6 digits with a"
                            " valid check digit", a->lgcode);
        int rc = reg_local_government (ctx, a->lgcode, "R3.1", "local government code");
        if (rc)
            return rc;
        if (*a->corporate_number && !s_is_lg_corporate_number (a->corporate_number, a->lgcode))
            return INVALID (ctx, "R3.1", "corporate number %.16s is not the one of local"
                            " government %s", a->corporate_number, a->lgcode);
    }
    else {
        if (*a->lgcode)
            return INVALID (ctx, "R3.1", "only a local government (type 1) has a local"
                            " government code");
        bool needs = a->entity_type != LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION;
        if ((needs || *a->corporate_number) && !lg_check_corporate_number (a->corporate_number))
            return INVALID (ctx, "R3.1", "corporate number \"%.16s\" is not 13 digits with a"
                            " valid check digit", a->corporate_number);
        if (s_has_lg_form (a->corporate_number))
            return INVALID (ctx, "R3.1", "corporate number %.16s is a local government's"
                            " (000020 + local government code): only a local government"
                            " (type 1) holds one", a->corporate_number);
    }
    return reg_check_contacts (ctx, a->contacts, a->n_contacts)
        || reg_check_data_centres (ctx, a->data_centres, a->n_data_centres)? -1: 0;
}

int
reg_check_contacts (lg_ctx_t *ctx, Lgwan__V1__Contact **contacts, size_t n)
{
    if (reg_check_count (ctx, "contacts", n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const Lgwan__V1__Contact *c = contacts [i];
        if (c->kind == LGWAN__V1__CONTACT_KIND__CONTACT_KIND_UNSPECIFIED)
            return INVALID (ctx, NULL, "contacts[%zu].kind is mandatory", i);
        for (size_t j = 0; j < i; j++)
            if (contacts [j]->kind == c->kind)
                return INVALID (ctx, NULL, "contacts[%zu]: one contact per kind", i);
        if (reg_check_text (ctx, "contact name", c->name, NAME_MAX_CHARS, true)
        ||  reg_check_text (ctx, "contact phone", c->phone, 64, false)
        ||  reg_check_text (ctx, "contact email", c->email, 254, false))
            return -1;
        if (*c->email && !strchr (c->email, '@'))
            return INVALID (ctx, NULL, "contacts[%zu].email is not an address", i);
    }
    return 0;
}

int
reg_check_data_centres (lg_ctx_t *ctx, Lgwan__V1__DataCentre **centres, size_t n)
{
    if (reg_check_count (ctx, "data centres", n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const Lgwan__V1__DataCentre *d = centres [i];
        if (reg_check_text (ctx, "data centre name", d->name, NAME_MAX_CHARS, true)
        ||  reg_check_text (ctx, "data centre address", d->address, TEXT_MAX_CHARS, false))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (streq (centres [j]->name, d->name))
                return INVALID (ctx, NULL, "data centre %s is named twice", d->name);
        if (!streq (d->country, "JP"))
            return REFUSE (ctx, "R3.3", "data centre %s is outside Japan (country \"%.8s\"):"
                           " only data centres in Japan may be used", d->name, d->country);
        if (!lg_check_prefecture (d->prefecture))
            return INVALID (ctx, "R3.3", "data centre %s: prefecture \"%.8s\" is not a JIS X 0401"
                            " code 01-47", d->name, d->prefecture);
    }
    return 0;
}

int
reg_store_contacts (lg_ctx_t *ctx, const char *provider, Lgwan__V1__Contact **contacts, size_t n)
{
    const char *own [] = { provider };
    if (reg_queue (ctx, "DELETE FROM provider_contacts WHERE provider_id = $1::bigint", 1, own))
        return -2;
    for (size_t i = 0; i < n; i++) {
        char kind [8];
        snprintf (kind, sizeof kind, "%d", contacts [i]->kind);
        const char *params [] = { provider, kind, contacts [i]->name, contacts [i]->phone,
                                  contacts [i]->email };
        int rc = reg_queue (ctx, "INSERT INTO provider_contacts (provider_id, kind, name, phone,"
                                " email) VALUES ($1::bigint, $2::smallint, $3, $4, $5)", 5, params);
        if (rc)
            return rc;
    }
    return 0;
}

int
reg_store_data_centres (lg_ctx_t *ctx, const char *provider, Lgwan__V1__DataCentre **centres,
                        size_t n)
{
    const char *own [] = { provider };
    if (reg_queue (ctx, "DELETE FROM data_centres WHERE provider_id = $1::bigint", 1, own))
        return -2;
    for (size_t i = 0; i < n; i++) {
        const char *params [] = { provider, centres [i]->name, centres [i]->country,
                                  centres [i]->prefecture, centres [i]->address };
        int rc = reg_queue (ctx, "INSERT INTO data_centres (provider_id, name, country, prefecture,"
                                " address) VALUES ($1::bigint, $2, $3, $4, $5)", 5, params);
        if (rc)
            return rc;
    }
    return 0;
}

//  Reply with the whole provider record; also the body of events
static int
s_reply_provider (lg_ctx_t *ctx, uint64_t id, Lgwan__V1__Provider **provider_p)
{
    int rc;
    Lgwan__V1__Provider *provider = reg_provider_load (ctx, id, &rc);
    if (!provider)
        return rc;
    Lgwan__V1__ProviderReply *reply = (Lgwan__V1__ProviderReply *) malloc (sizeof *reply);
    lgwan__v1__provider_reply__init (reply);
    reply->provider = provider;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_PROVIDER;
    ctx->reply->provider = reply;
    if (provider_p)
        *provider_p = provider;
    return 0;
}

int
reg_provider_apply (lg_ctx_t *ctx)
{
    const Lgwan__V1__ProviderApply *a = ctx->request->provider_apply;
    if (s_check_apply (ctx, a))
        return -1;
    char type [4], now [40];
    snprintf (type, sizeof type, "%d", a->entity_type);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { a->name_ja, a->name_en, type,
                              *a->corporate_number? a->corporate_number: NULL,
                              *a->lgcode? a->lgcode: NULL, now, a->operating_body? "t": "f" };
    char numbered [96], coded [64];
    snprintf (numbered, sizeof numbered, "a provider with corporate number %.16s is already"
              " registered", a->corporate_number);
    snprintf (coded, sizeof coded, "local government %.16s is already a provider", a->lgcode);
    const reg_key_t keys [] = {
        { "providers_corporate_number_live", LGWAN__V1__CODE__ALREADY_EXISTS, "R3.1", numbered },
        { "providers_lgcode_live", LGWAN__V1__CODE__ALREADY_EXISTS, "R3.1", coded },
        { "providers_one_operating_body", LGWAN__V1__CODE__ALREADY_EXISTS, "R12.1",
          "the operating body is already registered" } };
    PGresult *res;
    int rc = reg_query_keys (ctx, &res,
        "INSERT INTO providers (name_ja, name_en, entity_type, corporate_number, lgcode,"
        " created_at, updated_at, operating_body) VALUES ($1, $2, $3::smallint, $4, $5,"
        " $6::timestamptz, $6::timestamptz, $7::boolean) RETURNING id", 7, params, REG_KEYS (keys));
    if (rc)
        return rc;
    uint64_t id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    char text [24];
    ID_TEXT (text, id);
    if ((rc = reg_store_contacts (ctx, text, a->contacts, a->n_contacts))
    ||  (rc = reg_store_data_centres (ctx, text, a->data_centres, a->n_data_centres))
    ||  (rc = reg_version (ctx, "provider", id)))
        return rc;
    Lgwan__V1__Provider *provider = NULL;
    if ((rc = s_reply_provider (ctx, id, &provider)))
        return rc;
    Lgwan__V1__ProviderApplied applied = LGWAN__V1__PROVIDER_APPLIED__INIT;
    applied.provider = provider;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_PROVIDER_APPLIED;
    event.provider_applied = &applied;
    return lg_ctx_emit (ctx, &event);
}

int
reg_provider_get (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->provider_get->provider;
    if (id == 0)
        return INVALID (ctx, NULL, "provider is mandatory");
    if (reg_only_owner (ctx, "provider", id, id, 0))
        return -1;
    return s_reply_provider (ctx, id, NULL);
}

int
reg_provider_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__ProviderList *q = ctx->request->provider_list;
    uint32_t limit;
    char count [16];
    if (lg_ctx_page (ctx, q->limit, 50, 500, &limit, count, sizeof count))
        return -1;
    if (reg_check_text (ctx, "name_prefix", q->name_prefix, NAME_MAX_CHARS, false)
    ||  reg_check_text (ctx, "status", q->status, 32, false))
        return -1;
    char type [8], after [24];
    snprintf (type, sizeof type, "%d", q->entity_type);
    ID_TEXT (after, q->after_id);
    //  LIKE metacharacters in the prefix are data, not patterns
    char *prefix = NULL;
    if (*q->name_prefix) {
        size_t len = strlen (q->name_prefix);
        prefix = (char *) malloc (2 * len + 2);
        char *out = prefix;
        for (const char *in = q->name_prefix; *in; in++) {
            if (*in == '%' || *in == '_' || *in == '\\')
                *out++ = '\\';
            *out++ = *in;
        }
        *out++ = '%';
        *out = 0;
    }
    const char *params [] = { type, *q->status? q->status: NULL, prefix, after, count };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "SELECT " PROVIDER_COLUMNS " FROM providers"
        " WHERE ($1::smallint = 0 OR entity_type = $1::smallint)"
        " AND ($2::text IS NULL OR status = $2)"
        " AND ($3::text IS NULL OR name_ja LIKE $3 OR name_en LIKE $3)"
        " AND id > $4::bigint ORDER BY id LIMIT $5::integer", 5, params);
    free (prefix);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__ProviderListReply *list = (Lgwan__V1__ProviderListReply *) malloc (sizeof *list);
    lgwan__v1__provider_list_reply__init (list);
    list->providers = (Lgwan__V1__Provider **) calloc (rows? rows: 1, sizeof (void *));
    for (int row = 0; row < rows && row < (int) limit; row++) {
        Lgwan__V1__Provider *p = (Lgwan__V1__Provider *) malloc (sizeof *p);
        lgwan__v1__provider__init (p);
        p->id = strtoull (lg_db_value (res, row, "id"), NULL, 10);
        p->name_ja = lg_strdup (lg_db_value (res, row, "name_ja"));
        p->name_en = lg_strdup (lg_db_value (res, row, "name_en"));
        p->entity_type = (Lgwan__V1__EntityType) atoi (lg_db_value (res, row, "entity_type"));
        p->corporate_number = lg_strdup (lg_db_value (res, row, "corporate_number"));
        p->lgcode = lg_strdup (lg_db_value (res, row, "lgcode"));
        p->status = lg_strdup (lg_db_value (res, row, "status"));
        p->version = strtoull (lg_db_value (res, row, "version"), NULL, 10);
        p->operating_body = streq (lg_db_value (res, row, "operating_body"), "t");
        p->created_at = lg_strdup (lg_db_value (res, row, "created_at"));
        p->updated_at = lg_strdup (lg_db_value (res, row, "updated_at"));
        list->providers [list->n_providers++] = p;
    }
    if (rows > (int) limit)
        list->next_after_id = list->providers [limit - 1]->id;
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_PROVIDER_LIST;
    ctx->reply->provider_list = list;
    return 0;
}

int
reg_president_approval_record (lg_ctx_t *ctx)
{
    const Lgwan__V1__PresidentApprovalRecord *r = ctx->request->president_approval_record;
    const Lgwan__V1__PresidentApproval *a = r->approval;
    if (r->provider == 0 || !a)
        return INVALID (ctx, "R3.2", "provider and approval are mandatory");
    if (reg_check_text (ctx, "approved_by", a->approved_by, NAME_MAX_CHARS, true)
    ||  reg_check_text (ctx, "reference", a->reference, NAME_MAX_CHARS, true))
        return -1;
    if (reg_check_date_not_future (ctx, "R3.2", "approved_on", a->approved_on))
        return -1;
    char status [32];
    int type, rc;
    if ((rc = reg_provider_lock (ctx, r->provider, status, sizeof status, &type)))
        return rc;
    if (type != LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION)
        return REFUSE (ctx, "R3.2", "only a voluntary organisation (type 7) needs the"
                       " President's approval");
    //  The approval is what qualification is decided on: once decided, it
    //  is the record's history, not to be rewritten
    if (!streq (status, "applied") && !streq (status, "under_review"))
        return REFUSE (ctx, "R3.2", "provider %" PRIu64 " is %s: the President's approval is"
                       " recorded only before qualification is decided (applied or"
                       " under_review)", r->provider, status);
    char id [24], now [40];
    ID_TEXT (id, r->provider);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *params [] = { id, a->approved_by, a->approved_on, a->reference, now };
    if ((rc = lg_ctx_exec (ctx, "UPDATE providers SET president_approved_by = $2,"
                                " president_approved_on = $3::date, president_reference = $4,"
                                " version = version + 1, updated_at = $5::timestamptz"
                                " WHERE id = $1::bigint", 5, params))
    ||  (rc = reg_version (ctx, "provider", r->provider))
    ||  (rc = s_reply_provider (ctx, r->provider, NULL)))
        return rc;
    return 0;
}

//  Move a provider's review along; -1 when it is not in the state expected
static int
s_transition (lg_ctx_t *ctx, uint64_t id, const char *from, const char *to, const char *requirement)
{
    char status [32];
    int rc = reg_provider_lock (ctx, id, status, sizeof status, NULL);
    if (rc)
        return rc;
    if (!streq (status, from))
        return REFUSE (ctx, requirement, "provider %" PRIu64 " is %s, not %s", id, status, from);
    return reg_set_status (ctx, "provider", id, to);
}

int
reg_qualification_review (lg_ctx_t *ctx)
{
    uint64_t id = ctx->request->qualification_review->provider;
    if (id == 0)
        return INVALID (ctx, NULL, "provider is mandatory");
    int rc = s_transition (ctx, id, "applied", "under_review", "R4.3");
    return rc? rc: s_reply_provider (ctx, id, NULL);
}

int
reg_qualification_decide (lg_ctx_t *ctx)
{
    const Lgwan__V1__QualificationDecide *d = ctx->request->qualification_decide;
    if (d->provider == 0)
        return INVALID (ctx, NULL, "provider is mandatory");
    if (reg_check_decision (ctx, d->outcome, d->reason))
        return -1;
    bool approve = d->outcome == LGWAN__V1__OUTCOME__OUTCOME_APPROVED;
    int rc;
    if (approve) {
        //  R3.2: a voluntary organisation needs the President's approval first
        char status [32];
        int type;
        if ((rc = reg_provider_lock (ctx, d->provider, status, sizeof status, &type)))
            return rc;
        if (type == LGWAN__V1__ENTITY_TYPE__VOLUNTARY_ORGANISATION) {
            char text [24];
            ID_TEXT (text, d->provider);
            const char *params [] = { text };
            PGresult *res;
            if ((rc = lg_ctx_query (ctx, &res, "SELECT president_approved_on IS NOT NULL AS ok"
                                               " FROM providers WHERE id = $1::bigint", 1, params)))
                return rc;
            bool ok = streq (lg_db_value (res, 0, "ok"), "t");
            PQclear (res);
            if (!ok)
                return REFUSE (ctx, "R3.2", "provider %" PRIu64 " is a voluntary organisation"
                               " without the President's approval recorded", d->provider);
        }
    }
    if ((rc = s_transition (ctx, d->provider, "under_review", approve? "qualified": "rejected",
                            "R4.3"))
    ||  (rc = reg_decide (ctx, "provider", d->provider, d->outcome, d->reason))
    ||  (rc = s_reply_provider (ctx, d->provider, NULL)))
        return rc;
    Lgwan__V1__QualificationDecided decided = LGWAN__V1__QUALIFICATION_DECIDED__INIT;
    decided.provider = d->provider;
    decided.outcome = d->outcome;
    decided.reason = d->reason;
    decided.reviewer = (char *) ctx->actor;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_QUALIFICATION_DECIDED;
    event.qualification_decided = &decided;
    return lg_ctx_emit (ctx, &event);
}

int
reg_reference_load (lg_ctx_t *ctx)
{
    const Lgwan__V1__ReferenceLoad *r = ctx->request->reference_load;
    if (r->n_entries == 0)
        return INVALID (ctx, NULL, "a reference list needs entries");
    if (reg_check_text (ctx, "source", r->source, NAME_MAX_CHARS, true))
        return -1;
    //  Every row checked before anything is written: all or nothing
    zhashx_t *seen = zhashx_new ();
    for (size_t i = 0; i < r->n_entries; i++) {
        const Lgwan__V1__LocalGovernment *e = r->entries [i];
        if (!lg_check_lgcode (e->lgcode)) {
            zhashx_destroy (&seen);
            return INVALID (ctx, "R3.1", "entry %zu: local government code \"%.16s\" has no"
                            " valid check digit", i + 1, e->lgcode);
        }
        if (zhashx_insert (seen, e->lgcode, (void *) 1)) {
            zhashx_destroy (&seen);
            return INVALID (ctx, NULL, "entry %zu: local government code %s is listed twice",
                            i + 1, e->lgcode);
        }
        if (!streq (e->kind, "prefecture") && !streq (e->kind, "municipality")
        &&  !streq (e->kind, "ward")) {
            zhashx_destroy (&seen);
            return INVALID (ctx, NULL, "entry %zu: kind must be prefecture, municipality or ward"
                            " (a designated city's)", i + 1);
        }
        if (reg_check_text (ctx, "name", e->name, NAME_MAX_CHARS, true)
        ||  reg_check_text (ctx, "prefecture", e->prefecture, 16, true)) {
            zhashx_destroy (&seen);
            return -1;
        }
    }
    zhashx_destroy (&seen);
    char count [16], now [40];
    snprintf (count, sizeof count, "%zu", r->n_entries);
    lg_clock_format (ctx->now_us, now, sizeof now);
    const char *list [] = { r->source, count, ctx->actor, now };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "INSERT INTO reference_lists (source, entries, loaded_by,"
                                      " loaded_at) VALUES ($1, $2::integer, $3, $4::timestamptz)"
                                      " RETURNING version", 4, list);
    if (rc)
        return rc;
    char version [24];
    snprintf (version, sizeof version, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if ((rc = lg_ctx_exec (ctx, "DELETE FROM local_governments", 0, NULL)))
        return rc;
    //  Two thousand rows: pipelined, one round trip
    if (lg_db_pipeline_begin (ctx->db))
        return -2;
    for (size_t i = 0; i < r->n_entries; i++) {
        const Lgwan__V1__LocalGovernment *e = r->entries [i];
        const char *row [] = { e->lgcode, e->prefecture, e->name, e->kind, version };
        if (!lg_db_run (ctx->db, "INSERT INTO local_governments (lgcode, prefecture, name, kind,"
                                 " list_version) VALUES ($1, $2, $3, $4, $5::bigint)", 5, row))
            break;
    }
    if (lg_db_pipeline_end (ctx->db))       //  a conflict is run again, not refused
        return lg_db_is_up (ctx->db) && !lg_db_retryable (ctx->db)
             ? INVALID (ctx, NULL, "the list was refused: %s", lg_db_error (ctx->db)): -2;
    //  The wards of designated cities, which the list calls municipalities
    //  (migration 014)
    if ((rc = lg_ctx_exec (ctx, "SELECT mark_designated_city_wards ()", 0, NULL)))
        return rc;
    Lgwan__V1__ReferenceLoadReply *reply = (Lgwan__V1__ReferenceLoadReply *) malloc (sizeof *reply);
    lgwan__v1__reference_load_reply__init (reply);
    reply->list_version = strtoull (version, NULL, 10);
    reply->entries = (uint32_t) r->n_entries;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_REFERENCE_LOAD;
    ctx->reply->reference_load = reply;
    return 0;
}

int
reg_reference_get (lg_ctx_t *ctx)
{
    const char *lgcode = ctx->request->reference_get->lgcode;
    if (!lg_check_lgcode (lgcode))
        return INVALID (ctx, "R3.1", "local government code \"%.16s\" has no valid check digit",
                        lgcode);
    const char *params [] = { lgcode };
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT lgcode, prefecture, name, kind, list_version"
                                      " FROM local_governments WHERE lgcode = $1", 1, params);
    if (rc)
        return rc;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return MISSING (ctx, "local government code %s is not in the reference list", lgcode);
    }
    Lgwan__V1__ReferenceReply *reply = (Lgwan__V1__ReferenceReply *) malloc (sizeof *reply);
    lgwan__v1__reference_reply__init (reply);
    reply->entry = (Lgwan__V1__LocalGovernment *) malloc (sizeof (Lgwan__V1__LocalGovernment));
    lgwan__v1__local_government__init (reply->entry);
    reply->entry->lgcode = lg_strdup (lg_db_value (res, 0, "lgcode"));
    reply->entry->prefecture = lg_strdup (lg_db_value (res, 0, "prefecture"));
    reply->entry->name = lg_strdup (lg_db_value (res, 0, "name"));
    reply->entry->kind = lg_strdup (lg_db_value (res, 0, "kind"));
    reply->list_version = strtoull (lg_db_value (res, 0, "list_version"), NULL, 10);
    PQclear (res);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_REFERENCE;
    ctx->reply->reference = reply;
    return 0;
}
