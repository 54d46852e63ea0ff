#!/usr/bin/env bash
# Installs the official Python client (fastn-auth, pinned) into a venv under target/ and
# prints the venv's python. Reused when already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/python-venv"
version="1.0.5"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('fastn-auth') != '$version')" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "fastn-auth==$version" >&2
fi
echo "$venv/bin/python"
