"""Workers without a shared file system: each records in its own clone and pushes to a common remote.

Three machines sweep at once, each its own part of a grid, and push at once; the remote then
holds every run once, and any clone that pulls sees them all.
"""

from __future__ import annotations

import subprocess
import sys

import flexgit
from conftest import flexgit as cli, git, shared_clones

TRAIN = """\
import json, tomllib
p = tomllib.load(open("params.toml", "rb"))
json.dump({"acc": p["seed"] / 10}, open("metrics.json", "w"))
"""


def test_workers_record_in_their_clones_and_the_remote_holds_every_run_once(tmp_path):
    remote, clones = shared_clones(tmp_path, count=4)
    first, workers, reader = clones[0], clones[:3], clones[3]
    (first / "train.py").write_text(TRAIN)
    (first / "params.toml").write_text("seed = 0\n")
    (first / ".flexgit.toml").write_text('config = "params.toml"\nresults = "metrics.json"\n')
    git(first, "add", ".")
    git(first, "commit", "-q", "-m", "project")
    git(first, "push", "-q", "origin", "main")
    for worker in workers[1:]:
        git(worker, "pull", "-q", "origin", "main")
    # each worker its own seeds, all at once, each then pushing at once
    script = "{flexgit} run --name w{i}-s{{seed}} -S seed={seeds} -j 2 -- {python} train.py && {flexgit} push"
    flexgit_cmd = f"{sys.executable} -m flexgit"
    workers_running = [
        subprocess.Popen(script.format(flexgit=flexgit_cmd, i=i, seeds=",".join(str(3 * i + k) for k in range(3)),
                                       python=sys.executable), shell=True, cwd=worker, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i, worker in enumerate(workers)]
    results = [process.communicate(timeout=300) for process in workers_running]
    assert [process.returncode for process in workers_running] == [0, 0, 0], results
    # The remote's table: every run once, seen from a clone that recorded nothing.
    table = cli(reader, "table", "--remote", "origin", "--format", "csv", "--columns", "name,acc", "--sort-by", "acc")
    assert table.code == 0, table
    assert table.out.splitlines() == ["name,metrics.acc"] + [f"w{s // 3}-s{s},{s / 10}" for s in range(9)]
    assert cli(reader, "pull").code == 0
    runs = flexgit.list_runs(repo=reader)
    assert sorted(run.name for run in runs) == sorted(f"w{s // 3}-s{s}" for s in range(9))
    assert len({run.id for run in runs}) == 9
    for worker in workers:  # a worker that syncs later has them all too, and pushes nothing twice
        assert cli(worker, "sync").code == 0
        assert sorted(run.name for run in flexgit.list_runs(repo=worker)) == sorted(run.name for run in runs)
    assert len(git(remote, "notes", "--ref=flexgit", "list").splitlines()) == 9
