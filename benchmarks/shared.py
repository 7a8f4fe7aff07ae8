"""What runs on a shared remote cost a collaborator who never uses flexgit, in format 1 and format 2.

For 0, 10,000 and (with --large) 100,000 runs, a bare remote holds the project and the runs in
format 1's layout (branch refs/heads/experiments, tags refs/tags/exp/*) or format 2's
(branch refs/flexgit/heads/experiments and the notes; names only in the notes), built with
`git fast-import` (packed, seconds at 100,000). Over a file:// transport it times a plain
`git clone` and a no-op `git fetch`, weighs the clone's .git, counts what `git tag` and
`git branch -r` list, and times a `flexgit pull` of every run into a fresh clone. Ratios are
to the same project with no runs, medians of interleaved repetitions.

    python benchmarks/shared.py [--sizes 0,10000] [--large] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
IDENTITY = "bench <bench@example.com> 1700000000 +0000"
LAYOUTS = {1: ("refs/heads/experiments", "refs/tags/exp/"), 2: ("refs/flexgit/heads/experiments", None)}


def git(*args: str, cwd: Path | None = None, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=True)
    return done.stdout.decode()


def _blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n%s\n" % (len(data), data)


def fast_import_stream(size: int, layout: int) -> bytes:
    """A project commit, then `size` run commits, their notes and names, in git fast-import's format."""
    branch, names = LAYOUTS[layout]
    out = [b"commit refs/heads/main\nmark :1\ncommitter %s\n" % IDENTITY.encode(), _blob("project"),
           b"M 100644 inline train.py\n", _blob("print('training')\n" * 200),
           b"M 100644 inline README.md\n", _blob("A project.\n" * 2000), b"\n"]
    if not size:
        return b"".join(out)
    out += [b"commit %s\nmark :2\ncommitter %s\n" % (branch.encode(), IDENTITY.encode()),
            _blob("flexgit experiments branch\n\nFlexgit-Kind: root\nFlexgit-Format: %d" % layout), b"\n"]
    for i in range(size):
        mark = 10 + i
        out += [b"commit %s\nmark :%d\ncommitter %s\n" % (branch.encode(), mark, IDENTITY.encode()),
                _blob(f"run run-{i}\n\nFlexgit-Kind: run\nFlexgit-Name: run-{i}\nFlexgit-Format: {layout}"),
                b"M 100644 inline train.py\n", _blob("print('training')\n" * 200),
                b"M 100644 inline .flexgit/config.toml\n", _blob(f"lr = {i / size}\nseed = {i}\n"),
                b"M 100644 inline .flexgit/results.toml\n", _blob(f"acc = {(i * 7919 % 1000) / 1000}\n"),
                b"\n"]
    out += [b"commit refs/notes/flexgit\ncommitter %s\n" % IDENTITY.encode(), _blob("flexgit: record")]
    for i in range(size):
        row = ('{"v":1,"t":"2026-01-01T00:00:00.%06dZ","name":"run-%d","params":{"lr":%r},"metrics":{"acc":%r}}'
               % (i, i, i / size, (i * 7919 % 1000) / 1000))
        out += [b"N inline :%d\n" % (10 + i), _blob(row)]
    out.append(b"\n")
    for i in range(size if names else 0):
        out.append(b"reset %srun-%d\nfrom :%d\n\n" % (names.encode(), i, 10 + i))
    return b"".join(out)


def build_remote(path: Path, size: int, layout: int) -> Path:
    git("init", "-q", "--bare", str(path))
    git("fast-import", "--quiet", cwd=path, data=fast_import_stream(size, layout))
    # A reverse index beside each pack, as git >= 2.41 writes by default and hosts keep: without
    # it every clone sorts the offsets of the whole pack (14 ms at 100,000 runs on git 2.39).
    for pack in (path / "objects" / "pack").glob("*.pack"):
        git("index-pack", "--rev-index", str(pack))
    git("pack-refs", "--all", cwd=path)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=path)
    return path


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(root: Path, remotes: dict[tuple[int, int], Path], repeat: int) -> dict[tuple[int, int], dict]:
    """Interleaved: each round clones and fetches every remote once."""
    samples: dict[tuple[int, int], dict[str, list[float]]] = {key: {"clone": [], "fetch": []} for key in remotes}
    figures: dict[tuple[int, int], dict] = {}
    for round_ in range(repeat):
        for key, remote in remotes.items():
            clone = root / f"clone-{key[0]}-{key[1]}-{round_}"
            samples[key]["clone"].append(timed(["git", "clone", "-q", remote.as_uri(), str(clone)]))
            samples[key]["fetch"].append(timed(["git", "fetch", "-q"], cwd=clone))
            if round_ == 0:
                figures[key] = {"bytes": tree_bytes(clone / ".git"),
                                "tags": len(git("tag", cwd=clone).split()),
                                "branches": len(git("branch", "-r", cwd=clone).split("\n")) - 1}
            shutil.rmtree(clone)
    for key in remotes:
        figures[key].update({name: statistics.median(values) for name, values in samples[key].items()})
    return figures


def pull_all(root: Path, remote: Path) -> float:
    """A flexgit user's first `flexgit pull` of every run, into a fresh clone."""
    clone = root / "pull-clone"
    git("clone", "-q", remote.as_uri(), str(clone))
    for key, value in (("user.name", "bench"), ("user.email", "bench@example.com")):
        git("config", key, value, cwd=clone)
    elapsed = timed([PYTHON, "-m", "flexgit", "pull"], cwd=clone)
    shutil.rmtree(clone)
    return elapsed


def report(figures: dict[tuple[int, int], dict], pulls: dict[int, float]) -> str:
    base = figures[(0, 2)]
    lines = ["What a collaborator who never runs flexgit pays for runs on the remote (file://, ratios to no runs):",
             "",
             "| runs | format | plain clone | .git size | no-op fetch | `git tag` lists | `git branch -r` lists |"
             " flexgit pull of all runs |",
             "|---|---|---|---|---|---|---|---|"]
    for (size, layout), fig in sorted(figures.items()):
        pull = f"{pulls[size]:.2f} s" if layout == 2 and size in pulls else ""
        lines.append(f"| {size:,} | {layout} | {fig['clone'] * 1000:.0f} ms ({fig['clone'] / base['clone']:.2f}x) | "
                     f"{fig['bytes'] / 1024:,.0f} KiB ({fig['bytes'] / base['bytes']:.2f}x) | "
                     f"{fig['fetch'] * 1000:.0f} ms ({fig['fetch'] / base['fetch']:.2f}x) | {fig['tags']:,} | "
                     f"{fig['branches']} | {pull} |")
    return "\n".join(lines)


def run(root: Path, sizes: list[int], repeat: int) -> str:
    remotes = {}
    for size in sizes:
        for layout in (1, 2) if size else (2,):
            remotes[(size, layout)] = build_remote(root / f"remote-{size}-{layout}.git", size, layout)
    figures = measure(root, remotes, repeat)
    figures[(0, 1)] = figures[(0, 2)]  # no runs: the two formats are the same repository
    pulls = {size: pull_all(root, remotes[(size, 2)]) for size in sizes if size}
    return report(figures, pulls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,10000", help="run counts, comma-separated (0 is always measured)")
    parser.add_argument("--large", action="store_true", help="also 100,000 runs")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per figure (median)")
    args, _ = parser.parse_known_args()  # make bench passes bench.py's options too
    sizes = sorted({0, *(int(s) for s in args.sizes.split(",") if s), *([100_000] if args.large else [])})
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    with tempfile.TemporaryDirectory(prefix="flexgit-bench-shared-") as root:
        print(run(Path(root), sizes, args.repeat))


if __name__ == "__main__":
    main()
