"""The ways a network namespace is held: one row per holder kind, in ``HOLDERS``.

The order is the one ``Namespace.label`` looks for a name in, and the one every output lists
them in. Each phase takes what it needs from the row: the model (``Holders`` and a label's words),
the snapshot file (which kinds every file has), the tables and the JSON (their words and keys),
and discovery (whether the kind's own path reopens the namespace, what to say when it is the
only way in). A new way of holding a namespace is a row here and a holder source in
``discover/`` (its row in ``discover.SOURCES``) that finds it.
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple


class HolderKind(NamedTuple):
    #: The key in ``Holders``, the snapshot file and the JSON.
    name: str
    #: Held by a process: its pid (``pids``) or a ``Holder(pid, detail)`` (the kinds with a detail).
    process: bool
    #: What ``Holder.detail`` is, as the JSON keys it ("tid", "fd"); None: names, paths, pids.
    detail: Optional[str] = None
    #: The namespaces table's word for one: ``thread 812/813``, ``socket 812/4``.
    word: str = ""
    #: How a label names the detail: ``pid 812 tid 813``, ``pid 812 socket fd 4``.
    held_by: str = ""
    #: Discovery: how it leads into the namespace. "path": by a path of its own, again later (a
    #: name, a thread's ns link, an fd's /proc path); "copy": only through a copy of the holder's
    #: fd, kept open while the fd budget allows; "none": not at all without using the holder.
    reach: str = "path"
    #: Discovery: what one is, when it is the only way in ("a tun/tap file").
    what: str = ""
    #: The snapshot file: "always" (every file has it), "written" (written always, absent from
    #: files older than it), "held" (written only when held: files stay byte for byte as before).
    snapshot: str = "always"


HOLDERS: Tuple[HolderKind, ...] = (
    HolderKind("names", False, what="a name under /run/netns"),
    HolderKind("paths", False, what="a bind mount"),
    HolderKind("pids", True, what="a process"),
    HolderKind("threads", True, "tid", "thread", "tid", what="a thread"),
    HolderKind("fds", True, "fd", "fd", "fd", what="an open namespace file"),
    HolderKind("sockets", True, "fd", "socket", "socket fd", reach="copy", what="a socket"),
    HolderKind("tuns", True, "fd", "tun", "tun fd", reach="copy", what="a tun/tap file", snapshot="written"),
    HolderKind("rings", True, "fd", "io_uring", "io_uring fd", reach="none", what="an io_uring registered file",
               snapshot="held"),
)

#: The kinds whose holders are ``Holder(pid, detail)``, in order.
DETAILED: Tuple[HolderKind, ...] = tuple(kind for kind in HOLDERS if kind.detail is not None)
#: Each row by its name.
KIND_OF: Dict[str, HolderKind] = {kind.name: kind for kind in HOLDERS}
