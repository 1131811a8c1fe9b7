"""Commands past the scan: finding an interface (peer, show, trace, graph --around), the graph,
and the watch.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import List, Optional, Sequence, Tuple

from .. import query
from ..errors import DrawError, NetnsUnreadable, OutputError, UsageError
from ..model import PEER_KINDS, Link, LinkRef, NamespaceId, Topology, Unresolved
from ..render.formats import Format
from ..render.text import Style, escape
from ..select import NetnsFilter, netns_choice, netns_from_snapshot, netns_live, owner_named, select_owner
from .codes import EXIT_NOT_FOUND, EXIT_NOT_FOUND_INCOMPLETE, EXIT_OK, PROG
from .output import (
    _count,
    _note,
    _print_warnings,
    _say,
    _unprivileged,
    _unreadable,
    _write_bytes,
    _write_output,
    missing_capabilities,
)

# `ip link` prints "name@ifN" (peer in another namespace) or "name@peername" (same namespace).
_IP_SUFFIX = re.compile(r"@[^@]+\Z")


def _kernel_name(arg: str) -> str:
    """The name as the kernel holds it: the bytes typed, read as UTF-8 like every name it reports.

    Under a non-UTF-8 locale Python decodes argv with that locale ('漢' arrives as 'æ¼¢'); the
    bytes come back with os.fsencode.
    """
    try:
        raw = os.fsencode(arg)
    except UnicodeError:
        return arg
    return raw.decode("utf-8", "surrogateescape")


def _find(topology: Topology, ifname: str, netns: Optional[NamespaceId]) -> List[Link]:
    names = list(dict.fromkeys((ifname, _kernel_name(ifname))))
    for name in names:
        found = topology.find(name, netns)
        if found:
            return found
    for name in names:
        # `ip link` prints "ns-39d60faa-aa@if69": accept it as pasted, stripping only the suffix
        # ip adds, and only where ip would have added that one (a name may itself hold '@':
        # "a@b@if9" is the interface "a@b@if9" or "a@b", never "a").
        suffix = _IP_SUFFIX.search(name)
        if suffix is not None and suffix.start() > 0:
            found = [link for link in topology.find(name[: suffix.start()], netns)
                     if _ip_would_print(topology, link, suffix.group()[1:])]
            if found:
                return found
    return []


def _ip_would_print(topology: Topology, link: Link, suffix: str) -> bool:
    """Whether `ip link` shows ``link`` as name@suffix: "if" + IFLA_LINK, or the name of the
    IFLA_LINK device when it is in the same namespace."""
    if link.link is None:
        return False
    if suffix == f"if{link.link}":
        return True
    if link.link_netnsid is not None:
        return False
    lower = topology.links.get(LinkRef(link.ref.netns, link.link))
    return lower is not None and lower.name == suffix


def _matches(topology: Topology, links: Sequence[Link]) -> List[Tuple[LinkRef, Optional[LinkRef],
                                                                              Optional[Unresolved]]]:
    out = []
    for link in links:
        peer = topology.peer_of(link.ref)
        unresolved = topology.unresolved_of(link.ref)
        if peer is None and unresolved is None and link.kind not in PEER_KINDS:
            article = "an" if link.kind and link.kind[0] in "aeiou" else "a"
            kind = f"{article} {link.kind} interface" if link.kind else "a physical or loopback interface"
            unresolved = Unresolved(link.ref, "no-peer", f"{link.name} is {kind}; only veth "
                                    "and netkit interfaces have a peer", None, None, None)
        out.append((link.ref, peer, unresolved))
    return out


def _not_found_code(topology: Topology, netns: Optional[NamespaceId]) -> int:
    """1 when every namespace searched was read; 7 when some could not be, so absence is unproven."""
    if netns is None and _unreadable(topology.namespaces):
        return EXIT_NOT_FOUND_INCOMPLETE
    return EXIT_NOT_FOUND


def _chosen_netns(topology: Topology, spec: Optional[str], by_owner: bool, wanted: Optional[NamespaceId],
                  quiet: bool, said: int = 0) -> Optional[NamespaceId]:
    """The namespace ``--netns`` names, checked to have been read; None without ``--netns``."""
    if spec is None:
        return None
    if by_owner or (wanted is None and (query.is_selector(spec) or owner_named(topology, spec))):
        netns = select_owner(topology, spec)
    else:
        netns = netns_from_snapshot(topology, spec) if wanted is None else netns_live(topology, wanted, spec)
    target = topology.namespace(netns)
    if target.error is not None:
        _print_warnings(topology, quiet, said)
        raise NetnsUnreadable(f"namespace {target.label} could not be read: {target.error}")
    return netns


def _not_found(topology: Topology, ifname: str, netns: Optional[NamespaceId]) -> str:
    if netns is not None:
        where = f"namespace {topology.namespace(netns).label}"
    else:
        unread = _unreadable(topology.namespaces)
        read = len(topology.namespaces) - unread
        if unread:
            fix = "run as root" if _unprivileged(topology.warnings) else "see the warnings"
            where = f"the {_count(read, 'namespace')} that could be read; {unread} could not be read ({fix})"
        else:
            where = f"any of {_count(read, 'namespace')}"
    return f"{PROG}: no interface named {escape(_kernel_name(ifname))} in {escape(where)}"


def _trace_command(topology: Topology, args: argparse.Namespace, netns: Optional[NamespaceId], form: Format,
                   style: Style, quiet: bool, said: int = 0) -> int:
    from .. import trace as trace_lib

    found = _find(topology, args.ifname, netns)
    traces = [trace_lib.trace(topology, link.ref) for link in found]
    output = form.trace(topology, traces, style)
    if output:
        _write_output(output)
    if not found:
        _say(_not_found(topology, args.ifname, netns))
    _print_warnings(topology, quiet, said)
    return EXIT_OK if found else _not_found_code(topology, netns)


def _graph_command(topology: Topology, args: argparse.Namespace, netns: Optional[NamespaceId], form: Format,
                   quiet: bool, said: int = 0) -> int:
    from .. import graph as graph_lib
    from ..render import graph as graph_render

    known = graph_render.formats()
    if form.name == "json" and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} do not go together")
    name = args.format or ("json" if form.name == "json" else "dot")
    fmt = known.get(name)
    if fmt is None:
        raise UsageError(f"--format {name}: expected one of {', '.join(known)}")
    if args.hops is not None and (args.around is None or args.hops < 0):
        raise UsageError("--hops needs --around and a number >= 0")
    around: List[LinkRef] = []
    if args.around is not None:
        found = _find(topology, args.around, netns)
        if not found:
            _say(_not_found(topology, args.around, netns))
            _print_warnings(topology, quiet, said)
            return _not_found_code(topology, netns)
        around = [link.ref for link in found]
        netns = None  # --netns said where IFNAME is
    kinds = None
    if args.kind:
        kinds = frozenset(k.strip() for item in args.kind for k in item.split(",") if k.strip())
        if not kinds:
            raise UsageError("--kind needs at least one kind")
        # Kinds are the kernel's (any IFLA_INFO_KIND), so an unknown one is no error; but a typo
        # (--kind brige) silently drawing nothing deserves a word.
        present = {link.kind or "device" for link in topology.links.values()}
        absent = sorted(kinds - present)
        if absent and not quiet:
            _say(f"{PROG}: warning: no interface of kind {escape(', '.join(absent))} here "
                 f"(kinds here: {escape(', '.join(sorted(present)))})")
    picture = graph_lib.narrow(graph_lib.build(topology), netns=netns, around=around, hops=args.hops, kinds=kinds)
    try:
        output = fmt.render(picture)
    except graph_render.GraphvizMissing as error:
        raise DrawError(str(error)) from None
    except graph_render.GraphvizFailed as error:
        raise DrawError(str(error)) from None
    data = output.encode("utf-8", "surrogateescape") if isinstance(output, str) else output
    if args.output is not None:
        try:
            with open(args.output, "wb") as handle:
                handle.write(data)
        except OSError as error:
            raise OutputError(f"cannot write {args.output}: {error.strerror}") from None
    elif isinstance(output, str):
        _write_output(output)
    else:
        _write_bytes(data)
    _print_warnings(topology, quiet, said)
    return EXIT_OK


def _watch_command(args: argparse.Namespace, form: Format, root: str, proc: str) -> int:
    from .. import watcher as watch_lib

    if getattr(args, "load", None) is not None or getattr(args, "save", None) is not None:
        raise UsageError("watch reads the live host: --load and --save do not go together with it")
    if args.count is not None and args.count < 1:
        raise UsageError("--count needs a number >= 1")
    if args.timeout is not None and not 0 <= args.timeout < float("inf"):  # (also refuses nan)
        raise UsageError("--timeout needs a finite number of seconds >= 0")
    for option, directory in (("--root", root), ("--proc", proc)):
        if not os.path.isdir(directory):
            raise UsageError(f"{option} {directory}: not a directory")
    spec = args.netns
    wanted, by_owner, extra_paths = netns_choice(spec, root, proc)
    if args.live:
        from ..render import live

        if form.name != "text" or args.count is not None or args.events_only:
            raise UsageError("--live does not go together with --json, --count or --events-only")
        if not sys.stdout.isatty():
            raise UsageError("--live needs a terminal on stdout")
        events = watch_lib.watch(netns_paths=extra_paths, addresses=True, sockets=getattr(args, "sockets", False),
                                 proc=proc, root=root, timeout=args.timeout)
        return live.run(events, NetnsFilter(spec, wanted, by_owner, note=_note),
                        encoding=getattr(sys.stdout, "encoding", None))
    quiet = getattr(args, "quiet", False)
    lacking = missing_capabilities(getattr(args, "sockets", False))
    if lacking and not quiet:
        for warning in lacking:
            _say(f"{PROG}: warning: {escape(warning)}")
    try:
        hangup_fd: Optional[int] = sys.stdout.fileno()  # `| head` ends the watch even when all is quiet
    except (AttributeError, OSError, ValueError):
        hangup_fd = None
    events = watch_lib.watch(netns_paths=extra_paths, addresses=True, sockets=getattr(args, "sockets", False),
                             proc=proc, root=root, include_initial=not args.events_only, timeout=args.timeout,
                             hangup_fd=hangup_fd)
    chosen = NetnsFilter(spec, wanted, by_owner, note=_note)
    write = form.watch()
    counted = 0
    try:
        for event in events:
            if not chosen.shows(event) or (event.kind == "warning" and quiet):
                continue
            _write_output(write(event))
            if event.kind not in ("state", "synced", "warning"):  # --count counts changes only
                counted += 1
                if args.count is not None and counted >= args.count:
                    break
    finally:
        events.close()
    return EXIT_OK
