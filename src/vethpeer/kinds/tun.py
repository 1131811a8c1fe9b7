"""tun/tap devices: the processes holding them open are found by discovery (``TunFile``)."""

from .base import Kind

KINDS = (Kind(("tun",), shape='box, style=filled, fillcolor="#eeeeff"'),)
