-- Tiledesk's profile fields beyond the names (PUT /users: attributes, description, public_email,
-- public_website, phone), kept as one JSON document.
ALTER TABLE users ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
