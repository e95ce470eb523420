"""NCT03036150 (DAPA-CKD)'s planted patients: a clean eligible CKD-with-albuminuria template, then one
perturbation per scenario (a pass and a fail for every computable criterion), each DECLARING its outcome.

Nothing here evaluates a rule; the declarations follow criteria/nct03036150.yaml: the latest lab in 90 days,
Kleene all_of / any_of (inc_3: a current UACR and earlier evidence -- an albuminuria diagnosis 90+ days before
or a UACR >= 30 mg/g 90 days to 10 years before, none on record being no evidence; no current UACR with earlier
evidence is UNKNOWN, without evidence FAIL), `review_if` rewriting only the outcome it names (inc_4 never fails,
exc_2 matches become review), exc_6 = heart failure and a latest NYHA class IV in 180 days (heart failure
without a class is UNKNOWN).
Persons planted for another trial and background persons are ineligible here: no pool and no other trial's
template holds an albuminuria or proteinuria diagnosis (inc_3 fails).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jobs.synthetic import vocab as V
from jobs.synthetic.planting import Ev, Plan, Scenario, cond, drug, lab, obs_value, proc, set_first
from jobs.synthetic.planting import days as _d
from jobs.synthetic.planting import uniform as _u

TRIAL = "NCT03036150"
COHORTS = ("ckd",)
AGE = ("inc_1", 18, 130)
MARKER = ("inc_3",)  # no albuminuria diagnosis outside this trial's template
BACKGROUND_FAILED = {"ckd": MARKER}
BACKGROUND_UNKNOWN: dict[str, tuple[str, ...]] = {"ckd": ()}

EGFR, CREAT, UACR, PROTEINURIA, LISINOPRIL = 1619025, 3016723, 3001802, 75650, 1308216
MMF, DAPAGLIFLOZIN = 19003999, 44785829
MG_G, MG_MMOL = 8723, 44777612
NYHA, HEART_FAILURE = 36305765, 316139


def plan(rng: np.random.Generator) -> Plan:
    """A clean eligible patient: CKD-EPI eGFR 30-70, UACR 300-3000 mg/g, proteinuria on record, lisinopril
    for a year and ongoing."""
    slots = {
        "egfr": [lab(EGFR, _d(rng, 5, 80), _u(rng, 30, 70, 0), 720870, "mL/min/{1.73_m2}")],
        "uacr": [lab(UACR, _d(rng, 5, 80), _u(rng, 300, 3000, 0), MG_G, "mg/g")],
        "albuminuria": [cond(PROTEINURIA, _d(rng, 200, 1500))],
        "ras": [drug(LISINOPRIL, _d(rng, 200, 700), -_d(rng, 30, 120))],
    }
    return Plan(female=bool(rng.random() < 0.35), age=_d(rng, 35, 79), slots=slots)


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


def _creatinine_only(plan: Plan, rng: np.random.Generator) -> None:
    """No eGFR result: the engine derives it from creatinine 1.4-1.8 mg/dL at age 50-70, which gives a
    CKD-EPI 2021 eGFR between 29.9 and 61.2 for either sex (bounds worked by hand, inside 25-75)."""
    plan.slots.pop("egfr")
    plan.age = _d(rng, 50, 70)
    plan.slots["creat"] = [lab(CREAT, _d(rng, 5, 80), _u(rng, 1.4, 1.8, 2), 8840, "mg/dL")]


def _prior_uacr(lo: float, hi: float) -> Callable[[Plan, np.random.Generator], None]:
    """No albuminuria diagnosis; a UACR 120-700 days before as-of (earlier evidence, or its absence)."""
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        plan.slots.pop("albuminuria")
        plan.slots["uacr_prior"] = [lab(UACR, _d(rng, 120, 700), _u(rng, lo, hi, 0), MG_G, "mg/g")]

    return perturb


def _heart_failure(nyha: int | None) -> Callable[[Plan, np.random.Generator], None]:
    """Heart failure on record, and a NYHA class answer 5-150 days before as-of (None: no class recorded)."""
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        plan.slots["hf"] = [cond(HEART_FAILURE, _d(rng, 200, 900))]
        if nyha is not None:
            plan.slots["nyha"] = [obs_value(NYHA, _d(rng, 5, 150), value_concept=nyha)]

    return perturb


def _deceased(plan: Plan, rng: np.random.Generator) -> None:
    plan.dead_d = 2


def _child(plan: Plan, rng: np.random.Generator) -> None:
    plan.age = 16


def _recent(concept: int, lo: int = 10, hi: int = 80) -> Callable[[np.random.Generator], Ev]:
    return lambda r: cond(concept, _d(r, lo, hi))


def _s(name: str, status: str, failed: tuple[str, ...], unknown: tuple[str, ...],
       perturb: Callable[[Plan, np.random.Generator], None], what: str) -> Scenario:
    return Scenario(f"ckd_{name}", "ckd", status, failed, unknown, perturb, what)


SCENARIOS: tuple[Scenario, ...] = (
    _s("eligible", "eligible", (), (), _none, "clean template"),
    _s("eligible_derived_egfr", "eligible", (), (), _creatinine_only, "eGFR derived from creatinine 1.4-1.8"),
    _s("eligible_uacr_mg_mmol", "eligible", (), (),
       _set("uacr", value=lambda r: _u(r, 40, 300, 0), unit=lambda r: MG_MMOL, unit_text=lambda r: "mg/mmol"),
       "UACR 40-300 mg/mmol (354-2652 mg/g)"),
    _s("eligible_no_ras", "eligible", (), (), _drop("ras"), "no ACE-I/ARB: inc_4 is a review, never a fail"),
    _s("eligible_mmf_review", "eligible", (), (),
       _add("mmf", lambda r: drug(MMF, _d(r, 30, 150), -_d(r, 10, 60))),
       "mycophenolate in 6 months: exc_2 flags it for review"),
    _s("possible_heart_failure_no_nyha", "possible", (), ("exc_6",), _heart_failure(None),
       "heart failure without a NYHA class in 180 days"),
    _s("eligible_heart_failure_nyha_iii", "eligible", (), (), _heart_failure(V.NYHA_III),
       "heart failure, latest NYHA class III"),
    _s("ineligible_nyha_iv", "ineligible", ("exc_6",), (), _heart_failure(V.NYHA_IV),
       "heart failure, latest NYHA class IV (answer LA28407-7)"),
    _s("eligible_prior_uacr_only", "eligible", (), (), _prior_uacr(40, 900),
       "no albuminuria diagnosis; a UACR 40-900 mg/g 120-700 days before"),
    _s("ineligible_prior_uacr_normal", "ineligible", ("inc_3",), (), _prior_uacr(5, 25),
       "no albuminuria diagnosis; the earlier UACR 5-25 mg/g"),
    _s("ineligible_albuminuria_recent_only", "ineligible", ("inc_3",), (),
       _set("albuminuria", d=lambda r: _d(r, 10, 80)), "the albuminuria diagnosis only 10-80 days before"),
    _s("ineligible_heart_transplant", "ineligible", ("exc_3",), (),
       _add("htx", lambda r: proc(4137127, _d(r, 300, 3000))), "heart transplant years ago"),
    _s("eligible_old_sglt2", "eligible", (), (),
       _add("sglt2", lambda r: drug(DAPAGLIFLOZIN, (s := _d(r, 200, 500)), s - _d(r, 60, 120))),
       "dapagliflozin that ended more than 8 weeks ago"),
    _s("eligible_old_mi", "eligible", (), (), _add("mi", _recent(4329847, 100, 900)), "MI 100-900 days ago"),
    _s("possible_no_renal", "possible", (), ("inc_2",), _drop("egfr"), "no eGFR, no creatinine"),
    _s("possible_no_uacr", "possible", (), ("inc_3",), _drop("uacr"), "no UACR (albuminuria on record)"),
    _s("possible_stale_uacr", "possible", (), ("inc_3",), _set("uacr", d=lambda r: _d(r, 120, 400)),
       "UACR only 120-400 days ago"),
    _s("ineligible_egfr_high", "ineligible", ("inc_2",), (), _set("egfr", value=lambda r: _u(r, 80, 110, 0)),
       "eGFR 80-110"),
    _s("ineligible_egfr_low", "ineligible", ("inc_2",), (), _set("egfr", value=lambda r: _u(r, 10, 22, 0)),
       "eGFR 10-22"),
    _s("ineligible_uacr_low", "ineligible", ("inc_3",), (), _set("uacr", value=lambda r: _u(r, 30, 170, 0)),
       "UACR 30-170 mg/g"),
    _s("ineligible_uacr_mg_mmol_low", "ineligible", ("inc_3",), (),
       _set("uacr", value=lambda r: _u(r, 4, 18, 1), unit=lambda r: MG_MMOL, unit_text=lambda r: "mg/mmol"),
       "UACR 4-18 mg/mmol (35-159 mg/g)"),
    _s("ineligible_no_albuminuria_history", "ineligible", ("inc_3",), (), _drop("albuminuria"),
       "UACR in range but no earlier albuminuria diagnosis or UACR on record"),
    _s("ineligible_child", "ineligible", ("inc_1",), (), _child, "age 16"),
    _s("ineligible_deceased", "ineligible", ("sys_alive",), (), _deceased, "died 2 days before as-of"),
    _s("ineligible_pkd", "ineligible", ("exc_1",), (), _add("pkd", _recent(35623052, 300, 3000)), "ADPKD"),
    _s("ineligible_anca", "ineligible", ("exc_1",), (), _add("gpa", _recent(313223, 300, 3000)),
       "granulomatosis with polyangiitis"),
    _s("ineligible_transplant", "ineligible", ("exc_3",), (),
       _add("tx", lambda r: proc(4322471, _d(r, 300, 3000))), "kidney transplant years ago"),
    _s("ineligible_sglt2", "ineligible", ("exc_4",), (),
       _add("sglt2", lambda r: drug(DAPAGLIFLOZIN, _d(r, 20, 50), -_d(r, 10, 60))), "dapagliflozin ongoing"),
    _s("ineligible_t1dm", "ineligible", ("exc_5",), (), _add("t1dm", _recent(201254, 300, 3000)), "T1DM"),
    _s("ineligible_recent_tia", "ineligible", ("exc_7",), (), _add("tia", _recent(373503)), "TIA 10-80 days ago"),
    _s("ineligible_recent_unstable_angina", "ineligible", ("exc_7",), (), _add("ua", _recent(315296)),
       "unstable angina 10-80 days ago"),
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
    """(failed, unknown) certain here for a person planted for another trial: no albuminuria diagnosis; a
    death fails sys_alive everywhere."""
    return tuple(sorted(set(MARKER) | ({"sys_alive"} & set(failed_elsewhere)))), ()
