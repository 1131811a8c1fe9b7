"""The command line: argument parsing, exit codes and error messages. No logic of its own.

Exit codes: 0 an answer was given; 1 the interface was found nowhere; 2 a usage error (including
a --netns that names no namespace, and a snapshot that cannot be loaded); 3 the host could not be
scanned at all; 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import List, NoReturn, Optional, Sequence, TextIO, Tuple

from . import __version__, resolve, scanner
from . import snapshot as snapshot_io
from .model import PEER_KINDS, Link, LinkRef, NamespaceId, Topology, Unresolved
from .render import json as json_render
from .render import table as table_render
from .render.text import Style, escape

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3
EXIT_INTERRUPTED = 130

PROG = "vethpeer"


class UsageError(Exception):
    """A user mistake: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS lets the option be given before or after the command without one hiding the other.
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON (see the README for the contract)")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="do not print warnings on stderr")
    common.add_argument("--load", metavar="FILE", default=argparse.SUPPRESS,
                        help="answer from a snapshot saved with --save instead of this host")
    common.add_argument("--save", metavar="FILE", default=argparse.SUPPRESS,
                        help="also write the raw snapshot of this host to FILE")
    common.add_argument("--no-sockets", action="store_true", default=argparse.SUPPRESS,
                        help="skip looking inside sockets (about 5 us each): faster on hosts with very "
                             "many sockets, but misses namespaces held only by a socket")

    parser = _Parser(
        prog=PROG, parents=[common],
        description="Where is the other end of this veth? Pairs every veth and netkit across all "
                    "network namespaces by the kernel's own evidence.",
        epilog="Without a command, 'list' runs. Exit codes: 0 answer, 1 interface not found, "
               "2 usage error, 3 scan failed.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    peer = commands.add_parser("peer", parents=[common], help="the other end of an interface",
                               description="Show the other end of IFNAME. Without --netns, every "
                                           "namespace is searched and every match answered.")
    peer.add_argument("ifname", metavar="IFNAME",
                      help="interface name (an altname works; 'name@ifN' as ip prints it too)")
    peer.add_argument("--netns", "-n", metavar="NS",
                      help="only in this namespace: a /run/netns name, a path to a namespace file "
                           "(/run/docker/netns/ID, /proc/PID/ns/net), or pid:PID")
    commands.add_parser("list", parents=[common], help="every veth pair on the host, then the "
                        "ends whose peer could not be resolved (the default)")
    commands.add_parser("namespaces", parents=[common], help="every network namespace and what "
                        "holds it")
    demo = commands.add_parser("demo", parents=[common], help="build a throwaway Neutron-like picture in "
                               "new namespaces, show it, remove it (root)")
    demo.add_argument("--wait", action="store_true",
                      help="keep the picture up until Enter or Ctrl-C, to explore it")
    return parser


def _use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":  # no-color.org: non-empty
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def resolve_netns_spec(spec: str) -> str:
    """The namespace file that ``--netns`` names; UsageError when it names none."""
    if not spec:
        raise UsageError("--netns needs a value")
    if spec.startswith("pid:"):
        pid = spec[4:]
        if not pid.isdigit():
            raise UsageError(f"--netns {spec}: expected pid:NUMBER")
        path = f"/proc/{pid}/ns/net"
        if not os.path.lexists(path):
            raise UsageError(f"--netns {spec}: no process {pid}")
        return path
    if "/" in spec:
        path = spec
    else:
        for directory in ("/run/netns", "/var/run/netns"):
            candidate = os.path.join(directory, spec)
            if os.path.lexists(candidate):
                path = candidate
                break
        else:
            raise UsageError(f"--netns {spec}: no network namespace with that name "
                             "(try a path, pid:PID, or 'vethpeer namespaces')")
    if not os.path.lexists(path):
        raise UsageError(f"--netns {spec}: no such file")
    return path


def _netns_from_snapshot(topology: Topology, spec: str) -> NamespaceId:
    for ns in topology.namespaces:
        if (spec in ns.names or spec in ns.paths
                or (spec.startswith("pid:") and spec[4:].isdigit() and int(spec[4:]) in ns.pids)
                or (spec.startswith("/proc/") and spec.endswith("/ns/net")
                    and spec.split("/")[2].isdigit() and int(spec.split("/")[2]) in ns.pids)):
            return ns.id
    raise UsageError(f"--netns {spec}: no such namespace in the snapshot")


def _netns_live(topology: Topology, path: str, spec: str) -> NamespaceId:
    try:
        st = os.stat(path)
    except OSError as error:
        raise UsageError(f"--netns {spec}: {error.strerror}") from None
    wanted = NamespaceId(st.st_dev, st.st_ino)
    for ns in topology.namespaces:
        if ns.id == wanted:
            return ns.id
    raise UsageError(f"--netns {spec}: not a network namespace")


def _find(topology: Topology, ifname: str, netns: Optional[NamespaceId]) -> List[Link]:
    found = topology.find(ifname, netns)
    if not found and "@" in ifname:
        # `ip link` prints "ns-39d60faa-aa@if69": accept it as pasted.
        found = topology.find(ifname.split("@", 1)[0], netns)
    return found


def _matches(topology: Topology, links: Sequence[Link]) -> List[Tuple[LinkRef, Optional[LinkRef],
                                                                              Optional[Unresolved]]]:
    out = []
    for link in links:
        peer = topology.peer_of(link.ref)
        unresolved = topology.unresolved_of(link.ref)
        if peer is None and unresolved is None and link.kind not in PEER_KINDS:
            kind = f"a {link.kind} interface" if link.kind else "a physical or loopback interface"
            unresolved = Unresolved(link.ref, "no-peer", f"{link.name} is {kind}; only veth "
                                    "and netkit interfaces have a peer", None, None, None)
        out.append((link.ref, peer, unresolved))
    return out


def _print_warnings(topology: Topology, quiet: bool) -> None:
    if quiet:
        return
    for warning in topology.warnings:
        print(f"{PROG}: warning: {escape(warning)}", file=sys.stderr)


def run(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "list"
    as_json = getattr(args, "json", False)
    quiet = getattr(args, "quiet", False)
    load = getattr(args, "load", None)
    save = getattr(args, "save", None)

    if command == "demo":
        from . import demo

        return demo.run(as_json=as_json, wait=args.wait)

    netns_path = None
    spec = getattr(args, "netns", None)
    if spec is not None and load is None:
        netns_path = resolve_netns_spec(spec)
    if load is not None and save is not None:
        raise UsageError("--load and --save do not go together")

    pairing = None
    if load is not None:
        try:
            with open(load, encoding="utf-8") as handle:
                snap = snapshot_io.loads(handle.read())
        except OSError as error:
            raise UsageError(f"cannot read {load}: {error.strerror}") from None
        except ValueError as error:
            raise UsageError(f"cannot load {load}: {error}") from None
    else:
        try:
            snap, pairing = scanner.read_host(netns_paths=[netns_path] if netns_path else [],
                                              addresses=command != "namespaces",
                                              sockets=not getattr(args, "no_sockets", False))
        except ValueError as error:
            raise UsageError(f"--netns {spec}: {error}") from None
        if save is not None:
            try:
                with open(save, "w", encoding="utf-8") as handle:
                    handle.write(snapshot_io.dumps(snap))
            except OSError as error:
                raise UsageError(f"cannot write {save}: {error.strerror}") from None
    topology = resolve.resolve(snap, pairing)
    style = Style(_use_color(sys.stdout))

    status = EXIT_OK
    if command == "peer":
        netns = None
        if spec is not None:
            netns = (_netns_from_snapshot(topology, spec) if load is not None
                     else _netns_live(topology, str(netns_path), spec))
        found = _find(topology, args.ifname, netns)
        matches = _matches(topology, found)
        output = (json_render.render_peer(topology, matches) if as_json
                  else table_render.render_peer(topology, matches, style) if matches else "")
        if not found:
            where = (f"namespace {escape(topology.namespace(netns).label)}" if netns is not None
                     else f"any of {len(topology.namespaces)} namespaces")
            print(f"{PROG}: no interface named {escape(args.ifname)} in {where}", file=sys.stderr)
            status = EXIT_NOT_FOUND
    elif command == "namespaces":
        output = (json_render.render_namespaces(topology) if as_json
                  else table_render.render_namespaces(topology, style))
    else:
        output = json_render.render_list(topology) if as_json else table_render.render_list(topology, style)
    sys.stdout.write(output)
    sys.stdout.flush()
    _print_warnings(topology, quiet)
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return run(argv)
    except UsageError as error:
        # The message may quote what the user typed: escaped, it stays one harmless line.
        print(f"{PROG}: error: {escape(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`vethpeer list | head`): not an error worth a traceback.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_OK
    except OSError as error:
        reason = error.strerror or str(error)
        hint = " (try as root)" if error.errno in (errno.EPERM, errno.EACCES) else ""
        print(f"{PROG}: error: cannot scan this host: {reason}{hint}", file=sys.stderr)
        return EXIT_FAILURE

