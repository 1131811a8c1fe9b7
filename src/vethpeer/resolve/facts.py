"""What each namespace's nsid table is known to hold: the facts pairing and relations share. Pure.

An nsid is a name *in one namespace's own table*. What that table maps an id to is learned only
from the kernel: RTM_GETNSID(NETNSA_FD=B) on A's socket, a hub's answer about A's id (once the
hub's own table names the namespace), or the other side of a proven pair. Both veth pairing
(``pairing.Pairing``) and lower/underlay relations (``relations.LowerEnds``) add to these facts
and read them; neither reaches into the other.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ..host.netlink import LinkRecord
from ..snapshot import NsidAnswer, ViaAnswer
from .questions import Answer, ViaQuestion


class NsidFacts:
    """Every nsid answer of one snapshot, and what follows from them."""

    def __init__(self, warnings: Optional[List[str]] = None) -> None:
        #: asker -> target namespace -> the asker's id for it, and the reverse.
        self.table: Dict[int, Dict[int, int]] = {}
        self.rev: Dict[int, Dict[int, int]] = {}
        #: What RTM_GETNSID(NETNSA_FD) answered, per (asker, target); None: no id (or no answer).
        self.fd_asked: Dict[Tuple[int, int], Optional[int]] = {}
        #: What each hub answered about an asker's id, per (asker, nsid, hub) and per (asker, nsid).
        self.via_asked: Dict[Tuple[int, int, int], Optional[int]] = {}
        self.via_by_end: Dict[Tuple[int, int], List[Tuple[int, Optional[int]]]] = {}
        self.hint_answers: Dict[Tuple[int, int, int], Optional[LinkRecord]] = {}
        #: Where contradictions are told (the pairing's own list).
        self.warnings: List[str] = [] if warnings is None else warnings

    def add(self, answer: Answer) -> None:
        """Take in the kernel's answer to one question."""
        if isinstance(answer, NsidAnswer):
            self.fd_asked[(answer.asker, answer.target)] = answer.nsid
            if answer.nsid is not None and answer.nsid >= 0:
                self.learn(answer.asker, answer.target, answer.nsid)
        elif isinstance(answer, ViaAnswer):
            self.via_asked[(answer.asker, answer.nsid, answer.hub)] = answer.answer
            self.via_by_end.setdefault((answer.asker, answer.nsid), []).append((answer.hub, answer.answer))
        else:
            self.hint_answers[(answer.asker, answer.nsid, answer.ifindex)] = answer.link

    def learn(self, asker: int, target: int, nsid: int) -> bool:
        """Record that ``asker``'s table maps ``nsid`` to ``target``; False if already known."""
        table = self.table.setdefault(asker, {})
        rev = self.rev.setdefault(asker, {})
        known = rev.get(nsid)
        if known is not None:
            if known != target:
                self.warnings.append(
                    f"inconsistent nsid answers in net:[{asker}] for id {nsid}: namespaces changed "
                    "during the scan")
            return False
        if target in table:
            return False
        table[target] = nsid
        rev[nsid] = target
        return True

    def named(self, asker: int, nsid: Optional[int]) -> Optional[int]:
        """The namespace ``asker``'s id ``nsid`` is known to name, if known."""
        if nsid is None:
            return None
        return self.rev.get(asker, {}).get(nsid)

    def ids(self, asker: int) -> Dict[int, int]:
        """What ``asker``'s table is known to hold: target namespace -> id (do not modify)."""
        return self.table.get(asker, {})

    def settle_hubs(self) -> bool:
        """Learn what hubs' answers now name (their own tables became known); True if anything."""
        changed = False
        rev = self.rev
        for (asker, nsid), answers in self.via_by_end.items():
            if nsid in rev.get(asker, {}):
                continue
            for hub, answer in answers:
                if answer is not None and answer >= 0:
                    target = rev.get(hub, {}).get(answer)
                    if target is not None and target != asker and self.learn(asker, target, nsid):
                        changed = True
        return changed

    def contradicts(self, asker: int, nsid: int, candidate: int) -> bool:
        """Whether ``asker``'s known table, or its own RTM_GETNSID answer, gives ``candidate`` an
        id other than ``nsid``."""
        known = self.table.get(asker, {}).get(candidate)
        if known is not None and known != nsid:
            return True
        asked = self.fd_asked.get((asker, candidate))
        return asked is not None and asked != nsid

    def rules_out(self, asker: int, nsid: int, candidate: int) -> bool:
        """Whether what is known rules ``candidate`` out as the namespace ``asker`` calls ``nsid``:
        asker's own facts, or a hub whose known id for ``candidate`` is not the one it gave."""
        if self.contradicts(asker, nsid, candidate):
            return True
        table = self.table
        for hub, answer in self.via_by_end.get((asker, nsid), ()):
            if answer is None:
                continue
            hub_id = table.get(hub, {}).get(candidate)
            if hub_id is not None and hub_id != answer:
                return True
        return False

    def hub(self, asker: int, nsid: int,
            useful: Callable[[int, Dict[int, int]], bool]) -> Optional[ViaQuestion]:
        """A hub to ask about ``asker``'s ``nsid``: a namespace asker knows its id for, not yet
        asked, whose known table is ``useful``. Hubs whose known tables are biggest (the root
        namespace, usually) come first; one is enough, since its answer names the target or
        rules out every candidate it knows."""
        table = self.table
        ours = table.get(asker, {})
        for hub, hub_nsid in sorted(ours.items(), key=lambda item: (-len(table.get(item[0], {})), item[0])):
            if (asker, nsid, hub) in self.via_asked:
                continue
            hub_table = table.get(hub)
            if hub_table and useful(hub, hub_table):
                return ViaQuestion(asker, nsid, hub, hub_nsid)
        return None

    def answers_about(self, asker: int, nsid: int) -> Iterable[Tuple[int, Optional[int]]]:
        """Every hub's answer about ``asker``'s ``nsid``: (hub, the hub's id for it or None)."""
        return self.via_by_end.get((asker, nsid), ())
