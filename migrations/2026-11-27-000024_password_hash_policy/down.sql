DELETE FROM tenant_settings WHERE name = 'PASSWORD_HASH' AND value = 'bcrypt';
