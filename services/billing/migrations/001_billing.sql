-- Billing (R6.1). Amounts are integer yen; days are JST calendar days
-- (date); a range includes its first day and excludes its end day.

-- The tariff: versions with effective dates that never overlap. The body is
-- the TariffVersion as proto3 JSON, as validated and loaded.
CREATE TABLE tariff_classes (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9-]{1,16}$')
);
CREATE TABLE tariff_versions (
    version         text PRIMARY KEY CHECK (char_length(version) BETWEEN 1 AND 64),
    effective_from  date NOT NULL,
    effective_to    date,
    body            jsonb NOT NULL,
    loaded_at       timestamptz NOT NULL,
    loaded_by       text NOT NULL,
    CHECK (effective_to IS NULL OR effective_to > effective_from),
    EXCLUDE USING gist (daterange (effective_from, effective_to) WITH &&)
);

-- The billable timeline, from the registry's and isolation's events
CREATE TABLE providers (
    id          bigint PRIMARY KEY,
    name_ja     text NOT NULL
);
CREATE TABLE connections (
    id          bigint PRIMARY KEY,
    provider_id bigint NOT NULL,
    service_id  bigint NOT NULL,
    first_day   date NOT NULL,          -- activation
    end_day     date                    -- cancellation effective (excluded)
);
CREATE INDEX connections_provider ON connections (provider_id);
-- kind: 1 activated, 2 class, 3 state, 4 ended (billing_calc.h bc_kind_t)
CREATE TABLE timeline (
    connection_id bigint NOT NULL,
    day           date NOT NULL,
    at            timestamptz NOT NULL,  -- when it happened, orders a day's changes
    kind          smallint NOT NULL CHECK (kind BETWEEN 1 AND 4),
    value         text NOT NULL,
    source        text NOT NULL,
    seq           bigint NOT NULL,
    UNIQUE (source, seq, connection_id)
);
CREATE INDEX timeline_connection ON timeline (connection_id, day, at);
CREATE TABLE services (
    id          bigint PRIMARY KEY,
    provider_id bigint NOT NULL,        -- its hosting provider pays
    name        text NOT NULL,
    first_day   date NOT NULL,
    end_day     date
);

-- Invoices: one per (provider, period); numbers gap-free per fiscal year
-- through a counter row updated in the invoice's own transaction
CREATE TABLE number_counters (
    kind        text NOT NULL,          -- INV, CN
    fiscal_year integer NOT NULL,
    last        integer NOT NULL,
    PRIMARY KEY (kind, fiscal_year)
);
CREATE TABLE invoices (
    number          text PRIMARY KEY,
    fiscal_year     integer NOT NULL,
    seq             integer NOT NULL CHECK (seq > 0),
    provider_id     bigint NOT NULL,
    period          text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    addressee       text NOT NULL,
    tariff_version  text NOT NULL REFERENCES tariff_versions (version),
    subtotal_yen    bigint NOT NULL CHECK (subtotal_yen >= 0),
    tax_rate_percent integer NOT NULL,
    tax_yen         bigint NOT NULL CHECK (tax_yen >= 0),
    total_yen       bigint NOT NULL CHECK (total_yen = subtotal_yen + tax_yen),
    issuer_registration text NOT NULL CHECK (issuer_registration ~ '^T[0-9]{13}$'),
    issued_on       date NOT NULL,
    due_on          date NOT NULL,
    issued_at       timestamptz NOT NULL,
    UNIQUE (provider_id, period),
    UNIQUE (fiscal_year, seq)
);
CREATE INDEX invoices_period ON invoices (period);
CREATE TABLE invoice_lines (
    invoice         text NOT NULL REFERENCES invoices (number),
    line_no         integer NOT NULL,
    kind            text NOT NULL,
    subject         bigint NOT NULL,
    description     text NOT NULL,
    bandwidth_class text NOT NULL,
    state           text NOT NULL,
    from_day        date NOT NULL,
    to_day          date NOT NULL,
    days            integer NOT NULL,
    month_days      integer NOT NULL,
    monthly_yen     bigint NOT NULL,
    charge_percent  integer NOT NULL,
    amount_yen      bigint NOT NULL CHECK (amount_yen >= 0),
    tax_rate_percent integer NOT NULL,
    PRIMARY KEY (invoice, line_no)
);

-- Corrections: credit notes, never edits of an issued invoice
CREATE TABLE credit_notes (
    number          text PRIMARY KEY,
    fiscal_year     integer NOT NULL,
    seq             integer NOT NULL,
    invoice         text NOT NULL REFERENCES invoices (number),
    provider_id     bigint NOT NULL,
    amount_yen      bigint NOT NULL CHECK (amount_yen > 0),
    tax_rate_percent integer NOT NULL,
    tax_yen         bigint NOT NULL,
    total_yen       bigint NOT NULL,
    reason          text NOT NULL,
    issuer_registration text NOT NULL,
    issued_on       date NOT NULL,
    issued_at       timestamptz NOT NULL,
    actor           text NOT NULL,
    UNIQUE (fiscal_year, seq)
);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice);

CREATE TABLE payments (
    id              bigserial PRIMARY KEY,
    invoice         text NOT NULL REFERENCES invoices (number),
    provider_id     bigint NOT NULL,
    amount_yen      bigint NOT NULL CHECK (amount_yen > 0),
    paid_on         date NOT NULL,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL
);
CREATE INDEX payments_invoice ON payments (invoice);
