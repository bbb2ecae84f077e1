-- Appmixer accounts: `POST /user` needs only a password, so an account may have no email (it signs
-- in by username); and an admin may give an account its vendors (`PUT /users/:id` `vendor`).
-- SQLite cannot drop a NOT NULL, so the table is rebuilt; the same statements run on PostgreSQL.
-- Keys are unchanged and still begin with tenant_id; UNIQUE allows many NULL emails on both.
-- `vendor` holds the value as the admin sent it, as JSON text (a string or an array of strings).
-- The rebuild names every column users has at this point: a migration numbered below 000014 that
-- adds a users column must add it here too (and to the copy below), or the column is lost.

CREATE TABLE users_next (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    email           TEXT,
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
    profile         TEXT NOT NULL DEFAULT '{}',
    vendor          TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, username_key)
);

INSERT INTO users_next (tenant_id, id, email, username, username_key, password_hash, firstname,
    lastname, email_verified, scopes, plan, metadata, is_active, disabled, failed_signins,
    locked_until, created_at, updated_at, profile, vendor)
SELECT tenant_id, id, email, username, username_key, password_hash, firstname,
    lastname, email_verified, scopes, plan, metadata, is_active, disabled, failed_signins,
    locked_until, created_at, updated_at, profile, NULL
FROM users;

DROP TABLE users;
ALTER TABLE users_next RENAME TO users;

