-- PASSWORD_HASH (issue 13.5): new tenants hash with argon2id by default; every tenant that exists
-- before this migration keeps bcrypt until its operator switches, so nothing changes under it.
INSERT INTO tenant_settings (tenant_id, name, value, updated_at)
SELECT t.id, 'PASSWORD_HASH', 'bcrypt', t.updated_at
FROM tenants t
WHERE NOT EXISTS (
    SELECT 1 FROM tenant_settings s WHERE s.tenant_id = t.id AND s.name = 'PASSWORD_HASH'
);
