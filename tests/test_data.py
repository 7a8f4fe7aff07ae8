"""Data management: fingerprints of the data a config names, shown and checked on checkout."""

from __future__ import annotations

import hashlib
import json
import subprocess

import flexgit
from conftest import flexgit as cli, flexgit_in_process, git
from flexgit.project.files import read_sealed, write_sealed


def test_record_fingerprints_data_named_by_path_keys_and_data_tables(repo):
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("x,y\n1,2\n")
    (repo / "data" / "images").mkdir()
    (repo / "data" / "images" / "a.png").write_bytes(b"\x89PNG")
    (repo / "params.toml").write_text('train_path = "data/train.csv"\nlr = 0.1\n[data]\nimages = "data/images"\n'
                                      'missing = "data/nothing.csv"\n')
    result = cli(repo, "record", "--name", "d1", "-c", "params.toml")
    assert result.code == 0, result
    run = flexgit.show("d1", repo=repo).run
    assert run.data["train_path"]["path"] == "data/train.csv" and run.data["train_path"]["size"] == 8
    assert run.data["data.images"]["kind"] == "folder" and run.data["data.images"]["size"] == 4
    assert "data.missing" not in run.data and "lr" not in run.data
    assert "data:\n  data.images = data/images (folder, 4 bytes, sha256 " in cli(repo, "show", "d1").out
    assert "[train_path]" in git(repo, "show", "exp/d1:.flexgit/data.toml")


def test_checkout_warns_when_the_data_changed_or_is_missing(repo):
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("x,y\n1,2\n")
    (repo / "data" / "test.csv").write_text("x,y\n3,4\n")
    flexgit.record(name="d2", params={"train_path": "data/train.csv", "test_path": "data/test.csv"}, repo=repo)
    (repo / "data" / "train.csv").write_text("x,y\n1,999\n")
    (repo / "data" / "test.csv").unlink()
    result = cli(repo, "checkout", "d2")
    assert result.code == 0, result
    warnings = result.err.splitlines()
    assert any(w.startswith("warning: data 'data/train.csv' (train_path) differs") for w in warnings)
    assert any(w.startswith("warning: data 'data/test.csv' (test_path) is missing") for w in warnings)
    (repo / "data" / "train.csv").write_text("x,y\n1,2\n")
    (repo / "data" / "test.csv").write_text("x,y\n3,4\n")
    assert cli(repo, "checkout", "d2").err == ""


def test_artifacts_are_kept_in_the_run(repo, tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x00weights\xff")
    flexgit.record(name="art", artifacts={"model.bin": model}, repo=repo)
    raw = subprocess.run(["git", "cat-file", "blob", "exp/art:.flexgit/artifacts/model.bin"], cwd=repo,
                         capture_output=True).stdout
    assert raw == b"\x00weights\xff"


def test_unchanged_data_is_not_read_again_and_a_change_is_seen(repo):
    (repo / "data").mkdir()
    data = repo / "data" / "train.csv"
    data.write_text("x\n1\n")
    flexgit.record(name="c1", params={"train_path": str(data)}, repo=repo)
    cache = repo / ".git" / "flexgit.d" / "data-hashes.json"
    first = flexgit.show("c1", repo=repo).run.data["train_path"]["sha256"]
    known = read_sealed(cache).decode()
    assert str(data) in known
    # A planted hash for the same size, time and inode (with a valid checksum) is trusted: proof
    # the file was not re-read.
    write_sealed(cache, known.replace(first, "f" * 64).encode())
    flexgit.record(name="c2", params={"train_path": str(data)}, repo=repo)
    assert flexgit.show("c2", repo=repo).run.data["train_path"]["sha256"] == "f" * 64
    data.write_text("x\n2\n")  # same size, new content and time: hashed again
    flexgit.record(name="c3", params={"train_path": str(data)}, repo=repo)
    assert flexgit.show("c3", repo=repo).run.data["train_path"]["sha256"] == hashlib.sha256(b"x\n2\n").hexdigest()


def test_checkout_worktree_links_the_ignored_data_as_run_does(repo, tmp_path):
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("x,y\n1,2\n")
    (repo / "params.toml").write_text('data_path = "data"\n')
    assert cli(repo, "record", "--name", "d3", "-c", "params.toml").code == 0
    target = tmp_path / "wt"
    result = flexgit_in_process(repo, "checkout", "d3", "--worktree", str(target))
    assert (result.code, result.err) == (0, ""), result
    assert result.out == (f"run d3 checked out in {target}; "
                          "from your working tree (folders linked, files copied): data\n")
    assert (target / "data").resolve() == (repo / "data").resolve()
    assert (target / "data" / "train.csv").read_text() == "x,y\n1,2\n"
    assert git(target, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == "?? params.toml\n"
    # `flexgit run` sees the same data in its temporary checkout
    script = "import pathlib; print(pathlib.Path('data/train.csv').read_text().splitlines()[1])"
    ran = cli(repo, "run", "--name", "d3-again", "--", "python", "-c", script)
    assert ran.code == 0 and "1,2" in ran.out, ran


def test_checkout_worktree_says_where_data_that_was_not_linked_is(repo, tmp_path):
    """Data below the top level (here a git-ignored data/ inside a tracked folder) is not linked: the
    warning says the working tree has it, and whether it is what the run used."""
    (repo / "src").mkdir()
    (repo / "src" / "model.py").write_text("m = 1\n")
    git(repo, "add", "src")
    git(repo, "commit", "-qm", "src")
    (repo / "src" / "data").mkdir()
    (repo / "src" / "data" / "raw.csv").write_text("a\n1\n")
    flexgit.record(name="d4", params={"raw_path": "src/data/raw.csv"}, repo=repo)
    result = flexgit_in_process(repo, "checkout", "d4", "--worktree", str(tmp_path / "wt"))
    assert result.code == 0, result
    assert result.err == (f"warning: data 'src/data/raw.csv' (raw_path) is not in {tmp_path / 'wt'}; "
                          f"{repo / 'src' / 'data' / 'raw.csv'} is what the run used: link or copy it\n")
    (repo / "src" / "data" / "raw.csv").write_text("a\n2\n")
    result = flexgit_in_process(repo, "checkout", "d4", "--worktree", str(tmp_path / "wt2"))
    assert result.err.startswith(f"warning: data 'src/data/raw.csv' (raw_path) is not in {tmp_path / 'wt2'}; "
                                 f"{repo / 'src' / 'data' / 'raw.csv'} exists but differs from what the run used "
                                 "(sha256 ")


def test_checkout_worktree_from_a_bare_repository_links_nothing(repo, tmp_path):
    flexgit.record(name="b1", repo=repo)
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(bare, "fetch", "-q", str(repo), "refs/exp/*:refs/exp/*", "refs/notes/*:refs/notes/*",
        "refs/heads/experiments:refs/heads/experiments")
    result = flexgit_in_process(bare, "checkout", "b1", "--worktree", str(tmp_path / "wt"))
    assert (result.code, result.err) == (0, ""), result
    assert (tmp_path / "wt" / "train.py").exists()


def plant_data_paths(repo, run, paths):
    """Rewrite the run's note with plain git, as a hostile remote could: its `data` names `paths`."""
    row = json.loads(git(repo, "notes", "--ref=flexgit", "show", run.id))
    row["data"] = {key: {"path": path, "kind": "folder", "sha256": "0" * 64, "size": 1} for key, path in paths.items()}
    git(repo, "notes", "--ref=flexgit", "add", "-f", "-m", json.dumps(row), run.id)


def test_checkout_never_reads_data_a_note_names_outside_the_working_tree(repo, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the run's to read\n")
    (repo / "evil").symlink_to(outside)  # a link the run's snapshot brings in
    run = flexgit.record(name="r", repo=repo)
    (repo / "evil").unlink()
    plant_data_paths(repo, run, {"sys": "/usr", "up": "../../..", "abs": str(outside), "rel": "../outside",
                                 "link": "evil", "git": ".git/objects", "list": "data/../../outside"})
    before = (repo / ".git" / "flexgit.d" / "data-hashes.json").read_text() \
        if (repo / ".git" / "flexgit.d" / "data-hashes.json").exists() else ""
    for extra in (["--worktree", str(tmp_path / "wt")], []):
        result = flexgit_in_process(repo, "checkout", "r", *extra)
        assert result.code == 0, result
        assert result.err == ("warning: data not checked (only data inside the working tree or named by your "
                              "config is read): '/usr' (sys), '../../..' (up), "
                              f"'{outside}' (abs) and 4 more\n")
        cache = repo / ".git" / "flexgit.d" / "data-hashes.json"
        assert (cache.read_text() if cache.exists() else "") == before  # nothing was hashed


def test_checkout_checks_data_outside_the_tree_that_your_own_config_names(repo, tmp_path):
    shared = tmp_path / "datasets"
    shared.mkdir()
    (shared / "train.csv").write_text("x\n1\n")
    (repo / "params.toml").write_text(f'data_path = "{shared / "train.csv"}"\n')
    (repo / ".flexgit.toml").write_text('config = ["params.toml"]\n')
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "config")
    run = flexgit.record(name="r", repo=repo)
    assert run.data["data_path"]["path"] == str(shared / "train.csv")
    (shared / "train.csv").write_text("x\n2\n")
    for extra in (["--worktree", str(tmp_path / "wt")], []):
        result = flexgit_in_process(repo, "checkout", "r", *extra)
        assert result.code == 0, result
        assert result.err.startswith(f"warning: data '{shared / 'train.csv'}' (data_path) differs from what the "
                                     "run used"), result


def test_ignored_top_level_files_are_copied_into_a_worktree_so_writes_stay_there(repo, tmp_path):
    (repo / "metrics.json").write_text('{"acc": 0.9}\n')  # ignored, and no results file is configured
    (repo / ".gitignore").write_text("*.log\ndata/\nmetrics.json\n")
    git(repo, "commit", "-qam", "ignore metrics")
    flexgit.record(name="m1", repo=repo)
    target = tmp_path / "wt-m"
    result = flexgit_in_process(repo, "checkout", "m1", "--worktree", str(target))
    assert result.code == 0, result
    assert not (target / "metrics.json").is_symlink() and (target / "metrics.json").read_text() == '{"acc": 0.9}\n'
    (target / "metrics.json").write_text('{"acc": 0.1}\n')  # what re-running training there does
    assert (repo / "metrics.json").read_text() == '{"acc": 0.9}\n'
    assert git(target, "status", "--porcelain").strip() == ""
