"""docs/architecture.md stays the project's true map: every path it names exists, and every
module and room under src/vethpeer/ is named in it."""

from __future__ import annotations

import glob
import os
import re
from typing import Set

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAP = os.path.join(ROOT, "docs", "architecture.md")
PACKAGE = os.path.join(ROOT, "src", "vethpeer")


def _named() -> Set[str]:
    with open(MAP, encoding="utf-8") as handle:
        return set(re.findall(r"`([^`\s]+)`", handle.read()))


def test_every_path_the_map_names_exists() -> None:
    missing = []
    for name in _named():
        if name.startswith(("src/", "tests/", "docs/", "bench/")) and not glob.glob(
                os.path.join(ROOT, name.rstrip("/"))):
            missing.append(name)
    assert not missing, f"docs/architecture.md names paths that do not exist: {sorted(missing)}"


def test_every_room_and_module_is_on_the_map() -> None:
    named = _named()
    names = {os.path.basename(name.rstrip("/")) for name in named} | named
    absent = []
    for entry in sorted(os.listdir(PACKAGE)):
        path = os.path.join(PACKAGE, entry)
        if os.path.isdir(path) and entry != "__pycache__":
            if f"{entry}/" not in named:
                absent.append(f"{entry}/")
            absent.extend(f"{entry}/{module}" for module in sorted(os.listdir(path))
                          if module.endswith(".py") and module != "__init__.py" and module not in names
                          and f"{entry}/{module}" not in named)
        elif entry.endswith(".py") and entry not in names:
            absent.append(entry)
    assert not absent, f"docs/architecture.md does not name: {absent}"
