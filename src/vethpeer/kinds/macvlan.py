"""macvlan and macvtap: devices on a lower device (IFLA_LINK, in the namespace IFLA_LINK_NETNSID
names when it is another one). ipvlan and vlan are their own files."""

from .base import Kind

KINDS = (Kind(("macvlan", "macvtap"), link="lower"),)
