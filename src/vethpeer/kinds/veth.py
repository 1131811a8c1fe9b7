"""veth: a pair of devices, each the other's peer (IFLA_LINK + IFLA_LINK_NETNSID)."""

from .base import Kind

KINDS = (Kind(("veth",), link="peer"),)
