-- An enforcement point that is gone for good (a gateway removed, a name
-- mistyped once) can be retired by an operator: a change is then in force
-- without it. Who, when and why are kept on the row; a point that says
-- Hello or acks again is registered again.
ALTER TABLE points
    ADD COLUMN retired_at    timestamptz,
    ADD COLUMN retired_by    text,
    ADD COLUMN retire_reason text;
