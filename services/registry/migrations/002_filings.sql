-- Filings: qualification review, services and their Art.9 role holders,
-- contracts with using bodies, interconnections, changes and cancellations,
-- the reference list of local governments, and one history of every record.
-- Rules that can be constraints are constraints too (the handlers refuse
-- first, with the requirement ID; these make a bug unable to store a breach).

ALTER TABLE providers
    ADD COLUMN operating_body boolean NOT NULL DEFAULT false,
    ADD COLUMN president_approved_by text,
    ADD COLUMN president_approved_on date,
    ADD COLUMN president_reference text;
-- R12.1: the operating body is one provider
CREATE UNIQUE INDEX providers_one_operating_body ON providers ((true)) WHERE operating_body;
CREATE INDEX providers_list ON providers (entity_type, status, id);

-- R4.3: every decision, by whom, when, why
CREATE TABLE decisions (
    id          bigserial PRIMARY KEY,
    subject     text NOT NULL CHECK (subject IN ('provider', 'service', 'change')),
    subject_id  bigint NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    reviewer    text NOT NULL,
    decided_at  timestamptz NOT NULL,
    reason      text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000)
);
CREATE INDEX decisions_subject ON decisions (subject, subject_id);

CREATE TABLE provider_contacts (
    provider_id  bigint NOT NULL REFERENCES providers (id),
    kind         smallint NOT NULL CHECK (kind BETWEEN 1 AND 5),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 256),
    phone        text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    PRIMARY KEY (provider_id, kind)
);

-- R3.3: data centres in Japan only
CREATE TABLE data_centres (
    provider_id  bigint NOT NULL REFERENCES providers (id),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 256),
    country      text NOT NULL CHECK (country = 'JP'),
    prefecture   text NOT NULL CHECK (prefecture ~ '^(0[1-9]|[1-3][0-9]|4[0-7])$'),
    address      text NOT NULL DEFAULT '',
    PRIMARY KEY (provider_id, name)
);

-- The reference list of local government codes, replaceable as data
CREATE TABLE reference_lists (
    version     bigserial PRIMARY KEY,
    source      text NOT NULL,
    entries     integer NOT NULL,
    loaded_by   text NOT NULL,
    loaded_at   timestamptz NOT NULL
);
CREATE TABLE local_governments (
    lgcode        text PRIMARY KEY CHECK (lgcode ~ '^[0-9]{6}$'),
    prefecture    text NOT NULL,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('prefecture', 'municipality')),
    list_version  bigint NOT NULL REFERENCES reference_lists (version)
);

CREATE TABLE services (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9-]{1,30}$'),
    title_ja    text NOT NULL CHECK (char_length(title_ja) BETWEEN 1 AND 256),
    status      text NOT NULL DEFAULT 'applied'
                CHECK (status IN ('applied', 'under_review', 'registered', 'rejected', 'cancelled')),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE service_holders (
    service_id      bigint NOT NULL REFERENCES services (id),
    provider_id     bigint NOT NULL REFERENCES providers (id),
    role            smallint NOT NULL CHECK (role BETWEEN 1 AND 5),
    carrier_number  text,
    PRIMARY KEY (service_id, provider_id, role),
    CHECK (role <> 4 OR carrier_number IS NOT NULL)            -- R13.1
);
CREATE UNIQUE INDEX service_holders_one_hosting ON service_holders (service_id) WHERE role = 2;  -- R9.2
CREATE INDEX service_holders_provider ON service_holders (provider_id);

-- R7.1, R7.2: contracts with using bodies
CREATE TABLE contracts (
    id                   bigserial PRIMARY KEY,
    provider_id          bigint NOT NULL REFERENCES providers (id),
    lgcode               text NOT NULL,
    using_body           text NOT NULL,
    responsibility       text NOT NULL CHECK (char_length(responsibility) BETWEEN 1 AND 4000),
    terms_delivered_on   date,
    manual_delivered_on  date,
    status               text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'cancelled')),
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CHECK (status <> 'active' OR (terms_delivered_on IS NOT NULL AND manual_delivered_on IS NOT NULL))
);
CREATE INDEX contracts_provider ON contracts (provider_id, status);
CREATE TABLE contract_services (
    contract_id  bigint NOT NULL REFERENCES contracts (id),
    service_id   bigint NOT NULL REFERENCES services (id),
    PRIMARY KEY (contract_id, service_id)
);

-- R8.1, R8.2: registered facts, no approval step
CREATE TABLE interconnections (
    id             bigserial PRIMARY KEY,
    provider_a     bigint NOT NULL REFERENCES providers (id),
    provider_b     bigint NOT NULL REFERENCES providers (id),
    justification  text NOT NULL CHECK (char_length(justification) BETWEEN 1 AND 4000),
    status         text NOT NULL DEFAULT 'registered' CHECK (status IN ('registered', 'cancelled')),
    created_at     timestamptz NOT NULL,
    CHECK (provider_a <> provider_b)
);

-- R4.2: which change is a notification (effective when filed) and which an
-- application (effective when approved): policy as data
CREATE TABLE change_policy (
    subject  text NOT NULL,
    field    text NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('notification', 'application')),
    PRIMARY KEY (subject, field)
);
INSERT INTO change_policy (subject, field, kind) VALUES
    ('provider', 'contacts',     'notification'),
    ('provider', 'name',         'application'),
    ('provider', 'data_centres', 'application'),
    ('provider', 'cancel',       'application'),
    ('service',  'title',        'notification'),
    ('service',  'holders',      'application'),
    ('service',  'cancel',       'notification'),
    ('contract', 'cancel',       'notification');

CREATE TABLE changes (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('notification', 'application')),
    subject       text NOT NULL CHECK (subject IN ('provider', 'service', 'contract')),
    subject_id    bigint NOT NULL,
    cancel        boolean NOT NULL,
    effective_on  date,
    status        text NOT NULL CHECK (status IN ('pending', 'rejected', 'scheduled', 'effective')),
    payload       text NOT NULL DEFAULT '{}',
    filed_by      text NOT NULL,
    filed_at      timestamptz NOT NULL,
    reason        text NOT NULL DEFAULT ''
);
CREATE INDEX changes_due ON changes (effective_on) WHERE status = 'scheduled';
CREATE INDEX changes_subject ON changes (subject, subject_id);

-- R4.2, X.1: every version of every record, never purged
CREATE TABLE versions (
    subject      text NOT NULL,
    subject_id   bigint NOT NULL,
    version      integer NOT NULL,
    actor        text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    recorded_at  timestamptz NOT NULL,
    record       jsonb NOT NULL,
    PRIMARY KEY (subject, subject_id, version)
);
INSERT INTO versions (subject, subject_id, version, actor, reason, recorded_at, record)
    SELECT 'provider', provider_id, version, actor, reason, recorded_at, record
    FROM provider_versions;
DROP TABLE provider_versions;
