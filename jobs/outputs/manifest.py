"""manifest.json: what was read, with which criteria and versions, what was found, how long it took."""

from __future__ import annotations

import platform
from datetime import UTC, date, datetime

from jobs import __version__
from jobs.config import RunConfig
from jobs.extract.reader import ReadReport
from jobs.extract.vocabulary import ResolvedConceptSets
from jobs.quality.gate import GateOutcome
from jobs.redaction import redact
from jobs.rules.evaluation import STATUSES
from jobs.rules.trials import Trial


def versions() -> dict[str, str]:
    import great_expectations as gx
    import pydantic
    import pyspark

    return {"cohort_finder": __version__, "python": platform.python_version(), "pyspark": pyspark.__version__,
            "pydantic": pydantic.__version__, "great_expectations": gx.__version__}


def trial_entry(trial: Trial, by_status: dict, conservation: dict) -> dict:
    """One trial of the run: its criteria file (path, hash, version), cohorts, statuses and conservation."""
    criteria = trial.model
    return {"path": trial.source.path, "sha256": trial.source.sha256, "trial": criteria.trial,
            "version": criteria.version, "folder": trial.folder,
            "cohorts": {c: len(s.criteria) for c, s in criteria.cohorts.items()},
            "status_counts": {c: {s: by_status.get((c, s), 0) for s in STATUSES} for c in criteria.cohorts},
            "conservation": conservation}


def build_manifest(cfg: RunConfig, *, read: ReadReport, gate: GateOutcome, resolved: ResolvedConceptSets,
                   as_of: date, as_of_source: str, run_id: str, started: datetime, timings: dict[str, float],
                   persons: int, trials: dict[str, dict], quarantine: dict[str, dict[str, int]]) -> dict:
    """The run's manifest; `trials` is {trial folder: trial_entry(...)}, in the order given on the command line."""
    return {
        "run_id": run_id,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "as_of_source": as_of_source,
        "inputs": {"omop": redact(cfg.omop), "tables": read.tables,
                   "missing_tables": sorted(set(read.missing_tables)),
                   "empty_tables": sorted(set(read.empty_tables)),
                   "missing_optional_columns": read.missing_optional_columns},
        "trials": trials,
        "vocabulary": resolved.to_manifest(),
        "versions": versions(),
        "rows_read": gate.rows_read,
        "quality": gate.to_manifest(),
        "persons": persons,
        "min_cell_count": cfg.min_cell_count,
        "quarantine": quarantine,
        "timings_seconds": dict(timings),
    }
