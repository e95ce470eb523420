"""The shared pieces of rule compilation: the Evidence a builder returns, its Context, and the `build`
dispatcher every rule kind registers with (kind modules import this one; compiler.py imports the kind modules).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

from pyspark.sql import Column
from pyspark.sql import functions as F

from schemas.criteria import CriteriaFile


@dataclass(frozen=True)
class Evidence:
    truth: Column  # boolean; null means the data cannot tell
    value: Column  # double
    unit: Column  # string
    date: Column  # date
    concept: Column  # long: the source concept of the evidence
    text: Column  # string, e.g. "UPCR 2.3 g/g on 2026-09-01"


@dataclass(frozen=True)
class Context:
    criteria: CriteriaFile


def null(kind: str) -> Column:
    return F.lit(None).cast(kind)


def window_text(days: int | None) -> str:
    return " ever" if days is None else f" in the last {days} days"


@singledispatch
def build(rule, ctx: Context) -> Evidence:  # pragma: no cover - the contract test guards this
    raise NotImplementedError(f"no builder for rule kind {type(rule).__name__}")


def combine(children: list[Evidence], truth: Column) -> Evidence:
    """Evidence of a composite: the children whose truth equals the composite's explain it."""
    match = [c.truth.eqNullSafe(truth) for c in children]
    return Evidence(
        truth,
        F.coalesce(*[F.when(m, c.value) for m, c in zip(match, children, strict=True)]),
        F.coalesce(*[F.when(m, c.unit) for m, c in zip(match, children, strict=True)]),
        F.greatest(*[F.when(m, c.date) for m, c in zip(match, children, strict=True)]) if len(children) > 1
        else F.when(match[0], children[0].date),
        F.coalesce(*[F.when(m, c.concept) for m, c in zip(match, children, strict=True)]),
        F.array_join(F.array_distinct(F.array(*[F.when(m, c.text) for m, c in zip(match, children, strict=True)])),
                     "; "),
    )
