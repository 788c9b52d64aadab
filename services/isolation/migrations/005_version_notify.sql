-- A version committed is announced on channel lgwan_isolation_version (its
-- number as the payload), so the replica the enforcement points are
-- connected to pushes another replica's change at once instead of finding
-- it at its next look (isolation_points.c, point 3). PostgreSQL delivers a
-- notification when the transaction commits, and never one that rolled back.
CREATE FUNCTION desired_versions_notify () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify ('lgwan_isolation_version', NEW.version::text);
    RETURN NULL;
END $$;

CREATE TRIGGER desired_versions_notify AFTER INSERT ON desired_versions
    FOR EACH ROW EXECUTE FUNCTION desired_versions_notify ();
