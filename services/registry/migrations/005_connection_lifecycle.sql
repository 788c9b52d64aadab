-- Connections are cancelled through the change machinery (R4.2): a
-- notification, effective on its date. Their allocations then wait as
-- 'decommissioning' until isolation reports the connection decommissioned.
ALTER TABLE changes DROP CONSTRAINT changes_subject_check;
ALTER TABLE changes ADD CONSTRAINT changes_subject_check
    CHECK (subject IN ('provider', 'service', 'contract', 'connection'));
INSERT INTO change_policy (subject, field, kind) VALUES ('connection', 'cancel', 'notification');
