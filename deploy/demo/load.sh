#!/usr/bin/env bash
#   load.sh - demo data for the embedded platform (scripts/run.sh runs it once).
#
#   Providers of several Art.3 entity types, with real local government codes
#   from shared/data and valid corporate numbers. Every request carries a
#   fixed --request-id, so running this again changes nothing (the registry
#   answers a retry from its stored reply).
#
#   Environment (set by run.sh): LGWANCTL, LG_CERT_DIR, LGWANCTL_CERT.
set -euo pipefail
: "${LGWANCTL:?}" "${LG_CERT_DIR:?}" "${LGWANCTL_CERT:?}"

apply () {
    local id=$1; shift
    "$LGWANCTL" provider apply --request-id "demo-provider-$id" \
        --reason "demo data: qualification review application received" "$@" >/dev/null
}

#               name_ja              name_en                    type and numbers
"$LGWANCTL" reference load --file "$(dirname "$0")/../data/local-governments.csv" --request-id demo-reference >/dev/null

apply tokyo     --name-ja 東京都     --name-en "Tokyo Metropolis" \
                --entity-type LOCAL_GOVERNMENT --lgcode 130001 --corporate-number 8000020130001
apply sapporo   --name-ja 札幌市     --name-en "City of Sapporo" \
                --entity-type LOCAL_GOVERNMENT --lgcode 011002 --corporate-number 9000020011002
apply yokohama  --name-ja 横浜市     --name-en "City of Yokohama" \
                --entity-type LOCAL_GOVERNMENT --lgcode 141003
apply kk        --name-ja 株式会社エルジーワン・クラウド --name-en "LGWAN Cloud KK" \
                --entity-type PRIVATE_CORPORATION --corporate-number 7123456789012
apply hosting   --name-ja 株式会社自治体データセンター --name-en "Municipal Data Centre KK" \
                --entity-type PRIVATE_CORPORATION --corporate-number 7010705000725
apply found     --name-ja 一般財団法人地域情報化推進協会 --name-en "Regional Informatisation Foundation" \
                --entity-type INCORPORATED_ASSOCIATION --corporate-number 4011001098993
apply council   --name-ja 任意団体自治体システム研究会 --name-en "Municipal Systems Study Group" \
                --entity-type VOLUNTARY_ORGANISATION

echo "demo data: 7 providers filed (lgwanctl provider show --provider 1)"
