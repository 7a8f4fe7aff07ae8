"""`flexgit fsck`: what is wrong with the runs of this clone, and `--repair` for what can be fixed safely.

It reports note lines that are skipped, runs whose name is missing or means another run, run
commits their branch lost, a write journal left behind, stale ref locks and corrupt caches.
A repair never deletes a run or a note: it finishes the journal's write, creates missing
names where they are free, joins lost run commits onto their branch with a merge commit,
and removes stale locks and bad caches (derived files, rebuilt on the next read).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from .._context import PathLike, open_store
from ..errors import BranchError
from ..storage import runcache
from ..storage.gitrepo import RefMoved
from ..storage.refs import BranchRef, is_known_run_name, is_valid_branch_name, run_ref
from ..storage.store import JOURNAL, Store
from ..project.files import read_sealed


@dataclass
class Finding:
    """One problem, and whether `--repair` fixed it."""

    text: str
    repaired: bool = False


@dataclass
class FsckReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing is left to fix (nothing was found, or all of it was repaired)."""
        return all(finding.repaired for finding in self.findings)


def fsck(repair: bool = False, repo: PathLike | None = None) -> FsckReport:
    """Check the runs of the repository; with `repair`, fix what can be fixed without losing anything."""
    store = open_store(repo)
    report = FsckReport()
    with store.repo.writer_lock():  # no flexgit write half done under our eyes
        journal = _journal(store, report, repair)
        _locks(store, report, repair)
        _caches(store, report, repair)
        problems: list[str] = []
        rows = store.note_rows(problems)
        report.findings += [Finding(f"note line skipped: {problem}") for problem in problems]
        _orphans(store, rows, report, repair)
        _names(store, rows, report, repair)
        if journal is not None:
            journal.repaired = repair and not store.has_journal()
    return report


def _journal(store: Store, report: FsckReport, repair: bool) -> Finding | None:
    if not store.has_journal():
        return None
    finding = Finding(f"an interrupted write left its journal (.git/flexgit.d/{JOURNAL})")
    report.findings.append(finding)
    if repair:
        store.complete_interrupted_write()
    return finding


def _locks(store: Store, report: FsckReport, repair: bool) -> None:
    for lock in store.repo.stale_locks():
        if repair:
            store.repo.remove_stale_lock(lock)
        report.findings.append(Finding(f"stale lock file .git/{lock} (left by a killed process)",
                                       repair and not (store.repo.common_dir / lock).exists()))


def _caches(store: Store, report: FsckReport, repair: bool) -> None:
    directory = store.repo.flexgit_dir(create=False)
    run_caches = [(path, runcache.load(path) is not None) for path in sorted(directory.glob("runs-v*"))]
    table_caches = [(path, read_sealed(path) is not None) for path in sorted((directory / "tables").glob("*"))]
    for path, good in run_caches + table_caches:
        if good:
            continue
        if repair:
            path.unlink(missing_ok=True)
        report.findings.append(Finding(f"corrupt cache {Path(path).relative_to(directory.parent)} "
                                       "(a derived file: rebuilt when removed)", repair and not path.exists()))


def _orphans(store: Store, rows: list[tuple[str, dict]], report: FsckReport, repair: bool) -> None:
    """Run commits that are not on the branch their note names (a write whose branch never moved)."""
    by_branch: dict[str, list[tuple[str, str]]] = {}
    for commit, row in rows:
        if not store.repo.is_commit(commit):
            report.findings.append(Finding(f"a note on {commit[:10]} ('{row['name']}'), which is not a commit "
                                           "in this clone (pruned, or never fetched)"))
        elif is_valid_branch_name(str(row.get("branch", ""))):
            by_branch.setdefault(str(row["branch"]), []).append((commit, str(row["name"])))
    for name, runs in sorted(by_branch.items()):
        branch = BranchRef(name)
        on_branch = store.repo.reachable([store.repo.ref_target(branch.ref) or ""])
        for commit, run in [(commit, run) for commit, run in runs if commit not in on_branch]:
            if repair and not _on_branch(store, branch, commit):
                with contextlib.suppress(BranchError):  # not flexgit's branch: reported, never written to
                    store.join_onto_branch(branch, commit)
            report.findings.append(Finding(f"run '{run}' ({commit[:10]}) is not on its branch '{name}' "
                                           "(an interrupted write)", repair and _on_branch(store, branch, commit)))


def _on_branch(store: Store, branch: BranchRef, commit: str) -> bool:
    tip = store.repo.ref_target(branch.ref)
    return tip is not None and store.repo.is_ancestor(commit, tip)


def _names(store: Store, rows: list[tuple[str, dict]], report: FsckReport, repair: bool) -> None:
    for commit, row in rows:
        name = str(row["name"])
        if not is_known_run_name(name) or not store.repo.is_commit(commit):
            continue
        target = store.name_target(name)
        if target == commit:
            continue
        if target is not None:
            report.findings.append(Finding(f"run {commit[:10]} is noted as '{name}', but that name means run "
                                           f"{target[:10]}; 'flexgit rename' one of them"))
            continue
        if repair:
            with contextlib.suppress(RefMoved):  # created meanwhile by plain git: reported as not repaired
                store.repo.set_ref(run_ref(name), commit, None, "flexgit: fsck --repair")
        report.findings.append(Finding(f"run '{name}' ({commit[:10]}) has no name ref (refs/exp/{name})",
                                       repair and store.name_target(name) == commit))
