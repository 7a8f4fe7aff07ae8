"""`make bench`: `flexgit report` on 10,000 runs, and how soon its page is interactive in headless Chromium.

Builds a project whose runs look like a long sweep: 20 files of code in 50 variants, params, metrics,
meta, and a step history of 50 steps (two metrics) and an output log per run. Then times:

  - `flexgit report -o FILE` as a CLI call, with no derived caches (cold) and again (warm);
  - the page in headless Chromium: from navigation start to the table drawn (`window.flexgitReady`),
    then a click that sorts all runs and a filter typed, each until the table is drawn again.

Medians of interleaved repetitions; the targets are 3 s for the report, 2 s to interactive.

    python benchmarks/report.py [--runs 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flexgit.storage.gitrepo import GitRepo  # noqa: E402
from flexgit.storage.refs import BranchRef  # noqa: E402
from flexgit.storage.run import Run  # noqa: E402
from flexgit.storage.store import Store  # noqa: E402

FLEXGIT = [sys.executable, "-m", "flexgit"]
BATCH = 1000
STEPS = 50
VARIANTS = 50
ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=ENV).stdout


def build(path: Path, count: int) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for i in range(20):
        (path / f"module_{i:02d}.py").write_text("".join(f"def f{j}(x):\n    return x * {j}\n" for j in range(40)))
    (path / "train.py").write_text("lr = 0.1\n" + "print('training')\n" * 30)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "project")
    repo = GitRepo.open(path)
    store = Store(repo)
    head = repo.head_commit()
    base = repo.commit(head)[0]
    trees = [repo.update_tree(base, {"train.py": repo.write_blob(f"lr = {v / 100}\n".encode() + b"print('x')\n" * 30)})
             for v in range(VARIANTS)]
    branch = BranchRef("experiments")
    for start in range(0, count, BATCH):
        runs, code, files = [], [], []
        for i in range(start, min(count, start + BATCH)):
            lr = round(0.001 * (1 + i % 100), 4)
            history = "".join(json.dumps({"step": s, "t": f"2026-01-01T00:{s // 60:02d}:{s % 60:02d}.000000Z",
                                          "metrics": {"loss": 1 / (1 + lr * s * 10), "acc": 1 - 0.5 / (1 + lr * s)},
                                          "proc": "1@x"}) + "\n" for s in range(STEPS))
            log = "".join(f"epoch {s} loss {1 / (1 + lr * s):.4f}\n" for s in range(STEPS))
            runs.append(Run(name=f"run-{i:05d}", message=f"sweep point {i}",
                            params={"lr": lr, "depth": 2 + i % 7, "seed": i % 5, "model": ["mlp", "cnn"][i % 2],
                                    "optimizer.name": "adam", "batch_size": 64},
                            metrics={"acc": round(1 - 0.5 / (1 + lr * 49), 5), "loss": round(1 / (1 + lr * 490), 5)},
                            meta={"user": "bench", "host": "bench-host", "python": "3.11.7", "flexgit": "0.2.0",
                                  "command": f"python train.py --lr {lr}", "source": head, "dirty": True,
                                  "exit_code": 0, "duration_s": 12.5},
                            date="2026-01-01T00:00:00Z", time=f"2026-01-01T00:00:00.{i:06d}Z"))
            code.append(trees[i % VARIANTS])
            files.append({"history.jsonl": repo.write_blob(history.encode()),
                          "output.log": repo.write_blob(log.encode())})
        store.write(runs, code, branch, files)
    git(path, "repack", "-adq")
    git(path, "pack-refs", "--all")
    return path


def time_report(repo: Path, out: Path, cold: bool) -> float:
    if cold:
        shutil.rmtree(repo / ".git" / "flexgit.d", ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([*FLEXGIT, "report", "-o", str(out)], cwd=repo, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - started


def time_browser(page: Path, repeat: int) -> dict[str, float] | None:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        print("selenium is not installed: the page is not measured (pip install -e '.[test]')")
        return None
    if not chromium or not driver_path:
        print("chromium or chromedriver is missing: the page is not measured (make system-deps)")
        return None
    found: dict[str, list[float]] = {"interactive_ms": [], "sort_ms": [], "filter_ms": []}
    for _ in range(repeat):
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in FLAGS:
            options.add_argument(flag)
        profile = tempfile.mkdtemp(prefix="flexgit-bench-chromium-")
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
        try:
            driver.get(page.as_uri())
            WebDriverWait(driver, 120).until(lambda d: d.execute_script("return window.flexgitReady !== undefined"))
            found["interactive_ms"].append(driver.execute_script("return window.flexgitReady"))
            found["sort_ms"].append(driver.execute_script(
                "var t = performance.now(); document.querySelector('th[data-col=\"metrics.acc\"]').click();"
                "return performance.now() - t;"))
            box = driver.find_element(By.ID, "filter")
            found["filter_ms"].append(driver.execute_script(
                "var box = arguments[0], t = performance.now(); box.value = 'depth>4';"
                "box.dispatchEvent(new Event('input')); return performance.now() - t;", box))
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
    return {key: statistics.median(values) for key, values in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="flexgit-bench-report-"))
    try:
        started = time.perf_counter()
        repo = build(folder / "project", args.runs)
        print(f"report: {args.runs:,} runs built in {time.perf_counter() - started:.0f} s")
        out = folder / "report.html"
        cold, warm = [], []
        for _ in range(args.repeat):
            cold.append(time_report(repo, out, cold=True))
            warm.append(time_report(repo, out, cold=False))
        page = time_browser(out, args.repeat)
        print(f"\n{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"{args.runs:,} runs, {args.repeat} repetitions (medians)\n")
        print("| report (cold) | report (warm) | file | page interactive | sort all runs | filter |")
        print("|---|---|---|---|---|---|")
        shown = (f"{page['interactive_ms']:.0f} ms | {page['sort_ms']:.0f} ms | {page['filter_ms']:.0f} ms"
                 if page else "- | - | -")
        print(f"| {statistics.median(cold):.2f} s | {statistics.median(warm):.2f} s | "
              f"{out.stat().st_size / 2**20:.1f} MiB | {shown} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
