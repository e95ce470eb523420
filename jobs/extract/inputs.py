"""The read stage: which columns of which tables the job reads, the as-of date, and the typed inputs.

`COLUMNS` is the one list of what is read (the reader reads nothing else; the benchmark's scan floor reads
exactly this). `prepare_inputs` returns the frames, the resolved concept sets, the feature plan and the lab
results the criteria read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.config import AS_OF_MAX, AS_OF_MIN
from jobs.errors import InputError
from jobs.extract.lab_results import MEASUREMENT_COLUMNS, lab_results
from jobs.extract.reader import OmopExtract
from jobs.extract.vocabulary import ResolvedConceptSets, resolve_concept_sets
from schemas.criteria import CriteriaFile
from schemas.features import FeaturePlan, plan_features

COLUMNS: dict[str, list[str]] = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth",
               "birth_datetime", "care_site_id", "location_id"],
    "observation_period": ["person_id", "observation_period_start_date", "observation_period_end_date"],
    "death": ["person_id", "death_date"],
    "visit_occurrence": ["visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date", "visit_end_date",
                         "care_site_id"],
    "care_site": ["care_site_id", "care_site_name", "location_id"],
    "location": ["location_id", "city", "state"],
    "condition_occurrence": ["condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date",
                             "condition_end_date", "visit_occurrence_id"],
    "observation": ["observation_id", "person_id", "observation_concept_id", "observation_date", "value_as_number",
                    "value_as_concept_id", "visit_occurrence_id"],
    "procedure_occurrence": ["procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date",
                             "visit_occurrence_id"],
    "drug_exposure": ["drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date",
                      "drug_exposure_end_date", "days_supply"],
    "measurement": MEASUREMENT_COLUMNS,
}
# read only when a criterion has a drug_dose rule (extra_columns)
DRUG_STRENGTH_COLUMNS = ["drug_concept_id", "ingredient_concept_id", "amount_value", "amount_unit_concept_id",
                         "invalid_reason"]
DOSE_EXPOSURE_COLUMNS = ["quantity"]
LAB_RESULTS = "lab_results"  # the frame of the criteria's lab results, beside the tables
# Event tables whose rows are evidence only through a concept set, by their concept column. Over JDBC only
# rows in some concept set of the criteria are read: the `IN (...)` goes into the database's WHERE, so a
# 100M-row measurement table is not shipped whole. A feature that reads rows outside every concept set must
# take its table out of this registry. Files are read whole (the quality gate then sees every row).
CONCEPT_FILTERED: dict[str, str] = {
    "condition_occurrence": "condition_concept_id", "observation": "observation_concept_id",
    "procedure_occurrence": "procedure_concept_id", "drug_exposure": "drug_concept_id",
    "measurement": "measurement_concept_id",
}
MAX_PUSHED_IDS = 10_000  # above this many concept ids the IN list costs more than it saves: read whole


@dataclass
class Inputs:
    frames: dict[str, DataFrame]  # COLUMNS' tables, plus LAB_RESULTS
    resolved: ResolvedConceptSets
    plan: FeaturePlan


def resolve_as_of(extract: OmopExtract, given: date | None) -> tuple[date, str]:
    """--as-of, else cdm_source.source_release_date, else today; returns the date and where it came from."""
    if given is not None:
        return _in_range(given, "--as-of"), "--as-of"
    if extract.has("cdm_source"):
        row = extract.read("cdm_source", ["source_release_date"]).where(
            F.col("source_release_date").isNotNull()).agg(F.max("source_release_date").alias("d")).first()
        if row and row["d"]:
            return _in_range(row["d"], "cdm_source.source_release_date"), "cdm_source.source_release_date"
    return datetime.now(UTC).date(), "today (no --as-of, no cdm_source.source_release_date)"


def _in_range(day: date, source: str) -> date:
    if not AS_OF_MIN <= day <= AS_OF_MAX:
        raise InputError(f"{source}: the screening date {day} is outside the supported range "
                         f"{AS_OF_MIN}..{AS_OF_MAX}; give --as-of YYYY-MM-DD")
    return day


def pushed_filters(extract: OmopExtract, resolved: ResolvedConceptSets) -> dict[str, tuple[str, list[int]]]:
    """`keep` filters per table for a JDBC source: every concept id of every set (a superset of what any rule
    reads from any table); none for files or when the sets are too large to list."""
    ids = sorted({m.concept_id for members in resolved.members.values() for m in members})
    if not extract.is_jdbc or not ids or len(ids) > MAX_PUSHED_IDS:
        return {}
    return {table: (column, ids) for table, column in CONCEPT_FILTERED.items()}


def read_tables(extract: OmopExtract, extra: dict[str, list[str]] | None = None,
                keep: dict[str, tuple[str, list[int]]] | None = None) -> dict[str, DataFrame]:
    """COLUMNS' tables, plus `extra` columns (of those tables or optional others) that only some criteria read;
    `keep` row filters per table (see CONCEPT_FILTERED)."""
    extra = extra or {}
    frames = {"person": extract.read("person", COLUMNS["person"], required=True)}
    for table in [*COLUMNS, *[t for t in extra if t not in COLUMNS]]:
        if table != "person":
            frames[table] = extract.read(table, COLUMNS.get(table, []) + extra.get(table, []),
                                         keep=(keep or {}).get(table))
    return frames


def extra_columns(plan: FeaturePlan) -> dict[str, list[str]]:
    """What the plan reads beyond COLUMNS: drug_strength and drug_exposure.quantity for daily doses."""
    if not plan.doses:
        return {}
    return {"drug_exposure": DOSE_EXPOSURE_COLUMNS, "drug_strength": DRUG_STRENGTH_COLUMNS}


def prepare_inputs(spark: SparkSession, extract: OmopExtract, criteria: CriteriaFile,
                   canonical_units: dict[str, str], plan: FeaturePlan | None = None) -> Inputs:
    """Typed tables, resolved concept sets, the feature plan, and the criteria's lab results (carrying the
    conversions into every unit the plan reads and into each lab's `canonical_units` plausibility unit).
    `plan` is given for several trials at once (the union of their plans over their combined concept sets and
    labs in `criteria`); by default it is `criteria`'s own."""
    plan = plan_features(criteria) if plan is None else plan
    resolved = resolve_concept_sets(spark, criteria, extract)  # first: its ids filter the JDBC reads
    frames = read_tables(extract, extra_columns(plan), pushed_filters(extract, resolved))
    lab_sets = sorted({criteria.labs[lab].concept_set for lab in plan.lab_names()})  # the labs the criteria read
    frames[LAB_RESULTS] = lab_results(frames["measurement"], resolved.table(spark, lab_sets), criteria.labs,
                                      plan.lab_units(), canonical_units)
    return Inputs(frames, resolved, plan)
