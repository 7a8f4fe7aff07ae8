"""`flexgit report`: one self-contained HTML file, its data, its escaping, its errors. (In a browser:
test_browser.py.)"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import flexgit
from conftest import flexgit as cli, flexgit_in_process as run_cli, git, make_repo, repo_state
from flexgit.storage.gitrepo import GitRepo
from flexgit.project.curves import HISTORY_POINTS, LOG_TAIL_LINES, _fast, _Irregular, _slow, curves, log_tail
from flexgit.storage.runcontents import CACHE, TEXT_LIMIT, RunFiles, Snapshots
from flexgit.view.query import Table
from flexgit.view.report import page, payload, script_json
from reportproject import XSS, XSS_IN, report_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return report_project(tmp_path_factory.mktemp("report") / "project")


def document_of(path: Path) -> dict:
    """The JSON the page embeds, read back as the page's script reads it."""
    text = path.read_text()
    found = re.search(r'<script type="application/json" id="flexgit-data" data-live="0">(.*?)</script>', text, re.S)
    assert found, "no data block"
    return json.loads(found.group(1))


def test_the_report_is_one_file_with_every_run(project, tmp_path):
    out = tmp_path / "report.html"
    done = cli(project, "report", "-o", str(out))
    assert done.code == 0, done
    assert done.out == f"wrote {out} (4 runs, {out.stat().st_size / 1024:,.0f} KiB)\n"
    document = document_of(out)
    names = [row[document["columns"].index("name")] for row in document["rows"]]
    assert sorted(names[:3]) == ["lr0.1", "lr0.3", "lr1"] and names[3] == "hostile"  # the sweep ran in parallel
    assert {"metrics.acc", "params.lr", "params.model", "status", "group"} <= set(document["columns"])
    by_name = dict(zip(names, document["details"], strict=True))
    swept = by_name["lr0.3"]
    block, = swept["history"]
    assert (block["step"], block["t"]) == (0, 1) and {"loss": 2, "acc": 3}.items() <= block["metrics"].items()
    rows = [row.split(",") for row in block["rows"].split(";")]
    assert [row[0] for row in rows] == [str(step) for step in range(41)]  # and the hostile curve's step 40
    assert float(rows[1][2]) == pytest.approx(1 / 1.3, rel=1e-5)
    stamps = [block["prefix"] + row[1] for row in rows]  # the times' shared start, then each one's rest
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", moment) for moment in stamps)
    assert swept["log"].splitlines() == ["trained: lr 0.3 width 64", XSS_IN["log"]]
    assert swept["files"] == ["checkpoints.jsonl", "config.toml", "environment.txt", "history.jsonl", "meta.toml",
                              "output.log", "results.toml"]
    lfs = shutil.which("git-lfs") is not None
    plot = len(f"final loss {1 / (1 + 0.3 * 39)}\n")
    assert swept["kept"] == [["outputs", "model.txt", 6400, lfs], ["outputs", "plots/loss.txt", plot, False],
                             ["checkpoints", "20/ckpt.txt", len("weights at step 20\n"), False]]
    environment = document["environments"][swept["environment"]]
    assert environment["pygit2"] and environment["click"]  # this interpreter's packages, as diff parses them
    assert swept["meta"]["exit_code"] == 0 and swept["changes"] == [["M", "params.toml"]]  # -S lr=0.3
    hostile = by_name["hostile"]
    assert hostile["changes"] == [["A", XSS_IN["file"]], ["M", "train.py"]]
    assert hostile["notes"][0][1] == XSS_IN["note"]
    assert hostile["history"] is None and hostile["log"] is None
    assert hostile["kept"] == [["outputs", f"plots/{XSS_IN['output']}", 5, False]]


def test_the_code_of_runs_is_there_once_and_only_where_it_differs(project, tmp_path):
    out = tmp_path / "report.html"
    assert cli(project, "report", "-o", str(out)).code == 0
    document = document_of(out)
    snapshots = document["snapshots"]
    numbers = [details["snapshot"] for details in document["details"]]
    assert sorted(numbers) == [0, 1, 2, 3] and len(snapshots["maps"]) == 4  # -S changed params.toml in each
    texts = {snapshots["paths"][files[i]]: files[i + 1] for files in snapshots["maps"] for i in range(0, len(files), 2)}
    embedded = {snapshots["paths"][m[i]] for m in snapshots["maps"] for i in range(0, len(m), 2)
                if str(m[i + 1]) in snapshots["texts"]}
    assert embedded == {"params.toml", "train.py", XSS_IN["file"]}  # .gitignore, .flexgit.toml are the same
    assert "train.py" in texts
    assert ".flexgit/meta.toml" not in snapshots["paths"]  # flexgit's own files are no code


def test_no_markup_from_a_user_reaches_the_file_unescaped(project, tmp_path):
    out = tmp_path / "report.html"
    assert cli(project, "report", "-o", str(out), "--title", XSS).code == 0
    text = out.read_text()
    assert "<img" not in text and "onerror=alert(1)>" not in text
    assert text.count("<script") == 2 and text.count("</script>") == 2  # the data block and the page's script
    assert "&lt;img src=x onerror=alert(1)&gt;</title>" in text
    document = document_of(out)
    flat = json.dumps(document)
    for place, markup in XSS_IN.items():
        assert markup in flat, place  # there, as data, for the script to show as text
    assert "\\u003cimg src=x" in text


def test_the_page_needs_nothing_from_the_network(project, tmp_path):
    out = tmp_path / "report.html"
    assert cli(project, "report", "-o", str(out)).code == 0
    text = out.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert "default-src 'none'" in text  # the browser itself refuses any request the page might make


def test_script_json_cannot_end_its_block():
    text = script_json({"a": "</script><script>alert(1)</script>", "b": "a & b > c", "c": "\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>", "b": "a & b > c", "c": "\u2028"}


def test_a_hand_built_run_named_with_markup_is_data_only():
    """No run name can hold markup (names are checked when written and when read), but the page must not
    depend on that: a row named so is escaped like any text."""
    table = Table(columns=("name", "id", "date", "message", "metrics.acc"),
                  rows=[{"name": XSS, "id": "0123456789", "date": "", "message": "", "metrics.acc": float("nan")}])
    document = payload(table, {}, Snapshots(), XSS, "experiments", "now")
    text = page(document, XSS).decode()
    assert "<img" not in text
    # NaN survives strict JSON as a marker the script reads
    assert document["rows"][0][document["columns"].index("metrics.acc")] == {"f": "nan"}


def lines_of(steps: list[dict]) -> bytes:
    return "".join(json.dumps(step) + "\n" for step in steps).encode()


def stamp(i: int) -> str:
    return f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.500000Z"


def test_history_is_thinned_and_carried_as_rows_of_text():
    points = HISTORY_POINTS[0]
    data = lines_of([{"step": i, "t": stamp(i), "metrics": {"loss": float("nan") if i == 3 else 1 / (i + 1),
                                                                "note": "text"}, "proc": "1@x"}
                     for i in range(2 * points)])
    block, = curves(data + b"{cut by a cra")
    rows = [row.split(",") for row in block["rows"].split(";")]
    assert len(rows) == points and rows[-1][0] == str(2 * points - 1)
    assert block["metrics"] == {"loss": 2}  # text is no curve
    assert block["prefix"] + rows[1][1] == stamp(2)  # every other step kept
    short, = curves(data[:data.index(b"\n", data.index(b'"step": 4,')) + 1])
    assert [row.split(",")[2] for row in short["rows"].split(";")] == ["1.0", "0.5", "0.333333", "nan", "0.2"]
    assert curves(b"not json\n") is None and curves(b"") is None


HISTORIES = {
    "plain": [{"step": i, "t": stamp(i), "metrics": {"loss": 1 / (i + 1), "acc": i * 0.1}, "proc": "1@x"}
              for i in range(50)],
    "system lines between": [{"step": None if i % 3 == 0 else i, "t": stamp(i), "proc": "1@x", "metrics": (
        {"sys.cpu": 12.5 * i, "sys.rss": 10 ** 9 + i} if i % 3 == 0 else {"loss": 1e-7 * i, "big": 123456789.1234567})}
        for i in range(30)],
    "literals": [{"step": i, "t": stamp(i), "metrics": {"a": float("inf"), "b": -float("inf"), "c": None, "d": True},
                  "proc": "1@x"} for i in range(5)],
    "a finish line": [{"step": i, "metrics": {"a": i}} for i in range(5)] + [{"t": "x", "finish": {"min": ["a"]}}],
    "text metric": [{"step": i, "t": stamp(i), "metrics": {"t": "x", "step": 3}, "proc": "1@x"} for i in range(5)],
    "long": [{"step": i, "t": stamp(i), "metrics": {"loss": 1 / (i + 1)}, "proc": "1@x"} for i in range(1000)],
}
IRREGULAR = {
    "a list": [{"step": i, "metrics": {"a": [1, 2]}} for i in range(5)],
    "keys change": [{"step": 1, "metrics": {"a": 1}}, {"step": 2, "metrics": {"a": 2, "b": 3}}],
    "keys swap": [{"step": 1, "metrics": {"a": 1, "b": 2}}, {"step": 2, "metrics": {"b": 3, "a": 4}}],
    "nested": [{"step": i, "metrics": {"a": {"x": i}}} for i in range(3)],
    "moved key": [{"step": 1, "metrics": {"a": 1}, "b": 2}, {"step": 2, "metrics": {"a": 1, "b": 2}}],
    "two processes": [{"step": i, "t": stamp(i), "metrics": {"loss": i}, "proc": f"{i % 2}@x"} for i in range(6)],
    "escapes": [{"step": i, "t": stamp(i), "metrics": {"lo\"ss": i}, "proc": "1@x"} for i in range(3)],
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_lines_of_one_shape_give_the_rows_json_gives(name):
    """The fast path (the whole group at once) and json line by line agree wherever the fast path answers."""
    data = lines_of(HISTORIES[name])
    assert _fast(data, 400) == _slow(data, 400)


@pytest.mark.parametrize("name", sorted(IRREGULAR))
def test_lines_of_other_shapes_go_to_json(name):
    data = lines_of(IRREGULAR[name])
    with pytest.raises(_Irregular):
        _fast(data, 400)
    found = curves(data, 400)
    assert found == _slow(data, 400)
    if name == "keys swap":  # each value under its own key, whatever the order
        block, = found
        assert block["rows"] == "1,1,2;2,4,3" and block["metrics"] == {"a": 1, "b": 2}


def test_the_log_tail_is_the_end_without_colour():
    data = "".join(f"\x1b[31mline {i}\x1b[0m\n" for i in range(LOG_TAIL_LINES + 50)).encode()
    tail = log_tail(data)
    assert tail.startswith("…\n") and tail.endswith(f"line {LOG_TAIL_LINES + 49}") and "\x1b" not in tail
    assert len(tail.splitlines()) == LOG_TAIL_LINES + 1


def test_histories_of_one_skeleton_but_other_text_each_get_their_own_shape():
    """Shapes are remembered by a first line without its digits; one that does not fit is found again."""
    for proc in ("1@x", "2@x", "12@x"):
        data = lines_of([{"step": i, "t": stamp(i), "metrics": {"loss": 1 / (i + 1)}, "proc": proc} for i in range(5)])
        assert _fast(data, 400) == _slow(data, 400)


def test_git_and_libgit2_read_the_same_run_contents(project, monkeypatch):
    """Many runs are read through `git cat-file`, a few by libgit2: the same entries either way, a commit
    that is not here (a pull under way) as None; without a git command, libgit2 reads them all."""
    import flexgit.storage.runcontents as runcontents

    repo = GitRepo.open(project)
    commits = [run.id for run in flexgit.list_runs(repo=project)] + ["0" * 40]
    files = RunFiles(repo)
    by_libgit2 = files._entries(files._stored(commits, lambda oids: iter(repo.raw_objects(oids))), 400, 4096)
    assert by_libgit2[-1] is None and len(by_libgit2) == 5 and all(by_libgit2[:-1])
    assert files._entries(files._stored(commits, files._by_git), 400, 4096) == by_libgit2
    monkeypatch.setattr(runcontents, "GIT_READ_FROM", 1)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert files._read(commits, 400, 4096) == by_libgit2


def test_binary_and_large_files_are_named_not_embedded(tmp_path):
    repo = make_repo(tmp_path / "project")
    for content in (b"\x00\x01one", b"\x00\x01two"):
        (repo / "weights.bin").write_bytes(content)
        (repo / "big.txt").write_text("x" * (TEXT_LIMIT + 1) + content.decode("latin-1"))
        assert cli(repo, "record", "-m", "acc=1").code == 0
    runs = flexgit.list_runs(repo=repo)
    _, snapshots = RunFiles(GitRepo.open(repo)).details(runs)
    assert snapshots.texts == {}
    too_large = f"{TEXT_LIMIT + 6:,} bytes: too large for the page"
    assert sorted(snapshots.omitted.values()) == [too_large, too_large, "binary", "binary"]


def test_where_and_branch_choose_the_runs(project, tmp_path):
    out = tmp_path / "best.html"
    done = cli(project, "report", "-o", str(out), "--where", "lr >= 0.3 and status = ok")
    assert done.code == 0, done
    document = document_of(out)
    assert sorted(row[document["columns"].index("name")] for row in document["rows"]) == ["lr0.3", "lr1"]
    assert len(document["details"]) == 2


def test_the_api_writes_the_same_report(project, tmp_path):
    done = flexgit.report(tmp_path / "api.html", repo=project, where="name = hostile")
    assert done.runs == 1 and done.path == tmp_path / "api.html"
    assert done.bytes == (tmp_path / "api.html").stat().st_size


@pytest.mark.parametrize("args, message", [
    (["-o", "."], "Error: '.' is a folder; name the report's file, e.g. -o report.html\n"),
    (["-o", "missing/r.html"],
     "Error: folder 'missing' does not exist; create it first or write the report elsewhere\n"),
    (["-o", "r.html", "--where", "acc >"], None),
    (["-o", "r.html", "--branch", "a..b"], None),
])
def test_bad_input_is_one_error_line_and_writes_nothing(project, args, message):
    git(project, "status")  # git refreshes the index's file times once after files were written
    before = repo_state(project)
    done = run_cli(project, "report", *args)
    assert done.code == 1 and done.err.startswith("Error: ") and len(done.err.splitlines()) == 1, done
    if message:
        assert done.err == message
    assert not (project / "r.html").exists()
    assert repo_state(project) == before


def test_outside_a_repository_is_one_error_line(tmp_path):
    done = run_cli(tmp_path, "report", "-o", "r.html")
    assert done.code == 1 and len(done.err.splitlines()) == 1 and not (tmp_path / "r.html").exists()


def test_a_report_reads_and_writes_nothing_in_the_repository(project, tmp_path):
    git(project, "gc", "-q")  # the derived caches exist; nothing else may change
    cli(project, "table")
    before = repo_state(project)
    assert cli(project, "report", "-o", str(tmp_path / "r.html")).code == 0
    assert repo_state(project) == before


def test_a_second_report_reads_its_cache_and_a_broken_cache_is_rebuilt(project, tmp_path):
    pages = [tmp_path / f"{n}.html" for n in range(3)]
    cache = project / ".git" / "flexgit.d" / CACHE
    cache.unlink(missing_ok=True)
    assert cli(project, "report", "-o", str(pages[0])).code == 0
    assert cache.stat().st_size > 0
    assert cli(project, "report", "-o", str(pages[1])).code == 0
    cache.write_bytes(cache.read_bytes()[:-100] + b"x" * 100)  # torn or foreign: never served
    assert cli(project, "report", "-o", str(pages[2])).code == 0
    documents = [{**document_of(page), "generated": ""} for page in pages]
    assert documents[0] == documents[1] == documents[2]
