"""`--where`: a small query language, read by hand (recursive descent, no eval) into the
conditions of conditions.py. Pure functions, no I/O.

    condition  := or
    or         := and ('or' and)*
    and        := not ('and' not)*
    not        := 'not'* primary
    primary    := '(' condition ')' | 'exists' '(' KEY ')' | KEY test
    test       := OP VALUE | 'in' '(' VALUE (',' VALUE)* ')' | '~' VALUE | 'has' VALUE
    OP         := = == != < <= > >=

KEY and VALUE are a bare word or quoted text ("..." with TOML escapes, or '...' as written);
a bare VALUE is read as a TOML scalar (`0.9`, `3`, `true`, `nan`), else it is text. The words
and, or, not, in, has and exists are case-insensitive; quote a key or a value spelled like one.
What cannot be read is an InputError naming the column (the character) where reading failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Sequence

from ..errors import InputError
from ..project.values import parse_scalar
from .conditions import And, Comparison, Condition, Exists, Has, Match, Not, Or, Resolver, Row

EXAMPLE = 'metrics.acc > 0.9 and (params.model = "mlp" or params.model in (svm, lr))'
MAX_NESTING = 64  # parentheses; the parser and the conditions recurse once per level
COMPARE = ("=", "==", "!=", "<", "<=", ">", ">=")
_WORDS = ("and", "or", "not")  # never a bare key or value
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'[^']*')
  | (?P<symbol>==|!=|<=|>=|=|<|>|~|\(|\)|,)
  | (?P<word>[^\s=<>!~(),"']+)
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class Token:
    """One piece of the condition: a symbol, a bare word, quoted text, or the end; `start` counts from 0."""

    kind: str  # symbol, word, string, end
    text: str  # as written
    start: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def shown(self) -> str:
        return "the end" if self.kind == "end" else repr(self.text)


def parse_where(text: str) -> Condition:
    """The condition `text` says, its columns as written (resolve them with `.resolved`)."""
    return _Parser(text).condition()


def row_test(condition: Condition, rows: Sequence[Row], resolve: Resolver) -> Callable[[Row], bool]:
    """A test that a row passes `condition`; refuses comparisons no run's value could answer."""
    condition = condition.resolved(resolve)
    condition.check(rows)
    return condition.matches


def tokens(text: str) -> list[Token]:
    """The tokens of `text`, spaces left out, ending with an `end` token."""
    found, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise _unreadable(text, at, "a quote is not closed" if text[at] in "\"'" else
                              f"{text[at]!r} is not an operator (they are = != < <= > >= ~ in has)")
        if match.lastgroup != "space":
            found.append(Token(match.lastgroup, match.group(), at))
        at = match.end()
    return [*found, Token("end", "", len(text))]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.at = 0
        self.depth = 0

    def condition(self) -> Condition:
        condition = self._or()
        if self._peek().kind != "end":
            self._fail(f"expected 'and', 'or' or the end, not {self._peek().shown()}")
        return condition

    def _or(self) -> Condition:
        parts = [self._and()]
        while self._peek().is_word("or"):
            self._next()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Condition:
        parts = [self._not()]
        while self._peek().is_word("and"):
            self._next()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _not(self) -> Condition:
        count = 0
        while self._peek().is_word("not"):  # a loop, not recursion: `not not ...` cannot exhaust the stack
            self._next()
            count += 1
        part = self._primary()
        return Not(part) if count % 2 else part

    def _primary(self) -> Condition:
        token = self._peek()
        if token.text == "(" and token.kind == "symbol":
            return self._group()
        if token.is_word("exists") and self.tokens[self.at + 1].text == "(":
            self._next()
            self._expect("(", "after 'exists'")
            key = self._key(" inside 'exists('")
            self._expect(")", f"to close 'exists({key}'")
            return Exists(key)
        key = self._key("" if self.at == 0 else f" after {self.tokens[self.at - 1].shown()}")
        return self._test(key)

    def _group(self) -> Condition:
        opening = self._next()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _unreadable(self.text, opening.start, f"parentheses nest more than {MAX_NESTING} deep; "
                                                        "write a flatter condition")
        condition = self._or()
        self._expect(")", f"to close the '(' at column {opening.start + 1}")
        self.depth -= 1
        return condition

    def _test(self, key: str) -> Condition:
        token = self._peek()
        if token.kind == "symbol" and token.text in COMPARE:
            self._next()
            value, raw = self._value(f"after {token.shown()}")
            return Comparison(key, "=" if token.text == "==" else token.text, value, raw)
        if token.kind == "symbol" and token.text == "~":
            self._next()
            return Match(key, self._pattern())
        if token.is_word("has"):
            self._next()
            value, raw = self._value("after 'has'")
            return Has(key, value, raw)
        if token.is_word("in"):
            self._next()
            return self._within(key)
        self._fail(f"expected an operator (= != < <= > >= in ~ has) after {key!r}, not {token.shown()}")

    def _within(self, key: str) -> Condition:
        self._expect("(", "after 'in'")
        values = [self._value("in the list after 'in'")]
        while self._peek().text == "," and self._peek().kind == "symbol":
            self._next()
            values.append(self._value("after ','"))
        self._expect(")", "to close the list after 'in' (values are separated by ',')")
        return Or(tuple(Comparison(key, "=", value, raw) for value, raw in values))

    def _pattern(self) -> re.Pattern[str]:
        token = self._peek()
        _, raw = self._value("after '~' (a regular expression, in quotes)")
        try:
            return re.compile(raw)
        except (re.error, OverflowError, RecursionError) as exc:
            raise _unreadable(self.text, token.start, f"{raw!r} is not a regular expression Python can read "
                                                      f"({exc})") from None

    def _key(self, place: str) -> str:
        token = self._peek()
        if token.kind == "string":
            self._next()
            return _unquote(self.text, token)
        if token.kind == "word" and not token.is_word(*_WORDS):
            self._next()
            return token.text
        self._fail(f"expected a column name or '('{place}, not {token.shown()}")

    def _value(self, place: str) -> tuple[Any, str]:
        token = self._peek()
        if token.kind == "string":
            self._next()
            text = _unquote(self.text, token)
            return text, text
        if token.kind == "word" and not token.is_word(*_WORDS):
            self._next()
            return parse_scalar(token.text), token.text
        hint = " (quote it to mean the text)" if token.kind == "word" else ""
        self._fail(f"expected a value {place}, not {token.shown()}{hint}")

    def _expect(self, symbol: str, why: str) -> None:
        token = self._peek()
        if token.kind != "symbol" or token.text != symbol:
            self._fail(f"expected '{symbol}' {why}, not {token.shown()}")
        self._next()

    def _peek(self) -> Token:
        return self.tokens[self.at]

    def _next(self) -> Token:
        token = self.tokens[self.at]
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def _fail(self, problem: str) -> NoReturn:
        raise _unreadable(self.text, self._peek().start, problem)


def _unquote(text: str, token: Token) -> str:
    if token.text[0] == "'":
        return token.text[1:-1]
    value = parse_scalar(token.text)  # TOML's basic string: \" \\ \n \u00e9 ...
    if not isinstance(value, str) or value == token.text:
        raise _unreadable(text, token.start, "cannot read this quoted text (write \\\" for a quote, \\\\ for a "
                                             "backslash, no line breaks)")
    return value


def _unreadable(text: str, at: int, problem: str) -> InputError:
    shown = text if len(text) <= 120 or at < 100 else "..." + text[at - 80:]  # the part that failed, in view
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    end = " (its end)" if at >= len(text) else ""
    return InputError(f"cannot read the condition '{shown}' at column {at + 1}{end}: {problem}; write e.g. {EXAMPLE}")
