#!/usr/bin/python3
"""cmake/write_version.cmake, the build step behind `zkstandby --version`, run
as the build runs it against throwaway git repositories:

  - a clean checkout: the short hash of HEAD;
  - after a new commit: the new hash (no cmake re-run involved: the script
    runs at every build);
  - uncommitted changes: "<hash>-dirty";
  - an unchanged commit: the header is not rewritten (its mtime stays), so
    nothing recompiles;
  - a tree that is not a git checkout, even inside one (a tarball unpacked in
    some repository): "unknown";
  - ZKS_GIT_COMMIT_OVERRIDE wins.

usage: build_version_test.py --source-dir REPO
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    script = os.path.join(args.source_dir, "cmake", "write_version.cmake")
    failures = []

    def commit_of(source, out, override=""):
        subprocess.run(["cmake", "-DSOURCE_DIR=" + source, "-DOUTPUT=" + out, "-DVERSION=1.2.3",
                        "-DOVERRIDE=" + override, "-P", script], check=True, capture_output=True)
        text = open(out).read()
        if '#define ZKS_VERSION "1.2.3"' not in text:
            failures.append("no version in " + text)
        m = re.search(r'#define ZKS_GIT_COMMIT "([^"]*)"', text)
        return m.group(1) if m else None

    def expect(got, want, what):
        print("build_version_test: %s: %s" % (what, got), flush=True)
        if got != want:
            failures.append("%s: got %r, want %r" % (what, got, want))

    with tempfile.TemporaryDirectory() as tmp:
        repo = os.path.join(tmp, "repo")
        os.makedirs(repo)
        git(repo, "init", "-q")
        with open(os.path.join(repo, "a.txt"), "w") as f:
            f.write("one\n")
        git(repo, "add", "a.txt")
        git(repo, "commit", "-q", "-m", "one")
        out = os.path.join(tmp, "zks_version.h")

        expect(commit_of(repo, out), git(repo, "rev-parse", "--short", "HEAD"), "clean checkout")
        before = os.stat(out).st_mtime_ns
        os.utime(out, ns=(before - 10**9, before - 10**9))  # so a rewrite would show
        before = os.stat(out).st_mtime_ns
        commit_of(repo, out)
        expect(os.stat(out).st_mtime_ns == before, True, "unchanged commit leaves the header alone")

        with open(os.path.join(repo, "a.txt"), "a") as f:
            f.write("two\n")
        expect(commit_of(repo, out), git(repo, "rev-parse", "--short", "HEAD") + "-dirty", "uncommitted change")
        git(repo, "commit", "-q", "-am", "two")
        expect(commit_of(repo, out), git(repo, "rev-parse", "--short", "HEAD"), "after a new commit")

        tarball = os.path.join(repo, "unpacked-tarball")
        os.makedirs(tarball)
        expect(commit_of(tarball, out), "unknown", "a tree inside another repository")
        expect(commit_of(tmp, out), "unknown", "outside git")
        expect(commit_of(repo, out, override="deb-1a2b3c"), "deb-1a2b3c", "override")

    for f in failures:
        print("build_version_test: FAIL: " + f, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
