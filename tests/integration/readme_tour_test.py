#!/usr/bin/python3
"""The README's five-minute tour, run the way a newcomer copy-pastes it.

Every fenced ```sh block that follows a `<!-- tour -->` marker in README.md
is fed, in order, to ONE bash process started in the repository's root, so
that `cd`, `. ./env.sh` and `$daemon` carry over from block to block as they
do in a reader's shell. After each block the test checks what the README
says the reader sees: the exit statuses the block prints and its key lines.

What differs from a reader's run, and why:
  - the tour directory: every `/tmp/zkstandby-tour` in the blocks becomes a
    fresh temporary directory, and ZKS_TOUR_DIR names it for
    scripts/demo.sh, so a reader's tour (or another run) is never touched;
  - ZKS_BIN and ZKS_ZMSGEN name the binaries of this build, so
    `scripts/demo.sh --keep` starts the two servers (on free ports, as it
    always does) without installing packages or building;
  - every block's stdin is /dev/null (the blocks come through bash's stdin);
  - after the block that creates a node on the primary, the test waits (with
    a deadline) until the backup holds it, where a reader takes a moment
    before typing the next command.

Exit status 0 pass, 1 fail, 77 skipped (java, the ZooKeeper package, zkCli.sh,
curl or kazoo missing).
usage: readme_tour_test.py --source-dir REPO --zkstandby BIN --zmsgen BIN
"""
import argparse
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
README_TOUR_DIR = "/tmp/zkstandby-tour"
MARKER = "<!-- tour -->"

# One entry per tour block, in order: a text the block must contain (to catch
# a README edit that moved or replaced a block) and the lines its output must
# hold (regular expressions, each matched against one whole line). {tour} is
# the tour directory.
EXPECTED = [
    ("scripts/demo.sh --keep", [
        r"tour ready: primary 127\.0\.0\.1:\d+, backup 127\.0\.0\.1:\d+, config {tour}/zkstandby\.yaml",
        r'  connect: "127\.0\.0\.1:\d+"',
    ]),
    ("zkstandby validate", [
        r"config OK: 1 roots, 2 mapping rules",
        r"zkstandby\.yaml: warning: backup\.auth is empty: .*",
        r"zkstandby\.yaml: note: acls: copy needs .*",
    ]),
    ("zkstandby map", [
        r"/zms/cluster/kafka_bj_01 -> /zms/cluster/kafka_sh_01",
        r"bootAddr=10\.50\.1\.10:9092,10\.50\.1\.11:9092,10\.50\.1\.12:9092",
        r"changed: path segment: kafka_bj_01 -> kafka_sh_01",
        r"changed: bootAddr: 10\.10\.1\.10:9092,.* -> 10\.50\.1\.10:9092,.*",
    ]),
    ("zkstandby diff", [
        r"diff exit status: 1",
        r"diff: [1-9]\d* to create, 0 to update, 0 ACLs to change, 0 to delete, .*",
    ]),
    ("zkstandby sync", [
        r"sync: converged: [1-9]\d* created, 0 updated, 0 ACLs set, 0 deleted; .*",
        r"sync exit status: 0",
        r"diff: 0 to create, 0 to update, 0 ACLs to change, 0 to delete, 0 not replicated, 0 deletes blocked, "
        r"0 conflicts .*",
        r"diff exit status: 0",
    ]),
    ("zkstandby run", [
        r"leader: replicating \(recursive watch\)",
    ]),
    ("create /zms/topic/order_refunded", [
        r"Created /zms/topic/order_refunded",
    ]),
    ("get /zms/topic/order_refunded", [
        r"clusterName=kafka_sh_02",
    ]),
    ("zkstandby status", [
        r"role: +standby",
        r"leader: +\S+:\d+",
        r"last full reconcile: .*  converged",
        r"  zkstandby_ready 1",
        r"  zkstandby_session_connected\{site=\"primary\"\} 1",
    ]),
    ("zkstandby failover", [
        r"Failover done: backup site 127\.0\.0\.1:\d+ is now ACTIVE\.",
        r"Next: point the applications at the standby site\.",
        r"failover exit status: 0",
        r"daemon exit status: 3",
        r"zkstandby: refused: this site was failed over .*",
        r"sync exit status: 3",
    ]),
    ("scripts/demo.sh --stop", [
        r"tour stopped: servers stopped, {tour} removed",
    ]),
]
# After this block the backup must hold the node before the next one reads it.
WAIT_AFTER = "create /zms/topic/order_refunded"
WAIT_NODE = "/zms/topic/order_refunded"


def log(message):
    print("readme_tour: " + message, flush=True)


def tour_blocks(readme):
    """The ```sh blocks that follow a tour marker, in order."""
    blocks = []
    lines = open(readme).read().splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == MARKER:
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j >= len(lines) or lines[j].strip() != "```sh":
                raise ValueError("README.md:%d: a tour marker not followed by a ```sh block" % (i + 1))
            end = j + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            blocks.append("\n".join(lines[j + 1:end]))
            i = end
        i += 1
    return blocks


class Shell:
    """One bash process reading the blocks from its stdin; output through a thread."""

    def __init__(self, cwd, env):
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                     text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def run(self, index, block, deadline_s):
        """Runs a block; returns its output lines, or None when it did not end in time."""
        end = "@@readme-tour-block-%d-done" % index
        self.proc.stdin.write("{\n%s\n} </dev/null\necho %s\n" % (block, end))
        self.proc.stdin.flush()
        out = []
        deadline = time.monotonic() + deadline_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, out
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None, out
            if line is None:
                return None, out
            if line == end:
                return out, out
            out.append(line)

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def wait_for_node(env_file, path, deadline_s):
    """Waits on a watch until the backup named in env.sh holds `path`."""
    from kazoo.client import KazooClient
    backup = re.search(r"^BACKUP=(\S+)$", open(env_file).read(), re.M).group(1)
    zk = KazooClient(hosts=backup)
    zk.start(timeout=10)
    try:
        there = threading.Event()
        if zk.exists(path, watch=lambda event: there.set()):
            return True
        return there.wait(deadline_s)
    finally:
        zk.stop()
        zk.close()


def servers_of(tour_dir):
    """Pids of processes whose command line names the tour directory (its servers)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if tour_dir.encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--zkstandby", required=True)
    parser.add_argument("--zmsgen", required=True)
    args = parser.parse_args()

    missing = [p for p in ("/usr/bin/java", "/usr/share/java/zookeeper.jar", "/usr/share/zookeeper/bin/zkCli.sh")
               if not os.path.exists(p)]
    if not shutil.which("curl"):
        missing.append("curl")
    try:
        import kazoo  # noqa: F401
    except ImportError:
        missing.append("python3-kazoo")
    if missing:
        log("skipped: missing " + ", ".join(missing))
        return SKIP

    blocks = tour_blocks(os.path.join(args.source_dir, "README.md"))
    failures = []
    if len(blocks) != len(EXPECTED):
        log("README.md has %d tour blocks, the test expects %d: update EXPECTED with the tour" %
            (len(blocks), len(EXPECTED)))
        return 1

    tour = tempfile.mkdtemp(prefix="zks-readme-tour-")
    os.rmdir(tour)  # demo.sh --keep creates it, as it does /tmp/zkstandby-tour
    env = dict(os.environ, ZKS_TOUR_DIR=tour, ZKS_BIN=os.path.abspath(args.zkstandby),
               ZKS_ZMSGEN=os.path.abspath(args.zmsgen))
    shell = Shell(args.source_dir, env)
    started = time.monotonic()
    try:
        for index, (block, (must_contain, expected)) in enumerate(zip(blocks, EXPECTED)):
            if must_contain not in block:
                failures.append("tour block %d does not contain %r:\n%s" % (index + 1, must_contain, block))
                break
            text = block.replace(README_TOUR_DIR, tour)
            first = block.splitlines()[0]
            t0 = time.monotonic()
            out, seen = shell.run(index, text, 120 if index == 0 else 60)
            log("block %d (%s): %.1f s" % (index + 1, first, time.monotonic() - t0))
            if out is None:
                failures.append("tour block %d did not finish in time; its output so far:\n  %s" %
                                (index + 1, "\n  ".join(seen)))
                break
            for pattern in expected:
                rx = re.compile(pattern.replace("{tour}", re.escape(tour)))
                if not any(rx.fullmatch(line) for line in out):
                    failures.append("tour block %d (%s): no line matches %r; its output:\n  %s" %
                                    (index + 1, first, rx.pattern, "\n  ".join(out)))
            if failures:
                break
            if must_contain == WAIT_AFTER and not wait_for_node(os.path.join(tour, "env.sh"), WAIT_NODE, 30):
                failures.append("the backup did not get %s within 30 s" % WAIT_NODE)
                break
        if not failures:
            if os.path.exists(tour):
                failures.append("scripts/demo.sh --stop left %s behind" % tour)
            deadline = time.monotonic() + 30
            while servers_of(tour) and time.monotonic() < deadline:
                time.sleep(0.1)
            if servers_of(tour):
                failures.append("the tour's servers still run after scripts/demo.sh --stop")
    finally:
        if os.path.exists(tour):
            subprocess.run([os.path.join(args.source_dir, "scripts", "demo.sh"), "--stop"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shell.kill()
        for pid in servers_of(tour):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tour, ignore_errors=True)

    log("%d blocks in %.1f s" % (len(blocks), time.monotonic() - started))
    for f in failures:
        log("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
