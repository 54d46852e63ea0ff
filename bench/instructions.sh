#!/usr/bin/env bash
# Instructions per operation on the hot paths, under valgrind's callgrind: a count that a
# busy machine cannot move. Each operation runs at two counts; the difference of the total
# instructions divided by the difference of the counts is the cost of one, start-up
# cancelled out. Installs valgrind from Debian when missing; honours CARGO_TARGET_DIR.
#   bash bench/instructions.sh            # cache-hit, api, bare
#   bash bench/instructions.sh cache-hit
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
cargo build -q --release -p fastn-auth-bench --bin instructions
target="${CARGO_TARGET_DIR:-$PWD/target}"
bin="$target/release/instructions"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
total() { # what count -> total instructions of the client process
    valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2" "$bin" "$1" "$2" >/dev/null 2>"$out/log"
    sed -n 's/^summary: *//p' "$out/$1-$2"
}
printf '%-10s %12s\n' operation instructions
for what in "${@:-cache-hit api bare}"; do
    for what in $what; do
        case "$what" in
            cache-hit) small=2000 large=6000 ;;
            *) small=300 large=900 ;;
        esac
        a="$(total "$what" "$small")"
        b="$(total "$what" "$large")"
        printf '%-10s %12d\n' "$what" $(( (b - a) / (large - small) ))
    done
done
