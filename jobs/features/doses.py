"""Daily doses from drug_strength: amount_value x quantity / days_supply of the latest exposure of a set.

Read only when a criterion has a `drug_dose` rule (jobs.extract.inputs.extra_columns: drug_strength and
drug_exposure.quantity are otherwise not read). drug_strength is joined on (drug_concept_id, the set item as
ingredient_concept_id), so a combination product contributes the strength of the ingredient the set names; an
exposure recorded at ingredient level has no strength row and its dose is unknown. Only solid-form amounts
(amount_value) are used: concentrations (numerator/denominator) are not read, and their dose is unknown too.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.features.windows import overlaps_window
from schemas.features import DoseRequest
from schemas.units import factors_to
from schemas.value_rules import AMOUNT_UNITS


def dose_exposures(drug_exposure: DataFrame) -> DataFrame:
    """Exposure rows with their interval (end = end_date, else start + days_supply - 1, else start: the same
    interval as jobs.features.events.drug_events) and the fields a dose needs."""
    start = F.col("drug_exposure_start_date")
    supplied = F.when(F.col("days_supply") > 0, F.date_add(start, (F.col("days_supply") - 1).cast("int")))
    end = F.coalesce(F.col("drug_exposure_end_date"), supplied, start)
    return drug_exposure.select("drug_exposure_id", "person_id", F.col("drug_concept_id").alias("concept_id"),
                                start.alias("start_date"), F.greatest(end, start).alias("end_date"),
                                F.col("quantity").cast("double").alias("quantity"), "days_supply")


def strengths(drug_strength: DataFrame, membership: DataFrame) -> DataFrame:
    """One valid amount per (drug, set item), only for drugs of the requested sets: small, broadcast."""
    keys = membership.select("concept_id", "item_concept_id").distinct()
    valid = (drug_strength.where(F.col("invalid_reason").isNull())
             .select(F.col("drug_concept_id").alias("concept_id"),
                     F.col("ingredient_concept_id").alias("item_concept_id"), "amount_value",
                     "amount_unit_concept_id")
             .join(keys, ["concept_id", "item_concept_id"], "left_semi"))
    best = F.max(F.struct(F.col("amount_value").isNotNull().alias("known"), "amount_value",
                          "amount_unit_concept_id"))  # deterministic when a pair has several rows
    return F.broadcast(valid.groupBy("concept_id", "item_concept_id").agg(best.alias("s"))
                       .select("concept_id", "item_concept_id", F.col("s.amount_value").alias("amount"),
                               F.col("s.amount_unit_concept_id").alias("amount_unit_concept_id")))


def _per_unit(unit_concept: Column, target: str, pick: int) -> Column:
    """A column from AMOUNT_UNITS by amount unit concept: its label (pick 0) or its factor to `target`."""
    out = F.lit(None)
    to_target = factors_to(target)
    for cid, (label, rate, factor) in sorted(AMOUNT_UNITS.items()):
        v = label if pick == 0 else (factor * to_target[rate].scale if rate in to_target else None)
        out = F.when(unit_concept == cid, F.lit(v)).otherwise(out)
    return out


def dose_aggregate(req: DoseRequest, as_of: date) -> Column:
    """One DOSE_FEATURE struct for a request over the joined exposure rows."""
    hit = (F.col("concept_set") == req.concept_set) & overlaps_window(F.col("start_date"), F.col("end_date"),
                                                                      as_of, req.within_days)
    factor = _per_unit(F.col("amount_unit_concept_id"), req.unit, 1).cast("double")
    missing = (F.when(F.col("amount").isNull(), F.lit("no drug_strength amount for this drug"))
               .when(factor.isNull(), F.lit("drug_strength amount unit is not a mass"))
               .when(~F.coalesce(F.col("quantity") > 0, F.lit(False)), F.lit("no quantity"))  # null or <= 0
               .when(~F.coalesce(F.col("days_supply") > 0, F.lit(False)), F.lit("no days_supply")))
    daily = F.when(missing.isNull(), F.col("amount") * factor * F.col("quantity") / F.col("days_supply"))
    last = F.max(F.when(hit, F.struct(
        F.col("start_date").alias("d"), F.col("drug_exposure_id").alias("id"),
        F.col("item_concept_id").alias("item"), F.col("concept_id").alias("cid"), daily.alias("dose"),
        F.col("amount").alias("amount"), _per_unit(F.col("amount_unit_concept_id"), req.unit, 0).cast("string")
        .alias("amount_unit"), F.col("quantity").alias("q"), F.col("days_supply").cast("long").alias("s"),
        missing.alias("why"))))
    return F.struct(F.count(F.when(hit, 1)).alias("n"), last["d"].alias("date"), last["cid"].alias("concept_id"),
                    last["dose"].alias("daily_dose"), last["amount"].alias("amount"),
                    last["amount_unit"].alias("amount_unit"), last["q"].alias("quantity"),
                    last["s"].alias("days_supply"), last["why"].alias("missing")).alias(req.name)


def dose_features(drug_exposure: DataFrame, drug_strength: DataFrame, membership: DataFrame,
                  requests: list[DoseRequest], as_of: date) -> DataFrame:
    """person_id + one DOSE_FEATURE struct per request, for persons with an exposure of a requested set."""
    rows = (dose_exposures(drug_exposure).join(membership, "concept_id")
            .join(strengths(drug_strength, membership), ["concept_id", "item_concept_id"], "left"))
    return rows.groupBy("person_id").agg(*[dose_aggregate(r, as_of) for r in sorted(requests)])
