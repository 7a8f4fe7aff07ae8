"""The git layer's own vocabulary, on real repositories."""

from __future__ import annotations

from flexgit.storage.gitrepo import GitRepo
from conftest import git


def test_changed_blobs_follows_adds_changes_removals_and_fanout_moves(repo):
    g = GitRepo.open(repo)
    a, b, c = (g.write_blob(text.encode()) for text in ("a", "b", "c"))
    old = g.update_tree(None, {"aa/x1": a, "aa/x2": b, "bb/y1": a, "flatname": c})
    new = g.update_tree(old, {"aa/x2": c, "bb/y1": None, "cc/z1": b, "flatname": None, "fl/atname": c})
    changed, removed = g.changed_blobs(old, new)
    assert sorted(changed) == [("aa/x2", c), ("cc/z1", b), ("fl/atname", c)]
    assert sorted(removed) == ["bb/y1", "flatname"]
    assert g.changed_blobs(new, new) == ([], [])


def test_update_tree_drops_emptied_subtrees(repo):
    g = GitRepo.open(repo)
    blob = g.write_blob(b"x")
    tree = g.update_tree(None, {"ab/cd": blob})
    assert g.update_tree(tree, {"ab/cd": None}) == g.update_tree(None, {})
    assert git(repo, "cat-file", "-t", tree).strip() == "tree"


def test_walk_blobs_lists_nested_paths(repo):
    g = GitRepo.open(repo)
    blob = g.write_blob(b"x")
    tree = g.update_tree(None, {"ab/cdef": blob, "top": blob, "ab/cd/ef": blob})
    assert sorted(path for path, _ in g.walk_blobs(tree)) == ["ab/cd/ef", "ab/cdef", "top"]


def test_cat_objects_gives_each_name_its_object_or_none(repo):
    g = GitRepo.open(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    blob = g.write_blob(b"one\ntwo\n")
    names = [blob, "0" * 40, f"{head}^{{tree}}", f"{head}:train.py", f"{head}:missing.py", head]
    found = list(g.cat_objects(names))
    assert found[0] == ("blob", b"one\ntwo\n") and found[1] is None and found[4] is None
    assert found[2] == ("tree", g.raw_objects([g.commit(head)[0]])[0])
    assert found[3] == ("blob", (repo / "train.py").read_bytes())
    assert found[5][0] == "commit" and found[5][1].startswith(b"tree ")
    assert list(g.cat_objects([])) == []
