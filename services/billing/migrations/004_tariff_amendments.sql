-- A loaded tariff version is amended only where no invoice issued under it
-- can change (billing.c note 1): prices for bandwidth classes it did not
-- price (a provider with a connection of such a class was not invoiced under
-- it), and an end for a version loaded open, once, after every period
-- invoiced under it. Each amendment is recorded, with the body it replaced.
CREATE TABLE tariff_amendments (
    id          bigserial PRIMARY KEY,
    version     text NOT NULL REFERENCES tariff_versions (version),
    what        text NOT NULL,
    body_before jsonb NOT NULL,
    amended_at  timestamptz NOT NULL,
    amended_by  text NOT NULL
);
CREATE INDEX tariff_amendments_version ON tariff_amendments (version);
