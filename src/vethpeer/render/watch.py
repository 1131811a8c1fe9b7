"""Watch events as JSON lines (contract version 1) and as one human line each."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional, Tuple

from ..events import Event
from ..model import LinkRef, Namespace, Topology
from . import json as json_render
from .text import escape


def rfc3339(moment: float) -> str:
    """``2026-11-28T04:01:46.123456Z``."""
    whole = int(moment)
    micro = round((moment - whole) * 1_000_000)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micro:06d}Z"


class JsonLines:
    """Renders events; caches per Topology what ``list --json`` computes once per document."""

    def __init__(self) -> None:
        self._topology: Optional[Topology] = None
        self._ports = False
        self._netns: Dict[Any, Dict[str, Any]] = {}

    def _for(self, topology: Topology) -> Tuple[bool, Dict[Any, Dict[str, Any]]]:
        if topology is not self._topology:
            self._topology = topology
            self._ports = json_render.neutron_host(topology)
            self._netns = {}
        return self._ports, self._netns

    def _link(self, topology: Topology, ref: LinkRef) -> Dict[str, Any]:
        ports, cache = self._for(topology)
        return json_render.link_json(topology, ref, cache, ports)

    def render(self, event: Event) -> str:
        out: Dict[str, Any] = {"version": json_render.VERSION, "time": rfc3339(event.time), "event": event.kind}
        top = event.topology
        if event.kind == "state":
            out["of"] = event.of
        if top is not None:
            if event.a is not None and event.b is not None:
                out["a"] = self._link(top, event.a)
                out["b"] = self._link(top, event.b)
            if event.link is not None:
                out["link"] = self._link(top, event.link)
            if event.netns is not None:
                out["netns"] = json_render.netns_json(top.namespace(event.netns))
        if event.kind in ("end-unresolved", "end-vanished", "state") and event.reason is not None:
            out["reason"] = event.reason
            out["detail"] = event.detail
        if event.kind == "end-moved" and event.from_netns is not None:
            out["from"] = {"netns": json_render.netns_json(event.from_netns), "ifindex": event.from_ifindex}
            peer = top.peer_of(event.link) if top is not None and event.link is not None else None
            if top is not None and peer is not None:
                # The pair as it is now: to a consumer of `watch -n NS`, an end moved into NS
                # brings in a pair it has never seen.
                out["peer"] = self._link(top, peer)
        if event.kind in ("end-renamed", "master-renamed", "netns-changed"):
            out["old_name"] = event.old_name
        if event.kind == "netns-changed":
            out["old_label"] = event.old_label
        if event.kind == "master-changed":
            out["old_master"] = event.old_master
            out["new_master"] = event.new_master
        if event.kind == "warning":
            out["message"] = event.message
        return json.dumps(out) + "\n"


def _ns(ns: Namespace) -> str:
    return escape(ns.label)


def _end(topology: Topology, ref: LinkRef) -> str:
    link = topology.links.get(ref)
    name = escape(link.name) if link is not None else f"if{ref.ifindex}"
    return f"{name} ({_ns(topology.namespace(ref.netns))})"


def render_text(event: Event) -> str:
    """``HH:MM:SS.mmm  pair-appeared  ns-1 (qdhcp-...) ⇄ tap1 (root)``: names escaped."""
    local = time.localtime(event.time)
    stamp = time.strftime("%H:%M:%S", local) + f".{int(event.time * 1000) % 1000:03d}"
    top = event.topology
    kind = event.kind
    what = ""
    if top is not None:
        if event.a is not None and event.b is not None:
            what = f"{_end(top, event.a)} \u21c4 {_end(top, event.b)}"
        elif event.link is not None:
            what = _end(top, event.link)
        elif event.netns is not None and kind != "warning":
            what = _ns(top.namespace(event.netns))
        if kind == "state":
            kind = f"state {event.of}"
            if event.of == "unresolved":
                what += f": {escape(event.reason or '')}"
    if kind == "end-moved" and event.from_netns is not None:
        what += f" from {_ns(event.from_netns)} if{event.from_ifindex}"
    elif kind in ("end-renamed", "master-renamed"):
        what += f" was {escape(event.old_name or '')}"
    elif kind == "netns-changed":
        what += f" was {escape(event.old_label or '')}"
    elif kind == "master-changed":
        old = escape(event.old_master) if event.old_master is not None else "none"
        new = escape(event.new_master) if event.new_master is not None else "none"
        what += f" master was {old}, now {new}"
    elif kind == "end-vanished":
        what += f": was unresolved ({escape(event.reason or '')})"
    elif kind == "end-unresolved":
        what += f": {escape(event.reason or '')} ({escape(event.detail or '')})"
    elif kind == "warning":
        what = escape(event.message or "")
    elif kind == "synced":
        what = "initial state complete; watching"
    return f"{stamp}  {kind}  {what}".rstrip() + "\n"
