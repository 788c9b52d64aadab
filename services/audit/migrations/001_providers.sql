-- Audit's copy of the providers it audits, replicated from the registry's
-- events (it never writes the registry), and what it learnt when.
CREATE TABLE providers (
    id           bigint PRIMARY KEY,
    name_ja      text NOT NULL,
    entity_type  smallint NOT NULL,
    status       text NOT NULL,
    version      integer NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per registry event applied: append-only on purpose, so an event
-- applied twice would show as two rows with the same seq.
CREATE TABLE provider_events (
    source       text NOT NULL,
    seq          bigint NOT NULL,
    event_id     text NOT NULL,
    provider_id  bigint NOT NULL,
    kind         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_events_provider ON provider_events (provider_id);
