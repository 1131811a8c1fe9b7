"""What pairing and relations ask the kernel, and the answers it gives. Pure.

Every question is put on ``asker``'s own netlink socket: only that namespace's table says what
its ids mean. The answers (``snapshot.NsidAnswer``, ``ViaAnswer``, ``HintAnswer``) are stored
in the snapshot as they came, so a saved snapshot replays the same reasoning.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple, Union

from ..snapshot import HintAnswer, NsidAnswer, ViaAnswer

EndKey = Tuple[int, int]  # (namespace inode, ifindex)


class FdQuestion(NamedTuple):
    """Ask ``asker``'s socket for its id of ``target`` (RTM_GETNSID, NETNSA_FD)."""

    asker: int
    target: int


class ViaQuestion(NamedTuple):
    """Ask ``asker``'s socket what id ``hub`` (our id ``hub_nsid``) gives our ``nsid``."""

    asker: int
    nsid: int
    hub: int
    hub_nsid: int


class HintQuestion(NamedTuple):
    """Ask ``asker``'s socket for link ``ifindex`` in its namespace ``nsid`` (IFLA_TARGET_NETNSID).

    Only planned where ``asker`` already has an id for the namespace the peer points back to, so
    the kernel's reply allocates no new id (it would for an unknown one).
    """

    asker: int
    nsid: int
    ifindex: int


Question = Union[FdQuestion, ViaQuestion, HintQuestion]
Answer = Union[NsidAnswer, ViaAnswer, HintAnswer]
