-- The mail limits (MAIL_PER_EMAIL_PER_HOUR, MAIL_PER_IP_PER_HOUR) counted in the database, so that
-- they hold for the deployment and not per node: one row per mail-sending request (a reset asked,
-- a verification mail at signup or resend), whether or not the address has an account, counted
-- over the last hour. Neither the address nor the client address is kept: only a SHA-256 of each.
-- email_key is NULL for a request refused by the per-address limit (it still counts against the
-- client address). Rows older than an hour are pruned as new ones arrive. Times are Unix ms.
CREATE TABLE mail_requests (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    email_key   TEXT,
    ip_key      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX mail_requests_by_email ON mail_requests (tenant_id, email_key, created_at);
CREATE INDEX mail_requests_by_ip ON mail_requests (tenant_id, ip_key, created_at);
CREATE INDEX mail_requests_by_age ON mail_requests (tenant_id, created_at);

-- The sender claims per tenant (fair delivery): each tenant's due mail, oldest first.
CREATE INDEX mail_outbox_due_by_tenant ON mail_outbox (tenant_id, state, next_attempt_at);
