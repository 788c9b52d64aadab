-- A rejected applicant may apply again under the same corporate number: the
-- number is unique among live records only (neither cancelled nor rejected).
DROP INDEX providers_corporate_number_live;
CREATE UNIQUE INDEX providers_corporate_number_live ON providers (corporate_number)
    WHERE corporate_number IS NOT NULL AND status NOT IN ('cancelled', 'rejected');

-- R8.1: one registered interconnection per pair of providers, either way round
CREATE UNIQUE INDEX interconnections_one_per_pair
    ON interconnections (least (provider_a, provider_b), greatest (provider_a, provider_b))
    WHERE status = 'registered';
