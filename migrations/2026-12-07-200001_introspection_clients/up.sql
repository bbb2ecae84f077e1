-- Introspection clients (RFC 7662 section 2.1): resource servers an operator registers for one
-- tenant, which may ask `POST /oauth/introspect` on that tenant's host with HTTP Basic
-- `client_id:client_secret`. Only a SHA-256 of the secret is kept: the secret is 32 random bytes,
-- so there is nothing to guess and a fast hash lets every call check it without a bcrypt run.
-- Tenant-owned: tenant_id leads every key, and on PostgreSQL the row-level security policy of
-- migration 000030 covers it (gatehouse_secure_tenant_tables runs after every migration).
CREATE TABLE introspection_clients (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX introspection_clients_by_name ON introspection_clients (tenant_id, name);
