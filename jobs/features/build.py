"""Build the feature families the criteria need and write them under the staging folder's `features/`.

`FAMILIES` is the registry: one builder per family, in the order they are written; the pipeline, the feature
frame and the output registry all iterate it. Each written family is checked against its contract in
`schemas.features` (names and types of every column) before anything reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.extract.vocabulary import ResolvedConceptSets
from jobs.features.demographics import demographics, with_visit_site
from jobs.features.doses import dose_features
from jobs.features.events import diagnosis_events, drug_events, drug_features, event_features, procedure_events
from jobs.features.labs import lab_features
from jobs.features.observation_values import observation_value_features
from jobs.session import described
from schemas.criteria import CriteriaFile
from schemas.features import DEMOGRAPHICS, DOSE_FEATURE, FEATURE_SHAPES, LAB_SERIES_FEATURE, FeaturePlan


@dataclass(frozen=True)
class FeatureInputs:
    """What every family builder may read: the gated frames, the plan, the resolved sets, the as-of date."""

    spark: SparkSession
    frames: dict[str, DataFrame]
    criteria: CriteriaFile
    plan: FeaturePlan
    resolved: ResolvedConceptSets
    as_of: date
    demographics: DataFrame | None = None  # set once demographics is written (labs derive from it)

    def membership(self, requests) -> DataFrame:
        return self.resolved.table(self.spark, sorted({r.concept_set for r in requests}))


def _demographics(x: FeatureInputs) -> DataFrame:
    person = with_visit_site(x.frames["person"], x.frames["visit_occurrence"], x.as_of)
    return demographics(person, x.frames["death"], x.frames["observation_period"], x.frames["care_site"],
                        x.frames["location"], x.as_of)


def _diagnoses(x: FeatureInputs) -> DataFrame:
    reqs = x.plan.for_family("diagnoses")
    events = diagnosis_events(x.frames["condition_occurrence"], x.frames["observation"])
    return event_features(events, x.membership(reqs), reqs, x.as_of, x.frames["visit_occurrence"])


def _procedures(x: FeatureInputs) -> DataFrame:
    reqs = x.plan.for_family("procedures")
    return event_features(procedure_events(x.frames["procedure_occurrence"]), x.membership(reqs), reqs, x.as_of,
                          x.frames["visit_occurrence"])


def _therapies(x: FeatureInputs) -> DataFrame:
    reqs = x.plan.for_family("therapies")
    therapies = drug_features(drug_events(x.frames["drug_exposure"]), x.membership(reqs), reqs, x.as_of)
    if not x.plan.doses:
        return therapies
    doses = sorted(x.plan.doses)  # only when a criterion asks for a dose: one more pass over drug_exposure
    per_dose = dose_features(x.frames["drug_exposure"], x.frames["drug_strength"], x.membership(doses), doses,
                             x.as_of)
    return therapies.join(per_dose.hint("merge"), "person_id", "full")

def _labs(x: FeatureInputs) -> DataFrame:
    return lab_features(x.frames["lab_results"], x.demographics, sorted(x.plan.labs), sorted(x.plan.derived),
                        x.criteria.labs, x.as_of, sorted(x.plan.series))


def _observation_values(x: FeatureInputs) -> DataFrame:
    reqs = sorted(x.plan.observation_values, key=lambda r: r.name)
    value_sets = sorted({r.value_set for r in reqs if r.value_set})
    values = x.resolved.table(x.spark, value_sets) if value_sets else None
    return observation_value_features(x.frames["observation"], x.membership(reqs), reqs, x.as_of, values)


FAMILIES: dict[str, Callable[[FeatureInputs], DataFrame]] = {
    "demographics": _demographics,
    "diagnoses": _diagnoses,
    "procedures": _procedures,
    "therapies": _therapies,
    "labs": _labs,
    "observation_values": _observation_values,
}


def expected_schema(family: str, plan: FeaturePlan) -> T.StructType:
    """The contract of a family for this plan: person_id plus one struct of the family's shape per request."""
    if family == "demographics":
        return DEMOGRAPHICS
    extra: list[T.StructField] = []  # requests of another shape, after the family's own
    if family == "labs":
        names = [r.name for r in sorted(plan.labs)] + [r.name for r in sorted(plan.derived)]
        extra = [T.StructField(r.name, LAB_SERIES_FEATURE) for r in sorted(plan.series)]
    elif family == "observation_values":
        names = sorted(r.name for r in plan.observation_values)
    else:
        names = [r.name for r in plan.for_family(family)]
        if family == "therapies":
            extra = [T.StructField(r.name, DOSE_FEATURE) for r in sorted(plan.doses)]
    return T.StructType([T.StructField("person_id", T.LongType())]
                        + [T.StructField(n, FEATURE_SHAPES[family]) for n in names] + extra)


def check_contract(family: str, df: DataFrame, plan: FeaturePlan) -> None:
    """Names and types of `df` equal the family's contract (nullability aside): a builder that drifts from
    schemas.features fails here, at planning time, not in a reader downstream."""
    def shape(schema: T.StructType) -> list[tuple[str, str]]:
        return [(f.name, f.dataType.simpleString()) for f in schema.fields]  # no nullability in simpleString

    got, want = shape(df.schema), shape(expected_schema(family, plan))
    if got != want:
        raise AssertionError(f"features {family}: schema {got} differs from the contract {want}")


def build_features(x: FeatureInputs, stage_dir: str) -> dict[str, str]:
    """Write every family as Parquet under stage_dir/features/; returns their paths."""
    paths: dict[str, str] = {}
    for family, builder in FAMILIES.items():
        df = builder(x)
        check_contract(family, df, x.plan)
        paths[family] = f"{stage_dir}/features/{family}"
        with described(x.spark, f"features: {family}"):
            df.write.parquet(paths[family])
        if family == "demographics":  # labs derive values from age and sex: read the written table back
            x = replace(x, demographics=x.spark.read.parquet(paths[family]))
    return paths


def feature_frame(spark: SparkSession, paths: dict[str, str]) -> DataFrame:
    """Demographics (every person) left-joined with the other families: the frame criteria are evaluated on.

    Sort-merge joins by hint: the planner sizes a Parquet table by its compressed bytes, so a person-level
    family of a few million rows looks small enough to broadcast, then fills the driver when built."""
    wide = spark.read.parquet(paths["demographics"])
    for family in FAMILIES:
        if family != "demographics":
            wide = wide.join(spark.read.parquet(paths[family]).hint("merge"), "person_id", "left")
    return wide
