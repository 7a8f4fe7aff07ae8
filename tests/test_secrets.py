"""Secrets and privacy (issue 14, item 21): files that look like credentials stay out of snapshots
unless the settings say otherwise, and `private_meta` keeps the host and absolute paths out of runs."""

from __future__ import annotations

import json
import platform
import socket
import sys

import pytest

import flexgit
from conftest import flexgit as subprocess_cli, flexgit_in_process as cli, git, make_repo, repo_state

SECRETS = [".env", ".env.local", "certs/server.pem", "deploy/api.key", "id_rsa", "id_ed25519.pub", "credentials.json",
           ".netrc", "keystore.p12"]


def write_secrets(repo):
    for path in SECRETS:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(f"secret in {path}\n")
    (repo / "notes.txt").write_text("not a secret\n")


def tree_of(repo, rev):
    return git(repo, "ls-tree", "-r", "--name-only", rev).split()


def test_untracked_secrets_are_left_out_listed_and_warned_once(repo):
    write_secrets(repo)
    before = repo_state(repo)
    result = cli(repo, "record", "--name", "r1")
    assert result.code == 0, result
    warning, = result.err.splitlines()
    assert warning == ("warning: left out of the snapshot, as they look like secrets: " + ", ".join(sorted(SECRETS))
                       + " (include_secrets in .flexgit.toml keeps them)")
    paths = tree_of(repo, "exp/r1")
    assert "notes.txt" in paths and not set(SECRETS) & set(paths)
    assert flexgit.show("r1", repo=repo).run.meta["secrets_left_out"] == sorted(SECRETS)
    for path in SECRETS:  # never stored as objects either
        blob = git(repo, "hash-object", path).strip()
        assert git(repo, "cat-file", "-e", blob, check=False) == ""
        assert (repo / path).read_text() == f"secret in {path}\n"
    assert repo_state(repo)["status"] == before["status"] and repo_state(repo)["index"] == before["index"]


def test_include_secrets_keeps_all_or_those_named(repo):
    write_secrets(repo)
    (repo / ".flexgit.toml").write_text("include_secrets = true\n")
    result = cli(repo, "record", "--name", "all")
    assert (result.code, result.err) == (0, ""), result
    assert set(SECRETS) <= set(tree_of(repo, "exp/all"))
    assert "secrets_left_out" not in flexgit.show("all", repo=repo).run.meta
    (repo / ".flexgit.toml").write_text('include_secrets = ["api.key", "certs/*"]\n')
    assert cli(repo, "record", "--name", "some").code == 0
    kept = set(SECRETS) & set(tree_of(repo, "exp/some"))
    assert kept == {"deploy/api.key", "certs/server.pem"}


@pytest.mark.parametrize("setting, error", [("include_secrets = 'yes'", "'include_secrets' in "),
                                            ("private_meta = 1", "'private_meta' in ")])
def test_bad_privacy_settings_are_refused(repo, setting, error):
    (repo / ".flexgit.toml").write_text(setting + "\n")
    git(repo, "add", ".flexgit.toml")
    git(repo, "commit", "-qm", "settings")
    before = repo_state(repo)
    result = cli(repo, "record")
    assert result.code == 1 and result.err.startswith("Error: " + error) and result.err.count("\n") == 1, result
    assert repo_state(repo) == before


def test_tracked_secrets_are_reported_and_their_changes_left_out(repo):
    (repo / "config").mkdir()
    (repo / "config" / "prod.key").write_text("committed key\n")
    (repo / ".env").write_text("TOKEN=old\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "oops, secrets")
    (repo / ".env").write_text("TOKEN=new\n")  # a change that is not in the history yet
    result = cli(repo, "record", "--name", "t1")
    assert result.code == 0, result
    assert result.err.splitlines() == [
        "warning: left out of the snapshot, as they look like secrets: .env (include_secrets in .flexgit.toml "
        "keeps them)",
        "warning: tracked by git, so in the snapshot, though they look like secrets: .env, config/prod.key "
        "(already in your history; 'flexgit push' would share them)"]
    assert git(repo, "show", "exp/t1:.env") == "TOKEN=old\n"
    assert git(repo, "show", "exp/t1:config/prod.key") == "committed key\n"
    meta = flexgit.show("t1", repo=repo).run.meta
    assert meta["secrets_left_out"] == [".env"] and meta["secrets_tracked"] == [".env", "config/prod.key"]


def test_flexgit_run_links_secrets_into_its_checkout_but_records_none(repo):
    (repo / ".env").write_text("TOKEN=s3cret\n")
    (repo / "use_env.py").write_text("print(open('.env').read().strip())\n")
    git(repo, "add", "use_env.py")
    git(repo, "commit", "-qm", "script")
    result = subprocess_cli(repo, "run", "--name", "e1", "--", sys.executable, "use_env.py")
    assert result.code == 0, result
    assert "TOKEN=s3cret" in result.out  # the command found its .env
    assert "warning: left out of the snapshot, as they look like secrets: .env" in result.err
    assert ".env" not in tree_of(repo, "exp/e1")
    assert "s3cret" not in git(repo, "show", "exp/e1:.flexgit/meta.toml")
    assert flexgit.show("e1", repo=repo).run.meta["secrets_left_out"] == [".env"]


def test_hook_reports_secrets_it_left_out(repo):
    (repo / ".flexgit.toml").write_text('results = ["metrics.json"]\n')
    (repo / "metrics.json").write_text('{"acc": 1}\n')
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "settings")
    (repo / "id_rsa").write_text("private key\n")
    result = cli(repo, "hook", "post-commit")
    assert result.code == 0 and "left out as they look like secrets: id_rsa" in result.err, result
    run, = flexgit.list_runs(repo=repo)
    assert "id_rsa" not in tree_of(repo, run.id)


def note_of(repo, name):
    return json.loads(git(repo, "notes", "--ref=flexgit", "show", f"exp/{name}").splitlines()[0])


def test_meta_says_who_and_where_unless_private(repo, tmp_path):
    (repo / "params.toml").write_text("lr = 0.1\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "m.json").write_text('{"acc": 1}\n')
    args = ["-c", str(repo / "params.toml"), "-r", str(tmp_path / "elsewhere" / "m.json")]
    assert subprocess_cli(repo, "record", "--name", "open", *args).code == 0
    meta = note_of(repo, "open")["meta"]
    assert meta["host"] == socket.gethostname() and meta["platform"] == platform.platform()
    assert str(repo / "params.toml") in meta["command"]
    (repo / ".flexgit.toml").write_text("private_meta = true\n")
    assert subprocess_cli(repo, "record", "--name", "private", *args).code == 0
    note = note_of(repo, "private")
    meta = note["meta"]
    assert "host" not in meta and meta["platform"] == platform.system()
    assert meta["command"] == "python -m flexgit record --name private -c params.toml -r .../m.json"
    assert str(tmp_path) not in json.dumps(note) + git(repo, "show", "exp/private:.flexgit/meta.toml")
    assert meta["user"] == "Test User" and meta["email"] == "test@example.com"  # as in the commit's author


def test_private_meta_applies_to_flexgit_run(repo):
    (repo / ".flexgit.toml").write_text("private_meta = true\n")
    (repo / "ok.py").write_text("print('ok')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "private")
    result = subprocess_cli(repo, "run", "--name", "p1", "--", sys.executable, str(repo / "ok.py"))
    assert result.code == 0, result
    run = flexgit.show("p1", repo=repo).run
    assert "host" not in run.meta and run.meta["run_command"] == f".../{(sys.executable).rsplit('/', 1)[1]} ok.py"
    assert run.message == f"flexgit run .../{(sys.executable).rsplit('/', 1)[1]} ok.py"
    assert str(repo) not in git(repo, "log", "-1", "--format=%B", "exp/p1")


def test_push_refuses_runs_whose_snapshot_holds_a_tracked_secret(tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = make_repo(tmp_path / "p")
    git(repo, "remote", "add", "origin", str(remote))
    flexgit.record(name="clean", repo=repo)
    assert cli(repo, "push").code == 0
    (repo / ".env").write_text("TOKEN=hunter2\n")
    git(repo, "add", "-f", ".env")
    git(repo, "commit", "-qm", "oops")
    flexgit.record(name="leaky", repo=repo)
    before = git(remote, "for-each-ref")
    refused = cli(repo, "push")
    assert refused.code == 1 and len(refused.err.splitlines()) == 1, refused
    assert "run 'leaky'" in refused.err and "--allow-secrets" in refused.err
    assert git(remote, "for-each-ref") == before
    assert cli(repo, "sync").code == 1
    assert cli(repo, "push", "--allow-secrets").code == 0
    assert git(remote, "rev-parse", "refs/flexgit/heads/experiments") == git(repo, "rev-parse", "experiments")
