-- An issued invoice, its lines, a credit note and a payment are never edited
-- or deleted (R6.1: corrections are credit notes), whoever connects.
CREATE FUNCTION never_edited () RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'R6.1: % rows are never edited or deleted; issue a credit note', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER invoices_never_edited BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION never_edited ();
CREATE TRIGGER invoice_lines_never_edited BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION never_edited ();
CREATE TRIGGER credit_notes_never_edited BEFORE UPDATE OR DELETE ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION never_edited ();
CREATE TRIGGER payments_never_edited BEFORE UPDATE OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION never_edited ();
