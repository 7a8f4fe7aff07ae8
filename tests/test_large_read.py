"""A cold table of many runs reads their notes through one `git cat-file --batch` (or libgit2 without
git): the same rows either way, and the same as what was imported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import flexgit as cli, git
from flexgit.storage.gitrepo import CAT_FILE_FROM
from flexgit.storage.store import RUN_CACHE

ROWS = CAT_FILE_FROM + 100
MANY = CAT_FILE_FROM * 2  # enough that a few subtrees of its notes tree tell it is large


def test_many_notes_read_by_git_and_without_it_give_the_imported_rows(repo, tmp_path):
    csv = tmp_path / "runs.csv"
    csv.write_text("name,lr,acc\n" + "".join(f"r{i},{i / ROWS!r},{i % 7}\n" for i in range(ROWS)))
    assert cli(repo, "import", str(csv), "--metrics", "acc").code == 0
    query = ("table", "--format", "csv", "--columns", "name,lr,acc")
    by_git = cli(repo, *query)
    assert by_git.code == 0, by_git
    lines = by_git.out.splitlines()
    assert lines[0] == "name,params.lr,metrics.acc" and len(lines) == ROWS + 1
    assert sorted(lines[1:]) == sorted(f"r{i},{i / ROWS!r},{i % 7}" for i in range(ROWS))
    shutil.rmtree(repo / ".git" / "flexgit.d")
    without_git = cli(repo, *query, env={"PATH": str(tmp_path / "no-git-here")})
    assert without_git.code == 0, without_git
    assert without_git.out == by_git.out


def imported(repo, tmp_path, rows=MANY):
    csv = tmp_path / "runs.csv"
    csv.write_text("name,lr,acc\n" + "".join(f"r{i},{i / rows!r},{i % 7}\n" for i in range(rows)))
    assert cli(repo, "import", str(csv), "--metrics", "acc").code == 0
    return repo


def test_git_lists_and_reads_a_notes_tree_as_this_process_walks_it(repo, tmp_path):
    from flexgit.storage.gitrepo import GitRepo

    git_repo = GitRepo.open(imported(repo, tmp_path))
    tree = git_repo.commit(git_repo.ref_target("refs/notes/flexgit"))[0]
    walked = {path: content for (path, blob), content in zip(
        list(git_repo.walk_blobs(tree)), git_repo.read_blobs([b for _, b in git_repo.walk_blobs(tree)]), strict=True)}
    assert dict(git_repo.tree_contents(tree)) == walked and len(walked) == MANY
    assert git_repo.blobs_below(tree) >= CAT_FILE_FROM  # so a cold table reads it this way


def test_a_notes_tree_git_cannot_list_plainly_is_walked_here_with_the_same_rows(repo, tmp_path, monkeypatch):
    """A gitlink among the notes (the join never writes one; a hand-made tree may), a path git quotes, and a
    git whose ls-tree has no --format (older than 2.36): each read falls back to this process's walk."""
    from flexgit.storage.gitrepo import GitRepo

    imported(repo, tmp_path)
    expected = cli(repo, "table", "--format", "csv").out
    notes = git(repo, "rev-parse", "refs/notes/flexgit").strip()
    tree = git(repo, "rev-parse", "refs/notes/flexgit^{tree}").strip()
    listing = git(repo, "ls-tree", tree)
    junk = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input="not a row\n", text=True,
                          capture_output=True, check=True).stdout.strip()
    for extra in (f"160000 commit {'1' * 40}\tzz", f"100644 blob {junk}\tz\u00e9"):
        new_tree = subprocess.run(["git", "mktree"], cwd=repo, input=listing + extra + "\n", text=True,
                                  capture_output=True, check=True).stdout.strip()
        commit = git(repo, "commit-tree", new_tree, "-p", notes, "-m", "hand-made").strip()
        git(repo, "update-ref", "refs/notes/flexgit", commit)
        with pytest.raises(LookupError):  # git's listing is refused, so the table's read falls back
            list(GitRepo.open(repo).tree_contents(new_tree))
        shutil.rmtree(repo / ".git" / "flexgit.d", ignore_errors=True)
        result = cli(repo, "table", "--format", "csv")
        assert result.code == 0 and result.out == expected, (extra, result.err)
        git(repo, "update-ref", "refs/notes/flexgit", notes)
    fake = tmp_path / "old-git"
    fake.mkdir()
    real = shutil.which("git")
    (fake / "git").write_text(f'#!/bin/sh\nfor a in "$@"; do case "$a" in --format=*) if [ "$3" = ls-tree ]; then '
                              f'echo "error: unknown option" >&2; exit 129; fi;; esac; done\nexec {real} "$@"\n')
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    with pytest.raises(LookupError):
        list(GitRepo.open(repo).tree_contents(tree))
    shutil.rmtree(repo / ".git" / "flexgit.d", ignore_errors=True)
    result = cli(repo, "table", "--format", "csv")
    assert result.code == 0 and result.out == expected, result.err


def test_the_table_command_ends_its_process_once_written_with_its_cache_in_place(repo, tmp_path):
    """The CLI run as a program ends without Python's teardown: the cache its child process wrote is
    whole when it exits, a reader that goes away early is no error, and a second call is served warm."""
    imported(repo, tmp_path, rows=300)
    program = ("import sys\nfrom flexgit.storage import runcache\nruncache.WRITE_ASIDE_FROM = 1\n"
               "from flexgit.cli import main\nsys.argv[0] = 'flexgit'\nmain()\n")
    done = subprocess.run([sys.executable, "-c", program, "table", "--format", "csv"], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "" and len(done.stdout.splitlines()) == 301, done
    from flexgit.storage import runcache

    cache = repo / ".git" / "flexgit.d" / RUN_CACHE
    tree = git(repo, "rev-parse", "refs/notes/flexgit^{tree}").strip()
    loaded = runcache.load(cache)
    assert loaded is not None and loaded[0] == tree and len(loaded[1]) == 300
    assert not [p for p in cache.parent.iterdir() if p.name.endswith(".tmp")]
    shutil.rmtree(repo / ".git" / "flexgit.d")
    reader = subprocess.Popen([sys.executable, "-c", program, "table", "--format", "csv"], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout.readline().startswith(b"name,")
    reader.stdout.close()  # as `| head -1` does
    assert reader.wait(timeout=120) == 0 and b"Exception" not in reader.stderr.read()
    reader.stderr.close()


def test_a_reader_that_stops_early_leaves_no_git_and_no_thread_behind(repo, tmp_path):
    """git runs ahead of the reader by a bounded amount; a reader that stops after the first answer
    still ends git and the threads feeding and draining it."""
    imported(repo, tmp_path)
    program = ("import sys, threading\nfrom flexgit.storage.gitrepo import GitRepo\n"
               "g = GitRepo.open('.')\ntree = g.commit(g.ref_target('refs/notes/flexgit'))[0]\n"
               "blobs = [b for _, b in g.walk_blobs(tree)] * 20\n"  # far more than git may hold ahead
               "for _ in range(3):\n    answers = g.cat_blobs(blobs)\n    next(answers)\n    answers.close()\n"
               "print(threading.active_count())\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "1", done
