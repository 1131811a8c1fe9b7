"""A process that holds a network namespace in one particular way, for the live tests.

    python holder.py unshare            its own new namespace (process-held)
    python holder.py fd PATH            an open fd to the namespace at PATH
    python holder.py thread PATH        one thread inside the namespace at PATH
    python holder.py socket PATH        a socket created inside the namespace at PATH
    python holder.py hide PATH TARGET   a bind mount of PATH at TARGET in a private mount namespace
    python holder.py zombie-thread PATH one thread inside the namespace at PATH, after the main thread
                                        has exited (the process's leader is a zombie)
    python holder.py private-fd PATH    an fd to PATH in the fd table of a thread that unshared it
    python holder.py tun-open PATH      /dev/net/tun opened in the namespace at PATH and never attached
                                        to a device (a VPN daemon before TUNSETIFF)
    python holder.py ring PATH          an io_uring ring with the namespace at PATH as its registered
                                        file (opened through /proc, so fdinfo names it net:[INODE]);
                                        no other fd of the process leads to it
    python holder.py tun PATH TAP       a tap device TAP made in the namespace at PATH: the tun file
                                        is all that holds it (the thread that made it went back)

It prints one line once it holds the namespace ("ready ..."), then waits until its stdin closes,
so it also goes away if the test runner dies.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import socket
import struct
import sys
import threading

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
CLONE_FILES = 0x00000400
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SYS_EXIT = {"x86_64": 60, "aarch64": 93, "riscv64": 93}
SYS_IO_URING_SETUP, SYS_IO_URING_REGISTER = 425, 427  # the same on every architecture
IORING_REGISTER_FILES = 2

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
    elif mode == "zombie-thread":
        started = threading.Event()
        tid = []

        def inside() -> None:
            setns_path(sys.argv[2])
            tid.append(threading.get_native_id())
            started.set()
            sys.stdin.read()
            os._exit(0)

        threading.Thread(target=inside, daemon=True).start()
        started.wait()
        print(f"ready {tid[0]}", flush=True)
        # exit(2) of the main thread alone (os._exit would end the process). ctypes lets go of the
        # GIL around the call, which never returns, so the other thread carries on.
        libc.syscall(SYS_EXIT[platform.machine()], 0)
    elif mode == "private-fd":
        opened = threading.Event()
        info = []

        def inside() -> None:
            check(libc.unshare(CLONE_FILES), "unshare(CLONE_FILES)")
            fd = os.open(sys.argv[2], os.O_RDONLY)
            info.append((threading.get_native_id(), fd))
            opened.set()
            threading.Event().wait()

        threading.Thread(target=inside, daemon=True).start()
        opened.wait()
        print(f"ready {info[0][0]} {info[0][1]}", flush=True)
    elif mode in ("tun", "tun-open"):
        made = []

        def inside() -> None:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            setns_path(sys.argv[2])
            tun = os.open("/dev/net/tun", os.O_RDWR)
            if mode == "tun":
                fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", sys.argv[3].encode(), IFF_TAP | IFF_NO_PI))
            check(libc.setns(home, CLONE_NEWNET), "setns back")
            os.close(home)
            made.append(tun)

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join()
        keep.append(made[0])
        print(f"ready {made[0]}", flush=True)
    elif mode == "ring":
        opened = []

        def enter() -> None:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            setns_path(sys.argv[2])
            opened.append(os.open("/proc/thread-self/ns/net", os.O_RDONLY))
            check(libc.setns(home, CLONE_NEWNET), "setns back")
            os.close(home)

        thread = threading.Thread(target=enter)
        thread.start()
        thread.join()
        libc.syscall.restype = ctypes.c_long
        params = (ctypes.c_char * 120)()
        ring = libc.syscall(SYS_IO_URING_SETUP, 4, params)
        if ring < 0:
            sys.exit(f"io_uring_setup: {os.strerror(ctypes.get_errno())}")
        files = (ctypes.c_int * 1)(opened[0])
        if libc.syscall(SYS_IO_URING_REGISTER, ring, IORING_REGISTER_FILES, files, 1) != 0:
            sys.exit(f"io_uring_register: {os.strerror(ctypes.get_errno())}")
        os.close(opened[0])
        keep.append(ring)
        print(f"ready {ring}", flush=True)
    else:
        sys.exit(f"unknown mode {mode}")
    sys.stdin.read()


if __name__ == "__main__":
    main()
