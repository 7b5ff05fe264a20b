-- The profiles table: one row per profile, pending or redeemed, live or
-- soft-deleted. One column per entry of extdir.Columns, under the same name;
-- Open refuses to start when the two disagree.
--
-- Times are bigint unix seconds, as in every backend: Graph renders whole
-- seconds, and store/sqlfilter binds time literals as seconds.
--
-- Strings keep the database's collation. Graph compares them ignoring case,
-- so every comparison a client can ask for goes through lower() (see
-- store/sqlfilter's Postgres dialect), and the indexes below are on lower()
-- expressions so that they serve exactly those comparisons.
CREATE TABLE profiles (
    -- seq is the insertion order and the last tie-breaker of every listing.
    -- An identity never hands a number out twice, so a paging cursor never
    -- meets a newcomer that sorts at or before it.
    seq                       bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant                    text     NOT NULL,
    -- kind is extdir.Kind: 1 pendingExternalUserProfile, 2 externalUserProfile.
    kind                      smallint NOT NULL CHECK (kind IN (1, 2)),

    id                        text     NOT NULL,
    deleted_at                bigint,
    created_at                bigint   NOT NULL,
    created_by                text     NOT NULL,
    company_name              text,
    display_name              text     NOT NULL,
    job_title                 text,
    is_discoverable           boolean  NOT NULL,
    is_enabled                boolean  NOT NULL,
    department                text,
    phone_number              text     NOT NULL,
    address_city              text,
    address_country_or_region text,
    address_office_location   text,
    address_postal_code       text,
    address_state             text,
    address_street            text,
    supervisor_id             text,
    epoch                     integer  NOT NULL,

    -- Get, Update and Remove find a row through this index.
    CONSTRAINT profiles_tenant_id UNIQUE (tenant, id)
);

-- A phone number belongs to one live profile of either kind per tenant; a
-- soft-deleted holder lets it go, and restoring that holder while someone else
-- has the number fails on this index. Every node's insert meets every other
-- node's here, so the rule holds however many nodes write: the second of two
-- concurrent inserts waits for the first to commit, then fails with 23505,
-- which the store reports as extdir.ErrPhoneTaken.
--
-- The key is lower(phone_number), as SQLite's is NOCASE: a valid E.164 number
-- has no letters, so this is the same rule, and it lets the index serve
-- $filter=phoneNumber eq '...', which store/sqlfilter writes with lower().
CREATE UNIQUE INDEX profiles_live_phone ON profiles (tenant, lower(phone_number))
    WHERE deleted_at IS NULL;

-- Listings. Live rows, which every collection lists, get partial indexes
-- (WHERE deleted_at IS NULL, written exactly so in every query): the index
-- holds no deleted rows, and each one ends with seq, so rows that tie on the
-- indexed key come in seq order and a keyset page walks an index range in
-- either direction and never sorts.
CREATE INDEX profiles_live_by_seq ON profiles (tenant, kind, seq)
    WHERE deleted_at IS NULL;
CREATE INDEX profiles_deleted_by_seq ON profiles (tenant, kind, seq)
    WHERE deleted_at IS NOT NULL;
CREATE INDEX profiles_live_by_created_at ON profiles (tenant, kind, created_at, seq)
    WHERE deleted_at IS NULL;

-- $orderby=displayName sorts case-insensitively, bytewise: lower() under the
-- C collation, so that the order does not depend on the database's locale
-- (and agrees with SQLite's NOCASE for ASCII). Being C-collated, this index
-- also turns startswith(displayName,'x') into a range.
CREATE INDEX profiles_live_by_display_name ON profiles (tenant, kind, (lower(display_name)) COLLATE "C", seq)
    WHERE deleted_at IS NULL;

-- The filterable strings: eq, in and startswith, all through lower(). The
-- text_pattern_ops operator class has equality and compares bytes, which is
-- what lets LIKE 'prefix%' become an index range whatever the database's
-- collation. companyName and supervisorId are Graph's documented filters;
-- displayName is the one clients filter on most.
CREATE INDEX profiles_live_company_name ON profiles (tenant, kind, lower(company_name) text_pattern_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX profiles_live_supervisor_id ON profiles (tenant, kind, lower(supervisor_id) text_pattern_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX profiles_live_display_name ON profiles (tenant, kind, lower(display_name) text_pattern_ops)
    WHERE deleted_at IS NULL;

-- Purge finds soft-deleted rows by age, across tenants.
CREATE INDEX profiles_deleted_at ON profiles (deleted_at)
    WHERE deleted_at IS NOT NULL;
