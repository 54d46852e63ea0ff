#!/usr/bin/env bash
# The SDK against the official Python client (fastn-auth 1.0.5, in a venv under target/):
# the same flow workload, the same standalone emulator, alternating runs, medians.
#
#   bash bench/compare-python.sh            # RUNS=3 CONCURRENCY=100 PY_FLOWS=2000 RS_FLOWS=20000
#
# The emulator and the Rust client each get one tokio worker thread: the two processes share
# the machine's 2 cores, and the Python client is one asyncio thread too. Set
# BENCH_EMULATOR_THREADS / BENCH_CLIENT_THREADS to an empty string for tokio's default (one
# worker per core in each process).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${RUNS:-3}" concurrency="${CONCURRENCY:-100}" py_flows="${PY_FLOWS:-2000}" rs_flows="${RS_FLOWS:-20000}"
export BENCH_EMULATOR_THREADS="${BENCH_EMULATOR_THREADS-1}" BENCH_CLIENT_THREADS="${BENCH_CLIENT_THREADS-1}"

cargo build --quiet --release -p fastn-auth-bench
bench="${CARGO_TARGET_DIR:-$root/target}/release/bench"
python="$(bash scripts/python-venv.sh)"

# The emulator approves on the first poll; it runs until this script's end closes its stdin.
coproc EMULATOR { exec "$bench" serve-emulator --approve-polls 1; }
trap 'kill "$EMULATOR_PID" 2>/dev/null || true' EXIT
read -r base_url <&"${EMULATOR[0]}"
echo "emulator at $base_url; $runs alternating runs at concurrency $concurrency;" \
    "tokio worker threads: emulator ${BENCH_EMULATOR_THREADS:-default}, Rust client ${BENCH_CLIENT_THREADS:-default}"

field() { sed -n "s/^RESULT.*$1=\([0-9.]*\).*/\1/p"; }
py_rates=() rs_rates=() py_conns=() rs_conns=()
for run in $(seq "$runs"); do
    py="$("$python" bench/official_client_bench.py "$base_url" "$py_flows" "$concurrency")"
    rs="$("$bench" flows --base-url "$base_url" --flows "$rs_flows" --concurrency "$concurrency")"
    py_rates+=("$(field flows_per_sec <<<"$py")") py_conns+=("$(field connections_per_flow <<<"$py")")
    rs_rates+=("$(field flows_per_sec <<<"$rs")") rs_conns+=("$(field connections_per_flow <<<"$rs")")
    echo "run $run: python ${py_rates[-1]} flows/s (${py_conns[-1]} connections/flow), rust ${rs_rates[-1]} flows/s (${rs_conns[-1]} connections/flow)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
py_rate="$(median "${py_rates[@]}")" rs_rate="$(median "${rs_rates[@]}")"
py_conn="$(median "${py_conns[@]}")" rs_conn="$(median "${rs_conns[@]}")"
awk -v p="$py_rate" -v r="$rs_rate" -v pc="$py_conn" -v rc="$rs_conn" 'BEGIN {
    printf "median: fastn-auth (Rust) %.0f flows/s, official Python client %.0f flows/s: %.1fx (target >= 20x)\n", r, p, r / p
    printf "connections per flow: Rust %.4f, Python %.4f: Rust opens %.4f of Python'"'"'s (target <= 0.1)\n", rc, pc, rc / pc
}'
