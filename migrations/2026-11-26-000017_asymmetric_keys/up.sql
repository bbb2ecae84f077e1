-- Signing keys of kind HS256, EdDSA or RS256. The private key stays in `secret` (as the HS256
-- secret does); `public_key` is the public half as a JWK (NULL for HS256); `not_before` is when the
-- key starts signing (a rotated-in key is published in the JWKS before it signs).
ALTER TABLE signing_keys ADD COLUMN alg TEXT NOT NULL DEFAULT 'HS256';
ALTER TABLE signing_keys ADD COLUMN public_key TEXT;
ALTER TABLE signing_keys ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET not_before = created_at;
