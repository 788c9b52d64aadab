-- The services in effect, the only ones that scope an audit (R15.1) or make
-- a control apply to a provider (R11.1, R14.1): not one the registry
-- cancelled (CancellationEffective of kind service), nor one whose hosting
-- provider is cancelled, for it ended with its provider (R4.2) and the
-- registry announces no cancellation of its own for it.
CREATE VIEW services_in_effect AS
    SELECT s.id, s.name FROM services s
    WHERE s.status <> 'cancelled'
    AND NOT EXISTS (SELECT 1 FROM service_holders h JOIN providers p ON p.id = h.provider_id
                    WHERE h.service_id = s.id AND h.role = 'hosting' AND p.status = 'cancelled');
