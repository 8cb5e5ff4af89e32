#!/usr/bin/env bash
# Installs the pinned Ethereum tools the integration tests drive into
# <repo>/.tools (git-ignored):
#   .tools/bin/{anvil,cast,forge}  -> Foundry 1.7.1 (npm @foundry-rs/*-linux-amd64)
#   .tools/bin/solc                -> Node shim around solcjs 0.8.37 (scripts/tools/solc-shim.js)
#   .tools/bin/hardhat             -> Hardhat 2.29.1 (with hardhat-ethers, hardhat-chai-matchers,
#                                     hardhat-network-helpers, chai); ethers 6.17.0, viem 2.57.20
#                                     are in .tools/node_modules too
#   .tools/bin/python-web3         -> python of the venv .tools/venv holding web3.py 7.14.0
#   tests/hardhat/node_modules, tests/js/node_modules -> symlinks to .tools/node_modules
#                                     (git-ignored), so those projects resolve their packages
# Versions are pinned by scripts/tools/package.json + package-lock.json (npm ci)
# and scripts/tools/requirements-web3.txt (pip, every dependency pinned).
# Idempotent: a no-op when the stamps match the pins.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/tools"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"

for need in node npm python3; do
  command -v "$need" >/dev/null 2>&1 || {
    echo "install-tools: $need is required (Node >= 20, Python >= 3.8 with venv)" >&2
    exit 1
  }
done

mkdir -p "$TOOLS"
# Serialise concurrent installs (two test runs at once).
exec 9>"$TOOLS/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

npm_stamp="$(cat "$SRC/package.json" "$SRC/package-lock.json" "$SRC/solc-shim.js" | sha256sum | cut -d' ' -f1)"
py_stamp="$( (cat "$SRC/requirements-web3.txt"; python3 --version) | sha256sum | cut -d' ' -f1)"

# Projects under tests/ that resolve their packages from .tools/node_modules.
LINKED_PROJECTS=(tests/hardhat tests/js)

npm_installed() {
  [[ "$(cat "$TOOLS/.stamp" 2>/dev/null)" == "$npm_stamp" ]] || return 1
  local t
  for t in anvil cast forge solc hardhat; do [[ -x "$BIN/$t" ]] || return 1; done
}

py_installed() {
  [[ "$(cat "$VENV/.stamp" 2>/dev/null)" == "$py_stamp" ]] && [[ -x "$BIN/python-web3" ]]
}

# (Re)create the links; they dangle until node_modules is installed.
for p in "${LINKED_PROJECTS[@]}"; do
  link="$ROOT/$p/node_modules"
  if [[ -e "$link" && ! -L "$link" ]]; then
    echo "install-tools: $link is a real directory; remove it (the project uses .tools/node_modules)" >&2
    exit 1
  fi
  [[ "$(readlink "$link" 2>/dev/null)" == "../../.tools/node_modules" ]] || ln -sfn "../../.tools/node_modules" "$link"
done

if npm_installed && py_installed; then exit 0; fi

# Prints a failed step's output only.
quiet() {
  local out
  if ! out="$("$@" 2>&1)"; then
    echo "$out" >&2
    echo "install-tools: failed: $*" >&2
    exit 1
  fi
}

# web3.py in its own venv. A wrapper, not a symlink, runs its python: the venv
# is found from the interpreter's own path.
install_py() {
  rm -rf "$VENV"
  quiet python3 -m venv "$VENV"
  quiet "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$SRC/requirements-web3.txt"
  mkdir -p "$BIN"
  printf '#!/bin/sh\nexec "$(dirname "$0")/../venv/bin/python" "$@"\n' >"$BIN/python-web3"
  chmod +x "$BIN/python-web3"
  if ! "$BIN/python-web3" -c 'import web3' >/dev/null 2>&1; then
    echo "install-tools: web3 does not import in $VENV" >&2
    exit 1
  fi
  echo "$py_stamp" >"$VENV/.stamp"
}

# The venv builds in the background while npm installs (both mostly wait on
# the registries).
py_pid=""
if ! py_installed; then
  install_py &
  py_pid=$!
fi

if ! npm_installed; then
  # Install into a staging directory, then swap node_modules in one rename, so
  # tests running meanwhile never see a half-installed tree.
  stage="$TOOLS/.staging"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$stage/"
  # npm prints an "Unknown user config" warning on some machines; keep it quiet.
  (cd "$stage" && quiet npm ci --no-audit --no-fund --loglevel=error)
  cp "$SRC/package.json" "$SRC/package-lock.json" "$TOOLS/"
  if [[ -d "$TOOLS/node_modules" ]]; then
    mv "$TOOLS/node_modules" "$TOOLS/.old_node_modules.$$"
  fi
  mv "$stage/node_modules" "$TOOLS/node_modules"
  rm -rf "$stage" "$TOOLS/.old_node_modules.$$"

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
  ln -sfn "../node_modules/hardhat/internal/cli/bootstrap.js" "$BIN/hardhat"

  # Sanity check: every tool runs.
  for t in anvil cast forge solc hardhat; do
    if ! "$BIN/$t" --version >/dev/null 2>&1; then
      echo "install-tools: $BIN/$t --version failed" >&2
      exit 1
    fi
  done
  echo "$npm_stamp" >"$TOOLS/.stamp"
fi

if [[ -n "$py_pid" ]] && ! wait "$py_pid"; then
  echo "install-tools: building $VENV failed" >&2
  exit 1
fi
