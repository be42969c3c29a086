#!/usr/bin/python3
"""The progress line of `zkstandby diff` and `sync`, as a user at a terminal sees it.

Two real ZooKeepers, a ZMS tree of a few thousand nodes on the primary. Each
command runs with stderr on a pseudo-terminal (what an interactive shell
gives it) and stdout on a pipe, and the test checks:

  - the terminal received a progress line redrawn in place: "\\r<cmd>: N nodes
    read, R nodes/s, W written", N growing;
  - at the end the line was cleared: replaying the bytes as a terminal would
    (a carriage return goes back to the line's start and overwrites) leaves
    no "nodes read" on screen;
  - stdout (the diff, the sync summary) carries no progress and no \\r;
  - with stderr not a terminal (a pipe, as under cron or systemd) there is no
    progress line at all.

The progress callback runs every 1,000 nodes read on a terminal and draws at
once the first time, so a tree of a few thousand nodes shows it whatever the
machine's speed: nothing here depends on timing.

Exit status 0 pass, 1 fail, 77 skipped (java, ZooKeeper or kazoo missing).
usage: cli_progress_tty_test.py --zkstandby BINARY --zmsgen ZKS_ZMSGEN
"""
import argparse
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
import sites as s  # noqa: E402


def log(message):
    print("cli_progress_tty_test: " + message, flush=True)


def run_on_tty(argv, timeout_s=120):
    """Runs argv with stderr on a pseudo-terminal; returns (status, stdout, terminal bytes)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                            preexec_fn=s.die_with_parent)
    os.close(slave)
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=30)
    os.close(master)
    return proc.returncode, out.decode(errors="replace"), b"".join(chunks).decode(errors="replace")


def screen(text):
    """The lines a terminal shows after receiving text: \\r returns to the line's
    start and later characters overwrite earlier ones."""
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = []
        col = 0
        for ch in raw:
            if ch == "\r":
                col = 0
                continue
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
        lines.append("".join(line).rstrip())
    return lines


PROGRESS = re.compile(r"\r(diff|sync): (\d+) nodes read(?: \(\d+%\))?, \d+ nodes/s, \d+ written(?:, ETA \S+)?")
ON_SCREEN = re.compile(r"(diff|sync): \d+ nodes read(?: \(\d+%\))?, \d+ nodes/s")


def check_progress(command, terminal, stdout):
    drawn = PROGRESS.findall(terminal)
    s.check(drawn, "%s drew no progress line on the terminal; it received:\n%r" % (command, terminal[-2000:]))
    s.check(all(d[0] == command for d in drawn), "%s labelled its progress %r" % (command, drawn))
    counts = [int(d[1]) for d in drawn]
    s.check(counts[0] >= 1000 and counts == sorted(counts), "%s progress counts %r" % (command, counts))
    left = [line for line in screen(terminal) if ON_SCREEN.search(line)]
    s.check(not left, "%s left its progress line on the screen: %r" % (command, left))
    s.check("\r" not in stdout and not ON_SCREEN.search(stdout),
            "%s stdout carries progress: %r" % (command, stdout[-1000:]))
    log("ok: %s drew %d progress updates in place (%s nodes read last) and cleared the line"
        % (command, len(drawn), counts[-1]))


def run(args, workdir):
    sites = s.Sites(workdir, args.zmsgen)
    try:
        sites.start()
        # 2 tenants x (5 clusters + 1,200 topics + 300 groups) + parents: about 3,000 nodes.
        sites.write_tree("--tenants", "2", "--topics", "1200", "--groups", "300")
        config = sites.write_config()

        status, out, terminal = run_on_tty([args.zkstandby, "diff", "-c", config])
        s.check(status == 1, "diff exited %d (want 1: differences); stdout:\n%s\nterminal:\n%s"
                % (status, out[-2000:], terminal[-2000:]))
        s.check("diff:" in out, "diff printed no summary: %r" % out[-500:])
        check_progress("diff", terminal, out)

        status, out, terminal = run_on_tty([args.zkstandby, "sync", "-c", config])
        s.check(status == 0, "sync exited %d; stdout:\n%s\nterminal:\n%s" % (status, out, terminal[-2000:]))
        s.check("converged" in out, "sync printed no summary: %r" % out)
        check_progress("sync", terminal, out)

        # Not a terminal: no progress line (the log line comes every 10 s only).
        piped = subprocess.run([args.zkstandby, "diff", "-c", config], capture_output=True, text=True, timeout=120)
        s.check(piped.returncode == 0, "diff after sync exited %d:\n%s" % (piped.returncode, piped.stderr))
        s.check("\r" not in piped.stderr and not ON_SCREEN.search(piped.stderr),
                "diff drew progress on a pipe: %r" % piped.stderr[-1000:])
        log("ok: with stderr on a pipe there is no progress line")
    finally:
        sites.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zkstandby", required=True)
    parser.add_argument("--zmsgen", required=True)
    args = parser.parse_args()
    reason = s.missing_prerequisite()
    if reason:
        log("SKIP: " + reason)
        return s.SKIP
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    workdir = tempfile.mkdtemp(prefix="zks-progress-tty-")
    ok = False
    try:
        run(args, workdir)
        ok = True
    except s.Failure as e:
        log("FAIL: %s" % e)
    finally:
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("logs kept in " + workdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
