"""Drawing DOT text with Graphviz's ``dot`` program, for the image formats (svg.py, png.py)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Callable

from ...graph import Graph
from . import GraphvizFailed, GraphvizMissing
from .dot import render as render_dot

PACKAGE = "graphviz"


def draw(dot_text: str, output: str) -> bytes:
    """``dot -T<output>`` on ``dot_text``; GraphvizMissing when ``dot`` is not on PATH."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(f"--format {output} needs Graphviz's 'dot' program "
                              f"(Debian/Ubuntu: apt install {PACKAGE}); --format dot prints the text it would draw")
    try:
        result = subprocess.run([program, f"-T{output}"], input=dot_text.encode("ascii"),
                                capture_output=True, check=False)
    except OSError as error:
        raise GraphvizFailed(f"cannot run {program}: {error.strerror}") from None
    if result.returncode != 0 or not result.stdout:
        problem = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizFailed(f"dot -T{output} failed: {problem[0] if problem else f'exit {result.returncode}'}")
    return result.stdout


def image(output: str) -> Callable[[Graph], bytes]:
    def render(graph: Graph) -> bytes:
        return draw(render_dot(graph), output)

    return render
