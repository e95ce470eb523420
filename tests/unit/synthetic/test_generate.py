"""The synthetic extract generator: determinism, shape, integrity and the declared ground truth (no Spark)."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.rules.loader import load_criteria
from jobs.synthetic.generate import SCENARIOS, TRIALS, generate
from jobs.synthetic.tables import PERSON_TABLES, TABLES, schema
from schemas.criteria import ReviewRule

PERSONS = 400
ROOT = Path(__file__).resolve().parents[3]
CONCEPT_COLUMNS = {
    "person": ["gender_concept_id", "race_concept_id", "ethnicity_concept_id"],
    "observation_period": ["period_type_concept_id"],
    "death": ["death_type_concept_id", "cause_concept_id"],
    "condition_occurrence": [
        "condition_concept_id",
        "condition_type_concept_id",
        "condition_source_concept_id",
    ],
    "drug_exposure": [
        "drug_concept_id",
        "drug_type_concept_id",
        "route_concept_id",
        "drug_source_concept_id",
    ],
    "procedure_occurrence": ["procedure_concept_id", "procedure_type_concept_id", "modifier_concept_id"],
    "measurement": [
        "measurement_concept_id",
        "measurement_type_concept_id",
        "value_as_concept_id",
        "unit_concept_id",
        "operator_concept_id",
    ],
    "observation": [
        "observation_concept_id",
        "observation_type_concept_id",
        "value_as_concept_id",
        "unit_concept_id",
    ],
    "visit_occurrence": ["visit_concept_id", "visit_type_concept_id"],
    "cdm_source": ["cdm_version_concept_id"],
}
# Concepts background persons must never have: they make the background certainly ineligible.
NEVER_IN_BACKGROUND = {
    257628,
    255891,
    4297164,
    4267801,
    4178133,
    4285717,
    252365,
    36716199,
    36716200,
    4217034,
    2109566,
    19003999,
    19012565,
    1310317,
    19014878,
    950637,
    19010482,
    1314273,
    40236987,
    44507676,
    19010522,
    19010292,
    35606514,
    1503297,  # metformin (SURPASS-2 inc_3: every other person fails it)
    75650,  # proteinuria and the albuminuria diagnoses (DAPA-CKD inc_3)
    45769905,
    45757499,
    4295011,
}


def read(root: Path, table: str) -> pd.DataFrame:
    """A table written as `<t>.csv`, `<t>/part-*.csv` or `<t>/part-*.parquet`, as strings/objects."""
    single = root / f"{table}.csv"
    if single.exists():
        return pd.read_csv(single, dtype=str, keep_default_na=False)
    parts = sorted((root / table).iterdir())
    if parts[0].suffix == ".parquet":
        return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts], ignore_index=True)


@pytest.fixture(scope="session")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csv")
    generate(out, PERSONS, seed=11, chunk_persons=150)  # three chunks: folders of part files
    return out


@pytest.fixture(scope="session")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single")
    generate(out, 200, seed=3)
    return out


@pytest.fixture(scope="session")
def parquet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parquet")
    generate(out, 300, seed=5, fmt="parquet", chunk_persons=200)
    return out


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    files = [f for f in cmp.common_files]
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    return (
        not cmp.left_only
        and not cmp.right_only
        and not mismatch
        and not errors
        and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)
    )


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path: Path, single_run: Path) -> None:
    generate(tmp_path / "again", 200, seed=3)
    generate(tmp_path / "other", 200, seed=4)
    assert _same_tree(single_run, tmp_path / "again")
    assert not filecmp.cmp(
        single_run / "omop" / "measurement.csv",
        tmp_path / "other" / "omop" / "measurement.csv",
        shallow=False,
    )


def test_an_extract_with_every_person_planted_is_clean_csv(tmp_path: Path) -> None:
    """60 persons are all planted (fewer than 3 x the scenarios): no background chunk, and no NUL bytes (an empty
    leading part once made pyarrow's CSV writer emit a run of NULs)."""
    generate(tmp_path, 60, seed=1)
    for path in (tmp_path / "omop").glob("*.csv"):
        assert b"\x00" not in path.read_bytes(), path.name
    assert len(read(tmp_path / "omop", "person")) == 60


def test_rerun_replaces_previous_output(tmp_path: Path) -> None:
    generate(tmp_path, 120, seed=1)
    summary = generate(tmp_path, 100, seed=1)
    assert summary.persons == 100
    assert len(read(tmp_path / "omop", "person")) == 100
    assert not (tmp_path / ".generate-staging").exists()


def test_every_scenario_is_planted_at_least_three_times(csv_run: Path) -> None:
    gt = pd.read_csv(csv_run / "ground_truth.csv", dtype=str, keep_default_na=False)
    planted = gt[gt.planted == "true"]
    counts = planted.scenario.value_counts()
    assert set(counts.index) == {s.name for s in SCENARIOS}
    assert counts.min() >= 3


def test_ground_truth_has_one_row_per_person_and_cohort(csv_run: Path) -> None:
    gt = pd.read_csv(csv_run / "ground_truth.csv", dtype=str, keep_default_na=False)
    assert list(gt.columns) == [
        "person_id",
        "trial",
        "cohort",
        "scenario",
        "expected_status",
        "expected_failed",
        "expected_unknown",
        "planted",
    ]
    assert len(gt) == 4 * PERSONS  # ln, pmn (NCT06557265), t2dm (NCT03987919), ckd (NCT03036150)
    assert not gt.duplicated(["person_id", "trial", "cohort"]).any()
    assert set(zip(gt.trial, gt.cohort, strict=True)) == {("NCT06557265", "ln"), ("NCT06557265", "pmn"),
                                                          ("NCT03987919", "t2dm"), ("NCT03036150", "ckd")}
    persons = read(csv_run / "omop", "person")
    assert set(gt.person_id) == set(persons.person_id)


def test_declared_status_agrees_with_declared_failures_and_unknowns(csv_run: Path) -> None:
    gt = pd.read_csv(csv_run / "ground_truth.csv", dtype=str, keep_default_na=False)
    planted = gt[gt.planted == "true"]
    expected = planted.apply(
        lambda r: "ineligible" if r.expected_failed else ("possible" if r.expected_unknown else "eligible"),
        axis=1,
    )
    assert (expected == planted.expected_status).all()
    assert (gt[gt.planted == "false"].expected_status == "ineligible").all()
    for s in SCENARIOS:  # each planted person is checked in its own trial and cohort only
        rows = planted[planted.scenario == s.name]
        assert set(rows.cohort) == {s.cohort}
        assert len(set(rows.trial)) == 1
        assert set(rows.expected_failed) == {";".join(s.failed)}
    for trial in ("NCT03987919", "NCT03036150"):  # a fail for every criterion that can fail, a pass for all
        criteria = load_criteria(ROOT / "criteria" / f"{trial.lower()}.yaml").model
        can_fail = {c.id for c in criteria.criteria if not isinstance(c.rule, ReviewRule) and "fail" not in c.review_if}
        scenarios = TRIALS[trial].SCENARIOS
        assert can_fail == {c for s in scenarios for c in s.failed}, trial
        assert any(s.status == "eligible" and s.name.endswith("_eligible") for s in scenarios), trial


def test_ids_are_unique_and_events_belong_to_known_persons(csv_run: Path) -> None:
    root = csv_run / "omop"
    persons = set(read(root, "person").person_id)
    visits = set(read(root, "visit_occurrence").visit_occurrence_id)
    for table in PERSON_TABLES:
        df = read(root, table)
        assert set(df.person_id) <= persons, table
        key = schema(table).names[0]
        if table not in ("death",):
            assert df[key].is_unique, table
        if "visit_occurrence_id" in df.columns and table != "visit_occurrence":
            assert set(df.visit_occurrence_id) - {""} <= visits, table
    assert read(root, "death").person_id.is_unique


def test_every_used_concept_is_in_the_concept_table(csv_run: Path) -> None:
    root = csv_run / "omop"
    known = set(read(root, "concept").concept_id.astype(int))
    for table, columns in CONCEPT_COLUMNS.items():
        df = read(root, table)
        for col in columns:
            used = {int(x) for x in df[col] if x != ""}
            assert used <= known, (table, col, used - known)
    concept = read(root, "concept")
    local = concept[concept.concept_id.astype(int) >= 2_000_000_000]
    # codes the criteria name without a verified OMOP id: four LOINC labs, the NYHA class answers (LOINC) and
    # NYHA class IV (SNOMED)
    assert set(local.concept_code) == {"5048-4", "5130-0", "73737-9", "8636-3", "LA28406-9", "LA28407-7", "422293003"}
    assert set(local.vocabulary_id) == {"LOINC", "SNOMED"} and set(local.standard_concept) == {"S"}


def test_background_never_has_trial_defining_concepts(csv_run: Path) -> None:
    root = csv_run / "omop"
    gt = pd.read_csv(csv_run / "ground_truth.csv", dtype=str, keep_default_na=False)
    background = set(gt[gt.scenario.str.startswith("background")].person_id)
    for table, col in (
        ("condition_occurrence", "condition_concept_id"),
        ("observation", "observation_concept_id"),
        ("procedure_occurrence", "procedure_concept_id"),
        ("drug_exposure", "drug_concept_id"),
    ):
        df = read(root, table)
        hits = df[df.person_id.isin(background) & df[col].astype(int).isin(NEVER_IN_BACKGROUND)]
        assert hits.empty, table


@pytest.mark.parametrize("table", TABLES)
def test_csv_tables_have_the_omop_54_columns(csv_run: Path, table: str) -> None:
    assert list(read(csv_run / "omop", table).columns) == schema(table).names


def test_csv_formats_dates_and_datetimes(single_run: Path) -> None:
    m = read(single_run / "omop", "measurement")
    assert m.measurement_date.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert m.measurement_datetime.str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    assert (single_run / "omop" / "concept_ancestor.csv").read_text().strip() == ",".join(
        schema("concept_ancestor").names
    )
    src = read(single_run / "omop", "cdm_source")
    assert list(src.source_release_date) == ["2026-10-01"] and list(src.cdm_version) == ["5.4"]


@pytest.mark.parametrize("table", TABLES)
def test_parquet_tables_have_omop_54_columns_and_types(parquet_run: Path, table: str) -> None:
    parts = sorted((parquet_run / "omop" / table).glob("part-*.parquet"))
    assert parts, table
    for part in parts:
        got = pq.read_schema(part)
        assert got.names == schema(table).names
        for field in got:
            want = schema(table).field(field.name).type
            assert field.type == want, (table, field.name)
            if pa.types.is_timestamp(field.type):
                assert field.type.unit == "us"


def test_manifest_states_counts_and_ratios(parquet_run: Path) -> None:
    manifest = json.loads((parquet_run / "generation.json").read_text())
    assert manifest["persons"] == 300 and manifest["format"] == "parquet" and manifest["seed"] == 5
    assert manifest["as_of"] == date(2026, 10, 1).isoformat()
    assert manifest["tables"]["person"] == 300
    assert manifest["rows_per_person"]["measurement"] > 20
    assert sum(manifest["scenarios"].values()) == 300


def test_upper_case_names(tmp_path: Path) -> None:
    generate(tmp_path, 60, seed=2, upper_case_names=True, planted_fraction=0.5)
    header = (tmp_path / "omop" / "PERSON.csv").read_text().splitlines()[0]
    assert header.startswith("PERSON_ID,GENDER_CONCEPT_ID")


def test_one_trial_can_be_planted_alone(tmp_path: Path) -> None:
    generate(tmp_path, 150, seed=2, trials=("NCT03036150",))
    gt = pd.read_csv(tmp_path / "ground_truth.csv", dtype=str, keep_default_na=False)
    assert set(gt.trial) == {"NCT03036150"} and len(gt) == 150
    planted = gt[gt.planted == "true"]
    assert set(planted.scenario) == {s.name for s in TRIALS["NCT03036150"].SCENARIOS}
    manifest = json.loads((tmp_path / "generation.json").read_text())
    assert manifest["trials"] == ["NCT03036150"]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown trial"):
        generate(tmp_path, 10, trials=("NCT00000000",))
    with pytest.raises(ValueError):
        generate(tmp_path, 0)
    with pytest.raises(ValueError):
        generate(tmp_path, 10, fmt="json")  # type: ignore[arg-type]


def test_the_command_line_writes_a_sample_and_refuses_to_replace_it_without_overwrite(tmp_path: Path) -> None:
    """`python -m jobs.synthetic` (the Makefile's `sample` target) writes the extract and its ground truth."""
    root = Path(__file__).resolve().parents[3]
    cmd = [sys.executable, "-m", "jobs.synthetic", "--out", str(tmp_path / "s"), "--persons", "40", "--seed", "3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(read(tmp_path / "s" / "omop", "person")) == 40
    assert (tmp_path / "s" / "ground_truth.csv").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=300)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    replaced = subprocess.run([*cmd[:-4], "--persons", "30", "--overwrite"], capture_output=True, text=True,
                              cwd=root, timeout=300)
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert len(read(tmp_path / "s" / "omop", "person")) == 30
