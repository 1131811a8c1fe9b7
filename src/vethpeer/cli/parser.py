"""The command line's grammar: options shared by every command, and one parser per command.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn, Optional

from .. import __version__
from ..errors import UsageError
from .codes import EXIT_CODES_HELP, PROG
from .output import _say, _write_output


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it ($COLUMNS, then stdout's
    terminal, else 80), without importing shutil: argparse makes a help formatter for every
    option it is given, and shutil brings bz2, lzma and fnmatch (3 ms of every run) with it."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: Optional[int] = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

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


#: What every --netns help says it takes.
NETNS_HELP = ("a /run/netns name, a path to a namespace file, pid:PID, or an owner "
              "(docker:NAME, pod:NAMESPACE/NAME, a bare container name)")


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog=PROG, parents=[common],
        description="Where is the other end of this veth? Pairs every veth and netkit across all "
                    "network namespaces by the kernel's own evidence.",
        epilog="Without a command, 'list' runs. " + EXIT_CODES_HELP,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_lookups(commands, common)
    _add_graph(commands, common)
    _add_show(commands, common)
    _add_tables(commands, common)
    _add_watch(commands, common)
    _add_extras(commands, common)
    return parser


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after the command word."""
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
    return common


def _add_lookups(commands: Any, common: argparse.ArgumentParser) -> None:
    """peer and trace: one interface, looked up by name (show is added after graph: the order of
    the help)."""
    peer = commands.add_parser("peer", parents=[common], help="the other end of an interface",
                               description="Show the other end of IFNAME. Without --netns, every "
                                           "namespace is searched and every match answered.",
                               epilog=EXIT_CODES_HELP)
    peer.add_argument("ifname", metavar="IFNAME",
                      help="interface name (an altname works; 'name@ifN' as ip prints it too)")
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
    trace.add_argument("--netns", "-n", metavar="NS", help="only in this namespace: " + NETNS_HELP)


def _add_graph(commands: Any, common: argparse.ArgumentParser) -> None:
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
                       help="only this namespace and what is one edge away from it: " + NETNS_HELP)
    graph.add_argument("--around", metavar="IFNAME",
                       help="only what is connected to IFNAME (within --hops edges if given); with "
                            "--netns, IFNAME is looked up in that namespace")
    graph.add_argument("--hops", type=int, metavar="N", help="with --around: at most N edges away")
    graph.add_argument("--kind", metavar="KIND[,KIND]", action="append",
                       help="only interfaces of these kinds (veth, bridge, vxlan, ..., 'device' for those "
                            "without a kind: physical NICs); repeatable")
    graph.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")


def _add_show(commands: Any, common: argparse.ArgumentParser) -> None:
    show = commands.add_parser("show", parents=[common], help="one interface and everything it is plugged "
                               "into", description="Show IFNAME with every relation the kernel proves: its "
                               "veth peer, master (bridge, bond, ovs-system) and ports, the device it sits "
                               "on (macvlan, ipvlan, vlan) and those sitting on it, tunnel parameters "
                               "(vxlan, geneve, gre, ipip, sit, ...) and underlay, and the processes holding "
                               "a tun/tap device. Without --netns, every namespace is searched and every "
                               "match shown.",
                               epilog=EXIT_CODES_HELP)
    show.add_argument("ifname", metavar="IFNAME",
                      help="interface name (an altname works; 'name@ifN' as ip prints it too)")
    show.add_argument("--netns", "-n", metavar="NS", help="only in this namespace: " + NETNS_HELP)


def _add_tables(commands: Any, common: argparse.ArgumentParser) -> None:
    commands.add_parser("list", parents=[common], help="every veth pair on the host, then the "
                        "ends whose peer could not be resolved (the default)")
    commands.add_parser("namespaces", parents=[common], help="every network namespace and what "
                        "holds it")


def _add_watch(commands: Any, common: argparse.ArgumentParser) -> None:
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
    watch.add_argument("--netns", "-n", metavar="NS", help="only events touching this namespace: " + NETNS_HELP)


def _add_extras(commands: Any, common: argparse.ArgumentParser) -> None:
    """completion and demo."""
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


# --- the standard streams -------------------------------------------------------------------------
