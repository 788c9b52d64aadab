-- Monitor: what it knows of connections (replicated from the registry's and
-- isolation's events), its detection rules and allow-list, incidents with
-- their evidence, and the counts intake keeps.

-- Connections and the prefixes that attribute to them. A connection stops
-- attributing when isolation decommissions it or the registry releases its
-- allocation (active = false, or the released prefixes leave the array).
CREATE TABLE connections (
    id            bigint PRIMARY KEY,
    provider_id   bigint NOT NULL,
    service_id    bigint NOT NULL,
    prefixes      text[] NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    changed_by    text NOT NULL,           -- source/seq of the last event
    changed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rules (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length (name) BETWEEN 1 AND 128),
    category        text NOT NULL DEFAULT '',
    max_severity    integer NOT NULL DEFAULT 0 CHECK (max_severity BETWEEN 0 AND 255),
    signature_id    bigint NOT NULL DEFAULT 0 CHECK (signature_id >= 0),
    window_seconds  integer NOT NULL CHECK (window_seconds BETWEEN 1 AND 86400),
    threshold       integer NOT NULL CHECK (threshold BETWEEN 1 AND 1000),
    action          smallint NOT NULL CHECK (action IN (1, 2)),
    grace_seconds   integer NOT NULL DEFAULT 0 CHECK (grace_seconds BETWEEN 0 AND 2592000),
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL,
    updated_by      text NOT NULL
);

-- Scoped allow-list: by connection, by signature, or both; never neither
-- (an entry that silences everything is the Wazuh #13969 failure).
CREATE TABLE allowlist (
    id            bigserial PRIMARY KEY,
    connection_id bigint NOT NULL DEFAULT 0,
    signature_id  bigint NOT NULL DEFAULT 0,
    expires_at    timestamptz NOT NULL,
    reason        text NOT NULL CHECK (length (reason) BETWEEN 1 AND 1024),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    removed_by    text,
    removed_at    timestamptz,
    CHECK (connection_id <> 0 OR signature_id <> 0)
);

CREATE TABLE incidents (
    id            bigserial PRIMARY KEY,
    connection_id bigint NOT NULL,
    provider_id   bigint NOT NULL,
    service_id    bigint NOT NULL,
    prefixes      text[] NOT NULL,
    rule_id       bigint NOT NULL REFERENCES rules (id),
    rule_name     text NOT NULL,
    signature_id  bigint NOT NULL,
    status        text NOT NULL CHECK (status IN ('open', 'confirmed', 'closed')),
    event_count   bigint NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    opened_at     timestamptz NOT NULL,
    confirmed_at  timestamptz,
    decided_by    text,
    isolate       boolean NOT NULL DEFAULT false,
    closed_at     timestamptz,
    closed_by     text,
    close_reason  text
);
-- One incident not yet closed per (connection, rule): later events attach to
-- it, and a monitor restarted in the middle of a burst finds it again.
CREATE UNIQUE INDEX incidents_one_open ON incidents (connection_id, rule_id)
    WHERE status <> 'closed';
CREATE INDEX incidents_status ON incidents (status, id);

-- The first events of an incident, kept as evidence
CREATE TABLE evidence (
    incident_id   bigint NOT NULL REFERENCES incidents (id),
    n             integer NOT NULL,
    at            text NOT NULL,
    sensor        text NOT NULL,
    src_ip        text NOT NULL,
    dest_ip       text NOT NULL,
    signature_id  bigint NOT NULL,
    signature     text NOT NULL,
    category      text NOT NULL,
    severity      integer NOT NULL,
    origin        text NOT NULL,
    PRIMARY KEY (incident_id, n)
);

-- Events attributed per connection and minute; rows older than a day are
-- deleted when the counts are flushed, so the table stays bounded.
CREATE TABLE minute_counts (
    connection_id bigint NOT NULL,
    minute        timestamptz NOT NULL,
    events        bigint NOT NULL,
    PRIMARY KEY (connection_id, minute)
);

-- Per sensor: events taken, events no connection matched (PacketFence #4187:
-- never dropped silently), malformed input
CREATE TABLE sensor_counts (
    sensor        text PRIMARY KEY,
    events        bigint NOT NULL DEFAULT 0,
    unattributed  bigint NOT NULL DEFAULT 0,
    malformed     bigint NOT NULL DEFAULT 0
);

-- The latest unattributed events, kept as samples (at most 1000 rows)
CREATE TABLE unattributed_samples (
    id            bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL,
    at            text NOT NULL,
    sensor        text NOT NULL,
    src_ip        text NOT NULL,
    dest_ip       text NOT NULL,
    signature_id  bigint NOT NULL,
    signature     text NOT NULL,
    category      text NOT NULL,
    severity      integer NOT NULL,
    origin        text NOT NULL
);

-- Where the followed EVE file was read up to (survives restarts; a new
-- inode or a shorter file is a rotation)
CREATE TABLE eve_files (
    path          text PRIMARY KEY,
    inode         bigint NOT NULL,
    read_offset   bigint NOT NULL,
    line_no       bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
