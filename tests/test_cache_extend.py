"""A CSV table after runs were only added is the cached text with their lines added: always the
text a full read would print, and a full read whenever the change is anything else."""

from __future__ import annotations

import datetime as dt
import shutil

import flexgit
from conftest import flexgit as cli, git, shared_clones
from flexgit.project.files import read_sealed, write_sealed

CSV = ("table", "--format", "csv")
MARK = "marker,line,left,by,the,test\n"


def full_read(repo, *args):
    """The table as a read with no cache at all prints it (a copy of the caches is put back)."""
    caches = repo / ".git" / "flexgit.d"
    saved = repo.parent / "saved-caches"
    shutil.rmtree(saved, ignore_errors=True)
    shutil.copytree(caches, saved)
    shutil.rmtree(caches)
    try:
        done = cli(repo, *args)
    finally:
        shutil.rmtree(caches, ignore_errors=True)
        shutil.copytree(saved, caches)
    assert done.code == 0, done
    return done.out


def mark_cached_text(repo):
    """Add a line to every cached table's text (sealed again): it stays only while the text is extended."""
    for path in (repo / ".git" / "flexgit.d" / "tables").iterdir():
        data = read_sealed(path)
        head, sep, rest = data.partition(b"\n")
        state, sep2, text = rest.partition(b"\n")
        write_sealed(path, head + sep + state + sep2 + text + MARK.encode())


def table(repo, *args):
    done = cli(repo, *CSV, *args)
    assert done.code == 0, done
    return done.out


def test_runs_added_extend_the_text(repo):
    flexgit.record(name="a", params={"lr": 0.1}, metrics={"acc": 0.5}, repo=repo)
    table(repo)
    mark_cached_text(repo)
    flexgit.record(name="b", params={"lr": 0.2}, metrics={"acc": 0.75}, repo=repo)
    flexgit.record(name="c", metrics={"acc": 1.0}, repo=repo)  # a run without a key: an empty cell
    out = table(repo)
    assert out.endswith(MARK + "".join(out.splitlines(keepends=True)[-2:])) and out.count(MARK) == 1
    assert out.replace(MARK, "") == full_read(repo, *CSV)
    assert [line.split(",")[0] for line in out.replace(MARK, "").splitlines()] == ["name", "a", "b", "c"]


def test_chosen_columns_and_the_removed_view_extend_too(repo):
    flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    for args in (("--columns", "name,acc"), ("--removed",)):
        table(repo, *args)
    mark_cached_text(repo)
    flexgit.record(name="b", metrics={"acc": True}, repo=repo)  # a bool: written as the full read writes it
    for args in (("--columns", "name,acc"), ("--removed",)):
        out = table(repo, *args)
        assert MARK in out and out.replace(MARK, "") == full_read(repo, *CSV, *args)
    assert table(repo, "--columns", "name,acc").endswith("b,true\n")


def test_a_new_column_reads_the_table_again(repo):
    flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    table(repo)
    mark_cached_text(repo)
    flexgit.record(name="b", metrics={"acc": 0.5, "loss": 0.25}, repo=repo)
    out = table(repo)
    assert MARK not in out and out == full_read(repo, *CSV) and out.startswith("name,id,date,message,metrics.acc,"
                                                                                "metrics.loss\n")


def test_a_changed_or_removed_note_reads_the_table_again(repo):
    run = flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    flexgit.record(name="b", metrics={"acc": 0.75}, repo=repo)
    table(repo)
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    steps = [
        lambda: git(repo, "notes", "--ref=flexgit", "append", "-m", '{"v":1,"t":"%s","metrics":{"acc":5}}' % soon,
                    run.id),  # another process appends a line
        lambda: cli(repo, "rename", "a", "a2"),
        lambda: cli(repo, "rm", "b"),
        lambda: cli(repo, "rm", "--undo", "b"),
        lambda: git(repo, "notes", "--ref=flexgit", "remove", run.id),
    ]
    for step in steps:
        mark_cached_text(repo)
        step()
        out = table(repo)
        assert MARK not in out and out == full_read(repo, *CSV)
    assert [line.split(",")[0] for line in table(repo).splitlines()] == ["name", "b"]


def test_a_run_older_than_the_newest_shown_reads_the_table_again(tmp_path):
    _, (mine, theirs) = shared_clones(tmp_path)
    flexgit.record(name="older", metrics={"acc": 0.5}, repo=theirs)  # recorded first, elsewhere
    assert cli(theirs, "push").code == 0
    flexgit.record(name="newer", metrics={"acc": 0.75}, repo=mine)
    table(mine)
    mark_cached_text(mine)
    assert cli(mine, "pull").code == 0
    out = table(mine)
    assert MARK not in out and out == full_read(mine, *CSV)
    assert [line.split(",")[0] for line in out.splitlines()] == ["name", "older", "newer"]


def test_a_pulled_run_newer_than_all_extends_the_text(tmp_path):
    _, (mine, theirs) = shared_clones(tmp_path)
    flexgit.record(name="mine", metrics={"acc": 0.5}, repo=mine)
    table(mine)
    mark_cached_text(mine)
    flexgit.record(name="theirs", metrics={"acc": 0.75}, repo=theirs)
    assert cli(theirs, "push").code == 0
    assert cli(mine, "pull").code == 0
    out = table(mine)
    assert MARK in out and out.replace(MARK, "") == full_read(mine, *CSV)


def test_a_run_of_another_branch_adds_no_line(repo):
    flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    table(repo)
    mark_cached_text(repo)
    flexgit.record(name="other", metrics={"acc": 0.75}, branch="side", repo=repo)
    out = table(repo)
    assert MARK in out and out.replace(MARK, "") == full_read(repo, *CSV)
    assert "other" not in out


def test_a_sorted_or_filtered_table_is_never_extended(repo):
    flexgit.record(name="a", metrics={"acc": 0.5}, repo=repo)
    queries = [("--sort-by", "acc"), ("--where", "acc > 0"), ("--limit", "5"), ("--only-changed",)]
    for args in queries:
        table(repo, *args)
    mark_cached_text(repo)
    flexgit.record(name="b", metrics={"acc": 0.25}, repo=repo)
    for args in queries:
        out = table(repo, *args)
        assert MARK not in out and out == full_read(repo, *CSV, *args)
