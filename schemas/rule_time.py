"""Rule fields and kinds for time not anchored at as-of, visits, drug coverage, observation values and data
recency (issue 16). Kept out of schemas/criteria.py, which imports these and puts the kinds in its `Rule` union.

Semantics are in README.md, "Semantics: time, visits, coverage, observation values, recency".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.units import BY_KEY

EventKind = Literal["condition", "procedure", "observation", "drug"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class After(Frozen):
    """Only events on or after the first record (up to as-of) of another concept set count."""

    first: str  # a concept set name
    kind: EventKind = "condition"  # where that first record is looked for


class Timing(Frozen):
    """Window fields shared by event and drug rules (subclassed by schemas.criteria.EventRuleBase)."""

    within_days: int | None = Field(None, gt=0, le=73_000)  # None: the whole history up to as-of (<= 200 y)
    # [a, b]: the event lies a..b days before as-of, both ends inclusive (a window that ends before as-of);
    # [a, null]: any time up to a days before as-of
    between_days: tuple[int, int | None] | None = None
    occurrence: Literal["any", "first"] = "any"  # first: the person's first record ever must lie in the window
    after: After | None = None
    during_visit: list[int] | None = Field(None, min_length=1)  # visit_concept_ids, e.g. 9201 inpatient

    @model_validator(mode="after")
    def _timing(self) -> Timing:
        if self.between_days is not None:
            a, b = self.between_days
            if a < 0 or (b is not None and b < a):
                raise ValueError(f"between_days: [{a}, {b}] needs 0 <= first <= second (days before as-of)")
            if self.within_days is not None:
                raise ValueError("give within_days or between_days, not both")
        if self.during_visit is not None and any(v <= 0 for v in self.during_visit):
            raise ValueError("during_visit: visit_concept_ids are positive integers (e.g. 9201, 9203, 262)")
        return self

    def window(self) -> tuple[int | None, int]:
        """(days in the window or None for the whole history, days the window ends before as-of)."""
        if self.between_days is not None:
            a, b = self.between_days
            return (None if b is None else b - a + 1), a
        return self.within_days, 0


class ObservationValueRule(Frozen):
    """The latest observation.value_as_number / value_as_concept_id of a concept set in a lookback window,
    like a lab: no usable record in the window -> unknown."""

    kind: Literal["observation_value"]
    concept_set: str
    comparator: Literal[">", ">=", "<", "<=", "between", "in"]
    value: float | None = None
    max: float | None = None  # upper bound for `between` (inclusive)
    concepts: list[int] | None = Field(None, min_length=1)  # for `in`: value_as_concept_id values that are true
    # for `in`: the value concepts as a concept set of the file (ids or vocabulary codes, e.g. LOINC answers)
    value_concept_set: str | None = None
    unit: str | None = None  # only for reading; observation values are compared as recorded
    lookback_days: int | None = Field(None, gt=0)  # None: the file's default lab lookback
    whole_history: bool = False
    name: str | None = None  # label in evidence text; default the concept set's name

    @model_validator(mode="after")
    def _shape(self) -> ObservationValueRule:
        if self.comparator == "in":
            if (self.concepts is None) == (self.value_concept_set is None) or self.value is not None \
                    or self.max is not None:
                raise ValueError("comparator 'in' takes concepts: [value_as_concept_id, ...] or value_concept_set: "
                                 "<concept set> (one of them) and no value/max")
        else:
            if self.concepts is not None or self.value_concept_set is not None:
                raise ValueError("concepts and value_concept_set are only for comparator 'in'")
            if self.value is None:
                raise ValueError(f"comparator {self.comparator!r} needs a value")
            if self.comparator == "between" and (self.max is None or self.max < self.value):
                raise ValueError("comparator 'between' needs max >= value")
            if self.comparator != "between" and self.max is not None:
                raise ValueError("max is only for comparator 'between'")
        if self.unit is not None and self.unit not in BY_KEY:
            raise ValueError(f"unit: unknown unit {self.unit!r}; known units: {', '.join(BY_KEY)}")
        if self.whole_history and self.lookback_days is not None:
            raise ValueError("give lookback_days or whole_history, not both")
        return self


class RecentData(Frozen):
    """The person has recent data: an observation_period covers as-of, or a visit within `visit_within_days`."""

    observation_period: bool = True
    visit_within_days: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _some(self) -> RecentData:
        if not self.observation_period and self.visit_within_days is None:
            raise ValueError("recent data needs observation_period: true or visit_within_days")
        return self


class RecentDataRule(RecentData):
    kind: Literal["recent_data"]


def timing_problems(rule: BaseModel, concept_sets: dict) -> list[str]:
    """Cross-references of the timing fields (relative to the rule's path)."""
    out: list[str] = []
    after = getattr(rule, "after", None)
    if after is not None and after.first not in concept_sets:
        out.append(f"after.first: unknown concept set {after.first!r}")
    if after is not None and getattr(rule, "min_count", 1) > 1:
        out.append("after: is supported with min_count 1 only (the latest event in the window is compared)")
    if getattr(rule, "during_visit", None) is not None and getattr(rule, "kind", "") == "drug":
        out.append("during_visit: is not supported on drug rules (conditions, procedures, observations only)")
    if getattr(rule, "occurrence", "any") == "first" and (after is not None or rule.during_visit is not None):
        out.append("occurrence: first does not combine with after or during_visit")
    if isinstance(rule, ObservationValueRule) and rule.concept_set not in concept_sets:
        out.append(f"concept_set: unknown concept set {rule.concept_set!r}")
    if isinstance(rule, ObservationValueRule) and rule.value_concept_set not in (None, *concept_sets):
        out.append(f"value_concept_set: unknown concept set {rule.value_concept_set!r}")
    return out


def check_coverage(rule: Timing) -> Timing:
    """DrugRule's coverage fields (min_days, continuous_days, max_gap_days) and its window."""
    if rule.max_gap_days is not None and rule.min_days is None and rule.continuous_days is None:
        raise ValueError("max_gap_days applies to min_days or continuous_days; give one of them")
    days = rule.window()[0]
    if rule.continuous_days is not None and days is not None and rule.continuous_days > days:
        raise ValueError(f"continuous_days {rule.continuous_days} is longer than the window ({days} days)")
    if rule.occurrence == "first":
        raise ValueError("occurrence: first is not supported on drug rules (exposures overlap windows)")
    return rule


def check_lab_window(rule: BaseModel) -> None:
    """A lab rule's `between_days` (results a..b days before as-of), which replaces its lookback."""
    if rule.between_days is None:
        return
    a, b = rule.between_days
    if a < 0 or b < a:
        raise ValueError(f"between_days: [{a}, {b}] needs 0 <= first <= second (days before as-of)")
    if rule.whole_history or rule.lookback_days is not None or rule.derive is not None:
        raise ValueError("between_days replaces lookback_days/whole_history and does not take derive")


def between_span(rule: BaseModel) -> int | None:
    """Days in a lab rule's `between_days` window, or None when it has none."""
    between = getattr(rule, "between_days", None)
    return None if between is None else between[1] - between[0] + 1


def lookback_of(rule: BaseModel, default_days: int) -> int | None:
    """Days of a lab-like rule's window (`between_days`, else lookback_days or the default); None: whole history."""
    return between_span(rule) or (None if rule.whole_history else (rule.lookback_days or default_days))
