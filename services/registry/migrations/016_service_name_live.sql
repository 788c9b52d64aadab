-- R12.1: a service's name labels the domain names the operating body gives
-- its connections (<name>.p<provider>.asp.lgwan.jp), so a name is one
-- service's. A rejected registration never had a connection (R4.1: only a
-- registered service applies for one) nor a domain, and kept its name from
-- the provider applying again under it, as a rejected provider applies
-- again (003_refinements, 010, 011). The name is unique among the services
-- not rejected. A cancelled service keeps its name: its connections' domain
-- names were given out, are kept with them (connections.domain is unique
-- over every connection there ever was, R12.1) and would be the new
-- service's first domain again, for a name the using bodies knew as the
-- old service's.
ALTER TABLE services DROP CONSTRAINT services_name_key;
CREATE UNIQUE INDEX services_name_live ON services (name) WHERE status <> 'rejected';
