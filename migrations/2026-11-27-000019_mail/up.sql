-- Password-reset and email-verification codes: only a SHA-256 of each code is kept, bound to its
-- tenant and user, single use (the row is deleted when used), until `expires_at` (Unix ms).
CREATE TABLE mail_codes (
    tenant_id   TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    email       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code_hash)
);
CREATE INDEX mail_codes_by_user ON mail_codes (tenant_id, user_id, purpose);
CREATE INDEX mail_codes_by_expiry ON mail_codes (tenant_id, expires_at);

-- The outbox: one row per mail, written in the transaction that made its code, drained by the
-- sender of every node. `message` is the rendered mail, sealed under the master key (it holds a
-- live code). state: queued, sent or dead (after the last try). Times are Unix ms.
CREATE TABLE mail_outbox (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    message          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
