"""Shell completion: ``vethpeer completion bash|zsh|fish`` prints a script; the script asks
``vethpeer __complete SHELL ...`` what fits where the cursor is.

The shells only carry words back and forth: which command, option or value fits is decided here,
from the argument parser itself (so a new option completes without touching this file) and, for
interface names and ``--netns`` values, from a read of this host (or of the ``--load`` snapshot
on the line) as the command itself would make it: read-only, no warnings, unprivileged users see
what they can. A value no shell can take as one word (whitespace, control characters: a hostile
container's interface name) is never offered.
"""

from __future__ import annotations

import argparse
import os
import shlex
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence, Set

if TYPE_CHECKING:
    from .model import Topology

#: Printed instead of words when the shell's own file (or directory) completion should run.
FILES = ":files"
DIRS = ":dirs"

SHELLS = ("bash", "zsh", "fish")

#: bash splits words at these (COMP_WORDBREAKS' default); what it replaces starts after the last.
BASH_WORDBREAKS = "\"'><=;|&(:"

# Option dests whose value is a file or a directory.
_FILE_DESTS = {"load", "save", "output"}
_DIR_DESTS = {"root", "proc"}


class _Words:
    """The host's interface names, --netns values and link kinds, read once when first asked."""

    def __init__(self, line: Sequence[str]) -> None:
        self.line = line
        self._topology: Optional[Topology] = None

    def _option(self, *names: str) -> Optional[str]:
        value = None
        for index, word in enumerate(self.line[:-1]):
            for name in names:
                if word == name and index + 1 < len(self.line) - 1:
                    value = self.line[index + 1]
                elif word.startswith(name + "="):
                    value = word[len(name) + 1:]
        return value

    def topology(self) -> Topology:
        if self._topology is None:
            from . import resolve, scanner

            load = self._option("--load")
            if load is not None:
                from .snapshot import load_file

                snap = load_file(os.path.expanduser(load))
                self._topology = resolve.resolve(snap)
            else:
                root = self._option("--root") or "/"
                proc = self._option("--proc") or os.path.join(root, "proc")
                reading = scanner.read_host(addresses=False, root=root, proc=proc)
                self._topology = resolve.resolve(reading.snapshot, reading.pairing)
        assert self._topology is not None
        return self._topology

    def ifnames(self) -> List[str]:
        topology = self.topology()
        names: Set[str] = set()
        for link in topology.links.values():
            names.add(link.name)
            names.update(link.alt_names)
        return sorted(names)

    def netns(self) -> List[str]:
        from .owners import SELECTORS

        topology = self.topology()
        out: Set[str] = set()
        for ns in topology.namespaces:
            out.update(ns.names)
            for owner in ns.owners:
                if owner.kind not in SELECTORS:
                    continue
                name = owner.name.lstrip("/") if owner.kind == "docker" else owner.name
                namespace = owner.get("namespace") if owner.kind == "pod" else None
                if namespace and "/" not in name:
                    name = f"{namespace}/{name}"
                out.add(f"{owner.kind}:{name}")
        return sorted(out)

    def kinds(self) -> List[str]:
        topology = self.topology()
        return sorted({link.kind or "device" for link in topology.links.values()})


def _formats() -> List[str]:
    from .render import graph as graph_render

    return list(graph_render.formats())


def _subparsers(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> Dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings
            if action.help != argparse.SUPPRESS}


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def candidates(parser: argparse.ArgumentParser, line: Sequence[str], read: Optional[_Words] = None) -> List[str]:
    """What may stand in the last word of ``line`` (the program's name first, the word being
    completed last, possibly empty): words that start with it, or FILES / DIRS."""
    words = read or _Words(line)
    current = line[-1] if line else ""
    commands = _subparsers(parser)
    command: Optional[str] = None
    positionals: List[str] = []
    active = parser
    pending: Optional[argparse.Action] = None
    for word in line[1:-1]:
        if pending is not None:
            pending = None
            continue
        if word.startswith("-") and word != "-":
            action = _options(active).get(word.split("=", 1)[0])
            if action is not None and _takes_value(action) and "=" not in word:
                pending = action
            continue
        if command is None and word in commands:
            command = word
            active = commands[word]
            continue
        positionals.append(word)
    prefix = ""
    if pending is None and current.startswith("--") and "=" in current:
        option, _, value = current.partition("=")
        action = _options(active).get(option)
        if action is not None and _takes_value(action):
            pending, prefix, current = action, option + "=", value
    if pending is not None:
        found = _values(pending.dest, words)
    elif current.startswith("-"):
        found = sorted(_options(active))
    elif command is None:
        found = sorted(commands)
    else:
        wanted = [action for action in active._actions if not action.option_strings
                  and not isinstance(action, argparse._SubParsersAction)]
        if len(positionals) >= len(wanted):
            return []
        found = _values(wanted[len(positionals)].dest, words)
    if found in ([FILES], [DIRS]):
        return found
    return [prefix + word for word in found if word.startswith(current) and _safe(word)]


def _values(dest: str, words: _Words) -> List[str]:
    if dest in _FILE_DESTS:
        return [FILES]
    if dest in _DIR_DESTS:
        return [DIRS]
    sources: Dict[str, Callable[[], List[str]]] = {
        "netns": words.netns, "ifname": words.ifnames, "around": words.ifnames, "kind": words.kinds,
        "format": _formats, "graph": _formats, "shell": lambda: list(SHELLS),
    }
    source = sources.get(dest)
    if source is None:
        return []
    try:
        return source()
    except Exception:  # noqa: BLE001 - a completion never shows a traceback, only offers nothing
        return []


def _safe(word: str) -> bool:
    """A word a shell can take as it is: printable, no whitespace."""
    return bool(word) and word.isprintable() and not any(char.isspace() for char in word)


def split_bash_line(line: str) -> List[str]:
    """COMP_LINE up to the cursor as words; the last is the one being completed ('' after a space)."""
    try:
        words = shlex.split(line)
    except ValueError:  # an open quote: the word being typed
        words = line.split()
    if not line or line[-1].isspace():
        words.append("")
    return words


def complete(parser: argparse.ArgumentParser, shell: str, args: Sequence[str]) -> List[str]:
    """``__complete bash LINE`` or ``__complete zsh|fish WORD...``: the lines to print."""
    if shell == "bash":
        line = split_bash_line(args[0] if args else "")
        found = candidates(parser, line)
        if found in ([FILES], [DIRS]):
            return found
        current = line[-1]
        # bash replaces only what follows the last word break in the word ('docker:' stays).
        cut = max((current.rfind(char) for char in BASH_WORDBREAKS), default=-1) + 1
        return [word[cut:] for word in found]
    words = _unquote(args) if shell == "zsh" else list(args)  # zsh hands words over as typed
    return candidates(parser, words or [""])


def _unquote(words: Iterable[str]) -> List[str]:
    out = []
    for word in words:
        try:
            parts = shlex.split(word)
        except ValueError:
            parts = [word]
        out.append(parts[0] if len(parts) == 1 else word)
    return out


def script(shell: str, prog: str) -> str:
    """The completion script for ``shell``."""
    function = "_" + prog.replace("-", "_")
    if shell == "bash":
        return _BASH.replace("@FUNC@", function).replace("@PROG@", prog)
    if shell == "zsh":
        return _ZSH.replace("@FUNC@", function).replace("@PROG@", prog)
    if shell == "fish":
        return _FISH.replace("@FUNC@", function.lstrip("_")).replace("@PROG@", prog)
    raise ValueError(shell)


_BASH = r"""# bash completion for @PROG@: source it, or put it in
# /usr/share/bash-completion/completions/@PROG@ (vethpeer completion bash > that file).
@FUNC@() {
    local IFS=$'\n' cur=${COMP_WORDS[COMP_CWORD]} program=${COMP_WORDS[0]}
    local -a out
    out=($("$program" __complete bash "${COMP_LINE:0:COMP_POINT}" 2>/dev/null)) || return 0
    case ${out[0]-} in
        :files) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
        :dirs) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null ;;
        *) COMPREPLY=("${out[@]}") ;;
    esac
    return 0
}
complete -F @FUNC@ @PROG@
"""

_ZSH = r"""#compdef @PROG@
# zsh completion for @PROG@: put it in a directory of $fpath as _@PROG@
# (vethpeer completion zsh > /usr/local/share/zsh/site-functions/_@PROG@), or source it.
@FUNC@() {
    local -a out
    out=("${(@f)$(${words[1]} __complete zsh "${(@)words[1,CURRENT]}" 2>/dev/null)}")
    case ${out[1]-} in
        :files) _files ;;
        :dirs) _files -/ ;;
        *) (( ${#out} )) && [[ -n ${out[1]} ]] && compadd -- "${out[@]}" ;;
    esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    @FUNC@ "$@"
else
    compdef @FUNC@ @PROG@
fi
"""

_FISH = r"""# fish completion for @PROG@: put it in ~/.config/fish/completions/@PROG@.fish
# (vethpeer completion fish > that file), or source it.
function __@FUNC@_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out ($words[1] __complete fish $words 2>/dev/null)
    switch "$out[1]"
        case :files
            __fish_complete_path (commandline -ct)
        case :dirs
            __fish_complete_directories (commandline -ct)
        case '*'
            printf '%s\n' $out
    end
end
complete -c @PROG@ -f -a '(__@FUNC@_complete)'
"""
