"""Labs: the latest (or max/min) usable result in a window, in the request's unit.

A numeric result whose unit cannot be converted to the requested unit is not evidence; it is counted in
`n_unconvertible`, so the evidence text can say why a person with results is still unknown. That includes the
results the gate quarantined for their unit: they reach this stage flagged (`UNIT_FLAG`) only to be counted.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.extract.units import converted
from jobs.features.derived import derived_feature, same_day_features
from jobs.features.lab_series import series_aggregate
from jobs.features.windows import first_day, in_window, window_end
from jobs.quality.quarantine import UNIT_FLAG
from schemas.criteria import LabDefinition
from schemas.features import DerivedRequest, LabRequest, LabSeriesRequest
from schemas.units import factors_to


def lab_aggregate(req: LabRequest, lab: LabDefinition, as_of: date) -> Column:
    """One LAB_FEATURE struct (an aggregate expression) for a request, over lab_results rows."""
    window = (F.col("lab") == req.lab) & in_window(F.col("measurement_date"), window_end(as_of, req.ends_days_before),
                                                   req.lookback_days)
    evidence = ~F.col(UNIT_FLAG)
    tie = [F.col("measurement_date").alias("date"), F.col("measurement_id").alias("id")]
    if req.mode == "qualitative":
        usable = window & evidence & F.col("positive").isNotNull()
        order = [F.col("positive").alias("k")] if req.aggregate == "max" else []
        best = F.max(F.when(usable, F.struct(*order, *tie, F.col("positive").alias("pos"),
                                             F.col("measurement_concept_id").alias("cid"),
                                             F.col("value_as_number").alias("raw"),
                                             F.col("unit_key").alias("ru"))))
        value, uln_ratio = F.lit(None).cast("double"), F.lit(None).cast("double")
        unconvertible = F.lit(0).cast("long")
    else:
        value_col = F.when(evidence, converted(req.unit))
        uln = (F.when(F.col("range_high") > 0, F.col("value_as_number") / F.col("range_high")))
        to_req = factors_to(req.unit, lab.facts) if req.unit else {}
        if lab.default_uln is not None and lab.uln_unit in to_req:  # never divide by a NaN ULN: NaN >= 3 is true
            uln = uln.otherwise(value_col / F.lit(to_req[lab.uln_unit].apply(lab.default_uln)))
        usable = window & value_col.isNotNull()
        key = {"latest": [], "max": [value_col.alias("k")], "min": [(-value_col).alias("k")]}[req.aggregate]
        best = F.max(F.when(usable, F.struct(*key, *tie, value_col.alias("v"), uln.alias("u"),
                                             F.col("positive").alias("pos"),
                                             F.col("measurement_concept_id").alias("cid"),
                                             F.col("value_as_number").alias("raw"),
                                             F.col("unit_key").alias("ru"))))
        value, uln_ratio = best["v"], best["u"]
        unconvertible = F.count(F.when(window & F.col("value_as_number").isNotNull() & value_col.isNull(), 1))
    return F.struct(
        value.alias("value"),
        F.lit(req.unit).cast("string").alias("unit"),
        best["date"].alias("date"),
        best["cid"].alias("concept_id"),
        best["raw"].alias("raw_value"),
        best["ru"].alias("raw_unit"),
        uln_ratio.alias("uln_ratio"),
        best["pos"].alias("positive"),
        F.count(F.when(usable, 1)).alias("n_results"),
        unconvertible.cast("long").alias("n_unconvertible"),
        F.lit(None).cast("string").alias("derived"),
    ).alias(req.name)


def in_some_window(requests: list[LabRequest | LabSeriesRequest], as_of: date) -> Column:
    """True for a result inside the window of at least one request of its lab.

    Each request's aggregate reads only rows in its window, so the others never matter; dropping them before
    the aggregation matters because the struct-valued maxima make Spark sort every row it is given
    (SortAggregate), and most results of a long history are older than any 90-day window."""
    earliest: dict[str, date | None] = {}
    for r in requests:
        start = first_day(window_end(as_of, getattr(r, "ends_days_before", 0)), r.lookback_days)  # series: 0
        if r.lab not in earliest:
            earliest[r.lab] = start
        elif earliest[r.lab] is not None:
            earliest[r.lab] = None if start is None else min(earliest[r.lab], start)
    cond = F.lit(False)
    for lab, start in sorted(earliest.items(), key=lambda kv: kv[0]):
        keep = F.col("lab") == lab
        if start is not None:
            keep &= F.col("measurement_date") >= F.lit(start)
        cond |= keep
    return cond & (F.col("measurement_date") <= F.lit(as_of))


def lab_features(results: DataFrame, demographics: DataFrame, requests: list[LabRequest],
                 derived: list[DerivedRequest], labs: dict[str, LabDefinition], as_of: date,
                 series: list[LabSeriesRequest] = ()) -> DataFrame:
    """person_id + one LAB_FEATURE struct per request and per derivation, then one LAB_SERIES_FEATURE struct
    per series request, for persons with any lab result."""
    aggs = [lab_aggregate(r, labs[r.lab], as_of) for r in sorted(requests)]
    aggs += [series_aggregate(r, as_of) for r in sorted(series)]
    if UNIT_FLAG not in results.columns:  # results that did not go through the gate: every row may be evidence
        results = results.withColumn(UNIT_FLAG, F.lit(False))
    paired = same_day_features(results, demographics, [d for d in derived if d.pairing == "same_day"], as_of,
                               ~F.col(UNIT_FLAG))
    latest = sorted(d for d in derived if d.pairing == "latest")
    windowed = results.where(in_some_window([*requests, *series], as_of))
    per_person = windowed.groupBy("person_id").agg(*aggs) if aggs else windowed.select("person_id").distinct()
    names = [r.name for r in sorted(requests)]
    series_names = [r.name for r in sorted(series)]
    if latest:
        demo = demographics.select("person_id", "sex", "birth_date")
        per_person = (per_person.join(demo.hint("merge"), "person_id", "left")  # person-level: never broadcast
                      .select("person_id", *names, *series_names, *[derived_feature(d) for d in latest]))
    if paired is not None:
        per_person = per_person.join(paired, "person_id", "full")
    return per_person.select("person_id", *names, *[d.name for d in sorted(derived)], *series_names)
