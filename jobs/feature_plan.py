"""Which person-level features a criteria file needs, named deterministically.

The compiler asks for features by request; the feature jobs compute exactly the requested ones. Requests are
plain frozen data, so the same request from two criteria is computed once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from schemas.criteria import (
    ConditionRule,
    CriteriaFile,
    DrugRule,
    LabRule,
    ObservationRule,
    ProcedureRule,
    walk_rules,
)

EventFamily = Literal["diagnoses", "procedures", "therapies"]
EGFR_METHOD = "egfr_ckd_epi_2021"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def _window(days: int | None) -> str:
    return "all" if days is None else f"{days}d"


@dataclass(frozen=True, order=True)
class EventRequest:
    family: EventFamily
    concept_set: str
    within_days: int | None  # None: whole history up to as-of

    @property
    def name(self) -> str:
        return f"{self.concept_set}__{_window(self.within_days)}"


@dataclass(frozen=True, order=True)
class LabRequest:
    lab: str
    mode: Literal["numeric", "qualitative"]
    unit: str | None  # target unit for numeric requests
    lookback_days: int | None
    aggregate: Literal["latest", "max", "min"]

    @property
    def name(self) -> str:
        what = _slug(self.unit or "") if self.mode == "numeric" else "pos"
        return f"{self.lab}__{what}__{_window(self.lookback_days)}__{self.aggregate}"


@dataclass(frozen=True, order=True)
class DerivedRequest:
    method: str  # only egfr_ckd_epi_2021 today
    lookback_days: int | None

    @property
    def name(self) -> str:
        return f"{self.method}__{_window(self.lookback_days)}"

    @property
    def creatinine(self) -> LabRequest:
        return LabRequest("creatinine", "numeric", "mg/dL", self.lookback_days, "latest")


@dataclass
class FeaturePlan:
    events: set[EventRequest] = field(default_factory=set)
    labs: set[LabRequest] = field(default_factory=set)
    derived: set[DerivedRequest] = field(default_factory=set)

    def for_family(self, family: EventFamily) -> list[EventRequest]:
        return sorted(r for r in self.events if r.family == family)

    def concept_sets(self) -> set[str]:
        return {r.concept_set for r in self.events}


def event_request(rule: ConditionRule | ObservationRule | ProcedureRule | DrugRule) -> EventRequest:
    family: EventFamily = {"condition": "diagnoses", "observation": "diagnoses", "procedure": "procedures",
                           "drug": "therapies"}[rule.kind]
    return EventRequest(family, rule.concept_set, rule.within_days)


def lab_request(criteria: CriteriaFile, rule: LabRule) -> LabRequest:
    lab = criteria.labs[rule.lab]
    if rule.comparator == "positive":
        return LabRequest(rule.lab, "qualitative", None, criteria.lookback(rule),
                          "max" if rule.aggregate == "max" or rule.whole_history else "latest")
    unit = lab.uln_unit if rule.relative_to == "uln" else rule.unit
    return LabRequest(rule.lab, "numeric", unit, criteria.lookback(rule), rule.aggregate)


def derived_request(criteria: CriteriaFile, rule: LabRule) -> DerivedRequest | None:
    return DerivedRequest(rule.derive, criteria.lookback(rule)) if rule.derive else None


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
                    plan.labs.add(derived.creatinine)
    return plan
