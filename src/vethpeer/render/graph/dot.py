"""Graphviz DOT: one cluster per namespace labelled with its owner; veth pairs undirected,
relations directed; what could not be proven drawn dashed and red, dangling off its end.

Every name goes through ``text.escape`` (control and undecodable bytes become ``\\xNN``), then is
made a DOT string: backslash and quote escaped, ``&`` and every non-ASCII character written as an
HTML entity, which Graphviz decodes in labels. The output is therefore ASCII whatever names hold.
Graphviz refuses a string of 16384 bytes or more (``dot`` fails): a label line longer than
``MAX_LINE`` characters is shortened with an ellipsis, the whole text going to the tooltip (SVG
shows it on hover), itself cut below Graphviz's limit; JSON keeps every name whole.
"""

from __future__ import annotations

import re
from typing import List

from ...graph import Graph, Node
from ...kinds import KINDS
from ..text import escape
from . import GraphFormat

_PLAIN = re.compile(r'[ !#-%\'-\[\]-~]*\Z')  # printable ASCII but for '"', '&' and '\\'


def quote(text: str) -> str:
    """``text`` (already escaped for humans) as a DOT double-quoted string, ASCII only."""
    if _PLAIN.match(text):
        return f'"{text}"'
    out: List[str] = ['"']
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "&":
            out.append("&amp;")
        elif ord(char) > 0x7E or ord(char) < 0x20:
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


#: Characters of one label line shown; a longer one ends in an ellipsis.
MAX_LINE = 120
#: Bytes of a tooltip string (Graphviz's lexer refuses 16384 and more; entities take up to 10
#: bytes a character).
MAX_TOOLTIP = 12000


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def label(*lines: str) -> str:
    """A label of several lines, each escaped; lines are joined with DOT's centred line break.
    A line longer than MAX_LINE is shortened with an ellipsis (see ``attributes``)."""
    body = "\\n".join(quote(_shorten(escape(line), MAX_LINE))[1:-1] for line in lines if line)
    return f'"{body}"'


def tooltip(*lines: str) -> str:
    """``, tooltip="..."`` with the whole text when a label line had to be shortened, else ""."""
    if all(len(escape(line)) <= MAX_LINE for line in lines if line):
        return ""
    return f", tooltip={_bounded(' '.join(escape(line) for line in lines if line))}"


def _bounded(text: str) -> str:
    """``text`` quoted, shortened with an ellipsis until the DOT string is under MAX_TOOLTIP bytes."""
    quoted = quote(text)
    while len(quoted) > MAX_TOOLTIP:
        text = _shorten(text, max(1, len(text) * MAX_TOOLTIP // len(quoted) - 1))
        quoted = quote(text)
    return quoted


#: How each kind is drawn (``kinds.Kind.shape``).
_SHAPES = {name: kind.shape for name, kind in KINDS.items() if kind.shape is not None}


def _node(node: Node) -> str:
    if node.role == "stub":
        return (f"{node.id} [label={label(node.name + '?', node.kind)}, shape=box, style=dashed, "
                f"color=red, fontcolor=red, tooltip={_bounded(escape(node.detail))}];")
    if node.role == "holder":
        return (f"{node.id} [label={label(node.name, node.kind, node.detail)}, shape=component"
                f"{tooltip(node.name, node.kind, node.detail)}];")
    kind = "physical" if node.physical else node.kind
    shape = "box3d, style=bold" if node.physical else _SHAPES.get(node.kind, "box")
    return (f"{node.id} [label={label(node.name, kind + ' ' + node.detail)}, shape={shape}"
            f"{tooltip(node.name, kind + ' ' + node.detail)}];")


_EDGE_STYLE = {
    "veth": "dir=none, penwidth=2",
    "master": "label=\"master\"",
    "lower": "label=\"lower\"",
    "underlay": "label=\"underlay\", color=blue",
    "tun": "label=\"tun\"",
    "unresolved": "style=dashed, color=red, arrowhead=none",
}


def render(graph: Graph) -> str:
    lines = ["digraph vethpeer {",
             '  graph [rankdir=LR, fontname="Helvetica", fontsize=11];',
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    by_cluster, loose = graph.by_cluster()
    for cluster in graph.clusters:
        lines.append(f"  subgraph cluster_{cluster.id} {{")
        shown = tooltip(cluster.label)
        lines.append(f"    label={label(cluster.label)}; style=rounded; color={'black' if cluster.root else 'gray50'};"
                     + (f" {shown[2:]};" if shown else ""))
        lines.extend(f"    {_node(node)}" for node in by_cluster.get(cluster.id, ()))
        lines.append("  }")
    lines.extend(f"  {_node(node)}" for node in loose)
    for edge in graph.edges:
        lines.append(f"  {edge.source} -> {edge.target} [{_EDGE_STYLE.get(edge.kind, '')}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMAT = GraphFormat("dot", "Graphviz DOT text", render)
