-- Audits (R15): the control catalogue, the deadline policy, audits, findings,
-- evidence, remediation requests and the reminders sent for them.

-- What audit also learns from the registry: qualification, cancellation,
-- services and who holds which role in them.
ALTER TABLE providers ADD COLUMN cancelled_on date;

CREATE TABLE services (
    id           bigint PRIMARY KEY,
    name         text NOT NULL,
    status       text NOT NULL DEFAULT 'registered',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- role: hosting, facility, ... as a control's applies_to names it
CREATE TABLE service_holders (
    service_id   bigint NOT NULL REFERENCES services (id),
    provider_id  bigint NOT NULL,
    role         text NOT NULL,
    PRIMARY KEY (service_id, provider_id, role)
);
CREATE INDEX service_holders_provider ON service_holders (provider_id);

-- The catalogue. Seeded rows come from the guidelines (R5.1, R11.1, R14.1,
-- R16.1); the operating body adds its own (origin operating_body).
CREATE TABLE controls (
    code         text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9._-]{1,32}$'),
    requirement  text NOT NULL,
    applies_to   text NOT NULL CHECK (applies_to IN ('any', 'hosting', 'facility',
                     'application_content', 'telecom', 'network_layer')),
    title        text NOT NULL CHECK (length (title) BETWEEN 1 AND 400),
    origin       text NOT NULL DEFAULT 'operating_body' CHECK (origin IN ('seed', 'operating_body')),
    created_by   text NOT NULL DEFAULT 'seed',
    created_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO controls (code, requirement, applies_to, title, origin) VALUES
 ('R5.1-institutional', 'R5.1', 'any', 'institutional security measures under the LGWAN security policy', 'seed'),
 ('R5.1-technical',     'R5.1', 'any', 'technical security measures under the LGWAN security policy', 'seed'),
 ('R5.1-operational',   'R5.1', 'any', 'operational security measures under the LGWAN security policy', 'seed'),
 ('R11.1-1', 'R11.1', 'hosting', 'liaison with the operating body', 'seed'),
 ('R11.1-2', 'R11.1', 'hosting', 'the connection router and the servers behind it', 'seed'),
 ('R11.1-3', 'R11.1', 'hosting', 'addresses, ports and protocols of each server', 'seed'),
 ('R11.1-4', 'R11.1', 'hosting', 'LGWAN-side and external firewalls', 'seed'),
 ('R11.1-5', 'R11.1', 'hosting', 'no IP reachability from external networks into LGWAN', 'seed'),
 ('R11.1-6', 'R11.1', 'hosting', 'firewall and access control where a server is published externally', 'seed'),
 ('R11.1-7', 'R11.1', 'hosting', 'OS and product level security', 'seed'),
 ('R11.1-8', 'R11.1', 'hosting', 'proper management of allocated addresses and domain names', 'seed'),
 ('R14.1',   'R14.1', 'facility', 'facility environment, protection against disaster and human threats', 'seed'),
 ('R16.1',   'R16.1', 'any', 'remediation of a threat relayed into LGWAN (forced disconnection)', 'seed');

-- Deadline policy: days to remediate per severity (NULL: no remediation by
-- default), and the reminder offsets. Data, so the operating body changes it
-- without a release.
CREATE TABLE severities (
    severity     text PRIMARY KEY,
    rank         smallint NOT NULL UNIQUE,
    remediation_days integer CHECK (remediation_days > 0)
);
INSERT INTO severities VALUES ('critical', 1, 14), ('high', 2, 30), ('medium', 3, 60),
                              ('low', 4, 90), ('info', 5, NULL);

CREATE TABLE reminder_offsets (
    days_before  integer PRIMARY KEY CHECK (days_before > 0)
);
INSERT INTO reminder_offsets VALUES (7), (1);

-- One row: the incident audit's default (R16.1 remediation)
CREATE TABLE policy (
    id                   integer PRIMARY KEY CHECK (id = 1),
    incident_days        integer NOT NULL CHECK (incident_days > 0)
);
INSERT INTO policy VALUES (1, 14);

-- The deadline of something decided at `at`, `days` calendar days later:
-- the end of that day in Asia/Tokyo, as the first instant after it (next
-- day 00:00 JST). Japan has no daylight saving time, but the zone is named
-- so the rule reads as the rule.
CREATE FUNCTION deadline_after (at timestamptz, days integer) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT (((at AT TIME ZONE 'Asia/Tokyo')::date + days + 1)::timestamp)
                 AT TIME ZONE 'Asia/Tokyo' $$;

-- A given deadline day (YYYY-MM-DD in Asia/Tokyo) as its end
CREATE FUNCTION deadline_of_day (day date) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ((day + 1)::timestamp) AT TIME ZONE 'Asia/Tokyo' $$;

-- The deadline day a deadline ends
CREATE FUNCTION deadline_day (deadline timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT (deadline AT TIME ZONE 'Asia/Tokyo')::date - 1 $$;

CREATE TABLE audits (
    id           bigserial PRIMARY KEY,
    origin       text NOT NULL CHECK (origin IN ('plan', 'request', 'incident')),
    provider_id  bigint NOT NULL REFERENCES providers (id),
    services     bigint[] NOT NULL DEFAULT '{}',
    auditors     text[] NOT NULL DEFAULT '{}',
    lgcode       text CHECK (lgcode ~ '^[0-9]{6}$'),
    incident     text,
    starts_on    date,
    ends_on      date CHECK (ends_on >= starts_on),
    title        text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_by    text NOT NULL,
    opened_at    timestamptz NOT NULL,
    closed_by    text,
    closed_at    timestamptz,
    close_reason text,
    -- R15.1: a using body's request records that body; an incident, the incident
    CHECK ((origin = 'request') = (lgcode IS NOT NULL)),
    CHECK ((origin = 'incident') = (incident IS NOT NULL))
);
CREATE INDEX audits_provider ON audits (provider_id, opened_at DESC);
CREATE INDEX audits_open ON audits (provider_id) WHERE status = 'open';

CREATE TABLE findings (
    id           bigserial PRIMARY KEY,
    audit_id     bigint NOT NULL REFERENCES audits (id),
    control_code text NOT NULL REFERENCES controls (code),
    severity     text NOT NULL REFERENCES severities (severity),
    description  text NOT NULL,
    requires_remediation boolean NOT NULL,
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL
);
CREATE INDEX findings_audit ON findings (audit_id);

CREATE TABLE remediation_requests (
    id           bigserial PRIMARY KEY,
    audit_id     bigint NOT NULL REFERENCES audits (id),
    finding_id   bigint UNIQUE REFERENCES findings (id),
    provider_id  bigint NOT NULL,
    control_code text NOT NULL REFERENCES controls (code),
    deadline     timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'reported',
                     'accepted', 'insufficient', 'withdrawn')),
    report       text,
    reported_by  text,
    reported_at  timestamptz,
    verified_by  text,
    verified_at  timestamptz,
    verification_reason text,
    overdue_at   timestamptz,       -- set once, in the transaction of RemediationOverdue
    created_at   timestamptz NOT NULL
);
CREATE INDEX remediation_requests_provider ON remediation_requests (provider_id);
-- The duty's scan: only requests still waiting for the provider and not yet
-- overdue, by deadline, so it reads the due ones and nothing else.
CREATE INDEX remediation_requests_due ON remediation_requests (deadline)
    WHERE status IN ('requested', 'insufficient') AND overdue_at IS NULL;

-- Evidence of a finding or of a remediation report: the day it speaks for
-- (effective_on) is not the day it was recorded.
CREATE TABLE evidence (
    id           bigserial PRIMARY KEY,
    finding_id   bigint REFERENCES findings (id),
    remediation_id bigint REFERENCES remediation_requests (id),
    reference    text NOT NULL CHECK (length (reference) BETWEEN 1 AND 400),
    effective_on date NOT NULL,
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL,
    CHECK ((finding_id IS NULL) <> (remediation_id IS NULL))
);
CREATE INDEX evidence_finding ON evidence (finding_id);
CREATE INDEX evidence_remediation ON evidence (remediation_id);

-- One row per reminder sent: (request, offset) once, ever
CREATE TABLE reminders_sent (
    remediation_id bigint NOT NULL REFERENCES remediation_requests (id),
    days_before  integer NOT NULL,
    sent_at      timestamptz NOT NULL,
    PRIMARY KEY (remediation_id, days_before)
);
