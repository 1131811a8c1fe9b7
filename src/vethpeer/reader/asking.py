"""Putting pairing's questions to the kernel: RTM_GETNSID on each asker's own socket.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..host.channel import PIPELINE, Channel, NetlinkTimeout
from ..host.netlink import LinkRecord
from ..model import PEER_KINDS
from ..resolve import Answer, FdQuestion, HintQuestion, Question, ViaQuestion
from ..snapshot import HintAnswer, NsidAnswer, ViaAnswer
from .dumps import Dumps
from .state import NsState


class Asking(Dumps):
    """Answers to a round of questions, each asked on its asker's socket (or vouched for by the hub)."""

    # -- asking ---------------------------------------------------------------------------------
    def answer_round(self, questions: List[Question]) -> List[Answer]:
        by_asker: Dict[int, List[Question]] = {}
        for question in questions:
            by_asker.setdefault(question.asker, []).append(question)
        askers = list(by_asker)
        hub = self.hub
        if hub is not None and hub.inode in by_asker:
            # The hub answers last: what it can vouch for rests on the other sides' answers.
            askers.remove(hub.inode)
            askers.append(hub.inode)
        # Where the fd limit is low, the askers of one round take turns at the channels.
        turn_size = max(1, (self.room - 2) // 2)
        out: List[Answer] = []
        for start in range(0, len(askers), turn_size):
            turn = [self.nss[inode] for inode in askers[start : start + turn_size] if inode in self.nss]
            self._ensure([ns for ns in turn if not ns.stuck], watch=False)
            for asker in askers[start : start + turn_size]:
                fd_questions = [q for q in by_asker[asker] if isinstance(q, FdQuestion)]
                if hub is not None and asker == hub.inode and fd_questions:
                    vouched = self._vouch_all(fd_questions)
                    out.extend(vouched)
                    done = {answer.target for answer in vouched}
                    fd_questions = [q for q in fd_questions if q.target not in done]
                if len(fd_questions) > 1:
                    out.extend(self._answer_fds(asker, fd_questions))
                else:
                    out.extend(self._answer(question) for question in fd_questions)
                out.extend(self._answer(q) for q in by_asker[asker] if not isinstance(q, FdQuestion))
        return out

    def _answer_fds(self, asker: int, questions: List[FdQuestion]) -> List[Answer]:
        """Many RTM_GETNSID(NETNSA_FD) on one socket, pipelined (a root namespace may be asked
        about every other one, to confirm each pair from its side)."""
        channel = self._channel(asker)
        nsids: List[Optional[int]] = [None] * len(questions)
        if channel is not None:
            for start in range(0, len(questions), PIPELINE):
                chunk = questions[start : start + PIPELINE]
                fds: List[int] = []
                owned: List[int] = []
                asked: List[int] = []
                for i, question in enumerate(chunk):
                    target = self.nss.get(question.target)
                    if target is None:
                        continue
                    try:
                        fd, mine = self._ns_fd(target)
                    except OSError:
                        continue
                    fds.append(fd)
                    asked.append(start + i)
                    if mine:
                        owned.append(fd)
                try:
                    for position, nsid in zip(asked, channel.nsids_of_fds(fds)):
                        nsids[position] = nsid
                except OSError as error:
                    self._stuck(asker, error)
                    break
                finally:
                    for fd in owned:
                        self.kernel.close_fd(fd)
        for question, nsid in zip(questions, nsids):
            if nsid is not None and nsid >= 0:
                self.given[(question.asker, question.target)] = nsid
        return [NsidAnswer(q.asker, q.target, nsid) for q, nsid in zip(questions, nsids)]

    def _vouch_all(self, questions: Sequence[FdQuestion]) -> List[NsidAnswer]:
        """Root's ids that its watch shows, without asking (each RTM_GETNSID on root walks root's
        whole id table: 10 ms per thousand namespaces, and quadratic in them).

        Root's end h reported its peer at (ifindex e, id X) when root was dumped. If, since then,
        root saw no change at h and heard nothing from (X, e) (a peer moving away is a
        notification at its old place, tagged with root's id for that namespace), and X was
        neither given nor taken back, then h's peer sat at (X, e) the whole time. A namespace M
        dumped after root, with an end at e whose peer the kernel places at root's h (M's own id
        for root, which M's socket confirmed), is where h's peer is: veth peers are mutual, so X
        names M."""
        hub = self.hub
        assert hub is not None
        channel = hub.channel
        if (channel is None or not hub.watching or not channel.listen_all or not self.proxied
                or hub.overflow or self.hub_lost >= hub.dumped or hub.error is not None):
            return []
        self._take_events(hub)
        if hub.overflow or self.hub_lost >= hub.dumped:
            return []
        changed = set(channel.nsid_changes or ())
        heard = {(event.nsid, event.link.ifindex) for tick, event in self.hub_events if tick >= hub.dumped}
        out: List[NsidAnswer] = []
        for question in questions:
            target = self.nss.get(question.target)
            if target is None:
                continue
            nsid = self._vouch(hub, target, changed, heard)
            if nsid is not None:
                self.given[(hub.inode, target.inode)] = nsid
                out.append(NsidAnswer(hub.inode, target.inode, nsid, watched=True))
        return out

    def _vouch(self, hub: NsState, target: NsState, changed: Set[int],
               heard: Set[Tuple[Optional[int], int]]) -> Optional[int]:
        back = self.given.get((target.inode, hub.inode))
        if back is None or target.error is not None or target.dumped <= hub.dumped:
            return None
        found: Optional[int] = None
        for link in target.links:
            if link.kind not in PEER_KINDS or link.link_netnsid != back:
                continue
            index = link.peer_index
            end = hub.by_index.get(index)
            if (end is None or end.kind not in PEER_KINDS or end.link_netnsid is None or end.link_netnsid < 0
                    or end.peer_index != link.ifindex or index in hub.taint
                    or target.dumped <= hub.tick_of(index)):
                continue
            nsid = end.link_netnsid
            if nsid in changed or (nsid, link.ifindex) in heard:
                continue
            if found is not None and found != nsid:
                return None  # two ends disagree: let the kernel say
            found = nsid
        return found

    def _channel(self, inode: int) -> Optional[Channel]:
        ns = self.nss.get(inode)
        if ns is None or ns.stuck:
            return None
        return ns.channel

    def _stuck(self, inode: int, error: OSError) -> None:
        if isinstance(error, NetlinkTimeout):
            ns = self.nss[inode]
            if not ns.stuck:
                ns.stuck = True
                self.warnings.append(f"namespace {self._label(ns)} stopped answering ({error.strerror}); "
                                     "its questions were skipped")

    def _answer(self, question: Question) -> Answer:
        channel = self._channel(question.asker)
        if isinstance(question, FdQuestion):
            nsid: Optional[int] = None
            target = self.nss.get(question.target)
            if channel is not None and target is not None:
                try:
                    fd, mine = self._ns_fd(target)
                except OSError:
                    fd, mine = -1, False
                if fd >= 0:
                    try:
                        nsid = channel.nsid_of_fd(fd)
                    except OSError as error:
                        self._stuck(question.asker, error)
                    finally:
                        if mine:
                            self.kernel.close_fd(fd)
            if nsid is not None and nsid >= 0:
                self.given[(question.asker, question.target)] = nsid
            return NsidAnswer(question.asker, question.target, nsid)
        if isinstance(question, ViaQuestion):
            via: Optional[int] = None
            if channel is not None:
                try:
                    via = channel.nsid_via(question.nsid, question.hub_nsid)
                except OSError as error:
                    self._stuck(question.asker, error)  # or EPERM without CAP_NET_ADMIN over the hub
            return ViaAnswer(question.asker, question.nsid, question.hub, via)
        assert isinstance(question, HintQuestion)
        link: Optional[LinkRecord] = None
        if channel is not None:
            try:
                link = channel.link_in(question.nsid, question.ifindex)
            except OSError as error:
                self._stuck(question.asker, error)
        return HintAnswer(question.asker, question.nsid, question.ifindex, link)
