"""The host: syscall wrappers, netlink and bounded file reads; what the rooms above build on.

* ``procfs``: the host's files under ``--root`` and ``/proc``, read with a bound and never raising
  (``Host``), and the small parsers every runtime's owner code shares;
* ``safefile``: opening a path beneath a root without leaving it (openat2, or a checked walk);
* ``ops``: namespace syscalls (setns in a throwaway thread, pidfd_getfd, nsfs ioctls), the
  capability mask, the collector's pause and the open-file limit;
* ``kernel``: what discovery asks beyond files (kcmp, thread pidfds, TUNGETDEVNETNS);
* ``netlink``: rtnetlink messages: constants, requests and the pure parsers of replies;
* ``channel``: the rtnetlink socket of one namespace that carries them (``Channel``);
* ``early``: a file (the mount table) read in a thread while the pipeline is still imported;
* ``changes``: signs the host changed (the mount table, subscribed rtnetlink groups), shared by
  discovery's ``ChangeWatch`` and ``watch``'s signals.

Nothing is imported here: ``import vethpeer.host`` costs nothing until a room is used.
"""
