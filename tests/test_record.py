"""`record`: what lands in git, and what it leaves alone."""

from __future__ import annotations

import json
import math
import os
import subprocess

import pytest

import flexgit
from flexgit.errors import BareRepositoryError, BranchError, InputError, RunExistsError
from conftest import flexgit as run_cli, flexgit_in_process, git, make_repo, repo_state


def tree_paths(repo, rev):
    return sorted(git(repo, "ls-tree", "-r", "-z", "--name-only", rev).split("\0")[:-1])


def test_record_leaves_index_head_branch_and_status_alone(repo):
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "notes.txt").write_text("untracked\n")
    git(repo, "add", "train.py")
    (repo / "train.py").write_text("print('changed again')\n")
    before = repo_state(repo)
    flexgit.record(name="r1", params={"lr": 0.1}, metrics={"acc": 0.9}, repo=repo)
    after = repo_state(repo)
    assert after["index"] == before["index"]
    assert after["head"] == before["head"]
    assert after["status"] == before["status"]
    refs_before = set(before["refs"].splitlines())
    refs_after = set(after["refs"].splitlines())
    assert refs_before <= refs_after  # main is unchanged, only flexgit refs are new
    assert {line.split()[0] for line in refs_after - refs_before} == {
        "refs/heads/experiments", "refs/notes/flexgit", "refs/exp/r1"}


def test_snapshot_holds_working_tree_changes_untracked_files_and_no_ignored_ones(repo):
    (repo / "train.py").write_text("print('uncommitted')\n")
    (repo / "new_model.py").write_text("model = 1\n")
    (repo / "run.log").write_text("ignored\n")
    (repo / "data").mkdir()
    (repo / "data" / "big.bin").write_text("ignored too\n")
    flexgit.record(name="snap", repo=repo)
    paths = tree_paths(repo, "exp/snap")
    assert paths == [".flexgit/config.toml", ".flexgit/environment.txt", ".flexgit/meta.toml",
                     ".flexgit/results.toml", ".gitignore", "new_model.py", "train.py"]
    assert git(repo, "show", "exp/snap:train.py") == "print('uncommitted')\n"


def test_snapshot_reflects_deleted_files(repo):
    (repo / "train.py").unlink()
    flexgit.record(name="gone", repo=repo)
    assert "train.py" not in tree_paths(repo, "exp/gone")


def test_symlinks_and_non_utf8_names_are_snapshotted_as_git_would(repo):
    os.symlink("train.py", repo / "link.py")
    odd = os.fsencode(repo) + b"/caf\xe9.txt"
    with open(odd, "wb") as handle:
        handle.write(b"latin-1 name\n")
    flexgit.record(name="odd", repo=repo)
    listing = subprocess.run(["git", "ls-tree", "-z", "exp/odd"], cwd=repo, capture_output=True).stdout
    entries = {line.split(b"\t")[1]: line.split(b" ")[0] for line in listing.split(b"\0") if line}
    assert entries[b"link.py"] == b"120000"
    assert entries[b"caf\xe9.txt"] == b"100644"
    assert git(repo, "cat-file", "-p", "exp/odd:link.py") == "train.py"


def test_run_commit_is_orphan_history_with_source_trailer(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    run = flexgit.record(name="r1", message="first try\n\nlonger story", repo=repo)
    message = git(repo, "log", "-1", "--format=%B", "exp/r1")
    assert message.startswith("run r1: first try\n\nlonger story\n\n")
    assert f"Flexgit-Source: {head}" in message
    assert "Flexgit-Format: 2" in message
    root = git(repo, "rev-list", "--max-parents=0", "experiments").split()
    assert head not in git(repo, "rev-list", "experiments")
    assert "Flexgit-Kind: root" in git(repo, "log", "-1", "--format=%B", root[0])
    assert git(repo, "rev-parse", "experiments").strip() == run.id


def test_note_is_readable_with_plain_git_at_a_fanout_path(repo):
    run = flexgit.record(name="r1", params={"lr": 0.1}, metrics={"acc": 0.5}, repo=repo)
    note = git(repo, "notes", "--ref=flexgit", "show", "exp/r1")
    row = json.loads(note.splitlines()[0])
    assert row["v"] == 1 and row["name"] == "r1"
    assert row["params"] == {"lr": 0.1} and row["metrics"] == {"acc": 0.5}
    listing = git(repo, "ls-tree", "-r", "--name-only", "refs/notes/flexgit")
    assert listing.strip() == f"{run.id[:2]}/{run.id[2:]}"


def test_flexgit_files_hold_config_results_and_meta(repo):
    (repo / "params.yaml").write_text("model: mlp\noptimizer:\n  lr: 0.01\n  betas: [0.9, 0.99]\n")
    (repo / "metrics.json").write_text('{"acc": 0.875, "loss": NaN, "test": {"f1": 0.5}}')
    run = flexgit.record(name="files", config_files=[repo / "params.yaml"], results_files=[repo / "metrics.json"],
                         params={"seed": 3}, metrics={"acc": 0.9}, repo=repo)
    assert run.params == {"model": "mlp", "optimizer.lr": 0.01, "optimizer.betas": [0.9, 0.99], "seed": 3}
    assert run.metrics["acc"] == 0.9 and math.isnan(run.metrics["loss"]) and run.metrics["test.f1"] == 0.5
    config = git(repo, "show", "exp/files:.flexgit/config.toml")
    assert 'model = "mlp"' in config and "[optimizer]" in config and "lr = 0.01" in config
    results = git(repo, "show", "exp/files:.flexgit/results.toml")
    assert "loss = nan" in results and "acc = 0.9" in results
    meta = git(repo, "show", "exp/files:.flexgit/meta.toml")
    for key in ("user", "email", "host", "platform", "python", "flexgit", "command", "source",
                "source_branch", "dirty", "date"):
        assert f"\n{key} = " in "\n" + meta, key
    assert 'source_branch = "main"' in meta and "dirty = true" in meta
    assert 'user = "Test User"' in meta


def test_clean_tree_is_recorded_as_not_dirty(repo):
    run = flexgit.record(name="clean", repo=repo)
    assert run.meta["dirty"] is False
    assert run.meta["source_branch"] == "main"


def test_empty_repository_records(tmp_path):
    repo = make_repo(tmp_path / "empty", commit=False)
    (repo / "train.py").write_text("x = 1\n")
    run = flexgit.record(name="first", metrics={"acc": 1}, repo=repo)
    assert "source" not in run.meta
    assert tree_paths(repo, "exp/first")[-1] == "train.py"
    assert git(repo, "status", "--porcelain") == "?? train.py\n"


def test_detached_head_records(repo):
    git(repo, "checkout", "-q", "--detach")
    run = flexgit.record(name="detached", repo=repo)
    assert "source_branch" not in run.meta
    assert run.meta["source"] == git(repo, "rev-parse", "HEAD").strip()


def test_identity_falls_back_without_git_config(tmp_path):
    repo = tmp_path / "anon"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("a")
    run = flexgit.record(name="anon", repo=repo)
    assert run.meta["user"] and "@" in run.meta["email"]


def test_bare_repository_is_refused_and_untouched(tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    before = repo_state(bare)
    with pytest.raises(BareRepositoryError, match="bare repository"):
        flexgit.record(name="x", repo=bare)
    assert repo_state(bare) == before


def test_duplicate_name_is_refused_and_nothing_written(repo):
    flexgit.record(name="same", repo=repo)
    before = repo_state(repo)
    with pytest.raises(RunExistsError, match="already exists"):
        flexgit.record(name="same", metrics={"acc": 1}, repo=repo)
    assert repo_state(repo) == before


@pytest.mark.parametrize("name", ["a..b", "with space", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "-x",
                                  ".hidden", "a/b", "x.lock", "a@{1}"])
def test_invalid_names_are_refused(repo, name):
    before = repo_state(repo)
    with pytest.raises(InputError, match="cannot be a run name"):
        flexgit.record(name=name, repo=repo)
    assert repo_state(repo) == before


def test_foreign_branch_of_the_same_name_is_refused(repo):
    git(repo, "branch", "experiments")
    before = repo_state(repo)
    with pytest.raises(BranchError, match="not a flexgit experiments branch"):
        flexgit.record(name="x", repo=repo)
    assert repo_state(repo) == before


def test_other_branch_keeps_its_own_runs(repo):
    flexgit.record(name="a", metrics={"acc": 1}, repo=repo)
    flexgit.record(name="b", metrics={"acc": 2}, branch="sweeps/lr", repo=repo)
    assert [r.name for r in flexgit.list_runs(repo=repo)] == ["a"]
    assert [r.name for r in flexgit.list_runs(branch="sweeps/lr", repo=repo)] == ["b"]
    assert git(repo, "rev-parse", "sweeps/lr").strip() == git(repo, "rev-parse", "exp/b").strip()


def test_generated_names_are_unique_and_valid(repo):
    names = {flexgit.record(repo=repo).name for _ in range(5)}
    assert len(names) == 5
    assert all(n.startswith("run-") for n in names)


def test_init_is_idempotent_and_record_works_without_it(repo, tmp_path):
    first = flexgit.init(repo=repo)
    assert first.settings_written == repo / ".flexgit.toml"
    again = flexgit.init(repo=repo)
    assert again.tip == first.tip and again.settings_written is None
    other = make_repo(tmp_path / "other")
    flexgit.record(name="x", repo=other)
    assert git(other, "rev-parse", "--verify", "experiments")


def test_record_from_a_subdirectory_discovers_the_repository(repo):
    sub = repo / "src"
    sub.mkdir()
    (sub / "model.py").write_text("m = 1\n")
    result = run_cli(sub, "record", "--name", "fromsub", "-p", "lr=0.1")
    assert result.code == 0, result
    assert "src/model.py" in tree_paths(repo, "exp/fromsub")


def test_keys_that_flatten_to_the_same_key_are_refused_and_nothing_written(repo):
    before = repo_state(repo)
    for kwargs in ({"params": {"a.b": 1, "a": {"b": 2}}}, {"metrics": {"x": {"y.z": 1, "y": {"z": 2}}}},
                   {"meta": {"purpose": {"a": 1}, "purpose.a": 2}}):
        with pytest.raises(InputError, match="both flatten to"):
            flexgit.record(name="clash", repo=repo, **kwargs)
    with pytest.raises(InputError, match="key 'a.b' and key 'b' of table 'a' in the config given both flatten to"):
        flexgit.record(name="clash", params={"a.b": 1, "a": {"b": 2}}, repo=repo)
    assert repo_state(repo) == before
    flexgit.record(name="kept", params={"a": 1, "a.b": 2}, repo=repo)  # different keys: both kept
    assert flexgit.list_runs(repo=repo)[0].params == {"a": 1, "a.b": 2}
    with pytest.raises(InputError, match="both flatten to 'c.d'"):
        flexgit.update("kept", metrics={"c.d": 1, "c": {"d": 2}}, repo=repo)


def test_a_sparse_checkout_is_recorded_as_the_user_has_it(repo):
    """Files outside the sparse cone are not in the working tree by choice: the snapshot keeps their
    committed version (not deletions), and says so; a real deletion stays a deletion."""
    for path in ("a/x.py", "b/y.py", "b/z.py"):
        (repo / path).parent.mkdir(exist_ok=True)
        (repo / path).write_text(f"# {path}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "two folders")
    git(repo, "sparse-checkout", "set", "a")
    assert not (repo / "b").exists()
    (repo / "a" / "x.py").write_text("# changed\n")
    (repo / "train.py").unlink()
    result = flexgit_in_process(repo, "record", "--name", "sparse")
    assert result.code == 0, result
    assert result.err == ("note: 2 files outside the sparse checkout are not in the working tree; the snapshot "
                          "holds them as committed\n")
    for path in ("b/y.py", "b/z.py"):
        assert git(repo, "rev-parse", f"exp/sparse:{path}") == git(repo, "rev-parse", f"HEAD:{path}")
    assert "train.py" not in tree_paths(repo, "exp/sparse")
    shown = flexgit_in_process(repo, "show", "sparse").out
    assert shown.endswith("files changed from the source commit: 2\n  M a/x.py\n  D train.py\n")
    assert flexgit.show("sparse", repo=repo).run.meta["outside_sparse"] == 2


def test_a_git_repository_inside_the_working_tree_is_left_out_with_a_warning(repo):
    vendor = repo / "vendor" / "lib"
    vendor.mkdir(parents=True)
    git(vendor, "init", "-q", "-b", "main")
    (vendor / "v.py").write_text("VERSION = 2\n")
    git(vendor, "add", ".")
    git(vendor, "-c", "user.name=V", "-c", "user.email=v@example.com", "commit", "-qm", "vendored")
    commit = git(vendor, "rev-parse", "HEAD").strip()
    (repo / "vendor" / "README").write_text("vendored code\n")
    (repo / "empty").mkdir()
    git(repo / "empty", "init", "-q")
    (repo / "empty" / "draft.py").write_text("never committed\n")
    result = flexgit_in_process(repo, "record", "--name", "nested")
    assert result.code == 0, result
    assert sorted(result.err.splitlines()) == [
        "warning: left out of the snapshot, a git repository of its own: empty (it has no commit)",
        f"warning: left out of the snapshot, a git repository of its own: vendor/lib (on commit {commit[:10]}, "
        "named in the run's meta)"]
    assert sorted(flexgit.show("nested", repo=repo).run.meta["nested_repos"]) == ["empty", f"vendor/lib@{commit}"]
    assert tree_paths(repo, "exp/nested") == [".flexgit/config.toml", ".flexgit/environment.txt",
                                              ".flexgit/meta.toml", ".flexgit/results.toml", ".gitignore",
                                              "train.py", "vendor/README"]
    # `flexgit run` leaves it out of the record too, and the command still finds it
    ran = run_cli(repo, "run", "--name", "uses-it", "--", "python", "-c", "print(open('vendor/lib/v.py').read())")
    assert ran.code == 0 and "VERSION = 2" in ran.out, ran
    assert sorted(flexgit.show("uses-it", repo=repo).run.meta["nested_repos"]) == ["empty", f"vendor/lib@{commit}"]
