"""ipvlan and ipvtap: devices on a lower device (IFLA_LINK), as macvlan, sharing its MAC and told
apart by IP; shown with their mode (l2, l3, l3s) and flags (bridge, private, vepa) as iproute2
names them (``ip -d link show``).

The layout is include/uapi/linux/if_link.h's: IFLA_IPVLAN_MODE and IFLA_IPVLAN_FLAGS, both u16
(drivers/net/ipvlan/ipvlan_main.c, ipvlan_nl_fillinfo). This test kernel has no ipvlan module:
tests/data/ipvlan_build.py records what it sends.
"""

from typing import Any, Mapping

from .base import U16, Facts, Kind

IFLA_IPVLAN_MODE = 1
IFLA_IPVLAN_FLAGS = 2

#: enum ipvlan_mode.
MODES = {0: "l2", 1: "l3", 2: "l3s"}
IPVLAN_F_PRIVATE = 0x01
IPVLAN_F_VEPA = 0x02


def describe(data: Mapping[str, Any]) -> Facts:
    facts = []
    mode = data.get("ipvlan_mode")
    if mode is not None:
        facts.append(("mode", MODES.get(mode, str(mode))))
    flags = data.get("ipvlan_flags")
    if flags is not None:
        # As iproute2 prints them: private, vepa, or (neither) bridge, the default.
        named = "private" if flags & IPVLAN_F_PRIVATE else "vepa" if flags & IPVLAN_F_VEPA else "bridge"
        facts.append(("flags", named))
    return tuple(facts)


KINDS = (Kind(("ipvlan", "ipvtap"), link="lower",
              data=((IFLA_IPVLAN_MODE, "ipvlan_mode", U16), (IFLA_IPVLAN_FLAGS, "ipvlan_flags", U16)),
              describe=describe),)
