#!/usr/bin/env bash
# Runs scripts/mcp-ts/list_tools.mjs (the official TypeScript MCP SDK, pinned in
# scripts/mcp-ts/package.json) against a fastn-auth MCP server, installing the SDK from npm
# under the target directory first when it is not there. For tests/mcp.rs. With a first
# argument naming another script of scripts/mcp-ts (`oauth_server.mjs`, `oauth_client.mjs`),
# runs that one with the rest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${CARGO_TARGET_DIR:-$root/target}/mcp-ts"
mkdir -p "$dir"
# Tests run side by side: one installs while the others wait for it, never two at once.
exec 9>"$dir/.install.lock"
flock 9
if ! cmp -s "$root/scripts/mcp-ts/package.json" "$dir/package.json" || [ ! -f "$dir/.installed" ]; then
    rm -f "$dir/.installed"
    cp "$root/scripts/mcp-ts/package.json" "$dir/package.json"
    (cd "$dir" && npm install --silent --no-audit --no-fund --no-package-lock >&2)
    touch "$dir/.installed"
fi
flock -u 9
script=list_tools.mjs
case "${1:-}" in
    *.mjs) script="$1"; shift ;;
esac
cp "$root/scripts/mcp-ts/$script" "$dir/$script"
exec node "$dir/$script" "$@"
