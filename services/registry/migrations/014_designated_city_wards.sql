-- R3.1, R7.1: a designated city's ward (行政区, e.g. 札幌市 中央区, 011011)
-- has a code in the reference list, but it is no local government: no legal
-- person, so neither a provider of type 1 nor a contract's using body (its
-- city is). The list (code4fukui/localgovjp, as MIC's) says "municipality"
-- for both; a ward is told by its name, its city's name followed by the
-- ward's (with or without a space) and ending in 区, its city a municipality
-- of the same prefecture ending in 市. Tokyo's special wards (特別区, e.g.
-- 千代田区) are local governments and stay municipalities: no city's name
-- begins them. A list may also say "ward" itself.
ALTER TABLE local_governments DROP CONSTRAINT local_governments_kind_check;
ALTER TABLE local_governments ADD CONSTRAINT local_governments_kind_check
    CHECK (kind IN ('prefecture', 'municipality', 'ward'));

-- Marks the wards of the list loaded; ReferenceLoad calls it after its rows
CREATE FUNCTION mark_designated_city_wards () RETURNS integer
LANGUAGE sql SET search_path FROM CURRENT AS $$
    WITH marked AS (
        UPDATE local_governments w SET kind = 'ward'
         WHERE w.kind = 'municipality' AND w.name LIKE '%区'
           AND EXISTS (SELECT 1 FROM local_governments c
                        WHERE c.kind = 'municipality' AND c.lgcode <> w.lgcode
                          AND c.prefecture = w.prefecture AND c.name LIKE '%市'
                          AND starts_with (w.name, c.name))
        RETURNING 1)
    SELECT count(*)::integer FROM marked
$$;

SELECT mark_designated_city_wards ();
