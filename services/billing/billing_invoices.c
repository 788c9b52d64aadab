/*  billing_invoices - invoice runs, invoices, credit notes, payments and the
    export (R6.1).

    1. A run is for one period (a JST month) and is idempotent per
       (provider, period): it bills only the providers that have no invoice
       of the period yet (unique (provider_id, period) backs this), so a
       repeat finds every invoice and creates none. Runs take one advisory
       lock, so two runs never compute side by side; billing's events wait
       for a run under way (billing.c note 6). A preview takes the lock as
       a run does: a batch of events committed between its reads gave a
       preview of neither state (it took the lock shared, as a batch does).
    2. A preview computes with the same code as the run and stores nothing:
       its invoices are the run's, without numbers.
    3. The whole run is one transaction: its invoices, their lines, the
       number counter and the InvoiceIssued events commit together or not
       at all, so a run killed halfway leaves nothing and its repeat issues
       the same numbers. A month is invoiced once it is over (JST); a
       preview may look at the current one. The run records its period
       (invoice_runs) in that transaction, whether it issued an invoice or
       none: a change that lands in a period run is said (billing.c note
       6), and a month with nothing to bill was run all the same. Numbers are gap-free per fiscal year (April-March,
       of the period) because they come from a counter row updated in that
       same transaction, never from a sequence.
    4. The run is set-based: one read of the timeline of every provider to
       bill, the arithmetic in C (billing_calc), one INSERT of all invoices
       and one of all lines (jsonb_to_recordset), one counter update.
    5. An invoice names its tariff version (the one in force on the
       period's first day), its issuer's registration number and the
       consumption tax computed once on the sum of its lines per rate,
       rounded down (the qualified-invoice rules). It is never edited:
       corrections are credit notes, numbered gap-free per fiscal year of
       their issue day.
    6. A credit note credits at most what is left of its invoice before
       tax, at the invoice's rate (an invoice has one: its tariff version's).
       Its tax is its own amount's, rounded down, except for the note that
       credits all that is left: that one takes all the tax left (the
       invoice's tax less the credit notes' before it), so a fully credited
       invoice owes nothing. Rounded down one by one, the notes' taxes fall
       short of the invoice's (floor a + floor b <= floor (a + b)), never
       over it: 15,000 + tax 1,500 credited 5 (tax 0) then 14,995 (tax
       1,499.5 -> 1,499) left 1 yen owed that nothing could credit.
       A note may credit an invoice that was paid: what it credits past
       what was still outstanding is money owed back to the provider. It
       is issued only when asked to (CreditNoteIssue.refund; otherwise
       refused naming R6.1 and the sum), and records that part
       (credit_notes.refund_yen, in CreditNoteIssued); the invoice shows
       outstanding 0 and refund_owed_yen, never a negative outstanding.
       (Such a note was issued without a word, and the invoice read
       outstanding -16,500 with nothing saying the provider was owed it.)
    7. A credit note or a payment locks its invoice (FOR UPDATE) before it
       reads what was credited and paid of it, in a later statement: under
       READ COMMITTED each statement sees what was committed when it began,
       so two requests against one invoice at once take turns and the
       second sees the first's note or payment. (Read in the statement that
       waited for the lock, both saw the invoice untouched and both could
       credit or pay it in full.)
    8. A provider with a connection of a bandwidth class the tariff version
       does not price is not invoiced for the period, and the run says which
       and why (InvoiceRunReply.not_invoiced, the status detail, the log);
       every other provider is. A provider is invoiced whole or not at all,
       so one left out has no invoice of the period and a run after the
       version has its price (billing.c note 1) invoices it. (One such
       connection stopped the whole month's run, for every provider.)
    9. A run (not a preview) waits until billing has applied every event
       each source it follows reported (cursors: last_seq has reached
       reported_seq, lg_consumer.h note 4), a second at most, and is
       otherwise refused naming each source and how far behind: an event of
       the period billing had not applied when its invoices were issued
       would never be billed (the repeat skips the provider, the next month
       does not carry it). A change that lands in a period already invoiced
       all the same (a source that was down when the run asked, so its head
       was not known) is said in the log at ERROR (billing.c note 6). It
       waits before it takes the run's lock: under it, billing's consumer
       would be waiting for the run.
*/
#include "billing.h"

#define INVALID(ctx, ...) lg_ctx_refuse ((ctx), LGWAN__V1__CODE__INVALID_ARGUMENT, "R6.1", __VA_ARGS__)
#define REFUSE(ctx, ...)  lg_ctx_refuse ((ctx), LGWAN__V1__CODE__FAILED_PRECONDITION, "R6.1", __VA_ARGS__)
#define MISSING(ctx, ...) lg_ctx_refuse ((ctx), LGWAN__V1__CODE__NOT_FOUND, NULL, __VA_ARGS__)

#define REPLY_INVOICES  200     //  invoices in one reply
#define EXPORT_PAGE     5000    //  lines in one export page
#define MAX_SEGMENTS    64      //  runs of one connection in one month
#define CATCH_UP_TRIES  20      //  a run waits this many times ...
#define CATCH_UP_MS     50      //  ... this long for billing to catch up

//  The period being billed
typedef struct {
    char text [8];              //  YYYY-MM
    int year, month, month_days, fiscal_year;
    int32_t first, end;
    char first_text [16], end_text [16];
} s_period_t;

static int
s_period (lg_ctx_t *ctx, const char *text, s_period_t *p)
{
    if (bc_period_parse (text, &p->year, &p->month))
        return INVALID (ctx, "period \"%s\" is not YYYY-MM", text);
    snprintf (p->text, sizeof p->text, "%s", text);
    bc_period_range (p->year, p->month, &p->first, &p->end);
    p->month_days = bc_month_days (p->year, p->month);
    p->fiscal_year = bc_fiscal_year (p->year, p->month);
    bc_day_format (p->first, p->first_text, sizeof p->first_text);
    bc_day_format (p->end, p->end_text, sizeof p->end_text);
    return 0;
}

static char *
s_day_text (int32_t day)
{
    char text [16];
    bc_day_format (day, text, sizeof text);
    return lg_strdup (text);
}

//  What an invoice still asks for, never below 0, and in *refund_owed what
//  credit notes and payments came to past its total, owed back (note 6)
static int64_t
s_outstanding (int64_t total, int64_t credited, int64_t paid, int64_t *refund_owed)
{
    int64_t owed = total - credited - paid;
    if (refund_owed)
        *refund_owed = owed < 0? -owed: 0;
    return owed > 0? owed: 0;
}

//  ---------------------------------------------------------------------------
//  Computing a period's invoices

//  The tariff version in force on the period's first day
static int
s_tariff (lg_ctx_t *ctx, const s_period_t *p, Lgwan__V1__TariffVersion **tariff_p)
{
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, "SELECT body::text FROM tariff_versions"
                           " WHERE effective_from <= $1::date"
                           " AND (effective_to IS NULL OR effective_to > $1::date)", 1,
                           (const char *[]) { p->first_text });
    if (rc)
        return rc;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return REFUSE (ctx, "no tariff version is in force on %s (lgwanctl tariff load)",
                       p->first_text);
    }
    char why [256];
    ProtobufCMessage *msg = NULL;
    rc = lg_pbjson_parse (&lgwan__v1__tariff_version__descriptor, PQgetvalue (res, 0, 0), &msg,
                          why, sizeof why);
    PQclear (res);
    if (rc)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__INTERNAL, NULL, "stored tariff: %s", why);
    *tariff_p = (Lgwan__V1__TariffVersion *) msg;
    return 0;
}

static int64_t
s_class_fee (const Lgwan__V1__TariffVersion *t, const char *bandwidth_class)
{
    for (size_t i = 0; i < t->n_connection_fees; i++)
        if (streq (t->connection_fees [i]->bandwidth_class, bandwidth_class))
            return t->connection_fees [i]->monthly_yen;
    return -1;
}

static Lgwan__V1__InvoiceLine *
s_line_new (const char *kind, uint64_t subject, unsigned tax_rate)
{
    Lgwan__V1__InvoiceLine *line = (Lgwan__V1__InvoiceLine *) malloc (sizeof *line);
    lgwan__v1__invoice_line__init (line);
    line->kind = lg_strdup (kind);
    line->subject = subject;
    line->tax_rate_percent = tax_rate;
    line->charge_percent = 100;
    return line;
}

static void
s_add_line (Lgwan__V1__Invoice *invoice, size_t *room, Lgwan__V1__InvoiceLine *line)
{
    if (invoice->n_lines == *room) {
        *room = *room? *room * 2: 8;
        invoice->lines = (Lgwan__V1__InvoiceLine **) realloc (invoice->lines,
                                                              *room * sizeof (void *));
    }
    invoice->lines [invoice->n_lines++] = line;
}

static Lgwan__V1__Invoice *
s_invoice_new (lg_ctx_t *ctx, const s_period_t *p, const Lgwan__V1__TariffVersion *t,
               uint64_t provider, const char *addressee)
{
    const billing_state_t *state = (const billing_state_t *) ctx->state;
    Lgwan__V1__Invoice *invoice = (Lgwan__V1__Invoice *) malloc (sizeof *invoice);
    lgwan__v1__invoice__init (invoice);
    invoice->number = lg_strdup ("");
    invoice->provider = provider;
    invoice->addressee = lg_strdup (addressee);
    invoice->period = lg_strdup (p->text);
    invoice->tariff_version = lg_strdup (t->version);
    invoice->tax_rate_percent = t->tax_rate_percent;
    invoice->issuer_registration = lg_strdup (state->issuer);
    int32_t today = billing_today (ctx);
    invoice->issued_on = s_day_text (today);
    invoice->due_on = s_day_text (today + (int32_t) (t->payment_due_days? t->payment_due_days: 30));
    invoice->fiscal_year = (uint32_t) p->fiscal_year;
    return invoice;
}

//  A connection's lines of the period: one per run of days with one class
//  and one state, then its one-off fees. 1 with why set when the tariff
//  does not price one of its classes (its provider is not invoiced, note 8)
static int
s_connection_lines (lg_ctx_t *ctx, const s_period_t *p, const Lgwan__V1__TariffVersion *t,
                    uint64_t connection, const bc_change_t *changes, size_t n,
                    Lgwan__V1__Invoice *invoice, size_t *room, char *why, size_t why_size)
{
    bc_segment_t seg [MAX_SEGMENTS];
    int count = bc_segments (changes, n, p->first, p->end, seg, MAX_SEGMENTS);
    if (count < 0)
        return REFUSE (ctx, "connection %" PRIu64 " changes more than %d times in %s", connection,
                       MAX_SEGMENTS, p->text);
    for (int i = 0; i < count; i++) {
        int64_t monthly = s_class_fee (t, seg [i].bandwidth_class);
        if (monthly < 0) {
            snprintf (why, why_size, "connection %" PRIu64 " has bandwidth class \"%s\", which"
                      " tariff %s does not price", connection, seg [i].bandwidth_class, t->version);
            return 1;
        }
        int percent = streq (seg [i].state, "suspended")? bc_charge_percent (t->suspended):
                      streq (seg [i].state, "disconnected")? bc_charge_percent (t->disconnected): 100;
        int days = (int) (seg [i].to - seg [i].from);
        Lgwan__V1__InvoiceLine *line = s_line_new ("connection", connection, t->tax_rate_percent);
        line->bandwidth_class = lg_strdup (seg [i].bandwidth_class);
        line->state = lg_strdup (seg [i].state);
        line->from_day = s_day_text (seg [i].from);
        line->to_day = s_day_text (seg [i].to);
        line->days = (uint32_t) days;
        line->month_days = (uint32_t) p->month_days;
        line->monthly_yen = monthly;
        line->charge_percent = (uint32_t) percent;
        line->amount_yen = bc_prorate (monthly, days, p->month_days, percent);
        char last [16];
        bc_day_format (seg [i].to - 1, last, sizeof last);
        line->description = zsys_sprintf ("connection %" PRIu64 " %s %s..%s %d/%d days%s%s",
                                          connection, seg [i].bandwidth_class, line->from_day,
                                          last, days, p->month_days,
                                          percent == 100? "": ", ",
                                          percent == 100? "": seg [i].state);
        s_add_line (invoice, room, line);
    }
    //  Each change triggers a fee at most once: room for one per change
    int32_t *on_days = (int32_t *) malloc ((n? n: 1) * sizeof *on_days);
    for (size_t f = 0; f < t->n_one_off_fees; f++) {
        const Lgwan__V1__TariffOneOffFee *fee = t->one_off_fees [f];
        int hits = bc_triggers (changes, n, p->first, p->end, fee->on, on_days, n);
        for (int i = 0; i < hits; i++) {
            Lgwan__V1__InvoiceLine *line = s_line_new ("one_off", connection, t->tax_rate_percent);
            line->bandwidth_class = lg_strdup ("");
            line->state = lg_strdup ("");
            line->from_day = s_day_text (on_days [i]);
            line->to_day = s_day_text (on_days [i] + 1);
            line->monthly_yen = 0;
            line->amount_yen = fee->yen;
            line->description = zsys_sprintf ("%s, connection %" PRIu64 " on %s", fee->name,
                                              connection, line->from_day);
            s_add_line (invoice, room, line);
        }
    }
    free (on_days);
    return 0;
}

//  Subtotal, tax once per rate on the sum, total
static void
s_totals (Lgwan__V1__Invoice *invoice)
{
    size_t n = invoice->n_lines;
    int64_t amounts [n? n: 1];
    int rates [n? n: 1];
    for (size_t i = 0; i < n; i++) {
        amounts [i] = invoice->lines [i]->amount_yen;
        rates [i] = (int) invoice->lines [i]->tax_rate_percent;
    }
    bc_tax_t taxes [8];
    int count = bc_tax_by_rate (amounts, rates, n, taxes, 8);
    invoice->subtotal_yen = invoice->tax_yen = 0;
    for (int i = 0; i < count; i++) {
        invoice->subtotal_yen += taxes [i].sum_yen;
        invoice->tax_yen += taxes [i].tax_yen;
    }
    invoice->total_yen = invoice->subtotal_yen + invoice->tax_yen;
    invoice->outstanding_yen = invoice->total_yen;
}

//  Every invoice the period still lacks, in provider order, in *list
//  (caller frees each with free_unpacked), but those of providers it cannot
//  price, which go to not_invoiced (InvoiceRunNotInvoiced, freed likewise);
//  tariff version in *tariff_p
static int
s_compute (lg_ctx_t *ctx, const s_period_t *p, zlistx_t *list, zlistx_t *not_invoiced,
           Lgwan__V1__TariffVersion **tariff_p)
{
    Lgwan__V1__TariffVersion *t = NULL;
    int rc = s_tariff (ctx, p, &t);
    if (rc)
        return rc;
    *tariff_p = t;
    const char *params [] = { p->first_text, p->end_text, p->text };
    PGresult *conns = NULL, *svcs = NULL;
    //  The whole timeline of every connection billable in the period, of
    //  every provider not yet invoiced for it
    rc = lg_ctx_query (ctx, &conns,
        "SELECT c.provider_id, coalesce (p.name_ja, '') AS addressee, t.connection_id,"
        " t.day - DATE '1970-01-01' AS day, t.kind, t.value"
        " FROM connections c JOIN timeline t ON t.connection_id = c.id"
        " LEFT JOIN providers p ON p.id = c.provider_id"
        " WHERE c.first_day < $2::date AND (c.end_day IS NULL OR c.end_day > $1::date)"
        " AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.provider_id = c.provider_id"
        "   AND i.period = $3)"
        " ORDER BY c.provider_id, t.connection_id, t.day, t.at, t.seq", 3, params);
    //  Every run of days in the period of a service with one payer: from
    //  the payer's day to the next payer's or the service's end (LEAST
    //  ignores a NULL); a payer replaced on its own day pays nothing
    if (rc == 0)
        rc = lg_ctx_query (ctx, &svcs,
            "SELECT r.provider_id, coalesce (p.name_ja, '') AS addressee, s.id, s.name,"
            " r.from_day - DATE '1970-01-01' AS first_day,"
            " coalesce (r.to_day - DATE '1970-01-01', 2147483647) AS end_day"
            " FROM (SELECT sp.service_id, sp.provider_id, sp.from_day,"
            "   LEAST (lead (sp.from_day) OVER (PARTITION BY sp.service_id"
            "     ORDER BY sp.from_day, sp.at, sp.seq), s.end_day) AS to_day"
            "   FROM service_payers sp JOIN services s ON s.id = sp.service_id) r"
            " JOIN services s ON s.id = r.service_id"
            " LEFT JOIN providers p ON p.id = r.provider_id"
            " WHERE r.from_day < $2::date AND (r.to_day IS NULL OR r.to_day > $1::date)"
            " AND (r.to_day IS NULL OR r.to_day > r.from_day)"
            " AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.provider_id = r.provider_id"
            "   AND i.period = $3)"
            " ORDER BY r.provider_id, s.id, r.from_day", 3, params);
    if (rc) {
        PQclear (conns);
        return rc;
    }
    int crows = PQntuples (conns), srows = PQntuples (svcs);
    int c_provider = PQfnumber (conns, "provider_id"), c_addressee = PQfnumber (conns, "addressee"),
        c_connection = PQfnumber (conns, "connection_id"), c_day = PQfnumber (conns, "day"),
        c_kind = PQfnumber (conns, "kind"), c_value = PQfnumber (conns, "value");
    size_t room_changes = 64;
    bc_change_t *changes = (bc_change_t *) malloc (room_changes * sizeof *changes);
    int crow = 0, srow = 0;
    while (rc == 0 && (crow < crows || srow < srows)) {
        uint64_t cp = crow < crows? strtoull (PQgetvalue (conns, crow, c_provider), NULL, 10): UINT64_MAX;
        uint64_t sp = srow < srows? strtoull (PQgetvalue (svcs, srow, 0), NULL, 10): UINT64_MAX;
        uint64_t provider = cp < sp? cp: sp;
        const char *addressee = cp == provider? PQgetvalue (conns, crow, c_addressee)
                                              : PQgetvalue (svcs, srow, 1);
        Lgwan__V1__Invoice *invoice = s_invoice_new (ctx, p, t, provider, addressee);
        size_t room = 0;
        char why [256] = "";
        //  Its connections, one timeline each (past one it cannot price, the
        //  rest are read and not billed)
        while (rc == 0 && crow < crows
           &&  strtoull (PQgetvalue (conns, crow, c_provider), NULL, 10) == provider) {
            uint64_t connection = strtoull (PQgetvalue (conns, crow, c_connection), NULL, 10);
            size_t n = 0;
            while (crow < crows
               &&  strtoull (PQgetvalue (conns, crow, c_connection), NULL, 10) == connection) {
                if (n == room_changes) {
                    room_changes *= 2;
                    changes = (bc_change_t *) realloc (changes, room_changes * sizeof *changes);
                }
                changes [n].day = (int32_t) atol (PQgetvalue (conns, crow, c_day));
                changes [n].kind = (bc_kind_t) atoi (PQgetvalue (conns, crow, c_kind));
                snprintf (changes [n].value, BC_NAME_MAX, "%s", PQgetvalue (conns, crow, c_value));
                n++;
                crow++;
            }
            int lines = *why? 0: s_connection_lines (ctx, p, t, connection, changes, n, invoice,
                                                     &room, why, sizeof why);
            if (lines < 0)
                rc = lines;
        }
        //  Its services (a tariff without a service fee bills no service line)
        while (rc == 0 && srow < srows && strtoull (PQgetvalue (svcs, srow, 0), NULL, 10) == provider) {
            if (t->service_monthly_yen == 0) {
                srow++;
                continue;
            }
            uint64_t service = strtoull (PQgetvalue (svcs, srow, 2), NULL, 10);
            int32_t from = (int32_t) atol (PQgetvalue (svcs, srow, 4));
            int32_t to = (int32_t) atol (PQgetvalue (svcs, srow, 5));
            from = from > p->first? from: p->first;
            to = to < p->end? to: p->end;
            Lgwan__V1__InvoiceLine *line = s_line_new ("service", service, t->tax_rate_percent);
            line->bandwidth_class = lg_strdup ("");
            line->state = lg_strdup ("");
            line->from_day = s_day_text (from);
            line->to_day = s_day_text (to);
            line->days = (uint32_t) (to - from);
            line->month_days = (uint32_t) p->month_days;
            line->monthly_yen = t->service_monthly_yen;
            line->amount_yen = bc_prorate (t->service_monthly_yen, (int) (to - from), p->month_days, 100);
            char last [16];
            bc_day_format (to - 1, last, sizeof last);
            line->description = zsys_sprintf ("service %s (%" PRIu64 ") %s..%s %d/%d days",
                                              PQgetvalue (svcs, srow, 3), service, line->from_day,
                                              last, (int) (to - from), p->month_days);
            s_add_line (invoice, &room, line);
            srow++;
        }
        if (rc == 0 && *why) {
            //  All of the provider's invoice or none of it (note 8)
            Lgwan__V1__InvoiceRunNotInvoiced *skipped = (Lgwan__V1__InvoiceRunNotInvoiced *)
                malloc (sizeof *skipped);
            lgwan__v1__invoice_run_not_invoiced__init (skipped);
            skipped->provider = provider;
            skipped->why = lg_strdup (why);
            zlistx_add_end (not_invoiced, skipped);
            lgwan__v1__invoice__free_unpacked (invoice, NULL);
        }
        else
        if (rc == 0 && invoice->n_lines > 0) {
            s_totals (invoice);
            zlistx_add_end (list, invoice);
        }
        else
            lgwan__v1__invoice__free_unpacked (invoice, NULL);
    }
    free (changes);
    PQclear (conns);
    PQclear (svcs);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Reading invoices back

static Lgwan__V1__InvoiceLine *
s_line_from_row (const PGresult *res, int row)
{
    Lgwan__V1__InvoiceLine *line = s_line_new (lg_db_value (res, row, "kind"),
                                               strtoull (lg_db_value (res, row, "subject"), NULL, 10),
                                               (unsigned) atoi (lg_db_value (res, row, "tax_rate_percent")));
    line->description = lg_strdup (lg_db_value (res, row, "description"));
    line->bandwidth_class = lg_strdup (lg_db_value (res, row, "bandwidth_class"));
    line->state = lg_strdup (lg_db_value (res, row, "state"));
    line->from_day = lg_strdup (lg_db_value (res, row, "from_day"));
    line->to_day = lg_strdup (lg_db_value (res, row, "to_day"));
    line->days = (uint32_t) atoi (lg_db_value (res, row, "days"));
    line->month_days = (uint32_t) atoi (lg_db_value (res, row, "month_days"));
    line->monthly_yen = strtoll (lg_db_value (res, row, "monthly_yen"), NULL, 10);
    line->charge_percent = (uint32_t) atoi (lg_db_value (res, row, "charge_percent"));
    line->amount_yen = strtoll (lg_db_value (res, row, "amount_yen"), NULL, 10);
    return line;
}

#define INVOICE_COLUMNS \
    "SELECT i.number, i.provider_id, i.addressee, i.period, i.tariff_version, i.subtotal_yen," \
    " i.tax_rate_percent, i.tax_yen, i.total_yen, i.issuer_registration, i.issued_on::text," \
    " i.due_on::text, i.fiscal_year," \
    " coalesce ((SELECT sum (total_yen) FROM credit_notes c WHERE c.invoice = i.number), 0)" \
    "   AS credited," \
    " coalesce ((SELECT sum (amount_yen) FROM payments m WHERE m.invoice = i.number), 0) AS paid" \
    " FROM invoices i "

static void
s_free_list (Lgwan__V1__Invoice **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lgwan__v1__invoice__free_unpacked (list [i], NULL);
    free (list);
}

//  Invoices matching where (with params), with their lines, into *out (an
//  array of up to limit, count in *n); on failure *out is NULL and *n 0
static int
s_load (lg_ctx_t *ctx, const char *where, int nparams, const char *const *params, int limit,
        Lgwan__V1__Invoice ***out, size_t *n)
{
    char *sql = zsys_sprintf (INVOICE_COLUMNS "%s ORDER BY i.fiscal_year, i.seq LIMIT %d",
                              where, limit);
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res, sql, nparams, params);
    zstr_free (&sql);
    if (rc)
        return rc;
    int rows = PQntuples (res);
    Lgwan__V1__Invoice **list = (Lgwan__V1__Invoice **) calloc (rows + 1, sizeof (void *));
    zchunk_t *numbers = zchunk_new ("{", 1);
    for (int row = 0; row < rows; row++) {
        Lgwan__V1__Invoice *i = (Lgwan__V1__Invoice *) malloc (sizeof *i);
        lgwan__v1__invoice__init (i);
        i->number = lg_strdup (lg_db_value (res, row, "number"));
        i->provider = strtoull (lg_db_value (res, row, "provider_id"), NULL, 10);
        i->addressee = lg_strdup (lg_db_value (res, row, "addressee"));
        i->period = lg_strdup (lg_db_value (res, row, "period"));
        i->tariff_version = lg_strdup (lg_db_value (res, row, "tariff_version"));
        i->subtotal_yen = strtoll (lg_db_value (res, row, "subtotal_yen"), NULL, 10);
        i->tax_rate_percent = (uint32_t) atoi (lg_db_value (res, row, "tax_rate_percent"));
        i->tax_yen = strtoll (lg_db_value (res, row, "tax_yen"), NULL, 10);
        i->total_yen = strtoll (lg_db_value (res, row, "total_yen"), NULL, 10);
        i->issuer_registration = lg_strdup (lg_db_value (res, row, "issuer_registration"));
        i->issued_on = lg_strdup (lg_db_value (res, row, "issued_on"));
        i->due_on = lg_strdup (lg_db_value (res, row, "due_on"));
        i->fiscal_year = (uint32_t) atoi (lg_db_value (res, row, "fiscal_year"));
        i->credited_yen = strtoll (lg_db_value (res, row, "credited"), NULL, 10);
        i->paid_yen = strtoll (lg_db_value (res, row, "paid"), NULL, 10);
        i->outstanding_yen = s_outstanding (i->total_yen, i->credited_yen, i->paid_yen,
                                            &i->refund_owed_yen);
        list [row] = i;
        //  Numbers are INV-YYYY-NNNNNN: nothing to quote in an array literal
        if (row)
            zchunk_extend (numbers, ",", 1);
        zchunk_extend (numbers, i->number, strlen (i->number));
    }
    zchunk_extend (numbers, "}", 2);
    PQclear (res);
    *out = list;
    *n = (size_t) rows;
    if (rows == 0) {
        zchunk_destroy (&numbers);
        return 0;
    }
    rc = lg_ctx_query (ctx, &res, "SELECT invoice, kind, subject, description, bandwidth_class,"
                       " state, from_day::text, to_day::text, days, month_days, monthly_yen,"
                       " charge_percent, amount_yen, tax_rate_percent FROM invoice_lines"
                       " WHERE invoice = ANY ($1::text[]) ORDER BY invoice, line_no", 1,
                       (const char *[]) { (const char *) zchunk_data (numbers) });
    zchunk_destroy (&numbers);
    if (rc) {
        s_free_list (list, (size_t) rows);
        *out = NULL;
        *n = 0;
        return rc;
    }
    size_t rooms [rows];
    memset (rooms, 0, sizeof rooms);
    int at = 0;
    for (int row = 0; row < PQntuples (res); row++) {
        const char *number = lg_db_value (res, row, "invoice");
        if (!streq (list [at]->number, number))
            for (at = 0; at < rows && !streq (list [at]->number, number); at++)
                ;
        if (at == rows) {
            at = 0;
            continue;
        }
        s_add_line (list [at], &rooms [at], s_line_from_row (res, row));
    }
    PQclear (res);
    return 0;
}

//  ---------------------------------------------------------------------------
//  The run

//  Store the computed invoices: numbers from the fiscal year's counter, one
//  INSERT of the invoices, one of their lines
static int
s_store (lg_ctx_t *ctx, const s_period_t *p, zlistx_t *list)
{
    char fy [12], count [12], now [40];
    snprintf (fy, sizeof fy, "%d", p->fiscal_year);
    snprintf (count, sizeof count, "%zu", zlistx_size (list));
    lg_clock_format (ctx->now_us, now, sizeof now);
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "INSERT INTO number_counters (kind, fiscal_year, last) VALUES ('INV', $1::integer,"
        " $2::integer) ON CONFLICT (kind, fiscal_year) DO UPDATE"
        " SET last = number_counters.last + $2::integer RETURNING last", 2,
        (const char *[]) { fy, count });
    if (rc)
        return rc;
    long seq = atol (PQgetvalue (res, 0, 0)) - (long) zlistx_size (list);
    PQclear (res);
    json_t *invoices = json_array (), *lines = json_array ();
    for (Lgwan__V1__Invoice *i = (Lgwan__V1__Invoice *) zlistx_first (list); i;
         i = (Lgwan__V1__Invoice *) zlistx_next (list)) {
        seq++;
        free (i->number);
        i->number = zsys_sprintf ("INV-%d-%06ld", p->fiscal_year, seq);
        json_array_append_new (invoices, json_pack ("{s:s, s:i, s:I, s:I, s:s, s:s, s:s, s:I, s:i,"
                                                    " s:I, s:I, s:s, s:s, s:s}",
            "number", i->number, "fiscal_year", p->fiscal_year, "seq", (json_int_t) seq,
            "provider_id", (json_int_t) i->provider, "period", i->period, "addressee", i->addressee,
            "tariff_version", i->tariff_version, "subtotal_yen", (json_int_t) i->subtotal_yen,
            "tax_rate_percent", (int) i->tax_rate_percent, "tax_yen", (json_int_t) i->tax_yen,
            "total_yen", (json_int_t) i->total_yen, "issuer_registration", i->issuer_registration,
            "issued_on", i->issued_on, "due_on", i->due_on));
        for (size_t l = 0; l < i->n_lines; l++) {
            const Lgwan__V1__InvoiceLine *line = i->lines [l];
            json_array_append_new (lines, json_pack ("{s:s, s:i, s:s, s:I, s:s, s:s, s:s, s:s,"
                                                     " s:s, s:i, s:i, s:I, s:i, s:I, s:i}",
                "invoice", i->number, "line_no", (int) l + 1, "kind", line->kind,
                "subject", (json_int_t) line->subject, "description", line->description,
                "bandwidth_class", line->bandwidth_class, "state", line->state,
                "from_day", line->from_day, "to_day", line->to_day, "days", (int) line->days,
                "month_days", (int) line->month_days, "monthly_yen", (json_int_t) line->monthly_yen,
                "charge_percent", (int) line->charge_percent,
                "amount_yen", (json_int_t) line->amount_yen,
                "tax_rate_percent", (int) line->tax_rate_percent));
        }
    }
    char *invoices_text = json_dumps (invoices, JSON_COMPACT);
    char *lines_text = json_dumps (lines, JSON_COMPACT);
    json_decref (invoices);
    json_decref (lines);
    rc = lg_ctx_exec (ctx,
        "INSERT INTO invoices (number, fiscal_year, seq, provider_id, period, addressee,"
        " tariff_version, subtotal_yen, tax_rate_percent, tax_yen, total_yen, issuer_registration,"
        " issued_on, due_on, issued_at)"
        " SELECT number, fiscal_year, seq, provider_id, period, addressee, tariff_version,"
        " subtotal_yen, tax_rate_percent, tax_yen, total_yen, issuer_registration, issued_on,"
        " due_on, $2::timestamptz FROM jsonb_to_recordset ($1::jsonb) AS x (number text,"
        " fiscal_year integer, seq integer, provider_id bigint, period text, addressee text,"
        " tariff_version text, subtotal_yen bigint, tax_rate_percent integer, tax_yen bigint,"
        " total_yen bigint, issuer_registration text, issued_on date, due_on date)", 2,
        (const char *[]) { invoices_text, now });
    if (rc == 0)
        rc = lg_ctx_exec (ctx,
            "INSERT INTO invoice_lines SELECT * FROM jsonb_to_recordset ($1::jsonb) AS x"
            " (invoice text, line_no integer, kind text, subject bigint, description text,"
            " bandwidth_class text, state text, from_day date, to_day date, days integer,"
            " month_days integer, monthly_yen bigint, charge_percent integer, amount_yen bigint,"
            " tax_rate_percent integer)", 1, (const char *[]) { lines_text });
    free (invoices_text);
    free (lines_text);
    return rc;
}

//  A run only once billing has applied every event its sources reported
//  (note 9); it waits a moment for a consumer a few events behind, then
//  refuses, naming each source and how far behind. 0 caught up
static int
s_caught_up (lg_ctx_t *ctx)
{
    //  The sources followed, as an array literal (names are [a-z]+)
    char sources [128] = "{";
    size_t used = 1;
    for (const lg_subscription_t *s = billing_service.subscriptions; s && s->source; s++)
        used += (size_t) snprintf (sources + used, used < sizeof sources? sizeof sources - used: 0,
                                   "%s%s", used > 1? ",": "", s->source);
    if (used + 2 > sizeof sources)
        return lg_ctx_refuse (ctx, LGWAN__V1__CODE__INTERNAL, NULL, "too many sources followed");
    snprintf (sources + used, sizeof sources - used, "}");
    for (int tries = 1; ; tries++) {
        PGresult *res;
        int rc = lg_ctx_query (ctx, &res, "SELECT source, last_seq, reported_seq FROM cursors"
                               " WHERE source = ANY ($1::text[]) AND last_seq < reported_seq"
                               " ORDER BY source", 1, (const char *[]) { sources });
        if (rc)
            return rc;
        int rows = PQntuples (res);
        if (rows > 0 && tries == CATCH_UP_TRIES) {
            char behind [256] = "";
            for (int row = 0; row < rows; row++) {
                uint64_t last = lg_db_u64 (res, row, "last_seq");
                uint64_t reported = lg_db_u64 (res, row, "reported_seq");
                size_t said = strlen (behind);
                snprintf (behind + said, sizeof behind - said, "%s%s: applied up to seq %" PRIu64
                          ", reported %" PRIu64 " (%" PRIu64 " event(s) behind)", row? "; ": "",
                          lg_db_value (res, row, "source"), last, reported, reported - last);
            }
            PQclear (res);
            return REFUSE (ctx, "billing has not applied every event its sources reported, and"
                           " a late one would not be billed: %s; run again once it has", behind);
        }
        PQclear (res);
        if (rows == 0)
            return 0;
        zclock_sleep (CATCH_UP_MS);
    }
}

//  The providers a run could not invoice (note 8): in the reply, up to a
//  page of them, and said in its status detail and, for a run, in the log
#define NOT_INVOICED_SAID 10    //  named in the detail and the log, then a count
static void
s_not_invoiced (lg_ctx_t *ctx, const s_period_t *p, zlistx_t *not_invoiced,
                Lgwan__V1__InvoiceRunReply *reply)
{
    size_t count = zlistx_size (not_invoiced);
    if (ctx->reply->status && ctx->reply->status->detail != protobuf_c_empty_string) {
        free (ctx->reply->status->detail);          //  of a run rolled back and run again
        ctx->reply->status->detail = (char *) protobuf_c_empty_string;
    }
    if (count == 0)
        return;
    reply->not_invoiced = (Lgwan__V1__InvoiceRunNotInvoiced **)
        calloc (count < REPLY_INVOICES? count: REPLY_INVOICES, sizeof (void *));
    zchunk_t *said = zchunk_new (NULL, 256);
    size_t at = 0;
    Lgwan__V1__InvoiceRunNotInvoiced *skipped;
    while ((skipped = (Lgwan__V1__InvoiceRunNotInvoiced *) zlistx_detach (not_invoiced, NULL))) {
        if (at < NOT_INVOICED_SAID) {
            char *one = zsys_sprintf ("%sprovider %" PRIu64 " (%s)", at? "; ": "",
                                      skipped->provider, skipped->why);
            zchunk_extend (said, one, strlen (one));
            zstr_free (&one);
        }
        at++;
        if (reply->n_not_invoiced < REPLY_INVOICES)
            reply->not_invoiced [reply->n_not_invoiced++] = skipped;
        else
            lgwan__v1__invoice_run_not_invoiced__free_unpacked (skipped, NULL);
    }
    if (count > NOT_INVOICED_SAID) {
        char *more = zsys_sprintf ("; and %zu more", count - NOT_INVOICED_SAID);
        zchunk_extend (said, more, strlen (more));
        zstr_free (&more);
    }
    zchunk_extend (said, "", 1);
    const char *names = (const char *) zchunk_data (said);
    if (!ctx->reply->status) {
        ctx->reply->status = (lg_status_t *) malloc (sizeof (lg_status_t));
        lgwan__v1__status__init (ctx->reply->status);
    }
    ctx->reply->status->detail = zsys_sprintf ("%zu provider(s) not invoiced for %s: %s", count,
                                               p->text, names);
    if (!reply->preview)
        lg_log_write (LG_LOG_ERROR, names, "invoice run %s: %zu provider(s) not invoiced; they"
                      " are, by a run after the tariff prices what they lack", p->text, count);
    zchunk_destroy (&said);
}

int
billing_invoice_run (lg_ctx_t *ctx)
{
    const Lgwan__V1__InvoiceRun *run = ctx->request->invoice_run;
    s_period_t p;
    int rc = s_period (ctx, run->period, &p);
    if (rc)
        return rc;
    //  A month is invoiced once it is over (JST); a preview may look earlier
    if (!run->preview && billing_today (ctx) < p.end) {
        char today [16];
        bc_day_format (billing_today (ctx), today, sizeof today);
        return REFUSE (ctx, "period %s is not over until %s (today is %s); a preview may look"
                       " at it now", p.text, p.end_text, today);
    }
    //  Billing caught up first (note 9), and then one run at a time: a
    //  batch of events waits for the run from here to its commit, and then
    //  sees its invoices (billing.c note 6). Waiting under the lock, the run
    //  would wait for a consumer that waits for it. A preview takes the lock
    //  as a run does, so that no batch commits between its reads (of the
    //  connections, then of the services: READ COMMITTED). It took it
    //  shared, as a batch does, and a batch that committed in between gave
    //  a preview of neither state; it holds batches back for as long as it
    //  computes (0.2 s at 10,000 providers, bench_billing)
    if (!run->preview && (rc = s_caught_up (ctx)))
        return rc;
    if ((rc = lg_ctx_exec (ctx, "SELECT pg_advisory_xact_lock (" BILLING_LOCK_KEY ")", 0, NULL)))
        return rc;
    zlistx_t *list = zlistx_new ();
    zlistx_t *not_invoiced = zlistx_new ();
    Lgwan__V1__TariffVersion *tariff = NULL;
    rc = s_compute (ctx, &p, list, not_invoiced, &tariff);
    if (tariff)
        protobuf_c_message_free_unpacked (&tariff->base, NULL);
    size_t created = zlistx_size (list);
    //  A run, with invoices or none (note 3)
    if (rc == 0 && !run->preview) {
        char now [40];
        lg_clock_format (ctx->now_us, now, sizeof now);
        rc = lg_ctx_exec (ctx, "INSERT INTO invoice_runs (period, first_run_at, first_run_by)"
                          " VALUES ($1, $2::timestamptz, $3) ON CONFLICT (period) DO NOTHING", 3,
                          (const char *[]) { p.text, now, ctx->actor });
    }
    if (rc == 0 && created > 0 && !run->preview) {
        rc = s_store (ctx, &p, list);
        lg_fault_point ("billing_run_before_events");
        //  Every invoice, every line, to the billing systems: in one append
        Lgwan__V1__InvoiceIssued *issued = (Lgwan__V1__InvoiceIssued *)
            calloc (created, sizeof *issued);
        lg_event_t *events = (lg_event_t *) calloc (created, sizeof *events);
        lg_event_t **refs = (lg_event_t **) calloc (created, sizeof *refs);
        size_t at = 0;
        for (Lgwan__V1__Invoice *i = (Lgwan__V1__Invoice *) zlistx_first (list); i && rc == 0;
             i = (Lgwan__V1__Invoice *) zlistx_next (list), at++) {
            lgwan__v1__invoice_issued__init (&issued [at]);
            issued [at].invoice = i;
            lgwan__v1__event__init (&events [at]);
            events [at].body_case = LGWAN__V1__EVENT__BODY_INVOICE_ISSUED;
            events [at].invoice_issued = &issued [at];
            refs [at] = &events [at];
        }
        if (rc == 0)
            rc = lg_outbox_append_many (ctx->outbox, refs, created, ctx->actor,
                                        ctx->request->reason, ctx->request->request_id,
                                        ctx->now_us);
        free (refs);
        free (events);
        free (issued);
        lg_fault_point ("billing_run_before_commit");
    }
    Lgwan__V1__InvoiceRunReply *reply = NULL;
    PGresult *res = NULL;
    if (rc == 0)
        rc = lg_ctx_query (ctx, &res, "SELECT count (*) AS n, coalesce (sum (subtotal_yen), 0) AS s,"
                           " coalesce (sum (tax_yen), 0) AS t, coalesce (sum (total_yen), 0) AS g"
                           " FROM invoices WHERE period = $1", 1, (const char *[]) { p.text });
    if (rc == 0) {
        reply = (Lgwan__V1__InvoiceRunReply *) malloc (sizeof *reply);
        lgwan__v1__invoice_run_reply__init (reply);
        ctx->reply->body_case = LGWAN__V1__REPLY__BODY_INVOICE_RUN;
        ctx->reply->invoice_run = reply;
        reply->period = lg_strdup (p.text);
        reply->preview = run->preview;
        reply->created = (uint32_t) created;
        long stored = atol (lg_db_value (res, 0, "n"));
        reply->existing = (uint32_t) (run->preview? stored: stored - (long) created);
        reply->subtotal_yen = strtoll (lg_db_value (res, 0, "s"), NULL, 10);
        reply->tax_yen = strtoll (lg_db_value (res, 0, "t"), NULL, 10);
        reply->total_yen = strtoll (lg_db_value (res, 0, "g"), NULL, 10);
        PQclear (res);
        //  The period's invoices: as stored, and in a preview the ones the
        //  run would add, in the order it would number them
        Lgwan__V1__Invoice **stored_list = NULL;
        size_t n = 0;
        rc = s_load (ctx, "WHERE i.period = $1", 1, (const char *[]) { p.text }, REPLY_INVOICES,
                     &stored_list, &n);
        if (rc == 0) {
            reply->invoices = (Lgwan__V1__Invoice **) calloc (REPLY_INVOICES + 1, sizeof (void *));
            for (size_t i = 0; i < n; i++)
                reply->invoices [reply->n_invoices++] = stored_list [i];
            free (stored_list);
            for (Lgwan__V1__Invoice *i = (Lgwan__V1__Invoice *) zlistx_first (list);
                 i && run->preview; i = (Lgwan__V1__Invoice *) zlistx_next (list)) {
                reply->subtotal_yen += i->subtotal_yen;
                reply->tax_yen += i->tax_yen;
                reply->total_yen += i->total_yen;
                if (reply->n_invoices < REPLY_INVOICES) {
                    reply->invoices [reply->n_invoices++] = i;
                    zlistx_detach_cur (list);
                }
            }
            reply->truncated = (size_t) reply->existing + created > reply->n_invoices;
            s_not_invoiced (ctx, &p, not_invoiced, reply);
        }
    }
    for (Lgwan__V1__Invoice *i = (Lgwan__V1__Invoice *) zlistx_first (list); i;
         i = (Lgwan__V1__Invoice *) zlistx_next (list))
        lgwan__v1__invoice__free_unpacked (i, NULL);
    zlistx_destroy (&list);
    Lgwan__V1__InvoiceRunNotInvoiced *skipped;
    while ((skipped = (Lgwan__V1__InvoiceRunNotInvoiced *) zlistx_detach (not_invoiced, NULL)))
        lgwan__v1__invoice_run_not_invoiced__free_unpacked (skipped, NULL);
    zlistx_destroy (&not_invoiced);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Reads

//  A provider reads its own invoices only
static uint64_t
s_only_provider (lg_ctx_t *ctx)
{
    return ctx->caller && ctx->caller->role == LG_ROLE_PROVIDER? ctx->caller->provider_id: 0;
}

static int
s_invoice_reply (lg_ctx_t *ctx, const char *number)
{
    Lgwan__V1__Invoice **list = NULL;
    size_t n = 0;
    int rc = s_load (ctx, "WHERE i.number = $1", 1, (const char *[]) { number }, 1, &list, &n);
    if (rc)
        return rc;
    uint64_t only = s_only_provider (ctx);
    if (n == 0 || (only && list [0]->provider != only)) {
        s_free_list (list, n);
        return MISSING (ctx, "no invoice %s", number);
    }
    Lgwan__V1__InvoiceReply *reply = (Lgwan__V1__InvoiceReply *) malloc (sizeof *reply);
    lgwan__v1__invoice_reply__init (reply);
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_INVOICE;
    ctx->reply->invoice = reply;
    reply->invoice = list [0];
    free (list);
    PGresult *res;
    if ((rc = lg_ctx_query (ctx, &res, "SELECT number, invoice, provider_id, amount_yen,"
                            " tax_rate_percent, tax_yen, total_yen, refund_yen, reason,"
                            " issued_on::text, issuer_registration FROM credit_notes WHERE invoice = $1"
                            " ORDER BY fiscal_year, seq", 1, (const char *[]) { number })))
        return rc;
    reply->credit_notes = (Lgwan__V1__CreditNote **) calloc (PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++) {
        Lgwan__V1__CreditNote *c = (Lgwan__V1__CreditNote *) malloc (sizeof *c);
        lgwan__v1__credit_note__init (c);
        c->number = lg_strdup (lg_db_value (res, row, "number"));
        c->invoice = lg_strdup (lg_db_value (res, row, "invoice"));
        c->provider = strtoull (lg_db_value (res, row, "provider_id"), NULL, 10);
        c->amount_yen = strtoll (lg_db_value (res, row, "amount_yen"), NULL, 10);
        c->tax_rate_percent = (uint32_t) atoi (lg_db_value (res, row, "tax_rate_percent"));
        c->tax_yen = strtoll (lg_db_value (res, row, "tax_yen"), NULL, 10);
        c->total_yen = strtoll (lg_db_value (res, row, "total_yen"), NULL, 10);
        c->refund_yen = strtoll (lg_db_value (res, row, "refund_yen"), NULL, 10);
        c->reason = lg_strdup (lg_db_value (res, row, "reason"));
        c->issued_on = lg_strdup (lg_db_value (res, row, "issued_on"));
        c->issuer_registration = lg_strdup (lg_db_value (res, row, "issuer_registration"));
        reply->credit_notes [reply->n_credit_notes++] = c;
    }
    PQclear (res);
    if ((rc = lg_ctx_query (ctx, &res, "SELECT id, invoice, provider_id, amount_yen,"
                            " paid_on::text, recorded_by FROM payments WHERE invoice = $1"
                            " ORDER BY id", 1, (const char *[]) { number })))
        return rc;
    reply->payments = (Lgwan__V1__Payment **) calloc (PQntuples (res) + 1, sizeof (void *));
    for (int row = 0; row < PQntuples (res); row++) {
        Lgwan__V1__Payment *m = (Lgwan__V1__Payment *) malloc (sizeof *m);
        lgwan__v1__payment__init (m);
        m->id = strtoull (lg_db_value (res, row, "id"), NULL, 10);
        m->invoice = lg_strdup (lg_db_value (res, row, "invoice"));
        m->provider = strtoull (lg_db_value (res, row, "provider_id"), NULL, 10);
        m->amount_yen = strtoll (lg_db_value (res, row, "amount_yen"), NULL, 10);
        m->paid_on = lg_strdup (lg_db_value (res, row, "paid_on"));
        m->recorded_by = lg_strdup (lg_db_value (res, row, "recorded_by"));
        reply->payments [reply->n_payments++] = m;
    }
    PQclear (res);
    return 0;
}

int
billing_invoice_get (lg_ctx_t *ctx)
{
    const char *number = ctx->request->invoice_get->number;
    if (!*number || strlen (number) > 32)
        return INVALID (ctx, "number is mandatory (INV-YYYY-NNNNNN)");
    return s_invoice_reply (ctx, number);
}

//  A page of the invoices matching where, whose last parameter is the
//  number the page follows ("": from the first): one more is loaded, to
//  know whether there is more
static int
s_list_reply (lg_ctx_t *ctx, const char *where, int nparams, const char *const *params,
              uint32_t asked)
{
    uint32_t limit;
    if (lg_ctx_page (ctx, asked, REPLY_INVOICES, REPLY_INVOICES, &limit, NULL, 0))
        return -1;
    const char *after = params [nparams - 1];
    if (strlen (after) > 32)
        return INVALID (ctx, "after_number is an invoice number (INV-YYYY-NNNNNN)");
    //  The page follows an invoice there is (and the caller's own, for a
    //  provider): an unknown number matched nothing, and the empty page
    //  read as the end of the list
    if (*after) {
        PGresult *res;
        int rc = lg_ctx_query (ctx, &res, "SELECT provider_id FROM invoices WHERE number = $1",
                               1, (const char *[]) { after });
        if (rc)
            return rc;
        bool known = PQntuples (res) == 1
                  && (!s_only_provider (ctx) || lg_db_u64 (res, 0, "provider_id") == s_only_provider (ctx));
        PQclear (res);
        if (!known)
            return MISSING (ctx, "no invoice %s to list after", after);
    }
    //  Numbers follow (fiscal_year, seq), the order of s_load
    char *paged = zsys_sprintf ("%s AND ($%d = '' OR (i.fiscal_year, i.seq) > (SELECT a.fiscal_year,"
                                " a.seq FROM invoices a WHERE a.number = $%d))", where, nparams,
                                nparams);
    Lgwan__V1__Invoice **list = NULL;
    size_t n = 0;
    int rc = s_load (ctx, paged, nparams, params, (int) limit + 1, &list, &n);
    zstr_free (&paged);
    if (rc)
        return rc;
    Lgwan__V1__InvoiceListReply *reply = (Lgwan__V1__InvoiceListReply *) malloc (sizeof *reply);
    lgwan__v1__invoice_list_reply__init (reply);
    if (n > limit) {
        lgwan__v1__invoice__free_unpacked (list [limit], NULL);
        list [limit] = NULL;
        n = limit;
        reply->next_after_number = lg_strdup (list [limit - 1]->number);
    }
    else
        reply->next_after_number = lg_strdup ("");
    reply->invoices = list;
    reply->n_invoices = n;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_INVOICE_LIST;
    ctx->reply->invoice_list = reply;
    return 0;
}

int
billing_invoice_list (lg_ctx_t *ctx)
{
    const Lgwan__V1__InvoiceList *l = ctx->request->invoice_list;
    s_period_t p;
    if (*l->period && s_period (ctx, l->period, &p))
        return -1;
    uint64_t provider = s_only_provider (ctx)? s_only_provider (ctx): l->provider;
    char id [24];
    snprintf (id, sizeof id, "%" PRIu64, provider);
    return s_list_reply (ctx, "WHERE ($1 = '' OR i.period = $1)"
                              " AND ($2::bigint = 0 OR i.provider_id = $2::bigint)", 3,
                         (const char *[]) { l->period, id, l->after_number }, l->limit);
}

int
billing_overdue_list (lg_ctx_t *ctx)
{
    char today [16];
    bc_day_format (billing_today (ctx), today, sizeof today);
    const Lgwan__V1__OverdueList *l = ctx->request->overdue_list;
    return s_list_reply (ctx, "WHERE i.due_on < $1::date AND i.total_yen"
                              " - coalesce ((SELECT sum (total_yen) FROM credit_notes c"
                              "   WHERE c.invoice = i.number), 0)"
                              " - coalesce ((SELECT sum (amount_yen) FROM payments m"
                              "   WHERE m.invoice = i.number), 0) > 0", 2,
                         (const char *[]) { today, l->after_number }, l->limit);
}

//  ---------------------------------------------------------------------------
//  Credit notes and payments

//  The invoice, locked for the change, with what was credited and paid of
//  it; NOT_FOUND when there is none. The lock is taken in a statement of
//  its own and the sums read by the next one (note 7): read in the statement
//  that waited for the lock, they came from its snapshot, taken before the
//  wait, and missed what the holder of the lock committed
static int
s_lock_invoice (lg_ctx_t *ctx, const char *number, PGresult **res_p)
{
    if (!*number || strlen (number) > 32)
        return INVALID (ctx, "invoice is mandatory (INV-YYYY-NNNNNN)");
    PGresult *lock;
    int rc = lg_ctx_query (ctx, &lock, "SELECT 1 FROM invoices WHERE number = $1 FOR UPDATE", 1,
                           (const char *[]) { number });
    if (rc)
        return rc;
    int found = PQntuples (lock);
    PQclear (lock);
    if (found == 0)
        return MISSING (ctx, "no invoice %s", number);
    rc = lg_ctx_query (ctx, res_p,
        "SELECT provider_id, issued_on::text AS issued_on, subtotal_yen, tax_rate_percent,"
        " tax_yen, total_yen,"
        " coalesce ((SELECT sum (amount_yen) FROM credit_notes c WHERE c.invoice = i.number), 0)"
        "   AS credited_net,"
        " coalesce ((SELECT sum (tax_yen) FROM credit_notes c WHERE c.invoice = i.number), 0)"
        "   AS credited_tax,"
        " coalesce ((SELECT sum (total_yen) FROM credit_notes c WHERE c.invoice = i.number), 0)"
        "   AS credited,"
        " coalesce ((SELECT sum (amount_yen) FROM payments m WHERE m.invoice = i.number), 0) AS paid"
        " FROM invoices i WHERE number = $1", 1, (const char *[]) { number });
    return rc;
}

int
billing_credit_note_issue (lg_ctx_t *ctx)
{
    const Lgwan__V1__CreditNoteIssue *c = ctx->request->credit_note_issue;
    const billing_state_t *state = (const billing_state_t *) ctx->state;
    size_t reason_len = strlen (c->reason);
    if (c->amount_yen <= 0)
        return INVALID (ctx, "a credit note credits a positive amount of yen, not %" PRId64,
                        c->amount_yen);
    if (reason_len == 0 || reason_len > 512)
        return INVALID (ctx, "a credit note says why (reason, 1-512 bytes)");
    PGresult *res;
    int rc = s_lock_invoice (ctx, c->invoice, &res);
    if (rc)
        return rc;
    int64_t left = strtoll (lg_db_value (res, 0, "subtotal_yen"), NULL, 10)
                 - strtoll (lg_db_value (res, 0, "credited_net"), NULL, 10);
    int64_t tax_left = strtoll (lg_db_value (res, 0, "tax_yen"), NULL, 10)
                     - strtoll (lg_db_value (res, 0, "credited_tax"), NULL, 10);
    int rate = atoi (lg_db_value (res, 0, "tax_rate_percent"));
    int64_t outstanding = s_outstanding (strtoll (lg_db_value (res, 0, "total_yen"), NULL, 10),
                                         strtoll (lg_db_value (res, 0, "credited"), NULL, 10),
                                         strtoll (lg_db_value (res, 0, "paid"), NULL, 10), NULL);
    char provider [24];
    snprintf (provider, sizeof provider, "%s", lg_db_value (res, 0, "provider_id"));
    PQclear (res);
    if (c->amount_yen > left)
        return REFUSE (ctx, "a credit of %" PRId64 " yen is more than is left of invoice %s"
                       " (%" PRId64 " yen before tax)", c->amount_yen, c->invoice, left);
    //  The note that credits all that is left takes all the tax left; what
    //  it credits past what is outstanding was paid, and is owed back (note 6)
    int64_t tax = bc_credit_tax (c->amount_yen, left, tax_left, rate);
    int64_t refund = c->amount_yen + tax > outstanding? c->amount_yen + tax - outstanding: 0;
    if (refund > 0 && !c->refund)
        return REFUSE (ctx, "a credit of %" PRId64 " yen (tax included) is more than invoice %s"
                       " has outstanding (%" PRId64 " yen): %" PRId64 " yen of it was paid and"
                       " would be owed back to provider %s; issue it with refund to record that",
                       c->amount_yen + tax, c->invoice, outstanding, refund, provider);
    int32_t today = billing_today (ctx);
    int year, month, mday;
    bc_civil (today, &year, &month, &mday);
    char fy [12], today_text [16], now [40];
    snprintf (fy, sizeof fy, "%d", bc_fiscal_year (year, month));
    bc_day_format (today, today_text, sizeof today_text);
    lg_clock_format (ctx->now_us, now, sizeof now);
    if ((rc = lg_ctx_query (ctx, &res,
            "INSERT INTO number_counters (kind, fiscal_year, last) VALUES ('CN', $1::integer, 1)"
            " ON CONFLICT (kind, fiscal_year) DO UPDATE SET last = number_counters.last + 1"
            " RETURNING last", 1, (const char *[]) { fy })))
        return rc;
    Lgwan__V1__CreditNote *note = (Lgwan__V1__CreditNote *) malloc (sizeof *note);
    lgwan__v1__credit_note__init (note);
    //  The number's seq is the counter's, not read back from the number's
    //  last six characters (past 999,999 a year it has seven)
    char seq [12];
    snprintf (seq, sizeof seq, "%s", PQgetvalue (res, 0, 0));
    note->number = zsys_sprintf ("CN-%s-%06ld", fy, atol (seq));
    PQclear (res);
    note->invoice = lg_strdup (c->invoice);
    note->provider = strtoull (provider, NULL, 10);
    note->amount_yen = c->amount_yen;
    note->tax_rate_percent = (uint32_t) rate;
    note->tax_yen = tax;
    note->total_yen = note->amount_yen + note->tax_yen;
    note->refund_yen = refund;
    note->reason = lg_strdup (c->reason);
    note->issued_on = lg_strdup (today_text);
    note->issuer_registration = lg_strdup (state->issuer);
    Lgwan__V1__CreditNoteReply *reply = (Lgwan__V1__CreditNoteReply *) malloc (sizeof *reply);
    lgwan__v1__credit_note_reply__init (reply);
    reply->credit_note = note;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_CREDIT_NOTE;
    ctx->reply->credit_note = reply;
    char amount [24], tax_text [24], total [24], refund_text [24], rate_text [8];
    snprintf (amount, sizeof amount, "%" PRId64, note->amount_yen);
    snprintf (tax_text, sizeof tax_text, "%" PRId64, note->tax_yen);
    snprintf (total, sizeof total, "%" PRId64, note->total_yen);
    snprintf (refund_text, sizeof refund_text, "%" PRId64, note->refund_yen);
    snprintf (rate_text, sizeof rate_text, "%d", rate);
    if ((rc = lg_ctx_exec (ctx, "INSERT INTO credit_notes (number, fiscal_year, seq, invoice,"
                           " provider_id, amount_yen, tax_rate_percent, tax_yen, total_yen, reason,"
                           " issuer_registration, issued_on, issued_at, actor, refund_yen) VALUES"
                           " ($1, $2::integer, $3::integer, $4, $5::bigint, $6::bigint, $7::integer,"
                           " $8::bigint, $9::bigint, $10, $11, $12::date, $13::timestamptz, $14,"
                           " $15::bigint)",
                           15, (const char *[]) { note->number, fy, seq, c->invoice, provider,
                                                  amount, rate_text, tax_text, total, c->reason,
                                                  state->issuer, today_text, now, ctx->actor,
                                                  refund_text })))
        return rc;
    Lgwan__V1__CreditNoteIssued issued = LGWAN__V1__CREDIT_NOTE_ISSUED__INIT;
    issued.credit_note = note;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_CREDIT_NOTE_ISSUED;
    event.credit_note_issued = &issued;
    return lg_ctx_emit (ctx, &event);
}

int
billing_payment_record (lg_ctx_t *ctx)
{
    const Lgwan__V1__PaymentRecord *m = ctx->request->payment_record;
    if (m->amount_yen <= 0)
        return INVALID (ctx, "a payment is a positive amount of yen, not %" PRId64, m->amount_yen);
    char paid_on [16];
    int32_t day;
    if (*m->paid_on) {
        if (bc_day_parse (m->paid_on, &day))
            return INVALID (ctx, "paid_on \"%s\" is not YYYY-MM-DD", m->paid_on);
        if (day > billing_today (ctx))
            return INVALID (ctx, "paid_on %s is in the future", m->paid_on);
        snprintf (paid_on, sizeof paid_on, "%s", m->paid_on);
    }
    else
        bc_day_format (billing_today (ctx), paid_on, sizeof paid_on);
    PGresult *res;
    int rc = s_lock_invoice (ctx, m->invoice, &res);
    if (rc)
        return rc;
    int64_t outstanding = s_outstanding (strtoll (lg_db_value (res, 0, "total_yen"), NULL, 10),
                                         strtoll (lg_db_value (res, 0, "credited"), NULL, 10),
                                         strtoll (lg_db_value (res, 0, "paid"), NULL, 10), NULL);
    char provider [24], issued_on [16];
    snprintf (provider, sizeof provider, "%s", lg_db_value (res, 0, "provider_id"));
    snprintf (issued_on, sizeof issued_on, "%s", lg_db_value (res, 0, "issued_on"));
    PQclear (res);
    //  Both YYYY-MM-DD: in text order is in day order. (A payment dated
    //  before its invoice was issued was recorded)
    if (strcmp (paid_on, issued_on) < 0)
        return INVALID (ctx, "paid_on %s is before invoice %s was issued (%s)", paid_on,
                        m->invoice, issued_on);
    if (m->amount_yen > outstanding)
        return REFUSE (ctx, "a payment of %" PRId64 " yen is more than invoice %s has"
                       " outstanding (%" PRId64 " yen)", m->amount_yen, m->invoice, outstanding);
    char amount [24], now [40];
    snprintf (amount, sizeof amount, "%" PRId64, m->amount_yen);
    lg_clock_format (ctx->now_us, now, sizeof now);
    if ((rc = lg_ctx_query (ctx, &res, "INSERT INTO payments (invoice, provider_id, amount_yen,"
                            " paid_on, recorded_by, recorded_at) VALUES ($1, $2::bigint,"
                            " $3::bigint, $4::date, $5, $6::timestamptz) RETURNING id", 6,
                            (const char *[]) { m->invoice, provider, amount, paid_on, ctx->actor,
                                               now })))
        return rc;
    Lgwan__V1__Payment *payment = (Lgwan__V1__Payment *) malloc (sizeof *payment);
    lgwan__v1__payment__init (payment);
    payment->id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    payment->invoice = lg_strdup (m->invoice);
    payment->provider = strtoull (provider, NULL, 10);
    payment->amount_yen = m->amount_yen;
    payment->paid_on = lg_strdup (paid_on);
    payment->recorded_by = lg_strdup (ctx->actor);
    Lgwan__V1__PaymentRecorded recorded = LGWAN__V1__PAYMENT_RECORDED__INIT;
    recorded.payment = payment;
    lg_event_t event = LGWAN__V1__EVENT__INIT;
    event.body_case = LGWAN__V1__EVENT__BODY_PAYMENT_RECORDED;
    event.payment_recorded = &recorded;
    if ((rc = lg_ctx_emit (ctx, &event))) {
        lgwan__v1__payment__free_unpacked (payment, NULL);
        return rc;
    }
    Lgwan__V1__PaymentReply *reply = (Lgwan__V1__PaymentReply *) malloc (sizeof *reply);
    lgwan__v1__payment_reply__init (reply);
    reply->payment = payment;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_PAYMENT;
    ctx->reply->payment = reply;
    Lgwan__V1__Invoice **list = NULL;
    size_t n = 0;
    rc = s_load (ctx, "WHERE i.number = $1", 1, (const char *[]) { m->invoice }, 1, &list, &n);
    if (rc == 0 && n == 1) {
        reply->invoice = list [0];
        free (list);
    }
    else
        s_free_list (list, n);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Export: the period's invoice lines as CSV with stable columns

#define EXPORT_HEADER \
    "invoice_number,fiscal_year,period,provider,addressee,issued_on,due_on,tariff_version," \
    "issuer_registration,line_no,kind,subject,bandwidth_class,state,from_day,to_day,days," \
    "month_days,monthly_yen,charge_percent,amount_yen,tax_rate_percent,invoice_subtotal_yen," \
    "invoice_tax_yen,invoice_total_yen\r\n"

//  RFC 4180: quoted when it holds a comma, a quote or a line break. A field
//  a spreadsheet would take for a formula (=, +, -, @, a tab or a carriage
//  return first: a name or a version someone chose) starts with an
//  apostrophe, inside the quotes when quoted (OWASP, CSV injection)
static void
s_csv_field (zchunk_t *out, const char *text, bool last)
{
    bool formula = *text && strchr ("=+-@\t\r", *text);
    if (strpbrk (text, ",\"\r\n")) {
        zchunk_extend (out, formula? "\"'": "\"", formula? 2: 1);
        for (const char *at = text; *at; at++) {
            if (*at == '"')
                zchunk_extend (out, "\"", 1);
            zchunk_extend (out, at, 1);
        }
        zchunk_extend (out, "\"", 1);
    }
    else {
        if (formula)
            zchunk_extend (out, "'", 1);
        zchunk_extend (out, text, strlen (text));
    }
    zchunk_extend (out, last? "\r\n": ",", last? 2: 1);
}

int
billing_export (lg_ctx_t *ctx)
{
    const Lgwan__V1__BillingExport *e = ctx->request->billing_export;
    s_period_t p;
    if (s_period (ctx, e->period, &p))
        return -1;
    uint32_t limit = e->limit == 0 || e->limit > EXPORT_PAGE? EXPORT_PAGE: e->limit;
    char offset [12], limit_text [12];
    snprintf (offset, sizeof offset, "%u", e->offset);
    snprintf (limit_text, sizeof limit_text, "%u", limit + 1);
    PGresult *res;
    int rc = lg_ctx_query (ctx, &res,
        "SELECT i.number, i.fiscal_year, i.period, i.provider_id, i.addressee, i.issued_on,"
        " i.due_on, i.tariff_version, i.issuer_registration, l.line_no, l.kind, l.subject,"
        " l.bandwidth_class, l.state, l.from_day, l.to_day, l.days, l.month_days, l.monthly_yen,"
        " l.charge_percent, l.amount_yen, l.tax_rate_percent, i.subtotal_yen, i.tax_yen,"
        " i.total_yen FROM invoices i JOIN invoice_lines l ON l.invoice = i.number"
        " WHERE i.period = $1 ORDER BY i.fiscal_year, i.seq, l.line_no"
        " OFFSET $2::integer LIMIT $3::integer", 3,
        (const char *[]) { p.text, offset, limit_text });
    if (rc)
        return rc;
    int rows = PQntuples (res);
    bool more = rows > (int) limit;
    if (more)
        rows = (int) limit;
    zchunk_t *out = zchunk_new (NULL, 4096);
    if (e->offset == 0)
        zchunk_extend (out, EXPORT_HEADER, strlen (EXPORT_HEADER));
    int columns = PQnfields (res);
    for (int row = 0; row < rows; row++)
        for (int col = 0; col < columns; col++)
            s_csv_field (out, PQgetvalue (res, row, col), col == columns - 1);
    PQclear (res);
    Lgwan__V1__BillingExportReply *reply = (Lgwan__V1__BillingExportReply *) malloc (sizeof *reply);
    lgwan__v1__billing_export_reply__init (reply);
    reply->csv = (char *) malloc (zchunk_size (out) + 1);
    memcpy (reply->csv, zchunk_data (out), zchunk_size (out));
    reply->csv [zchunk_size (out)] = 0;
    zchunk_destroy (&out);
    reply->lines = (uint32_t) rows;
    reply->next_offset = more? e->offset + (uint32_t) rows: 0;
    ctx->reply->body_case = LGWAN__V1__REPLY__BODY_BILLING_EXPORT;
    ctx->reply->billing_export = reply;
    return 0;
}
