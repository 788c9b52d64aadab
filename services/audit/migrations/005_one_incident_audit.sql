-- R16.1: one incident audit per incident. The orchestrator's saga asks again
-- with a new request_id when it lost an answer (the stored reply answers only
-- the same request_id); AuditOpen answers it with the audit opened first
-- (audit_requests.c), and this index holds when two such calls meet.
-- A database written before it may hold two audits of one incident: the
-- migration then stops, naming them, and audit does not start until an
-- operator keeps one audit per incident (README, files).
DO $$
DECLARE
    twice text;
BEGIN
    SELECT string_agg (format ('incident %s: audits %s', incident, audits), '; ')
      INTO twice
      FROM (SELECT incident, string_agg (id::text, ', ' ORDER BY id) AS audits
              FROM audits WHERE origin = 'incident'
             GROUP BY incident HAVING count(*) > 1) AS d;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION 'R16.1: more than one audit of an incident (%); keep one audit per'
                        ' incident (move the findings and requests of the others to it, then'
                        ' delete them) before this migration runs', twice;
    END IF;
END $$;
CREATE UNIQUE INDEX audits_incident ON audits (incident) WHERE origin = 'incident';
