#!/usr/bin/env bash
#   test_compose - docker-compose.yml is valid, runs only binaries the build
#   makes, runs every service binary the build makes, and configures our
#   containers only with variables README's configuration table documents
#   (rows starting with | `LG_...`; <SVC>-style placeholders match any name).
#
#   `docker-compose config` validates without a Docker daemon. Variables the
#   file requires (${NAME:?...}) get dummy values here when unset.
#   Exit 0 ok, 1 failed, 77 skipped (only outside CI).
set -euo pipefail

SRC=${LG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
BUILD=${LG_BUILD_DIR:-$SRC/build}
COMPOSE=$SRC/docker-compose.yml
README=$SRC/README.md

fail () {
    echo "test_compose: FAIL: $*" >&2
    exit 1
}

unavailable () {
    if [ "${CI:-}" = true ]; then
        fail "$* (CI=true: not skipped)"
    fi
    echo "test_compose: SKIP: $*" >&2
    exit 77
}

command -v docker-compose >/dev/null || unavailable "docker-compose is not installed (scripts/install-deps.sh)"
PYTHON=/usr/bin/python3
"$PYTHON" -c 'import yaml' 2>/dev/null || unavailable "$PYTHON with yaml (docker-compose's own) is missing"
[ -f "$COMPOSE" ] || fail "$COMPOSE not found"
[ -f "$README" ] || fail "README.md not found in $SRC: its configuration table (rows" \
    "starting with | \`LG_...\`) lists the variables docker-compose.yml may use"
[ -d "$BUILD" ] || fail "build folder $BUILD not found (LG_BUILD_DIR)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

#   Dummy values for the variables the file interpolates, when unset
env_args=()
while read -r name; do
    [ -n "$name" ] || continue
    if [ -z "${!name:-}" ]; then
        env_args+=("$name=compose-test-$name")
    fi
done < <(grep -o '\${[A-Za-z_][A-Za-z0-9_]*' "$COMPOSE" | cut -c3- | sort -u)

if ! env "${env_args[@]}" docker-compose -f "$COMPOSE" --project-directory "$SRC" config \
        >"$tmp/resolved.yml" 2>"$tmp/error"; then
    cat "$tmp/error" >&2
    fail "docker-compose config rejects $COMPOSE"
fi
echo "test_compose: docker-compose config accepts $COMPOSE"

"$PYTHON" - "$tmp/resolved.yml" "$README" "$BUILD" <<'EOF'
import glob, os, re, shlex, sys
import yaml

resolved, readme, build = sys.argv[1:4]
config = yaml.safe_load(open(resolved))
problems = []

# Variables README documents: backticked LG_ names in a table row's first cell
patterns = []
for line in open(readme, encoding="utf-8"):
    if not line.startswith("| `LG_"):
        continue
    first_cell = line.split("|")[1]
    for name in re.findall(r"`(LG_[^`]*)`", first_cell):
        regex = "".join("[A-Z0-9_]+" if part.startswith("<") else re.escape(part)
                        for part in re.split(r"(<[^>]*>)", name))
        patterns.append((name, re.compile(regex + r"\Z")))
if not patterns:
    problems.append("README.md has no configuration table rows (lines starting with | `LG_)")

def documented(variable):
    return any(p.match(variable) for _, p in patterns)

# Binaries the build makes
made = {}
for path in glob.glob(os.path.join(build, "services", "*", "lgwan-*")) + \
            glob.glob(os.path.join(build, "tools", "*", "*")):
    if os.path.isfile(path) and os.access(path, os.X_OK):
        made[os.path.basename(path)] = path
service_binaries = {os.path.basename(p) for p in
                    glob.glob(os.path.join(build, "services", "*", "lgwan-*"))
                    if os.path.isfile(p) and os.access(p, os.X_OK)}

def ours(service):
    return "build" in service or str(service.get("image", "")).startswith("lgwan")

commanded = set()
for name, service in sorted(config.get("services", {}).items()):
    if not ours(service):
        continue
    command = service.get("entrypoint") or service.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    if not command:
        problems.append(f"service {name}: no command (which binary does it run?)")
    else:
        binary = os.path.basename(command[0])
        commanded.add(binary)
        if binary not in made:
            problems.append(f"service {name}: runs {binary}, which the build in {build} does not make")
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    for variable in sorted(environment):
        if not documented(variable):
            problems.append(f"service {name}: variable {variable} is not in README's configuration table")
    print(f"test_compose: service {name}: {' '.join(command or [])!s:.60} "
          f"({len(environment)} variables)")

for binary in sorted(service_binaries - commanded):
    problems.append(f"the build makes {binary} but no service in docker-compose.yml runs it")

for problem in problems:
    print(f"test_compose: FAIL: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
echo "test_compose: ok"
