#!/usr/bin/python3
"""Integration test of the shipped TLS tunnel (deploy/stunnel/).

Starts a real ZooKeeper server and both stunnel ends, configured from the
shipped files with only addresses, ports and certificate paths replaced, and
checks what an operator relies on:

  - a node written through the tunnel is read directly from the server, and a
    watch set through the tunnel fires on a direct change;
  - every accept port of the replicator side reaches the server, so the
    connect string "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" works;
  - between the two stunnel ends only TLS records travel: a payload that is
    seen in clear on the plain leg does not appear on the wire;
  - the ZooKeeper side refuses clients without a certificate, with one from
    another CA, and with one from the right CA issued to another name; a plain
    ZooKeeper client on the TLS port gets nothing;
  - the replicator side refuses a server whose certificate is not from the
    tunnel's CA (no man in the middle);
  - optionally, zkstandby's own C client syncs a subtree through the tunnel.

Exit status 0 pass, 1 fail, 77 skipped (stunnel4, openssl, java, ZooKeeper or
kazoo missing). Everything listens on 127.0.0.1 only; every process started
is killed on exit.

usage: deploy_stunnel_test.py --source-dir REPO [--zkstandby BINARY]
"""
import argparse
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
JAVA = "/usr/bin/java"


def log(message):
    print("deploy_stunnel_test: " + message, flush=True)


def skip(message):
    log("SKIP: " + message)
    sys.exit(SKIP)


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


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


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


def _die_with_parent():
    # If this test is killed (ctest timeout), its children go with it.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Processes:
    """Every child process this test starts; stop_all() ends them all."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.children = []

    def start(self, name, argv):
        log_path = os.path.join(self.workdir, name + ".log")
        out = open(log_path, "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent, cwd=self.workdir)
        out.close()
        proc.name = name
        proc.log_path = log_path
        self.children.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
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
                log("could not stop %s: %s" % (proc.name, e))


def read_log(proc, offset=0):
    with open(proc.log_path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def log_size(proc):
    return os.path.getsize(proc.log_path)


# ---------------------------------------------------------------- stunnel configs

def render_stunnel(src, dst, overrides, keep_sections=None):
    """Copies a shipped stunnel config, replacing option values.

    overrides maps a section name ("" for the global part) to {option: value};
    value None removes the option, an option not present is added at the end
    of its section. Only the sections in keep_sections (all if None) are kept.
    Everything else (verification, TLS versions, socket options) is kept as
    shipped, so the test exercises the shipped security settings.
    """
    out = []
    section = ""
    pending = dict(overrides.get("", {}))

    def flush():
        for key, value in pending.items():
            if value is not None:
                out.append("%s = %s" % (key, value))

    with open(src) as f:
        lines = f.read().splitlines()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            flush()
            section = stripped[1:-1]
            pending = dict(overrides.get(section, {}))
            if keep_sections is None or section in keep_sections:
                out.append(line)
            continue
        if keep_sections is not None and section and section not in keep_sections:
            continue
        if "=" in stripped and not stripped.startswith((";", "#")):
            key = stripped.split("=", 1)[0].strip()
            if key in pending:
                value = pending.pop(key)
                if value is not None:
                    out.append("%s = %s" % (key, value))
                continue
            if key in overrides.get(section, {}):
                continue  # a repeated option already replaced
        out.append(line)
    flush()
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")


def sections_of(path):
    """[(section, {option: value})] of a stunnel config, in file order."""
    result = []
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("[") and s.endswith("]"):
                result.append((s[1:-1], {}))
            elif result and "=" in s and not s.startswith((";", "#")):
                key, value = s.split("=", 1)
                result[-1][1][key.strip()] = value.strip()
    return result


# Options every test instance gets in its global part: no privilege drop (the
# test may run unprivileged), logs on stderr (captured per process).
TEST_GLOBALS = {"setuid": None, "setgid": None, "foreground": "yes", "syslog": "no", "pid": ""}


def stunnel_binary():
    for name in ("stunnel4", "stunnel"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_stunnel(procs, name, conf, ports):
    proc = procs.start(name, [stunnel_binary(), conf])
    for port in ports:
        wait_for(lambda: proc.poll() is not None or port_open(port), 15, "%s to listen on %d" % (name, port))
        check(proc.poll() is None, "%s exited with %s:\n%s" % (name, proc.returncode, read_log(proc)))
    return proc


# ---------------------------------------------------------------- recording proxy

class RecordingProxy:
    """A loopback TCP forwarder that keeps every byte it carries, per direction."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.to_server = []   # one bytearray per connection
        self.to_client = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            up, down = bytearray(), bytearray()
            with self.lock:
                self.to_server.append(up)
                self.to_client.append(down)
                self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, up), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, down), daemon=True).start()

    def _pump(self, src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    record += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def captured(self):
        with self.lock:
            return [bytes(b) for b in self.to_server], [bytes(b) for b in self.to_client]

    def close(self):
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                s.close()


# ---------------------------------------------------------------- the test

class Test:
    def __init__(self, source_dir, zkstandby, workdir):
        self.source_dir = source_dir
        self.zkstandby = zkstandby
        self.workdir = workdir
        self.procs = Processes(workdir)
        self.proxies = []
        self.clients = []
        self.stunnel_dir = os.path.join(source_dir, "deploy", "stunnel")

    def cleanup(self):
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        for p in self.proxies:
            p.close()
        self.procs.stop_all()

    # -- pieces

    def make_certs(self, name, client_name=None, ca_from=None):
        out = os.path.join(self.workdir, name)
        if ca_from:
            os.makedirs(out, mode=0o700)
            for f in ("ca.crt", "ca.key"):
                shutil.copy2(os.path.join(self.workdir, ca_from, f), out)
        env = dict(os.environ)
        if client_name:
            env["CLIENT_NAME"] = client_name
        subprocess.run([os.path.join(self.stunnel_dir, "make-test-certs.sh"), out], env=env, check=True,
                       timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        key_mode = os.stat(os.path.join(out, "client.key")).st_mode & 0o777
        check(key_mode == 0o600, "make-test-certs.sh wrote client.key with mode %o, want 600" % key_mode)
        return out

    def start_zookeeper(self):
        self.zk_port = free_port()
        data = os.path.join(self.workdir, "zk-data")
        os.makedirs(data)
        cfg = os.path.join(self.workdir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                    "admin.enableServer=false\n4lw.commands.whitelist=*\n"
                    "minSessionTimeout=1000\nmaxSessionTimeout=30000\npreAllocSize=1024\n" % (data, self.zk_port))
        self.zk = self.procs.start("zookeeper", [
            JAVA, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.forceSync=no",
            "-cp", ZK_CLASSPATH, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg])
        wait_for(lambda: self.zk.poll() is not None or four_letter(self.zk_port, "ruok") == "imok", 60,
                 "ZooKeeper to answer ruok")
        check(self.zk.poll() is None, "ZooKeeper exited:\n" + read_log(self.zk)[-3000:])

    def server_tunnel(self, name, certs, extra=None):
        """The ZooKeeper side, from the shipped zookeeper-server.conf."""
        port = free_port()
        conf = os.path.join(self.workdir, name + ".conf")
        service = {"accept": "127.0.0.1:%d" % port, "connect": "127.0.0.1:%d" % self.zk_port,
                   "cert": certs + "/server.crt", "key": certs + "/server.key", "CAfile": certs + "/ca.crt"}
        service.update(extra or {})
        render_stunnel(os.path.join(self.stunnel_dir, "zookeeper-server.conf"), conf,
                       {"": TEST_GLOBALS, "zookeeper": service})
        return start_stunnel(self.procs, name, conf, [port]), port

    def client_tunnel(self, name, ca_dir, remote_port, client_cert_dir=None, sections=None):
        """The replicator side, from the shipped zkstandby-client.conf; returns (process, accept ports).

        It trusts ca_dir's CA and presents client_cert_dir's client certificate
        (the one from ca_dir when None, no certificate when "").
        """
        shipped = os.path.join(self.stunnel_dir, "zkstandby-client.conf")
        names = [s for s, _ in sections_of(shipped)]
        keep = sections or names
        cert_dir = ca_dir if client_cert_dir is None else client_cert_dir
        cert_opts = {"cert": cert_dir + "/client.crt", "key": cert_dir + "/client.key"} if cert_dir else \
            {"cert": None, "key": None}
        cert_opts["CAfile"] = ca_dir + "/ca.crt"
        overrides = {"": dict(TEST_GLOBALS, **cert_opts)}
        ports = []
        for s in keep:
            port = free_port()
            ports.append(port)
            overrides[s] = {"accept": "127.0.0.1:%d" % port, "connect": "127.0.0.1:%d" % remote_port}
        conf = os.path.join(self.workdir, name + ".conf")
        render_stunnel(shipped, conf, overrides, keep_sections=keep)
        return start_stunnel(self.procs, name, conf, ports), ports

    def kazoo(self, hosts, timeout_s=15):
        from kazoo.client import KazooClient
        client = KazooClient(hosts=hosts, timeout=10)
        self.clients.append(client)
        client.start(timeout=timeout_s)
        return client

    def refused(self, hosts, what):
        """Checks that a kazoo client cannot get a session through hosts."""
        from kazoo.handlers.threading import KazooTimeoutError
        from kazoo.client import KazooClient
        client = KazooClient(hosts=hosts, timeout=2)
        self.clients.append(client)
        try:
            client.start(timeout=4)
        except KazooTimeoutError:
            client.stop()
            client.close()
            self.clients.remove(client)
            return
        raise Failure("%s: a ZooKeeper session was established, want the connection refused" % what)

    # -- checks

    def run(self):
        self.make_certs("good")
        self.make_certs("rogue")  # another CA altogether
        self.make_certs("intruder", client_name="intruder", ca_from="good")
        good = os.path.join(self.workdir, "good")
        self.start_zookeeper()
        log("ZooKeeper on 127.0.0.1:%d" % self.zk_port)

        server, tls_port = self.server_tunnel("server-stunnel", good)
        wire = RecordingProxy(tls_port)
        self.proxies.append(wire)
        client_proc, accept_ports = self.client_tunnel("client-stunnel", good, wire.port)
        check(len(accept_ports) >= 3, "the shipped client config has %d sections, want one per member of a "
              "3-member ensemble" % len(accept_ports))
        log("tunnel: accept ports %s -> wire proxy %d -> TLS %d -> ZooKeeper %d"
            % (accept_ports, wire.port, tls_port, self.zk_port))
        self.check_data_path(accept_ports, wire)
        self.check_each_port(accept_ports)
        self.check_server_refusals(server, tls_port)
        self.check_rogue_server(good)
        self.check_zkstandby(accept_ports)
        log("PASS")

    def check_data_path(self, accept_ports, wire):
        direct = self.kazoo("127.0.0.1:%d" % self.zk_port)
        marker = ("tunnel-marker-" + secrets.token_hex(16)).encode()

        # The writer reaches the tunnel through a plain recording proxy too, so
        # the test can show the marker is visible in clear there: its absence on
        # the TLS leg then means something.
        plain = RecordingProxy(accept_ports[0])
        self.proxies.append(plain)
        tunnelled = self.kazoo("127.0.0.1:%d" % plain.port)
        tunnelled.create("/deploy-test/through-tunnel", marker, makepath=True)
        data, _ = direct.get("/deploy-test/through-tunnel")
        check(data == marker, "read directly from the server %r, want %r" % (data, marker))
        log("ok: a node written through the tunnel is read directly from the server")

        fired = threading.Event()
        direct.create("/deploy-test/watched", b"v1")
        data, _ = tunnelled.get("/deploy-test/watched", watch=lambda event: fired.set())
        check(data == b"v1", "read through the tunnel %r, want b'v1'" % data)
        direct.set("/deploy-test/watched", b"v2")
        check(fired.wait(10), "a data watch set through the tunnel did not fire within 10 s of a direct change")
        data, _ = tunnelled.get("/deploy-test/watched")
        check(data == b"v2", "read through the tunnel %r after the change, want b'v2'" % data)
        log("ok: a watch set through the tunnel fires on a direct change")

        plain_up, plain_down = plain.captured()
        check(any(marker in b for b in plain_up), "the marker was not seen on the plain leg; the wire check "
              "below would prove nothing")
        tls_up, tls_down = wire.captured()
        check(tls_up and all(len(b) > 0 for b in tls_up), "no bytes crossed the TLS leg")
        for b in tls_up:
            # Record type 22 (handshake), legacy version 3.x: a TLS ClientHello.
            check(b[:2] == b"\x16\x03", "a connection on the TLS leg starts with %r, not a TLS handshake" % b[:8])
        check(not any(marker in b for b in tls_up + tls_down), "the marker crossed the TLS leg in clear")
        log("ok: only TLS records on the cross-site leg; the payload is not visible there (%d bytes checked)"
            % sum(len(b) for b in tls_up + tls_down))
        tunnelled.stop()

    def check_each_port(self, accept_ports):
        for port in accept_ports:
            c = self.kazoo("127.0.0.1:%d" % port)
            check(c.exists("/deploy-test/through-tunnel") is not None, "port %d: node not visible" % port)
            c.stop()
            c.close()
            self.clients.remove(c)
        hosts = ",".join("127.0.0.1:%d" % p for p in accept_ports)
        c = self.kazoo(hosts)
        check(c.exists("/deploy-test/watched") is not None, "connect string %s: node not visible" % hosts)
        c.stop()
        log("ok: every accept port reaches the server; connect string %s works" % hosts)

    def check_server_refusals(self, server, tls_port):
        good = os.path.join(self.workdir, "good")
        # Each client trusts the good CA (the server is genuine); only its own
        # credentials differ from the working tunnel's.
        cases = [
            ("no client certificate", "", "peer did not return a certificate"),
            ("client certificate from another CA", os.path.join(self.workdir, "rogue"),
             "Rejected by CERT at depth=0: O=zk-standby, CN=zkstandby-replicator"),
            ("client certificate from the tunnel's CA for another name", os.path.join(self.workdir, "intruder"),
             "Rejected by CERT at depth=0: O=zk-standby, CN=intruder"),
        ]
        for what, cert_dir, server_says in cases:
            before = log_size(server)
            name = "client-" + what.replace(" ", "-").replace("'", "")
            proc, ports = self.client_tunnel(name, good, tls_port, client_cert_dir=cert_dir,
                                             sections=["zk-primary-1"])
            self.refused("127.0.0.1:%d" % ports[0], what)
            wait_for(lambda: server_says in read_log(server, before), 10,
                     "the server-side stunnel to log '%s' for a %s" % (server_says, what))
            self.procs.stop(proc)
            log("ok: refused by the ZooKeeper side: %s" % what)
        self.refused("127.0.0.1:%d" % tls_port, "plain ZooKeeper client on the TLS port")
        log("ok: refused by the ZooKeeper side: a plain ZooKeeper client on the TLS port")
        check(server.poll() is None, "the server-side stunnel died:\n" + read_log(server)[-3000:])

    def check_rogue_server(self, good):
        # A man in the middle: a certificate for the right names from another
        # CA, and any client welcome, so only the client side's check stops it.
        rogue_server, rogue_port = self.server_tunnel(
            "rogue-server-stunnel", os.path.join(self.workdir, "rogue"),
            extra={"verifyChain": "no", "requireCert": "no", "checkHost": None})
        proc, ports = self.client_tunnel("client-to-rogue", good, rogue_port, sections=["zk-primary-1"])
        before = log_size(proc)
        self.refused("127.0.0.1:%d" % ports[0], "server certificate from another CA")
        wait_for(lambda: "Rejected by CERT" in read_log(proc, before), 10,
                 "the client-side stunnel to log a verification error for the rogue server")
        self.procs.stop(proc)
        self.procs.stop(rogue_server)
        log("ok: refused by the replicator side: a server certificate from another CA")

    def check_zkstandby(self, accept_ports):
        if not self.zkstandby or not os.access(self.zkstandby, os.X_OK):
            log("zkstandby binary not given or not built: its C-client check is skipped")
            return
        direct = self.kazoo("127.0.0.1:%d" % self.zk_port)
        direct.create("/deploy-src/cluster/kafka_bj_01", b"bootAddr=10.10.1.11:9092\n", makepath=True)
        hosts = ",".join("127.0.0.1:%d" % p for p in accept_ports)
        cfg = os.path.join(self.workdir, "zkstandby.yaml")
        with open(cfg, "w") as f:
            f.write('primary:\n  connect: "%s"\n  connect_timeout_ms: 10000\n  client: libzookeeper\n'
                    'backup:\n  connect: "127.0.0.1:%d"\n  connect_timeout_ms: 10000\n'
                    'sync:\n  roots:\n    - source: /deploy-src\n      target: /deploy-dst\n'
                    'state_path: /deploy-state\nhttp:\n  listen: ""\n' % (hosts, self.zk_port))
        result = subprocess.run([self.zkstandby, "sync", "-c", cfg], capture_output=True, text=True, timeout=60)
        if result.returncode != 0 and "not built yet" in result.stderr:
            log("zkstandby sync is not built yet: its C-client check is skipped")
            return
        check(result.returncode == 0, "zkstandby sync through the tunnel exited %d:\n%s%s"
              % (result.returncode, result.stdout, result.stderr))
        data, _ = direct.get("/deploy-dst/cluster/kafka_bj_01")
        check(data == b"bootAddr=10.10.1.11:9092\n", "synced node holds %r" % data)
        log("ok: zkstandby sync reads the primary through the tunnel (C client)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--zkstandby")
    args = parser.parse_args()

    if not stunnel_binary():
        skip("stunnel4 is not installed (scripts/install-deps.sh installs it)")
    if not shutil.which("openssl"):
        skip("openssl is not installed")
    if not os.access(JAVA, os.X_OK) or not os.path.exists("/usr/share/java/zookeeper.jar"):
        skip("java or the zookeeper package is not installed")
    try:
        import kazoo.client  # noqa: F401
    except ImportError:
        skip("python3-kazoo is not installed")
    logging.basicConfig(level=logging.CRITICAL)  # kazoo retries noisily on purpose here

    # ctest ends a test that times out with SIGTERM: clean up then too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    workdir = tempfile.mkdtemp(prefix="zks-deploy-stunnel-")
    test = Test(os.path.abspath(args.source_dir), args.zkstandby, workdir)
    ok = False
    try:
        test.run()
        ok = True
    except Failure as e:
        log("FAIL: %s" % e)
    finally:
        test.cleanup()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("logs kept in " + workdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
