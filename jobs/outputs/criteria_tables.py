"""`criteria_results` as written, and the trial-level `criteria` table (README "Outputs").

By default `criteria_results` holds the rows that explain each person's status (`explains`); `--full-results`
writes every person x cohort x criterion row. A person-independent criterion (same outcome and evidence for
every person, e.g. a `kind: review` item) is never repeated per person: its one result is a row of `criteria`.

Person-independent is read from the compiled plan, not from a list of rule kinds: a criterion whose resolved
result expression references no column of the feature frame cannot differ between persons, whatever rule kind
produced it. Its constant result is computed on a one-row inline table, a local relation: no Spark job.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.outputs.fs import OutputFS
from jobs.outputs.registry import CRITERIA_CSV, CRITERIA_TABLE
from jobs.rules import evaluation as ev
from jobs.rules.compiler import criterion_result, result_column
from jobs.rules.evidence import Context
from schemas.criteria import CriteriaFile

RESULT_FIELDS = ("outcome", "evidence_value", "evidence_unit", "evidence_date", "source_concept_id", "evidence")
CRITERIA_DDL = ("cohort string, criterion string, criterion_order int, type string, kind string, description string, "
                "person_independent boolean, outcome string, evidence_value double, evidence_unit string, "
                "evidence_date date, source_concept_id long, evidence string")
CRITERIA_COLUMNS = tuple(part.split()[0] for part in CRITERIA_DDL.split(", "))


def independent_columns(frame: DataFrame) -> list[str]:
    """Output columns of `frame` whose expression references none of its input columns (from the analyzed
    plan of its top projection; nothing runs). Without a JVM plan to read (Spark Connect) none: every criterion
    is then treated as person-dependent, which keeps its rows per person (safe, only larger)."""
    jdf = getattr(frame, "_jdf", None)
    if jdf is None:
        return []
    plan = jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() != "Project":
        return []
    items = plan.projectList()
    return [items.apply(i).name() for i in range(items.size()) if items.apply(i).references().isEmpty()]


def constant_results(spark: SparkSession, evaluated: DataFrame, criteria: CriteriaFile) -> dict[str, dict]:
    """{criterion id: its result (RESULT_FIELDS)} for every person-independent criterion. `evaluated` is
    `ev.evaluate(features, criteria)` as built (not read back from Parquet: its plan is what is inspected)."""
    columns = set(independent_columns(evaluated))
    ids = [c.id for c in criteria.criteria if result_column(c.id) in columns]
    if not ids:
        return {}
    ctx = Context(criteria)
    one = spark.sql("VALUES (0) AS one(_row)")  # a local relation: collected without a Spark job
    row = one.select(*[criterion_result(criteria.criterion(c), ctx).alias(c) for c in ids]).first()
    return {c: dict(zip(RESULT_FIELDS, (row[c]["outcome"], row[c]["value"], row[c]["unit"], row[c]["date"],
                                        row[c]["concept_id"], row[c]["evidence"]), strict=True)) for c in ids}


def criteria_rows(criteria: CriteriaFile, constants: Mapping[str, dict]) -> list[dict]:
    """One row per cohort and criterion, in protocol order; the result fields are filled for the
    person-independent criteria only (the others vary by person: see criteria_results)."""
    rows = []
    for cohort, spec in criteria.cohorts.items():
        for order, cid in enumerate(spec.criteria, start=1):
            crit = criteria.criterion(cid)
            fixed = constants.get(cid)
            rows.append({"cohort": cohort, "criterion": cid, "criterion_order": order, "type": crit.type,
                         "kind": crit.rule.kind, "description": crit.text, "person_independent": fixed is not None,
                         **{f: (fixed or {}).get(f) for f in RESULT_FIELDS}})
    return rows


def explains_why_out(outcome: Column, criterion_type: Column, evidence_date: Column) -> Column:
    """Which rows of an ineligible person are kept: the failing rows (why they are out) and the dated
    inclusion rows (what-if ranks them by the latest qualifying inclusion date if their failing criteria are
    dropped). Their other outcomes are in person_status (`unknown`, `review`; the rest pass). Every row of an
    eligible or possible person is kept."""
    return (outcome == "fail") | ((criterion_type == "inclusion") & evidence_date.isNotNull())


def results_table(evaluated: DataFrame, criteria: CriteriaFile, constants: Mapping[str, dict],
                  full: bool) -> DataFrame:
    """criteria_results: every row (`full`, --full-results: today's table, person-independent rows included),
    else the explaining rows, person-independent criteria left out.

    The status filters persons before `inline` (once per person), never the generated rows: a status test
    above the generator is re-evaluated for every row (measured 3x slower at 100k persons)."""
    if full:
        return ev.criteria_results(evaluated, criteria)
    frames = []
    for cohort in criteria.cohorts:
        status = ev.status_in(criteria, cohort)
        frames.append(ev.cohort_results(evaluated.where(status != "ineligible"), criteria, cohort, set(constants)))
        out = ev.cohort_results(evaluated.where(status == "ineligible"), criteria, cohort, set(constants))
        frames.append(out.where(explains_why_out(F.col("outcome"), F.col("type"), F.col("evidence_date"))))
    return ev.union_all(frames)


def criteria_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CRITERIA_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if v is None else str(v).lower() if isinstance(v, bool) else v) for k, v in r.items()}
                for r in rows)
    return buf.getvalue()


def write_criteria_table(spark: SparkSession, fs: OutputFS, folder: str, rows: list[dict]) -> None:
    """`<trial>/criteria/` (Parquet, one file) and `<trial>/criteria.csv`: a few dozen rows."""
    frame = spark.createDataFrame([tuple(r[c] for c in CRITERIA_COLUMNS) for r in rows], CRITERIA_DDL)
    frame.coalesce(1).write.parquet(f"{folder}/{CRITERIA_TABLE}")
    fs.write_text(f"{folder}/{CRITERIA_CSV}", criteria_csv(rows))
