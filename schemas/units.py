"""Units the criteria may ask for, how results are recognised, and how they convert.

A unit belongs to a dimension and has a factor to that dimension's base unit; converting within a dimension
is `value * f_from / f_to`. Some conversions need facts about the analyte, which its lab definition gives
(`LabFacts`):
- mass <-> amount of substance (mg/dL <-> umol/L or mmol/L, mg/g <-> mg/mmol over creatinine): the molar mass;
- milliequivalents (mEq/L <-> mmol/L): the ion's valence (1 for sodium and potassium, so mEq/L = mmol/L);
- a named equation between two dimensions, possibly affine (HbA1c: NGSP % = 0.09148 x IFCC mmol/mol + 2.152,
  the IFCC-NGSP master equation): `EQUATIONS`.
Every conversion is therefore `value * scale + offset` (`Conversion`); offset is 0 except through an affine
equation.

A result's unit is recognised by `unit_concept_id`, falling back to a normalised `unit_source_value`
(Synthea writes `U/L` with unit_concept_id 0). Concept ids are UCUM unit concepts verified in the Synthea27Nj
CONCEPT table and /work/shared/reference (e.g. 9225 `%{HbA1c}`, 9579 `mmol/mol`, 9557 `mEq/L`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    key: str  # canonical spelling used in criteria files
    dimension: str
    factor: float  # multiply a value in this unit by factor to get the base unit of its form (below)
    concept_ids: tuple[int, ...] = ()
    aliases: tuple[str, ...] = ()
    # 0: mass form; 1: amount of substance in the numerator (factor to mol/L); -1: amount in the denominator
    # (factor to g/mol, e.g. mg/mmol of creatinine = 1 g/mol)
    molar: int = 0
    equivalents: bool = False  # factor is to eq/L; amount = equivalents / valence


@dataclass(frozen=True)
class Equation:
    """A named conversion `target = source * scale + offset` between two units of different dimensions."""

    name: str
    source: str
    target: str
    scale: float
    offset: float
    reference: str


@dataclass(frozen=True)
class LabFacts:
    """What a lab definition tells the converter about its analyte."""

    molar_mass: float | None = None  # g/mol
    valence: int | None = None  # charge of the ion, for mEq
    equations: tuple[str, ...] = ()  # names in EQUATIONS


@dataclass(frozen=True)
class Conversion:
    scale: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return value * self.scale + self.offset


# Dimension bases: mass_ratio g/g (amount form g/mol); mass_conc g/L (amount form mol/L); count_conc 10^9/L;
# mass_rate g/24h; egfr mL/min/1.73m2; enzyme U/L; fraction %; amount_fraction mmol/mol; time ms;
# pressure mmHg; titer (reciprocal dilution); arb_conc RU/mL; bmi kg/m2; body_mass kg; length m; rate /min.
UNITS: tuple[Unit, ...] = (
    Unit("g/g", "mass_ratio", 1.0, (9510, 9511), ("g/g", "g/g{creat}", "g/gcreat", "g/g creat")),
    Unit("mg/g", "mass_ratio", 1e-3, (8723, 9017), ("mg/g", "mg/g{creat}", "mg/gcreat", "mg/g creat")),
    Unit("mg/mg", "mass_ratio", 1.0, (9565, 9074), ("mg/mg", "mg/mg{creat}", "mg/mgcreat")),
    Unit("mg/mmol", "mass_ratio", 1.0, (44777612, 9075), ("mg/mmol", "mg/mmol{creat}", "mg/mmolcreat"), -1),
    Unit("g/dL", "mass_conc", 10.0, (8713,), ("g/dl",)),
    Unit("g/L", "mass_conc", 1.0, (8636,), ("g/l",)),
    Unit("mg/dL", "mass_conc", 1e-2, (8840,), ("mg/dl",)),
    Unit("mg/L", "mass_conc", 1e-3, (8751,), ("mg/l",)),
    Unit("ng/mL", "mass_conc", 1e-6, (8842,), ("ng/ml",)),
    Unit("pg/mL", "mass_conc", 1e-9, (8845,), ("pg/ml",)),
    Unit("ng/L", "mass_conc", 1e-9, (8725,), ("ng/l",)),
    Unit("umol/L", "mass_conc", 1e-6, (8749,), ("umol/l", "µmol/l", "μmol/l", "micromol/l"), 1),
    Unit("mmol/L", "mass_conc", 1e-3, (8753,), ("mmol/l", "millimol/l"), 1),
    Unit("mEq/L", "mass_conc", 1e-3, (9557,), ("meq/l", "10*-3.eq/l", "meq/liter"), 1, True),
    Unit("10^3/uL", "count_conc", 1.0, (8848, 8961),
         ("10*3/ul", "10^3/ul", "k/ul", "x10^3/ul", "10*3/mm3", "10^3/mm3", "thou/ul", "10e3/ul", "k/mm3")),
    Unit("10^9/L", "count_conc", 1.0, (9444,), ("10*9/l", "10^9/l", "x10^9/l", "g/l{cells}")),
    Unit("/mm3", "count_conc", 1e-3, (), ("/mm3", "/ul", "cells/ul", "/mm^3", "cells/mm3", "{cells}/ul")),
    Unit("g/24h", "mass_rate", 1.0, (8807,), ("g/(24.h)", "g/24h", "g/d", "g/day", "g/24hr", "g/24 h")),
    Unit("mg/24h", "mass_rate", 1e-3, (8909,), ("mg/(24.h)", "mg/24h", "mg/d", "mg/day", "mg/24hr", "mg/24 h")),
    Unit("mL/min/1.73m2", "egfr", 1.0, (720870, 9117),
         ("ml/min/{1.73_m2}", "ml/min/1.73m2", "ml/min/(173.10*-2.m2)", "ml/min/1.73_m2", "ml/min/1.73 m2",
          "ml/min/1.73sqm", "ml/min/1.73.m2")),
    Unit("U/L", "enzyme", 1.0, (8645, 8923), ("u/l", "[u]/l", "iu/l", "[iu]/l")),
    Unit("%", "fraction", 1.0, (8554,), ("%", "percent")),
    # UCUM annotations ({...}) do not change the quantity: %{HbA1c} is a percent (NGSP units for HbA1c)
    Unit("%{HbA1c}", "fraction", 1.0, (9225,), ("%{hba1c}", "%hba1c", "%{hemoglobina1c}", "%(ngsp)", "%ngsp")),
    Unit("mmol/mol", "amount_fraction", 1.0, (9579,), ("mmol/mol", "mmol/mol{hba1c}", "mmol/mol(ifcc)")),
    Unit("ms", "time", 1.0, (9593,), ("ms", "msec", "millisecond")),
    Unit("s", "time", 1e3, (8555,), ("s", "sec", "second")),
    Unit("/min", "rate", 1.0, (8541, 8483),
         ("/min", "{beats}/min", "beats/min", "bpm", "{counts}/min", "{heartbeats}/min", "1/min")),
    Unit("mmHg", "pressure", 1.0, (8876,), ("mm[hg]", "mmhg", "mm hg")),
    Unit("titer", "titer", 1.0, (8525,), ("titer", "{titer}", "1/{titer}")),
    Unit("RU/mL", "arb_conc", 1.0, (), ("ru/ml", "[ru]/ml", "{ru}/ml")),
    Unit("IU/mL", "arb_conc_iu", 1.0, (8985,), ("iu/ml", "[iu]/ml")),
    Unit("kg/m2", "bmi", 1.0, (9531,), ("kg/m2", "kg/m^2", "kg/(m2)", "kg/m*2")),
    Unit("kg", "body_mass", 1.0, (9529,), ("kg", "kilogram", "kgs")),
    Unit("g", "body_mass", 1e-3, (8504,), ("g", "gram")),
    Unit("lb", "body_mass", 0.45359237, (8739,), ("lb", "lbs", "[lb_av]", "[lb_us]", "pound", "pounds")),
    Unit("cm", "length", 1e-2, (8582,), ("cm", "centimeter")),
    Unit("m", "length", 1.0, (9546,), ("m", "meter")),
    Unit("in", "length", 0.0254, (9327, 9330, 8533), ("in", "[in_i]", "[in_us]", "inch", "inches")),
)

BY_KEY: dict[str, Unit] = {u.key: u for u in UNITS}

EQUATIONS: dict[str, Equation] = {
    e.name: e
    for e in (
        # NGSP % = 0.09148 x IFCC mmol/mol + 2.152 (Hoelzel et al., Clin Chem 2004; the IFCC-NGSP master equation)
        Equation("hba1c_ifcc_ngsp", "mmol/mol", "%", 0.09148, 2.152, "IFCC-NGSP master equation"),
    )
}


def normalise_unit_text(text: str) -> str:
    """Lower-case, no spaces, micro sign folded: how unit_source_value is matched against aliases."""
    return re.sub(r"\s+", "", text.strip().lower().replace("µ", "u").replace("μ", "u"))


def unit(key: str) -> Unit:
    if key not in BY_KEY:
        raise KeyError(f"unknown unit {key!r}; known: {', '.join(BY_KEY)}")
    return BY_KEY[key]


def _form_factor(u: Unit, facts: LabFacts) -> float | None:
    """Factor to the base of the unit's own form (mass, or amount); None when the valence is needed and missing."""
    if u.equivalents:
        return u.factor / facts.valence if facts.valence else None
    return u.factor


def linear_scale(source: str, target: str, facts: LabFacts = LabFacts()) -> float | None:
    """Multiplier from `source` to `target` of one dimension, or None (other dimension, missing fact)."""
    s, t = unit(source), unit(target)
    if s.dimension != t.dimension:
        return None
    if s.key == t.key:
        return 1.0
    fs, ft = _form_factor(s, facts), _form_factor(t, facts)
    if fs is None or ft is None:
        return None
    if bool(s.molar) == bool(t.molar):
        return fs / ft
    if facts.molar_mass is None:
        return None
    sign = s.molar or t.molar  # amount form -> mass form multiplies by molar_mass ** sign
    mass = facts.molar_mass ** sign
    return fs * mass / ft if s.molar else fs / mass / ft


def conversion(source: str, target: str, facts: LabFacts = LabFacts()) -> Conversion | None:
    """How a value in `source` becomes one in `target` for a lab with `facts`, or None if it cannot."""
    scale = linear_scale(source, target, facts)
    if scale is not None:
        return Conversion(scale)
    for name in facts.equations:
        eq = EQUATIONS[name]
        into_source = linear_scale(source, eq.source, facts)  # source -> eq.source -> eq.target -> target
        out_of_target = linear_scale(eq.target, target, facts)
        if into_source is not None and out_of_target is not None:
            return Conversion(into_source * eq.scale * out_of_target, eq.offset * out_of_target)
        into_target = linear_scale(source, eq.target, facts)  # the reverse direction
        out_of_source = linear_scale(eq.source, target, facts)
        if into_target is not None and out_of_source is not None:
            return Conversion(into_target * out_of_source / eq.scale, -eq.offset * out_of_source / eq.scale)
    return None


def factors_to(target: str, facts: LabFacts = LabFacts()) -> dict[str, Conversion]:
    """Conversions from every unit convertible to `target` (by unit key) into `target`, for a lab's facts."""
    unit(target)
    return {u.key: c for u in UNITS if (c := conversion(u.key, target, facts)) is not None}


def convertible(source: str, target: str, facts: LabFacts = LabFacts()) -> bool:
    return conversion(source, target, facts) is not None


def alias_table() -> dict[str, str]:
    """Normalised unit text -> unit key, including each key's own spelling."""
    table: dict[str, str] = {}
    for u in UNITS:
        for alias in (u.key, *u.aliases):
            table.setdefault(normalise_unit_text(alias), u.key)
    return table


def concept_table() -> dict[int, str]:
    """unit_concept_id -> unit key."""
    return {cid: u.key for u in UNITS for cid in u.concept_ids}
