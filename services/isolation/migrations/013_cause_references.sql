-- A cause in force for one incident (or remediation request) and imposed
-- again for another was absorbed: the second Disconnect answered OK and
-- recorded nothing, and the first incident's saga lifted the cause outright,
-- reconnecting a connection whose second incident nobody had remediated
-- (R16.1, R15.3). Each further reference is kept in cause_references and
-- recorded in cause_history; a lift ends one reference (the one the cause
-- names), the oldest other taking its place, and the cause ends with the
-- last (test_r16_1_second_incident_keeps_the_disconnection). The lift of a
-- reference that leaves the cause in force is an event of the state that
-- stays, as a lift under another cause is (migration 010). apply_cause is
-- that of migration 010 but for the reference handling.
CREATE TABLE cause_references (
    connection_id  bigint NOT NULL,
    cause          smallint NOT NULL,
    reference      text NOT NULL,
    actor          text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    since          timestamptz NOT NULL,
    PRIMARY KEY (connection_id, cause, reference),
    FOREIGN KEY (connection_id, cause) REFERENCES causes (connection_id, cause)
        ON DELETE CASCADE
);

CREATE OR REPLACE FUNCTION apply_cause (p_connection bigint, p_cause smallint, p_impose boolean,
                             p_reference text, p_actor text, p_reason text, p_at timestamptz,
                             p_correlation text DEFAULT '',
                             OUT out_changed boolean, OUT out_version bigint,
                             OUT out_bumped boolean, OUT out_added text[],
                             OUT out_removed text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_kind text;
    v_next record;
BEGIN
    IF p_impose THEN
        INSERT INTO causes (connection_id, cause, reference, actor, reason, since)
            VALUES (p_connection, p_cause, p_reference, p_actor, p_reason, p_at)
            ON CONFLICT DO NOTHING;
        out_changed := FOUND;
        IF NOT out_changed THEN
            -- In force for another reference: this one is kept too, and
            -- recorded; the state does not change
            INSERT INTO cause_references (connection_id, cause, reference, actor, reason, since)
                SELECT p_connection, p_cause, p_reference, p_actor, coalesce (p_reason, ''), p_at
                  FROM causes k WHERE k.connection_id = p_connection AND k.cause = p_cause
                   AND k.reference <> p_reference
                ON CONFLICT DO NOTHING;
            IF FOUND THEN
                INSERT INTO cause_history (connection_id, cause, action, reference, actor,
                                           reason, at)
                    VALUES (p_connection, p_cause, 'imposed', p_reference, p_actor,
                            coalesce (p_reason, ''), p_at);
            END IF;
        END IF;
    ELSE
        -- One reference ends: the oldest other one, if any, takes its place
        SELECT r.reference, r.actor, r.reason, r.since INTO v_next
          FROM cause_references r WHERE r.connection_id = p_connection AND r.cause = p_cause
         ORDER BY r.since, r.reference LIMIT 1;
        IF FOUND THEN
            UPDATE causes k SET reference = v_next.reference, actor = v_next.actor,
                   reason = v_next.reason, since = v_next.since
             WHERE k.connection_id = p_connection AND k.cause = p_cause;
            out_changed := FOUND;
            DELETE FROM cause_references r WHERE r.connection_id = p_connection
               AND r.cause = p_cause AND r.reference = v_next.reference;
        ELSE
            DELETE FROM causes k WHERE k.connection_id = p_connection AND k.cause = p_cause;
            out_changed := FOUND;
        END IF;
    END IF;
    IF out_changed THEN
        INSERT INTO cause_history (connection_id, cause, action, reference, actor, reason, at)
            VALUES (p_connection, p_cause, CASE WHEN p_impose THEN 'imposed' ELSE 'lifted' END,
                    p_reference, p_actor, p_reason, p_at);
    END IF;
    SELECT s.out_version, s.out_bumped, s.out_added, s.out_removed
      INTO out_version, out_bumped, out_added, out_removed
      FROM sync_desired (p_connection, p_at) s;
    IF NOT out_changed THEN
        RETURN;
    END IF;
    -- The state the causes now mean: decommission over disconnection over suspension
    SELECT CASE WHEN bool_or (k.cause = 3) THEN 'decommissioned'
                WHEN bool_or (k.cause = 1) THEN 'disconnected'
                WHEN bool_or (k.cause = 2) THEN 'suspended'
                ELSE 'connected' END
      INTO v_state FROM causes k WHERE k.connection_id = p_connection;
    v_state := coalesce (v_state, 'connected');
    v_kind := CASE WHEN p_impose THEN CASE p_cause WHEN 1 THEN 'disconnected'
                                                   WHEN 2 THEN 'suspended'
                                                   ELSE 'decommissioned' END
                   WHEN v_state = 'connected' THEN 'reconnected'
                   ELSE v_state END;
    INSERT INTO pending (version, kind, connection_id, cause, reference, state, actor, reason,
                         correlation)
        VALUES (out_version, v_kind, p_connection, p_cause, p_reference, v_state, p_actor,
                coalesce (p_reason, ''), coalesce (p_correlation, ''));
END $$;
