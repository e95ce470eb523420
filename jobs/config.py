"""What a run is asked to do: the run configuration, and JDBC properties from a file and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jobs.rules.loader import LoadedCriteria

# The screening dates the job accepts (from --as-of or cdm_source): window and age arithmetic stay inside
# the calendar, and a date like 0001-01-01 is a typo, not a screening date.
AS_OF_MIN, AS_OF_MAX = date(1900, 1, 1), date(2199, 12, 31)


@dataclass
class RunConfig:
    omop: str
    criteria: LoadedCriteria | tuple[LoadedCriteria, ...]  # one file per trial (`--criteria a --criteria b`)
    out: str
    as_of: date | None = None
    overwrite: bool = False
    min_cell_count: int = 0
    jdbc_schema: str | None = None
    jdbc_properties: dict[str, str] = field(default_factory=dict)
    fail_on_quality_warnings: bool = False
    vocab_schema: str | None = None  # JDBC: schema of concept, concept_ancestor, concept_relationship
    jdbc_partitions: int | None = None  # JDBC: person_id ranges per large table (None: from the table's size)
    cohort_include_possible: bool = False  # cohort table: possible persons too (their own cohort_definition_id)
    results_jdbc: str | None = None  # cohort table also into this database ...
    results_schema: str | None = None  # ... in this schema
    allow_missing_columns: bool = False  # a table/column a criterion reads may be absent (warning, not exit 2)
    full_results: bool = False  # criteria_results: every person x cohort x criterion row (--full-results)

    @property
    def trials(self) -> list[LoadedCriteria]:
        return [self.criteria] if isinstance(self.criteria, LoadedCriteria) else list(self.criteria)


def jdbc_properties(path: str | None) -> dict[str, str]:
    """key=value lines of `path` (user, password, driver ...), then COHORT_FINDER_JDBC_USER / _PASSWORD from
    the environment: credentials never come from the command line."""
    props: dict[str, str] = {}
    if path:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                props[k.strip()] = v.strip()
    if os.environ.get("COHORT_FINDER_JDBC_USER"):
        props["user"] = os.environ["COHORT_FINDER_JDBC_USER"]
    if os.environ.get("COHORT_FINDER_JDBC_PASSWORD"):
        props["password"] = os.environ["COHORT_FINDER_JDBC_PASSWORD"]
    return props
