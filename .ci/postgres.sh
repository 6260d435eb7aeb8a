#!/usr/bin/env bash
# Start a PostgreSQL server on 127.0.0.1 for the storage tests and print the variable that points them at it:
#   eval "$(bash .ci/postgres.sh)"
# Installs Debian's postgresql package only when no server binaries are present. Idempotent: with the server
# already up it only makes sure the role and the database exist. Everything but the export line goes to stderr,
# so the eval sees nothing else. Runs as root (as CI does); the server itself runs as the postgres user.
set -euo pipefail

ROLE=ragbot
PASSWORD=ragbot
DATABASE=ragbot_test
CLUSTER=main

say() { echo "postgres.sh: $*" >&2; }

newest_bin() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(newest_bin)" ] || [ ! -x "$(newest_bin)/pg_ctl" ] || ! command -v pg_ctlcluster >/dev/null; then
    say "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
BIN="$(newest_bin)"
VERSION="$(basename "$(dirname "$BIN")")"

# The package creates the "main" cluster on install; a machine where it was dropped gets a new one.
if ! pg_lsclusters -h "$VERSION" "$CLUSTER" >/dev/null 2>&1; then
    say "creating cluster $VERSION/$CLUSTER"
    pg_createcluster "$VERSION" "$CLUSTER" >&2
fi
PORT="$(pg_lsclusters -h "$VERSION" "$CLUSTER" | awk '{print $3}')"

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

# The socket directory lives on a tmpfs in some containers and vanishes between boots.
install -d -o postgres -g postgres -m 2775 /var/run/postgresql
if ready; then
    say "cluster $VERSION/$CLUSTER already running on port $PORT"
else
    # Started here, the server holds throwaway test data: it runs without waiting for the disk (PostgreSQL's
    # "Non-Durable Settings"), for this run only; the cluster's configuration is left as it is. Each test makes
    # and drops a database of its own: with these the storage tests take ~6 s less CPU (measured, 2 cores).
    # A server that was already running keeps its own settings.
    fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    # A server killed a moment ago may still look alive (its children are exiting): try again after a pause.
    for attempt in 1 2 3; do
        say "starting cluster $VERSION/$CLUSTER on port $PORT (attempt $attempt)"
        pg_ctlcluster "$VERSION" "$CLUSTER" start -- -o "$fast" >&2 || true
        for _ in $(seq 1 20); do
            if ready; then
                break 2
            fi
            sleep 0.5
        done
    done
fi
if ! ready; then
    say "the server does not accept connections on 127.0.0.1:$PORT; see /var/log/postgresql/postgresql-$VERSION-$CLUSTER.log"
    exit 1
fi

psql_admin() { runuser -u postgres -- "$BIN/psql" -p "$PORT" -X -q -v ON_ERROR_STOP=1 -tA "$@"; }

# CREATEDB: the tests make a fresh database per test and drop it afterwards.
psql_admin -d postgres >&2 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
-- DROP DATABASE ... WITH (FORCE) must be able to end a background worker (e.g. autovacuum) still attached
-- to a test database, or dropping it fails now and then.
GRANT pg_signal_backend TO $ROLE;
SQL
if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    psql_admin -d postgres -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi

say "ready: $DATABASE on 127.0.0.1:$PORT"
echo "export RAGBOT_TEST_POSTGRES_URL=postgresql+asyncpg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
