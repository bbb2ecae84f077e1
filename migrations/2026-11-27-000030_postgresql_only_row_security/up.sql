-- PostgreSQL only: row-level security on every tenant-owned table. On SQLite this migration is
-- recorded as applied without running (storage/db.rs: migrations whose name holds
-- "postgresql_only"); SQLite keeps the application-level tenant filter alone.
--
-- `serve` works as the role gatehouse_app (SET ROLE on each pooled connection): it owns nothing and
-- cannot bypass row-level security, so its queries see only the rows of the tenant its transaction
-- named with set_config('gatehouse.tenant_id', ..., true). With no tenant named, it sees no row.
-- Migrations, the CLI and the node's own cross-tenant work (tenant directory, change feed,
-- pruning) run as the login role of database.url, which owns the tables: row-level security is
-- enabled but not forced, so the owner is not bound by it.

-- The role is cluster-wide: made once, kept when other databases of the cluster already made it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_app') THEN
        BEGIN
            CREATE ROLE gatehouse_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION
            -- Another database of the cluster made it at the same moment.
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'gatehouse: cannot create role gatehouse_app (ask an administrator for CREATE ROLE gatehouse_app NOLOGIN; GRANT gatehouse_app TO %), or serve with database.app_role = ""', current_user;
        END;
    END IF;
    -- The owner switches to the role with SET ROLE, which needs membership.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_app')
       AND NOT pg_has_role(current_user, 'gatehouse_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT gatehouse_app TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'gatehouse: cannot grant gatehouse_app to %', current_user;
        END;
    END IF;
END
$$;

-- Generic, so that it covers tables other migrations add: every table of the schema with a
-- tenant_id column gets row-level security and the policy; gatehouse_app gets DML on every table
-- but the migrations' own. Db::migrate calls it again after every run of migrations, so a table a
-- later migration adds is covered without a migration of its own.
CREATE OR REPLACE FUNCTION gatehouse_secure_tenant_tables() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    has_role boolean := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_app');
BEGIN
    IF has_role THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO gatehouse_app', current_schema());
    END IF;
    FOR t IN
        SELECT c.relname,
               EXISTS (SELECT 1 FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                         AND a.attnum > 0 AND NOT a.attisdropped) AS tenant_owned
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
          AND c.relname <> '__diesel_schema_migrations'
    LOOP
        IF t.tenant_owned THEN
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.relname);
            IF NOT EXISTS (SELECT 1 FROM pg_policies
                           WHERE schemaname = current_schema() AND tablename = t.relname
                             AND policyname = 'gatehouse_tenant') THEN
                EXECUTE format(
                    'CREATE POLICY gatehouse_tenant ON %I '
                    'USING (tenant_id = current_setting(''gatehouse.tenant_id'', true)) '
                    'WITH CHECK (tenant_id = current_setting(''gatehouse.tenant_id'', true))',
                    t.relname);
            END IF;
        END IF;
        IF has_role THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO gatehouse_app', t.relname);
        END IF;
    END LOOP;
END
$$;

SELECT gatehouse_secure_tenant_tables();
