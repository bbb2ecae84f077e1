-- Operator API keys (`gatehouse operator key create --name NAME`): who may use the operator API
-- and console. Not tenant-owned: an operator manages every tenant. Only a SHA-256 of the key's
-- secret is kept: the secret is 32 random bytes, so there is nothing to guess and a fast hash
-- lets every API call check it without a bcrypt run. `key_id` (random, shown in the key) finds
-- the row. A revoked key keeps its row (for the list); its name may be given to a new key.
CREATE TABLE operator_keys (
    key_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE UNIQUE INDEX operator_keys_active_name ON operator_keys (name) WHERE revoked_at IS NULL;
