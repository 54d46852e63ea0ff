#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each on the nightly toolchain and prints
# libFuzzer's closing statistics. Crashes land in fuzz/artifacts/<target>/.
#   bash fuzz/run.sh 300
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/manifest corpus/decode_bodies corpus/registry
cp ../.fastn/registry.json ../fastn-auth-codegen/tests/manifests/tools_edge.json corpus/registry/ 2>/dev/null || true
cp ../connectors.yaml ../tests/macro/tests/ui/manifests/*.yaml corpus/manifest/ 2>/dev/null || true
printf '%s' '{"success":true,"credentials":{"access_token":"a","expires_in":1,"x":[1]}}' > corpus/decode_bodies/creds.json
printf '%s' '{"status":"FAILED","errorMessage":"e"}' > corpus/decode_bodies/status.json
printf '%s' '{"type":"oauth","success":true,"state":"s","redirectUrl":"u"}' > corpus/decode_bodies/init.json
# A target that crashes or times out makes the script exit non-zero, after every target ran.
failed=()
for target in decode_bodies manifest registry; do
    echo "== $target, ${seconds}s"
    log="$(mktemp)"
    if ! cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536 -timeout=2 >"$log" 2>&1; then
        failed+=("$target")
    fi
    grep -E "^(Done|#[0-9]+ *DONE)|SUMMARY|panicked|ERROR" "$log" || true
    rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found a crash or timeout in: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
