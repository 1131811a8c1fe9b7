"""The command line in-process, always answering from the recorded fixture (nothing touches the host)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import vethpeer
from vethpeer import cli, resolve, snapshot
from vethpeer.model import Topology
from vethpeer.render.text import use_color

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = str(ROOT / "tests" / "data" / "host.snapshot.json")
SRC = str(ROOT / "src")

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


@pytest.fixture(scope="module")
def topology() -> Topology:
    with open(FIXTURE, encoding="utf-8") as handle:
        return resolve.resolve(snapshot.loads(handle.read()))


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    """main() on the fixture; returns (exit code, stdout, stderr)."""
    code = cli.main(["--load", FIXTURE, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, Dict[str, Any]]:
    code, out, err = run(capsys, "--json", *argv)
    assert err == ""
    return code, json.loads(out)


def assert_one_line_error(err: str) -> None:
    assert err.startswith("vethpeer: ")
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert "Traceback" not in err


def subcommands() -> List[str]:
    for action in cli.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("the parser defines no subcommands")


def env_with_src(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


# --- answers and exit codes ------------------------------------------------------------------------


def test_peer_found_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "peer", "ns-39d60faa-aa")
    assert code == EXIT_OK
    assert "tap39d60faa-aa" in out and "brqfabc7ead-3c" in out
    assert err == ""


def test_peer_not_found_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "peer", "no-such-if")
    assert code == EXIT_NOT_FOUND
    assert out == ""
    assert_one_line_error(err)
    assert "no-such-if" in err


def test_peer_not_found_json_exits_1_with_empty_matches(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--json", "peer", "no-such-if")
    assert code == EXIT_NOT_FOUND
    assert json.loads(out)["matches"] == []
    assert_one_line_error(err)


def test_peer_not_found_message_escapes_the_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "peer", "evil\x1b[2J\nname")
    assert code == EXIT_NOT_FOUND
    assert_one_line_error(err)
    assert "\x1b" not in err


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["list", "--bogus"],
    ["frobnicate"],
    ["peer"],
    ["peer", "eth1", "--netns"],
    ["peer", "eth1", "--netns", "no-such-namespace"],
    ["peer", "eth1", "--netns", "pid:999999999"],
    ["peer", "eth1", "--netns", "/run/netns/no-such-namespace"],
    ["list", "--load"],
], ids=" ".join)
def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: List[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE
    assert out == ""
    assert_one_line_error(err)


def test_load_without_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--load"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)


def test_load_of_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert cli.main(["--load", str(missing), "list"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)
    assert str(missing) in err


def test_load_of_directory_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["--load", str(tmp_path), "list"]) == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err)


NOT_SNAPSHOTS = {
    "malformed json": "{not json",
    "empty file": "",
    "truncated fixture": Path(FIXTURE).read_text(encoding="utf-8")[:200],
    "not utf-8": "\udcff\udcfe",
    "json list": "[]",
    "json string": '"snapshot"',
    "json number": "1",
    "other object": '{"hello": "world"}',
    "future version": '{"snapshot_version": 2}',
    "version only": '{"snapshot_version": 1}',
    "namespaces not a list": '{"snapshot_version": 1, "root_source": "pid 1", "warnings": [], '
                             '"namespaces": 5, "nsid_answers": [], "via_answers": [], "hints": []}',
}


@pytest.mark.parametrize("content", list(NOT_SNAPSHOTS.values()), ids=list(NOT_SNAPSHOTS))
def test_load_of_a_non_snapshot_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert cli.main(["--load", str(path), "list"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)


def test_load_of_snapshot_with_wrong_field_type_exits_2(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    data = json.loads(Path(FIXTURE).read_text(encoding="utf-8"))
    links = [link for ns in data["namespaces"] for link in ns["links"] if link[10] is not None]
    assert links
    links[0][10] = str(links[0][10])
    path = tmp_path / "wrong-type.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert cli.main(["--load", str(path), "list"]) == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [
    ["--load", FIXTURE, "peer", "eth1", "--netns", "bad\nname"],
    ["--load", FIXTURE, "peer", "eth1", "--netns", "bad\x1b[2Jname"],
    ["--load", "/nonexistent/bad\nname.json", "list"],
    ["--load", FIXTURE, "list", "--bo\ngus"],
], ids=["netns-newline", "netns-esc", "load-newline", "option-newline"])
def test_usage_errors_escape_user_input(capsys: pytest.CaptureFixture[str], argv: List[str]) -> None:
    assert cli.main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert_one_line_error(err)
    assert "\x1b" not in err


def test_load_and_save_together_exit_2_and_write_nothing(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = run(capsys, "--save", str(target), "list")
    assert code == EXIT_USAGE
    assert out == ""
    assert_one_line_error(err)
    assert not target.exists()


# --- commands and options --------------------------------------------------------------------------


def test_no_command_is_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, default, _ = run(capsys)
    assert code == EXIT_OK
    _, listed, _ = run(capsys, "list")
    assert default == listed
    assert "vpfxup" in default


def test_no_command_json_is_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, default = run_json(capsys)
    _, listed = run_json(capsys, "list")
    assert default == listed and "pairs" in default


@pytest.mark.parametrize("command", ["list", "namespaces"])
def test_json_before_or_after_the_command(capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert cli.main(["--json", "--load", FIXTURE, command]) == EXIT_OK
    before = capsys.readouterr().out
    assert cli.main(["--load", FIXTURE, command, "--json"]) == EXIT_OK
    after = capsys.readouterr().out
    assert before == after
    assert json.loads(before)["version"] == 1


def test_json_after_peer_argument(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "peer", "ns-39d60faa-aa", "--json")
    assert code == EXIT_OK
    assert json.loads(out)["matches"][0]["peer"]["ifname"] == "tap39d60faa-aa"


def test_load_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "--load", FIXTURE]) == EXIT_OK
    assert "vpfxup" in capsys.readouterr().out


def test_peer_json_answer(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "peer", "ns-39d60faa-aa")
    assert code == EXIT_OK
    (match,) = doc["matches"]
    assert match["link"]["netns"]["name"] == "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc"
    assert match["peer"]["ifname"] == "tap39d60faa-aa"
    assert match["peer"]["master"] == "brqfabc7ead-3c"


def test_peer_accepts_the_ip_link_form(capsys: pytest.CaptureFixture[str], topology: Topology) -> None:
    (link,) = topology.find("ns-39d60faa-aa")
    peer = topology.peer_of(link.ref)
    assert peer is not None
    code, doc = run_json(capsys, "peer", f"ns-39d60faa-aa@if{peer.ifindex}")
    assert code == EXIT_OK
    assert [match["link"]["ifname"] for match in doc["matches"]] == ["ns-39d60faa-aa"]


def test_peer_by_altname(capsys: pytest.CaptureFixture[str], topology: Topology) -> None:
    with_alt = [link for link in topology.links.values() if link.alt_names]
    if not with_alt:
        pytest.skip("the fixture has no interface with an altname")
    link = with_alt[0]
    code, doc = run_json(capsys, "peer", link.alt_names[0])
    assert code == EXIT_OK
    assert link.name in [match["link"]["ifname"] for match in doc["matches"]]


def test_peer_on_a_bridge_is_no_peer(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "peer", "brqfabc7ead-3c")
    assert code == EXIT_OK
    (match,) = doc["matches"]
    assert match["unresolved"] == "no-peer"
    assert match["peer"] is None
    assert match["link"]["kind"] == "bridge"


def test_peer_on_lo_answers_every_namespace(capsys: pytest.CaptureFixture[str], topology: Topology) -> None:
    code, doc = run_json(capsys, "peer", "lo")
    assert code == EXIT_OK
    assert len(doc["matches"]) == len(topology.find("lo")) > 1
    assert {match["unresolved"] for match in doc["matches"]} == {"no-peer"}


def test_peer_on_a_bridge_table_says_no_peer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "peer", "brqfabc7ead-3c")
    assert code == EXIT_OK and err == ""
    assert "no peer" in out


def test_peer_of_unreachable_end(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "peer", "vpfxhid")
    assert code == EXIT_OK
    assert doc["matches"][0]["unresolved"] == "peer-netns-unreachable"


def test_peer_without_netns_answers_every_match(capsys: pytest.CaptureFixture[str],
                                                topology: Topology) -> None:
    _, doc = run_json(capsys, "peer", "eth1")
    assert len(doc["matches"]) == len(topology.find("eth1")) == 6


def test_netns_by_name_restricts_the_search(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "peer", "eth1", "--netns", "vpfx-a1")
    assert code == EXIT_OK
    (match,) = doc["matches"]
    assert match["link"]["netns"]["name"] == "vpfx-a1"
    assert match["peer"]["netns"]["name"] == "vpfx-b1"


def test_netns_short_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "peer", "eth1", "-n", "vpfx-b2")
    assert code == EXIT_OK
    assert [m["peer"]["netns"]["name"] for m in doc["matches"]] == ["vpfx-a2"]


def test_netns_by_pid(capsys: pytest.CaptureFixture[str], topology: Topology) -> None:
    held = [ns for ns in topology.namespaces if ns.pids and not ns.root and not ns.names]
    assert len(held) == 1
    code, doc = run_json(capsys, "peer", "eth0", "--netns", f"pid:{held[0].pids[0]}")
    assert code == EXIT_OK
    (match,) = doc["matches"]
    assert match["link"]["netns"]["inode"] == held[0].id.inode
    assert match["peer"]["ifname"] == "vethc0ffee"


def test_netns_with_name_that_exists_but_no_such_interface_there(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "peer", "tap39d60faa-aa", "--netns", "vpfx-a0")
    assert code == EXIT_NOT_FOUND
    assert out == ""
    assert_one_line_error(err)
    assert "vpfx-a0" in err


def test_namespaces_command(capsys: pytest.CaptureFixture[str], topology: Topology) -> None:
    code, doc = run_json(capsys, "namespaces")
    assert code == EXIT_OK
    assert len(doc["namespaces"]) == len(topology.namespaces)


def test_successful_runs_print_nothing_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["list"], ["namespaces"], ["peer", "uplink"], ["--json", "list"]):
        code, out, err = run(capsys, *argv)
        assert code == EXIT_OK and out and err == "", argv


# --- colour ----------------------------------------------------------------------------------------


class FakeStream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class ClosedStream:
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def test_use_color_on_a_tty() -> None:
    assert use_color(FakeStream(True)) is True  # type: ignore[arg-type]


def test_use_color_not_a_tty() -> None:
    assert use_color(FakeStream(False)) is False  # type: ignore[arg-type]


def test_use_color_respects_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(FakeStream(True)) is False  # type: ignore[arg-type]


def test_use_color_off_for_dumb_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert use_color(FakeStream(True)) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [ClosedStream(), object()], ids=["closed", "no-isatty"])
def test_use_color_off_for_odd_streams(stream: Any) -> None:
    assert use_color(stream) is False


def test_output_has_colour_on_a_tty(capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _, out, _ = run(capsys, "list")
    assert "\x1b[" in out


def test_no_colour_with_no_color_set(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    for command in ("list", "namespaces"):
        _, out, err = run(capsys, command)
        assert "\x1b[" not in out + err
    _, out, _ = run(capsys, "peer", "vpfxhid")
    assert "\x1b[" not in out


def test_no_colour_when_not_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    assert not sys.stdout.isatty()
    for argv in (["list"], ["namespaces"], ["peer", "vpfxhid"], ["peer", "lo"]):
        _, out, err = run(capsys, *argv)
        assert out and "\x1b[" not in out + err, argv


def test_no_colour_in_json_on_a_tty(capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _, out, _ = run(capsys, "--json", "list")
    assert "\x1b" not in out


# --- version, help, README -------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"vethpeer {vethpeer.__version__}"


@pytest.mark.parametrize("command", [[], ["list"], ["peer", "x"], ["show", "x"], ["trace", "x"], ["graph"],
                                     ["namespaces"], ["watch"], ["demo"]])
@pytest.mark.parametrize("option", ["-V", "--version"])
def test_version_on_every_command(capsys: pytest.CaptureFixture[str], command: List[str], option: str) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*command, option])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"vethpeer {vethpeer.__version__}\n"


@pytest.mark.parametrize("command", [["list"], ["peer", "ns-39d60faa-aa"], ["show", "ns-39d60faa-aa"],
                                     ["trace", "ns-39d60faa-aa"], ["graph"], ["namespaces"]])
def test_dash_j_is_json_on_every_command(capsys: pytest.CaptureFixture[str], command: List[str]) -> None:
    code, long_out, _ = run(capsys, *command, "--json")
    assert code == EXIT_OK
    for placement in ([*command, "-j"], ["-j", *command]):
        assert run(capsys, *placement)[:2] == (EXIT_OK, long_out)
    assert json.loads(long_out)["version"] == 1


def test_fresh_clone_collects_without_an_install(tmp_path: Path) -> None:
    """Plain `pytest` in a clone imports the clone's own package (from src/, through the pytest
    config alone), not whatever is installed, and collects every test."""
    tree = tmp_path / "clone"
    tree.mkdir()
    for part in ("src", "tests", "bench"):
        shutil.copytree(ROOT / part, tree / part, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    (tree / "tests" / "test_zz_where.py").write_text(
        "import vethpeer\n\ndef test_where():\n"
        f"    assert vethpeer.__file__.startswith({str(tree / 'src')!r}), vethpeer.__file__\n")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                               cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-2000:]
    where = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_zz_where.py"],
                           cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert where.returncode == 0, where.stdout[-3000:]


def test_parser_defines_the_documented_commands() -> None:
    assert set(subcommands()) == {"peer", "show", "list", "namespaces", "demo", "trace", "graph", "watch",
                                  "completion"}


def test_python_m_help() -> None:
    result = subprocess.run([sys.executable, "-m", "vethpeer", "--help"], capture_output=True, text=True,
                            env=env_with_src(), timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: vethpeer")
    for command in subcommands():
        assert command in result.stdout
    assert result.stderr == ""


def test_python_m_json_list_is_the_same_across_hash_seeds() -> None:
    outputs = []
    for seed in ("0", "4242"):
        result = subprocess.run([sys.executable, "-m", "vethpeer", "--load", FIXTURE, "--json", "list"],
                                capture_output=True, text=True, timeout=60, check=False,
                                env=env_with_src(PYTHONHASHSEED=seed))
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["pairs"]


def test_readme_mentions_every_command() -> None:
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md is missing"
    text = readme.read_text(encoding="utf-8")
    missing = [command for command in subcommands() if f"vethpeer {command}" not in text]
    assert not missing, f"README.md never shows: {', '.join('vethpeer ' + c for c in missing)}"


# --- honest edges (issue 5): every one is a line on stderr and a documented exit code ----------------

EXIT_NETNS_UNREADABLE, EXIT_OUTPUT, EXIT_INTERRUPTED = 4, 5, 130


def fixture_data() -> Dict[str, Any]:
    return json.loads(Path(FIXTURE).read_text(encoding="utf-8"))


def rename(data: Dict[str, Any], old: bytes, new: bytes) -> None:
    hits = [link for ns in data["namespaces"] for link in ns["links"] if link[1] == old.hex()]
    assert len(hits) == 1, old
    hits[0][1] = new.hex()


def write_snapshot(tmp_path: Path, data: Dict[str, Any], name: str = "snap.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def run_module(*argv: str, shell_redirect: str = "", timeout: float = 60,
               **env: str) -> subprocess.CompletedProcess:
    """`python -m vethpeer ARGV` with bytes out, optionally with a shell redirection such as 2>&-."""
    command = [sys.executable, "-m", "vethpeer", *argv]
    if shell_redirect:
        quoted = " ".join("'" + part.replace("'", "'\\''") + "'" for part in command)
        return subprocess.run(["/bin/sh", "-c", f"exec {quoted} {shell_redirect}"], capture_output=True,
                              env=env_with_src(**env), timeout=timeout, check=False)
    return subprocess.run(command, capture_output=True, env=env_with_src(**env), timeout=timeout, check=False)


def assert_one_error_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace")
    assert_one_line_error(text)
    return text


def test_peer_in_a_namespace_that_could_not_be_read_exits_4(capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    """Today: "no interface named eth1 in namespace vpfx-a1", exit 1, although eth1 is there."""
    data = fixture_data()
    (ns,) = [ns for ns in data["namespaces"] if ns["names"] == ["vpfx-a1"]]
    ns["error"] = "cannot enter it: operation not permitted (needs CAP_SYS_ADMIN)"
    ns["links"], ns["addresses"] = [], []
    snap = write_snapshot(tmp_path, data)
    for extra in ([], ["--json"]):
        assert cli.main(["--load", snap, *extra, "peer", "eth1", "--netns", "vpfx-a1"]) == EXIT_NETNS_UNREADABLE
        out, err = capsys.readouterr()
        assert out == ""
        assert_one_line_error(err)
        assert "vpfx-a1 could not be read" in err and "CAP_SYS_ADMIN" in err
        assert "no interface" not in err


def test_peer_not_found_says_how_many_namespaces_were_not_read(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    data = fixture_data()
    (ns,) = [ns for ns in data["namespaces"] if ns["names"] == ["vpfx-a1"]]
    ns["error"], ns["links"], ns["addresses"] = "permission denied opening it", [], []
    # Not proof of absence: 7, not 1 (issue 22).
    assert cli.main(["--load", write_snapshot(tmp_path, data), "peer", "nowhere"]) == 7
    err = capsys.readouterr().err
    assert_one_line_error(err)
    read = len(data["namespaces"]) - 1
    assert f"in the {read} namespaces that could be read; 1 could not be read (see the warnings)" in err


def test_unprivileged_snapshot_says_so_first_and_exits_7(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    data = fixture_data()
    for ns in data["namespaces"]:
        if not ns["root"]:
            ns["error"], ns["links"], ns["addresses"] = "cannot enter it: operation not permitted", [], []
    data["warnings"].append("without CAP_SYS_ADMIN, no other network namespace can be entered and read")
    path = write_snapshot(tmp_path, data)
    unread = len(data["namespaces"]) - 1
    assert cli.main(["--load", path, "peer", "ns-39d60faa-aa"]) == 7
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"vethpeer: warning: {unread} of {unread + 1} network namespaces could not be read")
    assert [line for line in lines if line.startswith("vethpeer: no interface named ns-39d60faa-aa in the 1 "
                                                      f"namespace that could be read; {unread} could not be "
                                                      "read (run as root)")]
    assert cli.main(["--load", path, "list"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "No veth pairs found" not in out and "1 namespace could be read" in out
    assert err.splitlines()[0] == lines[0] and err.count(lines[0]) == 1  # said first, and once


def test_exit_codes_are_in_the_help_the_docstring_and_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    help_text = " ".join(cli.build_parser().format_help().split())
    for code in ("0", "1", "2", "3", "4", "5", "6", "7", "130"):
        assert f"| `{code}` |" in readme, code
        assert f"{code} " in help_text
        assert f"{code} " in (cli.__doc__ or "")


def test_stderr_closed_keeps_warnings_out_of_the_json(tmp_path: Path) -> None:
    """Today: with 2>&- the warnings are printed into stdout, after the JSON."""
    data = fixture_data()
    data["warnings"] = ["could not inspect 3 processes: permission denied"]
    snap = write_snapshot(tmp_path, data)
    result = run_module("--load", snap, "--json", "list", shell_redirect="2>&-")
    assert result.returncode == EXIT_OK
    doc = json.loads(result.stdout)  # one JSON document, nothing after it
    assert doc["warnings"] == data["warnings"]
    assert b"warning" not in result.stdout.split(b"\n", 1)[1]


def test_stdout_closed_exits_5_with_one_line() -> None:
    """Today: an AttributeError traceback ('NoneType' object has no attribute 'write')."""
    result = run_module("--load", FIXTURE, "list", shell_redirect=">&-")
    assert result.returncode == EXIT_OUTPUT
    err = assert_one_error_line(result.stderr)
    assert "cannot write output: Bad file descriptor" in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("argv", [["list"], ["--json", "list"], ["namespaces"], ["peer", "eth1"]], ids=" ".join)
def test_write_error_on_stdout_exits_5(argv: List[str]) -> None:
    """Today: 'cannot scan this host: No space left on device', exit 3."""
    result = run_module("--load", FIXTURE, *argv, shell_redirect=">/dev/full")
    assert result.returncode == EXIT_OUTPUT
    err = assert_one_error_line(result.stderr)
    assert "cannot write output: No space left on device" in err
    assert "scan" not in err


def test_stderr_that_cannot_be_written_does_not_cost_the_answer(tmp_path: Path) -> None:
    data = fixture_data()
    data["warnings"] = ["some warning"]
    result = run_module("--load", write_snapshot(tmp_path, data), "--json", "list", shell_redirect="2>/dev/full")
    assert result.returncode == EXIT_OK
    assert json.loads(result.stdout)["pairs"]


@pytest.fixture(scope="module")
def latin1_locale(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """LOCPATH + LANG for en_US.ISO-8859-1 built with localedef into a temporary directory."""
    localedef = "/usr/bin/localedef"
    if not os.path.exists(localedef):
        pytest.skip("no localedef to build a Latin-1 locale")
    where = tmp_path_factory.mktemp("locale")
    built = subprocess.run([localedef, "-i", "en_US", "-f", "ISO-8859-1", str(where / "en_US.ISO-8859-1")],
                           capture_output=True, check=False, timeout=60)
    if not (where / "en_US.ISO-8859-1").is_dir():
        pytest.skip(f"localedef could not build en_US.ISO-8859-1: {built.stderr!r}")
    env = {"LOCPATH": str(where), "LANG": "en_US.ISO-8859-1", "LC_ALL": ""}
    probe = subprocess.run([sys.executable, "-c", "import sys; print(sys.stdout.encoding)"], capture_output=True,
                           env=env_with_src(**env), check=False, timeout=60)
    if probe.stdout.strip().lower() not in (b"iso8859-1", b"latin-1", b"iso-8859-1"):
        pytest.skip(f"the Latin-1 locale did not take: {probe.stdout!r}")
    return env


LOCALES = {
    "C-ascii": {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": ""},
    "latin-1": {},  # from the latin1_locale fixture
}


@pytest.mark.parametrize("locale_name", list(LOCALES))
@pytest.mark.parametrize("command", [["list"], ["namespaces"], ["peer", "漢字"], ["peer", "eth0", "--netns",
                                                                                   "pid:9038"]],
                         ids=" ".join)
def test_names_the_terminal_encoding_cannot_show_are_escaped(request: pytest.FixtureRequest, tmp_path: Path,
                                                              locale_name: str, command: List[str]) -> None:
    """Today: UnicodeEncodeError traceback for list and peer; and `peer 漢字` is not found."""
    env = dict(LOCALES[locale_name]) or request.getfixturevalue("latin1_locale")
    data = fixture_data()
    rename(data, b"vethc0ffee", "漢字".encode())
    result = run_module("--load", write_snapshot(tmp_path, data), *command, **env)
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stderr == b""
    if command != ["namespaces"]:
        assert b"\\u6f22\\u5b57" in result.stdout
    assert b"Traceback" not in result.stdout + result.stderr


def rename_get_link(data: Dict[str, Any], old: bytes, new: bytes) -> int:
    """Rename a link; returns its IFLA_LINK (what `ip link` prints after '@if')."""
    rename(data, old, new)
    (link,) = [link for ns in data["namespaces"] for link in ns["links"] if link[1] == new.hex()]
    assert isinstance(link[9], int)
    return int(link[9])


def test_a_name_with_at_signs_is_stripped_of_the_ip_suffix_only(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    """Today: `a@b@if9@if3` (how ip shows the interface `a@b@if9`) is answered for `a`."""
    data = fixture_data()
    peer_of_long = rename_get_link(data, b"vethc0ffee", b"a@b@if9")
    peer_of_a = rename_get_link(data, b"uplink", b"a")
    snap = write_snapshot(tmp_path, data)
    for typed, expected in ((f"a@b@if9@if{peer_of_long}", "a@b@if9"), ("a@b@if9", "a@b@if9"),
                            (f"a@if{peer_of_a}", "a")):
        assert cli.main(["--load", snap, "--json", "peer", typed]) == EXIT_OK, typed
        doc = json.loads(capsys.readouterr().out)
        assert [m["link"]["ifname"] for m in doc["matches"]] == [expected], typed
    # Suffixes ip would not print for that interface are not stripped.
    for typed in ("a@b", f"a@if{peer_of_a + 1}"):
        assert cli.main(["--load", snap, "peer", typed]) == EXIT_NOT_FOUND, typed
        assert_one_line_error(capsys.readouterr().err)


def test_the_exact_name_wins_over_the_stripped_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = fixture_data()
    peer_of_x = rename_get_link(data, b"uplink", b"x")
    rename(data, b"vethc0ffee", f"x@if{peer_of_x}".encode())
    assert cli.main(["--load", write_snapshot(tmp_path, data), "--json", "peer", f"x@if{peer_of_x}"]) == EXIT_OK
    assert [m["link"]["ifname"] for m in json.loads(capsys.readouterr().out)["matches"]] == [f"x@if{peer_of_x}"]


def console_script_target() -> Tuple[str, str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.scripts]", 1)[1]
    target = section.split('vethpeer = "', 1)[1].split('"', 1)[0]
    module, function = target.split(":")
    return module, function


@pytest.mark.parametrize("while_importing", ["contextlib", "vethpeer.resolve", "argparse", "vethpeer.cli"])
def test_ctrl_c_while_the_cli_is_importing_exits_130(while_importing: str) -> None:
    """Today: a KeyboardInterrupt traceback. The console script is run as pip writes it."""
    module, function = console_script_target()
    script = f"""
import builtins, sys
sys.modules.pop({while_importing!r}, None)
real_import = builtins.__import__
def interrupted(name, globals=None, locals=None, fromlist=(), level=0):
    resolved = name
    if level and globals:
        resolved = globals.get("__package__", "") + ("." + name if name else "")
    for wanted in (resolved, *(resolved + "." + item for item in fromlist or ())):
        if wanted == {while_importing!r}:
            raise KeyboardInterrupt
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = interrupted
from {module} import {function}
sys.exit({function}())
"""
    result = subprocess.run([sys.executable, "-c", script, "--load", FIXTURE, "list"], capture_output=True,
                            env=env_with_src(), timeout=60, check=False)
    assert result.returncode == EXIT_INTERRUPTED, result.stderr
    assert result.stderr == b"vethpeer: interrupted\n"
    assert result.stdout == b""


def test_ctrl_c_during_the_run_exits_130(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(resolve, "resolve", interrupted)
    assert cli.main(["--load", FIXTURE, "list"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "vethpeer: interrupted\n"


def hostile_snapshots() -> Dict[str, str]:
    data = fixture_data()
    family = json.loads(json.dumps(data))
    (with_address,) = [ns for ns in family["namespaces"] if ns["addresses"]][:1]
    with_address["addresses"][0][1] = 2 ** 64
    negative = json.loads(json.dumps(data))
    negative["namespaces"][0]["links"][0][0] = -(2 ** 70)
    huge_inode = json.loads(json.dumps(data))
    huge_inode["namespaces"][0]["inode"] = 2 ** 80
    return {
        "deeply nested": "[" * 200_000 + "]" * 200_000,
        "deeply nested object": '{"a":' * 200_000 + "1" + "}" * 200_000,
        "address family 2**64": json.dumps(family),
        "ifindex -2**70": json.dumps(negative),
        "inode 2**80": json.dumps(huge_inode),
    }


@pytest.mark.parametrize("name", list(hostile_snapshots()))
def test_load_of_a_hostile_snapshot_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
    """Today: RecursionError or OverflowError tracebacks."""
    path = tmp_path / "hostile.json"
    path.write_text(hostile_snapshots()[name], encoding="utf-8")
    for command in (["list"], ["--json", "list"], ["peer", "eth1"]):
        assert cli.main(["--load", str(path), *command]) == EXIT_USAGE, command
        out, err = capsys.readouterr()
        assert out == ""
        assert_one_line_error(err)


@pytest.mark.parametrize("spec", ["pid:²", "pid:١٢", "/proc/²/ns/net", "pid:+1", "pid: 1", "pid:"])
def test_netns_pid_with_non_ascii_digits_exits_2(capsys: pytest.CaptureFixture[str], spec: str) -> None:
    """Today: 'pid:²' passes str.isdigit() and int() raises a ValueError traceback (with --load)."""
    assert cli.main(["--load", FIXTURE, "peer", "eth1", "--netns", spec]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(err)


def _limited() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # old code read /dev/zero forever


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "fifo"])
def test_load_of_something_that_is_not_a_regular_file_exits_2(tmp_path: Path, path: str) -> None:
    """Today: --load /dev/zero reads until memory runs out."""
    if path == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    elif not os.path.exists(path):
        pytest.skip(f"no {path}")
    result = subprocess.run([sys.executable, "-m", "vethpeer", "--load", path, "list"], capture_output=True,
                            env=env_with_src(), timeout=30, check=False, preexec_fn=_limited)
    assert result.returncode == EXIT_USAGE
    err = assert_one_error_line(result.stderr)
    assert "not a regular file" in err


def test_load_of_a_too_big_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:  # sparse: nothing is written, and nothing must be read
        handle.truncate(snapshot.MAX_SNAPSHOT_BYTES + 1)
    assert cli.main(["--load", str(path), "list"]) == EXIT_USAGE
    assert "too big" in capsys.readouterr().err


def test_sockets_option_and_deprecated_no_sockets_parse() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["--sockets", "list"]).sockets is True
    assert not hasattr(parser.parse_args(["list"]), "sockets")
    assert parser.parse_args(["list", "--no-sockets"]).no_sockets is True
    help_text = parser.format_help()
    assert "--sockets" in help_text and "net_cls" in help_text and "deprecated" in help_text


def test_no_command_passes_sockets_off_by_default(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from vethpeer import scanner

    seen: List[bool] = []
    real = snapshot.loads(Path(FIXTURE).read_text(encoding="utf-8"))

    def fake_read_host(**kwargs: Any) -> Any:
        seen.append(kwargs["sockets"])
        return real, None

    monkeypatch.setattr(scanner, "read_host", fake_read_host)
    for argv, expected in ((["list"], False), (["--sockets", "list"], True), (["--no-sockets", "list"], False)):
        assert cli.main(argv) == EXIT_OK
        assert seen[-1] is expected, argv
    capsys.readouterr()


@pytest.mark.parametrize("redirect", [">&-", ">/dev/full"])
@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_report_a_write_error(option: str, redirect: str) -> None:
    """Today: exit 120 with 'Exception ignored ... Bad file descriptor', or 0 with nothing written."""
    if redirect == ">/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    result = run_module(option, shell_redirect=redirect)
    assert result.returncode == EXIT_OUTPUT
    assert "cannot write output" in assert_one_error_line(result.stderr)


@pytest.mark.parametrize(("cap_eff", "sockets", "named"), [
    ("000001ffffffffff", True, []),
    ("0000000000280004", False, []),  # exactly CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH
    ("0000000000280004", True, ["CAP_NET_ADMIN"]),
    ("0000000000200000", False, ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]),
    ("0000000000000000", False, ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]),
])
def test_missing_capabilities_are_named(tmp_path: Path, cap_eff: str, sockets: bool, named: List[str]) -> None:
    status = tmp_path / "status"
    status.write_text(f"Name:\tvethpeer\nCapInh:\t0000000000000000\nCapEff:\t{cap_eff}\n", encoding="ascii")
    warnings = cli.missing_capabilities(sockets, str(status))
    assert [warning.split(",")[0] for warning in warnings] == [f"without {name}" for name in named]


def test_missing_capabilities_unknown_is_silent(tmp_path: Path) -> None:
    assert cli.missing_capabilities(True, str(tmp_path / "absent")) == []
    (tmp_path / "odd").write_text("CapEff:\tzz\n", encoding="ascii")
    assert cli.missing_capabilities(True, str(tmp_path / "odd")) == []


@pytest.mark.parametrize("enabled", [True, False])
def test_a_run_pauses_the_collector_and_puts_it_back(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch, enabled: bool) -> None:
    """The collector walked a scan's hundred thousand live tuples over and over for nothing (30-50
    ms of a 0.3 s run at 1000 namespaces): a one-shot run has it off, and main() leaves it as found."""
    import gc

    seen: List[bool] = []
    real_resolve = resolve.resolve

    def spying_resolve(*args: Any, **kwargs: Any) -> Topology:
        seen.append(gc.isenabled())
        return real_resolve(*args, **kwargs)

    monkeypatch.setattr(resolve, "resolve", spying_resolve)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        code, out, _ = run(capsys, "list")
        assert code == EXIT_OK and out
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_watch_keeps_the_collector_on_between_scans(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch runs for hours: what it drops between scans must be collected, so the CLI's pause
    does not cover it (its scans pause the collector themselves)."""
    import gc

    from vethpeer import watcher

    seen: List[bool] = []

    def fake_watch(**_kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        yield from ()

    monkeypatch.setattr(watcher, "watch", fake_watch)
    was = gc.isenabled()
    gc.enable()
    try:
        code = cli.main(["watch", "--timeout", "0", "--events-only"])
        capsys.readouterr()
        assert code == EXIT_OK
        assert seen and all(seen)
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_a_snapshot_keeps_the_user_namespace_owner(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = fixture_data()
    data["namespaces"][0]["userns_uid"] = 65534
    loaded = snapshot.loads(json.dumps(data))
    assert loaded.namespaces[0].namespace.userns_uid == 65534
    assert json.loads(snapshot.dumps(loaded))["namespaces"][0]["userns_uid"] == 65534
    data["namespaces"][0]["userns_uid"] = 1 << 40
    assert cli.main(["--load", write_snapshot(tmp_path, data), "list"]) == EXIT_USAGE
    assert "userns uid" in capsys.readouterr().err


def test_the_namespaces_table_escapes_error_texts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Before: an error that quotes a path (a covered bind mount's) printed its bytes raw."""
    data = fixture_data()
    (ns,) = [ns for ns in data["namespaces"] if ns["names"] == ["vpfx-a1"]]
    ns["error"] = "alive but unreachable: its bind mount at /tmp/\x1b]0;PWNED\x07\x1b[2J is covered"
    ns["links"], ns["addresses"] = [], []
    assert cli.main(["--load", write_snapshot(tmp_path, data), "namespaces"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in out


def test_importing_the_cli_loads_no_scanner_resolver_or_renderer() -> None:
    """Parsing (and --help, completion, a usage error) must not pay for what only a scan needs:
    before, `import vethpeer.cli` took about 40 ms here, most of it the pipeline's modules."""
    import subprocess

    code = "import sys, vethpeer.cli; print(' '.join(sorted(m for m in sys.modules if m.startswith('vethpeer'))))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src")),
                                ).stdout.split())
    assert "vethpeer.cli" in loaded
    heavy = {"vethpeer.scanner", "vethpeer.resolve", "vethpeer.snapshot", "vethpeer.owners", "vethpeer.model",
             "vethpeer.discover", "vethpeer.reader", "vethpeer.render.formats", "vethpeer.render.json",
             "vethpeer.host.netlink", "vethpeer.host.ops", "vethpeer.select", "vethpeer.cli.answer"}
    assert loaded & heavy == set()


def test_parsing_a_command_line_does_not_import_shutil() -> None:
    """argparse makes a help formatter for every option, and its own formatter imports shutil
    (with bz2, lzma, fnmatch: 3 ms of every run here) for the terminal's width."""
    import subprocess

    code = ("import sys; from vethpeer.cli.parser import build_parser; "
            "build_parser().parse_args(['peer', 'eth0', '--netns', 'x']); print('shutil' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"))).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(("columns", "width"), [("50", 50), ("", None), ("junk", None)])
def test_help_is_wrapped_to_the_terminal_width(columns: str, width: Optional[int],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from vethpeer.cli.parser import _columns

    monkeypatch.setenv("COLUMNS", columns)
    assert _columns() == (width or shutil.get_terminal_size().columns)


@pytest.mark.parametrize(("argv", "early"), [
    (["peer", "eth0", "--netns", "x"], True), (["peer", "eth0"], True), (["peer", "eth0", "--json"], False),
    (["list"], False), (["show", "eth0"], True), (["show", "eth0", "--json"], False), (["trace", "eth0"], True),
    (["trace", "eth0", "--json"], False), (["graph"], False), (["peer", "eth0", "--load", "f"], False),
])
def test_a_peer_show_or_trace_question_reads_the_mount_table_while_the_pipeline_is_imported(
        argv: List[str], early: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A targeted read takes the mount table read meanwhile (about 21 ms at 10,000 names); a whole
    read, which watches for namespaces made after it starts, never gets one."""
    from vethpeer import cli
    from vethpeer.cli import answer as answer_module

    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "mountinfo").write_text("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
    got: List[Any] = []
    monkeypatch.setattr(answer_module, "answer", lambda args, command, mountinfo=None: got.append(mountinfo) or 0)
    assert cli.run([*argv, "--proc", str(tmp_path)]) == 0
    assert (got[0] is not None) == early
    if early:
        assert got[0]() == "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"


def test_an_early_read_gives_the_whole_file_or_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vethpeer.host import early

    path = tmp_path / "big"
    text = "".join(f"{i} line \\040 with \xe9 and {'x' * (i % 97)}\n" for i in range(20000))
    path.write_text(text, encoding="utf-8")
    assert early.EarlyRead(str(path)).text() == text  # (sendfile into a memory file)
    monkeypatch.delattr(early.os, "memfd_create")
    assert early.EarlyRead(str(path)).text() == text  # read by read
    with pytest.raises(FileNotFoundError):
        early.EarlyRead(str(tmp_path / "missing")).text()


def test_an_early_read_of_the_mount_table_is_the_mount_table() -> None:
    """Page by page as procfs hands it out, or in one sendfile: the same lines."""
    from vethpeer.host import early

    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        expected = handle.read()
    assert early.EarlyRead("/proc/self/mountinfo").text() == expected
