#!/bin/sh
# The postgres image runs this once, when its data volume is first initialised (/docker-entrypoint-initdb.d).
# parley_owner owns the database and runs `migrate`; parley_app is what web and worker connect as, and gets its
# privileges from each migrate (archive.db_roles). POSTGRES_USER (parley) stays the cluster's superuser, for
# administrators only. An existing volume needs the same by hand: docs/security.md, "Database roles".
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v database="$POSTGRES_DB" \
  -v owner_password="$PARLEY_OWNER_DB_PASSWORD" \
  -v app_password="$PARLEY_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE parley_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE parley_app LOGIN PASSWORD :'app_password';
-- The database's owner owns its public schema too (PostgreSQL 15: pg_database_owner), so it may create tables.
ALTER DATABASE :"database" OWNER TO parley_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
