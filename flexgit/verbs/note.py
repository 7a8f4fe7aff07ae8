"""`flexgit note`: a dated comment on a run, a line in its note."""

from __future__ import annotations

from .._context import PathLike, open_store
from ..errors import InputError
from ..project.values import check_text
from ..storage.run import MAX_NOTE_TEXT, Run, fact_line


def note(name: str, text: str, repo: PathLike | None = None) -> Run:
    """Add a comment to run `name` ("diverged after epoch 40"); `show` lists them with their dates.

    The run's note gets a line `{"note": TEXT, "t": ...}`; nothing recorded is rewritten.
    """
    text = check_text(str(text), "the note").strip()
    if not text:
        raise InputError("the note is empty; give its text, e.g. flexgit note lr-0.1 \"diverged after epoch 40\"")
    if len(text) > MAX_NOTE_TEXT:
        raise InputError(f"the note has {len(text)} characters, more than {MAX_NOTE_TEXT}; "
                         "keep long text in a file of the snapshot")
    store = open_store(repo)
    run = store.find(name)
    store.append(run, fact_line("note", text))
    return store.find(run.id)
