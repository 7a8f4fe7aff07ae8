"""Projects whose runs exercise every part of the report: a sweep with curves, output logs, outputs (a
model through git-lfs where it is installed, a plot) and a checkpoint, a code change between runs, and
(in the hostile one) markup in every place a user can put text."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from conftest import flexgit, git, make_repo

XSS = "<img src=x onerror=alert(1)>"
# One payload per place, so a leak names its source; keys cannot hold `=` (KEY=VALUE).
XSS_IN = {place: f"<img src=x onerror=alert('{place}')>" for place in ("message", "param", "file", "log", "note",
                                                                        "output")}
XSS_IN.update({place: f"<script>alert('{place}')</script>" for place in ("param-key", "metric-key", "curve")})

TRAIN = '''\
import json, tomllib, flexgit
params = tomllib.load(open("params.toml", "rb"))
lr, width = params["lr"], params["width"]
speed = lr * width / 64
for step in range(40):
    loss = 1.0 / (1 + speed * step)
    flexgit.log(step=step, loss=loss, acc=1 - 0.5 * loss)
    if step == 20:
        open("ckpt.txt", "w").write(f"weights at step {step}\\n")
        flexgit.checkpoint("ckpt.txt", step=step, loss=loss)
EXTRA
import os
os.makedirs("plots", exist_ok=True)
open("plots/loss.txt", "w").write(f"final loss {loss}\\n")
open("model.txt", "w").write("w" * (width * 100))  # above lfs_threshold: kept through git-lfs
print("trained: lr", lr, "width", width)
print(LOG)
json.dump({"acc": round(1 - 0.5 / (1 + speed * 39), 4), "loss": round(1.0 / (1 + speed * 39), 4)},
          open("metrics.json", "w"))
'''


def report_project(root: Path, hostile: bool = True) -> Path:
    """A sweep (lr 0.1, 0.3, 1.0 at width 64; with `hostile` False, also at width 32): curves, output logs,
    a group; then a code change and a recorded run, `hostile` (markup in its message, a param key and
    value, a metric key, a file name, a note, a curve's name and the log) or `wider`."""
    repo = make_repo(root)
    extra = f"flexgit.log(step=40, **{{{XSS_IN['curve']!r}: 1.0}})" if hostile else ""
    log = XSS_IN["log"] if hostile else "done"
    (repo / "train.py").write_text(TRAIN.replace("EXTRA", extra).replace("LOG", repr(log)))
    (repo / "params.toml").write_text('lr = 0.1\nwidth = 64\nmodel = "mlp"\n')
    (repo / ".flexgit.toml").write_text('config = "params.toml"\nresults = "metrics.json"\n'
                                        'outputs = ["model.txt", "plots/*"]\nlfs_threshold = "4KB"\n')
    (repo / ".gitignore").write_text("metrics.json\nmodel.txt\nplots/\nckpt.txt\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "project")
    env = python_on_path(root.parent / "bin")
    widths = "64" if hostile else "32,64"
    done = flexgit(repo, "run", "-q", "--name", "lr{lr}" if hostile else "lr{lr}-w{width}", "-S", "lr=0.1,0.3,1.0",
                   "-S", f"width={widths}", "-j", "3", "--", "python", "train.py", env=env)
    assert done.code == 0, done
    (repo / "train.py").write_text((repo / "train.py").read_text().replace("1 + speed * step", "1 + 2 * speed * step"))
    if hostile:
        (repo / XSS_IN["file"]).write_text("x = 1\n")
        (repo / "plots").mkdir(exist_ok=True)
        (repo / "plots" / XSS_IN["output"]).write_text("kept\n")
        done = flexgit(repo, "record", "--name", "hostile", "--message", XSS_IN["message"],
                       "--output", str(repo / "plots" / XSS_IN["output"]),
                       "-p", f"{XSS_IN['param-key']}=1", "-p", f"model={XSS_IN['param']}",
                       "-m", f"{XSS_IN['metric-key']}=2", "-m", "acc=0.5")
        assert done.code == 0, done
        assert flexgit(repo, "note", "hostile", XSS_IN["note"]).code == 0
    else:
        (repo / "params.toml").write_text('lr = 0.3\nwidth = 128\nmodel = "mlp"\n')
        done = flexgit(repo, "run", "-q", "--name", "wider", "--", "python", "train.py", env=env)
        assert done.code == 0, done
        assert flexgit(repo, "note", "wider", "twice the step size in the schedule").code == 0
    return repo


def python_on_path(folder: Path) -> dict[str, str]:
    """An environment whose `python` is this interpreter, so runs record `python train.py` (screenshots
    show no path of the machine that made them)."""
    folder.mkdir(exist_ok=True)
    script = folder / "python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    script.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}
