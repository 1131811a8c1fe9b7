"""vxlan: a tunnel over UDP, optionally bound to an underlay device.

IFLA_VXLAN_LINK is the underlay's ifindex in the vxlan's *link* namespace: vxlan_get_link_net()
returns vxlan->net, the namespace it was created in (where vxlan_dev_configure looked
remote_ifindex up), which rtnetlink reports as IFLA_LINK_NETNSID once the device has moved
elsewhere (drivers/net/vxlan/vxlan_core.c).
"""

from .base import BE16, BYTES, U32, Kind

# IFLA_INFO_DATA of a vxlan (include/uapi/linux/if_link.h).
IFLA_VXLAN_ID = 1
IFLA_VXLAN_GROUP = 2
IFLA_VXLAN_LINK = 3
IFLA_VXLAN_LOCAL = 4
IFLA_VXLAN_PORT = 15  # network byte order
IFLA_VXLAN_GROUP6 = 16
IFLA_VXLAN_LOCAL6 = 17

KINDS = (Kind(
    ("vxlan",),
    data=((IFLA_VXLAN_ID, "vni", U32), (IFLA_VXLAN_LOCAL, "tunnel_local", BYTES),
          (IFLA_VXLAN_LOCAL6, "tunnel_local", BYTES), (IFLA_VXLAN_GROUP, "tunnel_remote", BYTES),
          (IFLA_VXLAN_GROUP6, "tunnel_remote", BYTES), (IFLA_VXLAN_PORT, "tunnel_port", BE16),
          (IFLA_VXLAN_LINK, "tunnel_link", U32)),
    underlay="tunnel_link", tunnel=True, shape="cds"),)
