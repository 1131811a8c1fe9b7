"""From a Snapshot to a Topology: what the kernel's answers prove, and what to ask it next. Pure.

* ``questions``: what is asked (RTM_GETNSID by fd, through a hub, a hint about a hidden peer);
* ``facts``: what each namespace's nsid table is known to hold, shared by the two below;
* ``ends``: every veth/netkit end classified, and the pairs the known facts prove;
* ``pairing``: on top of that, the plan of questions (``Pairing``, ``drive``);
* ``relations``: master, lower and underlay devices;
* ``build``: the Topology (``resolve``).
"""

from .build import decode_name, format_address, format_ip, format_mac, operstate_name, resolve
from .pairing import MAX_ROUNDS, Pairing, drive
from .questions import Answer, EndKey, FdQuestion, HintQuestion, Question, ViaQuestion

__all__ = [
    "MAX_ROUNDS",
    "Answer",
    "EndKey",
    "FdQuestion",
    "HintQuestion",
    "Pairing",
    "Question",
    "ViaQuestion",
    "decode_name",
    "drive",
    "format_address",
    "format_ip",
    "format_mac",
    "operstate_name",
    "resolve",
]
