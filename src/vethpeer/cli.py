"""The command line: argument parsing, exit codes and error messages, and the glue that runs each
command (scan or load, select, render). What ``--netns`` names is ``select``'s; the errors that
become exit codes are ``errors``'.

Exit codes: 0 an answer was given; 1 the interface was found nowhere; 2 a usage error (including
a --netns that names no namespace, and a snapshot that cannot be loaded); 3 the host could not be
scanned at all; 4 the namespace named by --netns exists but could not be read (it says why);
5 the output could not be written (a full disk, a closed stdout); 6 the picture could not be drawn
(``graph --format svg/png`` without Graphviz's ``dot``, or ``dot`` failed); 7 the interface was
found in none of the namespaces that could be read, and some could not be read (absence not
proven: typically not run as root); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import sys
from typing import Any, Iterator, List, NoReturn, Optional, Sequence, Tuple

from . import __version__, query, resolve, scanner
from . import snapshot as snapshot_io
from .errors import DrawError, NetnsUnreadable, OutputError, UsageError
from .host import ops
from .model import PEER_KINDS, Link, LinkRef, NamespaceId, Topology, Unresolved
from .render import json as json_render
from .render import show as show_render
from .render import table as table_render
from .render.text import Style, escape, printable_in, style_for
from .select import NetnsFilter, denied, netns_choice, netns_from_snapshot, netns_live, owner_named, select_owner

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3
EXIT_NETNS_UNREADABLE = 4
EXIT_OUTPUT = 5
EXIT_NO_GRAPHVIZ = 6
EXIT_NOT_FOUND_INCOMPLETE = 7
EXIT_INTERRUPTED = 130

PROG = "vethpeer"

#: What the last one-shot run built. The command line ends with os._exit once its output is
#: flushed (``__main__._exit_now``), so nothing of it is freed object by object; a library caller
#: of ``main()`` holds one run's worth at most.
_KEPT: List[object] = []

EXIT_CODES_HELP = ("Exit codes: 0 answer, 1 interface not found, 2 usage error, 3 scan failed, "
                   "4 the --netns namespace could not be read, 5 output could not be written, "
                   "6 graph could not be drawn (Graphviz missing or failed), 7 not found in the namespaces that "
                   "could be read but some could not be read (run as root), 130 interrupted.")




class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def _print_message(self, message: str, file: Any = None) -> None:
        # --help and --version: argparse >= 3.10 swallows a write error here, 3.9 lets it out as
        # a bare OSError; either way it must be exit 5 like any other output.
        if not message:
            return
        if file is None or file is sys.stdout:
            _write_output(message)
        else:
            _say(message.rstrip("\n"))


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS lets the option be given before or after the command without one hiding the other.
    common.add_argument("-j", "--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON (see the README for the contract)")
    common.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}",
                        help="print the version and exit")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="do not print warnings on stderr")
    common.add_argument("--load", metavar="FILE", default=argparse.SUPPRESS,
                        help="answer from a snapshot saved with --save instead of this host")
    common.add_argument("--save", metavar="FILE", default=argparse.SUPPRESS,
                        help="also write the raw snapshot of this host to FILE")
    common.add_argument("--sockets", action="store_true", default=argparse.SUPPRESS,
                        help="also look inside other processes' sockets, to find namespaces held only "
                             "by a socket (about 5 us each). Side effect: copying a socket with "
                             "pidfd_getfd re-tags it with vethpeer's cgroup-v1 net_cls classid and "
                             "net_prio index, which can change how its traffic is classified")
    common.add_argument("--no-sockets", action="store_true", default=argparse.SUPPRESS,
                        help="deprecated, does nothing: sockets are only looked into with --sockets")
    common.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS,
                        help="the host's filesystem is mounted at DIR (from a debug container: "
                             "--root /host); /run/netns and runtime state are read under it")
    common.add_argument("--proc", metavar="DIR", default=argparse.SUPPRESS,
                        help="the host's procfs (default: DIR/proc with --root, else /proc)")

    parser = _Parser(
        prog=PROG, parents=[common],
        description="Where is the other end of this veth? Pairs every veth and netkit across all "
                    "network namespaces by the kernel's own evidence.",
        epilog="Without a command, 'list' runs. " + EXIT_CODES_HELP,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    peer = commands.add_parser("peer", parents=[common], help="the other end of an interface",
                               description="Show the other end of IFNAME. Without --netns, every "
                                           "namespace is searched and every match answered.",
                               epilog=EXIT_CODES_HELP)
    peer.add_argument("ifname", metavar="IFNAME",
                      help="interface name (an altname works; 'name@ifN' as ip prints it too)")
    netns_help = ("a /run/netns name, a path to a namespace file, pid:PID, or an owner "
                  "(docker:NAME, pod:NAMESPACE/NAME, a bare container name)")
    peer.add_argument("--netns", "-n", metavar="NS",
                      help="only in this namespace: a /run/netns name, a path to a namespace file "
                           "(/run/docker/netns/ID, /proc/PID/ns/net), pid:PID, or an owner (docker:NAME, "
                           "pod:NAMESPACE/NAME, a bare container name)")
    trace = commands.add_parser("trace", parents=[common], help="hop by hop from an interface to where its "
                                "traffic leaves the host",
                                description="Follow IFNAME's veth peer, master (bridge, bond), lower device "
                                            "and tunnel underlay, forking at a bridge to every port that "
                                            "leads further, until a physical device (no IFLA_INFO_KIND, a "
                                            "non-zero MAC), a tunnel, a process holding a tap, or an end "
                                            "that cannot be proven. Routes are not followed.",
                                epilog=EXIT_CODES_HELP)
    trace.add_argument("ifname", metavar="IFNAME", help="interface name (altname and name@ifN work)")
    trace.add_argument("--netns", "-n", metavar="NS", help="only in this namespace: " + netns_help)
    graph = commands.add_parser("graph", parents=[common], help="the host as a picture: DOT, Mermaid, "
                                "JSON, SVG or PNG",
                                description="Every namespace (a cluster labelled with its owner), "
                                            "interface, veth pair and master/lower/underlay relation as a "
                                            "graph. Unproven ends dangle, dashed. Loopbacks are left out.",
                                epilog=EXIT_CODES_HELP)
    graph.add_argument("--format", "-f", metavar="FORMAT",
                       help="dot (default), mermaid, json (also --json), svg or png (svg and png need "
                            "Graphviz's dot)")
    graph.add_argument("--netns", "-n", metavar="NS",
                       help="only this namespace and what is one edge away from it: " + netns_help)
    graph.add_argument("--around", metavar="IFNAME",
                       help="only what is connected to IFNAME (within --hops edges if given); with "
                            "--netns, IFNAME is looked up in that namespace")
    graph.add_argument("--hops", type=int, metavar="N", help="with --around: at most N edges away")
    graph.add_argument("--kind", metavar="KIND[,KIND]", action="append",
                       help="only interfaces of these kinds (veth, bridge, vxlan, ..., 'device' for those "
                            "without a kind: physical NICs); repeatable")
    graph.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    show = commands.add_parser("show", parents=[common], help="one interface and everything it is plugged "
                               "into", description="Show IFNAME with every relation the kernel proves: its "
                               "veth peer, master (bridge, bond, ovs-system) and ports, the device it sits "
                               "on (macvlan, ipvlan, vlan) and those sitting on it, vxlan/geneve parameters "
                               "and underlay, and the processes holding a tun/tap device. Without --netns, "
                               "every namespace is searched and every match shown.",
                               epilog=EXIT_CODES_HELP)
    show.add_argument("ifname", metavar="IFNAME",
                      help="interface name (an altname works; 'name@ifN' as ip prints it too)")
    show.add_argument("--netns", "-n", metavar="NS", help="only in this namespace: " + netns_help)
    commands.add_parser("list", parents=[common], help="every veth pair on the host, then the "
                        "ends whose peer could not be resolved (the default)")
    commands.add_parser("namespaces", parents=[common], help="every network namespace and what "
                        "holds it")
    watch = commands.add_parser("watch", parents=[common], help="the current pairs, then one line per change "
                                "(pairs, moves, renames, masters, namespaces) until Ctrl-C",
                                description="Print the current state, then one line per change: a pair "
                                            "appeared or vanished, an end moved to another namespace or was "
                                            "renamed, its master changed, a namespace appeared or vanished, an "
                                            "end became unresolved or resolved. Every change is found by a full "
                                            "scan (the same proof as 'list'), triggered by rtnetlink, mount and "
                                            "inotify signals, and by periodic rescans (see the README).",
                                epilog=EXIT_CODES_HELP)
    watch.add_argument("--count", type=int, metavar="N", help="stop after N change events (the initial state "
                       "and warnings not counted)")
    watch.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    watch.add_argument("--events-only", action="store_true", help="do not print the initial state (the "
                       "'synced' line still says when watching began)")
    watch.add_argument("--live", action="store_true", help="a table redrawn on every change (q quits)")
    watch.add_argument("--netns", "-n", metavar="NS", help="only events touching this namespace: " + netns_help)
    completion = commands.add_parser("completion", parents=[common], help="print a shell completion script "
                                     "(bash, zsh or fish)",
                                     description="Print a script that completes vethpeer's commands, options, "
                                                 "interface names and --netns values in SHELL. bash: "
                                                 "'source <(vethpeer completion bash)', or save it as "
                                                 "/usr/share/bash-completion/completions/vethpeer; zsh: save it "
                                                 "as _vethpeer in a directory of $fpath; fish: as "
                                                 "~/.config/fish/completions/vethpeer.fish.")
    completion.add_argument("shell", metavar="SHELL", choices=("bash", "zsh", "fish"), help="bash, zsh or fish")
    demo = commands.add_parser("demo", parents=[common], help="build a throwaway Neutron-like picture in "
                               "new namespaces, show it, remove it (root)")
    demo.add_argument("--wait", action="store_true",
                      help="keep the picture up until Enter or Ctrl-C, to explore it")
    demo.add_argument("--graph", metavar="FORMAT",
                      help="instead of the tables, draw the picture as 'vethpeer graph --format FORMAT' "
                           "would (dot, mermaid, json, svg, png)")
    return parser


# --- the standard streams -------------------------------------------------------------------------


def guard_standard_fds() -> None:
    """Put /dev/null on fd 0, 1 and 2 where they are closed, and streams on sys.stdout/stderr.

    With fd 2 closed (``2>&-``) the first file the tool opens becomes fd 2, and Python sets
    sys.stderr to None, so that print(file=sys.stderr) writes to *stdout*: warnings would land in
    the JSON. A closed stdout gets /dev/null opened read-only, so writing the answer fails with
    EBADF and is reported (exit 5) as the shell's ``>&-`` asked.
    """
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_RDONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            new = os.open(os.devnull, flags)  # the lowest free number: ``fd`` itself
        except OSError:
            continue
        if new != fd:
            os.dup2(new, fd)
            os.close(new)
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives as long as the process
    if sys.stderr is None:
        sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # noqa: SIM115


def _say(line: str) -> None:
    """One line on stderr; a stderr that cannot be written (2>/dev/full) costs the line, not the answer."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    # What is left in stdout's buffer would be flushed again at exit, with a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


@contextlib.contextmanager
def _output_errors() -> Iterator[None]:
    """A write to stdout that fails becomes an OutputError (exit 5); a reader that went away stays
    a BrokenPipeError (exit 0, quietly)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        _silence_stdout()
        reason = getattr(error, "strerror", None) or str(error)
        raise OutputError(f"cannot write output: {reason}") from None


def _write_output(text: str) -> None:
    stream = sys.stdout
    # Names were escaped for the terminal already; what its encoding cannot show becomes \uXXXX
    # here (table cells got that before alignment: this is the net under everything else).
    text = printable_in(text, getattr(stream, "encoding", None))
    with _output_errors():
        stream.write(text)
        stream.flush()


# --- --netns --------------------------------------------------------------------------------------


# --- peer -----------------------------------------------------------------------------------------

# `ip link` prints "name@ifN" (peer in another namespace) or "name@peername" (same namespace).
_IP_SUFFIX = re.compile(r"@[^@]+\Z")


def _kernel_name(arg: str) -> str:
    """The name as the kernel holds it: the bytes typed, read as UTF-8 like every name it reports.

    Under a non-UTF-8 locale Python decodes argv with that locale ('漢' arrives as 'æ¼¢'); the
    bytes come back with os.fsencode.
    """
    try:
        raw = os.fsencode(arg)
    except UnicodeError:
        return arg
    return raw.decode("utf-8", "surrogateescape")


def _find(topology: Topology, ifname: str, netns: Optional[NamespaceId]) -> List[Link]:
    names = list(dict.fromkeys((ifname, _kernel_name(ifname))))
    for name in names:
        found = topology.find(name, netns)
        if found:
            return found
    for name in names:
        # `ip link` prints "ns-39d60faa-aa@if69": accept it as pasted, stripping only the suffix
        # ip adds, and only where ip would have added that one (a name may itself hold '@':
        # "a@b@if9" is the interface "a@b@if9" or "a@b", never "a").
        suffix = _IP_SUFFIX.search(name)
        if suffix is not None and suffix.start() > 0:
            found = [link for link in topology.find(name[: suffix.start()], netns)
                     if _ip_would_print(topology, link, suffix.group()[1:])]
            if found:
                return found
    return []


def _ip_would_print(topology: Topology, link: Link, suffix: str) -> bool:
    """Whether `ip link` shows ``link`` as name@suffix: "if" + IFLA_LINK, or the name of the
    IFLA_LINK device when it is in the same namespace."""
    if link.link is None:
        return False
    if suffix == f"if{link.link}":
        return True
    if link.link_netnsid is not None:
        return False
    lower = topology.links.get(LinkRef(link.ref.netns, link.link))
    return lower is not None and lower.name == suffix


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


def _print_warnings(topology: Topology, quiet: bool, said: int = 0) -> None:
    """The scan's warnings on stderr, but for the first ``said`` ones, which were said already."""
    if quiet:
        return
    for warning in topology.warnings[said:]:
        _say(f"{PROG}: warning: {escape(warning)}")


# Measured (README, "Privileges"): as a non-root user these give the same answer as root.
# (capability bit, what is missed without it)
_NEEDED_CAPS = (
    (21, "CAP_SYS_ADMIN", "no other network namespace can be entered and read"),
    (19, "CAP_SYS_PTRACE", "other users' processes, and the namespaces they hold, cannot be inspected"),
    (2, "CAP_DAC_READ_SEARCH", "other users' open files are not searched: a namespace held only by an "
                               "open file descriptor is missed"),
)
_SOCKET_CAPS = (
    (12, "CAP_NET_ADMIN", "a socket cannot be asked its namespace (SIOCGSKNS): a namespace held only "
                          "by a socket is missed"),
)


def missing_capabilities(sockets: bool, status_path: str = "/proc/self/status") -> List[str]:
    """A warning per capability the scan needs and this process lacks (none when it cannot tell).

    Several of these losses are silent in discovery (an fd directory that cannot be listed looks
    like one without namespaces), so they are named from the capability set itself.
    """
    effective = ops.effective_caps(status_path)
    if effective is None:
        return []
    wanted = _NEEDED_CAPS + (_SOCKET_CAPS if sockets else ())
    return [f"without {name}, {consequence}" for bit, name, consequence in wanted if not effective >> bit & 1]


def run(argv: Optional[Sequence[str]] = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["__complete"]:
        return _complete(words[1:])
    args = build_parser().parse_args(words)
    command = args.command or "list"
    as_json = getattr(args, "json", False)
    quiet = getattr(args, "quiet", False)
    load = getattr(args, "load", None)
    save = getattr(args, "save", None)

    if command == "completion":
        from . import completion

        _write_output(completion.script(args.shell, PROG))
        return EXIT_OK
    if command == "demo":
        from . import demo

        if args.graph is not None:
            from .render import graph as graph_render

            if args.graph not in graph_render.formats():
                raise UsageError(f"--graph {args.graph}: expected one of {', '.join(graph_render.formats())}")
        return demo.run(as_json=as_json, wait=args.wait, graph=args.graph)

    root = getattr(args, "root", None) or "/"
    proc = getattr(args, "proc", None) or os.path.join(root, "proc")
    if command == "watch":
        with ops.gc_resumed():  # long-running: its memory must stay bounded between scans
            return _watch_command(args, as_json, root, proc)
    if load is None:
        for option, directory in (("--root", root), ("--proc", proc)):
            if not os.path.isdir(directory):
                raise UsageError(f"{option} {directory}: not a directory")
    spec = getattr(args, "netns", None)
    wanted, by_owner, extra_paths = netns_choice(spec if load is None else None, root, proc)
    if load is not None and save is not None:
        raise UsageError("--load and --save do not go together")

    pairing = None
    if load is not None:
        try:
            snap = snapshot_io.load_file(load)
        except ValueError as error:
            raise UsageError(str(error)) from None
    else:
        try:
            snap, pairing = scanner.read_host(netns_paths=extra_paths, addresses=command != "namespaces",
                                              sockets=getattr(args, "sockets", False), root=root, proc=proc)
        except ValueError as error:
            raise UsageError(f"--netns {spec}: {error}") from None
        lacking = missing_capabilities(getattr(args, "sockets", False))
        if lacking:
            snap = snap._replace(warnings=(*snap.warnings, *lacking))
        if save is not None:
            try:
                with open(save, "w", encoding="utf-8") as handle:
                    handle.write(snapshot_io.dumps(snap))
            except OSError as error:
                raise UsageError(f"cannot write {save}: {error.strerror}") from None
    access = access_summary(snap)
    if access is not None:
        snap = snap._replace(warnings=(access, *snap.warnings))
        if not quiet:
            # The first thing said: everything below is a small part of the host.
            _say(f"{PROG}: warning: {escape(access)}")
    topology = resolve.resolve(snap, pairing)
    # Kept until the process ends (see _KEPT): freed on the way out of this function, a scan of
    # 1000 namespaces took 15-20 ms, after the answer was complete.
    _KEPT[:] = [snap, pairing, topology]
    style = style_for(sys.stdout)
    said = 1 if access is not None else 0  # warnings already on stderr

    status = EXIT_OK
    if command in ("peer", "show"):
        netns = _chosen_netns(topology, spec, by_owner, wanted, quiet)
        found = _find(topology, args.ifname, netns)
        matches = _matches(topology, found)
        if command == "show":
            output = (json_render.render_show(topology, matches) if as_json
                      else show_render.render_show(topology, matches, style))
        elif as_json:
            output = json_render.render_peer(topology, matches)
        elif len(matches) > 1:
            # eth0 on a container host: one row per match, not a table each.
            output = table_render.render_peer_matches(topology, matches, style)
        else:
            output = table_render.render_peer(topology, matches, style) if matches else ""
        if not found:
            _write_output(output)
            _say(_not_found(topology, args.ifname, netns))
            _print_warnings(topology, quiet, said)
            return _not_found_code(topology, netns)
    elif command == "trace":
        return _trace_command(topology, args, _chosen_netns(topology, spec, by_owner, wanted, quiet, said),
                              as_json, style, quiet, said)
    elif command == "graph":
        return _graph_command(topology, args, _chosen_netns(topology, spec, by_owner, wanted, quiet, said),
                              as_json, quiet, said)
    elif command == "namespaces":
        output = (json_render.render_namespaces(topology) if as_json
                  else table_render.render_namespaces(topology, style))
    else:
        output = (json_render.render_list(topology) if as_json
                  else table_render.render_list(topology, style, unread_hint=_unread_hint(topology)))
    _write_output(output)
    _print_warnings(topology, quiet, said)
    return status


def _complete(words: List[str]) -> int:
    """``__complete SHELL ...``, what the completion scripts ask: one candidate per line. Says
    nothing on stderr and exits 0 whatever happens (a shell prompt is no place for errors)."""
    from . import completion

    if not words or words[0] not in completion.SHELLS:
        return EXIT_USAGE
    try:
        found = completion.complete(build_parser(), words[0], words[1:])
    except Exception:  # noqa: BLE001 - nothing to offer rather than a traceback under the prompt
        found = []
    if found:
        _write_output("\n".join(found) + "\n")
    return EXIT_OK


def _unreadable(namespaces: Sequence[Any]) -> int:
    return sum(1 for ns in namespaces if ns.error is not None)


def _unprivileged(warnings: Sequence[str]) -> bool:
    """Whether this run lacked a capability the scan needs (missing_capabilities said so)."""
    return any(warning.startswith("without CAP_SYS_ADMIN") for warning in warnings)


def access_summary(snap: snapshot_io.Snapshot) -> Optional[str]:
    """What a run without the privileges to look at the host must say first: how much of it could
    not be read, and how to fix that. None when nothing is missing for lack of privileges."""
    unread = _unreadable([record.namespace for record in snap.namespaces])
    if not unread or not _unprivileged(snap.warnings):
        return None
    total = len(snap.namespaces)
    return (f"{unread} of {total} network namespaces could not be read without privileges: run as root "
            f"(sudo {PROG} ...), or give it CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH "
            "(see 'Privileges' in the README)")


def _unread_hint(topology: Topology) -> Optional[str]:
    """For the list table: '1 namespace could be read; 3 could not (run as root)', or None."""
    unread = _unreadable(topology.namespaces)
    if not unread:
        return None
    read = len(topology.namespaces) - unread
    fix = "run as root" if _unprivileged(topology.warnings) else "see the warnings"
    return f"{_count(read, 'namespace')} could be read; {unread} could not ({fix})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _not_found_code(topology: Topology, netns: Optional[NamespaceId]) -> int:
    """1 when every namespace searched was read; 7 when some could not be, so absence is unproven."""
    if netns is None and _unreadable(topology.namespaces):
        return EXIT_NOT_FOUND_INCOMPLETE
    return EXIT_NOT_FOUND


def _chosen_netns(topology: Topology, spec: Optional[str], by_owner: bool, wanted: Optional[NamespaceId],
                  quiet: bool, said: int = 0) -> Optional[NamespaceId]:
    """The namespace ``--netns`` names, checked to have been read; None without ``--netns``."""
    if spec is None:
        return None
    if by_owner or (wanted is None and (query.is_selector(spec) or owner_named(topology, spec))):
        netns = select_owner(topology, spec)
    else:
        netns = netns_from_snapshot(topology, spec) if wanted is None else netns_live(topology, wanted, spec)
    target = topology.namespace(netns)
    if target.error is not None:
        _print_warnings(topology, quiet, said)
        raise NetnsUnreadable(f"namespace {target.label} could not be read: {target.error}")
    return netns


def _not_found(topology: Topology, ifname: str, netns: Optional[NamespaceId]) -> str:
    if netns is not None:
        where = f"namespace {topology.namespace(netns).label}"
    else:
        unread = _unreadable(topology.namespaces)
        read = len(topology.namespaces) - unread
        if unread:
            fix = "run as root" if _unprivileged(topology.warnings) else "see the warnings"
            where = f"the {_count(read, 'namespace')} that could be read; {unread} could not be read ({fix})"
        else:
            where = f"any of {_count(read, 'namespace')}"
    return f"{PROG}: no interface named {escape(_kernel_name(ifname))} in {escape(where)}"


def _trace_command(topology: Topology, args: argparse.Namespace, netns: Optional[NamespaceId], as_json: bool,
                   style: Style, quiet: bool, said: int = 0) -> int:
    from . import trace as trace_lib
    from .render import trace as trace_render

    found = _find(topology, args.ifname, netns)
    traces = [trace_lib.trace(topology, link.ref) for link in found]
    if as_json:
        _write_output(trace_render.render_json(topology, traces))
    elif traces:
        _write_output(trace_render.render_text(topology, traces, style))
    if not found:
        _say(_not_found(topology, args.ifname, netns))
    _print_warnings(topology, quiet, said)
    return EXIT_OK if found else _not_found_code(topology, netns)


def _graph_command(topology: Topology, args: argparse.Namespace, netns: Optional[NamespaceId], as_json: bool,
                   quiet: bool, said: int = 0) -> int:
    from . import graph as graph_lib
    from .render import graph as graph_render

    known = graph_render.formats()
    if as_json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} do not go together")
    name = args.format or ("json" if as_json else "dot")
    fmt = known.get(name)
    if fmt is None:
        raise UsageError(f"--format {name}: expected one of {', '.join(known)}")
    if args.hops is not None and (args.around is None or args.hops < 0):
        raise UsageError("--hops needs --around and a number >= 0")
    around: List[LinkRef] = []
    if args.around is not None:
        found = _find(topology, args.around, netns)
        if not found:
            _say(_not_found(topology, args.around, netns))
            _print_warnings(topology, quiet, said)
            return _not_found_code(topology, netns)
        around = [link.ref for link in found]
        netns = None  # --netns said where IFNAME is
    kinds = None
    if args.kind:
        kinds = frozenset(k.strip() for item in args.kind for k in item.split(",") if k.strip())
        if not kinds:
            raise UsageError("--kind needs at least one kind")
        # Kinds are the kernel's (any IFLA_INFO_KIND), so an unknown one is no error; but a typo
        # (--kind brige) silently drawing nothing deserves a word.
        present = {link.kind or "device" for link in topology.links.values()}
        absent = sorted(kinds - present)
        if absent and not quiet:
            _say(f"{PROG}: warning: no interface of kind {escape(', '.join(absent))} here "
                 f"(kinds here: {escape(', '.join(sorted(present)))})")
    picture = graph_lib.narrow(graph_lib.build(topology), netns=netns, around=around, hops=args.hops, kinds=kinds)
    try:
        output = fmt.render(picture)
    except graph_render.GraphvizMissing as error:
        raise DrawError(str(error)) from None
    except graph_render.GraphvizFailed as error:
        raise DrawError(str(error)) from None
    data = output.encode("utf-8", "surrogateescape") if isinstance(output, str) else output
    if args.output is not None:
        try:
            with open(args.output, "wb") as handle:
                handle.write(data)
        except OSError as error:
            raise OutputError(f"cannot write {args.output}: {error.strerror}") from None
    elif isinstance(output, str):
        _write_output(output)
    else:
        _write_bytes(data)
    _print_warnings(topology, quiet, said)
    return EXIT_OK


def _watch_command(args: argparse.Namespace, as_json: bool, root: str, proc: str) -> int:
    from . import watcher as watch_lib
    from .render import watch as watch_render

    if getattr(args, "load", None) is not None or getattr(args, "save", None) is not None:
        raise UsageError("watch reads the live host: --load and --save do not go together with it")
    if args.count is not None and args.count < 1:
        raise UsageError("--count needs a number >= 1")
    if args.timeout is not None and not 0 <= args.timeout < float("inf"):  # (also refuses nan)
        raise UsageError("--timeout needs a finite number of seconds >= 0")
    for option, directory in (("--root", root), ("--proc", proc)):
        if not os.path.isdir(directory):
            raise UsageError(f"{option} {directory}: not a directory")
    spec = args.netns
    wanted, by_owner, extra_paths = netns_choice(spec, root, proc)
    if args.live:
        from .render import live

        if as_json or args.count is not None or args.events_only:
            raise UsageError("--live does not go together with --json, --count or --events-only")
        if not sys.stdout.isatty():
            raise UsageError("--live needs a terminal on stdout")
        events = watch_lib.watch(netns_paths=extra_paths, addresses=True, sockets=getattr(args, "sockets", False),
                                 proc=proc, root=root, timeout=args.timeout)
        return live.run(events, NetnsFilter(spec, wanted, by_owner, note=_note),
                        encoding=getattr(sys.stdout, "encoding", None))
    quiet = getattr(args, "quiet", False)
    lacking = missing_capabilities(getattr(args, "sockets", False))
    if lacking and not quiet:
        for warning in lacking:
            _say(f"{PROG}: warning: {escape(warning)}")
    try:
        hangup_fd: Optional[int] = sys.stdout.fileno()  # `| head` ends the watch even when all is quiet
    except (AttributeError, OSError, ValueError):
        hangup_fd = None
    events = watch_lib.watch(netns_paths=extra_paths, addresses=True, sockets=getattr(args, "sockets", False),
                             proc=proc, root=root, include_initial=not args.events_only, timeout=args.timeout,
                             hangup_fd=hangup_fd)
    chosen = NetnsFilter(spec, wanted, by_owner, note=_note)
    lines = watch_render.JsonLines()
    counted = 0
    try:
        for event in events:
            if not chosen.shows(event) or (event.kind == "warning" and quiet):
                continue
            _write_output(lines.render(event) if as_json else watch_render.render_text(event))
            if event.kind not in ("state", "synced", "warning"):  # --count counts changes only
                counted += 1
                if args.count is not None and counted >= args.count:
                    break
    finally:
        events.close()
    return EXIT_OK


def _note(text: str) -> None:
    _say(f"{PROG}: note: {escape(text)}")


def _write_bytes(data: bytes) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    with _output_errors():
        if stream is None:
            raise OSError(errno.EBADF, "stdout takes no bytes")
        sys.stdout.flush()
        stream.write(data)
        stream.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
    guard_standard_fds()
    try:
        # A one-shot run allocates and drops; the collector only costs it time (see gc_paused).
        # watch turns it back on for itself.
        with ops.gc_paused():
            return run(argv)
    except UsageError as error:
        # The message may quote what the user typed: escaped, it stays one harmless line.
        _say(f"{PROG}: error: {escape(str(error))}")
        return EXIT_USAGE
    except NetnsUnreadable as error:
        _say(f"{PROG}: error: {escape(str(error))}")
        return EXIT_NETNS_UNREADABLE
    except OutputError as error:
        _say(f"{PROG}: error: {escape(str(error))}")
        return EXIT_OUTPUT
    except DrawError as error:
        _say(f"{PROG}: error: {escape(str(error))}")
        return EXIT_NO_GRAPHVIZ
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`vethpeer list | head`): not an error worth a traceback.
        _silence_stdout()
        return EXIT_OK
    except OSError as error:
        reason = error.strerror or str(error)
        hint = " (try as root)" if denied(error) else ""
        _say(f"{PROG}: error: cannot scan this host: {escape(reason)}{hint}")
        return EXIT_FAILURE
