#!/usr/bin/python3
"""The shipped dashboard and alert rules against a real Prometheus and a real daemon.

Starts two real ZooKeepers with a ZMS tree on the primary, a `zkstandby run`
daemon replicating between them, and Debian's Prometheus server
(/usr/bin/prometheus) on loopback scraping the daemon every second with the
shipped rules file loaded (deploy/prometheus/zkstandby-alerts.yml). After a
few live primary changes have been replicated and scraped, it checks through
Prometheus's HTTP API (/api/v1/query):

  - every query of every panel of deploy/grafana/zkstandby-dashboard.json
    (Grafana's variables replaced: $job by the scrape job, $instance by .*,
    $__rate_interval by 1m) parses and returns at least one series; and every
    template variable's label_values() finds values;
  - the replication lag p99 panel has a number, not NaN: the live changes
    went through the histogram;
  - every alert expression of the rules file parses, and Prometheus
    evaluates every rule without error (/api/v1/rules health "ok");
  - alert expressions are comparisons that are empty on a healthy pair by
    design, so "returns series" is decided per metric instead: every metric
    selector inside the expression (each zkstandby_* name, and up, with its
    label matchers, found by name in the text) must return series on its
    own. A renamed or missing metric fails here even though the alert would
    just stay silent;
  - on this healthy pair no alert condition is true, except
    ZkStandbyCountersNotSaved, whose condition may hold for the seconds
    before the first save of a new leader (its `for:` covers that).

The series missing from the daemon are listed at the end of a failure.

Exit status 0 pass, 1 fail, 77 skipped (prometheus, java, ZooKeeper or kazoo missing).
usage: deploy_monitoring_test.py --source-dir REPO --zkstandby BINARY --zmsgen ZKS_ZMSGEN
"""
import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
import sites as s  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
JOB = "zkstandby"
# Conditions that may be true for a moment on a healthy pair (see the docstring).
MAY_HOLD_WHEN_HEALTHY = {"ZkStandbyCountersNotSaved"}
SELECTOR = re.compile(r"\b(zkstandby_[a-z0-9_]+|up)\b\s*(\{[^}]*\})?")


def log(message):
    print("deploy_monitoring_test: " + message, flush=True)


def http_get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return 0, str(e)


class Prometheus:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def query(self, expr):
        """(ok, result list or error text)."""
        status, body = http_get(self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        try:
            doc = json.loads(body)
        except ValueError:
            return False, "HTTP %d: %s" % (status, body[:300])
        if doc.get("status") != "success":
            return False, "%s: %s" % (doc.get("errorType"), doc.get("error"))
        return True, doc["data"]["result"]

    def series(self, expr):
        ok, result = self.query(expr)
        return result if ok else []

    def label_values(self, label, match):
        status, body = http_get(self.base + "/api/v1/label/%s/values?" % label +
                                urllib.parse.urlencode({"match[]": match}))
        if status != 200:
            return None
        return json.loads(body)["data"]

    def rules(self):
        status, body = http_get(self.base + "/api/v1/rules")
        return json.loads(body)["data"]["groups"] if status == 200 else []


def grafana_expr(expr):
    return (expr.replace("$__rate_interval", "1m").replace("$job", JOB).replace("$instance", ".*"))


def dashboard_queries(dashboard):
    """(panel title, expr) of every panel, rows' nested panels included."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))

    walk(dashboard["panels"])
    return out


def selectors(expr):
    return sorted({name + (matchers or "") for name, matchers in SELECTOR.findall(expr)})


class Test:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.sites = s.Sites(workdir, args.zmsgen)
        self.failures = []
        self.missing = set()

    def fail(self, message):
        self.failures.append(message)
        log("FAIL: " + message)

    def start(self):
        self.sites.start()
        self.sites.write_tree()  # the default ZMS shape: about 100 nodes
        self.http_port = s.free_port()
        config = self.sites.write_config(http_listen="127.0.0.1:%d" % self.http_port)
        self.daemon = self.sites.procs.start("zkstandby-run", [self.args.zkstandby, "run", "-c", config])
        ready = "http://127.0.0.1:%d/readyz" % self.http_port
        s.wait_for(lambda: self.daemon.poll() is not None or http_get(ready, 2)[0] == 200, 120,
                   "the daemon's /readyz to answer 200")
        s.check(self.daemon.poll() is None, "zkstandby run exited %s:\n%s"
                % (self.daemon.returncode, s.read_log(self.daemon)[-3000:]))
        log("daemon ready on 127.0.0.1:%d" % self.http_port)

        self.prom_port = s.free_port()
        rules = os.path.join(self.args.source_dir, "deploy", "prometheus", "zkstandby-alerts.yml")
        prom_config = os.path.join(self.workdir, "prometheus.yml")
        with open(prom_config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "rule_files:\n  - %s\n"
                    "scrape_configs:\n  - job_name: %s\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % (rules, JOB, self.http_port))
        self.prometheus = self.sites.procs.start("prometheus", [
            PROMETHEUS, "--config.file=" + prom_config, "--storage.tsdb.path=" + os.path.join(self.workdir, "tsdb"),
            "--web.listen-address=127.0.0.1:%d" % self.prom_port, "--log.level=warn"])
        self.prom = Prometheus(self.prom_port)
        s.wait_for(lambda: self.prometheus.poll() is not None or http_get(self.prom.base + "/-/ready", 2)[0] == 200,
                   60, "Prometheus to be ready")
        s.check(self.prometheus.poll() is None, "prometheus exited:\n" + s.read_log(self.prometheus)[-3000:])
        s.wait_for(lambda: self.prom.series('count_over_time(zkstandby_ready{job="%s"}[1m]) >= 3' % JOB), 60,
                   "three scrapes of the daemon")
        log("Prometheus on 127.0.0.1:%d has scraped the daemon" % self.prom_port)

    def replicate_live_changes(self):
        """A few primary creates the daemon replicates through watch events,
        so the lag histogram and the ops counters move while Prometheus scrapes."""
        from kazoo.client import KazooClient
        primary = KazooClient(hosts=self.sites.connect("primary"), timeout=15)
        backup = KazooClient(hosts=self.sites.connect("backup"), timeout=15)
        primary.start(timeout=15)
        backup.start(timeout=15)
        try:
            paths = ["/zms/topic/monitoring_test_%02d" % i for i in range(10)]
            for p in paths:
                primary.create(p, b"clusterName=kafka_bj_01\ntype=topic\n")
            s.wait_for(lambda: all(backup.exists(p) for p in paths), 60, "the live creates on the backup")
        finally:
            primary.stop()
            backup.stop()
        s.wait_for(lambda: self.prom.series('sum(increase(zkstandby_replication_lag_seconds_count{job="%s"}[1m])) > 0'
                                            % JOB), 60, "Prometheus to scrape the lag of the live creates")
        log("10 live creates replicated and scraped")

    def wait_for_first_saves(self):
        # The counters are saved every 30 s when they changed; the dashboard's
        # age panel needs one save. Waited for only if the daemon has the series.
        if self.prom.series("zkstandby_counters_saved_timestamp_seconds"):
            s.wait_for(lambda: self.prom.series("zkstandby_counters_saved_timestamp_seconds > 0"), 90,
                       "the first save of the sequence counters")

    def check_selectors(self, what, expr):
        for sel in selectors(expr):
            if not self.prom.series(sel):
                self.missing.add(sel)
                self.fail("%s: its selector %s returns no series" % (what, sel))

    def check_dashboard(self):
        path = os.path.join(self.args.source_dir, "deploy", "grafana", "zkstandby-dashboard.json")
        with open(path) as f:
            dashboard = json.load(f)
        queries = dashboard_queries(dashboard)
        s.check(queries, "the dashboard has no queries")
        for title, expr in queries:
            ok, result = self.prom.query(grafana_expr(expr))
            if not ok:
                self.fail("panel %r: %s does not parse: %s" % (title, expr, result))
            elif not result:
                self.fail("panel %r: %s returns no series" % (title, grafana_expr(expr)))
                self.check_selectors("panel %r" % title, grafana_expr(expr))
        log("dashboard: %d panel queries evaluated" % len(queries))

        for var in dashboard["templating"]["list"]:
            if var.get("type") != "query":
                continue
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["query"]["query"])
            s.check(m, "variable %s: unexpected query %r" % (var["name"], var["query"]))
            values = self.prom.label_values(m.group(2), grafana_expr(m.group(1)))
            if not values:
                self.fail("variable %s: %s finds no values" % (var["name"], var["query"]["query"]))
        log("dashboard: template variables find values")

        p99 = self.prom.series(grafana_expr(
            "histogram_quantile(0.99, sum by (le) (rate(zkstandby_replication_lag_seconds_bucket{job=~\"$job\"}[1m])))"))
        if not p99 or p99[0]["value"][1] in ("NaN", "+Inf"):
            self.fail("the lag p99 is %r after live changes" % (p99,))
        else:
            log("lag p99 of the live creates: %s s" % p99[0]["value"][1])

    def check_alerts(self):
        # Prometheus loaded the shipped file: its own view of the rules is
        # what is checked (no YAML parser needed), after every rule has been
        # evaluated at least once.
        def evaluated():
            groups = self.prom.rules()
            rules = [r for g in groups for r in g["rules"] if r.get("type") == "alerting"]
            # An unevaluated rule reports Go's zero time, 0001-01-01.
            if rules and all(not r.get("lastEvaluation", "0001").startswith("0001") for r in rules):
                return rules
            return None

        rules = s.wait_for(evaluated, 30, "Prometheus to evaluate the alert rules")
        s.check(len(rules) >= 10, "Prometheus loaded %d alert rules" % len(rules))
        for r in rules:
            name, expr = r["name"], r["query"]
            if r.get("health") != "ok":
                self.fail("alert %s: Prometheus reports %s: %s" % (name, r.get("health"), r.get("lastError")))
            ok, result = self.prom.query(expr)
            if not ok:
                self.fail("alert %s: does not parse: %s" % (name, result))
                continue
            # Healthy-empty by design: decided on the selectors inside.
            self.check_selectors("alert %s" % name, expr)
            if result and name not in MAY_HOLD_WHEN_HEALTHY:
                self.fail("alert %s: its condition is true on a healthy pair: %s" % (name, result))
            elif result:
                log("alert %s: condition true right now (allowed: %s)" % (name, result))
        log("alerts: %d expressions evaluated" % len(rules))

    def run(self):
        self.start()
        self.replicate_live_changes()
        self.wait_for_first_saves()
        self.check_dashboard()
        self.check_alerts()
        s.check(self.daemon.poll() is None, "the daemon exited during the test")
        if self.failures:
            names = sorted({re.match(r"[a-z_]+", m).group(0) for m in self.missing})
            raise s.Failure("%d problems; series missing from the daemon: %s"
                            % (len(self.failures), ", ".join(names) or "none"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--zkstandby", required=True)
    parser.add_argument("--zmsgen", required=True)
    args = parser.parse_args()
    if not os.access(PROMETHEUS, os.X_OK):
        log("SKIP: %s is missing (apt-get install prometheus)" % PROMETHEUS)
        return s.SKIP
    reason = s.missing_prerequisite()
    if reason:
        log("SKIP: " + reason)
        return s.SKIP
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    workdir = tempfile.mkdtemp(prefix="zks-monitoring-")
    test = Test(args, workdir)
    ok = False
    try:
        test.run()
        ok = True
    except s.Failure as e:
        log("FAIL: %s" % e)
    finally:
        test.sites.close()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("logs kept in " + workdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
