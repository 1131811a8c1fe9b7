"""``vethpeer show``: one interface and everything it is plugged into, as a block of text. Pure.

Every name goes through ``escape`` (names are the kernel's bytes, and may hold control bytes).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..model import Link, LinkRef, Relation, Topology, Unresolved, owner_label
from .text import Style, escape, printable_in

Match = Tuple[LinkRef, Optional[LinkRef], Optional[Unresolved]]


def _ref(topology: Topology, ref: LinkRef) -> str:
    link = topology.links.get(ref)
    ns = escape(topology.namespace(ref.netns).label)
    if link is None:
        return f"ifindex {ref.ifindex} in {ns}"
    kind = f", {link.kind}" if link.kind else ""
    return f"{escape(link.name)} (ifindex {ref.ifindex}{kind}) in {ns}"


def _unproven(relation: Relation, style: Style) -> str:
    return style.warn(f"unresolved ({relation.reason})") + f": {escape(relation.detail or '')}"


def _block(topology: Topology, match: Match, style: Style) -> str:
    ref, peer, unresolved = match
    link: Link = topology.link(ref)
    state = "up" if link.up else "down"
    lines = [style.accent(escape(link.name)) + f"  ifindex {ref.ifindex}, {link.kind or 'device'}, "
             f"{link.state} ({state}) in {escape(topology.namespace(ref.netns).label)}"]

    def row(what: str, text: str) -> None:
        lines.append(f"  {what:<10} {text}")

    if link.mac:
        row("mac", link.mac)
    if link.addresses:
        row("addresses", ", ".join(link.addresses))
    if peer is not None:
        row("peer", _ref(topology, peer))
    elif unresolved is not None and unresolved.reason != "no-peer":
        row("peer", style.warn(f"unresolved ({unresolved.reason})") + f": {escape(unresolved.detail)}")
    for relation in topology.relations_of(ref):
        if relation.source == ref:
            label = {"master": "master", "lower": "lower", "underlay": "underlay"}[relation.kind]
            row(label, _ref(topology, relation.target) if relation.target is not None
                else _unproven(relation, style))
        elif relation.kind == "master":
            row("port", _ref(topology, relation.source))
        else:
            row("upper", f"{_ref(topology, relation.source)} ({relation.kind})")
    if link.ovs_bridge is not None:
        row("ovs bridge", escape(link.ovs_bridge))
    if link.info:
        row(link.kind or "info", escape(link.info_text))
    if link.tunnel is not None:
        t = link.tunnel
        parts = [t.kind]
        for name, value in (("vni", t.vni), ("local", t.local), ("remote", t.remote), ("port", t.port)):
            if value is not None:
                parts.append(f"{name} {value}")
        row("tunnel", " ".join(parts))
    for holder in link.tun_holders:
        who = f"pid {holder.pid}" + (f" ({escape(holder.comm)})" if holder.comm else "") + f" fd {holder.fd}"
        if holder.vm:
            who += f", vm {escape(holder.vm)}"
        if holder.owners and holder.owners[0].kind != "process":
            who += f", {escape(owner_label(holder.owners[0]))}"
        row("held by", who)
    return "\n".join(lines)


def render_show(topology: Topology, matches: Sequence[Match], style: Style) -> str:
    if not matches:
        return ""
    blocks: List[str] = [_block(topology, match, style) for match in matches]
    return printable_in("\n\n".join(blocks) + "\n", style.encoding)
