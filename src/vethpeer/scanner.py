"""The whole pipeline in one call: discover -> read -> name owners -> resolve (and optionally save)."""

from __future__ import annotations

import os
from typing import Callable, Collection, Dict, FrozenSet, List, Mapping, NamedTuple, Optional, Sequence

from . import discover, ovsdb, owners, reader, resolve
from . import snapshot as snapshot_io
from .host import ops
from .model import PROCESS_HOLDER_KINDS, NamespaceId, Topology
from .reader import Reading
from .snapshot import Snapshot

#: File descriptors left for everything that is not a namespace handle or a netlink socket
#: (Python itself, the setns thread's way home, pidfds, files being read).
FD_MARGIN = 24

#: Holders per kind and namespace named by their command (the tables show this many).
SHOWN_HOLDERS = 6


class Chosen(NamedTuple):
    """The part of a host a read reads: namespaces whole, and namespaces in part with the
    ifindexes asked for there (with what the whole ones point at, see ``reader.read``)."""

    whole: FrozenSet[int]
    parts: Mapping[int, FrozenSet[int]]


#: Given the discovery and the fds the reader may use, what to read; None: give up the read.
Chooser = Callable[[discover.Discovery, int], Optional[Chosen]]

#: What a Chooser returns to have the whole host read after all, as ``read_host`` reads it, from
#: the discovery it was given (not made twice: 0.3 s at 10,000 namespaces).
EVERYTHING = Chosen(frozenset(), {})


def read_host(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
              proc: str = "/proc", mount_namespaces: Optional[bool] = None, root: str = "/",
              tuning: reader.Tuning = reader.DEFAULT_TUNING, ovs_sockets: Optional[Sequence[str]] = None,
              only: Optional[Collection[NamespaceId]] = None, mountinfo: Optional[Callable[[], str]] = None) -> Reading:
    """Discover and read every namespace; the pairing questions are asked and answered.

    ``only``: read just these namespaces, and of the own and the root one what they point at
    (every namespace is still discovered, with all that holds it): a pair between them is proven
    as in a whole read, an end whose peer is elsewhere comes back unresolved, and nothing made
    meanwhile is looked for. Only what is asked about is whole. ``mountinfo``, with ``only``: our
    mount table read already (``host.early.EarlyRead.text``).

    The open-file limit is raised to the hard one while this runs and put back afterwards. Under a
    hard limit too low to hold a socket per namespace, namespaces are read in windows: slower,
    never less complete. ``tuning`` makes choices the reader otherwise makes itself (tests);
    ``ovs_sockets``: where ovsdb is asked instead of ``ovsdb.DEFAULT_SOCKETS``.
    """
    with ops.gc_paused():
        reading = _read_host(netns_paths, addresses, sockets, proc, mount_namespaces, root, tuning, ovs_sockets,
                             only, None, None if only is None else mountinfo)
    assert reading is not None
    return reading


def read_chosen(choose: Chooser, *, netns_paths: Sequence[str] = (), sockets: bool = False, proc: str = "/proc",
                root: str = "/", tuning: reader.Tuning = reader.DEFAULT_TUNING,
                mountinfo: Optional[Callable[[], str]] = None) -> Optional[Reading]:
    """Discover every namespace, let ``choose`` say what to read (it may ask the kernel itself,
    e.g. ``reader.sweep``), and read that as ``read_host(only=)`` reads its part; None when it
    gives up. ``EVERYTHING`` chosen, the whole host is read as ``read_host`` reads it. The own
    and root namespaces are read, in part unless chosen whole. ``mountinfo`` as
    for ``read_host``."""
    with ops.gc_paused():
        return _read_host(netns_paths, True, sockets, proc, None, root, tuning, None, None, choose, mountinfo)


def _read_host(netns_paths: Sequence[str], addresses: bool, sockets: bool, proc: str,
               mount_namespaces: Optional[bool], root: str, tuning: reader.Tuning,
               ovs_sockets: Optional[Sequence[str]], only: Optional[Collection[NamespaceId]],
               choose: Optional[Chooser], mountinfo: Optional[Callable[[], str]] = None) -> Optional[Reading]:
    limit = ops.FdLimit()
    try:
        room = max(16, limit.room(FD_MARGIN))
        # Handles kept from discovery spare reopening a namespace later; half the room at most, so
        # that the reader always has its share for sockets.
        netns_dirs = discover.netns_dirs(root)
        changes = discover.ChangeWatch(proc)
        try:
            found = discover.discover(proc=proc, extra_paths=netns_paths, sockets=sockets, keep_fds=room // 2,
                                      mount_namespaces=mount_namespaces, netns_dirs=netns_dirs,
                                      only=None if only is None else {netns.inode for netns in only},
                                      mountinfo=mountinfo)
        except BaseException:
            changes.close()
            raise

        def rediscover(heard: bool) -> Optional[discover.Discovery]:
            # Again only if a namespace can have been made since: named (the mount table
            # changed) or wired to us (an id was given). No fds kept: the reader reopens.
            if not (heard or changes.changed()):
                return None
            try:
                return discover.discover(proc=proc, extra_paths=netns_paths, sockets=sockets, keep_fds=0,
                                         mount_namespaces=mount_namespaces, netns_dirs=netns_dirs)
            except ValueError:
                if not netns_paths:
                    raise
                # A --netns path gone since (its container stopped): its namespace was read
                # already, and it must not cost the namespaces made meanwhile.
                return discover.discover(proc=proc, sockets=sockets, keep_fds=0,
                                         mount_namespaces=mount_namespaces, netns_dirs=netns_dirs)

        try:
            kept = sum(1 for ns in found.namespaces if ns.fd is not None)
            if choose is None and only is not None:
                choose = _only_chooser(only)
            chosen = None if choose is None else choose(found, room - kept)
            if choose is not None and chosen is None:
                return None
            if chosen is EVERYTHING:
                if mountinfo is not None and not _unchanged(proc, mountinfo):
                    return None  # a name made since that mount table was read: discovered again
                chosen = None
            wanted = found if chosen is None else _chosen(found, chosen)
            # The root and own namespaces, when not asked about, are read in part: what the
            # namespaces asked about point at there (a root namespace of 10,000 veths is otherwise
            # most of the read).
            partial: Mapping[int, Collection[int]] = {} if chosen is None else {
                **{inode: () for inode in (found.root_inode, found.own_inode)
                   if inode is not None and inode not in chosen.whole},
                **chosen.parts}
            reading = reader.read(wanted, addresses=addresses, room=room - kept, sockets_searched=sockets,
                                  rediscover=rediscover if chosen is None else None, tuning=tuning,
                                  hints=chosen is None, partial=partial)
            with owners.Host(root=root, proc=proc) as host:
                snapshot = with_owners(reading.snapshot, host)
            # A port that changes between the link dump and this question is left without a
            # bridge, never given a wrong one: ovsdb.ovs_ports checks its ifindex, not just its name.
            return reading._replace(snapshot=snapshot._replace(ovs=ovsdb.ovs_bridges(root, proc, ovs_sockets)))
        finally:
            found.close()
            changes.close()
    finally:
        limit.restore()


def _unchanged(proc: str, mountinfo: Callable[[], str]) -> bool:
    """Whether our mount table is still the one ``mountinfo`` read (before the watch for
    namespaces made meanwhile began, which a whole read's own reading follows)."""
    try:
        with open(os.path.join(proc, "self/mountinfo"), encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read() == mountinfo()
    except OSError:
        return False


def _only_chooser(only: Collection[NamespaceId]) -> Chooser:
    wanted = frozenset(netns.inode for netns in only)
    return lambda found, room: Chosen(wanted, {})


def _chosen(found: discover.Discovery, chosen: Chosen) -> discover.Discovery:
    """The part of a discovery to read: the namespaces chosen, the own one and the root one (the
    fds stay the whole discovery's, closed with it)."""
    inodes = {found.own_inode, found.root_inode, *chosen.whole, *chosen.parts}
    return found._replace(namespaces=tuple(item for item in found.namespaces if item.inode in inodes))


def with_owners(snapshot: Snapshot, host: owners.Host) -> Snapshot:
    """The snapshot with each namespace's owners, named from the host's local state."""
    namespaces = [record.namespace for record in snapshot.namespaces]
    shown: Dict[int, None] = {}  # the holders tables show (a few per kind and namespace)
    for ns in namespaces:
        for kind, holders in ns.holders.items():
            if kind in PROCESS_HOLDER_KINDS:
                for holder in holders[:SHOWN_HOLDERS]:
                    shown[holder if isinstance(holder, int) else holder.pid] = None
    found = owners.identify(namespaces, host)
    comms = [(pid, comm) for pid, comm in ((pid, owners.comm_of(pid, host)) for pid in shown) if comm is not None]
    return snapshot._replace(comms=tuple(comms), warnings=(*snapshot.warnings, *refused_warnings(host)),
                             namespaces=tuple(
        record.with_owners(found[record.inode]) if record.inode in found else record
        for record in snapshot.namespaces))


#: Refused state files named one by one in the warnings; more are counted.
SHOWN_REFUSED = 5


def refused_warnings(host: owners.Host) -> List[str]:
    """One warning per state file that was there but not read (a FIFO, a device, too big, a link
    out of a user's directory), the first few by name."""
    unique = list(dict.fromkeys(host.refused))
    out = [f"skipped {item.path}: {item.reason}" for item in unique[:SHOWN_REFUSED]]
    if len(unique) > SHOWN_REFUSED:
        out.append(f"skipped {len(unique) - SHOWN_REFUSED} more state files that could not be read safely")
    return out


def take_snapshot(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
                  proc: str = "/proc", mount_namespaces: Optional[bool] = None) -> Snapshot:
    return read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc,
                     mount_namespaces=mount_namespaces).snapshot


def scan(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
         proc: Optional[str] = None, save: Optional[str] = None, mount_namespaces: Optional[bool] = None,
         root: str = "/", tuning: reader.Tuning = reader.DEFAULT_TUNING,
         ovs_sockets: Optional[Sequence[str]] = None) -> Topology:
    with ops.gc_paused():
        reading = read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets,
                            proc=proc or os.path.join(root, "proc"), mount_namespaces=mount_namespaces, root=root,
                            tuning=tuning, ovs_sockets=ovs_sockets)
        if save is not None:
            with open(save, "w", encoding="utf-8") as handle:
                handle.write(snapshot_io.dumps(reading.snapshot))
        return resolve.resolve(reading.snapshot, reading.pairing)
