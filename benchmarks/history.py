"""A project with a history of runs, built in seconds with `git fast-import` (packed, no loose objects).

The runs are what `flexgit import` writes for one CSV row each (no code snapshot): the run
commits on the experiments branch, one note per run at flexgit's fan-out path (`ab/cdef...`),
one name ref per run in packed-refs. The note lines, `.flexgit/` files and commit messages
come from flexgit's own `Run`, so the history is byte for byte in flexgit's format; only the
notes history is one commit instead of one per write.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from flexgit.storage.refs import (  # noqa: E402
    FORMAT_CONFIG,
    FORMAT_VERSION,
    KIND_ROOT,
    NOTES_REF,
    TRAILER_KIND,
    commit_message,
    run_ref,
)
from flexgit.storage.run import Run  # noqa: E402
from flexgit.storage.store import note_path  # noqa: E402

BRANCH = "refs/heads/experiments"
IDENTITY = b"bench <bench@example.com> %d +0000"  # at the run's time: commit dates grow, as recorded ones do
EPOCH = 1767225600  # START, in seconds
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _data(payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return b"data %d\n%s\n" % (len(data), data)


def make_project(path: Path) -> Path:
    """A small project with one commit (20 modules and a train.py) and a params file, no runs."""
    path.mkdir(parents=True)
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "bench"],
                 ["config", "user.email", "bench@example.com"], ["config", "gc.auto", "0"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    for i in range(20):
        (path / f"module_{i}.py").write_text(f"VALUE = {i}\n" * 50)
    (path / "train.py").write_text("print('train')\n")
    subprocess.run(["git", "add", "."], cwd=path, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "project"], cwd=path, check=True)
    (path / "params.toml").write_text('lr = 0.1\nmodel = "mlp"\n')
    return path


def runs(size: int, seed: int, prefix: str = "h", first: int = 0) -> list[Run]:
    """`size` runs as an import of rows `name,lr,depth,model,acc,loss` would make them, a second
    apart from START + `first` seconds."""
    rng = random.Random(seed)
    found = []
    for i in range(size):
        when = START + dt.timedelta(seconds=first + i)
        found.append(Run(
            name=f"{prefix}{i}", params={"lr": round(rng.random(), 6), "depth": i % 7, "model": f"m{i % 3}"},
            metrics={"acc": round(rng.random(), 6), "loss": round(rng.random(), 6)},
            meta={"imported": "runs.csv", "import_row": f"{rng.getrandbits(64):016x}", "flexgit": "bench"},
            date=when.strftime("%Y-%m-%dT%H:%M:%SZ"), time=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            branch="experiments"))
    return found


def _branch_stream(found: list[Run], first_mark: int, parent: str | None, branch: str) -> bytes:
    """The run commits, one after the other on the experiments branch (a root commit first if none)."""
    out = []
    if parent is None:
        root = commit_message("flexgit experiments branch 'experiments'", [(TRAILER_KIND, KIND_ROOT)])
        out += [b"commit %s\ncommitter %s\n" % (branch.encode(), IDENTITY % EPOCH), _data(root), b"deleteall\n\n"]
    else:
        out += [b"reset %s\nfrom %s\n\n" % (branch.encode(), parent.encode())]
    for i, run in enumerate(found):
        when = IDENTITY % (EPOCH + 1 + int((dt.datetime.fromisoformat(run.time[:19]).replace(
            tzinfo=dt.timezone.utc) - START).total_seconds()))
        out += [b"commit %s\nmark :%d\ncommitter %s\n" % (branch.encode(), first_mark + i, when),
                _data(run.commit_message()), b"deleteall\n"]
        for name, data in run.flexgit_files().items():
            out += [b"M 100644 inline .flexgit/%s\n" % name.encode(), _data(data)]
        out.append(b"\n")
    return b"".join(out)


def _fast_import(repo: Path, stream: bytes, marks: Path | None = None) -> dict[int, str]:
    args = ["git", "fast-import", "--quiet", "--force"]
    if marks is not None:
        args.append(f"--export-marks={marks}")
    subprocess.run(args, cwd=repo, input=stream, check=True)
    if marks is None:
        return {}
    found = {}
    for line in marks.read_text().splitlines():
        mark, oid = line.split()
        found[int(mark[1:])] = oid
    marks.unlink()
    return found


def add_runs(repo: Path, found: list[Run], names: bool = True, branch: str = BRANCH) -> list[str]:
    """Add `found` to the history of `repo` (branch, notes and, with `names`, name refs): one notes
    commit. Returns their commits."""
    git_dir = Path(subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=repo, check=True,
                                  capture_output=True, text=True).stdout.strip())
    tip = _ref(repo, branch)
    marks = _fast_import(repo, _branch_stream(found, 1, tip, branch), git_dir / "bench-marks")
    commits = [marks[1 + i] for i in range(len(found))]
    notes_tip = _ref(repo, NOTES_REF)
    stream = [b"commit %s\ncommitter %s\n" % (NOTES_REF.encode(), IDENTITY % (EPOCH + 10 ** 6)),
              _data(f"flexgit: record {len(found)} runs")]
    if notes_tip:
        stream.append(b"from %s\n" % notes_tip.encode())
    for run, commit in zip(found, commits, strict=True):
        stream += [b"M 100644 inline %s\n" % note_path(commit).encode(), _data(run.with_id(commit).to_note_line())]
    stream.append(b"\n")
    _fast_import(repo, b"".join(stream))
    if names:  # straight into packed-refs: one file, as flexgit writes many names
        refs = {run_ref(run.name): commit for run, commit in zip(found, commits, strict=True)}
        packed = git_dir / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line and line[0] not in "#^":
                    oid, ref = line.split(" ", 1)
                    refs.setdefault(ref, oid)
        packed.write_text("# pack-refs with: peeled fully-peeled sorted \n" +
                          "".join(f"{refs[ref]} {ref}\n" for ref in sorted(refs)))
        subprocess.run(["git", "pack-refs", "--all"], cwd=repo, check=True)
    subprocess.run(["git", "config", FORMAT_CONFIG, str(FORMAT_VERSION)], cwd=repo, check=True)
    return commits


def _ref(repo: Path, ref: str) -> str | None:
    done = subprocess.run(["git", "rev-parse", "-q", "--verify", ref], cwd=repo, capture_output=True, text=True)
    return done.stdout.strip() or None


def build_history(path: Path, size: int) -> Path:
    """A project with `size` runs, packed as a clone or `git gc` leaves a long-lived repository.

    Built in a child process: a child's peak memory as the kernel reports it includes its parent's
    (its copy of it before `exec`), so the measuring process stays small.
    """
    subprocess.run([sys.executable, __file__, str(path), str(size)], check=True)
    return path


def _build(path: Path, size: int) -> None:
    repo = make_project(path)
    if size:
        add_runs(repo, runs(size, size))
    # Packed also with no runs: the baseline is the same project without runs, so the comparison
    # isolates the size of the history. The repack finds deltas, as `git gc` does.
    subprocess.run(["git", "repack", "-adq"], cwd=repo, check=True)
    subprocess.run(["git", "pack-refs", "--all"], cwd=repo, check=True)
    subprocess.run(["git", "commit-graph", "write", "--reachable"], cwd=repo, check=True)  # as gc writes it


if __name__ == "__main__":
    _build(Path(sys.argv[1]), int(sys.argv[2]))
