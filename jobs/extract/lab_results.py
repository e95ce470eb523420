"""The measurements the criteria's labs read, one row per (result, lab), with unit and conversions attached.

Built once in the read stage: the gate checks these rows, the quarantine splits them, the lab features
aggregate them.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.columns import local_frame
from jobs.extract.reader import MALFORMED
from jobs.extract.units import CANONICAL, converted, factor_column, offset_column, with_unit_factors, with_unit_key
from schemas.criteria import LabDefinition

# Result concepts read as positive / negative: the value sets OHDSI and N3C phenotypes use for lab results
# (Positive 9191/45884084, Detected 4126681/45877985, Present 4181412/45879438; Negative 9189/45878583).
POSITIVE_CONCEPTS = (9191, 45884084, 4126681, 45877985, 4181412, 45879438)
NEGATIVE_CONCEPTS = (9189, 45878583)
MEASUREMENT_COLUMNS = ["measurement_id", "person_id", "measurement_concept_id", "measurement_date",
                       "value_as_number", "value_as_concept_id", "unit_concept_id", "unit_source_value",
                       "range_high"]


def qualitative(value_as_concept_id: Column, value_as_number: Column, range_high: Column) -> Column:
    """A result's positive/negative reading: its result concept, else its number against range_high.

    A number with no reference range and no result concept is a result that is not recorded as positive
    (e.g. anti-PLA2R 16 RU/mL): false, not unknown. No result at all stays null (unknown).
    """
    return (F.when(value_as_concept_id.isin(*POSITIVE_CONCEPTS), F.lit(True))
            .when(value_as_concept_id.isin(*NEGATIVE_CONCEPTS), F.lit(False))
            .when(value_as_number.isNotNull() & (range_high > 0), value_as_number > range_high)
            .when(value_as_number.isNotNull(), F.lit(False)))


def lab_results(measurement: DataFrame, membership: DataFrame, labs: dict[str, LabDefinition],
                targets: dict[str, set[str]], canonical: dict[str, str]) -> DataFrame:
    """Measurements of the criteria's labs, with the unit recognised and converted.

    Columns: measurement_id, person_id, lab, measurement_concept_id, measurement_date, value_as_number,
    value_as_concept_id, range_high, unit_key (recognised or the lab's unitless default), positive,
    value_canonical (in the unit of the lab's plausibility range; null without one or when not convertible),
    `_malformed` (the reader's: the measurement table's quarantining checks read it),
    and a factor column per unit in `targets` (read by `jobs.extract.units.converted`).
    """
    set_to_labs = [(name, lab.concept_set, lab.unitless_is) for name, lab in sorted(labs.items())]
    lab_sets = local_frame(measurement.sparkSession, set_to_labs, "lab string, concept_set string, unitless string")
    members = F.broadcast(membership.join(F.broadcast(lab_sets), "concept_set")
                          .select(F.col("concept_id").alias("measurement_concept_id"), "lab", "unitless"))
    malformed = (F.col(MALFORMED) if MALFORMED in measurement.columns  # a frame not from the reader has none
                 else F.array().cast("array<string>").alias(MALFORMED))
    recognised = (with_unit_key(measurement.join(members, "measurement_concept_id"), F.col("unitless"))
                  .select("measurement_id", "person_id", "lab", "measurement_concept_id", "measurement_date",
                          "value_as_number", "value_as_concept_id", "range_high", "unit_key",
                          qualitative(F.col("value_as_concept_id"), F.col("value_as_number"), F.col("range_high"))
                          .alias("positive"), malformed))
    canonical = {lab: unit for lab, unit in canonical.items() if lab in labs}
    with_factors = with_unit_factors(recognised, labs, targets, canonical)
    return with_factors.withColumn("value_canonical", converted(CANONICAL)).drop(factor_column(CANONICAL),
                                                                                   offset_column(CANONICAL))
