"""`--where`: never a silent wrong answer. What it cannot read or compare is an error that says why;
dates compare as dates."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_or_not_and_parentheses_with_the_usual_precedence():
    assert names("model = mlp or acc > 0.94") == ["a", "b"]
    assert names("acc > 0.9 OR model = mlp") == ["a", "b", "c"]
    assert names("not model = lr") == ["b"]
    assert names("model = mlp or model = lr and acc > 0.93") == ["a", "b"]  # and binds tighter than or
    assert names("(model = mlp or model = lr) and acc > 0.93") == ["a"]
    assert names("not model = lr and acc < 0.9") == ["b"]  # not binds tighter than and
    assert names("not (model = lr and acc > 0.93)") == ["b", "c"]
    assert names("not not model = mlp") == ["b"]
    assert names("((acc > 0.9)) and (model = lr)") == ["a", "c"]
    assert names("acc>0.9 and(model=lr)or name=b") == ["a", "b", "c"]


def test_and_or_are_read_left_to_right_so_a_guard_comes_first():
    assert names("lr = auto or lr < 0.05") == ["b", "c"]  # run b never reaches lr < 0.05
    with pytest.raises(InputError, match="run 'b' has params.lr = auto, text, not a number"):
        names("lr < 0.05 or lr = auto")


def test_in_takes_a_list_of_values_compared_by_kind():
    assert names("model in (mlp, svm)") == ["b"]
    assert names("model IN ('lr')") == ["a", "c"]
    assert names("lr in (0.1, 0.01)") == ["a", "c"]  # lr holds numbers and text
    assert names("lr in (auto, 0.1)") == ["a", "b"]
    assert names('name in ("a", \'c\')') == ["a", "c"]
    assert names("not model in (lr)") == ["b"]
    assert names("date in (2024-06-01)") == ["b", "c"]
    with pytest.raises(InputError, match="cannot compare metrics.acc = x: metrics.acc holds numbers, and x is text"):
        names("acc in (0.95, x)")


def test_tilde_searches_text_with_a_python_regular_expression():
    assert names('model ~ "^m"') == ["b"]
    assert names("name ~ '[ac]'") == ["a", "c"]
    assert names('date ~ "^2024-06"') == ["b", "c"]
    assert names('lr ~ "u"') == ["b"]  # the numbers of a column of numbers and text never match
    assert names('not model ~ "m.p"') == ["a", "c"]
    assert names(r'model ~ "^\\w{3}$"') == ["b"]  # TOML escapes: \\w is the regex \w
    with pytest.raises(InputError, match=re.escape('cannot match metrics.acc ~ "9": metrics.acc holds numbers, '
                                                   "and ~ matches text")):
        names('acc ~ "9"')


def test_has_looks_inside_list_columns_and_a_missing_tags_column_matches_nothing():
    assert names('tags has "best"') == []  # no run has tags yet
    assert names('not tags has "best"') == ["a", "b", "c"]
    rows = [{"name": "x", "tags": ["best", "v2"], "params.seeds": [1, 2], "params.model": "lr"},
            {"name": "y", "tags": ["baseline"], "params.seeds": [3], "params.model": "mlp"},
            {"name": "z", "params.model": "lr"}]
    assert names('tags has "best"', rows) == ["x"]
    assert names("tags HAS best or tags has baseline", rows) == ["x", "y"]
    assert names("not tags has best", rows) == ["y", "z"]
    assert names("seeds has 2", rows) == ["x"]
    assert names("seeds has '2'", rows) == []  # text is not the number 2
    with pytest.raises(InputError, match="cannot ask whether params.model has lr: params.model holds text, not lists"):
        names("model has lr", rows)
    with pytest.raises(InputError, match="cannot compare tags = best: tags holds lists.*with has"):
        names("tags = best", rows)


def test_exists_asks_whether_a_run_has_a_column():
    assert names("exists(start)") == ["a"]
    assert names("not exists(params.start)") == ["b", "c"]
    assert names('EXISTS("start") or model = mlp') == ["a", "b"]
    assert names("exists(nothing)") == []  # a key no run has
    assert names("exists(loss)") == ["a", "b", "c"]  # NaN is a value
    rows = [{"name": "x", "params.exists": 1}, {"name": "y"}]
    assert names("exists = 1", rows) == ["x"]  # a column of that name, without '('


def test_a_run_without_the_column_fails_every_comparison_and_passes_its_not():
    rows = [{"name": "x", "params.depth": 3}, {"name": "y", "params.depth": 5}, {"name": "z"}]
    assert names("depth = 3", rows) == ["x"]
    assert names("depth != 3", rows) == ["y"]
    assert names("not depth = 3", rows) == ["y", "z"]
    assert names("depth < 10 or not exists(depth)", rows) == ["x", "y", "z"]
    with pytest.raises(InputError, match="no column 'deptj'"):
        names("deptj = 3", rows)


def test_quoted_keys_name_columns_with_spaces_symbols_or_keywords():
    rows = [{"name": "x", "metrics.macro avg.f1-score": 0.95, "params.and": 1, "params.in": "a b"},
            {"name": "y", "metrics.macro avg.f1-score": 0.5, "params.and": 2, "params.in": "c"}]
    assert names('"macro avg.f1-score" > 0.9', rows) == ["x"]
    assert names("'metrics.macro avg.f1-score' <= 0.9", rows) == ["y"]
    assert names('"and" = 2 or in = "a b"', rows) == ["x", "y"]
    assert names('"\\u0061nd" = 1', rows) == ["x"]  # TOML escapes in double quotes


def test_values_are_typed_text_numbers_bools_and_dates():
    rows = [{"name": "x", "params.flag": True, "params.n": 3, "params.tag": "3"},
            {"name": "y", "params.flag": False, "params.n": 3.5, "params.tag": "true"}]
    assert names("flag = true", rows) == ["x"]
    assert names("flag != true", rows) == ["y"]
    assert names("n >= 3 and n < 3.5", rows) == ["x"]
    assert names("n = 3.0", rows) == ["x"]
    assert names("tag = 3", rows) == ["x"]  # text compares with what was written
    assert names('tag = "true"', rows) == ["y"]
    with pytest.raises(InputError, match="cannot compare params.flag = true: params.flag holds bools, and true is"):
        names('flag = "true"', rows)
    with pytest.raises(InputError, match="params.n holds numbers, and 3 is text"):
        names("n = '3'", rows)


def test_words_and_parentheses_inside_quotes_are_values():
    rows = [{"name": "x", "message": "this or that (v2)", "params.or": 1, "params.mode": "not-sure"},
            {"name": "y", "message": "other", "params.or": 2, "params.mode": "sure"}]
    assert names('message = "this or that (v2)"', rows) == ["x"]
    assert names("message != 'this or that (v2)'", rows) == ["y"]
    assert names("params.or > 1 and mode = sure", rows) == ["y"]  # or/not count only as words of their own
    assert names("mode = not-sure", rows) == ["x"]


@pytest.mark.parametrize("where, message", [
    ("acc > 0.9 model = lr", "cannot read the condition 'acc > 0.9 model = lr' at column 11: expected 'and', 'or' or "
                             "the end, not 'model'"),
    ('model = "mlp" x', "at column 15: expected 'and', 'or' or the end, not 'x'"),
    ('model = "mlp', "cannot read the condition 'model = \"mlp' at column 9: a quote is not closed"),
    ("acc > 0.9 and", "at column 14 (its end): expected a column name or '(' after 'and', not the end"),
    ("acc >", "cannot read the condition 'acc >' at column 6 (its end): expected a value after '>', not the end"),
    ("acc >> 3", "at column 6: expected a value after '>', not '>'"),
    ("acc => 3", "at column 6: expected a value after '=', not '>'"),
    ("acc ! 3", "at column 5: '!' is not an operator"),
    ("acc 3", "at column 5: expected an operator (= != < <= > >= in ~ has) after 'acc', not '3'"),
    ("metrics.acc", "at column 12 (its end): expected an operator"),
    ("model = and", "at column 9: expected a value after '=', not 'and' (quote it to mean the text)"),
    ("or = 1", "at column 1: expected a column name or '(', not 'or'"),
    ("(acc > 0.9", "at column 11 (its end): expected ')' to close the '(' at column 1, not the end"),
    ("acc > 0.9)", "at column 10: expected 'and', 'or' or the end, not ')'"),
    ("()", "at column 2: expected a column name or '(' after '(', not ')'"),
    ("model in mlp", "at column 10: expected '(' after 'in', not 'mlp'"),
    ("model in (mlp,)", "at column 15: expected a value after ',', not ')'"),
    ("model in (mlp lr)", "at column 15: expected ')' to close the list after 'in'"),
    ("exists(acc", "at column 11 (its end): expected ')' to close 'exists(acc'"),
    ("exists()", "at column 8: expected a column name or '(' inside 'exists(', not ')'"),
    ('model ~ "("', "at column 9: '(' is not a regular expression Python can read (missing ), unterminated"),
    ('model ~ "' + "(" * 5000 + ")" * 5000 + '"', "is not a regular expression Python can read"),
    ('model = "a\\q"', "at column 9: cannot read this quoted text"),
    ("  ", "at column 3 (its end): expected a column name or '(', not the end"),
])
def test_what_cannot_be_read_is_refused(where, message):
    with pytest.raises(InputError) as caught:
        build_table(ROWS, TableQuery(where=where))
    assert message in str(caught.value) and "\n" not in str(caught.value), caught.value
    assert str(caught.value).startswith(f"cannot read the condition '{where[:117]}"), caught.value


def test_deep_nesting_is_refused_clearly_never_a_recursion_error():
    deep = "(" * 5000 + "acc > 0.9" + ")" * 5000
    with pytest.raises(InputError, match=r"at column 65: parentheses nest more than 64 deep; write a flatter"):
        names(deep)
    assert names("(" * 64 + "acc > 0.9" + ")" * 64) == ["a", "c"]
    assert names("not " * 5001 + "acc > 0.9") == ["b"]
    assert names(" or ".join(["acc > 0.99"] * 5000 + ["name = c"])) == ["c"]
    with pytest.raises(InputError) as caught:
        names(" or ".join(["acc > 0.99"] * 50) + " or acc 0.5")
    assert re.match(r"cannot read the condition '\.\.\.[^']{60,} or acc 0\.5' at column 705: expected an operator "
                    r"\(= != < <= > >= in ~ has\) after 'acc', not '0\.5'", str(caught.value)), caught.value  # in view


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
        ("acc > 0.9 or model = ", "Error: cannot read the condition 'acc > 0.9 or model = ' at column 22 (its end): "
                                 "expected a value after '=', not the end; write e.g. "),
        ("(" * 5000 + "acc > 0.9" + ")" * 5000, "Error: cannot read the condition '((((("),
        ('model ~ "["', "Error: cannot read the condition 'model ~ \"[\"' at column 9: '[' is not a regular"),
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


def test_cli_and_api_read_the_whole_language(repo):
    flexgit.record(name="a", params={"model": "lr"}, metrics={"acc": 0.95, "macro avg.f1-score": 0.9}, repo=repo)
    flexgit.record(name="b", params={"model": "mlp"}, metrics={"acc": 0.7}, repo=repo)
    flexgit.record(name="c", params={"model": "svm", "depth": 3}, metrics={"acc": 0.8}, repo=repo)
    for where, expected in [
        ("acc > 0.9 or model in (mlp, knn)", ["a", "b"]),
        ('not (model ~ "^(lr|mlp)$") and not exists(nothing)', ["c"]),
        ("not exists(depth) and \"macro avg.f1-score\" >= 0.9", ["a"]),
        ('tags has "best" or model = svm', ["c"]),
    ]:
        result = cli(repo, "table", "--where", where, "--columns", "name", "--format", "csv")
        assert (result.code, result.out, result.err) == (0, "name\n" + "".join(f"{n}\n" for n in expected), ""), where
        assert list(flexgit.table(where=where, repo=repo)["name"]) == expected
    with pytest.raises(InputError, match="at column 5"):
        flexgit.table(where="acc ! 3", repo=repo)
    usage = cli(repo, "table", "--help").out
    assert " or " in usage and "exists(" in usage and "README" in usage


PIECES = ["acc", "model", "lr", "date", "tags", "name", "nope", '"macro avg"', "'lr'", "exists", "(", ")", ",", "and",
          "or", "not", "in", "has", "~", "=", "==", "!=", "<", "<=", ">", ">=", "!", "0.9", "nan", "true", "auto",
          "2024-06-01", '"^(l|m)"', '"["', '"a\\q"', "'", '"', "[[", "1e999", "99999999999999999999"]


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.sampled_from([" ", ""]))
def test_any_soup_of_the_language_is_an_answer_or_one_input_error(pieces, space):
    where = space.join(pieces)
    try:
        names(where)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc), where
