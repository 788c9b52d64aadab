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
-- the rows of the prefixes it wants that a released connection holds (the
-- function of migration 002 is kept, renamed, for the rest of it): the
-- prefix is dropped before and after, so the set does not change and no
-- version is made for it. The released connection's causes are still ended
-- by the duty, with their history; it finds released connections by their
-- causes as well as by their rows, since one may hold causes and no rows
-- now. A prefix held by a connection not released still fails on the key:
-- two live connections never share one (the registry's exclusion).
ALTER FUNCTION sync_desired (bigint, timestamptz) RENAME TO sync_desired_rows;

CREATE FUNCTION sync_desired (p_connection bigint, p_at timestamptz,
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
    SELECT s.out_version, s.out_bumped, s.out_added, s.out_removed
      INTO out_version, out_bumped, out_added, out_removed
      FROM sync_desired_rows (p_connection, p_at) s;
END $$;
