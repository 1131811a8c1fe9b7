"""A process that holds a network namespace in one particular way, for the live tests.

    python holder.py unshare            its own new namespace (process-held)
    python holder.py fd PATH            an open fd to the namespace at PATH
    python holder.py thread PATH        one thread inside the namespace at PATH
    python holder.py socket PATH        a socket created inside the namespace at PATH
    python holder.py hide PATH TARGET   a bind mount of PATH at TARGET in a private mount namespace

It prints one line once it holds the namespace ("ready ..."), then waits until its stdin closes,
so it also goes away if the test runner dies.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        sys.exit(f"{what}: {os.strerror(ctypes.get_errno())}")


def setns_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        check(libc.setns(fd, CLONE_NEWNET), "setns")
    finally:
        os.close(fd)


def main() -> None:
    mode = sys.argv[1]
    keep = []
    if mode == "unshare":
        check(libc.unshare(CLONE_NEWNET), "unshare")
        print("ready", flush=True)
    elif mode == "fd":
        fd = os.open(sys.argv[2], os.O_RDONLY)
        keep.append(fd)
        print(f"ready {fd}", flush=True)
    elif mode == "thread":
        entered = threading.Event()
        tid = []

        def inside() -> None:
            setns_path(sys.argv[2])
            tid.append(threading.get_native_id())
            entered.set()
            threading.Event().wait()

        threading.Thread(target=inside, daemon=True).start()
        entered.wait()
        print(f"ready {tid[0]}", flush=True)
    elif mode == "socket":
        made = []

        def inside() -> None:
            setns_path(sys.argv[2])
            made.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join()
        keep.append(made[0])
        print(f"ready {made[0].fileno()}", flush=True)
    elif mode == "hide":
        check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
        check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make private")
        check(libc.mount(sys.argv[2].encode(), sys.argv[3].encode(), None, MS_BIND, None), "bind")
        print("ready", flush=True)
    else:
        sys.exit(f"unknown mode {mode}")
    sys.stdin.read()


if __name__ == "__main__":
    main()
