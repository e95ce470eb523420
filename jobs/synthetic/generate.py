"""Deterministic synthetic OMOP CDM 5.4 extract with planted NCT06557265 patients and a declared ground truth.

`generate()` writes `omop/` (CSV or Parquet), `ground_truth.csv` and `generation.json`. The population is made
in chunks of `chunk_persons` (numpy + pyarrow, one random generator per chunk seeded from `seed`), so a
million persons fit in a few GiB. Planted patients (`planting`, `nct06557265`) declare their expected outcome from
what was planted; background persons (`background`) are ineligible for both cohorts by construction
(no SLE, no LN/MN diagnosis, no kidney biopsy, no LN/pMN therapy). Nothing here evaluates a criterion.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.synthetic import nct06557265 as trial
from jobs.synthetic import vocab as V
from jobs.synthetic.background import (
    SITES,
    IdAllocator,
    People,
    age_at,
    background_people,
    person_tables,
)
from jobs.synthetic.noise import noise_events
from jobs.synthetic.planting import planted_tables
from jobs.synthetic.tables import PERSON_TABLES, ExtractWriter, build, csv_bytes, schema

SCENARIOS = trial.SCENARIOS
EVENT_ID = {
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "measurement": "measurement_id",
    "observation": "observation_id",
}
GT_COLUMNS = (
    "person_id",
    "cohort",
    "scenario",
    "expected_status",
    "expected_failed",
    "expected_unknown",
    "planted",
)


@dataclass(frozen=True)
class GenerationSummary:
    """Where the extract went and what is in it."""

    out_dir: Path
    omop_dir: Path
    ground_truth: Path
    manifest: Path
    persons: int
    planted: int
    row_counts: dict[str, int] = field(default_factory=dict)
    scenario_counts: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0
    seconds: float = 0.0


def generate(
    out_dir: str | Path,
    persons: int,
    seed: int = 7,
    as_of: date = date(2026, 10, 1),
    fmt: Literal["csv", "parquet"] = "csv",
    planted_fraction: float | None = None,
    upper_case_names: bool = False,
    chunk_persons: int = 200_000,
) -> GenerationSummary:
    """Write a synthetic extract of `persons` persons to `out_dir`; same arguments -> identical files."""
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if chunk_persons < 1:
        raise ValueError("chunk_persons must be at least 1")
    if planted_fraction is not None and not 0 <= planted_fraction <= 1:
        raise ValueError("planted_fraction must be within [0, 1]")
    started = time.monotonic()
    out = Path(out_dir)
    staging = out / ".generate-staging"
    shutil.rmtree(staging, ignore_errors=True)
    asof = (as_of - date(1970, 1, 1)).days
    planted_ids, planted_names = assign_scenarios(persons, seed, planted_fraction)
    n_chunks = -(-persons // chunk_persons)
    writer = ExtractWriter(staging / "omop", fmt, upper_case_names, parts=n_chunks > 1)
    ids = IdAllocator()
    counts: dict[str, int] = {}
    with (staging / "ground_truth.csv").open("wb") as gt:
        gt.write((",".join(GT_COLUMNS) + "\n").encode())
        for chunk in range(n_chunks):
            lo, hi = chunk * chunk_persons + 1, min((chunk + 1) * chunk_persons, persons)
            sel = (planted_ids >= lo) & (planted_ids <= hi)
            tables, truth = _chunk(
                lo,
                hi,
                planted_ids[sel],
                [planted_names[i] for i in np.flatnonzero(sel)],
                seed,
                chunk,
                asof,
                ids,
            )
            for name in PERSON_TABLES:
                writer.write(name, tables[name], chunk)
            gt.write(csv_bytes(truth).split(b"\n", 1)[1])
            for s in pc.unique(truth["scenario"]).to_pylist():
                counts[s] = counts.get(s, 0) + int(pc.sum(pc.equal(truth["scenario"], s)).as_py()) // 2
    for name, table in _static_tables(as_of).items():
        writer.write(name, table)
    manifest = _manifest(seed, persons, as_of, fmt, chunk_persons, len(planted_ids), writer, counts)
    (staging / "generation.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _move_into_place(staging, out)
    return GenerationSummary(
        out_dir=out,
        omop_dir=out / "omop",
        ground_truth=out / "ground_truth.csv",
        manifest=out / "generation.json",
        persons=persons,
        planted=len(planted_ids),
        row_counts=dict(writer.rows),
        scenario_counts=dict(sorted(counts.items())),
        bytes_written=writer.bytes,
        seconds=round(time.monotonic() - started, 2),
    )


def default_planted_fraction(persons: int) -> float:
    """About 10% planted in small extracts (every scenario several times), 1% in large ones."""
    return 0.10 if persons <= 10_000 else 0.01


def assign_scenarios(persons: int, seed: int, fraction: float | None) -> tuple[np.ndarray, list[str]]:
    """Planted person ids (sorted) and their scenario names: round-robin, each scenario at least 3 times."""
    frac = default_planted_fraction(persons) if fraction is None else fraction
    n = 0 if frac == 0 else min(persons, max(round(persons * frac), 3 * len(SCENARIOS)))
    rng = np.random.default_rng([seed, 7_000_001])
    names = [SCENARIOS[i % len(SCENARIOS)].name for i in range(n)]
    order = rng.permutation(n)
    ids = np.sort(rng.choice(persons, n, replace=False)) + 1
    return ids.astype(np.int64), [names[i] for i in order]


# ------------------------------------------------------------------ one chunk
def _chunk(
    lo: int,
    hi: int,
    planted_ids: np.ndarray,
    planted_names: list[str],
    seed: int,
    chunk: int,
    asof: int,
    ids: IdAllocator,
) -> tuple[dict[str, pa.Table], pa.Table]:
    """All person-level tables of persons lo..hi, and their ground-truth rows."""
    everyone = np.arange(lo, hi + 1, dtype=np.int64)
    background_ids = everyone[~np.isin(everyone, planted_ids)]
    bg = background_people(background_ids, np.random.default_rng([seed, chunk, 0]), asof)
    rng_bg = np.random.default_rng([seed, chunk, 1])
    parts = [{**person_tables(bg, ids), **noise_events(bg, rng_bg, ids, safe=False)}]
    if len(planted_ids):
        rng = np.random.default_rng([seed, chunk, 2])
        plans = [trial.plan_for(trial.BY_NAME[n], rng) for n in planted_names]
        people, events = planted_tables(planted_ids, plans, rng, ids, asof)
        parts.append({**person_tables(people, ids), **events})
    tables = {}
    for name in PERSON_TABLES:
        t = pa.concat_tables([p[name] for p in parts])
        if name in ("person", "death"):
            t = t.sort_by("person_id")
        if name in EVENT_ID:
            t = t.set_column(0, EVENT_ID[name], pa.array(ids.take(name, t.num_rows)))
        tables[name] = t
    truth = _truth(bg, background_ids, planted_ids, planted_names, asof)
    return tables, truth


def _truth(
    bg: People, background_ids: np.ndarray, planted_ids: np.ndarray, planted_names: list[str], asof: int
) -> pa.Table:
    """Ground-truth rows (one per person per cohort), ordered by person then cohort."""
    age = age_at(bg.birth_day, np.full(len(bg), asof))
    dead = bg.death_day >= 0
    out_of_range = (age < 18) | (age > 65)
    scenario = np.where(
        dead,
        "background_deceased",
        np.where(age < 18, "background_child", np.where(age > 65, "background_elderly", "background")),
    )
    cols: dict[str, list] = {c: [] for c in GT_COLUMNS}
    for cohort in trial.COHORTS:
        extra = np.where(dead & out_of_range, 3, np.where(dead, 2, np.where(out_of_range, 1, 0)))
        failed = [
            ";".join(sorted(set(trial.BACKGROUND_FAILED[cohort]) | x))
            for x in ({*()}, {"gen_inc_1"}, {"sys_alive"}, {"gen_inc_1", "sys_alive"})
        ]
        cols["person_id"].append(background_ids)
        cols["cohort"].append(np.full(len(bg), cohort))
        cols["scenario"].append(scenario)
        cols["expected_status"].append(np.full(len(bg), "ineligible"))
        cols["expected_failed"].append(np.array(failed, dtype=object)[extra])
        cols["expected_unknown"].append(np.full(len(bg), ";".join(trial.BACKGROUND_UNKNOWN[cohort]), dtype=object))
        cols["planted"].append(np.full(len(bg), "false"))
        rows = [trial.declared(trial.BY_NAME[n], cohort) for n in planted_names]
        cols["person_id"].append(planted_ids)
        cols["cohort"].append(np.full(len(planted_ids), cohort))
        cols["scenario"].append(np.array(planted_names, dtype=object))
        cols["expected_status"].append(np.array([r[0] for r in rows], dtype=object))
        cols["expected_failed"].append(np.array([";".join(r[1]) for r in rows], dtype=object))
        cols["expected_unknown"].append(np.array([";".join(r[2]) for r in rows], dtype=object))
        cols["planted"].append(np.array(["true" if r[3] else "false" for r in rows], dtype=object))
    table = pa.table(
        {
            c: pa.array(np.concatenate(v).astype(np.int64 if c == "person_id" else object))
            for c, v in cols.items()
        }
    )
    return table.sort_by([("person_id", "ascending"), ("cohort", "ascending")])


# ------------------------------------------------------------------ once-written tables
def _static_tables(as_of: date) -> dict[str, pa.Table]:
    """care_site, location, cdm_source, concept, and an empty concept_ancestor (as Synthea's ETL has)."""
    n = len(SITES)
    site_ids = np.array([s.care_site_id for s in SITES], np.int64)
    asof_day = np.array([(as_of - date(1970, 1, 1)).days], np.int32)
    return {
        "location": build(
            "location",
            n,
            {
                "location_id": site_ids,
                "city": [s.city for s in SITES],
                "state": [s.state for s in SITES],
                "zip": [s.zip for s in SITES],
                "location_source_value": [f"{s.city}, {s.state}" for s in SITES],
                "country_source_value": ["United States"] * n,
            },
        ),
        "care_site": build(
            "care_site",
            n,
            {
                "care_site_id": site_ids,
                "care_site_name": [s.name for s in SITES],
                "location_id": site_ids,
                "care_site_source_value": [f"SITE-{s.care_site_id:02d}" for s in SITES],
            },
        ),
        "cdm_source": build(
            "cdm_source",
            1,
            {
                "cdm_source_name": ["cohort-finder synthetic extract (NCT06557265)"],
                "cdm_source_abbreviation": ["SYNTH-NKX019"],
                "cdm_holder": ["cohort-finder"],
                "source_description": [
                    "Synthea-like synthetic population with planted LN and pMN trial patients."
                ],
                "cdm_etl_reference": ["jobs/synthetic/generate.py"],
                "source_release_date": pa.array(asof_day).cast(pa.date32()),
                "cdm_release_date": pa.array(asof_day).cast(pa.date32()),
                "cdm_version": ["5.4"],
                "cdm_version_concept_id": [V.CDM_54],
                "vocabulary_version": ["generator subset"],
            },
        ),
        "concept": V.concept_table(schema("concept")),
        "concept_ancestor": schema("concept_ancestor").empty_table(),
    }


def _manifest(
    seed: int,
    persons: int,
    as_of: date,
    fmt: str,
    chunk_persons: int,
    planted: int,
    writer: ExtractWriter,
    counts: dict[str, int],
) -> dict:
    """generation.json: inputs, row counts, rows per person, scenario counts (no timings: deterministic)."""
    return {
        "seed": seed,
        "persons": persons,
        "as_of": as_of.isoformat(),
        "format": fmt,
        "chunk_persons": chunk_persons,
        "planted_persons": planted,
        "tables": dict(sorted(writer.rows.items())),
        "rows_per_person": {
            t: round(writer.rows[t] / persons, 3) for t in sorted(writer.rows) if t in PERSON_TABLES
        },
        "scenarios": dict(sorted(counts.items())),
        "scenario_declarations": {
            s.name: {
                "cohort": s.cohort,
                "expected_status": s.status,
                "expected_failed": list(s.failed),
                "expected_unknown": list(s.unknown),
                "what": s.what,
            }
            for s in SCENARIOS
        },
    }


def _move_into_place(staging: Path, out: Path) -> None:
    """Replace the previous outputs only once the new ones are complete."""
    for name in ("omop", "ground_truth.csv", "generation.json"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        (staging / name).rename(target)
    staging.rmdir()
