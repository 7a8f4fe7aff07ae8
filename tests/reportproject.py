"""A project whose runs exercise every part of the report: a sweep with curves and output logs, a
code change between runs, and hostile text (markup) in every place a user can put text."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import flexgit, git, make_repo

XSS = "<img src=x onerror=alert(1)>"
# One payload per place, so a leak names its source.
XSS_IN = {place: f"<img src=x onerror=alert('{place}')>" for place in ("message", "param", "file", "log", "note")}
XSS_IN.update({place: f"<script>alert('{place}')</script>" for place in ("param-key", "metric-key", "curve")})  # no `=`

TRAIN = '''\
import json, sys, tomllib, flexgit
params = tomllib.load(open("params.toml", "rb"))
lr = params["lr"]
for step in range(40):
    flexgit.log(step=step, loss=1.0 / (1 + lr * step), acc=1 - 0.5 / (1 + lr * step))
flexgit.log(step=40, **{CURVE: 1.0})
print("epoch done", lr)
print(LOG)
json.dump({"acc": round(1 - 0.5 / (1 + lr * 40), 4), "loss": round(1.0 / (1 + lr * 40), 4)}, open("metrics.json", "w"))
'''


def report_project(root: Path) -> Path:
    """Three runs of a sweep (lr 0.1, 0.3, 1.0: curves, output logs, a group), then a code change and
    a recorded run carrying markup in its message, a param key and value, a metric key, a file name
    and a note. Returns the repository."""
    repo = make_repo(root)
    (repo / "train.py").write_text(TRAIN.replace("CURVE", repr(XSS_IN["curve"])).replace("LOG", repr(XSS_IN["log"])))
    (repo / "params.toml").write_text('lr = 0.1\nmodel = "mlp"\n')
    (repo / ".flexgit.toml").write_text('config = "params.toml"\nresults = "metrics.json"\n')
    (repo / ".gitignore").write_text("metrics.json\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "project")
    done = flexgit(repo, "run", "-q", "--name", "lr{lr}", "-S", "lr=0.1,0.3,1.0", "-j", "3", "--",
                   sys.executable, "train.py")
    assert done.code == 0, done
    (repo / "train.py").write_text((repo / "train.py").read_text().replace("1 + lr * step", "2 + lr * step"))
    (repo / XSS_IN["file"]).write_text("x = 1\n")
    done = flexgit(repo, "record", "--name", "hostile", "--message", XSS_IN["message"],
                   "-p", f"{XSS_IN['param-key']}=1", "-p", f"model={XSS_IN['param']}",
                   "-m", f"{XSS_IN['metric-key']}=2", "-m", "acc=0.5")
    assert done.code == 0, done
    assert flexgit(repo, "note", "hostile", XSS_IN["note"]).code == 0
    return repo
