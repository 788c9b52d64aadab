-- A server's address is unique among the servers whose addresses are still
-- held (R5.2, R12.1), not among every server there ever was: a released
-- prefix goes back to the pool, and the connection that gets it next
-- registers its servers at the same addresses. The old servers are kept (the
-- history of what was behind a connection), marked released_at.
--
-- The mark is set by a trigger in the statement that releases the
-- allocation, whoever runs it (the released-allocations duty, an operator by
-- hand), so in no committed state is a prefix back in the pool while a
-- server inside it still holds its address. An index can only read its own
-- row, hence the column, and the trigger that fills it.

ALTER TABLE servers ADD COLUMN released_at timestamptz;

CREATE FUNCTION servers_released () RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE servers SET released_at = coalesce (NEW.released_at, now ())
     WHERE connection_id = NEW.connection_id AND address <<= NEW.prefix
       AND released_at IS NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER allocations_release_servers AFTER UPDATE OF status ON allocations
    FOR EACH ROW WHEN (NEW.status = 'released' AND OLD.status <> 'released')
    EXECUTE FUNCTION servers_released ();

-- Servers behind allocations released before this migration
UPDATE servers s SET released_at = coalesce (a.released_at, now ())
  FROM allocations a
 WHERE a.connection_id = s.connection_id AND a.status = 'released' AND a.prefix >>= s.address;

ALTER TABLE servers DROP CONSTRAINT servers_address_key;
CREATE UNIQUE INDEX servers_address_live ON servers (address) WHERE released_at IS NULL;
