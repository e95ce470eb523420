"""Diagnoses, procedures and prior therapies: per person, one struct per (concept set, window).

Every family has one shape (schemas.features.EVENT_FEATURE / DRUG_FEATURE). Events are joined to a
broadcast concept-set membership table, then aggregated with conditional aggregates in ONE groupBy per
table, so each event table is shuffled once, keyed by person_id, whatever the number of criteria.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.features.coverage import coverage_features
from jobs.features.windows import in_window, overlaps_window, window_end
from schemas.features import EventRequest


def diagnosis_events(condition_occurrence: DataFrame, observation: DataFrame) -> DataFrame:
    """Conditions and observations in one shape: history-of and status concepts live in observation."""
    cond = condition_occurrence.select("person_id", F.col("condition_concept_id").alias("concept_id"),
                                       F.col("condition_start_date").alias("start_date"), "visit_occurrence_id",
                                       F.lit("condition").alias("source"),
                                       F.col("condition_occurrence_id").alias("event_id"))
    obs = observation.select("person_id", F.col("observation_concept_id").alias("concept_id"),
                             F.col("observation_date").alias("start_date"), "visit_occurrence_id",
                             F.lit("observation").alias("source"), F.col("observation_id").alias("event_id"))
    return cond.unionByName(obs)


def procedure_events(procedure_occurrence: DataFrame) -> DataFrame:
    return procedure_occurrence.select("person_id", F.col("procedure_concept_id").alias("concept_id"),
                                       F.col("procedure_date").alias("start_date"), "visit_occurrence_id",
                                       F.lit("procedure").alias("source"),
                                       F.col("procedure_occurrence_id").alias("event_id"))


def drug_events(drug_exposure: DataFrame) -> DataFrame:
    """Exposure intervals; end = end_date, else start + days_supply - 1, else start (never before start)."""
    start = F.col("drug_exposure_start_date")
    supplied = F.when(F.col("days_supply") > 0, F.date_add(start, (F.col("days_supply") - 1).cast("int")))
    end = F.coalesce(F.col("drug_exposure_end_date"), supplied, start)
    return drug_exposure.select("person_id", F.col("drug_concept_id").alias("concept_id"),
                                start.alias("start_date"), F.greatest(end, start).alias("end_date"))


def _member(req: EventRequest) -> Column:
    return F.col("concept_set") == req.concept_set


def event_features(events: DataFrame, membership: DataFrame, requests: list[EventRequest], as_of: date,
                   visits: DataFrame | None = None) -> DataFrame:
    """person_id + one EVENT_FEATURE struct per request (diagnoses, procedures); `visits` (visit_occurrence)
    is read only by requests with visit_concepts."""
    joined = with_visit_flags(events.join(membership.select("concept_set", "concept_id"), "concept_id"), visits,
                              requests)
    aggs = []
    for req in requests:
        hit = _member(req) & in_window(F.col("start_date"), window_end(as_of, req.ends_days_before), req.within_days)
        if req.visit_concepts:
            hit = hit & F.coalesce(F.col(visit_flag(req.visit_concepts)), F.lit(False))
        last = F.max(F.when(hit, F.struct(F.col("start_date").alias("d"), F.col("concept_id").alias("c"))))
        aggs.append(F.struct(
            F.count(F.when(hit, 1)).alias("n"),
            F.min(F.when(hit, F.col("start_date"))).alias("first_date"),
            last["d"].alias("last_date"),
            last["c"].alias("last_concept_id"),
        ).alias(req.name))
    return _aggregate(joined, aggs)


def visit_flag(visit_concepts: tuple[int, ...]) -> str:
    return "in_visit_" + "_".join(map(str, visit_concepts))


def with_visit_flags(joined: DataFrame, visits: DataFrame | None, requests: list[EventRequest]) -> DataFrame:
    """Add one boolean column per visit-concept list the requests name: the event happened during a visit of
    those visit_concept_ids -- its visit_occurrence_id's visit, or, when it has none, a visit whose
    start..end (end missing: the start day) contains its date. Only events of those requests' concept sets
    are matched, and each event gets one row (flags aggregated per event), so counts never double."""
    kinds = sorted({r.visit_concepts for r in requests if r.visit_concepts})
    if not kinds:
        return joined
    sets = sorted({r.concept_set for r in requests if r.visit_concepts})
    ev = (joined.where(F.col("concept_set").isin(*sets))
          .select("person_id", "source", "event_id", "start_date", "visit_occurrence_id").distinct().alias("ev"))
    v = (visits.where(F.col("visit_concept_id").isin(*sorted({c for k in kinds for c in k})))
         .select(F.col("person_id").alias("v_person"), F.col("visit_occurrence_id").alias("vid"),
                 "visit_concept_id", F.col("visit_start_date").alias("v_start"),
                 F.coalesce("visit_end_date", "visit_start_date").alias("v_end")))
    by_id = F.col("ev.visit_occurrence_id") == F.col("vid")
    by_date = F.col("ev.visit_occurrence_id").isNull() & F.col("start_date").between(F.col("v_start"), F.col("v_end"))
    matched = ev.join(v, (F.col("ev.person_id") == F.col("v_person")) & (by_id | by_date))
    flags = matched.groupBy("source", "event_id").agg(
        *[F.max(F.col("visit_concept_id").isin(*k)).alias(visit_flag(k)) for k in kinds])
    return joined.join(flags, ["source", "event_id"], "left")


def drug_features(events: DataFrame, membership: DataFrame, requests: list[EventRequest], as_of: date) -> DataFrame:
    """person_id + one DRUG_FEATURE struct per request: counts, dates, covered days (union of intervals, see
    jobs/features/coverage.py), distinct ingredients/classes."""
    joined = events.join(membership, "concept_id")
    aggs = []
    for req in requests:
        end = window_end(as_of, req.ends_days_before)
        hit = _member(req) & overlaps_window(F.col("start_date"), F.col("end_date"), end, req.within_days)
        last = F.max(F.when(hit, F.struct(F.least(F.col("end_date"), F.lit(end)).alias("d"),
                                          F.col("concept_id").alias("c"))))
        aggs.append(F.struct(
            F.count(F.when(hit, 1)).alias("n"),
            F.min(F.when(hit, F.col("start_date"))).alias("first_date"),
            last["d"].alias("last_date"),
            last["c"].alias("last_concept_id"),
            F.array_sort(F.collect_set(F.when(hit, F.col("item_concept_id")))).alias("ingredients"),
            F.array_sort(F.collect_set(F.when(hit, F.col("label")))).alias("classes"),
        ).alias(req.name))
    counted = _aggregate(joined, aggs)
    covered = coverage_features(joined.select("person_id", "concept_set", "start_date", "end_date"), requests, as_of)
    if covered is not None:
        counted = counted.join(covered, "person_id", "left")

    def shaped(req: EventRequest) -> Column:
        f = F.col(req.name)
        days = run = F.lit(None).cast("long")
        if req.max_gap_days is not None:  # no covered exposure in the window: 0 days
            days = F.coalesce(F.col(f"{req.name}__days"), F.lit(0)).cast("long")
            run = F.coalesce(F.col(f"{req.name}__run"), F.lit(0)).cast("long")
        return F.struct(*[f[k].alias(k) for k in ("n", "first_date", "last_date", "last_concept_id")],
                        days.alias("days"), run.alias("run_days"),
                        f["ingredients"].alias("ingredients"), f["classes"].alias("classes")).alias(req.name)

    return counted.select("person_id", *[shaped(r) for r in requests])


def _aggregate(joined: DataFrame, aggs: list[Column]) -> DataFrame:
    if not aggs:
        return joined.select("person_id").distinct()
    return joined.groupBy("person_id").agg(*aggs)
