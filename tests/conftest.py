"""Real git repositories in temporary directories, isolated from the developer's git config."""

from __future__ import annotations

import pty

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import ConfigLevel

FIXED_DATE = "2026-01-02T03:04:05+00:00"


@pytest.fixture(autouse=True, scope="session")
def isolated_git_config(tmp_path_factory):
    """Blank global and system git config for git, libgit2 and every subprocess."""
    home = tmp_path_factory.mktemp("home")
    saved = dict(os.environ)
    os.environ.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "GIT_TERMINAL_PROMPT": "0", "COLUMNS": "80",
    })
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_DIR",
                "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        os.environ.pop(var, None)
    for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
        pygit2.settings.search_path[level] = str(home)
    yield home
    os.environ.clear()
    os.environ.update(saved)


def git(cwd: Path, *args: str, check: bool = True, env: dict | None = None) -> str:
    """Run the git command in `cwd`, with fixed dates so hashes are stable; return stdout."""
    full_env = {**os.environ, "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE, **(env or {})}
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=full_env)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def make_repo(path: Path, commit: bool = True) -> Path:
    """A repository with a fixed identity and, by default, one commit of train.py and .gitignore."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    if commit:
        (path / "train.py").write_text("print('training')\n")
        (path / ".gitignore").write_text("*.log\ndata/\n")
        git(path, "add", ".")
        git(path, "commit", "-q", "-m", "initial")
    return path


def shared_clones(tmp_path: Path, count: int = 2) -> tuple[Path, list[Path]]:
    """A bare remote and `count` clones of it, each with its own identity (machines sharing runs)."""
    origin = make_repo(tmp_path / "origin-work")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(remote))
    paths = []
    for i in range(count):
        path = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "-q", str(remote), str(path))
        git(path, "config", "user.name", f"Machine {i}")
        git(path, "config", "user.email", f"m{i}@example.com")
        paths.append(path)
    return remote, paths


def colleague_run(tmp_path: Path, name: str = "theirs") -> tuple[Path, str]:
    """A clone that pulled run `name`, recorded by a colleague on a commit of branch 'feat' they never
    pushed: the run is here, its source commit is not. Returns (this clone, that source commit)."""
    _, (mine, theirs) = shared_clones(tmp_path)
    git(theirs, "switch", "-q", "-c", "feat")
    (theirs / "train.py").write_text("print('their version')\n")
    git(theirs, "commit", "-qam", "their unpushed work")
    (theirs / "notes.txt").write_text("uncommitted\n")
    for args in (("record", "--name", name, "-m", "acc=0.5"), ("push",)):
        done = flexgit(theirs, *args)
        assert done.code == 0, done
    assert flexgit(mine, "pull").code == 0
    return mine, git(theirs, "rev-parse", "feat").strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_repo(tmp_path / "project")


class Result:
    def __init__(self, done: subprocess.CompletedProcess):
        self.code, self.out, self.err = done.returncode, done.stdout, done.stderr

    def __repr__(self):
        return f"<exit {self.code}\nstdout: {self.out}\nstderr: {self.err}>"


def flexgit(cwd: Path, *args: str, env: dict | None = None, stdin: str | None = None) -> Result:
    """Run the flexgit CLI as a real subprocess."""
    done = subprocess.run([sys.executable, "-m", "flexgit", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=stdin)
    return Result(done)


def flexgit_in_process(cwd: Path, *args: str, env: dict | None = None, stdin: str | None = None) -> Result:
    """Run the flexgit CLI in this process (click's runner), from `cwd`: the same output and exit
    codes as a real subprocess, without the interpreter's start-up."""
    from click.testing import CliRunner

    from flexgit.cli import cli

    with contextlib.chdir(cwd):
        outcome = CliRunner().invoke(cli, list(args), input=stdin, env=env, prog_name="flexgit")
    done = subprocess.CompletedProcess(args, outcome.exit_code, outcome.stdout, outcome.stderr)
    return Result(done)


def repo_state(path: Path) -> dict:
    """What must not change when flexgit refuses or only reads: refs, HEAD, index, status, objects."""
    git_dir = Path(git(path, "rev-parse", "--absolute-git-dir").strip())
    bare = git(path, "rev-parse", "--is-bare-repository").strip() == "true"
    index = git_dir / "index"
    return {
        "refs": git(path, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": (git_dir / "HEAD").read_text(),
        "index": index.read_bytes() if index.exists() else None,
        "status": "" if bare else git(path, "status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "objects": git(path, "count-objects", "-v"),
    }


def pulled_run(tmp_path, outputs: list[tuple[str, str, bytes | str, str]], files: dict[str, bytes] | None = None):
    """A clone that pulled run 'hostile', whose `.flexgit/outputs/` a collaborator built with plain git:
    `outputs` as (mode, type, content or object id, name) entries; `files`: more blobs inside `.flexgit/`."""
    from flexgit._context import open_store
    from flexgit.storage.refs import BranchRef
    from flexgit.storage.run import Run

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    attacker = make_repo(tmp_path / "attacker")
    git(attacker, "remote", "add", "origin", str(remote))
    git(attacker, "push", "-q", "origin", "main")

    def plumbing(*args: str, data: bytes) -> str:
        return subprocess.run(["git", *args], cwd=attacker, input=data, capture_output=True, check=True
                              ).stdout.decode().strip()

    entries = b""
    for mode, kind, content, name in outputs:
        oid = plumbing("hash-object", "-w", "--stdin", data=content) if isinstance(content, bytes) else content
        entries += f"{mode} {kind} {oid}\t".encode() + name.encode() + b"\0"
    extra = {"outputs": plumbing("mktree", "-z", "--missing", data=entries)}
    for path, content in (files or {}).items():
        extra[path] = plumbing("hash-object", "-w", "--stdin", data=content)
    store = open_store(attacker)
    code = git(attacker, "rev-parse", "HEAD^{tree}").strip()
    store.write([Run(name="hostile", date="2026-01-02T03:04:05Z", time="2026-01-02T03:04:05.000000+00:00")],
                [code], BranchRef.parse("experiments"), [extra])
    assert flexgit(attacker, "push").code == 0
    victim = tmp_path / "victim"
    git(tmp_path, "clone", "-q", str(remote), str(victim))
    assert flexgit(victim, "pull").code == 0
    return victim


def on_a_terminal(cwd, *args: str, stream: str = "stdout", code: int = 0, env: dict | None = None) -> str:
    """What flexgit writes to `stream` ("stdout" or "stderr") when that is a terminal (where colour is
    automatic; no pager is asked for); the other stream is captured. Its exit code must be `code`."""
    leader, follower = pty.openpty()
    try:
        streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, stream: follower}
        done = subprocess.run([sys.executable, "-m", "flexgit", *args], cwd=cwd, **streams,
                              env={**os.environ, "FLEXGIT_PAGER": "", **(env or {})}, timeout=60)
        os.close(follower)
        follower = -1
        assert done.returncode == code, (done.stdout, done.stderr)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
