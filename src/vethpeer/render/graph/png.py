"""``--format png``: the DOT picture drawn by Graphviz (needs the ``graphviz`` package)."""

from . import GraphFormat
from .graphviz import image

FORMAT = GraphFormat("png", "a PNG picture, drawn by Graphviz's dot", image("png"))
