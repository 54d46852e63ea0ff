#!/usr/bin/env bash
# Runs every test binary of the workspace N times (default 30), each from its package's
# directory as cargo would, and counts failures: the flake check of BENCH.md ("First run").
# trybuild's suite is left out (it runs cargo itself; it compiles, it does not race). Builds
# first; honours CARGO_TARGET_DIR (cargo reports where the binaries are). A second argument
# keeps only the test binaries whose target name matches it (an extended regex).
#   bash scripts/repeat-tests.sh 30
#   bash scripts/repeat-tests.sh 20 '^(cross|router)$'
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"
only="${2:-}"
list="$(mktemp)"
trap 'rm -f "$list"' EXIT
cargo test --workspace --no-run --message-format=json 2>/dev/null | python3 -c '
import json, os, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"].get("test"):
        print(m["executable"], os.path.dirname(m["manifest_path"]), m["target"]["name"])
' > "$list"
# Proc-macro test binaries link the toolchain's libstd dynamically, as cargo arranges.
libs="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib"
total=0
failed=0
for run in $(seq 1 "$runs"); do
    while read -r exe dir name; do
        [ "$name" = "ui" ] && continue
        [ -n "$only" ] && ! [[ "$name" =~ $only ]] && continue
        total=$((total + 1))
        if ! out="$(cd "$dir" && CI=true CARGO_MANIFEST_DIR="$dir" LD_LIBRARY_PATH="$libs" "$exe" 2>&1)"; then
            failed=$((failed + 1))
            echo "run $run: $name failed"
            grep -E "panicked|FAILED" <<<"$out" | head -5
        fi
    done < "$list"
done
echo "$total runs of $((total / runs)) test binaries, $failed failed"
[ "$failed" -eq 0 ]
