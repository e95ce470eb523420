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
from schemas.ordering import SortedByName
from schemas.rule_time import ObservationValueRule
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
    T.StructField("days_since_visit", T.IntegerType()),  # as-of minus the latest visit start on or before it
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
    # requests with coverage (max_gap_days set), else null: distinct days covered by the union of the exposure
    # intervals clipped to the window, refill gaps up to max_gap_days bridged (jobs/features/coverage.py)
    T.StructField("days", T.LongType()),
    T.StructField("run_days", T.LongType()),  # length of the covered run reaching the window's end; 0 if none
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

# observation values (NYHA class, pack-years): the latest observation with a value in the window, as recorded
OBSERVATION_VALUE_FEATURE = T.StructType([
    T.StructField("value", T.DoubleType()),  # value_as_number (mode number)
    T.StructField("value_concept_id", T.LongType()),  # value_as_concept_id (mode concept; 0 is no value)
    T.StructField("date", T.DateType()),
    T.StructField("concept_id", T.LongType()),  # observation_concept_id of the record used
    T.StructField("n_results", T.LongType()),  # records with a value of the mode in the window
    T.StructField("value_in_set", T.BooleanType()),  # the value concept is in the request's value set (if any)
])

EventFamily = Literal["diagnoses", "procedures", "therapies"]
FEATURE_SHAPES: dict[str, T.StructType] = {"diagnoses": EVENT_FEATURE, "procedures": EVENT_FEATURE,
                                           "therapies": DRUG_FEATURE, "labs": LAB_FEATURE,
                                           "observation_values": OBSERVATION_VALUE_FEATURE}
RULE_FAMILY: dict[str, EventFamily] = {"condition": "diagnoses", "observation": "diagnoses",
                                       "procedure": "procedures", "drug": "therapies"}


# ------------------------------------------------------------------ requests
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def _window(days: int | None) -> str:
    return "all" if days is None else f"{days}d"


@dataclass(frozen=True)
class EventRequest(SortedByName):
    family: EventFamily
    concept_set: str
    within_days: int | None  # None: whole history up to the window's end
    ends_days_before: int = 0  # the window ends this many days before as-of (`between_days`)
    max_gap_days: int | None = None  # therapies: compute covered days, bridging refill gaps up to N days
    visit_concepts: tuple[int, ...] = ()  # only events during a visit of these visit_concept_ids

    @property
    def name(self) -> str:
        a, w = self.ends_days_before, self.within_days
        window = _window(w) if a == 0 else (f"all_to{a}d" if w is None else f"{a}_{a + w - 1}d")
        gap = "" if self.max_gap_days is None else f"__gap{self.max_gap_days}d"
        visit = "" if not self.visit_concepts else "__visit" + "_".join(map(str, self.visit_concepts))
        return f"{self.concept_set}__{window}{gap}{visit}"


@dataclass(frozen=True)
class LabRequest(SortedByName):
    lab: str
    mode: Literal["numeric", "qualitative"]
    unit: str | None  # target unit for numeric requests
    lookback_days: int | None
    aggregate: Literal["latest", "max", "min"]
    ends_days_before: int = 0  # the window ends this many days before as-of (`between_days`)

    @property
    def name(self) -> str:
        what = _slug(self.unit or "") if self.mode == "numeric" else "pos"
        a = self.ends_days_before
        window = _window(self.lookback_days) if a == 0 else f"{a}_{a + self.lookback_days - 1}d"
        return f"{self.lab}__{what}__{window}__{self.aggregate}"


@dataclass(frozen=True)
class DerivedRequest(SortedByName):
    method: str  # a name in schemas.derived.DERIVATIONS
    lookback_days: int | None
    available: tuple[str, ...] | None = None  # the input labs the criteria file defines (None: every input)

    @property
    def name(self) -> str:
        return f"{self.method}__{_window(self.lookback_days)}"

    @property
    def pairing(self) -> str:
        return DERIVATIONS[self.method].pairing

    @property
    def inputs(self) -> tuple[LabRequest, ...]:
        """The latest result of each available input lab in its window (the rule's, or the whole history), in
        the unit the formula reads; for `same_day` pairing these name the units the results must carry."""
        return tuple(LabRequest(i.lab, "numeric", i.unit, None if i.window == "history" else self.lookback_days,
                                "latest")
                     for i in DERIVATIONS[self.method].inputs if self.available is None or i.lab in self.available)


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


@dataclass(frozen=True, order=True)
class ObservationValueRequest:
    concept_set: str
    mode: Literal["number", "concept"]
    lookback_days: int | None
    value_set: str = ""  # mode concept: the concept set the value concept is looked up in ("" none)

    @property
    def name(self) -> str:
        tail = f"__in_{self.value_set}" if self.value_set else ""
        return f"{self.concept_set}__{self.mode}__{_window(self.lookback_days)}__latest{tail}"


@dataclass
class FeaturePlan:
    events: set[EventRequest] = field(default_factory=set)
    labs: set[LabRequest] = field(default_factory=set)
    derived: set[DerivedRequest] = field(default_factory=set)
    series: set[LabSeriesRequest] = field(default_factory=set)
    doses: set[DoseRequest] = field(default_factory=set)
    observation_values: set[ObservationValueRequest] = field(default_factory=set)

    def for_family(self, family: EventFamily) -> list[EventRequest]:
        # by name: the same set with and without a window (None vs int) must sort too
        return sorted((r for r in self.events if r.family == family), key=lambda r: r.name)

    def lab_units(self) -> dict[str, set[str]]:
        """{lab: units it is asked in}: the conversions the lab results must carry (derived inputs included)."""
        out: dict[str, set[str]] = {}
        for r in [*self.labs, *self.series, *[i for d in self.derived for i in d.inputs]]:
            if r.unit is not None:
                out.setdefault(r.lab, set()).add(r.unit)
        return out

    def lab_names(self) -> set[str]:
        """Every lab a feature reads (its results are the lab rows the read stage builds)."""
        return ({r.lab for r in self.labs} | {r.lab for r in self.series}
                | {i.lab for d in self.derived for i in d.inputs})


def event_request(rule: ConditionRule | ObservationRule | ProcedureRule | DrugRule) -> EventRequest:
    days, before = rule.window()
    covered = isinstance(rule, DrugRule) and (rule.min_days is not None or rule.continuous_days is not None)
    return EventRequest(RULE_FAMILY[rule.kind], rule.concept_set, days, before,
                        (rule.max_gap_days or 0) if covered else None, tuple(sorted(set(rule.during_visit or ()))))


def related_requests(rule: ConditionRule | ObservationRule | ProcedureRule | DrugRule) -> list[EventRequest]:
    """The other features a timed event rule reads: the whole history up to the window's end (first
    occurrence), the first record of the `after` concept set."""
    out = []
    if rule.occurrence == "first":
        out.append(first_request(rule))
    if rule.after is not None:
        out.append(after_request(rule))
    return out


def first_request(rule: ConditionRule | ObservationRule | ProcedureRule) -> EventRequest:
    return EventRequest(RULE_FAMILY[rule.kind], rule.concept_set, None, rule.window()[1])


def after_request(rule: ConditionRule | ObservationRule | ProcedureRule | DrugRule) -> EventRequest:
    return EventRequest(RULE_FAMILY[rule.after.kind], rule.after.first, None)


def lab_request(criteria: CriteriaFile, rule: LabRule) -> LabRequest:
    lab = criteria.labs[rule.lab]
    before = rule.between_days[0] if rule.between_days else 0
    if rule.comparator == "positive":
        return LabRequest(rule.lab, "qualitative", None, criteria.lookback(rule),
                          "max" if rule.aggregate == "max" or rule.whole_history else "latest", before)
    unit = lab.uln_unit if rule.relative_to == "uln" else rule.unit
    return LabRequest(rule.lab, "numeric", unit, criteria.lookback(rule), rule.aggregate, before)


def derived_request(criteria: CriteriaFile, rule: LabRule) -> DerivedRequest | None:
    if not rule.derive:
        return None
    available = tuple(i.lab for i in DERIVATIONS[rule.derive].inputs if i.lab in criteria.labs)
    return DerivedRequest(rule.derive, criteria.lookback(rule), available)


def series_request(criteria: CriteriaFile, rule: LabSeriesRule) -> LabSeriesRequest:
    return LabSeriesRequest(rule.lab, rule.unit, criteria.lookback(rule), rule.comparator, rule.value, rule.max)


def dose_request(rule: DrugDoseRule) -> DoseRequest:
    return DoseRequest(rule.concept_set, rule.within_days, rule.unit)


def observation_value_request(criteria: CriteriaFile, rule: ObservationValueRule) -> ObservationValueRequest:
    return ObservationValueRequest(rule.concept_set, "concept" if rule.comparator == "in" else "number",
                                   criteria.lookback(rule), rule.value_concept_set or "")


def plan_features(criteria: CriteriaFile) -> FeaturePlan:
    """Every feature the file's criteria read."""
    plan = FeaturePlan()
    for crit in criteria.criteria:
        for _path, rule in walk_rules(crit.rule, "rule"):
            if isinstance(rule, ConditionRule | ObservationRule | ProcedureRule | DrugRule):
                plan.events.add(event_request(rule))
                plan.events.update(related_requests(rule))
            elif isinstance(rule, ObservationValueRule):
                plan.observation_values.add(observation_value_request(criteria, rule))
            elif isinstance(rule, LabRule):
                plan.labs.add(lab_request(criteria, rule))
                derived = derived_request(criteria, rule)
                if derived:
                    plan.derived.add(derived)
                    if derived.pairing == "latest":  # same-day pairs are read per day, not as latest features
                        plan.labs.update(derived.inputs)
            elif isinstance(rule, LabSeriesRule):
                plan.series.add(series_request(criteria, rule))
            elif isinstance(rule, DrugDoseRule):
                plan.doses.add(dose_request(rule))
    return plan
