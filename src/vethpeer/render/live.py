"""``vethpeer watch --live``: a table redrawn on every change (not written yet)."""

from __future__ import annotations

import argparse
from typing import Any


def run(args: argparse.Namespace, **options: Any) -> int:
    raise NotImplementedError("--live")
