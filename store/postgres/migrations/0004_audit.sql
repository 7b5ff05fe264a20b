-- The audit log: one row per microsoft.graph.directoryAudit, written in the
-- transaction of the change it records (store.Store's audit rule). The
-- filterable properties of extdir.AuditProperties have columns of their own
-- under the same names; the modified properties are one JSON array, read
-- only to render a record.
--
-- activity_at is bigint unix microseconds: Graph gives activityDateTime a
-- fraction of a second. Comparisons a client asks for go through lower(),
-- as in profiles.
CREATE TABLE audits (
    seq            bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant         text     NOT NULL,
    id             text     NOT NULL,
    activity_at    bigint   NOT NULL,
    activity       text     NOT NULL,
    category       text     NOT NULL,
    correlation_id text     NOT NULL,
    logged_by      text     NOT NULL,
    operation_type text     NOT NULL,
    result         text     NOT NULL,
    user_initiated boolean  NOT NULL,
    app_id         text,
    app_name       text,
    sp_id          text,
    user_id        text,
    user_upn       text,
    target_id      text     NOT NULL,
    target_name    text     NOT NULL,
    target_type    text     NOT NULL,
    modified       text     NOT NULL,
    CONSTRAINT audits_tenant_id UNIQUE (tenant, id)
);

CREATE INDEX audits_by_time ON audits (tenant, activity_at, seq);
CREATE INDEX audits_by_target ON audits (tenant, lower(target_id), activity_at);
CREATE INDEX audits_expiry ON audits (activity_at);
