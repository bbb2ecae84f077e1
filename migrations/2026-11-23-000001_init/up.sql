-- One schema for SQLite and PostgreSQL. Every tenant-owned table carries tenant_id and every
-- primary and unique key begins with it, so the schema can be sharded by tenant.
-- Times are Unix milliseconds (BIGINT); JSON documents are TEXT.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    apis        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- The routing table: a host belongs to at most one tenant.
CREATE TABLE tenant_hosts (
    host        TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL
);

CREATE TABLE tenant_settings (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE signing_keys (
    tenant_id   TEXT NOT NULL,
    kid         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    PRIMARY KEY (tenant_id, kid)
);

CREATE TABLE users (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    email           TEXT NOT NULL,
    username        TEXT,
    username_key    TEXT,
    password_hash   TEXT,
    firstname       TEXT NOT NULL,
    lastname        TEXT NOT NULL,
    email_verified  BOOLEAN NOT NULL,
    scopes          TEXT NOT NULL,
    plan            TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    is_active       BOOLEAN NOT NULL,
    disabled        BOOLEAN NOT NULL,
    failed_signins  INTEGER NOT NULL,
    locked_until    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, username_key)
);

CREATE TABLE projects (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    jwt_secret  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Members of a project: agents (user_id set) and password-less guests and external users
-- (identified by member_key, 'guest:<uuid>' or 'ext:<id>').
CREATE TABLE project_members (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    member_key  TEXT NOT NULL,
    user_id     TEXT,
    role        TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    profile     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, project_id, member_key)
);
CREATE INDEX project_members_by_user ON project_members (tenant_id, user_id);
