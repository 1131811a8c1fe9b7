"""geneve: a tunnel over UDP (no underlay device of its own)."""

from .base import BE16, BYTES, U32, Kind

# IFLA_INFO_DATA of a geneve device (include/uapi/linux/if_link.h).
IFLA_GENEVE_ID = 1
IFLA_GENEVE_REMOTE = 2
IFLA_GENEVE_PORT = 5  # network byte order
IFLA_GENEVE_REMOTE6 = 7

KINDS = (Kind(
    ("geneve",),
    data=((IFLA_GENEVE_ID, "vni", U32), (IFLA_GENEVE_REMOTE, "tunnel_remote", BYTES),
          (IFLA_GENEVE_REMOTE6, "tunnel_remote", BYTES), (IFLA_GENEVE_PORT, "tunnel_port", BE16)),
    tunnel=True, shape="cds"),)
