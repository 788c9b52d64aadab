#!/usr/bin/env bash
#   install-deps.sh - the Debian 12 packages needed to build, test and run the
#   platform. Fast when they are all there already: apt runs only for what is
#   missing. Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config git ca-certificates
    protobuf-c-compiler
    libzmq3-dev libczmq-dev libprotobuf-c-dev libjansson-dev libyajl-dev libssl-dev libpq-dev
    libnftables-dev libmicrohttpd-dev
    # tests
    libcmocka-dev
    # fuzz targets (libFuzzer is clang's): tests/fuzz
    clang
    # run: private PostgreSQL clusters, enforcement, process tools
    postgresql-15 nftables iproute2 iputils-ping python3 procps psmisc util-linux openssl
    # validating docker-compose.yml (tests/system/test_compose.sh)
    docker-compose
)

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages are installed"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "install-deps: error: not root and no sudo; install: ${missing[*]}" >&2
        exit 1
    }
    SUDO=sudo
fi
#   Never ask (env passes the settings through sudo too)
APT=($SUDO env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1 apt-get)
"${APT[@]}" update -q
#   No recommends: docker-compose would bring the Docker daemon along
"${APT[@]}" install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
