"""Synthea-like events hung on visits: concept pools, analytes, and the noise every person gets.

`safe=True` pools hold no concept any shipped trial's criterion looks at, so noise around a planted patient
never changes its outcome; background pools never hold SLE, lupus nephritis, membranous nephropathy, a kidney
biopsy, an LN/pMN therapy, metformin or an albuminuria diagnosis (what lets the ground truth declare
background persons ineligible for every shipped trial by construction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jobs.synthetic import vocab as V
from jobs.synthetic.background import YEAR, IdAllocator, People, age_at, ckd_epi_2021, labels, uniform_days
from jobs.synthetic.tables import build, date_array, datetime_array, masked


# ------------------------------------------------------------------ concept pools
@dataclass(frozen=True)
class Pool:
    """Concepts drawn with weights; `span` is the event's length in days (0: no end date recorded)."""

    ids: np.ndarray
    weights: np.ndarray
    span: np.ndarray

    @staticmethod
    def of(rows: list[tuple[int, float, int]]) -> Pool:
        ids, w, span = zip(*rows, strict=True)
        w = np.asarray(w, dtype=np.float64)
        return Pool(np.asarray(ids, np.int64), w / w.sum(), np.asarray(span, np.int64))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.ids), n, p=self.weights)

    def codes(self) -> list[str]:
        return [V.code_of(int(c)) for c in self.ids]


PREGNANCY = 4217975
SAFE_CONDITIONS = [
    (40481087, 16, 14),
    (4112343, 10, 10),
    (260139, 7, 14),
    (4251306, 12, 0),
    (320128, 10, 0),
    (432867, 6, 0),
    (372328, 5, 10),
    (4132891, 4, 0),
    (439777, 4, 0),
]
CONDITIONS = {
    True: Pool.of(SAFE_CONDITIONS),
    False: Pool.of(
        SAFE_CONDITIONS
        + [
            (201826, 5, 0),  # type 2 diabetes: SURPASS-2 (NCT03987919) looks at it, so not around planted persons
            (317009, 2, 0),
            (4051466, 2, 0),
            (PREGNANCY, 4, 270),
            (37311061, 3, 14),
            (443614, 1, 0),
            (443601, 1, 0),
            (443597, 1, 0),
            (317576, 1, 0),
            (4229440, 1, 0),
            (4329847, 0.5, 0),
            (255573, 1, 0),
            (443392, 0.5, 0),
            (4064161, 0.3, 0),
            (193782, 0.2, 0),
        ]
    ),
}
SAFE_DRUGS = [(19078106, 15, 90), (19073094, 10, 90), (1539463, 10, 90), (1127433, 15, 10), (1511248, 13, 30)]
DRUGS = {
    True: Pool.of(SAFE_DRUGS),
    False: Pool.of(
        SAFE_DRUGS
        + [(19080128, 12, 90), (19080129, 5, 90), (40185280, 6, 90), (40185304, 4, 90), (1551170, 5, 14)]
    ),
}
SAFE_PROCEDURES = [
    (46272459, 18, 0),
    (762506, 14, 0),
    (4326177, 12, 0),
    (4107731, 10, 0),
    (46272472, 9, 0),
    (4295880, 6, 0),
    (4240345, 4, 0),
    (4163872, 2, 0),
    (4230911, 1, 0),
    (4249893, 1, 0),
]
PROCEDURES = {
    True: Pool.of(SAFE_PROCEDURES),
    False: Pool.of(SAFE_PROCEDURES + [(4146536, 0.2, 0), (4336464, 0.2, 0)]),
}
OBSERVATIONS = Pool.of(
    [
        (43054909, 3, 0),
        (42869557, 1, 0),
        (40770471, 1, 0),
        (37020116, 1, 0),
        (40758030, 1, 0),
        (46235654, 1, 0),
        (4053118, 1, 0),
    ]
)
OBS_TEXT = [
    ["Never smoked tobacco", "Former smoker", "Current every day smoker"],
    ["I have housing", "I have housing", "I do not have housing"],
    ["Full-time work", "Part-time or temporary work", "Unemployed"],
    ["Not at all", "A little bit", "Somewhat"],
    ["English", "English", "Spanish"],
    ["Medicare", "Medicaid", "Private insurance"],
    ["Full-time employment", "Full-time employment", "Full-time employment"],
]


@dataclass(frozen=True)
class Analyte:
    """A lab or vital: how Synthea-like data would record it and a plausible value distribution."""

    concept: int
    unit: int
    unit_text: str
    mean: float
    sd: float
    lo: float
    hi: float
    decimals: int = 1
    range_high: float | None = None


SBP = Analyte(3004249, 8876, "mm[Hg]", 122, 15, 85, 210, 0)
DBP = Analyte(3012888, 8876, "mm[Hg]", 78, 10, 45, 125, 0)
HEART_RATE = Analyte(3027018, 8541, "/min", 75, 12, 40, 160, 0)
WEIGHT = Analyte(3025315, 9529, "kg", 75, 15, 3, 180, 1)
GLUCOSE = Analyte(3000483, 8840, "mg/dL", 95, 20, 50, 400, 1)
SODIUM = Analyte(3000285, 8753, "mmol/L", 139, 2.5, 120, 155, 1)
POTASSIUM = Analyte(3005456, 8753, "mmol/L", 4.2, 0.4, 2.8, 6.5, 1)
WBC = Analyte(3000905, 8848, "10*3/uL", 7, 2, 1, 30, 1)
HGB = Analyte(3000963, 8713, "g/dL", 13.5, 1.5, 6, 19, 1)
PLT = Analyte(3024929, 8848, "10*3/uL", 260, 60, 20, 800, 0)
ANC = Analyte(3013650, 8848, "10*3/uL", 4.2, 1.5, 0.3, 20, 1)
ALT = Analyte(3006923, 0, "U/L", 24, 10, 5, 400, 1, 40)
AST = Analyte(3013721, 0, "U/L", 25, 9, 5, 400, 1, 40)
BILI = Analyte(3024128, 8840, "mg/dL", 0.6, 0.25, 0.1, 8, 1, 1.2)
SPO2 = Analyte(3016502, 8554, "%", 97, 1.5, 80, 100, 0)
RESP_RATE = Analyte(3024171, 8541, "/min", 16, 2.5, 8, 40, 0)

# (analytes, probability that a visit carries the panel)
# safe: no weight (SURPASS-2 reads weight series and BMI); respiratory rate keeps the panel's shape
PANELS_SAFE = [([HEART_RATE, RESP_RATE], 0.55), ([GLUCOSE, SODIUM, POTASSIUM], 0.12)]
PANELS_FULL = [
    ([SBP, DBP, HEART_RATE, WEIGHT], 0.55),
    ([WBC, HGB, PLT, ANC], 0.10),
    ([ALT, AST, BILI], 0.05),
    ([SPO2], 0.05),
]


# ------------------------------------------------------------------ events
@dataclass
class Visits:
    """Visits of a group of people, and how to hang events on them."""

    ids: np.ndarray
    person_idx: np.ndarray
    day: np.ndarray
    seconds: np.ndarray
    first: np.ndarray  # per person: index of the person's first visit
    count: np.ndarray  # per person: number of visits

    def pick(self, rng: np.random.Generator, person_idx: np.ndarray) -> np.ndarray:
        """A random visit (index) of each event's person."""
        return self.first[person_idx] + np.floor(rng.random(len(person_idx)) * self.count[person_idx]).astype(
            np.int64
        )


def make_visits(
    p: People, rng: np.random.Generator, ids: IdAllocator, mean: float = 10.0
) -> tuple[Visits, pa.Table]:
    """About `mean` visits per person over the last three observed years."""
    count = 1 + rng.poisson(mean - 1, len(p))
    person_idx = np.repeat(np.arange(len(p)), count)
    first = np.cumsum(count) - count
    hi = p.obs_end[person_idx]
    lo = np.maximum(p.obs_start[person_idx], hi - 3 * YEAR)
    day = uniform_days(rng, lo, hi)
    seconds = rng.integers(8 * 3600, 18 * 3600, len(day)) // 60 * 60
    kind = rng.choice(3, len(day), p=[0.92, 0.05, 0.03])
    end = np.minimum(day + np.where(kind == 2, rng.integers(1, 6, len(day)), 0), np.maximum(hi, day))
    v = Visits(ids.take("visit_occurrence", len(day)), person_idx, day, seconds, first, count)
    no_site = p.care_site[person_idx] == 0
    table = build(
        "visit_occurrence",
        len(day),
        {
            "visit_occurrence_id": v.ids,
            "person_id": p.person_id[person_idx],
            "visit_concept_id": np.array([9202, 9203, 9201], np.int64)[kind],
            "visit_start_date": date_array(day),
            "visit_start_datetime": datetime_array(day, seconds),
            "visit_end_date": date_array(end),
            "visit_end_datetime": datetime_array(end, seconds),
            "visit_type_concept_id": np.full(len(day), V.EHR),
            "care_site_id": masked(p.care_site[person_idx], no_site),
            "visit_source_value": labels(kind, ["AMB", "EMER", "IMP"]),
            "visit_source_concept_id": np.zeros(len(day)),
        },
    )
    return v, table


def _events(p: People, v: Visits, rng: np.random.Generator, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """Event rows: (person index, visit index) for about `mean` events per person."""
    n = rng.poisson(mean, len(p))
    person_idx = np.repeat(np.arange(len(p)), n)
    return person_idx, v.pick(rng, person_idx)


def conditions(p: People, v: Visits, rng: np.random.Generator, safe: bool) -> pa.Table:
    pool = CONDITIONS[safe]
    pi, vi = _events(p, v, rng, 7.0)
    k = pool.draw(rng, len(pi))
    if not safe:  # pregnancy only for women of child-bearing age; others get a sinusitis instead
        preg = pool.ids[k] == PREGNANCY
        age = age_at(p.birth_day[pi], v.day[vi])
        k = np.where(preg & ~(p.female[pi] & (age >= 15) & (age <= 45)), 0, k)
    day, span = v.day[vi], pool.span[k]
    end = day + span
    n = len(pi)
    return build(
        "condition_occurrence",
        n,
        {
            "condition_occurrence_id": np.zeros(n, np.int64),
            "person_id": p.person_id[pi],
            "condition_concept_id": pool.ids[k],
            "condition_start_date": date_array(day),
            "condition_start_datetime": datetime_array(day, v.seconds[vi]),
            "condition_end_date": pa.array(end.astype(np.int32), pa.int32(), mask=span == 0).cast(
                pa.date32()
            ),
            "condition_end_datetime": pa.array(end * 86_400_000_000, pa.int64(), mask=span == 0).cast(
                pa.timestamp("us")
            ),
            "condition_type_concept_id": np.full(n, V.EHR),
            "condition_status_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": v.ids[vi],
            "condition_source_value": labels(k, pool.codes()),
            "condition_source_concept_id": pool.ids[k],
        },
    )


def drugs(p: People, v: Visits, rng: np.random.Generator, safe: bool) -> pa.Table:
    pool = DRUGS[safe]
    pi, vi = _events(p, v, rng, 7.0)
    k = pool.draw(rng, len(pi))
    n = len(pi)
    day = v.day[vi]
    supply = np.where((pool.span[k] == 90) & (rng.random(n) < 0.5), 30, pool.span[k])
    end = day + supply - 1
    no_end = rng.random(n) < 0.15  # the reader derives the end from days_supply
    return build(
        "drug_exposure",
        n,
        {
            "drug_exposure_id": np.zeros(n, np.int64),
            "person_id": p.person_id[pi],
            "drug_concept_id": pool.ids[k],
            "drug_exposure_start_date": date_array(day),
            "drug_exposure_start_datetime": datetime_array(day, v.seconds[vi]),
            "drug_exposure_end_date": pa.array(end.astype(np.int32), pa.int32(), mask=no_end).cast(
                pa.date32()
            ),
            "drug_exposure_end_datetime": pa.array(end * 86_400_000_000, pa.int64(), mask=no_end).cast(
                pa.timestamp("us")
            ),
            "drug_type_concept_id": np.full(n, V.EHR),
            "refills": rng.integers(0, 4, n),
            "quantity": supply.astype(np.float64),
            "days_supply": supply,
            "route_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": v.ids[vi],
            "drug_source_value": labels(k, pool.codes()),
            "drug_source_concept_id": pool.ids[k],
        },
    )


def procedures(p: People, v: Visits, rng: np.random.Generator, safe: bool) -> pa.Table:
    pool = PROCEDURES[safe]
    pi, vi = _events(p, v, rng, 7.0)
    k = pool.draw(rng, len(pi))
    n = len(pi)
    day = v.day[vi]
    return build(
        "procedure_occurrence",
        n,
        {
            "procedure_occurrence_id": np.zeros(n, np.int64),
            "person_id": p.person_id[pi],
            "procedure_concept_id": pool.ids[k],
            "procedure_date": date_array(day),
            "procedure_datetime": datetime_array(day, v.seconds[vi]),
            "procedure_end_date": date_array(day),
            "procedure_type_concept_id": np.full(n, V.EHR),
            "modifier_concept_id": np.zeros(n, np.int64),
            "quantity": np.ones(n, np.int64),
            "visit_occurrence_id": v.ids[vi],
            "procedure_source_value": labels(k, pool.codes()),
            "procedure_source_concept_id": pool.ids[k],
        },
    )


def observations(p: People, v: Visits, rng: np.random.Generator) -> pa.Table:
    pool = OBSERVATIONS
    pi, vi = _events(p, v, rng, 10.0)
    k = pool.draw(rng, len(pi))
    n = len(pi)
    day = v.day[vi]
    variant = rng.integers(0, 3, n)
    texts = [t for row in OBS_TEXT for t in row]
    return build(
        "observation",
        n,
        {
            "observation_id": np.zeros(n, np.int64),
            "person_id": p.person_id[pi],
            "observation_concept_id": pool.ids[k],
            "observation_date": date_array(day),
            "observation_datetime": datetime_array(day, v.seconds[vi]),
            "observation_type_concept_id": np.full(n, V.EHR),
            "value_as_string": labels(k * 3 + variant, texts),
            "value_as_concept_id": np.zeros(n, np.int64),
            "unit_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": v.ids[vi],
            "observation_source_value": labels(k, pool.codes()),
            "observation_source_concept_id": pool.ids[k],
        },
    )


def measurements(p: People, v: Visits, rng: np.random.Generator, safe: bool) -> pa.Table:
    """Panels per visit (vitals, CBC, liver, chemistry with creatinine and a Synthea-style eGFR)."""
    parts: list[dict[str, np.ndarray]] = []
    for analytes, prob in PANELS_SAFE if safe else PANELS_FULL:
        chosen = np.flatnonzero(rng.random(len(v.day)) < prob)
        for a in analytes:
            parts.append(_analyte_rows(a, chosen, p, v, rng))
    if not safe:
        parts += _renal_panel(np.flatnonzero(rng.random(len(v.day)) < 0.12), p, v, rng)
    cols = {k: np.concatenate([x[k] for x in parts]) for k in parts[0]}
    n = len(cols["concept"])
    no_range = np.isnan(cols["range_high"])
    return build(
        "measurement",
        n,
        {
            "measurement_id": np.zeros(n, np.int64),
            "person_id": p.person_id[cols["person_idx"]],
            "measurement_concept_id": cols["concept"],
            "measurement_date": date_array(cols["day"]),
            "measurement_datetime": datetime_array(cols["day"], cols["seconds"]),
            "measurement_type_concept_id": np.full(n, V.EHR),
            "operator_concept_id": np.zeros(n, np.int64),
            "value_as_number": cols["value"],
            "value_as_concept_id": np.zeros(n, np.int64),
            "unit_concept_id": cols["unit"],
            "range_high": pa.array(cols["range_high"], mask=no_range),
            "visit_occurrence_id": cols["visit_id"],
            "measurement_source_value": labels(cols["code_idx"], MEAS_CODES),
            "measurement_source_concept_id": cols["concept"],
            "unit_source_value": labels(cols["unit_idx"], UNIT_TEXTS),
        },
    )


def _rows(a: Analyte, chosen: np.ndarray, v: Visits, value: np.ndarray) -> dict[str, np.ndarray]:
    """Measurement columns for one analyte measured at the chosen visits."""
    n = len(chosen)
    return {
        "person_idx": v.person_idx[chosen],
        "visit_id": v.ids[chosen],
        "day": v.day[chosen],
        "seconds": v.seconds[chosen],
        "concept": np.full(n, a.concept, np.int64),
        "value": value,
        "unit": np.full(n, a.unit, np.int64),
        "unit_idx": np.full(n, UNIT_TEXTS.index(a.unit_text), np.int32),
        "code_idx": np.full(n, MEAS_CODES.index(V.code_of(a.concept)), np.int32),
        "range_high": np.full(n, np.nan if a.range_high is None else a.range_high),
    }


def _analyte_rows(
    a: Analyte, chosen: np.ndarray, p: People, v: Visits, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    value = np.round(np.clip(rng.normal(a.mean, a.sd, len(chosen)), a.lo, a.hi), a.decimals)
    if a is HGB:
        value = np.round(value - 1.0 * p.female[v.person_idx[chosen]], 1)
    return _rows(a, chosen, v, value)


CREAT_BLOOD = Analyte(3051825, 8840, "mg/dL", 0.9, 0.2, 0.3, 12, 2)
CREAT_SERUM = Analyte(3016723, 8840, "mg/dL", 0.9, 0.2, 0.3, 12, 2)
EGFR_SYNTHEA = Analyte(3030354, 0, "mL/min/{1.73_m2}", 90, 20, 3, 150, 0)
ANALYTES = (
    SBP,
    DBP,
    HEART_RATE,
    RESP_RATE,
    WEIGHT,
    GLUCOSE,
    SODIUM,
    POTASSIUM,
    WBC,
    HGB,
    PLT,
    ANC,
    ALT,
    AST,
    BILI,
    SPO2,
    CREAT_BLOOD,
    CREAT_SERUM,
    EGFR_SYNTHEA,
)
UNIT_TEXTS = sorted({a.unit_text for a in ANALYTES})
MEAS_CODES = sorted({V.code_of(a.concept) for a in ANALYTES})


def _renal_panel(
    chosen: np.ndarray, p: People, v: Visits, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """Creatinine (blood or serum) with an eGFR computed from it, as Synthea's metabolic panel."""
    n = len(chosen)
    pi = v.person_idx[chosen]
    scr = np.exp(rng.normal(np.log(0.85), 0.22, n)) * np.where(rng.random(n) < 0.04, rng.uniform(2, 5, n), 1)
    scr = np.round(np.clip(scr, 0.3, 12), 2)
    age = np.maximum(age_at(p.birth_day[pi], v.day[chosen]), 1)
    egfr = np.round(np.clip(ckd_epi_2021(scr, age, p.female[pi]), 3, 150), 0)
    blood = rng.random(n) < 0.7
    out = []
    for analyte, mask in ((CREAT_BLOOD, blood), (CREAT_SERUM, ~blood)):
        out.append(_rows(analyte, chosen[mask], v, scr[mask]))
    with_egfr = rng.random(n) < 0.8
    out.append(_rows(EGFR_SYNTHEA, chosen[with_egfr], v, egfr[with_egfr]))
    return out + [_analyte_rows(a, chosen, p, v, rng) for a in (GLUCOSE, SODIUM, POTASSIUM)]


def noise_events(p: People, rng: np.random.Generator, ids: IdAllocator, safe: bool) -> dict[str, pa.Table]:
    """Visits and the events on them for a group of people."""
    v, visits = make_visits(p, rng, ids)
    return {
        "visit_occurrence": visits,
        "condition_occurrence": conditions(p, v, rng, safe),
        "drug_exposure": drugs(p, v, rng, safe),
        "procedure_occurrence": procedures(p, v, rng, safe),
        "observation": observations(p, v, rng),
        "measurement": measurements(p, v, rng, safe),
    }
