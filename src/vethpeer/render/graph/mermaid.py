"""Mermaid flowchart: one subgraph per namespace, veth pairs ``---``, relations ``-->|kind|``,
unproven ends dotted off their interface.

Node and subgraph ids are generated (``l_...``, ``ns_...``: never a reserved word such as ``end``,
never starting with ``o`` or ``x``, which Mermaid would read as an edge head). Labels are quoted, and
every character outside a small safe set is written as a Mermaid entity code (``#35;``), so quotes,
``#``, ``<``, backticks, backslashes and non-ASCII text cannot break out of a label. Names go
through ``text.escape`` first (control and undecodable bytes become ``\\xNN``). ASCII output.
A label line longer than ``MAX_LINE`` characters ends in an ellipsis: Mermaid refuses a diagram
over 50000 characters (its ``maxTextSize``), and an entity takes up to 10 of them a character.
"""

from __future__ import annotations

import re

from ...graph import Graph, Node
from ..text import escape
from . import GraphFormat

_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.,:/@()+=-")
_ALL_SAFE = re.compile(r"[A-Za-z0-9 _.,:/@()+=\-]*\Z")


def text(value: str) -> str:
    """``value`` (already escaped for humans) made safe inside a quoted Mermaid label."""
    if _ALL_SAFE.match(value):
        return value
    return "".join(char if char in _SAFE_CHARS else f"#{ord(char)};" for char in value)


#: Characters of one label line shown, as in DOT.
MAX_LINE = 120


def _shorten(value: str) -> str:
    return value if len(value) <= MAX_LINE else value[: MAX_LINE - 1] + "\u2026"


def label(*lines: str) -> str:
    return '"' + "<br/>".join(text(_shorten(escape(line))) for line in lines if line) + '"'


def _node(node: Node) -> str:
    if node.role == "stub":
        return f"{node.id}([{label(node.name + '?', node.kind)}])"
    if node.role == "holder":
        return f"{node.id}[[{label(node.name, node.kind)}]]"
    if node.physical:
        return f"{node.id}{{{{{label(node.name, 'physical ' + node.detail)}}}}}"
    return f"{node.id}[{label(node.name, node.kind + ' ' + node.detail)}]"


_ARROWS = {"veth": "---", "master": "-->|master|", "lower": "-->|lower|", "underlay": "-->|underlay|",
           "tun": "-->|tun|", "unresolved": "-.-"}


def render(graph: Graph) -> str:
    lines = ["flowchart LR"]
    members, loose = graph.by_cluster()
    for cluster in graph.clusters:
        lines.append(f"  subgraph {cluster.id} [{label(cluster.label)}]")
        lines.extend(f"    {_node(node)}" for node in members.get(cluster.id, ()))
        lines.append("  end")
    lines.extend(f"  {_node(node)}" for node in loose)
    for edge in graph.edges:
        lines.append(f"  {edge.source} {_ARROWS.get(edge.kind, '---')} {edge.target}")
    stubs = [node.id for node in graph.nodes if node.role == "stub"]
    if stubs:
        lines.append("  classDef unproven stroke:#c00,stroke-dasharray:4 3,color:#c00")
        lines.append(f"  class {','.join(stubs)} unproven")
    return "\n".join(lines) + "\n"


FORMAT = GraphFormat("mermaid", "Mermaid flowchart text", render)
