-- Keys moved in from another tenant would verify nothing without their tenant id: retired first.
UPDATE signing_keys SET retired_at = created_at WHERE issued_for IS NOT NULL AND retired_at IS NULL;
ALTER TABLE signing_keys DROP COLUMN issued_for;
