-- Desired enforcement state: which connections are cut off, why, since when
-- and on whose word; the versioned set of prefixes the gateways drop; the
-- enforcement points and what each acknowledged; events waiting to be in force.

-- Connections as the registry announced them (ConnectionActivated)
CREATE TABLE connections (
    id           bigint PRIMARY KEY,
    provider_id  bigint NOT NULL,
    service_id   bigint NOT NULL,
    prefixes     text[] NOT NULL,
    released     boolean NOT NULL DEFAULT false
);
CREATE INDEX connections_provider ON connections (provider_id);

-- Causes in force: disconnection (1, R16.1), suspension (2, R15.3),
-- decommission (3). Independent: lifting one leaves the others.
CREATE TABLE causes (
    connection_id  bigint NOT NULL REFERENCES connections (id),
    cause          smallint NOT NULL CHECK (cause BETWEEN 1 AND 3),
    reference      text NOT NULL,
    actor          text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    since          timestamptz NOT NULL,
    PRIMARY KEY (connection_id, cause)
);

-- Every imposition and lift, with who, why and when (R16.1, X.1)
CREATE TABLE cause_history (
    id             bigserial PRIMARY KEY,
    connection_id  bigint NOT NULL,
    cause          smallint NOT NULL,
    action         text NOT NULL CHECK (action IN ('imposed', 'lifted')),
    reference      text NOT NULL,
    actor          text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    at             timestamptz NOT NULL
);

-- The prefixes the gateways drop now, and each version's change
CREATE TABLE desired (
    prefix         cidr PRIMARY KEY,
    connection_id  bigint NOT NULL
);
CREATE TABLE desired_head (
    id       integer PRIMARY KEY CHECK (id = 1),
    version  bigint NOT NULL
);
INSERT INTO desired_head VALUES (1, 0);
CREATE TABLE desired_versions (
    version     bigint PRIMARY KEY,
    added       text[] NOT NULL,
    removed     text[] NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Enforcement points, registered by their first Hello
CREATE TABLE points (
    name                 text PRIMARY KEY,
    acked_version        bigint NOT NULL DEFAULT 0,
    dry_run              boolean NOT NULL DEFAULT false,
    last_seen            timestamptz NOT NULL,
    lagging_reported     bigint NOT NULL DEFAULT 0
);

-- Events that wait until every point acknowledged their version
CREATE TABLE pending (
    id             bigserial PRIMARY KEY,
    version        bigint NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('disconnected', 'suspended', 'reconnected',
                                                 'decommissioned')),
    connection_id  bigint NOT NULL,
    cause          smallint NOT NULL,
    reference      text NOT NULL,
    state          text NOT NULL
);
CREATE INDEX pending_version ON pending (version);
