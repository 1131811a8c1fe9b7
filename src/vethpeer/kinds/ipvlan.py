"""ipvlan and ipvtap: devices on a lower device (IFLA_LINK), as macvlan."""

from .base import Kind

KINDS = (Kind(("ipvlan", "ipvtap"), link="lower"),)
