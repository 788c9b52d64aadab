-- Who pays a service's monthly fee, from which JST day: its hosting
-- provider, as each ServiceRegistered names it (the registration, and again
-- when a holders change takes effect). A row per change of payer, none when
-- the hosting provider stays; a payer pays from its day until the next
-- row's day (excluded) or the service's end day, prorated like a connection.
-- services.provider_id is the payer now (a provider's cancellation ends what
-- it hosts now).
CREATE TABLE service_payers (
    service_id  bigint NOT NULL,
    from_day    date NOT NULL,
    at          timestamptz NOT NULL,   -- when it happened, orders a day's changes
    provider_id bigint NOT NULL,
    source      text NOT NULL,
    seq         bigint NOT NULL,
    UNIQUE (source, seq)
);
CREATE INDEX service_payers_service ON service_payers (service_id, from_day, at);

-- The services followed before this table: their provider from their first day
INSERT INTO service_payers (service_id, from_day, at, provider_id, source, seq)
    SELECT id, first_day, first_day::timestamp AT TIME ZONE 'Asia/Tokyo', provider_id,
           'migration', id
    FROM services;
