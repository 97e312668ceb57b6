"""Query dates: the forms the library's date filters and the command-line tool accept."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from ._convert import i64
from .errors import InvalidArgument

DateLike = datetime | date | int | str | None
"""A query date: a ``datetime`` (naive = UTC), a ``date`` (a whole day, UTC), unix
seconds (``int``), a string (unix seconds, ``YYYY-MM-DD``, or an ISO 8601 date-time,
naive = UTC), or None for unset."""


def parse_date(text: str, *, end_of_day: bool = False) -> datetime:
    """Unix seconds, ``YYYY-MM-DD`` (the start of that day, UTC, or its last
    microsecond with ``end_of_day``) or an ISO 8601 date-time (naive = UTC).
    ``InvalidArgument`` for anything else."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        try:
            return datetime.fromtimestamp(int(stripped), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise InvalidArgument(f"date {text!r} is out of range") from None
    try:
        day = date.fromisoformat(stripped)
    except ValueError:
        pass
    else:
        return _day(day, end_of_day)
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(
            f"bad date {text!r}: use YYYY-MM-DD, an ISO 8601 date-time, or unix seconds"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _day(day: date, end_of_day: bool) -> datetime:
    return datetime.combine(day, time.max if end_of_day else time.min, timezone.utc)


def unix_seconds(value: DateLike, what: str, *, end: bool = False) -> int:
    """The library's form of a query bound: unix seconds, 0 = unset. A bare day as the
    ``end`` bound covers that whole day."""
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            value = parse_date(value, end_of_day=end)
        except InvalidArgument as e:
            raise InvalidArgument(f"{what}: {e}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp() // 1)
    if isinstance(value, date):
        return int(_day(value, end).timestamp() // 1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(
            f"{what}: expected a datetime, date, unix seconds or a date string, "
            f"got {type(value).__name__}"
        )
    return i64(value, what)
