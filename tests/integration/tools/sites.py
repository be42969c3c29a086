"""Two real ZooKeeper sites for the Python integration tests.

A primary and a backup standalone ZooKeeper (Debian's package, one JVM each,
loopback only), a ZMS-shaped tree on the primary written by zks-zmsgen, and a
zkstandby config between them with the tree's mapping. Every process started
is a child that dies with the test (PR_SET_PDEATHSIG) and is stopped by
Sites.close(); nothing sleeps for a fixed time: waits poll a condition under
a deadline.
"""
import ctypes
import os
import signal
import socket
import subprocess
import time

ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
JAVA = "/usr/bin/java"
SKIP = 77


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_for(condition, timeout_s, what):
    """Polls condition until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure("timed out after %.0f s waiting for %s" % (timeout_s, what))
        time.sleep(0.05)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port, word):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(word.encode())
            s.shutdown(socket.SHUT_WR)
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return out.decode(errors="replace")
                out += chunk
    except OSError:
        return ""


def missing_prerequisite():
    """A reason to skip, or None."""
    if not os.access(JAVA, os.X_OK) or not os.path.exists("/usr/share/java/zookeeper.jar"):
        return "java or the zookeeper package is not installed"
    try:
        import kazoo.client  # noqa: F401
    except ImportError:
        return "python3-kazoo is not installed"
    return None


def die_with_parent():
    # If the test is killed (ctest timeout), its children go with it.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Processes:
    """Every child process a test starts; stop_all() ends them, newest first."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.children = []

    def start(self, name, argv, **popen):
        log_path = os.path.join(self.workdir, name + ".log")
        out = open(log_path, "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent, cwd=self.workdir, **popen)
        out.close()
        proc.name = name
        proc.log_path = log_path
        self.children.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc in self.children:
            self.children.remove(proc)

    def stop_all(self):
        for proc in reversed(list(self.children)):
            try:
                self.stop(proc)
            except Exception as e:  # keep stopping the others
                print("could not stop %s: %s" % (proc.name, e), flush=True)


def read_log(proc):
    with open(proc.log_path, "rb") as f:
        return f.read().decode(errors="replace")


class Sites:
    """A primary and a backup ZooKeeper and a zkstandby config between them."""

    def __init__(self, workdir, zmsgen):
        self.workdir = workdir
        self.zmsgen = zmsgen
        self.procs = Processes(workdir)
        self.ports = {}

    def start(self):
        for site in ("primary", "backup"):
            self._start_zookeeper(site)
        for site in ("primary", "backup"):
            port = self.ports[site]
            proc = self.zk[site]
            wait_for(lambda: proc.poll() is not None or four_letter(port, "ruok") == "imok", 90,
                     "the %s ZooKeeper to answer ruok" % site)
            check(proc.poll() is None, "the %s ZooKeeper exited:\n%s" % (site, read_log(proc)[-3000:]))

    def _start_zookeeper(self, site):
        if not hasattr(self, "zk"):
            self.zk = {}
        port = free_port()
        data = os.path.join(self.workdir, "zk-" + site)
        os.makedirs(data)
        cfg = os.path.join(self.workdir, "zoo-%s.cfg" % site)
        with open(cfg, "w") as f:
            f.write("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                    "admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n"
                    "minSessionTimeout=1000\nmaxSessionTimeout=30000\npreAllocSize=1024\n" % (data, port))
        self.ports[site] = port
        self.zk[site] = self.procs.start("zookeeper-" + site, [
            JAVA, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.forceSync=no",
            "-Dzookeeper.log.dir=" + data,
            "-cp", ZK_CLASSPATH, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg])

    def connect(self, site):
        return "127.0.0.1:%d" % self.ports[site]

    def write_tree(self, *shape):
        """Writes a ZMS tree on the primary (zks-zmsgen options, e.g. --topics 100)."""
        out = subprocess.run([self.zmsgen, "--connect", self.connect("primary"), *shape], capture_output=True,
                             text=True, timeout=120)
        check(out.returncode == 0, "zks-zmsgen failed: " + out.stderr)

    def write_config(self, http_listen="", extra_sync=""):
        """The zkstandby config (and the tree's mapping file); returns its path."""
        mapping = subprocess.run([self.zmsgen, "--print-mapping"], capture_output=True, text=True, timeout=30,
                                 check=True).stdout
        with open(os.path.join(self.workdir, "zms-mapping.yaml"), "w") as f:
            f.write(mapping)
        path = os.path.join(self.workdir, "zkstandby.yaml")
        with open(path, "w") as f:
            f.write("primary:\n  connect: \"%s\"\n  session_timeout_ms: 10000\n"
                    "backup:\n  connect: \"%s\"\n  session_timeout_ms: 10000\n"
                    "sync:\n  roots:\n    - source: /zms\n      target: /zms\n%s"
                    "mapping:\n  files: [ zms-mapping.yaml ]\n"
                    "state_path: /zkstandby\n"
                    "http:\n  listen: \"%s\"\n"
                    "log:\n  level: info\n" % (self.connect("primary"), self.connect("backup"), extra_sync,
                                               http_listen))
        return path

    def close(self):
        self.procs.stop_all()
