"""The gate's counts, computed in a few Spark actions for all tables at once.

Each table's row-level checks are flag Columns (jobs/quality/flags.py) summed in one pass over the table.
Uniqueness, instead of GX's window over the whole frame: an integral key whose values are dense (OMOP ids
usually are) is counted exactly with Spark's bitmap aggregates (distinct values = rows means no duplicate);
other keys, and keys the bitmaps found duplicated, take a pre-partitioned `groupBy(key).count()`. Why this
split and what it costs: tests/benchmarks/README.md (the gate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.errors import InputError, first_line
from jobs.quality.results import ExpectationResult
from jobs.quality.suites import Suite

INTEGRAL_TYPES = (T.LongType, T.IntegerType, T.ShortType, T.ByteType)
KEYS_PER_PARTITION = 250_000  # keys per hash map of the exact duplicate count
BITMAP_BITS = 32_768  # values per bucket of Spark's bitmap_* functions (a 4 KB bitmap)
KEYS_PER_BITMAP = 256  # below this many keys per bucket on average, exact groupBy instead of bitmaps


@dataclass
class MetricPlan:
    """What one suite needs computed: results known from the schema, and the metric columns to aggregate."""

    suite: Suite
    key: str  # prefix of this suite's metric columns
    df: DataFrame
    results: dict[int, ExpectationResult] = field(default_factory=dict)
    flags: dict[int, Column] = field(default_factory=dict)
    uniques: list[int] = field(default_factory=list)
    needs_anchor: bool = False
    row_count_check: int | None = None
    min_rows: int = 0

    @property
    def rows_col(self) -> str:
        return f"{self.key}_rows"

    def col(self, i: int) -> str:
        return f"{self.key}_c{i}"

    def key_stat(self, i: int, stat: str) -> str:
        return f"{self.col(i)}_{stat}"

    def key_column(self, i: int) -> str:
        return self.suite.checks[i].kwargs["column"]

    def integral_key(self, i: int) -> bool:
        return isinstance(self.df.schema[self.key_column(i)].dataType, INTEGRAL_TYPES)

    def flag_aggregate(self, anchor: DataFrame | None) -> DataFrame | None:
        """One row: the table's row count, the bad-row count of every row-level check, and for each integral
        uniqueness key its non-null count, min and max (what `bitmap_fits` needs). One global aggregate:
        partial sums per task, no shuffle."""
        if not (self.flags or self.uniques or self.row_count_check is not None):
            return None
        df = self.df
        base = df.join(F.broadcast(anchor), df["person_id"] == anchor["_a_pid"], "left") if self.needs_anchor else df
        names = [self.col(i) for i in self.flags]
        flagged = [F.coalesce(c, F.lit(False)).cast("long").alias(self.col(i)) for i, c in self.flags.items()]
        keys = [i for i in self.uniques if self.integral_key(i)]
        key_cols = [F.col(self.key_column(i)).cast("long").alias(self.key_stat(i, "key")) for i in keys]
        stats = [agg(self.key_stat(i, "key")).alias(self.key_stat(i, name)) for i in keys
                 for name, agg in (("n", F.count), ("lo", F.min), ("hi", F.max))]
        return base.select(*flagged, *key_cols).agg(
            F.count(F.lit(1)).alias(self.rows_col),
            *[F.coalesce(F.sum(n), F.lit(0)).alias(n) for n in names],
            *stats,
        )

    def distinct_aggregate(self, i: int) -> DataFrame:
        """One row: the exact number of distinct values of key `i`, from bitmaps. Each value sets one bit of a
        4 KB bitmap per bucket of 32,768 values; only the bitmaps are shuffled. For dense keys only
        (`bitmap_fits`)."""
        key = F.col(self.key_column(i)).cast("long")
        return (self.df.select(key.alias("_k")).where(F.col("_k").isNotNull())
                .groupBy(F.bitmap_bucket_number("_k").alias("_b"))
                .agg(F.bitmap_construct_agg(F.bitmap_bit_position("_k")).alias("_bm"))
                .agg(F.coalesce(F.sum(F.bitmap_count("_bm")), F.lit(0)).alias(self.key_stat(i, "distinct"))))

    def duplicate_aggregate(self, i: int, rows: int | None = None) -> DataFrame:
        """One row: the number of rows whose key `i` occurs more than once (exact, any key type).

        Repartitioned by the key first (into `key_partitions(rows)` partitions): the keys are (nearly) all
        distinct, so a map-side partial aggregate would build a hash map of every key and reduce nothing."""
        parts = key_partitions(rows)
        key = self.key_column(i)
        keys = self.df.select(key).where(F.col(key).isNotNull())
        keys = keys.repartition(parts, key) if parts else keys.repartition(key)
        return keys.groupBy(key).count().agg(
            F.coalesce(F.sum(F.when(F.col("count") > 1, F.col("count"))), F.lit(0)).alias(self.col(i)))


def key_partitions(rows: int | None) -> int | None:
    """Partitions for a uniqueness check of `rows` keys: None (AQE decides) up to KEYS_PER_PARTITION keys."""
    if rows is None or rows <= KEYS_PER_PARTITION:
        return None
    return -(-rows // KEYS_PER_PARTITION)


def bitmap_bucket(value: int) -> int:
    """Spark's `bitmap_bucket_number` (Java long division truncates toward zero)."""
    return 1 + (value - 1) // BITMAP_BITS if value > 0 else -((-value) // BITMAP_BITS)


def bitmap_fits(n: int | None, lo: int | None, hi: int | None) -> bool:
    """True when `n` non-null integral keys between `lo` and `hi` are dense enough for the bitmap count: at
    least KEYS_PER_BITMAP keys per 4 KB bucket on average, so the bitmaps are smaller than the keys. Sparse ids
    (hashed, random) would make one mostly empty bitmap per key; they take the exact groupBy."""
    if not n or lo is None or hi is None:
        return False
    return (bitmap_bucket(hi) - bitmap_bucket(lo) + 1) * KEYS_PER_BITMAP <= n


def collect_row(parts: list[tuple[MetricPlan, DataFrame]]) -> dict[str, Any]:
    """The one-row results of `parts`, computed in one Spark action; a scan failing names its table."""
    try:
        row = reduce(lambda a, b: a.crossJoin(b), [a for _, a in parts]).first()
    except Exception as exc:
        raise_unreadable(parts, exc)
    return row.asDict()


def raise_unreadable(parts: list[tuple[MetricPlan, DataFrame]], exc: Exception) -> None:
    """Name the table whose scan failed (retrying each alone), as an InputError. Person and death first: every
    other table's checks join the person anchor built from them, so a bad person part fails them all."""
    for p, agg in sorted(parts, key=lambda pa: (pa[0].suite.table != "person", pa[0].suite.table != "death")):
        try:
            agg.collect()
        except Exception as table_exc:
            raise InputError(f"table {p.suite.table}: cannot be read while checking it ({first_line(table_exc)});"
                             " check the file is complete and in the expected format.") from None
    raise InputError(f"the extract cannot be read while checking it ({first_line(exc)}).") from None


def metric_values(flag_parts: list[tuple[MetricPlan, DataFrame]], plans: list[MetricPlan]) -> dict[str, int]:
    """Every metric the suites need: rows, bad rows per flag, duplicated rows per key.

    Three Spark actions at most: every table's flags (each table scanned once; it also counts each integral
    key's values and their range); the bitmap distinct counts of the dense keys; the exact duplicate counts of
    the other keys and of keys the bitmaps found duplicated (none in a clean extract with dense ids). Apart,
    because the key aggregations' hash maps and the flag scans competed for the heap in one action."""
    values = collect_row(flag_parts)
    dense: list[tuple[MetricPlan, int]] = []
    exact: list[tuple[MetricPlan, int]] = []
    for p in plans:
        for i in p.uniques:
            if not p.integral_key(i):
                exact.append((p, i))
                continue
            n, lo, hi = (values.get(p.key_stat(i, s)) for s in ("n", "lo", "hi"))
            if not n:
                values[p.col(i)] = 0  # no key at all: nothing duplicated
            elif bitmap_fits(n, lo, hi):
                dense.append((p, i))
            else:
                exact.append((p, i))
    if dense:
        distinct = collect_row([(p, p.distinct_aggregate(i)) for p, i in dense])
        for p, i in dense:
            if distinct[p.key_stat(i, "distinct")] == values[p.key_stat(i, "n")]:
                values[p.col(i)] = 0
            else:
                exact.append((p, i))
    if exact:
        values.update(collect_row([(p, p.duplicate_aggregate(i, values.get(p.rows_col))) for p, i in exact]))
    return values
