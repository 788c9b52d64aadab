-- The operator's rewind of a source that lost events billing applied
-- (lg_consumer.h notes 6 and 8; billing.c note 7): billing's rows past the
-- seq where the chains part are taken out, what they set is rebuilt from
-- the rows that remain, and the cursor goes back there, in one transaction.
-- A row written by an event carries (source, seq); what an event set in
-- place had no such record, so it is kept from now on: each service end a
-- cancellation set, each name a ProviderApplied or ProviderChanged gave.
CREATE TABLE service_ends (
    service_id  bigint NOT NULL,
    day         date NOT NULL,          -- the end it set (excluded); the earliest counts
    source      text NOT NULL,
    seq         bigint NOT NULL,
    UNIQUE (source, seq, service_id)
);
CREATE INDEX service_ends_service ON service_ends (service_id);
CREATE TABLE provider_names (
    id          bigserial PRIMARY KEY,  -- the order applied: the last is the name now
    provider_id bigint NOT NULL,
    name_ja     text NOT NULL,
    source      text NOT NULL,
    seq         bigint NOT NULL,
    UNIQUE (source, seq)
);
CREATE INDEX provider_names_provider ON provider_names (provider_id, id);

-- What was set before these tables, kept by a rewind (no event undoes it)
INSERT INTO service_ends (service_id, day, source, seq)
    SELECT id, end_day, 'migration', id FROM services WHERE end_day IS NOT NULL;
INSERT INTO provider_names (provider_id, name_ja, source, seq)
    SELECT id, name_ja, 'migration', id FROM providers ORDER BY id;

-- Rewind billing's events of a source to seq: the rows of its events past
-- seq taken out, connections, services and providers rebuilt from what
-- remains, and the cursor at seq with no link, so that what the source wrote
-- anew under those seqs is applied. Refused (nothing changed) when seq is
-- not before the cursor, or when an event past it lands in a period
-- invoiced: invoices are never edited.
CREATE FUNCTION rewind (of_source text, to_seq bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    applied bigint;
    invoiced text;
    lost record;
    connections_of bigint [];
    services_of bigint [];
    providers_of bigint [];
    rows_out bigint := 0;
    counted bigint;
BEGIN
    -- Events and invoice runs wait, and it waits for them: their lock
    -- (BILLING_LOCK_KEY, billing.h; billing.c note 6)
    PERFORM pg_advisory_xact_lock (7102, 1);
    SELECT last_seq INTO applied FROM cursors WHERE source = of_source FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'X.2: billing follows no source "%"', of_source;
    END IF;
    IF to_seq IS NULL OR to_seq < 0 OR to_seq >= applied THEN
        RAISE EXCEPTION 'X.2: cannot rewind % to seq %: billing applied it up to seq %',
            of_source, coalesce (to_seq::text, 'NULL'), applied
            USING HINT = 'give the last seq the source and billing share, before the cursor';
    END IF;
    SELECT max (period) INTO invoiced FROM invoices;
    SELECT * INTO lost FROM (
        SELECT seq, 'connection ' || connection_id AS subject, day FROM timeline
            WHERE source = of_source AND seq > to_seq
        UNION ALL SELECT seq, 'service ' || service_id, from_day FROM service_payers
            WHERE source = of_source AND seq > to_seq
        UNION ALL SELECT seq, 'service ' || service_id, day FROM service_ends
            WHERE source = of_source AND seq > to_seq) l
        WHERE to_char (day, 'YYYY-MM') <= invoiced ORDER BY seq LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'R6.1: cannot rewind % to seq %: event %/% (% from %) lands in a period'
            ' invoiced (through %), and invoices are never edited', of_source, to_seq,
            of_source, lost.seq, lost.subject, lost.day, invoiced
            USING HINT = 'correct those invoices by hand and go on past the fork instead'
                         ' (last_hash, lg_consumer.h note 8)';
    END IF;

    WITH gone AS (DELETE FROM timeline WHERE source = of_source AND seq > to_seq
                  RETURNING connection_id)
    SELECT array_agg (DISTINCT connection_id), count(*) INTO connections_of, counted FROM gone;
    rows_out := rows_out + counted;
    -- A connection is its activation; its end the earliest cancellation left
    DELETE FROM connections c WHERE c.id = ANY (connections_of)
        AND NOT EXISTS (SELECT 1 FROM timeline t WHERE t.connection_id = c.id AND t.kind = 1);
    UPDATE connections c SET
        first_day = (SELECT min (day) FROM timeline t WHERE t.connection_id = c.id AND t.kind = 1),
        end_day = (SELECT min (day) FROM timeline t WHERE t.connection_id = c.id AND t.kind = 4)
        WHERE c.id = ANY (connections_of);

    WITH gone AS (DELETE FROM service_payers WHERE source = of_source AND seq > to_seq
                  RETURNING service_id)
    SELECT array_agg (DISTINCT service_id), count(*) INTO services_of, counted FROM gone;
    rows_out := rows_out + counted;
    WITH gone AS (DELETE FROM service_ends WHERE source = of_source AND seq > to_seq
                  RETURNING service_id)
    SELECT coalesce (services_of, '{}') || array_agg (DISTINCT service_id), count(*)
        INTO services_of, counted FROM gone;
    rows_out := rows_out + counted;
    -- A service is its registration; its payer the last left, its end the
    -- earliest left
    DELETE FROM services s WHERE s.id = ANY (services_of)
        AND NOT EXISTS (SELECT 1 FROM service_payers p WHERE p.service_id = s.id);
    UPDATE services s SET
        provider_id = (SELECT provider_id FROM service_payers p WHERE p.service_id = s.id
                       ORDER BY from_day DESC, at DESC, seq DESC LIMIT 1),
        end_day = (SELECT min (day) FROM service_ends e WHERE e.service_id = s.id)
        WHERE s.id = ANY (services_of);

    WITH gone AS (DELETE FROM provider_names WHERE source = of_source AND seq > to_seq
                  RETURNING provider_id)
    SELECT array_agg (DISTINCT provider_id), count(*) INTO providers_of, counted FROM gone;
    rows_out := rows_out + counted;
    DELETE FROM providers p WHERE p.id = ANY (providers_of)
        AND NOT EXISTS (SELECT 1 FROM provider_names n WHERE n.provider_id = p.id);
    UPDATE providers p SET name_ja = (SELECT name_ja FROM provider_names n
                                      WHERE n.provider_id = p.id ORDER BY n.id DESC LIMIT 1)
        WHERE p.id = ANY (providers_of);

    -- The cursor at seq, with no link (lg_consumer.h note 8), and what the
    -- source reported and the head recorded for verify no further (note 6)
    UPDATE cursors SET last_seq = to_seq, last_hash = '\x',
        reported_seq = LEAST (reported_seq, to_seq),
        head_hash = CASE WHEN head_seq > to_seq THEN '\x'::bytea ELSE head_hash END,
        head_seq = CASE WHEN head_seq > to_seq THEN 0 ELSE head_seq END, updated_at = now ()
        WHERE source = of_source;
    RETURN format ('%s rewound from seq %s to %s: %s rows of its events taken out', of_source,
                   applied, to_seq, rows_out);
END
$$;
-- An operator's: not every role that reaches the database
REVOKE ALL ON FUNCTION rewind (text, bigint) FROM PUBLIC;
-- Whoever calls it (an operator's psql), it reads billing's tables
DO $$
BEGIN
    EXECUTE format ('ALTER FUNCTION rewind (text, bigint) SET search_path = %I', current_schema ());
END
$$;
