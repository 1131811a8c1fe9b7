"""Owners from recorded host trees (tests/data/hosts/<case>/, written by build.py): pure, no root.

Each case is a small host filesystem with the state files a runtime leaves and a /proc with the
processes' cgroup, cmdline and stat files; namespaces.json is what discovery would have found.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from vethpeer.host.procfs import CAP_JSON
from vethpeer.model import Holder, Holders, Namespace, NamespaceId
from vethpeer.owners import Host, Owner, holder_names, identify, port_of, process_owner, scan
from vethpeer.owners.nspawn import name_from_cmdline

HOSTS = Path(__file__).parent / "data" / "hosts"
ROOT_NS = 4026531840


def ns_facts(inode: int, names: Tuple[str, ...], paths: Tuple[str, ...], pids: Tuple[int, ...],
             holder_pids: Tuple[int, ...], root: bool, userns_uid: Optional[int] = 0) -> Namespace:
    """What discovery would have found: ``holder_pids`` hold it by an open fd (number 3)."""
    holders = Holders(names=names, paths=paths, pids=pids, fds=tuple(Holder(pid, 3) for pid in holder_pids))
    return Namespace(NamespaceId(4, inode), None, holders, root=root, userns_uid=userns_uid)


def facts_of(case_dir: Path) -> List[Namespace]:
    # Hand-made trees keep discovery's view in namespaces.json; trees recorded from the real
    # runtimes (real-*) keep it, with the owners each runtime's own tool named, in expected.json.
    if (case_dir / "namespaces.json").exists():
        entries = json.loads((case_dir / "namespaces.json").read_text())
    else:
        entries = json.loads((case_dir / "expected.json").read_text())["namespaces"]
    return [
        ns_facts(e["inode"], tuple(e["names"]), tuple(e["paths"]), tuple(e["pids"]),
                       tuple(e["holder_pids"]), e["root"], e.get("userns_uid", 0))
        for e in entries
    ]


def owners_of(case: str, root: Optional[Path] = None) -> Dict[int, Tuple[Owner, ...]]:
    case_dir = root or HOSTS / case
    run = scan(facts_of(HOSTS / case), Host(str(case_dir)))
    assert run.failures == []
    return run.result()


def brief(owners: Tuple[Owner, ...]) -> List[Tuple[str, str]]:
    return [(o.kind, o.name) for o in owners]


# -- Docker --------------------------------------------------------------------------------

def test_docker_cgroup_v1_cgroupfs_names_containers_from_state_under_the_configured_data_root() -> None:
    found = owners_of("docker-v1-cgroupfs")
    web, side = found[4026532001]
    assert (web.kind, web.name) == ("docker", "shop-web-1")
    assert web.id == "4c1e2b2a0cdd11f5b8e7e2b2f3d4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c"
    assert web.get("compose_project") == "shop" and web.get("compose_service") == "web"
    assert "SandboxKey" in web.how
    # `--network container:shop-web-1`: no namespace of its own, named on the one it shares, after it.
    assert (side.name, side.get("network")) == ("sidecar", "container:shop-web-1")
    # `--network none`: its own namespace; the stopped container whose old sandbox path it is names nothing.
    assert brief(found[4026532002]) == [("docker", "lonely")]
    # The state directory lost: the cgroup path still gives the id.
    (gone,) = found[4026532003]
    assert (gone.kind, gone.name, gone.id) == ("docker", "444444444444", "4" * 64)
    assert gone.how.startswith("cgroup /docker/")
    # Running but absent from containerd's task list: its cgroup leads to its config.
    (late,) = found[4026532004]
    assert (late.name, late.id) == ("late", "7" * 64)


def test_docker_host_network_container_is_named_on_the_root_namespace() -> None:
    found = owners_of("docker-v1-cgroupfs")
    assert brief(found[ROOT_NS]) == [("docker", "hostnet")]
    assert found[ROOT_NS][0].get("network") == "host"


def test_docker_cgroup_v2_systemd_driver_and_a_truncated_config() -> None:
    found = owners_of("docker-v2-systemd")
    assert brief(found[4026532101]) == [("docker", "api")]
    # config.v2.json cut off mid-write: no state, but the systemd scope names the container.
    (broken,) = found[4026532102]
    assert (broken.name, broken.id) == ("666666666666", "6" * 64)
    assert "docker-" in broken.how and ".scope" in broken.how


def test_kubelet_pod_through_cri_dockerd_is_named_as_a_pod_before_its_containers() -> None:
    pod, pause, app = owners_of("docker-v2-systemd")[4026532103]
    assert (pod.kind, pod.name, pod.id) == ("pod", "default/web", "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c")
    assert (pod.get("containers"), pod.get("runtime")) == ("nginx", "docker")
    assert (pause.kind, app.kind) == ("docker", "docker")
    assert app.get("network") == "container:" + pause.name


# -- Kubernetes ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["k8s-containerd-cgroupfs", "k8s-containerd-systemd"])
def test_kubelet_pods_on_containerd(case: str) -> None:
    found = owners_of(case)
    (pod,) = found[4026532201]  # the cni- namespace, tied to its pod through the sandbox's spec
    assert (pod.kind, pod.name, pod.id) == ("pod", "default/web", "0f7c2a55-1f3e-4d8b-9c6a-2b4e8d1a7c93")
    assert pod.get("containers") == "log-shipper,nginx"
    assert pod.get("runtime") == "containerd"
    assert "cni-8d1e2f3a" in pod.how
    # No task state for this pod: its kubepods cgroup gives the uid, the kubelet's log dir the name.
    (logged,) = found[4026532202]
    assert (logged.kind, logged.name) == ("pod", "monitoring/node-exporter-x7k2p")
    assert logged.id == "7d3e5b1a-8c2f-4a6e-b9d0-1e2f3a4b5c6d"
    assert logged.get("containers") == "node-exporter"
    # A plain containerd task (no Kubernetes annotations) in a cni- namespace.
    (task,) = found[4026532203]
    assert (task.kind, task.name, task.get("namespace")) == ("containerd", "vethpeer-task", "default")
    # One whose namespace runc made (no path in the spec): init.pid ties it.
    (adhoc,) = found[4026532204]
    assert (adhoc.kind, adhoc.name, adhoc.id) == ("containerd", "adhoc-web", "adhoc")
    assert adhoc.how == "containerd task init.pid"


def test_kubelet_pod_on_cri_o() -> None:
    (pod,) = owners_of("k8s-crio")[4026532301]
    assert (pod.kind, pod.name, pod.id) == ("pod", "data/db-0", "3c9f1e2d-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
    assert (pod.get("containers"), pod.get("runtime")) == ("postgres", "cri-o")


SPEC = {"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", 'echo "annotations":{} "namespaces":[]']},
        "annotations": {"io.container.manager": "libpod", "n": 1},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}]}}


@pytest.mark.parametrize(
    ("spec", "indent", "expected"),
    [
        (SPEC, None, ({"io.container.manager": "libpod"}, "/run/netns/x")),
        (SPEC, 4, ({"io.container.manager": "libpod"}, "/run/netns/x")),
        # An annotation named like the key: the quick read is unsure and parses everything.
        ({**SPEC, "annotations": {"namespaces": "[]"}}, None, ({"namespaces": "[]"}, "/run/netns/x")),
        ({k: v for k, v in SPEC.items() if k != "annotations"}, None, ({}, "/run/netns/x")),
        ({**SPEC, "linux": {"namespaces": [{"type": "pid"}]}}, None, ({"io.container.manager": "libpod"}, "")),
        ({**SPEC, "linux": {}}, None, ({"io.container.manager": "libpod"}, None)),
    ],
)
def test_oci_spec_quick_read_agrees_with_a_full_parse(spec: Dict[str, Any], indent: Optional[int],
                                                      expected: Tuple[Dict[str, str], Optional[str]]) -> None:
    from vethpeer.owners import storage

    raw = json.dumps(spec, indent=indent).encode()
    assert storage.read_spec(raw) == expected
    full = json.loads(raw)
    assert (storage.annotations_of(full), storage.spec_netns(full)) == expected


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"annotations":{"a":"b"', b"\xff\xfe", b'{"annotations":[],"namespaces":{}}']
)
def test_oci_spec_quick_read_of_broken_text(raw: bytes) -> None:
    from vethpeer.owners import storage

    result = storage.read_spec(raw)
    assert result is None or result == ({}, None)


# -- Podman --------------------------------------------------------------------------------

def rootless_copy(tmp_path: Path) -> Path:
    """The rootless fixture with alice's files hers (uid 1000), as on a real host: a user's state
    is read only when it is the user's own."""
    if os.geteuid() != 0:
        pytest.skip("giving the fixture's files to uid 1000 needs root")
    root = tmp_path / "host"
    shutil.copytree(HOSTS / "podman-rootless", root, symlinks=True)
    for top in (root / "home/alice", root / "run/user/1000"):
        for path in [top, *top.rglob("*")]:
            os.lchown(path, 1000, 1000)
    return root


def test_rootless_podman_container_from_the_users_storage(tmp_path: Path) -> None:
    (ctr,) = owners_of("podman-rootless", rootless_copy(tmp_path))[4026532401]
    assert (ctr.kind, ctr.name, ctr.get("rootless_uid")) == ("podman", "alice-web", "1000")
    assert ctr.how == "storage userdata pidfile"  # its netns bind mount is not in the host's mount table


def test_a_users_state_that_is_not_theirs_is_not_read() -> None:
    """The fixture as checked out: alice's home belongs to whoever checked it out, not to her."""
    if os.stat(HOSTS / "podman-rootless/home/alice").st_uid == 1000:
        pytest.skip("this checkout's files belong to uid 1000")
    host = Host(str(HOSTS / "podman-rootless"))
    run = scan(facts_of(HOSTS / "podman-rootless"), host)
    # Its cgroup still says which container it is (the kernel's word), but not what alice named it.
    assert [o.name for o in run.result().get(4026532401, ())] in ([], ["0123456789ab"])
    assert any("alice" in item.path and "user 1000" in item.reason for item in host.refused), host.refused


def test_podman_pod_name_from_the_state_database_and_infra_last() -> None:
    found = owners_of("podman-pod")
    app, infra = found[4026532501]
    assert (app.name, app.get("pod")) == ("shop-db", "shop")
    assert (infra.name, infra.get("infra"), infra.get("pod")) == ("e1d2c3b4a596-infra", "true", "shop")
    (solo,) = found[4026532502]
    assert (solo.name, solo.get("pod")) == ("solo", None)


def test_podman_pod_without_a_database_keeps_the_pod_id_only(tmp_path: Path) -> None:
    root = tmp_path / "host"
    shutil.copytree(HOSTS / "podman-pod", root, symlinks=True)
    os.remove(root / "var/lib/containers/storage/libpod/bolt_state.db")
    app, _infra = owners_of("podman-pod", root)[4026532501]
    assert (app.get("pod"), app.get("pod_id")) == (None, "e1d2c3b4a596")


# -- LXC, LXD, nspawn, libvirt -------------------------------------------------------------

def test_lxc_container_by_payload_cgroup_and_by_its_monitor_alone() -> None:
    found = owners_of("lxc")
    (c1,) = found[4026532601]
    assert (c1.kind, c1.name, c1.get("utsname")) == ("lxc", "c1", "c1-host")
    (c2,) = found[4026532602]  # only the monitor's fd holds it
    assert (c2.kind, c2.name, c2.get("utsname")) == ("lxc", "c2", "c2")
    assert c2.how == "monitor pid 5390"


def test_lxd_containers_with_their_projects() -> None:
    found = owners_of("lxd")
    (web,) = found[4026532701]
    assert (web.kind, web.name, web.get("project")) == ("lxd", "web", "default")
    (db,) = found[4026532702]
    assert (db.kind, db.name, db.get("project"), db.get("instance")) == ("lxd", "blog/db", "blog", "db")


def test_lxd_same_name_in_two_projects_is_told_apart() -> None:
    """Before: both were 'lxd: c1'; lxd:c1 was ambiguous and nothing named the second one."""
    from vethpeer import query
    from vethpeer.model import Namespace, NamespaceId, Topology, owner_label

    found = owners_of("lxd")
    (default,), (other,) = found[4026532703], found[4026532704]
    assert (owner_label(default), owner_label(other)) == ("lxd: c1", "lxd: proj/c1")
    namespaces = tuple(Namespace(NamespaceId(4, inode), None, Holders(), link_count=0, owners=owners)
                       for inode, owners in ((4026532703, (default,)), (4026532704, (other,))))
    topology = Topology(namespaces, {}, (), (), (), "pid 1")
    assert query.select(topology, "lxd:c1").inode == 4026532703
    assert query.select(topology, "lxd:proj/c1").inode == 4026532704
    assert query.select(topology, "lxd:proj_c1").inode == 4026532704
    assert query.select(topology, "lxc:proj/c1").inode == 4026532704


def test_incus_containers_by_cgroup_and_monitor_with_their_projects() -> None:
    """Before: Incus containers were named 'lxd: ...' (its lxcpath sat in LXD's list)."""
    from vethpeer import query
    from vethpeer.model import Topology, owner_label

    found = owners_of("incus")
    (web,), (api,), (c3,) = found[4026532901], found[4026532902], found[4026532903]
    assert (web.kind, web.name, web.get("project"), web.get("lxcpath")) == (
        "incus", "web", "default", "/var/lib/incus/containers")
    assert (api.kind, api.name, api.get("project"), api.get("instance")) == ("incus", "dev/api", "dev", "api")
    assert [owner_label(o) for o in (web, api, c3)] == ["incus: web", "incus: dev/api", "incus: c3"]
    assert c3.how == "monitor pid 14200"  # only the monitor holds it; its title names Incus's lxcpath
    # Listed by both LXD and Incus: its cgroup cannot say whose, so it is LXC's alone.
    assert brief(found[4026532904]) == [("lxc", "shared")]
    assert brief(found[4026532905]) == [("lxd", "old")]  # LXD's own, beside Incus
    namespaces = tuple(Namespace(NamespaceId(4, inode), None, Holders(), link_count=0, owners=found[inode])
                       for inode in (4026532901, 4026532902, 4026532903, 4026532904, 4026532905))
    topology = Topology(namespaces, {}, (), (), (), "pid 1")
    assert query.select(topology, "incus:dev/api").inode == 4026532902
    assert query.select(topology, "incus:dev_api").inode == 4026532902
    assert query.select(topology, "lxc:dev_api").inode == 4026532902
    assert query.select(topology, "lxc:shared").inode == 4026532904
    with pytest.raises(query.SelectorError):
        query.select(topology, "incus:old")
    with pytest.raises(query.SelectorError):
        query.select(topology, "lxd:web")


def test_mininet_hosts_by_their_shell_run_as_root_only() -> None:
    """Before: 'pid 15001 (bash)'. The live test (test_live_mininet.py) runs Mininet itself."""
    found = owners_of("mininet")
    (h1,) = found[4026533101]
    assert (h1.kind, h1.name, h1.get("shell"), h1.how, h1.label) == ("mininet", "h1", "15001", "shell pid 15001",
                                                                     "mininet: h1")
    assert brief(found[4026533102]) == [("mininet", "s1-host")]  # Mininet 2.2's shell
    # A user's shell in a namespace they made may say anything: not Mininet's word.
    assert brief(found[4026533103]) == [("process", "pid 15201 (bash)")]
    assert brief(found[4026533104]) == [("process", "pid 15301 (bash)")]


def test_nspawn_machines_registered_unregistered_and_from_their_scope() -> None:
    found = owners_of("nspawn")
    (box,) = found[4026532801]
    assert (box.kind, box.name, box.id) == ("machine", "my-box", "5b1c0a2e9d8f47a6b3c4d5e6f7a8b9c0")
    assert box.get("netif") == "12" and "LEADER=6001" in box.how
    assert brief(found[4026532802]) == [("machine", "second")]  # -M second on the supervisor
    assert brief(found[4026532803]) == [("machine", "build-7")]  # machine-build\x2d7.scope
    assert brief(found[4026532804]) == [("machine", "third")]  # --directory=.../third/, holder only


def test_a_stale_machine_file_does_not_name_whoever_has_the_leader_pid_now(tmp_path: Path) -> None:
    root = tmp_path / "host"
    shutil.copytree(HOSTS / "nspawn", root, symlinks=True)
    state = root / "run/systemd/machines/my-box"
    state.write_text(state.read_text().replace("LEADER=6001", "LEADER=6101"))  # now "second"'s init
    found = owners_of("nspawn", root)
    assert brief(found[4026532802]) == [("machine", "second")]
    # my-box is still found, by its scope; not by the stale leader.
    assert brief(found[4026532801]) == [("machine", "my-box")]
    assert found[4026532801][0].how.startswith("cgroup ")


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["systemd-nspawn", "-M", "a", "-D", "/x/b"], "a"),
        (["systemd-nspawn", "-Ma"], "a"),
        (["/usr/bin/systemd-nspawn", "--machine=a", "sh"], "a"),
        (["systemd-nspawn", "--register=no", "-D", "/srv/m2/"], "m2"),
        (["systemd-nspawn", "-i", "/var/lib/machines/img.raw"], "img"),
        (["systemd-nspawn", "--", "-M", "no"], None),
        (["systemd-nspawn", "-M"], None),
        (["sleep", "-M", "no"], None),
        ([], None),
    ],
)
def test_nspawn_command_lines(argv: List[str], name: Optional[str]) -> None:
    assert name_from_cmdline(argv) == name


def test_libvirt_lxc_domains_by_status_file_cgroup_and_controller() -> None:
    found = owners_of("libvirt-lxc")
    (one,) = found[4026532901]
    assert (one.kind, one.name, one.id) == ("libvirt-lxc", "lxc1", "a1b2c3d4-e5f6-4718-9a0b-c1d2e3f4a5b6")
    assert brief(found[4026532902]) == [("libvirt-lxc", "lxc2")]
    assert brief(found[4026532903]) == [("libvirt-lxc", "lxc3")]


# -- Neutron -------------------------------------------------------------------------------

def test_neutron_namespaces_by_name() -> None:
    found = owners_of("neutron")
    expected = {
        4026533001: ("dhcp", "network", "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"),
        4026533002: ("router", "router", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
        4026533003: ("snat", "router", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
        4026533004: ("floating-ip", "external_network", "7e8f9a0b-1c2d-4e3f-a4b5-c6d7e8f9a0b1"),
        4026533005: ("load-balancer", "load_balancer", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"),
        4026533006: ("metadata", "network", "3c4d5e6f-7a8b-4c9d-0e1f-2a3b4c5d6e7f"),
    }
    for inode, (role, what, uuid) in expected.items():
        (owner,) = found[inode]  # dnsmasq in qdhcp- is not a second owner: the name says more
        assert (owner.kind, owner.id, owner.get("role"), owner.get(what)) == ("neutron", uuid, role, uuid)
    assert 4026533007 not in found  # qrouter-not-a-uuid: no pid, no owner


@pytest.mark.parametrize(
    ("ifname", "expected"),
    [
        ("tap6f1c2d3e-4a", ("tap", "6f1c2d3e-4a", "port")),
        ("qr-1a2b3c4d-5e", ("qr-", "1a2b3c4d-5e", "port")),
        ("qg-1a2b3c4d-5e", ("qg-", "1a2b3c4d-5e", "port")),
        ("qvo0a1b2c3d-4e", ("qvo", "0a1b2c3d-4e", "port")),
        ("rfp-1a2b3c4d-5", ("rfp-", "1a2b3c4d-5", "router")),
        ("ha-0a1b2c3d-4e", ("ha-", "0a1b2c3d-4e", "port")),
        ("tapfoo", None),
        ("eth0", None),
        ("qr-1a2b3c4d", None),
    ],
)
def test_neutron_port_names(ifname: str, expected: Optional[Tuple[str, str, str]]) -> None:
    port = port_of(ifname)
    assert (None if port is None else (port.prefix, port.id_prefix, port.id_kind)) == expected


# -- the fallback, holders, --root --------------------------------------------------------

def test_process_fallback_and_holder_names() -> None:
    host = Host(str(HOSTS / "docker-v1-cgroupfs"))
    facts = [ns_facts(4026539999, (), (), (3828,), (), False),
             ns_facts(4026539998, (), (), (), (4306, 99999), False)]
    found = identify(facts, host)
    assert found[4026539999] == (process_owner(3828, host),)
    assert found[4026539999][0].name == "pid 3828 (dockerd)"
    # Held only (an fd, a socket): the holder is not its owner, it is named as a holder.
    assert 4026539998 not in found
    assert holder_names([4306, 99999, 4306], host) == {4306: "pid 4306 (sidecar)", 99999: "pid 99999"}


def test_holders_of_every_namespace_are_looked_at_once() -> None:
    """dockerd (or a test process) holding sockets in thousands of namespaces: its command line is
    read once per scan, not once per namespace."""
    reads: List[Tuple[int, str]] = []

    class Counting(Host):
        def read_pid(self, pid: int, leaf: str, cap: int = 65536) -> Optional[bytes]:
            reads.append((pid, leaf))
            return super().read_pid(pid, leaf, cap)

    facts = [ns_facts(4026540000 + i, (), (), (), (5390, 5290), False) for i in range(50)]
    run = scan(facts, Counting(str(HOSTS / "lxc")))
    assert run.failures == []
    assert len(reads) == len(set(reads)) <= 6
    # Both monitors hold every one of them: the first holder's container is named.
    assert {owners[0].name for owners in run.result().values()} == {"c2"}
    # dockerd's sockets in 50 namespaces: read once, and it owns none of them.
    reads.clear()
    facts = [ns_facts(4026540000 + i, (), (), (), (3828,), False) for i in range(50)]
    run = scan(facts, Counting(str(HOSTS / "docker-v1-cgroupfs")))
    assert run.result() == {}
    assert len(reads) == len(set(reads)) <= 3


def test_comm_that_is_not_utf8_survives_as_surrogate_escapes(tmp_path: Path) -> None:
    (tmp_path / "proc/42").mkdir(parents=True)
    (tmp_path / "proc/42/comm").write_bytes(b"caf\xe9\n")
    owner = process_owner(42, Host(str(tmp_path)))
    assert owner.name == "pid 42 (caf\udce9)"


def test_paths_seen_under_root_are_matched_in_the_hosts_spelling() -> None:
    case = HOSTS / "docker-v2-systemd"
    facts = [ns_facts(4026532101, (), (f"{case}/run/docker/netns/5f0e1d2c3b4a",), (), (), False)]
    found = identify(facts, Host(str(case), proc=str(case / "proc")))
    assert brief(found[4026532101]) == [("docker", "api")]


def test_an_empty_host_names_nothing_but_processes(tmp_path: Path) -> None:
    facts = [ns_facts(1, ("a",), ("/run/netns/a",), (), (), False), ns_facts(2, (), (), (), (), True)]
    assert identify(facts, Host(str(tmp_path))) == {}


# -- malformed, partial, unreadable --------------------------------------------------------

CORRUPTIONS = ["truncated", "garbage", "empty", "directory", "huge", "fifo", "dangling"]


def _corrupt(path: Path, how: str) -> None:
    data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    path.unlink()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "garbage":
        path.write_bytes(bytes(range(256)) * 4 + b'{"\xff\xfe": [1, 2')
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "directory":
        path.mkdir()
        (path / "config.json").write_bytes(b"{}")
    elif how == "huge":
        with open(path, "wb") as handle:  # sparse: costs no disk
            handle.truncate(CAP_JSON * 20)
    elif how == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(path.parent / "nowhere")


def _files(case_dir: Path) -> List[Path]:
    return sorted(p for p in case_dir.rglob("*") if p.is_file() and p.name not in ("namespaces.json", "expected.json"))


@pytest.mark.parametrize("case", sorted(p.name for p in HOSTS.iterdir() if p.is_dir()))
def test_every_state_file_broken_every_way_never_raises(case: str, tmp_path: Path) -> None:
    """Each file of the tree in turn truncated, garbage, empty, a directory, huge, a FIFO (which
    must not hang the scan) or a dangling symlink: no source fails, the other files still name
    what they name, and nothing is named that the intact tree does not name."""
    intact = owners_of(case)
    facts = facts_of(HOSTS / case)
    root = tmp_path / "host"
    shutil.copytree(HOSTS / case, root, symlinks=True)
    relative = [p.relative_to(root) for p in _files(root)]
    started = time.monotonic()
    for rel in relative:
        for how in CORRUPTIONS:
            target = root / rel
            saved = (HOSTS / case / rel).read_bytes()
            _corrupt(target, how)
            try:
                run = scan(facts, Host(str(root)))
                assert run.failures == [], (rel, how)
                for inode, owners in run.result().items():
                    assert inode in intact or owners[0].kind == "process", (rel, how, inode, owners)
            finally:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
                target.write_bytes(saved)
    assert time.monotonic() - started < 30


def _scan_as_nobody(facts: List[Namespace], root: Path) -> Tuple[Dict[int, List[Tuple[str, ...]]], List[Any]]:
    """identify as an unprivileged user (root reads past any mode bits): in a forked child that
    drops to nobody when the tests run as root."""
    if os.geteuid() != 0:
        run = scan(facts, Host(str(root)))
        return {k: brief(v) for k, v in run.result().items()}, run.failures
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            run = scan(facts, Host(str(root)))
            payload = {"owners": {str(k): brief(v) for k, v in run.result().items()}, "failures": run.failures}
            os.write(write_end, json.dumps(payload).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    payload = json.loads(data)
    owners = {int(k): [tuple(pair) for pair in v] for k, v in payload["owners"].items()}
    return owners, payload["failures"]


def test_state_files_without_read_permission_give_no_owner_and_no_failure() -> None:
    # Not pytest's tmp_path: its parents are 0700 and the unprivileged child must walk the tree.
    root = Path(tempfile.mkdtemp(prefix="vethpeer-owners-"))
    try:
        os.chmod(root, 0o755)
        host = root / "host"
        shutil.copytree(HOSTS / "docker-v1-cgroupfs", host, symlinks=True)
        for path in host.rglob("*"):
            if not path.is_symlink():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        for config in host.rglob("config.v2.json"):
            os.chmod(config, 0)
        os.chmod(host / "proc/4700/cgroup", 0)
        os.chmod(host / "etc/docker", 0)
        owners, failures = _scan_as_nobody(facts_of(HOSTS / "docker-v1-cgroupfs"), host)
        assert failures == []
        # No config readable: the cgroups still give the ids; names are the ids' first 12 digits.
        assert owners[4026532001] == [("docker", "4c1e2b2a0cdd"), ("docker", "9a8b7c6d5e4f")]
        # Nor the cgroup: the process itself.
        assert owners[4026532003] == [("process", "pid 4700 (redis-server)")]
    finally:
        shutil.rmtree(root)


def test_unreadable_files_give_no_owner(tmp_path: Path) -> None:
    """A state file that cannot be opened (here: a path through a regular file, ENOTDIR, since root
    reads past any mode bits) is no evidence."""
    root = tmp_path / "host"
    shutil.copytree(HOSTS / "docker-v2-systemd", root, symlinks=True)
    shutil.rmtree(root / "var/lib/docker/containers")
    (root / "var/lib/docker/containers").write_text("not a directory")
    (root / "proc/7001/cgroup").unlink()
    (root / "proc/7001/cgroup").mkdir()
    found = owners_of("docker-v2-systemd", root)
    assert found[4026532101][0].kind == "process"


@pytest.mark.parametrize("case", sorted(p.name for p in HOSTS.iterdir() if p.name.startswith("real-")))
def test_trees_recorded_from_the_real_runtimes(case: str) -> None:
    """Each namespace of a tree recorded from a real Docker, Podman, LXC, nspawn or containerd host
    gets (at least) the owners that runtime's own tool named (docker inspect, podman inspect,
    lxc-info, the nspawn supervisor, ctr's annotations)."""
    expected = json.loads((HOSTS / case / "expected.json").read_text())["namespaces"]
    found = owners_of(case)
    for entry in expected:
        wanted = {(o["kind"], o["name"]) for o in entry.get("owners", [])}
        assert wanted <= set(brief(found.get(entry["inode"], ()))), (entry["inode"], wanted)


def test_per_scan_reads_once_per_scan_and_again_in_the_next(tmp_path: Path) -> None:
    """Sources share state files (Podman and CRI-O the same storage): one read per scan, whoever
    asks first, and a fresh one for the next scan (the host changes between watch scans)."""
    from vethpeer.owners.base import Scan, per_scan

    calls: List[int] = []

    @per_scan
    def read(scan_: Scan) -> List[int]:
        """The docstring stays."""
        calls.append(1)
        return [len(calls)]

    host = Host(str(tmp_path), str(tmp_path / "proc"))
    first = Scan([], host)
    assert read(first) == [1] and read(first) == [1] and len(calls) == 1
    assert read(Scan([], host)) == [2] and len(calls) == 2
    assert read.__doc__ == "The docstring stays."


def test_each_source_declares_its_labels_selectors_and_watched_directories() -> None:
    """The runtime tables are the sources' own rows: query's selectors and watch's directories
    come from them, and a label's prefix is what its source declares: the model keeps no copy."""
    from vethpeer import model, owners, query, snapshot, watcher

    assert query.SELECTORS == owners.SELECTORS
    assert {word for source in owners.SOURCES for word in source.selectors} == set(query.SELECTORS) >= {
        "docker", "pod", "podman", "lxc", "lxd", "incus", "machine", "libvirt-lxc", "containerd", "neutron",
        "mininet"}
    assert set(owners.WATCHED_DIRS) <= set(watcher.WATCHED_DIRS)
    assert "/run/systemd/machines" in owners.WATCHED_DIRS and "/var/lib/docker/containers" in owners.WATCHED_DIRS
    assert not any(isinstance(value, dict) and "docker" in value for value in vars(model).values())
    # Found or loaded, an owner carries its label; a kind without a prefix reads as its name.
    assert {source.name: source.labels["docker"] for source in owners.SOURCES if "docker" in source.labels} == {
        "docker": "docker: "}
    bare = owners.Owner("docker", "web-1", None, (), "test")
    assert model.owner_label(bare) == "web-1"
    assert model.owner_label(owners.labelled(bare, owners.LABEL_PREFIXES)) == "docker: web-1"
    prefixed = owners.Owner("docker", "docker: x", None, (), "")
    assert owners.labelled(prefixed, owners.LABEL_PREFIXES).label == "docker: x"
    assert owners.labelled(owners.Owner("process", "pid 7", "7", (), ""), owners.LABEL_PREFIXES).label == ""
    for kind, prefix in owners.LABEL_PREFIXES.items():
        raw = {"kind": kind, "name": "n1", "id": None, "extra": [], "how": "test"}
        assert model.owner_label(snapshot._owner_from_json(raw)) == prefix + "n1"
