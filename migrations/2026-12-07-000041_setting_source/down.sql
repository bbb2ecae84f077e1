ALTER TABLE tenant_settings DROP COLUMN set_by;
