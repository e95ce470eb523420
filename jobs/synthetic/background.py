"""Vectorised Synthea-like persons: ids, demographics, sites, and their person-level tables.

Everything here works on whole arrays of persons (numpy + pyarrow, no per-row Python), so a chunk of 200,000
persons is a few seconds. Their events come from `noise.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from jobs.synthetic import vocab as V
from jobs.synthetic.tables import build, date_array, datetime_array, masked

YEAR = 365


@dataclass
class IdAllocator:
    """Running ids per table, so ids stay unique across chunks (chunks are made in order)."""

    next_id: dict[str, int] = field(default_factory=dict)

    def take(self, table: str, n: int) -> np.ndarray:
        start = self.next_id.get(table, 1)
        self.next_id[table] = start + n
        return np.arange(start, start + n, dtype=np.int64)


@dataclass
class People:
    """Person-level facts as parallel arrays; days are counted from 1970-01-01."""

    person_id: np.ndarray
    female: np.ndarray
    birth_day: np.ndarray
    race: np.ndarray
    ethnicity: np.ndarray
    care_site: np.ndarray  # 0 = none
    location: np.ndarray  # 0 = none
    death_day: np.ndarray  # -1 = alive
    obs_start: np.ndarray
    obs_end: np.ndarray

    def __len__(self) -> int:
        return len(self.person_id)


@dataclass(frozen=True)
class Site:
    care_site_id: int
    name: str
    city: str
    state: str
    zip: str


SITES: tuple[Site, ...] = (
    Site(1, "University of Arkansas for Medical Sciences", "Little Rock", "AR", "72205"),
    Site(2, "UMass Memorial Medical Center", "Worcester", "MA", "01655"),
    Site(3, "Emory University Hospital", "Atlanta", "GA", "30322"),
    Site(4, "Columbia University Irving Medical Center", "New York", "NY", "10032"),
    Site(5, "UF Health Shands Hospital", "Gainesville", "FL", "32610"),
    Site(6, "Houston Methodist Hospital", "Houston", "TX", "77030"),
)

RACES = np.array([8527, 8516, 8515, 0], dtype=np.int64)
RACE_TEXT = ["white", "black", "asian", "other"]


# ------------------------------------------------------------------ small helpers
def labels(index: np.ndarray, values: list[str]) -> pa.Array:
    """Strings chosen by index, built as a dictionary array (cheap for millions of repeated values)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(index, dtype=np.int32)), pa.array(values))


def uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A day uniformly in [lo, hi] per row (hi >= lo)."""
    return lo + np.floor(rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)


def birth_parts(birth_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of a day number."""
    d = birth_day.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months).astype(np.int64) + 1
    return year, month, day


def age_at(birth_day: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whole years from birth to `day` (birthday counted on its date)."""
    by, bm, bd = birth_parts(np.asarray(birth_day))
    y, m, d = birth_parts(np.broadcast_to(np.asarray(day), np.shape(birth_day)))
    return y - by - ((m * 100 + d) < (bm * 100 + bd))


def ckd_epi_2021(scr_mg_dl: np.ndarray, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Race-free CKD-EPI 2021 eGFR (mL/min/1.73m2)."""
    k = np.where(female, 0.7, 0.9)
    a = np.where(female, -0.241, -0.302)
    r = scr_mg_dl / k
    return (
        142 * np.minimum(r, 1) ** a * np.maximum(r, 1) ** -1.200 * 0.9938**age * np.where(female, 1.012, 1.0)
    )


# ------------------------------------------------------------------ persons
def background_people(person_id: np.ndarray, rng: np.random.Generator, asof: int) -> People:
    """Synthea-like demographics: all ages, some deceased, most observed up to the as-of date."""
    n = len(person_id)
    female = rng.random(n) < 0.52
    age_days = np.where(
        rng.random(n) < 0.2, rng.integers(0, 18 * YEAR, n), rng.integers(18 * YEAR, 95 * YEAR, n)
    )
    birth = asof - age_days
    _, m, d = birth_parts(birth)
    birth = birth - ((m == 2) & (d == 29))  # no leap-day birthdays: whole-year age is then unambiguous
    dead = rng.random(n) < np.where(age_days > 70 * YEAR, 0.10, 0.015)
    death = np.where(dead, asof - rng.integers(1, 3 * YEAR, n), -1)
    death = np.where(dead & (death <= birth), birth + 1, death)
    start = np.maximum(birth, asof - rng.integers(YEAR, 12 * YEAR, n))
    end = np.where(rng.random(n) < 0.05, asof - rng.integers(30, 2 * YEAR, n), asof)
    end = np.where(dead, death, np.maximum(end, start))
    site = np.where(rng.random(n) < 0.1, 0, rng.integers(1, len(SITES) + 1, n))
    return People(
        person_id=person_id,
        female=female,
        birth_day=birth,
        race=RACES[rng.choice(4, n, p=[0.7, 0.15, 0.08, 0.07])],
        ethnicity=np.where(rng.random(n) < 0.15, 38003563, 38003564).astype(np.int64),
        care_site=site,
        location=site,
        death_day=death,
        obs_start=start,
        obs_end=end,
    )


def person_tables(p: People, ids: IdAllocator) -> dict[str, pa.Table]:
    """person, observation_period and death rows for these people."""
    n = len(p)
    year, month, day = birth_parts(p.birth_day)
    race_idx = np.searchsorted(np.sort(RACES), p.race)
    race_text = [RACE_TEXT[list(RACES).index(r)] for r in np.sort(RACES)]
    no_site = p.care_site == 0
    person = build(
        "person",
        n,
        {
            "person_id": p.person_id,
            "gender_concept_id": np.where(p.female, V.FEMALE, V.MALE),
            "year_of_birth": year,
            "month_of_birth": month,
            "day_of_birth": day,
            "birth_datetime": datetime_array(p.birth_day),
            "race_concept_id": p.race,
            "ethnicity_concept_id": p.ethnicity,
            "location_id": masked(p.location, no_site),
            "care_site_id": masked(p.care_site, no_site),
            "person_source_value": pa.array(np.char.add("P", p.person_id.astype(str)).astype(object)),
            "gender_source_value": labels(p.female.astype(np.int32), ["M", "F"]),
            "gender_source_concept_id": np.zeros(n, np.int64),
            "race_source_value": labels(race_idx, race_text),
            "race_source_concept_id": np.zeros(n, np.int64),
            "ethnicity_source_value": labels(
                (p.ethnicity == 38003563).astype(np.int32), ["nonhispanic", "hispanic"]
            ),
            "ethnicity_source_concept_id": np.zeros(n, np.int64),
        },
    )
    period = build(
        "observation_period",
        n,
        {
            "observation_period_id": ids.take("observation_period", n),
            "person_id": p.person_id,
            "observation_period_start_date": date_array(p.obs_start),
            "observation_period_end_date": date_array(p.obs_end),
            "period_type_concept_id": np.full(n, V.EHR),
        },
    )
    dead = p.death_day >= 0
    k = int(dead.sum())
    death = build(
        "death",
        k,
        {
            "person_id": p.person_id[dead],
            "death_date": date_array(p.death_day[dead]),
            "death_datetime": datetime_array(p.death_day[dead]),
            "death_type_concept_id": np.full(k, V.EHR),
            "cause_concept_id": np.zeros(k, np.int64),
        },
    )
    return {"person": person, "observation_period": period, "death": death}
