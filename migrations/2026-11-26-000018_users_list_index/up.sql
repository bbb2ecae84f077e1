-- Listing a tenant's users oldest first (Appmixer's GET /users) walks this index and stops at the
-- page, where without it every user of the tenant is sorted for every page: at a million users that
-- is a sort of a million rows per request. Sign-in and token checks need no new index: they use the
-- keys the table already has (see bench/README.md, "A million users", for the plans on both backends).
CREATE INDEX users_by_created ON users (tenant_id, created_at, id);
