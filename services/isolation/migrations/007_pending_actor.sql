-- An event held in pending until its version is in force carries who asked
-- for the change, why, and the request's id (X.1, R16.1). It was published
-- with the header of whatever released it: with a point registered that is
-- the duty recording the point's ack, so Disconnected said
-- `system:isolation` with no reason, and the registry recorded that in the
-- connection's history, while cause_history named the operator.

ALTER TABLE pending
    ADD COLUMN actor       text NOT NULL DEFAULT '',
    ADD COLUMN reason      text NOT NULL DEFAULT '',
    ADD COLUMN correlation text NOT NULL DEFAULT '';

-- Events waiting now: who and why from the history row that queued them
-- (the latest of their connection, cause and reference); their request id
-- was not kept
UPDATE pending p SET actor = h.actor, reason = h.reason
  FROM (SELECT DISTINCT ON (connection_id, cause, reference) connection_id, cause, reference,
               actor, reason
          FROM cause_history ORDER BY connection_id, cause, reference, id DESC) h
 WHERE h.connection_id = p.connection_id AND h.cause = p.cause AND h.reference = p.reference;

-- From now on every row names them
ALTER TABLE pending ALTER COLUMN actor DROP DEFAULT, ALTER COLUMN reason DROP DEFAULT;

-- apply_cause (migration 002) as it was, with the request's id, stored
-- with who and why in the pending event. p_correlation has a default, so a
-- call with the seven arguments of before still resolves (to this one)
DROP FUNCTION apply_cause (bigint, smallint, boolean, text, text, text, timestamptz);

CREATE FUNCTION apply_cause (p_connection bigint, p_cause smallint, p_impose boolean,
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
                   WHEN v_state = 'suspended' THEN 'suspended'
                   ELSE 'disconnected' END;
    INSERT INTO pending (version, kind, connection_id, cause, reference, state, actor, reason,
                         correlation)
        VALUES (out_version, v_kind, p_connection, p_cause, p_reference, v_state, p_actor,
                coalesce (p_reason, ''), coalesce (p_correlation, ''));
END $$;
