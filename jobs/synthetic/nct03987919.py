"""NCT03987919 (SURPASS-2)'s planted patients: a clean eligible T2DM-on-metformin template, then one
perturbation per scenario (a pass and a fail for every computable criterion), each DECLARING its outcome.

Nothing here evaluates a rule; the declarations follow the engine's semantics (criteria/nct03987919.yaml):
closed-world events, the latest lab in 90 days, Kleene any_of (exc_5: no ALT and no liver disease is UNKNOWN),
`review_if` rewriting only the outcome it names, review never blocking; metformin continuous for 90 days (refill
gaps up to 7 days bridged) at a daily dose above 1500 mg (a mixed item: pass is review); weights of 120 days
spanning 90 days within 5 %; BMI measured, else weight / height^2; heart failure only during an inpatient visit.
Persons planted for another trial and background persons are ineligible here: no pool and no other trial's
template holds metformin (inc_3 fails).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from jobs.synthetic import vocab as V
from jobs.synthetic.planting import Ev, Plan, Scenario, cond, drug, lab, proc, set_first
from jobs.synthetic.planting import days as _d
from jobs.synthetic.planting import uniform as _u

TRIAL = "NCT03987919"
COHORTS = ("t2dm",)
AGE = ("inc_0", 18, 130)  # (criterion, min, max): background persons outside fail it
MARKER = ("inc_3",)  # what every person not planted for this trial certainly fails: no metformin
BACKGROUND_FAILED = {"t2dm": MARKER}
BACKGROUND_UNKNOWN = {"t2dm": ("inc_2",)}  # no HbA1c in any noise pool

T2DM, HBA1C, CREAT, ALT = 201826, 3004410, 3016723, 3006923
WEIGHT, HEIGHT, BMI = 3025315, 3036277, 3038553
KG, LB, CM, KG_M2 = 9529, 8739, 8582, 9531
SEMAGLUTIDE, HUMULIN = 793143, 19009384
MET_ER = V.METFORMIN_ER_500  # 500 mg tablets (drug_strength of the generated extract)


def _metformin(rng: np.random.Generator, gap: tuple[int, int] = (0, 5), per_day: float = 4,
               stop: tuple[int, int] | None = None) -> list[Ev]:
    """An older fill ending 40-70 days before as-of, then the current fill after `gap` uncovered days, ongoing
    (or ending `stop` days before as-of); quantity = `per_day` tablets of 500 mg a day (4: 2000 mg)."""
    a_end, a_start = _d(rng, 40, 70), _d(rng, 150, 500)
    b_start = a_end - 1 - _d(rng, *gap)
    b_end = -_d(rng, 30, 120) if stop is None else _d(rng, *stop)
    a_days, b_days = a_start - a_end + 1, b_start - b_end + 1
    return [drug(MET_ER, a_start, a_end, a_days, per_day * a_days),
            drug(MET_ER, b_start, b_end, b_days, per_day * b_days)]


def _body(rng: np.random.Generator, bmi: tuple[float, float] = (27, 36)) -> dict[str, list[Ev]]:
    """A height once, and weights 100-115, 40-60 and 3-9 days before as-of within 1.5 % of one value that
    gives a BMI in `bmi` (kg/m2)."""
    h = _u(rng, 150, 190, 0)
    w0 = _u(rng, *bmi, 2) * (h / 100) ** 2
    return {"height": [lab(HEIGHT, _d(rng, 200, 1500), h, CM, "cm")],
            "weight": [lab(WEIGHT, d, round(w0 * float(rng.uniform(0.985, 1.015)), 1), KG, "kg")
                       for d in (_d(rng, 3, 9), _d(rng, 40, 60), _d(rng, 100, 115))]}


def plan(rng: np.random.Generator) -> Plan:
    """A clean eligible patient: T2DM, HbA1c 7.2-10.2 %, metformin 2000 mg/day continuous for months and
    ongoing, stable weight with BMI 27-36, normal creatinine (derived eGFR >= 45 at any age up to 70) and ALT."""
    slots = {
        "t2dm": [cond(T2DM, _d(rng, 400, 3000))],
        "hba1c": [lab(HBA1C, _d(rng, 5, 80), _u(rng, 7.2, 10.2), 8554, "%")],
        "metformin": _metformin(rng),
        "creat": [lab(CREAT, _d(rng, 5, 80), _u(rng, 0.6, 1.0, 2), 8840, "mg/dL")],
        "alt": [lab(ALT, _d(rng, 5, 80), _u(rng, 10, 38), 8645, "U/L", 40.0)],
        **_body(rng),
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


def _metformin_as(**kw: object) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        plan.slots["metformin"] = _metformin(rng, **kw)

    return perturb


def _metformin_no_quantity(plan: Plan, rng: np.random.Generator) -> None:
    plan.slots["metformin"] = [replace(e, quantity=math.nan) for e in plan.slots["metformin"]]


def _short_metformin(plan: Plan, rng: np.random.Generator) -> None:
    plan.slots["metformin"] = [drug(MET_ER, (s := _d(rng, 20, 60)), -(e := _d(rng, 30, 90)), s + e + 1,
                                    4.0 * (s + e + 1))]


Perturb = Callable[[Plan, np.random.Generator], None]


def _weights(*factors: tuple[float, float], unit: tuple[int, str] = (KG, "kg"),
             days: tuple[tuple[int, int], ...] = ((3, 9), (40, 60), (100, 115))) -> Perturb:
    """Replace the weights: one per `days` range, the template's first weight x a factor drawn from each range."""
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        w0 = plan.slots["weight"][0].value
        assert w0 is not None
        to = 2.20462 if unit[0] == LB else 1.0
        plan.slots["weight"] = [lab(WEIGHT, _d(rng, *d), round(w0 * float(rng.uniform(*f)) * to, 1), unit[0], unit[1])
                                for d, f in zip(days, factors, strict=True)]

    return perturb


def _bmi_low(plan: Plan, rng: np.random.Generator) -> None:
    plan.slots.update(_body(rng, (19, 23.5)))


def _bmi_recorded_over_low_weight(plan: Plan, rng: np.random.Generator) -> None:
    """Weights that give a BMI of 19-23.5, and a measured BMI 26-34 kg/m2: the measured value decides."""
    _bmi_low(plan, rng)
    plan.slots["bmi"] = [lab(BMI, _d(rng, 3, 60), _u(rng, 26, 34), KG_M2, "kg/m2")]


def _hba1c_as(concept: int, unit: int, text: str, lo: float, hi: float) -> Perturb:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        value = _u(rng, lo, hi, 0 if unit == 9579 else 1)
        set_first(plan, "hba1c", concept=concept, unit=unit, unit_text=text, value=value)

    return perturb


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
    _s("ineligible_short_metformin", "ineligible", ("inc_3",), (), _short_metformin,
       "metformin started 20-60 days ago (2000 mg/day)"),
    _s("eligible_metformin_refill_gap", "eligible", (), (), _metformin_as(gap=(6, 7)),
       "a 6-7 day gap between fills inside the 90 days (bridged: at most 7)"),
    _s("ineligible_metformin_gap", "ineligible", ("inc_3",), (), _metformin_as(gap=(10, 25)),
       "a 10-25 day gap between fills inside the 90 days"),
    _s("ineligible_metformin_stopped", "ineligible", ("inc_3",), (), _metformin_as(stop=(10, 30)),
       "the current fill ended 10-30 days before as-of"),
    _s("ineligible_metformin_low_dose", "ineligible", ("inc_3",), (), _metformin_as(per_day=2),
       "1000 mg/day (2 tablets of 500 mg)"),
    _s("eligible_metformin_1750", "eligible", (), (), _metformin_as(per_day=3.5), "1750 mg/day"),
    _s("possible_metformin_no_quantity", "possible", (), ("inc_3",), _metformin_no_quantity,
       "continuous metformin, no quantity recorded: daily dose unknown"),
    _s("eligible_hba1c_mmol_mol", "eligible", (), (), _hba1c_as(V.HBA1C_IFCC, 9579, "mmol/mol", 55, 86),
       "IFCC HbA1c 55-86 mmol/mol (7.2-10.0 %)"),
    _s("ineligible_hba1c_mmol_mol_high", "ineligible", ("inc_2",), (),
       _hba1c_as(V.HBA1C_IFCC, 9579, "mmol/mol", 95, 120), "IFCC HbA1c 95-120 mmol/mol (10.8-13.1 %)"),
    _s("eligible_hba1c_ucum_annotation", "eligible", (), (), _hba1c_as(HBA1C, 9225, "%{HbA1c}", 7.2, 10.2),
       "HbA1c 7.2-10.2 %{HbA1c}"),
    _s("ineligible_weight_gain", "ineligible", ("inc_4",), (),
       _weights((1.08, 1.15), (0.985, 1.015), (0.985, 1.015)), "the latest weight 8-15 % above the others"),
    _s("eligible_weight_lb", "eligible", (), (),
       _weights((0.985, 1.015), (0.985, 1.015), (0.985, 1.015), unit=(LB, "[lb_us]")), "weights in pounds"),
    _s("possible_one_weight", "possible", (), ("inc_4",), _weights((0.985, 1.015), days=((3, 9),)),
       "a single weight"),
    _s("possible_weights_short_span", "possible", (), ("inc_4",),
       _weights((0.985, 1.015), (0.985, 1.015), days=((3, 9), (40, 60))), "weights spanning less than 90 days"),
    _s("ineligible_bmi_low", "ineligible", ("inc_5",), (), _bmi_low, "weights and height giving BMI 19-23.5"),
    _s("eligible_bmi_recorded", "eligible", (), (), _bmi_recorded_over_low_weight,
       "a measured BMI 26-34 wins over the derived 19-23.5"),
    _s("possible_no_height", "possible", (), ("inc_5",), _drop("height"), "no height, no BMI: BMI unknown"),
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
    _s("ineligible_hf_hospitalised", "ineligible", ("exc_7",), (),
       _add("hf", lambda r: replace(cond(316139, _d(r, 5, 50)), visit=9201)),
       "heart failure during an inpatient visit 5-50 days ago"),
    _s("ineligible_acute_hf_er_admission", "ineligible", ("exc_7",), (),
       _add("ahf", lambda r: replace(cond(442310, _d(r, 5, 50)), visit=262)),
       "acute heart failure during an ER-and-inpatient visit 5-50 days ago"),
    _s("eligible_hf_outpatient", "eligible", (), (), _add("hf", _recent(316139)),
       "heart failure at an outpatient visit 5-50 days ago (not a hospitalisation)"),
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
