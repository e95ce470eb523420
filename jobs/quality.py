"""Data-quality gate: Great Expectations suites from `expectations/`, run on the frames the job already read.

How it runs (and why it is fast enough)
---------------------------------------
The suites are GX expectation configurations (`type`, `kwargs`, `meta`) in JSON, one per OMOP table plus
`lab_values.json`. Loading validates every one: GX types through
`ExpectationConfiguration(...).to_domain_obj()` (a typo or a bad kwarg raises `SuiteError`, never a silent
drop), house types against `HOUSE_TYPES`.

GX's own Spark implementation costs about 1 s per expectation per million rows (several Spark jobs each, a
window per uniqueness check). So each table is checked in one pass: every row-level expectation is compiled
to an int flag column (1 = the row breaks it); the flags, and only the flags, are computed in one `select`
over the table joined once to a broadcast per-person anchor (person_id, birth year, death date), and summed in
one Spark action for all tables. Uniqueness, instead of GX's window: an integral key whose values are dense
(OMOP ids usually are) is counted exactly with Spark's bitmap aggregates (distinct values = rows means no
duplicate), all such keys in a second action; other keys, and keys found duplicated, take a pre-partitioned
`groupBy(key).count()` in a third action (see `_metric_values`). The counts form one row, and GX validates
`expect_column_sum_to_be_between(metric, max_value=0)` for all of them (GX bundles those aggregates into one
Spark job on that row). Schema checks (`expect_column_to_exist`) read the frame's schema. Every check,
however evaluated, is reported as an `ExpectationResult` under its suite type. Result format is SUMMARY;
nothing person-level reaches the driver.

Severities
----------
`error` stops the run before any output (`GateResult.raise_for_errors` -> `QualityGateError`, exit 2);
`warn` is recorded and the run goes on. Row-level warn expectations that carry `meta.quarantine` (a reason)
are applied by `quarantine_split` / `lab_quarantine_split`: those rows are never evidence and are written
with `_reason`. An expectation whose column the job did not read is reported as skipped (success,
`skipped=True`), not failed; a required column the reader had to fill with nulls fails
`expect_column_to_exist` (error).

Malformed-row policy per table (`_malformed` from the reader names the columns whose text did not parse, and
`_record` for a CSV line with the wrong number of fields)
--------------------------------------------------------------------------------------------------------------
- person: malformed or null person_id, a line with the wrong field count, or a duplicated person_id -> error
  (person is the denominator: a dropped or doubled person changes every count). Other malformed or null person
  fields (year_of_birth, gender ...) -> warn; the value is read as null and the person stays.
- death: malformed person_id or death_date, wrong field count, or null person_id -> error (dropping the row
  would make a deceased person look alive). Orphans and death dates beyond as_of -> quarantined.
- observation_period, condition_occurrence, drug_exposure, procedure_occurrence, measurement, observation,
  visit_occurrence: malformed values, wrong field count, orphan person_id, a null person_id / event concept /
  start date (observation_period: either date), start dates after as_of or before 1900, end dates before 1900,
  end before start -> quarantined (warn). Other null required fields (end dates, type concepts, keys),
  duplicate primary keys, events > 30 days after death and events before the birth year -> counted (warn),
  rows kept: real extracts often lack drug end dates, and no row can be told apart as the bad duplicate.
- concept: duplicate concept_id -> error (it multiplies every vocabulary join); other problems quarantined.
  concept_ancestor: quarantined.
- care_site, location, cdm_source: warn only (reference tables; malformed values read as null).
- lab results (from the criteria's labs): negative value, value outside the lab's plausible range
  (`lab_values.json`, in the lab's unit), numeric value without a convertible unit -> quarantined (warn).
- Absent required table or column, unreadable file -> `InputError` from the reader or the gate (exit 2).
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import reduce
from pathlib import Path
from typing import Any, Literal

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.errors import CohortFinderError, InputError, QualityGateError
from jobs.local_frames import local_frame
from jobs.omop_reader import ABSENT, MALFORMED, RECORD, _first_line

Severity = Literal["error", "warn"]
SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"
LAB_TABLE = "lab_results"
REASON = "_reason"

# GX expectation types the gate understands (validated by GX itself when suites load).
GX_TYPES = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_column_to_exist",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }
)
# House types: checks GX has no Spark-cheap form for; kwargs are checked here.
HOUSE_TYPES: dict[str, frozenset[str]] = {
    "expect_column_values_to_parse": frozenset({"column"}),
    "expect_rows_to_have_expected_field_count": frozenset(),
    "expect_column_values_to_exist_in_person": frozenset({"column"}),
    "expect_column_values_to_not_be_after_death": frozenset({"column", "days"}),
    "expect_column_values_to_not_be_before_birth_year": frozenset({"column"}),
    "expect_lab_values_to_have_convertible_unit": frozenset({"column"}),
}
PARAMETERS = ("as_of", "as_of_year")


class SuiteError(CohortFinderError):
    """An expectation suite file is invalid (unknown type, bad kwargs, bad severity)."""


# ------------------------------------------------------------------------------------------------ model
@dataclass(frozen=True)
class Check:
    """One expectation of a suite, as written in the JSON file."""

    suite: str
    table: str
    type: str
    kwargs: dict[str, Any]
    severity: Severity
    family: str
    why: str
    quarantine: str | None = None  # reason written to `_reason` when the row is quarantined
    lab: str | None = None
    unit: str | None = None

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.kwargs.get("column_A")

    @property
    def columns(self) -> list[str]:
        if self.type == "expect_column_pair_values_a_to_be_greater_than_b":
            return [self.kwargs["column_A"], self.kwargs["column_B"]]
        if self.type == "expect_rows_to_have_expected_field_count":
            return [MALFORMED]
        if self.type == "expect_column_values_to_parse":
            return [self.kwargs["column"], MALFORMED]
        if self.type == "expect_lab_values_to_have_convertible_unit":
            return ["value_as_number", "value_canonical", "unit_key", "lab"]
        if self.lab:
            return [self.kwargs["column"], "lab"]
        return [self.kwargs["column"]] if "column" in self.kwargs else []

    def describe(self) -> str:
        k = self.kwargs
        if self.type == "expect_column_values_to_be_between":
            what = f"between {_show(k.get('min_value'))} and {_show(k.get('max_value'))}"
            return f"{self.lab} {what} {self.unit}" if self.lab else what
        if self.type == "expect_column_pair_values_a_to_be_greater_than_b":
            return f"{k['column_A']} {'>=' if k.get('or_equal') else '>'} {k['column_B']}"
        if self.type == "expect_column_values_to_not_be_after_death":
            return f"not more than {k['days']} days after death"
        return ""


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    checks: tuple[Check, ...]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExpectationResult:
    suite: str
    table: str
    column: str | None
    expectation: str
    severity: Severity
    success: bool
    unexpected_count: int | None
    element_count: int | None
    message: str  # names table, column, expectation and count; never a row value
    skipped: bool = False
    family: str = ""


@dataclass
class GateResult:
    results: list[ExpectationResult]
    seconds: float
    timings: dict[str, float] = field(
        default_factory=dict
    )  # flags / gx / uniqueness seconds, for the benchmark

    def errors(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success and r.severity == "error"]

    def warnings(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success and r.severity == "warn"]

    def raise_for_errors(self) -> None:
        errors = self.errors()
        if errors:
            lines = "\n".join(f"  - {r.message}" for r in errors)
            raise QualityGateError(
                f"data-quality gate: {len(errors)} error-severity expectation(s) failed;"
                f" nothing was written. Fix the extract and rerun:\n{lines}"
            )

    def to_manifest(self) -> dict[str, Any]:
        return {
            "passed": not self.errors(),
            "seconds": round(self.seconds, 3),
            "expectations": len(self.results),
            "evaluated": sum(not r.skipped for r in self.results),
            "skipped": sum(r.skipped for r in self.results),
            "errors": len(self.errors()),
            "warnings": len(self.warnings()),
            "results": [asdict(r) for r in self.results],
        }

    def to_markdown(self) -> str:
        m = self.to_manifest()
        lines = [
            f"**Data-quality gate: {'passed' if m['passed'] else 'FAILED'}** — {m['evaluated']} expectations"
            f" evaluated ({m['skipped']} skipped: column not read), {m['errors']} errors,"
            f" {m['warnings']} warnings, {self.seconds:.1f} s.",
            "",
        ]
        failed = self.errors() + self.warnings()
        if failed:
            lines += [
                "| severity | table | column | expectation | bad rows | rows |",
                "|---|---|---|---|---:|---:|",
            ]
            lines += [
                f"| {r.severity} | {r.table} | {r.column or ''} | {r.expectation} |"
                f" {'' if r.unexpected_count is None else r.unexpected_count} |"
                f" {'' if r.element_count is None else r.element_count} |"
                for r in failed
            ]
        return "\n".join(lines) + "\n"

    def summary_text(self) -> str:
        m = self.to_manifest()
        head = (
            f"data-quality gate {'PASSED' if m['passed'] else 'FAILED'}: {m['evaluated']} checks,"
            f" {m['errors']} errors, {m['warnings']} warnings, {m['skipped']} skipped ({self.seconds:.1f} s)"
        )
        body = [f"  ERROR {r.message}" for r in self.errors()] + [
            f"  warn  {r.message}" for r in self.warnings()
        ]
        return "\n".join([head, *body])


# ------------------------------------------------------------------------------------------------ loading
def load_suites(directory: Path | None = None) -> dict[str, Suite]:
    """Every `*.json` suite in `directory` (default `<repo>/expectations`), validated, by suite name."""
    directory = Path(directory) if directory is not None else SUITES_DIR
    files = sorted(directory.glob("*.json"))
    if not files:
        raise SuiteError(f"no expectation suites (*.json) in {directory}")
    suites: dict[str, Suite] = {}
    for path in files:
        suite = _load_suite(path)
        if suite.name in suites:
            raise SuiteError(f"{path.name}: suite name {suite.name!r} is used twice")
        suites[suite.name] = suite
    return suites


def _load_suite(path: Path) -> Suite:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        name, table, items = doc["name"], doc["table"], doc["expectations"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SuiteError(f"{path.name}: not a suite file (needs name, table, expectations): {exc}") from None
    checks = [_load_check(path.name, i, name, table, item) for i, item in enumerate(items)]
    return Suite(name=name, table=table, checks=tuple(checks), meta=doc.get("meta", {}))


def _load_check(file: str, index: int, suite: str, table: str, item: dict) -> Check:
    where = f"{file}: expectation #{index + 1}"
    type_ = item.get("type")
    kwargs = dict(item.get("kwargs", {}))
    meta = dict(item.get("meta", {}))
    known = sorted(GX_TYPES | set(HOUSE_TYPES))
    if type_ not in known:
        hint = difflib.get_close_matches(str(type_), known, n=1)
        raise SuiteError(
            f"{where}: unknown expectation type {type_!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else f"; known types: {', '.join(known)}")
        )
    severity = meta.get("severity")
    if severity not in ("error", "warn"):
        raise SuiteError(f"{where} ({type_}): meta.severity must be 'error' or 'warn', not {severity!r}")
    if not meta.get("why"):
        raise SuiteError(f"{where} ({type_}): meta.why (the rationale for the severity) is missing")
    for value in kwargs.values():
        if isinstance(value, dict) and value.get("$PARAMETER") not in PARAMETERS:
            raise SuiteError(
                f"{where} ({type_}): unknown parameter {value!r}; known: {', '.join(PARAMETERS)}"
            )
    if type_ in GX_TYPES:
        _validate_with_gx(where, type_, kwargs)
    else:
        extra = set(kwargs) - HOUSE_TYPES[type_]
        missing = HOUSE_TYPES[type_] - set(kwargs)
        if extra or missing:
            raise SuiteError(
                f"{where} ({type_}): kwargs must be {sorted(HOUSE_TYPES[type_])}"
                f" (unknown {sorted(extra)}, missing {sorted(missing)})"
            )
    if "row_condition" in kwargs:
        raise SuiteError(f"{where} ({type_}): row_condition is not supported; use meta.lab for lab ranges")
    return Check(
        suite=suite,
        table=table,
        type=type_,
        kwargs=kwargs,
        severity=severity,
        family=meta.get("check", ""),
        why=meta["why"],
        quarantine=meta.get("quarantine"),
        lab=meta.get("lab"),
        unit=meta.get("unit"),
    )


def _validate_with_gx(where: str, type_: str, kwargs: dict) -> None:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    try:
        ExpectationConfiguration(type=type_, kwargs=kwargs).to_domain_obj()
    except Exception as exc:  # GX raises several types (InvalidExpectationConfigurationError, pydantic ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SuiteError(f"{where} ({type_}): invalid kwargs {sorted(kwargs)}: {first[:300]}") from None


# ------------------------------------------------------------------------------------------------ flags
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


def _flag(check: Check, as_of: date, known_labs: frozenset[str]) -> Column:
    """A boolean Column, true when the row breaks `check` (null counts as not broken)."""
    k = check.kwargs
    t = check.type
    if t == "expect_column_values_to_not_be_null":
        return F.col(k["column"]).isNull()
    if t == "expect_column_values_to_parse":
        return F.array_contains(F.col(MALFORMED), k["column"])
    if t == "expect_rows_to_have_expected_field_count":
        return F.array_contains(F.col(MALFORMED), RECORD)
    if t == "expect_column_values_to_be_between":
        c = F.col(k["column"])
        lo, hi = _lit(k.get("min_value"), as_of), _lit(k.get("max_value"), as_of)
        out = F.lit(False)
        if lo is not None:
            out = out | ((c <= lo) if k.get("strict_min") else (c < lo))
        if hi is not None:
            out = out | ((c >= hi) if k.get("strict_max") else (c > hi))
        out = c.isNotNull() & out
        return (F.col("lab") == check.lab) & out if check.lab else out
    if t == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = F.col(k["column_A"]), F.col(k["column_B"])
        return a.isNotNull() & b.isNotNull() & ((a < b) if k.get("or_equal") else (a <= b))
    if t == "expect_column_values_to_exist_in_person":
        return F.col(k["column"]).isNotNull() & F.col("_a_pid").isNull()
    if t == "expect_column_values_to_not_be_after_death":
        return F.col(k["column"]) > F.date_add(F.col("_a_death"), int(k["days"]))
    if t == "expect_column_values_to_not_be_before_birth_year":
        return F.year(F.col(k["column"])) < F.col("_a_yob")
    if t == "expect_lab_values_to_have_convertible_unit":
        no_unit = F.when(F.col("lab").isin(*sorted(known_labs)), F.col("value_canonical").isNull()).otherwise(
            F.col("unit_key").isNull()
        )
        return F.col("value_as_number").isNotNull() & no_unit
    raise AssertionError(f"no flag for {t}")  # load_suites admits only the types handled here


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


def _known_labs(suite: Suite) -> frozenset[str]:
    return frozenset(c.lab for c in suite.checks if c.lab)


def _absent(df: DataFrame, column: str) -> bool:
    """True when the reader filled `column` with nulls because the file lacked it."""
    return bool(df.schema[column].metadata.get(ABSENT)) if column in df.columns else False


# ------------------------------------------------------------------------------------------------ gate
class _Gx:
    """One ephemeral GX context with one Spark dataframe asset, validating the gate's metric row."""

    def __init__(self) -> None:
        import logging

        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # That module sets its own logger to INFO on import ("Created temporary directory ... for ephemeral
        # docs site" on every run); follow the package's level instead.
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.NOTSET)
        self._gx = gx
        self.ctx = gx.get_context(mode="ephemeral")
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.ctx.data_sources.add_spark(name="cohort_finder", persist=False)
        self.batch = source.add_dataframe_asset(name="metrics").add_batch_definition_whole_dataframe("whole")

    def validate(
        self, metrics: DataFrame, bounds: dict[str, tuple[int | None, int | None]]
    ) -> dict[str, int]:
        """`expect_column_sum_to_be_between` for every metric column (GX bundles them into one aggregate);
        returns each column's observed value."""
        exps = [
            {
                "type": "expect_column_sum_to_be_between",
                "kwargs": {"column": c, "min_value": lo, "max_value": hi},
            }
            for c, (lo, hi) in bounds.items()
        ]
        suite = self._gx.ExpectationSuite(name="cohort_finder_gate", expectations=exps)
        if len(suite.expectations) != len(exps):  # GX drops a bad dict silently; never let that pass
            raise AssertionError("GX dropped an expectation of the gate")
        res = self.batch.get_batch(batch_parameters={"dataframe": metrics}).validate(
            suite, result_format="SUMMARY"
        )
        observed: dict[str, int] = {}
        for r in res.results:
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(r.exception_info.get("exception_message") or "GX expectation raised")
            observed[r.expectation_config.kwargs["column"]] = int(r.result.get("observed_value") or 0)
        return observed


def _person_anchor(frames: dict[str, DataFrame]) -> DataFrame | None:
    """person_id -> birth year, earliest death date: one small frame joined to every event table."""
    person = frames.get("person")
    if person is None or "person_id" not in person.columns:
        return None
    has_yob = "year_of_birth" in person.columns
    yob = F.min("year_of_birth") if has_yob else F.lit(None).cast("long")
    anchor = (
        person.where(F.col("person_id").isNotNull())
        .groupBy("person_id")
        .agg(yob.alias("_a_yob"))
        .withColumnRenamed("person_id", "_a_pid")
    )
    if not has_yob:
        anchor = anchor.withColumn("_no_yob", F.lit(True))
    death = frames.get("death")
    if death is not None and {"person_id", "death_date"} <= set(death.columns):
        deaths = death.groupBy(F.col("person_id").alias("_d_pid")).agg(F.min("death_date").alias("_a_death"))
        anchor = anchor.join(deaths, anchor["_a_pid"] == deaths["_d_pid"], "left").drop("_d_pid")
    else:
        anchor = anchor.withColumn("_a_death", F.lit(None).cast("date")).withColumn("_no_death", F.lit(True))
    return anchor


@dataclass
class _Plan:
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
        """One row: this table's row count, the bad-row count of every row-level check, and for each integral
        uniqueness key its non-null count, min and max (what `bitmap_fits` needs).

        The flags are summed in one global aggregate (partial sums per task, no shuffle)."""
        if not (self.flags or self.uniques or self.row_count_check is not None):
            return None
        df = self.df
        base = (
            df.join(F.broadcast(anchor), df["person_id"] == anchor["_a_pid"], "left")
            if self.needs_anchor
            else df
        )
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
        """One row: the number of distinct values of key `i`, exactly, from bitmaps.

        Each value sets one bit of a 4 KB bitmap (32,768 values per bucket); a task builds one bitmap per bucket
        it meets, only the bitmaps are shuffled, and the distinct count is the sum of their set bits. For dense
        ids (what OMOP ETLs write) that is about 4 MB shuffled for measurement_id at 1M persons instead of 270
        MB of keys, and no hash map of every key (measurement_id, 33.7M keys: 3.0-4.9 s against 12.4-18.2 s for
        the pre-partitioned groupBy; measured). Used only when `bitmap_fits` says the ids are dense enough."""
        key = F.col(self.key_column(i)).cast("long")
        return (self.df.select(key.alias("_k")).where(F.col("_k").isNotNull())
                .groupBy(F.bitmap_bucket_number("_k").alias("_b"))
                .agg(F.bitmap_construct_agg(F.bitmap_bit_position("_k")).alias("_bm"))
                .agg(F.coalesce(F.sum(F.bitmap_count("_bm")), F.lit(0)).alias(self.key_stat(i, "distinct"))))

    def duplicate_aggregate(self, i: int, rows: int | None = None) -> DataFrame:
        """One row: the number of rows whose key `i` occurs more than once (exact, any key type).

        A `groupBy(key).count()` over that one column, after an explicit repartition by the key: the keys of an
        event table are (nearly) all distinct, so the map-side partial aggregate the planner adds otherwise
        builds a hash map of every key and reduces nothing (measurement_id at 1M persons: 22-30 s with it, 17-20
        s without). `rows` (the table's row count, from the flags action that runs first) sets the number of
        partitions to about KEYS_PER_PARTITION keys each: left to AQE, the 270 MB of measurement_id keys were
        coalesced into a few partitions of millions of keys, whose hash maps outgrew the CPU caches and were
        rehashed as they grew (measurement_id, 33.7M keys: 16.5-18.3 s coalesced, 12.0-12.9 s in 128
        partitions, 14.7 s in 512; measured). Folding the flags into the key's groupBy (the first design)
        shuffled and buffered every flag per key, twice the time; a second scan of one column is cheaper.
        Run for keys that are not integral or too sparse for bitmaps, and for keys the bitmaps found
        duplicated (to count the rows involved, as GX's unexpected_count does)."""
        parts = key_partitions(rows)
        key = self.key_column(i)
        keys = self.df.select(key).where(F.col(key).isNotNull())
        keys = keys.repartition(parts, key) if parts else keys.repartition(key)
        return keys.groupBy(key).count().agg(
            F.coalesce(F.sum(F.when(F.col("count") > 1, F.col("count"))), F.lit(0)).alias(self.col(i)))


INTEGRAL_TYPES = (T.LongType, T.IntegerType, T.ShortType, T.ByteType)
KEYS_PER_PARTITION = 250_000
BITMAP_BITS = 32_768  # values per bucket of Spark's bitmap_* functions (a 4 KB bitmap)
KEYS_PER_BITMAP = 256  # below this many keys per bucket on average, exact groupBy instead of bitmaps


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


def _one_row(parts: list[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.crossJoin(b), parts)


def _collect_row(parts: list[tuple[_Plan, DataFrame]]) -> dict[str, Any]:
    """The one-row results of `parts`, computed in one Spark action; a scan failing names its table."""
    try:
        row = _one_row([a for _, a in parts]).first()
    except Exception as exc:
        _raise_unreadable(parts, exc)
    return row.asDict()


def _metric_values(flag_parts: list[tuple[_Plan, DataFrame]], plans: list[_Plan]) -> dict[str, int]:
    """Every metric the suites need: rows, bad rows per flag, duplicated rows per key.

    Spark actions, in order: every table's flags in one (each table scanned once; it also counts each integral
    key's values and their range); then the distinct counts of the keys dense enough for bitmaps (`bitmap_fits`),
    all in one; then the exact duplicate count of the other keys and of keys the bitmaps found duplicated, all
    in one (none in a clean extract with dense ids). At 1M persons one action for flags and keys took 117.5 s,
    the flags alone 41.0 s and the keys alone 47.5 s (measured): the key aggregations' hash maps and the flag
    scans competed for the heap at once."""
    values = _collect_row(flag_parts)
    dense: list[tuple[_Plan, int]] = []
    exact: list[tuple[_Plan, int]] = []
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
        distinct = _collect_row([(p, p.distinct_aggregate(i)) for p, i in dense])
        for p, i in dense:
            if distinct[p.key_stat(i, "distinct")] == values[p.key_stat(i, "n")]:
                values[p.col(i)] = 0
            else:
                exact.append((p, i))
    if exact:
        values.update(_collect_row([(p, p.duplicate_aggregate(i, values.get(p.rows_col))) for p, i in exact]))
    return values


def run_gate(
    spark: SparkSession,
    frames: dict[str, DataFrame],
    *,
    as_of: date,
    suites: dict[str, Suite],
    lab_results: DataFrame | None = None,
) -> GateResult:
    """Run every suite on its frame. Nothing is raised for bad data (see `raise_for_errors`), except
    `InputError` when a file turns out unreadable while it is scanned."""
    start = time.perf_counter()
    results: list[ExpectationResult] = []
    plans: list[_Plan] = []
    anchor = _person_anchor(frames)
    for k, suite in enumerate(suites.values()):
        df = lab_results if suite.table == LAB_TABLE else frames.get(suite.table)
        if df is None:
            msg = f"{suite.table}: not read by the job; suite {suite.name} skipped"
            results.append(
                ExpectationResult(
                    suite.name, suite.table, None, "suite", "warn", True, None, None, msg, skipped=True
                )
            )
            continue
        plans.append(_plan(suite, f"s{k}", df, anchor, as_of))
    flag_parts = [(p, a) for p in plans if (a := p.flag_aggregate(anchor)) is not None]
    timings = {"compute_metrics": 0.0, "gx_validate": 0.0}
    observed: dict[str, int] = {}
    if flag_parts:
        t0 = time.perf_counter()
        values = _metric_values(flag_parts, plans)
        t1 = time.perf_counter()
        bounds: dict[str, tuple[int | None, int | None]] = {}
        for p, _ in flag_parts:
            bounds[p.rows_col] = (p.min_rows, None)
            bounds.update({p.col(i): (None, 0) for i in [*p.flags, *p.uniques]})
        # GX validates the computed metrics (one row of counts, never a person-level value)
        metrics = local_frame(spark, [tuple(int(values[c]) for c in bounds)], ", ".join(f"{c} long" for c in bounds))
        observed = _Gx().validate(metrics, bounds)
        timings = {
            "compute_metrics": round(t1 - t0, 3),
            "gx_validate": round(time.perf_counter() - t1, 3),
        }
    for p in plans:
        rows = observed.get(p.rows_col)
        for i in [*p.flags, *p.uniques]:
            p.results[i] = _result(p.suite.checks[i], observed[p.col(i)], rows or 0)
        if p.row_count_check is not None:
            check = p.suite.checks[p.row_count_check]
            ok = (rows or 0) >= p.min_rows
            verdict = "passed" if ok else "failed"
            p.results[p.row_count_check] = ExpectationResult(
                check.suite,
                check.table,
                None,
                check.type,
                check.severity,
                ok,
                None,
                rows,
                f"{check.table}: {check.type} (at least {p.min_rows}) {verdict} with {rows} rows",
                family=check.family,
            )
        results += [p.results[i] for i in sorted(p.results)]
    return GateResult(results=results, seconds=time.perf_counter() - start, timings=timings)


def _raise_unreadable(parts: list[tuple[_Plan, DataFrame]], exc: Exception) -> None:
    """Name the table whose scan failed (retrying each alone), as an InputError."""
    for p, agg in parts:
        try:
            agg.collect()
        except Exception as table_exc:
            raise InputError(
                f"table {p.suite.table}: cannot be read while checking it ({_first_line(table_exc)});"
                " check the file is complete and in the expected format."
            ) from None
    raise InputError(f"the extract cannot be read while checking it ({_first_line(exc)}).") from None


def _skipped(check: Check, why: str) -> ExpectationResult:
    col = check.column
    msg = f"{check.table}.{col or '*'}: {check.type} skipped ({why})"
    return ExpectationResult(
        check.suite,
        check.table,
        col,
        check.type,
        check.severity,
        True,
        None,
        None,
        msg,
        skipped=True,
        family=check.family,
    )


def _result(check: Check, bad: int, rows: int) -> ExpectationResult:
    col = check.column
    what = check.describe()
    subject = f"{check.table}.{col}" if col else check.table
    verdict = "passed" if bad == 0 else f"failed for {bad} of {rows} rows"
    msg = f"{subject}: {check.type}{f' ({what})' if what else ''} {verdict}"
    return ExpectationResult(
        check.suite,
        check.table,
        col,
        check.type,
        check.severity,
        bad == 0,
        bad,
        rows,
        msg,
        family=check.family,
    )


def _plan(suite: Suite, key: str, df: DataFrame, anchor: DataFrame | None, as_of: date) -> _Plan:
    plan = _Plan(suite=suite, key=key, df=df)
    known_labs = _known_labs(suite)
    for i, check in enumerate(suite.checks):
        if check.type == "expect_table_row_count_to_be_between":
            plan.row_count_check, plan.min_rows = i, int(check.kwargs.get("min_value") or 0)
            continue
        if check.type == "expect_column_to_exist":
            col = check.kwargs["column"]
            if col not in df.columns:
                plan.results[i] = _skipped(check, f"column {col} not read")
                continue
            ok = not _absent(df, col)
            verdict = (
                "passed" if ok else "failed: the column is absent from the file and was filled with nulls"
            )
            plan.results[i] = ExpectationResult(
                check.suite,
                check.table,
                col,
                check.type,
                check.severity,
                ok,
                None,
                None,
                f"{check.table}.{col}: {check.type} {verdict}",
                family=check.family,
            )
            continue
        missing = [c for c in check.columns if c not in df.columns]
        if missing:
            plan.results[i] = _skipped(check, f"column {', '.join(missing)} not read")
            continue
        need = ANCHOR_NEEDS.get(check.type)
        if need:
            lacking = (
                anchor is None
                or (need == "_a_death" and "_no_death" in anchor.columns)
                or (need == "_a_yob" and "_no_yob" in anchor.columns)
            )
            if lacking:
                plan.results[i] = _skipped(check, ANCHOR_WHY[need])
                continue
            plan.needs_anchor = True
        if check.type == "expect_column_values_to_be_unique":
            plan.uniques.append(i)
        else:
            plan.flags[i] = _flag(check, as_of, known_labs)
    return plan


# ------------------------------------------------------------------------------------------------ quarantine
def _empty_bad(df: DataFrame) -> DataFrame:
    return df.limit(0).withColumn(REASON, F.lit(None).cast("string"))


def quarantine_split(
    table: str, df: DataFrame, *, as_of: date, persons: DataFrame, suites: dict[str, Suite]
) -> tuple[DataFrame, DataFrame]:
    """(good rows, bad rows + `_reason`) for the row-level warn expectations of `table` that quarantine.

    The first matching reason, in suite order, is the row's `_reason`. `persons` is a one-column frame of
    person_id; orphans are found with one broadcast left join on it (never collected).
    """
    suite = next((s for s in suites.values() if s.table == table), None)
    cols = df.columns
    if suite is None:
        return df, _empty_bad(df)
    reasons: list[Column] = []
    orphan = False
    for check in suite.checks:
        if check.severity != "warn" or not check.quarantine or any(c not in cols for c in check.columns):
            continue
        if check.type == "expect_column_values_to_exist_in_person":
            orphan = True
            flag = F.col(check.kwargs["column"]).isNotNull() & F.col("_q_pid").isNull()
        elif check.type in ANCHOR_NEEDS or check.type == "expect_column_values_to_be_unique":
            continue
        else:
            flag = _flag(check, as_of, _known_labs(suite))
        reasons.append(F.when(F.coalesce(flag, F.lit(False)), F.lit(check.quarantine)))
    if not reasons:
        return df, _empty_bad(df)
    base = df
    if orphan:
        pid = (
            persons.select(F.col(persons.columns[0]).alias("_q_pid"))
            .where(F.col("_q_pid").isNotNull())
            .distinct()
        )
        base = df.join(F.broadcast(pid), df["person_id"] == pid["_q_pid"], "left")
    flagged = base.select(*[F.col(f"`{c}`") for c in cols], F.coalesce(*reasons).alias(REASON))
    good = flagged.where(F.col(REASON).isNull()).select(*[F.col(f"`{c}`") for c in cols])
    bad = flagged.where(F.col(REASON).isNotNull())
    return good, bad


def lab_quarantine_split(lab_results: DataFrame, suites: dict[str, Suite]) -> tuple[DataFrame, DataFrame]:
    """(good, bad + `_reason`) lab results: negative value, implausible value, unconvertible unit."""
    return quarantine_split(LAB_TABLE, lab_results, as_of=date.max, persons=lab_results, suites=suites)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("$PARAMETER", "?")
    return "-inf" if value is None else str(value)
