"""Recorded snapshots of kinds this test kernel cannot make, and the builders that write them
(``tests/data/<name>_build.py`` -> ``tests/data/<name>.snapshot.json``)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Tuple

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def path(name: str) -> str:
    return os.path.join(DATA, f"{name}.snapshot.json")


def recorded_and_built(name: str) -> Tuple[str, str]:
    """The recorded file's text and what its builder writes now (they must be equal)."""
    from vethpeer import snapshot

    sys.path.insert(0, DATA)
    try:
        builder = importlib.import_module(f"{name}_build")
    finally:
        sys.path.remove(DATA)
    with open(path(name), encoding="utf-8") as handle:
        return handle.read(), snapshot.dumps(builder.build())
