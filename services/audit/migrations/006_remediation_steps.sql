-- Every report and verification of a remediation request, in order (X.1).
-- remediation_requests holds the latest of each: a report after an
-- insufficient verdict overwrote the report that verdict was about, and the
-- event (RemediationReported) never carried the text, so nothing kept it.
-- A row is added whenever the request's status becomes reported (a report)
-- or accepted or insufficient (a verification), by the trigger below, so
-- that no path that changes the status can skip it, a change by hand
-- included (its time is then the transaction's when the row has none).
-- Rows are never changed. The requests reported or verified before this migration get
-- the steps their row still shows.
CREATE TABLE remediation_steps (
    remediation_id  bigint NOT NULL REFERENCES remediation_requests (id),
    step            integer NOT NULL CHECK (step > 0),
    action          text NOT NULL CHECK (action IN ('reported', 'accepted', 'insufficient')),
    actor           text NOT NULL,
    at              timestamptz NOT NULL,
    text            text NOT NULL,      -- the report, or the verification's reason
    PRIMARY KEY (remediation_id, step)
);

-- The status changes under the request's row lock (every writer takes it
-- FOR UPDATE first), so the next step number is this request's alone. The
-- schema is the migration's, whatever the session that changes the status
CREATE FUNCTION remediation_step () RETURNS trigger LANGUAGE plpgsql
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
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER remediation_steps AFTER UPDATE OF status ON remediation_requests
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION remediation_step ();

-- What the rows show of the requests before: the latest report, and the
-- latest verification (accepted only when the status still says so), in
-- the order they were made
INSERT INTO remediation_steps (remediation_id, step, action, actor, at, text)
SELECT id, row_number () OVER (PARTITION BY id ORDER BY at, action <> 'reported'), action,
       actor, at, text
  FROM (SELECT id, 'reported' AS action, coalesce (reported_by, '') AS actor, reported_at AS at,
               coalesce (report, '') AS text
          FROM remediation_requests WHERE reported_at IS NOT NULL
        UNION ALL
        SELECT id, CASE WHEN status = 'accepted' THEN 'accepted' ELSE 'insufficient' END,
               coalesce (verified_by, ''), verified_at, coalesce (verification_reason, '')
          FROM remediation_requests WHERE verified_at IS NOT NULL) s;
