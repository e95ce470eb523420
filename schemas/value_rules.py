"""Rule kinds over values: alternative measures of one quantity, several results of one lab, mixed items.

Kept apart from `schemas/criteria.py` (which adds them to its `Rule` union and resolves the forward
references `LabRule` and `Rule` with `model_rebuild`): this module imports nothing from it, so there is no
cycle. Cross-references to the file (labs, units a lab can express) are checked by `problems(criteria)`,
which `CriteriaFile` calls for every rule that has it. Semantics: README "Semantics", "Values over time".
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.units import BY_KEY, convertible, unit


class FileLabs(Protocol):
    """What `problems` reads of a CriteriaFile (typed structurally: importing it would be a cycle)."""

    labs: dict
    concept_sets: dict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Alternatives(_Model):
    """Alternative measures of one quantity (UPCR or 24 h urine protein): the alternative that has a value
    decides; unknown only when none has one. Several have values: `prefer: latest` (default) takes the most
    recent result, ties by listed order; `prefer: first` takes the first listed alternative with a value."""

    kind: Literal["alternatives"]
    rules: list[LabRule] = Field(min_length=2)  # noqa: F821 - resolved by rebuild()
    prefer: Literal["latest", "first"] = "latest"

    def child_rules(self):
        return [(f"rules[{i}]", r) for i, r in enumerate(self.rules)]


SeriesTest = Literal["count", "apart", "stable"]


class LabSeriesRule(_Model):
    """Several results of one lab in a window, in `unit`:
    count  - at least `min_results` results meet the comparator;
    apart  - two results meeting the comparator are at least `apart_days` apart;
    stable - the results span at least `apart_days` and (max - min) / max <= `within_pct` %."""

    kind: Literal["lab_series"]
    lab: str
    test: SeriesTest
    unit: str
    comparator: Literal[">", ">=", "<", "<=", "between"] | None = None
    value: float | None = None
    max: float | None = None  # upper bound for `between` (inclusive)
    min_results: int | None = Field(None, ge=2)
    apart_days: int | None = Field(None, ge=1)
    within_pct: float | None = Field(None, gt=0, lt=100)
    lookback_days: int | None = Field(None, gt=0)  # None: the file's default lab lookback
    whole_history: bool = False

    @model_validator(mode="after")
    def _shape(self) -> LabSeriesRule:
        if self.unit not in BY_KEY:
            raise ValueError(f"unknown unit {self.unit!r}; known units: {', '.join(BY_KEY)}")
        if self.whole_history and self.lookback_days is not None:
            raise ValueError("give lookback_days or whole_history, not both")
        needs = {"count": ("min_results", "comparator"), "apart": ("apart_days", "comparator"),
                 "stable": ("within_pct", "apart_days")}[self.test]
        missing = [f for f in needs if getattr(self, f) is None]
        if missing:
            raise ValueError(f"test {self.test} needs {' and '.join(missing)}")
        unused = [f for f in ("min_results", "apart_days", "within_pct", "comparator")
                  if f not in needs and getattr(self, f) is not None]
        if unused:
            raise ValueError(f"test {self.test} does not use {', '.join(unused)}")
        if self.comparator is None and (self.value is not None or self.max is not None):
            raise ValueError("value and max go with a comparator")
        if self.comparator is not None and self.value is None:
            raise ValueError(f"comparator {self.comparator!r} needs a value")
        if self.comparator == "between" and (self.max is None or self.max < self.value):
            raise ValueError("comparator 'between' needs max >= value")
        if self.comparator not in (None, "between") and self.max is not None:
            raise ValueError("max is only for comparator 'between'")
        return self

    def problems(self, criteria: FileLabs) -> list[str]:
        lab = criteria.labs.get(self.lab)
        if lab is None:
            return [f"lab: unknown lab {self.lab!r} (define it under labs:)"]
        if lab.unitless_is and not convertible(lab.unitless_is, self.unit, lab.facts):
            return [f"unit: {self.unit} cannot express lab {self.lab} (its results are {lab.unitless_is})"]
        return []


class MixedRule(_Model):
    """One protocol item whose coded part is computed and whose rest a person checks (`review`): the coded
    part fails -> fail; passes -> review, with the note; unknown -> unknown. A whole criterion, not a part."""

    kind: Literal["mixed"]
    coded: Rule  # noqa: F821 - resolved by rebuild()
    review: str = Field(min_length=3)  # what a person must still check, shown in the evidence

    def child_rules(self):
        return [("coded", self.coded)]


# drug_strength.amount_unit_concept_id -> (label, the mass-per-day unit a daily dose in it is, factor to that)
AMOUNT_UNITS: dict[int, tuple[str, str, float]] = {8576: ("mg", "mg/24h", 1.0), 8504: ("g", "g/24h", 1.0),
                                                   9655: ("ug", "mg/24h", 1e-3)}


class DrugDoseRule(_Model):
    """The daily dose of the latest exposure of a drug set overlapping the window, amount_value x quantity /
    days_supply from drug_strength, compared in a mass-per-day `unit` (mg/24h for "mg/day"). No exposure ->
    false (closed-world, as drug rules); a dose that cannot be computed -> unknown."""

    kind: Literal["drug_dose"]
    concept_set: str
    comparator: Literal[">", ">=", "<", "<=", "between"]
    value: float = Field(ge=0)
    max: float | None = None
    unit: str
    within_days: int | None = Field(None, gt=0)  # None: the whole history up to as-of

    @model_validator(mode="after")
    def _shape(self) -> DrugDoseRule:
        if self.unit not in BY_KEY or unit(self.unit).dimension != "mass_rate":
            raise ValueError(f"unit {self.unit!r} is not a daily amount; use one of "
                             f"{', '.join(k for k, u in BY_KEY.items() if u.dimension == 'mass_rate')}")
        if self.comparator == "between" and (self.max is None or self.max < self.value):
            raise ValueError("comparator 'between' needs max >= value")
        if self.comparator != "between" and self.max is not None:
            raise ValueError("max is only for comparator 'between'")
        return self

    def problems(self, criteria: FileLabs) -> list[str]:
        if self.concept_set not in criteria.concept_sets:
            return [f"concept_set: unknown concept set {self.concept_set!r}"]
        return []


VALUE_RULE_KINDS: tuple[type[_Model], ...] = (Alternatives, LabSeriesRule, MixedRule, DrugDoseRule)
TOP_LEVEL_ONLY: tuple[type[_Model], ...] = (MixedRule,)


def rebuild(namespace: dict) -> None:
    """Resolve the forward references (`LabRule`, `Rule`) once schemas.criteria has defined them."""
    for model in VALUE_RULE_KINDS:
        model.model_rebuild(_types_namespace=namespace)
