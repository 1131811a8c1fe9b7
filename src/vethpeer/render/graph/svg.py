"""``--format svg``: the DOT picture drawn by Graphviz (needs the ``graphviz`` package)."""

from . import GraphFormat
from .graphviz import image

FORMAT = GraphFormat("svg", "an SVG picture, drawn by Graphviz's dot", image("svg"))
