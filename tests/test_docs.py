"""Docs that cannot drift: every command is in the README and has an example in its help."""

from __future__ import annotations

from pathlib import Path

import pytest

from flexgit.cli import cli
from conftest import flexgit as subprocess_cli, flexgit_in_process as run_cli

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented_in_the_readme(command):
    assert f"`flexgit {command}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command, tmp_path):
    result = run_cli(tmp_path, command, "--help")
    assert result.code == 0
    assert "Example:" in result.out and f"flexgit {command}" in result.out


def test_top_level_help_and_version(tmp_path):
    result = run_cli(tmp_path, "--help")
    assert result.code == 0 and "Example:" in result.out
    assert all(command in result.out for command in COMMANDS)
    assert subprocess_cli(tmp_path, "--version").out.startswith("flexgit, version ")


def test_readme_gives_the_two_set_up_commands_first():
    text = (ROOT / "README.md").read_text()
    assert text.index("make demo") < text.index("make test") < text.index("## Quick start")
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_cli_does_not_import_pandas_on_its_hot_paths(repo):
    """`record`, `table` in plain formats and `--help` must not pay pandas' import."""
    import subprocess
    import sys

    probe = ("import sys; from flexgit.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('pandas' in sys.modules, file=sys.stderr)")
    for args in (["record", "-m", "acc=1"], ["table"], ["table", "--format", "csv"], ["--help"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], cwd=repo, capture_output=True, text=True)
        assert done.stderr.strip().splitlines()[-1] == "False", (args, done.stderr)


def documented_modules() -> set[str]:
    """The modules README's Development map names, as paths inside flexgit/ (a folder's files indented under it)."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Development"):].split("```")[1]
    folder, named = "", set()
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        words = line.split()
        if not words or indent == 0:
            continue
        if indent == 2:
            folder = words[0] if words[0].endswith("/") else ""
        prefix = folder if indent > 2 else ""
        named |= {prefix + word for word in words if word.endswith(".py")}
    return named


def test_the_module_map_names_every_module():
    package = ROOT / "flexgit"
    actual = {p.relative_to(package).as_posix() for p in package.rglob("*.py")
              if not (p.name == "__init__.py" and p.parent != package)}
    assert documented_modules() == actual


def test_every_cli_verb_has_its_api_function():
    import flexgit.api

    named_otherwise = {"completion", "hook", "import"}  # shell glue; the hook and import functions below
    for command in set(COMMANDS) - named_otherwise:
        assert callable(getattr(flexgit.api, command)), command
    for name in ("install_hook", "uninstall_hook", "hook_status", "import_csv", "checkout", "checkout_back"):
        assert callable(getattr(flexgit.api, name)), name
