#!/usr/bin/env bash
# Regenerates tests/golden/errors/<case>.txt (lines: name | arguments [| exit code]) from tests/golden/errors/cases.txt with ./build/orrery
# (or the binary in $ORRERY, e.g. ORRERY=build-sys/orrery).
# Review the diff before committing: these files are the error messages users see.
set -euo pipefail
cd "$(dirname "$0")/.."
while IFS='|' read -r name args code; do  # code: the expected exit code, 2 when absent
  name=$(echo "$name" | xargs)
  [[ -z "$name" || "$name" == \#* ]] && continue
  eval "${ORRERY:-./build/orrery} $args" 2>"tests/golden/errors/$name.txt" >/dev/null || true
done < tests/golden/errors/cases.txt
