-- Each period an invoice run (not a preview) was made of, whether it issued
-- an invoice or none (billing.c note 6): a change that lands in a period run
-- is said, naming the provider it touched without an invoice of it. A run of
-- a month with nothing to bill left no invoice, and was not counted as run.
CREATE TABLE invoice_runs (
    period          text PRIMARY KEY CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    first_run_at    timestamptz NOT NULL,
    first_run_by    text NOT NULL
);

-- The runs before this table: the periods they invoiced
INSERT INTO invoice_runs (period, first_run_at, first_run_by)
    SELECT period, min (issued_at), 'migration' FROM invoices GROUP BY period;
