"""Deterministic synthetic OMOP CDM 5.4 extract with planted patients of every shipped trial and a declared
ground truth (one row per person, trial and cohort).

`generate()` writes `omop/` (CSV or Parquet), `ground_truth.csv` and `generation.json`. The population is made
in chunks of `chunk_persons` (numpy + pyarrow, one random generator per chunk seeded from `seed`), so a
million persons fit in a few GiB. Planted patients (`planting`, one module per trial: `nct06557265`,
`nct03987919`, `nct03036150`) declare their expected outcome from what was planted; a person planted for one
trial, and every background person (`background`), is ineligible in the other trials by construction (no SLE,
LN/MN diagnosis, kidney biopsy or LN/pMN therapy; no metformin; no albuminuria diagnosis). Nothing here
evaluates a criterion.
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

from jobs.synthetic import nct03036150, nct03987919, nct06557265
from jobs.synthetic.background import (
    IdAllocator,
    People,
    age_at,
    background_people,
    person_tables,
)
from jobs.synthetic.noise import noise_events
from jobs.synthetic.planting import planted_tables
from jobs.synthetic.static import static_tables
from jobs.synthetic.tables import PERSON_TABLES, ExtractWriter, csv_bytes

TRIALS = {m.TRIAL: m for m in (nct06557265, nct03987919, nct03036150)}  # every shipped trial, in order
SCENARIOS = tuple(s for m in TRIALS.values() for s in m.SCENARIOS)
EVENT_ID = {
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "measurement": "measurement_id",
    "observation": "observation_id",
}
GT_COLUMNS = (
    "person_id",
    "trial",
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
    trials: tuple[str, ...] | None = None,
) -> GenerationSummary:
    """Write a synthetic extract of `persons` persons to `out_dir`; same arguments -> identical files.
    `trials` (default: every shipped trial) are the trials whose patients are planted and declared."""
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if chunk_persons < 1:
        raise ValueError("chunk_persons must be at least 1")
    if planted_fraction is not None and not 0 <= planted_fraction <= 1:
        raise ValueError("planted_fraction must be within [0, 1]")
    unknown = sorted(set(trials or ()) - set(TRIALS))
    if unknown:
        raise ValueError(f"unknown trial(s) {', '.join(unknown)}; shipped: {', '.join(TRIALS)}")
    modules = [TRIALS[t] for t in (trials or TRIALS)]
    started = time.monotonic()
    out = Path(out_dir)
    staging = out / ".generate-staging"
    shutil.rmtree(staging, ignore_errors=True)
    asof = (as_of - date(1970, 1, 1)).days
    planted_ids, planted_names = assign_scenarios(persons, seed, planted_fraction, modules)
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
                modules,
            )
            for name in PERSON_TABLES:
                writer.write(name, tables[name], chunk)
            gt.write(csv_bytes(truth).split(b"\n", 1)[1])
            for s in pc.unique(truth["scenario"]).to_pylist():
                rows_per_person = sum(len(m.COHORTS) for m in modules)
                counts[s] = counts.get(s, 0) + int(pc.sum(pc.equal(truth["scenario"], s)).as_py()) // rows_per_person
    for name, table in static_tables(as_of).items():
        writer.write(name, table)
    manifest = _manifest(seed, persons, as_of, fmt, chunk_persons, len(planted_ids), writer, counts, modules)
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


def assign_scenarios(persons: int, seed: int, fraction: float | None,
                     modules: list | None = None) -> tuple[np.ndarray, list[str]]:
    """Planted person ids (sorted) and their scenario names: round-robin over the trials' scenarios, each at
    least 3 times."""
    scenarios = [s for m in (modules or TRIALS.values()) for s in m.SCENARIOS]
    frac = default_planted_fraction(persons) if fraction is None else fraction
    n = 0 if frac == 0 else min(persons, max(round(persons * frac), 3 * len(scenarios)))
    rng = np.random.default_rng([seed, 7_000_001])
    names = [scenarios[i % len(scenarios)].name for i in range(n)]
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
    modules: list,
) -> tuple[dict[str, pa.Table], pa.Table]:
    """All person-level tables of persons lo..hi, and their ground-truth rows."""
    everyone = np.arange(lo, hi + 1, dtype=np.int64)
    background_ids = everyone[~np.isin(everyone, planted_ids)]
    bg = background_people(background_ids, np.random.default_rng([seed, chunk, 0]), asof)
    rng_bg = np.random.default_rng([seed, chunk, 1])
    parts = [{**person_tables(bg, ids), **noise_events(bg, rng_bg, ids, safe=False)}]
    if len(planted_ids):
        rng = np.random.default_rng([seed, chunk, 2])
        owner = {s.name: m for m in modules for s in m.SCENARIOS}
        plans = [owner[n].plan_for(owner[n].BY_NAME[n], rng) for n in planted_names]
        people, events = planted_tables(planted_ids, plans, rng, ids, asof)
        parts.append({**person_tables(people, ids), **events})
    tables = {}
    for name in PERSON_TABLES:
        # zero-row parts are left out (a chunk with every person planted has an empty background): pyarrow's
        # CSV writer wrote an empty leading chunk as a run of NUL bytes (seen at 200 persons, all planted)
        t = pa.concat_tables([p[name] for p in parts if p[name].num_rows] or [parts[0][name]])
        if name in ("person", "death"):
            t = t.sort_by("person_id")
        if name in EVENT_ID:
            t = t.set_column(0, EVENT_ID[name], pa.array(ids.take(name, t.num_rows)))
        tables[name] = t
    truth = _truth(bg, background_ids, planted_ids, planted_names, asof, modules)
    return tables, truth


def _truth(
    bg: People, background_ids: np.ndarray, planted_ids: np.ndarray, planted_names: list[str], asof: int,
    modules: list,
) -> pa.Table:
    """Ground-truth rows (one per person, trial and cohort), ordered by person, trial, cohort.

    A planted person's own trial and cohort get its scenario's declaration (planted=true); its other cohorts
    and trials, and every background person, get what is certain by construction (ineligible, with a lower
    bound of the failed criteria; planted=false)."""
    age = age_at(bg.birth_day, np.full(len(bg), asof))
    dead = bg.death_day >= 0
    scenario = np.where(
        dead,
        "background_deceased",
        np.where(age < 18, "background_child", np.where(age > 65, "background_elderly", "background")),
    )
    owner = {s.name: m for m in modules for s in m.SCENARIOS}
    cols: dict[str, list] = {c: [] for c in GT_COLUMNS}
    for m in modules:
        age_criterion, lo, hi = m.AGE
        out_of_range = (age < lo) | (age > hi)
        for cohort in m.COHORTS:
            extra = np.where(dead & out_of_range, 3, np.where(dead, 2, np.where(out_of_range, 1, 0)))
            failed = [
                ";".join(sorted(set(m.BACKGROUND_FAILED[cohort]) | x))
                for x in ({*()}, {age_criterion}, {"sys_alive"}, {age_criterion, "sys_alive"})
            ]
            cols["person_id"].append(background_ids)
            cols["trial"].append(np.full(len(bg), m.TRIAL, dtype=object))
            cols["cohort"].append(np.full(len(bg), cohort, dtype=object))
            cols["scenario"].append(scenario)
            cols["expected_status"].append(np.full(len(bg), "ineligible"))
            cols["expected_failed"].append(np.array(failed, dtype=object)[extra])
            cols["expected_unknown"].append(np.full(len(bg), ";".join(m.BACKGROUND_UNKNOWN[cohort]), dtype=object))
            cols["planted"].append(np.full(len(bg), "false"))
            rows = []
            for n in planted_names:
                s = owner[n].BY_NAME[n]
                if owner[n] is m:
                    rows.append(m.declared(s, cohort))
                else:
                    rows.append(("ineligible", *m.foreign(s.failed, cohort), False))
            cols["person_id"].append(planted_ids)
            cols["trial"].append(np.full(len(planted_ids), m.TRIAL, dtype=object))
            cols["cohort"].append(np.full(len(planted_ids), cohort, dtype=object))
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
    return table.sort_by([("person_id", "ascending"), ("trial", "ascending"), ("cohort", "ascending")])


def _manifest(
    seed: int,
    persons: int,
    as_of: date,
    fmt: str,
    chunk_persons: int,
    planted: int,
    writer: ExtractWriter,
    counts: dict[str, int],
    modules: list,
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
        "trials": [m.TRIAL for m in modules],
        "scenario_declarations": {
            s.name: {
                "trial": m.TRIAL,
                "cohort": s.cohort,
                "expected_status": s.status,
                "expected_failed": list(s.failed),
                "expected_unknown": list(s.unknown),
                "what": s.what,
            }
            for m in modules
            for s in m.SCENARIOS
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
