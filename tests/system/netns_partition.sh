#!/usr/bin/env bash
#   netns_partition.sh - test_db_partition's small network, in namespaces it
#   makes and always removes. Nothing here touches the host's addresses,
#   routes or ruleset.
#
#     TAG-svc (a service) ── TAG-mid (a router) ── TAG-db (PostgreSQL)
#     10.213.0.1/30        .2/30          .5/30    10.213.0.6/30
#
#   `cut` drops everything the router forwards: both ends see silence, as
#   in a real partition (no RST, no ICMP, their own kernels send as usual).
#
#   netns_partition.sh up TAG
#   netns_partition.sh cut TAG
#   netns_partition.sh heal TAG
#   netns_partition.sh down TAG
set -euo pipefail

die () { echo "netns_partition: $*" >&2; exit 1; }

up () {
    local tag=$1 ns
    for ns in svc mid db; do
        ip netns add "$tag-$ns"
        ip -n "$tag-$ns" link set lo up
    done
    ip link add "${tag}s0" netns "$tag-svc" type veth peer name "${tag}s1" netns "$tag-mid"
    ip link add "${tag}d1" netns "$tag-mid" type veth peer name "${tag}d0" netns "$tag-db"
    ip -n "$tag-svc" addr add 10.213.0.1/30 dev "${tag}s0"
    ip -n "$tag-mid" addr add 10.213.0.2/30 dev "${tag}s1"
    ip -n "$tag-mid" addr add 10.213.0.5/30 dev "${tag}d1"
    ip -n "$tag-db" addr add 10.213.0.6/30 dev "${tag}d0"
    ip -n "$tag-svc" link set "${tag}s0" up
    ip -n "$tag-mid" link set "${tag}s1" up
    ip -n "$tag-mid" link set "${tag}d1" up
    ip -n "$tag-db" link set "${tag}d0" up
    ip -n "$tag-svc" route add default via 10.213.0.2
    ip -n "$tag-db" route add default via 10.213.0.5
    ip netns exec "$tag-mid" sysctl -q -w net.ipv4.ip_forward=1
}

cut () {
    ip netns exec "$1-mid" nft -f - <<EOF
table inet partition {
    chain forward {
        type filter hook forward priority 0; policy drop;
    }
}
EOF
}

heal () {
    ip netns exec "$1-mid" nft delete table inet partition 2>/dev/null || true
}

down () {
    local tag=$1 ns
    for ns in svc mid db; do
        ip netns del "$tag-$ns" 2>/dev/null || true
    done
}

[ $# -eq 2 ] || die "usage: netns_partition.sh up|cut|heal|down TAG"
[[ $2 =~ ^[a-z0-9]{1,10}$ ]] || die "TAG must be 1-10 of [a-z0-9]: $2"
case $1 in
    up)   down "$2"; up "$2" ;;
    cut)  cut "$2" ;;
    heal) heal "$2" ;;
    down) down "$2" ;;
    *)    die "unknown action $1" ;;
esac
