"""The planting language: a planted person is a Plan (demographics plus named slots of events), a Scenario
perturbs a trial's clean template and DECLARES its expected outcome; `planted_tables` turns plans into OMOP
rows (one visit per event date) beside safe background noise.

Dates are planted as `d` = days before the as-of date (negative = after it). Per-person Python is fine here:
planted persons are at most a few percent of the population. Nothing here evaluates a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from jobs.synthetic import planted_rows as R
from jobs.synthetic import vocab as V
from jobs.synthetic.background import SITES, IdAllocator, People, age_at, birth_parts
from jobs.synthetic.noise import noise_events
from jobs.synthetic.planted_rows import Ev
from jobs.synthetic.tables import build, date_array, datetime_array, masked


@dataclass
class Plan:
    """A planted person: demographics plus named slots of events a perturbation can replace or drop."""

    female: bool
    age: int
    dead_d: int | None = None
    slots: dict[str, list[Ev]] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    cohort: str  # ln | pmn
    status: str  # eligible | possible | ineligible
    failed: tuple[str, ...]
    unknown: tuple[str, ...]
    perturb: Callable[[Plan, np.random.Generator], None]
    what: str


# ------------------------------------------------------------------ event helpers
def cond(concept: int, d: int, table: str = "condition") -> Ev:
    return Ev(table, concept, d)


def proc(concept: int, d: int) -> Ev:
    return Ev("procedure", concept, d)


def drug(concept: int, start_d: int, end_d: int | None, supply: int | None = None,
         quantity: float | None = None) -> Ev:
    return Ev("drug", concept, start_d, end_d=end_d, supply=supply, quantity=quantity)


def obs_value(concept: int, d: int, value: float | None = None, value_concept: int = 0) -> Ev:
    """An observation with a recorded value (a number or an answer concept), e.g. NYHA class."""
    return Ev("observation", concept, d, value=value, value_concept=value_concept)


def lab(
    concept: int,
    d: int,
    value: float | None,
    unit: int,
    unit_text: str | None,
    range_high: float | None = None,
    value_concept: int = 0,
) -> Ev:
    return Ev(
        "measurement",
        concept,
        d,
        value=value,
        unit=unit,
        unit_text=unit_text,
        range_high=range_high,
        value_concept=value_concept,
    )


def uniform(rng: np.random.Generator, lo: float, hi: float, decimals: int = 1) -> float:
    return round(float(rng.uniform(lo, hi)), decimals)


def days(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(rng.integers(lo, hi + 1))


def set_first(plan: Plan, slot: str, **changes: object) -> None:
    """Change the first event of a slot."""
    plan.slots[slot][0] = replace(plan.slots[slot][0], **changes)


def value_of(plan: Plan, slot: str) -> float:
    value = plan.slots[slot][0].value
    assert value is not None
    return value


# ------------------------------------------------------------------ plans -> tables
def planted_tables(
    person_ids: np.ndarray, plans: list[Plan], rng: np.random.Generator, ids: IdAllocator, asof: int
) -> tuple[People, dict[str, pa.Table]]:
    """Persons, their planted events (one visit per event date) and safe Synthea-like noise."""
    people = _people(person_ids, plans, rng, asof)
    tables = noise_events(people, rng, ids, safe=True)
    planted = _event_tables(people, plans, ids, asof)
    for name, t in planted.items():
        tables[name] = pa.concat_tables([tables[name], t])
    return people, tables


def _people(person_ids: np.ndarray, plans: list[Plan], rng: np.random.Generator, asof: int) -> People:
    n = len(plans)
    asof_y, asof_m, asof_d = (int(x[0]) for x in birth_parts(np.array([asof])))
    births = []
    for plan in plans:
        m, d = int(rng.integers(1, 13)), int(rng.integers(1, 29))
        year = asof_y - plan.age - (1 if (m, d) > (asof_m, asof_d) else 0)
        births.append(
            (np.datetime64(f"{year:04d}-{m:02d}-{d:02d}", "D") - np.datetime64("1970-01-01", "D")).astype(
                np.int64
            )
        )
    birth = np.array(births, np.int64)
    assert (age_at(birth, np.full(n, asof)) == [p.age for p in plans]).all()
    oldest = np.array([max(e.d for evs in p.slots.values() for e in evs) for p in plans])
    dead = np.array([-1 if p.dead_d is None else asof - p.dead_d for p in plans], np.int64)
    site = np.where(rng.random(n) < 0.1, 0, rng.integers(1, len(SITES) + 1, n))
    return People(
        person_id=person_ids,
        female=np.array([p.female for p in plans]),
        birth_day=birth,
        race=np.array([8527, 8516, 8515, 0], np.int64)[rng.choice(4, n, p=[0.6, 0.25, 0.1, 0.05])],
        ethnicity=np.where(rng.random(n) < 0.2, 38003563, 38003564).astype(np.int64),
        care_site=site,
        location=site,
        death_day=dead,
        obs_start=asof - np.maximum(oldest + rng.integers(30, 400, n), 4 * 365),
        obs_end=np.where(dead >= 0, dead, asof),
    )


def _event_tables(people: People, plans: list[Plan], ids: IdAllocator, asof: int) -> dict[str, pa.Table]:
    """Rows of every planted event, each on a visit of its own date."""
    rows: dict[str, list[tuple[int, Ev, int]]] = {
        k: [] for k in ("condition", "observation", "procedure", "drug", "measurement")
    }
    visit_person, visit_day, visit_kind = [], [], []
    for i, plan in enumerate(plans):
        keys = sorted({(e.d, e.visit) for evs in plan.slots.values() for e in evs}, key=lambda k: (-k[0], k[1]))
        first = len(visit_day)
        visit_person += [i] * len(keys)
        visit_day += [asof - d for d, _ in keys]
        visit_kind += [v for _, v in keys]
        where = {k: first + n for n, k in enumerate(keys)}
        for evs in plan.slots.values():
            for e in evs:
                rows[e.table].append((i, e, where[(e.d, e.visit)]))
    vp, vd = np.array(visit_person, np.int64), np.array(visit_day, np.int64)
    vk = np.array(visit_kind, np.int64)
    vids = ids.take("visit_occurrence", len(vd))
    site = people.care_site[vp]
    out = {
        "visit_occurrence": build(
            "visit_occurrence",
            len(vd),
            {
                "visit_occurrence_id": vids,
                "person_id": people.person_id[vp],
                "visit_concept_id": vk,
                "visit_start_date": date_array(vd),
                "visit_start_datetime": datetime_array(vd, np.full(len(vd), 32400)),
                "visit_end_date": date_array(vd),
                "visit_end_datetime": datetime_array(vd, np.full(len(vd), 32400)),
                "visit_type_concept_id": np.full(len(vd), V.EHR),
                "care_site_id": masked(site, site == 0),
                "visit_source_value": pa.array([R.VISIT_CODE.get(int(k), "AMB") for k in vk], pa.string()),
                "visit_source_concept_id": np.zeros(len(vd)),
            },
        )
    }
    out["condition_occurrence"] = R.conditions(rows["condition"], people, vids, asof)
    out["observation"] = R.observations(rows["observation"], people, vids, asof)
    out["procedure_occurrence"] = R.procedures(rows["procedure"], people, vids, asof)
    out["drug_exposure"] = R.drugs(rows["drug"], people, vids, asof)
    out["measurement"] = R.measurements(rows["measurement"], people, vids, asof)
    return out
