#!/usr/bin/env bash
# Runs scripts/mcp_client.py (the official MCP SDK for Python against a fastn-auth MCP
# server) in the project's venv, installed first when a pin is missing. For the Rust tests
# (tests/mcp.rs, fastn-auth-cli/tests/cli.rs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$(bash "$root/scripts/python-venv.sh")"
exec "$python" "$root/scripts/mcp_client.py" "$@"
