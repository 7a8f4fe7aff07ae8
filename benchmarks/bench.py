"""`make bench`: flexgit's record and table on histories of 100 to 100,000 runs.

Prints two tables. The first, per history size: record latency (in process and as a CLI call),
table latency (cold, warm, after one new run) against the floor `python -c "import pygit2, click"`
measured in the same run, bytes of objects one record writes, and peak memory of `table`. The
second: the speed targets at the largest size, each with its floor from the same run (see
targets.py). Histories are built with `git fast-import` (history.py): 100,000 runs in seconds.
DVC and MLflow are measured beside it when installed (`pip install -e '.[bench]'`). Medians of
interleaved repetitions: these machines are shared and noisy, so compare ratios, not seconds.

    python benchmarks/bench.py [--sizes 100,1000,10000] [--large] [--repeat 7] [--no-peers]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import history  # noqa: E402
import hook  # noqa: E402
import outputs  # noqa: E402
import peers  # noqa: E402
import targets  # noqa: E402

PYTHON = sys.executable
FLEXGIT = [PYTHON, "-m", "flexgit"]
FLOOR = [PYTHON, "-c", "import pygit2, click"]
CHUNK = 10_000  # runs per import batch while building a history
IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}

# One process records into every history in turn, so that all sizes see the same machine: a round
# records once into each, in alternating order. The extra cost of a history is the median over rounds
# of its record's CPU time minus that of the same round's record with no runs: on a shared machine the
# wall time of a few milliseconds mostly says how long the process waited for a core (two runs of the
# same code gave 1.2x and 2.8x), while CPU time follows the work. Then it times the DataFrame API: a
# first call with no cache, and warm calls.
IN_PROCESS = """
import json, shutil, statistics, sys, time, flexgit
repeat, repos = int(sys.argv[1]), sys.argv[2:]
for repo in repos:
    flexgit.record(params={"lr": 0.1}, metrics={"acc": 0.5}, repo=repo)  # warm-up: imports, caches
times = {repo: [] for repo in repos}
cpu = {repo: [] for repo in repos}
for i in range(repeat):
    for repo in repos if i % 2 == 0 else repos[::-1]:
        start, started = time.perf_counter(), time.process_time()
        flexgit.record(params={"lr": 0.1, "i": i}, metrics={"acc": 0.5}, repo=repo)
        times[repo].append(time.perf_counter() - start)
        cpu[repo].append(time.process_time() - started)
extra = {repo: statistics.median(a - b for a, b in zip(cpu[repo], cpu[repos[0]])) for repo in repos}
extra_wall = {repo: statistics.median(a - b for a, b in zip(times[repo], times[repos[0]])) for repo in repos}
flexgit.table(repo=repos[0])  # imports pandas
result = []
for repo in repos:
    shutil.rmtree(repo + "/.git/flexgit.d", ignore_errors=True)
    start = time.perf_counter(); flexgit.table(repo=repo); first = time.perf_counter() - start
    warm = []
    for _ in range(5):
        start = time.perf_counter(); flexgit.table(repo=repo); warm.append(time.perf_counter() - start)
    result.append({"record_api_ms": statistics.median(times[repo]) * 1000, "record_extra_ms": extra[repo] * 1000,
                   "record_extra_wall_ms": extra_wall[repo] * 1000,
                   "record_cpu_ms": statistics.median(cpu[repo]) * 1000, "table_api_first_s": first,
                   "table_api_warm_s": statistics.median(warm)})
print(json.dumps(result))
"""

# flexgit.log in a training loop: 3,000 calls, their buffered lines written (flush) inside the timing,
# against the floor of keeping the same dict in a list; repetitions interleaved, medians.
LOG_LOOP = """
import json, statistics, sys, time, flexgit
from flexgit.project.history import flush
calls, repeat = 3000, int(sys.argv[1])
flexgit.log(step=0, loss=1.0)  # warm-up: imports, the pending file's path
logged, floor = [], []
for r in range(repeat):
    start = time.perf_counter()
    for step in range(calls):
        flexgit.log(step=step, loss=0.5, acc=0.9)
    flush()
    logged.append((time.perf_counter() - start) / calls)
    kept, start = [], time.perf_counter()
    for step in range(calls):
        kept.append(dict(step=step, loss=0.5, acc=0.9))
    floor.append((time.perf_counter() - start) / calls)
print(json.dumps({"log_us": statistics.median(logged) * 1e6, "floor_us": statistics.median(floor) * 1e6}))
"""

# The environment a record captures, in a fresh process as a CLI record meets it (flexgit imported,
# nvidia-smi's answer cached by an earlier record), against importlib.metadata reading the same list.
ENV_CAPTURE = """
import json, sys, time, importlib.metadata
from pathlib import Path
from flexgit.project import environment
cache = Path(sys.argv[1])
start = time.perf_counter(); text, meta = environment.capture(cache); first = time.perf_counter() - start
start = time.perf_counter(); environment.capture(cache); again = time.perf_counter() - start
start = time.perf_counter(); found = list(importlib.metadata.distributions()); metadata = time.perf_counter() - start
print(json.dumps({"first_ms": first * 1000, "again_ms": again * 1000, "metadata_ms": metadata * 1000,
                  "packages": meta["env.packages"], "gpus": len(meta.get("env.gpus", []))}))
"""


def run(cmd: list[str], cwd: Path, quiet: bool = True) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one command, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed: {proc.stderr.read().decode()}")
    proc.stderr.close()
    return elapsed, usage.ru_maxrss


def measure_import(path: Path, rows: int) -> dict:
    """One `flexgit import` of `rows` CSV rows into a project with no runs: seconds, peak RSS, objects;
    and, in the same run, `git fast-import` writing the same runs (the floor)."""
    floor = targets.import_floor(path.parent / "import-floor", rows)
    repo = history.make_project(path)
    rng = random.Random(rows)
    csv = path.parent / f"import-{rows}.csv"
    csv.write_text("name,lr,depth,model,acc,loss\n" + "".join(
        f"i{i},{rng.random():.6f},{i % 7},m{i % 3},{rng.random():.6f},{rng.random():.6f}\n" for i in range(rows)))
    elapsed, rss = run(FLEXGIT + ["import", str(csv)], repo)
    counts = dict(line.split(": ") for line in subprocess.run(["git", "count-objects", "-v"], cwd=repo, check=True,
                                                               capture_output=True, text=True).stdout.splitlines())
    return {"rows": rows, "seconds": elapsed, "rss_mb": rss / 1024, "floor_s": floor,
            "objects": f"{counts['in-pack']} objects in {counts['packs']} pack(s), {counts['count']} loose"}


def loose_bytes(repo: Path) -> dict[str, int]:
    objects = repo / ".git" / "objects"
    return {str(p): p.stat().st_size for d in objects.iterdir() if len(d.name) == 2 for p in d.iterdir()}


def drop_caches(repo: Path) -> None:
    shutil.rmtree(repo / ".git" / "flexgit.d", ignore_errors=True)


def median_ratio(target: list[float], floor: list[float]) -> float:
    return statistics.median(target) / statistics.median(floor)


def measure(repo: Path, repeat: int) -> dict[str, float]:
    """All figures for one history; each timed command is interleaved with a floor run."""
    floor, record_cli, cold, warm, after_one, minimal = [], [], [], [], [], []
    rss, minimal_rss = [], []
    for _ in range(repeat):
        floor.append(run(FLOOR, repo)[0])
        record_cli.append(run(FLEXGIT + ["record", "-p", "lr=0.1", "-m", "acc=0.5"], repo)[0])
        drop_caches(repo)
        for times in (cold, warm):
            elapsed, peak = run(FLEXGIT + ["table", "--format", "csv"], repo)
            times.append(elapsed)
            rss.append(peak)
        run(FLEXGIT + ["record", "-m", "acc=0.7"], repo)
        elapsed, peak = run(FLEXGIT + ["table", "--format", "csv"], repo)
        after_one.append(elapsed)
        rss.append(peak)
        elapsed, peak = run(["bash", "-c", targets.MINIMAL_PIPE], repo)
        minimal.append(elapsed)
        minimal_rss.append(peak)
    before = loose_bytes(repo)
    run(FLEXGIT + ["record", "-m", "acc=0.9"], repo)
    written = sum(size for path, size in loose_bytes(repo).items() if path not in before)
    # The terminal view (`flexgit table` into a pipe: every row, aligned), cold and after one new run.
    drop_caches(repo)
    view_rss = [run(FLEXGIT + ["table"], repo)[1]]
    run(FLEXGIT + ["record", "-m", "acc=0.8"], repo)
    view_rss.append(run(FLEXGIT + ["table"], repo)[1])
    return {
        "floor_s": statistics.median(floor),
        "record_cli_s": statistics.median(record_cli),
        "table_cold_s": statistics.median(cold), "table_cold_x": median_ratio(cold, floor),
        "table_warm_s": statistics.median(warm), "table_warm_x": median_ratio(warm, floor),
        "table_after_one_s": statistics.median(after_one), "table_after_one_x": median_ratio(after_one, floor),
        "record_kib": written / 1024, "table_rss_mb": max(rss) / 1024, "view_rss_mb": max(view_rss) / 1024,
        "minimal_s": statistics.median(minimal), "minimal_rss_mb": max(minimal_rss) / 1024,
    }


def measure_log(repo: Path, repeat: int) -> dict[str, float]:
    """µs per `flexgit.log` call in a 3,000-step loop, against appending the same dict to a list."""
    return json.loads(subprocess.run([PYTHON, "-c", LOG_LOOP, str(repeat)], cwd=repo, check=True,
                                     capture_output=True, text=True).stdout)


def measure_environment(repo: Path, repeat: int) -> str:
    """Environment capture (`.flexgit/environment.txt` and `env.*`) in fresh processes: medians."""
    cache = repo / ".git" / "flexgit.d"
    subprocess.run([PYTHON, "-c", ENV_CAPTURE, str(cache)], cwd=repo, check=True, capture_output=True)  # nvidia-smi
    runs = [json.loads(subprocess.run([PYTHON, "-c", ENV_CAPTURE, str(cache)], cwd=repo, check=True,
                                      capture_output=True, text=True).stdout) for _ in range(repeat)]
    first, again, metadata = (statistics.median(r[key] for r in runs)
                              for key in ("first_ms", "again_ms", "metadata_ms"))
    return (f"environment capture, {runs[0]['packages']} distributions, {runs[0]['gpus']} GPUs: {first:.1f} ms in a "
            f"fresh process (target <= 20 ms), {again:.2f} ms again in the same one; importlib.metadata lists them "
            f"in {metadata:.1f} ms")


def report(results: dict[int, dict[str, float]]) -> str:
    fresh = results[0]
    header = ("| runs | record (API) | vs no runs (wall; CPU extra) | record (CLI) | table cold | table warm "
              "| table after 1 new | objects / record | table peak RSS |")
    lines = [header, "|" + "---|" * 9]
    for size, r in results.items():
        ratio = r["record_api_ms"] / fresh["record_api_ms"]
        lines.append(
            f"| {size:,} | {r['record_api_ms']:.1f} ms | {ratio:.2f}x, {r['record_extra_ms']:+.1f} ms "
            f"| {r['record_cli_s'] * 1000:.0f} ms "
            f"| {r['table_cold_s'] * 1000:.0f} ms ({r['table_cold_x']:.2f}x) "
            f"| {r['table_warm_s'] * 1000:.0f} ms ({r['table_warm_x']:.2f}x) "
            f"| {r['table_after_one_s'] * 1000:.0f} ms ({r['table_after_one_x']:.2f}x) "
            f"| {r['record_kib']:.1f} KiB | {r['table_rss_mb']:.0f} MB |")
    floor = statistics.median(r["floor_s"] for r in results.values())
    lines.append(f"\nfloor `python -c \"import pygit2, click\"`: {floor * 1000:.0f} ms (median); "
                 "table ratios are against the floor measured beside each call.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="history sizes, comma-separated")
    parser.add_argument("--large", action="store_true", help="also 100,000 runs (several minutes)")
    parser.add_argument("--repeat", type=int, default=7, help="repetitions per figure (median)")
    parser.add_argument("--no-peers", action="store_true", help="skip DVC and MLflow even when installed")
    parser.add_argument("--peer-max", type=int, default=1000, help="largest history for MLflow (default 1000)")
    parser.add_argument("--dvc-max", type=int, default=100, help="largest history for DVC (default 100)")
    args = parser.parse_args()
    sizes = [0] + [int(s) for s in args.sizes.split(",") if s] + ([100_000] if args.large else [])
    os.environ.update(IDENTITY)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="flexgit-bench-") as root:
        repos = {}
        for size in sizes:
            started = time.perf_counter()
            repos[size] = history.build_history(Path(root) / f"h{size}" / "project", size)
            print(f"  {size:>7,} runs: history built in {time.perf_counter() - started:.1f} s", flush=True)
        for size, repo in repos.items():
            results[size] = measure(repo, args.repeat)
        rounds = max(args.repeat * 12, 60)  # records are milliseconds: many rounds make the median hold
        in_process = subprocess.run([PYTHON, "-c", IN_PROCESS, str(rounds), *map(str, repos.values())],
                                    check=True, capture_output=True, text=True).stdout
        for size, figures in zip(repos, json.loads(in_process), strict=True):
            results[size].update(figures)
        print()
        print(report(results))
        largest = max(sizes)
        figures = {"size": largest, "big": results[largest], "fresh": results[0],
                   "log": measure_log(repos[0], args.repeat), "hook": hook.measure(Path(root) / "hook", args.repeat)}
        if largest > 1000:
            figures["pull"] = targets.measure_pull(Path(root), (1000, largest), args.repeat)
        if args.large:
            figures["import"] = measure_import(Path(root) / "import" / "project", 100_000)
        print()
        print(targets.report(figures))
        if "import" in figures:
            print(f"(the import left {figures['import']['objects']})")
        print()
        print(measure_environment(repos[0], args.repeat))
        print(outputs.measure(Path(root), args.repeat))
        if not args.no_peers:
            print()
            print(peers.compare(Path(root), [s for s in sizes if s], results, args.repeat, args.peer_max, args.dvc_max))

if __name__ == "__main__":
    main()
