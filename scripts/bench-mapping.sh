#!/usr/bin/env bash
# Mapping engine throughput on one core (Release build), as a Markdown table.
#   scripts/bench-mapping.sh [extra Google Benchmark flags]
# BUILD_DIR (default build-bench-mapping) and REPS (default 5) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench-mapping}
reps=${REPS:-5}
out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZKS_BUILD_TESTS=OFF &&
       cmake --build "$build" --target bench_mapping; } >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c 0); fi
if ! "${pin[@]}" "$build/bench/bench_mapping" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" --benchmark_out_format=json "$@" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
python3 - "$out" <<'PY'
import json, sys
what = {
    "BM_ZmsTree": "ZMS tree: 60 clusters, 60k topics, 40k groups (planner path)",
    "BM_ZmsTreeExplain": "same, naming each changed field (diff, map)",
    "BM_ZmsClusters": "cluster nodes only (segment rename + host lists)",
    "BM_ZmsReverse": "ZMS tree through the inverse mapping (failback)",
    "BM_ZmsUnmappedPaths": "nodes no rule names",
    "BM_SolrStateJson": "Solr state.json, 96 replicas (~19 KB JSON)",
}
data = json.load(open(sys.argv[1]))
ctx = data["context"]
print(f"{ctx.get('host_name', '?')}, {ctx['num_cpus']} CPUs @ {ctx['mhz_per_cpu']} MHz, "
      f"load {', '.join(f'{x:.1f}' for x in ctx.get('load_avg', []))}; median of repetitions, CPU time\n")
print("| benchmark | what | nodes/s | MB/s | ns/node |")
print("|---|---|---:|---:|---:|")
rows = {}
for b in data["benchmarks"]:
    if b.get("error_occurred"):
        sys.exit(f"{b['name']}: {b.get('error_message')}")
    # The median when repeated; the single run otherwise.
    if b.get("run_type") == "iteration" or b.get("aggregate_name") == "median":
        rows[b["run_name"]] = b
for name, b in rows.items():
    print(f"| {name} | {what.get(name, '')} | {b['items_per_second']:,.0f} | "
          f"{b['bytes_per_second'] / 1e6:,.1f} | {b['cpu_time']:,.0f} |")
PY
