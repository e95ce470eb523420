"""Row-level expectations compiled to flag Columns: one registered function per expectation type.

A flag is true when the row breaks the check (null counts as not broken). The gate sums the flags of a
table in one pass; the quarantine splits rows on the same flags, so a count in the manifest and the rows in
`quarantine/` come from one definition. Flags that need the person (orphans, dates against death or birth)
read the per-person anchor columns the gate joins in (`ANCHOR_NEEDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.extract.reader import MALFORMED, RECORD
from jobs.quality.suites import Check


@dataclass(frozen=True)
class FlagContext:
    as_of: date
    known_labs: frozenset[str]  # labs with a plausibility range: their values are read in value_canonical


Flag = Callable[[Check, FlagContext], Column]
FLAGS: dict[str, Flag] = {}

# anchor column each person-relative flag reads, and why it is skipped without it
ANCHOR_NEEDS = {
    "expect_column_values_to_exist_in_person": "_a_pid",
    "expect_column_values_to_not_be_after_death": "_a_death",
    "expect_column_values_to_not_be_before_birth_year": "_a_yob",
}
ANCHOR_WHY = {
    "_a_pid": "person table not read",
    "_a_death": "death table not read",
    "_a_yob": "person.year_of_birth not read",
}


def flag(expectation_type: str) -> Callable[[Flag], Flag]:
    def register(fn: Flag) -> Flag:
        FLAGS[expectation_type] = fn
        return fn

    return register


def flag_for(check: Check, ctx: FlagContext) -> Column:
    return FLAGS[check.type](check, ctx)


def _param(value: Any, as_of: date) -> Any:
    if isinstance(value, dict):
        return as_of if value["$PARAMETER"] == "as_of" else as_of.year
    return value


def _lit(value: Any, as_of: date) -> Column | None:
    value = _param(value, as_of)
    if value is None:
        return None
    if isinstance(value, str):
        return F.lit(date.fromisoformat(value))
    return F.lit(value)


@flag("expect_column_values_to_not_be_null")
def _not_null(check: Check, ctx: FlagContext) -> Column:
    return F.col(check.kwargs["column"]).isNull()


@flag("expect_column_values_to_parse")
def _parses(check: Check, ctx: FlagContext) -> Column:
    return F.array_contains(F.col(MALFORMED), check.kwargs["column"])


@flag("expect_rows_to_have_expected_field_count")
def _field_count(check: Check, ctx: FlagContext) -> Column:
    return F.array_contains(F.col(MALFORMED), RECORD)


@flag("expect_column_values_to_be_between")
def _between(check: Check, ctx: FlagContext) -> Column:
    k = check.kwargs
    c = F.col(k["column"])
    lo, hi = _lit(k.get("min_value"), ctx.as_of), _lit(k.get("max_value"), ctx.as_of)
    out = F.lit(False)
    if lo is not None:
        out = out | ((c <= lo) if k.get("strict_min") else (c < lo))
    if hi is not None:
        out = out | ((c >= hi) if k.get("strict_max") else (c > hi))
    out = c.isNotNull() & out
    return (F.col("lab") == check.lab) & out if check.lab else out


@flag("expect_column_pair_values_a_to_be_greater_than_b")
def _pair(check: Check, ctx: FlagContext) -> Column:
    k = check.kwargs
    a, b = F.col(k["column_A"]), F.col(k["column_B"])
    return a.isNotNull() & b.isNotNull() & ((a < b) if k.get("or_equal") else (a <= b))


@flag("expect_column_values_to_exist_in_person")
def _in_person(check: Check, ctx: FlagContext) -> Column:
    return F.col(check.kwargs["column"]).isNotNull() & F.col("_a_pid").isNull()


@flag("expect_column_values_to_not_be_after_death")
def _after_death(check: Check, ctx: FlagContext) -> Column:
    return F.col(check.kwargs["column"]) > F.date_add(F.col("_a_death"), int(check.kwargs["days"]))


@flag("expect_column_values_to_not_be_before_birth_year")
def _before_birth(check: Check, ctx: FlagContext) -> Column:
    return F.year(F.col(check.kwargs["column"])) < F.col("_a_yob")


@flag("expect_lab_values_to_have_convertible_unit")
def _convertible_unit(check: Check, ctx: FlagContext) -> Column:
    """A numeric result of a lab with a range must convert into the range's unit; any other numeric result
    must at least have a recognised unit."""
    no_unit = F.when(F.col("lab").isin(*sorted(ctx.known_labs)), F.col("value_canonical").isNull()).otherwise(
        F.col("unit_key").isNull())
    return F.col("value_as_number").isNotNull() & no_unit


@flag("expect_column_values_to_be_valid_utf8")
def _valid_utf8(check: Check, ctx: FlagContext) -> Column:
    """Bytes that are not UTF-8 (a Latin-1 export) are read as U+FFFD: the text is damaged, and would reach
    shared outputs (site names) silently."""
    return F.col(check.kwargs["column"]).contains("\ufffd")
