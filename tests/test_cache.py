"""The derived caches of `table`: never stale, never needed, rebuilt from git at will."""

from __future__ import annotations

import datetime as dt

import json
import marshal
import os
import shutil
import subprocess
import sys
import threading

import pytest

import flexgit
from conftest import flexgit as cli, flexgit_in_process, git
from flexgit.project.files import write_sealed
from flexgit.storage import runcache

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
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    later = '{"v":1,"t":"%s","metrics":{"acc":5}}' % soon  # newer than the run, not beyond the clock's slack
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
    tree, entries = runcache.load(cache)
    assert tree == git(repo, "rev-parse", "refs/notes/flexgit^{tree}").strip()
    runcache.save(cache, "0" * 40, entries)
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


# -- corruption: a cache is checked before it is served (issue 14, item 17) ----------------------


def table_csv(repo):
    result = flexgit_in_process(repo, *CSV)
    assert result.code == 0 and "internal error" not in result.err, result
    return result.out


def three_runs(repo):
    for name, acc in (("a", 0.5), ("b", 0.25), ("c", 0.125)):
        record(repo, name, acc)
    expected = table_csv(repo)
    assert expected == "name,metrics.acc\na,0.5\nb,0.25\nc,0.125\n"
    return expected


def positions(size, trials=40):
    return range(0, size, max(1, size // trials))


def test_bit_flips_in_the_run_cache_are_never_served(repo):
    expected = three_runs(repo)
    cache = next((repo / ".git" / "flexgit.d").glob("runs-v1.*"))
    good = cache.read_bytes()
    for trial, position in enumerate(positions(len(good))):
        flipped = bytearray(good)
        flipped[position] ^= 1 << (trial % 8)
        cache.write_bytes(bytes(flipped))
        shutil.rmtree(repo / ".git" / "flexgit.d" / "tables", ignore_errors=True)
        assert table_csv(repo) == expected, f"flipped bit {trial % 8} of byte {position}"
        assert runcache.load(cache) is not None  # rebuilt from git


def test_corrupt_text_cache_is_never_printed(repo):
    expected = three_runs(repo)
    text_file, = (repo / ".git" / "flexgit.d" / "tables").iterdir()
    good = text_file.read_bytes()
    for trial, position in enumerate(positions(len(good))):
        flipped = bytearray(good)
        flipped[position] ^= 1 << (trial % 8)
        text_file.write_bytes(bytes(flipped))
        assert table_csv(repo) == expected, f"flipped bit {trial % 8} of byte {position}"
    text_file.write_bytes(good[:len(good) // 2])  # torn
    assert table_csv(repo) == expected


def wrong_shapes(tree, blob):
    """Files of valid frames holding values of the wrong shape (as lists of values, one per frame)."""
    entry = ["0" * 40, "2026-01-01T00:00:00.000000Z", "experiments", {"name": "x", "id": "0" * 10}, marshal.dumps({}),
             False, []]
    head = {"format": runcache.CACHE_FORMAT, "tree": tree, "frames": 1}
    return [
        [[1, 2, 3]],
        [head, [[1, 2]]],
        [head, [entry[:3] + [{"name": 3}] + entry[4:]]],
        [head, [entry[:4] + ["not bytes"] + entry[5:]]],
        [head, [entry[:5] + [0, []]]],  # removed not a bool
        [head, [entry[:6] + [[["t", 3]]]]],  # a note not text
        [head, [entry[:5]]],  # format 2's entry
        [head, {"a": 1}],
        [head],  # a frame missing
        [head, [entry], [entry]],  # a frame too many
        [{**head, "frames": "1"}, [entry]],
        [{**head, "tree": 7}, []],
        [{**head, "tree": blob}, [entry]],  # a blob, not a tree
        [{"format": 4, "tree": tree, "entries": [entry]}],  # the format before frames
        [{**head, "order": True}, [entry]],  # the order missing
        [{**head, "order": True}, [entry], [1]],  # an order that is not a permutation
        [{**head, "order": True}, [entry], [0, 0]],
        [{**head, "order": True}, [entry], [True]],
        [{**head, "order": True}, [entry], [0], [0]],  # a frame too many
        [{**head, "order": 1}, [entry]],
    ]


@pytest.mark.parametrize("sealed", [False, True])
def test_valid_marshal_data_of_the_wrong_shape_is_a_miss(repo, sealed):
    expected = three_runs(repo)
    cache = next((repo / ".git" / "flexgit.d").glob("runs-v1.*"))
    tree = git(repo, "rev-parse", "refs/notes/flexgit^{tree}").strip()
    blob = git(repo, "rev-parse", "HEAD:train.py").strip()
    for shape in wrong_shapes(tree, blob) + [[{**wrong_shapes(tree, blob)[1][0], "format": 1}, [[1, 2]]]]:
        if sealed:
            cache.write_bytes(b"".join(runcache.frames(shape)))
        else:  # plain marshal, as older caches were
            cache.write_bytes(b"".join(marshal.dumps(value) for value in shape))
        shutil.rmtree(repo / ".git" / "flexgit.d" / "tables", ignore_errors=True)
        assert table_csv(repo) == expected, shape
        assert flexgit_in_process(repo, "show", "b").code == 0


def test_corrupt_data_hash_cache_is_hashed_again(repo):
    (repo / "data").mkdir()  # ignored by the test repository's .gitignore
    (repo / "data" / "train.csv").write_text("x,y\n1,2\n")
    params = {"train_path": "data/train.csv"}
    digest = flexgit.record(name="d1", params=params, repo=repo).data["train_path"]["sha256"]
    cache = repo / ".git" / "flexgit.d" / "data-hashes.json"
    good = cache.read_bytes()
    assert digest.encode() in good
    cache.write_bytes(good.replace(digest.encode(), b"0" * 64))  # still valid JSON, a wrong digest
    assert flexgit.record(name="d2", params=params, repo=repo).data["train_path"]["sha256"] == digest
    key = str((repo / "data" / "train.csv").resolve())
    stat = (repo / "data" / "train.csv").stat()
    signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    for number, shape in enumerate([{key: signature}, {key: signature + [5]}, {key: signature + ["f" * 63]}, [1]]):
        data = json.dumps(shape).encode()
        for sealed in (False, True):
            write_sealed(cache, data) if sealed else cache.write_bytes(data)
            run = flexgit.record(name=f"shape-{number}-{sealed}", params=params, repo=repo)
            assert run.data["train_path"]["sha256"] == digest


def test_entries_are_ordered_by_time_then_name_also_when_times_tie():
    def entry(time, name):
        return runcache.entry_of("0" * 40, {"t": time, "name": name, "branch": "experiments"})

    entries = [entry("2026-01-01T00:00:02Z", "b")]
    runcache.add_entries(entries, [entry("2026-01-01T00:00:03Z", "z"), entry("2026-01-01T00:00:01Z", "y")])
    assert [runcache.order(e) for e in entries] == [("2026-01-01T00:00:01Z", "y"), ("2026-01-01T00:00:02Z", "b"),
                                                    ("2026-01-01T00:00:03Z", "z")]
    tied = [entry("2026-01-01T00:00:05Z", name) for name in ("m", "c", "x")] + [entry("2026-01-01T00:00:04Z", "q")]
    runcache.add_entries(entries, tied)
    assert [runcache.order(e)[1] for e in entries] == ["y", "b", "z", "q", "c", "m", "x"]


def test_a_cache_written_as_read_loads_in_order_also_when_a_child_process_writes_it(tmp_path, monkeypatch):
    def entry(time, name):
        return runcache.entry_of("0" * 40, {"t": time, "name": name, "branch": "experiments"})

    read = [entry("2026-01-01T00:00:05Z", "m"), entry("2026-01-01T00:00:02Z", "b"),
            entry("2026-01-01T00:00:05Z", "c"), entry("2026-01-01T00:00:01Z", "y")]
    expected: list = []
    runcache.add_entries(expected, list(read))
    path = tmp_path / "runs"
    assert runcache.save_as_read(path, "1" * 40, list(read)) == expected  # sorted as add_entries sorts
    assert runcache.load(path) == ("1" * 40, expected)
    assert list(tmp_path.iterdir()) == [path]

    monkeypatch.setattr(runcache, "WRITE_ASIDE_FROM", 1)
    assert runcache.save_as_read(path, "2" * 40, list(read)) == expected
    writers = [t for t in threading.enumerate() if t.name == "flexgit-run-cache"]
    assert writers  # the write went to a child process, which this thread waits for
    for writer in writers:
        writer.join(30)
    assert runcache.load(path) == ("2" * 40, expected)
    assert list(tmp_path.iterdir()) == [path]


def test_a_process_that_writes_its_cache_aside_prints_once_and_waits_for_it(tmp_path):
    """The child writing the cache leaves without flushing what the parent had not printed yet, and
    the parent waits for it before exiting."""
    script = f"""
import sys
from pathlib import Path
from flexgit.storage import runcache
runcache.WRITE_ASIDE_FROM = 1
sys.stdout.write("before ")
entries = [runcache.entry_of("0" * 40, {{"t": "2026-01-01T00:00:0%dZ" % i, "name": "r%d" % i}}) for i in range(3)]
runcache.save_as_read(Path({str(tmp_path / "runs")!r}), "1" * 40, entries[::-1])
print("after")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "before after\n"
    tree, entries = runcache.load(tmp_path / "runs")
    assert tree == "1" * 40 and [e[runcache.ROW]["name"] for e in entries] == ["r0", "r1", "r2"]
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]  # no temporary file: the child had finished


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary_one(tmp_path):
    from flexgit.project.files import write_atomic

    path = tmp_path / "cache"
    write_atomic(path, b"old")

    def parts():
        yield b"new, half"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(path, parts())
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["cache"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads a child's descriptors from /proc (Linux)")
def test_the_child_writing_the_cache_holds_none_of_the_commands_pipes(tmp_path):
    script = f"""
import os, sys, time
from pathlib import Path
from flexgit.storage import runcache
runcache.WRITE_ASIDE_FROM = 1
entries = [runcache.entry_of("%040x" % i, {{"t": "2026-01-01T00:00:00Z", "name": "r%d" % i, "meta": {{"k": i}}}})
           for i in range(300000)]
runcache.save_as_read(Path({str(tmp_path / "runs")!r}), "1" * 40, entries)
seen = []
for _ in range(2000):
    kids = open(f"/proc/self/task/{{os.getpid()}}/children").read().split()
    if not kids:
        break
    try:
        seen.append(os.readlink(f"/proc/{{kids[0]}}/fd/1"))
    except OSError:
        break
    time.sleep(0.001)
print(seen[-1] if seen else "", file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stderr.strip().splitlines()[-1] == "/dev/null", done.stderr  # the child's stdout, last seen
