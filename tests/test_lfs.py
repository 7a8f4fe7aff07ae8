"""Large outputs through real git-lfs, behind a local file remote: stored as git-lfs stores them, pushed,
pulled and fetched by the `git lfs` command; failures that leave the run recorded and say what to do."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

import flexgit
from conftest import flexgit as cli
from conftest import git, make_repo, shared_clones

pytestmark = pytest.mark.skipif(shutil.which("git-lfs") is None,
                                reason="git-lfs is not installed here (make system-deps installs it)")

MB = 1024 * 1024


def objects_size(repo: Path) -> int:
    """Bytes of git's object database (loose and packed), git-lfs's store aside."""
    git_dir = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    git_dir = git_dir if git_dir.is_absolute() else repo / git_dir
    return sum(f.stat().st_size for f in (git_dir / "objects").rglob("*") if f.is_file())


def big_file(path: Path, size: int) -> str:
    """A file of `size` random bytes; its sha256."""
    path.write_bytes(os.urandom(size))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_50mb_model_goes_to_git_lfs_and_comes_back_byte_identical_in_a_fresh_clone(tmp_path):
    remote, (mine,) = shared_clones(tmp_path, count=1)
    oid = big_file(mine / "model.pkl", 50 * MB)
    before = objects_size(mine)
    done = cli(mine, "record", "--name", "big", "--output", "model.pkl", "-m", "acc=0.9")
    assert done.code == 0, done
    assert "warning" not in done.err
    assert objects_size(mine) - before < MB  # the branch holds a pointer, not the model
    pointer = git(mine, "show", "exp/big:.flexgit/outputs/model.pkl")
    assert pointer == f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {50 * MB}\n"
    stored = mine / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == oid
    assert git(mine, "lfs", "ls-files", "-l", "exp/big") == f"{oid} - .flexgit/outputs/model.pkl\n"
    assert "model.pkl" not in git(mine, "ls-tree", "--name-only", "exp/big")  # not in the code snapshot
    shown = cli(mine, "show", "big")
    assert "outputs:\n  model.pkl  50.0 MiB  (git-lfs)\n" in shown.out

    remote_before = objects_size(remote)
    pushed = cli(mine, "push")
    assert pushed.code == 0, pushed
    assert "1 large files through git-lfs" in pushed.out
    assert objects_size(remote) - remote_before < MB
    assert (remote / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).stat().st_size == 50 * MB

    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(remote), str(fresh))
    assert cli(fresh, "pull").code == 0
    assert not (fresh / ".git" / "lfs" / "objects").exists()  # a pull moves pointers only
    got = cli(fresh, "get", "big", "model.pkl", "-o", str(tmp_path / "back.pkl"))
    assert got.code == 0, got
    assert hashlib.sha256((tmp_path / "back.pkl").read_bytes()).hexdigest() == oid
    assert git(fresh, "lfs", "ls-files", "exp/big").startswith(oid[:10])


def test_a_file_below_the_threshold_is_a_plain_blob_and_the_threshold_is_a_setting(repo):
    (repo / ".flexgit.toml").write_text('lfs_threshold = "10KB"\n')
    (repo / "small.bin").write_bytes(b"s" * (10 * 1024 - 1))
    (repo / "edge.bin").write_bytes(b"e" * (10 * 1024))  # at the threshold: git-lfs
    flexgit.record(name="t", outputs=[repo / "small.bin", repo / "edge.bin"], repo=repo)
    assert git(repo, "show", "exp/t:.flexgit/outputs/small.bin") == "s" * (10 * 1024 - 1)
    assert git(repo, "show", "exp/t:.flexgit/outputs/edge.bin").startswith("version https://git-lfs")
    (repo / ".flexgit.toml").write_text('lfs_threshold = "none"\n')
    flexgit.record(name="never", outputs=[repo / "edge.bin"], repo=repo)
    assert git(repo, "show", "exp/never:.flexgit/outputs/edge.bin") == "e" * (10 * 1024)


def test_a_failed_lfs_upload_leaves_the_run_recorded_pushes_nothing_and_can_be_retried(tmp_path):
    remote, (mine,) = shared_clones(tmp_path, count=1)
    big_file(mine / "model.pkl", 2 * MB)
    assert cli(mine, "record", "--name", "r", "--output", "model.pkl").code == 0
    (remote / "lfs").mkdir()
    (remote / "lfs" / "objects").write_text("in the way\n")  # git-lfs cannot store anything there
    failed = cli(mine, "push")
    assert failed.code == 1
    assert failed.err.startswith("Error: cannot upload the runs' large files to 'origin' (git lfs push: ")
    assert "nothing was pushed" in failed.err and len(failed.err.strip().splitlines()) == 1
    assert git(remote, "for-each-ref", "refs/flexgit") == ""  # no run arrived without its content
    assert [run.name for run in flexgit.list_runs(repo=mine)] == ["r"]
    (remote / "lfs" / "objects").unlink()
    again = cli(mine, "push")
    assert again.code == 0, again
    assert git(remote, "for-each-ref", "--format=%(refname)", "refs/flexgit") == "refs/flexgit/heads/experiments\n"


def test_a_missing_lfs_object_on_get_names_the_remote_to_pull_from(tmp_path):
    remote, (mine, theirs) = shared_clones(tmp_path)
    big_file(mine / "model.pkl", 2 * MB)
    assert cli(mine, "record", "--name", "r", "--output", "model.pkl").code == 0
    assert cli(mine, "push").code == 0
    assert cli(theirs, "pull").code == 0
    shutil.rmtree(remote / "lfs")  # the host lost it
    got = cli(theirs, "get", "r", "model.pkl")
    assert got.code == 1
    assert "is not in this clone and could not be fetched (origin: " in got.err
    assert "'flexgit pull origin'" in got.err and len(got.err.strip().splitlines()) == 1
    assert not (theirs / "model.pkl").exists()

    loner = make_repo(tmp_path / "loner")
    git(loner, "fetch", "-q", str(remote), "refs/flexgit/heads/experiments:refs/heads/experiments",
        "refs/notes/flexgit:refs/notes/flexgit")
    git(loner, "update-ref", "refs/exp/r", "experiments")
    alone = cli(loner, "get", "r", "model.pkl")
    assert alone.code == 1
    assert "no remote here is known to have the run" in alone.err and "git remote add origin" in alone.err


def test_checkout_in_a_fresh_clone_fetches_the_large_outputs_it_writes(tmp_path):
    remote, (mine, theirs) = shared_clones(tmp_path)
    (mine / ".gitignore").write_text("*.pkl\n")
    git(mine, "commit", "-qam", "ignore models")
    oid = big_file(mine / "model.pkl", 2 * MB)
    assert cli(mine, "record", "--name", "r", "--output", "model.pkl").code == 0
    assert cli(mine, "push").code == 0
    assert cli(theirs, "pull").code == 0
    done = cli(theirs, "checkout", "r", "--worktree", str(tmp_path / "wt"))
    assert done.code == 0, done
    assert hashlib.sha256((tmp_path / "wt" / "model.pkl").read_bytes()).hexdigest() == oid


def test_without_git_lfs_large_files_are_plain_blobs_with_one_warning_saying_how_to_install_it(repo, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    env = {"PATH": str(bin_dir)}
    (repo / "a.bin").write_bytes(os.urandom(2 * MB))
    (repo / "b.bin").write_bytes(os.urandom(2 * MB))
    done = cli(repo, "record", "--name", "plain", "--output", "a.bin", "--output", "b.bin", env=env)
    assert done.code == 0, done
    warnings = [line for line in done.err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: git-lfs is not installed, so 2 large files (a.bin, b.bin) were kept as plain git "
                        "blobs, which every clone of the runs carries; install git-lfs (Debian/Ubuntu: apt install "
                        "git-lfs; macOS: brew install git-lfs; others: https://git-lfs.com)"]
    assert git(repo, "cat-file", "-s", "exp/plain:.flexgit/outputs/a.bin") == f"{2 * MB}\n"
    assert flexgit.show("plain", repo=repo).run.meta["not_in_lfs"] == ["a.bin", "b.bin"]
    back = cli(repo, "get", "plain", "a.bin", "-o", str(tmp_path / "a.bin"), env=env)
    assert back.code == 0 and (tmp_path / "a.bin").read_bytes() == (repo / "a.bin").read_bytes()


def test_a_damaged_object_in_the_local_store_is_never_served_and_a_new_record_repairs_it(repo):
    from flexgit.errors import FlexgitError

    (repo / ".flexgit.toml").write_text('lfs_threshold = "10KB"\n')
    content = os.urandom(20 * 1024)
    (repo / "model.bin").write_bytes(content)
    flexgit.record(name="first", artifacts={"model": repo / "model.bin"}, repo=repo)
    (stored,) = [p for p in (repo / ".git" / "lfs" / "objects").rglob("*") if p.is_file()]
    stored.write_bytes(b"\0" * len(content))  # same size, other bytes: a disk's damage, a partial copy
    with pytest.raises(FlexgitError, match="is corrupt in this clone"):
        flexgit.artifact("first", "model", repo=repo)
    flexgit.record(name="second", artifacts={"model": repo / "model.bin"}, repo=repo)  # the same content again
    assert flexgit.artifact("second", "model", repo=repo) == content
    assert flexgit.artifact("first", "model", repo=repo) == content
