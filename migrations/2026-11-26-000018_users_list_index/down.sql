DROP INDEX users_by_created;
