-- Who set each stored setting last (issue 20: the console shows where an effective value comes
-- from): 'operator' (CLI, operator API, an operator in the console, tenant creation, imports) or
-- 'tenant_admin' (a tenant admin in the console, Appmixer's /config). NULL: set before this column.
ALTER TABLE tenant_settings ADD COLUMN set_by TEXT;
