-- Imposing or lifting a cause in one round trip. The service used to send
-- half a dozen statements per connection (cause, history, the difference of
-- the drop set, the version bump, the causes again, the pending event); on
-- the switch's path every round trip counts, so the same steps now run here,
-- in the caller's transaction, in the same order and with the same effects.

-- Make the drop set agree with a connection's causes; a new version with its
-- delta when it changed. Returns the version now in effect, whether this
-- call made it, and the delta (empty arrays when none).
CREATE FUNCTION sync_desired (p_connection bigint, p_at timestamptz,
                              OUT out_version bigint, OUT out_bumped boolean,
                              OUT out_added text[], OUT out_removed text[])
LANGUAGE plpgsql AS $$
BEGIN
    WITH want AS (SELECT unnest (c.prefixes)::cidr AS prefix FROM connections c
                  WHERE c.id = p_connection AND NOT c.released
                  AND EXISTS (SELECT 1 FROM causes k WHERE k.connection_id = c.id)),
         have AS (SELECT d.prefix FROM desired d WHERE d.connection_id = p_connection),
         added AS (INSERT INTO desired (prefix, connection_id)
                   SELECT w.prefix, p_connection FROM want w
                   EXCEPT SELECT h.prefix, p_connection FROM have h
                   RETURNING prefix),
         removed AS (DELETE FROM desired d WHERE d.connection_id = p_connection
                     AND d.prefix NOT IN (SELECT w.prefix FROM want w) RETURNING d.prefix)
    SELECT coalesce ((SELECT array_agg (a.prefix::text ORDER BY a.prefix) FROM added a), '{}'),
           coalesce ((SELECT array_agg (r.prefix::text ORDER BY r.prefix) FROM removed r), '{}')
      INTO out_added, out_removed;
    out_bumped := cardinality (out_added) + cardinality (out_removed) > 0;
    IF out_bumped THEN
        UPDATE desired_head h SET version = h.version + 1 WHERE h.id = 1
            RETURNING h.version INTO out_version;
        INSERT INTO desired_versions (version, added, removed, created_at)
            VALUES (out_version, out_added, out_removed, p_at);
    ELSE
        SELECT h.version INTO out_version FROM desired_head h WHERE h.id = 1;
    END IF;
END $$;

-- Impose (p_impose) or lift a cause on a connection, keep its history, bring
-- the drop set along and queue the event for when its version is in force.
-- out_changed is false when nothing changed (imposed twice, or not there to
-- lift): the drop set is still brought into agreement, nothing is queued.
CREATE FUNCTION apply_cause (p_connection bigint, p_cause smallint, p_impose boolean,
                             p_reference text, p_actor text, p_reason text, p_at timestamptz,
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
    INSERT INTO pending (version, kind, connection_id, cause, reference, state)
        VALUES (out_version, v_kind, p_connection, p_cause, p_reference, v_state);
END $$;
