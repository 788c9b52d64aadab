-- A cause imposed on a whole provider (R16.1, R15.3: a Disconnect or Suspend
-- naming the provider, not narrowed to connections) reaches the connections
-- the registry activates for that provider afterwards (isolation.c, point 6).
-- It used to reach only the connections isolation knew when it was asked:
-- a connection approved for a disconnected provider stayed connected.
--
-- causes.provider_wide: the cause was imposed on this connection by a
-- request naming its provider as a whole (or came to it from such a cause,
-- as below). A new connection of the provider inherits every cause that
-- is provider-wide on any connection of the provider not released; once a
-- Lift (which acts on one connection) has taken it off all of them, new
-- connections inherit nothing. Causes imposed before this migration are
-- taken as narrowed: how they were asked for was not kept.
--
-- connections.inherit_pending: activated (ConnectionActivated) and not yet
-- given its provider's provider-wide causes; the first request that locks
-- the connection does it before it acts on it, or else the duty
-- "provider-wide causes" (the consumer that reads the registry's events
-- writes no events of its own), and clears it.
ALTER TABLE causes ADD COLUMN provider_wide boolean NOT NULL DEFAULT false;
ALTER TABLE connections ADD COLUMN inherit_pending boolean NOT NULL DEFAULT false;
CREATE INDEX connections_inherit_pending ON connections (provider_id, id) WHERE inherit_pending;
