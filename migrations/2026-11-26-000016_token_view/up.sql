-- Tokens that can be ended before they expire, and the change feed that tells other nodes.
-- "Tokens issued at or before this millisecond are ended" (logout?all, revoke-tokens, password
-- change, disable). 0: none.
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;

-- One ended token (by jti) until it would have expired anyway (unix seconds); then pruned.
CREATE TABLE revoked_tokens (
    tenant_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- What changed, for other nodes' views: written with the change, read by polling (and pushed by
-- NOTIFY gatehouse_changes on PostgreSQL). `at` is the writer's clock in ms; rows are pruned.
CREATE TABLE changes (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX changes_at ON changes (at);
