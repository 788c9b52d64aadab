-- R4.2: a draft contract never took effect; it is withdrawn (by a
-- cancellation filed while it is a draft), not cancelled: nothing ended,
-- nothing is published, and it is never activated.
ALTER TABLE contracts DROP CONSTRAINT contracts_status_check;
ALTER TABLE contracts ADD CONSTRAINT contracts_status_check
    CHECK (status IN ('draft', 'active', 'cancelled', 'withdrawn'));
