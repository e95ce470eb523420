"""Run the job's stages on a small extract inside the test session and collect outcomes (tests only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jobs import evaluation as ev
from jobs import pipeline
from jobs.criteria_compiler import result_column
from jobs.omop_reader import OmopExtract
from schemas.criteria import CriteriaFile


def outcomes(spark, folder: Path, criteria: CriteriaFile, as_of: date, work: Path) -> dict:
    """{(person_id, criterion): (outcome, evidence, value)} for a hand-built extract."""
    frames, resolved, plan = pipeline.prepare_inputs(spark, OmopExtract(spark, str(folder)), criteria)
    paths = pipeline.build_features(spark, frames, criteria, plan, resolved, as_of, str(work))
    evaluated = ev.evaluate(pipeline.feature_frame(spark, paths), criteria, as_of)
    rows = ev.criteria_results(evaluated, criteria).collect()
    return {(r["person_id"], r["criterion"]): (r["outcome"], r["evidence"], r["evidence_value"]) for r in rows}


RESULT_TYPE = "struct<outcome:string,value:double,unit:string,date:date,concept_id:bigint,evidence:string>"


def evaluated_schema(criterion_ids: list[str]) -> str:
    """DDL of an evaluated frame (jobs.evaluation.evaluate's output) with these criteria, for hand-built rows."""
    return "person_id long, site string, " + ", ".join(f"`{result_column(c)}` {RESULT_TYPE}" for c in criterion_ids)
