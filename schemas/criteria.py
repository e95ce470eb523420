"""The criteria file as data: frozen pydantic models, a discriminated union of rule kinds.

Nothing here touches Spark; `jobs/criteria_compiler.py` turns a validated file into Columns. A criteria file
holds a fixed vocabulary (rule kinds, comparators, unit keys): nothing in it is ever evaluated as code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from schemas import rule_time as rt
from schemas.base import ID_PATTERN, ID_RE, Model
from schemas.derived import DERIVATIONS
from schemas.labs import LabDefinition
from schemas.units import BY_KEY, convertible
from schemas.value_rules import (
    TOP_LEVEL_ONLY,
    VALUE_RULE_KINDS,
    Alternatives,
    DrugDoseRule,
    LabSeriesRule,
    MixedRule,
    rebuild,
)


# ------------------------------------------------------------------ vocabulary
class ConceptItem(Model):
    """One line of an ATLAS-style concept set expression."""

    concept_id: int | None = Field(None, gt=0)
    code: str | None = None  # a vocabulary code, resolved through the extract's concept table
    vocabulary: str | None = None  # required with `code` (LOINC, SNOMED, RxNorm, ...)
    include_descendants: bool = True
    exclude: bool = False
    include_mapped: bool = False  # ATLAS: add the source concepts that 'Maps to' the item (and descendants)
    label: str | None = None  # e.g. a therapy class, counted by `distinct_by: label`
    name: str | None = None  # for people reading the file

    @model_validator(mode="after")
    def _one_reference(self) -> ConceptItem:
        if (self.concept_id is None) == (self.code is None):
            raise ValueError("give exactly one of concept_id or code")
        if self.code is not None and not self.vocabulary:
            raise ValueError("a code needs its vocabulary (e.g. vocabulary: LOINC)")
        return self


class ConceptSet(Model):
    name: str  # short human label used in reason codes, e.g. "SLE"
    description: str | None = None
    atlas: str | None = None  # the ATLAS file the items came from (expanded by jobs/rules/loader.py)
    items: list[ConceptItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_included(self) -> ConceptSet:
        if all(i.exclude for i in self.items):
            raise ValueError("a concept set needs at least one item that is not excluded")
        return self


# ------------------------------------------------------------------ rules
Comparator = Literal[">", ">=", "<", "<=", "between", "positive"]


class AgeRule(Model):
    """Age in whole years at the as-of date, inclusive bounds."""

    kind: Literal["age"]
    min: int | None = Field(None, ge=0, le=130)
    max: int | None = Field(None, ge=0, le=130)

    @model_validator(mode="after")
    def _bounds(self) -> AgeRule:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min: min {self.min} is above max {self.max}")
        return self


class SexRule(Model):
    kind: Literal["sex"]
    allowed: list[Literal["female", "male"]] = Field(min_length=1)


class AliveRule(Model):
    """True unless a death record on or before the as-of date."""

    kind: Literal["alive"]


class EventRuleBase(rt.Timing):
    """Presence of events of a concept set in (as_of - within_days, as_of] (or `between_days`); closed-world."""

    concept_set: str
    min_count: int = Field(1, ge=1)  # events (rows) in the window


class ConditionRule(EventRuleBase):
    kind: Literal["condition"]


class ProcedureRule(EventRuleBase):
    kind: Literal["procedure"]


class ObservationRule(EventRuleBase):
    kind: Literal["observation"]


class DrugRule(EventRuleBase):
    kind: Literal["drug"]
    min_days: int | None = Field(None, ge=1)  # distinct covered days of the union of exposures in the window
    continuous_days: int | None = Field(None, ge=1)  # one covered run reaching the window's end (as-of)
    max_gap_days: int | None = Field(None, ge=0)  # refill gaps up to N days count as covered (default 0)
    min_distinct: int | None = Field(None, ge=1)  # distinct ingredients (or labels) in the window
    distinct_by: Literal["ingredient", "label"] = "ingredient"

    _coverage = model_validator(mode="after")(rt.check_coverage)


class LabRule(Model):
    """A lab result compared with a threshold in `unit`; no usable result in the window -> unknown."""

    kind: Literal["lab"]
    lab: str
    comparator: Comparator
    value: float | None = None
    max: float | None = None  # upper bound for `between` (inclusive)
    unit: str | None = None  # the criterion's canonical unit; required unless comparator is positive
    relative_to: Literal["uln"] | None = None  # compare result / ULN with `value` (e.g. >= 3 x ULN)
    lookback_days: int | None = Field(None, gt=0, le=73_000)  # None: the file's default for current-state labs
    between_days: tuple[int, int] | None = None  # [a, b]: results a..b days before as-of (inclusive)
    whole_history: bool = False  # e.g. a positive ANA at any time
    aggregate: Literal["latest", "max", "min"] = "latest"
    derive: str | None = None  # a registered derivation (schemas.derived), used when no result is in the window
    # unknown: no usable result -> unknown (a current-state lab); not_met: no result is read as the condition not
    # met, closed-world, for documented evidence of a past finding ("evidence of albuminuria 3 months before")
    no_result: Literal["unknown", "not_met"] = "unknown"

    @model_validator(mode="after")
    def _shape(self) -> LabRule:
        if self.comparator == "positive":
            if self.value is not None or self.max is not None or self.relative_to is not None:
                raise ValueError("comparator: 'positive' takes no value, max or relative_to "
                                 "(a result is positive by value_as_concept_id, or by `value` via '>=')")
            return self
        if self.value is None:
            raise ValueError(f"value: comparator {self.comparator!r} needs a value")
        if self.comparator == "between" and (self.max is None or self.max < self.value):
            raise ValueError("max: comparator 'between' needs max >= value")
        if self.comparator != "between" and self.max is not None:
            raise ValueError("max: only for comparator 'between'")
        if self.relative_to is None and self.unit is None:
            raise ValueError("unit: a numeric lab comparison needs its unit")
        if self.relative_to is not None and self.unit is not None:
            raise ValueError("unit: relative_to uln compares result/ULN (no unit); drop unit")
        if self.unit is not None and self.unit not in BY_KEY:
            raise ValueError(f"unit: unknown unit {self.unit!r}; known units: {', '.join(BY_KEY)}")
        if self.whole_history and self.lookback_days is not None:
            raise ValueError("whole_history: give lookback_days or whole_history, not both")
        if self.no_result == "not_met" and self.derive is not None:
            raise ValueError("no_result: not_met reads a missing result as not met; a derived value would never "
                             "be missing: give derive or no_result, not both")
        rt.check_lab_window(self)
        if self.derive is not None:
            spec = DERIVATIONS.get(self.derive)
            if spec is None:
                raise ValueError(f"derive: unknown derivation {self.derive!r}; known: {', '.join(sorted(DERIVATIONS))}")
            if self.comparator == "positive" or self.relative_to is not None or self.unit != spec.unit:
                raise ValueError(f"derive: {self.derive} gives a value in {spec.unit}; compare it in that unit")
        return self


class ReviewRule(Model):
    """Needs a person: investigator opinion, screening-visit tests, plans, consent."""

    kind: Literal["review"]
    reason: str = Field(min_length=3)


class AllOf(Model):
    kind: Literal["all_of"]
    rules: list[Rule] = Field(min_length=1)


class AnyOf(Model):
    kind: Literal["any_of"]
    rules: list[Rule] = Field(min_length=1)


class Not(Model):
    kind: Literal["not"]
    rule: Rule


Rule = Annotated[
    AgeRule | SexRule | AliveRule | ConditionRule | ProcedureRule | ObservationRule | DrugRule | LabRule
    | rt.ObservationValueRule | rt.RecentDataRule | ReviewRule | AllOf | AnyOf | Not | Alternatives | LabSeriesRule
    | MixedRule | DrugDoseRule,
    Field(discriminator="kind"),
]
RULE_KINDS: tuple[type[BaseModel], ...] = (AgeRule, SexRule, AliveRule, ConditionRule, ProcedureRule,
                                           ObservationRule, DrugRule, LabRule, rt.ObservationValueRule,
                                           rt.RecentDataRule, ReviewRule, AllOf, AnyOf, Not, *VALUE_RULE_KINDS)
AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()
rebuild({"LabRule": LabRule, "Rule": Rule})


# ------------------------------------------------------------------ criteria and cohorts
class Criterion(Model):
    id: str = Field(pattern=ID_PATTERN)
    type: Literal["inclusion", "exclusion"]
    text: str = Field(min_length=3)  # the protocol's words
    rule: Rule
    approximates: str | None = None  # what the rule cannot see (documented in reports)
    # computed outcomes a person must still confirm: `pass` for approximations of an inclusion
    # (e.g. ACR score), `fail` where a match only flags a possible exclusion (heart failure of unknown class)
    review_if: list[Literal["pass", "fail"]] = []
    note: str | None = None

    @model_validator(mode="after")
    def _review_explained(self) -> Criterion:
        if self.review_if and not self.approximates and not isinstance(self.rule, ReviewRule):
            raise ValueError("review_if needs `approximates` saying what a person must check")
        return self


class Cohort(Model):
    title: str
    criteria: list[str] = Field(min_length=1)


class Defaults(Model):
    lab_lookback_days: int = Field(90, gt=0, le=73_000)
    recent_data: rt.RecentData | None = None  # closed-world "no record" is unknown without recent data


class CriteriaFile(Model):
    trial: str
    title: str
    version: str
    source: str | None = None
    defaults: Defaults = Defaults()
    concept_sets: dict[str, ConceptSet]
    labs: dict[str, LabDefinition] = {}
    criteria: list[Criterion] = Field(min_length=1)
    cohorts: dict[str, Cohort] = Field(min_length=1)

    @field_validator("concept_sets", "labs", "cohorts")
    @classmethod
    def _keys(cls, v: dict) -> dict:
        for key in v:
            if not ID_RE.fullmatch(key):
                raise ValueError(f"name {key!r} must be lower_snake_case")
        return v

    @model_validator(mode="after")
    def _references(self) -> CriteriaFile:
        problems: list[str] = []
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                problems.append(f"criterion {c.id}: duplicate id")
            seen.add(c.id)
            for path, rule in walk_rules(c.rule, "rule"):
                problems += [f"criterion {c.id}: {path}.{p}" for p in self._rule_problems(rule)]
                if isinstance(rule, ReviewRule) and path != "rule":
                    problems.append(f"criterion {c.id}: {path}.kind: review is a whole criterion, not part of a "
                                    "rule; use `approximates` and `review_if` on the criterion instead")
                if isinstance(rule, TOP_LEVEL_ONLY) and path != "rule":
                    problems.append(f"criterion {c.id}: {path}.kind: {rule.kind} is a whole criterion's rule")
            if isinstance(c.rule, MixedRule) and "pass" in c.review_if:
                problems.append(f"criterion {c.id}: review_if: a mixed rule already turns pass into review")
        for name, lab in self.labs.items():
            if lab.concept_set not in self.concept_sets:
                problems.append(f"labs.{name}.concept_set: unknown concept set {lab.concept_set!r}")
        for name, cohort in self.cohorts.items():
            for cid in cohort.criteria:
                if cid not in seen:
                    problems.append(f"cohorts.{name}.criteria: unknown criterion {cid!r}")
            dupes = {x for x in cohort.criteria if cohort.criteria.count(x) > 1}
            if dupes:
                problems.append(f"cohorts.{name}.criteria: listed twice: {sorted(dupes)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _rule_problems(self, rule: Model) -> list[str]:
        out: list[str] = []
        if isinstance(rule, EventRuleBase) and rule.concept_set not in self.concept_sets:
            out.append(f"concept_set: unknown concept set {rule.concept_set!r}")
        if hasattr(rule, "problems"):  # rule kinds kept in other modules check their own references
            out += rule.problems(self)
        out += rt.timing_problems(rule, self.concept_sets)
        if isinstance(rule, LabRule):
            lab = self.labs.get(rule.lab)
            if lab is None:
                out.append(f"lab: unknown lab {rule.lab!r} (define it under labs:)")
            elif rule.relative_to == "uln" and lab.default_uln is None:
                out.append(f"relative_to: lab {rule.lab} needs default_uln for results without range_high")
            elif rule.unit is not None and lab.unitless_is and not convertible(lab.unitless_is, rule.unit,
                                                                                lab.facts):
                out.append(f"unit: {rule.unit} cannot express lab {rule.lab} (its results are {lab.unitless_is})")
            if rule.derive is not None:
                out += [f"derive: {rule.derive} needs a lab named {' or '.join(labs)} (define it under labs:)"
                        for labs in DERIVATIONS[rule.derive].required_groups().values()
                        if not any(lab in self.labs for lab in labs)]
        return out

    def criterion(self, cid: str) -> Criterion:
        return next(c for c in self.criteria if c.id == cid)

    def lookback(self, rule: LabRule | LabSeriesRule | rt.ObservationValueRule) -> int | None:
        """Days of lookback for a lab rule; None means the whole history."""
        return rt.lookback_of(rule, self.defaults.lab_lookback_days)


def walk_rules(rule: Model, path: str):
    """Yield (path, rule) for a rule and every rule nested in it, depth first."""
    yield path, rule
    if isinstance(rule, AllOf | AnyOf):
        for i, child in enumerate(rule.rules):
            yield from walk_rules(child, f"{path}.rules[{i}]")
    elif isinstance(rule, Not):
        yield from walk_rules(rule.rule, f"{path}.rule")
    elif hasattr(rule, "child_rules"):
        for name, child in rule.child_rules():
            yield from walk_rules(child, f"{path}.{name}")
