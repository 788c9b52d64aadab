#!/usr/bin/env bash
#   load.sh - demo data for the embedded platform (scripts/run.sh runs it
#   until it has ended well once).
#
#   The reference list of local governments; providers of several Art.3
#   entity types with real local government codes and valid corporate
#   numbers; their qualification review; a service with every Art.9 role; a
#   contract with a using body, delivered and active; an interconnection; a
#   change notification; the audit catalogue with one control of the
#   operating body, a planned audit with findings and one at a using body's
#   request. Every request carries a fixed --request-id, so running this
#   again changes nothing (each service answers a retry from its stored
#   reply).
#
#   Exit 0 only when everything was loaded; run.sh runs it again at each
#   start until then.
#
#   Environment (set by run.sh): LGWANCTL, LG_CERT_DIR, LGWANCTL_CERT
#   (operator), LG_CLIENT_DIR (the other identities).
set -euo pipefail
: "${LGWANCTL:?}" "${LG_CERT_DIR:?}" "${LGWANCTL_CERT:?}" "${LG_CLIENT_DIR:?}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
OPERATOR=$LGWANCTL_CERT
REVIEWER=$LG_CLIENT_DIR/reviewer_secret

as () {     # as CERT ID command...: one request with a fixed request id
    local cert=$1 id=$2; shift 2
    local reason=(--reason "demo data")
    [[ " $* " == *" --reason "* ]] && reason=()     # the command gives its own
    LGWANCTL_CERT=$cert "$LGWANCTL" "$@" --request-id "demo-$id" "${reason[@]}" >/dev/null
}

#   The reference list, as the operating body loads it
LGWANCTL_CERT=$OPERATOR "$LGWANCTL" reference load --file "$HERE/../data/local-governments.csv" \
    --request-id demo-reference >/dev/null

#   Providers (R3.1): ids 1..8 in this order
as "$OPERATOR" p-tokyo provider apply --name-ja 東京都 --name-en "Tokyo Metropolis" \
    --entity-type LOCAL_GOVERNMENT --lgcode 130001 --corporate-number 8000020130001
as "$OPERATOR" p-sapporo provider apply --name-ja 札幌市 --name-en "City of Sapporo" \
    --entity-type LOCAL_GOVERNMENT --lgcode 011002 --corporate-number 9000020011002
as "$OPERATOR" p-yokohama provider apply --name-ja 横浜市 --name-en "City of Yokohama" \
    --entity-type LOCAL_GOVERNMENT --lgcode 141003
as "$OPERATOR" p-cloud provider apply --name-ja 株式会社エルジーワン・クラウド \
    --name-en "LGWAN Cloud KK" --entity-type PRIVATE_CORPORATION \
    --corporate-number 7123456789012 \
    --contacts '[{"kind":"CONTACT_LIAISON","name":"連絡窓口 佐藤","phone":"03-1234-5678"}]'
as "$OPERATOR" p-hosting provider apply --name-ja 株式会社自治体データセンター \
    --name-en "Municipal Data Centre KK" --entity-type PRIVATE_CORPORATION \
    --corporate-number 7010705000725 \
    --contacts '[{"kind":"CONTACT_EMERGENCY_RESPONSE","name":"緊急対応窓口","phone":"03-0000-1111"},
                 {"kind":"CONTACT_OPERATIONS_MANAGER","name":"運用管理責任者 鈴木","email":"ops@example.jp"}]' \
    --data-centres '[{"name":"東京第一センター","country":"JP","prefecture":"13"},
                     {"name":"大阪第二センター","country":"JP","prefecture":"27"}]'
as "$OPERATOR" p-foundation provider apply --name-ja 一般財団法人地域情報化推進協会 \
    --name-en "Regional Informatisation Foundation" --entity-type INCORPORATED_ASSOCIATION \
    --corporate-number 4011001098993
as "$OPERATOR" p-study provider apply --name-ja 任意団体自治体システム研究会 \
    --name-en "Municipal Systems Study Group" --entity-type VOLUNTARY_ORGANISATION
as "$OPERATOR" p-jlis provider apply --name-ja 地方公共団体情報システム機構 \
    --name-en "J-LIS (operating body)" --entity-type SPECIAL_CORPORATION \
    --corporate-number 8010005018863 --operating-body true

#   Qualification review (R4.3): all but Yokohama, still under review; the
#   study group (type 7) after the President's approval (R3.2)
as "$OPERATOR" approve-study provider approve-president --provider 7 \
    --approval '{"approvedBy":"理事長","approvedOn":"2026-04-01","reference":"地情機第1号"}'
for p in 1 2 3 4 5 6 7 8; do
    as "$REVIEWER" review-$p qualification review --provider $p
done
for p in 1 2 4 5 6 7 8; do
    as "$REVIEWER" decide-$p qualification decide --provider $p --outcome OUTCOME_APPROVED \
        --reason "書類審査の結果、参加資格を満たす"
done

#   A service with every Art.9 role (R9.1, R9.2, R10.1, R12.1, R13.1)
as "$OPERATOR" service service register --name e-shinsei --title-ja 電子申請サービス \
    --holders '[{"provider":4,"role":"ROLE_APPLICATION_CONTENT"},
                {"provider":5,"role":"ROLE_HOSTING"},
                {"provider":8,"role":"ROLE_NETWORK_LAYER"},
                {"provider":6,"role":"ROLE_TELECOM","carrierNumber":"A-19-12345"},
                {"provider":5,"role":"ROLE_FACILITY"}]'
as "$REVIEWER" service-review service review --service 1
as "$REVIEWER" service-decide service decide --service 1 --outcome OUTCOME_APPROVED \
    --reason 登録要件を満たす

#   A contract with Sapporo (R7.1), both documents delivered (R7.2), active
as "$OPERATOR" contract contract create --provider 4 --lgcode 011002 --services 1 \
    --responsibility "サービスの提供及び運用管理の責任は提供者が負う"
as "$OPERATOR" terms contract deliver --contract 1 --document DOCUMENT_TERMS_OF_USE \
    --delivered-on 2026-11-02
as "$OPERATOR" manual contract deliver --contract 1 --document DOCUMENT_USER_MANUAL \
    --delivered-on 2026-11-02
as "$OPERATOR" activate contract activate --contract 1

#   An interconnection (R8.1, R8.2) and a change notification (R4.2)
as "$OPERATOR" interconnect interconnection register --provider-a 4 --provider-b 6 \
    --justification "地方公共団体向け共同利用サービスの連携のため"
as "$OPERATOR" contacts change file --kind CHANGE_NOTIFICATION --subject provider --id 4 \
    --provider '{"contacts":[{"kind":"CONTACT_LIAISON","name":"連絡窓口 高橋","phone":"03-1234-0000"}],
                 "replaceContacts":true}'

#   The ASP segment pools and a connection of the service (R12.1, R5.2, R11.3)
as "$OPERATOR" pool-v4 pool add --name asp-v4 --prefix 198.18.0.0/15 \
    --reason "ASPセグメント（IPv4）の設定"
as "$OPERATOR" pool-v6 pool add --name asp-v6 --prefix 2001:db8:100::/40 \
    --reason "ASPセグメント（IPv6）の設定"
as "$OPERATOR" connection connection apply --service 1 --router rt-tokyo-01 \
    --line-carrier "NTT 閉域網" --bandwidth-class 100M --ipv4-prefix-length 24 \
    --ipv6-prefix-length 56
as "$REVIEWER" connection-review connection review --connection 1
as "$REVIEWER" connection-decide connection decide --connection 1 --outcome OUTCOME_APPROVED \
    --reason 接続要件を満たす
as "$OPERATOR" server server register --connection 1 --name web01 --address 198.18.16.10 \
    --ports '[{"port":443,"protocol":"tcp"}]' --external-facing true \
    --firewall-record FW-2026-001 --access-control-record ACL-2026-007 \
    --reason "申請受付サーバの設置"

#   Audit (R15): audit follows the registry by itself; wait until it has
#   applied everything above (its cursor reaches the registry's head), so
#   the scope and the role holders are there before the first audit
AUDITOR=$LG_CLIENT_DIR/auditor_secret
registry_head () {
    LGWANCTL_CERT=$OPERATOR "$LGWANCTL" replay list --service registry --from-seq 999999999 --json \
        | grep -o '"headSeq": *"[0-9]*"' | grep -o '[0-9]*' || echo 0
}
audit_applied () {
    LGWANCTL_CERT=$OPERATOR "$LGWANCTL" cursors show --service audit --json \
        | grep -o '"lastSeq": *"[0-9]*"' | grep -o '[0-9]*' || echo 0
}
head=$(registry_head)
for _ in $(seq 1 150); do
    [[ $(audit_applied) -ge $head ]] && break
    sleep 0.2
done
as "$OPERATOR" control-log control add --code JLIS-LOG-1 --requirement R5.1 \
    --applies-to hosting --title "アクセスログを1年間保存し、月次で点検する"
as "$AUDITOR" audit-plan audit open --origin plan --provider 5 --services 1 --auditors aki \
    --starts-on 2026-11-01 --ends-on 2026-11-30 --title "令和8年度 定期監査（ホスティング・設備）"
as "$AUDITOR" finding-fw finding record --audit 1 --control R11.1-4 --severity high \
    --description "外部側ファイアウォールに不要な許可ルールが残っている" --requires-remediation true \
    --evidence '[{"reference":"監査調書 2026-011 p.4","effectiveOn":"2026-11-05"}]'
as "$AUDITOR" finding-ups finding record --audit 1 --control R14.1 --severity medium \
    --description "無停電電源装置の定期点検記録が欠落している" --requires-remediation true \
    --evidence '[{"reference":"設備点検記録 2026-10","effectiveOn":"2026-10-31"}]'
as "$AUDITOR" finding-ops finding record --audit 1 --control R5.1-operational --severity low \
    --description "運用手順書の改版履歴が不十分"
as "$OPERATOR" audit-request audit open --origin request --provider 4 --services 1 \
    --lgcode 011002 --auditors aki --title "札幌市の依頼による監査"

#   The demo tariff (R6.1): the real amounts are not public, these are made up
as "$OPERATOR" tariff tariff load --file "$HERE/tariff.json"

echo "demo data: 8 providers, 1 service with every Art.9 role, 1 active contract, 1 connection,"
echo "           2 audits (a planned one with 3 findings, 2 remediation requests; one at Sapporo's request),"
echo "           a tariff"
echo "           (lgwanctl provider list; lgwanctl review queue (Yokohama waits); lgwanctl service list;"
echo "            lgwanctl service show --service 1; lgwanctl history show --subject provider --id 4;"
echo "            lgwanctl isolation show --connection 1; lgwanctl isolation points;"
echo "            lgwanctl audit show --audit 1; lgwanctl audit compliance --provider 5; lgwanctl control list;"
echo "            lgwanctl tariff list; lgwanctl invoice run --period $(TZ=Asia/Tokyo date +%Y-%m) --preview)"

#   Monitor (R16.1 detection): two rules, one allow-list entry, and a sample
#   EVE file that trips the first rule. The file holds six ETERNALBLUE
#   alerts from web01 (198.18.16.10, connection 1), a scan, an allow-listed
#   false positive, an alert from outside every prefix (counted and sampled
#   as unattributed), a flow and a stats event (ignored) and a truncated
#   last line (counted as malformed): rule trojan-relay opens an incident and
#   confirms it with isolate. The orchestrator, which is to turn that into a
#   forced disconnection, is not built: connection 1 stays connected. An
#   operator may disconnect it by hand, but nothing on this build can lift
#   that again (X.4: only the orchestrator's saga may; README, What exists
#   now).
if [ -n "${LG_RUN_DIR:-}" ] && [ -d "$LG_RUN_DIR/eve" ]; then
    as "$OPERATOR" rule-trojan rule set --rule '{"name":"trojan-relay",
        "category":"A Network Trojan was detected","maxSeverity":1,"windowSeconds":60,
        "threshold":5,"action":"RULE_ACTION_INCIDENT_AND_ISOLATE"}'
    as "$OPERATOR" rule-scan rule set --rule '{"name":"scan-burst",
        "category":"Attempted Information Leak","maxSeverity":3,"windowSeconds":300,
        "threshold":20,"action":"RULE_ACTION_INCIDENT"}'
    as "$OPERATOR" allow-id-check allowlist add --signature-id 2100498 \
        --expires-at 2027-12-31T15:00:00Z --reason "known false positive of the provider's vulnerability scanner"
    #   The sample is appended once: demo.appended is written after its
    #   last byte. demo.appending, written before its first, holds the size
    #   eve.json had then, so a load cut short in between appends only what
    #   is missing, and one cut short after the append does not append it
    #   twice
    eve=$LG_RUN_DIR/eve/eve.json
    sample=$HERE/eve-sample.json
    appending=$LG_RUN_DIR/eve/demo.appending
    if [ ! -f "$LG_RUN_DIR/eve/demo.appended" ]; then
        #   The monitor must know connection 1 before the alerts are
        #   attributed; if it does not, the load fails and the next start
        #   runs it again
        prefixes=0
        for _ in $(seq 1 50); do
            prefixes=$(LGWANCTL_CERT=$OPERATOR "$LGWANCTL" stats show --service monitor --json 2>/dev/null \
                | python3 -c 'import json,sys; d=json.load(sys.stdin); print(next((int(c.get("count",0)) for c in d.get("serviceCounters",[]) if c["name"]=="attribution.prefixes"),0))' \
                2>/dev/null || echo 0)
            [ "${prefixes:-0}" -gt 0 ] && break
            sleep 0.2
        done
        if [ "${prefixes:-0}" -eq 0 ]; then
            echo "load.sh: the monitor knows no connection's prefixes after 10 s: the sample EVE" \
                 "file is not appended yet (its alerts would be unattributed)" >&2
            exit 1
        fi
        if [ ! -f "$appending" ]; then
            { stat -c %s "$eve" 2>/dev/null || echo 0; } >"$appending.tmp"
            mv "$appending.tmp" "$appending"
        fi
        start=$(cat "$appending")
        size=$(stat -c %s "$eve" 2>/dev/null || echo 0)
        have=$((size - start))
        if [ "$have" -ge 0 ] && [ "$have" -le "$(stat -c %s "$sample")" ] \
           && cmp -s <(tail -c +$((start + 1)) "$eve" 2>/dev/null) <(head -c "$have" "$sample"); then
            tail -c +$((have + 1)) "$sample" >>"$eve"
        else
            echo "load.sh: $eve changed since the sample began to be appended at byte $start;" \
                 "not appended again" >&2
        fi
        mv "$appending" "$LG_RUN_DIR/eve/demo.appended"
    fi
    echo "demo data: monitor rules trojan-relay and scan-burst; a sample EVE file opens one incident"
    echo "           (lgwanctl incident list; lgwanctl incident show --incident 1; lgwanctl rule list;"
    echo "            lgwanctl monitor unattributed)"
    echo "           The incident is confirmed with isolate, but the orchestrator that would disconnect"
    echo "           provider 5 is not built: connection 1 stays connected. 'lgwanctl isolation disconnect'"
    echo "           (with --reason: mandatory) works, and nothing on this build lifts it again (X.4: only the orchestrator's saga)."
fi
