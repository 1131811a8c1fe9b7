"""The IP tunnel family: gre and gretap, ip6gre and ip6gretap (IFLA_GRE_* attributes), ipip, sit
and ip6tnl (IFLA_IPTUN_*): each with its local and remote address and the underlay device it is
bound to, if any.

The layout is include/uapi/linux/if_tunnel.h's; the addresses are 4 bytes for gre, gretap, ipip
and sit, 16 for the ip6 kinds. The underlay (IFLA_GRE_LINK, IFLA_IPTUN_LINK: parms.link) is an
ifindex in the tunnel's *link* namespace, ip_tunnel_get_link_net()'s tunnel->net (ip6_tnl's
likewise), which rtnetlink reports as IFLA_LINK_NETNSID once the device sits in another one:
the same rule as vxlan's. This test kernel has none of these modules: tests/data/gre_build.py
records what they send.
"""

from .base import BYTES, U32, Kind

# IFLA_INFO_DATA of gre, gretap, ip6gre, ip6gretap.
IFLA_GRE_LINK = 1
IFLA_GRE_LOCAL = 6
IFLA_GRE_REMOTE = 7

# IFLA_INFO_DATA of ipip, sit, ip6tnl.
IFLA_IPTUN_LINK = 1
IFLA_IPTUN_LOCAL = 2
IFLA_IPTUN_REMOTE = 3

KINDS = (
    Kind(("gre", "gretap", "ip6gre", "ip6gretap"),
         data=((IFLA_GRE_LOCAL, "tunnel_local", BYTES), (IFLA_GRE_REMOTE, "tunnel_remote", BYTES),
               (IFLA_GRE_LINK, "tunnel_link", U32)),
         underlay="tunnel_link", tunnel=True, shape="cds"),
    Kind(("ipip", "sit", "ip6tnl"),
         data=((IFLA_IPTUN_LOCAL, "tunnel_local", BYTES), (IFLA_IPTUN_REMOTE, "tunnel_remote", BYTES),
               (IFLA_IPTUN_LINK, "tunnel_link", U32)),
         underlay="tunnel_link", tunnel=True, shape="cds"),
)
