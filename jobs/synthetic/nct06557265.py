"""NCT06557265's planted patients: a clean eligible LN or pMN template, then one perturbation per scenario,
and what background persons certainly fail or leave unknown.

Each scenario DECLARES its expected outcome (status, failing and unknown criteria) from what it plants;
nothing here evaluates a rule. The declarations follow the engine's semantics: closed-world events, most
recent lab in its window (90 days; QTc 180), Kleene any_of/all_of (so an `any_of` lab rule with one result
false and its sibling lab absent is UNKNOWN, not false), `alternatives` (UPCR or 24 h protein: the more recent
result decides, the other may be absent), review outcomes never blocking, `review_if` only rewriting the
outcome it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from jobs.synthetic import vocab as V
from jobs.synthetic.background import ckd_epi_2021
from jobs.synthetic.planting import Ev, Plan, Scenario, cond, drug, lab, proc, set_first, value_of
from jobs.synthetic.planting import days as _d
from jobs.synthetic.planting import uniform as _u

TRIAL = "NCT06557265"
AGE = ("gen_inc_1", 18, 65)  # (criterion, min, max): background persons outside fail it
MG_DL_PER_UMOL_L = 113.12 / 10_000  # creatinine: umol/L -> mg/dL
GENERAL_PREFIXES = ("gen_", "sys_")
COHORTS = ("ln", "pmn")
# What background persons certainly fail / leave unknown (besides sys_alive and gen_inc_1, set per person):
# they have no SLE, no LN/MN diagnosis, no kidney biopsy and no LN/pMN therapy by construction.
BACKGROUND_FAILED = {"ln": ("ln_inc_1", "ln_inc_2", "ln_inc_5"), "pmn": ("pmn_inc_1", "pmn_inc_4")}
BACKGROUND_UNKNOWN = {
    "ln": ("gen_exc_8_5", "ln_inc_3", "ln_inc_4"),
    "pmn": ("gen_exc_8_5", "pmn_inc_2", "pmn_inc_3"),
}


# concept ids used by the templates
SLE = (257628, 255891)
LN_CLASS = (4297164, 4267801, 4178133)
MN_PRIMARY = (252365, 36716199)
BIOPSY = (4217034, 2109566)
RAS_INGREDIENTS = (1308216, 1341927, 1334456, 1367500, 1308842)
RAS_PRODUCTS = (19080128, 19080129, 40185280, 40185304)
UPCR, PROT_24H, EGFR, EGFR_SYNTHEA, CREAT = 3001582, 3020876, 1619025, 3030354, 3016723
WBC, HGB, ANC, PLT, AST, ALT, BILI, SPO2, SBP, DBP = (
    3000905,
    3000963,
    3013650,
    3024929,
    3013721,
    3006923,
    3024128,
    40762499,
    3004249,
    3012888,
)
RITUXIMAB = 1314273
LN_SMALL = {
    "mycophenolate": (19003999, 19012565),
    "cyclophosphamide": (1310317,),
    "azathioprine": (19014878,),
    "calcineurin inhibitor": (950637, 19010482),
}
LN_ANTIBODY = {"anti-CD20": (RITUXIMAB, 44507676), "belimumab": (40236987,)}


# ------------------------------------------------------------------ templates
def _current_labs(rng: np.random.Generator) -> dict[str, list[Ev]]:
    """Every current-state lab a criterion reads, normal, inside its window (so nothing is unknown)."""
    d_renal, d_liver, d_cbc, d_vitals = (_d(rng, 5, 80) for _ in range(4))
    return {
        "egfr": [lab(EGFR, d_renal, _u(rng, 62, 110, 0), 720870, "mL/min/{1.73_m2}")],
        "creat": [lab(CREAT, d_renal, _u(rng, 0.6, 1.0, 2), 8840, "mg/dL")],
        "ast": [lab(AST, d_liver, _u(rng, 15, 35), 8645, "U/L", 40.0)],
        "alt": [lab(ALT, d_liver, _u(rng, 10, 35), 8645, "U/L", 40.0)],
        "bili": [lab(BILI, d_liver, _u(rng, 0.3, 1.0, 2), 8840, "mg/dL", 1.2)],
        "spo2": [lab(SPO2, d_vitals, _u(rng, 95, 99, 0), 8554, "%")],
        "wbc": [lab(WBC, d_cbc, _u(rng, 4.5, 9), 8848, "10*3/uL")],
        "hgb": [lab(HGB, d_cbc, _u(rng, 11.5, 14.5), 8713, "g/dL")],
        "anc": [lab(ANC, d_cbc, _u(rng, 2.5, 6), 8848, "10*3/uL")],
        "plt": [lab(PLT, d_cbc, _u(rng, 170, 380, 0), 8848, "10*3/uL")],
        "qtc": [lab(V.QTC, _d(rng, 10, 170), _u(rng, 400, 450, 0), 9593, "ms")],
        "sbp": [lab(SBP, d_vitals, _u(rng, 112, 140, 0), 8876, "mm[Hg]")],
        "dbp": [lab(DBP, d_vitals, _u(rng, 70, 86, 0), 8876, "mm[Hg]")],
    }


def _ras(rng: np.random.Generator) -> list[Ev]:
    """An ACE inhibitor / ARB overlapping the last year (gen_inc_2)."""
    start = _d(rng, 30, 300)
    return [drug(int(rng.choice(RAS_INGREDIENTS)), start, start - 89, 90)]


def _past_course(rng: np.random.Generator, concept: int, antibody: bool) -> Ev:
    """A finished course: small molecules end >= 30 days before as-of, antibodies >= 120; gen_exc_18 clear."""
    start = _d(rng, 200, 1500)
    if antibody:
        return drug(concept, start, max(start - _d(rng, 0, 14), 120), 1)
    end = max(start - _d(rng, 60, 365), 30)
    return drug(concept, start, end, start - end + 1)


def ln_plan(rng: np.random.Generator) -> Plan:
    """A clean eligible LN patient: every computable criterion passes (or is review), none unknown."""
    d_class = _d(rng, 20, 150)
    labels_all = list(LN_SMALL) + list(LN_ANTIBODY)
    chosen = rng.choice(len(labels_all), _d(rng, 2, 3), replace=False)
    therapy = []
    for i in sorted(chosen):
        label = labels_all[i]
        pool = LN_ANTIBODY.get(label) or LN_SMALL[label]
        therapy.append(_past_course(rng, int(rng.choice(pool)), label in LN_ANTIBODY))
    slots = {
        "sle": [cond(int(rng.choice(SLE)), _d(rng, 400, 2500))],
        "ln_dx": [cond(4285717, _d(rng, 200, 400))],
        "ln_class": [cond(int(rng.choice(LN_CLASS)), d_class)],
        "biopsy": [proc(int(rng.choice(BIOPSY)), d_class + _d(rng, 0, 10))],
        "ras": _ras(rng),
        "therapy": therapy,
        "steroid": [drug(1551170, (s := _d(rng, 20, 60)), s - 29, 30)],
        "upcr": [lab(UPCR, _d(rng, 5, 80), _u(rng, 1.8, 5.0, 2), 9510, "g/g")],
        "ana": [lab(V.ANA_TITER, _d(rng, 100, 1500), float(rng.choice([160, 320, 640])), 8525, "{titer}")],
        **_current_labs(rng),
    }
    return Plan(female=bool(rng.random() < 0.85), age=_d(rng, 25, 60), slots=slots)


def pmn_plan(rng: np.random.Generator) -> Plan:
    """A clean eligible pMN patient (primary MN on biopsy, PLA2R positive, one prior pMN therapy)."""
    d_mn = _d(rng, 20, 150)
    kind = int(rng.integers(0, 4))
    therapy = _past_course(rng, (RITUXIMAB, 1310317, 950637, 19010482)[kind], kind == 0)
    slots = {
        "mn": [cond(int(rng.choice(MN_PRIMARY)), d_mn)],
        "biopsy": [proc(int(rng.choice(BIOPSY)), d_mn + _d(rng, 0, 10))],
        "ras": _ras(rng),
        "therapy": [therapy],
        "upcr": [lab(UPCR, _d(rng, 5, 80), _u(rng, 4.0, 9.0, 2), 9510, "g/g")],
        "pla2r": [lab(V.ANTI_PLA2R, _d(rng, 10, 150), _u(rng, 40, 400, 0), 0, "RU/mL")],
        **_current_labs(rng),
    }
    return Plan(female=bool(rng.random() < 0.35), age=_d(rng, 25, 60), slots=slots)


# ------------------------------------------------------------------ perturbations
def _none(plan: Plan, rng: np.random.Generator) -> None:
    """The template as is."""


def _mixed_units(plan: Plan, rng: np.random.Generator) -> None:
    """Units real extracts mix: UPCR mg/g|mg/mg|mg/mmol, Hb g/L, counts 10^9/L or /mm3 text, U/L unmapped."""
    up = plan.slots["upcr"][0]
    unit = int(rng.integers(0, 3))
    g_g = up.value or 0.0
    plan.slots["upcr"] = [
        replace(
            up,
            **[
                {"value": round(g_g * 1000, 0), "unit": 8723, "unit_text": "mg/g"},
                {"value": g_g, "unit": 9565, "unit_text": "mg/mg"},
                {"value": round(g_g * 113.12, 1), "unit": 44777612, "unit_text": "mg/mmol"},
            ][unit],
        )
    ]
    set_first(plan, "hgb", value=round(value_of(plan, "hgb") * 10, 0), unit=8636, unit_text="g/L")
    set_first(plan, "wbc", unit=9444, unit_text="10*9/L")
    set_first(plan, "anc", value=round(value_of(plan, "anc") * 1000, 0), unit=0, unit_text="cells/uL")
    set_first(plan, "plt", value=round(value_of(plan, "plt") * 1000, 0), unit=0, unit_text="/mm3")
    set_first(plan, "creat", value=round(value_of(plan, "creat") / MG_DL_PER_UMOL_L, 0), unit=0, unit_text="umol/L")
    set_first(plan, "ast", unit=0, unit_text="U/L")
    set_first(plan, "alt", unit=0, unit_text="U/L")
    set_first(
        plan, "bili", value=round(value_of(plan, "bili") * 17.1, 1), unit=8749, unit_text="umol/L", range_high=21.0
    )
    set_first(plan, "egfr", concept=EGFR_SYNTHEA, unit=0)
    set_first(plan, "spo2", concept=3016502)
    set_first(plan, "ana", unit=0, unit_text=None)


def _products(plan: Plan, rng: np.random.Generator) -> None:
    """Drugs recorded as clinical-drug products (reached through concept_ancestor), end dates left empty."""
    start = _d(rng, 30, 200)
    plan.slots["ras"] = [drug(int(rng.choice(RAS_PRODUCTS)), start, None, 90)]
    cyc = _d(rng, 300, 900)
    csa = _d(rng, 300, 900)
    plan.slots["therapy"] = [
        drug(35606514, cyc, None, None),
        drug(19010522, csa, None, 90),
        drug(19010292, _d(rng, 300, 900), None, 1),
    ]


def _stale_and_future(plan: Plan, rng: np.random.Generator) -> None:
    """Contradicting results outside their windows, an older in-window result superseded, future events."""
    eg = plan.slots["egfr"][0]
    plan.slots["egfr"] = [
        eg,
        lab(EGFR, _d(rng, 500, 800), 30.0, 720870, "mL/min/{1.73_m2}"),
        lab(EGFR, 85, 40.0, 720870, "mL/min/{1.73_m2}"),
        lab(EGFR, -5, 20.0, 720870, "mL/min/{1.73_m2}"),
    ]
    set_first(plan, "egfr", d=min(eg.d, 40))
    plan.slots["upcr"] += [lab(UPCR, _d(rng, 200, 500), 0.5, 9510, "g/g"), lab(UPCR, -5, 0.3, 9510, "g/g")]
    plan.slots["plt"] += [lab(PLT, _d(rng, 200, 500), 60.0, 8848, "10*3/uL")]
    plan.slots["alt"] += [lab(ALT, _d(rng, 200, 500), 300.0, 8645, "U/L", 40.0)]
    plan.slots["qtc"] += [lab(V.QTC, _d(rng, 200, 400), 520.0, 9593, "ms")]
    plan.slots["stale_events"] = [
        cond(4329847, _d(rng, 100, 400)),
        cond(37311061, _d(rng, 40, 200)),
        cond(4329847, -3),
        _past_course(rng, RITUXIMAB, True),
    ]


def _heart_failure(plan: Plan, rng: np.random.Generator) -> None:
    """Heart failure flags gen_exc_8_4 for review (review_if: fail), which never blocks."""
    plan.slots["hf"] = [cond(int(rng.choice([316139, 4229440])), _d(rng, 30, 700))]


def _obs_sle_dsdna_creatinine(plan: Plan, rng: np.random.Generator) -> None:
    """SLE in the observation table, anti-dsDNA positive instead of ANA, eGFR from umol/L creatinine."""
    plan.slots["sle"] = [cond(int(rng.choice(SLE)), _d(rng, 400, 2500), table="observation")]
    plan.slots["ana"] = [
        lab(
            V.ANTI_DSDNA,
            _d(rng, 100, 1000),
            None,
            0,
            None,
            value_concept=int(rng.choice([V.POSITIVE, V.POSITIVE_LOINC])),
        )
    ]
    _creatinine_only(plan, rng)


def _creatinine_only(plan: Plan, rng: np.random.Generator) -> None:
    """No eGFR in the window; a normal creatinine in umol/L (unit_concept_id 0) gives a derived eGFR >= 60."""
    del plan.slots["egfr"]
    umol = _u(rng, 55, 80, 0)
    set_first(plan, "creat", value=umol, unit=0, unit_text="umol/L")
    egfr = ckd_epi_2021(np.array([umol * MG_DL_PER_UMOL_L]), np.array([plan.age]), np.array([plan.female]))[0]
    assert egfr >= 60, f"planted derived eGFR {egfr:.0f} must be clearly >= 45"


def _drop(*slots: str) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        for s in slots:
            del plan.slots[s]

    perturb.__doc__ = f"Drop {', '.join(slots)}."
    return perturb


def _drop_one_liver_lab(plan: Plan, rng: np.random.Generator) -> None:
    del plan.slots[str(rng.choice(["ast", "alt", "bili"]))]


def _stale_upcr(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "upcr", d=_d(rng, 100, 400))


def _upcr_bad_unit(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "upcr", value=_u(rng, 100, 300, 0), unit=8753, unit_text="mmol/L")


def _egfr_low(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "egfr", value=_u(rng, 20, 38, 0))
    set_first(plan, "creat", value=_u(rng, 1.8, 2.6, 2))


def _derived_egfr_low(plan: Plan, rng: np.random.Generator) -> None:
    """No eGFR in 90 days (a normal one 200+ days ago), creatinine high enough for CKD-EPI < 45."""
    plan.slots["egfr"] = [lab(EGFR, _d(rng, 200, 700), 85.0, 720870, "mL/min/{1.73_m2}")]
    scr = _u(rng, 2.8, 4.0, 2)
    set_first(plan, "creat", value=scr)
    egfr = ckd_epi_2021(np.array([scr]), np.array([plan.age]), np.array([plan.female]))[0]
    assert egfr < 40, f"planted derived eGFR {egfr:.0f} must be clearly < 45"


def _age(years: int) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        plan.age = years

    return perturb


def _upcr_low(low: float, high: float) -> Callable[[Plan, np.random.Generator], None]:
    """UPCR below the bar and no 24 h protein: the alternatives' one value decides (fail, not unknown)."""

    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        set_first(plan, "upcr", value=_u(rng, low, high, 2), d=_d(rng, 5, 80))

    return perturb


def _protein_recent(low: float, high: float, upcr: tuple[float, float]) -> Callable[[Plan, np.random.Generator], None]:
    """An older UPCR in `upcr` g/g and a more recent 24 h protein in [low, high] g/day: the recent one decides."""

    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        old = _d(rng, 50, 85)
        set_first(plan, "upcr", value=_u(rng, *upcr, 2), d=old)
        plan.slots["prot24"] = [lab(PROT_24H, old - _d(rng, 5, 40), _u(rng, low, high, 2), 8807, "g/(24.h)")]

    return perturb


def _one_therapy_label(plan: Plan, rng: np.random.Generator) -> None:
    """Mycophenolate mofetil and mycophenolic acid: two drugs, one label."""
    plan.slots["therapy"] = [_past_course(rng, 19003999, False), _past_course(rng, 19012565, False)]


def _old_biopsy(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "biopsy", d=_d(rng, 250, 400))


def _add(slot: str, make: Callable[[np.random.Generator], Ev]) -> Callable[[Plan, np.random.Generator], None]:
    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        plan.slots[slot] = [make(rng)]

    return perturb


def _recent_rituximab(rng: np.random.Generator) -> Ev:
    d = _d(rng, 20, 80)
    return drug(RITUXIMAB, d, d, 1)


def _alt_high(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "alt", value=_u(rng, 150, 300, 0), range_high=40.0)


def _low_platelets(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "plt", value=_u(rng, 50, 90, 0))


def _deceased(plan: Plan, rng: np.random.Generator) -> None:
    plan.dead_d = 2


def _pmn_noise(plan: Plan, rng: np.random.Generator) -> None:
    """Products for RAS and therapy, UPCR in mg/mmol, unmapped U/L, PLA2R unit text only, creatinine only."""
    plan.slots["ras"] = [drug(int(rng.choice(RAS_PRODUCTS)), _d(rng, 30, 200), None, 90)]
    plan.slots["therapy"] = [drug(int(rng.choice([19010292, 35606514])), _d(rng, 120, 900), None, None)]
    set_first(plan, "upcr", value=round(value_of(plan, "upcr") * 113.12, 0), unit=44777612, unit_text="mg/mmol")
    set_first(plan, "ast", unit=0, unit_text="U/L")
    set_first(plan, "alt", unit=0, unit_text="U/L")
    set_first(plan, "pla2r", unit_text="[RU]/mL")
    _creatinine_only(plan, rng)


def _pla2r(low: float, high: float, older_positive: bool) -> Callable[[Plan, np.random.Generator], None]:
    """Latest PLA2R below 20 RU/mL; optionally an older positive one (the latest result counts).

    With `older_positive` (the clearly negative scenario) half the results also carry value_as_concept_id
    Negative (9189); the others, and all borderline ones, are numeric only (value_as_concept_id 0), which the
    `positive` comparator must read as not positive (value_as_concept_id = 9191 is false), not as unknown.
    """

    def perturb(plan: Plan, rng: np.random.Generator) -> None:
        latest = _d(rng, 10, 150)
        flag = V.NEGATIVE if older_positive and rng.random() < 0.5 else 0
        value = float(rng.integers(low, high + 1))
        plan.slots["pla2r"] = [lab(V.ANTI_PLA2R, latest, value, 0, "RU/mL", value_concept=flag)]
        if older_positive and rng.random() < 0.5:
            plan.slots["pla2r"].append(
                lab(V.ANTI_PLA2R, latest + _d(rng, 200, 700), _u(rng, 40, 200, 0), 0, "RU/mL")
            )

    return perturb


def _secondary_mn(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "mn", concept=36716200)


def _malignancy_mn(plan: Plan, rng: np.random.Generator) -> None:
    set_first(plan, "mn", concept=36716176)


# ------------------------------------------------------------------ the scenario list
def _s(
    name: str,
    status: str,
    failed: tuple[str, ...],
    unknown: tuple[str, ...],
    perturb: Callable[[Plan, np.random.Generator], None],
    what: str,
) -> Scenario:
    return Scenario(name, name.split("_")[0], status, failed, unknown, perturb, what)


SCENARIOS: tuple[Scenario, ...] = (
    _s("ln_eligible", "eligible", (), (), _none, "clean LN template"),
    _s("ln_eligible_units", "eligible", (), (), _mixed_units, "mixed and unmapped units"),
    _s(
        "ln_eligible_products", "eligible", (), (), _products, "clinical-drug products, end dates from supply"
    ),
    _s(
        "ln_eligible_stale",
        "eligible",
        (),
        (),
        _stale_and_future,
        "contradicting stale labs, superseded in-window eGFR 40, future-dated eGFR/UPCR/MI",
    ),
    _s("ln_eligible_heart_failure", "eligible", (), (), _heart_failure, "HF -> gen_exc_8_4 review"),
    _s(
        "ln_eligible_obs_dsdna",
        "eligible",
        (),
        (),
        _obs_sle_dsdna_creatinine,
        "SLE in observation, anti-dsDNA positive, eGFR derived from creatinine umol/L",
    ),
    _s("ln_possible_no_qtc", "possible", (), ("gen_exc_8_5",), _drop("qtc"), "no QTc"),
    _s("ln_possible_stale_upcr", "possible", (), ("ln_inc_3",), _stale_upcr, "UPCR only > 90 days ago"),
    _s("ln_possible_bad_upcr_unit", "possible", (), ("ln_inc_3",), _upcr_bad_unit, "UPCR in mmol/L"),
    _s(
        "ln_possible_no_renal_function",
        "possible",
        (),
        ("gen_exc_1",),
        _drop("egfr", "creat"),
        "no eGFR, no creatinine",
    ),
    _s(
        "ln_possible_missing_liver_lab",
        "possible",
        (),
        ("gen_exc_5",),
        _drop_one_liver_lab,
        "one of AST/ALT/bilirubin missing",
    ),
    _s("ln_ineligible_egfr_low", "ineligible", ("gen_exc_1",), (), _egfr_low, "eGFR 20-38 recent"),
    _s(
        "ln_ineligible_derived_egfr_low",
        "ineligible",
        ("gen_exc_1",),
        (),
        _derived_egfr_low,
        "creatinine 2.8-4.0 mg/dL, no recent eGFR",
    ),
    _s("ln_ineligible_age_70", "ineligible", ("gen_inc_1",), (), _age(70), "age 70"),
    _s(
        "ln_ineligible_upcr_low",
        "ineligible",
        ("ln_inc_3",),
        (),
        _upcr_low(0.5, 1.2),
        "UPCR 0.5-1.2, no 24 h protein",
    ),
    _s(
        "ln_ineligible_recent_24h_low",
        "ineligible",
        ("ln_inc_3",),
        (),
        _protein_recent(0.4, 1.2, (1.8, 5.0)),
        "UPCR 1.8-5.0 then a more recent 24 h protein 0.4-1.2 g/day",
    ),
    _s(
        "ln_ineligible_one_therapy",
        "ineligible",
        ("ln_inc_5",),
        (),
        _one_therapy_label,
        "MMF + mycophenolic acid only (one label)",
    ),
    _s("ln_ineligible_old_biopsy", "ineligible", ("ln_inc_2",), (), _old_biopsy, "biopsy 250-400 days ago"),
    _s(
        "ln_ineligible_aps",
        "ineligible",
        ("ln_exc_1",),
        (),
        _add("aps", lambda r: cond(4098292, _d(r, 100, 1500))),
        "antiphospholipid syndrome",
    ),
    _s(
        "ln_ineligible_recent_rituximab",
        "ineligible",
        ("gen_exc_18",),
        (),
        _add("rtx", _recent_rituximab),
        "rituximab 20-80 days ago",
    ),
    _s(
        "ln_ineligible_recent_mi",
        "ineligible",
        ("gen_exc_8_2",),
        (),
        _add("mi", lambda r: cond(4329847, _d(r, 10, 70))),
        "MI 10-70 days ago",
    ),
    _s(
        "ln_ineligible_alt_high",
        "ineligible",
        ("gen_exc_5",),
        (),
        _alt_high,
        "ALT 150-300 U/L, range_high 40",
    ),
    _s(
        "ln_ineligible_low_platelets",
        "ineligible",
        ("gen_exc_7",),
        (),
        _low_platelets,
        "platelets 50-90 10^3/uL",
    ),
    _s("ln_ineligible_deceased", "ineligible", ("sys_alive",), (), _deceased, "died 2 days before as-of"),
    _s("pmn_eligible", "eligible", (), (), _none, "clean pMN template"),
    _s(
        "pmn_eligible_noise",
        "eligible",
        (),
        (),
        _pmn_noise,
        "products, UPCR mg/mmol, unmapped units, creatinine-only eGFR",
    ),
    _s("pmn_possible_no_pla2r", "possible", (), ("pmn_inc_3",), _drop("pla2r"), "no anti-PLA2R"),
    _s("pmn_possible_no_qtc", "possible", (), ("gen_exc_8_5",), _drop("qtc"), "no QTc"),
    _s(
        "pmn_ineligible_pla2r_negative",
        "ineligible",
        ("pmn_inc_3",),
        (),
        _pla2r(2, 12, True),
        "latest PLA2R 2-12 RU/mL (some with an older positive)",
    ),
    _s(
        "pmn_ineligible_pla2r_borderline",
        "ineligible",
        ("pmn_inc_3",),
        (),
        _pla2r(14, 19, False),
        "PLA2R 14-19 RU/mL",
    ),
    _s(
        "pmn_ineligible_upcr_low",
        "ineligible",
        ("pmn_inc_2",),
        (),
        _upcr_low(1.6, 2.6),
        "UPCR 1.6-2.6, no 24 h protein",
    ),
    _s(
        "pmn_eligible_recent_24h",
        "eligible",
        (),
        (),
        _protein_recent(4.0, 8.0, (1.6, 2.6)),
        "UPCR 1.6-2.6 then a more recent 24 h protein 4-8 g/day",
    ),
    _s(
        "pmn_ineligible_secondary_mn",
        "ineligible",
        ("gen_exc_10", "pmn_exc_1", "pmn_inc_1"),
        (),
        _secondary_mn,
        "drug-induced MN instead of primary",
    ),
    _s(
        "pmn_ineligible_malignancy_mn",
        "ineligible",
        ("gen_exc_10", "pmn_exc_1", "pmn_inc_1"),
        (),
        _malignancy_mn,
        "malignancy-associated MN instead of primary (a secondary cause, pmn_exc_1)",
    ),
    _s(
        "pmn_ineligible_hepatitis_b_form",
        "ineligible",
        ("gen_exc_13", "pmn_exc_1"),
        (),
        _add("hbv", lambda r: cond(4308946, _d(r, 200, 2000))),
        "hepatic coma due to chronic hepatitis B: a descendant form reached only through the shipped ancestor rows",
    ),
    _s(
        "pmn_eligible_old_malignancy",
        "eligible",
        (),
        (),
        _add("old_cancer", lambda r: cond(443392, _d(r, 2200, 4000))),
        "malignancy 6-11 years ago: gen_exc_14 passes, pmn_exc_2 goes to review",
    ),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def plan_for(s: Scenario, rng: np.random.Generator) -> Plan:
    plan = (ln_plan if s.cohort == "ln" else pmn_plan)(rng)
    s.perturb(plan, rng)
    return plan


def declared(s: Scenario, cohort: str) -> tuple[str, tuple[str, ...], tuple[str, ...], bool]:
    """(status, failed, unknown, planted) of a scenario's person in `cohort`.

    In the other cohort the person is ineligible: an LN patient has no membranous nephropathy (pmn_inc_1
    fails) and has SLE (pmn_exc_1 fails)
    and no PLA2R (pmn_inc_3 unknown); a pMN patient has no SLE, no LN class, one therapy label (ln_inc_1, 2, 5
    fail) and no ANA/anti-dsDNA (ln_inc_4 unknown). Those rows list only what is certain (planted=false).
    """
    if cohort == s.cohort:
        return s.status, s.failed, s.unknown, True
    general_failed = {c for c in s.failed if c.startswith(GENERAL_PREFIXES)}
    general_unknown = {c for c in s.unknown if c.startswith(GENERAL_PREFIXES)}
    if s.cohort == "ln":  # and SLE, a secondary cause of membranous nephropathy
        failed, unknown = {"pmn_exc_1", "pmn_inc_1"}, {"pmn_inc_3"}
    else:
        failed, unknown = {"ln_inc_1", "ln_inc_2", "ln_inc_5"}, {"ln_inc_4"}
    return (
        "ineligible",
        tuple(sorted(failed | general_failed)),
        tuple(sorted(unknown | general_unknown)),
        False,
    )


def foreign(failed_elsewhere: tuple[str, ...], cohort: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(failed, unknown) certain in `cohort` for a person planted for another trial: like a background person
    (no SLE, LN/MN diagnosis, kidney biopsy or LN/pMN therapy in those templates); a death fails sys_alive."""
    return tuple(sorted(set(BACKGROUND_FAILED[cohort]) | ({"sys_alive"} & set(failed_elsewhere)))), ()
