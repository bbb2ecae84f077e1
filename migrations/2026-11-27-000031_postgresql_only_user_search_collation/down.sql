-- PostgreSQL only (see up.sql): back to the database's default collation.
ALTER TABLE users ALTER COLUMN email TYPE TEXT COLLATE "default";
ALTER TABLE users ALTER COLUMN username_key TYPE TEXT COLLATE "default";
