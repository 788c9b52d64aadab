-- A cause lifted while another stays: the event is the one of the state
-- that stays. apply_cause (migration 007) named it so for a suspension that
-- stays and called every other `disconnected`, so a disconnection lifted
-- from a decommissioned connection went out as Disconnected with the state
-- "decommissioned" (test_x4_lift_under_a_decommission_says_decommissioned).
-- The event's cause and reference still name what was lifted. Only the
-- CASE that names the event changed.

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
BEGIN
    IF p_impose THEN
        INSERT INTO causes (connection_id, cause, reference, actor, reason, since)
            VALUES (p_connection, p_cause, p_reference, p_actor, p_reason, p_at)
            ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM causes k WHERE k.connection_id = p_connection AND k.cause = p_cause;
    END IF;
    out_changed := FOUND;
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
