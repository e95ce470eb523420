"""The tables a synthetic extract writes once (not per person chunk): care sites, locations, cdm_source, the
extract's own concept table, an empty concept_ancestor (as Synthea's ETL has) and the drug_strength rows of
the planted clinical-drug products (what a daily dose is computed from)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from jobs.synthetic import vocab as V
from jobs.synthetic.background import SITES
from jobs.synthetic.tables import build, schema


def static_tables(as_of: date) -> dict[str, pa.Table]:
    """care_site, location, cdm_source, concept, and an empty concept_ancestor (as Synthea's ETL has)."""
    n = len(SITES)
    site_ids = np.array([s.care_site_id for s in SITES], np.int64)
    asof_day = np.array([(as_of - date(1970, 1, 1)).days], np.int32)
    return {
        "location": build(
            "location",
            n,
            {
                "location_id": site_ids,
                "city": [s.city for s in SITES],
                "state": [s.state for s in SITES],
                "zip": [s.zip for s in SITES],
                "location_source_value": [f"{s.city}, {s.state}" for s in SITES],
                "country_source_value": ["United States"] * n,
            },
        ),
        "care_site": build(
            "care_site",
            n,
            {
                "care_site_id": site_ids,
                "care_site_name": [s.name for s in SITES],
                "location_id": site_ids,
                "care_site_source_value": [f"SITE-{s.care_site_id:02d}" for s in SITES],
            },
        ),
        "cdm_source": build(
            "cdm_source",
            1,
            {
                "cdm_source_name": ["cohort-finder synthetic extract (shipped trials)"],
                "cdm_source_abbreviation": ["SYNTH-NKX019"],
                "cdm_holder": ["cohort-finder"],
                "source_description": [
                    "Synthea-like synthetic population with planted patients of the shipped trials."
                ],
                "cdm_etl_reference": ["jobs/synthetic/generate.py"],
                "source_release_date": pa.array(asof_day).cast(pa.date32()),
                "cdm_release_date": pa.array(asof_day).cast(pa.date32()),
                "cdm_version": ["5.4"],
                "cdm_version_concept_id": [V.CDM_54],
                "vocabulary_version": ["generator subset"],
            },
        ),
        "concept": V.concept_table(schema("concept")),
        "concept_ancestor": schema("concept_ancestor").empty_table(),
        "drug_strength": build(
            "drug_strength",
            len(DRUG_STRENGTHS),
            {
                "drug_concept_id": np.array([r[0] for r in DRUG_STRENGTHS], np.int64),
                "ingredient_concept_id": np.array([r[1] for r in DRUG_STRENGTHS], np.int64),
                "amount_value": np.array([r[2] for r in DRUG_STRENGTHS], np.float64),
                "amount_unit_concept_id": np.array([r[3] for r in DRUG_STRENGTHS], np.int64),
                "valid_start_date": pa.array(np.zeros(len(DRUG_STRENGTHS), np.int32)).cast(pa.date32()),
                "valid_end_date": pa.array(np.full(len(DRUG_STRENGTHS), 47481, np.int32)).cast(pa.date32()),
            },
        ),
    }


# (drug_concept_id, ingredient_concept_id, amount_value, amount_unit_concept_id 8576 mg): the metformin ER
# 500 mg tablet of the SURPASS-2 planted patients (RxNorm 860975)
DRUG_STRENGTHS = ((V.METFORMIN_ER_500, 1503297, 500.0, 8576),)


