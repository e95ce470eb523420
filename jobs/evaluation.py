"""From per-criterion result structs to person status, ranks, long results and attrition counts.

`evaluate` is one projection over the person-level feature frame (every criterion at once). Everything else
here is a projection or a small aggregate of its output; nothing person-level reaches the driver.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.criteria_compiler import OUTCOMES, compile_criteria, result_column
from schemas.criteria import CriteriaFile

STATUSES = ("eligible", "possible", "ineligible")


def evaluate(features: DataFrame, criteria: CriteriaFile, as_of: date) -> DataFrame:
    """person_id, site + one result struct per criterion (c__<id>)."""
    return features.select("person_id", "site", *compile_criteria(criteria, as_of))


def _results_array(criteria: CriteriaFile, cohort: str) -> Column:
    """The cohort's criteria, in protocol order, as array<struct<criterion, type, outcome, ...>>."""
    items = []
    for cid in criteria.cohorts[cohort].criteria:
        r = F.col(result_column(cid))
        items.append(F.struct(F.lit(cid).alias("criterion"), F.lit(criteria.criterion(cid).type).alias("type"),
                              r["outcome"].alias("outcome"), r["value"].alias("value"), r["unit"].alias("unit"),
                              r["date"].alias("date"), r["concept_id"].alias("concept_id"),
                              r["evidence"].alias("evidence")))
    return F.array(*items)


def _ids_where(results: Column, outcome: str) -> Column:
    return F.transform(F.filter(results, lambda x: x["outcome"] == outcome), lambda x: x["criterion"])


def status_of(failed: Column, unknown: Column) -> Column:
    return (F.when(F.size(failed) > 0, F.lit("ineligible")).when(F.size(unknown) > 0, F.lit("possible"))
            .otherwise(F.lit("eligible")))


def cohort_status(evaluated: DataFrame, criteria: CriteriaFile, cohort: str) -> DataFrame:
    """One row per person for one cohort: status, failed/unknown/review ids, reasons, evidence date."""
    results = _results_array(criteria, cohort)
    qualifying = F.filter(F.col("results"),
                          lambda x: (x["type"] == "inclusion") & x["outcome"].isin("pass", "review"))
    return (evaluated
            .select("person_id", "site", results.alias("results"))
            .select(
                F.lit(cohort).alias("cohort"), "person_id",
                _ids_where(F.col("results"), "fail").alias("failed"),
                _ids_where(F.col("results"), "unknown").alias("unknown"),
                _ids_where(F.col("results"), "review").alias("review"),
                "site",
                F.array_max(F.transform(qualifying, lambda x: x["date"])).alias("evidence_date"),
                F.transform(F.col("results"), lambda x: F.concat(x["criterion"], F.lit(" "), x["outcome"], F.lit(": "),
                                                                 F.coalesce(x["evidence"], F.lit(""))))
                .alias("reasons"),
            )
            .withColumn("status", status_of(F.col("failed"), F.col("unknown"))))


def person_status(evaluated: DataFrame, criteria: CriteriaFile) -> DataFrame:
    """All cohorts, unranked: cohort, person_id, status, failed, unknown, review, site, evidence_date, reasons."""
    frames = [cohort_status(evaluated, criteria, c) for c in criteria.cohorts]
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out.select("cohort", "person_id", "status", "failed", "unknown", "review", "site", "evidence_date",
                      "reasons")


def ranked(status: DataFrame) -> DataFrame:
    """Adds `rank` to eligible and possible persons (null when ineligible).

    Order: eligible first, then fewer unknowns, then more recent qualifying evidence, ties by person_id, so the
    rank is a total order and reruns give the same list.
    """
    order = Window.partitionBy("cohort").orderBy(
        F.when(F.col("status") == "eligible", 0).otherwise(1), F.size("unknown"),
        F.col("evidence_date").desc_nulls_last(), F.col("person_id"))
    ranks = (status.where(F.col("status") != "ineligible").select("cohort", "person_id", "status", "unknown",
                                                                   "evidence_date")
             .withColumn("rank", F.row_number().over(order)).select("cohort", "person_id", "rank"))
    return status.join(ranks, ["cohort", "person_id"], "left")


def criteria_results(evaluated: DataFrame, criteria: CriteriaFile) -> DataFrame:
    """Long table: one row per cohort, person and criterion."""
    frames = []
    for cohort in criteria.cohorts:
        frames.append(evaluated.select(F.lit(cohort).alias("cohort"), "person_id",
                                       F.posexplode(_results_array(criteria, cohort)).alias("position", "r")))
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out.select("cohort", "person_id", F.col("r.criterion").alias("criterion"),
                      (F.col("position") + 1).alias("criterion_order"), F.col("r.type").alias("type"),
                      F.col("r.outcome").alias("outcome"), F.col("r.value").alias("evidence_value"),
                      F.col("r.unit").alias("evidence_unit"), F.col("r.date").alias("evidence_date"),
                      F.col("r.concept_id").alias("source_concept_id"), F.col("r.evidence").alias("evidence"))


def outcome_counts(evaluated: DataFrame, criteria: CriteriaFile) -> tuple[int, dict[tuple[str, str], int]]:
    """(persons, {(criterion, outcome): persons}) in one aggregation over the wide frame."""
    aggs = [F.sum(F.when(F.col(result_column(c.id))["outcome"] == o, 1).otherwise(0)).alias(f"{c.id}|{o}")
            for c in criteria.criteria for o in OUTCOMES]
    row = evaluated.agg(F.count("*").alias("persons"), *aggs).first().asDict()
    persons = int(row.pop("persons"))
    return persons, {tuple(k.split("|")): int(v or 0) for k, v in row.items()}


def funnel_counts(evaluated: DataFrame, criteria: CriteriaFile) -> dict[str, dict[str, dict[int, int]]]:
    """Per cohort: how many persons first fail (and first fail-or-unknown) at each step (0 = never).

    One small aggregation for all cohorts: group by the first-fail/first-block position of each cohort.
    """
    cols = []
    for cohort in criteria.cohorts:
        outcomes = F.transform(_results_array(criteria, cohort), lambda x: x["outcome"])
        blocked = F.transform(outcomes, lambda o: F.when(o.isin("fail", "unknown"), F.lit("x")).otherwise(F.lit("")))
        cols += [F.array_position(outcomes, "fail").alias(f"{cohort}|first_fail"),
                 F.array_position(blocked, "x").alias(f"{cohort}|first_block")]
    positions = evaluated.select(*cols)
    rows = positions.groupBy(*positions.columns).count().collect()
    out: dict[str, dict[str, dict[int, int]]] = {c: {"first_fail": {}, "first_block": {}} for c in criteria.cohorts}
    for r in rows:
        for cohort in criteria.cohorts:
            for kind in ("first_fail", "first_block"):
                pos = int(r[f"{cohort}|{kind}"])
                out[cohort][kind][pos] = out[cohort][kind].get(pos, 0) + int(r["count"])
    return out


def attrition_rows(criteria: CriteriaFile, counts: dict[tuple[str, str], int],
                   funnel: dict[str, dict[str, dict[int, int]]], persons: int) -> list[dict]:
    """The sequential funnel and each criterion's outcome counts, per cohort (driver-side, small)."""
    rows = []
    for cohort, spec in criteria.cohorts.items():
        fail, block = funnel[cohort]["first_fail"], funnel[cohort]["first_block"]
        remaining, clear = persons, persons
        rows.append({"cohort": cohort, "step": 0, "criterion": "", "type": "", "pass": "", "fail": "",
                     "unknown": "", "review": "", "remaining": persons, "remaining_without_unknown": persons})
        for step, cid in enumerate(spec.criteria, start=1):
            remaining -= fail.get(step, 0)
            clear -= block.get(step, 0)
            rows.append({"cohort": cohort, "step": step, "criterion": cid, "type": criteria.criterion(cid).type,
                         **{o: counts[(cid, o)] for o in OUTCOMES},
                         "remaining": remaining, "remaining_without_unknown": clear})
    return rows
