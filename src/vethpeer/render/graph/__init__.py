"""Graph output formats, one module each: a module here that defines ``FORMAT`` is a format.

A new format is one new file: ``FORMAT = GraphFormat("name", "help", render)``, with ``render``
taking a ``graph.Graph`` and returning text (``str``) or an image (``bytes``). Renderers are pure
except ``svg``/``png``, which hand the DOT text to Graphviz's ``dot`` program.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Dict, NamedTuple, Union

from ...graph import Graph


class GraphFormat(NamedTuple):
    name: str
    help: str
    render: Callable[[Graph], Union[str, bytes]]


class GraphvizMissing(Exception):
    """Graphviz's ``dot`` is not installed (Debian package ``graphviz``)."""


class GraphvizFailed(Exception):
    """``dot`` ran but did not produce the image; the message says why."""


def formats() -> Dict[str, GraphFormat]:
    """Every format, by name, in name order."""
    found: Dict[str, GraphFormat] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if isinstance(fmt, GraphFormat):
            found[fmt.name] = fmt
    return dict(sorted(found.items()))
