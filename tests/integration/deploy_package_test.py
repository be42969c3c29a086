#!/usr/bin/python3
"""The Debian package, built and checked as a packager and an operator would.

  - `cpack -G DEB` builds it from the build tree (CPackConfig.cmake);
  - `dpkg-deb -I`: name, version, architecture, the library dependencies
    dpkg-shlibdeps found (libzookeeper-mt, yaml-cpp, ...) plus adduser for
    the postinst, the conffile, and maintainer scripts that are valid sh;
  - `dpkg-deb -c`: every file where the docs say (binary, systemd unit,
    example config, mappings, alert rules, dashboard, copyright, changelog,
    man page), owned by root, the binary executable;
  - `lintian`: no error. Warnings are printed, not fatal;
  - `dpkg-deb -x` into a temporary root: `<root>/usr/bin/zkstandby --version`
    prints this build's version, the unit's ExecStart names a binary the
    package ships, and the alert rules and dashboard it ships are the
    repository's.

Nothing is installed on this machine. Exit status 0 pass, 1 fail, 77 skipped
(dpkg-deb, cpack or lintian missing).
usage: deploy_package_test.py --build-dir BUILD --source-dir REPO --version X.Y.Z --zkstandby BINARY
"""
import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

EXPECTED_FILES = {
    "./usr/bin/zkstandby": 0o755,
    "./lib/systemd/system/zkstandby.service": 0o644,
    "./etc/zkstandby/zkstandby.yaml": 0o644,
    "./usr/share/zkstandby/mappings/zms.yaml": 0o644,
    "./usr/share/zkstandby/mappings/kafka.yaml": 0o644,
    "./usr/share/zkstandby/mappings/solr.yaml": 0o644,
    "./usr/share/zkstandby/prometheus/zkstandby-alerts.yml": 0o644,
    "./usr/share/zkstandby/grafana/zkstandby-dashboard.json": 0o644,
    "./usr/share/doc/zkstandby/README.md": 0o644,
    "./usr/share/doc/zkstandby/copyright": 0o644,
    "./usr/share/doc/zkstandby/changelog.Debian.gz": 0o644,
    "./usr/share/man/man1/zkstandby.1.gz": 0o644,
}
# Libraries the binary links; dpkg-shlibdeps must have turned each into a dependency.
# (xxHash is inlined, cpp-httplib and CLI11 mostly header-only: not all of these are listed.)
EXPECTED_DEPENDS = ["adduser", "libzookeeper-mt2", "libyaml-cpp", "libre2", "libspdlog", "libstdc++6", "libc6"]


def log(message):
    print("deploy_package_test: " + message, flush=True)


class Failure(Exception):
    pass


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def build_deb(build_dir, out_dir):
    # cpack packs the built tree as it is (CTest runs after the build; with
    # Ninja, cpack builds nothing itself) through an install into its own
    # staging folder, never onto /.
    r = run(["cpack", "-G", "DEB", "--config", os.path.join(build_dir, "CPackConfig.cmake"), "-B", out_dir],
            cwd=build_dir, timeout=600)
    if r.returncode != 0:
        raise Failure("cpack failed (%d):\n%s%s" % (r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    debs = [f for f in os.listdir(out_dir) if f.endswith(".deb")]
    if len(debs) != 1:
        raise Failure("cpack made %r, want one .deb" % debs)
    log("built " + debs[0])
    return os.path.join(out_dir, debs[0])


def check_control(deb, version, failures):
    r = run(["dpkg-deb", "-I", deb])
    info = r.stdout
    field = lambda name: (re.search(r"^ %s: (.*)$" % name, info, re.M) or [None, ""])[1]  # noqa: E731
    if field("Package") != "zkstandby":
        failures.append("Package is %r" % field("Package"))
    if not field("Version").startswith(version + "-"):
        failures.append("Version %r, want %s-<debian revision>" % (field("Version"), version))
    if field("Architecture") != run(["dpkg", "--print-architecture"]).stdout.strip():
        failures.append("Architecture %r" % field("Architecture"))
    depends = field("Depends")
    for dep in EXPECTED_DEPENDS:
        if not re.search(r"(^|, )%s" % re.escape(dep), depends):
            failures.append("Depends lacks %s: %s" % (dep, depends))
    log("Depends: " + depends)

    control = tempfile.mkdtemp(prefix="zks-deb-control-")
    try:
        run(["dpkg-deb", "-e", deb, control], check=True)
        with open(os.path.join(control, "conffiles")) as f:
            conffiles = f.read().split()
        if conffiles != ["/etc/zkstandby/zkstandby.yaml"]:
            failures.append("conffiles %r" % conffiles)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(control, script)
            if not os.access(path, os.X_OK):
                failures.append("%s missing or not executable" % script)
                continue
            if run(["sh", "-n", path]).returncode != 0:
                failures.append("%s is not valid sh" % script)
        with open(os.path.join(control, "postinst")) as f:
            postinst = f.read()
        if not re.search(r"adduser .*--system.*--group.* zkstandby", postinst):
            failures.append("the postinst does not create the zkstandby system user")
    finally:
        shutil.rmtree(control, ignore_errors=True)


def check_contents(deb, failures):
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    entries = {}
    for line in listing:
        parts = line.split()
        mode, owner, path = parts[0], parts[1], parts[5]
        entries[path] = (mode, owner)
        if owner != "root/root":
            failures.append("%s owned by %s" % (path, owner))
    for path, want in EXPECTED_FILES.items():
        if path not in entries:
            failures.append("the package lacks " + path)
            continue
        mode = entries[path][0]
        got = sum(1 << (8 - i) for i, c in enumerate(mode[1:10]) if c != "-")
        if got != want:
            failures.append("%s has mode %s, want %o" % (path, mode, want))
    log("%d entries in the package" % len(entries))


def check_lintian(deb, failures):
    # Lintian runs as root but says so; --tag-display-limit 0
    # shows every instance of a tag.
    r = run(["lintian", "--tag-display-limit", "0", deb], timeout=300)
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("E:")]
    warnings = [l for l in lines if l.startswith("W:")]
    for l in warnings:
        log("lintian " + l)
    for l in errors:
        failures.append("lintian " + l)
    if r.returncode not in (0, 1, 2):  # 2: errors found; other codes: lintian itself failed
        failures.append("lintian exited %d:\n%s" % (r.returncode, "\n".join(lines[-20:])))
    log("lintian: %d errors, %d warnings" % (len(errors), len(warnings)))


def check_unpacked(deb, source_dir, version, zkstandby, failures):
    root = tempfile.mkdtemp(prefix="zks-deb-root-")
    try:
        run(["dpkg-deb", "-x", deb, root], check=True)
        r = run([os.path.join(root, "usr/bin/zkstandby"), "--version"])
        out = r.stdout.strip()
        built = run([zkstandby, "--version"]).stdout.strip()
        if r.returncode != 0 or out != built or not re.fullmatch(
                r"zkstandby %s \(commit (unknown|[0-9a-f]{7,}(-dirty)?)\)" % re.escape(version), out):
            failures.append("the packaged zkstandby --version exited %d, printed %r (the build's says %r)"
                            % (r.returncode, out + r.stderr, built))
        log("unpacked binary: " + out)

        with open(os.path.join(root, "lib/systemd/system/zkstandby.service")) as f:
            exec_start = re.search(r"^ExecStart=(\S+)", f.read(), re.M).group(1)
        if not os.access(os.path.join(root, exec_start.lstrip("/")), os.X_OK):
            failures.append("the unit runs %s, which the package does not ship" % exec_start)

        for shipped, source in (("usr/share/zkstandby/prometheus/zkstandby-alerts.yml",
                                 "deploy/prometheus/zkstandby-alerts.yml"),
                                ("usr/share/zkstandby/grafana/zkstandby-dashboard.json",
                                 "deploy/grafana/zkstandby-dashboard.json"),
                                ("etc/zkstandby/zkstandby.yaml", "deploy/zkstandby.yaml")):
            if not filecmp.cmp(os.path.join(root, shipped), os.path.join(source_dir, source), shallow=False):
                failures.append("/%s differs from %s" % (shipped, source))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--zkstandby", required=True, help="the built binary, whose --version the package's must match")
    args = parser.parse_args()
    for tool in ("cpack", "dpkg-deb", "lintian", "dpkg-shlibdeps"):
        if not shutil.which(tool):
            log("SKIP: %s is missing (scripts/install-deps.sh installs it)" % tool)
            return SKIP

    out = tempfile.mkdtemp(prefix="zks-deb-")
    failures = []
    try:
        deb = build_deb(args.build_dir, out)
        check_control(deb, args.version, failures)
        check_contents(deb, failures)
        check_lintian(deb, failures)
        check_unpacked(deb, args.source_dir, args.version, args.zkstandby, failures)
    except (Failure, subprocess.SubprocessError, OSError) as e:
        failures.append(str(e))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for f in failures:
        log("FAIL: " + f)
    if not failures:
        log("PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
