#!/usr/bin/env bash
# Peak RSS of `fastn-auth tools run` on a 16 MB `[0,0,…]` tool answer (BENCH.md §15): a
# stand-in for Fastn's executeTool (python's http.server on loopback) serves the answer, and
# python reads the CLI's ru_maxrss. The binary: the first argument, else the release build.
#   cargo build --release -p fastn-auth-cli && bash bench/tools-run-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-${CARGO_TARGET_DIR:-$PWD/target}/release/fastn-auth}"
ready="$(mktemp)"
trap 'rm -f "$ready"; kill "$server" 2>/dev/null' EXIT
python3 - "$ready" <<'PY' &
import http.server, sys
body = ('{"statusCode": 200, "body": [' + ','.join(['0'] * 8_000_000) + ']}').encode()
class Fastn(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length', 0)))
        self.send_response(200)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(('127.0.0.1', 0), Fastn)
open(sys.argv[1], 'w').write(str(server.server_port))
server.serve_forever()
PY
server=$!
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
port="$(cat "$ready")"
FASTN_SPACE_ID=space FASTN_API_KEY=key FASTN_BASE_URL="http://127.0.0.1:$port/api" python3 - "$bin" <<'PY'
import resource, subprocess, sys
ran = subprocess.run([sys.argv[1], "tools", "run", "slack", "send_message", "--tenant", "acme",
    "--registry", ".fastn/registry.json", '{"channel": "C1", "text": "hi"}'],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
assert ran.returncode == 0, ran.stderr.decode()
print(f"tools run: a 16 MB answer ({len(ran.stdout):,} bytes printed), peak RSS "
      f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f} MiB")
PY
