#!/usr/bin/env bash
# Ethereum's JSON-RPC conformance tests (execution-apis, hive's rpc-compat suite)
# against a release build of coco, with the per-test lines and the score shown:
#
#   scripts/conformance.sh
#     = cargo test --release --test it conformance:: -- --nocapture
#
# The runner is tests/it/conformance.rs, the data tests/conformance/execution-apis/.
# It fails when a test listed in tests/conformance/passing.txt fails. Environment:
#   COCO_CONFORMANCE_UPDATE=1       rewrite passing.txt with the tests passing now
#   COCO_CONFORMANCE_FILTER=text    run only the tests whose name contains text
#                                   (e.g. eth_call/); passing.txt is left alone
# Extra arguments go to the test binary (after --nocapture).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo test --release --test it conformance:: -- --nocapture "$@"
