"""Record the test fixtures in this folder from a real kernel (run as root, from the project root):

    python tests/data/record.py

Writes:
  kinds.links.json / kinds.addrs.json  raw RTM_GETLINK / RTM_GETADDR dump bytes of one namespace
                                       holding many kinds of links (hex, one string per recv)
  kinds.ip.json                        `ip -j -d link` of that namespace, taken before the
                                       links with unprintable names were added (ip writes those
                                       raw into its JSON)
  host.snapshot.json                   a vethpeer snapshot (as --save writes it) of a Neutron-like
                                       picture plus the awkward cases, cut down to the lab's
                                       namespaces and the root one
Everything built is removed afterwards.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "src"))

from lab import Lab  # noqa: E402
from vethpeer import scanner  # noqa: E402
from vethpeer import snapshot as snapshot_io  # noqa: E402
from vethpeer.host import netlink, ops  # noqa: E402

PREFIX = "vpfx"


def capture(path: str, request: bytes) -> list:
    fd = os.open(path, os.O_RDONLY)
    try:
        [sock] = ops.sockets_in([fd])
    finally:
        os.close(fd)
    assert not isinstance(sock, OSError)
    chunks = []
    with sock:
        sock.send(request)
        while True:
            data = sock.recv(1 << 16)
            chunks.append(data.hex())
            out: list = []
            if netlink.parse_stream(data, 1, -1, lambda d, a, b: None, out).done:
                return chunks


def record_kinds(lab: Lab) -> None:
    kinds = lab.netns("kinds")
    far = lab.netns("far")
    n = ("-n", kinds)
    lab.ip(*n, "link", "add", "name", "br0", "type", "bridge")
    lab.ip(*n, "link", "property", "add", "dev", "br0", "altname", "bridge-zero")
    lab.veth("v0", kinds, "v1", kinds)
    lab.ip(*n, "link", "set", "v0", "master", "br0")
    lab.ip(*n, "link", "add", "link", "v1", "name", "mv0", "type", "macvlan", "mode", "bridge")
    lab.ip(*n, "link", "add", "name", "vx0", "type", "vxlan", "id", "42", "dstport", "4789")
    lab.ip(*n, "tuntap", "add", "dev", "tap0", "mode", "tap")
    lab.veth("out0", kinds, "in0", far)
    lab.ip(*n, "address", "add", "192.0.2.1/24", "dev", "br0")
    lab.ip(*n, "address", "add", "2001:db8::1/64", "dev", "br0", "nodad")
    for link in ("lo", "br0", "v0", "v1"):
        lab.ip(*n, "link", "set", link, "up")
    with open(os.path.join(HERE, "kinds.ip.json"), "w") as handle:
        json.dump(lab.links(kinds), handle, indent=1)
    lab.veth(b"e\x1b[31mred", kinds, b"o\xff\xfe", kinds)
    path = f"/run/netns/{kinds}"
    for name, request in (("links", netlink.link_dump_request(1)), ("addrs", netlink.address_dump_request(1))):
        with open(os.path.join(HERE, f"kinds.{name}.json"), "w") as handle:
            json.dump({"seq": 1, "chunks": capture(path, request)}, handle, indent=1)


def record_host(lab: Lab) -> None:
    node = lab.netns("node")
    qdhcp = "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc"
    lab.ip("netns", "add", qdhcp)
    lab.namespaces.append(qdhcp)
    bridge, tap, port = "brqfabc7ead-3c", "tap39d60faa-aa", "ns-39d60faa-aa"
    lab.ip("-n", node, "link", "add", "name", bridge, "type", "bridge")
    lab.veth(tap, node, port, qdhcp)
    lab.ip("-n", node, "link", "set", tap, "master", bridge)
    lab.ip("-n", qdhcp, "link", "property", "add", "dev", port, "altname", "port-39d60faa-aa47-4e8f-9c1b")
    lab.ip("-n", qdhcp, "address", "add", "10.10.100.2/24", "dev", port)
    lab.ip("-n", qdhcp, "address", "add", "169.254.169.254/16", "dev", port)
    lab.veth(f"{PREFIX}up", None, "uplink", node)
    container = lab.holder("unshare")
    lab.veth("vethc0ffee", node, "eth0", f"pid:{container.pid}")
    lab.ip("-n", node, "link", "set", "vethc0ffee", "master", bridge)
    for i in range(3):
        lab.veth("eth1", lab.netns(f"a{i}"), "eth1", lab.netns(f"b{i}"))
    esc = lab.netns("esc")
    lab.veth(b"e\x1b[31mred", esc, b"o\xff\xfe", esc)
    hidden = lab.netns("hidden")
    lab.veth(f"{PREFIX}hid", None, "eth0", hidden)
    target = os.path.join(lab.tmpdir, "hidden")
    open(target, "w").close()
    lab.holder("hide", f"/run/netns/{hidden}", target)
    lab.forget_name(hidden)

    snap = scanner.take_snapshot()
    keep = {ns.inode for ns in snap.namespaces
            if ns.root or any(n.startswith(PREFIX) or n == qdhcp for n in ns.names)
            or container.pid in ns.pids}
    namespaces = []
    for ns in snap.namespaces:
        if ns.inode not in keep:
            continue
        if not ns.root:
            namespaces.append(ns)
            continue
        links = tuple(link for link in ns.links
                      if link.name in (b"lo", b"eth0") or link.name.startswith(PREFIX.encode()))
        indexes = {link.ifindex for link in links}
        namespaces.append(ns._replace(links=links, pids=ns.pids[:3], threads=(), fds=(), sockets=(),
                                      addresses=tuple(a for a in ns.addresses if a.ifindex in indexes)))
    snap = snap._replace(
        namespaces=tuple(namespaces),
        nsid_answers=tuple(a for a in snap.nsid_answers if a.asker in keep and a.target in keep),
        via_answers=tuple(a for a in snap.via_answers if a.asker in keep and a.hub in keep),
        hints=tuple(h for h in snap.hints if h.asker in keep),
        warnings=(),
    )
    with open(os.path.join(HERE, "host.snapshot.json"), "w") as handle:
        handle.write(json.dumps(snapshot_io.to_json(snap), indent=1) + "\n")


def main() -> None:
    with Lab(PREFIX) as lab:
        record_kinds(lab)
    with Lab(PREFIX) as lab:
        record_host(lab)


if __name__ == "__main__":
    main()
