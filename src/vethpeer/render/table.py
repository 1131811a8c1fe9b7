"""Human tables for each command. Every name from the kernel goes through ``escape``."""

from __future__ import annotations

from typing import List, Mapping, Optional, Sequence, Tuple

from ..holding import DETAILED
from ..model import PEER_KINDS, Link, LinkRef, Namespace, Topology, Unresolved, owner_label
from .text import Style, escape, table

Match = Tuple[LinkRef, Optional[LinkRef], Optional[Unresolved]]

_MAX_HOLDERS = 6


def _ns(topology: Topology, ref: LinkRef) -> str:
    return escape(topology.namespace(ref.netns).label)


def _master(topology: Topology, ref: LinkRef) -> str:
    bridge = topology.links[ref].ovs_bridge
    if bridge is not None:  # an Open vSwitch port: its bridge says more than ovs-system (or no master)
        return "ovs:" + escape(bridge)
    master = topology.master_of(ref)
    return escape(master.name) if master is not None else "-"


def render_list(topology: Topology, style: Style, unread_hint: Optional[str] = None) -> str:
    """The pairs, then the unresolved ends. ``unread_hint`` ('1 namespace could be read; 3 could
    not (run as root)') replaces the claim that there are no pairs when much of the host was not
    looked at."""
    parts: List[str] = []
    if topology.pairs:
        rows = []
        for pair in topology.pairs:
            a, b = topology.link(pair.a), topology.link(pair.b)
            rows.append([
                _ns(topology, pair.a), escape(a.name), str(a.ifindex), _master(topology, pair.a),
                _ns(topology, pair.b), escape(b.name), str(b.ifindex), _master(topology, pair.b),
            ])
        parts.append(table(
            ["NETNS", "IFNAME", "IFINDEX", "MASTER", "PEER NETNS", "PEER IFNAME", "IFINDEX", "PEER MASTER"],
            rows, style, right=(2, 6), styles=(None, "accent", None, None, None, "accent", None, None)))
    elif unread_hint is not None:
        parts.append(style.warn(f"No pair could be proven: {unread_hint}."))
    elif not topology.unresolved:
        # A fresh host: say where to see what an answer looks like (the demo builds and removes a
        # throwaway picture; it is never run unasked, since it changes the host).
        parts.append("No veth pairs found. To see what an answer looks like: vethpeer demo "
                     "(builds a throwaway example in new namespaces, shows it, removes it).")
    else:
        parts.append("No veth pairs found.")
    if topology.unresolved:
        parts.append("")
        parts.append(style.warn(f"Unresolved ends ({len(topology.unresolved)}):"))
        parts.append(_unresolved_table(topology, topology.unresolved, style))
    namespaces = len(topology.namespaces)
    parts.append("")
    unread = sum(1 for ns in topology.namespaces if ns.error is not None)
    parts.append(style.dim(f"{len(topology.pairs)} pairs, {len(topology.unresolved)} unresolved, "
                           f"{namespaces} namespaces" + (f" ({unread} could not be read)" if unread else "")))
    return "\n".join(parts) + "\n"


def _unresolved_table(topology: Topology, items: Sequence[Unresolved], style: Style) -> str:
    rows = []
    for item in items:
        link = topology.link(item.link)
        peer = f"if{item.peer_ifindex}" if item.peer_ifindex is not None else "-"
        if item.link_netnsid is not None:
            peer += f" nsid {item.link_netnsid}"
        if item.peer_hint is not None:
            peer += f" ({escape(item.peer_hint.name)})"
        rows.append([_ns(topology, item.link), escape(link.name), str(link.ifindex), peer,
                     item.reason, escape(item.detail)])
    return table(["NETNS", "IFNAME", "IFINDEX", "PEER", "REASON", "DETAIL"], rows, style, right=(2,),
                 styles=(None, "accent", None, None, "warn", None))


def _link_row(topology: Topology, role: str, link: Link) -> List[str]:
    return [
        role, escape(topology.namespace(link.netns).label), escape(link.name), str(link.ifindex),
        link.kind or "-", link.state, _master(topology, link.ref),
        ", ".join(link.addresses) if link.addresses else "-",
    ]


def render_peer(topology: Topology, matches: Sequence[Match], style: Style) -> str:
    blocks = []
    headers = ["", "NETNS", "IFNAME", "IFINDEX", "KIND", "STATE", "MASTER", "ADDRESSES"]
    for ref, peer, unresolved in matches:
        link = topology.link(ref)
        rows = [_link_row(topology, "link", link)]
        extra = []
        if peer is not None:
            rows.append(_link_row(topology, "peer", topology.link(peer)))
        elif unresolved is not None:
            hint = unresolved.peer_hint
            if hint is not None:
                rows.append(["peer?", "(unreachable)", escape(hint.name), str(hint.ifindex),
                             hint.kind or "-", hint.state, "-", "-"])
            if unresolved.reason == "no-peer":
                extra.append(style.warn("no peer") + f": {escape(unresolved.detail)}")
            else:
                extra.append(style.warn(f"peer unresolved ({unresolved.reason})")
                             + f": {escape(unresolved.detail)}")
        styles = (None, None, "accent", None, None, None, None, None)
        blocks.append("\n".join([table(headers, rows, style, right=(3,), styles=styles), *extra]))
    return "\n\n".join(blocks) + "\n"


def _held_by(ns: Namespace, comms: Optional[Mapping[int, str]] = None) -> str:
    parts = []
    comms = comms or {}

    def who(pid: int, detail: str = "") -> str:
        comm = comms.get(pid)
        return f"{pid}{detail} ({escape(comm)})" if comm else f"{pid}{detail}"

    if ns.own:
        parts.append("vethpeer")
    if ns.names:
        parts.append("name " + ", ".join(escape(name) for name in ns.names))
    other_paths = [path for path in ns.paths if not any(path.endswith("/" + name) for name in ns.names)]
    if other_paths:
        parts.append("path " + ", ".join(escape(path) for path in other_paths))

    def holders(label: str, items: Sequence[str]) -> None:
        if items:
            shown = ", ".join(items[:_MAX_HOLDERS])
            more = f" (+{len(items) - _MAX_HOLDERS} more)" if len(items) > _MAX_HOLDERS else ""
            parts.append(f"{label} {shown}{more}")

    holders("pid" if len(ns.pids) == 1 else "pids", [who(pid) for pid in ns.pids])
    for kind in DETAILED:
        holders(kind.word, [who(h.pid, f"/{h.detail}") for h in ns.holders[kind.name]])
    return "; ".join(parts) if parts else "-"


def render_namespaces(topology: Topology, style: Style) -> str:
    rows = []
    for ns in topology.namespaces:
        links = str(ns.link_count) if ns.link_count is not None else "-"
        held = _held_by(ns, topology.comms)
        if ns.error is not None:
            held += f"  [{escape(ns.error)}]"
        owners = ", ".join(escape(owner_label(owner)) for owner in ns.owners) or "-"
        rows.append([escape(ns.label), "yes" if ns.root else "", str(ns.id.inode),
                     str(ns.cookie) if ns.cookie is not None else "-", links, owners, held])
    return table(["NETNS", "ROOT", "INODE", "COOKIE", "LINKS", "OWNERS", "HELD BY"], rows, style,
                 right=(2, 3, 4), styles=("accent", None, None, None, None, None, None)) + "\n"


def render_peer_matches(topology: Topology, matches: Sequence[Match], style: Style) -> str:
    """Many interfaces answer to one name (``eth0`` on a container host): one row per veth or
    netkit end, with whose namespace it is in and whose its peer is; what has no peer at all
    (physical devices, bridges) is summarised after the table instead of answered one by one."""
    rows = []
    others: List[str] = []
    for ref, peer, unresolved in matches:
        link = topology.link(ref)
        if peer is None and (unresolved.reason == "no-peer" if unresolved is not None
                             else link.kind not in PEER_KINDS):
            kind = link.kind or "physical or loopback"
            others.append(f"{_ns(topology, ref)} ({escape(kind)})")
            continue
        if peer is not None:
            peer_link = topology.link(peer)
            rows.append([_ns(topology, ref), escape(link.name), str(link.ifindex), _ns(topology, peer),
                         escape(peer_link.name), str(peer_link.ifindex), _master(topology, peer)])
        else:
            reason = unresolved.reason if unresolved is not None else "unresolved"
            hint = unresolved.peer_hint if unresolved is not None else None
            shown = f"({reason})" if hint is None else f"{escape(hint.name)}? ({reason})"
            rows.append([_ns(topology, ref), escape(link.name), str(link.ifindex), "-", shown, "-", "-"])
    parts = []
    if rows:
        parts.append(table(["NETNS", "IFNAME", "IFINDEX", "PEER NETNS", "PEER IFNAME", "IFINDEX", "PEER MASTER"],
                           rows, style, right=(2, 5), styles=(None, "accent", None, None, "accent", None, None)))
    if others:
        noun = "interface" if len(others) == 1 else "interfaces"
        parts.append(style.dim(f"{len(others)} more {noun} of that name with no peer: ") + ", ".join(others))
    return "\n".join(parts) + "\n"
