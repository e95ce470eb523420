"""Values derived from other results when none is measured, registered by name (like rule kinds).

A lab rule says `derive: <name>`; the criteria model checks the name and the inputs against this registry,
the feature plan asks for the inputs, and `jobs/features/derived.py` registers one Column builder per name (a
contract test checks both registries hold the same names). Nothing else knows what a derivation is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DerivedInput:
    lab: str  # a lab defined in the criteria file's `labs:`
    unit: str  # the unit the formula reads it in


@dataclass(frozen=True)
class Derivation:
    name: str
    unit: str  # the unit of the derived value: a rule using it compares in this unit
    inputs: tuple[DerivedInput, ...]  # the latest result of each, in the rule's lookback window
    label: str  # how evidence names it: "CKD-EPI 2021 from creatinine 1.1 mg/dL"


DERIVATIONS: dict[str, Derivation] = {
    d.name: d
    for d in (
        # race-free CKD-EPI 2021 (Inker et al., NEJM 2021) from serum creatinine, age and sex
        Derivation("egfr_ckd_epi_2021", "mL/min/1.73m2", (DerivedInput("creatinine", "mg/dL"),), "CKD-EPI 2021"),
    )
}
