-- Signing keys of a system Gatehouse replaces (tiledesk-server's GLOBAL_SECRET, or its
-- GLOBAL_SECRET_OR_PRIVATE_KEY), imported so the tokens already in browsers keep working. They
-- never sign and are never published; they verify only tokens without a `kid`, and only until the
-- tenant's LEGACY_TOKENS_UNTIL. `secret` is sealed like signing_keys.secret (the hex of the HS256
-- secret or of the RS256 public key PEM); `kid` is Gatehouse's own name for the key.
CREATE TABLE legacy_keys (
    tenant_id   TEXT NOT NULL,
    kid         TEXT NOT NULL,
    alg         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kid)
);
