"""A cold table of many runs reads their notes through one `git cat-file --batch` (or libgit2 without
git): the same rows either way, and the same as what was imported."""

from __future__ import annotations

import shutil

from conftest import flexgit as cli
from flexgit.storage.gitrepo import CAT_FILE_FROM

ROWS = CAT_FILE_FROM + 100


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
