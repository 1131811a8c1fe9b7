"""``vethpeer demo``: build a Neutron-like picture in throwaway namespaces, show it, remove it.

The picture: a ``qdhcp-<network>`` namespace whose ``ns-<port>`` veth (10.10.100.2/24 and
169.254.169.254/16) has its peer ``tap<port>`` on a ``brq<network>`` bridge, plus a container-like
namespace held only by a process, whose eth0 is plugged into the same bridge. The bridge and the
tap ends live in a throwaway "node" namespace rather than the host's root namespace, so the demo
leaves the host's own network untouched. Everything is removed again, also on Ctrl-C or SIGTERM.
Uses iproute2's ``ip`` to build (the tool itself never changes network state).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from types import FrameType
from typing import Dict, List, Optional

from .model import Topology
from .render.graph import GraphvizFailed, GraphvizMissing

# The process that holds the container-like namespace: it unshares, says so, and lives until its
# stdin closes, so it also goes away if the demo itself is killed.
_HOLDER = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "if libc.unshare(0x40000000) != 0:\n"
    "    sys.exit('unshare: ' + os.strerror(ctypes.get_errno()))\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


class DemoError(Exception):
    pass


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DemoError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Picture:
    """The throwaway namespaces and process; ``remove()`` undoes everything ``build()`` made."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        network = str(uuid.uuid4())
        port = str(uuid.uuid4())
        self.node = f"vethpeer-demo-{tag}-node"
        self.qdhcp = f"qdhcp-{network}"
        self.bridge = f"brq{network[:11]}"
        self.tap = f"tap{port[:11]}"
        self.ns_port = f"ns-{port[:11]}"
        self.container_host_end = f"veth{tag}"
        self.namespaces: List[str] = []
        self.holder: Optional[subprocess.Popen[str]] = None
        self.shown = False

    def build(self) -> None:
        for name in (self.node, self.qdhcp):
            _ip("netns", "add", name)
            self.namespaces.append(name)
        node = ("-n", self.node)
        _ip(*node, "link", "add", self.bridge, "type", "bridge")
        _ip(*node, "link", "add", self.tap, "type", "veth", "peer", "name", self.ns_port, "netns", self.qdhcp)
        _ip(*node, "link", "set", self.tap, "master", self.bridge)
        _ip("-n", self.qdhcp, "address", "add", "10.10.100.2/24", "dev", self.ns_port)
        _ip("-n", self.qdhcp, "address", "add", "169.254.169.254/16", "dev", self.ns_port)
        self.holder = subprocess.Popen([sys.executable, "-c", _HOLDER], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None
        if self.holder.stdout.readline().strip() != "ready":
            raise DemoError("the container-like process could not make its namespace")
        _ip(*node, "link", "add", self.container_host_end, "type", "veth", "peer", "name", "eth0",
            "netns", str(self.holder.pid))
        _ip(*node, "link", "set", self.container_host_end, "master", self.bridge)
        for link in ("lo", self.bridge, self.tap, self.container_host_end):
            _ip(*node, "link", "set", link, "up")
        for link in ("lo", self.ns_port):
            _ip("-n", self.qdhcp, "link", "set", link, "up")

    def remove(self) -> List[str]:
        problems = []
        if self.holder is not None:
            with contextlib.suppress(OSError):
                if self.holder.stdin is not None:
                    self.holder.stdin.close()
            try:
                self.holder.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.holder.kill()
                self.holder.wait()
            if self.holder.stdout is not None:
                self.holder.stdout.close()
        for name in reversed(self.namespaces):
            try:
                _ip("netns", "del", name)
            except DemoError as error:
                problems.append(str(error))
        return problems


def _subset(topology: Topology, inodes: set[int]) -> Topology:
    def ours(netns_inode: int) -> bool:
        return netns_inode in inodes

    pairs = tuple(p for p in topology.pairs if ours(p.a.netns.inode) or ours(p.b.netns.inode))
    unresolved = tuple(u for u in topology.unresolved if ours(u.link.netns.inode))
    keep = {p.a.netns for p in pairs} | {p.b.netns for p in pairs} | {u.link.netns for u in unresolved}
    keep |= {ns.id for ns in topology.namespaces if ours(ns.id.inode)}
    namespaces = tuple(ns for ns in topology.namespaces if ns.id in keep)
    links = {ref: link for ref, link in topology.links.items() if ref.netns in keep}
    relations = tuple(r for r in topology.relations if r.source.netns in keep)
    return Topology(namespaces, links, pairs, unresolved, (), topology.root_source, topology.comms,
                    relations=relations)


def _demo_inodes(picture: Picture) -> set[int]:
    inodes = {os.stat(f"/run/netns/{name}").st_ino for name in picture.namespaces}
    if picture.holder is not None:
        inodes.add(os.stat(f"/proc/{picture.holder.pid}/ns/net").st_ino)
    return inodes


def _show(topology: Topology, picture: Picture, as_json: bool) -> None:
    from .render import json as json_render
    from .render import table as table_render
    from .render.text import style_for

    qdhcp = next(ns for ns in topology.namespaces if picture.qdhcp in ns.names)
    ports = topology.find(picture.ns_port, qdhcp.id)
    matches = [(link.ref, topology.peer_of(link.ref), topology.unresolved_of(link.ref)) for link in ports]
    if as_json:
        document: Dict[str, object] = {
            "version": 1,
            "list": json_render.list_document(topology),
            "peer": json_render.peer_document(topology, matches),
        }
        sys.stdout.write(json_render.dumps(document))
        return
    style = style_for(sys.stdout)
    print(style.bold("$ vethpeer list") + style.dim("   (only the demo's namespaces)"))
    sys.stdout.write(table_render.render_list(topology, style))
    print()
    print(style.bold(f"$ vethpeer peer {picture.ns_port} --netns {picture.qdhcp}"))
    sys.stdout.write(table_render.render_peer(topology, matches, style))
    print()


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


_CAP_NET_ADMIN = 12
_CAP_SYS_ADMIN = 21


def _missing_privilege() -> Optional[str]:
    """What stops us building namespaces: not root, or root without the capabilities."""
    if os.geteuid() != 0:
        return "needs root"
    from .host.ops import effective_caps

    effective = effective_caps()
    if effective is None:
        return None
    missing = [name for bit, name in ((_CAP_SYS_ADMIN, "CAP_SYS_ADMIN"), (_CAP_NET_ADMIN, "CAP_NET_ADMIN"))
               if not effective & (1 << bit)]
    return f"needs {' and '.join(missing)}" if missing else None


def _draw(topology: Topology, fmt: str) -> None:
    """The demo's namespaces as ``vethpeer graph --format FMT`` draws them, on stdout."""
    from . import graph as graph_lib
    from .render import graph as graph_render

    output = graph_render.formats()[fmt].render(graph_lib.build(topology))
    if isinstance(output, str):
        sys.stdout.write(output)
        sys.stdout.flush()
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(output)
        sys.stdout.buffer.flush()


def run(as_json: bool = False, wait: bool = False, graph: Optional[str] = None) -> int:
    missing = _missing_privilege()
    if missing:
        print(f"vethpeer demo: {missing} (it creates network namespaces and veth pairs); "
              "try: sudo vethpeer demo", file=sys.stderr)
        return 2
    if shutil.which("ip") is None:
        print("vethpeer demo: needs iproute2's 'ip' command to build the picture", file=sys.stderr)
        return 2
    from . import scanner

    picture = Picture()
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    status = 0
    try:
        try:
            picture.build()
            topology = _subset(scanner.scan(), _demo_inodes(picture))
            if graph is not None:
                _draw(topology, graph)
            else:
                _show(topology, picture, as_json)
            if wait:
                _wait_for_user(picture, as_json)
        except DemoError as error:
            print(f"vethpeer demo: {error}", file=sys.stderr)
            status = 3
        except (GraphvizMissing, GraphvizFailed) as error:
            print(f"vethpeer demo: {error}", file=sys.stderr)
            status = 6
        except KeyboardInterrupt:
            if not (wait and picture.shown):
                status = 130
    finally:
        # Cleanup must not be cut short by a second Ctrl-C.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            problems = picture.remove()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        for problem in problems:
            print(f"vethpeer demo: cleanup: {problem}", file=sys.stderr)
    if status == 0:
        print("(demo namespaces removed)", file=sys.stderr if as_json or graph else sys.stdout)
    return status


def _wait_for_user(picture: Picture, as_json: bool) -> None:
    picture.shown = True
    names = ", ".join([*picture.namespaces, f"pid {picture.holder.pid if picture.holder else '?'}"])
    print(f"\nThe demo stays up until Enter or Ctrl-C: {names}", file=sys.stderr if as_json else sys.stdout,
          flush=True)
    sys.stdin.readline()
