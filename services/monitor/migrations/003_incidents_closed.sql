-- The incidents closed, by pair and by time: an incident is opened only
-- when the pair's last close is out of its rule's grace in the table, and
-- each replica reloads the pairs in grace when the shared outbox moved
-- (monitor_intake.c, note 5). Only the replica that heard its own
-- IncidentClosed kept the grace before: a standby that took the sensors
-- opened (with incident_and_isolate, confirmed) at once.
CREATE INDEX incidents_closed_pair ON incidents (connection_id, rule_id, closed_at)
    WHERE status = 'closed';
CREATE INDEX incidents_closed_at ON incidents (closed_at) WHERE status = 'closed';
