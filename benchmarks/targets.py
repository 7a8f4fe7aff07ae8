"""The targets of speed where users feel it, each beside its floor measured in the same run: the
floors and the one table.

- the cold table's floor is a minimal program doing the same work with plain git: every note
  (`git notes list` piped to `git cat-file --batch`) into a few lines of Python that parse each
  row's JSON and write the CSV;
- the import's floor is `git fast-import` writing the same runs (the history builder);
- a pull of 100 new runs into the large history is compared with the same pull into 1,000 runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import history

PYTHON = sys.executable

# The minimal program: the rows' JSON in, the CSV out, nothing checked, nothing kept.
MINIMAL_CSV = r"""
import csv, json, sys
read, rows = sys.stdin.buffer, []
while header := read.readline():
    _, size, commit = header.split()
    row = json.loads(read.read(int(size) + 1).split(b"\n", 1)[0])
    flat = {"name": row["name"], "id": commit[:10].decode(), "date": row["date"], "message": row["message"]}
    flat.update({"params." + k: v for k, v in row["params"].items()})
    flat.update({"metrics." + k: v for k, v in row["metrics"].items()})
    rows.append(flat)
columns = list(dict.fromkeys(key for row in rows for key in row))
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(columns)
out.writerows([row.get(c) for c in columns] for row in rows)
"""
MINIMAL_PIPE = ("git notes --ref=flexgit list | git cat-file --batch='%(objectname) %(objectsize) %(rest)' | "
                f"{PYTHON} -c '{MINIMAL_CSV}' > /dev/null")


def minimal_table(repo: Path) -> float:
    """Seconds of the minimal program reading every note of `repo` into a CSV."""
    start = time.perf_counter()
    subprocess.run(MINIMAL_PIPE, shell=True, cwd=repo, check=True)
    return time.perf_counter() - start


def flexgit(repo: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "flexgit", *args], cwd=repo, check=True, capture_output=True)
    return time.perf_counter() - start


def pull_setup(root: Path, size: int, new: int = 100) -> tuple[Path, Path]:
    """A clone holding `size` runs, already pulled from a remote that now holds `new` more."""
    local = history.build_history(root / "local", size)
    remote = root / "remote.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(local), str(remote)], check=True)
    # The remote in format 2's layout: the branch outside refs/heads, names in the notes only.
    lines = subprocess.run(["git", "for-each-ref", "--format=delete %(refname)", "refs/exp/", "refs/heads/"],
                           cwd=remote, check=True, capture_output=True, text=True).stdout
    tip = subprocess.run(["git", "rev-parse", history.BRANCH], cwd=local, check=True, capture_output=True,
                         text=True).stdout.strip()
    subprocess.run(["git", "update-ref", "--stdin"], cwd=remote, check=True, text=True,
                   input=lines + f"create refs/flexgit/heads/experiments {tip}\n")
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/flexgit/heads/experiments"], cwd=remote, check=True)
    subprocess.run(["git", "remote", "add", "origin", str(remote)], cwd=local, check=True)
    flexgit(local, "pull")  # tracking refs and refspecs, nothing new
    history.add_runs(remote, history.runs(new, size + 1, prefix="new", first=size), names=False,
                     branch="refs/flexgit/heads/experiments")
    return local, remote


# What a pull's `git fetch` did before flexgit fetched aside: every local ref in git's view.
FETCH = ["git", "fetch", "--quiet", "--no-tags", "--refmap=",
         "--negotiation-tip=refs/flexgit/remotes/origin/heads/experiments",
         "--negotiation-tip=refs/flexgit/remotes/origin/notes/flexgit", "origin",
         "+refs/flexgit/heads/experiments:refs/flexgit/remotes/origin/heads/experiments",
         "+refs/notes/flexgit:refs/flexgit/remotes/origin/notes/flexgit"]
# The least git itself does for the same refs: a fetch in a repository that holds only the tracking refs and
# the local tips, sharing the clone's objects (what flexgit's pull now does, without flexgit around it).
KEPT = ["refs/flexgit/remotes/origin/heads/experiments", "refs/flexgit/remotes/origin/notes/flexgit",
        "refs/heads/experiments", "refs/notes/flexgit"]


def fetch_aside(clone: Path) -> None:
    """The floor of a pull in git itself: `FETCH`'s refs fetched from a repository of `KEPT` alone."""
    git_dir = clone / ".git"
    aside = Path(tempfile.mkdtemp(dir=git_dir))
    try:
        for ref in KEPT:
            tip = subprocess.run(["git", "rev-parse", "--verify", "-q", ref], cwd=clone, capture_output=True,
                                 text=True).stdout.strip()
            if tip:
                (aside / ref).parent.mkdir(parents=True, exist_ok=True)
                (aside / ref).write_text(tip + "\n")
        (aside / "refs").mkdir(exist_ok=True)
        (aside / "HEAD").write_text("ref: refs/heads/none\n")
        (aside / "config").write_text(f'[include]\n\tpath = "{git_dir / "config"}"\n[core]\n\tbare = true\n'
                                      "[gc]\n\tauto = 0\n[fetch]\n\twriteCommitGraph = false\n")
        subprocess.run(["git", "fetch", "--quiet", "--no-tags", "--no-auto-maintenance", "--no-write-fetch-head",
                        "--refmap=", "origin", *FETCH[-2:]], cwd=clone, check=True, capture_output=True,
                       env={**os.environ, "GIT_DIR": str(aside), "GIT_OBJECT_DIRECTORY": str(git_dir / "objects")})
    finally:
        shutil.rmtree(aside)


def measure_pull(root: Path, sizes: tuple[int, int], repeat: int) -> dict[str, dict[int, float]]:
    """Median seconds of `flexgit pull` of 100 new runs into a copy of each clone, of the same refs fetched by
    plain `git fetch` (`fetch`: every local ref in git's view) and by `fetch_aside` (`aside`: the least git
    does) into other copies, interleaved, and (`own`) of each repetition's pull minus its `aside`: what
    flexgit adds to git's own floor."""
    clones = {size: pull_setup(root / f"pull-{size}", size)[0] for size in sizes}
    kinds = ("pull", "fetch", "aside")
    times: dict[str, dict[int, list[float]]] = {what: {size: [] for size in sizes} for what in kinds}
    for _ in range(repeat):
        for size, clone in clones.items():
            for what in kinds:
                copy = clone.parent / "copy"
                subprocess.run(["cp", "-al", str(clone), str(copy)], check=True)  # objects shared, refs its own
                start = time.perf_counter()
                if what == "aside":
                    fetch_aside(copy)
                else:
                    subprocess.run([PYTHON, "-m", "flexgit", "pull"] if what == "pull" else FETCH, cwd=copy,
                                   check=True, capture_output=True)
                times[what][size].append(time.perf_counter() - start)
                shutil.rmtree(copy)
    times["own"] = {size: [p - f for p, f in zip(times["pull"][size], times["aside"][size], strict=True)]
                    for size in sizes}
    return {what: {size: statistics.median(values) for size, values in by_size.items()}
            for what, by_size in times.items()}


IMPORT_FLOOR = """
import sys, time
from pathlib import Path
import history
repo = history.make_project(Path(sys.argv[1]))
start = time.perf_counter()
history.add_runs(repo, history.runs(int(sys.argv[2]), 0, prefix="i"))
print(time.perf_counter() - start)
"""


def import_floor(root: Path, rows: int) -> float:
    """Seconds `git fast-import` takes to write `rows` imported runs (commits, notes, names) into a
    project, their rows made by Python included (in a child process, as the import is)."""
    done = subprocess.run([PYTHON, "-c", IMPORT_FLOOR, str(root), str(rows)], cwd=Path(__file__).parent,
                          check=True, capture_output=True, text=True)
    return float(done.stdout)


def row(where: str, now: str, floor: str, ratio: float | None, target: str, met: bool) -> str:
    shown = f"{ratio:.2f}x" if ratio is not None else ""
    return f"| {where} | {now} | {floor} | {shown} | {target} | {'yes' if met else 'NO'} |"


def report(f: dict) -> str:
    """The one table: each target with its figure, its floor from the same run, the ratio."""
    size = f"{f['size']:,}"
    lines = ["The targets at the largest history (medians; each floor measured in the same run):", "",
             "| where | now | floor | ratio | target | met? |", "|---|---|---|---|---|---|"]
    log = f["log"]
    lines.append(row("`flexgit.log` in a 3,000-step loop, per call", f"{log['log_us']:.1f} µs",
                     f"{log['floor_us']:.2f} µs (a dict appended to a list)", log["log_us"] / log["floor_us"],
                     "<= 10 µs", log["log_us"] <= 10))
    hook = f["hook"]
    lines.append(row("post-commit hook, results unchanged (added to `git commit`)", f"+{hook['same_ms']:.0f} ms",
                     f"{hook['plain_ms']:.0f} ms (`git commit` without the hook)", None, "<= +15 ms",
                     hook["same_ms"] <= 15))
    lines.append(row("post-commit hook, results changed (added to `git commit`)", f"+{hook['changed_ms']:.0f} ms",
                     f"{hook['floor_ms']:.0f} ms (`python -c \"import pygit2, click\"`)",
                     hook["changed_ms"] / hook["floor_ms"], "<= 1.2x", hook["changed_ms"] <= 1.2 * hook["floor_ms"]))
    big = f["big"]
    after = big["table_after_one_x"]
    lines.append(row(f"`table --format csv` at {size} runs, after one new run",
                     f"{big['table_after_one_s'] * 1000:.0f} ms",
                     f"{big['floor_s'] * 1000:.0f} ms (`python -c \"import pygit2, click\"`)", after, "<= 3x",
                     after <= 3))
    cold = big["table_cold_s"] / big["minimal_s"]
    lines.append(row(f"`table --format csv` at {size} runs, cold (no caches)", f"{big['table_cold_s']:.2f} s",
                     f"{big['minimal_s']:.2f} s (plain git + a few lines of Python)", cold, "<= 1.5x", cold <= 1.5))
    lines.append(row(f"peak memory of `table` at {size} runs (cold, warm, after one new run)",
                     f"{big['table_rss_mb']:.0f} MB", f"{big['minimal_rss_mb']:.0f} MB (the minimal program's Python)",
                     big["table_rss_mb"] / big["minimal_rss_mb"], "<= 200 MB", big["table_rss_mb"] <= 200))
    lines.append(row(f"peak memory of the terminal view, `table` at {size} runs (cold, after one new run)",
                     f"{big['view_rss_mb']:.0f} MB", f"{big['minimal_rss_mb']:.0f} MB (the minimal program's Python)",
                     big["view_rss_mb"] / big["minimal_rss_mb"], "<= 200 MB", big["view_rss_mb"] <= 200))
    record, fresh, extra = big["record_cpu_ms"], f["fresh"]["record_cpu_ms"], big["record_extra_ms"]
    wall = f"wall time {big['record_api_ms']:.1f} ms against {f['fresh']['record_api_ms']:.1f} ms"
    lines.append(row(f"in-process `record` at {size} runs, CPU time (medians of rounds; the extra: of each round's "
                     f"difference; {wall})",
                     f"{record:.1f} ms, {extra:+.1f} ms", f"{fresh:.1f} ms (no runs, same rounds)",
                     record / fresh, "<= 1.25x or +3 ms", record <= 1.25 * fresh or extra <= 3))
    if "import" in f:
        imp = f["import"]
        lines.append(row(f"`flexgit import` of {imp['rows']:,} rows",
                         f"{imp['seconds']:.1f} s, {imp['rss_mb']:.0f} MB",
                         f"{imp['floor_s']:.1f} s (`git fast-import` of the same runs)",
                         imp["seconds"] / imp["floor_s"], "<= 60 s", imp["seconds"] <= 60))
    if "pull" in f:
        pull, fetch, aside, own = f["pull"]["pull"], f["pull"]["fetch"], f["pull"]["aside"], f["pull"]["own"]
        small, large = sorted(pull)
        ratio, floor = pull[large] / pull[small], aside[large] / aside[small]
        lines.append(row(f"`pull` of 100 new runs into {large:,} runs; beside it, the least git does for the same "
                         f"refs (a fetch in a repository of flexgit's tips alone): {aside[large]:.2f} s against "
                         f"{aside[small]:.2f} s = {floor:.1f}x (git's own floor; a plain `git fetch` with every run "
                         f"name in view: {fetch[large]:.2f} s against {fetch[small]:.2f} s)",
                         f"{pull[large]:.2f} s", f"{pull[small]:.2f} s (into {small:,} runs)", ratio, "<= 2x",
                         ratio <= 2))
        lines.append(row(f"  flexgit's own part of that pull (each pull minus git's floor) into {large:,} runs",
                         f"{own[large]:.2f} s", f"{own[small]:.2f} s (into {small:,} runs)", own[large] / own[small],
                         "<= 2x", own[large] <= 2 * own[small]))
    return "\n".join(lines)
