"""Output formats, one row each of ``FORMATS``: what every command's answer looks like.

The builders return documents (``json.*_document``: dicts) or text (``table``, ``show``,
``trace``); a row puts them in the form a user asked for, and the CLI only picks the row
(``--json``: "json", else "text"). A new format is a row here. ``graph`` has its own table of
formats (``render.graph``: dot, mermaid, json, svg, png), which ``--json`` picks json from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, NamedTuple, Optional, Sequence

from ..model import Topology
from . import json as json_render
from . import show as show_render
from . import table as table_render
from .table import Match
from .text import Style

if TYPE_CHECKING:  # (trace and watch are imported only by the commands that need them)
    from ..events import Event
    from ..trace import Trace


class Format(NamedTuple):
    """How each command's answer is written."""

    name: str
    #: ``list``: the pairs and the unresolved ends; the hint replaces "no pairs" when much of the
    #: host could not be read.
    list: Callable[[Topology, Style, Optional[str]], str]
    peer: Callable[[Topology, Sequence[Match], Style], str]
    show: Callable[[Topology, Sequence[Match], Style], str]
    namespaces: Callable[[Topology, Style], str]
    trace: Callable[[Topology, Sequence[Trace], Style], str]
    #: ``watch``: a writer for one stream of events (JSON lines keep state between events).
    watch: Callable[[], Callable[[Event], str]]


def _peer_text(topology: Topology, matches: Sequence[Match], style: Style) -> str:
    if len(matches) > 1:
        # eth0 on a container host: one row per match, not a table each.
        return table_render.render_peer_matches(topology, matches, style)
    return table_render.render_peer(topology, matches, style) if matches else ""


def _trace_text(topology: Topology, traces: Sequence[Trace], style: Style) -> str:
    from . import trace as trace_render

    return trace_render.render_text(topology, traces, style) if traces else ""


def _trace_json(topology: Topology, traces: Sequence[Trace], _style: Style) -> str:
    from . import trace as trace_render

    return json_render.dumps(trace_render.trace_document(topology, traces))


def _watch_text() -> Callable[[Event], str]:
    from . import watch as watch_render

    return watch_render.render_text


def _watch_json() -> Callable[[Event], str]:
    from . import watch as watch_render

    return watch_render.JsonLines().render


TEXT = Format(
    "text",
    list=lambda topology, style, hint: table_render.render_list(topology, style, unread_hint=hint),
    peer=_peer_text,
    show=show_render.render_show,
    namespaces=table_render.render_namespaces,
    trace=_trace_text,
    watch=_watch_text,
)

JSON = Format(
    "json",
    list=lambda topology, _style, _hint: json_render.dumps(json_render.list_document(topology)),
    peer=lambda topology, matches, _style: json_render.dumps(json_render.peer_document(topology, matches)),
    show=lambda topology, matches, _style: json_render.dumps(json_render.peer_document(topology, matches)),
    namespaces=lambda topology, _style: json_render.dumps(json_render.namespaces_document(topology)),
    trace=_trace_json,
    watch=_watch_json,
)

#: Format name -> row.
FORMATS: Dict[str, Format] = {row.name: row for row in (TEXT, JSON)}
