"""A fake ovsdb-server: a thread serving a unix socket with canned JSON-RPC replies.

Each accepted connection reads the request, records it, and runs the ``behaviour`` given: a list
of ("send", bytes) and ("sleep", seconds) steps, then closes. ``stop()`` ends the thread and
removes the socket; use it as a context manager so that happens even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from typing import Any, List, Optional, Sequence, Tuple

Step = Tuple[str, Any]

BRIDGE_UUID = "f975a37d-230b-45bc-a3cf-1991b61ee6f2"


def reply(bridges: Sequence[Tuple[str, str, Sequence[Tuple[str, Sequence[Tuple[str, str, Optional[int]]]]]]],
          request_id: Any = "vethpeer-ovs") -> bytes:
    """A transact reply in ovsdb's own encoding: bridges as (name, datapath type, ports), ports as
    (name, interfaces), interfaces as (name, type, ifindex or None)."""
    bridge_rows: List[Any] = []
    port_rows: List[Any] = []
    interface_rows: List[Any] = []
    counter = [0]

    def uuid() -> List[str]:
        counter[0] += 1
        return ["uuid", f"00000000-0000-4000-8000-{counter[0]:012d}"]

    for bridge, datapath, ports in bridges:
        port_uuids = []
        for port, interfaces in ports:
            iface_uuids = []
            for name, kind, ifindex in interfaces:
                u = uuid()
                iface_uuids.append(u)
                interface_rows.append({"_uuid": u, "name": name, "type": kind,
                                       "ifindex": ["set", []] if ifindex is None else ifindex})
            p = uuid()
            port_uuids.append(p)
            # ovsdb writes a set of one as the bare atom: both forms are exercised.
            port_rows.append({"_uuid": p, "name": port,
                              "interfaces": iface_uuids[0] if len(iface_uuids) == 1 else ["set", iface_uuids]})
        bridge_rows.append({"_uuid": uuid(), "name": bridge, "datapath_type": datapath, "ports": ["set", port_uuids]})
    # ovsdb writes UTF-8 as it is, not as \u escapes.
    return json.dumps({"id": request_id, "error": None, "result": [
        {"rows": bridge_rows}, {"rows": port_rows}, {"rows": interface_rows}]}, ensure_ascii=False).encode()


class FakeOvsdb:
    def __init__(self, path: str, behaviour: Sequence[Step]) -> None:
        self.path = path
        self.behaviour = list(behaviour)
        self.requests: List[bytes] = []
        self.connections = 0
        self._stop = threading.Event()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(4)
        self._server.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def __enter__(self) -> FakeOvsdb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    self.requests.append(conn.recv(1 << 16))
                    for action, value in self.behaviour:
                        if self._stop.is_set():
                            break
                        if action == "send":
                            conn.sendall(value)
                        elif action == "sleep":
                            self._stop.wait(value)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
