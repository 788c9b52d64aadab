-- A Hello refused because another live connection holds the point's name
-- (two enforcers configured with one name) is counted on the point, so that
-- ListPoints shows an operator what the service's log says.
ALTER TABLE points
    ADD COLUMN refusals   bigint NOT NULL DEFAULT 0 CHECK (refusals >= 0),
    ADD COLUMN refused_at timestamptz;
