DROP INDEX mail_outbox_due;
DROP TABLE mail_outbox;
DROP INDEX mail_codes_by_expiry;
DROP INDEX mail_codes_by_user;
DROP TABLE mail_codes;
