"""Dates written by people and spreadsheets (`2023-05-04`, `2023/05/04`, `04.05.2023`, `05/04/2023`)
read as ISO 8601 text, the form flexgit stores. Pure functions.

Day-first or month-first (`05/04/2023`) is decided for a whole column: by a value that can be
read only one way (`13/04/2023`), else by the caller's `order` ("dmy" or "mdy"); a column
that could be either is refused rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Sequence

from ..errors import InputError

ORDERS = ("dmy", "mdy")
_TIME = r"(?:[T ](\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)\s*(Z|[+-]\d{2}:?\d{2})?)?"
_ISO = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})" + _TIME)         # 2023-05-04, 2023/05/04
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME)          # 04.05.2023: always day first
_SLASHED = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})" + _TIME)     # 05/04/2023: day or month first


class AmbiguousDates(InputError):
    """Dates that read both day-first and month-first, with nothing to tell which."""


def check_order(order: str | None) -> str | None:
    """`order` if it is None, 'dmy' or 'mdy'."""
    if order is not None and order not in ORDERS:
        raise InputError(f"the date order is 'dmy' (day first) or 'mdy' (month first), not {order!r}")
    return order


def reads_either_way(text: str) -> bool:
    """Is `text` a date like 05/04/2023, a different day read day-first or month-first?"""
    match = _SLASHED.fullmatch(text.strip())
    return match is not None and int(match[1]) <= 12 and int(match[2]) <= 12 and int(match[1]) != int(match[2])


def column_order(texts: Sequence[str]) -> tuple[str | None, str | None]:
    """(order, the date that shows it) for a column's slashed dates: ('dmy', '13/04/2023'),
    or (None, None) when it has none. Raises AmbiguousDates when they could be read either way."""
    slashed = [(text, match) for text in texts if (match := _SLASHED.fullmatch(text.strip()))]
    day_first = [text for text, m in slashed if int(m[1]) > 12 >= int(m[2])]
    month_first = [text for text, m in slashed if int(m[2]) > 12 >= int(m[1])]
    if day_first and month_first:
        raise AmbiguousDates(f"dates are written both day-first ({day_first[0]}) and month-first "
                             f"({month_first[0]}); write them one way")
    if day_first or month_first:
        return ("dmy", day_first[0]) if day_first else ("mdy", month_first[0])
    either = next((text for text in texts if reads_either_way(text)), None)
    if either is not None:
        raise AmbiguousDates(f"a date like {either} reads day-first or month-first")
    return ("dmy", slashed[0][0]) if slashed else (None, None)  # 03/03/2023: the same either way


def read_date(text: str, order: str | None = None) -> str | None:
    """`text` as an ISO 8601 date, or None if it is not one of the forms read here."""
    text = text.strip()
    if match := _ISO.fullmatch(text):
        year, month, day = match[1], match[2], match[3]
    elif match := _DOTTED.fullmatch(text):
        day, month, year = match[1], match[2], match[3]
    elif order and (match := _SLASHED.fullmatch(text)):
        day, month = (match[1], match[2]) if order == "dmy" else (match[2], match[1])
        year = match[3]
    else:
        return None
    return _iso(int(year), int(month), int(day), match[4], match[5])


def _iso(year: int, month: int, day: int, time: str | None, zone: str | None) -> str | None:
    try:
        date = dt.date(year, month, day)
        if time is None:
            return date.isoformat()
        clock = dt.time.fromisoformat(time if len(time.split(":")[0]) == 2 else "0" + time)
    except ValueError:  # 2023-02-30, 25:00
        return None
    moment = dt.datetime.combine(date, clock).isoformat()
    if zone is None:
        return moment
    if zone == "Z" or zone.replace(":", "") in ("+0000", "-0000"):
        return moment + "Z"
    return moment + (zone if ":" in zone else zone[:3] + ":" + zone[3:])
