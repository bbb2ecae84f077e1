DROP TABLE changes;
DROP TABLE revoked_tokens;
ALTER TABLE users DROP COLUMN tokens_valid_after;
