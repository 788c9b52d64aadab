-- Providers (R3.1) and every version of their record (R4.2, X.1).
CREATE TABLE providers (
    id                bigserial PRIMARY KEY,
    name_ja           text NOT NULL CHECK (char_length(name_ja) BETWEEN 1 AND 256),
    name_en           text NOT NULL DEFAULT '' CHECK (char_length(name_en) <= 256),
    entity_type       smallint NOT NULL CHECK (entity_type BETWEEN 1 AND 7),
    corporate_number  text CHECK (corporate_number ~ '^[0-9]{13}$'),
    lgcode            text CHECK (lgcode ~ '^[0-9]{6}$'),
    status            text NOT NULL DEFAULT 'applied'
                      CHECK (status IN ('applied', 'under_review', 'qualified', 'rejected', 'cancelled')),
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK (entity_type <> 1 OR lgcode IS NOT NULL),
    CHECK (entity_type = 1 OR lgcode IS NULL)
);
-- One live record per corporation
CREATE UNIQUE INDEX providers_corporate_number_live
    ON providers (corporate_number) WHERE corporate_number IS NOT NULL AND status <> 'cancelled';

CREATE TABLE provider_versions (
    provider_id  bigint NOT NULL REFERENCES providers (id),
    version      integer NOT NULL,
    actor        text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    recorded_at  timestamptz NOT NULL,
    record       jsonb NOT NULL,
    PRIMARY KEY (provider_id, version)
);
