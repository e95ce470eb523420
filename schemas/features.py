"""The contract between the feature builders and the criteria compiler.

A criteria file asks for features by *request* (plain frozen data, named deterministically, e.g.
`sle__all`, `kidney_biopsy__183d`, `upcr__g_g__90d__latest`); `plan_features` lists every request a file
needs, the builders in `jobs/features/` compute exactly those columns, and the compiler reads them by the
same names (`event_request`, `lab_request`, `derived_request`). Every feature of a family has the family's
struct shape below (circe's "one event shape"), so any rule can read any feature and a new trial needs no
new Spark code. `jobs/features/build.py` checks each written family against these schemas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pyspark.sql import types as T

from schemas.criteria import (
    ConditionRule,
    CriteriaFile,
    DrugRule,
    LabRule,
    LabSeriesRule,
    ObservationRule,
    ProcedureRule,
    walk_rules,
)
from schemas.derived import DERIVATIONS
from schemas.value_rules import DrugDoseRule

# ------------------------------------------------------------------ feature table shapes
DEMOGRAPHICS = T.StructType([
    T.StructField("person_id", T.LongType()),
    T.StructField("sex", T.StringType()),  # female | male | null (other/unknown gender concept)
    T.StructField("birth_date", T.DateType()),  # birth_datetime, else year/month/day (missing month/day: Jul 1)
    T.StructField("age", T.IntegerType()),  # whole years at the as-of date
    T.StructField("death_date", T.DateType()),
    T.StructField("deceased", T.BooleanType()),  # death on or before as-of
    T.StructField("observed_at_as_of", T.BooleanType()),  # an observation_period covers the as-of date
    T.StructField("observation_end_date", T.DateType()),  # end of the latest observation period
    T.StructField("site", T.StringType()),  # care site name, else its city/state, else person location, else 'unknown'
])

# diagnoses (condition_occurrence + observation) and procedures: one struct per (concept set, window)
EVENT_FEATURE = T.StructType([
    T.StructField("n", T.LongType()),  # records in the window
    T.StructField("first_date", T.DateType()),
    T.StructField("last_date", T.DateType()),
    T.StructField("last_concept_id", T.LongType()),  # source concept of the latest record
])

# therapies (drug_exposure): exposure intervals overlapping the window
DRUG_FEATURE = T.StructType([
    *EVENT_FEATURE.fields[:2],
    T.StructField("last_date", T.DateType()),  # latest exposure end (or start when no end), at most as-of
    T.StructField("last_concept_id", T.LongType()),
    T.StructField("days", T.LongType()),  # cumulative exposure days inside the window (overlaps add up)
    T.StructField("ingredients", T.ArrayType(T.LongType())),  # distinct concept-set items (ingredients), sorted
    T.StructField("classes", T.ArrayType(T.StringType())),  # distinct item labels (therapy classes), sorted
])

# labs: latest (or max/min) usable result in the window, in the request's unit; derived values alike
LAB_FEATURE = T.StructType([
    T.StructField("value", T.DoubleType()),  # converted to `unit`
    T.StructField("unit", T.StringType()),
    T.StructField("date", T.DateType()),
    T.StructField("concept_id", T.LongType()),  # measurement_concept_id of the result used
    T.StructField("raw_value", T.DoubleType()),  # as recorded
    T.StructField("raw_unit", T.StringType()),  # recognised unit key of the raw value
    T.StructField("uln_ratio", T.DoubleType()),  # raw_value / range_high, else value / default ULN
    T.StructField("positive", T.BooleanType()),  # qualitative reading (result concept, else value vs range)
    T.StructField("n_results", T.LongType()),  # usable results in the window
    T.StructField("n_unconvertible", T.LongType()),  # results in the window whose unit could not be converted
    T.StructField("derived", T.StringType()),  # null, or how the value was derived (e.g. CKD-EPI 2021 eGFR)
])

# several results of one lab in a window (lab_series rules), in the request's unit
LAB_SERIES_FEATURE = T.StructType([
    T.StructField("n_results", T.LongType()),  # usable results in the window
    T.StructField("n_meeting", T.LongType()),  # of which meet the request's threshold (all of them without one)
    T.StructField("first_date", T.DateType()),  # of any usable result
    T.StructField("last_date", T.DateType()),
    T.StructField("first_meeting_date", T.DateType()),
    T.StructField("last_meeting_date", T.DateType()),
    T.StructField("min_value", T.DoubleType()),
    T.StructField("max_value", T.DoubleType()),
    T.StructField("last_concept_id", T.LongType()),  # measurement_concept_id of the latest usable result
])

# daily dose (drug_dose rules, in the therapies family): the latest exposure of a set overlapping the window
DOSE_FEATURE = T.StructType([
    T.StructField("n", T.LongType()),  # exposures of the set overlapping the window
    T.StructField("date", T.DateType()),  # start of the latest one (ties: the larger drug_exposure_id)
    T.StructField("concept_id", T.LongType()),  # its drug_concept_id
    T.StructField("daily_dose", T.DoubleType()),  # amount_value x quantity / days_supply, in the request's unit
    T.StructField("amount", T.DoubleType()),  # drug_strength.amount_value as recorded
    T.StructField("amount_unit", T.StringType()),  # mg | g | ug (null: not a recognised amount unit)
    T.StructField("quantity", T.DoubleType()),
    T.StructField("days_supply", T.LongType()),
    T.StructField("missing", T.StringType()),  # why daily_dose is null (e.g. "no days_supply"); null when known
])

EventFamily = Literal["diagnoses", "procedures", "therapies"]
FEATURE_SHAPES: dict[str, T.StructType] = {"diagnoses": EVENT_FEATURE, "procedures": EVENT_FEATURE,
                                           "therapies": DRUG_FEATURE, "labs": LAB_FEATURE}
RULE_FAMILY: dict[str, EventFamily] = {"condition": "diagnoses", "observation": "diagnoses",
                                       "procedure": "procedures", "drug": "therapies"}


# ------------------------------------------------------------------ requests
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def _window(days: int | None) -> str:
    return "all" if days is None else f"{days}d"


class SortedByName:
    """Requests sort by (kind, feature name): a total order that holds when one concept set or lab is asked
    with and without a window (None, the whole history), which field-by-field dataclass ordering cannot compare
    (two trials in one run, or one file, asking `heart_failure` any time and within 60 days)."""

    name: str

    def __lt__(self, other: SortedByName) -> bool:
        return (type(self).__name__, self.name) < (type(other).__name__, other.name)


@dataclass(frozen=True)
class EventRequest(SortedByName):
    family: EventFamily
    concept_set: str
    within_days: int | None  # None: whole history up to as-of

    @property
    def name(self) -> str:
        return f"{self.concept_set}__{_window(self.within_days)}"


@dataclass(frozen=True)
class LabRequest(SortedByName):
    lab: str
    mode: Literal["numeric", "qualitative"]
    unit: str | None  # target unit for numeric requests
    lookback_days: int | None
    aggregate: Literal["latest", "max", "min"]

    @property
    def name(self) -> str:
        what = _slug(self.unit or "") if self.mode == "numeric" else "pos"
        return f"{self.lab}__{what}__{_window(self.lookback_days)}__{self.aggregate}"


@dataclass(frozen=True)
class DerivedRequest(SortedByName):
    method: str  # a name in schemas.derived.DERIVATIONS
    lookback_days: int | None

    @property
    def name(self) -> str:
        return f"{self.method}__{_window(self.lookback_days)}"

    @property
    def inputs(self) -> tuple[LabRequest, ...]:
        """The latest result of each input lab in the same window, in the unit the formula reads."""
        return tuple(LabRequest(i.lab, "numeric", i.unit, self.lookback_days, "latest")
                     for i in DERIVATIONS[self.method].inputs)


@dataclass(frozen=True)
class LabSeriesRequest:
    """Counts, dates and range of one lab's results in a window; `meeting` results pass the threshold.
    Ordered by name (fields may be None, which does not compare with numbers)."""

    lab: str
    unit: str
    lookback_days: int | None
    comparator: str | None  # None: every usable result is `meeting`
    value: float | None
    max: float | None

    @property
    def name(self) -> str:
        op = {">": "gt", ">=": "ge", "<": "lt", "<=": "le", "between": "btw", None: "any"}[self.comparator]
        bounds = "".join("_" + _slug(f"{x:g}") for x in (self.value, self.max) if x is not None)
        return f"{self.lab}__{_slug(self.unit)}__{_window(self.lookback_days)}__series_{op}{bounds}"

    def __lt__(self, other: LabSeriesRequest) -> bool:
        return self.name < other.name


@dataclass(frozen=True)
class DoseRequest:
    """Ordered by name (within_days may be None)."""

    concept_set: str
    within_days: int | None
    unit: str  # a mass-per-day unit key (schemas.units), e.g. mg/24h

    @property
    def name(self) -> str:
        return f"{self.concept_set}__{_window(self.within_days)}__dose_{_slug(self.unit)}"

    def __lt__(self, other: DoseRequest) -> bool:
        return self.name < other.name


@dataclass
class FeaturePlan:
    events: set[EventRequest] = field(default_factory=set)
    labs: set[LabRequest] = field(default_factory=set)
    derived: set[DerivedRequest] = field(default_factory=set)
    series: set[LabSeriesRequest] = field(default_factory=set)
    doses: set[DoseRequest] = field(default_factory=set)

    def for_family(self, family: EventFamily) -> list[EventRequest]:
        return sorted(r for r in self.events if r.family == family)

    def lab_units(self) -> dict[str, set[str]]:
        """{lab: units it is asked in}: the conversions the lab results must carry."""
        out: dict[str, set[str]] = {}
        for r in [*self.labs, *self.series]:
            if r.unit is not None:
                out.setdefault(r.lab, set()).add(r.unit)
        return out

    def lab_names(self) -> set[str]:
        """Every lab a feature reads (its results are the lab rows the read stage builds)."""
        return {r.lab for r in self.labs} | {r.lab for r in self.series}


def event_request(rule: ConditionRule | ObservationRule | ProcedureRule | DrugRule) -> EventRequest:
    return EventRequest(RULE_FAMILY[rule.kind], rule.concept_set, rule.within_days)


def lab_request(criteria: CriteriaFile, rule: LabRule) -> LabRequest:
    lab = criteria.labs[rule.lab]
    if rule.comparator == "positive":
        return LabRequest(rule.lab, "qualitative", None, criteria.lookback(rule),
                          "max" if rule.aggregate == "max" or rule.whole_history else "latest")
    unit = lab.uln_unit if rule.relative_to == "uln" else rule.unit
    return LabRequest(rule.lab, "numeric", unit, criteria.lookback(rule), rule.aggregate)


def derived_request(criteria: CriteriaFile, rule: LabRule) -> DerivedRequest | None:
    return DerivedRequest(rule.derive, criteria.lookback(rule)) if rule.derive else None


def series_request(criteria: CriteriaFile, rule: LabSeriesRule) -> LabSeriesRequest:
    return LabSeriesRequest(rule.lab, rule.unit, criteria.lookback(rule), rule.comparator, rule.value, rule.max)


def dose_request(rule: DrugDoseRule) -> DoseRequest:
    return DoseRequest(rule.concept_set, rule.within_days, rule.unit)


def plan_features(criteria: CriteriaFile) -> FeaturePlan:
    """Every feature the file's criteria read."""
    plan = FeaturePlan()
    for crit in criteria.criteria:
        for _path, rule in walk_rules(crit.rule, "rule"):
            if isinstance(rule, ConditionRule | ObservationRule | ProcedureRule | DrugRule):
                plan.events.add(event_request(rule))
            elif isinstance(rule, LabRule):
                plan.labs.add(lab_request(criteria, rule))
                derived = derived_request(criteria, rule)
                if derived:
                    plan.derived.add(derived)
                    plan.labs.update(derived.inputs)
            elif isinstance(rule, LabSeriesRule):
                plan.series.add(series_request(criteria, rule))
            elif isinstance(rule, DrugDoseRule):
                plan.doses.add(dose_request(rule))
    return plan
