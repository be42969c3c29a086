#!/usr/bin/python3
"""deploy/grafana/zkstandby-dashboard.json as Grafana will load it, checked
without Grafana: valid JSON; a Prometheus data source variable that every
panel and query uses; unique panel ids; panels inside the 24-column grid and
not overlapping; every query with a refId and an expression naming a
zkstandby_ metric; and the panels the monitoring docs promise present. The
queries themselves run against a real Prometheus in deploy_monitoring.

usage: deploy_dashboard_test.py --source-dir REPO
"""
import argparse
import json
import os
import sys

# Panel titles the docs (docs/monitoring.md) refer to.
REQUIRED_TITLES = [
    "Replication lag p50 / p99", "Ops applied by kind", "Queue depth", "Full reconciles by reason",
    "Full reconcile duration", "Sessions per site", "Role", "Epoch", "Leader",
    "Drift corrections and mapping failures", "Election", "Delete guard", "Last full reconcile converged",
    "Reported, unreadable and parked nodes", "Since the sequence counters were saved",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    path = os.path.join(args.source_dir, "deploy", "grafana", "zkstandby-dashboard.json")
    failures = []
    with open(path) as f:
        d = json.load(f)

    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        failures.append("no Prometheus data source variable named datasource")
    for name in ("job", "instance"):
        if name not in variables:
            failures.append("no $%s variable" % name)

    panels = []

    def walk(items):
        for p in items:
            panels.append(p)
            walk(p.get("panels", []))

    walk(d["panels"])
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        failures.append("panel ids are missing or repeated: %r" % ids)
    cells = {}
    for p in panels:
        g = p.get("gridPos", {})
        title = p.get("title")
        if not all(k in g for k in ("x", "y", "w", "h")) or g["x"] < 0 or g["x"] + g["w"] > 24:
            failures.append("panel %r: gridPos %r outside the 24-column grid" % (title, g))
            continue
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    failures.append("panels %r and %r overlap at %d,%d" % (cells[(x, y)], title, x, y))
                    break
                cells[(x, y)] = title
            else:
                continue
            break
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            failures.append("panel %r does not use the $datasource variable" % title)
        if not p.get("targets"):
            failures.append("panel %r has no query" % title)
        for t in p.get("targets", []):
            if not t.get("refId") or t.get("datasource", {}).get("uid") != "${datasource}":
                failures.append("panel %r: a query without refId or $datasource" % title)
            if "zkstandby_" not in t.get("expr", ""):
                failures.append("panel %r: query %r names no zkstandby_ metric" % (title, t.get("expr")))
    titles = {p.get("title") for p in panels}
    for t in REQUIRED_TITLES:
        if t not in titles:
            failures.append("no panel titled %r" % t)
    print("deploy_dashboard_test: %d panels, %d queries" % (len(panels), sum(len(p.get("targets", [])) for p in panels)))
    for f in failures:
        print("deploy_dashboard_test: FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
