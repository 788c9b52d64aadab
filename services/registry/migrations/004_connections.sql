-- Connections, the operating body's address pools and allocations (R12.1),
-- and the servers behind each connection (R5.2, R11.3, R11.6).
-- Non-overlap is the database's to guarantee: exclusion constraints on the
-- pools and on every allocation not yet released, whatever the concurrency.

CREATE TABLE pools (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 64),
    prefix      cidr NOT NULL,
    family      smallint NOT NULL CHECK (family IN (4, 6)),
    created_at  timestamptz NOT NULL,
    CONSTRAINT pools_no_overlap EXCLUDE USING gist (prefix inet_ops WITH &&)
);

CREATE TABLE connections (
    id               bigserial PRIMARY KEY,
    service_id       bigint NOT NULL REFERENCES services (id),
    provider_id      bigint NOT NULL REFERENCES providers (id),
    router           text NOT NULL CHECK (char_length(router) BETWEEN 1 AND 128),
    line_carrier     text NOT NULL CHECK (char_length(line_carrier) BETWEEN 1 AND 128),
    bandwidth_class  text NOT NULL CHECK (bandwidth_class ~ '^[A-Za-z0-9-]{1,16}$'),
    ipv4_length      smallint NOT NULL DEFAULT 0 CHECK (ipv4_length = 0 OR ipv4_length BETWEEN 16 AND 30),
    ipv6_length      smallint NOT NULL DEFAULT 0 CHECK (ipv6_length = 0 OR ipv6_length BETWEEN 40 AND 64),
    domain           text UNIQUE,
    status           text NOT NULL DEFAULT 'applied'
                     CHECK (status IN ('applied', 'under_review', 'active', 'rejected', 'cancelled')),
    state            text NOT NULL DEFAULT 'connected'
                     CHECK (state IN ('connected', 'suspended', 'disconnected', 'decommissioned')),
    version          integer NOT NULL DEFAULT 1,
    effective_on     date,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK (ipv4_length > 0 OR ipv6_length > 0)
);
CREATE INDEX connections_provider ON connections (provider_id, id);
CREATE INDEX connections_service ON connections (service_id);

CREATE TABLE allocations (
    id             bigserial PRIMARY KEY,
    connection_id  bigint NOT NULL REFERENCES connections (id),
    pool_id        bigint NOT NULL REFERENCES pools (id),
    prefix         cidr NOT NULL,
    family         smallint NOT NULL CHECK (family IN (4, 6)),
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'decommissioning', 'released')),
    allocated_at   timestamptz NOT NULL,
    released_at    timestamptz,
    CONSTRAINT allocations_no_overlap EXCLUDE USING gist (prefix inet_ops WITH &&)
        WHERE (status <> 'released')
);
CREATE INDEX allocations_connection ON allocations (connection_id);
CREATE INDEX allocations_live ON allocations (prefix) WHERE status <> 'released';

CREATE TABLE servers (
    id                     bigserial PRIMARY KEY,
    connection_id          bigint NOT NULL REFERENCES connections (id),
    name                   text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 128),
    address                inet NOT NULL UNIQUE,
    ports                  jsonb NOT NULL,
    external_facing        boolean NOT NULL,
    firewall_record        text NOT NULL DEFAULT '',
    access_control_record  text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL,
    UNIQUE (connection_id, name),
    CHECK (NOT external_facing OR (firewall_record <> '' AND access_control_record <> ''))  -- R11.6
);

-- Connections are decided and versioned like the other filings
ALTER TABLE decisions DROP CONSTRAINT decisions_subject_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_subject_check
    CHECK (subject IN ('provider', 'service', 'change', 'connection'));
