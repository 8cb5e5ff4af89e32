#!/usr/bin/env bash
# A consortium of three validators on loopback, in one command.
#
#   scripts/cluster.sh up       build coco (release), make three identities, write the
#                               genesis (genesis/consortium.json with the three as its
#                               validators), found the cluster with v1, join v2 and v3;
#                               prints each RPC URL
#   scripts/cluster.sh status   each validator's role, leader, term, height and peers
#   scripts/cluster.sh down     stop the three (SIGTERM), keep their data
#   scripts/cluster.sh clean    down, then remove the data
#   scripts/cluster.sh commands the three `coco` command lines it runs
#
# Environment: CLUSTER_DIR (default .coco/cluster), COCO (a coco binary; default: built
# with `cargo build --release`), BASE_PORT (default 8545: RPC on 8545..8547, peers on
# 9545..9547), BLOCK_TIME_MS (default 100).
# docker-compose.yml runs the same three validators with the same commands.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CLUSTER_DIR:-$ROOT/.coco/cluster}"
BASE_PORT="${BASE_PORT:-8545}"
BLOCK_TIME_MS="${BLOCK_TIME_MS:-100}"
NAMES=(v1 v2 v3)

coco_bin() {
  if [ -n "${COCO:-}" ]; then echo "$COCO"; return; fi
  (cd "$ROOT" && cargo build --release --quiet) >&2
  echo "$ROOT/target/release/coco"
}

rpc_port() { echo $((BASE_PORT + $1)); }
peer_port() { echo $((BASE_PORT + 1000 + $1)); }

# The genesis: the consortium example with this cluster's validators.
write_genesis() {
  local bin="$1" i
  cp "$ROOT/genesis/consortium.json" "$DIR/genesis.json"
  for i in 0 1 2; do
    "$bin" node id --data-dir "$DIR/${NAMES[$i]}" --add-to "$DIR/genesis.json" >/dev/null
  done
}

# The arguments of validator `index`'s `coco` command line, one per line.
node_args() { # index
  local i="$1" name="${NAMES[$1]}"
  printf '%s\n' node --data-dir "$DIR/$name" --port "$(rpc_port "$i")" \
    --peer-listen "127.0.0.1:$(peer_port "$i")" --block-time "$BLOCK_TIME_MS"
  if [ "$i" != 0 ]; then
    printf '%s\n' --join "127.0.0.1:$(peer_port 0)" --genesis "$DIR/genesis.json"
  fi
}

start() { # index
  local i="$1" name="${NAMES[$1]}" args=()
  mapfile -t args < <(node_args "$i")
  "$BIN" "${args[@]}" >>"$DIR/$name.out" 2>>"$DIR/$name.log" &
  echo $! >"$DIR/$name.pid"
}

wait_rpc() { # index
  local url="http://127.0.0.1:$(rpc_port "$1")"
  for _ in $(seq 1 600); do
    if curl -sf -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "validator ${NAMES[$1]} did not start; see $DIR/${NAMES[$1]}.log" >&2
  return 1
}

running() { # index
  local pid="$DIR/${NAMES[$1]}.pid"
  [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null
}

up() {
  BIN="$(coco_bin)"
  mkdir -p "$DIR"
  if [ ! -f "$DIR/genesis.json" ]; then
    write_genesis "$BIN"
    "$BIN" init --genesis "$DIR/genesis.json" --data-dir "$DIR/v1" >/dev/null
  fi
  running 0 || start 0
  wait_rpc 0
  for i in 1 2; do
    running "$i" || start "$i"
  done
  for i in 1 2; do wait_rpc "$i"; done
  # Up means every validator is a voter (joining takes a catch-up and two membership
  # changes).
  local voters=0
  for _ in $(seq 1 600); do
    voters="$(curl -sf -m 1 -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"coco_nodeStatus","params":[]}' \
      "http://127.0.0.1:$(rpc_port 0)" | python3 -c \
      'import json,sys; print(sum(p["voter"] for p in json.load(sys.stdin)["result"]["peers"]))' 2>/dev/null || echo 0)"
    [ "$voters" = 3 ] && break
    sleep 0.1
  done
  [ "$voters" = 3 ] || echo "warning: $voters of 3 validators are voters so far (see the logs)" >&2
  for i in 0 1 2; do
    echo "${NAMES[$i]}: http://127.0.0.1:$(rpc_port "$i")  (peer endpoint 127.0.0.1:$(peer_port "$i"), log $DIR/${NAMES[$i]}.log)"
  done
}

status() {
  BIN="$(coco_bin)"
  for i in 0 1 2; do
    echo "${NAMES[$i]}:"
    if running "$i"; then
      "$BIN" node status --rpc "http://127.0.0.1:$(rpc_port "$i")" | sed 's/^/  /'
    else
      echo "  not running"
    fi
  done
}

down() {
  for i in 0 1 2; do
    if running "$i"; then kill "$(cat "$DIR/${NAMES[$i]}.pid")"; fi
  done
  for i in 0 1 2; do
    while running "$i"; do sleep 0.1; done
    rm -f "$DIR/${NAMES[$i]}.pid"
  done
}

case "${1:-}" in
  up) up ;;
  commands) for i in 0 1 2; do node_args "$i" | paste -sd' '; done ;;
  status) status ;;
  down) down ;;
  clean) down; rm -rf "$DIR" ;;
  *) echo "usage: scripts/cluster.sh up|status|down|clean|commands" >&2; exit 2 ;;
esac
