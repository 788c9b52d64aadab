-- What a credit note credited of an invoice past what the invoice had
-- outstanding, that is of what was paid: owed back to the provider
-- (billing_invoices.c note 6). Notes from before this column say 0; an
-- invoice's refund owed is read from its sums (credited + paid - total), so
-- it shows theirs too.
ALTER TABLE credit_notes ADD COLUMN refund_yen bigint NOT NULL DEFAULT 0
    CHECK (refund_yen >= 0 AND refund_yen <= total_yen);
