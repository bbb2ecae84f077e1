-- PostgreSQL only: SQLite records this migration as applied without running it (storage/db.rs),
-- its BINARY collation already compares text byte by byte.
--
-- The operator's user search (`GET /admin/v1/tenants/{slug}/users?q=`, the console's users page)
-- finds the users whose email or username begins with q as a range of the (tenant_id, email) and
-- (tenant_id, username_key) unique indexes: from q up to q's successor (core's user_list.rs,
-- `prefix_bound`). That range holds exactly the strings that begin with q in code-point order
-- only, which is what the C collation gives; under a linguistic collation (en_US.UTF-8, ICU) it
-- may leave some out or take others in. So both columns compare in "C", as on SQLite, and their
-- unique indexes are rebuilt so. Equality, and so uniqueness, is unchanged (both collations are
-- deterministic); ordering users by email or username now agrees across the two backends.
ALTER TABLE users ALTER COLUMN email TYPE TEXT COLLATE "C";
ALTER TABLE users ALTER COLUMN username_key TYPE TEXT COLLATE "C";
