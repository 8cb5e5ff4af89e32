#!/usr/bin/env bash
# The whole test suite: installs the pinned Ethereum tools (.tools/, see
# scripts/install-tools.sh), then runs every test in the workspace (debug
# profile; dependencies are built at opt-level 2, see Cargo.toml).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/check-layers.sh
bash scripts/install-tools.sh
export PATH="$ROOT/.tools/bin:$PATH"

cargo test --workspace "$@"
