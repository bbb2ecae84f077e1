-- Sign-in locks per (tenant, login, client address): failures of that pair are counted here and
-- the pair is stopped for SIGNIN_LOCK_SECONDS at SIGNIN_MAX_FAILURES. Shared by every node.
-- `login_key` is the login as the person typed it, normalised (an unknown account is counted
-- exactly as a known one). Times are Unix milliseconds. Rows whose count and lock have expired
-- are pruned. The users table's failed_signins and locked_until columns are no longer used.
CREATE TABLE signin_locks (
    tenant_id     TEXT NOT NULL,
    login_key     TEXT NOT NULL,
    client_ip     TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    locked_until  BIGINT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, login_key, client_ip)
);

CREATE INDEX signin_locks_by_age ON signin_locks (tenant_id, updated_at);
