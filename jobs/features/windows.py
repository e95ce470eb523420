"""The window edges: every feature that looks back from the as-of date uses these (one definition).

A window of N days is (as_of - N, as_of]: its first day is as_of - N + 1. No window means the whole history
up to as-of. Events after as-of are never counted. A window that ends a days before as-of (`between_days:
[a, b]`) is the same window taken at `window_end(as_of, a)` = as_of - a, with b - a + 1 days.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F


def window_end(as_of: date, ends_days_before: int) -> date:
    """The last day of a window that ends `ends_days_before` days before as-of."""
    return as_of - timedelta(days=ends_days_before)


def first_day(as_of: date, within_days: int | None) -> date | None:
    """First day inside (as_of - within_days, as_of]; None for the whole history."""
    return None if within_days is None else as_of - timedelta(days=within_days - 1)


def on_or_before(day: Column, as_of: date) -> Column:
    return day <= F.lit(as_of)


def in_window(day: Column, as_of: date, within_days: int | None) -> Column:
    """`day` inside the window (a point event: a diagnosis, a procedure, a lab result)."""
    first = first_day(as_of, within_days)
    cond = on_or_before(day, as_of)
    return cond if first is None else cond & (day >= F.lit(first))


def overlaps_window(start: Column, end: Column, as_of: date, within_days: int | None) -> Column:
    """The interval [start, end] overlaps the window (a drug exposure)."""
    first = first_day(as_of, within_days)
    cond = on_or_before(start, as_of)
    return cond if first is None else cond & (end >= F.lit(first))


def clipped_start(start: Column, as_of: date, within_days: int | None) -> Column:
    """An interval's start, moved forward to the window's first day (for exposure days inside it)."""
    first = first_day(as_of, within_days)
    return start if first is None else F.greatest(start, F.lit(first))
