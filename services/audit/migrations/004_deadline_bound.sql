-- R15.2: how far ahead an auditor may set a remediation deadline given as a
-- day, in days after today (Asia/Tokyo). A deadline that never comes, or
-- comes in centuries, is never overdue and never reminded of: no deadline.
ALTER TABLE policy ADD COLUMN deadline_max_days integer NOT NULL DEFAULT 365
    CHECK (deadline_max_days > 0);
