"""Lab definitions and the lab catalogue: which results count for a lab, and the facts to convert and judge them.

Facts about an analyte that do not depend on the trial (molar mass, valence, unit equations, the plausible
range a value must fall in to be evidence) live in the catalogue `criteria/catalogue/labs.yaml`, shared by
every trial. A trial file's `labs:` entry names the lab's concept set and its label, and takes the catalogue
entry of the same key (or the one named by `catalogue:`); a field the trial file gives wins over the
catalogue's (`jobs/rules/loader.py` merges them before validation). A lab without a plausible range is still
read; the data-quality gate says that it has no range check.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from schemas.base import Model
from schemas.units import BY_KEY, EQUATIONS, LabFacts


def known_unit(value: str | None) -> str | None:
    if value is not None and value not in BY_KEY:
        raise ValueError(f"unknown unit {value!r}; known units: {', '.join(BY_KEY)}")
    return value


class PlausibleRange(Model):
    """Values outside [min, max] (in `unit`) are unit or entry errors: quarantined, never evidence."""

    min: float | None = None
    max: float | None = None
    unit: str

    _unit = field_validator("unit")(classmethod(lambda cls, v: known_unit(v)))

    @model_validator(mode="after")
    def _bounds(self) -> PlausibleRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class LabFactsFields(Model):
    """The analyte facts a catalogue entry and a trial's lab definition share."""

    molar_mass: float | None = Field(None, gt=0)  # g/mol; enables mg/dL <-> umol/L, mg/g <-> mg/mmol
    valence: int | None = Field(None, ge=1, le=4)  # ion charge; enables mEq/L <-> mmol/L
    equations: list[str] = []  # named unit equations (schemas.units.EQUATIONS), e.g. hba1c_ifcc_ngsp
    default_uln: float | None = Field(None, gt=0)  # in `uln_unit`, used when a result has no range_high
    uln_unit: str | None = None
    unitless_is: str | None = None  # results with no unit are taken to be in this unit (e.g. titer)
    plausible: PlausibleRange | None = None

    _units = field_validator("uln_unit", "unitless_is")(classmethod(lambda cls, v: known_unit(v)))

    @field_validator("equations")
    @classmethod
    def _known_equations(cls, v: list[str]) -> list[str]:
        unknown = [e for e in v if e not in EQUATIONS]
        if unknown:
            raise ValueError(f"unknown unit equation {unknown[0]!r}; known: {', '.join(sorted(EQUATIONS))}")
        return v

    @model_validator(mode="after")
    def _uln_pair(self) -> LabFactsFields:
        if (self.default_uln is None) != (self.uln_unit is None):
            raise ValueError("default_uln and uln_unit go together")
        return self

    @property
    def facts(self) -> LabFacts:
        return LabFacts(self.molar_mass, self.valence, tuple(self.equations))


class CatalogueEntry(LabFactsFields):
    description: str | None = None  # what the analyte is, for people reading the catalogue


class LabCatalogue(Model):
    version: str
    labs: dict[str, CatalogueEntry]


class LabDefinition(LabFactsFields):
    """A lab analyte of a trial: which results count (its concept set), its label, and its facts."""

    name: str  # short label for reason codes, e.g. "UPCR"
    concept_set: str
    catalogue: str | None = None  # the catalogue entry it takes its facts from (default: its own key)
