"""From per-criterion result structs to person status, ranks, long results and attrition counts.

`evaluate` is one projection over the person-level feature frame (every criterion at once). Everything else
here is a projection or a small aggregate of its output; nothing person-level reaches the driver.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.rules.compiler import OUTCOMES, compile_criteria, result_column
from jobs.rules.value_rules import review_on
from schemas.criteria import CriteriaFile, Criterion, ReviewRule

STATUSES = ("eligible", "possible", "ineligible")
LONG_RESULTS_DDL = ("cohort string, person_id long, criterion string, criterion_order int, type string, "
                    "outcome string, evidence_value double, evidence_unit string, evidence_date date, "
                    "source_concept_id long, evidence string")  # criteria_results' columns


def evaluate(features: DataFrame, criteria: CriteriaFile) -> DataFrame:
    """person_id, site + one result struct per criterion (c__<id>)."""
    return features.select("person_id", "site", *compile_criteria(criteria))


def _outcome(cid: str) -> Column:
    return F.col(result_column(cid))["outcome"]


def _ids_where(cids: list[str], outcome: str) -> Column:
    """The criterion ids (in protocol order) whose outcome is `outcome`, as array<string>.

    Plain array expressions, not `filter`/`transform` lambdas: higher-order functions have no generated
    code, and evaluating them row by row cost more than the rest of the status projection."""
    hits = F.array(*[F.when(_outcome(c) == outcome, F.lit(c)) for c in cids])
    return F.array_except(hits, F.array(F.lit(None).cast("string")))  # drops the nulls; ids are unique


def _latest(dates: list[Column]) -> Column:
    """The latest non-null date (null when none)."""
    if not dates:
        return F.lit(None).cast("date")
    return dates[0] if len(dates) == 1 else F.greatest(*dates)


def _first_position(cids: list[str], hit) -> Column:
    """1-based position of the first criterion whose outcome satisfies `hit`, 0 when none."""
    positions = [F.when(hit(_outcome(c)), F.lit(i)) for i, c in enumerate(cids, start=1)]
    first = positions[0] if len(positions) == 1 else F.least(*positions)
    return F.coalesce(first, F.lit(0))


def _count_where(cids: list[str], outcome: str) -> Column:
    return reduce(lambda a, b: a + b, [F.when(_outcome(c) == outcome, 1).otherwise(0) for c in cids])


def status_of(n_failed: Column, n_unknown: Column) -> Column:
    return (F.when(n_failed > 0, F.lit("ineligible")).when(n_unknown > 0, F.lit("possible"))
            .otherwise(F.lit("eligible")))


def _rank_order() -> list[Column]:
    """Eligible first, then fewer unknowns, then more recent qualifying evidence, ties by person_id: a total
    order, so reruns give the same list."""
    return [F.when(F.col("status") == "eligible", 0).otherwise(1), F.col("n_unknown"),
            F.col("evidence_date").desc_nulls_last(), F.col("person_id")]


def _cohort_parts(criteria: CriteriaFile, cohort: str) -> tuple[list[str], Column, Column, Column]:
    """(criterion ids, status, unknown count, evidence date) of one cohort, from plain counts: no arrays."""
    cids = list(criteria.cohorts[cohort].criteria)
    inclusions = [c for c in cids if criteria.criterion(c).type == "inclusion"]
    qualifying = [F.when(_outcome(c).isin("pass", "review"), F.col(result_column(c))["date"]) for c in inclusions]
    n_unknown = _count_where(cids, "unknown")
    return cids, status_of(_count_where(cids, "fail"), n_unknown), n_unknown, _latest(qualifying)


def ranks(evaluated: DataFrame, criteria: CriteriaFile) -> DataFrame:
    """(_r_cohort, _r_person_id, rank) of every ranked (not ineligible) person of every cohort, from ONE narrow
    read of `evaluated` (outcomes and dates only): a small table, a few percent of the persons per cohort."""
    rows = []
    for cohort in criteria.cohorts:
        _, status, n_unknown, evidence_date = _cohort_parts(criteria, cohort)
        rows.append(F.struct(F.lit(cohort).alias("cohort"), status.alias("status"), n_unknown.alias("n_unknown"),
                             evidence_date.alias("evidence_date")))
    narrow = evaluated.select("person_id", F.inline(F.array(*rows))).where(F.col("status") != "ineligible")
    return (narrow.withColumn("rank", F.row_number().over(Window.partitionBy("cohort").orderBy(*_rank_order())))
            .select(F.col("cohort").alias("_r_cohort"), F.col("person_id").alias("_r_person_id"), "rank"))


def protocol_wide_review(criterion: Criterion) -> bool:
    """A review item that is the same for every candidate: `kind: review` (investigator opinion, screening-visit
    tests), or an exclusion whose computed pass ("no record of it") is to be confirmed (`review_if: [pass]`, a
    `mixed` item's note)."""
    return isinstance(criterion.rule, ReviewRule) or (criterion.type == "exclusion"
                                                      and review_on(criterion) == {"pass"})


def _summary(criteria: CriteriaFile, cids: list[str]) -> Column:
    """What a coordinator reads: the inclusions' qualifying evidence, every unknown with what is missing, the
    person-specific review items. Protocol-wide review items (protocol_wide_review) are left out: the
    report's screening checklist lists them once per cohort."""
    parts = []
    for c in cids:
        crit = criteria.criterion(c)
        if isinstance(crit.rule, ReviewRule):
            continue
        shown = (("pass", "unknown", "review") if crit.type == "inclusion" else
                 ("unknown",) if protocol_wide_review(crit) else ("unknown", "review"))
        parts.append(F.when(_outcome(c).isin(*shown), F.concat(
            F.lit(f"{c} "), _outcome(c), F.lit(": "), F.coalesce(F.col(result_column(c))["evidence"], F.lit("")))))
    if not parts:
        return F.array().cast("array<string>")
    return F.array_except(F.array(*parts), F.array(F.lit(None).cast("string")))  # texts start with unique ids


def cohort_status(evaluated: DataFrame, criteria: CriteriaFile, cohort: str, ranked: DataFrame) -> DataFrame:
    """One row per person for one cohort: status, failed/unknown/review ids, rank, site, evidence date, reasons.

    The row is finished before the ranks (`ranks`, broadcast) are joined, so the join carries finished
    columns only; reason texts are built for persons who are not ineligible, exactly the ranked ones (an
    ineligible person's evidence is in criteria_results). Joining first would pull every criterion's
    evidence text of every person below the join."""
    cids, status, _, evidence_date = _cohort_parts(criteria, cohort)
    reasons = F.array(*[F.concat(F.lit(f"{c} "), _outcome(c), F.lit(": "),
                                 F.coalesce(F.col(result_column(c))["evidence"], F.lit(""))) for c in cids])
    built = evaluated.select(
        F.lit(cohort).alias("cohort"), "person_id", status.alias("status"),
        _ids_where(cids, "fail").alias("failed"),
        _ids_where(cids, "unknown").alias("unknown"),
        _ids_where(cids, "review").alias("review"),
        "site", evidence_date.alias("evidence_date"),
        F.when(status != "ineligible", reasons).alias("reasons"),
        F.when(status != "ineligible", _summary(criteria, cids)).alias("summary"),
    )
    mine = F.broadcast(ranked.where(F.col("_r_cohort") == cohort))
    return (built.join(mine, built["person_id"] == mine["_r_person_id"], "left")
            .select("cohort", "person_id", "status", "failed", "unknown", "review", "rank", "site",
                    "evidence_date", "reasons", "summary"))


def person_status(evaluated: DataFrame, criteria: CriteriaFile, ranked: DataFrame | None = None) -> DataFrame:
    """All cohorts: cohort, person_id, status, failed, unknown, review, rank (null when ineligible), site,
    evidence_date, reasons and summary (null when ineligible). `ranked` is `ranks(evaluated, criteria)`; given by the
    pipeline, which writes it first so the window runs once."""
    ranked = ranks(evaluated, criteria) if ranked is None else ranked
    frames = [cohort_status(evaluated, criteria, c, ranked) for c in criteria.cohorts]
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def status_in(criteria: CriteriaFile, cohort: str) -> Column:
    """The person's status in `cohort` over the evaluated frame's result columns (all its criteria)."""
    return _cohort_parts(criteria, cohort)[1]


def cohort_results(evaluated: DataFrame, criteria: CriteriaFile, cohort: str, omit: Collection[str] = ()) -> DataFrame:
    """One cohort's long rows: one per person and criterion not in `omit` (`inline` of one struct per criterion,
    cheaper than `posexplode` of the same array plus a projection of its fields)."""
    rows = []
    for order, cid in enumerate(criteria.cohorts[cohort].criteria, start=1):
        if cid in omit:
            continue
        r = F.col(result_column(cid))
        rows.append(F.struct(F.lit(cid).alias("criterion"), F.lit(order).alias("criterion_order"),
                             F.lit(criteria.criterion(cid).type).alias("type"), r["outcome"].alias("outcome"),
                             r["value"].alias("evidence_value"), r["unit"].alias("evidence_unit"),
                             r["date"].alias("evidence_date"), r["concept_id"].alias("source_concept_id"),
                             r["evidence"].alias("evidence")))
    if not rows:  # every criterion omitted: an empty table of the same columns
        return evaluated.sparkSession.createDataFrame([], LONG_RESULTS_DDL)
    return evaluated.select(F.lit(cohort).alias("cohort"), "person_id", F.inline(F.array(*rows)))


def union_all(frames: list[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b), frames)


def criteria_results(evaluated: DataFrame, criteria: CriteriaFile) -> DataFrame:
    """The full long table: one row per cohort, person and criterion."""
    return union_all([cohort_results(evaluated, criteria, c) for c in criteria.cohorts])


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
        cids = list(criteria.cohorts[cohort].criteria)
        cols += [_first_position(cids, lambda o: o == "fail").alias(f"{cohort}|first_fail"),
                 _first_position(cids, lambda o: o.isin("fail", "unknown")).alias(f"{cohort}|first_block")]
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
