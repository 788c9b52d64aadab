#!/usr/bin/env bash
#   netns_topology.sh - the enforcement test's own small network, in
#   namespaces it makes and always removes. Nothing here touches the host's
#   addresses, routes or ruleset.
#
#     A (provider A) ─┐                              ┌─ L (a local government)
#                     ├─ east ══════════════ west ───┤
#     B (provider B) ─┘  gateway              gateway
#
#   Traffic between A or B and L crosses both gateways, each of which runs
#   an enforcer. Addresses: A and B get the first host of the prefixes the
#   registry allocated to them (IPv4 and IPv6); L is 192.0.2.10/24 and
#   2001:db8:ffff::10/64 (documentation ranges); the gateways' link is
#   10.255.255.0/30 / fd00:255::/64 — all inside these namespaces only.
#
#   netns_topology.sh up TAG A4 A6 B4 B6     (prefixes, e.g. 198.18.0.0/28 2001:db8:100::/56)
#   netns_topology.sh down TAG
#   netns_topology.sh ping TAG FROM TO4|TO6  (exit 0 when one of 3 pings answers)
set -euo pipefail

die () { echo "netns_topology: $*" >&2; exit 1; }

first_host4 () {    # 198.18.0.0/28 -> 198.18.0.1
    python3 -c "import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(n.network_address+1, n.prefixlen)" "$1"
}
first_host6 () {
    python3 -c "import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(n.network_address+1, n.prefixlen)" "$1"
}

up () {
    local tag=$1 a4=$2 a6=$3 b4=$4 b6=$5
    local ns
    for ns in A B L east west; do ip netns add "$tag-$ns"; done
    for ns in A B L east west; do ip -n "$tag-$ns" link set lo up; done
    #   veth pairs: A-east, B-east, east-west, west-L
    ip link add "${tag}a0" netns "$tag-A" type veth peer name "${tag}a1" netns "$tag-east"
    ip link add "${tag}b0" netns "$tag-B" type veth peer name "${tag}b1" netns "$tag-east"
    ip link add "${tag}e0" netns "$tag-east" type veth peer name "${tag}w0" netns "$tag-west"
    ip link add "${tag}l1" netns "$tag-west" type veth peer name "${tag}l0" netns "$tag-L"
    for pair in "A ${tag}a0" "east ${tag}a1" "B ${tag}b0" "east ${tag}b1" "east ${tag}e0" \
                "west ${tag}w0" "west ${tag}l1" "L ${tag}l0"; do
        set -- $pair
        ip netns exec "$tag-$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0" || true
        ip -n "$tag-$1" link set "$2" up
    done
    read -r a4h a4l < <(first_host4 "$a4"); read -r b4h b4l < <(first_host4 "$b4")
    read -r a6h a6l < <(first_host6 "$a6"); read -r b6h b6l < <(first_host6 "$b6")
    #   Hosts
    ip -n "$tag-A" addr add "$a4h/$a4l" dev "${tag}a0"
    ip -n "$tag-A" addr add "$a6h/$a6l" dev "${tag}a0" nodad
    ip -n "$tag-B" addr add "$b4h/$b4l" dev "${tag}b0"
    ip -n "$tag-B" addr add "$b6h/$b6l" dev "${tag}b0" nodad
    ip -n "$tag-L" addr add 192.0.2.10/24 dev "${tag}l0"
    ip -n "$tag-L" addr add 2001:db8:ffff::10/64 dev "${tag}l0" nodad
    #   Each host's only way out is its gateway: a link-local next hop that
    #   every gateway-side interface carries (169.254.0.1, fe80::1)
    for pair in "east ${tag}a1" "east ${tag}b1" "west ${tag}l1"; do
        set -- $pair
        ip -n "$tag-$1" addr add 169.254.0.1/32 dev "$2"
        ip -n "$tag-$1" addr add fe80::1/64 dev "$2" nodad
    done
    for pair in "A ${tag}a0" "B ${tag}b0" "L ${tag}l0"; do
        set -- $pair
        ip -n "$tag-$1" route add default via 169.254.0.1 dev "$2" onlink
        ip -n "$tag-$1" -6 route add default via fe80::1 dev "$2"
    done
    #   Gateways
    ip -n "$tag-east" addr add 10.255.255.1/30 dev "${tag}e0"
    ip -n "$tag-west" addr add 10.255.255.2/30 dev "${tag}w0"
    ip -n "$tag-east" addr add fd00:255::1/64 dev "${tag}e0" nodad
    ip -n "$tag-west" addr add fd00:255::2/64 dev "${tag}w0" nodad
    for ns in east west; do
        ip netns exec "$tag-$ns" sysctl -qw net.ipv4.ip_forward=1
        ip netns exec "$tag-$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
        ip netns exec "$tag-$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
    done
    ip -n "$tag-east" route add "$a4" dev "${tag}a1"
    ip -n "$tag-east" route add "$b4" dev "${tag}b1"
    ip -n "$tag-east" -6 route add "$a6" dev "${tag}a1"
    ip -n "$tag-east" -6 route add "$b6" dev "${tag}b1"
    ip -n "$tag-east" route add 192.0.2.0/24 via 10.255.255.2
    ip -n "$tag-east" -6 route add 2001:db8:ffff::/64 via fd00:255::2
    ip -n "$tag-west" route add 192.0.2.0/24 dev "${tag}l1"
    ip -n "$tag-west" -6 route add 2001:db8:ffff::/64 dev "${tag}l1"
    ip -n "$tag-west" route add "$a4" via 10.255.255.1
    ip -n "$tag-west" route add "$b4" via 10.255.255.1
    ip -n "$tag-west" -6 route add "$a6" via fd00:255::1
    ip -n "$tag-west" -6 route add "$b6" via fd00:255::1
}

down () {
    local tag=$1 ns
    for ns in A B L east west; do ip netns del "$tag-$ns" 2>/dev/null || true; done
}

ping_from () {
    local tag=$1 from=$2 to=$3
    ip netns exec "$tag-$from" ping -c 3 -i 0.2 -W 1 -q "$to" >/dev/null 2>&1
}

case "${1:-}" in
    up)   [ $# -eq 6 ] || die "usage: up TAG A4 A6 B4 B6"; shift; up "$@" ;;
    down) [ $# -eq 2 ] || die "usage: down TAG"; down "$2" ;;
    ping) [ $# -eq 4 ] || die "usage: ping TAG FROM TO"; shift; ping_from "$@" ;;
    *)    die "usage: up|down|ping" ;;
esac
