-- PostgreSQL only (see up.sql). The role stays: it is cluster-wide, other databases may use it.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tablename FROM pg_policies
             WHERE schemaname = current_schema() AND policyname = 'gatehouse_tenant'
    LOOP
        EXECUTE format('DROP POLICY gatehouse_tenant ON %I', t.tablename);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t.tablename);
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS gatehouse_secure_tenant_tables();
