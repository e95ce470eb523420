"""NCT03987919 (SURPASS-2)'s planted patients: a clean eligible T2DM-on-metformin template, then one
perturbation per scenario (a pass and a fail for every computable criterion), each DECLARING its outcome.

Nothing here evaluates a rule; the declarations follow the engine's semantics (criteria/nct03987919.yaml):
closed-world events, the latest lab in 90 days, Kleene any_of (exc_5: no ALT and no liver disease is UNKNOWN),
`review_if` rewriting only the outcome it names, review never blocking. Persons planted for another trial and
background persons are ineligible here: no pool and no other trial's template holds metformin (inc_3 fails).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jobs.synthetic.planting import Ev, Plan, Scenario, cond, drug, lab, proc, set_first
from jobs.synthetic.planting import days as _d
from jobs.synthetic.planting import uniform as _u

TRIAL = "NCT03987919"
COHORTS = ("t2dm",)
AGE = ("inc_0", 18, 130)  # (criterion, min, max): background persons outside fail it
MARKER = ("inc_3",)  # what every person not planted for this trial certainly fails: no metformin
BACKGROUND_FAILED = {"t2dm": MARKER}
BACKGROUND_UNKNOWN = {"t2dm": ("inc_2",)}  # no HbA1c in any noise pool

T2DM, METFORMIN, HBA1C, CREAT, ALT = 201826, 1503297, 3004410, 3016723, 3006923
SEMAGLUTIDE, HUMULIN = 793143, 19009384


def plan(rng: np.random.Generator) -> Plan:
    """A clean eligible patient: T2DM, HbA1c 7.2-10.2 %, metformin for a year and ongoing, normal creatinine
    (derived eGFR >= 45 at any age up to 70) and ALT."""
    start = _d(rng, 200, 900)
    slots = {
        "t2dm": [cond(T2DM, _d(rng, 400, 3000))],
        "hba1c": [lab(HBA1C, _d(rng, 5, 80), _u(rng, 7.2, 10.2), 8554, "%")],
        "metformin": [drug(METFORMIN, start, -_d(rng, 30, 120))],
        "creat": [lab(CREAT, _d(rng, 5, 80), _u(rng, 0.6, 1.0, 2), 8840, "mg/dL")],
        "alt": [lab(ALT, _d(rng, 5, 80), _u(rng, 10, 38), 8645, "U/L", 40.0)],
    }
    return Plan(female=bool(rng.random() < 0.45), age=_d(rng, 30, 70), slots=slots)


def _none(plan: Plan, rng: np.random.Generator) -> None:
    return None


def _drop(*slots: str) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        for s in slots:
            plan.slots.pop(s)

    return perturb


def _add(slot: str, make: Callable[[np.random.Generator], Ev]) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        plan.slots[slot] = [make(rng)]

    return perturb


def _set(slot: str, **changes: Callable[[np.random.Generator], object]) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        set_first(plan, slot, **{k: make(rng) for k, make in changes.items()})

    return perturb


def _age(years: int) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        plan.age = years

    return perturb


def _deceased(plan: Plan, rng: np.random.Generator) -> None:
    plan.dead_d = 2


def _s(name: str, status: str, failed: tuple[str, ...], unknown: tuple[str, ...],
       perturb: Callable[[Plan, np.random.Generator], None], what: str) -> Scenario:
    return Scenario(f"t2dm_{name}", "t2dm", status, failed, unknown, perturb, what)


def _recent(concept: int, lo: int = 5, hi: int = 50) -> Callable[[np.random.Generator], Ev]:
    return lambda r: cond(concept, _d(r, lo, hi))


SCENARIOS: tuple[Scenario, ...] = (
    _s("eligible", "eligible", (), (), _none, "clean template"),
    _s("eligible_nafld", "eligible", (), (), _add("nafld", _recent(4026131, 100, 900)),
       "NAFLD with ALT <= 3 x ULN (NAFLD is outside the liver set)"),
    _s("eligible_old_mi", "eligible", (), (), _add("mi", _recent(4329847, 100, 900)), "MI 100-900 days ago"),
    _s("eligible_old_glp1", "eligible", (), (),
       _add("glp1", lambda r: drug(SEMAGLUTIDE, (s := _d(r, 300, 600)), s - _d(r, 100, 180))),
       "semaglutide that ended more than 3 months ago"),
    _s("possible_no_hba1c", "possible", (), ("inc_2",), _drop("hba1c"), "no HbA1c"),
    _s("possible_stale_hba1c", "possible", (), ("inc_2",), _set("hba1c", d=lambda r: _d(r, 120, 400)),
       "HbA1c only 120-400 days ago"),
    _s("possible_no_alt", "possible", (), ("exc_5",), _drop("alt"), "no ALT, no liver disease"),
    _s("possible_no_renal", "possible", (), ("exc_6",), _drop("creat"), "no eGFR, no creatinine"),
    _s("ineligible_no_t2dm", "ineligible", ("inc_1",), (), _drop("t2dm"), "no T2DM diagnosis"),
    _s("ineligible_hba1c_high", "ineligible", ("inc_2",), (), _set("hba1c", value=lambda r: _u(r, 10.7, 13.0)),
       "HbA1c 10.7-13.0 %"),
    _s("ineligible_hba1c_low", "ineligible", ("inc_2",), (), _set("hba1c", value=lambda r: _u(r, 5.5, 6.8)),
       "HbA1c 5.5-6.8 %"),
    _s("ineligible_no_metformin", "ineligible", ("inc_3",), (), _drop("metformin"), "no metformin"),
    _s("ineligible_short_metformin", "ineligible", ("inc_3",), (),
       _set("metformin", d=lambda r: _d(r, 20, 60)), "metformin started 20-60 days ago"),
    _s("ineligible_child", "ineligible", ("inc_0",), (), _age(16), "age 16"),
    _s("ineligible_deceased", "ineligible", ("sys_alive",), (), _deceased, "died 2 days before as-of"),
    _s("ineligible_t1dm", "ineligible", ("exc_1",), (), _add("t1dm", _recent(201254, 100, 2000)), "T1DM too"),
    _s("ineligible_pancreatitis", "ineligible", ("exc_2",), (), _add("pan", _recent(199074, 200, 3000)),
       "acute pancreatitis years ago"),
    _s("ineligible_pdr", "ineligible", ("exc_3",), (), _add("pdr", _recent(43530685, 30, 900)),
       "proliferative retinopathy due to T2DM"),
    _s("ineligible_gastroparesis", "ineligible", ("exc_4",), (), _add("gp", _recent(37018728, 30, 900)),
       "gastroparesis due to T2DM"),
    _s("ineligible_bariatric", "ineligible", ("exc_4",), (), _add("bar", lambda r: proc(2108974, _d(r, 300, 3000))),
       "gastric restrictive surgery"),
    _s("ineligible_cirrhosis", "ineligible", ("exc_5",), (), _add("cirr", _recent(4064161, 30, 2000)),
       "cirrhosis"),
    _s("ineligible_alt_high", "ineligible", ("exc_5",), (),
       _set("alt", value=lambda r: _u(r, 125, 300)), "ALT 125-300 U/L, range_high 40"),
    _s("ineligible_egfr_low", "ineligible", ("exc_6",), (),
       _set("creat", value=lambda r: _u(r, 2.6, 4.0, 2)), "creatinine 2.6-4.0 mg/dL (derived eGFR < 45)"),
    _s("ineligible_recent_mi", "ineligible", ("exc_7",), (), _add("mi", _recent(4329847)), "MI 5-50 days ago"),
    _s("ineligible_recent_stroke", "ineligible", ("exc_7",), (), _add("cva", _recent(381316)),
       "stroke 5-50 days ago"),
    _s("ineligible_recent_hf", "ineligible", ("exc_7",), (), _add("hf", _recent(316139)),
       "heart failure 5-50 days ago"),
    _s("ineligible_men2", "ineligible", ("exc_8",), (), _add("men2", _recent(24612, 300, 3000)), "MEN2"),
    _s("ineligible_glp1", "ineligible", ("exc_9",), (),
       _add("glp1", lambda r: drug(SEMAGLUTIDE, _d(r, 30, 80), -_d(r, 10, 60))), "semaglutide ongoing"),
    _s("ineligible_insulin_product", "ineligible", ("exc_9",), (),
       _add("ins", lambda r: drug(HUMULIN, _d(r, 20, 60), None, 30)),
       "Humulin 70/30 product, end from days_supply"),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def plan_for(s: Scenario, rng: np.random.Generator) -> Plan:
    p = plan(rng)
    s.perturb(p, rng)
    return p


def declared(s: Scenario, cohort: str) -> tuple[str, tuple[str, ...], tuple[str, ...], bool]:
    """(status, failed, unknown, planted) of one of this trial's scenarios."""
    return s.status, s.failed, s.unknown, True


def foreign(failed_elsewhere: tuple[str, ...], cohort: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(failed, unknown) certain here for a person planted for another trial: no metformin; a death fails
    sys_alive everywhere."""
    return tuple(sorted(set(MARKER) | ({"sys_alive"} & set(failed_elsewhere)))), ()
