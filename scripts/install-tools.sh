#!/usr/bin/env bash
# Installs the pinned Ethereum tools the integration tests drive into
# <repo>/.tools (git-ignored):
#   .tools/bin/{anvil,cast,forge}  -> Foundry 1.7.1 (npm @foundry-rs/*-linux-amd64)
#   .tools/bin/solc                -> Node shim around solcjs 0.8.37 (scripts/tools/solc-shim.js)
# Versions are pinned by scripts/tools/package.json + package-lock.json (npm ci).
# Idempotent: a no-op when the stamp matches the lockfile and shim.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/tools"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"

for need in node npm; do
  command -v "$need" >/dev/null 2>&1 || { echo "install-tools: $need (Node >= 20) is required" >&2; exit 1; }
done

mkdir -p "$TOOLS"
# Serialise concurrent installs (two test runs at once).
exec 9>"$TOOLS/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

stamp="$(cat "$SRC/package.json" "$SRC/package-lock.json" "$SRC/solc-shim.js" | sha256sum | cut -d' ' -f1)"

installed() {
  [[ "$(cat "$TOOLS/.stamp" 2>/dev/null)" == "$stamp" ]] || return 1
  local t
  for t in anvil cast forge solc; do [[ -x "$BIN/$t" ]] || return 1; done
}

if installed; then exit 0; fi

cp "$SRC/package.json" "$SRC/package-lock.json" "$TOOLS/"
(
  cd "$TOOLS"
  # npm prints an "Unknown user config" warning on some machines; keep it quiet.
  if ! out="$(npm ci --no-audit --no-fund --loglevel=error 2>&1)"; then
    echo "$out" >&2
    echo "install-tools: npm ci failed in $TOOLS" >&2
    exit 1
  fi
)

mkdir -p "$BIN"
for t in anvil cast forge; do
  exe="$TOOLS/node_modules/@foundry-rs/$t-linux-amd64/bin/$t"
  [[ -f "$exe" ]] || { echo "install-tools: missing $exe" >&2; exit 1; }
  chmod +x "$exe"
  ln -sfn "../node_modules/@foundry-rs/$t-linux-amd64/bin/$t" "$BIN/$t"
done
# A copy, not a symlink: the shim finds solcjs relative to its own directory.
cp "$SRC/solc-shim.js" "$BIN/solc"
chmod +x "$BIN/solc"

# Sanity check: every tool runs.
for t in anvil cast forge solc; do
  if ! "$BIN/$t" --version >/dev/null 2>&1; then
    echo "install-tools: $BIN/$t --version failed" >&2
    exit 1
  fi
done

echo "$stamp" >"$TOOLS/.stamp"
