"""Values taken from a request (URL paths, query strings, posted forms): ids, dates, months, the
gallery's page cursor. Every one is parsed here, strictly, so a crafted value is a clear 400 (a 404
for an id no row can have) instead of a 500 from somewhere deeper.

- Digits are ASCII only: `str.isdigit()` also accepts "²" (which `int()` then refuses) and `\\d`
  matches "٣".
- Ids are 1 to 2⁶³ − 1, what a 64-bit id column holds: a larger one would reach the database as
  an integer it cannot take.
- Dates and months run from year 2 to year 9998. Python's dates stop at years 1 and 9999, and the
  studio computes around the dates it is given: the day after "To", the months before and after
  the one shown, local midnight in UTC (hours either way). A year to spare at each end keeps every
  such computation valid without a check at each one.

Views answer BadParameter with its `message`, forms read with the same functions (ParsedField in
gallery/forms.py) and URL paths take ids through IdConverter, so each rule is written once.
"""

import re
from datetime import date

ID_MAX = 2**63 - 1
FIRST_DAY = date(2, 1, 1)
LAST_DAY = date(9998, 12, 31)

_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


class BadParameter(ValueError):
    """A request value that cannot be used (a 400); `message` says why, to a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NoSuchId(BadParameter):
    """A well-formed id that no row can have (0, or beyond the database's range): a 404, like
    any id that matches nothing."""


def _shown(text: str) -> str:
    """The value as a message may quote it: printable characters, not too many."""
    printable = "".join(c for c in text[:100] if c.isprintable())
    return printable if len(printable) <= 24 else f"{printable[:24]}…"


def parse_int(text: str, *, minimum: int, maximum: int, what: str) -> int:
    """A whole number in ASCII digits from `minimum` (>= 0) to `maximum`; `what` names it in
    the message ("Compression")."""
    if not _DIGITS.fullmatch(text):
        raise BadParameter(f"{what} must be a whole number; “{_shown(text)}” is not one.")
    digits = text.lstrip("0") or "0"
    # Compared as text first: int() of thousands of digits is slow, and refused past 4,300.
    if len(digits) > len(str(maximum)) or not minimum <= int(digits) <= maximum:
        raise BadParameter(f"{what} must be from {minimum} to {maximum}; got {_shown(text)}.")
    return int(digits)


def parse_id(text: str, *, what: str = "id") -> int:
    """A row's id; NoSuchId for a well-formed number no row can have. `what` names the thing
    ("image"), for the message."""
    try:
        return parse_int(text, minimum=1, maximum=ID_MAX, what=what)
    except BadParameter:
        if _DIGITS.fullmatch(text):
            raise NoSuchId(f"There is no {what} number {_shown(text)}.") from None
        raise BadParameter(f"“{_shown(text)}” is not a valid {what} number.") from None


def parse_id_list(text: str, *, what: str = "id") -> list[int]:
    """Ids separated by commas ("4,5,9"); empty items are skipped. Any bad one spoils the list."""
    try:
        return [parse_id(part, what=what) for part in text.split(",") if part]
    except BadParameter:
        raise BadParameter(
            f"“{_shown(text)}” is not a list of {what} numbers separated by commas."
        ) from None


def parse_id_fields(data, name: str, *, what: str = "id") -> list[int]:
    """Ids posted as repeated fields (`ids=4&ids=9`, a form's checkboxes), comma-separated
    lists (`ids=4,9`), or both, in the order given (`data` is a QueryDict)."""
    return parse_id_list(",".join(data.getlist(name)), what=what)


def parse_cursor(text: str) -> int:
    """The gallery's page cursor: the id of the last run on the page before."""
    try:
        return parse_id(text, what="run")
    except BadParameter:
        raise BadParameter("That page link is broken (the cursor is not a run number).") from None


# A search's page cursor: the relevance score (a whole number, the database's score × 10⁹) and
# the id of the last run on the page before, as "<score>-<run id>".
SCORE_MAX = 10**18
_RANK_CURSOR = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")


def parse_rank_cursor(text: str) -> tuple[int, int]:
    """A search's page cursor ("183422-4711"): (score, run id)."""
    match = _RANK_CURSOR.fullmatch(text)
    broken = BadParameter(
        "That page link is broken (the cursor is not a relevance score and a run number)."
    )
    if not match:
        raise broken
    try:
        score = parse_int(match[1], minimum=0, maximum=SCORE_MAX, what="score")
        run_id = parse_id(match[2], what="run")
    except BadParameter:
        raise broken from None
    return score, run_id


def parse_index(text: str, *, length: int) -> int:
    """A position in a list of `length` items (0 to length − 1)."""
    if length < 1:
        raise BadParameter("There is nothing to choose from.")
    return parse_int(text, minimum=0, maximum=length - 1, what="The position")


def _in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def parse_date(text: str, *, label: str = "The date") -> date:
    """A day written as year-month-day (2026-11-23); `label` names the field ("“From”")."""
    match = _DATE.fullmatch(text)
    try:
        day = date(int(match[1]), int(match[2]), int(match[3])) if match else None
    except ValueError:
        day = None
    if day is None:
        raise BadParameter(f"{label} must be a date like 2026-11-23.")
    if not _in_range(day):
        raise BadParameter(
            f"{label} must be a date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."
        )
    return day


def parse_month(text: str) -> date:
    """A month written as year-month (2026-11), as the first day of it."""
    match = _MONTH.fullmatch(text)
    try:
        first_day = date(int(match[1]), int(match[2]), 1) if match else None
    except ValueError:
        first_day = None
    if first_day is None:
        raise BadParameter(
            f"“{_shown(text)}” is not a month. Write it as year-month, like 2026-11."
        )
    if not _in_range(first_day):
        raise BadParameter(
            f"“{_shown(text)}” is too far away: pick a month from {FIRST_DAY.isoformat()[:7]} "
            f"to {LAST_DAY.isoformat()[:7]}."
        )
    return first_day


class IdConverter:
    """`<id:pk>` in URL patterns: a row's id, read by parse_id. Any other value matches no URL
    (a 404, since BadParameter is a ValueError) and never reaches a view."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        return parse_id(value)

    def to_url(self, value: int) -> str:
        return str(value)
