"""``vethpeer trace`` as text (one line per way out) and as JSON (version 1, fields only added)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ..edges import is_physical
from ..model import Link, Topology
from ..trace import Hop, Path, Trace
from .json import dumps, link_json
from .text import Style, escape

_UNICODE = {"peer": " \u21c4 ", "link": " \u2192 ", "fork": "  \u251c\u2192 ", "last": "  \u2514\u2192 "}
_ASCII = {"peer": " <-> ", "link": " -> ", "fork": "  |-> ", "last": "  `-> "}


def _arrows(encoding: Optional[str]) -> Dict[str, str]:
    try:
        "".join(_UNICODE.values()).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return _ASCII
    return _UNICODE


def _what(link: Link, physical: bool) -> str:
    if physical:
        return "physical"
    if link.tunnel is not None:
        tunnel = link.tunnel
        bits = [tunnel.kind] + ([f"vni {tunnel.vni}"] if tunnel.vni is not None else []) + (
            [f"remote {tunnel.remote}"] if tunnel.remote else [])
        return " ".join(bits)
    if link.kind in (None, "veth"):
        return ""
    if link.info:
        return f"{link.kind} {link.info_text}"
    return link.kind or ""


def _hop_text(topology: Topology, hop: Hop, previous: Optional[Hop], style: Style, arrows: Dict[str, str],
              physical: bool, arrow: bool = True) -> str:
    link = topology.link(hop.ref)
    notes = []
    if previous is None or previous.ref.netns != hop.ref.netns:
        notes.append(escape(topology.namespace(hop.ref.netns).label))
    what = _what(link, physical)
    if what:
        notes.append(escape(what))
    text = style.accent(escape(link.name)) + (f" ({', '.join(notes)})" if notes else "")
    if previous is None or not arrow:
        return text
    return (arrows["peer"] if hop.via == "peer" else arrows["link"]) + text


def _end_text(path: Path, trace: Trace, style: Style, arrows: Dict[str, str]) -> str:
    if path.end == "physical":
        return ""
    if path.end == "tunnel":
        return style.dim("  (leaves encapsulated; the route to the remote picks the device)")
    if path.end == "process":
        who = ", ".join(escape(h.vm) if h.vm else f"pid {h.pid}" + (f" ({escape(h.comm)})" if h.comm else "")
                        for h in path.holders)
        return style.dim(f"  (held by {who})")
    if path.end == "unresolved":
        problem = style.warn(f"? {path.step} unresolved ({path.reason})")
        return arrows["link"] + problem + f": {escape(path.detail or '')}"
    return " " + style.warn("(stays inside this host)") + style.dim(
        f"  {trace.reached} interfaces reached, none leaves the host")


def _line(topology: Topology, hops: Sequence[Hop], previous: Optional[Hop], style: Style,
          arrows: Dict[str, str], exit_physical: bool, arrow_first: bool = True) -> str:
    out = []
    for i, hop in enumerate(hops):
        last = i == len(hops) - 1
        out.append(_hop_text(topology, hop, previous, style, arrows, exit_physical and last, arrow_first or i > 0))
        previous = hop
    return "".join(out)


def render_text(topology: Topology, traces: Sequence[Trace], style: Style) -> str:
    arrows = _arrows(style.encoding)
    blocks = []
    for trace in traces:
        paths = trace.paths
        if len(paths) == 1:
            path = paths[0]
            blocks.append(_line(topology, path.hops, None, style, arrows, path.end == "physical")
                          + _end_text(path, trace, style, arrows))
            continue
        trunk = list(paths[0].hops)
        for path in paths[1:]:
            n = 0
            while n < min(len(trunk), len(path.hops)) and trunk[n] == path.hops[n]:
                n += 1
            trunk = trunk[:n]
        # The trunk never swallows a whole path: each fork shows at least its last hop.
        trunk = trunk[: min(len(p.hops) for p in paths) - 1] if trunk else trunk
        lines = [_line(topology, trunk, None, style, arrows, False) + style.dim(f"  ({len(paths)} ways out)")]
        for number, path in enumerate(paths):
            rest = path.hops[len(trunk):]
            text = _line(topology, rest, trunk[-1] if trunk else None, style, arrows, path.end == "physical",
                         arrow_first=False)
            prefix = arrows["last"] if number == len(paths) - 1 else arrows["fork"]
            lines.append(prefix + text + _end_text(path, trace, style, arrows))
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


def _hop_json(topology: Topology, hop: Hop, cache: Dict[Any, Dict[str, Any]], physical: bool) -> Dict[str, Any]:
    entry = link_json(topology, hop.ref, cache)
    entry["via"] = hop.via
    entry["physical"] = physical
    return entry


def trace_json(topology: Topology, trace: Trace, cache: Dict[Any, Dict[str, Any]]) -> Dict[str, Any]:
    paths: List[Dict[str, Any]] = []
    for path in trace.paths:
        hops = [_hop_json(topology, hop, cache, is_physical(topology.link(hop.ref))) for hop in path.hops]
        if path.end == "physical" and hops:
            hops[-1]["physical"] = True  # also a stand-in a caller's is_exit named
        paths.append({
            "end": path.end,
            "hops": hops,
            "unresolved": ({"step": path.step, "reason": path.reason, "detail": path.detail}
                           if path.end == "unresolved" else None),
            "holders": [{"pid": h.pid, "fd": h.fd, "comm": h.comm, "vm": h.vm} for h in path.holders],
        })
    return {"start": link_json(topology, trace.start, cache), "reached": trace.reached, "paths": paths}


def trace_document(topology: Topology, traces: Sequence[Trace]) -> Dict[str, Any]:
    cache: Dict[Any, Dict[str, Any]] = {}
    return {"version": 1, "traces": [trace_json(topology, trace, cache) for trace in traces],
            "warnings": list(topology.warnings)}


def render_json(topology: Topology, traces: Sequence[Trace]) -> str:
    return dumps(trace_document(topology, traces))
