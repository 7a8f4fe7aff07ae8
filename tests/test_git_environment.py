"""flexgit reads the config git reads (GIT_CONFIG_GLOBAL, XDG_CONFIG_HOME, ...) and stores files as `git add` does."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

import flexgit
from conftest import flexgit as cli, flexgit_in_process, git


def without_local_identity(repo):
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    return repo


def test_identity_comes_from_the_config_file_git_is_told_to_read(repo, tmp_path, monkeypatch):
    without_local_identity(repo)
    config = tmp_path / "ci-gitconfig"  # any name, as GIT_CONFIG_GLOBAL allows
    config.write_text("[user]\n\tname = CI User\n\temail = ci@example.com\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    assert git(repo, "var", "GIT_AUTHOR_IDENT").startswith("CI User <ci@example.com>")
    assert cli(repo, "record", "--name", "from-cli").code == 0
    flexgit.record(name="in-process", repo=repo)
    for name in ("from-cli", "in-process"):
        assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", f"exp/{name}").strip() == \
            "CI User <ci@example.com>|CI User <ci@example.com>"
        meta = flexgit.show(name, repo=repo).run.meta
        assert (meta["user"], meta["email"]) == ("CI User", "ci@example.com")


def test_identity_comes_from_the_xdg_config_when_no_global_file_is_named(repo, tmp_path, monkeypatch):
    without_local_identity(repo)
    (tmp_path / "xdg" / "git").mkdir(parents=True)
    (tmp_path / "xdg" / "git" / "config").write_text("[user]\n\tname = XDG User\n\temail = xdg@example.com\n")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL")
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert git(repo, "var", "GIT_AUTHOR_IDENT").startswith("XDG User <xdg@example.com>")
    assert flexgit.record(name="xdg", repo=repo).meta["user"] == "XDG User"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give the repository "
                    "to another user")
def test_a_safe_directory_that_lets_git_in_lets_flexgit_in(repo, tmp_path, monkeypatch):
    flexgit.record(name="r", repo=repo)
    for root, folders, files in os.walk(repo):
        for name in [root, *(os.path.join(root, f) for f in folders + files)]:
            os.chown(name, 65534, 65534, follow_symlinks=False)  # nobody's: git calls it dubious ownership
    config = tmp_path / "trusting-gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    assert git(repo, "status", check=False) == ""
    refused = flexgit_in_process(repo, "table")
    assert refused.code == 1 and len(refused.err.splitlines()) == 1
    assert "not owned by current user" in refused.err and "safe.directory" in refused.err
    config.write_text(f"[safe]\n\tdirectory = {repo}\n")
    assert "On branch main" in git(repo, "status")
    result = flexgit_in_process(repo, "table")
    assert result.code == 0 and result.out.splitlines()[1].startswith("r "), result


def test_a_changed_file_with_a_clean_filter_is_stored_as_git_add_stores_it(repo):
    git(repo, "config", "filter.upper.clean", "tr a-z A-Z")
    (repo / ".gitattributes").write_text("*.txt filter=upper\n")
    (repo / "notes.txt").write_text("hello\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "filtered notes")
    assert git(repo, "show", "HEAD:notes.txt") == "HELLO\n"
    (repo / "notes.txt").write_text("changed since\n")
    (repo / "run.txt").write_text("fresh and executable\n")
    (repo / "run.txt").chmod((repo / "run.txt").stat().st_mode | stat.S_IXUSR)
    (repo / "plain.py").write_text("print('no filter here')\n")
    run = flexgit.record(name="filtered", repo=repo)
    for path, stored in (("notes.txt", "CHANGED SINCE\n"), ("run.txt", "FRESH AND EXECUTABLE\n"),
                         ("plain.py", "print('no filter here')\n")):
        assert git(repo, "show", f"{run.id}:{path}") == stored
        assert git(repo, "rev-parse", f"{run.id}:{path}").strip() == git(repo, "hash-object", path).strip()
    assert git(repo, "ls-tree", run.id, "run.txt").startswith("100755 blob ")
    assert git(repo, "status", "--porcelain") == " M notes.txt\n?? plain.py\n?? run.txt\n"


def test_a_clean_filter_that_fails_is_one_error_and_nothing_written(repo):
    git(repo, "config", "filter.broken.clean", "false")
    git(repo, "config", "filter.broken.required", "true")
    (repo / ".gitattributes").write_text("*.dat filter=broken\n")
    (repo / "x.dat").write_text("data\n")
    refs = git(repo, "for-each-ref")
    result = flexgit_in_process(repo, "record", "--name", "nope")
    assert result.code == 1 and len(result.err.splitlines()) == 1, result
    assert result.err.startswith("Error: the clean filter of x.dat failed (git hash-object: ")
    assert git(repo, "for-each-ref") == refs


@pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs is not installed here: the clean filter "
                    "test above covers the same path with a filter of its own")
def test_a_git_lfs_file_changed_since_the_last_commit_is_stored_as_its_pointer(repo):
    git(repo, "lfs", "install", "--local")
    git(repo, "lfs", "track", "*.bin")
    (repo / "model.bin").write_bytes(b"\x00weights v1" * 100)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "model in lfs")
    (repo / "model.bin").write_bytes(b"\x00weights v2" * 100)
    run = flexgit.record(name="lfs", repo=repo)
    stored = git(repo, "show", f"{run.id}:model.bin")
    assert stored.startswith("version https://git-lfs.github.com/spec/v1\n") and "size 1100\n" in stored
    assert git(repo, "rev-parse", f"{run.id}:model.bin").strip() == git(repo, "hash-object", "model.bin").strip()
