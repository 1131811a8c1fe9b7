"""Linux bridges and bonds: masters their ports name with IFLA_MASTER (see ``model.Relation``)."""

from .base import Kind

_MASTER = 'box, style="rounded,bold"'

KINDS = (Kind(("bridge",), shape=_MASTER), Kind(("bond",), shape=_MASTER))
