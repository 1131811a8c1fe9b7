"""How vethpeer reaches a node (issue 22): the one-file zipapp, the installer, the man page and
the shell completions, each run for real (the Pythons, shells and man tools that are here)."""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from lab import Lab

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = str(ROOT / "tests" / "data" / "host.snapshot.json")
SRC = str(ROOT / "src")


@functools.lru_cache(maxsize=1)
def pythons() -> Dict[Tuple[int, int], str]:
    """Every CPython >= 3.9 found here, by version: on PATH, /usr/bin and pyenv's versions."""
    found: Dict[Tuple[int, int], str] = {}
    candidates = [shutil.which(f"python3.{minor}") for minor in range(9, 30)]
    candidates += glob.glob("/usr/bin/python3.*") + glob.glob("/root/.pyenv/versions/3.*/bin/python3.*")
    for path in candidates:
        if not path or not re.search(r"python3\.\d+\Z", path) or not os.access(path, os.X_OK):
            continue
        probe = subprocess.run([path, "-I", "-c", "import sys; print(*sys.version_info[:2])"],
                               capture_output=True, text=True, timeout=60, check=False)
        if probe.returncode == 0:
            major, minor = (int(part) for part in probe.stdout.split())
            if (major, minor) >= (3, 9):
                found.setdefault((major, minor), os.path.realpath(path))
    return found


def oldest_and_newest() -> List[str]:
    known = pythons()
    if not known:
        return [sys.executable]
    ordered = sorted(known)
    return list(dict.fromkeys([known[ordered[0]], known[ordered[-1]]]))


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("pyz") / "vethpeer.pyz"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-pyz"), str(output)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return output


def clean_env() -> Dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}


def installed(*args: str) -> subprocess.CompletedProcess:
    """The command as installed in this environment (the package from src/)."""
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "vethpeer", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


# --- one file -------------------------------------------------------------------------------------


def test_pyz_is_an_executable_zipapp_for_any_python3(pyz: Path) -> None:
    with open(pyz, "rb") as handle:
        assert handle.readline() == b"#!/usr/bin/env python3\n"
    assert os.stat(pyz).st_mode & 0o111 == 0o111
    import zipfile

    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert "__main__.py" in names and "vethpeer/cli/__init__.py" in names
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]


@pytest.mark.parametrize("python", oldest_and_newest())
def test_pyz_runs_isolated_where_the_package_is_not_importable(pyz: Path, tmp_path: Path, python: str) -> None:
    """`python3 -I vethpeer.pyz` in an empty directory answers as the installed command does."""
    gone = subprocess.run([python, "-I", "-c", "import vethpeer"], cwd=tmp_path, capture_output=True,
                          env=clean_env(), timeout=60, check=False)
    assert gone.returncode != 0, "the package is importable here: the test would prove nothing"
    version = subprocess.run([python, "-I", str(pyz), "-V"], cwd=tmp_path, capture_output=True, text=True,
                             env=clean_env(), timeout=60, check=False)
    assert version.returncode == 0, version.stderr
    assert version.stdout == installed("-V").stdout
    for args in (("--load", FIXTURE, "-j", "list"), ("--load", FIXTURE, "-j", "peer", "ns-39d60faa-aa"),
                 ("--load", FIXTURE, "graph", "--format", "mermaid")):
        ours = subprocess.run([python, "-I", str(pyz), *args], cwd=tmp_path, capture_output=True, text=True,
                              env=clean_env(), timeout=120, check=False)
        reference = installed(*args)
        assert (ours.returncode, ours.stdout) == (reference.returncode, reference.stdout), ours.stderr
        assert reference.returncode == 0 and reference.stdout, reference.stderr


@pytest.mark.live
@pytest.mark.parametrize("python", oldest_and_newest())
def test_pyz_lists_the_live_host_as_the_installed_command(pyz: Path, tmp_path: Path, python: str, lab: Lab) -> None:
    namespace = lab.netns("pz")
    lab.veth(lab.link_name("pz"), None, "eth0", namespace)
    ours = subprocess.run([python, "-I", str(pyz), "-j", "list"], cwd=tmp_path, capture_output=True, text=True,
                          env=clean_env(), timeout=300, check=False)
    reference = installed("-j", "list")
    assert ours.returncode == reference.returncode == 0, ours.stderr

    def lab_pairs(text: str) -> List[Tuple[str, str]]:
        return sorted((pair["a"]["ifname"], pair["b"]["ifname"]) for pair in json.loads(text)["pairs"]
                      if lab.prefix in pair["a"]["ifname"] + pair["b"]["ifname"])

    assert lab_pairs(ours.stdout) == lab_pairs(reference.stdout) == [("eth0", lab.link_name("pz"))]


def test_build_pyz_refuses_extra_arguments() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-pyz"), "a", "b"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode != 0 and "usage" in result.stderr


# --- shell completion -----------------------------------------------------------------------------


def complete(line: List[str]) -> List[str]:
    from vethpeer import cli, completion

    return completion.candidates(cli.build_parser(), line)


def test_completion_offers_commands_options_and_values_from_the_parser() -> None:
    from vethpeer import cli

    load = ["vethpeer", "--load", FIXTURE]
    assert complete(["vethpeer", "li"]) == ["list"]
    assert "completion" in complete(["vethpeer", ""]) and "peer" in complete(["vethpeer", ""])
    assert set(complete(["vethpeer", "peer", "--"])) >= {"--netns", "--json", "--version", "--load"}
    assert complete(["vethpeer", "graph", "--format", "s"]) == ["svg"]
    assert complete(["vethpeer", "graph", "--format=m"]) == ["--format=mermaid"]
    assert complete(["vethpeer", "--load", ""]) == [":files"]
    assert complete(["vethpeer", "--root", "/"]) == [":dirs"]
    assert complete(["vethpeer", "completion", ""]) == ["bash", "zsh", "fish"]
    assert complete([*load, "peer", "ns-39"]) == ["ns-39d60faa-aa"]
    assert complete([*load, "peer", "ns-39d60faa-aa", ""]) == []  # one IFNAME only
    assert "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc" in complete([*load, "show", "--netns", "q"])
    assert complete([*load, "graph", "--around", "tap39"]) == ["tap39d60faa-aa"]
    assert "bridge" in complete([*load, "graph", "--kind", ""])
    # Every option of every command is offered (a new one completes without touching completion.py).
    parser = cli.build_parser()
    for name, sub in __import__("vethpeer.completion").completion._subparsers(parser).items():
        offered = set(complete(["vethpeer", name, "-"]))
        for action in sub._actions:
            assert set(action.option_strings) <= offered, (name, action.option_strings)


def test_completion_never_offers_what_a_shell_cannot_take() -> None:
    """The fixture holds names with escape sequences and bytes that are not UTF-8."""
    from vethpeer import resolve, snapshot

    topology = resolve.resolve(snapshot.loads(Path(FIXTURE).read_text(encoding="utf-8")))
    hostile = [link.name for link in topology.links.values() if not link.name.isprintable()]
    assert hostile, "the fixture lost its hostile names"
    offered = complete(["vethpeer", "--load", FIXTURE, "peer", ""])
    assert offered and all(word.isprintable() and " " not in word for word in offered)
    assert not set(hostile) & set(offered)


@pytest.fixture
def on_path(tmp_path: Path) -> Dict[str, str]:
    """An environment whose PATH starts with a `vethpeer` that runs this tree."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "vethpeer"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={SRC} exec {sys.executable} -m vethpeer "$@"\n')
    wrapper.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path))


def bash_complete(line: str, env: Dict[str, str]) -> List[str]:
    program = (
        "source <(vethpeer completion bash) || exit 9\n"
        "complete -p vethpeer || exit 8\n"
        f"COMP_LINE={shlex_quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        "read -ra COMP_WORDS <<< \"$COMP_LINE\"; [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')\n"
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
        "_vethpeer; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                            env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "complete -F _vethpeer vethpeer"
    return [line for line in lines[1:] if line]


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def test_bash_completes_commands_and_netns_values(on_path: Dict[str, str]) -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash here")
    assert bash_complete("vethpeer li", on_path) == ["list"]
    assert "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc" in bash_complete(
        f"vethpeer --load {FIXTURE} peer --netns ", on_path)
    assert bash_complete(f"vethpeer --load {FIXTURE} peer ns-39", on_path) == ["ns-39d60faa-aa"]


@pytest.mark.live
def test_bash_completes_a_live_namespace_name(on_path: Dict[str, str], lab: Lab) -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash here")
    name = lab.netns("cmp")
    inside = lab.link_name("ia")
    lab.veth(lab.link_name("ob"), None, inside, name)
    assert bash_complete("vethpeer peer --netns ", on_path).count(name) == 1
    assert bash_complete(f"vethpeer peer {inside[:-1]}", on_path) == [inside]


def test_zsh_completes_in_a_real_interactive_shell(on_path: Dict[str, str], tmp_path: Path) -> None:
    """zsh's own completion system, driven through a pseudo-terminal (zpty)."""
    if shutil.which("zsh") is None:
        pytest.skip("no zsh here (Debian: zsh)")
    functions = tmp_path / "zfunc"
    functions.mkdir()
    script = subprocess.run(["vethpeer", "completion", "zsh"], capture_output=True, text=True, env=on_path,
                            timeout=60, check=True).stdout
    (functions / "_vethpeer").write_text(script)
    driver = tmp_path / "drive.zsh"
    driver.write_text(
        "zmodload zsh/zpty\n"
        "zpty -b z 'zsh -f -i'\n"
        f"zpty -w z 'PS1=\">\"; fpath=({functions} $fpath); autoload -Uz compinit; compinit -u -D; setopt nobeep'\n"
        "zpty -w z 'print READY'\n"
        "zpty -r z line '*READY*'\n"
        f"zpty -n -w z $'vethpeer --load {FIXTURE} peer ns-39\\t'\n"
        "sleep 3\n"
        "zpty -n -w z $'\\C-a print -r -- TYPED:\\n'\n"
        "zpty -w z 'print DONE'\n"
        "out=''\n"
        "zpty -r z out '*DONE*'\n"
        "print -r -- \"$out\"\n"
        "zpty -d z\n")
    result = subprocess.run(["zsh", "-f", str(driver)], capture_output=True, text=True, env=on_path, timeout=60,
                            check=False)
    typed = [line for line in result.stdout.splitlines() if line.startswith("TYPED:")]
    assert typed == [f"TYPED:vethpeer --load {FIXTURE} peer ns-39d60faa-aa"], result.stdout[-2000:]


def test_fish_completes_with_its_own_engine(on_path: Dict[str, str]) -> None:
    if shutil.which("fish") is None:
        pytest.skip("no fish here (Debian: fish)")
    program = (f"vethpeer completion fish | source; complete -C'vethpeer li'; "
               f"complete -C'vethpeer --load {FIXTURE} peer --netns qd'")
    result = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True, env=on_path,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert lines == ["list", "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc"]


def test_complete_is_silent_and_exits_0_on_nonsense() -> None:
    result = installed("__complete", "bash", "vethpeer --load /nonexistent peer ")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# --- the man page ---------------------------------------------------------------------------------

MAN = ROOT / "docs" / "vethpeer.1"


def rendered_man() -> str:
    """docs/vethpeer.1 as `man -l` shows it, overstrikes removed; wide, so options stay on one line."""
    if shutil.which("man") is None:
        pytest.skip("no man here (Debian: man-db)")
    env = dict(os.environ, MANWIDTH="250", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    result = subprocess.run(["man", "-l", str(MAN)], capture_output=True, text=True, env=env, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    text = re.sub(r".\x08", "", result.stdout)
    return text.replace("\u2010", "-").replace("\u2212", "-")


def section(text: str, title: str) -> str:
    match = re.search(rf"^{title}\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)", text, re.M | re.S)
    assert match, f"the man page has no {title} section"
    return match.group(1)


def test_man_page_covers_every_command_option_selector_and_exit_code() -> None:
    from vethpeer import cli, completion, query

    text = rendered_man()
    assert "vethpeer - find the other end of a veth" in text
    assert f'"vethpeer {_version()}"' in MAN.read_text(encoding="utf-8"), "the man page's .TH names another version"
    parser = cli.build_parser()
    commands = section(text, "COMMANDS")
    for name, sub in completion._subparsers(parser).items():
        assert re.search(rf"^ +{name}\b", commands, re.M), f"COMMANDS does not describe {name}"
        for action in sub._actions:
            for option in action.option_strings:
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", section(text, "OPTIONS")), \
                    f"OPTIONS does not describe {name} {option}"
    selectors = section(text, "SELECTORS")
    for prefix in query.SELECTORS:
        assert f"{prefix}:" in selectors, prefix
    assert "pid:PID" in selectors
    codes = {value for key, value in vars(cli).items() if key.startswith("EXIT_") and isinstance(value, int)}
    status = section(text, "EXIT STATUS")
    for code in codes:
        assert re.search(rf"^ +{code}(\n| {{2,}})", status, re.M), f"EXIT STATUS does not list {code}"
    examples = section(text, "EXAMPLES")
    assert examples.count("vethpeer") >= 5


def _version() -> str:
    import vethpeer

    return vethpeer.__version__


def test_man_page_lints_clean() -> None:
    linters = []
    if shutil.which("mandoc"):
        linters.append(["mandoc", "-T", "lint", str(MAN)])
    if shutil.which("groff"):
        linters.append(["groff", "-ww", "-z", "-man", str(MAN)])
    if not linters:
        pytest.skip("neither mandoc nor groff here (Debian: mandoc)")
    for command in linters:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), command
