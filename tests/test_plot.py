"""`flexgit plot`: step curves, a metric against a param, a metric along commits, parallel coordinates,
as real PNG and SVG files read back; errors; matplotlib optional."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import flexgit
from flexgit.project.history import series
from conftest import flexgit as cli, flexgit_in_process as run_cli, git, make_repo

pytest.importorskip("matplotlib", reason="flexgit plot needs matplotlib (pip install flexgit[plots])")

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TRAIN = """\
import sys, flexgit
lr = float(sys.argv[1])
for step in range(12):
    flexgit.log(step=step, loss=1 / (1 + lr * step), acc=1 - 1 / (1 + lr * step))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Runs a and b on a first commit, c on a second, d on the second with uncommitted changes; a, b
    and c logged 12 steps of loss and acc, d none."""
    repo = make_repo(tmp_path_factory.mktemp("plots") / "project")
    (repo / "train.py").write_text(TRAIN)
    git(repo, "commit", "-qam", "first model")
    for name, lr, model in (("a", 0.1, "mlp"), ("b", 0.3, "cnn")):
        subprocess.run([sys.executable, "train.py", str(lr)], cwd=repo, check=True)
        flexgit.record(name=name, params={"lr": lr, "model": model}, metrics={"acc": 0.5 + lr}, repo=repo)
    (repo / "train.py").write_text(TRAIN + "# faster\n")
    git(repo, "commit", "-qam", r"second: $\notacommand{x}$ faster")  # mathtext would fail on it
    subprocess.run([sys.executable, "train.py", "1"], cwd=repo, check=True)
    flexgit.record(name="c", params={"lr": 1.0, "model": "cnn"}, metrics={"acc": 0.8}, repo=repo)
    (repo / "wip.py").write_text("x = 1\n")
    flexgit.record(name="d", params={"lr": 3.0, "model": "mlp"}, metrics={"acc": 0.85}, repo=repo)
    return repo


def series_ids(svg: bytes) -> list[str]:
    """The ids of the drawn series (`series-N` groups) of an SVG, which must parse as XML."""
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return sorted(g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")
                  if re.fullmatch(r"series-\d+", g.get("id") or ""))


def points_in(svg: bytes, series: str) -> int:
    """How many markers the series `series` draws: `use` elements of one marker defined once, or (as
    matplotlib writes a few markers) a `path` each."""
    root = ET.fromstring(svg)
    group = next(g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id") == series)
    uses = sum(1 for _ in group.iter("{http://www.w3.org/2000/svg}use"))
    return uses or sum(1 for _ in group.iter("{http://www.w3.org/2000/svg}path"))


KINDS = {  # args, the series an SVG must hold
    "curves": (["loss", "acc", "--runs", "a,b,c"], [f"series-{i}" for i in range(6)]),
    "curves over time, all runs": (["loss", "--x", "time"], ["series-0", "series-1", "series-2"]),
    "metric against a param": (["--x", "params.lr", "--y", "acc", "--logx"], ["series-0"]),
    "metric along commits": (["--x", "commit", "--along", "main", "--y", "acc"], ["series-0", "series-1", "series-2"]),
    "parallel coordinates": (["--parallel", "--y", "acc"], [f"series-{i}" for i in range(4)]),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_writes_a_valid_png(project, tmp_path, kind):
    from PIL import Image
    from matplotlib.image import imread

    out = tmp_path / "plot.png"
    result = run_cli(project, "plot", *KINDS[kind][0], "-o", str(out))
    assert result.code == 0 and result.out == f"wrote {out} ({out.stat().st_size:,} bytes)\n", result
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] >= 500 and image.size[1] >= 300, image.size
    pixels = imread(out)
    assert pixels.shape[:2] == (image.size[1], image.size[0]) and pixels.std() > 0  # not a blank picture


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_writes_an_svg_with_its_series(project, tmp_path, kind):
    args, expected = KINDS[kind]
    out = tmp_path / "plot.svg"
    result = run_cli(project, "plot", *args, "-o", str(out))
    assert result.code == 0, result
    svg = out.read_bytes()
    assert series_ids(svg) == sorted(expected)
    if kind == "metric against a param":
        assert points_in(svg, "series-0") == 4  # a point per run
    if kind == "metric along commits":  # a, b and c on committed code; d with uncommitted changes
        assert (points_in(svg, "series-0"), points_in(svg, "series-1")) == (3, 1)
        assert "$" in svg.decode() and "notacommand" in svg.decode()  # the subject as text
    if kind.startswith("curves"):
        assert ">a</text>" in svg.decode() and ">d</text>" not in svg.decode()  # d logged no steps


def test_text_values_are_categories_and_stay_inert_text(project, tmp_path):
    svg = flexgit.plot(x="params.model", y="acc", format="svg", repo=project).decode()
    assert ">mlp</text>" in svg and ">cnn</text>" in svg  # category labels, not numbers
    other = make_repo(tmp_path / "other")
    for name, model in (("x1", "<script>alert(1)</script>"), ("x2", "]]><svg onload=alert(2)>")):
        flexgit.record(name=name, params={"model": model}, metrics={"acc": 0.5}, repo=other)
    for kwargs in ({"x": "params.model", "y": "acc"}, {"parallel": True, "y": "acc"}):
        svg = flexgit.plot(format="svg", repo=other, **kwargs)
        ET.fromstring(svg)
        assert b"<script" not in svg and b"<svg onload" not in svg and b"&lt;script&gt;alert(1)" in svg


def test_history_curves_skip_what_cannot_be_drawn():
    data = (b'{"step": 0, "t": "2026-01-02T03:04:05.000000Z", "metrics": {"loss": 1.0, "tag": "warm"}}\n'
            b'{"step": 1, "t": "2026-01-02T03:04:07.500000Z", "metrics": {"loss": NaN}}\n{cut\n'
            b'{"t": "not a time", "metrics": {"loss": 0.5, "acc": Infinity}}\n'
            b'{"step": 10, "metrics": {"loss": 0.25}}\n[1, 2]\n{"finish": {"min": ["loss"]}}\n')
    assert series(data) == {"loss": [(0.0, 0.0, 1.0, True), (2.0, None, 0.5, False), (10.0, None, 0.25, True)]}


SAMPLED = """\
import time, flexgit
for step in range(8):
    flexgit.log(step=step, loss=1 / (step + 1))
    time.sleep(0.2)
"""


def test_system_metrics_are_drawn_over_time(tmp_path):
    """`flexgit run` samples sys.* without steps: drawn against time by default, and asking for steps
    says to draw them with --x time."""
    repo = make_repo(tmp_path / "project")
    (repo / ".flexgit.toml").write_text("system_metrics = 0.2\n")
    (repo / "train.py").write_text(SAMPLED)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "sampled")
    done = cli(repo, "run", "-q", "--name", "sampled", "--", sys.executable, "train.py")
    assert done.code == 0, done
    svg = flexgit.plot(["sys.rss"], runs=["sampled"], format="svg", repo=repo)
    assert series_ids(svg) == ["series-0"] and points_in(svg, "series-0") >= 2
    assert "seconds since the first logged line" in svg.decode()
    assert flexgit.plot(["sys.rss"], runs=["sampled"], x="time", format="svg", repo=repo) == svg
    both = flexgit.plot(["loss", "sys.cpu"], runs=["sampled"], x="time", format="svg", repo=repo)
    assert series_ids(both) == ["series-0", "series-1"] and points_in(both, "series-0") == 8
    asked = run_cli(repo, "plot", "sys.rss", "--runs", "sampled", "--x", "step", "--format", "svg")
    assert (asked.code, asked.out) == (1, "")
    assert asked.err == "Error: sys.rss was logged over time, without steps (system metrics are sampled so): " \
                        "draw it with --x time\n"
    mixed = run_cli(repo, "plot", "loss", "sys.rss", "--runs", "sampled", "--format", "svg")
    assert (mixed.code, mixed.out) == (1, "")
    assert mixed.err == "Error: sys.rss was logged over time, without steps (system metrics are sampled so), " \
                        "loss by step: draw them all with --x time, or apart (flexgit plot sys.rss ...)\n"


def test_the_same_runs_draw_the_same_svg(project, tmp_path):
    first = flexgit.plot(["loss"], runs="a,b", format="svg", repo=project)
    assert flexgit.plot(["loss"], runs=["a", "b"], format="svg", repo=project) == first
    written = flexgit.plot("loss", runs="a,b", output=tmp_path / "api.svg", repo=project)
    assert (tmp_path / "api.svg").read_bytes() == written == first


def test_without_o_the_picture_goes_to_a_pipe_and_a_terminal_is_refused(project):
    piped = subprocess.run([sys.executable, "-m", "flexgit", "plot", "acc", "--runs", "a", "--format", "svg"],
                           cwd=project, capture_output=True)
    assert piped.returncode == 0 and series_ids(piped.stdout) == ["series-0"], piped.stderr
    png = subprocess.run([sys.executable, "-m", "flexgit", "plot", "acc", "--runs", "a"], cwd=project,
                         capture_output=True)
    assert png.returncode == 0 and png.stdout.startswith(PNG_SIGNATURE)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "flexgit", "plot", "acc", "--runs", "a"], cwd=project,
                              stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2 and "name a file with -o plot.png (or .svg)" in done.stderr, done.stderr


@pytest.mark.parametrize("args, message", [
    (["loss", "--runs", "a,nope"], "Error: no run named 'nope'; list the recorded runs with 'flexgit table'"),
    (["lss", "--runs", "a"], "Error: no run chosen logged a metric 'lss'; logged: acc, loss"),
    (["loss", "--runs", "d"], "Error: none of the 1 runs chosen has a step history"),
    (["--x", "params.lrr", "--y", "acc"], "Error: no column 'params.lrr'; did you mean params.lr"),
    (["--x", "params.lr", "--y", "acc", "--logy", "--where", "lr > 100"], "Error: no runs match --where"),
    (["--x", "params.model", "--y", "acc", "--logx"], "Error: a log axis needs numbers, and params.model holds text"),
    (["--x", "commit", "--along", "nope", "--y", "acc"], "Error: no branch or commit 'nope' in this repository"),
    (["--along", "main", "--y", "acc"], "Error: --along goes with --x commit"),
    (["--x", "commit", "--y", "acc"], "Error: --x commit needs the branch of your project to follow"),
    (["--parallel", "--y", "acc", "--x", "step"], "Error: --parallel draws params and a metric"),
    (["--x", "params.lr", "loss", "acc"], "Error: this plot shows one metric, not 2"),
    (["--x", "params.lr"], "Error: name one metric to plot"),
])
def test_errors_are_one_line_and_write_no_file(project, tmp_path, args, message):
    out = tmp_path / "plot.png"
    result = run_cli(project, "plot", *args, "-o", str(out))
    assert result.code == 1 and result.err.startswith(message) and result.err.count("\n") == 1, result
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_output_flexgit_cannot_draw_is_refused(project, tmp_path):
    result = run_cli(project, "plot", "loss", "--runs", "a", "-o", str(tmp_path / "plot.jpg"))
    assert result.code == 1 and result.err == (f"Error: cannot tell the picture's format from '{tmp_path / 'plot.jpg'}'"
                                               ": name a .png or .svg file\n")
    clash = run_cli(project, "plot", "loss", "--runs", "a", "-o", str(tmp_path / "p.png"), "--format", "svg")
    assert clash.code == 1 and "-o names a .png file but --format says svg" in clash.err
    assert list(tmp_path.iterdir()) == []


BLOCKER = """\
import sys


class NoMatplotlib:
    \"\"\"An environment without matplotlib: its import fails as it does when it is not installed.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoMatplotlib())
"""


def test_without_matplotlib_plot_says_how_to_install_it(project, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    check = subprocess.run([sys.executable, "-c", "import matplotlib"], capture_output=True, text=True,
                           env={**os.environ, **env})
    assert check.returncode == 1 and "No module named 'matplotlib'" in check.stderr  # the block is real
    out = tmp_path / "plot.png"
    result = cli(project, "plot", "loss", "--runs", "a", "-o", str(out), env=env)
    assert result.code == 1 and result.out == "", result
    assert result.err == ("Error: plots need matplotlib, which is not installed: pip install flexgit[plots]\n")
    assert not out.exists()
    assert cli(project, "diff", "a", "b", env=env).code == 0  # everything else works without it


def test_matplotlib_is_imported_by_plot_only(project, tmp_path):
    probe = ("import sys; from flexgit.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('matplotlib' in sys.modules, file=sys.stderr)")
    other = make_repo(tmp_path / "other")
    for cwd, args in ((project, ["--help"]), (project, ["table"]), (other, ["record", "-m", "acc=1"]),
                      (project, ["diff", "a", "b"]), (project, ["compare", "a", "b", "c"]),
                      (project, ["plot", "--help"])):
        done = subprocess.run([sys.executable, "-c", probe, *args], cwd=cwd, capture_output=True, text=True)
        assert done.stderr.strip().splitlines()[-1] == "False", (args, done.stderr)
    done = subprocess.run([sys.executable, "-c", "import flexgit, sys; flexgit.plot; flexgit.diff; "
                           "print('matplotlib' in sys.modules)"], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
