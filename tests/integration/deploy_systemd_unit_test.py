#!/usr/bin/python3
"""Checks deploy/zkstandby.service as an operator would before installing it.

  - `systemd-analyze verify` accepts it (no error, no warning about it);
  - the restart policy matches the exit statuses of `zkstandby run`: restart
    on failure, but never after 2 (bad config) or 3 (fenced), and a stop
    timeout that leaves room for the 5 s drain;
  - reload sends SIGHUP, the daemon runs as its own user with no capabilities;
  - `systemd-analyze security --offline` rates its exposure low.

systemd-analyze runs offline here: no running systemd is needed. The binary
named by ExecStart is replaced by the built zkstandby (verify checks that it
exists and is executable).

Exit status 0 pass, 1 fail, 77 skipped (systemd-analyze missing or unusable).
usage: deploy_systemd_unit_test.py --source-dir REPO [--zkstandby BINARY]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
INSTALLED_BINARY = "/usr/bin/zkstandby"  # where the Debian package puts it
MAX_EXPOSURE = 2.0


def log(message):
    print("deploy_systemd_unit_test: " + message, flush=True)


def service_options(path):
    """{option: [values]} of the [Service] section; an empty assignment resets the list."""
    options = {}
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                if value == "":
                    options[key] = [""]
                else:
                    options.setdefault(key, []).append(value)
    return options


def seconds(text):
    match = re.fullmatch(r"(\d+)(s|min)?", text)
    if not match:
        raise ValueError("unsupported time span " + text)
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--zkstandby")
    args = parser.parse_args()
    unit = os.path.join(args.source_dir, "deploy", "zkstandby.service")

    failures = []

    def expect(condition, message):
        if not condition:
            failures.append(message)

    # The policy, read from the file itself.
    o = service_options(unit)
    first = lambda key: o.get(key, [""])[-1]  # noqa: E731
    expect(first("ExecStart").startswith(INSTALLED_BINARY + " run -c /etc/zkstandby/zkstandby.yaml"),
           "ExecStart is %r" % first("ExecStart"))
    expect(first("Restart") == "on-failure", "Restart=%s, want on-failure" % first("Restart"))
    prevent = " ".join(o.get("RestartPreventExitStatus", [])).split()
    expect(sorted(prevent) == ["2", "3", "4"], "RestartPreventExitStatus=%s, want exactly 2 3 4" % " ".join(prevent))
    expect(seconds(first("TimeoutStopSec") or "0") > 5, "TimeoutStopSec must exceed the 5 s drain")
    expect(seconds(first("RestartSec") or "0") >= 1, "RestartSec must space restarts")
    expect(first("KillSignal") in ("", "SIGTERM"), "the daemon drains on SIGTERM; KillSignal=%s" % first("KillSignal"))
    expect("-HUP" in first("ExecReload") and "$MAINPID" in first("ExecReload"), "ExecReload must SIGHUP the daemon")
    expect(first("User") == "zkstandby", "User=%s, want zkstandby" % first("User"))
    expect(o.get("CapabilityBoundingSet") == [""], "CapabilityBoundingSet must be empty")
    expect(first("NoNewPrivileges") == "yes", "NoNewPrivileges must be yes")
    expect(first("ProtectSystem") == "strict", "ProtectSystem must be strict")
    expect("/etc/zkstandby" in " ".join(o.get("ReadOnlyPaths", [])), "ReadOnlyPaths must hold /etc/zkstandby")
    expect(first("StandardOutput") in ("", "journal"), "logs go to journald")

    analyze = shutil.which("systemd-analyze")
    usable = analyze and subprocess.run([analyze, "--version"], capture_output=True, timeout=30).returncode == 0
    if not usable:
        for f in failures:
            log("FAIL: " + f)
        if failures:
            return 1
        log("SKIP: systemd-analyze is not installed or cannot run here; only the file's policy was checked")
        return SKIP

    workdir = tempfile.mkdtemp(prefix="zks-deploy-unit-")
    try:
        binary = args.zkstandby if args.zkstandby and os.access(args.zkstandby, os.X_OK) else "/bin/true"
        if binary == "/bin/true":
            log("zkstandby is not built; ExecStart checked against /bin/true")
        copy = os.path.join(workdir, "zkstandby.service")
        with open(unit) as f:
            text = f.read()
        with open(copy, "w") as f:
            f.write(text.replace(INSTALLED_BINARY, binary))

        verify = subprocess.run([analyze, "verify", "--man=no", copy], capture_output=True, text=True, timeout=60)
        out = (verify.stdout + verify.stderr).strip()
        own = [line for line in out.splitlines() if "zkstandby.service" in line]
        expect(verify.returncode == 0, "systemd-analyze verify exited %d:\n%s" % (verify.returncode, out))
        expect(not own, "systemd-analyze verify complains:\n" + "\n".join(own))
        if verify.returncode == 0 and not own:
            log("ok: systemd-analyze verify accepts the unit")

        security = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", copy], capture_output=True,
                                  text=True, timeout=60)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout + security.stderr)
        if security.returncode != 0 and not match:
            log("systemd-analyze security --offline is not supported here; exposure not checked")
        else:
            expect(match is not None, "no exposure level in:\n" + security.stdout + security.stderr)
            if match:
                level = float(match.group(1))
                expect(level <= MAX_EXPOSURE, "exposure level %.1f, want at most %.1f" % (level, MAX_EXPOSURE))
                log("ok: exposure level %.1f (at most %.1f)" % (level, MAX_EXPOSURE))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    for f in failures:
        log("FAIL: " + f)
    if not failures:
        log("PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
