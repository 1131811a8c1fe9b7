"""Which Open vSwitch bridge each port is on: read-only questions to ovsdb over its unix socket.

Holds the reader (one JSON-RPC ``transact`` of three ``select`` operations: never a ``monitor``,
never a write), the reply parser, and the pure function that ties ovsdb's interface names to links
of the scan. Does not hold any netlink: the ports of the kernel datapath are already visible there
(their master is ``ovs-system``, a device of kind ``openvswitch``); ovsdb only adds the bridge name.

Absence is the normal case (no OVS here): a missing socket gives an empty view and no warning.
Refusal, timeout, a malformed or oversized reply give an empty view and one warning string.

Found on Debian 12's openvswitch-switch 3.1 running with ``datapath_type=netdev`` (no kernel
module): the netdev datapath makes a tap device ``ovs-netdev`` (kind ``tun``, no master), the
bridge and every ``internal`` or ``tap`` interface become tap devices too (kind ``tun``, persist
on, so they outlive ovs-vswitchd), and a port that is an existing device (a veth end) keeps its
kind and gets *no master*: only ovsdb knows it is on a bridge. ovsdb's Interface rows carry the
``ifindex`` ovs-vswitchd saw, in the namespace ovs-vswitchd runs in.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .model import Link, LinkRef, NamespaceId

#: Where Debian, Fedora and upstream's ovs-ctl put ovsdb-server's socket (/var/run is /run).
DEFAULT_SOCKETS = ("/run/openvswitch/db.sock", "/var/run/openvswitch/db.sock")
#: The whole exchange (connect, send, read) must fit in this many seconds.
TIMEOUT = 0.5
#: A reply larger than this is refused: ~310 bytes per interface (three uuids), so room for
#: ~50000 ports. Measured with a fake server: 10000 interfaces (3 MB) read and parsed in 170 ms.
MAX_REPLY = 16 * 1024 * 1024
#: ovs-vswitchd's pid file next to the socket (ovs-ctl and --pidfile without a path put it there).
VSWITCHD_PIDFILE = "ovs-vswitchd.pid"
#: The datapath of the Linux kernel module; ovsdb writes it as "" (the default) or "system".
KERNEL_DATAPATHS = ("", "system")

_REQUEST_ID = "vethpeer-ovs"
#: The first byte that is not JSON whitespace (scans the leading whitespace only).
_HEAD = re.compile(rb"[ \t\r\n]*([^ \t\r\n])")
_REQUEST = json.dumps({
    "method": "transact",
    "id": _REQUEST_ID,
    "params": [
        "Open_vSwitch",
        {"op": "select", "table": "Bridge", "where": [], "columns": ["_uuid", "name", "ports", "datapath_type"]},
        {"op": "select", "table": "Port", "where": [], "columns": ["_uuid", "name", "interfaces"]},
        {"op": "select", "table": "Interface", "where": [], "columns": ["_uuid", "name", "type", "ifindex"]},
    ],
}, separators=(",", ":")).encode()


class OvsInterface(NamedTuple):
    """One Interface row that sits on a bridge (rows on no bridge are left out)."""

    name: str
    bridge: str
    port: str
    #: ovsdb's type: "" (a device that exists anyway: a veth end, a NIC), "internal", "tap",
    #: "patch", "vxlan", ...
    type: str
    #: The ifindex ovs-vswitchd recorded, in its own namespace; None when it recorded none.
    ifindex: Optional[int]


class OvsView(NamedTuple):
    """What ovsdb said, and where ovs-vswitchd runs. Empty when nothing could be read."""

    interfaces: Tuple[OvsInterface, ...] = ()
    #: (bridge name, datapath type) for every bridge, sorted; "" is the kernel datapath's default.
    datapath_types: Tuple[Tuple[str, str], ...] = ()
    #: The socket that answered (as the host spells it), or None.
    socket: Optional[str] = None
    #: ovs-vswitchd's pid (its pid file, checked against /proc/PID/comm), or None.
    vswitchd_pid: Optional[int] = None
    #: (st_dev, st_ino) of ovs-vswitchd's network namespace: the namespace ovsdb's names live in.
    netns: Optional[Tuple[int, int]] = None
    #: Why the view is empty or partial, for the caller to show; None when there is nothing to say.
    warning: Optional[str] = None

    def by_name(self) -> Dict[str, Tuple[str, str, str]]:
        """{interface name: (bridge, port, interface type)}."""
        return {item.name: (item.bridge, item.port, item.type) for item in self.interfaces}


# --- framing ---------------------------------------------------------------------------------


def split_message(buffer: bytes) -> Tuple[Any, int]:
    """The first complete JSON object in ``buffer`` and the offset just after it.

    ovsdb writes JSON values back to back with no delimiter, and a read may end anywhere inside
    one. Returns (None, 0) while more bytes are needed; raises ValueError for bytes that can never
    become a JSON-RPC message (anything but an object at the top).
    """
    text = buffer.decode("utf-8", "surrogateescape")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        return None, 0
    if text[start] != "{":
        raise ValueError(f"not a JSON-RPC message: starts with {text[start]!r}")
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError:
        return None, 0  # incomplete (or broken: the deadline, EOF or the cap ends the wait)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    # Offsets are in characters; give them back in bytes (surrogateescape round-trips every byte).
    return value, len(text[:end].encode("utf-8", "surrogateescape"))


def _take_reply(buffer: bytes) -> Tuple[Optional[Any], bytes]:
    """Our reply from the complete messages at the start of ``buffer`` (others, such as
    notifications or echo requests, are dropped), and the bytes still to be completed."""
    while buffer:
        message, used = split_message(buffer)
        if used == 0:
            break
        buffer = buffer[used:]
        if isinstance(message, dict) and message.get("id") == _REQUEST_ID and "method" not in message:
            return message, buffer
    return None, buffer


def exchange(path: str, timeout: float = TIMEOUT, cap: int = MAX_REPLY) -> Any:
    """Send the read-only request to the socket at ``path``; the reply message (a dict).

    Raises FileNotFoundError when there is no socket, OSError for refusal and other socket
    errors, TimeoutError, and ValueError for a reply that is malformed or over ``cap`` bytes.
    """
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sock.sendall(_REQUEST)
        buffer = bytearray()  # appended to in place: a bytes += would copy the whole reply per read
        tried = 0  # the buffer's size when parsing it last came up short
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete reply in time")
            sock.settimeout(left)
            chunk = sock.recv(1 << 16)
            ended = not chunk
            buffer += chunk
            if len(buffer) > cap:
                raise ValueError(f"the reply is over {cap} bytes")
            head = _HEAD.match(buffer)
            if head is not None and head.group(1) != b"{":
                raise ValueError(f"not a JSON-RPC message: starts with {bytes(head.group(1))!r}")
            # Parsing is worth trying where a message can end. A reply of megabytes arrives in many
            # reads, and reparsing it after each would be quadratic: between reads that end in
            # "}", a parse is only tried once the buffer has doubled since the last one.
            if not (ended or chunk.rstrip().endswith(b"}") or (b"}" in chunk and len(buffer) >= 2 * tried)):
                continue
            reply, rest = _take_reply(bytes(buffer))
            buffer = bytearray(rest)
            if reply is not None:
                return reply
            tried = len(buffer)
            if ended:
                raise ValueError("the server closed the connection before replying" if not buffer
                                 else "the reply ended in the middle of a message")
    except socket.timeout:  # an alias of TimeoutError only from Python 3.10
        raise TimeoutError("no complete reply in time") from None
    finally:
        sock.close()


# --- parsing ---------------------------------------------------------------------------------


def _atoms(value: Any) -> List[Any]:
    """An OVSDB set's members: ["set", [a, ...]] or a single atom standing for a set of one."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        if not isinstance(value[1], list):
            raise ValueError("a set whose members are not a list")
        return value[1]
    return [value]


def _uuid(value: Any) -> str:
    if (isinstance(value, list) and len(value) == 2 and value[0] == "uuid" and isinstance(value[1], str)):
        return value[1]
    raise ValueError(f"not a uuid: {value!r:.60}")


def _string(row: Dict[str, Any], column: str) -> str:
    value = row.get(column)
    if not isinstance(value, str):
        raise ValueError(f"column {column}: not a string")
    return value


def _rows(result: Any, table: str) -> List[Dict[str, Any]]:
    if not isinstance(result, dict) or "error" in result:
        problem = result.get("error") if isinstance(result, dict) else result
        raise ValueError(f"select on {table} failed: {problem!r:.80}")
    rows = result.get("rows")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"select on {table}: rows are not a list of objects")
    return rows


def parse_reply(reply: Any) -> Tuple[Tuple[OvsInterface, ...], Tuple[Tuple[str, str], ...]]:
    """The interfaces on bridges, and each bridge's datapath type, from a ``transact`` reply.

    Raises ValueError for anything that is not the reply the request asks for.
    """
    if not isinstance(reply, dict):
        raise ValueError("the reply is not an object")
    if reply.get("error") is not None:
        raise ValueError(f"ovsdb refused the request: {reply['error']!r:.80}")
    results = reply.get("result")
    if not isinstance(results, list) or len(results) < 3:
        raise ValueError("the reply has no result for each select")
    bridges, ports, interfaces = (_rows(results[i], table) for i, table in enumerate(("Bridge", "Port", "Interface")))

    interface_of: Dict[str, Tuple[str, str, Optional[int]]] = {}
    for row in interfaces:
        indexes = _atoms(row.get("ifindex"))
        if len(indexes) > 1 or any(type(i) is not int or not 0 <= i < 1 << 32 for i in indexes):
            raise ValueError("column ifindex: not an optional 32-bit integer")
        interface_of[_uuid(row.get("_uuid"))] = (_string(row, "name"), _string(row, "type"),
                                                 indexes[0] if indexes else None)
    port_of: Dict[str, Tuple[str, List[str]]] = {}
    for row in ports:
        port_of[_uuid(row.get("_uuid"))] = (_string(row, "name"), [_uuid(u) for u in _atoms(row.get("interfaces"))])

    found: Dict[str, OvsInterface] = {}
    datapaths: Dict[str, str] = {}
    for row in bridges:
        bridge = _string(row, "name")
        if bridge in datapaths:
            raise ValueError(f"bridge {bridge!r:.40} listed twice")
        datapaths[bridge] = _string(row, "datapath_type")
        for port_uuid in (_uuid(u) for u in _atoms(row.get("ports"))):
            if port_uuid not in port_of:
                continue  # a row that changed between the selects: the transaction rules it out
            port, members = port_of[port_uuid]
            for member in members:
                if member not in interface_of:
                    continue
                name, kind, ifindex = interface_of[member]
                if name in found:
                    # ovsdb keeps Interface names unique; two rows with one name is no sound reply.
                    raise ValueError(f"interface {name!r:.40} listed twice")
                found[name] = OvsInterface(name, bridge, port, kind, ifindex)
    return (tuple(sorted(found.values())), tuple(sorted(datapaths.items())))


# --- where ovs-vswitchd runs -------------------------------------------------------------------


def _vswitchd_netns(host: Any, rundir: str) -> Tuple[Optional[int], Optional[Tuple[int, int]]]:
    """ovs-vswitchd's pid and network namespace, from its pid file in ``rundir`` (a host path,
    read inside the host's root). None for both unless the pid file names a live process called
    ovs-vswitchd: a pid file left behind by a stopped daemon can name a reused pid."""
    from .host.procfs import COMM_CAP, parse_comm, read_int

    pid = read_int(host.read(f"{rundir}/{VSWITCHD_PIDFILE}"))
    if pid is None:
        return None, None
    # comm is cut at 15 bytes: "ovs-vswitchd" fits.
    if parse_comm(host.read_pid(pid, "comm", COMM_CAP)) != "ovs-vswitchd":
        return None, None
    try:
        st = os.stat(host.pid_path(pid, "ns/net"))
    except OSError:
        return pid, None
    return pid, (st.st_dev, st.st_ino)


#: Sockets that did not answer in time, as (host path, device, inode, change time): not asked
#: again while the same socket is there (a watch would otherwise wait TIMEOUT in every scan). A
#: restarted ovsdb makes a new socket (a new change time even where the inode number is reused),
#: which is asked.
_silent: Dict[Tuple[str, int, int, int], None] = {}


def ovs_bridges(host_root: str = "/", proc: Optional[str] = None, sockets: Optional[Sequence[str]] = None,
                timeout: float = TIMEOUT) -> OvsView:
    """Ask ovsdb which bridge each interface is on. Never raises for anything ovsdb does.

    ``sockets`` are host paths, resolved inside ``host_root`` (default ``DEFAULT_SOCKETS``); the
    first one that exists is asked, through the socket file found there (an absolute link in the
    tree cannot make it another one).
    """
    import stat

    from .host.procfs import Host, normpath

    with Host(root=host_root, proc=proc) as host:
        # /var/run and /run are one place (normpath reads both as /run): each is asked once.
        for shown in dict.fromkeys(normpath(path) for path in (DEFAULT_SOCKETS if sockets is None else sockets)):
            opened = host.files.open(shown)
            if not isinstance(opened, int):
                continue
            try:
                info = os.fstat(opened)
                key = (shown, info.st_dev, info.st_ino, info.st_ctime_ns)
                if key in _silent:
                    return OvsView(socket=shown, warning=f"ovsdb at {shown} did not answer within {timeout:g} s "
                                                         "when first asked, and is not asked again until its "
                                                         "socket is made anew: Open vSwitch bridges not shown")
                if not stat.S_ISSOCK(info.st_mode):
                    return OvsView(socket=shown, warning=f"ovsdb at {shown} could not be read (not a socket): "
                                                         "Open vSwitch bridges not shown")
                try:
                    reply = exchange(f"/proc/self/fd/{opened}", timeout)
                except TimeoutError:
                    _silent[key] = None
                    return OvsView(socket=shown, warning=f"ovsdb at {shown} did not answer within {timeout:g} s: "
                                                         "Open vSwitch bridges not shown")
                except (OSError, ValueError) as error:
                    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
                    return OvsView(socket=shown, warning=f"ovsdb at {shown} could not be read ({reason}): "
                                                         "Open vSwitch bridges not shown")
            finally:
                os.close(opened)
            try:
                interfaces, datapaths = parse_reply(reply)
            except ValueError as error:
                return OvsView(socket=shown, warning=f"ovsdb at {shown} gave a reply that could not be used "
                                                     f"({error}): Open vSwitch bridges not shown")
            pid, netns = _vswitchd_netns(host, os.path.dirname(shown))
            warning = None
            if netns is None and interfaces:
                warning = (f"ovs-vswitchd's namespace is unknown (no live process in its pid file next to "
                           f"{shown}): Open vSwitch bridges not shown")
            return OvsView(interfaces, datapaths, shown, pid, netns, warning)
    return OvsView()


# --- tying names to links ------------------------------------------------------------------------


def ovs_ports(links: Mapping[str, Link], view: OvsView) -> Dict[LinkRef, str]:
    """{link: OVS bridge} for the links of ovs-vswitchd's namespace that are ports of a bridge.

    ``links`` must be the links of the namespace ovs-vswitchd runs in, by name: ovsdb's names are
    names there and nowhere else (``OvsView.netns``, from ovs-vswitchd's own /proc/PID/ns/net;
    the caller picks the namespace by that inode, never by a name seen in some namespace). Within
    it, a name is tied to a link only with more evidence than the name:

    - on a kernel-datapath bridge, the link's master must be a device of kind ``openvswitch``
      (the ``ovs-system`` datapath), and the ifindex ovsdb recorded, if any, must be the link's;
    - on any other datapath (``netdev``: no master at all), ovsdb must have recorded an ifindex
      and it must be the link's: a device deleted and made again under the same name while
      ovs-vswitchd was not looking does not match.
    """
    by_index = {link.ifindex: link for link in links.values()}
    out: Dict[LinkRef, str] = {}
    datapaths = dict(view.datapath_types)
    for item in view.interfaces:
        link = links.get(item.name)
        if link is None:
            continue
        if datapaths.get(item.bridge, "") in KERNEL_DATAPATHS:
            master = by_index.get(link.master) if link.master is not None else None
            if master is None or master.kind != "openvswitch":
                continue
            if item.ifindex is not None and item.ifindex != link.ifindex:
                continue
        elif item.ifindex is None or item.ifindex != link.ifindex:
            continue
        out[link.ref] = item.bridge
    return out


def with_ovs_bridges(links: Dict[LinkRef, Link], view: Optional[OvsView]) -> List[str]:
    """Fill ``Link.ovs_bridge`` in ``links`` (a resolve-phase dict, changed in place) from
    ``view``; the warnings to add (at most one)."""
    if view is None:
        return []
    warnings = [view.warning] if view.warning else []
    if view.netns is None or not view.interfaces:
        return warnings
    netns = NamespaceId(*view.netns)
    named = {link.name: link for ref, link in links.items() if ref.netns == netns}
    if not named:
        return warnings  # ovs-vswitchd's namespace was not read
    for ref, bridge in ovs_ports(named, view).items():
        links[ref] = links[ref]._replace(ovs_bridge=bridge)
    return warnings
