DROP TABLE project_members;
DROP TABLE projects;
DROP TABLE users;
DROP TABLE signing_keys;
DROP TABLE tenant_settings;
DROP TABLE tenant_hosts;
DROP TABLE tenants;
