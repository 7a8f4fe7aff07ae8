"""Outputs: the files a run produced, kept under .flexgit/outputs/ by record, flexgit run and the API,
listed by show, written back by get and checkout; paths outside the working tree refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import flexgit
from conftest import flexgit as cli
from conftest import flexgit_in_process, git, pulled_run, repo_state
from flexgit.errors import InputError

TRAIN = """\
import os, sys
os.makedirs("plots", exist_ok=True)
open("plots/loss.png", "w").write("loss curve")
if "--fail" in sys.argv:
    sys.exit(3)
open("model.pkl", "w").write("trained")
"""


def project(repo, outputs='["model.pkl", "plots/*"]'):
    (repo / "train.py").write_text(TRAIN)
    (repo / ".gitignore").write_text("*.pkl\nplots/\n")
    (repo / ".flexgit.toml").write_text(f"outputs = {outputs}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "project")
    return repo


def tree(repo, ref):
    return git(repo, "ls-tree", "-r", "--name-only", ref).split()


def test_record_keeps_outputs_at_their_path_and_leaves_them_out_of_the_code(repo, monkeypatch):
    (repo / "out").mkdir()
    (repo / "out" / "model.pkl").write_text("weights")
    (repo / "out" / "pred.csv").write_text("1,2\n")
    (repo / "plot.png").write_text("png")
    monkeypatch.chdir(repo / "out")
    run = flexgit.record(name="r", outputs=["model.pkl", "../plot.png"], repo=repo)
    files = tree(repo, "exp/r")
    assert ".flexgit/outputs/out/model.pkl" in files and ".flexgit/outputs/plot.png" in files
    assert "out/model.pkl" not in files and "plot.png" not in files  # products, not code
    assert "out/pred.csv" in files  # not named: code as before
    assert "outputs_missing" not in run.meta
    details = flexgit.show("r", repo=repo)
    assert [(f.path, f.size, f.lfs) for f in details.files] == [("out/model.pkl", 7, None), ("plot.png", 3, None)]


def test_record_takes_globs_folders_and_by_default_the_settings_outputs(repo):
    project(repo)
    (repo / "plots").mkdir()
    for name in ("a.png", "b.png"):
        (repo / "plots" / name).write_text(name)
    (repo / "model.pkl").write_text("m")
    done = cli(repo, "record", "--name", "settings")
    assert done.code == 0 and "warning" not in done.err, done
    assert [f for f in tree(repo, "exp/settings") if "outputs" in f] == [
        ".flexgit/outputs/model.pkl", ".flexgit/outputs/plots/a.png", ".flexgit/outputs/plots/b.png"]
    folder = cli(repo, "record", "--name", "folder", "--output", "plots")
    assert folder.code == 0
    assert [f for f in tree(repo, "exp/folder") if "outputs" in f] == [
        ".flexgit/outputs/plots/a.png", ".flexgit/outputs/plots/b.png"]
    shown = cli(repo, "show", "settings")
    assert "outputs:\n  model.pkl    1 B\n  plots/a.png  5 B\n  plots/b.png  5 B\n" in shown.out


def test_an_output_that_matches_nothing_is_a_warning_and_the_run_says_so(repo):
    (repo / "a.txt").write_text("a")
    done = cli(repo, "record", "--name", "w", "--output", "a.txt", "--output", "nothing/*.png")
    assert done.code == 0
    assert done.err == "warning: no file matches the output 'nothing/*.png'; the run keeps the outputs that exist\n"
    assert flexgit.show("w", repo=repo).run.meta["outputs_missing"] == ["nothing/*.png"]


@pytest.mark.parametrize("make, name", [
    (lambda repo, tmp: None, "../elsewhere.txt"),
    (lambda repo, tmp: (repo / "link.txt").symlink_to(tmp / "secret.txt"), "link.txt"),
    (lambda repo, tmp: (repo / "linked").symlink_to(tmp, target_is_directory=True), "linked/secret.txt"),
    (lambda repo, tmp: None, str(os.path.abspath(os.sep + "etc" + os.sep + "hostname"))),
    (lambda repo, tmp: None, ".git/config"),
    # names a run's reader never writes back (project/checkpoints.is_clean_path): kept, they would be lost
    (lambda repo, tmp: (repo / "a\nb.txt").write_text("x"), "a\nb.txt"),
    (lambda repo, tmp: (repo / "odd\\name.txt").write_text("x"), "odd\\name.txt"),
    (lambda repo, tmp: [(repo / "out").mkdir(), (repo / "out" / "ok.txt").write_text("x"),
                        (repo / "out" / "\x1b[31mred").write_text("x")], "out/*"),
    (lambda repo, tmp: os.mkfifo(repo / "pipe"), "pipe"),  # named outright: not a file, not a missing one
])
def test_an_output_outside_the_working_tree_or_a_link_to_outside_is_refused_and_nothing_written(repo, tmp_path, make,
                                                                                                 name):
    (tmp_path / "secret.txt").write_text("not yours")
    make(repo, tmp_path)
    before = repo_state(repo)
    done = flexgit_in_process(repo, "record", "--output", name)
    assert done.code == 1
    assert done.err.startswith("Error: output ") and "nothing was recorded" in done.err
    assert len(done.err.strip().splitlines()) == 1
    after = repo_state(repo)
    assert after["refs"] == before["refs"]


def test_get_writes_an_output_or_an_artifact_and_never_replaces_a_different_file(repo, tmp_path):
    (repo / "model.pkl").write_bytes(b"\x00weights\xff")
    (repo / "named.bin").write_bytes(b"artifact")
    flexgit.record(name="r", outputs=[repo / "model.pkl"], artifacts={"model": repo / "named.bin"}, repo=repo)
    dest = tmp_path / "dest"
    dest.mkdir()
    assert flexgit.get("r", "model.pkl", dest=dest, repo=repo) == dest / "model.pkl"
    assert (dest / "model.pkl").read_bytes() == b"\x00weights\xff"
    assert flexgit.get("r", "model", dest=tmp_path / "m", repo=repo).read_bytes() == b"artifact"
    (tmp_path / "other").write_text("mine")
    with pytest.raises(InputError, match="exists; remove it or give another destination"):
        flexgit.get("r", "model.pkl", dest=tmp_path / "other", repo=repo)
    assert (tmp_path / "other").read_text() == "mine"
    missing = flexgit_in_process(repo, "get", "r", "nope.pkl")
    assert missing.code == 1
    assert missing.err == ("Error: run 'r' keeps no output or artifact 'nope.pkl'; it keeps model.pkl, model "
                           "('flexgit show r' lists them)\n")
    both = flexgit_in_process(repo, "get", "r", "model.pkl", "--checkpoint", "last")
    assert both.code == 2
    under_a_file = flexgit_in_process(repo, "get", "r", "model.pkl", "-o", str(tmp_path / "other" / "model.pkl"))
    assert under_a_file.code == 1 and under_a_file.err == (
        f"Error: cannot write '{tmp_path / 'other' / 'model.pkl'}': File exists ('{tmp_path / 'other'}')\n")


def test_flexgit_run_collects_outputs_from_its_checkout_also_when_the_command_fails(repo, tmp_path):
    project(repo)
    env = {"TMPDIR": str(tmp_path)}
    ok = cli(repo, "run", "--name", "ok", "--", sys.executable, "train.py", env=env)
    assert ok.code == 0, ok
    assert [f for f in tree(repo, "exp/ok") if "outputs" in f] == [".flexgit/outputs/model.pkl",
                                                                   ".flexgit/outputs/plots/loss.png"]
    assert not (repo / "model.pkl").exists()  # written in the run's checkout, never here
    failed = cli(repo, "run", "--name", "bad", "--", sys.executable, "train.py", "--fail", env=env)
    assert failed.code == 1
    assert "warning: no file matches the output 'model.pkl'" in failed.err
    run = flexgit.show("bad", repo=repo)
    assert run.run.status == "failed" and run.run.meta["outputs_missing"] == ["model.pkl"]
    assert [f.path for f in run.files] == ["plots/loss.png"]  # the partial outputs are kept
    assert git(repo, "show", "exp/bad:.flexgit/outputs/plots/loss.png") == "loss curve"


def test_flexgit_run_never_gives_its_command_the_outputs_of_the_working_tree(repo, tmp_path):
    project(repo)
    (repo / "plots").mkdir()
    (repo / "plots" / "old.png").write_text("an old plot")
    (repo / "model.pkl").write_text("my model")
    (repo / "train.py").write_text(TRAIN + "open('model.pkl', 'w').write('new')\nopen('plots/x.png', 'w')\n")
    done = cli(repo, "run", "--name", "iso", "--", sys.executable, "train.py", env={"TMPDIR": str(tmp_path)})
    assert done.code == 0, done
    assert (repo / "model.pkl").read_text() == "my model"  # not written through a link
    assert sorted(os.listdir(repo / "plots")) == ["old.png"]
    assert [f.path for f in flexgit.show("iso", repo=repo).files] == ["model.pkl", "plots/loss.png", "plots/x.png"]


def test_flexgit_run_refuses_an_output_linked_outside_its_checkout_but_records_the_run(repo, tmp_path):
    project(repo, outputs='["model.pkl", "link.txt"]')
    (tmp_path / "outside.txt").write_text("secret")
    (repo / "train.py").write_text(TRAIN + f"import os\nos.symlink({str(tmp_path / 'outside.txt')!r}, 'link.txt')\n")
    done = cli(repo, "run", "--name", "l", "--", sys.executable, "train.py", env={"TMPDIR": str(tmp_path)})
    assert done.code == 0, done
    assert "warning: output link.txt (a symbolic link to" in done.err
    run = flexgit.show("l", repo=repo)
    assert [f.path for f in run.files] == ["model.pkl"] and run.run.meta["outputs_refused"][0].startswith("link.txt")


def test_checkout_writes_the_outputs_and_back_removes_them(repo, tmp_path):
    project(repo)
    (repo / "model.pkl").write_text("trained")
    flexgit.record(name="r", outputs=[repo / "model.pkl"], repo=repo)
    (repo / "model.pkl").unlink()
    done = cli(repo, "checkout", "r")
    assert done.code == 0, done
    assert "wrote the run's 1 outputs (model.pkl)" in done.out
    assert (repo / "model.pkl").read_text() == "trained"
    assert cli(repo, "checkout", "--back").code == 0
    assert not (repo / "model.pkl").exists()
    worktree = cli(repo, "checkout", "r", "--worktree", str(tmp_path / "wt"))
    assert worktree.code == 0 and (tmp_path / "wt" / "model.pkl").read_text() == "trained"


def test_checkout_refuses_to_replace_a_different_output_and_writes_nothing(repo):
    project(repo)
    (repo / "model.pkl").write_text("trained")
    flexgit.record(name="r", outputs=[repo / "model.pkl"], repo=repo)
    (repo / "model.pkl").write_text("a newer model")
    before = repo_state(repo)
    done = flexgit_in_process(repo, "checkout", "r")
    assert done.code == 1
    assert done.err.startswith("Error: model.pkl is here and differs from the output of run 'r'")
    assert repo_state(repo) == before and (repo / "model.pkl").read_text() == "a newer model"


def test_settings_outputs_and_lfs_threshold_are_checked(repo):
    (repo / ".flexgit.toml").write_text("outputs = 3\n")
    done = flexgit_in_process(repo, "record")
    assert done.code == 1 and "'outputs' in" in done.err and "must be a string or a list of strings" in done.err
    (repo / ".flexgit.toml").write_text('lfs_threshold = "lots"\n')
    done = flexgit_in_process(repo, "record")
    assert done.code == 1 and "'lfs_threshold' in" in done.err and '"none" for no limit' in done.err


def test_a_pulled_tree_cannot_make_get_or_checkout_write_into_git_or_outside(repo, tmp_path):
    from flexgit.storage.gitrepo import GitRepo
    from flexgit.storage.run import Run
    from flexgit.storage.runfiles import find_file, placed_files, run_files

    def plumbing(*args: str, text: str) -> str:  # git mktree takes names git would never check out
        return subprocess.run(["git", *args], cwd=repo, input=text, capture_output=True, text=True,
                              check=True).stdout.strip()

    blob = plumbing("hash-object", "-w", "--stdin", text="evil")
    hooks = plumbing("mktree", text=f"100644 blob {blob}\tpost-checkout\n")
    dot_git = plumbing("mktree", text=f"040000 tree {hooks}\thooks\n")
    outputs = plumbing("mktree", text=f"040000 tree {dot_git}\t.GIT\n100644 blob {blob}\t..\n"
                                      f"100644 blob {blob}\tok.txt\n")
    inner = plumbing("mktree", text=f"040000 tree {outputs}\toutputs\n")
    top = plumbing("mktree", text=f"040000 tree {inner}\t.flexgit\n")
    gitrepo = GitRepo.open(repo)
    assert [f.path for f in run_files(gitrepo, top, "outputs")] == ["ok.txt"]
    assert find_file(gitrepo, top, "outputs", ".GIT/hooks/post-checkout") is None
    placed = placed_files(gitrepo, Run(name="hostile"), top, tmp_path / "target", "outputs")
    assert [dest for _, dest in placed] == [tmp_path / "target" / "ok.txt"]


def test_an_interrupted_run_keeps_the_outputs_written_so_far(repo, tmp_path):
    project(repo, outputs='["partial.txt", "model.pkl"]')
    ready = tmp_path / "ready"
    (repo / "train.py").write_text(
        "import sys, time\nopen('partial.txt', 'w').write('epoch 1')\n"
        f"open({str(ready)!r}, 'w').write('x')\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-m", "flexgit", "run", "--name", "cut", "--", sys.executable, "train.py"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp_path)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = flexgit.show("cut", repo=repo)
    assert run.run.status == "interrupted" and run.run.meta["outputs_missing"] == ["model.pkl"]
    assert [f.path for f in run.files] == ["partial.txt"]
    assert git(repo, "show", "exp/cut:.flexgit/outputs/partial.txt") == "epoch 1"


def test_a_pulled_runs_links_and_submodules_under_outputs_are_not_files_it_keeps(tmp_path):
    victim = pulled_run(tmp_path, [("100644", "blob", b"fine", "ok.txt"), ("120000", "blob", b"/etc/passwd", "link"),
                                   ("160000", "commit", "b" * 40, "gitlink")])
    assert [f.path for f in flexgit.show("hostile", repo=victim).files] == ["ok.txt"]
    for name in ("link", "gitlink"):
        done = flexgit_in_process(victim, "get", "hostile", name, "-o", str(tmp_path / "out"))
        assert done.code == 1 and done.err == (f"Error: run 'hostile' keeps no output or artifact '{name}'; it keeps "
                                               "ok.txt ('flexgit show hostile' lists them)\n"), done
    assert not (tmp_path / "out").exists()
    done = cli(victim, "checkout", "hostile", "--worktree", str(tmp_path / "wt"))
    assert done.code == 0, done
    assert (tmp_path / "wt" / "ok.txt").read_text() == "fine"
    assert not os.path.lexists(tmp_path / "wt" / "link") and not os.path.lexists(tmp_path / "wt" / "gitlink")


def test_a_small_output_that_reads_as_a_git_lfs_pointer_comes_back_as_it_is(repo, tmp_path):
    """A project's git-lfs file never fetched is a pointer file in the working tree; kept as a plain
    blob, it would be read back as the pointer it looks like, and `get` would look for its content."""
    content = ("version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 12\n").encode()
    (repo / "weights.bin").write_bytes(content)
    flexgit.record(name="p", outputs=[repo / "weights.bin"], repo=repo)
    (kept,) = flexgit.show("p", repo=repo).files
    assert kept.size == len(content)
    got = flexgit_in_process(repo, "get", "p", "weights.bin", "-o", str(tmp_path / "back.bin"))
    assert got.code == 0, got
    assert (tmp_path / "back.bin").read_bytes() == content


def test_the_cost_of_many_outputs_grows_with_their_number_not_its_square(repo, monkeypatch):
    """Each output used to become a glob that every new file of the snapshot was matched against:
    10,000 outputs cost 50 million matches (15 s). Counted, not timed: matches per output stay few."""
    import fnmatch

    (repo / "many").mkdir()
    for i in range(2000):
        (repo / "many" / f"f{i}.txt").write_text(str(i))
    calls = 0
    real = fnmatch.fnmatchcase

    def counted(name, pattern):
        nonlocal calls
        calls += 1
        return real(name, pattern)

    monkeypatch.setattr(fnmatch, "fnmatchcase", counted)
    flexgit.record(name="many", outputs=[repo / "many"], repo=repo)
    assert len(flexgit.show("many", repo=repo).files) == 2000
    assert not [path for path in tree(repo, "exp/many") if path.startswith("many/")]  # outputs, not code
    assert calls < 20 * 2000, calls
