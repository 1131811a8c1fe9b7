"""What one scan read, before any interpretation: per-namespace records plus the nsid answers.

A Snapshot is the boundary between the read phase (``reader``, syscalls) and the resolve phase
(``resolve``, pure). It can be saved to JSON and loaded back, so a user's bug report becomes a test
fixture and everything after the read phase can be tested without a kernel.
"""

from __future__ import annotations

import json
import os
import stat
from operator import attrgetter
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from .holding import DETAILED, HOLDERS
from .host.kernel import TunFile
from .host.netlink import AddressRecord, LinkRecord
from .kinds import BYTES, FIELDS, MAXIMUM, in_order
from .model import HOLDER_KINDS, Holder, Holders, Namespace, NamespaceId, Owner
from .ovsdb import OvsInterface, OvsView
from .owners import LABEL_PREFIXES, labelled

SNAPSHOT_VERSION = 1


class NamespaceRecord(NamedTuple):
    """What the read found in one namespace: the namespace (``model.Namespace``, as discovery found
    it, with what reading it learned: cookie, error, link count; owners once named) and its links."""

    namespace: Namespace
    #: Empty and meaningless when ``namespace.error`` says it could not be read.
    links: Tuple[LinkRecord, ...]
    addresses: Tuple[AddressRecord, ...] = ()

    @property
    def inode(self) -> int:
        return self.namespace.id.inode  # (replaced below by a C getter of the same)

    def with_owners(self, owners: Tuple[Owner, ...]) -> NamespaceRecord:
        return self._replace(namespace=self.namespace._replace(owners=owners))


# Read for every namespace in every phase: a C getter instead of a Python frame (same value).
setattr(NamespaceRecord, "inode", property(attrgetter("namespace.id.inode")))  # noqa: B010 (the type checker keeps the method)


class NsidAnswer(NamedTuple):
    """RTM_GETNSID(NETNSA_FD) sent on ``asker``'s socket about ``target``: the id, -1 for none,
    None when the query failed.

    ``watched``: not asked but shown by the root namespace's watch (``reader``, "the hub"): a root
    end whose peer the kernel reported at (id, ifindex) in root's table, with nothing heard from
    there since, is the peer of an end in ``target`` that the kernel proved points back at it;
    so root's id names ``target``. Saved as a fourth element "watched"."""

    asker: int
    target: int
    nsid: Optional[int]
    watched: bool = False


class ViaAnswer(NamedTuple):
    """RTM_GETNSID(NETNSA_NSID=nsid, NETNSA_TARGET_NSID=id of hub) on ``asker``'s socket: the id
    that ``hub`` gives the namespace ``asker`` calls ``nsid`` (-1 none, None failed)."""

    asker: int
    nsid: int
    hub: int
    answer: Optional[int]


class HintAnswer(NamedTuple):
    """RTM_GETLINK of ``ifindex`` in the namespace that ``asker`` calls ``nsid`` (None: failed)."""

    asker: int
    nsid: int
    ifindex: int
    link: Optional[LinkRecord]


class Snapshot(NamedTuple):
    namespaces: Tuple[NamespaceRecord, ...]
    nsid_answers: Tuple[NsidAnswer, ...]
    via_answers: Tuple[ViaAnswer, ...]
    hints: Tuple[HintAnswer, ...]
    root_source: str
    warnings: Tuple[str, ...]
    #: Ends (namespace inode, ifindex) seen changing every time they were read: never paired.
    changing: Tuple[Tuple[int, int], ...] = ()
    #: Whether other processes' sockets were looked inside for namespaces (``--sockets``).
    sockets_searched: bool = True
    #: (pid, command name) of the holder processes tables show.
    comms: Tuple[Tuple[int, str], ...] = ()
    #: Every open tun/tap file found attached to a device.
    tun_files: Tuple[TunFile, ...] = ()
    #: What ovsdb said about Open vSwitch bridges (None: not asked, as in snapshots before it).
    ovs: Optional[OvsView] = None


# --- JSON form -----------------------------------------------------------------------------------
# Byte strings (names, MACs, addresses) are stored as hex so that every byte survives.


def _hex(value: Optional[bytes]) -> Optional[str]:
    return None if value is None else value.hex()


def _link_to_json(link: LinkRecord) -> List[Any]:
    out = [link.ifindex, link.name.hex(), link.flags, link.kind, link.slave_kind, _hex(link.mac),
           link.mtu, link.operstate, link.master, link.link, link.link_netnsid,
           [name.hex() for name in link.alt_names]]
    # A kind's data fields go by name in a 13th element, present only when one is set: saved
    # snapshots stay loadable, and a new kind's fields break nothing.
    if link.data:
        out.append({field: value.hex() if isinstance(value, bytes) else value for field, value in link.data})
    return out


def _int(value: Any, what: str) -> int:
    if type(value) is not int:  # bool is an int subclass: refused too
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    return value


def _opt_int(value: Any, what: str) -> Optional[int]:
    return None if value is None else _int(value, what)


def _opt_str(value: Any, what: str) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what}: expected a string, got {value!r}")
    return value


def _strs(value: Any, what: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what}: expected a list of strings")
    return tuple(value)


def _bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected hex text, got {value!r}")
    return bytes.fromhex(value)


def _holders(value: Any, what: str) -> Tuple[Holder, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{what}: expected a list")
    return tuple(Holder(_int(h[0], what), _int(h[1], what)) for h in value)


def _owner_from_json(raw: Any) -> Owner:
    if not isinstance(raw, dict):
        raise ValueError("owner: expected an object")
    extra = raw.get("extra", [])
    if not isinstance(extra, list) or not all(
            isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e) for e in extra):
        raise ValueError("owner extra: expected [key, value] string pairs")
    kind, name, how = raw.get("kind"), raw.get("name"), raw.get("how", "")
    if not isinstance(kind, str) or not isinstance(name, str) or not isinstance(how, str):
        raise ValueError("owner: kind, name and how must be strings")
    # The label is not stored: the owner sources of the reading version say how a kind reads.
    owner = Owner(kind, name, _opt_str(raw.get("id"), "owner id"), tuple((k, v) for k, v in extra), how)
    return labelled(owner, LABEL_PREFIXES)


def _link_data(raw: Any) -> Tuple[Tuple[str, Any], ...]:
    if not isinstance(raw, dict):
        raise ValueError("link: the 13th field must be an object")
    out = {}
    for field, value in raw.items():
        how = FIELDS.get(field)
        if how is None or value is None:  # fields this version does not know are skipped
            continue
        out[field] = _bytes(value, field) if how == BYTES else _int(value, field)
    return in_order(out)


def _link_from_json(raw: List[Any]) -> LinkRecord:
    if not isinstance(raw, list) or len(raw) not in (12, 13):
        raise ValueError("link: expected a list of 12 fields (and an object of named ones)")
    return LinkRecord(
        _int(raw[0], "ifindex"), _bytes(raw[1], "name"), _int(raw[2], "flags"), _opt_str(raw[3], "kind"),
        _opt_str(raw[4], "slave kind"), None if raw[5] is None else _bytes(raw[5], "mac"), _int(raw[6], "mtu"),
        _int(raw[7], "operstate"), _opt_int(raw[8], "master"), _opt_int(raw[9], "link"),
        _opt_int(raw[10], "link_netnsid"), tuple(_bytes(name, "alt name") for name in raw[11]),
        _link_data(raw[12]) if len(raw) == 13 else (),
    )


def _ovs_to_json(view: OvsView) -> Dict[str, Any]:
    return {"interfaces": [list(item) for item in view.interfaces],
            "datapath_types": [list(item) for item in view.datapath_types], "socket": view.socket,
            "vswitchd_pid": view.vswitchd_pid, "netns": None if view.netns is None else list(view.netns),
            "warning": view.warning}


def _ovs_from_json(raw: Any) -> Optional[OvsView]:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("ovs: expected an object")
    interfaces = []
    for item in raw.get("interfaces", []):
        if not isinstance(item, list) or len(item) != 5:
            raise ValueError("ovs interface: expected a list of 5 fields")
        if not all(isinstance(value, str) for value in item[:4]):
            raise ValueError("ovs interface: name, bridge, port and type must be strings")
        interfaces.append(OvsInterface(item[0], item[1], item[2], item[3], _opt_int(item[4], "ovs ifindex")))
    datapaths = []
    for item in raw.get("datapath_types", []):
        pair = _strs(item, "ovs datapath type")
        if len(pair) != 2:
            raise ValueError("ovs datapath type: expected [bridge, type]")
        datapaths.append((pair[0], pair[1]))
    netns = raw.get("netns")
    if netns is not None and (not isinstance(netns, list) or len(netns) != 2):
        raise ValueError("ovs netns: expected [dev, inode]")
    return OvsView(tuple(interfaces), tuple(datapaths), _opt_str(raw.get("socket"), "ovs socket"),
                   _opt_int(raw.get("vswitchd_pid"), "ovs pid"),
                   None if netns is None else (_int(netns[0], "ovs netns dev"), _int(netns[1], "ovs netns inode")),
                   _opt_str(raw.get("warning"), "ovs warning"))


#: Holder kinds written even when empty, as files before the others were added had them; the
#: others (added later in version 1) are written after the rest, and only when held.
_ALWAYS_WRITTEN = frozenset(kind.name for kind in HOLDERS if kind.snapshot != "held")
_WHEN_HELD = tuple(kind.name for kind in HOLDERS if kind.snapshot == "held")
#: Holder kinds every file has; the others are absent from files made before them.
_REQUIRED = frozenset(kind.name for kind in HOLDERS if kind.snapshot == "always")


def _holder_to_json(item: Any) -> Any:
    return list(item) if isinstance(item, Holder) else item


def _namespace_to_json(record: NamespaceRecord) -> Dict[str, Any]:
    ns = record.namespace
    holders = {kind: [_holder_to_json(item) for item in ns.holders[kind]] for kind in HOLDER_KINDS
               if kind in _ALWAYS_WRITTEN}
    later = {kind: [_holder_to_json(item) for item in ns.holders[kind]] for kind in _WHEN_HELD if kind in ns.holders}
    return {
        "dev": ns.id.dev, "inode": ns.id.inode, "cookie": ns.cookie, **holders, "comm": ns.comm,
        "root": ns.root, "own": ns.own, "error": ns.error,
        "links": [_link_to_json(link) for link in record.links],
        "addresses": [[a.ifindex, a.family, a.prefixlen, a.address.hex()] for a in record.addresses],
        "owners": [{"kind": o.kind, "name": o.name, "id": o.id, "extra": [list(e) for e in o.extra],
                    "how": o.how} for o in ns.owners],
        # Added later in version 1, and only when known: older files stay byte for byte.
        **({} if ns.userns_uid is None else {"userns_uid": ns.userns_uid}),
        **later,
    }


def _namespace_from_json(ns: Dict[str, Any]) -> NamespaceRecord:
    holders: Dict[str, Tuple[Any, ...]] = {
        "names": _strs(ns["names"], "names"), "paths": _strs(ns["paths"], "paths"),
        "pids": tuple(_int(pid, "pid") for pid in ns["pids"])}
    for kind in DETAILED:
        holders[kind.name] = _holders(ns[kind.name] if kind.name in _REQUIRED else ns.get(kind.name, []), kind.name)
    namespace = Namespace(
        id=NamespaceId(_int(ns["dev"], "dev"), _int(ns["inode"], "inode")), cookie=_opt_int(ns["cookie"], "cookie"),
        holders=Holders(holders), comm=_opt_str(ns["comm"], "comm"),
        root=ns["root"] is True, own=ns["own"] is True, error=_opt_str(ns["error"], "error"),
        # Added later in version 1: absent from older snapshots.
        owners=tuple(_owner_from_json(o) for o in ns.get("owners", [])),
        userns_uid=_opt_int(ns.get("userns_uid"), "userns_uid"),
    )
    addresses = tuple(AddressRecord(_int(a[0], "ifindex"), _int(a[1], "family"), _int(a[2], "prefixlen"),
                                    _bytes(a[3], "address")) for a in ns["addresses"])
    return NamespaceRecord(namespace, tuple(_link_from_json(raw) for raw in ns["links"]), addresses)


def to_json(snapshot: Snapshot) -> Dict[str, Any]:
    return {
        "snapshot_version": SNAPSHOT_VERSION,
        "root_source": snapshot.root_source,
        "warnings": list(snapshot.warnings),
        "namespaces": [
            _namespace_to_json(record)
            for record in snapshot.namespaces
        ],
        "nsid_answers": [[a.asker, a.target, a.nsid, *(["watched"] if a.watched else [])]
                         for a in snapshot.nsid_answers],
        "via_answers": [list(a) for a in snapshot.via_answers],
        "hints": [[h.asker, h.nsid, h.ifindex, None if h.link is None else _link_to_json(h.link)]
                  for h in snapshot.hints],
        "changing": [list(end) for end in snapshot.changing],
        "sockets_searched": snapshot.sockets_searched,
        "comms": [[pid, comm] for pid, comm in snapshot.comms],
        "tun_files": [{"pid": t.pid, "fd": t.fd, "netns": t.netns, "ifname": t.ifname.hex(), "comm": t.comm,
                       "vm": t.vm, "holder_netns": t.holder_netns} for t in snapshot.tun_files],
        **({} if snapshot.ovs is None else {"ovs": _ovs_to_json(snapshot.ovs)}),
    }


def _tun_file_from_json(raw: Any) -> TunFile:
    if not isinstance(raw, dict):
        raise ValueError("tun file: expected an object")
    return TunFile(_int(raw["pid"], "tun pid"), _int(raw["fd"], "tun fd"), _int(raw["netns"], "tun netns"),
                   _bytes(raw["ifname"], "tun ifname"), _opt_str(raw.get("comm"), "tun comm"),
                   _opt_str(raw.get("vm"), "tun vm"), _opt_int(raw.get("holder_netns"), "tun holder netns"))


def from_json(data: Dict[str, Any]) -> Snapshot:
    """Rebuild a Snapshot; raises ValueError (with a reason) for anything malformed."""
    try:
        if data.get("snapshot_version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {data.get('snapshot_version')!r}")
        namespaces = tuple(_namespace_from_json(ns) for ns in data["namespaces"])
        return Snapshot(
            namespaces=namespaces,
            nsid_answers=tuple(NsidAnswer(_int(a[0], "asker"), _int(a[1], "target"), _opt_int(a[2], "nsid"),
                                          len(a) > 3 and a[3] == "watched")
                               for a in data["nsid_answers"]),
            via_answers=tuple(ViaAnswer(_int(a[0], "asker"), _int(a[1], "nsid"), _int(a[2], "hub"),
                                        _opt_int(a[3], "answer")) for a in data["via_answers"]),
            hints=tuple(HintAnswer(_int(h[0], "asker"), _int(h[1], "nsid"), _int(h[2], "ifindex"),
                                   None if h[3] is None else _link_from_json(h[3]))
                        for h in data["hints"]),
            root_source=str(data["root_source"]),
            warnings=_strs(data["warnings"], "warnings"),
            # Added later in version 1: absent from older snapshots.
            changing=tuple((_int(end[0], "changing inode"), _int(end[1], "changing ifindex"))
                           for end in data.get("changing", [])),
            sockets_searched=data.get("sockets_searched", True) is not False,
            comms=tuple((_int(c[0], "comm pid"), _opt_str(c[1], "comm") or "") for c in data.get("comms", [])),
            tun_files=tuple(_tun_file_from_json(t) for t in data.get("tun_files", [])),
            ovs=_ovs_from_json(data.get("ovs")),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise ValueError(f"malformed snapshot: {error!r}") from None
    except ValueError as error:
        raise ValueError(f"malformed snapshot: {error}") from None


def dumps(snapshot: Snapshot) -> str:
    return json.dumps(to_json(snapshot), separators=(",", ":"))


_U8, _U32, _U64 = (1 << 8) - 1, (1 << 32) - 1, (1 << 64) - 1
_S32 = (-(1 << 31), (1 << 31) - 1)


def _check(value: Optional[int], low: int, high: int, what: str) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"malformed snapshot: {what} {value} out of range")


def _check_link(link: LinkRecord) -> None:
    for value, what in ((link.ifindex, "ifindex"), (link.flags, "flags"), (link.mtu, "mtu"),
                        (link.master, "master"), (link.link, "link")):
        _check(value, 0, _U32, what)
    _check(link.operstate, 0, _U8, "operstate")
    _check(link.link_netnsid, *_S32, "link_netnsid")
    for field, value in link.data:
        high = MAXIMUM.get(FIELDS.get(field, BYTES))
        if high is not None:
            _check(value, 0, high, field.replace("_", " "))


def check_ranges(snapshot: Snapshot) -> None:
    """Raise ValueError for a number no kernel gives: they would reach socket.inet_ntop, struct
    and friends as OverflowError (an address family of 2**64) instead of a clear refusal."""
    for record in snapshot.namespaces:
        ns = record.namespace
        _check(ns.id.dev, 0, _U64, "dev")
        _check(ns.id.inode, 0, _U64, "inode")
        _check(ns.cookie, 0, _U64, "cookie")
        _check(ns.userns_uid, 0, _U32, "userns uid")
        for kind in ns.holders:
            for item in ns.holders[kind]:
                if isinstance(item, Holder):
                    _check(item.pid, 1, _U32, f"{kind} pid")
                    _check(item.detail, 0, _U32, f"{kind} tid or fd")
                elif isinstance(item, int):
                    _check(item, 1, _U32, "pid")
        for link in record.links:
            _check_link(link)
        for address in record.addresses:
            _check(address.ifindex, 0, _U32, "ifindex")
            _check(address.family, 0, _U8, "address family")
            _check(address.prefixlen, 0, _U8, "prefixlen")
    for answer in snapshot.nsid_answers:
        _check(answer.asker, 0, _U64, "inode")
        _check(answer.target, 0, _U64, "inode")
        _check(answer.nsid, *_S32, "nsid")
    for via in snapshot.via_answers:
        _check(via.asker, 0, _U64, "inode")
        _check(via.nsid, *_S32, "nsid")
        _check(via.hub, 0, _U64, "inode")
        _check(via.answer, *_S32, "nsid")
    for tun in snapshot.tun_files:
        _check(tun.pid, 1, _U32, "pid")
        _check(tun.fd, 0, _U32, "fd")
        _check(tun.netns, 0, _U64, "inode")
        _check(tun.holder_netns, 0, _U64, "inode")
    for hint in snapshot.hints:
        _check(hint.asker, 0, _U64, "inode")
        _check(hint.nsid, *_S32, "nsid")
        _check(hint.ifindex, 0, _U32, "ifindex")
        if hint.link is not None:
            _check_link(hint.link)
    if snapshot.ovs is not None:
        for item in snapshot.ovs.interfaces:
            _check(item.ifindex, 0, _U32, "ovs ifindex")
        if snapshot.ovs.netns is not None:
            _check(snapshot.ovs.netns[0], 0, _U64, "ovs netns dev")
            _check(snapshot.ovs.netns[1], 0, _U64, "ovs netns inode")


#: A snapshot bigger than this is not one vethpeer wrote (10000 namespaces make about 40 MB).
MAX_SNAPSHOT_BYTES = 1 << 30


def load_file(path: str) -> Snapshot:
    """Load a snapshot file (``--load FILE``): a regular file of bounded size, not /dev/zero nor a
    FIFO that never ends. ValueError with a sentence naming ``path`` for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"cannot load {path}: not a regular file")
        if st.st_size > MAX_SNAPSHOT_BYTES:
            raise ValueError(f"cannot load {path}: {st.st_size} bytes is too big for a snapshot")
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_SNAPSHOT_BYTES:  # it grew while being read
                raise ValueError(f"cannot load {path}: too big for a snapshot")
            chunks.append(chunk)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    finally:
        os.close(fd)
    try:
        return loads(b"".join(chunks).decode("utf-8"))
    except ValueError as error:
        raise ValueError(f"cannot load {path}: {error}") from None


def loads(text: str) -> Snapshot:
    """Parse a snapshot; ValueError (with a reason) for anything that is not a sound one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not a snapshot: {error}") from None
    except RecursionError:
        raise ValueError("not a snapshot: nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("not a snapshot: expected a JSON object")
    snapshot = from_json(data)
    check_ranges(snapshot)
    return snapshot
