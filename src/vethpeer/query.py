"""Finding namespaces in a Topology by what people call them: owner selectors for ``--netns``.

Pure: works on a resolved Topology (live or loaded), so the CLI, the API and later commands share
one meaning for ``docker:web-1``, ``pod:default/nginx``, ``podman:NAME``, ``lxc:NAME`` and
``machine:NAME``. Paths, names under /run/netns and ``pid:N`` are resolved by the CLI against the
live host (they name files); selectors name owners and are matched here.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from .model import Namespace, NamespaceId, Owner, Topology, owner_label
from .owners import SELECTORS  # selector word -> owner kinds: each owner source declares its own

#: A container id prefix must be at least this long to count as one (docker ps shows 12).
MIN_ID_PREFIX = 3


class SelectorError(ValueError):
    """The selector names no namespace, or several: ``candidates`` lists them (labels)."""

    def __init__(self, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


def is_selector(spec: str) -> bool:
    """Whether ``spec`` has the form KIND:NAME with a known kind (and is not a path)."""
    kind, sep, _rest = spec.partition(":")
    return bool(sep) and "/" not in kind and kind in SELECTORS


def _matches(owner: Owner, wanted: str) -> Tuple[bool, bool]:
    """(exact, by id prefix) for one owner and the part after KIND:."""
    names = {owner.name}
    if owner.kind == "pod":
        namespace = owner.get("namespace")
        if namespace and "/" not in owner.name:
            names.add(f"{namespace}/{owner.name}")
    if owner.kind == "docker":
        names.add(owner.name.lstrip("/"))
    if "/" in owner.name and owner.get("project") and owner.get("instance"):
        names.add(owner.name.replace("/", "_", 1))  # an LXC manager's project: LXC's PROJECT_NAME
    exact = wanted in names or (owner.id is not None and wanted == owner.id)
    prefix = (not exact and owner.id is not None and len(wanted) >= MIN_ID_PREFIX
              and owner.id.startswith(wanted))
    return exact, prefix


def select(topology: Topology, spec: str, any_kind: bool = False) -> NamespaceId:
    """The one namespace ``spec`` (KIND:NAME, or a bare NAME with ``any_kind``) names. An exact
    name or id wins over id prefixes; several matches raise SelectorError with the candidates,
    none raises it with a hint."""
    if any_kind:
        wanted = spec
        kinds: Optional[Tuple[str, ...]] = tuple(sorted({kind for group in SELECTORS.values() for kind in group}))
    else:
        kind, _sep, wanted = spec.partition(":")
        kinds = SELECTORS.get(kind)
    if kinds is None or not wanted:
        raise SelectorError(f"{spec}: expected one of {', '.join(k + ':NAME' for k in SELECTORS)}")
    exact: Dict[NamespaceId, Namespace] = {}
    prefixed: Dict[NamespaceId, Namespace] = {}
    for ns in topology.namespaces:
        for owner in ns.owners:
            if owner.kind not in kinds:
                continue
            is_exact, is_prefix = _matches(owner, wanted)
            if is_exact:
                exact[ns.id] = ns
            elif is_prefix:
                prefixed[ns.id] = ns
    found = exact or prefixed
    if len(found) == 1:
        return next(iter(found))
    if not found:
        known = sorted({owner_label(o) for ns in topology.namespaces for o in ns.owners if o.kind in kinds})
        hint = f" (known: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''})" if known else ""
        raise SelectorError(f"{spec}: no namespace has that owner{hint}")
    labels = sorted(_describe(ns, kinds) for ns in found.values())
    raise SelectorError(f"{spec} is ambiguous: {len(labels)} namespaces match", labels)


def _describe(ns: Namespace, kinds: Sequence[str]) -> str:
    owners = [o for o in ns.owners if o.kind in kinds]
    shown = ", ".join(f"{owner_label(o)} ({o.id[:12]})" if o.id else owner_label(o) for o in owners)
    return f"{shown} in net:[{ns.id.inode}]"


def owner_summary(ns: Optional[Namespace]) -> str:
    """Every owner of a namespace in one line (for tables): ``docker: web-1, docker: web-1-side``."""
    if ns is None:
        return "-"
    if ns.root:
        hosted = [owner_label(o) for o in ns.owners]
        return "host" + (f" ({', '.join(hosted)})" if hosted else "")
    return ", ".join(owner_label(o) for o in ns.owners) or ns.label
