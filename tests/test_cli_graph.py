"""``vethpeer graph`` and ``vethpeer trace`` in-process, on the recorded fixture (nothing touches the host)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List, Tuple

import pytest

from vethpeer import cli

FIXTURE = str(Path(__file__).resolve().parent / "data" / "host.snapshot.json")


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    code = cli.main(["--load", FIXTURE, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert err.startswith("vethpeer: ") and err.count("\n") == 1 and "Traceback" not in err, repr(err)
    return err


# --- graph -------------------------------------------------------------------------------------------


def test_graph_defaults_to_dot(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph")
    assert code == 0 and err == ""
    assert out.startswith("digraph vethpeer {") and "cluster_" in out


@pytest.mark.parametrize("fmt, start", [("mermaid", "flowchart LR"), ("json", '{"version": 1')])
def test_graph_formats(capsys: pytest.CaptureFixture[str], fmt: str, start: str) -> None:
    code, out, _err = run(capsys, "graph", "--format", fmt)
    assert code == 0 and out.startswith(start)


def test_graph_json_narrowed_by_netns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "graph", "-f", "json", "--netns", "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc")
    assert code == 0
    names = sorted(node["name"] for node in json.loads(out)["nodes"])
    assert names == ["ns-39d60faa-aa", "tap39d60faa-aa"]


def test_graph_around_with_hops(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "graph", "-f", "json", "--around", "ns-39d60faa-aa", "--hops", "2")
    assert code == 0
    assert sorted(n["name"] for n in json.loads(out)["nodes"]) == ["brqfabc7ead-3c", "ns-39d60faa-aa",
                                                                   "tap39d60faa-aa"]


def test_graph_around_whole_component(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "graph", "-f", "json", "--around", "tap39d60faa-aa")
    assert code == 0
    assert sorted(n["name"] for n in json.loads(out)["nodes"]) == [
        "brqfabc7ead-3c", "eth0", "ns-39d60faa-aa", "tap39d60faa-aa", "vethc0ffee"]


def test_graph_kind_repeatable_and_comma_separated(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "graph", "-f", "json", "--kind", "bridge", "--kind", "device,tun")
    assert code == 0
    assert sorted(n["name"] for n in json.loads(out)["nodes"]) == ["brqfabc7ead-3c", "eth0"]


def test_graph_kind_that_nothing_has_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo (--kind brige) used to draw an empty graph without a word."""
    code, out, err = run(capsys, "graph", "-f", "json", "--kind", "brige,bridge")
    assert code == 0
    assert "no interface of kind brige here" in err and "bridge" in err
    assert [n["name"] for n in json.loads(out)["nodes"]] == ["brqfabc7ead-3c"]
    assert "no interface of kind" not in run(capsys, "graph", "-f", "json", "--kind", "bridge")[2]


def test_graph_json_flag_is_format_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "graph", "--json")[1] == run(capsys, "graph", "--format", "json")[1]


@pytest.mark.parametrize("argv", [
    ["graph", "--format", "gif"],
    ["graph", "--json", "--format", "svg"],
    ["graph", "--hops", "2"],
    ["graph", "--around", "tap39d60faa-aa", "--hops", "-1"],
    ["graph", "--hops", "x"],
    ["graph", "--kind", ","],
    ["graph", "--netns", "no-such-namespace"],
    ["trace"],
    ["trace", "x", "--netns", "docker:nobody"],
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: List[str]) -> None:
    code, _out, err = run(capsys, *argv)
    assert code == 2
    one_line_error(err)


def test_graph_around_unknown_interface_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph", "--around", "nope\x1b")
    assert code == 1 and out == ""
    assert "no interface named nope\\x1b" in one_line_error(err)


def test_graph_svg_without_graphviz_exits_6(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    code, out, err = run(capsys, "graph", "--format", "svg")
    assert code == cli.EXIT_NO_GRAPHVIZ == 6 and out == ""
    assert "graphviz" in one_line_error(err)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_png_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "host.png"
    code, out, err = run(capsys, "graph", "-f", "png", "-o", str(target))
    assert code == 0 and out == "" and err == ""
    assert target.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_svg_to_stdout(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    code = cli.main(["--load", FIXTURE, "graph", "-f", "svg"])
    out, _err = capfdbinary.readouterr()
    assert code == 0 and b"<svg" in out and out.rstrip().endswith(b"</svg>")


def test_graph_output_file_unwritable_exits_5(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = run(capsys, "graph", "-o", str(tmp_path / "no" / "such" / "dir.dot"))
    assert code == 5
    one_line_error(err)


def test_help_lists_the_new_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["graph", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "6 graph could not be drawn" in out and "--around" in out


# --- trace ------------------------------------------------------------------------------------------


def test_trace_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "trace", "ns-39d60faa-aa")
    assert code == 0 and err == ""
    assert out.startswith("ns-39d60faa-aa (qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc)")
    assert "brqfabc7ead-3c (bridge)" in out and "stays inside this host" in out


def test_trace_every_match_without_netns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "trace", "eth0")
    assert code == 0
    assert out.splitlines()[0] == "eth0 (root, physical)"
    assert len(out.splitlines()) == 2


def test_trace_netns_narrows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "trace", "eth1", "--netns", "vpfx-a0")
    assert code == 0 and len(out.splitlines()) == 1 and out.startswith("eth1 (vpfx-a0)")


def test_trace_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "trace", "--json", "vpfxhid")
    assert code == 0 and err == ""
    document = json.loads(out)
    (entry,) = document["traces"]
    (path,) = entry["paths"]
    assert path["end"] == "unresolved"
    assert path["unresolved"]["reason"] == "peer-netns-unreachable" and path["unresolved"]["step"] == "peer"


def test_trace_not_found_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "trace", "nope")
    assert code == 1 and out == ""
    one_line_error(err)


def test_trace_not_found_json_is_empty(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "trace", "--json", "nope")
    assert code == 1 and json.loads(out)["traces"] == []


@pytest.mark.parametrize("name", ["w" * 20000, "\u6f22" * 20000, "a\x1b\"&<>" * 4000], ids=["ascii", "wide", "hostile"])
def test_a_label_too_long_for_graphviz_is_shortened_and_the_svg_is_valid(capsys: pytest.CaptureFixture[str],
                                                                          tmp_path: Path, name: str) -> None:
    """Before: a label of 16384 bytes or more made `dot` fail (`graph --format svg` exited 6)."""
    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot (Debian: graphviz)")
    from xml.etree import ElementTree

    data = json.loads(Path(FIXTURE).read_text(encoding="utf-8"))
    (ns,) = [ns for ns in data["namespaces"] if ns["names"] == ["vpfx-a1"]]
    ns["owners"] = [{"kind": "docker", "name": name, "id": None, "extra": [], "how": "test"}]
    path = tmp_path / "long.snapshot.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert cli.main(["--load", str(path), "graph", "-f", "dot"]) == 0
    dot_text = capsys.readouterr().out
    assert max(len(s) for s in dot_text.split('"')) < 16384
    assert "&#8230;" in dot_text and "tooltip=" in dot_text  # the ellipsis, and the whole text on hover
    assert cli.main(["--load", str(path), "graph", "-f", "svg", "-o", str(tmp_path / "long.svg")]) == 0
    ElementTree.parse(tmp_path / "long.svg")  # well-formed
    capsys.readouterr()
    assert cli.main(["--load", str(path), "graph", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert any(c["label"] == f"docker: {name}" for c in document["namespaces"])  # JSON keeps it whole
    # Mermaid refuses a diagram over 50000 characters (maxTextSize): the label is shortened there too.
    from test_graph import validate_mermaid

    assert cli.main(["--load", str(path), "graph", "-f", "mermaid"]) == 0
    mermaid_text = capsys.readouterr().out
    assert len(mermaid_text) < 50000 and "#8230;" in mermaid_text
    validate_mermaid(mermaid_text)
