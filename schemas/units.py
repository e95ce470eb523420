"""Units the criteria may ask for, how results are recognised, and how they convert.

A unit belongs to a dimension and has a factor to that dimension's base unit; converting is `value * f_from
/ f_to` within one dimension. Mass <-> molar conversions (mg/dL <-> umol/L for creatinine, mg/g <-> mg/mmol
for a ratio over creatinine) need the analyte's molar mass, which the lab definition gives.

A result's unit is recognised by `unit_concept_id`, falling back to a normalised `unit_source_value`
(Synthea writes `U/L` with unit_concept_id 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    key: str  # canonical spelling used in criteria files
    dimension: str
    factor: float  # multiply a value in this unit by factor to get the dimension's base unit
    concept_ids: tuple[int, ...] = ()
    aliases: tuple[str, ...] = ()
    molar: int = 0  # 1: amount-of-substance in the numerator; -1: in the denominator (mg/mmol)


# Dimension bases: mass_ratio g/g; mass_conc g/L; count_conc 10^9/L; mass_rate g/24h; egfr mL/min/1.73m2;
# enzyme U/L; fraction %; time ms; pressure mmHg; titer (reciprocal dilution); arb_conc RU/mL.
UNITS: tuple[Unit, ...] = (
    Unit("g/g", "mass_ratio", 1.0, (9510, 9511), ("g/g", "g/g{creat}", "g/gcreat", "g/g creat")),
    Unit("mg/g", "mass_ratio", 1e-3, (8723, 9017), ("mg/g", "mg/g{creat}", "mg/gcreat", "mg/g creat")),
    Unit("mg/mg", "mass_ratio", 1.0, (9565, 9074), ("mg/mg", "mg/mg{creat}", "mg/mgcreat")),
    Unit("mg/mmol", "mass_ratio", 1e-3, (44777612, 9075), ("mg/mmol", "mg/mmol{creat}", "mg/mmolcreat"), -1),
    Unit("g/dL", "mass_conc", 10.0, (8713,), ("g/dl",)),
    Unit("g/L", "mass_conc", 1.0, (8636,), ("g/l",)),
    Unit("mg/dL", "mass_conc", 1e-2, (8840,), ("mg/dl",)),
    Unit("mg/L", "mass_conc", 1e-3, (), ("mg/l",)),
    Unit("umol/L", "mass_conc", 1e-6, (8749,), ("umol/l", "µmol/l", "μmol/l", "micromol/l"), 1),
    Unit("10^3/uL", "count_conc", 1.0, (8848, 8961),
         ("10*3/ul", "10^3/ul", "k/ul", "x10^3/ul", "10*3/mm3", "10^3/mm3", "thou/ul", "10e3/ul", "k/mm3")),
    Unit("10^9/L", "count_conc", 1.0, (9444,), ("10*9/l", "10^9/l", "x10^9/l", "g/l{cells}")),
    Unit("/mm3", "count_conc", 1e-3, (), ("/mm3", "/ul", "cells/ul", "/mm^3", "cells/mm3", "{cells}/ul")),
    Unit("g/24h", "mass_rate", 1.0, (8807,), ("g/(24.h)", "g/24h", "g/d", "g/day", "g/24hr", "g/24 h")),
    Unit("mg/24h", "mass_rate", 1e-3, (8909,), ("mg/(24.h)", "mg/24h", "mg/d", "mg/day", "mg/24hr", "mg/24 h")),
    Unit("mL/min/1.73m2", "egfr", 1.0, (720870, 9117),
         ("ml/min/{1.73_m2}", "ml/min/1.73m2", "ml/min/(173.10*-2.m2)", "ml/min/1.73_m2", "ml/min/1.73 m2",
          "ml/min/1.73sqm")),
    Unit("U/L", "enzyme", 1.0, (8645, 8923), ("u/l", "[u]/l", "iu/l", "[iu]/l")),
    Unit("%", "fraction", 1.0, (8554,), ("%", "percent")),
    Unit("ms", "time", 1.0, (9593,), ("ms", "msec", "millisecond")),
    Unit("mmHg", "pressure", 1.0, (8876,), ("mm[hg]", "mmhg", "mm hg")),
    Unit("titer", "titer", 1.0, (8525,), ("titer", "{titer}", "1/{titer}")),
    Unit("RU/mL", "arb_conc", 1.0, (), ("ru/ml", "[ru]/ml", "{ru}/ml")),
    Unit("IU/mL", "arb_conc_iu", 1.0, (8985,), ("iu/ml", "[iu]/ml")),
)

BY_KEY: dict[str, Unit] = {u.key: u for u in UNITS}


def normalise_unit_text(text: str) -> str:
    """Lower-case, no spaces, micro sign folded: how unit_source_value is matched against aliases."""
    return re.sub(r"\s+", "", text.strip().lower().replace("µ", "u").replace("μ", "u"))


def unit(key: str) -> Unit:
    if key not in BY_KEY:
        raise KeyError(f"unknown unit {key!r}; known: {', '.join(BY_KEY)}")
    return BY_KEY[key]


def factors_to(target: str, molar_mass: float | None = None) -> dict[str, float]:
    """Multipliers from every unit convertible to `target` (by unit key) into `target`.

    Units whose conversion needs a molar mass are included only when `molar_mass` (g/mol) is given.
    """
    to = unit(target)
    out: dict[str, float] = {}
    for u in UNITS:
        if u.dimension != to.dimension:
            continue
        if (u.molar or to.molar) and molar_mass is None and u.key != to.key:
            continue
        out[u.key] = _base(u, molar_mass) / _base(to, molar_mass)
    return out


def _base(u: Unit, molar_mass: float | None) -> float:
    """Factor to the dimension base, with molar units turned into mass by the molar mass."""
    if u.molar == 1:  # umol/L -> g/L: 1 umol/L = molar_mass * 1e-6 g/L
        return u.factor * (molar_mass or 1.0)
    if u.molar == -1:  # mg/mmol -> g/g: 1 mg/mmol = 1 mg / (molar_mass mg) = 1/molar_mass g/g
        return 1.0 / (molar_mass or 1.0)
    return u.factor


def convertible(source: str, target: str, molar_mass: float | None = None) -> bool:
    return source in factors_to(target, molar_mass)


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
