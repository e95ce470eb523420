"""Values derived from other results when none is measured, registered by name (like rule kinds).

A lab rule says `derive: <name>`; the criteria model checks the name and the inputs against this registry,
the feature plan asks for the inputs, and `jobs/features/derived.py` registers one Column builder per name (a
contract test checks both registries hold the same names). Nothing else knows what a derivation is.

How inputs are chosen (`pairing`, README "Derived values"):
- `latest`: each input's latest usable result in its own window, independently: the rule's lookback
  (`window="rule"`) or the whole history up to as-of (`window="history"`, e.g. adult height). The derived value
  is dated by the first input's result.
- `same_day`: the latest day in the rule's lookback on which every input has a result (for a `group` of
  alternatives, one of them, the first listed that has one); each input is that day's latest result. Results
  of different days are never combined (a urine albumin and a urine creatinine of one spot sample; a QT and an
  RR of one ECG). The derived value is dated by that day.
An input whose lab the criteria file does not define is absent; a derivation needs every ungrouped input and one
input of each group to be defined (checked when the file is validated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DerivedInput:
    lab: str  # a lab defined in the criteria file's `labs:`
    unit: str  # the unit the formula reads it in
    window: Literal["rule", "history"] = "rule"
    group: str | None = None  # alternatives share a group: the formula needs one of them


@dataclass(frozen=True)
class Derivation:
    name: str
    unit: str  # the unit of the derived value: a rule using it compares in this unit
    inputs: tuple[DerivedInput, ...]
    label: str  # how evidence names it: "CKD-EPI 2021 from creatinine 1.1 mg/dL"
    pairing: Literal["latest", "same_day"] = "latest"
    demographics: bool = False  # reads sex and age at the input's date

    def required_groups(self) -> dict[str, tuple[str, ...]]:
        """{group (or the lab itself when ungrouped): the labs any one of which satisfies it}."""
        out: dict[str, tuple[str, ...]] = {}
        for i in self.inputs:
            key = i.group or i.lab
            out[key] = (*out.get(key, ()), i.lab)
        return out


DERIVATIONS: dict[str, Derivation] = {
    d.name: d
    for d in (
        # race-free CKD-EPI 2021 (Inker et al., NEJM 2021) from serum creatinine, age and sex
        Derivation("egfr_ckd_epi_2021", "mL/min/1.73m2", (DerivedInput("creatinine", "mg/dL"),), "CKD-EPI 2021",
                   demographics=True),
        # CKD-EPI 2009 (Levey et al., Ann Intern Med 2009) from serum creatinine, age and sex; its race factor
        # (x1.159 for Black persons) is not applied: race is not read (README "Derived values")
        Derivation("egfr_ckd_epi_2009", "mL/min/1.73m2", (DerivedInput("creatinine", "mg/dL"),),
                   "CKD-EPI 2009 (no race factor)", demographics=True),
        # weight / height^2 from the latest weight in the window and the latest height ever (adults)
        Derivation("bmi_from_weight_height", "kg/m2",
                   (DerivedInput("weight", "kg"), DerivedInput("height", "cm", window="history")), "BMI"),
        # urine albumin / urine creatinine of one day (a spot sample), mg/g
        Derivation("uacr_from_albumin_creatinine", "mg/g",
                   (DerivedInput("urine_albumin", "mg/L"), DerivedInput("urine_creatinine", "mg/dL")), "UACR",
                   pairing="same_day"),
        # Fridericia: QT / RR^(1/3), RR in seconds from an RR interval, else from the heart rate (60 / HR)
        Derivation("qtc_fridericia", "ms",
                   (DerivedInput("qt", "ms"), DerivedInput("rr", "ms", group="rr"),
                    DerivedInput("heart_rate", "/min", group="rr")), "Fridericia", pairing="same_day"),
    )
}
