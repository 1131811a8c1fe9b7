"""``--format json``: the graph's namespaces, nodes and edges for other tools (version 1; fields are
only ever added). Names are exact, as in the other JSON outputs: undecodable bytes appear as
``\\udcNN`` escapes (U+DC80 + byte), control characters as ``\\u00NN``."""

from __future__ import annotations

import json
from typing import Any, Dict

from ...graph import Graph
from . import GraphFormat

VERSION = 1


def document(graph: Graph) -> Dict[str, Any]:
    return {
        "version": VERSION,
        "namespaces": [{"id": c.id, "label": c.label, "dev": c.netns.dev, "inode": c.netns.inode, "root": c.root}
                       for c in graph.clusters],
        "nodes": [{"id": n.id, "role": n.role, "name": n.name, "kind": n.kind, "namespace": n.cluster,
                   "ifindex": n.ref.ifindex if n.ref is not None else None, "physical": n.physical,
                   "detail": n.detail}
                  for n in graph.nodes],
        "edges": [{"source": e.source, "target": e.target, "kind": e.kind, "directed": e.directed}
                  for e in graph.edges],
    }


def render(graph: Graph) -> str:
    return json.dumps(document(graph)) + "\n"


FORMAT = GraphFormat("json", "nodes and edges as JSON (version 1)", render)
