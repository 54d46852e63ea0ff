#!/usr/bin/env bash
# Wire compatibility checked by clients we did not write, in a venv under the target
# directory (scripts/python-requirements.txt): the official Python client (fastn-auth)
# completes a whole flow against the standalone emulator (`fastn-auth emulator`), and
# Fastn's tools client (fastn-ai) runs tools with a registry `tools sync` wrote from it.
# Needs python3 and PyPI; .ci/run runs it as its own step, with FASTN_AUTH_BIN set to the
# `fastn-auth` binary its test step built (otherwise this script builds one).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

python="$(bash scripts/python-venv.sh)"
fastn_auth="${FASTN_AUTH_BIN:-}"
if [ -z "$fastn_auth" ]; then
    cargo build --quiet -p fastn-auth-cli
    fastn_auth="$target/debug/fastn-auth"
fi
out="$(mktemp)"
# Given the workspace manifest, the emulator answers Salesforce with its declared fields.
"$fastn_auth" emulator --port 0 --auto-approve 100ms --quiet --manifest connectors.yaml >"$out" 2>/dev/null &
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

# Tools: the registry synced from the emulator's GraphQL (as Fastn's CLI builds it) is the
# sample registry, the macro's library reads it, and Fastn's own tools client (fastn-ai)
# runs tools with it against the emulator.
work="$(mktemp -d)"
trap 'kill "$emulator" 2>/dev/null || true; rm -rf "$out" "$work"' EXIT
FASTN_SPACE_ID=mock-space FASTN_API_KEY=mock-api-key FASTN_BASE_URL="$base_url" \
    "$fastn_auth" tools sync --org acme-org --out "$work/.fastn/registry.json"
"$python" - "$work/.fastn/registry.json" .fastn/registry.json <<'PY'
import json, sys
synced, sample = (json.load(open(path)) for path in sys.argv[1:])
def tools(registry):
    return {(key, c["id"], name, t["toolId"], json.dumps(t.get("inputSchema"), sort_keys=True))
            for key, c in registry["connectors"].items() for name, t in c["tools"].items()}
if tools(synced) != tools(sample):
    sys.exit(f"the synced registry differs from the sample: {tools(synced) ^ tools(sample)}")
PY
# The workspace's manifest beside the synced registry: its `registry:` names that one.
cp connectors.yaml "$work/connectors.yaml"
"$fastn_auth" manifest expand "$work/connectors.yaml" | grep -q "pub struct SlackSendMessage" \
    || { echo "the macro's library did not generate SlackSendMessage from the synced registry"; exit 1; }
echo "tools sync wrote the registry the emulator serves, and the macro's library reads it"

result="$("$python" scripts/fastn_ai_tools.py "$base_url" mock-api-key "$work/.fastn/registry.json")"
echo "$result"
for line in "proxy_tool=send_message" "proxy_tenant=acme" \
    'proxy_parameters={"body": {"channel": "C1", "text": "from fastn-ai"}}' "execute_tool=list_channels" \
    "invalid_status=400" "connect_status=pending" "connect_auth_url_is_the_emulators=True" \
    "status_after=authorized" "status_by_tenant=authorized" \
    "get_tools_openai=slack_send_message" "get_tools_anthropic=slack_send_message" \
    "get_tools_gemini=slack_send_message" "get_tools_bedrock=slack_send_message" \
    "run_tool=send_message" 'run_parameters={"body": {"channel": "C1", "text": "from run"}}'; do
    grep -qF -- "$line" <<<"$result" || { echo "missing \`$line\` in fastn-ai's output"; exit 1; }
done
echo "Fastn's own Python client (fastn-ai) ran tools and its connections API against the emulator"
