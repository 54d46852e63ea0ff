#!/usr/bin/env bash
# Wire compatibility checked by a client we did not write: the official Python client
# (fastn-auth 1.0.5, in a venv under the target directory) completes a whole flow against
# the standalone emulator (`fastn-auth emulator`). Needs python3 and PyPI; .ci/run runs it as its own step.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

python="$(bash scripts/python-venv.sh)"
cargo build --quiet -p fastn-auth-cli
out="$(mktemp)"
# Given the workspace manifest, the emulator answers Salesforce with its declared fields.
"$target/debug/fastn-auth" emulator --port 0 --auto-approve 100ms --quiet --manifest connectors.yaml >"$out" 2>/dev/null &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
    [ -s "$out" ] && break
    sleep 0.1
done
base_url="$(head -n 1 "$out")"
[ -n "$base_url" ] || { echo "the emulator printed no base URL"; exit 1; }

result="$("$python" scripts/official_client_flow.py "$base_url" mock-api-key)"
echo "$result"
origin="${base_url%/api}"
for line in "redirect_url=$origin/authorize?state=" "status=ACTIVE" \
    "instance_url=https://acme.example.com/instanceurl" "has_access_token=True" "expires_in=3599"; do
    grep -qF -- "$line" <<<"$result" || { echo "missing \`$line\` in the official client's output"; exit 1; }
done
echo "the official Python client completed a flow against the emulator"
