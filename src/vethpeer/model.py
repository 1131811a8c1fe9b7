"""The public result types: small immutable records, and the Topology that holds them.

Pure data. Links refer to each other by key (``LinkRef``: namespace id + ifindex), never by object,
so there are no cycles and equality is cheap. Nothing here does I/O.
"""

from __future__ import annotations

from operator import attrgetter
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
)

from . import kinds
from .holding import DETAILED, HOLDERS


class Owner(NamedTuple):
    """Who a namespace belongs to, and the evidence that says so (found by ``vethpeer.owners``)."""

    #: "docker", "pod", "podman", "containerd", "lxc", "lxd", "incus", "machine", "libvirt-lxc",
    #: "neutron", "mininet", "process".
    kind: str
    #: What a person calls it: the container or machine name, ``namespace/pod`` for a pod,
    #: ``pid 81234 (nginx)`` for a process. Not escaped: renderers do that.
    name: str
    #: The runtime's id (container id, pod uid, machine id, network/router uuid, pid), if any.
    id: Optional[str]
    #: More, as (key, value) pairs in a stable order: compose project/service, pod namespace and
    #: containers, the pod a Podman container is in, ...
    extra: Tuple[Tuple[str, str], ...]
    #: The evidence, e.g. ``config.v2.json SandboxKey``, ``cgroup /docker/<id>``, ``netns name``.
    how: str
    #: How a person reads it, ``docker: web-1``, ``pod default/nginx-7d9``: the name behind the
    #: prefix its source declares (``owners.SOURCES``' LABELS), filled in when it is found or
    #: loaded. Empty: the name alone.
    label: str = ""

    def get(self, key: str) -> Optional[str]:
        for k, value in self.extra:
            if k == key:
                return value
        return None


class NamespaceId(NamedTuple):
    """A namespace's identity during one scan: (st_dev, st_ino) of its nsfs file.

    Inode numbers are reused as soon as a namespace dies, so an id is only meaningful within the
    scan that produced it; ``Namespace.cookie`` is the 64-bit id that is never reused.
    """

    dev: int
    inode: int


class LinkRef(NamedTuple):
    """A link's key: the namespace it is in and its ifindex there (unique within it)."""

    netns: NamespaceId
    ifindex: int


class Holder(NamedTuple):
    """A process that holds a namespace: ``detail`` is the tid (threads) or the fd number."""

    pid: int
    detail: int


#: The ways a namespace is held (``holding.HOLDERS``' rows), in the order ``Namespace.label``
#: looks for a name. Each kind's holders are a tuple: of ``str`` (names, paths), of ``int``
#: (pids), of ``Holder`` (the kinds with a detail).
HOLDER_KINDS: Tuple[str, ...] = tuple(kind.name for kind in HOLDERS)

#: Holder kinds that are process ids or ``Holder``s (the rest are names and paths).
PROCESS_HOLDER_KINDS: Tuple[str, ...] = tuple(kind.name for kind in HOLDERS if kind.process)
_KIND_SET = frozenset(HOLDER_KINDS)
#: Kinds held by a process otherwise than by its main thread (``Namespace.holder_pids``).
_HOLDER_PID_KINDS = frozenset(kind.name for kind in DETAILED)


class Holders(Dict[str, Tuple[Any, ...]]):
    """What holds a namespace: kind (one of ``HOLDER_KINDS``) -> tuple of holders.

    Immutable and hashable. Every known kind can be read (an empty tuple when nothing holds it so);
    iteration and ``in`` see only the kinds that hold it, in ``HOLDER_KINDS`` order. A new way of
    holding a namespace is a new kind here, and every phase (discovery, the snapshot file, its
    range checks, the owners, the tables and JSON) carries it without a field of its own.

    A dict underneath: every label, table row and owner source reads it, and a dict's reads are
    the interpreter's own (a Mapping's were a Python call each, a few percent of a whole scan).
    """

    __slots__ = ("_hash",)

    def __init__(self, kinds: Optional[Mapping[str, Sequence[Any]]] = None, **more: Sequence[Any]) -> None:
        merged = {**kinds, **more} if kinds else more
        for kind in merged:
            if kind not in _KIND_SET:
                unknown = sorted(set(merged) - _KIND_SET)
                raise TypeError(f"unknown holder kinds: {', '.join(unknown)}")
        super().__init__((kind, tuple(merged[kind])) for kind in HOLDER_KINDS if merged.get(kind))
        self._hash: Optional[int] = None

    @classmethod
    def of_items(cls, items: Iterable[Tuple[str, Tuple[Any, ...]]]) -> Holders:
        """Holders from (kind, tuple) items already in ``HOLDER_KINDS`` order, none empty: the
        constructor's checks left out, for discovery's thousands of records (unchecked)."""
        holders = dict.__new__(cls)
        dict.__init__(holders, items)
        holders._hash = None
        return holders

    def __missing__(self, kind: str) -> Tuple[Any, ...]:
        if kind in _KIND_SET:
            return ()
        raise KeyError(kind)

    def __hash__(self) -> int:  # type: ignore[override]
        if self._hash is None:
            self._hash = hash(tuple(self.items()))
        return self._hash

    def _immutable(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError("Holders are immutable: use replace()")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _immutable

    def __repr__(self) -> str:
        return "Holders(" + ", ".join(f"{kind}={items!r}" for kind, items in self.items()) + ")"

    def __reduce__(self) -> Any:
        return (Holders, (dict(self),))

    def replace(self, **kinds: Sequence[Any]) -> Holders:
        """These holders with the given kinds set anew."""
        return Holders(dict(self), **kinds)

    def pids(self) -> Tuple[int, ...]:
        """Every process holding the namespace in any way, each once, in kind order."""
        return tuple(dict.fromkeys(
            item if isinstance(item, int) else item.pid
            for kind, items in self.items() if kind in PROCESS_HOLDER_KINDS for item in items))


class Namespace(NamedTuple):
    """A network namespace and everything found holding it: one record, from discovery (which
    finds it and its holders) through the snapshot file and the owners to the Topology."""

    id: NamespaceId
    #: NS_GET_ID / SO_NETNS_COOKIE, unique for the boot; None where the kernel does not tell.
    cookie: Optional[int]
    #: What holds it, by kind (``HOLDER_KINDS``); also readable one kind at a time below
    #: (``names``, ``paths``, ``pids``, ``threads``, ``fds``, ``sockets``, ``tuns``, ``rings``).
    holders: Holders
    #: The command name of the first pid, when nothing better names the namespace.
    comm: Optional[str] = None
    #: The namespace of PID 1 (see ``Topology.root_source`` for how it was identified).
    root: bool = False
    #: The namespace vethpeer itself runs in.
    own: bool = False
    #: Why the namespace could not be read (its links are then unknown), or None.
    error: Optional[str] = None
    #: How many links it has; None when it could not be read (or before it was).
    link_count: Optional[int] = None
    #: Whose namespace it is (a container, a pod, a machine, a router, a process), best first.
    owners: Tuple[Owner, ...] = ()
    #: The uid owning the user namespace that owns it (0: the initial one's): who could have made
    #: it, so whose word may name it. None where the kernel does not say: then only root's does.
    userns_uid: Optional[int] = None

    @property
    def inode(self) -> int:
        return self.id.inode  # (replaced below by a C getter of the same)

    @property
    def names(self) -> Tuple[str, ...]:
        """Names under /run/netns (or /var/run/netns), as `ip netns` knows them."""
        return self.holders.get("names", ())

    @property
    def paths(self) -> Tuple[str, ...]:
        """Every path the namespace is bind-mounted at (the /run/netns ones included)."""
        return self.holders.get("paths", ())

    @property
    def pids(self) -> Tuple[int, ...]:
        """Processes whose main thread is in the namespace."""
        return self.holders.get("pids", ())

    @property
    def threads(self) -> Tuple[Holder, ...]:
        """Threads in the namespace while their process's main thread is elsewhere (or has exited)."""
        return self.holders.get("threads", ())

    @property
    def fds(self) -> Tuple[Holder, ...]:
        """Open file descriptors referring to the namespace. ``pid`` is the id whose /proc/ID/fd
        shows it: a thread's id for a thread with an fd table of its own (unshare(CLONE_FILES)),
        or for a process whose main thread has exited."""
        return self.holders.get("fds", ())

    @property
    def sockets(self) -> Tuple[Holder, ...]:
        """Sockets that live in the namespace but are held by a process outside it."""
        return self.holders.get("sockets", ())

    @property
    def tuns(self) -> Tuple[Holder, ...]:
        """Open tun/tap files that belong to it, held by a process outside it (``detail``: the fd)."""
        return self.holders.get("tuns", ())

    @property
    def rings(self) -> Tuple[Holder, ...]:
        """io_uring rings holding it as a registered file (``detail``: the ring's fd). Such a file
        cannot be had without using the ring: a namespace held only so cannot be read."""
        return self.holders.get("rings", ())

    @property
    def holder_pids(self) -> Tuple[int, ...]:
        """Processes holding it otherwise than by their main thread: a thread, an fd, a socket, a
        tun file, a ring."""
        return tuple(dict.fromkeys(holder.pid for kind, holders in self.holders.items() if kind in _HOLDER_PID_KINDS
                                   for holder in holders))

    @property
    def name(self) -> Optional[str]:
        """The /run/netns name, if any (the first one, when there are several)."""
        return self.names[0] if self.names else None

    @property
    def label(self) -> str:
        """A short human name: ``root``, its best owner (``docker: web-1``, ``pod default/web``,
        ``qdhcp-<network>``), the netns name, a bind-mount path, or who holds it."""
        if self.root:
            return "root"
        # A /run/netns name is how people know a namespace: only a runtime's owner reads better;
        # the process fallback (whatever runs in it, e.g. under `ip netns exec`) does not.
        held = self.holders
        names = held.get("names")
        if self.owners and not (names and self.owners[0].kind == "process"):
            return owner_label(self.owners[0])
        if names:
            return str(names[0])
        paths = held.get("paths")
        if paths:
            return str(paths[0])
        pids = held.get("pids")
        if pids:
            return f"pid {pids[0]} ({self.comm})" if self.comm else f"pid {pids[0]}"
        for kind in DETAILED:
            holders = held.get(kind.name)
            if holders:
                first = holders[0]
                return f"pid {first.pid} {kind.held_by} {first.detail}"
        return f"net:[{self.id.inode}]"


# Read for every namespace in every phase: a C getter instead of a Python frame (same value).
setattr(Namespace, "inode", property(attrgetter("id.inode")))  # noqa: B010 (the type checker keeps the method)


class Link(NamedTuple):
    """One network interface, as the kernel reported it in its own namespace."""

    ref: LinkRef
    #: The exact name; bytes that are not UTF-8 are kept as surrogate escapes (U+DC80 + byte).
    name: str
    #: IFLA_INFO_KIND ("veth", "bridge", "netkit", ...); None for devices without one (physical, lo).
    kind: Optional[str]
    #: IFLA_INFO_SLAVE_KIND ("bridge" for a bridge port), or None.
    slave_kind: Optional[str]
    mac: Optional[str]
    mtu: int
    #: Operational state as iproute2 prints it: UP, DOWN, LOWERLAYERDOWN, UNKNOWN, ...
    state: str
    #: Administratively up (IFF_UP).
    up: bool
    #: ifindex of the master device (a bridge, a bond) in the same namespace, or None.
    master: Optional[int]
    #: IFLA_LINK as reported: the peer's ifindex for a veth, the lower device for macvlan/vxlan.
    link: Optional[int]
    #: IFLA_LINK_NETNSID: where ``link`` lives, as an id *relative to this link's namespace*.
    link_netnsid: Optional[int]
    alt_names: Tuple[str, ...]
    #: "address/prefixlen", IPv4 then IPv6, in the kernel's order.
    addresses: Tuple[str, ...]
    #: A tunnel's parameters (``kinds.TUNNEL_KINDS``: vxlan, geneve, gre, ...; None for other kinds).
    tunnel: Optional[Tunnel] = None
    #: For a tun/tap device: the processes holding it open (``iff:`` in /proc/PID/fdinfo/FD).
    tun_holders: Tuple[TunHolder, ...] = ()
    #: For a port whose master is ``ovs-system``: the Open vSwitch bridge ovsdb puts it on, when
    #: ovsdb's socket could be read (None otherwise).
    ovs_bridge: Optional[str] = None
    #: What its kind shows about it beyond a tunnel's parameters (``kinds.Kind.describe``):
    #: (name, value) pairs, such as an ipvlan's mode and flags. Empty for most kinds.
    info: Tuple[Tuple[str, Any], ...] = ()

    @property
    def ifindex(self) -> int:
        return self.ref.ifindex

    @property
    def info_text(self) -> str:
        """``info`` as one phrase ("mode l3s flags private"); empty when there is none."""
        return " ".join(f"{name} {value}" for name, value in self.info)

    @property
    def netns(self) -> NamespaceId:
        return self.ref.netns


class Tunnel(NamedTuple):
    """A tunnel's parameters, from its kind's IFLA_INFO_DATA (``kinds``); None where it has none."""

    kind: str
    #: VNI.
    vni: Optional[int]
    local: Optional[str]
    #: The remote address, or the multicast group.
    remote: Optional[str]
    #: UDP destination port.
    port: Optional[int]


class TunHolder(NamedTuple):
    """A process holding a tun/tap device open."""

    pid: int
    fd: int
    comm: Optional[str]
    #: The VM's name for qemu (``-name guest=NAME`` or ``-name NAME``), else None.
    vm: Optional[str]
    #: Who owns the process (the owners work), best first; may be empty.
    owners: Tuple[Owner, ...] = ()


#: Relation kinds, directed from ``source`` to ``target``.
RELATION_KINDS = {
    "master": "source is a port of target (bridge, bond, team, VRF, ovs-system)",
    "lower": "source (macvlan, macvtap, ipvlan, vlan) sits on target",
    "underlay": "source (a tunnel: vxlan, gre, ...) sends its packets through target",
}


#: Why a relation's target is not known (``Relation.reason``). Stable strings: scripts may test them.
RELATION_REASONS = {
    "gone": "the kernel reports no lower device (IFLA_LINK is 0)",
    "missing": "the namespace that should hold the target has no interface at its ifindex",
    "nsid-unassigned": "the target's namespace has no id here (it is going away)",
    "netns-unreachable": "the target's namespace is not among the namespaces that could be read",
    "unproven": "namespaces hold the ifindex but the kernel confirmed none of them",
}


class Relation(NamedTuple):
    """A directed relation between two interfaces, proven from kernel evidence (never a name).

    ``target`` None: not proven; ``reason`` (an Unresolved-style code) and ``detail`` say why.
    """

    kind: str
    source: LinkRef
    target: Optional[LinkRef]
    reason: Optional[str] = None
    detail: Optional[str] = None


class PeerHint(NamedTuple):
    """What the kernel still told about a peer whose namespace could not be reached."""

    ifindex: int
    name: str
    kind: Optional[str]
    mac: Optional[str]
    mtu: int
    state: str


class Pair(NamedTuple):
    """Two ends of one veth (or netkit) pair; each proven to be the other's peer."""

    a: LinkRef
    b: LinkRef


class Unresolved(NamedTuple):
    """A veth/netkit end whose peer could not be proven, with the reason."""

    link: LinkRef
    #: One of the ``REASONS`` codes.
    reason: str
    #: A sentence for humans saying what was seen.
    detail: str
    #: The peer's ifindex as the kernel reported it (IFLA_LINK), in the peer's namespace.
    peer_ifindex: Optional[int]
    #: The peer namespace's id as seen from this link's namespace (IFLA_LINK_NETNSID).
    link_netnsid: Optional[int]
    peer_hint: Optional[PeerHint]


#: Why a peer is not known. Stable strings: scripts may test for them.
REASONS = {
    "no-peer": "this kind of interface has no peer",
    "peer-gone": "the kernel reports no peer (the pair is being torn down)",
    "nsid-unassigned": "the peer's namespace has no id here (it is going away)",
    "peer-netns-unreachable": "the peer's namespace is not among the namespaces that could be read",
    "peer-missing": "the peer's namespace is known but holds no matching interface",
    "unproven": "candidates were found but the kernel could not confirm any",
    "changing": "the end or its peer changed every time it was read during the scan",
}

#: Kinds that come in pairs (IFLA_LINK is the peer), and kinds that are tunnels (``Link.tunnel``):
#: both from the kind table, ``vethpeer.kinds``.
PEER_KINDS = kinds.PEER_KINDS
TUNNEL_KINDS = kinds.TUNNEL_KINDS


class Topology:
    """The result of a scan: namespaces, links, proven pairs, unresolved ends, and warnings.

    Treat it as read-only. Lookups go by ``LinkRef`` / ``NamespaceId``.
    """

    __slots__ = (
        "_ns_by_id",
        "_peer",
        "_relations_by_ref",
        "_unresolved_by_ref",
        "comms",
        "links",
        "namespaces",
        "pairs",
        "relations",
        "root_source",
        "unresolved",
        "warnings",
    )

    def __init__(
        self,
        namespaces: Tuple[Namespace, ...],
        links: Mapping[LinkRef, Link],
        pairs: Tuple[Pair, ...],
        unresolved: Tuple[Unresolved, ...],
        warnings: Tuple[str, ...],
        root_source: str,
        comms: Optional[Mapping[int, str]] = None,
        relations: Tuple[Relation, ...] = (),
    ) -> None:
        self.namespaces = namespaces
        #: Master, lower and underlay relations (veth peers are ``pairs``), sorted.
        self.relations = relations
        #: The command name of each holder process shown (pid -> comm), as read during the scan.
        self.comms: Mapping[int, str] = comms or {}
        self.links = links
        self.pairs = pairs
        self.unresolved = unresolved
        self.warnings = warnings
        #: How the root namespace was identified: "pid 1", "kthreadd", "init inode" (the kernel's fixed
        #: inode for it), or "unknown" (then no namespace is marked root).
        self.root_source = root_source
        self._ns_by_id: Dict[NamespaceId, Namespace] = {ns.id: ns for ns in namespaces}
        self._peer: Dict[LinkRef, LinkRef] = {}
        for pair in pairs:
            self._peer[pair.a] = pair.b
            self._peer[pair.b] = pair.a
        self._unresolved_by_ref = {item.link: item for item in unresolved}
        by_ref: Dict[LinkRef, List[Relation]] = {}
        for relation in relations:
            by_ref.setdefault(relation.source, []).append(relation)
            if relation.target is not None and relation.target != relation.source:
                by_ref.setdefault(relation.target, []).append(relation)
        self._relations_by_ref: Dict[LinkRef, Tuple[Relation, ...]] = {
            ref: tuple(items) for ref, items in by_ref.items()}

    def namespace(self, netns: NamespaceId) -> Namespace:
        return self._ns_by_id[netns]

    def link(self, ref: LinkRef) -> Link:
        return self.links[ref]

    def peer_of(self, ref: LinkRef) -> Optional[LinkRef]:
        """The proven peer of a link, or None (see ``unresolved_of`` for why)."""
        return self._peer.get(ref)

    def unresolved_of(self, ref: LinkRef) -> Optional[Unresolved]:
        return self._unresolved_by_ref.get(ref)

    def master_of(self, ref: LinkRef) -> Optional[Link]:
        master = self.links[ref].master
        if master is None:
            return None
        return self.links.get(LinkRef(ref.netns, master))

    def relations_of(self, ref: LinkRef) -> Sequence[Relation]:
        """Every relation ``ref`` is in, as source or as target, in ``relations`` order."""
        return self._relations_by_ref.get(ref, ())

    def ports_of(self, ref: LinkRef) -> List[LinkRef]:
        """The links whose proven master is ``ref`` (a bridge's, bond's, ``ovs-system``'s ports)."""
        return [r.source for r in self._relations_by_ref.get(ref, ()) if r.kind == "master" and r.target == ref]

    def lower_of(self, ref: LinkRef) -> Optional[LinkRef]:
        """The proven device ``ref`` sits on (macvlan/ipvlan/vlan lower, a tunnel's underlay), or None."""
        for r in self._relations_by_ref.get(ref, ()):
            if r.source == ref and r.kind in ("lower", "underlay"):
                return r.target
        return None

    def uppers_of(self, ref: LinkRef) -> List[LinkRef]:
        """The devices proven to sit on ``ref`` (macvlans, vlans on it; tunnels using it as underlay)."""
        return [r.source for r in self._relations_by_ref.get(ref, ())
                if r.kind in ("lower", "underlay") and r.target == ref]

    @property
    def root(self) -> Optional[Namespace]:
        for ns in self.namespaces:
            if ns.root:
                return ns
        return None

    def links_in(self, netns: NamespaceId) -> List[Link]:
        return sorted((link for ref, link in self.links.items() if ref.netns == netns),
                      key=lambda link: link.ref.ifindex)

    def find(self, name: str, netns: Optional[NamespaceId] = None) -> List[Link]:
        """Links called ``name`` (or with it as an alternative name), in one namespace or all."""
        found = [
            link for link in self.links.values()
            if (netns is None or link.ref.netns == netns) and (link.name == name or name in link.alt_names)
        ]
        found.sort(key=lambda link: (namespace_sort_key(self.namespace(link.ref.netns)), link.ref.ifindex))
        return found

    def __repr__(self) -> str:
        return (f"<Topology namespaces={len(self.namespaces)} links={len(self.links)} "
                f"pairs={len(self.pairs)} unresolved={len(self.unresolved)}>")


def owner_label(owner: Owner) -> str:
    """``docker: web-1``, ``pod default/nginx-7d9``, ``qdhcp-<network>``, ``pid 81234 (nginx)``."""
    return owner.label or owner.name


def namespace_sort_key(ns: Namespace) -> Tuple[int, str, int]:
    """Root first, then named namespaces by name, then the rest by label; inode breaks ties."""
    if ns.root:
        return (0, "", ns.id.inode)
    return (1 if "names" in ns.holders else 2, ns.label, ns.id.inode)
