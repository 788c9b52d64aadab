-- R3.1: a local government is one provider: its code is unique among the
-- live records (neither cancelled nor rejected), as the corporate number is
-- (003_refinements). A rejected applicant may apply again.
CREATE UNIQUE INDEX providers_lgcode_live ON providers (lgcode)
    WHERE lgcode IS NOT NULL AND status NOT IN ('cancelled', 'rejected');
