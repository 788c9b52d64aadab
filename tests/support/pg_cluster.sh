#!/usr/bin/env bash
#   pg_cluster.sh - a private PostgreSQL 15 cluster in one folder, for the
#   tests (CTest fixture `pg`) and for scripts/run.sh.
#
#   pg_cluster.sh start DIR [--db NAME] [--template] [--keep] [--lgwanctl PATH]
#                           [--netns NS --listen ADDR]
#   pg_cluster.sh stop DIR
#   pg_cluster.sh status DIR
#
#   1. The cluster lives in DIR/data, listens only on a Unix socket in
#      DIR/sock (listen_addresses = ''), trusts local connections and runs
#      without fsync: it is for tests and demos, never for data you keep.
#      Trust is for the cluster's owner alone: the socket is 0700, so only
#      that user (and root, whom file modes do not stop) connects, each as
#      any role, superuser too; no other local user reaches it.
#   2. When run as root, the server runs as the `postgres` user (initdb
#      refuses root); DIR is chowned to it and every parent folder is made
#      traversable (o+x only: nothing becomes readable that was not).
#   3. `start` without --keep is for tests: a stale cluster left by a killed
#      run is stopped and removed first, then a fresh one is made, the
#      database NAME (default lgwan_template) is created and initialised with
#      `lgwanctl db init` (roles lgwan_<svc>, one schema per service) and,
#      with --template, marked as a template for CREATE DATABASE ... TEMPLATE.
#   4. `start --keep` is for scripts/run.sh: an existing cluster is reused
#      (started if stopped), the database is created if missing, and
#      `lgwanctl db init` runs again (it is idempotent).
#   5. Any failure exits non-zero with the reason and the server log's tail.
#      Without --lgwanctl the database is created bare (the caller prepares
#      it). If the lgwanctl given is missing, the database is created bare
#      with a warning, except with CI=true, where that is an error.
#   6. `--netns NS --listen ADDR` (tests of a database reached over TCP): the
#      server runs inside the network namespace NS, made by the caller, and
#      listens on ADDR there as well as on the socket, trusting any TCP
#      client: only a namespace of the test's own can reach it, which is why
#      --listen is refused without --netns.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres
MARKER=.lgwan-pg-cluster

die () {
    echo "pg_cluster: error: $*" >&2
    exit 1
}

note () {
    echo "pg_cluster: $*" >&2
}

usage () {
    echo "usage: pg_cluster.sh start DIR [--db NAME] [--template] [--keep] [--lgwanctl PATH]" >&2
    echo "                               [--netns NS --listen ADDR]" >&2
    echo "       pg_cluster.sh stop DIR" >&2
    echo "       pg_cluster.sh status DIR" >&2
    exit 2
}

[ $# -ge 2 ] || usage
ACTION=$1
DIR=$2
shift 2
DB=lgwan_template
TEMPLATE=0
KEEP=0
LGWANCTL=
NETNS=
LISTEN=
while [ $# -gt 0 ]; do
    case $1 in
        --db)       [ $# -ge 2 ] || usage; DB=$2; shift 2 ;;
        --template) TEMPLATE=1; shift ;;
        --keep)     KEEP=1; shift ;;
        --lgwanctl) [ $# -ge 2 ] || usage; LGWANCTL=$2; shift 2 ;;
        --netns)    [ $# -ge 2 ] || usage; NETNS=$2; shift 2 ;;
        --listen)   [ $# -ge 2 ] || usage; LISTEN=$2; shift 2 ;;
        *)          usage ;;
    esac
done
[[ $DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name must be [a-z_][a-z0-9_]*: $DB"
[ -n "$DIR" ] || usage
[ -z "$LISTEN" ] || [ -n "$NETNS" ] || die "--listen needs --netns (note 6)"
[ -z "$NETNS" ] || [ -n "$LISTEN" ] || die "--netns needs --listen"
[[ $LISTEN =~ ^[0-9a-fA-F.:]*$ ]] || die "--listen takes one IP address: $LISTEN"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
[ "$DIR" != / ] || die "refusing to use / as the cluster folder"
DATA=$DIR/data
SOCK=$DIR/sock
LOG=$DIR/postgres.log

[ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL 15 not found in $PG_BIN" \
    "(install postgresql-15: scripts/install-deps.sh)"

#   Unix socket paths are limited to 107 bytes by the kernel
SOCKET_FILE=$SOCK/.s.PGSQL.5432
[ ${#SOCKET_FILE} -le 100 ] || die "socket path too long (${#SOCKET_FILE} > 100 bytes):" \
    "$SOCKET_FILE; use a shorter build folder"

#   Run a PostgreSQL program as the cluster's owner.
as_owner () {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

psql_admin () {
    local db=$1
    shift
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -U postgres -d "$db" "$@"
}

show_log () {
    if [ -f "$LOG" ]; then
        echo "pg_cluster: last lines of $LOG:" >&2
        tail -n 30 "$LOG" >&2 || true
    fi
}

#   The live postmaster's id from postmaster.pid, if it is this cluster's
#   (a zombie left by a killed run, or a recycled id, does not count).
live_postmaster () {
    local pid state
    [ -f "$DATA/postmaster.pid" ] || return 1
    pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    case $state in ''|Z|X) return 1 ;; esac
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$DATA" || return 1
    echo "$pid"
}

is_running () {
    live_postmaster >/dev/null
}

#   Make every parent of DIR traversable for the postgres user.
open_parents () {
    local path=$DIR
    while [ "$path" != / ]; do
        path=$(dirname "$path")
        if ! runuser -u "$PG_USER" -- test -x "$path" 2>/dev/null; then
            note "making $path traversable (o+x) for the $PG_USER user"
            chmod o+x "$path" || die "could not make $path traversable"
        fi
    done
}

stop_cluster () {
    local pid
    pid=$(live_postmaster) || return 0
    if as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null; then
        return 0
    fi
    note "fast shutdown failed; trying immediate"
    if as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t 15 stop >/dev/null; then
        return 0
    fi
    if pid=$(live_postmaster); then
        note "killing postmaster $pid"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
        ! live_postmaster >/dev/null || die "could not stop the cluster in $DATA (pid $pid)"
    fi
}

remove_cluster () {
    if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -e "$DIR/$MARKER" ]; then
        die "$DIR is not empty and not a cluster made by pg_cluster.sh; refusing to remove it"
    fi
    stop_cluster
    rm -rf "$DATA" "$SOCK" "$LOG" "$DIR/$MARKER"
}

init_cluster () {
    mkdir -p "$DIR"
    touch "$DIR/$MARKER"
    mkdir -p "$SOCK"
    if [ "$(id -u)" -eq 0 ]; then
        id "$PG_USER" >/dev/null 2>&1 || die "user $PG_USER does not exist (install postgresql-15)"
        open_parents
        chown "$PG_USER:" "$DIR" "$SOCK"
    fi
    #   Superuser named postgres whoever runs it; no TCP at all
    if ! as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C \
            --auth-local=trust --auth-host=reject --no-instructions >"$DIR/initdb.log" 2>&1; then
        cat "$DIR/initdb.log" >&2
        die "initdb failed in $DATA"
    fi
    cat >>"$DATA/postgresql.conf" <<EOF

# pg_cluster.sh: a private cluster for tests and demos
listen_addresses = ''
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 1GB
timezone = 'UTC'
log_timezone = 'UTC'
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
EOF
}

start_server () {
    if is_running; then
        return 0
    fi
    #   Lock files of a server that died (its id may linger as a zombie,
    #   which PostgreSQL would take for a live server)
    rm -f "$DATA/postmaster.pid" "$SOCKET_FILE" "$SOCKET_FILE.lock"
    if [ "$(id -u)" -eq 0 ]; then
        #   Log file created by us, writable by the server
        touch "$LOG"
        chown "$PG_USER:" "$LOG"
    fi
    #   The socket's mode also on the command line (note 1): a cluster made
    #   before it was 0700 in postgresql.conf gets it too
    local start=(as_owner "$PG_BIN/pg_ctl") settings="-c unix_socket_permissions=0700"
    if [ -n "$NETNS" ]; then
        [ "$(id -u)" -eq 0 ] || die "--netns needs root"
        ip netns pids "$NETNS" >/dev/null 2>&1 || die "no network namespace $NETNS"
        grep -q '^host all all all trust' "$DATA/pg_hba.conf" \
            || echo 'host all all all trust   # pg_cluster.sh --netns' >>"$DATA/pg_hba.conf"
        start=(ip netns exec "$NETNS" runuser -u "$PG_USER" -- "$PG_BIN/pg_ctl")
        settings+=" -c listen_addresses=$LISTEN"
    fi
    local options=(-o "$settings")
    if ! "${start[@]}" -D "$DATA" -l "$LOG" "${options[@]}" \
            -w -t 60 start >/dev/null; then
        show_log
        die "could not start the cluster in $DATA"
    fi
}

db_exists () {
    [ "$(psql_admin postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ]
}

db_init () {
    if [ -z "$LGWANCTL" ]; then
        return 0    #  the caller prepares the database itself
    fi
    if [ ! -x "$LGWANCTL" ]; then
        if [ "${CI:-}" = true ]; then
            die "lgwanctl not found ($LGWANCTL): cannot run 'db init'"
        fi
        note "WARNING: lgwanctl not found ($LGWANCTL);" \
             "database $DB is created without roles or schemas"
        return 0
    fi
    if ! "$LGWANCTL" db init --admin-dsn "host=$SOCK dbname=$DB user=postgres"; then
        show_log
        die "'lgwanctl db init' failed on database $DB"
    fi
}

do_start () {
    if [ "$KEEP" -eq 1 ] && [ -f "$DATA/PG_VERSION" ]; then
        [ -e "$DIR/$MARKER" ] || die "$DATA was not made by pg_cluster.sh; refusing to use it"
    else
        remove_cluster
        init_cluster
    fi
    if [ "$(id -u)" -eq 0 ]; then
        open_parents
    fi
    start_server
    if ! db_exists; then
        psql_admin postgres -c "CREATE DATABASE $DB" || die "could not create database $DB"
    fi
    db_init
    if [ "$TEMPLATE" -eq 1 ]; then
        psql_admin postgres -c "ALTER DATABASE $DB IS_TEMPLATE true" \
            || die "could not mark $DB as a template"
    fi
    note "cluster running in $DATA, socket folder $SOCK, database $DB"
}

do_stop () {
    if [ ! -f "$DATA/PG_VERSION" ]; then
        note "no cluster in $DATA"
        return 0
    fi
    stop_cluster
    note "cluster in $DATA stopped"
}

do_status () {
    if is_running; then
        echo "postgresql: running (data $DATA, socket $SOCK)"
    elif [ -f "$DATA/PG_VERSION" ]; then
        echo "postgresql: stopped (data $DATA)"
        return 3
    else
        echo "postgresql: no cluster in $DATA"
        return 3
    fi
}

case $ACTION in
    start)  do_start ;;
    stop)   do_stop ;;
    status) do_status ;;
    *)      usage ;;
esac
