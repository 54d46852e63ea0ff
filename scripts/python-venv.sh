#!/usr/bin/env bash
# Installs the Python clients of scripts/python-requirements.txt (pinned) into a venv under
# the target directory and prints the venv's python. Reused when every pin is there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/python-venv"
requirements="$root/scripts/python-requirements.txt"
pinned() {
    "$venv/bin/python" - "$requirements" <<'PY'
import importlib.metadata as m, sys
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, version = line.split("==")
        try:
            if m.version(name) != version:
                sys.exit(1)
        except m.PackageNotFoundError:
            sys.exit(1)
PY
}
# Tests run side by side: one installs while the others wait for it, never two at once.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || ! pinned 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
fi
flock -u 9
echo "$venv/bin/python"
