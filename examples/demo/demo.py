"""`make demo`: a real training script, three configs, three recorded runs, a table, a reproduction, a report.

Everything happens in a new temporary git repository, with its own identity, so the
demo depends on nothing of this machine's git set-up. The folder is kept for you to explore;
`--clean` removes it at the end (the test suite runs the demo that way).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLEXGIT = [sys.executable, "-m", "flexgit"]
CONFIGS = {
    "logreg-C1": 'model = "logreg"\nC = 1.0\nseed = 0\ntest_size = 0.25\n',
    "logreg-C0.01": 'model = "logreg"\nC = 0.01\nseed = 0\ntest_size = 0.25\n',
    "forest-d4": 'model = "forest"\nn_estimators = 50\nmax_depth = 4\nseed = 0\ntest_size = 0.25\n',
}


def step(title: str) -> None:
    print(f"\n== {title}")


def run(cmd: list[str], cwd: Path, show: bool = True) -> str:
    shown = shlex.join(cmd)
    if show:
        print("$ " + shown.replace(shlex.join(FLEXGIT), "flexgit").replace(sys.executable, "python"))
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"demo failed: {shown}\n{done.stdout}{done.stderr}")
    if show and done.stdout:
        print(done.stdout, end="")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description="flexgit's demo: three recorded runs and a reproduction.")
    parser.add_argument("--clean", action="store_true", help="remove the demo's temporary folder at the end")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="flexgit-demo-"))
    try:
        demo(folder / "project", keep=not args.clean)
    finally:
        if args.clean:
            shutil.rmtree(folder, ignore_errors=True)


def demo(project: Path, keep: bool) -> None:
    project.mkdir()
    step(f"a project with a training script, in {project}")
    shutil.copy(HERE / "train.py", project / "train.py")
    (project / ".gitignore").write_text("metrics.json\n__pycache__/\n")
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "Demo"],
                 ["config", "user.email", "demo@example.com"],
                 ["add", "."], ["commit", "-q", "-m", "training script"]):
        run(["git", *args], project, show=False)

    step("three experiments: train, then record code + config + results")
    for name, config in CONFIGS.items():
        (project / "params.toml").write_text(config)
        run([sys.executable, "train.py"], project)
        run(FLEXGIT + ["record", "--name", name, "-c", "params.toml", "-r", "metrics.json"], project)

    step("every run, from the git object database")
    run(FLEXGIT + ["table", "--only-changed", "--sort-by", "accuracy", "--desc"], project)

    step("your branch and working tree were not touched")
    run(["git", "status", "--short"], project)
    run(["git", "log", "--oneline", "--decorate", "-n", "3", "experiments"], project)

    best = json.loads(run(FLEXGIT + ["table", "--format", "json", "--sort-by", "accuracy", "--desc", "--limit", "1"],
                          project, show=False))[0]
    step(f"reproduce the best run, {best['name']}, in a separate worktree")
    copy = project.parent / "reproduce"
    run(FLEXGIT + ["checkout", best["name"], "--worktree", str(copy)], project)
    run([sys.executable, "train.py"], copy)
    again = json.loads((copy / "metrics.json").read_text())["accuracy"]
    recorded = best["metrics.accuracy"]
    verdict = "the same" if again == recorded else "DIFFERENT"
    print(f"recorded accuracy {recorded}, re-run accuracy {again}: {verdict}")
    step("a report of every run (table, comparisons with code diffs, curves) and a picture of the curves")
    report, curves = project.parent / "report.html", project.parent / "curves.png"
    run(FLEXGIT + ["report", "-o", str(report), "--title", "flexgit demo"], project)
    run(FLEXGIT + ["plot", "accuracy", "--runs", ",".join(CONFIGS), "-o", str(curves)], project)
    print(f"the report: {report}\nthe learning curves: {curves}")
    if keep:
        print(f"\nexplore it yourself: cd {project} && {Path(sys.executable).parent / 'flexgit'} table")
        print(f"open {report.as_uri()} in a browser, or serve the pages live: flexgit ui")
    if again != recorded:
        sys.exit(1)


if __name__ == "__main__":
    main()
