-- The profiles table: one row per profile, pending or redeemed, live or
-- soft-deleted. One column per entry of extdir.Columns, under the same name;
-- Open refuses to start when the two disagree.
--
-- Times are INTEGER unix seconds (Graph renders whole seconds), booleans
-- INTEGER 0/1. STRICT makes SQLite refuse a value of the wrong type instead
-- of silently storing it.
--
-- The string columns a client can compare in $filter (every one but id) are
-- COLLATE NOCASE, because Graph compares strings case-insensitively: equality,
-- ordering and the indexes below then all agree without a lower() anywhere.
-- id and tenant compare exactly: they are keys, not text.
CREATE TABLE profiles (
    -- seq is the insertion order and the last tie-breaker of every listing.
    -- AUTOINCREMENT keeps a deleted row's seq from being handed out again, so
    -- a paging cursor never meets a newcomer that sorts at or before it.
    seq                       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant                    TEXT    NOT NULL,
    -- kind is extdir.Kind: 1 pendingExternalUserProfile, 2 externalUserProfile.
    kind                      INTEGER NOT NULL CHECK (kind IN (1, 2)),

    id                        TEXT    NOT NULL,
    deleted_at                INTEGER,
    created_at                INTEGER NOT NULL,
    created_by                TEXT    NOT NULL COLLATE NOCASE,
    company_name              TEXT             COLLATE NOCASE,
    display_name              TEXT    NOT NULL COLLATE NOCASE,
    job_title                 TEXT             COLLATE NOCASE,
    is_discoverable           INTEGER NOT NULL CHECK (is_discoverable IN (0, 1)),
    is_enabled                INTEGER NOT NULL CHECK (is_enabled IN (0, 1)),
    department                TEXT             COLLATE NOCASE,
    phone_number              TEXT    NOT NULL COLLATE NOCASE,
    address_city              TEXT,
    address_country_or_region TEXT,
    address_office_location   TEXT,
    address_postal_code       TEXT,
    address_state             TEXT,
    address_street            TEXT,
    supervisor_id             TEXT             COLLATE NOCASE,
    epoch                     INTEGER NOT NULL,

    -- Get, Update and Remove find a row through this index.
    UNIQUE (tenant, id)
) STRICT;

-- A phone number belongs to one live profile of either kind per tenant; a
-- soft-deleted holder lets it go, and restoring that holder while someone else
-- has the number fails on this index.
CREATE UNIQUE INDEX profiles_live_phone ON profiles (tenant, phone_number)
    WHERE deleted_at IS NULL;

-- Listings. Every index implicitly ends with seq (the rowid), so rows that tie
-- on the indexed columns come in seq order: a keyset page walks an index range
-- and never sorts. deleted_at sits third so that "deleted_at IS NULL" is an
-- equality the index can seek (and a count never leaves the index); deleted
-- items, listed rarely and in insertion order only, get a partial index of
-- their own.
CREATE INDEX profiles_by_seq ON profiles (tenant, kind, deleted_at);
CREATE INDEX profiles_deleted_by_seq ON profiles (tenant, kind)
    WHERE deleted_at IS NOT NULL;
CREATE INDEX profiles_by_display_name ON profiles (tenant, kind, deleted_at, display_name);
CREATE INDEX profiles_by_created_at ON profiles (tenant, kind, deleted_at, created_at);

-- The documented $filter clauses: companyName and supervisorId, eq and
-- startswith. The columns are NOCASE, so both an equality and a prefix range
-- (or a LIKE, which is case-insensitive too) can walk these.
CREATE INDEX profiles_by_company_name ON profiles (tenant, kind, deleted_at, company_name);
CREATE INDEX profiles_by_supervisor_id ON profiles (tenant, kind, deleted_at, supervisor_id);

-- Purge finds soft-deleted rows by age, across tenants.
CREATE INDEX profiles_deleted_at ON profiles (deleted_at)
    WHERE deleted_at IS NOT NULL;
