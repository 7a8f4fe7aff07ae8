"""Ref names, trailers, commit messages and format versions: the storage format's constants in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..project.values import escape_control

# Version 2 of the repository format moved run names out of refs/tags and, on remotes, the
# experiments branch out of refs/heads: plain clones, fetches and `git push --tags` never carry
# runs. Note lines keep their own version (NOTE_VERSION): their format did not change.
FORMAT_VERSION = 2
NOTE_VERSION = 1

DEFAULT_BRANCH = "experiments"
NOTES_REF = "refs/notes/flexgit"
RUN_PREFIX = "refs/exp/"  # run names: `git show exp/NAME` still finds them (rev-parse looks in refs/)
LEGACY_RUN_PREFIX = "refs/tags/exp/"  # format 1's run names, still read; `flexgit migrate` moves them
REMOTE_BRANCH_PREFIX = "refs/flexgit/heads/"  # where a remote keeps experiments branches (format 2)
FORMAT_CONFIG = "flexgit.format"  # in the repository's git config: the format its refs are in
FLEXGIT_DIR = ".flexgit"  # inside a run's tree: config.toml, meta.toml, results.toml

CONFIG_FILE = "config.toml"
META_FILE = "meta.toml"
RESULTS_FILE = "results.toml"
DATA_FILE = "data.toml"  # fingerprints of the data the config names
HISTORY_FILE = "history.jsonl"  # step-wise metrics logged with flexgit.log
ARTIFACTS_DIR = "artifacts"  # files a run keeps by name (FLEX's trained model), under .flexgit/
OUTPUTS_DIR = "outputs"  # files a run produced, under .flexgit/, at their path from the top of the tree
CHECKPOINTS_DIR = "checkpoints"  # checkpoint files, under .flexgit/, at <step>/<path from the top>
CHECKPOINTS_FILE = "checkpoints.jsonl"  # one line per checkpoint: step, path, size, metrics
OUTPUT_LOG = "output.log"  # the output of the command `flexgit run` ran

# Trailers of flexgit's commits (the last paragraph of the message, `Key: value` lines).
TRAILER_FORMAT = "Flexgit-Format"  # every flexgit commit, last: the format version it was written in
TRAILER_KIND = "Flexgit-Kind"  # on the experiments branch and checkout branches: one of KINDS
TRAILER_NAME = "Flexgit-Name"  # the run a commit holds (run, snapshot) or a notes commit updated
TRAILER_SOURCE = "Flexgit-Source"  # the user's commit a run was recorded from
TRAILER_BRANCH = "Flexgit-Branch"  # on a recording notes commit: the experiments branch it wrote
TRAILER_TIP = "Flexgit-Tip"  # ... the newest run commit it wrote
TRAILER_RUNS = "Flexgit-Runs"  # ... and how many runs, so a half-done write can be finished

KIND_ROOT = "root"  # the experiments branch's first commit
KIND_RUN = "run"  # one run
KIND_SNAPSHOT = "snapshot"  # a run's code, made by `checkout --branch/--worktree`
KIND_MERGE = "merge"  # runs (or notes) joined from a remote; no note, invisible to listings
KIND_GC = "gc"  # `flexgit gc`: the tip of a rewritten branch; its tree holds GC_RECORD, no note
KINDS = (KIND_ROOT, KIND_RUN, KIND_SNAPSHOT, KIND_MERGE, KIND_GC)
TRAILER_REPLACES = "Flexgit-Replaces"  # on a gc commit: the branch tip the rewrite replaced
GC_RECORD = ".flexgit/gc/record.json"  # in a gc commit: {"replaces", "moved": {old: new}, "removed": [old]}
GC_NOTES = ".flexgit/gc/notes"  # ... and, per removed run, its note as it was (the tombstone travels with it)

# A run name is one ref component; we are stricter than git (no leading '-' or '.',
# printable ASCII only) so that names are safe on every command line and file system.
_NAME = re.compile(r"[A-Za-z0-9_+=,%@][A-Za-z0-9_.+=,%@-]{0,99}\Z")
_BRANCH_PART = re.compile(r"[A-Za-z0-9_+=,%@][A-Za-z0-9_.+=,%@-]*\Z")
# Names git reads as a revision before any tag: HEAD and its kin, '@', a full object id.
_REVISION = re.compile(r"(?:(?:[A-Z]+_)*HEAD|AUTO_MERGE|@|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})\Z")


# A tag label (`flexgit tag RUN +best`): a plain word, so it reads the same in a table cell,
# a --where condition and on every command line.
_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


def is_valid_run_name(name: str) -> bool:
    """True when `name` can be a new run name (a single, conservative ref component, not a revision).

    Not starting with '+' and without ',': `flexgit tag RUN +label` and `--runs A,B` read those.
    """
    return is_known_run_name(name) and not name.startswith("+") and "," not in name


def is_known_run_name(name: str) -> bool:
    """True when `name` is a run name flexgit reads: a new one, or one an older flexgit gave
    (which allowed a leading '+' and ','); runs named so stay readable and can be renamed."""
    return (bool(_NAME.match(name)) and ".." not in name and not name.endswith((".", ".lock")) and "@{" not in name
            and not _REVISION.match(name))


_REVISION_LINE = re.compile(r"^(?:(?:[A-Z]+_)*HEAD|AUTO_MERGE|@|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$", re.MULTILINE)


def all_known_run_names(names: list[str]) -> bool:
    """True when every one of `names` (all str) passes `is_known_run_name`: the same tests, made
    on all names at once (100,000 names in 20 ms, against 100 ms one by one)."""
    if not all(map(_NAME.match, names)):  # and so no name holds a newline: they can be joined by one
        return False
    joined = "\n".join(names) + "\n"
    return (".." not in joined and ".\n" not in joined and ".lock\n" not in joined and "@{" not in joined
            and not _REVISION_LINE.search(joined))


def is_valid_label(label: str) -> bool:
    """True when `label` can be a tag: letters, digits, _ . - (not starting with . or -), 64 at most."""
    return bool(_LABEL.match(label))


def is_valid_branch_name(branch: str) -> bool:
    """True when `branch` is a usable branch name (components like a run name, joined by '/')."""
    parts = branch.split("/")
    return all(_BRANCH_PART.match(p) and ".." not in p and not p.endswith((".", ".lock")) for p in parts)


@dataclass(frozen=True)
class BranchRef:
    """The experiments branch: short name and full ref."""

    name: str

    @property
    def ref(self) -> str:
        """The local branch."""
        return "refs/heads/" + self.name

    @property
    def remote_ref(self) -> str:
        """Where a remote keeps it (format 2): outside refs/heads, so plain clones do not fetch it."""
        return REMOTE_BRANCH_PREFIX + self.name

    @classmethod
    def parse(cls, text: str | None) -> "BranchRef":
        text = text or DEFAULT_BRANCH
        if text.startswith("refs/heads/"):
            text = text[len("refs/heads/"):]
        return cls(text)


def run_ref(name: str) -> str:
    """The ref that names run `name`."""
    return RUN_PREFIX + name


def legacy_run_ref(name: str) -> str:
    """Where format 1 kept the name of run `name` (a tag)."""
    return LEGACY_RUN_PREFIX + name


def commit_message(subject: str, trailer_lines: Sequence[tuple[str, str]] = (), body: str = "") -> str:
    """A flexgit commit message: subject, optional body, then the trailers, the format version last.

    Control characters that reach it unchecked (a pulled note's message) are escaped: a NUL would
    end the message for libgit2 and lose the trailers.
    """
    subject, body = escape_control(subject), escape_control(body)
    lines = [subject]
    if body.strip():
        lines += ["", body.strip()]
    lines += [""] + [f"{key}: {value}" for key, value in trailer_lines] + [f"{TRAILER_FORMAT}: {FORMAT_VERSION}"]
    return "\n".join(lines) + "\n"


def trailers(message: str) -> dict[str, str]:
    """The `Key: value` trailers of the last paragraph of a commit message."""
    last = message.strip().split("\n\n")[-1]
    found = {}
    for line in last.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Flexgit-"):
            found[key] = value.strip()
    return found
