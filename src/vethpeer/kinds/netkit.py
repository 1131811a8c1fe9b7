"""netkit (Linux 6.7): a veth-like pair driven by BPF programs; paired exactly as veth."""

from .base import Kind

KINDS = (Kind(("netkit",), link="peer"),)
