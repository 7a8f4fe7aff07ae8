"""`--where`: never a silent wrong answer. What it cannot read or compare is an error that says why;
dates compare as dates."""

from __future__ import annotations

import re

import pytest

import flexgit
from flexgit.errors import InputError
from flexgit.view.query import TableQuery, build_table
from conftest import flexgit_in_process as cli, repo_state

ROWS = [
    {"name": "a", "date": "2024-05-31T23:59:59Z", "params.model": "lr", "params.lr": 0.1, "metrics.acc": 0.95,
     "metrics.loss": float("nan"), "params.start": "2024-01-01"},
    {"name": "b", "date": "2024-06-01T00:00:00Z", "params.model": "mlp", "params.lr": "auto", "metrics.acc": 0.8,
     "metrics.loss": 0.3},
    {"name": "c", "date": "2024-06-01T10:30:00Z", "params.model": "lr", "params.lr": 0.01, "metrics.acc": 0.92,
     "metrics.loss": 0.2},
]


def names(where, rows=ROWS):
    return [row["name"] for row in build_table(rows, TableQuery(where=where)).rows]


@pytest.mark.parametrize("where, word", [
    ("acc > 0.9 or model = lr", "or"),
    ("acc > 0.9 OR model = lr", "OR"),
    ("not acc > 0.9", "not"),
    ("(acc > 0.9) and model = lr", "("),
    ("acc > 0.9 and (model = lr)", "("),
])
def test_or_not_and_parentheses_are_refused_saying_only_and_works(where, word):
    with pytest.raises(InputError, match=re.escape(f"supports only 'and' between comparisons for now, not '{word}'")):
        build_table(ROWS, TableQuery(where=where))


def test_words_and_parentheses_inside_quotes_are_values():
    rows = [{"name": "x", "message": "this or that (v2)", "params.or": 1, "params.mode": "not-sure"},
            {"name": "y", "message": "other", "params.or": 2, "params.mode": "sure"}]
    assert names('message = "this or that (v2)"', rows) == ["x"]
    assert names("message != 'this or that (v2)'", rows) == ["y"]
    assert names("params.or > 1 and mode = sure", rows) == ["y"]  # or/not count only as words of their own
    assert names("mode = not-sure", rows) == ["x"]


@pytest.mark.parametrize("where, message", [
    ("acc > 0.9 model = lr", "cannot read the condition 'acc > 0.9 model = lr'; join comparisons with 'and'"),
    ('model = "mlp" x', "cannot read the condition 'model = \"mlp\" x'; put the whole value in quotes"),
    ('model = "mlp', "cannot read the condition 'model = \"mlp': a quote is not closed"),
    ("acc > 0.9 and", "cannot read the condition 'acc > 0.9 and'"),
    ("acc >", "cannot read the condition 'acc >'; write COLUMN OP VALUE"),
])
def test_what_cannot_be_read_is_refused(where, message):
    with pytest.raises(InputError) as caught:
        build_table(ROWS, TableQuery(where=where))
    assert str(caught.value).startswith(message), caught.value


@pytest.mark.parametrize("where, message", [
    ("acc > 0.9x", "cannot compare metrics.acc > 0.9x: metrics.acc holds numbers, and 0.9x is text; "
                   "compare it with a number"),
    ("acc = 0.9x", "cannot compare metrics.acc = 0.9x: metrics.acc holds numbers, and 0.9x is text"),
    ("date < 2024", "cannot compare date < 2024: date holds dates, and 2024 is a number; compare it with a date "
                    "(e.g. 2024-06-01 or \"2024-06-01T10:00\")"),
    ("date = today", "cannot compare date = today: date holds dates, and today is text"),
    ("model < 3", "cannot compare params.model < 3: params.model holds text, and 3 is a number"),
    ("acc > true", "cannot compare metrics.acc > true: metrics.acc holds numbers, and true is a bool"),
    ("loss < nan", "cannot compare metrics.loss < nan: nan has no order"),
])
def test_comparisons_between_kinds_are_refused(where, message):
    with pytest.raises(InputError) as caught:
        build_table(ROWS, TableQuery(where=where))
    assert str(caught.value).startswith(message), caught.value


def test_a_column_of_numbers_and_text_orders_only_what_it_can_and_says_which_run_it_cannot():
    with pytest.raises(InputError, match=r"cannot compare params.lr < 0.05: run 'b' has params.lr = auto, text, "
                                         r"not a number; add a condition before it that leaves such runs out"):
        build_table(ROWS, TableQuery(where="lr < 0.05"))
    assert names("lr != auto and lr < 0.05") == ["c"]
    assert names("lr = auto") == ["b"]
    assert names("lr = 0.1") == ["a"]
    assert names("name = 123") == []  # a number against text compares as written


def test_dates_compare_as_dates_in_utc_and_a_day_means_the_whole_day():
    assert names("date < 2024-06-01") == ["a"]
    assert names("date >= 2024-06-01") == ["b", "c"]
    assert names("date = 2024-06-01") == ["b", "c"]
    assert names("date <= 2024-05-31") == ["a"]
    assert names('date >= "2024-01-01T10:00"') == ["a", "b", "c"]
    assert names('date >= "2024-06-01T10:00"') == ["c"]
    assert names('date > "2024-06-01 00:00:00Z"') == ["c"]
    assert names('date < "2024-06-01T12:00+02:00"') == ["a", "b"]  # 10:00 UTC
    assert names("start < 2024-02-01") == ["a"]  # a param holding a date


def test_nan_is_found_with_equals_and_never_ordered():
    assert names("loss = nan") == ["a"]
    assert names("loss != nan") == ["b", "c"]
    assert names("loss < 0.25") == ["c"]


def test_a_date_that_is_not_a_date_is_named_not_skipped():
    rows = ROWS + [{"name": "old", "date": "05/04/2023", "metrics.acc": 0.5}]
    with pytest.raises(InputError, match="run 'old' has date = 05/04/2023, text, not a date"):
        build_table(rows, TableQuery(where="date < 2024-06-01"))
    assert names("name != old and date < 2024-06-01", rows) == ["a"]


def test_cli_refuses_what_it_cannot_answer_and_compares_real_dates(repo):
    flexgit.record(name="a", params={"model": "lr"}, metrics={"acc": 0.95}, repo=repo)
    before = repo_state(repo)
    for where, message in [
        ("acc > 0.9 or model = lr", "Error: --where supports only 'and' between comparisons for now, not 'or'"),
        ("acc > 0.9x", "Error: cannot compare metrics.acc > 0.9x: metrics.acc holds numbers, and 0.9x is text"),
        ("date < 2024", "Error: cannot compare date < 2024: date holds dates, and 2024 is a number"),
    ]:
        result = cli(repo, "table", "--where", where)
        assert result.code == 1 and result.out == "", result
        assert result.err.startswith(message) and result.err.count("\n") == 1, result
    assert repo_state(repo) == before
    today = flexgit.list_runs(repo=repo)[0].date[:10]
    assert cli(repo, "table", "--where", f"date = {today}", "--columns", "name", "--format", "csv").out == "name\na\n"
    assert cli(repo, "table", "--where", "date >= \"2000-01-01T10:00\" and acc > 0.9", "--columns", "name",
               "--format", "csv").out == "name\na\n"
    assert cli(repo, "table", "--where", "date < 2000-01-01", "--format", "csv").out == "name,id,date,message\n"
