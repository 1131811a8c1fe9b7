"""What a command does once its arguments are parsed: scan the host (or load a snapshot), select,
render, write; the exit code. Imported only then, so that parsing (and ``--help``, completion,
a usage error) does not pay for the scanner, the resolver and the renderers.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

from .. import discover, resolve, scanner
from .. import snapshot as snapshot_io
from ..errors import UsageError
from ..host import ops
from ..host.netlink import ALTIFNAME_MAX
from ..model import PEER_KINDS, LinkRef, NamespaceId, Topology
from ..reader import Reading, around, sweep
from ..render.formats import FORMATS
from ..render.text import Style, escape, style_for
from ..resolve import Pairing
from ..select import netns_choice, netns_live
from .codes import EXIT_OK, PROG
from .commands import (
    _IP_SUFFIX,
    _chosen_netns,
    _find,
    _graph_command,
    _kernel_name,
    _matches,
    _not_found,
    _not_found_code,
    _trace_command,
    _watch_command,
)
from .output import (
    _print_warnings,
    _say,
    _unread_hint,
    _write_output,
    access_summary,
    missing_capabilities,
)

#: What the last one-shot run built. The command line ends with os._exit once its output is
#: flushed (``__main__._exit_now``), so nothing of it is freed object by object; a library caller
#: of ``main()`` holds one run's worth at most.
_KEPT: List[object] = []


def answer(args: argparse.Namespace, command: str, mountinfo: Optional[Callable[[], str]] = None) -> int:
    """Run ``command`` (anything but completion and demo) with its parsed ``args``; ``mountinfo``:
    the mount table read already, for a targeted read to use (never a whole one)."""
    form = FORMATS["json" if getattr(args, "json", False) else "text"]
    quiet = getattr(args, "quiet", False)
    load = getattr(args, "load", None)
    save = getattr(args, "save", None)
    root = getattr(args, "root", None) or "/"
    proc = getattr(args, "proc", None) or os.path.join(root, "proc")
    if command == "watch":
        with ops.gc_resumed():  # long-running: its memory must stay bounded between scans
            return _watch_command(args, form, root, proc)
    if load is None:
        for option, directory in (("--root", root), ("--proc", proc)):
            if not os.path.isdir(directory):
                raise UsageError(f"{option} {directory}: not a directory")
    spec = getattr(args, "netns", None)
    wanted, by_owner, extra_paths = netns_choice(spec if load is None else None, root, proc)
    if load is not None and save is not None:
        raise UsageError("--load and --save do not go together")
    whole: List[Reading] = []  # read whole by a targeted question's plan that gave up
    if command in ("peer", "show", "trace") and load is None and save is None and not getattr(args, "json", False):
        code = None
        if command in ("show", "trace") and (wanted is not None or spec is None):
            code = _targeted_path(args, command, spec, wanted, extra_paths, root, proc, mountinfo, whole)
        elif wanted is not None:
            code = _targeted_peer(args, spec, wanted, extra_paths, root, proc, mountinfo)
            if code is None:  # (a peer neither in root nor ours: where the id NS gives it says)
                code = _targeted_path(args, command, spec, wanted, extra_paths, root, proc, mountinfo, whole)
        elif spec is None:
            code = _targeted_named(args, root, proc, mountinfo)
        if code is not None:
            return code

    if whole:
        snap, pairing = whole[0].snapshot, whole[0].pairing
    else:
        snap, pairing = _scan_or_load(args, command, load, save, spec, extra_paths, root, proc)
    access = access_summary(snap)
    if access is not None:
        snap = snap._replace(warnings=(access, *snap.warnings))
        if not quiet:
            # The first thing said: everything below is a small part of the host.
            _say(f"{PROG}: warning: {escape(access)}")
    topology = resolve.resolve(snap, pairing)
    # Kept until the process ends (see _KEPT): freed on the way out of this function, a scan of
    # 1000 namespaces took 15-20 ms, after the answer was complete.
    _KEPT[:] = [snap, pairing, topology]
    style = style_for(sys.stdout)
    said = 1 if access is not None else 0  # warnings already on stderr

    return _answer(args, command, topology, spec, by_owner, wanted, style, said)


def _targeted_peer(args: argparse.Namespace, spec: Optional[str], wanted: NamespaceId, extra_paths: List[str],
                   root: str, proc: str, mountinfo: Optional[Callable[[], str]]) -> Optional[int]:
    """``peer IFNAME --netns NS`` (a name, a path, ``pid:N``) from a read of NS and the root
    namespace alone; None when that cannot give the answer a whole read gives, and it is then made.

    Every namespace is still discovered (what holds NS names it); only NS, root and our own are
    read. The answer is taken only when every interface so named in NS has its peer proven (both
    ends read, one moment, both directions' ids, as in a whole read) or is no veth or netkit at
    all; the text shows nothing else of the host (the JSON's relations might: it reads the whole).
    A run short of privileges reads the whole, so that what it says of the unreadable matches."""
    sockets = getattr(args, "sockets", False)
    if missing_capabilities(sockets):
        return None
    snap, pairing = scanner.read_host(netns_paths=extra_paths, sockets=sockets, root=root, proc=proc,
                                      only=(wanted,), mountinfo=mountinfo)
    topology = resolve.resolve(snap, pairing)
    netns = _read_netns(topology, wanted, spec)
    if netns is None or not _all_proven(topology, args.ifname, netns):
        return None
    _KEPT[:] = [snap, pairing, topology]
    return _answer(args, "peer", topology, spec, False, wanted, style_for(sys.stdout), 0)


def _targeted_named(args: argparse.Namespace, root: str, proc: str,
                    mountinfo: Optional[Callable[[], str]]) -> Optional[int]:
    """``peer IFNAME`` (every namespace searched) from a read of the namespaces holding a device
    of that name and of those where their peers may be, found by asking every namespace for the
    name (``reader.sweep``); None when that cannot give the answer a whole read gives (a namespace
    that could not be asked, no match, a peer not proven), and it is then made.

    Matches in the root or own namespace are read in part (they and what they point at there).
    When every namespace was asked and none holds such a device, that is the answer: nothing
    is read (a mistyped name cost the sweep and a whole read)."""
    sockets = getattr(args, "sockets", False)
    names = _swept_names(args, sockets)
    if not names:
        return None
    absent: List[discover.Discovery] = []

    def choose(found: discover.Discovery, room: int) -> Optional[scanner.Chosen]:
        swept = sweep.sweep(found, names, room)
        if swept is not None and not swept.matches:
            absent.append(found)
        if swept is None or not swept.matches:
            return None
        home = (found.root_inode, found.own_inode)
        parts = {inode: frozenset(index for link in links for index in (
            link.ifindex, *((link.link,) if link.link_netnsid is None and link.link else ())))
            for inode, links in swept.matches.items() if inode in home}
        whole = {*swept.matches, *swept.peers} - set(home)
        return scanner.Chosen(frozenset(whole), parts)

    reading = scanner.read_chosen(choose, sockets=sockets, root=root, proc=proc, mountinfo=mountinfo)
    if reading is None:
        if not absent:
            return None
        # Each namespace answered that it holds no such device: what a whole read would find.
        nothing = resolve.resolve(_nothing_read(absent[0], sockets), None)
        return _answer(args, "peer", nothing, None, False, None, style_for(sys.stdout), 0)
    topology = resolve.resolve(reading.snapshot, reading.pairing)
    if not _all_proven(topology, args.ifname, None):
        return None
    _KEPT[:] = [reading, topology]
    return _answer(args, "peer", topology, None, False, None, style_for(sys.stdout), 0)


def _targeted_path(args: argparse.Namespace, command: str, spec: Optional[str], wanted: Optional[NamespaceId],
                   extra_paths: List[str], root: str, proc: str, mountinfo: Optional[Callable[[], str]],
                   whole: List[Reading]) -> Optional[int]:
    """``show IFNAME`` or ``trace IFNAME`` (in ``--netns NS`` when ``wanted``) from a read of the
    namespaces the devices so named are plugged into (show: ``reader.around``: theirs, their
    peers', lowers' and underlays', and those of every device naming one as its lower or
    underlay) or that their trace enters (``reader.reach``); root and ours in part. ``peer
    IFNAME --netns NS`` the same way, from NS and its matches' peers' namespaces wherever those
    are (once ``_targeted_peer``, reading NS with root and ours only, could not prove it).

    None when that cannot give the answer a whole read gives, and it is then made: a peer or
    relation shown (or a device that may be an upper, or one the trace reached) is not proven.
    When the plan gives up, the host is read whole from the same discovery, into ``whole``, for
    the caller to answer from as from any whole read (None)."""
    from ..reader import reach

    sockets = getattr(args, "sockets", False)
    names = _swept_names(args, sockets)
    if not names:
        return None
    plans: List[around.Around] = []
    plans_by: Dict[str, Callable[..., Optional[around.Around]]] = {
        "show": around.around, "trace": reach.reach, "peer": functools.partial(reach.reach, peers=True)}
    plan_for = plans_by[command]

    def choose(found: discover.Discovery, room: int) -> Optional[scanner.Chosen]:
        plan = plan_for(found, names, None if wanted is None else wanted.inode, room)
        if plan is None:
            return scanner.EVERYTHING
        plans.append(plan)
        return scanner.Chosen(plan.whole, plan.parts)

    reading = scanner.read_chosen(choose, netns_paths=extra_paths, sockets=sockets, root=root, proc=proc,
                                  mountinfo=mountinfo)
    if reading is None:
        return None
    if not plans:
        whole.append(reading)
        return None
    topology = resolve.resolve(reading.snapshot, reading.pairing)
    netns = None if wanted is None else _read_netns(topology, wanted, spec)
    if wanted is not None and netns is None:
        return None
    if command == "trace":
        proven = _traces_proven(topology, args.ifname, netns)
    else:
        proven = _all_proven(topology, args.ifname, netns) and (
            command == "peer" or _relations_proven(topology, args.ifname, netns, plans[0].related))
    if not proven:
        return None
    _KEPT[:] = [reading, topology]
    return _answer(args, command, topology, spec, False, wanted, style_for(sys.stdout), 0)


def _read_netns(topology: Topology, wanted: NamespaceId, spec: Optional[str]) -> Optional[NamespaceId]:
    """The namespace --netns named, as read; None when it is gone meanwhile or could not be read
    (the whole read then says so)."""
    try:
        netns = netns_live(topology, wanted, spec or "")
    except UsageError:
        return None
    return None if topology.namespace(netns).error is not None else netns


def _traces_proven(topology: Topology, ifname: str, netns: Optional[NamespaceId]) -> bool:
    """Whether a targeted read traces as a whole one would: some interface so named, and every
    interface each trace reached with its peer (a veth or netkit end) and relations proven."""
    from .. import trace as trace_lib

    found = _find(topology, ifname, netns)
    seen = {ref for link in found for ref in trace_lib.trace(topology, link.ref).seen}
    return bool(found) and all(topology.peer_of(ref) is not None for ref in seen
                               if topology.link(ref).kind in PEER_KINDS) and all(
        relation.target is not None for relation in topology.relations if relation.source in seen)


def _relations_proven(topology: Topology, ifname: str, netns: Optional[NamespaceId],
                      related: FrozenSet[Tuple[int, int]]) -> bool:
    """Whether every relation of the devices shown, and of each device that may name one as its
    lower or underlay (``related``: inode, ifindex), is proven in a targeted read."""
    sources = {link.ref for link in _find(topology, ifname, netns)}
    sources.update(LinkRef(ns.id, ifindex) for ns in topology.namespaces for inode, ifindex in related
                   if ns.id.inode == inode)
    return all(relation.target is not None for relation in topology.relations if relation.source in sources)


def _all_proven(topology: Topology, ifname: str, netns: Optional[NamespaceId]) -> bool:
    """Whether a targeted read answers as a whole one would: some interface so named, and each
    with its peer proven or no veth or netkit at all."""
    found = _find(topology, ifname, netns)
    return bool(found) and all(topology.peer_of(link.ref) is not None or link.kind not in PEER_KINDS
                               for link in found)


def _nothing_read(found: discover.Discovery, sockets: bool) -> snapshot_io.Snapshot:
    """The snapshot of a host whose every namespace was asked and none read: each there and
    readable, with no links; what discovery warned of."""
    records = tuple(snapshot_io.NamespaceRecord(item.namespace._replace(
        root=item.inode == found.root_inode, own=item.inode == found.own_inode, link_count=0), ())
        for item in found.namespaces)
    return snapshot_io.Snapshot(records, (), (), (), found.root_source, found.warnings, (), sockets,
                                tun_files=found.tun_files)


def _swept_names(args: argparse.Namespace, sockets: bool) -> List[bytes]:
    """The names every namespace is asked for (``_sweep_names``); none (no targeted read) for a
    run short of privileges, which reads the whole host so that what it says of the unreadable
    matches."""
    return [] if missing_capabilities(sockets) else _sweep_names(args.ifname)


def _sweep_names(ifname: str) -> List[bytes]:
    """The names ``_find`` may look an interface up by (as typed, as the kernel holds it, and
    without an ``@ifN`` suffix `ip link` adds), as the kernel can hold them."""
    out: Dict[bytes, None] = {}
    for name in dict.fromkeys((ifname, _kernel_name(ifname))):
        suffix = _IP_SUFFIX.search(name)
        for candidate in (name, *((name[: suffix.start()],) if suffix is not None and suffix.start() > 0 else ())):
            try:
                raw = candidate.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                continue  # no name the kernel reports decodes to it
            if raw and b"\0" not in raw and len(raw) <= ALTIFNAME_MAX:
                out[raw] = None
    return list(out)


def _answer(args: argparse.Namespace, command: str, topology: Topology, spec: Optional[str], by_owner: bool,
            wanted: Optional[NamespaceId], style: Style, said: int) -> int:
    """Select, render and write what ``command`` asks of the Topology; the exit code."""
    form = FORMATS["json" if getattr(args, "json", False) else "text"]
    quiet = getattr(args, "quiet", False)
    status = EXIT_OK
    if command in ("peer", "show"):
        netns = _chosen_netns(topology, spec, by_owner, wanted, quiet)
        found = _find(topology, args.ifname, netns)
        matches = _matches(topology, found)
        output = (form.show if command == "show" else form.peer)(topology, matches, style)
        if not found:
            _write_output(output)
            _say(_not_found(topology, args.ifname, netns))
            _print_warnings(topology, quiet, said)
            return _not_found_code(topology, netns)
    elif command == "trace":
        return _trace_command(topology, args, _chosen_netns(topology, spec, by_owner, wanted, quiet, said),
                              form, style, quiet, said)
    elif command == "graph":
        return _graph_command(topology, args, _chosen_netns(topology, spec, by_owner, wanted, quiet, said),
                              form, quiet, said)
    elif command == "namespaces":
        output = form.namespaces(topology, style)
    else:
        output = form.list(topology, style, _unread_hint(topology))
    _write_output(output)
    _print_warnings(topology, quiet, said)
    return status


def _scan_or_load(args: argparse.Namespace, command: str, load: Optional[str], save: Optional[str],
                  spec: Optional[str], extra_paths: List[str], root: str,
                  proc: str) -> Tuple[snapshot_io.Snapshot, Optional[Pairing]]:
    """The snapshot to answer from: ``--load``'s, or this host's (saved with ``--save``), with the
    pairing the reader already drove over it."""
    pairing = None
    if load is not None:
        try:
            snap = snapshot_io.load_file(load)
        except ValueError as error:
            raise UsageError(str(error)) from None
    else:
        try:
            snap, pairing = scanner.read_host(netns_paths=extra_paths, addresses=command != "namespaces",
                                              sockets=getattr(args, "sockets", False), root=root, proc=proc)
        except ValueError as error:
            raise UsageError(f"--netns {spec}: {error}") from None
        lacking = missing_capabilities(getattr(args, "sockets", False))
        if lacking:
            snap = snap._replace(warnings=(*snap.warnings, *lacking))
        if save is not None:
            try:
                with open(save, "w", encoding="utf-8") as handle:
                    handle.write(snapshot_io.dumps(snap))
            except OSError as error:
                raise UsageError(f"cannot write {save}: {error.strerror}") from None
    return snap, pairing


