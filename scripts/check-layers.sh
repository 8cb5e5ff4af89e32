#!/usr/bin/env bash
# Fails when a module uses one above it. Order (each may use only those after it):
#   rpc → node → consensus → chain → governance → execution → state → enclave (separate crate)
# cli and node are composition roots and may use everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fail=0
check() { # module, forbidden modules (regex alternation)
  local hits
  hits=$(grep -rnE "crate::($2)\b" "src/$1" || true)
  if [ -n "$hits" ]; then
    echo "layering: src/$1 must not use crate::{$2}:"
    echo "$hits"
    fail=1
  fi
}
check state 'execution|chain|rpc|node|cli'
check execution 'chain|rpc|node|cli'
check chain 'rpc|node|cli'
check governance 'chain|rpc|node|cli'
check consensus 'rpc|node|cli'
# The enclave knows nothing of the network, files or async runtimes.
hits=$(grep -rnE 'tokio|std::net|std::fs|File::' crates/enclave/src || true)
if [ -n "$hits" ]; then echo "layering: crates/enclave touches I/O:"; echo "$hits"; fail=1; fi
exit $fail
