"""The derived caches of `table`: never stale, never needed, rebuilt from git at will."""

from __future__ import annotations

import shutil

import flexgit
from conftest import flexgit as cli, git

CSV = ["table", "--format", "csv", "--columns", "name,acc"]


def record(repo, name, acc):
    return flexgit.record(name=name, metrics={"acc": acc}, repo=repo)


def test_second_call_is_served_the_same_and_a_new_run_shows_up(repo):
    record(repo, "a", 1)
    first = cli(repo, *CSV)
    assert first.out == cli(repo, *CSV).out == "name,metrics.acc\na,1\n"
    assert list((repo / ".git" / "flexgit.d").glob("runs-v1.*"))
    record(repo, "b", 2)
    assert cli(repo, *CSV).out == "name,metrics.acc\na,1\nb,2\n"


def test_a_tip_moved_by_plain_git_is_seen(repo):
    record(repo, "a", 1)
    old_notes = git(repo, "rev-parse", "refs/notes/flexgit").strip()
    record(repo, "b", 2)
    assert cli(repo, *CSV).out.endswith("b,2\n")
    git(repo, "update-ref", "refs/notes/flexgit", old_notes)  # as a fetch or another tool might
    assert cli(repo, *CSV).out == "name,metrics.acc\na,1\n"


def test_notes_changed_by_git_notes_are_read_again(repo):
    run = record(repo, "a", 1)
    cli(repo, *CSV)
    later = '{"v":1,"t":"2999-01-01T00:00:00.000000Z","metrics":{"acc":5}}'
    git(repo, "notes", "--ref=flexgit", "append", "-m", later, run.id)
    assert cli(repo, *CSV).out == "name,metrics.acc\na,5\n"
    git(repo, "notes", "--ref=flexgit", "add", "-m", "a note that is not a run", "HEAD")
    assert cli(repo, *CSV).out == "name,metrics.acc\na,5\n"
    record(repo, "b", 2)  # flexgit writes again on top of the tree git rewrote
    assert cli(repo, *CSV).out == "name,metrics.acc\na,5\nb,2\n"
    assert flexgit.show("a", repo=repo).run.metrics == {"acc": 5}


def test_corrupt_or_missing_caches_are_rebuilt(repo):
    record(repo, "a", 1)
    cli(repo, *CSV)
    cache = repo / ".git" / "flexgit.d"
    next(cache.glob("runs-v1.*")).write_text("{not marshal")
    for text in (cache / "tables").iterdir():
        text.write_text("garbage\n")
    assert cli(repo, *CSV).out == "name,metrics.acc\na,1\n"
    shutil.rmtree(cache)
    assert cli(repo, *CSV).out == "name,metrics.acc\na,1\n"


def test_cache_from_a_tree_that_no_longer_exists_is_not_trusted(repo):
    record(repo, "a", 1)
    cli(repo, *CSV)
    cache = next((repo / ".git" / "flexgit.d").glob("runs-v1.*"))
    tree = git(repo, "rev-parse", "refs/notes/flexgit^{tree}").strip()
    cache.write_bytes(cache.read_bytes().replace(tree.encode(), b"0" * 40))
    shutil.rmtree(repo / ".git" / "flexgit.d" / "tables")
    assert cli(repo, *CSV).out == "name,metrics.acc\na,1\n"


def test_read_only_cache_directory_still_gives_the_table(repo):
    record(repo, "a", 1)
    cache = repo / ".git" / "flexgit.d"
    cache.mkdir(exist_ok=True)
    cache.chmod(0o500)
    try:
        assert cli(repo, *CSV).out == "name,metrics.acc\na,1\n"
    finally:
        cache.chmod(0o700)


def test_text_cached_by_an_older_build_of_the_same_version_is_not_served(repo):
    from dataclasses import asdict

    from flexgit._version import __version__
    from flexgit.storage import textcache
    from flexgit.view.query import TableQuery

    flexgit.record(name="a", metrics={"loss": float("nan")}, repo=repo)
    query = TableQuery(columns=("name", "loss"))
    notes, branch = (git(repo, "rev-parse", ref).strip() for ref in ("refs/notes/flexgit", "experiments"))
    tips = f"{notes} {branch} None"
    old_key = [__version__, "json", 0, "refs/heads/experiments", asdict(query)]  # the key before TEXT_REVISION
    textcache.put(repo / ".git" / "flexgit.d", old_key, tips, '[{"name": "a", "metrics.loss": NaN}]\n')
    assert textcache.get(repo / ".git" / "flexgit.d", old_key, tips) is not None
    result = cli(repo, "table", "--format", "json", "--columns", "name,loss")
    assert result.out == '[\n  {\n    "name": "a",\n    "metrics.loss": null\n  }\n]\n'
