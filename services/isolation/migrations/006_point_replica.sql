-- Which isolation replica a point is connected to, as of last_seen: the
-- host and port of that replica's enforcer channel, set by its Hello, its
-- acks and each Beat while it stays connected. With several replicas an
-- operator sees where every gateway is (and that a failover happened).
ALTER TABLE points ADD COLUMN replica text NOT NULL DEFAULT '';
