#!/usr/bin/env bash
# run.sh — the "monitoring" test stage (tools/run-tests.sh): Prometheus, Alertmanager,
# Grafana provisioning, dashboards and Kubernetes manifests of the monitoring bundle.
# Every check prints "PASS <what>" or "FAIL <what>: <why>"; the last line is
# "monitoring: N passed, N failed". Needs Debian's prometheus 2.42 / alertmanager 0.25
# (promtool, amtool, prometheus), node 20 and python3. Everything it starts listens on
# 127.0.0.1 only and is killed on exit, also on failure; the live part is bounded (<2 min).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
TMP=$(mktemp -d /tmp/monitoring-test.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
LOG="$TMP/results"; : >"$LOG"
pass() { echo "PASS $*" | tee -a "$LOG"; }
fail() { echo "FAIL $*" | tee -a "$LOG"; }
# run_check "what" cmd... : PASS when the command exits 0, else FAIL with its output
run_check() { local what=$1; shift; local out
  if out=$("$@" 2>&1); then pass "$what"; else fail "$what: $(tail -5 <<<"$out" | tr '\n' ' ')"; fi; }
# node checkers print PASS/FAIL lines themselves
run_node() { local out rc; out=$(node "$@" 2>&1); rc=$?
  printf '%s\n' "$out" | tee -a "$LOG"
  [ "$rc" -eq 0 ] || grep -q '^FAIL' <<<"$out" || fail "node $1 exited $rc"; }

for t in promtool amtool prometheus node python3 curl; do
  command -v "$t" >/dev/null || { fail "tool $t installed (tools/apt-packages.txt / tools/deps.sh)"; }
done
if [ ! -d "$HERE/node_modules/js-yaml" ] || [ ! -d "$HERE/node_modules/kubernetes-models" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null 2>&1 || fail "npm ci in tests/monitoring"
fi

echo "--- Prometheus config and rules (promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}'))"
run_check "promtool check config deploy/prometheus/prometheus.yml (Debian 2.42 subset, rule files included)" \
  promtool check config deploy/prometheus/prometheus.yml
run_check "promtool check rules deploy/prometheus/alert-rules.yml" promtool check rules deploy/prometheus/alert-rules.yml
alerts=$(grep -cE '^\s+- alert:' deploy/prometheus/alert-rules.yml)
for a in HighDrawdown LowWinRate ExcessiveSlippage DailyLossExceeded HighCPUUsage HighMemoryUsage HighAPILatency; do
  grep -qE "^\s+- alert: $a$" deploy/prometheus/alert-rules.yml && pass "alert-rules.yml defines $a" || fail "alert-rules.yml defines $a: missing"
  n=$(grep -cE "alertname: $a\b" tests/monitoring/promtool/alert-rules.test.yml)
  [ "$n" -ge 3 ] && pass "unit tests cover $a ($n evaluations: above after for, before for, at/below threshold)" \
                 || fail "unit tests cover $a: only $n evaluations"
done
[ "$alerts" -eq 7 ] && pass "alert-rules.yml has exactly the guide's 7 alerts" || fail "alert-rules.yml has $alerts alerts, want 7"
run_check "promtool test rules tests/monitoring/promtool/alert-rules.test.yml (firing/not firing per alert)" \
  promtool test rules tests/monitoring/promtool/alert-rules.test.yml
# The unit tests must be able to fail: each mutation of the rules (threshold made
# inclusive, `for` shortened) has to break them.
mkdir -p "$TMP/mut/deploy/prometheus" "$TMP/mut/tests/monitoring/promtool"
cp tests/monitoring/promtool/alert-rules.test.yml "$TMP/mut/tests/monitoring/promtool/"
while IFS='|' read -r desc expr; do
  sed -E "$expr" deploy/prometheus/alert-rules.yml >"$TMP/mut/deploy/prometheus/alert-rules.yml"
  if cmp -s deploy/prometheus/alert-rules.yml "$TMP/mut/deploy/prometheus/alert-rules.yml"; then fail "mutation '$desc': did not apply"
  elif promtool test rules "$TMP/mut/tests/monitoring/promtool/alert-rules.test.yml" >/dev/null 2>&1; then fail "mutation '$desc' caught by unit tests: NOT caught"
  else pass "mutation '$desc' caught by unit tests"; fi
done <<'MUT'
HighDrawdown > becomes >=|s/trading_max_drawdown > 0.20/trading_max_drawdown >= 0.20/
LowWinRate < becomes <=|s/trading_win_rate < 0.40/trading_win_rate <= 0.40/
ExcessiveSlippage for 30m becomes 20m|s/for: 30m/for: 20m/
DailyLossExceeded severity critical becomes warning|/alert: DailyLossExceeded/,/severity/ s/severity: critical/severity: warning/
HighCPUUsage threshold 80 becomes 79|s/system_cpu_usage > 80/system_cpu_usage > 79/
HighMemoryUsage for 5m becomes 4m|/alert: HighMemoryUsage/,/for:/ s/for: 5m/for: 4m/
HighAPILatency > becomes >=|s/\) > 1000/) >= 1000/
MUT

echo "--- Alertmanager (amtool $(amtool --version 2>&1 | head -1 | awk '{print $3}'))"
run_check "amtool check-config deploy/alertmanager/alertmanager.yml (0.25 subset, secrets from *_file)" \
  amtool check-config deploy/alertmanager/alertmanager.yml
while IFS='|' read -r labels want; do
  run_check "alert with {$labels} routes to $want" amtool config routes test \
    --config.file=deploy/alertmanager/alertmanager.yml --verify.receivers="$want" $labels
done <<'ROUTES'
severity=critical alertname=DailyLossExceeded|pagerduty-critical,slack-critical
severity=warning alertname=HighCPUUsage|slack-warnings
alertname=Watchdog|email-fallback
severity=info|email-fallback
ROUTES
if grep -qE '(api_url|routing_key|service_key|auth_password|smtp_auth_password):' deploy/alertmanager/alertmanager.yml; then
  fail "alertmanager.yml has no inline credentials: found one"; else pass "alertmanager.yml has no inline credentials"; fi

echo "--- dashboards, Grafana provisioning, Kubernetes (node checkers)"
run_node tests/monitoring/check-dashboards.mjs "$TMP/exprs.jsonl"
run_node tests/monitoring/mutate-dashboards.mjs
run_node tests/monitoring/check-provisioning.mjs
run_node tests/monitoring/check-k8s.mjs

echo "--- plugin image bundle (deploy/k8s/plugin-image/bundle.sh, used by the Dockerfile)"
EXE=dist/gpx_algotrading_pnl_linux_amd64
if [ -x "$EXE" ]; then
  if sh deploy/k8s/plugin-image/bundle.sh dist "$TMP/bundle/algotrading-pnl-datasource" >/dev/null 2>&1; then
    pass "bundle.sh makes a self-contained plugin folder from dist/"
    miss=$("$TMP/bundle/algotrading-pnl-datasource/lib/ld-linux-x86-64.so.2" --inhibit-cache \
      --library-path "$TMP/bundle/algotrading-pnl-datasource/lib" --list \
      "$TMP/bundle/algotrading-pnl-datasource/lib/gpx_algotrading_pnl_linux_amd64.bin" 2>&1 | grep -v "$TMP/bundle" | grep -v 'linux-vdso' || true)
    [ -z "$miss" ] && pass "bundled binary resolves every shared library from the bundle only" || fail "bundled libraries: $miss"
    hs=$(cd "$TMP" && timeout 5 env -i grafana_plugin_type=datasource PLUGIN_PROTOCOL_VERSIONS=2 \
      "$TMP/bundle/algotrading-pnl-datasource/gpx_algotrading_pnl_linux_amd64" 2>/dev/null | head -1)
    [[ "$hs" == 1\|2\|* ]] && pass "bundled launcher starts the backend (go-plugin handshake '$hs')" \
                            || fail "bundled launcher handshake: got '$hs'"
  else fail "bundle.sh on dist/: $(sh deploy/k8s/plugin-image/bundle.sh dist "$TMP/b2" 2>&1 | tail -1)"; fi
else
  echo "SKIP plugin bundle: $EXE not built (run make build)"
fi

echo "--- live Prometheus on 127.0.0.1 (PromQL parse + alert lifecycle)"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
EXP_PORT=$(port); PROM_PORT=$(port)
python3 tests/monitoring/fake-exporter.py "$EXP_PORT" & PIDS+=($!)
# Test-only copies derived from the real files: every `for:` becomes 5s, scrape and
# evaluation every 1s, the bot job pointed at the fake exporter, no Alertmanager.
sed -E 's/^(\s+for:\s*).*/\15s/' deploy/prometheus/alert-rules.yml >"$TMP/alert-rules.test-short-for.yml"
echo "INFO live test uses a copy of alert-rules.yml with every 'for' replaced by 5s ($(grep -c 'for: 5s' "$TMP/alert-rules.test-short-for.yml") rules) and 1s scrape/evaluation"
node --input-type=module -e '
  import fs from "node:fs"; import yaml from "'"$HERE"'/node_modules/js-yaml/dist/js-yaml.mjs";
  const c = yaml.load(fs.readFileSync("deploy/prometheus/prometheus.yml", "utf8"));
  const bot = c.scrape_configs.find((j) => j.job_name === "trading-bot");
  c.global = { ...c.global, scrape_interval: "1s", evaluation_interval: "1s", scrape_timeout: "1s" };
  c.rule_files = ["'"$TMP"'/alert-rules.test-short-for.yml"]; delete c.alerting;
  c.scrape_configs = [{ job_name: bot.job_name, metrics_path: bot.metrics_path, static_configs: [{ targets: ["127.0.0.1:'"$EXP_PORT"'"] }] }];
  fs.writeFileSync("'"$TMP"'/prometheus.yml", yaml.dump(c));' || fail "derive test prometheus.yml"
run_check "promtool check config on the derived test config" promtool check config "$TMP/prometheus.yml"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$TMP/prometheus.log" 2>&1 & PIDS+=($!)
URL="http://127.0.0.1:$PROM_PORT"
for _ in $(seq 1 100); do curl -sf "$URL/-/ready" >/dev/null && break; sleep 0.2; done
if curl -sf "$URL/-/ready" >/dev/null; then
  pass "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') ready on 127.0.0.1:$PROM_PORT"
  # Every system-dashboard expression must parse; parse errors come back as bad_data.
  bad=0; total=0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    title=$(node -e 'console.log(JSON.parse(process.argv[1]).title)' "$line")
    expr=$(node -e 'console.log(JSON.parse(process.argv[1]).expr)' "$line")
    total=$((total+1))
    resp=$(curl -s "$URL/api/v1/query" --data-urlencode "query=$expr")
    if grep -q '"status":"success"' <<<"$resp"; then :; else bad=$((bad+1)); fail "PromQL of '$title' parses: $resp"; fi
  done <"$TMP/exprs.jsonl"
  [ "$total" -gt 0 ] && [ "$bad" -eq 0 ] && pass "all $total system dashboard PromQL expressions accepted by /api/v1/query"
  resp=$(curl -s "$URL/api/v1/query" --data-urlencode 'query=sum(rate(x[5m])' )
  grep -q '"errorType":"bad_data"' <<<"$resp" && pass "a broken expression is rejected with bad_data (parse check is live)" \
                                              || fail "broken expression not rejected: $resp"
  # Alert lifecycle: each alert must be seen pending, then firing, within 60 s.
  declare -A seen=()
  deadline=$((SECONDS+60))
  while [ $SECONDS -lt $deadline ]; do
    body=$(curl -s "$URL/api/v1/alerts")
    while read -r name state; do
      [ -n "$name" ] || continue
      case "${seen[$name]:-}" in
        "") seen[$name]=$state ;;
        pending) [ "$state" = firing ] && seen[$name]=pending,firing ;;
      esac
    done < <(node -e 'for (const a of JSON.parse(process.argv[1]).data.alerts) console.log(a.labels.alertname, a.state)' "$body" 2>/dev/null)
    done_all=1
    for a in HighDrawdown LowWinRate ExcessiveSlippage DailyLossExceeded HighCPUUsage HighMemoryUsage HighAPILatency; do
      case "${seen[$a]:-}" in pending,firing|firing) ;; *) done_all=0 ;; esac
    done
    [ $done_all -eq 1 ] && break
    sleep 0.5
  done
  # An alert first seen firing went pending before the first poll (a loaded
  # machine runs the parse checks above for longer than the 5 s `for`):
  # Prometheus keeps that state in its ALERTS series, so ask its history.
  for a in HighDrawdown LowWinRate ExcessiveSlippage DailyLossExceeded HighCPUUsage HighMemoryUsage HighAPILatency; do
    [ "${seen[$a]:-}" = firing ] || continue
    hist=$(curl -s "$URL/api/v1/query" --data-urlencode "query=count_over_time(ALERTS{alertname=\"$a\",alertstate=\"pending\"}[10m])")
    grep -q '"result":\[{' <<<"$hist" && seen[$a]=pending,firing
  done
  for a in HighDrawdown LowWinRate ExcessiveSlippage DailyLossExceeded HighCPUUsage HighMemoryUsage HighAPILatency; do
    [ "${seen[$a]:-}" = pending,firing ] && pass "live Prometheus: $a went pending then firing (fake exporter above threshold)" \
                                         || fail "live Prometheus: $a states seen '${seen[$a]:-none}' (want pending then firing)"
  done
  curl -s "$URL/api/v1/targets" | grep -q '"health":"up"' && pass "live Prometheus scraped the fake bot exporter (target up)" \
                                                           || fail "fake exporter target not up"
else
  fail "prometheus ready on 127.0.0.1:$PROM_PORT: $(tail -3 "$TMP/prometheus.log" | tr '\n' ' ')"
fi

p=$(grep -c '^PASS' "$LOG"); f=$(grep -c '^FAIL' "$LOG")
echo "monitoring: $p passed, $f failed"
[ "$f" -eq 0 ]
