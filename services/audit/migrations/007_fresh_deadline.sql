-- R15.3: a remediation verified insufficient gets a fresh deadline, as many
-- days after the verdict as the request was first given (guidelines Art.15
-- para.2 and 3 set no period: the provider remediates "promptly", and the
-- operating body may suspend it when it does not, or not enough). It waited
-- again for its first deadline, so a verdict given after it, or close to
-- it, left the provider no time to remediate again: overdue at the duty's
-- next run.
--
-- period_days: the days the request was given when it was made (the JST
-- day it was made to its deadline day, at least one), set on insert by the
-- trigger below, and for the requests before from their rows (a verdict
-- never moved a deadline before this migration).
CREATE FUNCTION remediation_days (deadline timestamptz, made timestamptz) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT greatest (1, deadline_day (deadline) - (made AT TIME ZONE 'Asia/Tokyo')::date) $$;

ALTER TABLE remediation_requests ADD COLUMN period_days integer CHECK (period_days > 0);
UPDATE remediation_requests SET period_days = remediation_days (deadline, created_at);
ALTER TABLE remediation_requests ALTER COLUMN period_days SET NOT NULL;

CREATE FUNCTION remediation_period () RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    NEW.period_days := remediation_days (NEW.deadline, NEW.created_at);
    RETURN NEW;
END $$;

CREATE TRIGGER remediation_period BEFORE INSERT ON remediation_requests
    FOR EACH ROW EXECUTE FUNCTION remediation_period ();

-- A reminder is sent once per (request, deadline, offset): a fresh deadline
-- is reminded of as the first one was
ALTER TABLE reminders_sent ADD COLUMN deadline timestamptz;
UPDATE reminders_sent s SET deadline = r.deadline FROM remediation_requests r
    WHERE r.id = s.remediation_id;
ALTER TABLE reminders_sent ALTER COLUMN deadline SET NOT NULL,
    DROP CONSTRAINT reminders_sent_pkey,
    ADD PRIMARY KEY (remediation_id, deadline, days_before);
