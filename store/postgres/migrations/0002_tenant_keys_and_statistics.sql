-- Two lessons of the million-profile benchmark (docs/benchmarks.md).
--
-- 1. The primary key leads with the tenant. With a key of seq alone, the
-- planner served a tenant's first page "in seq order" by walking that key
-- from the very first row and filtering: cheap on paper, but a tenant whose
-- rows come after a few hundred thousand rows of others paid for reading
-- all of them. Every statement knows its tenant, so (tenant, seq) serves
-- each one and never leaves the tenant's range. seq stays unique on its own:
-- it is an identity that no insert may set.
ALTER TABLE profiles DROP CONSTRAINT profiles_pkey,
    ADD CONSTRAINT profiles_pkey PRIMARY KEY (tenant, seq);

-- 2. Statistics on the lower() expressions that the filters compare. The
-- planner ignores the statistics of a partial index's expressions (they do
-- not describe the whole table), so without these it guessed that any
-- "supervisorId eq 'x'" matched 0.5 % of the rows and walked the whole
-- table by seq instead of the supervisor index: 700 ms instead of 2 ms on a
-- million rows. These need PostgreSQL 14.
CREATE STATISTICS profiles_lower_company_name ON (lower(company_name)) FROM profiles;
CREATE STATISTICS profiles_lower_supervisor_id ON (lower(supervisor_id)) FROM profiles;
CREATE STATISTICS profiles_lower_display_name ON (lower(display_name)) FROM profiles;
CREATE STATISTICS profiles_lower_phone_number ON (lower(phone_number)) FROM profiles;
