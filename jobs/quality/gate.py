"""The data-quality gate: the expectation suites run on the frames the job already read, before any criterion.

`run_gate` plans every suite against its frame (`MetricPlan`: results known from the schema, flag Columns,
uniqueness keys), computes all counts in a few Spark actions (jobs/quality/metrics.py) and has Great
Expectations validate them (jobs/quality/gx_adapter.py). `gate_inputs` is the stage the pipeline runs: the
gate, then the split of every event table and of the lab results into evidence and quarantine.

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
- lab results (from the criteria's labs; the measurement rows used as evidence): first the measurement
  suite's quarantining checks (malformed or non-finite values, wrong field count, orphan person_id, dates
  before 1900 or after as_of), then negative value, value outside the lab's plausible range (the lab
  catalogue or the trial's `labs:`, in the range's unit), numeric value without a convertible unit ->
  quarantined (warn); a lab without a range is reported as skipped.
- death before the birth year, and non-UTF-8 bytes in site/location names -> counted (warn), rows kept.
- Absent required table or column, unreadable file -> `InputError` from the reader or the gate (exit 2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.columns import local_frame
from jobs.errors import QualityGateError
from jobs.extract.inputs import LAB_RESULTS
from jobs.extract.reader import ABSENT
from jobs.quality.flags import ANCHOR_NEEDS, ANCHOR_WHY, FlagContext, flag_for
from jobs.quality.gx_adapter import GxValidator
from jobs.quality.metrics import MetricPlan, metric_values
from jobs.quality.quarantine import split_all
from jobs.quality.results import ExpectationResult, GateResult, counted, decided, skipped
from jobs.quality.suites import LAB_TABLE, PLAUSIBLE, Suite, known_labs


def run_gate(spark: SparkSession, frames: dict[str, DataFrame], *, as_of: date, suites: dict[str, Suite],
             lab_results: DataFrame | None = None) -> GateResult:
    """Run every suite on its frame. Nothing is raised for bad data (see `raise_for_errors`), except
    `InputError` when a file turns out unreadable while it is scanned."""
    start = time.perf_counter()
    results: list[ExpectationResult] = []
    plans: list[MetricPlan] = []
    anchor = person_anchor(frames)
    for k, suite in enumerate(suites.values()):
        df = lab_results if suite.table == LAB_TABLE else frames.get(suite.table)
        if df is None:
            msg = f"{suite.table}: not read by the job; suite {suite.name} skipped"
            results.append(ExpectationResult(suite.name, suite.table, None, "suite", "warn", True, None, None, msg,
                                             skipped=True))
            continue
        plans.append(plan_suite(suite, f"s{k}", df, anchor, as_of))
    flag_parts = [(p, a) for p in plans if (a := p.flag_aggregate(anchor)) is not None]
    timings = {"compute_metrics": 0.0, "gx_validate": 0.0}
    observed: dict[str, int] = {}
    if flag_parts:
        t0 = time.perf_counter()
        values = metric_values(flag_parts, plans)
        t1 = time.perf_counter()
        bounds: dict[str, tuple[int | None, int | None]] = {}
        for p, _ in flag_parts:
            bounds[p.rows_col] = (p.min_rows, None)
            bounds.update({p.col(i): (None, 0) for i in [*p.flags, *p.uniques]})
        # GX validates the computed metrics (one row of counts, never a person-level value)
        metrics = local_frame(spark, [tuple(int(values[c]) for c in bounds)], ", ".join(f"{c} long" for c in bounds))
        observed = GxValidator().validate(metrics, bounds)
        timings = {"compute_metrics": round(t1 - t0, 3), "gx_validate": round(time.perf_counter() - t1, 3)}
    for p in plans:
        rows = observed.get(p.rows_col)
        for i in [*p.flags, *p.uniques]:
            p.results[i] = counted(p.suite.checks[i], observed[p.col(i)], rows or 0)
        if p.row_count_check is not None:
            ok = (rows or 0) >= p.min_rows
            p.results[p.row_count_check] = decided(
                p.suite.checks[p.row_count_check], ok,
                f"(at least {p.min_rows}) {'passed' if ok else 'failed'} with {rows} rows", rows)
        results += [p.results[i] for i in sorted(p.results)]
    return GateResult(results=results, seconds=time.perf_counter() - start, timings=timings)


def plan_suite(suite: Suite, key: str, df: DataFrame, anchor: DataFrame | None, as_of: date) -> MetricPlan:
    """What `suite` needs computed on `df`: results decided from the schema now, flags and keys for later."""
    plan = MetricPlan(suite=suite, key=key, df=df)
    ctx = FlagContext(as_of, known_labs(suite))
    for i, check in enumerate(suite.checks):
        if check.type == "expect_table_row_count_to_be_between":
            plan.row_count_check, plan.min_rows = i, int(check.kwargs.get("min_value") or 0)
            continue
        if check.type == "expect_column_to_exist":
            col = check.kwargs["column"]
            if col not in df.columns:
                plan.results[i] = skipped(check, f"column {col} not read")
                continue
            ok = not absent(df, col)
            plan.results[i] = decided(check, ok, "passed" if ok else
                                      "failed: the column is absent from the file and was filled with nulls")
            continue
        if check.type == PLAUSIBLE:  # a lab without a range, or a template no criteria expanded
            plan.results[i] = skipped(check, check.why if check.lab else "no lab definitions given")
            continue
        missing = [c for c in check.columns if c not in df.columns]
        if missing:
            plan.results[i] = skipped(check, f"column {', '.join(missing)} not read")
            continue
        need = ANCHOR_NEEDS.get(check.type)
        if need:
            lacking = (anchor is None or (need == "_a_death" and "_no_death" in anchor.columns)
                       or (need == "_a_yob" and "_no_yob" in anchor.columns))
            if lacking:
                plan.results[i] = skipped(check, ANCHOR_WHY[need])
                continue
            plan.needs_anchor = True
        if check.type == "expect_column_values_to_be_unique":
            plan.uniques.append(i)
        else:
            plan.flags[i] = flag_for(check, ctx)
    return plan


def absent(df: DataFrame, column: str) -> bool:
    """True when the reader filled `column` with nulls because the file lacked it."""
    return bool(df.schema[column].metadata.get(ABSENT)) if column in df.columns else False


def person_anchor(frames: dict[str, DataFrame]) -> DataFrame | None:
    """person_id -> birth year, earliest death date: one small frame joined to every event table."""
    person = frames.get("person")
    if person is None or "person_id" not in person.columns:
        return None
    has_yob = "year_of_birth" in person.columns
    yob = F.min("year_of_birth") if has_yob else F.lit(None).cast("long")
    anchor = (person.where(F.col("person_id").isNotNull()).groupBy("person_id").agg(yob.alias("_a_yob"))
              .withColumnRenamed("person_id", "_a_pid"))
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
class GateOutcome:
    """The gate's verdict, the frames that may be evidence, and the quarantined rows (one frame)."""

    frames: dict[str, DataFrame]
    gate: GateResult
    quarantined: DataFrame | None = None
    rows_read: dict[str, int] = field(default_factory=dict)
    cached: list[DataFrame] = field(default_factory=list)

    def release(self) -> None:
        """Drop what the gate cached for the stages after it (call once the features are written)."""
        for df in self.cached:
            df.unpersist()
        self.cached.clear()

    def to_manifest(self) -> dict:
        out = self.gate.to_manifest()
        out["markdown"] = self.gate.to_markdown()
        return out


def gate_inputs(spark: SparkSession, frames: dict[str, DataFrame], *, as_of: date, suites: dict[str, Suite],
                fail_on_warnings: bool = False) -> GateOutcome:
    """The quality stage: `error` checks stop the run (QualityGateError); rows breaking a quarantining `warn`
    check are split off every event table and the lab results.

    The lab results (the largest table joined with the criteria's labs and the unit lookups) are read by the
    gate, the quarantine split and the lab features: cached once, during the gate's own scan."""
    labs = frames[LAB_RESULTS].persist(StorageLevel.MEMORY_AND_DISK)
    tables = {t: df for t, df in frames.items() if t != LAB_RESULTS}
    try:
        gate = run_gate(spark, tables, as_of=as_of, suites=suites, lab_results=labs)
        gate.raise_for_errors()
        if fail_on_warnings and gate.warnings():
            raise QualityGateError("data-quality gate: warnings and --fail-on-quality-warnings:\n"
                                   + "\n".join(f"  - {r.message}" for r in gate.warnings()))
    except BaseException:
        labs.unpersist()
        raise
    clean, quarantined = split_all({**frames, LAB_RESULTS: labs}, as_of=as_of, suites=suites)
    rows: dict[str, int] = {}
    for r in gate.results:
        if r.element_count is not None and r.table in frames:
            rows[r.table] = max(rows.get(r.table, 0), int(r.element_count))
    return GateOutcome(frames=clean, gate=gate, quarantined=quarantined, rows_read=rows, cached=[labs])
