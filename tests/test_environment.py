"""The environment of every run: `.flexgit/environment.txt` (pip's requirements format) and `env.*` meta."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import flexgit
from conftest import flexgit as cli, git
from flexgit.project import environment

INSTALLED = """
import importlib.metadata, json
print(json.dumps(sorted({(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()})))
"""


def requirements(repo: Path, name: str) -> list[Requirement]:
    text = git(repo, "show", f"exp/{name}:.flexgit/environment.txt")
    found = [Requirement(line) for line in text.splitlines()]  # raises on a line pip could not read
    assert text.endswith("\n") and [r.name for r in found] == sorted(r.name for r in found)
    return found


def test_a_record_keeps_every_installed_distribution_as_pip_reads_them(repo):
    assert cli(repo, "record", "--name", "r", "-m", "acc=1").code == 0
    found = requirements(repo, "r")
    # what importlib.metadata finds for the same interpreter, started in the same folder
    installed = json.loads(subprocess.run([sys.executable, "-c", INSTALLED], cwd=repo, capture_output=True,
                                          text=True, check=True).stdout)
    expected = {}
    for name, version in installed:
        expected.setdefault(canonicalize_name(name), version)
    assert {canonicalize_name(r.name): str(r.specifier)[2:] for r in found} == expected
    assert all(str(r.specifier).startswith("==") for r in found)
    meta = flexgit.show("r", repo=repo).run.meta
    assert meta["env.packages"] == len(found)
    assert meta["env.python"] == f"{platform.python_implementation()} {platform.python_version()}"
    assert meta["env.platform"] == platform.platform()
    assert meta["env.cpus"] == os.cpu_count() and isinstance(meta["env.cpu"], str) and meta["env.cpu"]
    assert meta["env.memory_gb"] > 0


def test_runs_made_by_the_api_the_hook_and_flexgit_run_keep_it_too(repo):
    flexgit.record(name="api", metrics={"acc": 1}, repo=repo)
    (repo / ".flexgit.toml").write_text('results = "metrics.json"\n')
    (repo / "metrics.json").write_text('{"acc": 0.5}')
    assert cli(repo, "hook", "install").code == 0
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "hooked")
    assert cli(repo, "run", "--name", "launched", "--", sys.executable, "-c", "pass").code == 0
    names = [run.name for run in flexgit.list_runs(repo=repo)]
    assert len(names) == 3
    for name in names:
        assert len(requirements(repo, name)) == flexgit.show(name, repo=repo).run.meta["env.packages"] > 0


def test_show_summarises_the_environment(repo):
    assert cli(repo, "record", "--name", "r").code == 0
    out = cli(repo, "show", "r").out
    packages = flexgit.show("r", repo=repo).run.meta["env.packages"]
    section = out.split("environment:\n")[1].splitlines()
    assert section[0] == f"  CPython {platform.python_version()}, {platform.platform()}; {packages} packages " \
                         "(.flexgit/environment.txt)" or platform.python_implementation() != "CPython"
    assert f"{os.cpu_count()} cores" in section[1]
    assert "env." not in out  # summarised, not listed as meta


def test_private_meta_keeps_only_the_name_of_the_platform(repo):
    (repo / ".flexgit.toml").write_text("private_meta = true\n")
    assert cli(repo, "record", "--name", "r").code == 0
    meta = flexgit.show("r", repo=repo).run.meta
    assert meta["env.platform"] == platform.system() and "host" not in meta
    assert meta["env.packages"] > 0 and "env.cpu" in meta


def test_env_keys_are_flexgits_own(repo):
    with pytest.raises(flexgit.errors.InputError, match="env"):
        flexgit.record(meta={"env": {"python": "2.7"}}, repo=repo)
    assert git(repo, "for-each-ref", "refs/exp/") == ""


def make_dist(folder: Path, name: str, metadata: str | None = None) -> None:
    path = folder / name
    path.mkdir()
    if metadata is not None:
        (path / ("PKG-INFO" if name.endswith(".egg-info") else "METADATA")).write_text(metadata)


def test_folder_names_give_names_and_versions_that_pip_reads(tmp_path):
    first, second = tmp_path / "site1", tmp_path / "site2"
    first.mkdir()
    second.mkdir()
    make_dist(first, "Foo_Bar-1.0.dist-info")
    make_dist(first, "torch-2.3.0+cu121.dist-info")
    make_dist(first, "legacy-1.0_custom.dist-info")                      # not PEP 440: compared as text
    make_dist(first, "old_egg-0.5-py3.11.egg-info")
    make_dist(first, "develop.egg-info", "Metadata-Version: 2.1\nName: develop\nVersion: 3.1.dev0\n\nbody\n")
    make_dist(first, "nover.dist-info")                                # no version anywhere: left out
    make_dist(first, "evil;rm -rf ~-1.0.dist-info")                    # not a name: left out
    make_dist(first, "odd-1.0 ; python_version<'3'.dist-info")         # not a version: left out
    (first / "README.dist-info.txt").write_text("not a distribution")
    make_dist(second, "foo.bar-9.9.dist-info")                         # shadowed by the first on the path
    make_dist(second, "zeta-1.dist-info")
    (tmp_path / "not-a-folder").write_text("")
    found = environment.distributions([str(first), str(second), str(tmp_path / "not-a-folder"),
                                       str(tmp_path / "missing")])
    assert found == {"foo-bar": "1.0", "torch": "2.3.0+cu121", "legacy": "1.0_custom", "old-egg": "0.5",
                     "develop": "3.1.dev0", "zeta": "1"}
    text = environment.requirements_text(found)
    assert text.splitlines() == ["develop==3.1.dev0", "foo-bar==1.0", "legacy===1.0_custom", "old-egg==0.5",
                                 "torch==2.3.0+cu121", "zeta==1"]
    for line in text.splitlines():
        Requirement(line)
    make_dist(second, "late-1.0.dist-info")  # an install changes the folder: the next scan sees it
    os.utime(second, ns=(1, 1))
    assert environment.distributions([str(first), str(second)])["late"] == "1.0"


def test_a_scan_is_kept_for_the_next_process_until_a_folder_or_metadata_file_changes(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    site.mkdir()
    cache.mkdir()
    make_dist(site, "alpha-1.0.dist-info")
    make_dist(site, "dev.egg-info", "Name: dev\nVersion: 1.0\n")
    old = (10 ** 18, 10 ** 18)  # 2001: older than the racy window
    for path in (site, site / "dev.egg-info" / "PKG-INFO"):
        os.utime(path, ns=old)

    def scan() -> dict:
        environment._memo.clear()  # as a new process
        return environment.distributions([str(site)], cache_dir=cache)

    assert scan() == {"alpha": "1.0", "dev": "1.0"} and (cache / environment.SCAN_CACHE).exists()
    (site / "alpha-1.0.dist-info").rename(site / "alpha-2.0.dist-info")  # what the cache says is now wrong ...
    os.utime(site, ns=old)  # ... and the folder's time is as it was: the cache is served
    assert scan()["alpha"] == "1.0"
    os.utime(site, ns=(old[0] + 1, old[1] + 1))  # an install moves the folder's time
    assert scan()["alpha"] == "2.0"
    (site / "dev.egg-info" / "PKG-INFO").write_text("Name: dev\nVersion: 2.0\n")  # `pip install -e` again
    os.utime(site / "dev.egg-info" / "PKG-INFO", ns=(old[0] + 5, old[1] + 5))
    assert scan()["dev"] == "2.0"
    (cache / environment.SCAN_CACHE).write_bytes(b"torn")
    assert scan() == {"alpha": "2.0", "dev": "2.0"}
    (cache / environment.SCAN_CACHE).unlink()
    make_dist(site, "fresh-1.0.dist-info")  # the folder changed just now: a later change in the same
    assert scan()["fresh"] == "1.0"  # tick would not show, so its scan is not kept for the next process
    assert str(site) not in json.loads((cache / environment.SCAN_CACHE).read_bytes()[9:])["scans"]


def test_only_the_folders_that_changed_are_read_again(tmp_path):
    project, site, cache = tmp_path / "project", tmp_path / "site", tmp_path / "cache"
    for folder in (project, site, cache):
        folder.mkdir()
    make_dist(site, "alpha-1.0.dist-info")
    for folder in (project, site):
        os.utime(folder, ns=(10 ** 18, 10 ** 18))
    environment._memo.clear()
    assert environment.distributions([str(project), str(site)], cache_dir=cache) == {"alpha": "1.0"}
    (site / "alpha-1.0.dist-info").rename(site / "alpha-9.0.dist-info")  # unseen: site's time is kept
    os.utime(site, ns=(10 ** 18, 10 ** 18))
    (project / "metrics.json").write_text("{}")  # the project folder changes, as a training run's files come
    environment._memo.clear()
    assert environment.distributions([str(project), str(site)], cache_dir=cache) == {"alpha": "1.0"}
    make_dist(project, "alpha-2.0.dist-info")  # first on the path: wins, read from the folder that changed
    environment._memo.clear()
    assert environment.distributions([str(project), str(site)], cache_dir=cache) == {"alpha": "2.0"}


FAKE_SMI = """#!/bin/sh
echo called >> "{calls}"
if [ "$1" = "--query-gpu=index,uuid,name,memory.total,driver_version" ]; then
  echo "0, GPU-aaaa1111, NVIDIA H200, 143771, 550.54.15"
  echo "1, GPU-bbbb2222, NVIDIA H200, 143771, 550.54.15"
  exit 0
fi
echo "| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4     |"
"""


def fake_nvidia_smi(tmp_path: Path, body: str) -> tuple[dict, Path]:
    """A stand-in `nvidia-smi` first on PATH (no GPU on the test machines); returns the env and its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls.txt"
    program = bin_dir / "nvidia-smi"
    program.write_text(body.format(calls=calls))
    program.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, calls


def test_gpus_come_from_nvidia_smi_asked_once_and_narrowed_by_cuda_visible_devices(repo, tmp_path):
    env, calls = fake_nvidia_smi(tmp_path, FAKE_SMI)
    assert cli(repo, "record", "--name", "a", env=env).code == 0
    meta = flexgit.show("a", repo=repo).run.meta
    assert meta["env.gpus"] == ["NVIDIA H200", "NVIDIA H200"] and meta["env.gpu_memory"] == [140.4, 140.4]
    assert meta["env.driver"] == "550.54.15" and meta["env.cuda"] == "12.4"
    assert len(calls.read_text().splitlines()) == 2
    assert cli(repo, "record", "--name", "b", env={**env, "CUDA_VISIBLE_DEVICES": "GPU-bbbb"}).code == 0
    assert len(calls.read_text().splitlines()) == 2  # cached under .git/flexgit.d/
    assert flexgit.show("b", repo=repo).run.meta["env.gpus"] == ["NVIDIA H200"]
    assert cli(repo, "record", "--name", "c", env={**env, "CUDA_VISIBLE_DEVICES": ""}).code == 0
    assert "env.gpus" not in flexgit.show("c", repo=repo).run.meta
    assert "  2 x NVIDIA H200 (140.4 GiB); driver 550.54.15, CUDA 12.4" in cli(repo, "show", "a").out.splitlines()


def test_a_failing_or_hanging_nvidia_smi_costs_one_bounded_try(repo, tmp_path):
    env, calls = fake_nvidia_smi(tmp_path, '#!/bin/sh\necho called >> "{calls}"\necho "NVIDIA-SMI has failed" >&2\n'
                                           'exit 9\n')
    for name in ("a", "b"):
        assert cli(repo, "record", "--name", name, env=env).code == 0
        assert "env.gpus" not in flexgit.show(name, repo=repo).run.meta
    assert len(calls.read_text().splitlines()) == 1
    hanging = tmp_path / "hanging"
    hanging.mkdir()
    fake_nvidia_smi(hanging, "#!/bin/sh\nexec sleep 60\n")
    assert environment.ask_nvidia_smi(str(hanging / "bin" / "nvidia-smi"), timeout=0.5) == {}


def test_the_summary_of_a_pulled_runs_environment_prints_no_terminal_escapes():
    lines = environment.describe({"env.python": "CPython 3.11\x1b[2J", "env.cpu": "x\ny", "env.cpus": 4,
                                  "env.gpus": ["A100", "A100", "H100"], "env.gpu_memory": [80.0, 80.0]})
    assert lines == ["CPython 3.11\\x1b[2J", "x\\ny, 4 cores", "2 x A100 (80.0 GiB), 1 x H100"]
