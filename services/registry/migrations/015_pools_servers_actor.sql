-- X.1: no state change without a record of who made it and why. A pool
-- (PoolAdd) and a server (ServerRegister) are records of their own, with no
-- versions and no event: the row itself carries who added or registered it
-- and the request's reason; created_at is when. A row written before this
-- migration has '' for both (nobody recorded them then); a new one names
-- its actor (no default).
ALTER TABLE pools ADD COLUMN added_by text NOT NULL DEFAULT '',
                  ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE pools ALTER COLUMN added_by DROP DEFAULT;
ALTER TABLE servers ADD COLUMN registered_by text NOT NULL DEFAULT '',
                    ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE servers ALTER COLUMN registered_by DROP DEFAULT;
