"""The command line in-process, always answering from the recorded fixture (nothing touches the host)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import vethpeer
from vethpeer import cli, resolve, snapshot
from vethpeer.model import Topology

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
    assert cli._use_color(FakeStream(True)) is True  # type: ignore[arg-type]


def test_use_color_not_a_tty() -> None:
    assert cli._use_color(FakeStream(False)) is False  # type: ignore[arg-type]


def test_use_color_respects_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._use_color(FakeStream(True)) is False  # type: ignore[arg-type]


def test_use_color_off_for_dumb_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert cli._use_color(FakeStream(True)) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [ClosedStream(), object()], ids=["closed", "no-isatty"])
def test_use_color_off_for_odd_streams(stream: Any) -> None:
    assert cli._use_color(stream) is False


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


def test_parser_defines_the_documented_commands() -> None:
    assert set(subcommands()) == {"peer", "list", "namespaces", "demo"}


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
