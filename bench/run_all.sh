#!/usr/bin/env bash
# Run every Crispin benchmark. Usage: bench/run_all.sh [--quick]
#   --quick   short smoke run (2 s login runs, 200 idle connections), about 1 minute
# Full run: about 3 minutes. JSON results go to $BENCH_OUT (default: a new temp folder).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${BENCH_OUT:-$(mktemp -d -t crispin-bench-XXXXXX)}
mkdir -p "$OUT"
QUICK=()
if [[ "${1:-}" == "--quick" ]]; then QUICK=(--quick); fi
echo "== machine"
echo "nproc: $(nproc)"
$PY --version
grep -m1 "model name" /proc/cpuinfo || true
echo "== logins (bench/logins.py)"
$PY bench/logins.py "${QUICK[@]}" --json "$OUT/logins.json"
echo "== idle connections (bench/idle_memory.py)"
$PY bench/idle_memory.py "${QUICK[@]}" --json "$OUT/idle_memory.json"
echo "results: $OUT"
