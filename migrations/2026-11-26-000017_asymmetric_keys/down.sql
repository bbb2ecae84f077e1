-- Before this migration every key was an HS256 secret: asymmetric keys cannot be read as one, so
-- they are retired rather than left to be misread.
UPDATE signing_keys SET retired_at = created_at WHERE alg <> 'HS256' AND retired_at IS NULL;
ALTER TABLE signing_keys DROP COLUMN not_before;
ALTER TABLE signing_keys DROP COLUMN public_key;
ALTER TABLE signing_keys DROP COLUMN alg;
