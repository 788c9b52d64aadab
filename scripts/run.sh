#!/usr/bin/env bash
#   run.sh - THE run command: the whole platform on one machine.
#
#   scripts/run.sh [start|stop|status]      (default: start)
#
#   start   installs what is missing, builds the service binaries and
#           lgwanctl into build/ (configured once, when build/ has no
#           CMakeCache.txt; the tests, benchmarks and fuzzers are
#           scripts/test.sh's to build), starts a private
#           PostgreSQL cluster in run/pg (Unix socket only, in run/pg/sock),
#           runs `lgwanctl db init`, makes certificates in run/certs, starts
#           every service binary that was built (build/services/*/lgwan-*)
#           with its log in run/log/<svc>.log and its pid in run/<svc>.pid,
#           loads the demo data (deploy/demo/load.sh, when present) until a
#           load has ended well, which run/demo.loaded records for this
#           cluster's database (a load cut short runs again at the next
#           start: load.sh is idempotent), and prints how to use it.
#           Running it again starts only what is not running; data and
#           certificates are kept.
#   stop    stops the services (SIGTERM, then SIGKILL after 15 s) and the
#           cluster; run/ stays, so the next start continues where this left.
#   status  shows what is running; exit 0 only when every service built runs
#           and answers (the enforcer: its isolation service saw it in the
#           last 10 s), no service has lost its database, and the cluster
#           is up; else 1.
#
#   To start from nothing: scripts/run.sh stop && rm -rf run
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

BUILD=$ROOT/build
RUN=$ROOT/run
PGDIR=$RUN/pg
SOCK=$PGDIR/sock
CERTS=$RUN/certs
LOGS=$RUN/log
LGWANCTL=$BUILD/tools/lgwanctl/lgwanctl
DB=lgwan
JOBS=${LG_JOBS:-2}
ENFORCER_POINT=demo-dry-run

#   Start order: producers before their consumers (catch-up makes the order
#   a matter of speed, not of correctness). Unknown binaries come last.
ORDER=(registry billing audit monitor isolation orchestrator enforcer)
#   Services with a key pair, a database role and a schema
KEYED=(registry billing audit monitor isolation orchestrator)
#   Client certificates: name role operator_id provider_id point (the
#   enforcer's: the one point it may speak as, X.3). The providers
#   are two of the demo's (deploy/demo/load.sh files them in this order):
#   4, LGWAN Cloud KK, application & content holder of service 1 with a
#   contract with Sapporo; 5, Municipal Data Centre KK, its hosting provider,
#   which holds connection 1 and the planned audit's remediation requests
CLIENTS=(
    "operator operator alice - -"
    "operator2 operator bob - -"
    "reviewer reviewer rita - -"
    "auditor auditor aki - -"
    "viewer viewer - - -"
    "billing billing - - -"
    "enforcer enforcer - - $ENFORCER_POINT"
    "sensor sensor - - -"
    "provider-cloud provider - 4 -"
    "provider-dc provider - 5 -"
)

die () {
    echo "run.sh: error: $*" >&2
    exit 1
}

note () {
    echo "run.sh: $*"
}

#   Service names of the built binaries, in start order.
built_services () {
    local found=() svc bin
    for bin in "$BUILD"/services/*/lgwan-*; do
        [ -f "$bin" ] && [ -x "$bin" ] || continue
        found+=("$(basename "$bin")")
    done
    for svc in "${ORDER[@]}"; do
        for bin in "${found[@]}"; do
            [ "$bin" = "lgwan-$svc" ] && echo "$svc"
        done
    done
    for bin in "${found[@]}"; do
        svc=${bin#lgwan-}
        [[ " ${ORDER[*]} " == *" $svc "* ]] || echo "$svc"
    done
}

service_binary () {
    echo "$BUILD/services/$1/lgwan-$1"
}

#   The pid of the running service, from its pid file; fails when not running.
running_pid () {
    local svc=$1 pidfile=$RUN/$1.pid pid name state
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    case $state in ''|Z|X) return 1 ;; esac
    name=$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)
    [ "$(basename "$name")" = "lgwan-$svc" ] || return 1
    echo "$pid"
}

#   Request port from DESIGN.md's table, or nothing.
service_port () {
    case $1 in
        registry) echo 7101 ;; billing) echo 7102 ;; audit) echo 7103 ;;
        monitor) echo 7104 ;; isolation) echo 7105 ;; orchestrator) echo 7106 ;;
    esac
}

port_listening () {
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

make_certs () {
    local svc entry name role operator provider point
    mkdir -p "$CERTS/clients"
    for svc in "${KEYED[@]}"; do
        if [ ! -f "$CERTS/services/${svc}_secret" ]; then
            LG_CERT_DIR=$CERTS "$LGWANCTL" keygen --service "$svc" >/dev/null \
                || die "could not make the key pair of $svc ('lgwanctl keygen --service $svc')"
        fi
    done
    for entry in "${CLIENTS[@]}"; do
        read -r name role operator provider point <<<"$entry"
        if [ "$point" != - ] && [ -f "$CERTS/clients/${name}_secret" ] \
           && ! grep -q "^ *point = \"$point\"\$" "$CERTS/clients/${name}_secret"; then
            #   Made before a certificate named its enforcement point (X.3):
            #   isolation would refuse it, so it is replaced
            note "the certificate $name names no enforcement point $point: replacing it"
            LG_CERT_DIR=$CERTS "$LGWANCTL" cert revoke --name "$name" >/dev/null 2>&1 || true
            rm -f "$CERTS/clients/$name" "$CERTS/clients/${name}_secret"
        fi
        [ -f "$CERTS/clients/${name}_secret" ] && continue
        local args=(keygen --name "$name" --role "$role" --out "$CERTS/clients")
        [ "$operator" = - ] || args+=(--operator-id "$operator")
        [ "$provider" = - ] || args+=(--provider-id "$provider")
        [ "$point" = - ] || args+=(--point "$point")
        LG_CERT_DIR=$CERTS "$LGWANCTL" "${args[@]}" >/dev/null \
            || die "could not make the client certificate $name ('lgwanctl ${args[*]}')"
    done
}

start_service () {
    local svc=$1 bin upper pid port waited
    bin=$(service_binary "$svc")
    if pid=$(running_pid "$svc"); then
        note "$svc already running (pid $pid)"
        return 0
    fi
    upper=$(tr '[:lower:]' '[:upper:]' <<<"$svc")
    local env=(LG_CERT_DIR="$CERTS")
    if [[ " ${KEYED[*]} " == *" $svc "* ]]; then
        env+=("LG_${upper}_DB=host=$SOCK dbname=$DB user=lgwan_$svc")
    fi
    if [ "$svc" = billing ]; then
        #   A qualified invoice names its issuer: the operating body's
        #   registration number (the demo's J-LIS corporate number)
        env+=("LG_BILLING_ISSUER_REGISTRATION=${LG_BILLING_ISSUER_REGISTRATION:-T8010005018863}")
    fi
    if [ "$svc" = monitor ]; then
        #   Sensors on this machine: Suricata's EVE lines into the Unix
        #   socket, or appended to the followed file (the demo data does)
        mkdir -p "$RUN/eve"
        env+=("LG_MONITOR_EVE_SOCKET=$RUN/eve/monitor.sock" "LG_MONITOR_EVE_FILE=$RUN/eve/eve.json")
    fi
    if [ "$svc" = enforcer ]; then
        #   The embedded platform has no gateway: one enforcement point in
        #   dry run records and acknowledges every version and changes no
        #   firewall of this machine (its acks say so). Its acks count, so
        #   every change is "in force", published and mirrored while nothing
        #   is dropped; isolation names it in dry_run_points and lgwanctl
        #   says "DRY RUN at demo-dry-run: nothing dropped there". A real
        #   gateway runs it with LG_ENFORCER_NETNS set and without dry run.
        env+=("LG_ENFORCER_POINT=$ENFORCER_POINT" LG_ENFORCER_NETNS=host LG_ENFORCER_DRY_RUN=true
              "LG_ENFORCER_CERT=$CERTS/clients/enforcer_secret")
    fi
    {
        echo "---- $(date -u '+%Y-%m-%d %H:%M:%S UTC') run.sh start"
    } >>"$LOGS/$svc.log"
    #   setsid: its own session, so closing this terminal does not stop it
    env "${env[@]}" setsid "$bin" </dev/null >>"$LOGS/$svc.log" 2>&1 &
    pid=$!
    echo "$pid" >"$RUN/$svc.pid"
    port=$(service_port "$svc")
    waited=0
    while [ $waited -lt 150 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$RUN/$svc.pid"
            echo "run.sh: $svc exited at start; end of $LOGS/$svc.log:" >&2
            tail -n 20 "$LOGS/$svc.log" >&2
            die "could not start $svc"
        fi
        if [ -n "$port" ] && port_listening "$port"; then
            break
        fi
        [ -n "$port" ] || [ $waited -lt 10 ] || break
        sleep 0.1
        waited=$((waited + 1))
    done
    if [ -n "$port" ] && ! port_listening "$port"; then
        note "WARNING: $svc (pid $pid) is not listening on $port yet; see $LOGS/$svc.log"
    else
        note "$svc started (pid $pid${port:+, port $port})"
    fi
}

stop_service () {
    local svc=$1 pid waited=0
    if ! pid=$(running_pid "$svc"); then
        rm -f "$RUN/$svc.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    while running_pid "$svc" >/dev/null && [ $waited -lt 150 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if running_pid "$svc" >/dev/null; then
        note "$svc (pid $pid) did not stop in 15 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$svc.pid"
    note "$svc stopped"
}

#   The demo data is loaded until one load has ended well; run/demo.loaded,
#   written last, names the database it went into (the cluster's system
#   identifier and the database's oid), so a cluster or database made afresh
#   gets the demo data again. A load that died part-way is run again whole:
#   load.sh is idempotent (every request has a fixed request id, answered
#   from its stored reply the second time)
load_demo () {
    local loader=$ROOT/deploy/demo/load.sh database
    local done_file=$RUN/demo.loaded
    if [ ! -f "$loader" ]; then
        note "no demo data loader (deploy/demo/load.sh): starting empty"
        return 0
    fi
    database=$(psql -X "host=$SOCK dbname=$DB user=postgres" -Atc \
               "SELECT s.system_identifier || '/' || d.oid FROM pg_control_system () s, pg_database d
                 WHERE d.datname = current_database ()") && [ -n "$database" ] \
        || die "could not ask the database which it is"
    if [ -f "$done_file" ] && [ "$(cat "$done_file")" = "$database" ]; then
        note "demo data loaded before ($done_file): not loaded again"
        return 0
    fi
    note "loading demo data (deploy/demo/load.sh)"
    if ! LGWANCTL=$LGWANCTL LG_CERT_DIR=$CERTS LGWANCTL_CERT=$CERTS/clients/operator_secret \
         LG_CLIENT_DIR=$CERTS/clients LG_RUN_DIR=$RUN bash "$loader"; then
        die "loading the demo data failed (deploy/demo/load.sh); the next 'scripts/run.sh start'" \
            "loads it again and finishes it"
    fi
    printf '%s\n' "$database" >"$done_file.tmp" && mv "$done_file.tmp" "$done_file" \
        || die "could not write $done_file"
}

#   The targets the platform runs: lgwanctl and lgwan-<service> of each
#   folder in services/ (services/CMakeLists.txt: one folder per service)
platform_targets () {
    local dir
    echo lgwanctl
    for dir in "$ROOT"/services/*/; do
        [ -f "$dir/CMakeLists.txt" ] && echo "lgwan-$(basename "$dir")"
    done
}

#   Configured once: configuring again moves flags (-isystem between
#   C_INCLUDES and C_FLAGS), which rebuilds everything; `cmake --build`
#   configures again by itself when a CMakeLists.txt changed. Only what the
#   platform runs is built, not the tests, benchmarks and fuzzers
build_platform () {
    local targets=()
    mkdir -p "$BUILD"
    if [ ! -f "$BUILD/CMakeCache.txt" ] || { [ ! -f "$BUILD/Makefile" ] && [ ! -f "$BUILD/build.ninja" ]; }; then
        note "configuring $BUILD"
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD/run-configure.log" 2>&1 \
            || { tail -n 40 "$BUILD/run-configure.log" >&2; die "configuring failed (log $BUILD/run-configure.log)"; }
    fi
    mapfile -t targets < <(platform_targets)
    note "building ${targets[*]} in $BUILD"
    cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" >"$BUILD/run-build.log" 2>&1 \
        || { tail -n 40 "$BUILD/run-build.log" >&2; die "build failed (log $BUILD/run-build.log)"; }
}

do_start () {
    bash "$ROOT/scripts/install-deps.sh"
    build_platform
    [ -x "$LGWANCTL" ] || die "the build made no lgwanctl ($LGWANCTL)"

    mkdir -p "$RUN" "$LOGS"
    bash "$ROOT/tests/support/pg_cluster.sh" start "$PGDIR" --keep --db "$DB" --lgwanctl "$LGWANCTL"
    make_certs

    local services svc
    mapfile -t services < <(built_services)
    [ ${#services[@]} -gt 0 ] || die "no service binaries in $BUILD/services"
    for svc in "${services[@]}"; do
        start_service "$svc"
    done
    load_demo
    #   The one enforcer is in dry run (start_service): every change it acks
    #   is reported in force while nothing is dropped, so say it here too
    local enforcement="Enforcement: no enforcer was built, so nothing is dropped anywhere"
    if [[ " ${services[*]} " == *" enforcer "* ]]; then
        enforcement="Enforcement: one enforcer, point $ENFORCER_POINT, in DRY RUN: it acks every change and
            drops nothing, so a disconnection is reported \"in force\" with \"DRY RUN at
            $ENFORCER_POINT: nothing dropped there\" (lgwanctl isolation show --connection N)"
    fi

    cat <<EOF

The platform is running: ${services[*]}.

Use it (lgwanctl finds the services on this machine by their default ports):
    export LG_CERT_DIR=$CERTS
    export LGWANCTL_CERT=$CERTS/clients/operator_secret    # operator alice
    export PATH=$BUILD/tools/lgwanctl:\$PATH
    lgwanctl --help
Other identities, each a secret file in $CERTS/clients/, given per command:
    LGWANCTL_CERT=$CERTS/clients/reviewer_secret lgwanctl review queue   # reviewer rita
    operator2_secret  operator bob (the second operator)
    reviewer_secret   reviewer rita        auditor_secret   auditor aki
    viewer_secret     reads everything     billing_secret   billing (payment record, the billing stream)
    sensor_secret     pushes SecurityEvent batches (tcp://127.0.0.1:7304)
    enforcer_secret   the dry-run enforcer's own (point $ENFORCER_POINT); nothing for lgwanctl
    provider-cloud_secret  provider 4, LGWAN Cloud KK: its own records only
    provider-dc_secret     provider 5, Municipal Data Centre KK (hosting): its own records only
Providers (their own records; the demo's remediation requests are provider 5's):
    LGWANCTL_CERT=$CERTS/clients/provider-dc_secret lgwanctl remediation list
    LGWANCTL_CERT=$CERTS/clients/provider-dc_secret lgwanctl remediation report --remediation 1 \\
        --report "不要な許可ルールを削除した" --evidence '[{"reference":"変更記録 2026-11-20","effectiveOn":"2026-11-20"}]'
    LGWANCTL_CERT=$CERTS/clients/provider-cloud_secret lgwanctl contract list --provider 4
$enforcement
Sensors:    EVE lines into $RUN/eve/monitor.sock or appended to $RUN/eve/eve.json;
            protobuf batches (sensor certificate) to tcp://127.0.0.1:7304
Database:   psql "host=$SOCK dbname=$DB user=postgres"
Logs:       $LOGS/<service>.log
Status:     scripts/run.sh status
Stop:       scripts/run.sh stop
EOF
}

do_stop () {
    local pidfile svc services=() index
    for pidfile in "$RUN"/*.pid; do
        [ -f "$pidfile" ] || continue
        services+=("$(basename "$pidfile" .pid)")
    done
    #   Reverse start order: consumers first
    local ordered=()
    mapfile -t ordered < <(
        for svc in "${ORDER[@]}"; do
            [[ " ${services[*]} " == *" $svc "* ]] && echo "$svc"
        done
        for svc in "${services[@]}"; do
            [[ " ${ORDER[*]} " == *" $svc "* ]] || echo "$svc"
        done)
    for ((index = ${#ordered[@]} - 1; index >= 0; index--)); do
        stop_service "${ordered[index]}"
    done
    bash "$ROOT/tests/support/pg_cluster.sh" stop "$PGDIR"
}

#   The dry-run enforcer's point (start_service): when isolation last saw
#   it, as seconds ago, or nothing
enforcer_seen () {
    local json
    json=$(LG_CERT_DIR=$CERTS LGWANCTL_CERT=$CERTS/clients/viewer_secret "$LGWANCTL" \
           isolation points --json --timeout 1000 --retries 0 2>/dev/null) || return 1
    printf '%s' "$json" | python3 -c '
import datetime, json, sys
for point in json.load(sys.stdin).get("points", []):
    if point.get("name") == sys.argv[1] and point.get("lastSeen"):
        seen = datetime.datetime.strptime(point["lastSeen"], "%Y-%m-%dT%H:%M:%S.%fZ")
        print(int((datetime.datetime.utcnow() - seen).total_seconds()))
' "$ENFORCER_POINT" 2>/dev/null | grep .
}

#   What a running service says of itself (Stats, as the viewer): whether it
#   answers, its requests, whether its database is there, and the database
#   connections it lost and made. Returns 1 when it does not answer or its
#   database is down (the enforcer: when isolation has not seen it for 10 s)
service_health () {
    local svc=$1 json count seen
    [ -x "$LGWANCTL" ] && [ -f "$CERTS/clients/viewer_secret" ] || { printf '; not asked (no lgwanctl or viewer certificate)'; return 1; }
    if [ "$svc" = enforcer ]; then
        if ! seen=$(enforcer_seen); then
            printf '; not seen by isolation (point %s)' "$ENFORCER_POINT"
            return 1
        fi
        printf '; seen by isolation %s s ago (point %s)' "$seen" "$ENFORCER_POINT"
        [ "$seen" -le 10 ]
        return
    fi
    if ! json=$(LG_CERT_DIR=$CERTS LGWANCTL_CERT=$CERTS/clients/viewer_secret "$LGWANCTL" \
                stats show --service "$svc" --json --timeout 1000 --retries 0 2>/dev/null); then
        printf '; not answering'
        return 1
    fi
    count () {
        local n
        n=$(printf '%s' "$json" | grep -o "\"name\":\"$1\",\"count\":\"[0-9]*\"" | grep -o '[0-9]*"$' | tr -d '"') || true
        printf '%s' "${n:-0}"
    }
    local database=up
    [ "$(count database.up)" = 1 ] || database=DOWN
    printf '; answers: %s requests, database %s, connections lost %s, made %s' \
           "$(printf '%s' "$json" | grep -o '"requests":"[0-9]*"' | grep -o '[0-9]*' || echo 0)" \
           "$database" "$(count database.connections_lost)" "$(count database.connects)"
    [ "$database" = up ]
}

do_status () {
    local svc pid health healthy=1
    local services=()
    mapfile -t services < <(built_services)
    for svc in "${services[@]}"; do
        if pid=$(running_pid "$svc"); then
            if health=$(service_health "$svc"); then
                echo "$svc: running (pid $pid, log $LOGS/$svc.log)$health"
            else
                echo "$svc: running, NOT WELL (pid $pid, log $LOGS/$svc.log)$health"
                healthy=0
            fi
        else
            echo "$svc: stopped"
            healthy=0
        fi
    done
    if [ ${#services[@]} -eq 0 ]; then
        echo "no service binaries built yet (scripts/run.sh start builds them)"
        healthy=0
    fi
    bash "$ROOT/tests/support/pg_cluster.sh" status "$PGDIR" || healthy=0
    [ "$healthy" -eq 1 ] || { echo "run.sh: not every part of the platform is running and well" >&2; return 1; }
}

case ${1:-start} in
    start)  do_start ;;
    stop)   do_stop ;;
    status) do_status ;;
    *)      echo "usage: scripts/run.sh [start|stop|status]" >&2; exit 2 ;;
esac
