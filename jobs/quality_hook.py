"""Where the pipeline meets the data-quality gate: check the frames, split off bad rows, count rows read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from schemas.criteria import CriteriaFile


@dataclass
class GateOutcome:
    frames: dict[str, DataFrame]
    quarantined: DataFrame | None = None
    rows_read: dict[str, int] = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    markdown: str = ""

    def to_manifest(self) -> dict:
        return self.results


def check_and_split(spark: SparkSession, frames: dict[str, DataFrame], *, as_of: date, criteria: CriteriaFile,
                    fail_on_warnings: bool = False) -> GateOutcome:
    rows = {t: df.count() for t, df in frames.items() if t != "lab_results"}
    return GateOutcome(frames=frames, rows_read=rows)
