-- R4.2, R8.1: an interconnection ends by a cancellation (a notification, by
-- either side or staff), or with the cancellation of either side. Each end
-- is a new version of it, so it carries one, as every other record does.
ALTER TABLE changes DROP CONSTRAINT changes_subject_check;
ALTER TABLE changes ADD CONSTRAINT changes_subject_check
    CHECK (subject IN ('provider', 'service', 'contract', 'connection', 'interconnection'));
INSERT INTO change_policy (subject, field, kind) VALUES ('interconnection', 'cancel', 'notification');
ALTER TABLE interconnections
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    ADD COLUMN updated_at timestamptz;
UPDATE interconnections SET updated_at = created_at;
ALTER TABLE interconnections ALTER COLUMN updated_at SET NOT NULL;
