DROP INDEX signin_locks_by_age;
DROP TABLE signin_locks;
