#!/usr/bin/env bash
# Issue 6's benchmark: coco and anvil 1.7.1 side by side under the same Rust load
# generator (`coco bench`), plus coco's in-process limit (criterion `pipeline`).
#
# For each configuration and each of RUNS rounds, a fresh node is started on a free
# loopback port, `coco bench` runs against it, the node's peak RSS (VmHWM) is read
# and the node is stopped; coco and anvil alternate (the order flips every round).
# Configurations (client settings identical for both nodes):
#   instant  coco `dev` (one block per transaction)  vs anvil automine, or — when
#            automine does not complete — anvil --no-mining + evm_mine every MINE_MS
#   bt50     coco `dev --block-time MINE_MS`          vs anvil --no-mining + evm_mine
#            every MINE_MS (the generator's --mine-interval-ms)
#   consortium-b50  coco `dev --confidential` (a consortium of one admitting by
#            governance) under the bt50 load, batch 50, against coco's own bt50
#   cluster-b50  three `coco node` validators (Raft) under the bt50 load, batch 50, the
#            senders' requests spread over the three, against coco's own bt50
#            (followers re-execute); cluster-ws-b50 the same with `--apply write-set`
#            (followers apply the leader's write set); and failover: kill -9 of the leader under a trickle of transfers, time to the
#            next block on a survivor
# each with JSON-RPC batches of 1 (N1 transfers) and 50 (N transfers); then open-loop
# latency at half of each node's own bt50/batch-50 median peak, and instant mining
# one transaction at a time (batch 1, concurrency 1, --wait-receipt: each sent once
# the previous one's receipt has been read).
#
# Environment: N (20000) N1 (4000) NOPEN (N/2) NLAT (1000) RUNS (3) CONC (16)
#   SENDERS (64) MINE_MS (50) TIMEOUT (120 s per run; AUTOMINE_TIMEOUT 45 s for an
#   anvil automine attempt) SKIP_PIPELINE (unset)
#   OUT (target/bench: runs.jsonl, summary.md, logs) ONLY (`cluster`: coco's bt-b50,
#   the three validators and the failover, nothing else) CLUSTER_RATE (the clusters'
#   open-loop rate, tx/s; default half the re-executing cluster's median peak).
# Prints the summary table (medians, coco/anvil ratios). Stops every process it
# started on exit (trap).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

N="${N:-20000}"
N1="${N1:-4000}"
NOPEN="${NOPEN:-$((N / 2))}"
NLAT="${NLAT:-1000}"
RUNS="${RUNS:-3}"
CONC="${CONC:-16}"
SENDERS="${SENDERS:-64}"
MINE_MS="${MINE_MS:-50}"
TIMEOUT="${TIMEOUT:-120}"
AUTOMINE_TIMEOUT="${AUTOMINE_TIMEOUT:-45}"
OUT="${OUT:-$ROOT/target/bench}"
mkdir -p "$OUT"
RESULTS="$OUT/runs.jsonl"
: >"$RESULTS"
: >"$OUT/bench.log"

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# Nodes still running (pids of our own children only; removed once reaped).
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "installing tools (if needed) and building release"
bash scripts/install-tools.sh
cargo build --release --quiet --bin coco
[[ -n "${SKIP_PIPELINE:-}" ]] || cargo bench --quiet --bench coco --no-run
# A private copy: other sessions may rebuild target/release meanwhile.
COCO="$OUT/coco"
cp "$ROOT/target/release/coco" "$COCO"
ANVIL="$ROOT/.tools/bin/anvil"
CAST="$ROOT/.tools/bin/cast"
MNEMONIC="test test test test test test test test test test test junk"
log "anvil: $("$ANVIL" --version | head -1)"

# A loopback port nobody listens on (ss -ltn), outside 8545-8600 (used by others).
free_port() {
  local used port
  used="$(ss -Hltn | awk '{n = split($4, a, ":"); print a[n]}' | sort -u)"
  for _ in $(seq 1 500); do
    port=$((20000 + RANDOM % 30000))
    grep -qx "$port" <<<"$used" || { echo "$port"; return 0; }
  done
  return 1
}

NODE_PID=""
NODE_URL=""
# start_node coco|anvil MODE: MODE is instant, bt (block time), automine or nomine.
start_node() {
  local impl="$1" mode="$2" port attempt
  for attempt in 1 2 3; do
    port="$(free_port)"
    case "$impl/$mode" in
      coco/instant) "$COCO" dev --port "$port" --ephemeral >>"$OUT/node.log" 2>&1 & ;;
      coco/bt) "$COCO" dev --port "$port" --ephemeral --block-time "$MINE_MS" >>"$OUT/node.log" 2>&1 & ;;
      # A consortium of one enforcing governance (the senders are its users) under the
      # confidential policy; the load generator reads with the printed operator key.
      coco/consortium) "$COCO" dev --port "$port" --ephemeral --block-time "$MINE_MS" --confidential \
          --accounts "$((SENDERS + 1))" >"$OUT/consortium-node.log" 2>&1 & ;;
      anvil/automine) "$ANVIL" --port "$port" --quiet >>"$OUT/node.log" 2>&1 & ;;
      anvil/nomine) "$ANVIL" --port "$port" --quiet --no-mining >>"$OUT/node.log" 2>&1 & ;;
      *) echo "unknown node $impl/$mode" >&2; exit 1 ;;
    esac
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    NODE_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 300); do
      kill -0 "$NODE_PID" 2>/dev/null || break
      if curl -sf -m 1 -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$NODE_URL" >/dev/null; then
        if [[ "$mode" == consortium ]]; then
          NODE_URL="$NODE_URL/$(grep -o 'coco_[0-9a-f]\{64\}' "$OUT/consortium-node.log" | head -1)"
        fi
        return 0
      fi
      sleep 0.1
    done
    log "$impl ($mode) did not start on port $port (attempt $attempt)"
    stop_node
  done
  echo "cannot start $impl" >&2
  exit 1
}

# A consortium of three validators on loopback (as scripts/cluster.sh runs it) whose
# users are the load generator's senders; an auditor key reads their receipts. Sets
# NODE_URL to the three URLs (comma-separated, each with the key), CLUSTER_PIDS,
# CLUSTER_URLS and NODE_PID (v1's). $1: how followers commit blocks (`coco node
# --apply`: re-execute, the default, or write-set).
CLUSTER_PIDS=()
CLUSTER_URLS=()
start_cluster() {
  local apply="${1:-re-execute}" dir="$OUT/cluster" key i port peer founder="" url urls=()
  rm -rf "$dir"; mkdir -p "$dir"
  key="coco_$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  local addrs=()
  for i in $(seq 0 "$((SENDERS + 1))"); do
    addrs+=("$("$CAST" wallet address --mnemonic "$MNEMONIC" --mnemonic-index "$i")")
  done
  python3 - "$ROOT/genesis/consortium.json" "$dir/genesis.json" "$("$CAST" keccak "$key")" "${addrs[@]}" <<'PY'
import json, sys
source, target, key_hash, addrs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
g = json.load(open(source))
c = g["config"]["consortium"]
members = {m["address"].lower() for m in c["members"]}
senders, auditor = addrs[1:-1], addrs[-1]
c["users"] = [{"address": a, "role": "user"} for a in senders if a.lower() not in members]
c["users"].append({"address": auditor, "role": "auditor", "apiKeyHashes": [key_hash]})
json.dump(g, open(target, "w"), indent=2)
PY
  CLUSTER_PIDS=(); CLUSTER_URLS=()
  for i in 1 2 3; do
    "$COCO" node id --data-dir "$dir/v$i" --add-to "$dir/genesis.json" >/dev/null
  done
  "$COCO" init --genesis "$dir/genesis.json" --data-dir "$dir/v1" >/dev/null
  for i in 1 2 3; do
    port="$(free_port)"; peer="$(free_port)"
    local join=()
    [[ -n "$founder" ]] && join=(--join "$founder" --genesis "$dir/genesis.json")
    "$COCO" node --data-dir "$dir/v$i" --port "$port" --peer-listen "127.0.0.1:$peer" \
      --block-time "$MINE_MS" --apply "$apply" "${join[@]}" >>"$dir/v$i.log" 2>&1 &
    CLUSTER_PIDS+=("$!"); PIDS+=("$!")
    [[ -n "$founder" ]] || founder="127.0.0.1:$peer"
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 600); do
      curl -sf -m 1 -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null && break
      sleep 0.1
    done
    CLUSTER_URLS+=("$url"); urls+=("$url/$key")
  done
  # Every validator a voter.
  for _ in $(seq 1 600); do
    [[ "$(curl -sf -m 1 -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"coco_nodeStatus","params":[]}' "${CLUSTER_URLS[0]}" |
      jq '[.result.peers[] | select(.voter)] | length')" == 3 ]] && break
    sleep 0.1
  done
  NODE_PID="${CLUSTER_PIDS[0]}"
  NODE_URL="$(IFS=,; echo "${urls[*]}")"
}

stop_cluster() {
  local pid rest=() p
  NODE_RSS="$(awk '/^VmHWM:/ {print $2}' "/proc/${CLUSTER_PIDS[0]}/status" 2>/dev/null || true)"
  NODE_RSS="${NODE_RSS:-0}"
  # What the run wrote to the founder's Raft log (sealed entries, JSON inside), in kB.
  RAFT_LOG_KB="$(du -sk "$OUT/cluster/v1/raft/log" 2>/dev/null | cut -f1)"
  for pid in "${CLUSTER_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${CLUSTER_PIDS[@]}"; do
    for _ in $(seq 1 100); do grep -qs '^State:[[:space:]]*[^Z]' "/proc/$pid/status" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do [[ " ${CLUSTER_PIDS[*]} " == *" $p "* ]] || rest+=("$p"); done
  PIDS=("${rest[@]}")
  CLUSTER_PIDS=()
}

# The leader's Raft role among CLUSTER_URLS: prints its index.
cluster_leader() {
  local i
  for _ in $(seq 1 300); do
    for i in 0 1 2; do
      [[ "$(curl -sf -m 1 -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"coco_nodeStatus","params":[]}' "${CLUSTER_URLS[$i]}" |
        jq -r .result.role 2>/dev/null)" == leader ]] && { echo "$i"; return 0; }
    done
    sleep 0.1
  done
  return 1
}

# Failover: with transfers flowing, kill -9 the leader and time until a survivor holds
# the first block of the new leader (ms, one line of JSON into RESULTS).
failover_one() {
  local round="$1" lead survivor t0 t1 sender_pid
  start_cluster
  lead="$(cluster_leader)"
  survivor=$(((lead + 1) % 3))
  local key; key="$("$CAST" wallet private-key --mnemonic "$MNEMONIC" --mnemonic-index 3)"
  local to; to="$("$CAST" wallet address --private-key "$key")"
  # A trickle of transfers through the survivor (a follower: it forwards to whoever
  # leads); cast reads the pending nonce each time, so one lost with the leader is
  # sent again.
  local keyed; keyed="$(tr ',' '\n' <<<"$NODE_URL" | sed -n "$((survivor + 1))p")"
  (
    while :; do
      "$CAST" send --async --legacy --gas-price 2gwei --gas-limit 21000 \
        --private-key "$key" --rpc-url "$keyed" "$to" --value 1 >/dev/null 2>&1 || true
      sleep 0.02
    done
  ) &
  sender_pid=$!
  sleep 2
  local st0 old_term old_leader
  st0="$(curl -sf -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"coco_nodeStatus","params":[]}' "${CLUSTER_URLS[$lead]}")"
  old_term="$(jq -r .result.term <<<"$st0")"; old_leader="$(jq -r .result.id <<<"$st0")"
  t0="$(date +%s%N)"
  kill -KILL "${CLUSTER_PIDS[$lead]}"
  # The next block is the first one a new leader commits: a survivor in a later term,
  # led by another node, past the height it had when it learned of that leader.
  t1=""
  local base=""
  for _ in $(seq 1 3000); do
    local st term lead_now now
    st="$(curl -sf -m 1 -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"coco_nodeStatus","params":[]}' "${CLUSTER_URLS[$survivor]}")" || continue
    term="$(jq -r .result.term <<<"$st")"; lead_now="$(jq -r .result.leader <<<"$st")"
    now="$(jq -r .result.height <<<"$st")"
    if (( term > old_term )) && [[ "$lead_now" != null && "$lead_now" != "$old_leader" ]]; then
      [[ -n "$base" ]] || base="$now"
      if (( now > base )); then t1="$(date +%s%N)"; break; fi
    fi
    sleep 0.005
  done
  kill "$sender_pid" 2>/dev/null || true; wait "$sender_pid" 2>/dev/null || true
  stop_cluster
  if [[ -n "$t1" ]]; then
    jq -cn --argjson ms "$(( (t1 - t0) / 1000000 ))" --argjson round "$round" \
      '{impl: "coco", config: "failover", round: $round, failover_ms: $ms, failures: 0}' >>"$RESULTS"
    log "failover round $round: $(( (t1 - t0) / 1000000 )) ms from kill -9 of the leader to a new block"
  else
    jq -cn --argjson round "$round" '{impl: "coco", config: "failover", round: $round, failures: 1}' >>"$RESULTS"
    log "failover round $round: no new block within 15 s"
  fi
}

# Stops the node (SIGINT: coco removes its ephemeral directory; SIGKILL after 10 s)
# and reaps it; sets NODE_RSS to its peak RSS (VmHWM) in kB.
NODE_RSS=0
stop_node() {
  local pid="$NODE_PID" rest=() p
  NODE_RSS="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  NODE_RSS="${NODE_RSS:-0}"
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    # Exited (a zombie until reaped) or gone.
    grep -qs '^State:[[:space:]]*[^Z]' "/proc/$pid/status" || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || rest+=("$p"); done
  PIDS=("${rest[@]}")
}

# run_one IMPL MODE CONFIG ROUND TXS BATCH CONCURRENCY [RATE]; appends to RESULTS.
# Returns 1 when the run had failures.
run_one() {
  local impl="$1" mode="$2" config="$3" round="$4" txs="$5" batch="$6" conc="$7" rate="${8:-}"
  local args json status=0
  RAFT_LOG_KB=""
  case "$mode" in
    cluster) start_cluster re-execute ;;
    cluster-ws) start_cluster write-set ;;
    *) start_node "$impl" "$mode" ;;
  esac
  args=(bench --url "$NODE_URL" --txs "$txs" --senders "$SENDERS" --batch "$batch"
    --concurrency "$conc" --timeout-secs "$TIMEOUT" --json)
  [[ -n "$rate" ]] && args+=(--rate "$rate")
  [[ "$mode" == nomine ]] && args+=(--mine-interval-ms "$MINE_MS")
  # One transaction at a time: send, then ask for its receipt until it comes (as
  # `cast send` or ethers' wait() do), then the next.
  [[ "$config" == instant-single ]] && args+=(--wait-receipt)
  json="$("$COCO" "${args[@]}" 2>>"$OUT/bench.log")" || status=$?
  if [[ "$mode" == cluster* ]]; then stop_cluster; else stop_node; fi
  [[ "$json" == \{* ]] || json="{\"failures\": $txs, \"errors\": [\"coco bench exited with $status\"]}"
  jq -c --arg impl "$impl" --arg mode "$mode" --arg config "$config" --argjson round "$round" \
    --argjson rss "$NODE_RSS" --argjson log "${RAFT_LOG_KB:-null}" \
    '. + {impl: $impl, mode: $mode, config: $config, round: $round, rss_mb: ($rss / 1024)}
      + (if $log then {raft_log_kb: $log} else {} end)' \
    <<<"$json" >>"$RESULTS"
  log "$(jq -r '"\(.config) \(.impl) (\(.mode)) round \(.round): \(.tps // 0 | floor) tx/s, p50 \(.p50_ms // 0) ms, p99 \(.p99_ms // 0) ms, failures \(.failures), rss \(.rss_mb | floor) MB, client \(.client_cpu_share // 0) cores"' <<<"$(tail -1 "$RESULTS")")"
  [[ "$(jq -r .failures <<<"$json")" == 0 ]]
}

# The anvil mode of each configuration: automine is tried first for the instant
# ones (with a shorter timeout) and dropped for good after a run that does not
# complete; bt runs use --no-mining + evm_mine every MINE_MS (a MINE_MS block time).
declare -A ANVIL_MODE=()

# run_pair CONFIG ROUND TXS BATCH CONCURRENCY [COCO_RATE ANVIL_RATE]
run_pair() {
  local config="$1" round="$2" txs="$3" batch="$4" conc="$5" crate="${6:-}" arate="${7:-}"
  local base="${config%%-*}" first second impl
  if [[ -z "${ANVIL_MODE[$config]:-}" ]]; then
    if [[ "$base" == instant ]]; then ANVIL_MODE[$config]=automine; else ANVIL_MODE[$config]=nomine; fi
  fi
  if ((round % 2)); then first=coco second=anvil; else first=anvil second=coco; fi
  for impl in "$first" "$second"; do
    if [[ "$impl" == coco ]]; then
      run_one coco "$base" "$config" "$round" "$txs" "$batch" "$conc" "$crate" || true
    else
      until TIMEOUT="$([[ "${ANVIL_MODE[$config]}" == automine ]] && echo "$AUTOMINE_TIMEOUT" || echo "$TIMEOUT")" \
        run_one anvil "${ANVIL_MODE[$config]}" "$config" "$round" "$txs" "$batch" "$conc" "$arate"; do
        [[ "${ANVIL_MODE[$config]}" == automine ]] || break
        log "$config: anvil automine did not complete; --no-mining + evm_mine every $MINE_MS ms from now on"
        ANVIL_MODE[$config]=nomine
      done
    fi
  done
}

# median IMPL CONFIG FIELD: over the runs without failures (for anvil, in the
# configuration's final mode).
median() {
  jq -s --arg impl "$1" --arg config "$2" --arg f "$3" --arg mode "${ANVIL_MODE[$2]:-}" '
    [.[] | select(.impl == $impl and .config == $config and .failures == 0)
      | select(.impl == "coco" or .mode == $mode) | .[$f] | numbers] | sort
    | if length == 0 then null else (.[(length - 1) / 2 | floor] + .[length / 2 | floor]) / 2 end' "$RESULTS"
}

# failures IMPL CONFIG: failed transactions over all runs (for anvil, in the final mode).
failures() {
  jq -s --arg impl "$1" --arg config "$2" --arg mode "${ANVIL_MODE[$2]:-}" '
    [.[] | select(.impl == $impl and .config == $config)
      | select(.impl == "coco" or .mode == $mode) | .failures] | add // 0' "$RESULTS"
}

PIPELINE=""
if [[ -z "${SKIP_PIPELINE:-}" ]]; then
  log "in-process limit: cargo bench --bench coco -- pipeline"
  if ! cargo bench --quiet --bench coco -- pipeline 2>&1 | tee "$OUT/pipeline.txt" >&2; then
    log "the pipeline bench failed: no in-process limit (see $OUT/pipeline.txt)"
  fi
  # criterion: "thrpt:  [low mid high]", e.g. "[10.1 Kelem/s 10.3 Kelem/s 10.5 Kelem/s]",
  # of the whole pipeline (`pipeline/all_…`; the other groups time its phases).
  PIPELINE="$(awk '/^pipeline\/all_/ {all = 1} all && /thrpt:/ {v = $4; u = $5; sub(/\]/, "", u);
    m = (u ~ /^K/) ? 1e3 : (u ~ /^M/) ? 1e6 : 1; printf "%.0f", v * m; exit}' "$OUT/pipeline.txt")"
fi

# The three validators: peak (cluster-b50, against the single node's bt-b50 of the same
# rounds), the failover, then open-loop latency at half the cluster's peak, the single
# node beside it at the same rate.
cluster_rounds() {
  local round half
  for round in $(seq 1 "$RUNS"); do
    [[ -n "${1:-}" ]] && { run_one coco bt bt-b50 "$round" "$N" 50 "$CONC" || true; }
    run_one coco cluster cluster-b50 "$round" "$N" 50 "$CONC" || true
    run_one coco cluster-ws cluster-ws-b50 "$round" "$N" 50 "$CONC" || true
    failover_one "$round"
  done
  half="$(jq -n --argjson t "$(median coco cluster-b50 tps)" '$t / 2 | floor' 2>/dev/null || echo 1000)"
  # CLUSTER_RATE fixes the open-loop rate instead (to compare runs whose peaks differ).
  half="${CLUSTER_RATE:-$half}"
  for round in $(seq 1 "$RUNS"); do
    run_one coco bt single-open "$round" "$NOPEN" 50 "$CONC" "$half" || true
    run_one coco cluster cluster-open "$round" "$NOPEN" 50 "$CONC" "$half" || true
    run_one coco cluster-ws cluster-ws-open "$round" "$NOPEN" 50 "$CONC" "$half" || true
  done
  CLUSTER_HALF="$half"
}

cluster_summary() {
  jq -rn --argjson c "$(median coco cluster-b50 tps)" --argjson o "$(median coco bt-b50 tps)" \
    --argjson p50 "$(median coco cluster-b50 p50_ms)" --argjson f "$(failures coco cluster-b50)" \
    --argjson fo "$(median coco failover failover_ms)" --argjson bt "$MINE_MS" \
    --argjson rate "${CLUSTER_HALF:-null}" \
    --argjson cop50 "$(median coco cluster-open p50_ms)" --argjson cop99 "$(median coco cluster-open p99_ms)" \
    --argjson sop50 "$(median coco single-open p50_ms)" --argjson sop99 "$(median coco single-open p99_ms)" \
    --argjson cof "$(failures coco cluster-open)" \
    --argjson w "$(median coco cluster-ws-b50 tps)" --argjson wp50 "$(median coco cluster-ws-b50 p50_ms)" \
    --argjson wf "$(failures coco cluster-ws-b50)" \
    --argjson wop50 "$(median coco cluster-ws-open p50_ms)" --argjson wop99 "$(median coco cluster-ws-open p99_ms)" \
    --argjson wof "$(failures coco cluster-ws-open)" \
    --argjson clog "$(median coco cluster-b50 raft_log_kb)" --argjson wlog "$(median coco cluster-ws-b50 raft_log_kb)" \
    --argjson n "$N" '
    def f(x): if x == null then "—" else (x * 10 | round) / 10 | tostring end;
    if $c and $o then
      "three validators (bt \($bt) ms, batch 50, sent to all three): \($c | floor) tx/s = \(($c / $o * 100 | round) / 100) of the single node bt-b50 (\($o | floor)), p50 \(f($p50)) ms at saturation, failures \($f)"
    else "three validators: no run without failures (failures \($f))" end,
    if $w and $o then
      "three validators, --apply write-set: \($w | floor) tx/s = \(($w / $o * 100 | round) / 100) of the single node\(if $c then ", \(($w / $c * 100 | round) / 100)x re-execution" else "" end), p50 \(f($wp50)) ms at saturation, failures \($wf)"
    else "three validators, --apply write-set: no run without failures (failures \($wf))" end,
    if $clog and $wlog then
      "Raft log after \($n) transfers: \($clog) kB re-executing, \($wlog) kB with write sets (\(($wlog / $clog * 100 | round) / 100)x)"
    else "Raft log sizes: not measured" end,
    "open loop at \($rate) tx/s: three validators p50 \(f($cop50)) / p99 \(f($cop99)) ms (failures \($cof)); with --apply write-set p50 \(f($wop50)) / p99 \(f($wop99)) ms (failures \($wof)); single node p50 \(f($sop50)) / p99 \(f($sop99)) ms",
    if $fo then "failover: \($fo) ms from kill -9 of the leader to the new leader'"'"'s first block on a survivor (median)" else "failover: not measured" end'
}

# ONLY=cluster: the single node's bt-b50 and the three validators, nothing else.
if [[ "${ONLY:-}" == cluster ]]; then
  cluster_rounds with-single
  {
    echo "coco bench (ONLY=cluster): N=$N (batch 50), NOPEN=$NOPEN, senders $SENDERS, concurrency $CONC, bt $MINE_MS ms, medians of $RUNS runs; $(nproc) cores"
    cluster_summary
  } | tee "$OUT/summary.md"
  exit 0
fi

for round in $(seq 1 "$RUNS"); do
  log "round $round of $RUNS"
  run_pair instant-b1 "$round" "$N1" 1 "$CONC"
  run_pair instant-b50 "$round" "$N" 50 "$CONC"
  run_pair bt-b1 "$round" "$N1" 1 "$CONC"
  run_pair bt-b50 "$round" "$N" 50 "$CONC"
done

# Admission by governance and the confidential policy: the same bt/batch-50 load
# against a consortium of one (coco only; compared with coco's own bt-b50).
for round in $(seq 1 "$RUNS"); do
  run_one coco consortium consortium-b50 "$round" "$N" 50 "$CONC" || true
done

# Three validators (Raft, every block committed by a quorum; the senders spread over
# the three nodes), the same bt/batch-50 load; compared with coco's single bt-b50.
cluster_rounds

# Open-loop latency at about half of each node's own peak (bt, batch 50).
half() { jq -n --argjson t "$(median "$1" bt-b50 tps)" '$t / 2 | floor' 2>/dev/null || echo 1000; }
COCO_HALF="$(half coco)"
ANVIL_HALF="$(half anvil)"
for round in $(seq 1 "$RUNS"); do
  run_pair bt-open "$round" "$NOPEN" 50 "$CONC" "$COCO_HALF" "$ANVIL_HALF"
  run_pair instant-single "$round" "$NLAT" 1 1
done

{
  echo "coco bench: N=$N (batch 50), N1=$N1 (batch 1), NOPEN=$NOPEN, NLAT=$NLAT, senders $SENDERS,"
  echo "concurrency $CONC (1 for instant-single), medians of $RUNS runs without failures; $(nproc) cores"
  echo
  echo "| config | coco tx/s | anvil tx/s | coco/anvil | coco p50 / p99 ms | anvil p50 / p99 ms | coco RSS MB | anvil RSS MB | client CPU, cores (coco run) | failures coco/anvil | anvil mode |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for config in instant-b1 instant-b50 bt-b1 bt-b50 bt-open instant-single; do
    mode="${ANVIL_MODE[$config]:-}"
    [[ "$mode" == nomine ]] && mode="--no-mining + evm_mine/${MINE_MS}ms"
    stalled="$(jq -s --arg c "$config" '[.[] | select(.impl == "anvil" and .config == $c and .mode == "automine" and .failures > 0)] | length' "$RESULTS")"
    ((stalled == 0)) || mode="$mode (automine stalled)"
    jq -rn --arg config "$config" --arg mode "$mode" \
      --argjson ct "$(median coco "$config" tps)" --argjson at "$(median anvil "$config" tps)" \
      --argjson cp50 "$(median coco "$config" p50_ms)" --argjson cp99 "$(median coco "$config" p99_ms)" \
      --argjson ap50 "$(median anvil "$config" p50_ms)" --argjson ap99 "$(median anvil "$config" p99_ms)" \
      --argjson crss "$(median coco "$config" rss_mb)" --argjson arss "$(median anvil "$config" rss_mb)" \
      --argjson cpu "$(median coco "$config" client_cpu_share)" \
      --argjson cf "$(failures coco "$config")" --argjson af "$(failures anvil "$config")" '
      def f(x; d): if x == null then "—" else (x * d | round) / d | tostring end;
      "| \($config) | \(f($ct; 1)) | \(f($at; 1)) | \(if $ct and $at then f($ct / $at; 100) + "x" else "—" end) | \(f($cp50; 100)) / \(f($cp99; 100)) | \(f($ap50; 100)) / \(f($ap99; 100)) | \(f($crss; 1)) | \(f($arss; 1)) | \(f($cpu; 100)) | \($cf) / \($af) | \($mode) |"'
  done
  echo
  jq -rn --argjson g "$(median coco consortium-b50 tps)" --argjson o "$(median coco bt-b50 tps)" \
    --argjson p50 "$(median coco consortium-b50 p50_ms)" --argjson f "$(failures coco consortium-b50)" '
    if $g and $o then
      "consortium (bt, batch 50; governed admission, confidential policy): \($g | floor) tx/s = \(($g / $o * 100 | round) / 100) of the open bt-b50, p50 \($p50) ms, failures \($f)"
    else "consortium: no run without failures (failures \($f))" end'
  cluster_summary
  if [[ -n "$PIPELINE" ]]; then
    BEST="$(median coco bt-b50 tps)"
    echo "in-process limit (cargo bench --bench coco -- pipeline): $PIPELINE tx/s"
    jq -rn --argjson e "$BEST" --argjson p "$PIPELINE" \
      '"end-to-end (bt, batch 50) = \($e | floor) tx/s = \(($e / $p * 100 | round) / 100) of the in-process limit"'
  fi
  echo "runs: $RESULTS"
} | tee "$OUT/summary.md"
