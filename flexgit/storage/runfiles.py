"""The files a run keeps beside its code: outputs, artifacts and checkpoints, plain or through git-lfs.

They live under `.flexgit/` in the run's tree: `outputs/<path from the top of the working tree>`,
`artifacts/<name>` (FLEX's named files) and `checkpoints/<step>/<path>`. A file below the
project's `lfs_threshold` is a plain blob; one at or above it is a git-lfs pointer blob whose
content is in git-lfs's store (storage/lfs.py), unless git-lfs is not installed (then a plain
blob, and the run lists it in `not_in_lfs`). Reading content back fetches what this clone lacks
with `git lfs fetch`, from the remotes whose experiments branch holds the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple

from ..errors import FlexgitError, InputError, WriteError
from ..project.outputs import Found
from .gitrepo import GitRepo
from .refs import (
    ARTIFACTS_DIR,
    CHECKPOINTS_DIR,
    CHECKPOINTS_FILE,
    FLEXGIT_DIR,
    HISTORY_FILE,
    OUTPUTS_DIR,
    BranchRef,
)
from .run import Run

if TYPE_CHECKING:  # git-lfs and checkpoints are loaded by the functions that meet them: not by every record
    from ..project.checkpoints import Checkpoint
    from .lfs import Pointer

KINDS = (OUTPUTS_DIR, ARTIFACTS_DIR, CHECKPOINTS_DIR)


class KeptFile(NamedTuple):  # a named tuple, not a dataclass: every record imports this module
    """One file a run keeps: its kind (outputs, artifacts, checkpoints), its path inside that folder,
    its blob, the size of its content and, for a git-lfs file, its pointer."""

    kind: str
    path: str
    blob: str
    size: int
    lfs: Pointer | None = None

    @property
    def tree_path(self) -> str:
        return f"{FLEXGIT_DIR}/{self.kind}/{self.path}"


class Keeper:  # a plain class: every record imports it, and a dataclass costs ~0.5 ms to make
    """Stores the files of one run: plain blobs, or git-lfs pointers at or above `threshold` (None: never)."""

    def __init__(self, git: GitRepo, threshold: int | None):
        self.git, self.threshold = git, threshold
        self.not_in_lfs: list[str] = []  # large files kept plainly: git-lfs is not installed
        self._lfs: bool | None = None

    def keep(self, source: Path, label: str) -> str:
        """The blob id of `source`, stored as this keeper stores files."""
        try:
            size = source.stat().st_size
            if _reads_as_pointer(source, size):
                # kept plainly, it would be read back as a pointer to content nobody has: its content
                # goes to git-lfs's store, whatever its size, so that it comes back as it is
                from . import lfs

                return self.git.write_blob(lfs.store_file(self.git, source).to_bytes())
            if self.threshold is None or size < self.threshold:
                return self.git.write_blob_from_file(source)
            from . import lfs  # only for a large file

            if self._lfs is None:
                self._lfs = lfs.installed()
            if not self._lfs:
                self.not_in_lfs.append(label)
                return self.git.write_blob_from_file(source)
            return self.git.write_blob(lfs.store_file(self.git, source).to_bytes())
        except OSError as exc:
            raise WriteError(f"cannot keep '{label}': {exc.strerror or exc}; nothing was recorded") from None

    def keep_found(self, found: Found) -> dict[str, str]:
        """The tree entries (inside `.flexgit/`) of the outputs `found`."""
        return {f"{OUTPUTS_DIR}/{path}": self.keep(source, path) for path, source in found.files.items()}


def _reads_as_pointer(source: Path, size: int) -> bool:
    """True when the file's content is a git-lfs pointer (one not starting `version ` costs one read)."""
    with open(source, "rb") as read:
        start = read.read(8)
        if start != b"version ":
            return False
        from . import lfs

        return size <= lfs.MAX_POINTER_SIZE and lfs.Pointer.parse(start + read.read(lfs.MAX_POINTER_SIZE)) is not None


def take_checkpoints(git: GitRepo, history: bytes) -> tuple[bytes, dict[str, str], dict[str, int]]:
    """Split a run's pending history: the step lines it keeps as its history, the tree entries of its
    checkpoints (inside `.flexgit/`, their list included) and the meta that counts them (`checkpoints`,
    and `checkpoints_lost`: those whose stored file is no longer in the object database)."""
    if not history:
        return history, {}, {}
    from ..project.checkpoints import split_pending

    rest, found = split_pending(history)
    entries, kept, lost = {}, [], 0
    for checkpoint, blob in found:
        if not git.has_object(blob):
            lost += 1
            continue
        entries[f"{CHECKPOINTS_DIR}/{checkpoint.file}"] = blob
        kept.append(checkpoint)
    if kept:
        entries[CHECKPOINTS_FILE] = git.write_blob(b"".join(c.to_line() for c in kept))
    meta = {**({"checkpoints": len(kept)} if kept else {}), **({"checkpoints_lost": lost} if lost else {})}
    return rest, entries, meta


def run_files(git: GitRepo, tree: str, kind: str) -> list[KeptFile]:
    """The files of one kind that the run whose tree is `tree` keeps, sorted by path."""
    from ..project.checkpoints import is_clean_path
    from . import lfs
    from .lfs import Pointer

    folder = git.tree_entry(tree, f"{FLEXGIT_DIR}/{kind}")
    if folder is None or not git.is_tree(folder):
        return []
    files = []
    for path, blob in git.walk_blobs(folder, files_only=True):  # flexgit keeps files, never links
        if not is_clean_path(path):
            continue  # a name git itself refuses to check out (`..`, `.git`): never a path to write
        size = git.blob_size(blob)
        pointer = Pointer.parse(git.read_blob(blob)) if size <= lfs.MAX_POINTER_SIZE else None
        files.append(KeptFile(kind, path, blob, pointer.size if pointer else size, pointer))
    return sorted(files, key=lambda f: f.path)


def checkpoints(git: GitRepo, tree: str) -> list[Checkpoint]:
    """The checkpoints the run whose tree is `tree` keeps (from its checkpoints.jsonl)."""
    from ..project.checkpoints import parse_list

    blob = git.file_entry(tree, f"{FLEXGIT_DIR}/{CHECKPOINTS_FILE}")
    return parse_list(git.read_blob(blob)) if blob else []


def history(git: GitRepo, tree: str) -> bytes:
    blob = git.file_entry(tree, f"{FLEXGIT_DIR}/{HISTORY_FILE}")
    return git.read_blob(blob) if blob else b""


def find_file(git: GitRepo, tree: str, kind: str, path: str) -> KeptFile | None:
    """The file `path` of one kind that a run keeps, or None."""
    from ..project.checkpoints import is_clean_path
    from . import lfs
    from .lfs import Pointer

    if not is_clean_path(path.strip("/")):
        return None
    # a pulled tree may hold a link or a submodule there: not a file the run keeps
    blob = git.file_entry(tree, f"{FLEXGIT_DIR}/{kind}/{path.strip('/')}")
    if blob is None:
        return None
    size = git.blob_size(blob)
    pointer = Pointer.parse(git.read_blob(blob)) if size <= lfs.MAX_POINTER_SIZE else None
    return KeptFile(kind, path.strip("/"), blob, pointer.size if pointer else size, pointer)


def remotes_holding(git: GitRepo, run: Run) -> list[str]:
    """The configured remotes whose experiments branch, as last fetched, holds `run`."""
    from .remotes import Tracking  # only when content is missing: `record` need not load the sync code

    found, listed = git.try_git(["remote"])
    holding = []
    for remote in listed.split() if found else []:
        tracking = Tracking.of(git, remote, BranchRef.parse(run.branch))
        for ref in (tracking.branch, tracking.legacy_branch):
            tip = git.ref_target(ref)
            if tip and (tip == run.id or (git.is_commit(tip) and git.is_ancestor(run.id, tip))):
                holding.append(remote)
                break
    return holding


def ensure_content(git: GitRepo, run: Run, files: Iterable[KeptFile]) -> None:
    """Make sure this clone holds the git-lfs content of `files`: what it lacks is fetched with
    `git lfs fetch` from the remotes that hold the run. Raises, saying where to get it, when it cannot."""
    from . import lfs

    missing = [f for f in files if f.lfs and not lfs.has_object(git, f.lfs)]
    if not missing:
        return
    first = missing[0]
    what = (f"the content of {first.kind}/{first.path} of run '{run.name}' (git-lfs object "
            f"{first.lfs.oid[:12]}, {first.size} bytes)")
    if not lfs.installed():
        raise FlexgitError(f"{what} is stored with git-lfs, which is not installed here; {lfs.INSTALL_HINT}, "
                           "then try again")
    remotes = remotes_holding(git, run)
    failures = []
    for remote in remotes:
        done, detail = lfs.download(git, remote, run.id, [f.tree_path for f in missing])
        missing = [f for f in missing if not lfs.has_object(git, f.lfs)]
        if not missing:
            return
        failures.append(f"{remote}: {detail}" if detail else f"{remote} does not have it")
    if failures:
        raise FlexgitError(f"{what} is not in this clone and could not be fetched ({'; '.join(failures)}); the run "
                           f"came from {remotes[0]}: 'flexgit pull {remotes[0]}' when it is reachable, and make sure "
                           f"whoever recorded the run pushed it with flexgit ('flexgit push {remotes[0]}'), then "
                           "try again")
    found, listed = git.try_git(["remote"])
    configured = listed.split() if found else []
    where = (f"pull it from the remote it was pushed to ('flexgit pull {configured[0]}'"
             + (f"; remotes here: {', '.join(configured)}" if len(configured) > 1 else "") + "), then try again"
             if configured else "add the remote it was pushed to ('git remote add origin URL'), "
                                "'flexgit pull origin', then try again")
    raise FlexgitError(f"{what} is not in this clone and no remote here is known to have the run; {where}")


def read_bytes(git: GitRepo, run: Run, kept: KeptFile) -> bytes:
    """The content of `kept` (fetched first if this clone lacks it)."""
    import hashlib

    from . import lfs

    if kept.lfs is None:
        return git.read_blob(kept.blob)
    ensure_content(git, run, [kept])
    data = lfs.object_path(git, kept.lfs.oid).read_bytes()
    if hashlib.sha256(data).hexdigest() != kept.lfs.oid:
        raise _corrupt(git, kept)
    return data


def _corrupt(git: GitRepo, kept: KeptFile) -> FlexgitError:
    from . import lfs

    return FlexgitError(f"the git-lfs object {kept.lfs.oid[:12]} of {kept.path} is corrupt in this clone (its content "
                        f"does not match its id); delete {lfs.object_path(git, kept.lfs.oid)} and try again: it is "
                        "fetched anew")


def write_file(git: GitRepo, kept: KeptFile, dest: Path) -> None:
    """Write the content of `kept` (already in this clone) to `dest`: into a temporary file beside it,
    renamed into place, so `dest` is never half-written. git-lfs content is checked against its oid."""
    import hashlib

    from . import lfs

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder must be, a read-only place
        raise WriteError(f"cannot write '{dest}': {exc.strerror or exc} ('{exc.filename or dest.parent}')") from None
    temp = dest.with_name(f".{dest.name}.flexgit-{os.getpid()}")
    try:
        if kept.lfs is None:
            temp.write_bytes(git.read_blob(kept.blob))
        else:
            digest = hashlib.sha256()
            with open(lfs.object_path(git, kept.lfs.oid), "rb") as read, open(temp, "wb") as write:
                while chunk := read.read(lfs.CHUNK):
                    digest.update(chunk)
                    write.write(chunk)
            if digest.hexdigest() != kept.lfs.oid:
                raise _corrupt(git, kept)
        os.replace(temp, dest)
    except OSError as exc:
        raise WriteError(f"cannot write '{dest}': {exc.strerror or exc}") from None
    finally:
        temp.unlink(missing_ok=True)


def same_content(git: GitRepo, kept: KeptFile, path: Path) -> bool:
    """True when the file at `path` holds exactly the content of `kept`."""
    import hashlib

    from . import lfs

    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size != kept.size:
            return False
        if kept.lfs is None:
            return git.hash_file(path) == kept.blob
        digest = hashlib.sha256()
        with open(path, "rb") as read:
            while chunk := read.read(lfs.CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == kept.lfs.oid
    except OSError:
        return False


def last_checkpoints(git: GitRepo, tree: str) -> dict[str, KeptFile]:
    """The last checkpoint (highest step) of each path of the run whose tree is `tree`: path -> its file."""
    latest = {c.path: c for c in checkpoints(git, tree)}  # sorted by step: the last one wins
    found = {path: find_file(git, tree, CHECKPOINTS_DIR, c.file) for path, c in latest.items()}
    return {path: kept for path, kept in found.items() if kept is not None}


def resumable(git: GitRepo, run: Run) -> list[str]:
    """The paths of the last checkpoints of `run`, checked to be there to resume from, their content
    in this clone (fetched if not)."""
    last = last_checkpoints(git, git.commit(run.id)[0])
    if not last:
        raise InputError(f"run '{run.name}' has no checkpoints to resume from (flexgit.checkpoint keeps them); "
                         f"'flexgit show {run.name}' lists what it keeps")
    ensure_content(git, run, last.values())
    return sorted(last)


def placed_files(git: GitRepo, run: Run, tree: str, directory: Path, kind: str,
                 replace: bool = False) -> list[tuple[KeptFile, Path]]:
    """Where the outputs (or the last checkpoint of each path) of a run go in `directory`, a working
    tree or a checkout: each file at its path from the top. Refused when a folder on the way is a
    symbolic link, or (unless `replace`: a checkout of flexgit's own) when a different file is there."""
    if kind == OUTPUTS_DIR:
        chosen = {f.path: f for f in run_files(git, tree, OUTPUTS_DIR)}
    else:
        chosen = last_checkpoints(git, tree)
    placed = []
    for path, kept in sorted(chosen.items()):
        dest = directory / path
        for parent in list(Path(path).parents)[:-1]:
            if (directory / parent).is_symlink():
                raise InputError(f"{parent.as_posix()} is a symbolic link here, and writing {path} of run "
                                 f"'{run.name}' would write through it; move it away"
                                 + ("" if replace else ", or use --worktree DIR"))
        if (dest.exists() or dest.is_symlink()) and not replace:
            if same_content(git, kept, dest):
                continue
            raise InputError(f"{path} is here and differs from the {kind[:-1]} of run '{run.name}', which would "
                             f"replace it; move it away (or use --worktree DIR to get the run elsewhere)")
        placed.append((kept, dest))
    return placed


def lfs_objects(git: GitRepo, tip: str, hidden: list[str]) -> tuple[list[str], int]:
    """The git-lfs objects of the runs reachable from `tip` and from none of `hidden` that this clone
    holds (their oids), and how many it lacks (pulled runs whose content was never fetched here)."""
    from . import lfs

    here, absent = {}, set()
    for commit, _ in git.commits_between(tip, hidden):
        tree = git.commit(commit)[0]
        if git.tree_entry(tree, FLEXGIT_DIR) is None:
            continue
        for kind in KINDS:
            for kept in run_files(git, tree, kind):
                if kept.lfs is not None:
                    if lfs.has_object(git, kept.lfs):
                        here[kept.lfs.oid] = True
                    else:
                        absent.add(kept.lfs.oid)
    return sorted(here), len(absent - set(here))


def place_checkpoints(git: GitRepo, run: Run, tree: str, directory: Path) -> list[str]:
    """Write the last checkpoint of each path of `run` (whose tree is `tree`) into `directory`, a checkout
    of flexgit's own, replacing what is there (never through a linked folder); returns their paths."""
    placed = placed_files(git, run, tree, directory, CHECKPOINTS_DIR, replace=True)
    ensure_content(git, run, [kept for kept, _ in placed])
    for kept, dest in placed:
        write_file(git, kept, dest)
    return [dest.relative_to(directory).as_posix() for _, dest in placed]


def upload_for_push(git: GitRepo, remote: str, tip: str, hidden: list[str]) -> tuple[int, int]:
    """Upload to `remote` (`git lfs push --object-id`) the git-lfs content of the runs reachable from
    `tip` and from none of `hidden`, before their refs are pushed: (objects sent, objects this clone
    lacks). Raises with git-lfs's message when the upload fails; nothing is pushed then."""
    from . import lfs

    oids, absent = lfs_objects(git, tip, hidden)
    if not oids:
        return 0, absent
    if not lfs.installed():
        raise FlexgitError(f"{len(oids)} files of the runs to push are kept with git-lfs, which is not installed "
                           f"here; {lfs.INSTALL_HINT}; nothing was pushed")
    done, detail = lfs.upload(git, remote, oids)
    if not done:
        raise FlexgitError(f"cannot upload the runs' large files to '{remote}' (git lfs push: {detail}); the runs "
                           f"stay recorded here and nothing was pushed: fix that, then 'flexgit push {remote}' again")
    return len(oids), absent
