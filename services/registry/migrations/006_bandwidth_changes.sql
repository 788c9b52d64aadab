-- A connection's bandwidth class changes by application (the line is billed by
-- class, R13.x); ConnectionChanged tells billing the day it takes effect.
INSERT INTO change_policy (subject, field, kind) VALUES ('connection', 'bandwidth', 'application');
