"""Project settings in .flexgit.toml or [tool.flexgit] of pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

import flexgit
from conftest import flexgit as cli, git, repo_state

HINT = ('to keep such files, raise max_file_size in .flexgit.toml (e.g. max_file_size = "100MB", or "none" for no '
        'limit)')


def test_settings_name_the_branch_and_the_files_record_reads(repo):
    (repo / ".flexgit.toml").write_text('branch = "sweeps"\nconfig = "params.toml"\nresults = ["metrics.json"]\n')
    (repo / "params.toml").write_text("lr = 0.1\n")
    (repo / "metrics.json").write_text('{"acc": 0.9}')
    result = cli(repo, "record", "--name", "s1")
    assert result.out == f"recorded s1 ({flexgit.show('s1', repo=repo).run.short_id}) on sweeps\n"
    run = flexgit.show("s1", repo=repo).run
    assert run.params == {"lr": 0.1} and run.metrics == {"acc": 0.9}
    assert cli(repo, "table", "--format", "csv", "--columns", "name,lr").out == "name,params.lr\ns1,0.1\n"
    # Explicit options win over the settings.
    (repo / "other.toml").write_text("lr = 0.5\n")
    assert cli(repo, "record", "--name", "s2", "-c", "other.toml", "--branch", "experiments").code == 0
    assert flexgit.show("s2", repo=repo).run.params == {"lr": 0.5}
    assert git(repo, "rev-parse", "experiments").strip() == flexgit.show("s2", repo=repo).run.id


def test_pyproject_tool_table_and_missing_files(repo):
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.flexgit]\nresults = "metrics.json"\n')
    assert cli(repo, "record", "--name", "p1", "-m", "acc=1").code == 0  # metrics.json does not exist yet
    (repo / "metrics.json").write_text('{"loss": 0.2}')
    assert cli(repo, "record", "--name", "p2").code == 0
    assert flexgit.show("p2", repo=repo).run.metrics == {"loss": 0.2}


def test_bad_settings_are_one_clear_error(repo):
    (repo / ".flexgit.toml").write_text("colour = 'blue'\n")
    before = repo_state(repo)
    result = cli(repo, "record")
    assert result.code == 1 and result.err.startswith("Error: unknown setting colour in ")
    (repo / ".flexgit.toml").write_text("branch = \n")
    assert cli(repo, "table").err.startswith("Error: settings file ")
    assert repo_state(repo)["refs"] == before["refs"]


def test_init_writes_a_commented_default_once(repo):
    result = cli(repo, "init")
    assert result.code == 0 and "wrote .flexgit.toml" in result.out
    text = (repo / ".flexgit.toml").read_text()
    assert text.startswith("# flexgit project settings") and 'branch = "experiments"' in text
    (repo / ".flexgit.toml").write_text('branch = "mine"\n')
    assert "wrote" not in cli(repo, "init").out
    assert (repo / ".flexgit.toml").read_text() == 'branch = "mine"\n'
    assert git(repo, "rev-parse", "--verify", "mine").strip()


def test_snapshot_include_exclude_and_max_file_size(repo):
    (repo / ".flexgit.toml").write_text('exclude = ["scratch/*"]\nmax_file_size = "1KB"\n')
    (repo / "scratch").mkdir()
    (repo / "scratch" / "notes.txt").write_text("private\n")
    (repo / "model.py").write_text("x = 1\n")
    (repo / "big.ckpt").write_bytes(b"\x01" * 5000)
    (repo / "train.py").write_text("print('changed')\n" + "#" * 2000)  # tracked, now too large
    before = repo_state(repo)
    result = cli(repo, "record", "--name", "f1")
    assert result.code == 0, result
    warning = "warning: left out of the snapshot, larger than max_file_size: "
    assert sorted(result.err.splitlines()[:2]) == [warning + "big.ckpt (5000 bytes)", warning + "train.py (2017 bytes)"]
    assert result.err.splitlines()[2:] == [HINT]
    paths = git(repo, "ls-tree", "-r", "--name-only", "exp/f1").split()
    assert "model.py" in paths and "big.ckpt" not in paths and "scratch/notes.txt" not in paths
    assert git(repo, "show", "exp/f1:train.py") == "print('training')\n"  # the committed version stays
    assert sorted(flexgit.show("f1", repo=repo).run.meta["left_out"]) == ["big.ckpt (5000 bytes)",
                                                                            "train.py (2017 bytes)"]
    big_blob = git(repo, "hash-object", "big.ckpt").strip()
    assert subprocess.run(["git", "cat-file", "-e", big_blob], cwd=repo).returncode != 0  # never stored
    assert repo_state(repo)["index"] == before["index"]


def test_a_default_size_limit_keeps_large_files_out_and_says_how_to_change_it(repo):
    limit = 10 * 1024 ** 2
    (repo / "pretrained.bin").write_bytes(b"\0" * (limit + 1))
    (repo / "exactly.bin").write_bytes(b"\0" * limit)
    result = cli(repo, "record", "--name", "d1")
    assert result.code == 0, result
    assert result.err.splitlines() == [f"warning: left out of the snapshot, larger than max_file_size: "
                                       f"pretrained.bin ({limit + 1} bytes)", HINT]
    paths = git(repo, "ls-tree", "-r", "--name-only", "exp/d1").split()
    assert "exactly.bin" in paths and "pretrained.bin" not in paths
    assert flexgit.show("d1", repo=repo).run.meta["left_out"] == [f"pretrained.bin ({limit + 1} bytes)"]
    ran = cli(repo, "run", "--name", "d2", "--", sys.executable, "-c", "pass")
    assert ran.code == 0 and ran.err.startswith("warning: left out of the snapshot, larger than max_file_size: "
                                                "pretrained.bin"), ran
    assert HINT in ran.err.splitlines()
    assert flexgit.show("d2", repo=repo).run.meta["left_out"] == [f"pretrained.bin ({limit + 1} bytes)"]
    (repo / ".flexgit.toml").write_text('max_file_size = "None"\n')  # no limit
    result = cli(repo, "record", "--name", "d3")
    assert result.code == 0 and result.err == ""
    assert "pretrained.bin" in git(repo, "ls-tree", "-r", "--name-only", "exp/d3").split()


def test_the_default_settings_file_documents_the_size_limit(repo):
    assert cli(repo, "init").code == 0
    text = (repo / ".flexgit.toml").read_text()
    assert '"10MB"' in text and '"none" for no limit' in text
    (repo / "big.bin").write_bytes(b"\1" * (10 * 1024 ** 2 + 1))
    assert "big.bin" in cli(repo, "record").err  # the default applies with the default file


def test_include_limits_new_files_and_bad_sizes_are_refused(repo):
    (repo / ".flexgit.toml").write_text('include = ["src/*"]\n')
    (repo / "src").mkdir()
    (repo / "src" / "a.py").write_text("a = 1\n")
    (repo / "other.py").write_text("b = 2\n")
    assert cli(repo, "record", "--name", "i1").code == 0
    paths = git(repo, "ls-tree", "-r", "--name-only", "exp/i1").split()
    assert "src/a.py" in paths and "other.py" not in paths and "train.py" in paths
    (repo / ".flexgit.toml").write_text('max_file_size = "lots"\n')
    assert cli(repo, "record").err.startswith("Error: 'max_file_size' in ")


def test_what_a_settings_file_read_as_is_kept_with_its_text_and_never_served_for_another(repo):
    """The hook's process reads settings it read before without a TOML parser; an edit (even of the
    same length in the same instant), a broken cache or a value JSON cannot hold is read afresh."""
    from flexgit.project import settings as settings_module
    from flexgit.project.files import write_sealed

    cache = repo / ".git" / "flexgit.d"
    (repo / ".flexgit.toml").write_text('results = ["a.json"]\nbranch = "exp-a"\n')
    # Whether the file was parsed: the parser is counted (not looked for in sys.modules, where a
    # coverage run's own reading of pyproject.toml puts tomllib).
    probe = ("import sys; from pathlib import Path; from flexgit.project import settings\n"
             "parsed = []\n"
             "def counted(text, parse=settings.loads_toml):\n    parsed.append(1)\n    return parse(text)\n"
             "settings.loads_toml = counted\n"
             "s = settings.load_settings(Path('.'), Path(sys.argv[1]))\n"
             "print(s.branch, s.results, bool(parsed))")

    def read():
        done = subprocess.run([sys.executable, "-c", probe, str(cache)], cwd=repo, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split(" ", 1)[0], done.stdout.strip().rsplit(" ", 1)[1]

    assert read() == ("exp-a", "True")  # parsed, then kept
    assert read() == ("exp-a", "False")  # served: not parsed
    (repo / ".flexgit.toml").write_text('results = ["a.json"]\nbranch = "exp-b"\n')  # same length
    assert read() == ("exp-b", "True")
    write_sealed(cache / settings_module.PARSED_CACHE, b'{"path": ".flexgit.toml", "text": 1}')
    assert read() == ("exp-b", "True")
    (cache / settings_module.PARSED_CACHE).write_bytes(b"garbage")
    assert read() == ("exp-b", "True")
    (repo / ".flexgit.toml").write_text('branch = "exp-c"\nwhen = 2026-01-01T00:00:00Z\n')
    for _ in range(2):  # a date: never kept, so parsed each time (and refused as an unknown setting)
        done = subprocess.run([sys.executable, "-c", probe, str(cache)], cwd=repo, capture_output=True, text=True)
        assert "unknown setting when" in done.stderr
