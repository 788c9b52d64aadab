-- A withdrawal of a remediation request, who, when and why (X.1): by an
-- operator (RemediationWithdraw: a finding recorded in error, the service
-- concerned cancelled), or by the duty when the provider is cancelled. It
-- is a step of the request's history as a report or a verdict is; only a
-- provider's cancellation withdrew a request before, and no row said so.
ALTER TABLE remediation_requests ADD COLUMN withdrawn_by text,
    ADD COLUMN withdrawn_at timestamptz, ADD COLUMN withdrawal_reason text;

ALTER TABLE remediation_steps DROP CONSTRAINT remediation_steps_action_check,
    ADD CONSTRAINT remediation_steps_action_check
    CHECK (action IN ('reported', 'accepted', 'insufficient', 'withdrawn'));

-- Migration 006's function, with the withdrawal
CREATE OR REPLACE FUNCTION remediation_step () RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.status = 'reported' THEN
        INSERT INTO remediation_steps (remediation_id, step, action, actor, at, text)
            SELECT NEW.id, coalesce (max (s.step), 0) + 1, 'reported',
                   coalesce (NEW.reported_by, ''), coalesce (NEW.reported_at, now ()),
                   coalesce (NEW.report, '')
              FROM remediation_steps s WHERE s.remediation_id = NEW.id;
    ELSIF NEW.status IN ('accepted', 'insufficient') THEN
        INSERT INTO remediation_steps (remediation_id, step, action, actor, at, text)
            SELECT NEW.id, coalesce (max (s.step), 0) + 1, NEW.status,
                   coalesce (NEW.verified_by, ''), coalesce (NEW.verified_at, now ()),
                   coalesce (NEW.verification_reason, '')
              FROM remediation_steps s WHERE s.remediation_id = NEW.id;
    ELSIF NEW.status = 'withdrawn' THEN
        INSERT INTO remediation_steps (remediation_id, step, action, actor, at, text)
            SELECT NEW.id, coalesce (max (s.step), 0) + 1, 'withdrawn',
                   coalesce (NEW.withdrawn_by, ''), coalesce (NEW.withdrawn_at, now ()),
                   coalesce (NEW.withdrawal_reason, '')
              FROM remediation_steps s WHERE s.remediation_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
