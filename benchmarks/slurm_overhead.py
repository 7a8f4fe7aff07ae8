"""What a sweep on Slurm costs per job beyond its command: submission to recorded run, on the test
cluster of tests/slurmcluster.py (one node, this machine's CPUs; needs root and slurm-wlm, munge).

Latency: sweeps of as many jobs as the node has CPUs (so none waits for a free one), each command
sleeping SLEEP seconds; per job, the time from starting `flexgit run --on slurm` to its run's
note, less the command's own duration. Throughput: one sweep of 3 jobs per CPU; its wall time
less the command time the node had to spend, per job. Both with `[slurm] poll` seconds between
two looks at Slurm's states (5 by default; the overhead includes half of it on average).

    python benchmarks/slurm_overhead.py [--rounds 3] [--sleep 1] [--poll 5,0.5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from slurmcluster import SlurmCluster, unavailable  # noqa: E402

import flexgit  # noqa: E402

PYTHON = sys.executable


def project(path: Path, poll: float, sleep: float) -> Path:
    path.mkdir(parents=True)
    run = lambda *args: subprocess.run(args, cwd=path, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q", "-b", "main")
    run("git", "config", "user.name", "bench")
    run("git", "config", "user.email", "bench@example.com")
    (path / "train.py").write_text(f"import time, tomllib, json\np = tomllib.load(open('params.toml', 'rb'))\n"
                                   f"time.sleep({sleep})\njson.dump({{'acc': p['seed']}}, open('metrics.json', 'w'))\n")
    (path / "params.toml").write_text("seed = 0\n")
    (path / ".flexgit.toml").write_text(f'config = "params.toml"\nresults = "metrics.json"\n[slurm]\npoll = {poll}\n')
    run("git", "add", ".")
    run("git", "commit", "-q", "-m", "bench")
    return path


def sweep(path: Path, seeds: range, parallel: int) -> tuple[float, list]:
    """Start one attached sweep; (its start time, the runs it recorded)."""
    before = {run.name for run in flexgit.list_runs(repo=path)}
    started = time.time()
    done = subprocess.run([PYTHON, "-m", "flexgit", "run", "--on", "slurm", "-q", "-j", str(parallel),
                           "-S", "seed=" + ",".join(map(str, seeds)), "--", PYTHON, "train.py"],
                          cwd=path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        sys.exit(f"the sweep failed: {done.stderr}")
    return started, [run for run in flexgit.list_runs(repo=path) if run.name not in before]


def recorded_at(run) -> float:
    return dt.datetime.strptime(run.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--poll", default="5,0.5")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(reason)
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="flexgit-slurm-bench-") as temp:
        cluster = SlurmCluster(Path(temp) / "cluster").start()
        os.environ.update(cluster.env)
        try:
            print(f"one node, {cpus} CPUs; commands sleep {args.sleep} s")
            for poll in (float(p) for p in args.poll.split(",")):
                path = project(Path(temp) / f"poll-{poll}", poll, args.sleep)
                overheads = []
                for _ in range(args.rounds):
                    started, runs = sweep(path, range(cpus), cpus)
                    overheads += [recorded_at(run) - started - run.meta["duration_s"] for run in runs]
                started = time.time()
                _, runs = sweep(path, range(3 * cpus), cpus)
                wall = time.time() - started
                per_job = (wall - 3 * args.sleep) / len(runs)
                print(f"poll {poll:>4} s: submission to recorded run, beyond the command: median "
                      f"{statistics.median(overheads):.1f} s, max {max(overheads):.1f} s ({len(overheads)} jobs); "
                      f"{len(runs)} jobs on {cpus} CPUs: {wall:.1f} s wall, {per_job:.2f} s a job beyond the commands")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
