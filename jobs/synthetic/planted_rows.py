"""OMOP rows of planted events, one table builder per event table: each row on the visit planting.py gave its
date (and visit concept). Dates are days before the as-of date, as in planting.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jobs.synthetic import vocab as V
from jobs.synthetic.background import People
from jobs.synthetic.tables import build, date_array, datetime_array, masked


@dataclass
class Ev:
    """One planted event; `d` counts days before the as-of date."""

    table: str  # condition | observation | procedure | drug | measurement
    concept: int
    d: int
    end_d: int | None = None  # drug end (days before as-of); None: no end date recorded
    supply: int | None = None  # drug days_supply
    value: float | None = None
    value_concept: int = 0
    unit: int = 0
    unit_text: str | None = None
    range_high: float | None = None
    visit: int = 9202  # the visit_concept_id of the event's visit (9202 outpatient; 9201 inpatient, 262 ER+IP)
    quantity: float | None = None  # drug quantity; None: days_supply (one unit a day), as the noise writes


Row = tuple[int, Ev, int]  # (plan index, event, visit index)
VISIT_CODE = {9202: "AMB", 9201: "IMP", 9203: "EMER", 262: "EMER-IMP"}  # visit_source_value per visit concept


def _common(
    rows: list[Row], people: People, vids: np.ndarray, asof: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    person = people.person_id[np.array([r[0] for r in rows], np.int64)] if rows else np.zeros(0, np.int64)
    concept = np.array([r[1].concept for r in rows], np.int64)
    day = np.array([asof - r[1].d for r in rows], np.int64)
    visit = vids[np.array([r[2] for r in rows], np.int64)] if rows else np.zeros(0, np.int64)
    return person, concept, day, visit


def _codes(concept: np.ndarray) -> pa.Array:
    return pa.array([V.code_of(int(c)) for c in concept], pa.string())


def conditions(rows: list[Row], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    return build(
        "condition_occurrence",
        n,
        {
            "condition_occurrence_id": _ids_placeholder(n),
            "person_id": person,
            "condition_concept_id": concept,
            "condition_start_date": date_array(day),
            "condition_start_datetime": datetime_array(day),
            "condition_type_concept_id": np.full(n, V.EHR),
            "condition_status_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": visit,
            "condition_source_value": _codes(concept),
            "condition_source_concept_id": concept,
        },
    )


def observations(rows: list[Row], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    value = np.array([np.nan if r[1].value is None else r[1].value for r in rows], np.float64)
    return build(
        "observation",
        n,
        {
            "observation_id": _ids_placeholder(n),
            "person_id": person,
            "observation_concept_id": concept,
            "observation_date": date_array(day),
            "observation_datetime": datetime_array(day),
            "observation_type_concept_id": np.full(n, V.EHR),
            "value_as_number": pa.array(value, mask=np.isnan(value)),
            "value_as_concept_id": np.array([r[1].value_concept for r in rows], np.int64),
            "unit_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": visit,
            "observation_source_value": _codes(concept),
            "observation_source_concept_id": concept,
        },
    )


def procedures(rows: list[Row], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    return build(
        "procedure_occurrence",
        n,
        {
            "procedure_occurrence_id": _ids_placeholder(n),
            "person_id": person,
            "procedure_concept_id": concept,
            "procedure_date": date_array(day),
            "procedure_datetime": datetime_array(day),
            "procedure_end_date": date_array(day),
            "procedure_type_concept_id": np.full(n, V.EHR),
            "modifier_concept_id": np.zeros(n, np.int64),
            "quantity": np.ones(n, np.int64),
            "visit_occurrence_id": visit,
            "procedure_source_value": _codes(concept),
            "procedure_source_concept_id": concept,
        },
    )


def drugs(rows: list[Row], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    no_end = np.array([r[1].end_d is None for r in rows], bool)
    end = np.array([asof - (r[1].end_d or 0) for r in rows], np.int64)
    no_supply = np.array([r[1].supply is None for r in rows], bool)
    supply = np.array([r[1].supply or 0 for r in rows], np.int64)
    quantity = np.array([r[1].supply if r[1].quantity is None else r[1].quantity for r in rows], np.float64)
    no_quantity = np.isnan(quantity) if n else np.zeros(0, bool)
    return build(
        "drug_exposure",
        n,
        {
            "drug_exposure_id": _ids_placeholder(n),
            "person_id": person,
            "drug_concept_id": concept,
            "drug_exposure_start_date": date_array(day),
            "drug_exposure_start_datetime": datetime_array(day),
            "drug_exposure_end_date": pa.array(end.astype(np.int32), pa.int32(), mask=no_end).cast(
                pa.date32()
            ),
            "drug_exposure_end_datetime": pa.array(end * 86_400_000_000, pa.int64(), mask=no_end).cast(
                pa.timestamp("us")
            ),
            "drug_type_concept_id": np.full(n, V.EHR),
            "refills": np.zeros(n, np.int64),
            "quantity": pa.array(np.nan_to_num(quantity), mask=no_quantity),
            "days_supply": masked(supply, no_supply),
            "route_concept_id": np.zeros(n, np.int64),
            "visit_occurrence_id": visit,
            "drug_source_value": _codes(concept),
            "drug_source_concept_id": concept,
        },
    )


def measurements(rows: list[Row], people: People, vids: np.ndarray, asof: int) -> pa.Table:
    person, concept, day, visit = _common(rows, people, vids, asof)
    n = len(rows)
    evs = [r[1] for r in rows]
    value = np.array([np.nan if e.value is None else e.value for e in evs])
    high = np.array([np.nan if e.range_high is None else e.range_high for e in evs])
    return build(
        "measurement",
        n,
        {
            "measurement_id": _ids_placeholder(n),
            "person_id": person,
            "measurement_concept_id": concept,
            "measurement_date": date_array(day),
            "measurement_datetime": datetime_array(day, np.full(n, 32400)),
            "measurement_type_concept_id": np.full(n, V.EHR),
            "operator_concept_id": np.zeros(n, np.int64),
            "value_as_number": pa.array(value, mask=np.isnan(value)),
            "value_as_concept_id": np.array([e.value_concept for e in evs], np.int64),
            "unit_concept_id": np.array([e.unit for e in evs], np.int64),
            "range_high": pa.array(high, mask=np.isnan(high)),
            "visit_occurrence_id": visit,
            "measurement_source_value": _codes(concept),
            "measurement_source_concept_id": concept,
            "unit_source_value": pa.array([e.unit_text for e in evs], pa.string()),
            "value_source_value": pa.array(
                [None if e.value is None else f"{e.value:g}" for e in evs], pa.string()
            ),
        },
    )


def _ids_placeholder(n: int) -> np.ndarray:
    """Event ids are assigned when the chunk's tables are put together (so they follow the background's)."""
    return np.zeros(n, np.int64)
