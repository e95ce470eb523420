"""Where the pipeline meets the data-quality gate (jobs/quality.py).

The gate runs on the frames the job already read. `error` expectations stop the run before anything is
written; rows breaking a row-level `warn` expectation are split off every event table and the lab results,
are never evidence, and are returned as one quarantine frame (table, reason, ids, the row as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import quality
from jobs.errors import QualityGateError
from jobs.local_frames import local_frame
from jobs.omop_reader import OmopExtract
from schemas.criteria import CriteriaFile
from schemas.units import factors_to

# event tables and their record id column; rows of these are quarantined rather than stopping the run
QUARANTINE_TABLES = {
    "death": None,
    "observation_period": None,
    "visit_occurrence": None,
    "condition_occurrence": "condition_occurrence_id",
    "observation": "observation_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "drug_exposure": "drug_exposure_id",
}


@dataclass
class GateOutcome:
    frames: dict[str, DataFrame]
    gate: quality.GateResult
    quarantined: DataFrame | None = None
    rows_read: dict[str, int] = field(default_factory=dict)
    cached: list[DataFrame] = field(default_factory=list)

    def release(self) -> None:
        """Drop what the gate cached for the stages after it (call once the features are written)."""
        for df in self.cached:
            df.unpersist()
        self.cached.clear()

    def to_manifest(self) -> dict:
        out = self.gate.to_manifest()
        out["markdown"] = self.gate.to_markdown()
        return out


def with_canonical_values(lab_results: DataFrame, suites: dict[str, quality.Suite],
                          criteria: CriteriaFile) -> DataFrame:
    """Adds `value_canonical` (the value in the unit its plausibility range is written in) and `has_value`.

    The factor comes from a broadcast (lab, unit_key) -> factor table, so `value_canonical` is one multiply:
    every plausibility flag and the pushed-down quarantine filter read it without copying a per-lab chain.
    """
    units = {c.lab: c.unit for s in suites.values() for c in s.checks if c.lab and c.unit}
    rows = [(lab, key, factor) for lab, unit in sorted(units.items()) if lab in criteria.labs
            for key, factor in sorted(factors_to(unit, criteria.labs[lab].molar_mass).items())]
    factors = local_frame(lab_results.sparkSession, rows, "_f_lab string, _f_unit string, _f_factor double")
    joined = lab_results.join(F.broadcast(factors), (F.col("lab") == F.col("_f_lab"))
                              & (F.col("unit_key") == F.col("_f_unit")), "left")
    return (joined.withColumns({"value_canonical": F.col("value_as_number") * F.col("_f_factor"),
                                "has_value": F.col("value_as_number").isNotNull()})
            .drop("_f_lab", "_f_unit", "_f_factor"))


def _quarantine_rows(table: str, bad: DataFrame, id_col: str | None) -> DataFrame:
    record_cols = [c for c in bad.columns if not c.startswith("_")]
    return bad.select(
        F.lit(table).alias("table"), F.col(quality.REASON).alias("reason"),
        F.col("person_id").cast("long").alias("person_id"),
        (F.col(id_col).cast("long") if id_col else F.lit(None).cast("long")).alias("record_id"),
        F.to_json(F.struct(*record_cols)).alias("record"))


def check_and_split(spark: SparkSession, frames: dict[str, DataFrame], *, as_of: date, criteria: CriteriaFile,
                    fail_on_warnings: bool = False) -> GateOutcome:
    suites = quality.load_suites()
    # The lab results (a join of the largest table, measurement, with the criteria's labs and the unit
    # lookups) are read three times: by the gate, the quarantine split and the lab features. Cached once,
    # during the gate's own scan, instead of scanning measurement three times.
    labs = with_canonical_values(frames["lab_results"], suites, criteria).persist(StorageLevel.MEMORY_AND_DISK)
    tables = {t: df for t, df in frames.items() if t != "lab_results"}
    try:
        gate = quality.run_gate(spark, tables, as_of=as_of, suites=suites, lab_results=labs)
        gate.raise_for_errors()
        if fail_on_warnings and gate.warnings():
            raise QualityGateError("data-quality gate: warnings and --fail-on-quality-warnings:\n"
                                   + "\n".join(f"  - {r.message}" for r in gate.warnings()))
    except BaseException:
        labs.unpersist()
        raise
    persons = frames["person"].select("person_id")
    clean = dict(frames)
    bad_frames = []
    for table, id_col in QUARANTINE_TABLES.items():
        good, bad = quality.quarantine_split(table, frames[table], as_of=as_of, persons=persons, suites=suites)
        clean[table] = good
        bad_frames.append(_quarantine_rows(table, bad, id_col))
    good_labs, bad_labs = quality.lab_quarantine_split(labs, suites)
    clean["lab_results"] = good_labs.drop("value_canonical", "has_value")
    bad_frames.append(_quarantine_rows("measurement", bad_labs, "measurement_id"))
    quarantined = bad_frames[0]
    for b in bad_frames[1:]:
        quarantined = quarantined.unionByName(b)
    rows: dict[str, int] = {}
    for r in gate.results:
        if r.element_count is not None and r.table in frames:
            rows[r.table] = max(rows.get(r.table, 0), int(r.element_count))
    return GateOutcome(frames=clean, gate=gate, quarantined=quarantined, rows_read=rows, cached=[labs])


def run_check(spark: SparkSession, omop: str, criteria: CriteriaFile, as_of: date | None,
              jdbc_schema: str | None, jdbc_properties: dict[str, str]) -> tuple[str, bool]:
    """`cohort-finder check`: the gate alone; returns the summary text and whether it passed."""
    from jobs.pipeline import prepare_inputs, resolve_as_of

    extract = OmopExtract(spark, omop, jdbc_schema, jdbc_properties)
    day, source = resolve_as_of(extract, as_of)
    frames, _, _ = prepare_inputs(spark, extract, criteria)
    suites = quality.load_suites()
    labs = with_canonical_values(frames.pop("lab_results"), suites, criteria)
    gate = quality.run_gate(spark, frames, as_of=day, suites=suites, lab_results=labs)
    head = f"extract: {omop}; as-of {day} ({source})"
    missing = sorted(set(extract.report.missing_tables))
    lines = [head, gate.summary_text()]
    if missing:
        lines.append(f"  note  tables not found (no events of that kind): {', '.join(missing)}")
    return "\n".join(lines), not gate.errors()
