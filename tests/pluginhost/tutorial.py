"""docs/plugins.md's tutorial read as steps, and the shell a reader types them into.

The tutorial marks what it asks the reader to do (the comment at the top of its section says so
for its editors):

- a ``console`` block: commands after ``$ ``, each followed by an excerpt of what it prints;
  a ``bash`` block: one script, no output shown;
- ``<!-- tutorial: write PATH -->`` right above a code block: the reader writes it to ``PATH``;
- ``<!-- tutorial: tree DIR -->`` right above a listing (``weather/`` then one indented path per
  line, maybe followed by a description): ``DIR`` holds exactly those files.

Any other code block in the section is an error, so no step of the tutorial goes unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from tests.pluginhost.commands import run

SECTION = "## Tutorial: from scaffold to installed plugin"
READER_HOME = "/home/you"  # what the tutorial's printed paths show for the home folder
MARKER = "<!-- tutorial: "
# A code block, with the marker comment right above it if there is one.
BLOCK = re.compile(
    r"(?:^<!-- tutorial: (?P<action>\w+) (?P<argument>\S+) -->\n)?^```(?P<info>\S*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
SHELL_SCRIPTS = ("bash", "sh", "shell")


class TutorialError(ValueError):
    """The tutorial's text breaks the conventions the test reads it by."""


@dataclass(frozen=True)
class Command:
    line: str
    prints: tuple[str, ...] = ()  # an excerpt of its output, line by line


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: str


@dataclass(frozen=True)
class FileTree:
    directory: str
    files: tuple[str, ...]


Step: TypeAlias = Command | WriteFile | FileTree


def tutorial_section(markdown: str) -> str:
    start = markdown.index(SECTION)
    end = markdown.find("\n## ", start + len(SECTION))
    return markdown[start : end if end >= 0 else len(markdown)]


def tutorial_steps(markdown: str) -> list[Step]:
    """The steps of the tutorial in ``markdown`` (docs/plugins.md), in reading order."""
    section = tutorial_section(markdown)
    steps: list[Step] = []
    markers = 0
    for block in BLOCK.finditer(section):
        info, body = block["info"], block["body"]
        if block["action"]:
            markers += 1
            steps.append(_marked(block["action"], block["argument"], body))
        elif info == "console":
            steps.extend(_console(body))
        elif info in SHELL_SCRIPTS:
            steps.append(Command(body.rstrip("\n")))
        else:
            raise TutorialError(f"a ```{info} block that says neither what to run nor what to write:\n{body}")
    if section.count(MARKER) != markers:
        raise TutorialError(f"a {MARKER}… comment that is not right above a code block")
    return steps


def _marked(action: str, argument: str, body: str) -> Step:
    if action == "write":
        return WriteFile(argument, body)
    if action == "tree":
        _root, *entries = body.splitlines()
        return FileTree(argument, tuple(entry.split()[0] for entry in entries if entry.strip()))
    raise TutorialError(f"unknown tutorial action {action!r} (write, tree)")


def _console(body: str) -> list[Command]:
    commands: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif not commands:
            raise TutorialError(f"a console block prints {line!r} before any command")
        elif line.strip():
            commands[-1][1].append(line)
    return [Command(line, tuple(prints)) for line, prints in commands]


def missing_lines(output: str, excerpt: Sequence[str], *, home: Path) -> list[str]:
    """The lines of ``excerpt`` not found in ``output``, each within one line and in order."""
    lines = iter(output.splitlines())
    missing: list[str] = []
    for expected in excerpt:
        wanted = expected.replace(READER_HOME, str(home))
        if not any(wanted in line for line in lines):
            missing.append(expected)  # the lines left are consumed: the rest are missing too
    return missing


class ReaderShell:
    """Commands run one at a time in bash, in the current folder, which a ``cd`` changes."""

    def __init__(self, *, home: Path, cwd: Path, env: Mapping[str, str]) -> None:
        self.home = home
        self.cwd = cwd
        self.env = dict(env)
        self._cwd_file = home.parent / "reader-shell-cwd"

    def run(self, command: str) -> str:
        """Run ``command`` (the test fails unless it succeeds); its output."""
        script = f'{command}\npwd >"$1"'  # -e: a failing line stops the script; pwd: for the next command
        output = run(["bash", "-ec", script, "bash", str(self._cwd_file)], cwd=self.cwd, env=self.env)
        self.cwd = Path(self._cwd_file.read_text(encoding="utf-8").strip())
        return output

    def path(self, path: str) -> Path:
        """``path`` as the shell reads it: ``~`` is the home folder, a relative path is in ``cwd``."""
        if path == "~" or path.startswith("~/"):
            return self.home / path[2:]
        return self.cwd / path

    def write(self, path: str, content: str) -> None:
        self.path(path).write_text(content, encoding="utf-8")

    def files(self, directory: str) -> list[str]:
        root = self.path(directory)
        return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
