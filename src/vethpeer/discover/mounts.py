"""Where names and bind mounts of namespaces are: netns directories and mountinfo. Pure parsers."""

from __future__ import annotations

import os
import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

DEFAULT_NETNS_DIRS = ("/run/netns", "/var/run/netns")


def netns_dirs(root: str = "/") -> Tuple[str, ...]:
    """The directories `ip netns` names live in, under ``root`` and resolved inside it: a link
    in the tree (``/var/run -> /run``) means the same place inside the root, never outside it."""
    if os.path.normpath(root) == "/":
        return DEFAULT_NETNS_DIRS
    from ..host import safefile

    found = (safefile.real_path(root, directory) for directory in DEFAULT_NETNS_DIRS)
    return tuple(dict.fromkeys(path for path in found if path is not None))


#: Other mount namespaces' mountinfo read by default only up to this many bytes (about 20 ms).
MOUNTINFO_BYTES_AUTO = 600_000


# A mountinfo line of a network namespace's nsfs mount: "ID PARENT MAJ:MIN net:[INODE] PATH ... - nsfs".
_NSFS_NET_LINE = re.compile(rb"^\d+ \d+ \d+:\d+ net:\[(\d+)\] [^\n]*? - nsfs ", re.MULTILINE)


def parse_netns_link(target: str) -> Optional[int]:
    """The inode in a ``net:[4026531840]`` link target, None for anything else."""
    if target.startswith("net:[") and target.endswith("]"):
        try:
            return int(target[5:-1])
        except ValueError:
            return None
    return None


def unescape_mount_path(field: str) -> str:
    r"""mountinfo writes space, tab, newline and backslash in mount points as \040 \011 \012 \134."""
    if "\\" not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and all(c in "01234567" for c in field[i + 1 : i + 4]):
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


class NsfsMount(NamedTuple):
    inode: int
    path: str
    #: Another mount hides it: one stacked on it, or one mounted later on a directory above it.
    covered: bool


def parse_nsfs_mounts(text: str) -> List[NsfsMount]:
    """Every network-namespace bind mount in a mountinfo text, with whether its path shows it."""
    mounts: List[Tuple[int, int, str, Optional[int]]] = []  # (id, parent id, path, netns inode)
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 10:
            continue
        try:
            separator = fields.index("-", 6)
            mount_id, parent_id = int(fields[0]), int(fields[1])
        except ValueError:
            continue
        inode = parse_netns_link(fields[3]) if fields[separator + 1] == "nsfs" else None
        mounts.append((mount_id, parent_id, unescape_mount_path(fields[4]), inode))
    found: List[NsfsMount] = []
    if not any(inode is not None for *_, inode in mounts):
        return found
    by_id = {mount_id: parent_id for mount_id, parent_id, _, _ in mounts}
    by_path: Dict[str, List[Tuple[int, int]]] = {}
    for mount_id, parent_id, path, _ in mounts:
        by_path.setdefault(path, []).append((mount_id, parent_id))
    chains: Dict[int, Set[int]] = {}

    def chain_of(mount: int) -> Set[int]:
        """The mounts a path walk passes through on its way into ``mount`` (itself included)."""
        known = chains.get(mount)
        if known is None:
            # (a parent mountinfo does not list, outside a chroot, is no mount we can judge by)
            known, parent = ({mount} if mount in by_id else set()), by_id.get(mount)
            while parent is not None and parent in by_id and parent not in known:
                known.add(parent)
                parent = by_id.get(parent)
            chains[mount] = known
        return known

    # Another mount hides one when it sits on a mount of its chain, at or above its path. Only the
    # path's own ancestors are looked up, and what is above a directory is worked out once per
    # (directory, parent mount): thousands of /run/netns mounts stay linear.
    above: Dict[Tuple[str, int], bool] = {}
    for mount_id, parent_id, path, inode in mounts:
        if inode is None:
            continue
        directory = path.rpartition("/")[0] or "/"  # os.path.dirname, without its call overhead
        key = (directory, parent_id)
        covered_above = above.get(key)
        if covered_above is None:
            parents = chain_of(parent_id)
            covered_above = directory != path and any(
                other_parent in parents and other_id not in parents
                for upper in _ancestors(directory) for other_id, other_parent in by_path.get(upper, ()))
            above[key] = covered_above
        same_path = by_path[path]
        # (alone at its path, nothing stacked on it: the usual /run/netns entry needs no chain)
        covered = covered_above or (len(same_path) > 1 and any(
            other_parent in chain and other_id not in chain
            for chain in (chain_of(mount_id),) for other_id, other_parent in same_path))
        found.append(NsfsMount(inode, path, covered))
    return found


def _ancestors(path: str) -> Iterable[str]:
    """``path`` and every directory above it, up to "/"."""
    while True:
        yield path
        if path in ("/", ""):
            return
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def parse_mountinfo(text: str) -> List[Tuple[int, str]]:
    """(inode, mount point) of every network-namespace bind mount that its path shows."""
    seen: Set[str] = set()
    shown = []
    for mount in parse_nsfs_mounts(text):
        if not mount.covered and mount.path not in seen:
            seen.add(mount.path)
            shown.append((mount.inode, mount.path))
    return shown
