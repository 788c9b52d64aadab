-- A connection is in force when every point not retired acked the version
-- that last changed its drop set, not the head (IsolationGet, EnforcedList
-- and every request's reply; isolation.c note 7). in_force compared the
-- version every point acked with the head: any change anywhere still on
-- its way to a slow point read "not in force" on every connection, also on
-- those it did not touch (test_r16_1_in_force_is_per_connection).
--
-- connections.changed_version is the last version whose delta changed the
-- connection's prefixes: sync_desired (migration 009, kept but for this)
-- sets it whenever it bumps the version for the connection, and to the
-- released connection's when it takes its rows over. The rows there
-- already get the last version whose delta names one of their prefixes (a
-- prefix allocated again may give one a later version than its own: it
-- then waits for that one too, never less).
ALTER TABLE connections ADD COLUMN changed_version bigint NOT NULL DEFAULT 0;

UPDATE connections c SET changed_version = v.version
  FROM (SELECT c2.id, max (d.version) AS version FROM connections c2
          JOIN desired_versions d ON d.added::cidr[] && c2.prefixes::cidr[]
                                  OR d.removed::cidr[] && c2.prefixes::cidr[]
         GROUP BY c2.id) v
 WHERE v.id = c.id;

CREATE OR REPLACE FUNCTION sync_desired (p_connection bigint, p_at timestamptz,
                                         OUT out_version bigint, OUT out_bumped boolean,
                                         OUT out_added text[], OUT out_removed text[])
LANGUAGE plpgsql AS $$
BEGIN
    -- Rows taken over were dropped by the released connection's version:
    -- in force for this one once that is
    WITH taken AS (UPDATE desired d SET connection_id = p_connection
                     FROM connections c, connections o
                    WHERE c.id = p_connection AND NOT c.released
                      AND EXISTS (SELECT 1 FROM causes k WHERE k.connection_id = c.id)
                      AND d.prefix = ANY (c.prefixes::cidr[])
                      AND o.id = d.connection_id AND o.id <> p_connection AND o.released
                   RETURNING o.changed_version)
    UPDATE connections c SET changed_version = greatest (c.changed_version, t.version)
      FROM (SELECT max (changed_version) AS version FROM taken) t
     WHERE c.id = p_connection AND t.version IS NOT NULL;
    SELECT s.out_version, s.out_bumped, s.out_added, s.out_removed
      INTO out_version, out_bumped, out_added, out_removed
      FROM sync_desired_rows (p_connection, p_at) s;
    IF out_bumped THEN
        UPDATE connections SET changed_version = out_version WHERE id = p_connection;
    END IF;
END $$;
