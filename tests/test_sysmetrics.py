"""System metrics: `flexgit run` samples its command's process tree into the history as `sys.*`, peaks in the row."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

import flexgit
from conftest import flexgit as cli, git
from flexgit.project.history import summarize
from flexgit.project.sysmetrics import ProcessTree, gpu_values

# A parent holding 100 MiB starts a child holding 200 MiB; both burn CPU until the sampler has seen
# more than 300 MiB in the tree (the command reads its own history file), at most a minute.
TREE = r"""
import json, os, subprocess, sys, time
HOLD = "b = bytearray({mib} * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
child = subprocess.Popen([sys.executable, "-c", HOLD.format(mib=200) + "import time\nwhile True: sum(range(10000))"])
exec(HOLD.format(mib=100))
deadline = time.time() + 60
while time.time() < deadline:
    sum(range(100000))
    try:
        lines = open(os.environ["FLEXGIT_HISTORY"]).read().splitlines()
    except FileNotFoundError:
        continue
    if any(json.loads(l)["metrics"].get("sys.rss", 0) > 300 for l in lines):
        break
child.kill()
print("seen" if time.time() < deadline else "never seen")
"""


def settings(repo, text):
    (repo / ".flexgit.toml").write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "settings")


def test_a_command_that_holds_memory_in_two_processes_shows_it_all_in_its_peak(repo):
    settings(repo, "system_metrics = 0.5\n")
    result = cli(repo, "run", "--name", "tree", "--", sys.executable, "-c", TREE)
    assert result.code == 0 and result.out == "seen\n", result
    run = flexgit.show("tree", repo=repo).run
    assert run.metrics["sys.rss.max"] > 300  # MiB: the parent's 100 and the child's 200, summed
    assert run.metrics["sys.cpu.max"] > 0
    assert "sys.rss" not in run.metrics and "sys.cpu" not in run.metrics  # peaks only in the row
    samples = [json.loads(line) for line in git(repo, "show", "exp/tree:.flexgit/history.jsonl").splitlines()]
    assert samples and all(set(s["metrics"]) >= {"sys.cpu", "sys.rss"} and s["step"] is None for s in samples)
    table = cli(repo, "table", "--format", "csv", "--columns", "name,sys.rss.max").out.splitlines()
    assert table[0] == "name,metrics.sys.rss.max" and float(table[1].split(",")[1]) > 300


def test_sampling_can_be_turned_off(repo):
    settings(repo, "system_metrics = false\n")
    assert cli(repo, "run", "--name", "quiet", "--", sys.executable, "-c", "import time; time.sleep(1.5)").code == 0
    run = flexgit.show("quiet", repo=repo).run
    assert not any(key.startswith("sys.") for key in run.metrics)


@pytest.mark.parametrize("value", ["-1", '"5s"', "0.01", "nan", "inf", "true"])
def test_a_bad_interval_is_one_clear_error(repo, value):
    (repo / ".flexgit.toml").write_text(f"system_metrics = {value}\n")
    result = cli(repo, "run", "--", sys.executable, "-c", "pass")
    assert result.code == 1 and result.err.startswith("Error: 'system_metrics' in ") and "seconds" in result.err
    assert git(repo, "for-each-ref", "refs/exp/") == ""


@pytest.mark.parametrize("using", ["proc", "psutil"])
def test_both_backends_see_the_whole_tree(using):
    if using == "psutil":
        pytest.importorskip("psutil")
    elif not sys.platform.startswith("linux"):
        pytest.skip("/proc is read on Linux only")
    hold = "b = bytearray(64 * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1\nimport sys\nsys.stdin.read()\n"
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys\n"
                               f"c = subprocess.Popen([sys.executable, '-c', {hold!r}], stdin=subprocess.PIPE)\n"
                               f"exec({hold!r})\nc.stdin.close(); c.wait()"],
                              stdin=subprocess.PIPE)
    try:
        tree = ProcessTree(parent.pid, using=using, gpus=False)
        deadline = time.monotonic() + 60
        sample = tree.sample()
        while sample.get("sys.rss", 0) <= 128 and time.monotonic() < deadline:
            time.sleep(0.2)
            sample = tree.sample()
        assert sample["sys.rss"] > 128 and len(tree.processes()) == 2
        assert sample["sys.cpu"] >= 0
    finally:
        parent.stdin.close()
        parent.wait(timeout=60)
    assert tree.processes() == [] and tree.sample() == {}


NVIDIA_DEVICES = "0, GPU-aaaa, 80, 30000\n1, GPU-bbbb, 20, 10000\n2, GPU-cccc, [N/A], 500\n"


def test_gpu_figures_are_those_of_the_trees_processes_or_else_of_the_visible_gpus():
    apps = "4242, GPU-aaaa, 20000\n4243, GPU-bbbb, 1000\n9999, GPU-bbbb, 7000\n"
    assert gpu_values(apps, NVIDIA_DEVICES, {4242, 4243}, None) == {"sys.gpu_mem": 21000.0, "sys.gpu_util": 50.0}
    assert gpu_values(apps, NVIDIA_DEVICES, {4242}, "1") == {"sys.gpu_mem": 20000.0, "sys.gpu_util": 80.0}
    # nvidia-smi lists none of the tree's processes (another pid namespace): the GPUs it may use, as a whole
    assert gpu_values("", NVIDIA_DEVICES, {1}, "GPU-bbbb,2") == {"sys.gpu_mem": 10500.0, "sys.gpu_util": 20.0}
    assert gpu_values("", NVIDIA_DEVICES, {1}, "") == {}
    assert gpu_values("garbage\n", "not, a, table\n", {1}, None) == {}


def test_the_row_gets_the_peak_of_system_metrics_and_the_last_value_of_the_rest():
    lines = [{"step": None, "metrics": {"sys.rss": 10.0, "sys.cpu": 90.0}}, {"step": 1, "metrics": {"loss": 2.0}},
             {"step": None, "metrics": {"sys.rss": 30.0, "sys.cpu": 5.0}}, {"step": 2, "metrics": {"loss": 1.0}}]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    assert summarize(data) == {"loss": 1.0, "sys.rss.max": 30.0, "sys.cpu.max": 90.0}
