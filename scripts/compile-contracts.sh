#!/usr/bin/env bash
# Regenerates contracts/out/<Name>.json (Foundry artifact shape, read by alloy's
# sol! macro in the Rust tests) from contracts/*.sol with solcjs 0.8.37,
# optimizer on (200 runs), evmVersion prague. Commit the result.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/install-tools.sh"
node "$ROOT/scripts/tools/compile-contracts.js"
