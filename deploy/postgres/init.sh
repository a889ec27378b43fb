#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data volume (the image runs
# /docker-entrypoint-initdb.d/*). The image has already created the database $POSTGRES_DB
# (auction). Here: one login role per service, each owning the one schema it may use.
# Changing a *_DB_PASSWORD later needs ALTER ROLE (or a fresh volume): this does not run again.
set -eo pipefail

: "${USERS_DB_PASSWORD:?is required}"
: "${AUCTIONS_DB_PASSWORD:?is required}"
: "${BIDDING_DB_PASSWORD:?is required}"
: "${NOTIFICATIONS_DB_PASSWORD:?is required}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     --set db="$POSTGRES_DB" <<'SQL'
-- Nobody connects to this database unless granted below.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL

create_service_role() {  # role schema password
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
         --set db="$POSTGRES_DB" --set role="$1" --set schema="$2" --set password="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
-- No CREATE on the database: the schema exists (below) and migrations only create it when
-- it is missing, so a service can never make a schema outside its own.
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
CREATE SCHEMA :"schema" AUTHORIZATION :"role";
ALTER ROLE :"role" IN DATABASE :"db" SET search_path = :"schema";
SQL
}

create_service_role users_svc users "$USERS_DB_PASSWORD"
create_service_role auctions_svc auctions "$AUCTIONS_DB_PASSWORD"
create_service_role bidding_svc bidding "$BIDDING_DB_PASSWORD"
create_service_role notifications_svc notifications "$NOTIFICATIONS_DB_PASSWORD"
