"""manifest.json: what was read, with which criteria and versions, what was found, how long it took."""

from __future__ import annotations

import platform
from datetime import UTC, date, datetime

from jobs import __version__
from jobs.config import RunConfig
from jobs.extract.reader import ReadReport
from jobs.extract.vocabulary import ResolvedConceptSets
from jobs.quality.gate import GateOutcome
from jobs.redaction import redact, scrub_all
from jobs.rules.evaluation import STATUSES


def versions() -> dict[str, str]:
    import great_expectations as gx
    import pydantic
    import pyspark

    return {"cohort_finder": __version__, "python": platform.python_version(), "pyspark": pyspark.__version__,
            "pydantic": pydantic.__version__, "great_expectations": gx.__version__}


def build_manifest(cfg: RunConfig, *, read: ReadReport, gate: GateOutcome, resolved: ResolvedConceptSets,
                   as_of: date, as_of_source: str, run_id: str, started: datetime, timings: dict[str, float],
                   persons: int, by_status: dict, conservation: dict,
                   quarantine: dict[str, dict[str, int]]) -> dict:
    criteria = cfg.criteria.model
    return scrub_all({
        "run_id": run_id,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "as_of_source": as_of_source,
        "inputs": {"omop": redact(cfg.omop), "tables": read.tables,
                   "missing_tables": sorted(set(read.missing_tables)),
                   "empty_tables": sorted(set(read.empty_tables)),
                   "missing_optional_columns": read.missing_optional_columns},
        "criteria": {"path": cfg.criteria.path, "sha256": cfg.criteria.sha256, "includes": cfg.criteria.includes,
                     "trial": criteria.trial, "version": criteria.version,
                     "cohorts": {c: len(s.criteria) for c, s in criteria.cohorts.items()}},
        "vocabulary": resolved.to_manifest(),
        "versions": versions(),
        "rows_read": gate.rows_read,
        "quality": gate.to_manifest(),
        "persons": persons,
        "status_counts": {c: {s: by_status.get((c, s), 0) for s in STATUSES} for c in criteria.cohorts},
        "conservation": conservation,
        "min_cell_count": cfg.min_cell_count,
        "quarantine": quarantine,
        "timings_seconds": dict(timings),
    })
