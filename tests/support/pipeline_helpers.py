"""Run the job's stages on a small extract inside the test session and collect outcomes (tests only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jobs.extract.inputs import prepare_inputs
from jobs.extract.reader import OmopExtract
from jobs.features.build import FeatureInputs, build_features, feature_frame
from jobs.quality.suites import lab_units, load_suites
from jobs.rules import evaluation as ev
from jobs.rules.compiler import result_column
from schemas.criteria import CriteriaFile


def outcomes(spark, folder: Path, criteria: CriteriaFile, as_of: date, work: Path) -> dict:
    """{(person_id, criterion): (outcome, evidence, value)} for a hand-built extract (read, features, criteria;
    no gate: every row is evidence)."""
    units = lab_units(load_suites(labs=criteria.labs))
    inputs = prepare_inputs(spark, OmopExtract(spark, str(folder)), criteria, units)
    paths = build_features(FeatureInputs(spark, inputs.frames, criteria, inputs.plan, inputs.resolved, as_of),
                           str(work))
    evaluated = ev.evaluate(feature_frame(spark, paths), criteria)
    rows = ev.criteria_results(evaluated, criteria).collect()
    return {(r["person_id"], r["criterion"]): (r["outcome"], r["evidence"], r["evidence_value"]) for r in rows}


RESULT_TYPE = "struct<outcome:string,value:double,unit:string,date:date,concept_id:bigint,evidence:string>"


def evaluated_schema(criterion_ids: list[str]) -> str:
    """DDL of an evaluated frame (jobs.rules.evaluation.evaluate's output) with these criteria, for hand-built
    rows."""
    return "person_id long, site string, " + ", ".join(f"`{result_column(c)}` {RESULT_TYPE}" for c in criterion_ids)
