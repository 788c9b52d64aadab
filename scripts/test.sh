#!/usr/bin/env bash
#   test.sh - THE test command: every test of the project, as CI runs it.
#
#   1. Installs what is missing (scripts/install-deps.sh).
#   2. Builds into build/ (RelWithDebInfo) and runs every test there:
#      unit, integration and system (ctest -j2; the fixture `pg` starts a
#      private PostgreSQL cluster in build/testpg).
#   3. Builds with ASan + UBSan into build-asan/ and runs unit, integration
#      and the system tests matching LG_ASAN_SYSTEM_TESTS (a ctest -R
#      regular expression, anchored; default: every system test but compose,
#      which checks docker-compose.yml and runs no C; empty skips the step).
#   4. Runs every bench_* program in build/bench with --smoke, against its
#      own cluster in build/benchpg.
#   5. Ends with one line "N passed, M failed": N and M count ctest results of
#      both builds, plus bench runs; a build or a ctest run that fails
#      without a test result (no tests found, ...) counts as one failure.
#      A test ctest reports skipped (exit code 77: a tool missing) is not
#      counted as passed: it is named, with a line "K skipped" before the
#      last. Exit status 0 only when M is 0.
#
#   Environment: LG_JOBS (default 2), LG_ASAN_SYSTEM_TESTS, CI (=true in CI:
#   tests then fail where they would otherwise skip).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

JOBS=${LG_JOBS:-2}
BUILD=$ROOT/build
ASAN_BUILD=$ROOT/build-asan
ASAN_SYSTEM_TESTS=${LG_ASAN_SYSTEM_TESTS-system\.test_(audit|billing|enforcement|events|isolation|lgwanctl|monitor|pg_outage|random_requests|registry|registry_changes|registry_connections|registry_filings)}
CTEST_TIMEOUT=600         #  per test, over any TIMEOUT property missing
BENCH_TIMEOUT=300         #  per bench program in smoke mode

PASSED=0
FAILED=0
FAILURES=()
SKIPS=()
START=$SECONDS

say () {
    printf '\n=== test.sh: %s (%ds)\n' "$*" $((SECONDS - START))
}

failed () {
    FAILED=$((FAILED + 1))
    FAILURES+=("$1")
    echo "test.sh: FAILED: $1" >&2
}

#   build NAME DIR [cmake options...]: configure and build; 0 ok. The full
#   output is in DIR/build.log; its end is shown when it fails.
build () {
    local name=$1 dir=$2
    shift 2
    say "building $name in $dir"
    mkdir -p "$dir"
    if cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir/build.log" 2>&1 \
       && cmake --build "$dir" -j "$JOBS" >>"$dir/build.log" 2>&1; then
        echo "test.sh: $name built ($(grep -c 'warning:' "$dir/build.log" || true) warning lines;" \
             "log $dir/build.log)"
        return 0
    fi
    echo "test.sh: end of $dir/build.log:" >&2
    tail -n 60 "$dir/build.log" >&2
    failed "build $name"
    return 1
}

#   run_ctest NAME DIR [ctest options...]: run, show, and count the results.
run_ctest () {
    local name=$1 dir=$2
    shift 2
    local log=$dir/ctest-$name.log
    local rc=0
    say "ctest $name: $*"
    ctest --test-dir "$dir" --output-on-failure --no-tests=error --timeout "$CTEST_TIMEOUT" \
          "$@" 2>&1 | tee "$log" || rc=$?
    local summary total fails
    summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    if [ -n "$summary" ]; then
        fails=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
        total=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
        #   ctest counts a skipped test as not failed: it did not pass either
        local skipped=()
        while read -r line; do
            skipped+=("$name: $line")
        done < <(sed -n '/^The following tests did not run:/,/^$/ { /(Skipped)/p }' "$log" \
                 | sed -E 's/^[[:space:]]+//')
        PASSED=$((PASSED + total - fails - ${#skipped[@]}))
        FAILED=$((FAILED + fails))
        SKIPS+=("${skipped[@]}")
        if [ "$fails" -gt 0 ]; then
            while read -r line; do
                FAILURES+=("$name: $line")
            done < <(sed -n '/^The following tests FAILED:/,$ { /^[[:space:]]*[0-9]\+ - /p }' "$log" \
                     | sed -E 's/^[[:space:]]+//')
        fi
    fi
    if [ "$rc" -ne 0 ] && { [ -z "$summary" ] || [ "$fails" -eq 0 ]; }; then
        failed "ctest $name exited with $rc without a failed test (see $log)"
    fi
}

#   bench_smoke DIR: every bench_* in DIR/bench with --smoke.
bench_smoke () {
    local dir=$1
    local benches=()
    if [ -d "$dir/bench" ]; then
        while IFS= read -r -d '' bench; do
            benches+=("$bench")
        done < <(find "$dir/bench" -maxdepth 1 -type f -name 'bench_*' -perm -u+x -print0 | sort -z)
    fi
    if [ ${#benches[@]} -eq 0 ]; then
        say "bench smoke: no bench_* programs built"
        return 0
    fi
    say "bench smoke: ${#benches[@]} programs"
    local pgdir=$dir/benchpg
    if ! bash "$ROOT/tests/support/pg_cluster.sh" start "$pgdir" --template --db lgwan_template \
            --lgwanctl "$dir/tools/lgwanctl/lgwanctl"; then
        failed "bench smoke: could not start PostgreSQL in $pgdir"
        return 0
    fi
    trap 'bash "$ROOT/tests/support/pg_cluster.sh" stop "'"$pgdir"'" || true' EXIT
    local bench name rc
    for bench in "${benches[@]}"; do
        name=$(basename "$bench")
        rc=0
        echo "--- $name --smoke"
        LG_TEST_PGHOST=$pgdir/sock LG_BUILD_DIR=$dir LG_SOURCE_DIR=$ROOT \
            timeout "$BENCH_TIMEOUT" "$bench" --smoke >"$dir/$name-smoke.log" 2>&1 || rc=$?
        tail -n 20 "$dir/$name-smoke.log"
        if [ "$rc" -eq 0 ]; then
            PASSED=$((PASSED + 1))
        else
            failed "bench $name --smoke exited with $rc (log $dir/$name-smoke.log)"
        fi
    done
    bash "$ROOT/tests/support/pg_cluster.sh" stop "$pgdir" || failed "bench smoke: stopping PostgreSQL"
    trap - EXIT
}

say "installing dependencies"
bash "$ROOT/scripts/install-deps.sh"

if build release "$BUILD"; then
    run_ctest all "$BUILD" -j "$JOBS"

    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    if build asan "$ASAN_BUILD" -DLG_SANITIZE=ON; then
        run_ctest asan "$ASAN_BUILD" -j "$JOBS" -L '^(unit|integration)$'
        if [ -n "$ASAN_SYSTEM_TESTS" ]; then
            run_ctest asan-system "$ASAN_BUILD" -j "$JOBS" -R "^(${ASAN_SYSTEM_TESTS})\$"
        fi
    fi
    unset ASAN_OPTIONS UBSAN_OPTIONS

    bench_smoke "$BUILD"
else
    echo "test.sh: the release build failed: skipping its tests, the sanitizer build and benches" >&2
fi

say "done"
if [ ${#FAILURES[@]} -gt 0 ]; then
    echo "Failures:"
    printf '  %s\n' "${FAILURES[@]}"
fi
if [ ${#SKIPS[@]} -gt 0 ]; then
    echo "Skipped (in CI, with CI=true, a missing tool fails instead):"
    printf '  %s\n' "${SKIPS[@]}"
    echo "${#SKIPS[@]} skipped"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
