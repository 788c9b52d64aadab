-- tax_rate_percent is mandatory in a tariff version from now on (billing.c
-- note 1): a file that left it out loaded a version taxing nothing, and a
-- body stored from such a file has no tax_rate_percent. Such a version was
-- loaded, and invoiced, at 0 %: its body says so, so that giving the version
-- again as it was (with its 0 now written out) is the same content, not a
-- change.
UPDATE tariff_versions SET body = body || '{"tax_rate_percent": 0}'
    WHERE NOT body ? 'tax_rate_percent';
