"""Jupyter notebooks: flexgit.record() run in a real kernel (nbclient) snapshots the saved notebook, warns
when the kernel ran code the saved file does not hold, and comparisons of runs ignore cell outputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from conftest import flexgit_in_process as cli, git, make_repo  # noqa: E402

import flexgit  # noqa: E402
from flexgit.project.notebooks import same_code  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def notebook(lr: float):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Training"),
                nbformat.v4.new_code_cell(f"lr = {lr}\nprint('training with', lr)"),
                nbformat.v4.new_code_cell("import flexgit\n"
                                          "run = flexgit.record(params={'lr': lr}, metrics={'acc': 0.9})\n"
                                          "print(run.name, run.meta.get('notebook'))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb, repo: Path, path: Path):
    """Run `nb` in a fresh kernel as Jupyter would for the notebook saved at `path` (its session name)."""
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(repo)}})
    env = {**os.environ, "JPY_SESSION_NAME": str(path), "PYTHONPATH": str(ROOT)}
    client.execute(env=env)
    return nb


def output_text(nb) -> str:
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "project")
    nbformat.write(notebook(0.1), repo / "train.ipynb")
    git(repo, "add", "train.ipynb")
    git(repo, "commit", "-q", "-m", "notebook")
    return repo


def test_record_in_a_notebook_snapshots_the_saved_notebook(repo):
    executed = execute(nbformat.read(repo / "train.ipynb", as_version=4), repo, repo / "train.ipynb")
    text = output_text(executed)
    assert "train.ipynb" in text and "Warning" not in text, text
    (run,) = flexgit.list_runs(repo=repo)
    assert run.meta["notebook"] == "train.ipynb" and run.params == {"lr": 0.1}
    assert git(repo, "show", f"exp/{run.name}:train.ipynb") == (repo / "train.ipynb").read_text()
    assert "files changed from the source commit: 0" in cli(repo, "show", run.name).out


def test_code_the_saved_notebook_does_not_hold_is_warned_of(repo):
    edited = notebook(0.3)  # the editor's version: lr changed, not saved
    text = output_text(execute(edited, repo, repo / "train.ipynb"))
    assert "NotebookWarning" in text and "unsaved changes" in text and "lr = 0.3" in text, text
    (run,) = flexgit.list_runs(repo=repo)
    assert run.params == {"lr": 0.3}  # recorded all the same, with the notebook as saved
    assert "lr = 0.1" in git(repo, "show", f"exp/{run.name}:train.ipynb")


def test_comparisons_ignore_cell_outputs(repo):
    executed = execute(nbformat.read(repo / "train.ipynb", as_version=4), repo, repo / "train.ipynb")
    nbformat.write(executed, repo / "train.ipynb")  # saved with its outputs, as Jupyter saves it
    assert (repo / "train.ipynb").read_bytes() != git(repo, "show", "HEAD:train.ipynb").encode()
    again = execute(nbformat.read(repo / "train.ipynb", as_version=4), repo, repo / "train.ipynb")
    assert "Warning" not in output_text(again)
    newest = max(flexgit.list_runs(repo=repo), key=lambda run: run.time)
    assert "outputs" in git(repo, "show", f"exp/{newest.name}:train.ipynb")  # kept as saved...
    assert "files changed from the source commit: 0" in cli(repo, "show", newest.name).out  # ...compared as code
    changed = nbformat.read(repo / "train.ipynb", as_version=4)
    changed.cells[1].source = "lr = 0.2"
    nbformat.write(changed, repo / "train.ipynb")
    run = flexgit.record(repo=repo)
    assert "  M train.ipynb" in cli(repo, "show", run.name).out


def test_same_code_reads_cells_not_outputs():
    plain = nbformat.writes(notebook(0.1)).encode()
    with_outputs = notebook(0.1)
    with_outputs.cells[1].outputs = [nbformat.v4.new_output("stream", text="training with 0.1\n")]
    with_outputs.cells[1].execution_count = 3
    assert same_code(plain, nbformat.writes(with_outputs).encode())
    assert not same_code(plain, nbformat.writes(notebook(0.2)).encode())
    assert not same_code(b"not json", b"not json either") and same_code(b"same", b"same")


def test_outside_a_kernel_record_is_the_plain_record(repo):
    run = flexgit.record(repo=repo)
    assert "notebook" not in run.meta
