-- A rewind (008_rewind.sql) was refused when any event past the seq landed
-- in a period invoiced to anyone: a change of a provider with no invoice of
-- that period could not be rewound because another provider had one. It is
-- refused only when an event lands in a period invoiced to a provider it
-- concerns (a connection's provider, a service's payers), naming each such
-- provider and its periods; the rest is 008's function as it was. A
-- function replaced takes its settings anew: its search_path is set again.
CREATE OR REPLACE FUNCTION rewind (of_source text, to_seq bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    applied bigint;
    first_lost text;
    invoiced text;
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
    -- What each event past seq concerns: a connection's provider; a
    -- service's payers (service_payers, and its hosting provider now). Only
    -- an invoice of such a provider, of the event's month or later, stays
    -- as issued from the lost chain (it refused if any provider was invoiced)
    WITH lost AS (
        SELECT t.seq, 'connection ' || t.connection_id AS subject, t.day, c.provider_id
            FROM timeline t JOIN connections c ON c.id = t.connection_id
            WHERE t.source = of_source AND t.seq > to_seq
        UNION ALL SELECT l.seq, 'service ' || l.service_id, l.day, p.provider_id
            FROM (SELECT seq, service_id, from_day AS day FROM service_payers
                  WHERE source = of_source AND seq > to_seq
                  UNION ALL SELECT seq, service_id, day FROM service_ends
                  WHERE source = of_source AND seq > to_seq) l
            CROSS JOIN LATERAL (SELECT provider_id FROM service_payers q
                                WHERE q.service_id = l.service_id
                                UNION SELECT provider_id FROM services s
                                WHERE s.id = l.service_id) p),
    hit AS (SELECT l.seq, l.subject, l.day, i.provider_id, i.period
            FROM lost l JOIN invoices i ON i.provider_id = l.provider_id
            AND i.period >= to_char (l.day, 'YYYY-MM')),
    per_provider AS (SELECT provider_id, string_agg (DISTINCT period, ', ' ORDER BY period)
                     AS periods FROM hit GROUP BY provider_id)
    SELECT (SELECT format ('%s/%s (%s from %s)', of_source, seq, subject, day) FROM hit
            ORDER BY seq LIMIT 1),
           (SELECT string_agg (format ('provider %s: %s', provider_id, periods), '; '
                               ORDER BY provider_id) FROM per_provider)
        INTO first_lost, invoiced;
    IF first_lost IS NOT NULL THEN
        RAISE EXCEPTION 'R6.1: cannot rewind % to seq %: event % lands in a period invoiced'
            ' to a provider its events concern (%), and invoices are never edited', of_source,
            to_seq, first_lost, invoiced
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
