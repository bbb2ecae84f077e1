-- The audit log: one row per security-relevant event (sign-in, signup, password change, logout,
-- disable, key rotation, setting change, import...). Never a password, hash, secret or token, nor
-- the login a person typed (people type passwords into the login field). `at` is Unix ms;
-- `detail` is a short non-secret note (a setting's name, a key's kid, an import's counts).
-- Rows older than the tenant's AUDIT_RETENTION_DAYS are pruned in the background.
CREATE TABLE audit_events (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    user_id     TEXT,
    client_ip   TEXT,
    user_agent  TEXT,
    dialect     TEXT NOT NULL,
    request_id  TEXT,
    detail      TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX audit_events_by_time ON audit_events (tenant_id, at);
CREATE INDEX audit_events_by_user ON audit_events (tenant_id, user_id, at);
