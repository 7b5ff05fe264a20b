-- The audit log: one row per microsoft.graph.directoryAudit, written in the
-- transaction of the change it records (store.Store's audit rule). The
-- filterable properties of extdir.AuditProperties have columns of their own
-- under the same names; the modified properties are one JSON array, read
-- only to render a record.
--
-- activity_at is INTEGER unix microseconds: Graph gives activityDateTime a
-- fraction of a second, and a page sorted on it must not tie every record
-- of a busy second. Strings a client compares are COLLATE NOCASE, as in
-- profiles.
CREATE TABLE audits (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant         TEXT    NOT NULL,
    id             TEXT    NOT NULL COLLATE NOCASE,
    activity_at    INTEGER NOT NULL,
    activity       TEXT    NOT NULL COLLATE NOCASE,
    category       TEXT    NOT NULL COLLATE NOCASE,
    correlation_id TEXT    NOT NULL COLLATE NOCASE,
    logged_by      TEXT    NOT NULL COLLATE NOCASE,
    operation_type TEXT    NOT NULL COLLATE NOCASE,
    result         TEXT    NOT NULL COLLATE NOCASE,
    user_initiated INTEGER NOT NULL CHECK (user_initiated IN (0, 1)),
    app_id         TEXT             COLLATE NOCASE,
    app_name       TEXT             COLLATE NOCASE,
    sp_id          TEXT,
    user_id        TEXT             COLLATE NOCASE,
    user_upn       TEXT             COLLATE NOCASE,
    target_id      TEXT    NOT NULL COLLATE NOCASE,
    target_name    TEXT    NOT NULL COLLATE NOCASE,
    target_type    TEXT    NOT NULL,
    modified       TEXT    NOT NULL,
    UNIQUE (tenant, id)
) STRICT;

-- Listings are newest first by default: a range of this index, read
-- backwards, with seq (the rowid) breaking ties.
CREATE INDEX audits_by_time ON audits (tenant, activity_at);
-- "Who changed this profile": targetResources/any(t: t/id eq '...').
CREATE INDEX audits_by_target ON audits (tenant, target_id, activity_at);
-- The retention sweep, across tenants.
CREATE INDEX audits_expiry ON audits (activity_at);
