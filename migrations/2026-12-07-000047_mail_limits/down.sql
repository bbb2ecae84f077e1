DROP INDEX mail_outbox_due_by_tenant;
DROP INDEX mail_requests_by_age;
DROP INDEX mail_requests_by_ip;
DROP INDEX mail_requests_by_email;
DROP TABLE mail_requests;
