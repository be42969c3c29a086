#!/usr/bin/python3
"""Independent reader for integration tests: dumps a ZooKeeper subtree as JSON
through kazoo (not through zk-standby's own client), one object per node:
path, data (base64), the stat fields, and the ACL.

usage: zkdump.py CONNECT ROOT [--auth user:password]...
"""
import base64
import json
import sys

from kazoo.client import KazooClient


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    connect, root = args[0], args[1]
    auth = []
    rest = args[2:]
    while rest:
        if rest[0] == "--auth" and len(rest) > 1:
            auth.append(("digest", rest[1]))
            rest = rest[2:]
        else:
            print("zkdump: unknown argument " + rest[0], file=sys.stderr)
            return 2
    zk = KazooClient(hosts=connect, auth_data=auth, timeout=15, read_only=False)
    zk.start(timeout=15)
    nodes = []
    if zk.exists(root):
        stack = [root]
        while stack:
            path = stack.pop()
            data, stat = zk.get(path)
            acl, _ = zk.get_acls(path)
            nodes.append({
                "path": path,
                "data": base64.b64encode(data or b"").decode(),
                "czxid": stat.czxid, "mzxid": stat.mzxid, "pzxid": stat.pzxid,
                "version": stat.version, "cversion": stat.cversion, "aversion": stat.aversion,
                "ephemeralOwner": stat.ephemeralOwner, "numChildren": stat.numChildren,
                "acl": sorted("%s:%s:%d" % (a.id.scheme, a.id.id, a.perms) for a in acl),
            })
            for child in zk.get_children(path):
                stack.append(path.rstrip("/") + "/" + child)
    zk.stop()
    nodes.sort(key=lambda n: n["path"])
    json.dump(nodes, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
