"""push / pull / sync through a bare remote, between real clones."""

from __future__ import annotations

import subprocess
import sys

import pytest

import flexgit
from conftest import flexgit as cli, git, repo_state, shared_clones as clones


def names(repo):
    return sorted(run.name for run in flexgit.list_runs(repo=repo))


def test_runs_travel_through_a_remote(tmp_path):
    remote, (a, b) = clones(tmp_path)
    flexgit.record(name="a1", metrics={"acc": 0.5}, repo=a)
    assert cli(a, "push").out == "pushed to origin\n"
    result = cli(b, "pull")
    assert result.out == "pulled from origin: 1 new run\n", result
    assert names(b) == ["a1"] and flexgit.show("a1", repo=b).run.metrics == {"acc": 0.5}
    # the remote holds the branch and the notes only: names travel in the notes
    assert set(git(remote, "for-each-ref", "--format=%(refname)").split()) == {
        "refs/heads/main", "refs/flexgit/heads/experiments", "refs/notes/flexgit"}
    assert git(b, "rev-parse", "exp/a1") == git(a, "rev-parse", "exp/a1")


def test_diverged_histories_are_joined_and_nothing_is_lost(tmp_path):
    remote, (a, b) = clones(tmp_path)
    flexgit.record(name="a1", repo=a)
    flexgit.record(name="b1", repo=b)
    flexgit.record(name="b2", repo=b)
    assert cli(a, "push").code == 0
    result = cli(b, "sync")
    assert result.code == 0, result
    assert result.out == "pulled from origin: 1 new run, joined with a merge commit\npushed to origin\n"
    assert cli(a, "pull").out == "pulled from origin: 2 new runs\n"
    assert cli(a, "pull").out == "pulled from origin: 0 new runs\n"
    assert names(a) == names(b) == ["a1", "b1", "b2"]
    assert "Flexgit-Kind: merge" in git(b, "log", "-1", "--format=%B", "experiments")
    assert git(a, "rev-parse", "experiments") == git(b, "rev-parse", "experiments")
    for repo in (a, b, remote):
        assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""
    flexgit.record(name="after", repo=b)  # recording goes on on top of the merge
    assert names(b)[-1] == "b2" and "after" in names(b)


def test_values_appended_on_two_machines_both_survive(tmp_path):
    remote, (a, b) = clones(tmp_path)
    flexgit.record(name="shared", metrics={"acc": 0.5}, repo=a)
    cli(a, "push")
    cli(b, "pull")
    flexgit.update("shared", metrics={"test_acc": 0.7}, repo=a)
    flexgit.update("shared", metrics={"test_acc": 0.9, "f1": 0.3}, repo=b)  # written later: newest
    assert cli(a, "sync").code == 0 and cli(b, "sync").code == 0 and cli(a, "pull").code == 0
    for repo in (a, b):
        run = flexgit.show("shared", repo=repo).run
        assert run.metrics == {"acc": 0.5, "test_acc": 0.9, "f1": 0.3}
        note = git(repo, "notes", "--ref=flexgit", "show", "exp/shared")
        assert '"test_acc":0.7' in note and '"test_acc":0.9' in note


def test_a_name_taken_on_both_sides_is_reported_and_both_runs_kept(tmp_path):
    remote, (a, b) = clones(tmp_path)
    ra = flexgit.record(name="same", metrics={"acc": 1}, repo=a)
    rb = flexgit.record(name="same", metrics={"acc": 2}, repo=b)
    assert cli(a, "push").code == 0
    result = cli(b, "push")
    assert result.code == 1 and "run names used for different runs here and on 'origin': same" in result.err
    ids = sorted(run.id for run in flexgit.list_runs(repo=b))
    assert ids == sorted([ra.id, rb.id])  # both kept, neither renamed
    assert git(b, "rev-parse", "exp/same").strip() == rb.id
    # The way out: rename ours, pull (the name now reaches theirs), push.
    assert cli(b, "rename", "same", "same-b").out == f"renamed same to same-b ({rb.short_id})\n"
    assert cli(b, "sync").code == 0 and cli(a, "pull").code == 0
    for repo in (a, b):
        assert git(repo, "rev-parse", "exp/same").strip() == ra.id
        assert git(repo, "rev-parse", "exp/same-b").strip() == rb.id
        assert sorted(names(repo)) == ["same", "same-b"]


def test_a_remote_that_does_not_exist_changes_nothing(tmp_path):
    _, (a,) = clones(tmp_path, 1)
    flexgit.record(name="r", repo=a)
    before = repo_state(a)
    result = cli(a, "push", str(tmp_path / "nowhere.git"))
    assert result.code == 1 and result.err.startswith("Error: ") and len(result.err.splitlines()) == 1
    assert cli(a, "pull", "nowhere").code == 1
    assert repo_state(a) == before


SYNC_LOOP = """
import random, sys, flexgit
repo, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(repo)
for i in range(count):
    flexgit.record(metrics={"i": i}, repo=repo)
    if rng.random() < 0.5:
        flexgit.sync("origin", repo=repo)
flexgit.sync("origin", repo=repo)
"""


@pytest.mark.slow
def test_four_machines_recording_and_syncing_at_once_lose_nothing(tmp_path):
    remote, repos = clones(tmp_path, 4)
    procs = [subprocess.Popen([sys.executable, "-c", SYNC_LOOP, str(repo), "25"], stderr=subprocess.PIPE, text=True)
             for repo in repos]
    errors = [proc.communicate()[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], errors
    for repo in repos:
        assert cli(repo, "sync").code == 0
    tables = [names(repo) for repo in repos]
    assert len(tables[0]) == 100 and all(table == tables[0] for table in tables)
    for repo in repos:  # every run with its note intact
        assert all(run.metrics.get("i") is not None for run in flexgit.list_runs(repo=repo))
    for repo in [*repos, remote]:
        assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""


def test_table_remote_shows_everyones_runs_without_moving_anything(tmp_path):
    remote, (a, b) = clones(tmp_path)
    flexgit.record(name="a1", metrics={"acc": 1}, repo=a)
    cli(a, "push")
    flexgit.record(name="b1", metrics={"acc": 2}, repo=b)
    before = repo_state(b)["refs"]
    result = cli(b, "table", "--remote", "origin", "--format", "csv", "--columns", "name,acc")
    assert result.out == "name,metrics.acc\na1,1\nb1,2\n", result
    local_refs = [line for line in repo_state(b)["refs"].splitlines() if not line.startswith("refs/flexgit/")]
    assert local_refs == [line for line in before.splitlines() if not line.startswith("refs/flexgit/")]
    assert cli(b, "table", "--format", "csv", "--columns", "name").out == "name\nb1\n"


def test_plain_git_fetch_brings_the_runs_along_after_a_pull(tmp_path):
    remote, (a, b) = clones(tmp_path)
    cli(b, "pull")  # configures the fetch refspecs
    flexgit.record(name="a1", repo=a)
    cli(a, "push")
    git(b, "fetch", "-q", "origin")
    assert git(b, "rev-parse", "refs/flexgit/remotes/origin/heads/experiments").strip() == \
        git(a, "rev-parse", "experiments").strip()
    assert "+refs/notes/flexgit:refs/flexgit/remotes/origin/notes/flexgit" in git(b, "config", "--get-all",
                                                                               "remote.origin.fetch")


def test_a_remote_that_rejects_everything_fails_once_and_changes_nothing(tmp_path):
    remote, (a,) = clones(tmp_path, 1)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho no pushes today >&2\nexit 1\n")
    hook.chmod(0o755)
    flexgit.record(name="a1", repo=a)
    before = repo_state(a)
    result = cli(a, "push")
    assert result.code == 1 and result.err.startswith("Error: cannot push to 'origin': ")
    assert "pre-receive hook declined" in result.err and len(result.err.splitlines()) == 1
    assert repo_state(a) == before


KILL_SYNC = [sys.executable, "-m", "flexgit", "sync"]


@pytest.mark.slow
def test_a_sync_killed_at_any_point_leaves_a_clone_that_records_and_syncs(tmp_path):
    import random
    import time

    remote, (a, b) = clones(tmp_path)
    rng = random.Random(7)
    recorded = []
    for trial in range(10):
        recorded.append(flexgit.record(name=f"a{trial}", repo=a).name)
        flexgit.record(name=f"b{trial}", repo=b)
        proc = subprocess.Popen(KILL_SYNC, cwd=a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.kill()
        proc.wait()
        assert set(recorded) <= set(names(a)), trial
        assert cli(b, "sync").code == 0
    assert cli(a, "sync").code == 0, "a clone must sync again after kills"
    assert cli(b, "pull").code == 0
    flexgit.record(name="still-works", repo=a)
    assert set(names(a)) >= set(recorded) | {f"b{i}" for i in range(10)}
    for repo in (a, b, remote):
        assert git(repo, "fsck", "--strict", "--no-dangling").strip() == ""


def test_init_and_push_add_the_fetch_refspecs(tmp_path):
    remote, (a, b) = clones(tmp_path)
    assert cli(a, "init").code == 0
    fetch = git(a, "config", "--get-all", "remote.origin.fetch")
    assert "+refs/flexgit/heads/experiments:refs/flexgit/remotes/origin/heads/experiments" in fetch
    flexgit.record(name="x", repo=b)
    assert cli(b, "push").code == 0
    assert "+refs/notes/flexgit:refs/flexgit/remotes/origin/notes/flexgit" in git(b, "config", "--get-all",
                                                                               "remote.origin.fetch")
    assert git(b, "config", "--get-all", "remote.origin.fetch").count("flexgit/remotes") == 2  # once each


@pytest.mark.parametrize("form", ["relative", "absolute", "url"])
def test_a_remote_given_as_a_path_or_url_works_for_every_command(tmp_path, form):
    remote, (a, b) = clones(tmp_path)
    where = {"relative": "../remote.git", "absolute": str(remote), "url": remote.as_uri()}[form]
    flexgit.record(name="a1", metrics={"acc": 0.5}, repo=a)
    assert cli(a, "push", where).code == 0
    flexgit.record(name="b1", repo=b)
    shown = cli(b, "table", "--remote", where, "--format", "csv", "--columns", "name")
    assert shown.code == 0 and shown.out == "name\na1\nb1\n", shown
    pulled = cli(b, "pull", where)
    assert pulled.out == "pulled from " + where + ": 1 new run, joined with a merge commit\n", pulled
    assert cli(b, "sync", where).code == 0
    assert cli(a, "pull", where).out == f"pulled from {where}: 1 new run\n"
    assert names(a) == names(b) == ["a1", "b1"]
    tracked = git(b, "for-each-ref", "--format=%(refname)", "refs/flexgit/remotes/")
    assert tracked and all(ref.startswith("refs/flexgit/remotes/url-") for ref in tracked.split())


def test_a_pull_into_a_fresh_clone_counts_the_runs_it_brought(tmp_path):
    remote, (a,) = clones(tmp_path, count=1)
    for name in ("r1", "r2", "r3"):
        flexgit.record(name=name, repo=a)
    assert cli(a, "push").code == 0
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(remote), str(fresh))
    assert cli(fresh, "pull").out == "pulled from origin: 3 new runs\n"
    assert cli(fresh, "pull").out == "pulled from origin: 0 new runs\n"


def test_an_empty_table_in_a_clone_whose_remote_has_runs_suggests_a_pull(tmp_path):
    remote, (a, b) = clones(tmp_path)
    assert cli(b, "table").err == "no runs on branch 'experiments'; record one with 'flexgit record'\n"
    flexgit.record(name="a1", repo=a)
    assert cli(a, "push").code == 0
    result = cli(b, "table")
    assert result.code == 0
    assert result.err == ("no runs on branch 'experiments' here, but origin has some: "
                          "get them with 'flexgit pull origin'\n")


def test_push_to_a_remote_configured_as_a_mirror_pushes_only_flexgits_refs(tmp_path):
    remote, (a, b) = clones(tmp_path)
    git(a, "config", "remote.origin.mirror", "true")  # as `git remote add --mirror=push` sets it
    git(a, "branch", "only-here")
    flexgit.record(name="a1", metrics={"acc": 0.5}, repo=a)
    pushed = cli(a, "push")
    assert pushed.code == 0, pushed
    assert cli(a, "sync").code == 0
    assert cli(b, "pull").code == 0 and names(b) == ["a1"]
    remote_refs = git(remote, "for-each-ref", "--format=%(refname)").split()
    assert "refs/heads/main" in remote_refs and "refs/heads/only-here" not in remote_refs  # no mirror push


def test_many_names_go_into_packed_refs_unless_it_holds_far_more(repo):
    """Names created at once: into packed-refs in one write while they are many beside what it holds,
    else loose refs (rewriting 100,000 packed names for 100 new ones cost a pull at 100,000 runs 0.25 s)."""
    from flexgit.storage.gitrepo import GitRepo

    head = git(repo, "rev-parse", "HEAD").strip()
    git_repo = GitRepo.open(repo)
    git_repo.create_refs({f"refs/exp/a{i}": head for i in range(150)}, "test")
    packed = (repo / ".git" / "packed-refs").read_text()
    assert packed.count("refs/exp/a") == 150 and not (repo / ".git" / "refs" / "exp" / "a1").exists()
    subprocess.run(["git", "update-ref", "--stdin"], cwd=repo, check=True, text=True,
                   input="".join(f"create refs/exp/b{i} {head}\n" for i in range(6000)))
    git(repo, "pack-refs", "--all")
    git_repo.create_refs({f"refs/exp/c{i}": head for i in range(150)}, "test")
    assert "refs/exp/c" not in (repo / ".git" / "packed-refs").read_text()
    assert (repo / ".git" / "refs" / "exp" / "c149").read_text().strip() == head
    listed = git(repo, "for-each-ref", "--format=%(refname)", "refs/exp/").split()
    assert len(listed) == 6300 and "refs/exp/c0" in listed and "refs/exp/a149" in listed


def test_a_pull_fetches_aside_and_git_housekeeping_there_never_touches_this_clones_objects(tmp_path):
    """The fetch runs in a repository of flexgit's tips alone that shares this clone's objects: with
    housekeeping that would prune everything else there (gc on every command, nothing kept), the clone's
    own commits survive, what arrived is reachable from its refs, and nothing is left behind."""
    remote, (a, b) = clones(tmp_path)
    flexgit.record(name="a1", metrics={"acc": 0.5}, repo=a)
    assert cli(a, "push").code == 0
    (b / "mine.txt").write_text("work\n")
    git(b, "add", "mine.txt")
    git(b, "commit", "-q", "-m", "a commit reachable only from this clone's branch")
    mine = git(b, "rev-parse", "HEAD").strip()
    git(b, "reset", "-q", "--hard", "HEAD~1")
    git(b, "branch", "keep", mine)  # reachable here, from a ref the aside repository does not hold
    git(b, "repack", "-q", "-a", "-d")
    (b / "more.txt").write_text("more\n")
    git(b, "add", "more.txt")
    git(b, "stash", "-q")  # new objects, packed apart: two packs, so git's gc --auto would run
    git(b, "repack", "-q", "-d")
    assert len(list((b / ".git" / "objects" / "pack").glob("*.pack"))) >= 2
    for key, value in (("gc.auto", "1"), ("gc.autoPackLimit", "1"), ("gc.pruneExpire", "now"),
                       ("gc.reflogExpireUnreachable", "now"), ("maintenance.auto", "true")):
        git(b, "config", key, value)
    stale = b / ".git" / "flexgit.d" / "fetch-1-stale"
    (stale / "refs").mkdir(parents=True)
    old = stale.stat().st_mtime - 7200
    import os

    os.utime(stale, (old, old))
    assert cli(b, "pull").out == "pulled from origin: 1 new run\n"
    assert git(b, "cat-file", "-t", mine).strip() == "commit"
    git(b, "fsck", "--connectivity-only", "--no-dangling")
    assert not list((b / ".git" / "flexgit.d").glob("fetch-*"))  # its own removed, and the stale one
    git(b, "-c", "gc.pruneExpire=now", "gc", "--quiet", "--prune=now")
    assert flexgit.show("a1", repo=b).run.metrics == {"acc": 0.5} and git(b, "cat-file", "-t", mine).strip() == "commit"


@pytest.mark.parametrize("setting", [("includeIf.gitdir:/nowhere/.path", "/nowhere.cfg"),
                                     ("extensions.worktreeConfig", "true")])
def test_a_clone_whose_config_another_repository_would_read_otherwise_is_fetched_into_directly(tmp_path, setting):
    remote, (a, b) = clones(tmp_path)
    flexgit.record(name="a1", repo=a)
    assert cli(a, "push").code == 0
    if setting[0].startswith("extensions."):
        git(b, "config", "core.repositoryformatversion", "1")
    git(b, "config", *setting)
    from flexgit.storage.gitrepo import GitRepo

    assert GitRepo.open(b).fetch_aside("origin", ["+refs/notes/flexgit:refs/flexgit/x"], []) is False
    assert cli(b, "pull").out == "pulled from origin: 1 new run\n"
    assert names(b) == ["a1"]
