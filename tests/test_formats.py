"""The output formats table (render/formats.py): every row answers every command, and the CLI
writes exactly what the row it picks writes (it has no per-format branches of its own)."""

from __future__ import annotations

import json
import os

import pytest

from vethpeer import cli, resolve, snapshot
from vethpeer.render.formats import FORMATS, Format
from vethpeer.render.text import Style

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "host.snapshot.json")


@pytest.fixture(scope="module")
def topology():  # type: ignore[no-untyped-def]
    with open(FIXTURE, encoding="utf-8") as handle:
        return resolve.resolve(snapshot.loads(handle.read()))


def test_there_is_a_text_and_a_json_row_and_every_row_answers_every_command() -> None:
    assert set(FORMATS) >= {"text", "json"}
    for name, row in FORMATS.items():
        assert row.name == name and all(callable(part) for part in row[1:]), name
    assert set(Format._fields) == {"name", "list", "peer", "show", "namespaces", "trace", "watch"}


@pytest.mark.parametrize("command", ["list", "namespaces"])
@pytest.mark.parametrize("name", ["text", "json"])
def test_the_cli_writes_what_the_row_writes(capsys: pytest.CaptureFixture[str], topology, name: str,
                                            command: str) -> None:  # type: ignore[no-untyped-def]
    row = FORMATS[name]
    expected = row.list(topology, Style(False), None) if command == "list" else row.namespaces(topology, Style(False))
    code = cli.main(["--load", FIXTURE, *(["--json"] if name == "json" else []), command])
    out, _err = capsys.readouterr()
    assert code == 0 and out == expected
    if name == "json":
        assert json.loads(out)["version"] == 1
    else:
        with pytest.raises(ValueError):
            json.loads(out)


def test_json_rows_build_documents_the_demo_takes_as_they_are(topology) -> None:  # type: ignore[no-untyped-def]
    from vethpeer.render import json as json_render

    document = json_render.list_document(topology)
    assert json.loads(FORMATS["json"].list(topology, Style(False), None)) == document
    demo = os.path.join(os.path.dirname(FIXTURE), "..", "..", "src", "vethpeer", "demo.py")
    with open(demo, encoding="utf-8") as handle:
        assert "json.loads" not in handle.read(), "the demo parses what it just rendered"


def test_a_watch_writer_per_stream(topology) -> None:  # type: ignore[no-untyped-def]
    from vethpeer.events import Event
    from vethpeer.render import watch as watch_render

    text, lines = FORMATS["text"].watch(), FORMATS["json"].watch()
    event = Event(0.0, "synced", topology)
    assert json.loads(lines(event))["event"] == "synced"
    assert text(event) == watch_render.render_text(event)
