"""A stand-in for ``vethpeer watch --json --events-only``, used only to debug bench_watch.py.

NOT the product: it runs ``vethpeer list --json`` every ``--interval`` seconds (0.5 by default) and
prints, as JSON lines in the shape of the watch contract, the difference between two runs:
``pair-appeared`` / ``pair-vanished`` (``"a"``, ``"b"``: the LINK objects of ``list --json``) and
``netns-appeared`` / ``netns-vanished`` (``"netns"``: the namespace object, taken from the links of
that namespace, so a namespace with no pair end or unresolved end is not seen). It prints one
``{"event": "synced"}`` line after the first run. Ctrl-C exits 130 with one line on stderr.

    python bench/_watch_standin.py [--json] [--events-only] [--interval S]
    python bench/bench_watch.py --cmd "python bench/_watch_standin.py --json --events-only"
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, FrozenSet, List, NoReturn, Optional, Sequence, Tuple

EndKey = Tuple[int, int, int]  # (netns dev, netns inode, ifindex)


def _interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def rfc3339(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def end_key(link: Dict[str, Any]) -> EndKey:
    return (link["netns"]["dev"], link["netns"]["inode"], link["ifindex"])


def ns_key(netns: Dict[str, Any]) -> Tuple[int, int, str]:
    """(dev, inode, name): the kernel reuses a freed namespace's inode within a poll under churn, and
    list --json carries no cookie, so the name tells the new namespace from the old one."""
    return (netns["dev"], netns["inode"], netns["name"] or netns["label"])


def scan() -> Tuple[Dict[FrozenSet[EndKey], Dict[str, Any]], Dict[Tuple[int, int, str], Dict[str, Any]]]:
    """One ``vethpeer list --json -q`` run: pairs by their two ends, namespaces by (dev, inode)."""
    out = subprocess.run([sys.executable, "-m", "vethpeer", "list", "--json", "-q"], capture_output=True,
                         check=True).stdout
    doc = json.loads(out)
    pairs: Dict[FrozenSet[EndKey], Dict[str, Any]] = {}
    namespaces: Dict[Tuple[int, int, str], Dict[str, Any]] = {}
    for pair in doc["pairs"]:
        pairs[frozenset((end_key(pair["a"]), end_key(pair["b"])))] = pair
        for link in (pair["a"], pair["b"]):
            namespaces[ns_key(link["netns"])] = link["netns"]
    for item in doc["unresolved"]:
        namespaces[ns_key(item["link"]["netns"])] = item["link"]["netns"]
    return pairs, namespaces


def emit(event: str, **fields: Any) -> None:
    line = dict({"version": 1, "time": rfc3339(time.time()), "event": event}, **fields)
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="stand-in for vethpeer watch (bench debugging only)")
    parser.add_argument("--json", action="store_true", help="accepted; output is always JSON lines")
    parser.add_argument("--events-only", action="store_true", help="do not print the initial state")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between list runs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        pairs, namespaces = scan()
        if not args.events_only:
            for ns in namespaces.values():
                emit("state", of="netns", netns=ns)
            for pair in pairs.values():
                emit("state", of="pair", a=pair["a"], b=pair["b"])
        emit("synced")
        while True:
            time.sleep(args.interval)
            new_pairs, new_namespaces = scan()
            events: List[Tuple[str, Dict[str, Any]]] = []
            events += [("netns-appeared", {"netns": new_namespaces[k]})
                       for k in new_namespaces.keys() - namespaces.keys()]
            events += [("pair-appeared", {"a": new_pairs[k]["a"], "b": new_pairs[k]["b"]})
                       for k in new_pairs.keys() - pairs.keys()]
            events += [("pair-vanished", {"a": pairs[k]["a"], "b": pairs[k]["b"]})
                       for k in pairs.keys() - new_pairs.keys()]
            events += [("netns-vanished", {"netns": namespaces[k]})
                       for k in namespaces.keys() - new_namespaces.keys()]
            for kind, fields in events:
                emit(kind, **fields)
            pairs, namespaces = new_pairs, new_namespaces
    except KeyboardInterrupt:
        print("vethpeer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
