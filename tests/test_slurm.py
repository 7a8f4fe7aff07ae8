"""`flexgit run --on slurm`, `status` and `collect` against a real single-node Slurm cluster.

One cluster (tests/slurmcluster.py) serves the module; it skips, saying why, where it cannot start
(not root, no slurm-wlm or munge). Times are sized to Slurm's: a `--time=1` job ends TIMEOUT after
60 to 90 s (slurmctld looks at time limits every 30 s), so the outcomes test submits its timeout
first and checks it last. One test starts a second cluster, with accounting (slurmdbd on MariaDB).

What Slurm 22.05 says, as seen here: over `--mem` under task/cgroup, `OUT_OF_MEMORY` (the kernel
kills the largest process, the command); under jobacct_gather's OverMemoryKill, `FAILED` (the whole
job killed, no exit code). A node set DOWN: `NODE_FAIL` for a job that may not be requeued, the
command stopped with SIGTERM; `PENDING` again (requeued, held ~2 minutes) for one that may.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flexgit
from conftest import flexgit as cli, git, repo_state
from slurmcluster import SlurmCluster, accounting_unavailable, unavailable

pytestmark = pytest.mark.slow

TRAIN = """\
import json, os, sys, time, tomllib
p = tomllib.load(open("params.toml", "rb"))
print("attempt", os.environ.get("SLURM_RESTART_COUNT", "0"), "mode", p["mode"], "seed", p["seed"], flush=True)
if p["mode"] == "fail":
    sys.exit(3)
if p["mode"] == "oom":  # 400 MB, every page written: over the --mem the tests give
    hoard = b"x" * (400 * 2**20)
    time.sleep(30)  # jobacct_gather looks each second
if p["mode"] in ("sleep", "cancel") or (p["mode"] == "requeue" and os.environ.get("SLURM_RESTART_COUNT", "0") == "0"):
    open("started", "w").close()
    time.sleep(600)
json.dump({"acc": 0.5 + p["seed"] / 100}, open("metrics.json", "w"))
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"the Slurm test cluster did not start: {exc}")
    saved = os.environ.get("SLURM_CONF")
    os.environ.update(cluster.env)
    yield cluster
    cluster.stop()
    if saved is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = saved


@pytest.fixture
def accounted(tmp_path_factory, monkeypatch):
    """A second cluster, for one test: with accounting (slurmdbd on MariaDB), without cgroups, and a slurmctld
    that forgets a job 2 s after it ends, so only `sacct` still knows it."""
    reason = unavailable() or accounting_unavailable()
    if reason:
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path_factory.mktemp("acct"), accounting=True, cgroups=False, min_job_age=2)
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"the Slurm test cluster with accounting did not start: {exc}")
    monkeypatch.setenv("SLURM_CONF", str(cluster.conf))
    yield cluster
    cluster.stop()


@pytest.fixture
def project(repo):
    (repo / "train.py").write_text(TRAIN)
    (repo / "params.toml").write_text('mode = "ok"\nseed = 0\n')
    (repo / ".flexgit.toml").write_text('config = "params.toml"\nresults = "metrics.json"\n[slurm]\npoll = 0.5\n')
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "project")
    return repo


def sweeps(repo: Path) -> Path:
    return repo / ".git" / "flexgit.d" / "sweeps"


def leftovers(repo: Path) -> list[Path]:
    return list(sweeps(repo).iterdir()) if sweeps(repo).is_dir() else []


def runs_by_seed(repo: Path) -> dict:
    return {run.params["seed"]: run for run in flexgit.list_runs(repo=repo)}


def job_ids(repo: Path, group: str) -> dict[str, str]:
    """Run name -> Slurm job id, from `flexgit status GROUP`."""
    out = cli(repo, "status", group).out
    return {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {seconds} s")


def job_state(cluster: SlurmCluster, job: str) -> str:
    return cluster.scontrol("show", "job", "-o", job).split("JobState=")[1].split()[0]


def test_a_sweep_runs_as_one_job_array_and_each_run_is_recorded(slurm, project):
    before, main = repo_state(project), git(project, "rev-parse", "main")
    result = cli(project, "run", "--on", "slurm", "-S", "seed=1,2,3,4,5,6", "-j", "3", "--", sys.executable,
                 "train.py")
    assert result.code == 0, result
    runs = runs_by_seed(project)
    assert sorted(runs) == [1, 2, 3, 4, 5, 6]
    assert {run.status for run in runs.values()} == {"ok"}
    assert {run.metrics["acc"] for run in runs.values()} == {0.51, 0.52, 0.53, 0.54, 0.55, 0.56}
    jobs = {run.meta["slurm_job"] for run in runs.values()}
    array = next(iter(jobs)).split("_")[0]
    assert jobs == {f"{array}_{i}" for i in range(6)}  # one array, one task a run
    assert {run.meta["slurm_node"] for run in runs.values()} == {slurm.node}
    assert "ArrayTaskThrottle=3 " in slurm.scontrol("show", "job", "-o", array)  # -j 3: at most 3 at once
    one = runs[4]
    assert one.meta["exit_code"] == 0 and one.meta["slurm_state"] == "COMPLETED"
    files = git(project, "ls-tree", "-r", "--name-only", f"exp/{one.name}", ".flexgit/").split()
    assert {".flexgit/output.log", ".flexgit/slurm-output.log", ".flexgit/slurm-error.log"} <= set(files)
    assert git(project, "show", f"exp/{one.name}:.flexgit/output.log") == "attempt 0 mode ok seed 4\n"
    assert "Starting with JobEnvironment" in git(project, "show", f"exp/{one.name}:.flexgit/slurm-output.log")
    assert f"Slurm job {one.meta['slurm_job']} on {slurm.node}" in cli(project, "show", one.name).out
    after = repo_state(project)
    assert (after["head"], after["index"], after["status"]) == (before["head"], before["index"], before["status"])
    assert git(project, "rev-parse", "main") == main
    assert leftovers(project) == []  # no checkout left in the shared folder
    assert "flexgit: 6/6 done" in result.err and "recorded " in result.err


def test_failed_cancelled_and_timed_out_jobs_are_recorded_as_such(slurm, project):
    result = cli(project, "run", "--on", "slurm", "--detach", "--time", "1", "--name", "{mode}",
                 "-S", "mode=sleep,fail,cancel", "-j", "3", "--", sys.executable, "train.py")
    assert result.code == 0, result
    group = result.out.strip()
    ids = job_ids(project, group)
    assert set(ids) == {"sleep", "fail", "cancel"}
    # scancel once the job runs (its command has started): Slurm says CANCELLED
    wait_for(lambda: job_state(slurm, ids["cancel"]) == "RUNNING"
             and (sweeps(project) / group / "job-2" / "started").exists(), 60, "the job to start")
    subprocess.run(["scancel", ids["cancel"]], check=True)
    wait_for(lambda: job_state(slurm, ids["fail"]) == "FAILED" and job_state(slurm, ids["cancel"]) == "CANCELLED",
             60, "the failed and cancelled jobs to end")
    collected = cli(project, "collect")
    assert collected.code == 0, collected
    assert sorted(run.name for run in flexgit.list_runs(repo=project)) == ["cancel", "fail"]
    assert "sleep" in cli(project, "status", group).out  # still running, not recorded
    wait_for(lambda: job_state(slurm, ids["sleep"]) == "TIMEOUT", 150, "the job to time out")
    assert cli(project, "collect").code == 0
    runs = {run.name: run for run in flexgit.list_runs(repo=project)}
    assert {name: run.status for name, run in runs.items()} == {
        "fail": "failed", "cancel": "cancelled", "sleep": "timeout"}
    assert runs["fail"].meta["exit_code"] == 3 and runs["fail"].meta["slurm_state"] == "FAILED"
    assert runs["sleep"].meta["slurm_state"] == "TIMEOUT" and runs["sleep"].meta["duration_s"] >= 60
    assert "DUE TO TIME LIMIT" in git(project, "show", "exp/sleep:.flexgit/slurm-error.log")
    assert "mode sleep" in git(project, "show", "exp/sleep:.flexgit/output.log")
    assert "table" in cli(project, "status").err and not (sweeps(project) / group).exists()


def test_a_job_over_its_memory_is_recorded_out_of_memory(slurm, project):
    if not slurm.cgroups:
        pytest.skip("Slurm 22.05 says OUT_OF_MEMORY only where task/cgroup limits memory, and cgroup v1's memory "
                    "controller is not writable here; the accounting test covers the kill without cgroups")
    # 200 MB: the command is then the largest process when the limit is hit, so the kernel kills it, not the job's
    result = cli(project, "run", "--on", "slurm", "--mem", "200M", "--name", "hungry", "-S", "mode=oom", "--",
                 sys.executable, "train.py")
    assert result.code == 1 and "1 failed" in result.err, result
    (run,) = flexgit.list_runs(repo=project)
    assert run.status == "out_of_memory" and run.meta["slurm_state"] == "OUT_OF_MEMORY", run.meta
    assert "oom-kill event" in git(project, "show", "exp/hungry:.flexgit/slurm-error.log")
    assert "mode oom" in git(project, "show", "exp/hungry:.flexgit/output.log")
    assert run.meta["exit_code"] == -9  # the command, killed by the kernel's OOM killer


def test_a_job_on_a_failed_node_is_recorded_node_fail_unless_slurm_requeues_it(slurm, project):
    def submit(name: str, mode: str, *options: str) -> tuple[str, Path]:
        result = cli(project, "run", "--on", "slurm", "--detach", *options, "--name", name, "-S", f"mode={mode}",
                     "--", sys.executable, "train.py")
        assert result.code == 0, result
        group = result.out.strip()
        return job_ids(project, group)[name], sweeps(project) / group / "job-0"

    lost, lost_checkout = submit("lost", "sleep", "--slurm", "no-requeue")
    again, again_checkout = submit("again", "requeue")  # Slurm's default: a batch job is requeued
    assert "Requeue=0 " in slurm.scontrol("show", "job", "-o", lost)
    wait_for(lambda: (lost_checkout / "started").exists() and (again_checkout / "started").exists(), 60,
             "the jobs to start")
    slurm.scontrol("update", f"NodeName={slurm.node}", "State=DOWN", "Reason=flexgit-test")
    try:
        wait_for(lambda: job_state(slurm, lost) == "NODE_FAIL" and job_state(slurm, again) == "PENDING", 30,
                 "Slurm to end one job and requeue the other")
    finally:
        slurm.resume()
    collected = cli(project, "collect")
    assert collected.code == 0 and collected.err.count("recorded ") == 1, collected
    (run,) = flexgit.list_runs(repo=project)
    assert run.name == "lost" and run.status == "node_fail" and run.meta["slurm_state"] == "NODE_FAIL", run
    assert run.meta["exit_code"] == -15  # Slurm stopped the command with SIGTERM as it killed the job
    assert "DUE TO NODE FAILURE" in git(project, "show", "exp/lost:.flexgit/slurm-error.log")
    slurm.scontrol("update", f"JobId={again}", "StartTime=now")  # Slurm holds a requeued job ~2 minutes
    wait_for(lambda: job_state(slurm, again) == "COMPLETED", 60, "the requeued job to run again")
    assert cli(project, "collect").code == 0
    runs = {run.name: run for run in flexgit.list_runs(repo=project)}
    assert runs["again"].status == "ok" and runs["again"].meta["slurm_attempts"] == 2
    assert leftovers(project) == []


def sacct(job: str) -> dict[str, str]:
    done = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", job], capture_output=True,
                          text=True, check=True)
    return dict(line.split("|") for line in done.stdout.splitlines())


def test_states_come_from_sacct_where_the_cluster_keeps_accounting(accounted, project):
    result = cli(project, "run", "--on", "slurm", "--detach", "--mem", "200M", "--name", "{mode}",
                 "-S", "mode=ok,fail,oom", "-j", "3", "--", sys.executable, "train.py")
    assert result.code == 0, result
    group = result.out.strip()
    ids = job_ids(project, group)
    array = ids["ok"].split("_")[0]
    ended = {ids["ok"]: "COMPLETED", ids["fail"]: "FAILED", ids["oom"]: "FAILED"}
    wait_for(lambda: sacct(array) == ended, 60, "the jobs to end")
    forgotten = lambda: subprocess.run(["scontrol", "show", "job", array], capture_output=True).returncode != 0  # noqa: E731
    wait_for(forgotten, 60, "slurmctld to forget the jobs")  # from here on only sacct knows them
    status = cli(project, "status", group).out.splitlines()[1:]
    assert sorted((line.split()[0], line.split()[2]) for line in status) == [
        ("fail", "FAILED"), ("ok", "COMPLETED"), ("oom", "FAILED")], status
    assert cli(project, "collect").code == 0
    runs = {run.name: run for run in flexgit.list_runs(repo=project)}
    assert {name: (run.status, run.meta["slurm_state"]) for name, run in runs.items()} == {
        "ok": ("ok", "COMPLETED"), "fail": ("failed", "FAILED"), "oom": ("failed", "FAILED")}
    assert runs["ok"].metrics == {"acc": 0.5} and runs["fail"].meta["exit_code"] == 3
    # over --mem without cgroups: jobacct_gather kills the whole job (no exit code), and Slurm says FAILED
    assert "exit_code" not in runs["oom"].meta
    assert "exceeded memory limit" in git(project, "show", "exp/oom:.flexgit/slurm-error.log")
    assert {run.meta["slurm_job"] for run in runs.values()} == set(ids.values())
    assert leftovers(project) == []


def test_detached_sweeps_are_collected_once_by_concurrent_collectors(slurm, project):
    result = cli(project, "run", "--on", "slurm", "--detach", "-S", "seed=1,2,3,4", "-j", "4", "--",
                 sys.executable, "train.py")
    assert result.code == 0, result
    group = result.out.strip()
    assert flexgit.list_runs(repo=project) == []  # nothing recorded by a detached run
    ids = job_ids(project, group)
    wait_for(lambda: all(job_state(slurm, job) == "COMPLETED" for job in ids.values()), 60, "the jobs to end")
    env = {**os.environ}
    both = [subprocess.Popen([sys.executable, "-m", "flexgit", "collect"], cwd=project, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in both]
    assert [process.returncode for process in both] == [0, 0], outputs
    counts = sorted(err.count("recorded ") for _, err in outputs)
    assert sum(counts) == 4, outputs  # between them, each run once
    third = cli(project, "collect")
    assert third.code == 0 and "collected 0 runs" in third.err, third
    runs = flexgit.list_runs(repo=project)
    assert sorted(run.params["seed"] for run in runs) == [1, 2, 3, 4]
    assert sorted(run.meta["slurm_job"] for run in runs) == sorted(ids.values())
    notes = git(project, "log", "--format=%s", "refs/notes/flexgit").splitlines()
    assert len(notes) == 4  # four writes in all: nothing was recorded twice and undone
    assert not (sweeps(project) / group).exists()


def test_a_requeued_job_runs_again_and_is_recorded_once(slurm, project):
    result = cli(project, "run", "--on", "slurm", "--detach", "--name", "requeued", "-S", "mode=requeue", "--",
                 sys.executable, "train.py")
    assert result.code == 0, result
    group = result.out.strip()
    job = job_ids(project, group)["requeued"]
    checkout = sweeps(project) / group / "job-0"
    wait_for(lambda: (checkout / "started").exists(), 60, "the job to start")
    slurm.scontrol("requeue", job)
    wait_for(lambda: job_state(slurm, job) == "PENDING", 30, "the job to be requeued")
    assert cli(project, "collect").err == "collected 0 runs\n"  # pending again: nothing to record
    slurm.scontrol("update", f"JobId={job}", "StartTime=now")  # Slurm holds a requeued job ~2 minutes
    wait_for(lambda: job_state(slurm, job) == "COMPLETED", 60, "the job to run again")
    collected = cli(project, "collect")
    assert collected.code == 0 and collected.err.count("recorded requeued") == 1, collected
    (run,) = flexgit.list_runs(repo=project)
    assert run.status == "ok" and run.metrics == {"acc": 0.5} and run.meta["slurm_attempts"] == 2
    assert git(project, "show", "exp/requeued:.flexgit/output.log") == (
        "attempt 0 mode requeue seed 0\nattempt 1 mode requeue seed 0\n")
    assert cli(project, "collect").err == "collected 0 runs\n"


def test_bad_cluster_options_are_refused_before_anything_is_submitted(slurm, project):
    before = repo_state(project)
    for args, message in [(("--time", "soon"), "--time 'soon' is not a Slurm time"),
                          (("--mem", "lots"), "--mem 'lots' is not a Slurm size"),
                          (("--slurm", "array=0-3"), "flexgit sets this sbatch option itself"),
                          (("--partition", "nowhere"), "sbatch refused the sweep")]:
        result = cli(project, "run", "--on", "slurm", *args, "--", sys.executable, "train.py")
        assert result.code == 1 and message in result.err and result.err.startswith("Error: "), result
        assert result.err.count("\n") == 1
    after = repo_state(project)
    assert {key: after[key] for key in ("refs", "head", "index", "status")} == {
        key: before[key] for key in ("refs", "head", "index", "status")}
    assert leftovers(project) == []
    for bad in ("=high", "qos="):
        usage = cli(project, "run", "--on", "slurm", "--slurm", bad, "--", sys.executable, "train.py")
        assert usage.code == 2 and "or KEY alone for an option without one" in usage.err, usage
    usage = cli(project, "run", "--partition", "gpu", "--", sys.executable, "train.py")
    assert usage.code == 2 and "--partition is for runs on a cluster: add --on slurm" in usage.err


def test_settings_give_defaults_and_the_command_line_wins(slurm, project):
    settings = project / ".flexgit.toml"
    settings.write_text(settings.read_text() + 'partition = "nowhere"\ncomment = "from-settings"\n'
                        'no-requeue = true\nexclusive = false\n')
    refused = cli(project, "run", "--on", "slurm", "--", sys.executable, "train.py")
    assert refused.code == 1 and "Invalid partition name specified" in refused.err, refused
    result = cli(project, "run", "--on", "slurm", "--detach", "--partition", "debug", "--slurm", "comment=given",
                 "--cpus", "1", "--", sys.executable, "train.py")
    assert result.code == 0, result
    (job,) = job_ids(project, result.out.strip()).values()
    shown = slurm.scontrol("show", "job", "-o", job)
    assert "Partition=debug " in shown and "Comment=given " in shown and "TimeLimit=UNLIMITED" in shown
    assert "Requeue=0 " in shown and "OverSubscribe=OK " in shown  # a flag set, a flag left out
    wait_for(lambda: job_state(slurm, job) == "COMPLETED", 60, "the job to end")
    assert cli(project, "collect").err.endswith("collected 1 run\n")


TRACK = """\
import json, pathlib, tomllib
import flexgit
p = tomllib.load(open("params.toml", "rb"))
for step in range(3):
    flexgit.log(step=step, loss=round(1 / (step + 1 + p["seed"]), 4))
    pathlib.Path("ckpt.pt").write_text(f"weights {p['seed']} {step}")
    flexgit.checkpoint("ckpt.pt", step=step, loss=round(1 / (step + 1 + p["seed"]), 4))
pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out/preds.txt").write_text(f"predictions of seed {p['seed']}")
json.dump({"acc": 0.5 + p["seed"] / 100}, open("metrics.json", "w"))
"""


def kept(repo: Path, name: str) -> dict[str, str]:
    """The run's .flexgit/ files and their text, less what holds times, the environment or the engine's logs."""
    files = git(repo, "ls-tree", "-r", "--name-only", f"exp/{name}", ".flexgit/").split()
    varying = {".flexgit/meta.toml", ".flexgit/environment.txt", ".flexgit/slurm-output.log",
               ".flexgit/slurm-error.log"}
    found = {}
    for path in files:
        if path in varying:
            continue
        text = git(repo, "show", f"exp/{name}:{path}")
        if path.endswith(".jsonl"):  # each line without its time and process
            lines = [json.loads(line) for line in text.splitlines()]
            text = json.dumps([{key: value for key, value in line.items() if key not in ("t", "proc")}
                               for line in lines])
        found[path] = text
    return found


def test_history_checkpoints_and_outputs_are_kept_as_a_local_run_keeps_them(slurm, project):
    (project / "track.py").write_text(TRACK)
    settings = project / ".flexgit.toml"
    settings.write_text(settings.read_text().replace("[slurm]", 'outputs = ["out/*.txt"]\n[slurm]'))
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "track")
    local = cli(project, "run", "--name", "local-{seed}", "-S", "seed=1,2", "--", sys.executable, "track.py")
    assert local.code == 0, local
    result = cli(project, "run", "--on", "slurm", "--name", "slurm-{seed}", "-S", "seed=1,2", "-j", "2", "--",
                 sys.executable, "track.py")
    assert result.code == 0, result
    runs = {run.name: run for run in flexgit.list_runs(repo=project)}
    for seed in (1, 2):
        here, there = runs[f"local-{seed}"], runs[f"slurm-{seed}"]
        assert there.status == "ok" and there.meta["slurm_state"] == "COMPLETED"
        assert kept(project, there.name) == kept(project, here.name)
        assert there.metrics == here.metrics
        for key in ("history_steps", "checkpoints", "outputs"):
            assert there.meta.get(key) == here.meta.get(key), key
        files = kept(project, there.name)
        assert files[".flexgit/checkpoints/2/ckpt.pt"] == f"weights {seed} 2"
        assert files[".flexgit/outputs/out/preds.txt"] == f"predictions of seed {seed}"
        assert len(json.loads(files[".flexgit/history.jsonl"])) == 3
    assert leftovers(project) == []
