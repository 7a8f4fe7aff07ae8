"""`flexgit run --gpus-per-run N`: each local run gets GPUs of its own, never one another run holds.

The machine needs no GPU: FLEXGIT_GPUS says which exist, and real subprocesses print the
CUDA_VISIBLE_DEVICES they were given.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading

import pytest

import flexgit
from conftest import flexgit as cli, git
from flexgit.errors import InputError
from flexgit.project.gpus import GpuPool, discover

# Each run says which GPUs it holds while it runs (an `active-SEED` file), and notes every other run
# it finds active with a GPU of its own (a clash) or at all; it waits until a second run has started,
# so that two runs surely hold GPUs at once.
TRAIN = """\
import json, os, pathlib, sys, time, tomllib
p = tomllib.load(open("params.toml", "rb"))
log = pathlib.Path(os.environ["GPU_LOG"])
devices = os.environ.get("CUDA_VISIBLE_DEVICES")
print("devices", devices, flush=True)
mine = log / f"active-{p['seed']}"
mine.write_text(devices)
(log / f"start-{p['seed']}").write_text(devices)
deadline = time.time() + 30
while len(list(log.glob("start-*"))) < 2 and time.time() < deadline:
    time.sleep(0.05)
for other in log.glob("active-*"):
    if other != mine:
        (log / f"beside-{p['seed']}").write_text(other.name)
        if set(other.read_text().split(",")) & set(devices.split(",")):
            (log / f"clash-{p['seed']}").write_text(other.name)
time.sleep(0.2)
mine.unlink()
json.dump({"acc": p["seed"]}, open("metrics.json", "w"))
"""


@pytest.fixture
def project(repo, tmp_path):
    (repo / "train.py").write_text(TRAIN)
    (repo / "params.toml").write_text("seed = 0\n")
    (repo / ".flexgit.toml").write_text('config = "params.toml"\nresults = "metrics.json"\n')
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "project")
    log = tmp_path / "gpu-log"
    log.mkdir()
    return repo, log


def test_each_run_holds_its_own_gpus(project):
    repo, log = project
    env = {"FLEXGIT_GPUS": "0,1,2,3", "GPU_LOG": str(log)}
    result = cli(repo, "run", "--gpus-per-run", "2", "-j", "4", "-S", "seed=1,2,3,4,5,6", "--", sys.executable,
                 "train.py", env=env)
    assert result.code == 0, result
    runs = flexgit.list_runs(repo=repo)
    given = {run.params["seed"]: run.meta["cuda_visible_devices"] for run in runs}
    assert set(given) == {1, 2, 3, 4, 5, 6}
    assert all(sorted(devices.split(",")) in (["0", "1"], ["2", "3"]) for devices in given.values()), given
    for run in runs:  # what the command saw is what the run says it had
        assert git(repo, "show", f"exp/{run.name}:.flexgit/output.log") == f"devices {given[run.params['seed']]}\n"
    started = {int(path.name.split("-")[1]): path.read_text() for path in log.glob("start-*")}
    assert started == given
    assert list(log.glob("beside-*"))  # two runs held GPUs at once ...
    assert list(log.glob("clash-*")) == []  # ... and never the same one


def test_a_single_gpu_each_goes_round(project):
    repo, log = project
    result = cli(repo, "run", "--gpus-per-run", "1", "-j", "2", "-S", "seed=1,2", "--", sys.executable, "train.py",
                 env={"FLEXGIT_GPUS": "5,7", "GPU_LOG": str(log)})
    assert result.code == 0, result
    assert sorted(run.meta["cuda_visible_devices"] for run in flexgit.list_runs(repo=repo)) == ["5", "7"]


def test_asking_for_more_gpus_than_there_are_is_refused(project):
    repo, log = project
    result = cli(repo, "run", "--gpus-per-run", "3", "--", sys.executable, "train.py",
                 env={"FLEXGIT_GPUS": "0,1", "GPU_LOG": str(log)})
    assert result.code == 1 and result.err == (
        "Error: --gpus-per-run 3: this machine has 2 GPUs (0, 1); ask for at most that many\n"), result
    assert flexgit.list_runs(repo=repo) == []
    usage = cli(repo, "run", "--on", "slurm", "--gpus-per-run", "1", "--", sys.executable, "train.py")
    assert usage.code == 2 and "--gpus-per-run is for local runs; on a cluster, --gpus" in usage.err


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has nvidia-smi: its GPUs count")
def test_no_gpu_at_all_is_an_error_that_says_what_to_do(project, monkeypatch):
    repo, log = project
    env = {key: value for key, value in os.environ.items() if key not in ("FLEXGIT_GPUS", "CUDA_VISIBLE_DEVICES")}
    monkeypatch.setattr(os, "environ", env)
    assert discover() == []
    result = cli(repo, "run", "--gpus-per-run", "1", "--", sys.executable, "train.py", env={"GPU_LOG": str(log)})
    assert result.code == 1 and "no GPU found" in result.err and "FLEXGIT_GPUS=0,1" in result.err, result


def test_the_pool_lends_the_lowest_free_gpus_and_waits_for_them():
    pool = GpuPool(2, ["3", "1", "0", "2"])
    stopping = threading.Event()
    first = pool.take(stopping)
    second = pool.take(stopping)
    assert (first, second) == (["3", "1"], ["0", "2"])
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.take(stopping)))
    waiter.start()
    waiter.join(timeout=0.5)
    assert waiter.is_alive() and got == []  # none free: it waits
    pool.give(second)
    waiter.join(timeout=10)
    assert got == [["0", "2"]]
    stopping.set()
    assert pool.take(stopping) is None  # stopping while none is free: no GPUs, no wait
    with pytest.raises(InputError, match="no GPU found"):
        GpuPool(1, [])
