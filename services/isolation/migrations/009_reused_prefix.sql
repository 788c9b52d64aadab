-- A prefix the registry allocated again (R12.1: released with its connection,
-- then reusable) can be isolated at once on its new connection.
--
-- The drop set is keyed on the prefix. A released connection leaves it
-- through the duty "released connections", up to a second after isolation
-- read AllocationReleased (or longer while that duty cannot lock the
-- connection); until then its rows stayed, and a Disconnect or Suspend of
-- the connection the prefix went to next failed on desired's key
-- (ALREADY_EXISTS): the switch refused when it was needed.
--
-- Now sync_desired first takes over, for the connection it brings along,
-- the rows of the prefixes it wants that a released connection holds: the
-- prefix is dropped before and after, so the set does not change and no
-- version is made for it. The released connection's causes are still ended
-- by the duty, with their history; it finds released connections by their
-- causes as well as by their rows, since one may hold causes and no rows
-- now. A prefix held by a connection not released still fails on the key:
-- two live connections never share one (the registry's exclusion).
CREATE OR REPLACE FUNCTION sync_desired (p_connection bigint, p_at timestamptz,
                                         OUT out_version bigint, OUT out_bumped boolean,
                                         OUT out_added text[], OUT out_removed text[])
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE desired d SET connection_id = p_connection
      FROM connections c, connections o
     WHERE c.id = p_connection AND NOT c.released
       AND EXISTS (SELECT 1 FROM causes k WHERE k.connection_id = c.id)
       AND d.prefix = ANY (c.prefixes::cidr[])
       AND o.id = d.connection_id AND o.id <> p_connection AND o.released;
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
