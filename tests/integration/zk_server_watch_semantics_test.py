#!/usr/bin/python3
"""What a real ZooKeeper 3.8 server does with the requests the packaged C
client cannot send (addWatch, removeWatches, multiRead), spoken on the wire.

The fake (tests/testdoubles) mirrors these rules and the conformance suite
(zk_conformance_test.cpp) holds every backend to them; this script pins them
to the real server as long as no backend that sends these requests runs the
suite against it. Checked:

  - a recursive watch fires created, data changed and deleted for its path
    and every descendant, never children changed;
  - a persistent watch fires every change of its own path (children changed
    included) and outlives the node's deletion;
  - ZOOKEEPER-4466: a one-shot data watch set by the same session on the
    path of its recursive (or persistent) watch replaces it in the server's
    data watch manager: one event, then silence; a one-shot child watch on
    that path leaves the recursive watch in place;
  - removeWatches (WatcherType Any) removes persistent, recursive and
    one-shot watches of the path; with nothing to remove the server answers
    NoWatcher (-121), which the Client contract maps to kOk;
  - addWatch needs no node; sync answers for a missing path;
  - multiRead answers each op on its own (NoNode, NoAuth) and its getChildren
    results carry no stat.

Exit status 0 pass, 1 fail, 77 skipped (java, ZooKeeper or kazoo missing).

usage: zk_server_watch_semantics_test.py
"""
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

SKIP = 77
JAVA = "/usr/bin/java"
ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_CLASSPATH = "/etc/zookeeper/conf:" + ZK_JAR

CREATED, DELETED, CHANGED, CHILD = 1, 2, 3, 4
NAMES = {CREATED: "created", DELETED: "deleted", CHANGED: "changed", CHILD: "child"}
PERSISTENT, RECURSIVE = 0, 1
WATCHER_ANY = 3
NO_WATCHER = -121


def log(message):
    print("zk_server_watch_semantics_test: " + message, flush=True)


if not (os.path.exists(JAVA) and os.path.exists(ZK_JAR)):
    log("SKIP: java or ZooKeeper missing")
    sys.exit(SKIP)
try:
    import kazoo.exceptions
    import kazoo.protocol.connection
    from kazoo.client import KazooClient
    from kazoo.protocol.serialization import (Watch, bool_struct, int_struct, multiheader_struct, read_buffer,
                                              read_string, stat_struct, write_string)
    from kazoo.security import make_digest_acl
except ImportError:
    log("SKIP: python3-kazoo missing")
    sys.exit(SKIP)


class Failure(Exception):
    pass


# ---- the requests kazoo 2.8 lacks, on kazoo's connection ----

class ServerError(Exception):
    def __init__(self, code):
        super().__init__("server answered %d" % code)
        self.code = code


class NoWatcher(ServerError):
    def __init__(self):
        super().__init__(NO_WATCHER)


kazoo.exceptions.EXCEPTIONS[NO_WATCHER] = NoWatcher


class AddWatch(namedtuple("AddWatch", "path mode")):
    type = 106

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.mode)

    @classmethod
    def deserialize(cls, buffer, offset):
        return True


class RemoveWatches(namedtuple("RemoveWatches", "path watcher_type")):
    type = 18

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.watcher_type)

    @classmethod
    def deserialize(cls, buffer, offset):
        return True


class MultiRead(namedtuple("MultiRead", "ops")):
    """ops: ("data" | "children", path); the answer: one tuple per op."""
    type = 22

    def serialize(self):
        out = bytearray()
        for kind, path in self.ops:
            out += multiheader_struct.pack(4 if kind == "data" else 8, False, -1)
            out += write_string(path) + bool_struct.pack(0)
        out += multiheader_struct.pack(-1, True, -1)
        return bytes(out)

    @classmethod
    def deserialize(cls, buffer, offset):
        results = []
        while True:
            op_type, done, _ = multiheader_struct.unpack_from(buffer, offset)
            offset += multiheader_struct.size
            if done:
                return results
            if op_type == 4:  # GetDataResponse: data, stat
                data, offset = read_buffer(buffer, offset)
                version = stat_struct.unpack_from(buffer, offset)[4]
                offset += stat_struct.size
                results.append(("data", data, version))
            elif op_type == 8:  # GetChildrenResponse: children only
                count = int_struct.unpack_from(buffer, offset)[0]
                offset += int_struct.size
                children = []
                for _ in range(count):
                    child, offset = read_string(buffer, offset)
                    children.append(child)
                results.append(("children", sorted(children)))
            elif op_type == -1:
                results.append(("error", int_struct.unpack_from(buffer, offset)[0]))
                offset += int_struct.size
            else:
                raise Failure("unexpected multiRead result type %d" % op_type)


# Every notification a session receives, whether kazoo has a watcher for it or not.
EVENTS = []
_read_watch_event = kazoo.protocol.connection.ConnectionHandler._read_watch_event


def _record_watch_event(self, buffer, offset):
    watch, _ = Watch.deserialize(buffer, offset)
    EVENTS.append((self.client.tag, NAMES.get(watch.type, watch.type), watch.path))
    return _read_watch_event(self, buffer, offset)


kazoo.protocol.connection.ConnectionHandler._read_watch_event = _record_watch_event


def call(client, request):
    result = client.handler.async_result()
    client._call(request, result)
    try:
        return result.get(timeout=10)
    except ServerError as e:
        return e.code


# ---- the server ----

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ruok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"ruok")
            s.shutdown(socket.SHUT_WR)
            return s.recv(16) == b"imok"
    except OSError:
        return False


def _die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_server(workdir):
    port = free_port()
    data = os.path.join(workdir, "data")
    os.makedirs(data)
    cfg = os.path.join(workdir, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                "admin.enableServer=false\n4lw.commands.whitelist=*\npreAllocSize=1024\n" % (data, port))
    out = open(os.path.join(workdir, "zookeeper.log"), "ab")
    proc = subprocess.Popen([JAVA, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                             "-Dzookeeper.forceSync=no", "-cp", ZK_CLASSPATH,
                             "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent)
    out.close()
    deadline = time.monotonic() + 60
    while not ruok(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Failure("ZooKeeper did not start; see %s/zookeeper.log" % workdir)
        time.sleep(0.05)
    return proc, port


# ---- the checks ----

class Checks:
    def __init__(self, port):
        self.a = self.connect(port, "A")  # the session under test
        self.b = self.connect(port, "B")  # makes the changes
        self.barriers = 0
        self.failures = []

    @staticmethod
    def connect(port, tag):
        client = KazooClient(hosts="127.0.0.1:%d" % port)
        client.tag = tag
        client.start(timeout=30)
        return client

    def check(self, condition, message):
        if not condition:
            self.failures.append(message)
            log("FAIL: " + message)

    def barrier(self):
        """Events of one session come in order: once this one arrives, every
        event an earlier change causes for A has arrived too."""
        path = "/barrier-%d" % self.barriers
        self.barriers += 1
        self.a.exists(path, watch=lambda event: None)
        self.b.create(path)
        deadline = time.monotonic() + 10
        while not any(e[2] == path for e in EVENTS):
            if time.monotonic() > deadline:
                raise Failure("barrier %s never fired" % path)
            time.sleep(0.01)

    def take(self, root):
        """A's events on root or below since the last take, barriers left out."""
        self.barrier()
        seen = [(kind, path) for tag, kind, path in EVENTS
                if tag == "A" and (path == root or path.startswith(root + "/"))]
        EVENTS.clear()
        return seen

    def expect(self, name, root, expected):
        seen = self.take(root)
        self.check(seen == expected, "%s: expected %s, saw %s" % (name, expected, seen))

    def recursive(self):
        a, b = self.a, self.b
        a.create("/r")
        self.check(call(a, AddWatch("/r", RECURSIVE)) is True, "addWatch recursive answered")
        b.create("/r/x")
        b.create("/r/x/y")
        b.set("/r/x/y", b"1")
        b.delete("/r/x/y")
        b.set("/r", b"d")
        b.set_acls("/r/x", b.get_acls("/r/x")[0])  # setAcl fires nothing
        self.expect("recursive watch", "/r", [("created", "/r/x"), ("created", "/r/x/y"), ("changed", "/r/x/y"),
                                              ("deleted", "/r/x/y"), ("changed", "/r")])
        # ZOOKEEPER-4466: a one-shot data watch on the recursive path.
        a.get("/r", watch=lambda event: None)
        b.set("/r", b"e")
        b.create("/r/z")
        b.set("/r", b"f")
        self.expect("one-shot data watch on the recursive path", "/r", [("changed", "/r")])
        # A one-shot child watch lives in the other manager.
        self.check(call(a, AddWatch("/r", RECURSIVE)) is True, "addWatch recursive again")
        a.get_children("/r", watch=lambda event: None)
        b.create("/r/k")
        b.create("/r/k/l")
        self.expect("one-shot child watch on the recursive path", "/r",
                    [("created", "/r/k"), ("child", "/r"), ("created", "/r/k/l")])
        # A child watch on a descendant: its own event only.
        a.get_children("/r/k", watch=lambda event: None)
        b.create("/r/k/m")
        self.expect("child watch under a recursive watch", "/r", [("created", "/r/k/m"), ("child", "/r/k")])

    def persistent(self):
        a, b = self.a, self.b
        self.check(call(a, AddWatch("/p", PERSISTENT)) is True, "addWatch on a missing node")
        b.create("/p")
        b.create("/p/c")
        b.set("/p/c", b"x")
        b.set("/p", b"x")
        b.delete("/p/c")
        b.delete("/p")
        b.create("/p")
        self.expect("persistent watch", "/p", [("created", "/p"), ("child", "/p"), ("changed", "/p"),
                                               ("child", "/p"), ("deleted", "/p"), ("created", "/p")])
        # ZOOKEEPER-4466 for the data half of a persistent watch.
        a.get("/p", watch=lambda event: None)
        b.set("/p", b"1")
        b.set("/p", b"2")
        b.create("/p/d")
        self.expect("one-shot data watch on the persistent path", "/p", [("changed", "/p"), ("child", "/p")])

    def remove_watches(self):
        a, b = self.a, self.b
        for path in ("/w", "/v", "/q"):
            a.create(path)
        call(a, AddWatch("/w", RECURSIVE))
        call(a, AddWatch("/v", PERSISTENT))
        a.get("/q", watch=lambda event: None)
        a.get_children("/q", watch=lambda event: None)
        for path in ("/w", "/v", "/q"):
            self.check(call(a, RemoveWatches(path, WATCHER_ANY)) is True, "removeWatches " + path)
        self.check(call(a, RemoveWatches("/w", WATCHER_ANY)) == NO_WATCHER, "removeWatches twice: NoWatcher")
        self.check(call(a, RemoveWatches("/none", WATCHER_ANY)) == NO_WATCHER, "removeWatches unwatched: NoWatcher")
        b.create("/w/x")
        b.set("/w", b"x")
        b.set("/v", b"x")
        b.create("/v/x")
        b.set("/q", b"x")
        b.create("/q/x")
        for root in ("/w", "/v", "/q"):
            self.expect("after removeWatches", root, [])

    def multi_read_and_sync(self):
        a, b = self.a, self.b
        a.create("/m", b"hello")
        a.create("/m/c1")
        a.create("/m/c2")
        b.add_auth("digest", "u:p")
        b.create("/secret", b"s", acl=[make_digest_acl("u", "p", all=True)])
        answer = call(a, MultiRead([("data", "/m"), ("children", "/m"), ("data", "/missing"),
                                    ("children", "/missing"), ("data", "/secret"), ("data", "/m/c1")]))
        self.check(answer == [("data", b"hello", 0), ("children", ["c1", "c2"]), ("error", -101), ("error", -101),
                              ("error", -102), ("data", b"", 0)],
                   "multiRead: each op answered alone, children without stat: %s" % (answer,))
        self.check(call(a, MultiRead([])) == [], "empty multiRead")
        self.check(a.sync("/does/not/exist") == "/does/not/exist", "sync of a missing path")

    def run(self):
        self.recursive()
        self.persistent()
        self.remove_watches()
        self.multi_read_and_sync()
        self.a.stop()
        self.b.stop()
        return not self.failures


def main():
    workdir = tempfile.mkdtemp(prefix="zk-semantics-")
    proc = None
    try:
        proc, port = start_server(workdir)
        ok = Checks(port).run()
        log("PASS" if ok else "FAILED")
        return 0 if ok else 1
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
