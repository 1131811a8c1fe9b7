"""A real Mininet network for tests/test_live_mininet.py, run with the python3 that has Debian's
``mininet`` package: ``python3 mininet_net.py tree|linear PREFIX``.

Linux bridges as switches and no controller (no Open vSwitch needed); every host and switch name
starts with PREFIX, so the interfaces Mininet makes (PREFIXh1-eth0, PREFIXs1-eth1, the bridges) are
all the test's. Prints one JSON line (hosts -> shell pid, switches, links as interface pairs),
then waits for its stdin to close and stops the network. Mininet's resource-limit fix-ups (host
sysctls) are skipped, and ``mn -c`` is never run: it removes far more than this network.
"""

from __future__ import annotations

import json
import sys

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import LinearTopo
from mininet.topolib import TreeTopo


def prefixed(base: type, prefix: str) -> type:
    class Prefixed(base):  # type: ignore[misc, valid-type]
        def addHost(self, name, **opts):
            return super().addHost(prefix + name, **opts)

        def addSwitch(self, name, **opts):
            return super().addSwitch(prefix + name, **opts)

    return Prefixed


def main() -> int:
    shape, prefix = sys.argv[1], sys.argv[2]
    setLogLevel("warning")
    topo = prefixed(TreeTopo, prefix)(depth=2, fanout=2) if shape == "tree" else prefixed(LinearTopo, prefix)(k=3)
    Mininet.inited = True  # skips Mininet.init(): its fixLimits() raises host sysctls and rlimits
    net = Mininet(topo=topo, switch=LinuxBridge, controller=None, build=False)
    try:
        net.build()
        net.start()
        links = [[link.intf1.name, link.intf2.name] for link in net.links]
        print(json.dumps({"hosts": {h.name: h.pid for h in net.hosts}, "switches": [s.name for s in net.switches],
                          "links": links}), flush=True)
        sys.stdin.read()
    finally:
        net.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
