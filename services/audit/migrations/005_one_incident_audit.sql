-- R16.1: one incident audit per incident. The orchestrator's saga asks again
-- with a new request_id when it lost an answer (the stored reply answers only
-- the same request_id); AuditOpen answers it with the audit opened first
-- (audit_requests.c), and this index holds when two such calls meet.
CREATE UNIQUE INDEX audits_incident ON audits (incident) WHERE origin = 'incident';
