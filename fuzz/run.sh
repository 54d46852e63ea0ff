#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each on the nightly toolchain and prints
# libFuzzer's closing statistics. Crashes land in fuzz/artifacts/<target>/.
#   bash fuzz/run.sh 300
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/manifest corpus/decode_bodies
cp ../connectors.yaml ../fastn-auth-macros/tests/ui/manifests/*.yaml corpus/manifest/ 2>/dev/null || true
printf '%s' '{"success":true,"credentials":{"access_token":"a","expires_in":1,"x":[1]}}' > corpus/decode_bodies/creds.json
printf '%s' '{"status":"FAILED","errorMessage":"e"}' > corpus/decode_bodies/status.json
printf '%s' '{"type":"oauth","success":true,"state":"s","redirectUrl":"u"}' > corpus/decode_bodies/init.json
for target in decode_bodies manifest; do
    echo "== $target, ${seconds}s"
    cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536 -timeout=2 2>&1 \
        | grep -E "^(Done|#[0-9]+ *DONE)|SUMMARY|panicked|ERROR" || true
done
