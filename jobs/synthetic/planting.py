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

from jobs.synthetic import vocab as V
from jobs.synthetic.background import SITES, IdAllocator, People, age_at, birth_parts, labels
from jobs.synthetic.noise import noise_events
from jobs.synthetic.tables import build, date_array, datetime_array, masked


@dataclass
class Ev:
    """One planted event; `d` counts days before the as-of date."""

    table: str  # condition | observation | procedure | drug | measurement
    concept: int
    d: int
    end_d: int | None = None  # drug end (days before as-of); None: no end date recorded
    supply: int | None = None  # drug days_supply
    value: float | None = None
    value_concept: int = 0
    unit: int = 0
    unit_text: str | None = None
    range_high: float | None = None


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


def drug(concept: int, start_d: int, end_d: int | None, supply: int | None = None) -> Ev:
    return Ev("drug", concept, start_d, end_d=end_d, supply=supply)


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
    visit_person, visit_day = [], []
    for i, plan in enumerate(plans):
        days = sorted({e.d for evs in plan.slots.values() for e in evs}, reverse=True)
        first = len(visit_day)
        visit_person += [i] * len(days)
        visit_day += [asof - d for d in days]
        where = {d: first + k for k, d in enumerate(days)}
        for evs in plan.slots.values():
            for e in evs:
                rows[e.table].append((i, e, where[e.d]))
    vp, vd = np.array(visit_person, np.int64), np.array(visit_day, np.int64)
    vids = ids.take("visit_occurrence", len(vd))
    site = people.care_site[vp]
    out = {
        "visit_occurrence": build(
            "visit_occurrence",
            len(vd),
            {
                "visit_occurrence_id": vids,
                "person_id": people.person_id[vp],
                "visit_concept_id": np.full(len(vd), 9202),
                "visit_start_date": date_array(vd),
                "visit_start_datetime": datetime_array(vd, np.full(len(vd), 32400)),
                "visit_end_date": date_array(vd),
                "visit_end_datetime": datetime_array(vd, np.full(len(vd), 32400)),
                "visit_type_concept_id": np.full(len(vd), V.EHR),
                "care_site_id": masked(site, site == 0),
                "visit_source_value": labels(np.zeros(len(vd)), ["AMB"]),
                "visit_source_concept_id": np.zeros(len(vd)),
            },
        )
    }
    out["condition_occurrence"] = _conditions(rows["condition"], people, vids, asof)
    out["observation"] = _observations(rows["observation"], people, vids, asof)
    out["procedure_occurrence"] = _procedures(rows["procedure"], people, vids, asof)
    out["drug_exposure"] = _drugs(rows["drug"], people, vids, asof)
    out["measurement"] = _measurements(rows["measurement"], people, vids, asof)
    return out


def _common(
    rows: list[tuple[int, Ev, int]], people: People, vids: np.ndarray, asof: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    person = people.person_id[np.array([r[0] for r in rows], np.int64)] if rows else np.zeros(0, np.int64)
    concept = np.array([r[1].concept for r in rows], np.int64)
    day = np.array([asof - r[1].d for r in rows], np.int64)
    visit = vids[np.array([r[2] for r in rows], np.int64)] if rows else np.zeros(0, np.int64)
    return person, concept, day, visit


def _codes(concept: np.ndarray) -> pa.Array:
    return pa.array([V.code_of(int(c)) for c in concept], pa.string())


def _conditions(rows: list[tuple[int, Ev, int]], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    return build(
        "condition_occurrence",
        n,
        {
            "condition_occurrence_id": _ids_placeholder(n),
            "person_id": person,
            "condition_concept_id": concept,
            "condition_start_date": date_array(day),
            "condition_start_datetime": datetime_array(day),
            "condition_type_concept_id": np.full(n, V.EHR),
            "condition_status_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": visit,
            "condition_source_value": _codes(concept),
            "condition_source_concept_id": concept,
        },
    )


def _observations(rows: list[tuple[int, Ev, int]], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    return build(
        "observation",
        n,
        {
            "observation_id": _ids_placeholder(n),
            "person_id": person,
            "observation_concept_id": concept,
            "observation_date": date_array(day),
            "observation_datetime": datetime_array(day),
            "observation_type_concept_id": np.full(n, V.EHR),
            "value_as_concept_id": np.zeros(n, np.int64),
            "unit_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": visit,
            "observation_source_value": _codes(concept),
            "observation_source_concept_id": concept,
        },
    )


def _procedures(rows: list[tuple[int, Ev, int]], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    return build(
        "procedure_occurrence",
        n,
        {
            "procedure_occurrence_id": _ids_placeholder(n),
            "person_id": person,
            "procedure_concept_id": concept,
            "procedure_date": date_array(day),
            "procedure_datetime": datetime_array(day),
            "procedure_end_date": date_array(day),
            "procedure_type_concept_id": np.full(n, V.EHR),
            "modifier_concept_id": np.zeros(n, np.int64),
            "quantity": np.ones(n, np.int64),
            "visit_occurrence_id": visit,
            "procedure_source_value": _codes(concept),
            "procedure_source_concept_id": concept,
        },
    )


def _drugs(rows: list[tuple[int, Ev, int]], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    no_end = np.array([r[1].end_d is None for r in rows], bool)
    end = np.array([asof - (r[1].end_d or 0) for r in rows], np.int64)
    no_supply = np.array([r[1].supply is None for r in rows], bool)
    supply = np.array([r[1].supply or 0 for r in rows], np.int64)
    return build(
        "drug_exposure",
        n,
        {
            "drug_exposure_id": _ids_placeholder(n),
            "person_id": person,
            "drug_concept_id": concept,
            "drug_exposure_start_date": date_array(day),
            "drug_exposure_start_datetime": datetime_array(day),
            "drug_exposure_end_date": pa.array(end.astype(np.int32), pa.int32(), mask=no_end).cast(
                pa.date32()
            ),
            "drug_exposure_end_datetime": pa.array(end * 86_400_000_000, pa.int64(), mask=no_end).cast(
                pa.timestamp("us")
            ),
            "drug_type_concept_id": np.full(n, V.EHR),
            "refills": np.zeros(n, np.int64),
            "quantity": pa.array(supply.astype(np.float64), mask=no_supply),
            "days_supply": masked(supply, no_supply),
            "route_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": visit,
            "drug_source_value": _codes(concept),
            "drug_source_concept_id": concept,
        },
    )


def _measurements(rows: list[tuple[int, Ev, int]], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    evs = [r[1] for r in rows]
    value = np.array([np.nan if e.value is None else e.value for e in evs])
    high = np.array([np.nan if e.range_high is None else e.range_high for e in evs])
    return build(
        "measurement",
        n,
        {
            "measurement_id": _ids_placeholder(n),
            "person_id": person,
            "measurement_concept_id": concept,
            "measurement_date": date_array(day),
            "measurement_datetime": datetime_array(day, np.full(n, 32400)),
            "measurement_type_concept_id": np.full(n, V.EHR),
            "operator_concept_id": np.zeros(n, np.int64),
            "value_as_number": pa.array(value, mask=np.isnan(value)),
            "value_as_concept_id": np.array([e.value_concept for e in evs], np.int64),
            "unit_concept_id": np.array([e.unit for e in evs], np.int64),
            "range_high": pa.array(high, mask=np.isnan(high)),
            "visit_occurrence_id": visit,
            "measurement_source_value": _codes(concept),
            "measurement_source_concept_id": concept,
            "unit_source_value": pa.array([e.unit_text for e in evs], pa.string()),
            "value_source_value": pa.array(
                [None if e.value is None else f"{e.value:g}" for e in evs], pa.string()
            ),
        },
    )


def _ids_placeholder(n: int) -> np.ndarray:
    """Event ids are assigned when the chunk's tables are put together (so they follow the background's)."""
    return np.zeros(n, np.int64)
