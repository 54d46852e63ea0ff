#!/usr/bin/env bash
# The Redis-level hit over TLS against plain Redis, in one run (BENCH.md, part 9): two
# throwaway redis-servers, one plain and one TLS with a CA made here by openssl, then
# `bench redis` against both. Needs redis-server and openssl (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
dir="$(mktemp -d)"
trap 'kill $(cat "$dir"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "subjectAltName=IP:127.0.0.1" > "$dir/san.cnf"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=bench CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
  -extfile "$dir/san.cnf" -out "$dir/server.pem" 2>/dev/null
redis-server --port 6391 --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/plain.pid"
redis-server --port 0 --tls-port 6392 --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes \
  --pidfile "$dir/tls.pid" --tls-cert-file "$dir/server.pem" --tls-key-file "$dir/server.key" \
  --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no
sleep 0.5
cargo build --release -q -p fastn-auth-bench
"$target/release/bench" redis --redis-url redis://127.0.0.1:6391/ --tls-url rediss://127.0.0.1:6392/ \
  --ca-file "$dir/ca.pem" "$@"
