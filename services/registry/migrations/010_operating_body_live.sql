-- R12.1: the operating body is one provider among the live records only, as
-- the corporate number is (003_refinements): a rejected or cancelled
-- application of it no longer keeps every later one out (ALREADY_EXISTS).
DROP INDEX providers_one_operating_body;
CREATE UNIQUE INDEX providers_one_operating_body ON providers ((true))
    WHERE operating_body AND status NOT IN ('cancelled', 'rejected');
