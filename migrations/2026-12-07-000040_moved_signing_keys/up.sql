-- A signing key brought in by `gatehouse import gatehouse --passphrase-file` from another tenant
-- (another deployment's, usually) signed tokens whose `tid` names that tenant: `issued_for` keeps
-- its id, so those tokens keep verifying here, with this key only. NULL for the tenant's own keys.
ALTER TABLE signing_keys ADD COLUMN issued_for TEXT;
