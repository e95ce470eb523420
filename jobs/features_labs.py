"""Labs: the latest (or max/min) usable result in a window, converted to the criterion's unit; derived eGFR.

A result's unit is recognised by unit_concept_id, else by its normalised unit_source_value, else (when no
unit is recorded at all) by the lab's `unitless_is`. A numeric result whose unit cannot be converted to the
requested unit is not evidence; it is counted in `n_unconvertible`.
"""

from __future__ import annotations

from datetime import date
from itertools import chain

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.feature_plan import EGFR_METHOD, DerivedRequest, LabRequest
from jobs.features_demographics import age_at
from jobs.features_events import first_day, window_start
from jobs.formatting import number_text
from jobs.local_frames import local_frame
from schemas.criteria import LabDefinition
from schemas.units import alias_table, concept_table, factors_to

# Result concepts read as positive / negative: the value sets OHDSI and N3C phenotypes use for lab results
# (Positive 9191/45884084, Detected 4126681/45877985, Present 4181412/45879438; Negative 9189/45878583).
POSITIVE_CONCEPTS = (9191, 45884084, 4126681, 45877985, 4181412, 45879438)
NEGATIVE_CONCEPTS = (9189, 45878583)
MEASUREMENT_COLUMNS = ["measurement_id", "person_id", "measurement_concept_id", "measurement_date",
                       "value_as_number", "value_as_concept_id", "unit_concept_id", "unit_source_value",
                       "range_high"]


def literal_map(mapping: dict) -> Column:
    """A small Python dict as a literal Spark map, looked up per row (unit keys, conversion factors)."""
    return F.create_map(*chain.from_iterable((F.lit(k), F.lit(v)) for k, v in sorted(mapping.items())))


UNIT_TEXT_SPACES = " \t\n\u000b\f\r"  # what Java's regex \s matches


def normalised_unit_text(col: Column) -> Column:
    """Same normalisation as schemas.units.normalise_unit_text, as a Column: lower case, micro signs folded to
    `u`, whitespace deleted. One `translate` (characters beyond the replacement string are deleted) instead of
    trim + regexp_replace: run on every measurement row, the regex cost about 6 s at 1M persons (measured)."""
    return F.translate(F.lower(col), "µμ" + UNIT_TEXT_SPACES, "uu")


def unit_lookups(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """(unit_concept_id -> unit key, normalised unit text -> unit key) as small frames to broadcast.

    Joins, not per-row literal-map lookups: `unit_key` then arrives as a plain column, so the optimizer
    cannot copy a regexp-and-map expression into every filter, flag and aggregate that reads it (it did:
    pushed-down quarantine filters grew past Janino's 64 KB limit and ran interpreted).
    """
    by_concept = local_frame(spark, sorted(concept_table().items()), "_u_cid long, _u_by_concept string")
    by_text = local_frame(spark, sorted(alias_table().items()), "_u_text string, _u_by_text string")
    return by_concept, by_text


def with_unit_key(results: DataFrame, unitless: Column) -> DataFrame:
    """Adds `unit_key`: by unit_concept_id, else by normalised unit_source_value (Synthea writes `U/L` with
    unit_concept_id 0), else `unitless` when no unit is recorded at all, else null (not recognised)."""
    by_concept, by_text = unit_lookups(results.sparkSession)
    joined = (results
              .join(F.broadcast(by_concept), F.col("unit_concept_id") == F.col("_u_cid"), "left")
              .join(F.broadcast(by_text), normalised_unit_text(F.col("unit_source_value")) == F.col("_u_text"),
                    "left"))
    key = F.coalesce(F.col("_u_by_concept"), F.col("_u_by_text"),
                     F.when(no_unit_recorded(F.col("unit_concept_id"), F.col("unit_source_value")), unitless))
    return joined.withColumn("unit_key", key).drop("_u_cid", "_u_by_concept", "_u_text", "_u_by_text")


def no_unit_recorded(unit_concept_id: Column, unit_source_value: Column) -> Column:
    return (F.coalesce(unit_concept_id, F.lit(0)) == 0) & (F.coalesce(F.trim(unit_source_value), F.lit("")) == "")


def qualitative(value_as_concept_id: Column, value_as_number: Column, range_high: Column) -> Column:
    """A result's positive/negative reading: its result concept, else its number against range_high.

    A number with no reference range and no result concept is a result that is not recorded as positive
    (e.g. anti-PLA2R 16 RU/mL): false, not unknown. No result at all stays null (unknown).
    """
    return (F.when(value_as_concept_id.isin(*POSITIVE_CONCEPTS), F.lit(True))
            .when(value_as_concept_id.isin(*NEGATIVE_CONCEPTS), F.lit(False))
            .when(value_as_number.isNotNull() & (range_high > 0), value_as_number > range_high)
            .when(value_as_number.isNotNull(), F.lit(False)))


def lab_results(measurement: DataFrame, membership: DataFrame, labs: dict[str, LabDefinition]) -> DataFrame:
    """Measurements of the criteria's labs, one row per (result, lab), with the unit recognised.

    Columns: measurement_id, person_id, lab, measurement_concept_id, measurement_date, value_as_number,
    value_as_concept_id, range_high, unit_key (recognised or the lab's unitless default), positive.
    """
    set_to_labs = [(name, lab.concept_set, lab.unitless_is) for name, lab in sorted(labs.items())]
    lab_sets = local_frame(measurement.sparkSession, set_to_labs, "lab string, concept_set string, unitless string")
    members = F.broadcast(membership.join(F.broadcast(lab_sets), "concept_set")
                          .select(F.col("concept_id").alias("measurement_concept_id"), "lab", "unitless"))
    return (with_unit_key(measurement.join(members, "measurement_concept_id"), F.col("unitless"))
            .select("measurement_id", "person_id", "lab", "measurement_concept_id", "measurement_date",
                    "value_as_number", "value_as_concept_id", "range_high", "unit_key",
                    qualitative(F.col("value_as_concept_id"), F.col("value_as_number"), F.col("range_high"))
                    .alias("positive")))


def converted(req_unit: str, lab: LabDefinition) -> Column:
    """value_as_number in `req_unit`, or null when the result's unit cannot be converted."""
    factor = literal_map(factors_to(req_unit, lab.molar_mass))[F.col("unit_key")]
    return F.col("value_as_number") * factor


def lab_aggregate(req: LabRequest, lab: LabDefinition, as_of: date) -> Column:
    """One LAB_FEATURE struct (an aggregate expression) for a request, over lab_results rows."""
    first = window_start(as_of, req.lookback_days)
    in_window = (F.col("lab") == req.lab) & (F.col("measurement_date") <= F.lit(as_of))
    if first is not None:
        in_window &= F.col("measurement_date") >= first
    tie = [F.col("measurement_date").alias("date"), F.col("measurement_id").alias("id")]
    if req.mode == "qualitative":
        usable = in_window & F.col("positive").isNotNull()
        order = [F.col("positive").alias("k")] if req.aggregate == "max" else []
        best = F.max(F.when(usable, F.struct(*order, *tie, F.col("positive").alias("pos"),
                                             F.col("measurement_concept_id").alias("cid"),
                                             F.col("value_as_number").alias("raw"),
                                             F.col("unit_key").alias("ru"))))
        value, uln_ratio = F.lit(None).cast("double"), F.lit(None).cast("double")
        unconvertible = F.lit(0).cast("long")
    else:
        value_col = converted(req.unit, lab)
        uln = (F.when(F.col("range_high") > 0, F.col("value_as_number") / F.col("range_high")))
        to_req = factors_to(req.unit, lab.molar_mass) if req.unit else {}
        if lab.default_uln is not None and lab.uln_unit in to_req:  # never divide by a NaN ULN: NaN >= 3 is true
            uln = uln.otherwise(value_col / F.lit(lab.default_uln * to_req[lab.uln_unit]))
        usable = in_window & value_col.isNotNull()
        key = {"latest": [], "max": [value_col.alias("k")], "min": [(-value_col).alias("k")]}[req.aggregate]
        best = F.max(F.when(usable, F.struct(*key, *tie, value_col.alias("v"), uln.alias("u"),
                                             F.col("positive").alias("pos"),
                                             F.col("measurement_concept_id").alias("cid"),
                                             F.col("value_as_number").alias("raw"),
                                             F.col("unit_key").alias("ru"))))
        value, uln_ratio = best["v"], best["u"]
        unconvertible = F.count(F.when(in_window & F.col("value_as_number").isNotNull() & value_col.isNull(), 1))
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


def egfr_ckd_epi_2021(creatinine_mg_dl: Column, age: Column, sex: Column) -> Column:
    """Race-free CKD-EPI 2021 (Inker et al., NEJM 2021), mL/min/1.73 m2; null without sex, age or creatinine."""
    female = sex == "female"
    kappa = F.when(female, 0.7).when(sex == "male", 0.9)
    alpha = F.when(female, -0.241).when(sex == "male", -0.302)
    ratio = creatinine_mg_dl / kappa
    value = (142 * F.pow(F.least(ratio, F.lit(1.0)), alpha) * F.pow(F.greatest(ratio, F.lit(1.0)), -1.200)
             * F.pow(F.lit(0.9938), age) * F.when(female, 1.012).otherwise(1.0))
    return F.when((creatinine_mg_dl > 0) & age.isNotNull() & kappa.isNotNull(), value)


def derived_feature(req: DerivedRequest) -> Column:
    """A LAB_FEATURE struct computed from the creatinine feature and demographics (after aggregation)."""
    if req.method != EGFR_METHOD:
        raise ValueError(f"unknown derivation {req.method}")
    creat = F.col(req.creatinine.name)
    value = egfr_ckd_epi_2021(creat["value"], age_at(F.col("birth_date"), creat["date"]), F.col("sex"))
    return F.when(value.isNotNull(), F.struct(
        value.alias("value"), F.lit("mL/min/1.73m2").alias("unit"), creat["date"].alias("date"),
        creat["concept_id"].alias("concept_id"), creat["value"].alias("raw_value"),
        F.lit("mg/dL").alias("raw_unit"), F.lit(None).cast("double").alias("uln_ratio"),
        F.lit(None).cast("boolean").alias("positive"), F.lit(1).cast("long").alias("n_results"),
        F.lit(0).cast("long").alias("n_unconvertible"),
        F.format_string("CKD-EPI 2021 from creatinine %s mg/dL", number_text(creat["value"]))
        .alias("derived"),
    )).alias(req.name)


def in_some_window(requests: list[LabRequest], as_of: date) -> Column:
    """True for a result inside the window of at least one request of its lab.

    Every aggregate of a request only reads rows in its window, so the others never matter; dropping them
    before the aggregation matters because its struct-valued maxima make Spark sort every row it is given
    (SortAggregate), and most results of a long history are older than any 90-day window."""
    earliest: dict[str, date | None] = {}
    for r in requests:
        start = first_day(as_of, r.lookback_days)
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
                 derived: list[DerivedRequest], labs: dict[str, LabDefinition], as_of: date) -> DataFrame:
    """person_id + one LAB_FEATURE struct per request and per derivation, for persons with any lab result."""
    aggs = [lab_aggregate(r, labs[r.lab], as_of) for r in sorted(requests)]
    results = results.where(in_some_window(requests, as_of))
    per_person = results.groupBy("person_id").agg(*aggs) if aggs else results.select("person_id").distinct()
    if not derived:
        return per_person
    demo = demographics.select("person_id", "sex", "birth_date")
    names = [r.name for r in sorted(requests)]
    return (per_person.join(demo.hint("merge"), "person_id", "left")  # person-level: never broadcast
            .select("person_id", *names, *[derived_feature(d) for d in sorted(derived)]))
