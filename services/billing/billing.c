/*  billing - tariff and billable timeline of the billing service (R6.1).

    1. The tariff is data. `TariffLoad` carries a JSON file (a TariffFile);
       it is parsed and validated here and loaded whole or not at all: a
       negative or fractional price, an unknown or unpriced bandwidth class
       (every version prices each class its file declares, and a new
       version each class an earlier file declared: left out, the providers
       of its connections would go uninvoiced under it), versions that
       overlap (each other or one already loaded), a charge setting other
       than full, none or NN%, a version without tax_rate_percent (0 is
       given as 0: left out, it read as 0 and the version taxed nothing)
       are refused with INVALID_ARGUMENT
       or FAILED_PRECONDITION naming R6.1 and what is wrong. A version starts
       and ends on the first day of a month, so one invoice names one
       version. Reloading a version with the same content changes nothing;
       a loaded version is never changed where an invoice issued under it
       could change, but it takes prices for bandwidth classes it does not
       price yet (a provider with a connection of such a class was not
       invoiced under it, billing_invoices.c note 8), and a version loaded
       without an end takes one, once, on a month's first day after every
       period invoiced under it, so that the next version can follow; each
       such amendment is recorded with the body it replaced
       (tariff_amendments). Versions already loaded are taken first, so one
       file may end a version and load the next. Any other difference is
       ALREADY_EXISTS: a change is a new version. A load and an invoice run
       take turns (one advisory lock).
    2. The timeline is built from events, in billing's own transaction with
       the consumer's cursor (lg_consumer): the registry's
       ConnectionActivated, ConnectionChanged, ServiceRegistered and
       CancellationEffective, and isolation's Suspended, Disconnected and
       Reconnected. Each change is effective on a JST calendar day: the
       event's effective_on when it has one, else the JST day of the moment
       it took effect (applied_at, else occurred_at). An effective_on that
       is no YYYY-MM-DD refuses the event (skipped as malformed, said and
       counted, s_effective_day): it is not guessed at. Changes of one day
       keep the order in which they happened.
    3. A service's monthly fee is paid by its hosting provider. The
       registry announces the holders again (ServiceRegistered) when a
       holders change takes effect; a new hosting provider pays from the
       JST day of that event, the one before until the day before, each
       its days of the month prorated like a connection (table
       service_payers, one row per change of payer).
    4. A provider's name comes from ProviderApplied and every
       ProviderChanged after it (an approved name change): invoices issued
       from then on are addressed to the new name; an invoice issued keeps
       the name it was issued with, as a qualified invoice is a record.
    5. Invoices, credit notes, payments and the export are in
       billing_invoices.c.
    6. A change that lands in a period already invoiced (its day in a month
       whose invoice of the provider was issued, or before a later one) is
       applied to the timeline, but the invoices stay as issued (never
       edited) and no later run bills it: it is said in the log at ERROR,
       naming the connection or service, the provider, the day, the event
       and the invoiced periods, for an operator to correct them by hand.
       A provider it touched that has no invoice of a period run from its
       day on (a period an invoice run was made of, table invoice_runs,
       whether it issued an invoice or none: a run of a month with nothing
       to bill was not counted, and a change landing in it was not said)
       is said likewise, naming
       the provider and those periods: a run of such a period again
       invoices the provider (billing_invoices.c note 1). (It was said only
       of a provider with an invoice: a provider's first connection
       activated late was neither billed nor said.) A run waits for
       billing to apply every event its sources reported
       (billing_invoices.c note 9), so this is a change billing could not
       know of then: its source was down when the run was made. Events and
       runs take turns (the advisory lock BILLING_LOCK_KEY: a run holds it
       exclusive from before it reads the timeline to its commit, each batch
       of events shared from its start, s_batch_begin): a change that comes
       while a run computes or stores waits for its commit and is then
       checked against its invoices. (Applied beside the run, it was
       neither billed, the run had read the timeline without it, nor said,
       the run's invoices not being committed yet.) Only a change of a day
       in or before the latest period run, read once a batch at its
       start, waits for that check; the others are queued in the
       consumer's pipeline like any write (lg_consumer.h note 3).
    7. A source that lost events billing applied (a failover that lost its
       last commits, a restore) writes others under their seqs; the stream
       waits there (lg_consumer.h note 8), and billing's rows of the lost
       events, keyed (source, seq), would keep the new ones out. The
       operator's rewind is one SQL function, rewind (source, seq)
       (migrations/008_rewind.sql): in one transaction, under the lock of
       runs, it takes out the rows of that source's events past seq,
       rebuilds what they set in place from the rows left (a connection is
       its activation, its end the earliest cancellation left; a service
       its registration, its payer the last left, its end the earliest
       left, service_ends; a provider's name the last left, provider_names)
       and moves the cursor back to seq with no link. What an event set is
       therefore always in a row with its (source, seq). A rewind whose
       events past seq land in a period invoiced to a provider they concern
       (a connection's provider, a service's payers) is refused: invoices
       are never edited (009_rewind_per_provider.sql; another provider's
       invoice of that period refused it too).
*/
#include "billing.h"

extern const lg_migration_t billing_migrations [];

#define INVALID(ctx, ...) lg_ctx_refuse ((ctx), LGWAN__V1__CODE__INVALID_ARGUMENT, "R6.1", __VA_ARGS__)
#define REFUSE(ctx, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__FAILED_PRECONDITION, "R6.1", __VA_ARGS__)

#define BILLING_MAX_PRICE 1000000000000LL   //  10^12 yen: bounds every product

int32_t
billing_today (lg_ctx_t *ctx)
{
    return bc_jst_day (ctx->now_us);
}

bool
billing_issuer_valid (const char *text)
{
    return text && strlen (text) == 14 && text [0] == 'T' && lg_check_corporate_number (text + 1);
}

//  ---------------------------------------------------------------------------
//  Tariff

static bool
s_class_valid (const char *name)
{
    size_t len = strlen (name);
    return len >= 1 && len <= 16 && strspn (name, "abcdefghijklmnopqrstuvwxyz"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == len;
}

//  A version's first or end day: a month's first day
static int
s_month_start (const char *text, int32_t *day)
{
    int year, month, mday;
    if (bc_day_parse (text, day))
        return -1;
    bc_civil (*day, &year, &month, &mday);
    return mday == 1? 0: -1;
}

//  Validate a whole file; 0, or -1 with the refusal set
static int
s_tariff_check (lg_ctx_t *ctx, const Lgwan__V1__TariffFile *file)
{
    if (file->n_bandwidth_classes == 0)
        return INVALID (ctx, "tariff: bandwidth_classes is empty");
    for (size_t i = 0; i < file->n_bandwidth_classes; i++) {
        if (!s_class_valid (file->bandwidth_classes [i]))
            return INVALID (ctx, "tariff: bandwidth class \"%s\" is not 1-16 of [A-Za-z0-9-]",
                            file->bandwidth_classes [i]);
        for (size_t j = 0; j < i; j++)
            if (streq (file->bandwidth_classes [i], file->bandwidth_classes [j]))
                return INVALID (ctx, "tariff: bandwidth class \"%s\" is declared twice",
                                file->bandwidth_classes [i]);
    }
    if (file->n_versions == 0)
        return INVALID (ctx, "tariff: no version");
    int32_t from [file->n_versions], to [file->n_versions];
    for (size_t v = 0; v < file->n_versions; v++) {
        const Lgwan__V1__TariffVersion *t = file->versions [v];
        size_t len = strlen (t->version);
        if (len == 0 || len > 64)
            return INVALID (ctx, "tariff: versions[%zu]: version name must be 1-64 bytes", v);
        if (s_month_start (t->effective_from, &from [v]))
            return INVALID (ctx, "tariff %s: effective_from \"%s\" is not the first day of a month"
                            " (YYYY-MM-01)", t->version, t->effective_from);
        to [v] = INT32_MAX;
        if (*t->effective_to && s_month_start (t->effective_to, &to [v]))
            return INVALID (ctx, "tariff %s: effective_to \"%s\" is not the first day of a month"
                            " (YYYY-MM-01)", t->version, t->effective_to);
        if (to [v] <= from [v])
            return INVALID (ctx, "tariff %s: effective_to %s is not after effective_from %s",
                            t->version, t->effective_to, t->effective_from);
        for (size_t i = 0; i < t->n_connection_fees; i++) {
            const Lgwan__V1__TariffConnectionFee *fee = t->connection_fees [i];
            bool known = false;
            for (size_t c = 0; c < file->n_bandwidth_classes; c++)
                known |= streq (fee->bandwidth_class, file->bandwidth_classes [c]);
            if (!known)
                return INVALID (ctx, "tariff %s: unknown bandwidth class \"%s\" (declared: see"
                                " bandwidth_classes)", t->version, fee->bandwidth_class);
            for (size_t j = 0; j < i; j++)
                if (streq (fee->bandwidth_class, t->connection_fees [j]->bandwidth_class))
                    return INVALID (ctx, "tariff %s: bandwidth class \"%s\" is priced twice",
                                    t->version, fee->bandwidth_class);
            if (fee->monthly_yen < 0)
                return INVALID (ctx, "tariff %s: negative price %" PRId64 " for bandwidth class"
                                " \"%s\"", t->version, fee->monthly_yen, fee->bandwidth_class);
            if (fee->monthly_yen > BILLING_MAX_PRICE)
                return INVALID (ctx, "tariff %s: price of \"%s\" above 10^12 yen", t->version,
                                fee->bandwidth_class);
        }
        for (size_t c = 0; c < file->n_bandwidth_classes; c++) {
            bool priced = false;
            for (size_t i = 0; i < t->n_connection_fees; i++)
                priced |= streq (t->connection_fees [i]->bandwidth_class, file->bandwidth_classes [c]);
            if (!priced)
                return INVALID (ctx, "tariff %s: bandwidth class \"%s\" has no monthly fee",
                                t->version, file->bandwidth_classes [c]);
        }
        if (t->service_monthly_yen < 0 || t->service_monthly_yen > BILLING_MAX_PRICE)
            return INVALID (ctx, "tariff %s: negative or too large service_monthly_yen %" PRId64,
                            t->version, t->service_monthly_yen);
        for (size_t i = 0; i < t->n_one_off_fees; i++) {
            const Lgwan__V1__TariffOneOffFee *fee = t->one_off_fees [i];
            size_t name_len = strlen (fee->name);
            if (name_len == 0 || name_len > 64)
                return INVALID (ctx, "tariff %s: one_off_fees[%zu]: name must be 1-64 bytes",
                                t->version, i);
            if (!streq (fee->on, "activation") && !streq (fee->on, "class_change")
            &&  !streq (fee->on, "reconnection"))
                return INVALID (ctx, "tariff %s: one-off fee \"%s\": on must be activation,"
                                " class_change or reconnection, not \"%s\"", t->version,
                                fee->name, fee->on);
            if (fee->yen < 0 || fee->yen > BILLING_MAX_PRICE)
                return INVALID (ctx, "tariff %s: negative price %" PRId64 " for one-off fee \"%s\"",
                                t->version, fee->yen, fee->name);
        }
        if (bc_charge_percent (t->suspended) < 0)
            return INVALID (ctx, "tariff %s: suspended must be full, none or a percentage"
                            " (e.g. 50%%), not \"%s\"", t->version, t->suspended);
        if (bc_charge_percent (t->disconnected) < 0)
            return INVALID (ctx, "tariff %s: disconnected must be full, none or a percentage"
                            " (e.g. 50%%), not \"%s\"", t->version, t->disconnected);
        //  Left out, proto3 read it as 0: a version without tax, silently
        if (t->tax_rate_case != LGWAN__V1__TARIFF_VERSION__TAX_RATE_TAX_RATE_PERCENT)
            return INVALID (ctx, "tariff %s: tax_rate_percent is mandatory (0 when no"
                            " consumption tax is due)", t->version);
        if (t->tax_rate_percent > 100)
            return INVALID (ctx, "tariff %s: tax_rate_percent %u above 100", t->version,
                            t->tax_rate_percent);
        if (t->payment_due_days > 366)
            return INVALID (ctx, "tariff %s: payment_due_days %u above 366", t->version,
                            t->payment_due_days);
        for (size_t w = 0; w < v; w++) {
            if (streq (t->version, file->versions [w]->version))
                return INVALID (ctx, "tariff: version %s is in the file twice", t->version);
            if (from [v] < to [w] && from [w] < to [v])
                return INVALID (ctx, "tariff: versions %s and %s overlap", file->versions [w]->version,
                                t->version);
        }
    }
    return 0;
}

static int
s_tariff_reply (lg_ctx_t *ctx, uint32_t loaded)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT name FROM tariff_classes ORDER BY name", 0, NULL);
    if (rc)
        return rc;
    Lgwan__V1__TariffReply *reply = (Lgwan__V1__TariffReply *) malloc (sizeof *reply);
    lgwan__v1__tariff_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_TARIFF;
    ctx->reply->tariff = reply;
    reply->loaded = loaded;
    reply->bandwidth_classes = (char **) calloc (PQntuples (res) + 1, sizeof (char *));
    for (int row = 0; row < PQntuples (res); row++)
        reply->bandwidth_classes [reply->n_bandwidth_classes++] = lg_strdup (PQgetvalue (res, row, 0));
    PQclear (res);
    if ((rc = lg_ctx_query (ctx, &res, "SELECT body::text FROM tariff_versions"
                                       " ORDER BY effective_from", 0, NULL)))
        return rc;
    reply->versions = (Lgwan__V1__TariffVersion **) calloc (PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++) {
        ProtobufCMessage *msg = NULL;
        char why [256];
        if (lg_pbjson_parse (&lgwan__v1__tariff_version__descriptor, PQgetvalue (res, row, 0),
                             &msg, why, sizeof why) == 0)
            reply->versions [reply->n_versions++] = (Lgwan__V1__TariffVersion *) msg;
    }
    PQclear (res);
    return 0;
}

//  A version the file names that is loaded already: nothing to do when it
//  says the same; prices for classes it does not price yet are added, and
//  an open end is set once, after every period invoiced under it (note 1);
//  anything else is a change, refused
static int
s_tariff_amend (lg_ctx_t *ctx, const Lgwan__V1__TariffVersion *t, const char *body,
                const char *now, uint32_t *loaded)
{
    const char *to = *t->effective_to? t->effective_to: NULL;
    PGresult *res;
    //  The same but for prices added and an end set: every price it had, as
    //  it was, and everything else equal (bodies are written by one
    //  serializer, so equal content is equal jsonb, fee by fee)
    int rc = lg_ctx_query (ctx, &res,
        "SELECT body = $2::jsonb AS same,"
        " body - 'connection_fees' - 'effective_to' = $2::jsonb - 'connection_fees'"
        "   - 'effective_to' AS rest_same,"
        " NOT EXISTS (SELECT 1 FROM jsonb_array_elements (coalesce (body -> 'connection_fees',"
        "   '[]')) o WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements (coalesce ($2::jsonb"
        "   -> 'connection_fees', '[]')) n WHERE n = o)) AS prices_kept,"
        " (SELECT string_agg (n ->> 'bandwidth_class', ', ' ORDER BY n ->> 'bandwidth_class')"
        "   FROM jsonb_array_elements (coalesce ($2::jsonb -> 'connection_fees', '[]')) n"
        "   WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements (coalesce (body ->"
        "   'connection_fees', '[]')) o WHERE o ->> 'bandwidth_class' = n ->> 'bandwidth_class'))"
        "   AS added,"
        " effective_to::text AS effective_to,"
        " (SELECT max (period) FROM invoices WHERE tariff_version = $1) AS last_invoiced,"
        " $3::date > coalesce ((SELECT to_date (max (period), 'YYYY-MM') FROM invoices"
        "   WHERE tariff_version = $1), '-infinity') AS after_invoiced"
        " FROM tariff_versions WHERE version = $1", 3,
        (const char *[]) { t->version, body, to });
    if (rc)
        return rc;
    bool same = streq (lg_db_value (res, 0, "same"), "t");
    bool kept = streq (lg_db_value (res, 0, "rest_same"), "t")
             && streq (lg_db_value (res, 0, "prices_kept"), "t");
    const char *stored_to = lg_db_value (res, 0, "effective_to");
    bool closing = !stored_to && to;
    bool dates_kept = stored_to? to && streq (stored_to, to): true;
    const char *after = lg_db_value (res, 0, "after_invoiced");     //  NULL without an end
    bool after_invoiced = after && streq (after, "t");
    char *added = lg_db_value (res, 0, "added")? lg_strdup (lg_db_value (res, 0, "added")): NULL;
    char *last = lg_db_value (res, 0, "last_invoiced")?
                 lg_strdup (lg_db_value (res, 0, "last_invoiced")): NULL;
    char *ends = stored_to? lg_strdup (stored_to): NULL;
    PQclear (res);
    if (!same && !(kept && dates_kept))
        rc = lg_ctx_refuse (ctx, LGWAN__V1__CODE__ALREADY_EXISTS, "R6.1",
                            "tariff %s is loaded with other content%s%s; a loaded version takes"
                            " prices for classes it does not price and, when it is open, an end,"
                            " nothing else: a change is a new version", t->version,
                            ends && !dates_kept? ": it ends on ": "", ends && !dates_kept? ends: "");
    else
    if (closing && !after_invoiced)
        rc = REFUSE (ctx, "tariff %s cannot end on %s: it priced the invoices of %s; it may end on"
                     " the first day of a month after that", t->version, to, last);
    else
    if (!same && (added || closing)) {
        char *what = zsys_sprintf ("%s%s%s%s%s", added? "prices added: ": "", added? added: "",
                                   added && closing? "; ": "", closing? "effective_to set to ": "",
                                   closing? to: "");
        rc = lg_ctx_exec (ctx, "INSERT INTO tariff_amendments (version, what, body_before,"
                          " amended_at, amended_by) SELECT version, $2, body, $3::timestamptz,"
                          " $4 FROM tariff_versions WHERE version = $1", 4,
                          (const char *[]) { t->version, what, now, ctx->actor });
        if (rc == 0)
            rc = lg_ctx_exec (ctx, "UPDATE tariff_versions SET body = $2::jsonb,"
                              " effective_to = $3::date WHERE version = $1", 3,
                              (const char *[]) { t->version, body, to });
        if (rc == 0) {
            lg_info ("tariff %s amended by %s: %s", t->version, ctx->actor, what);
            (*loaded)++;
        }
        zstr_free (&what);
    }
    free (added);
    free (last);
    free (ends);
    return rc;
}

static int
s_tariff_load (lg_ctx_t *ctx)
{
    const char *document = ctx->request->tariff_load->document;
    if (!*document)
        return INVALID (ctx, "tariff: the document is empty");
    ProtobufCMessage *msg = NULL;
    char why [512];
    if (lg_pbjson_parse (&lgwan__v1__tariff_file__descriptor, document, &msg, why, sizeof why))
        return INVALID (ctx, "tariff: %s", why);
    Lgwan__V1__TariffFile *file = (Lgwan__V1__TariffFile *) msg;
    int rc = s_tariff_check (ctx, file);
    uint32_t loaded = 0;
    char now [40];
    lg_clock_format (ctx->now_us, now, sizeof now);
    //  A load waits for a run under way (billing_invoices.c note 1), and a
    //  run for the load: an end is set against the invoices issued
    if (rc == 0)
        rc = lg_ctx_exec (ctx, "SELECT pg_advisory_xact_lock (" BILLING_LOCK_KEY ")", 0, NULL);
    for (size_t i = 0; rc == 0 && i < file->n_bandwidth_classes; i++)
        rc = lg_ctx_exec (ctx, "INSERT INTO tariff_classes (name) VALUES ($1) ON CONFLICT DO NOTHING",
                          1, (const char *[]) { file->bandwidth_classes [i] });
    //  The versions loaded already first, so that one given an end in the
    //  file makes room for the next in the same file
    for (int pass = 0; pass < 2; pass++)
    for (size_t v = 0; rc == 0 && v < file->n_versions; v++) {
        Lgwan__V1__TariffVersion *t = file->versions [v];
        PGresult *res;
        rc = lg_ctx_query (ctx, &res, "SELECT 1 FROM tariff_versions WHERE version = $1", 1,
                           (const char *[]) { t->version });
        bool exists = rc == 0 && PQntuples (res) == 1;
        PQclear (res);
        if (rc || exists != (pass == 0))
            continue;
        if (t->payment_due_days == 0)
            t->payment_due_days = 30;
        json_t *json = lg_pbjson_from_message (&t->base, LG_PBJSON_PROTO_NAMES);
        char *body = json? json_dumps (json, JSON_COMPACT | JSON_SORT_KEYS): NULL;
        json_decref (json);
        if (!body) {
            rc = -2;
            break;
        }
        if (exists) {
            rc = s_tariff_amend (ctx, t, body, now, &loaded);
            free (body);
            continue;
        }
        //  A new version prices every class declared, by this file or an
        //  earlier one: a class it left out would keep every provider with
        //  a connection of it from its invoices (billing_invoices.c note 8)
        rc = lg_ctx_query (ctx, &res, "SELECT name FROM tariff_classes WHERE NOT EXISTS"
                           " (SELECT 1 FROM jsonb_array_elements (coalesce ($1::jsonb ->"
                           " 'connection_fees', '[]')) f WHERE f ->> 'bandwidth_class' = name)"
                           " ORDER BY name LIMIT 1", 1, (const char *[]) { body });
        if (rc == 0 && PQntuples (res) == 1)
            rc = INVALID (ctx, "tariff %s: bandwidth class \"%s\" has no monthly fee (declared"
                          " by an earlier file: a new version prices every class declared)",
                          t->version, PQgetvalue (res, 0, 0));
        PQclear (res);
        if (rc) {
            free (body);
            break;
        }
        const char *to = *t->effective_to? t->effective_to: NULL;
        rc = lg_ctx_query (ctx, &res, "SELECT version FROM tariff_versions WHERE"
                           " daterange (effective_from, effective_to) &&"
                           " daterange ($1::date, $2::date) ORDER BY effective_from LIMIT 1",
                           2, (const char *[]) { t->effective_from, to });
        if (rc == 0 && PQntuples (res) == 1)
            rc = REFUSE (ctx, "tariff %s overlaps version %s, already loaded", t->version,
                         PQgetvalue (res, 0, 0));
        PQclear (res);
        if (rc == 0)
            rc = lg_ctx_exec (ctx, "INSERT INTO tariff_versions (version, effective_from,"
                              " effective_to, body, loaded_at, loaded_by) VALUES ($1, $2::date,"
                              " $3::date, $4::jsonb, $5::timestamptz, $6)", 6,
                              (const char *[]) { t->version, t->effective_from, to, body, now,
                                                 ctx->actor });
        if (rc == 0)
            loaded++;
        free (body);
    }
    protobuf_c_message_free_unpacked (msg, NULL);
    if (rc == 0)
        rc = s_tariff_reply (ctx, loaded);
    return rc;
}

static int
s_tariff_list (lg_ctx_t *ctx)
{
    return s_tariff_reply (ctx, 0);
}

//  ---------------------------------------------------------------------------
//  Timeline from events

//  The JST day of an RFC 3339 instant into buf; -1 when it does not parse
static int
s_jst_day_text (const char *instant, char *buf, size_t size)
{
    int64_t us;
    if (!instant || lg_clock_parse (instant, &us))
        return -1;
    bc_day_format (bc_jst_day (us), buf, size);
    return 0;
}

//  The effective day: the event's effective_on when it has one, else the
//  JST day of when it happened. An effective_on that is no YYYY-MM-DD is
//  not guessed at (it fell back to the JST day of the event, and billed the
//  change from a day nobody chose): the event is refused like any other
//  malformed one (-1: lg_consumer.h note 5, skipped with its source and seq
//  in the log), said at ERROR naming the value and counted; once an event,
//  though a batch applies it again the careful way
static int
s_effective_day (billing_state_t *self, const lg_event_t *event, const char *effective_on,
                 char *buf, size_t size)
{
    int32_t day;
    if (effective_on && *effective_on) {
        if (bc_day_parse (effective_on, &day) == 0) {
            snprintf (buf, size, "%s", effective_on);
            return 0;
        }
        if (event->seq > self->malformed_seq) {
            self->malformed_seq = event->seq;
            self->malformed++;
            lg_log_write (LG_LOG_ERROR, NULL, "event %s/%" PRIu64 " has a malformed effective_on"
                          " \"%.32s\" (not YYYY-MM-DD): not applied (R6.1), %" PRIu64 " such"
                          " event%s since start", event->source, event->seq, effective_on,
                          self->malformed, self->malformed == 1? "": "s");
        }
        return -1;
    }
    return s_jst_day_text (event->occurred_at, buf, size);
}

//  What a change that lands in a period already invoiced touched (note
//  6): follows a WITH whose CTE landed (subject, provider_id, day) is what
//  the change did, and gives each provider it touched with the periods run
//  (invoice_runs) from the day's on: periods, those it has an invoice
//  of; not_invoiced, those it has none of
#define S_LANDED \
    " SELECT l.subject, l.provider_id, l.day::text AS day," \
    " string_agg (r.period, ', ' ORDER BY r.period) FILTER (WHERE i.number IS NOT NULL)" \
    "  AS periods," \
    " string_agg (r.period, ', ' ORDER BY r.period) FILTER (WHERE i.number IS NULL)" \
    "  AS not_invoiced" \
    " FROM landed l CROSS JOIN LATERAL (SELECT period FROM invoice_runs" \
    "  WHERE period >= to_char (l.day, 'YYYY-MM')) r" \
    " LEFT JOIN invoices i ON i.provider_id = l.provider_id AND i.period = r.period" \
    " GROUP BY l.subject, l.provider_id, l.day ORDER BY l.provider_id"

//  The start of each batch of events (lg_consumer.h note 7): wait for an
//  invoice run or a tariff load under way to commit (their lock, shared:
//  batches do not wait for each other, and a run waits for the batch), and
//  read the latest period run, which stays as read until the batch
//  commits. Two statements, pipelined (one round trip a batch): a
//  statement's snapshot is taken before the lock it waits for is granted,
//  so read in the same one it would miss the run's invoices
static int
s_batch_begin (lg_db_t *db, void *state)
{
    billing_state_t *self = (billing_state_t *) state;
    if (!lg_db_run (db, "SELECT pg_advisory_xact_lock_shared (" BILLING_LOCK_KEY ")", 0, NULL))
        return -2;
    PGresult *res = lg_db_exec (db, "SELECT coalesce (max (period), '') AS period"
                                " FROM invoice_runs", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    snprintf (self->invoiced_through, sizeof self->invoiced_through, "%s",
              lg_db_value (res, 0, "period"));
    PQclear (res);
    return 0;
}

//  Apply a change of day written with S_LANDED, and say at ERROR each
//  invoice it comes too late for, and each period run without an invoice
//  of a provider it touched (a run of that period again invoices it); 0,
//  or -2 on a database failure. A day after the latest period run
//  lands in none: the change is only queued (lg_db_run), as the consumer's
//  pipeline wants; the others wait for their answer
static int
s_landed (lg_db_t *db, const billing_state_t *self, const lg_event_t *event, const char *day,
          const char *sql, int nparams, const char *const *params)
{
    if (strncmp (day, self->invoiced_through, 7) > 0)
        return lg_db_run (db, sql, nparams, params)? 0: -2;
    PGresult *res = lg_db_exec (db, sql, nparams, params);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return -2;
    }
    for (int row = 0; row < PQntuples (res); row++) {
        const char *provider = lg_db_value (res, row, "provider_id");
        const char *periods = lg_db_value (res, row, "periods");
        const char *not_invoiced = lg_db_value (res, row, "not_invoiced");
        char *change = zsys_sprintf ("%s of provider %s from %s (event %s/%" PRIu64 ")",
                                     lg_db_value (res, row, "subject"), provider,
                                     lg_db_value (res, row, "day"), event->source, event->seq);
        if (periods) {
            char *detail = zsys_sprintf ("%s; issued without it: the invoices of provider %s"
                                         " for %s", change, provider, periods);
            lg_log_write (LG_LOG_ERROR, detail, "a change lands in a period already invoiced:"
                          " the invoices stay as issued and do not bill it; correct them by"
                          " hand (a credit note, or an invoice of the difference)");
            zstr_free (&detail);
        }
        if (not_invoiced) {
            char *detail = zsys_sprintf ("%s; run without it: %s, with no invoice of provider"
                                         " %s", change, not_invoiced, provider);
            lg_log_write (LG_LOG_ERROR, detail, "a change lands in a period already invoiced,"
                          " in which provider %s has no invoice: run %s again to invoice it",
                          provider, not_invoiced);
            zstr_free (&detail);
        }
        zstr_free (&change);
    }
    PQclear (res);
    return 0;
}

static int
s_timeline (lg_db_t *db, const billing_state_t *self, const lg_event_t *event,
            uint64_t connection, const char *day, int kind, const char *value)
{
    char id [24], kind_text [4], seq [24];
    snprintf (id, sizeof id, "%" PRIu64, connection);
    snprintf (kind_text, sizeof kind_text, "%d", kind);
    snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
    const char *params [] = { id, day, event->occurred_at, kind_text, value, event->source, seq };
    return s_landed (db, self, event, day,
        "WITH inserted AS (INSERT INTO timeline (connection_id, day, at, kind, value, source, seq)"
        "  VALUES ($1::bigint, $2::date, $3::timestamptz, $4::smallint, $5, $6, $7::bigint)"
        "  ON CONFLICT DO NOTHING RETURNING connection_id, day),"
        " landed AS (SELECT 'connection ' || i.connection_id AS subject, c.provider_id, i.day"
        "  FROM inserted i JOIN connections c ON c.id = i.connection_id)" S_LANDED, 7, params);
}

//  A cancellation ends what it names from its day: a connection, a
//  service's connections and the service, or everything of a provider
static int
s_cancellation (lg_db_t *db, billing_state_t *self, const lg_event_t *event)
{
    const Lgwan__V1__CancellationEffective *c = event->cancellation_effective;
    char day [16], id [24], seq [24];
    if (s_effective_day (self, event, c->effective_on, day, sizeof day))
        return -1;
    snprintf (id, sizeof id, "%" PRIu64, c->id);
    snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
    const char *which =
        streq (c->kind, "connection")? "id = $1::bigint":
        streq (c->kind, "service")? "service_id = $1::bigint":
        streq (c->kind, "provider")? "provider_id = $1::bigint": NULL;
    if (!which)
        return 0;                       //  a contract: nothing billed by it
    //  (Every statement of a WITH sees the tables as they were before it:
    //  connections and services here give the end day before this one; a
    //  connection or service that ended earlier is not changed by it)
    char *sql = zsys_sprintf (
        "WITH ended AS (UPDATE connections SET end_day = LEAST (coalesce (end_day, $2::date),"
        "  $2::date) WHERE %s RETURNING id),"
        " inserted AS (INSERT INTO timeline (connection_id, day, at, kind, value, source, seq)"
        "  SELECT id, $2::date, $3::timestamptz, 4, '', $4, $5::bigint FROM ended"
        "  ON CONFLICT DO NOTHING RETURNING connection_id, day),"
        " landed AS (SELECT 'connection ' || i.connection_id AS subject, c.provider_id, i.day"
        "  FROM inserted i JOIN connections c ON c.id = i.connection_id"
        "  WHERE c.end_day IS NULL OR c.end_day > i.day)" S_LANDED, which);
    const char *params [] = { id, day, event->occurred_at, event->source, seq };
    int rc = s_landed (db, self, event, day, sql, 5, params);
    zstr_free (&sql);
    if (rc == 0 && !streq (c->kind, "connection")) {
        const char *of = streq (c->kind, "service")? "id = $1::bigint": "provider_id = $1::bigint";
        //  Each end recorded with its event, for a rewind (note 7)
        sql = zsys_sprintf (
            "WITH before AS (SELECT id, provider_id, end_day FROM services WHERE %s),"
            " ended AS (UPDATE services SET end_day = LEAST (coalesce (end_day, $2::date),"
            "  $2::date) WHERE %s),"
            " recorded AS (INSERT INTO service_ends (service_id, day, source, seq)"
            "  SELECT id, $2::date, $3, $4::bigint FROM before ON CONFLICT DO NOTHING),"
            " landed AS (SELECT 'service ' || id AS subject, provider_id, $2::date AS day"
            "  FROM before WHERE end_day IS NULL OR end_day > $2::date)" S_LANDED, of, of);
        const char *of_service [] = { id, day, event->source, seq };
        rc = s_landed (db, self, event, day, sql, 4, of_service);
        zstr_free (&sql);
    }
    return rc;
}

//  A provider's name as invoices issued from now on address it; those
//  issued keep theirs (invoices.addressee, never edited). Each name is
//  recorded with its event, for a rewind (note 7)
static int
s_addressee (lg_db_t *db, const lg_event_t *event, const Lgwan__V1__Provider *p)
{
    if (!p || p->id == 0 || !*p->name_ja)
        return -1;
    char id [24], seq [24];
    snprintf (id, sizeof id, "%" PRIu64, p->id);
    snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
    return lg_db_run (db, "WITH named AS (INSERT INTO providers (id, name_ja)"
                          "  VALUES ($1::bigint, $2)"
                          "  ON CONFLICT (id) DO UPDATE SET name_ja = excluded.name_ja)"
                          " INSERT INTO provider_names (provider_id, name_ja, source, seq)"
                          " VALUES ($1::bigint, $2, $3, $4::bigint) ON CONFLICT DO NOTHING", 4,
                      (const char *[]) { id, p->name_ja, event->source, seq })? 0: -2;
}

static int
s_on_registry (lg_db_t *db, const lg_event_t *event, void *state)
{
    billing_state_t *self = (billing_state_t *) state;
    char day [16], id [24], provider [24], service [24];
    switch (event->body_case) {
        case LGWAN__V1__EVENT__BODY_PROVIDER_APPLIED:
            return s_addressee (db, event, event->provider_applied->provider);
        case LGWAN__V1__EVENT__BODY_PROVIDER_CHANGED: {
            //  A change took effect (a name by an approved application); the
            //  record is the provider as it is now
            const Lgwan__V1__ProviderChanged *c = event->provider_changed;
            if (!c->record || c->record->id != c->provider)
                return -1;
            return s_addressee (db, event, c->record);
        }
        case LGWAN__V1__EVENT__BODY_CONNECTION_ACTIVATED: {
            const Lgwan__V1__ConnectionActivated *a = event->connection_activated;
            if (a->connection == 0
            ||  s_effective_day (self, event, a->effective_on, day, sizeof day))
                return -1;
            snprintf (id, sizeof id, "%" PRIu64, a->connection);
            snprintf (provider, sizeof provider, "%" PRIu64, a->provider);
            snprintf (service, sizeof service, "%" PRIu64, a->service);
            if (!lg_db_run (db, "INSERT INTO connections (id, provider_id, service_id, first_day)"
                                " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::date)"
                                " ON CONFLICT (id) DO NOTHING", 4,
                            (const char *[]) { id, provider, service, day }))
                return -2;
            return s_timeline (db, self, event, a->connection, day, BC_ACTIVATED,
                               a->bandwidth_class);
        }
        case LGWAN__V1__EVENT__BODY_CONNECTION_CHANGED: {
            const Lgwan__V1__ConnectionChanged *c = event->connection_changed;
            if (c->connection == 0 || !*c->bandwidth_class
            ||  s_effective_day (self, event, c->effective_on, day, sizeof day))
                return -1;
            return s_timeline (db, self, event, c->connection, day, BC_CLASS, c->bandwidth_class);
        }
        case LGWAN__V1__EVENT__BODY_SERVICE_REGISTERED: {
            const Lgwan__V1__ServiceRegistered *s = event->service_registered;
            if (s->service == 0 || s->n_holders == 0
            ||  s_jst_day_text (event->occurred_at, day, sizeof day))
                return -1;
            //  Its hosting provider pays, as it files the connections
            uint64_t payer = s->holders [0]->provider;
            for (size_t i = 0; i < s->n_holders; i++)
                if (s->holders [i]->role == LGWAN__V1__SERVICE_ROLE__ROLE_HOSTING) {
                    payer = s->holders [i]->provider;
                    break;
                }
            snprintf (id, sizeof id, "%" PRIu64, s->service);
            snprintf (provider, sizeof provider, "%" PRIu64, payer);
            char seq [24];
            snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
            //  Again when a holders change took effect: a new hosting
            //  provider pays from this day (note 3); the same one, nothing
            const char *params [] = { id, provider, s->name, day, event->occurred_at,
                                      event->source, seq };
            //  The payer before it pays less, the new one more (note 6)
            return s_landed (db, self, event, day,
                "WITH service AS (INSERT INTO services (id, provider_id, name, first_day)"
                "  VALUES ($1::bigint, $2::bigint, $3, $4::date)"
                "  ON CONFLICT (id) DO UPDATE SET provider_id = excluded.provider_id),"
                " previous AS (SELECT provider_id FROM service_payers WHERE service_id = $1::bigint"
                "  ORDER BY from_day DESC, at DESC, seq DESC LIMIT 1),"
                " inserted AS (INSERT INTO service_payers (service_id, from_day, at, provider_id,"
                "  source, seq) SELECT $1::bigint, $4::date, $5::timestamptz, $2::bigint, $6,"
                "  $7::bigint WHERE $2::bigint IS DISTINCT FROM (SELECT provider_id FROM previous)"
                "  ON CONFLICT DO NOTHING RETURNING service_id, from_day),"
                " landed AS (SELECT 'service ' || i.service_id AS subject, p.provider_id,"
                "  i.from_day AS day FROM inserted i, (SELECT $2::bigint AS provider_id UNION"
                "  SELECT provider_id FROM previous) p)" S_LANDED, 7, params);
        }
        case LGWAN__V1__EVENT__BODY_CANCELLATION_EFFECTIVE:
            return s_cancellation (db, self, event);
        default:
            return 0;
    }
}

//  Suspended, Disconnected, Reconnected: the connection's state from the
//  day the change was in force
static int
s_on_isolation (lg_db_t *db, const lg_event_t *event, void *state)
{
    const billing_state_t *self = (const billing_state_t *) state;
    const Lgwan__V1__IsolationApplied *applied = lg_codec_isolation_applied (event);
    if (!applied)
        return 0;
    //  Decommissioned: the cancellation ends billing
    const char *value = applied->state;
    if (!streq (value, "connected") && !streq (value, "suspended") && !streq (value, "disconnected"))
        return 0;
    char day [16];
    if (applied->connection == 0
    ||  (s_jst_day_text (applied->applied_at, day, sizeof day)
     &&  s_jst_day_text (event->occurred_at, day, sizeof day)))
        return -1;
    return s_timeline (db, self, event, applied->connection, day, BC_STATE, value);
}

//  ---------------------------------------------------------------------------
//  The service

static void *
s_state_new (lg_db_t *db, const lg_config_t *cfg)
{
    (void) db;
    (void) cfg;
    const char *issuer = getenv ("LG_BILLING_ISSUER_REGISTRATION");
    if (!billing_issuer_valid (issuer)) {
        lg_log_write (LG_LOG_ERROR, "a qualified invoice names the issuer's registration number",
                      "LG_BILLING_ISSUER_REGISTRATION must be T and a 13-digit corporate number"
                      " with its check digit, not \"%s\"", issuer? issuer: "");
        return NULL;
    }
    billing_state_t *self = (billing_state_t *) zmalloc (sizeof *self);
    snprintf (self->issuer, sizeof self->issuer, "%s", issuer);
    //  Until a batch read it (s_batch_begin), every change is checked
    snprintf (self->invoiced_through, sizeof self->invoiced_through, "9999-12");
    return self;
}

static void
s_state_destroy (void **state_p)
{
    free (*state_p);
    *state_p = NULL;
}

#define READS (LG_ROLE_READERS | LG_ROLE_BILLING)

static const lg_route_t s_routes [] = {
    { LGWAN__V1__REQUEST__BODY_TARIFF_LOAD, s_tariff_load,
      LG_ROLE_OPERATOR, LG_ROUTE_WRITE, "R6.1" },
    { LGWAN__V1__REQUEST__BODY_TARIFF_LIST, s_tariff_list, READS, LG_ROUTE_READ, "R6.1" },
    //  A preview stores nothing but its reply; same rights as the run
    { LGWAN__V1__REQUEST__BODY_INVOICE_RUN, billing_invoice_run, LG_ROLE_OPERATOR | LG_ROLE_BILLING,
      LG_ROUTE_WRITE, "R6.1" },
    //  A provider reads its own invoices only (the handlers narrow it)
    { LGWAN__V1__REQUEST__BODY_INVOICE_GET, billing_invoice_get, READS | LG_ROLE_PROVIDER,
      LG_ROUTE_READ, "R6.1" },
    { LGWAN__V1__REQUEST__BODY_INVOICE_LIST, billing_invoice_list, READS | LG_ROLE_PROVIDER,
      LG_ROUTE_READ, "R6.1" },
    { LGWAN__V1__REQUEST__BODY_OVERDUE_LIST, billing_overdue_list, READS, LG_ROUTE_READ, "R6.1" },
    { LGWAN__V1__REQUEST__BODY_CREDIT_NOTE_ISSUE, billing_credit_note_issue,
      LG_ROLE_OPERATOR | LG_ROLE_BILLING, LG_ROUTE_WRITE, "R6.1" },
    //  Payments are recorded by the billing role only
    { LGWAN__V1__REQUEST__BODY_PAYMENT_RECORD, billing_payment_record, LG_ROLE_BILLING,
      LG_ROUTE_WRITE, "R6.1" },
    { LGWAN__V1__REQUEST__BODY_BILLING_EXPORT, billing_export, READS, LG_ROUTE_READ, "R6.1" },
    { 0, NULL, 0, 0, NULL }
};

static const lg_subscription_t s_subscriptions [] = {
    { "registry", s_on_registry },
    { "isolation", s_on_isolation },
    { NULL, NULL }
};

const lg_service_def_t billing_service = {
    .name = "billing",
    .migrations = billing_migrations,
    .routes = s_routes,
    .stream_roles = LG_ROLE_READERS | LG_ROLE_BILLING,
    .subscriptions = s_subscriptions,
    .consume_begin = s_batch_begin,
    .state_new = s_state_new,
    .state_destroy = s_state_destroy
};
