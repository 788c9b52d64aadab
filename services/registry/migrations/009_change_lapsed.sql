-- R4.2: a change can lapse. A cancellation ends what is in effect; one that
-- waited (pending, or scheduled for its date) while its record never took
-- effect (the application rejected, or still undecided) is closed as
-- 'lapsed': nothing changed, nothing published. So is a change of a record
-- that was rejected after the change was filed.
ALTER TABLE changes DROP CONSTRAINT changes_status_check;
ALTER TABLE changes ADD CONSTRAINT changes_status_check
    CHECK (status IN ('pending', 'rejected', 'scheduled', 'effective', 'lapsed'));
