"""Run the job's stages on a small extract inside the test session and collect outcomes (tests only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jobs import evaluation as ev
from jobs import pipeline
from jobs.feature_plan import plan_features
from jobs.features_labs import lab_results
from jobs.omop_reader import OmopExtract
from jobs.vocabulary import resolve_concept_sets
from schemas.criteria import CriteriaFile


def outcomes(spark, folder: Path, criteria: CriteriaFile, as_of: date, work: Path) -> dict:
    """{(person_id, criterion): (outcome, evidence, value)} for a hand-built extract."""
    extract = OmopExtract(spark, str(folder))
    frames = pipeline.read_tables(extract)
    resolved = resolve_concept_sets(spark, criteria, extract)
    plan = plan_features(criteria)
    lab_sets = sorted({criteria.labs[r.lab].concept_set for r in plan.labs})
    frames["lab_results"] = lab_results(frames["measurement"], resolved.table(spark, lab_sets), criteria.labs)
    paths = pipeline.build_features(spark, frames, criteria, plan, resolved, as_of, str(work))
    evaluated = ev.evaluate(pipeline.feature_frame(spark, paths), criteria, as_of)
    rows = ev.criteria_results(evaluated, criteria).collect()
    return {(r["person_id"], r["criterion"]): (r["outcome"], r["evidence"], r["evidence_value"]) for r in rows}
