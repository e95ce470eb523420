"""manifest.json: what was read, with which criteria and versions, what was found, how long it took."""

from __future__ import annotations

import platform
from datetime import UTC, date, datetime

from jobs import __version__
from jobs.config import RunConfig
from jobs.extract.concept_sets import SetSummary
from jobs.extract.reader import ReadReport
from jobs.extract.vocabulary import ResolvedConceptSets
from jobs.outputs.shared_counts import PERSONS, SharedCounts
from jobs.quality.gate import GateOutcome
from jobs.redaction import redact, scrub_all
from jobs.rules.evaluation import STATUSES
from jobs.rules.trials import Trial


def versions() -> dict[str, str]:
    import great_expectations as gx
    import pydantic
    import pyspark

    return {"cohort_finder": __version__, "python": platform.python_version(), "pyspark": pyspark.__version__,
            "pydantic": pydantic.__version__, "great_expectations": gx.__version__}


def shown(n: int, shared: SharedCounts, cell: str = PERSONS) -> int | str:
    """`n` as published: with a threshold (--min-cell-count > 1) the suppressed count ('<k' or '*')."""
    if shared.published.k <= 1:
        return n
    text = shared.show(cell)
    return int(text) if text.isdigit() else text


def trial_entry(trial: Trial, by_status: dict, conservation: dict, shared: SharedCounts, cohort_table: dict) -> dict:
    """One trial of the run: its criteria file (path, hash, version, ATLAS includes), cohorts, statuses,
    conservation, suppression and cohort-table definitions. With a threshold (--min-cell-count > 1) the person
    counts here are the published ones (suppressed)."""
    criteria = trial.model
    status_counts: dict = {c: {s: by_status.get((c, s), 0) for s in STATUSES} for c in criteria.cohorts}
    if shared.published.k > 1:
        status_counts = {c: {s: (int(v) if v.isdigit() else v) for s, v in counts.items()}
                         for c, counts in shared.status_counts().items()}
        conservation = {**conservation, "persons": shown(conservation.get("persons", 0), shared)}
    return {"path": trial.source.path, "sha256": trial.source.sha256, "includes": trial.source.includes,
            "trial": criteria.trial, "version": criteria.version, "folder": trial.folder,
            "cohorts": {c: len(s.criteria) for c, s in criteria.cohorts.items()},
            "status_counts": status_counts, "conservation": conservation,
            "suppression": {"small_cells": len(shared.published.primary) + len(shared.published.withheld),
                            "complementary_cells": len(shared.published.secondary) - len(shared.published.withheld),
                            "withheld_small_cells": len(shared.published.withheld),
                            "under_margin_cells": len(shared.published.narrow)},
            "cohort_table": cohort_table}


def build_manifest(cfg: RunConfig, *, read: ReadReport, gate: GateOutcome, resolved: ResolvedConceptSets,
                   as_of: date, as_of_source: str, run_id: str, started: datetime, timings: dict[str, float],
                   persons: int | str, trials: dict[str, dict], quarantine: dict[str, dict[str, int]],
                   warnings: list[str] = (), concept_sets: dict[str, SetSummary] | None = None) -> dict:
    """The run's manifest; `trials` is {trial folder: trial_entry(...)}, in the order given on the command line;
    `persons` as published (see `shown`). Warnings and the concept-set summary are the run's (all trials)."""
    return scrub_all({
        "run_id": run_id,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "as_of_source": as_of_source,
        "warnings": list(warnings),  # also on the console and at the top of every trial's report
        "inputs": {"omop": redact(cfg.omop), "tables": read.tables,
                   "missing_tables": sorted(set(read.missing_tables)),
                   "empty_tables": sorted(set(read.empty_tables)),
                   "missing_optional_columns": read.missing_optional_columns},
        "trials": trials,
        "vocabulary": {**resolved.to_manifest(),
                       "concept_sets": {n: s.to_manifest() for n, s in (concept_sets or {}).items()}},
        "versions": versions(),
        "rows_read": gate.rows_read,
        "quality": gate.to_manifest(),
        "persons": persons,
        "min_cell_count": cfg.min_cell_count,
        "full_results": cfg.full_results,  # criteria_results: every row (true) or the explaining rows (false)
        "quarantine": quarantine,
        "timings_seconds": dict(timings),
    })
