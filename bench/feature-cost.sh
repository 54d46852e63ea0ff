#!/usr/bin/env bash
# The compile cost of fastn-auth's optional features, cold: for the default build and for
# each feature on top of it, the crates compiled and the wall seconds, each in an empty
# target directory of its own (under $CARGO_TARGET_DIR, else target/). BENCH.md "Bridges".
#
#   bash bench/feature-cost.sh [feature…]     # default: the three bridges
set -euo pipefail
cd "$(dirname "$0")/.."
base="${CARGO_TARGET_DIR:-$PWD/target}/feature-cost"
features=("$@")
[ ${#features[@]} -gt 0 ] || features=(reqwest-middleware tower google-apis)
# Every crate downloaded first: the figures are compile time, not network time.
cargo fetch -q
printf '%-22s %8s %8s\n' "features" "crates" "seconds"
for feature in "" "${features[@]}"; do
    dir="$base/${feature:-default}"
    rm -rf "$dir"
    start=$(date +%s.%N)
    if [ -z "$feature" ]; then
        log="$(CARGO_TARGET_DIR="$dir" cargo build -p fastn-auth 2>&1)"
    else
        log="$(CARGO_TARGET_DIR="$dir" cargo build -p fastn-auth --features "$feature" 2>&1)"
    fi
    end=$(date +%s.%N)
    crates=$(grep -c '^ *Compiling' <<<"$log" || true)
    printf '%-22s %8d %8.1f\n' "${feature:-default}" "$crates" "$(echo "$end - $start" | bc)"
    rm -rf "$dir"
done
