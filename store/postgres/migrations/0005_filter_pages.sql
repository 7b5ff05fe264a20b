-- Filtered pages that read a page of rows. The indexes of migration 0001
-- for companyName, supervisorId and displayName ended with the filtered
-- value, so the rows of one value came in heap order: a page of
-- "companyName eq 'X'" in insertion order fetched every match, 10,000 rows
-- at a million profiles, and sorted them for the first 101 (289 req/s at a
-- million profiles against 1,699 at ten thousand). Ending each with seq
-- puts one value's rows in seq order: the first page and every nextLink
-- page are a range of the index that stops after 101 rows. text_pattern_ops
-- still turns startswith into a range of the same index.
DROP INDEX profiles_live_company_name;
CREATE INDEX profiles_live_company_name ON profiles (tenant, kind, lower(company_name) text_pattern_ops, seq)
    WHERE deleted_at IS NULL;
DROP INDEX profiles_live_supervisor_id;
CREATE INDEX profiles_live_supervisor_id ON profiles (tenant, kind, lower(supervisor_id) text_pattern_ops, seq)
    WHERE deleted_at IS NULL;
DROP INDEX profiles_live_display_name;
CREATE INDEX profiles_live_display_name ON profiles (tenant, kind, lower(display_name) text_pattern_ops, seq)
    WHERE deleted_at IS NULL;
