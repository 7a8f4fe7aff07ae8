"""DVC and MLflow on the same histories, where installed and where feasible in minutes.

Each peer runs in a child process of its own, with the same repetitions as flexgit:
- MLflow (sqlite tracking store, in process): `start_run` + `log_params` + `log_metrics`
  per run; `search_runs` over the experiment to list them.
- DVC: `dvc exp save` (CLI) per run, the history built through its Python API (faster);
  `dvc exp show --csv` to list them, first call and warm.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

MLFLOW_SCRIPT = """
import json, logging, os, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
root, size, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
import mlflow
imported = time.perf_counter() - started
mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
experiment = mlflow.create_experiment("bench")

def log(i):
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_params({"lr": 0.001 * i, "depth": i % 7, "model": f"m{i % 3}"})
        mlflow.log_metrics({"acc": 0.5, "loss": 0.1})

for i in range(size):
    log(i)
record = []
for i in range(repeat):
    start = time.perf_counter(); log(size + i); record.append(time.perf_counter() - start)
search = []
for _ in range(repeat):
    start = time.perf_counter()
    mlflow.search_runs(experiment_ids=[experiment])
    search.append(time.perf_counter() - start)
print(json.dumps({"import_s": imported, "record_s": statistics.median(record),
                  "list_first_s": search[0], "list_warm_s": statistics.median(search[1:] or search)}))
"""

DVC_BUILD_SCRIPT = """
import sys
from dvc.repo import Repo
root, size = sys.argv[1], int(sys.argv[2])
repo = Repo(root)
for i in range(size):
    with open(f"{root}/params.yaml", "w") as handle:
        handle.write(f"lr: {0.001 * i}\\ndepth: {i % 7}\\n")
    with open(f"{root}/metrics.json", "w") as handle:
        handle.write('{"acc": 0.5, "loss": 0.1}')
    repo.experiments.save(name=f"h{i}", force=True)
"""


def compare(root: Path, sizes: list[int], flexgit_results: dict, repeat: int, peer_max: int = 1000,
            dvc_max: int = 100) -> str:
    """A table of DVC and MLflow beside flexgit's figures, with the ratios."""
    rows, notes = [], []
    for size in sizes:
        fx = flexgit_results[size]
        rows.append(("flexgit (CLI)", size, fx["record_cli_s"], fx["table_cold_s"], fx["table_warm_s"]))
        rows.append(("flexgit (API)", size, fx["record_api_ms"] / 1000, fx["table_api_first_s"],
                     fx["table_api_warm_s"]))
        if size <= peer_max and _installed("mlflow"):
            m = _mlflow(root / f"mlflow-{size}", size, repeat)
            rows.append(("MLflow sqlite (API)", size, m["record_s"], m["list_first_s"], m["list_warm_s"]))
            notes.append(f"importing mlflow took {m['import_s']:.1f} s, not counted above")
        if size <= dvc_max and shutil.which("dvc", path=os.path.dirname(sys.executable)):
            d = _dvc(root / f"dvc-{size}", size, repeat)
            rows.append(("DVC (CLI)", size, d["record_s"], d["list_first_s"], d["list_warm_s"]))
    if len({r[0] for r in rows}) == 2:
        return "peers: DVC and MLflow are not installed (pip install -e '.[bench]'); not measured"
    return _table(rows) + "".join(f"\n{note}" for note in dict.fromkeys(notes))


def _installed(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def _mlflow(root: Path, size: int, repeat: int) -> dict:
    root.mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", MLFLOW_SCRIPT, str(root), str(size), str(repeat)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _dvc(root: Path, size: int, repeat: int) -> dict:
    dvc = os.path.join(os.path.dirname(sys.executable), "dvc")
    root.mkdir(parents=True)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    for cmd in (["git", "init", "-q", "-b", "main"], [dvc, "init", "-q"], ["git", "add", "."],
                ["git", "commit", "-q", "-m", "dvc"]):
        subprocess.run(cmd, cwd=root, check=True, env=env, capture_output=True)
    (root / "train.py").write_text("print('train')\n")
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "train"], cwd=root, check=True)
    subprocess.run([sys.executable, "-c", DVC_BUILD_SCRIPT, str(root), str(size)], cwd=root, check=True, env=env,
                   capture_output=True)
    record = []
    for i in range(repeat):
        (root / "params.yaml").write_text(f"lr: {0.5 + i}\ndepth: 1\n")
        start = time.perf_counter()
        subprocess.run([dvc, "exp", "save", "-n", f"r{i}", "-f"], cwd=root, check=True, env=env, capture_output=True)
        record.append(time.perf_counter() - start)
    listing = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([dvc, "exp", "show", "--csv"], cwd=root, check=True, env=env, capture_output=True)
        listing.append(time.perf_counter() - start)
    return {"record_s": statistics.median(record), "list_first_s": listing[0],
            "list_warm_s": statistics.median(listing[1:] or listing)}


def _table(rows: list[tuple]) -> str:
    def ms(seconds: float | None) -> str:
        return "" if seconds is None else f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"

    lines = ["| tool | runs | record one run | list all runs, first call | list all runs, warm |",
             "|---|---|---|---|---|"]
    lines += [f"| {tool} | {size:,} | {ms(rec)} | {ms(first)} | {ms(warm)} |" for tool, size, rec, first, warm in rows]
    lines.append("")
    by_size: dict[int, dict[str, tuple]] = {}
    for row in rows:
        by_size.setdefault(row[1], {})[row[0]] = row
    for size, tools in by_size.items():
        for peer, row in tools.items():
            if peer.startswith("flexgit"):
                continue
            ours = tools["flexgit (API)" if "API" in peer else "flexgit (CLI)"]
            lines.append(f"{size:,} runs, {peer} against flexgit {'API' if 'API' in peer else 'CLI'}: "
                         f"record {row[2] / ours[2]:.1f}x, list {row[3] / ours[3]:.1f}x (first call), "
                         f"{row[4] / ours[4]:.1f}x (warm) flexgit's time")
    return "\n".join(lines)
