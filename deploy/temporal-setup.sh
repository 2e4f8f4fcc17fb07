#!/bin/sh
# Temporal on PostgreSQL: the database schema and the namespace, set up the one way both
# docker-compose.yml (in the temporalio/admin-tools image) and the test bed
# (test/bed/temporal-postgres.ts, with binaries built from the server's Go module) do it.
#
#   temporal-setup.sh schema      create the main and visibility databases if missing, version
#                                 them (setup-schema -v 0.0) and migrate them to the newest schema
#                                 of this server release (update-schema)
#   temporal-setup.sh namespace   register TEMPORAL_NAMESPACE if the cluster does not have it
#
# Every step is idempotent: create-database ignores an existing database, setup-schema -v 0.0
# never lowers a recorded version, update-schema applies only what is missing. Re-running it on a
# live database (an upgrade, a restarted container) is safe.
#
# temporal-sql-tool reads its connection from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD; the rest:
#   TEMPORAL_SQL_TOOL (temporal-sql-tool)  TEMPORAL_SCHEMA_DIR (/etc/temporal/schema)
#   TEMPORAL_DB (temporal)  TEMPORAL_VISIBILITY_DB (temporal_visibility)
#   TEMPORAL_CLI (temporal)  TEMPORAL_ADDRESS  TEMPORAL_NAMESPACE (default)
set -eu

tool="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
schema_dir="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12"

setup_database() {
  "$tool" --db "$1" create-database
  "$tool" --db "$1" setup-schema -v 0.0
  "$tool" --db "$1" update-schema -d "$schema_dir/$2/versioned"
}

case "${1:-}" in
  schema)
    : "${SQL_PLUGIN:?set SQL_PLUGIN (postgres12)}" "${SQL_HOST:?set SQL_HOST}" "${SQL_USER:?set SQL_USER}"
    setup_database "${TEMPORAL_DB:-temporal}" temporal
    setup_database "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}" visibility
    ;;
  namespace)
    cli="${TEMPORAL_CLI:-temporal}"
    address="${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS (host:port of the frontend)}"
    namespace="${TEMPORAL_NAMESPACE:-default}"
    if ! "$cli" operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
      "$cli" operator namespace create --address "$address" --namespace "$namespace"
    fi
    ;;
  *)
    echo "usage: $0 schema|namespace" >&2
    exit 2
    ;;
esac
