"""What would be published works on its own: the wheel, installed outside the repository, runs the quick start."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from flexgit._version import __version__
from conftest import git, make_repo

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "flex", "project", "storage", "verbs", "view")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="needs `build` (the test extra: make test)"),
]


def run(args, cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clean_env() -> dict:
    """This environment without what points Python at the repository (PYTHONPATH, coverage's start file)."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith("PYTHON") and key != "COVERAGE_PROCESS_START"}


def source_copy(tmp_path: Path) -> Path:
    """The files git would publish (tracked, or new and not ignored), copied: builds never write into the repository."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).split("\0")
    copy = tmp_path / "src"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes((ROOT / name).read_bytes())
    return copy


def contents(wheel: Path) -> dict[str, str]:
    """Each file of a wheel and the hash of its bytes (zip dates and order aside)."""
    with zipfile.ZipFile(wheel) as archive:
        return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel built from the source tree, the wheel built from the sdist); `python -m build` with no
    target builds the sdist, then the wheel from it."""
    tmp = tmp_path_factory.mktemp("dist")
    source = source_copy(tmp)
    run([sys.executable, "-m", "build", "--wheel", "--outdir", tmp / "direct", source], tmp, clean_env())
    run([sys.executable, "-m", "build", "--outdir", tmp / "via-sdist", source], tmp, clean_env())
    return next((tmp / "direct").glob("*.whl")), next((tmp / "via-sdist").glob("*.whl"))


def test_the_wheel_holds_every_package_and_the_license(artefacts):
    wheel, _ = artefacts
    names = set(contents(wheel))
    info = f"flexgit-{__version__}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    assert {f"flexgit/{package}/__init__.py" for package in PACKAGES} <= names
    in_tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "flexgit").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert in_tree <= names  # every file the package has at run time, .py or not
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"{info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata and f"Version: {__version__}" in metadata


def test_the_sdist_builds_the_same_wheel(artefacts):
    direct, via_sdist = artefacts
    assert direct.name == via_sdist.name
    assert contents(direct) == contents(via_sdist)


def test_the_wheel_runs_the_quick_start_in_a_fresh_environment(artefacts, tmp_path):
    """A venv outside the repository, without the system's site-packages: the wheel, and its dependencies
    from PyPI (pip's cache makes a rerun fast). Nothing of the repository is on its path (PYTHONPATH is
    dropped, commands run from a temporary folder), so `import flexgit` is the installed wheel's."""
    wheel, _ = artefacts
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path)
    env = clean_env()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, wheel], tmp_path, env)
    where = run([venv / "bin" / "python", "-c", "import flexgit; print(flexgit.__file__)"], tmp_path, env)
    assert Path(where.strip()).is_relative_to(venv) and not Path(where.strip()).is_relative_to(ROOT)

    started = time.perf_counter()
    project = quick_start(tmp_path / "project", venv / "bin" / "flexgit", env)
    print(f"quick start in the fresh environment: {time.perf_counter() - started:.1f} s, "
          f"wheel {wheel.stat().st_size / 1024:.0f} KiB")
    assert (project.parent / "base-code" / "train.py").read_text() == "print('training')\n"


def quick_start(project: Path, flexgit: Path, env: dict) -> Path:
    """README's quick start with the installed `flexgit` command: record, table, show, checkout --worktree,
    hook install and a commit the hook records, --version."""
    make_repo(project)
    (project / "params.toml").write_text("lr = 0.1\n")
    (project / "metrics.json").write_text('{"acc": 0.9}\n')

    def flexgit_says(*args: str) -> str:
        return run([flexgit, *args], project, env)

    assert "recorded base" in flexgit_says("record", "-n", "base", "-c", "params.toml", "-r", "metrics.json")
    assert "base" in flexgit_says("table") and "0.9" in flexgit_says("table")
    assert "lr" in flexgit_says("show", "base")
    flexgit_says("checkout", "base", "--worktree", "../base-code")
    (project / ".flexgit.toml").write_text('config = ["params.toml"]\nresults = ["metrics.json"]\n')
    assert "installed" in flexgit_says("hook", "install")
    (project / "metrics.json").write_text('{"acc": 0.95}\n')
    git(project, "add", ".")
    run(["git", "commit", "-q", "-m", "better"], project, env)
    table = flexgit_says("table", "--format", "csv", "--columns", "name,acc")
    assert any(line.startswith("commit-") and line.endswith(",0.95") for line in table.splitlines()), table
    assert flexgit_says("--version").strip() == f"flexgit, version {__version__}"
    return project
