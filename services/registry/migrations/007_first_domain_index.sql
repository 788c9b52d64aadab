-- Whether a service already has a connection with a domain (the first one
-- takes the bare name) is asked at every approval: one probe of this index,
-- not a walk over the service's connections still under review.
CREATE INDEX connections_with_domain ON connections (service_id) WHERE domain IS NOT NULL;
