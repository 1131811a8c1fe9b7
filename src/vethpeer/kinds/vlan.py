"""802.1Q/802.1ad vlan devices: on a lower device (IFLA_LINK)."""

from .base import Kind

KINDS = (Kind(("vlan",), link="lower"),)
