-- Back to a required email: accounts without one cannot be kept.
CREATE TABLE users_prev (
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
    profile         TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, username_key)
);

INSERT INTO users_prev (tenant_id, id, email, username, username_key, password_hash, firstname,
    lastname, email_verified, scopes, plan, metadata, is_active, disabled, failed_signins,
    locked_until, created_at, updated_at, profile)
SELECT tenant_id, id, email, username, username_key, password_hash, firstname,
    lastname, email_verified, scopes, plan, metadata, is_active, disabled, failed_signins,
    locked_until, created_at, updated_at, profile
FROM users WHERE email IS NOT NULL;

DROP TABLE users;
ALTER TABLE users_prev RENAME TO users;
