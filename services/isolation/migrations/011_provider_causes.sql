-- A provider-wide cause outlives the connections that carried it
-- (isolation.c, point 6). A new connection inherits every cause that is
-- provider-wide on another connection of its provider not released
-- (migration 008), and a released connection's causes end (the duty
-- "released connections"). Once every connection that carried a
-- provider-wide disconnection was cancelled and released, nothing carried
-- it: a connection approved for the provider afterwards was connected, and
-- cancelling and applying again undid a forced disconnection without the
-- saga's two approvals (X.4;
-- test_x4_provider_disconnection_outlives_its_released_connections).
--
-- provider_causes holds such a cause while no connection of the provider
-- carries it: the release duty puts it here as it ends the last carrier's
-- causes, and the next connection of the provider to be settled takes it
-- (it is provider-wide on that connection from then on, and the row goes).
-- Who imposed it, why and since when are the carrier's.
CREATE TABLE provider_causes (
    provider_id    bigint NOT NULL,
    cause          smallint NOT NULL CHECK (cause IN (1, 2)),
    reference      text NOT NULL,
    actor          text NOT NULL,
    reason         text NOT NULL,
    since          timestamptz NOT NULL,
    connection_id  bigint NOT NULL,         -- the last connection that carried it, released
    kept_at        timestamptz NOT NULL,
    PRIMARY KEY (provider_id, cause)
);
