"""Issue 5, reliability: atomic results under SIGKILL, --overwrite, identical reruns, conservation, properties,
privacy, clear errors on bad input.

Fast tests run the job in-process on the session `spark` fixture; the subprocess and kill tests are `slow`.
"""

from __future__ import annotations

import json
import shutil
import stat
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.dataset as ds
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import evaluation as ev
from jobs import pipeline, publish
from jobs.cli import jdbc_properties, parser
from jobs.criteria_loader import parse_criteria
from jobs.errors import ConservationError
from jobs.generator import generate
from jobs.report import suppress
from tests import reliability_helpers as rh
from tests.conftest import CRITERIA, E2E_PERSONS
from tests.pipeline_helpers import evaluated_schema

AS_OF = date(2026, 10, 1)
PERSONS = 300


def _status_frame(out: Path) -> pd.DataFrame:
    df = ds.dataset(str(out / "person_status"), format="parquet").to_table().to_pandas()
    for col in ("failed", "unknown", "review", "reasons"):
        df[col] = df[col].map(lambda a: tuple(a) if a is not None else None)
    return df.sort_values(["cohort", "person_id"]).reset_index(drop=True)


def _run(spark, criteria, omop: Path, out: Path, **kw):
    return pipeline.run(spark, pipeline.RunConfig(omop=str(omop), criteria=criteria, criteria_path=str(CRITERIA),
                                                  out=str(out), as_of=AS_OF, **kw))


# --------------------------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def two_runs(spark, criteria, e2e, tmp_path_factory):
    """The suite's shared run (single CSV files, 2 shuffle partitions) and a rerun of the same extract as
    reversed, 3-part CSV folders with 7 shuffle partitions."""
    tmp = tmp_path_factory.mktemp("determinism")
    rh.relayout_csv(e2e.omop, tmp / "parts")
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        spark.conf.set("spark.sql.shuffle.partitions", "7")
        _run(spark, criteria, tmp / "parts", tmp / "b", min_cell_count=0)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    assert before != "7", "the pair differs in its partitioning"
    return [e2e.out, tmp / "b"]


@pytest.mark.spark
def test_reruns_are_identical_whatever_the_partitioning(two_runs):
    a, b = two_runs
    for name in ("candidates_ln.csv", "candidates_pmn.csv", "attrition.csv", "counts_by_site.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa, sb = _status_frame(a), _status_frame(b)
    assert len(sa) == 2 * E2E_PERSONS
    pd.testing.assert_frame_equal(sa, sb)
    ma, mb = (json.loads((x / "manifest.json").read_text()) for x in (a, b))
    assert ma["status_counts"] == mb["status_counts"]
    assert sum(ma["status_counts"]["ln"][s] for s in ("eligible", "possible")) > 0  # the lists are not empty


@pytest.mark.spark
def test_manifest_lists_the_conservation_checks(two_runs):
    m = json.loads((two_runs[0] / "manifest.json").read_text())
    assert m["conservation"]["persons"] == E2E_PERSONS
    assert set(m["conservation"]["checked"]) >= {"person_status rows = persons per cohort",
                                                 "statuses partition persons", "criterion outcomes add up",
                                                 "ranks unique", "candidates once each"}


@pytest.mark.spark
def test_outputs_are_readable_by_the_owner_only(two_runs):
    _assert_owner_only(two_runs[0])


def _assert_owner_only(out: Path) -> None:
    bad = []
    for p in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            bad.append(f"{p.relative_to(out.parent)} {oct(mode)}")
    assert not bad, bad[:10]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "manifest.json").stat().st_mode) == 0o600


# --------------------------------------------------------------------------------------------- conservation


def _doctored(spark, rows: list[tuple]):
    status = spark.createDataFrame(rows, "cohort string, person_id long, status string, rank int")
    candidates = status.where("rank is not null").select("cohort", "person_id")
    return status, candidates


GOOD = [(c, p, s, r) for c in ("ln", "pmn") for p, s, r in ((1, "eligible", 1), (2, "possible", 2),
                                                             (3, "ineligible", None))]


@pytest.mark.spark
@pytest.mark.parametrize(("change", "message"), [
    (lambda rows: [r for r in rows if not (r[0] == "ln" and r[1] == 3)],
     "cohort ln: person_status has 2 rows / 2 persons, extract has 3"),
    (lambda rows: [*rows, ("pmn", 3, "ineligible", None)],
     "cohort pmn: person_status has 4 rows / 3 persons, extract has 3"),
    (lambda rows: [(c, p, s, 1 if r else r) for c, p, s, r in rows],
     "cohort ln: ranks are not unique"),
    (lambda rows: [(c, p, "maybe" if p == 3 else s, r) for c, p, s, r in rows],
     "cohort ln: 1 rows with an unknown status"),
], ids=["person-missing", "person-duplicated", "duplicate-rank", "unknown-status"])
def test_conservation_fails_loudly(spark, criteria, change, message):
    status, candidates = _doctored(spark, GOOD)
    assert pipeline.check_conservation(status, criteria, 3, [], candidates)["persons"] == 3  # the baseline holds
    status, candidates = _doctored(spark, change(list(GOOD)))
    with pytest.raises(ConservationError, match=message.replace("(", r"\(")) as err:
        pipeline.check_conservation(status, criteria, 3, [], candidates)
    assert err.value.exit_code == 3


@pytest.mark.spark
def test_conservation_catches_candidates_twice_and_outcomes_not_adding_up(spark, criteria):
    status, candidates = _doctored(spark, GOOD)
    with pytest.raises(ConservationError, match="cohort ln: candidates 3 rows / 2 persons, ranked in person_status 2"):
        pipeline.check_conservation(status, criteria, 3, [], candidates.unionByName(candidates.limit(1)))
    attrition = [{"cohort": "pmn", "step": 1, "criterion": "sys_alive", "pass": 2, "fail": 0, "unknown": 0,
                  "review": 0}]
    with pytest.raises(ConservationError, match="cohort pmn: outcomes of sys_alive do not add up to 3"):
        pipeline.check_conservation(status, criteria, 3, attrition, candidates)


# --------------------------------------------------------------------------------------------- properties

OUTCOMES = ("pass", "fail", "unknown", "review")


@pytest.mark.spark
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_statuses_partition_the_population(spark, criteria, data):
    """Any outcomes of any persons: each person gets exactly one status per cohort, consistent with its
    failed/unknown lists, and eligible/possible persons get the ranks 1..n.

    Each person passes all but a few drawn criteria (uniform outcomes over 42 criteria would make nearly
    everyone ineligible, and the ranks would go untested); each example is one Spark query of ~8 persons."""
    ids = sorted({c for spec in criteria.cohorts.values() for c in spec.criteria})
    persons = data.draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=8, unique=True))
    not_passed = st.dictionaries(st.sampled_from(ids), st.sampled_from(OUTCOMES[1:]), max_size=3)
    outcomes = {p: {c: "pass" for c in ids} | data.draw(not_passed) for p in persons}
    rows = [(p, "site", *[(outcomes[p][c], None, None, None, None, None) for c in ids]) for p in persons]
    got = ev.person_status(spark.createDataFrame(rows, evaluated_schema(ids)), criteria).toPandas()
    for cohort, spec in criteria.cohorts.items():
        mine = got[got["cohort"] == cohort]
        assert sorted(mine["person_id"]) == sorted(persons)
        for _, r in mine.iterrows():
            o = outcomes[r["person_id"]]
            assert list(r["failed"]) == [c for c in spec.criteria if o[c] == "fail"]
            assert list(r["unknown"]) == [c for c in spec.criteria if o[c] == "unknown"]
            expected = "ineligible" if len(r["failed"]) else "possible" if len(r["unknown"]) else "eligible"
            assert r["status"] == expected
        ranked = mine[mine["status"] != "ineligible"]
        assert sorted(ranked["rank"].astype(int)) == list(range(1, len(ranked) + 1))
        assert mine.loc[mine["status"] == "ineligible", "rank"].isna().all()
        assert mine.loc[mine["status"] == "ineligible", "reasons"].isna().all()
        for reasons in ranked["reasons"]:  # one reason per criterion of the cohort, in protocol order
            assert [x.split(" ")[0] for x in reasons] == list(spec.criteria)


@given(k=st.integers(1, 1000), data=st.data())
def test_suppression_never_reveals_a_small_cell(k, data):
    n = data.draw(st.integers(0, 5 * k + 5))
    shown = suppress(n, k)
    if n == 0:
        assert shown == "0"
    elif n < k:
        assert shown == f"<{k}"
        assert str(n) not in shown.removeprefix("<").replace(str(k), "") and shown != str(n)
    else:
        assert shown == str(n)


@given(n=st.integers(0, 10**6))
def test_suppression_off_shows_every_count(n):
    assert suppress(n, 0) == str(n)


def _with_extra_exclusion(criteria_text: str):
    """The NCT06557265 criteria plus one more exclusion in both cohorts (eGFR < 90, a common finding)."""
    data = yaml.safe_load(criteria_text)
    data["criteria"].append({"id": "rel_exc_egfr90", "type": "exclusion", "text": "eGFR < 90 (test only)",
                             "rule": {"kind": "lab", "lab": "egfr", "comparator": "<", "value": 90,
                                      "unit": "mL/min/1.73m2", "derive": "egfr_ckd_epi_2021"}})
    for spec in data["cohorts"].values():
        spec["criteria"].append("rel_exc_egfr90")
    return parse_criteria(yaml.safe_dump(data, sort_keys=False), "extra-exclusion.yaml")


@pytest.mark.spark
def test_adding_an_exclusion_never_grows_the_eligible_set(spark, criteria, tmp_path):
    from jobs.feature_plan import plan_features
    from jobs.features_labs import lab_results
    from jobs.omop_reader import OmopExtract
    from jobs.vocabulary import resolve_concept_sets

    stricter = _with_extra_exclusion(CRITERIA.read_text(encoding="utf-8"))
    generate(tmp_path / "sample", persons=PERSONS, seed=31, as_of=AS_OF)
    extract = OmopExtract(spark, str(tmp_path / "sample" / "omop"))
    frames = pipeline.read_tables(extract)
    resolved = resolve_concept_sets(spark, stricter, extract)
    plan = plan_features(stricter)
    lab_sets = sorted({stricter.labs[r.lab].concept_set for r in plan.labs})
    frames["lab_results"] = lab_results(frames["measurement"], resolved.table(spark, lab_sets), stricter.labs)
    paths = pipeline.build_features(spark, frames, stricter, plan, resolved, AS_OF, str(tmp_path / "work"))
    wide = pipeline.feature_frame(spark, paths)

    def statuses(c) -> dict[tuple[str, int], str]:
        rows = ev.person_status(ev.evaluate(wide, c, AS_OF), c).select("cohort", "person_id", "status").collect()
        return {(r["cohort"], r["person_id"]): r["status"] for r in rows}

    base, strict = statuses(criteria), statuses(stricter)
    assert base.keys() == strict.keys() and len(base) == 2 * (PERSONS)
    eligible = {k for k, s in base.items() if s == "eligible"}
    eligible_strict = {k for k, s in strict.items() if s == "eligible"}
    not_failed = {k for k, s in base.items() if s != "ineligible"}
    not_failed_strict = {k for k, s in strict.items() if s != "ineligible"}
    assert eligible_strict <= eligible
    assert not_failed_strict <= not_failed
    assert len(eligible_strict) < len(eligible), "the added exclusion removes someone (else the test proves nothing)"


# --------------------------------------------------------------------------------------------- publish


@pytest.mark.spark
def test_a_swap_killed_between_the_two_renames_is_restored(spark, tmp_path):
    """Simulated: the old result sits at `.out.previous-X` (complete), there is no `out` and a finished staging
    folder. The next run's first step (check_target) puts the old result back; --overwrite is then required."""
    from jobs.errors import OutputError
    from jobs.output_fs import OutputFS

    out = tmp_path / "out"
    rh.fake_result(tmp_path / ".out.previous-20260101T000000-abcdef", "old")
    rh.fake_result(tmp_path / ".out.staging-20260101T000000-abcdef", "new")
    manifest = (tmp_path / ".out.previous-20260101T000000-abcdef" / "manifest.json").read_text()
    fs = OutputFS(spark, str(out))
    target = fs.qualify(str(out))
    with pytest.raises(OutputError, match="--overwrite"):
        publish.check_target(fs, target, overwrite=False)
    assert (out / "manifest.json").read_text() == manifest
    assert rh.incomplete_parts(out) == []
    assert not list(tmp_path.glob(".out.previous-*"))
    publish.check_target(fs, target, overwrite=True)  # what `run --overwrite` does first: accepted


class _RecordingFS:
    """A fake OutputFS recording deletes and renames, to check the order of operations in publish."""

    def __init__(self, existing: set[str]) -> None:
        self.existing, self.calls = set(existing), []

    def exists(self, p):
        return p in self.existing

    def list(self, p):
        return sorted(x.rsplit("/", 1)[1] for x in self.existing if x.startswith(p + "/"))

    def rename(self, a, b):
        self.calls.append(("rename", a, b))
        self.existing = {b + x[len(a):] if x == a or x.startswith(a + "/") else x for x in self.existing}

    def write_text(self, p, text):
        self.calls.append(("write", p))
        self.existing.add(p)

    def delete(self, p):
        self.calls.append(("delete", p))
        self.existing = {x for x in self.existing if x != p and not x.startswith(p + "/")}


def test_the_manifest_appears_whole_or_not_at_all():
    """A kill while manifest.json was being written left a 0-byte manifest.json beside every other output in
    the staging folder (SIGKILL test, 'manifest' point): it is now written under a temporary name and renamed."""
    fs = _RecordingFS({"/.o.staging-1"})
    publish.write_manifest(fs, "/.o.staging-1", {"run_id": "1"})
    assert fs.calls == [("write", "/.o.staging-1/_manifest.json.tmp"),
                        ("rename", "/.o.staging-1/_manifest.json.tmp", "/.o.staging-1/manifest.json")]


def test_a_removed_result_never_looks_complete_midway():
    """publish deletes the old result after the swap, abandon deletes a failed staging folder: a kill during
    either recursive delete must not leave a folder that holds manifest.json but lacks outputs, so the
    manifest goes first."""
    fs = _RecordingFS({"/o", "/o/manifest.json", "/o/person_status", "/.o.staging-1", "/.o.staging-1/manifest.json",
                       "/.o.staging-1/person_status"})
    publish.publish(fs, "/.o.staging-1", "/o", "1")
    deletes = [c[1] for c in fs.calls if c[0] == "delete"]
    assert deletes == ["/.o.previous-1/manifest.json", "/.o.previous-1"]
    fs = _RecordingFS({"/.o.staging-2", "/.o.staging-2/manifest.json", "/.o.staging-2/person_status"})
    publish.abandon(fs, "/.o.staging-2")
    assert [c[1] for c in fs.calls] == ["/.o.staging-2/manifest.json", "/.o.staging-2"]


# --------------------------------------------------------------------------------------------- credentials


def test_credentials_never_come_from_the_command_line(tmp_path, monkeypatch):
    p = parser()
    for flag in ("--password", "--user", "--jdbc-password", "--jdbc-user"):
        with pytest.raises(SystemExit) as exc:
            p.parse_args(["run", "--omop", "jdbc:postgresql://h/db", "--out", "o", flag, "x"])
        assert exc.value.code == 2
    options = {o for a in p._subparsers._group_actions for sp in a.choices.values() for o in sp._option_string_actions}
    assert not {o for o in options if "pass" in o or "user" in o or "secret" in o}
    props = tmp_path / "jdbc.properties"
    props.write_text("# db\nuser = reader\npassword = from-file\ndriver=org.postgresql.Driver\n")
    monkeypatch.delenv("COHORT_FINDER_JDBC_USER", raising=False)
    monkeypatch.delenv("COHORT_FINDER_JDBC_PASSWORD", raising=False)
    assert jdbc_properties(str(props)) == {"user": "reader", "password": "from-file",
                                           "driver": "org.postgresql.Driver"}
    monkeypatch.setenv("COHORT_FINDER_JDBC_USER", "env-user")
    monkeypatch.setenv("COHORT_FINDER_JDBC_PASSWORD", "env-secret")
    assert jdbc_properties(None) == {"user": "env-user", "password": "env-secret"}
    assert jdbc_properties(str(props))["password"] == "env-secret"  # the environment wins over the file


def _manifest_for(location: str) -> dict:
    """build_manifest with stand-ins for the run's objects, to see what it records of --omop."""
    crit = parse_criteria(CRITERIA.read_text(encoding="utf-8"), str(CRITERIA))
    cfg = pipeline.RunConfig(omop=location, criteria=crit, criteria_path=str(CRITERIA), out="o",
                             jdbc_properties={"user": "u", "password": "hunter2-props"})
    report = SimpleNamespace(tables={}, missing_tables=[], empty_tables=[], missing_optional_columns={})
    stub = SimpleNamespace(to_manifest=dict, rows_read={})
    from datetime import UTC, datetime
    return pipeline.build_manifest(cfg, SimpleNamespace(report=report), stub, stub, AS_OF, "--as-of", "r",
                                   datetime.now(UTC), pipeline.Timer(), 0, {}, {})


@pytest.mark.parametrize("location", [
    "jdbc:postgresql://db.example:5432/cdm?user=reader&password=hunter2",
    "jdbc:sqlserver://db.example:1433;databaseName=cdm;user=reader;password=hunter2",
])
def test_manifest_never_records_a_password(location):
    text = json.dumps(_manifest_for(location), default=str)
    assert "hunter2" not in text
    assert "db.example" in text  # the location itself is still recorded


@pytest.mark.parametrize("location", [
    "jdbc:mysql://reader:hunter2@db.example:3306/cdm",
    "jdbc:oracle:thin:reader/hunter2@db.example:1521/cdm",
    "s3a://AKIAEXAMPLE:hunter2@bucket/omop",
])
def test_manifest_never_records_userinfo_credentials(location):
    assert "hunter2" not in json.dumps(_manifest_for(location), default=str)


# ============================================================================== subprocess tests (slow)


@pytest.fixture(scope="module")
def cli_result(tmp_path_factory):
    """A CLI run at default verbosity on a 300-person sample with planted person-level sentinels."""
    tmp = tmp_path_factory.mktemp("cli")
    generate(tmp / "sample", persons=PERSONS, seed=41, as_of=AS_OF)
    rh.plant_sentinels(tmp / "sample" / "omop")
    out = tmp / "base" / "out"
    t0 = time.monotonic()
    proc = rh.run_cli("run", "--omop", str(tmp / "sample" / "omop"), "--as-of", "2026-10-01", "--out", str(out),
                      "--master", "local[2]")
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\nbase CLI run: {seconds:.0f} s")
    return SimpleNamespace(tmp=tmp, omop=tmp / "sample" / "omop", out=out, proc=proc, seconds=seconds)


@pytest.mark.slow
def test_no_person_level_value_reaches_logs_or_shared_outputs(cli_result):
    out = cli_result.out
    assert rh.SENTINEL_PERSON_ID in (cli_result.omop / "person.csv").read_text()  # planted
    persons = json.loads((out / "manifest.json").read_text())["persons"]
    assert persons == PERSONS + 1
    texts = {"stdout": cli_result.proc.stdout, "stderr": cli_result.proc.stderr}
    for name in ("report.md", "attrition.csv", "counts_by_site.csv", "manifest.json"):
        texts[name] = (out / name).read_text(encoding="utf-8")
    assert len(texts["stderr"].splitlines()) >= 6  # the stage lines were logged: we grep real output
    leaks = [(name, s, line) for name, text in texts.items() for line in text.splitlines()
             for s in rh.SENTINELS if s in line]
    assert not leaks, leaks[:10]
    # the sentinel person is in the person-level output (it is not for sharing), so the test is meaningful
    assert int(rh.SENTINEL_PERSON_ID) in set(_status_frame(out)["person_id"])


@pytest.mark.slow
def test_cli_outputs_are_readable_by_the_owner_only(cli_result):
    _assert_owner_only(cli_result.out)


@pytest.mark.slow
def test_existing_result_is_replaced_only_with_overwrite(cli_result):
    before = (cli_result.out / "manifest.json").read_text()
    proc = rh.run_cli("run", "--omop", str(cli_result.omop), "--as-of", "2026-10-01", "--out", str(cli_result.out),
                      "--master", "local[2]")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("cohort-finder:")]
    assert len(lines) == 1 and lines[0].startswith("cohort-finder: error: --out ") and "--overwrite" in lines[0]
    assert "Traceback" not in proc.stderr
    assert (cli_result.out / "manifest.json").read_text() == before


KILL_POINTS = {
    # name: condition on (staging folders, out) that triggers the SIGKILL; "start" is a fixed delay
    "start": None,
    "staging": lambda stg: bool(stg),
    "features": lambda stg: any((s / "features").exists() for s in stg),
    "person_status": lambda stg: any((s / "person_status").exists() for s in stg),
    "report": lambda stg: any((s / "report.md").exists() for s in stg),  # written just before the manifest
    "manifest": lambda stg: any((s / "manifest.json").exists() for s in stg),
}


@pytest.mark.slow
def test_sigkill_at_any_point_leaves_the_previous_result_intact(cli_result, tmp_path):
    """One run per kill point, all started together against copies of a complete result; each is SIGKILLed
    (whole process group) when its point is reached. Then one normal --overwrite run over all leftovers."""
    old_manifest = (cli_result.out / "manifest.json").read_text()
    old_rows = rh.person_status_rows(cli_result.out)
    procs, seen = {}, {}
    for name in KILL_POINTS:
        (tmp_path / name).mkdir()
        shutil.copytree(cli_result.out, tmp_path / name / "out")
        procs[name] = (rh.start_cli("run", "--omop", str(cli_result.omop), "--as-of", "2026-10-01", "--out",
                                    str(tmp_path / name / "out"), "--overwrite", "--master", "local[2]",
                                    log=tmp_path / f"{name}.log"), time.monotonic())
    deadline = time.monotonic() + 1800  # generous: a 2-core CI box shared with other jobs is slow
    while procs and time.monotonic() < deadline:
        for name, (proc, t0) in list(procs.items()):
            stg = sorted((tmp_path / name).glob(".out.staging-*"))
            cond = KILL_POINTS[name]
            due = (time.monotonic() - t0 > 1.0) if cond is None else cond(stg)
            if due or proc.poll() is not None:
                finished = proc.poll() is not None
                rh.kill_group(proc)
                seen[name] = {"after_s": round(time.monotonic() - t0, 1), "finished_before_kill": finished,
                              "staging": [sorted(p.name for p in s.iterdir()) for s in stg]}
                del procs[name]
        time.sleep(0.02)
    for proc, _ in procs.values():
        rh.kill_group(proc)
    assert not procs, f"kill points never reached: {sorted(procs)}"
    print("\nkill points:", json.dumps(seen, indent=1))
    for name in ("start", "staging", "features", "person_status"):
        assert not seen[name]["finished_before_kill"], name

    for name in KILL_POINTS:
        folder = tmp_path / name
        out = folder / "out"
        if not out.exists():  # killed between the two renames: the old result waits at .out.previous-*
            prev = list(folder.glob(".out.previous-*"))
            assert len(prev) == 1 and rh.incomplete_parts(prev[0]) == [], (name, list(folder.iterdir()))
            seen[name]["state"] = "between renames"
        elif (out / "manifest.json").read_text() == old_manifest:
            assert rh.person_status_rows(out) == old_rows, name
            seen[name]["state"] = "previous intact"
        else:  # killed after the swap: the new result is complete (only the report/manifest points get here)
            assert name in ("report", "manifest"), name
            seen[name]["state"] = "new result published"
        for f in rh.folders_claiming_completeness(folder):
            assert rh.incomplete_parts(f) == [], (name, f.name, rh.incomplete_parts(f))
    print("states:", {n: s["state"] for n, s in seen.items()})

    # One normal run over every leftover (staging folders of all kill points gathered in one place).
    home = next((tmp_path / n for n in KILL_POINTS if not (tmp_path / n / "out").exists()), tmp_path / "features")
    for name in KILL_POINTS:
        if tmp_path / name != home:
            for left in (tmp_path / name).glob(".out.*"):
                left.rename(home / left.name)
    leftovers = sorted(p.name for p in home.glob(".out.*"))
    t0 = time.monotonic()
    proc = rh.run_cli("run", "--omop", str(cli_result.omop), "--as-of", "2026-10-01", "--out", str(home / "out"),
                      "--overwrite", "--master", "local[2]")
    print(f"recovery run over {leftovers}: exit {proc.returncode} in {time.monotonic() - t0:.0f} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    new = json.loads((home / "out" / "manifest.json").read_text())
    assert new["run_id"] != json.loads(old_manifest)["run_id"]
    assert rh.incomplete_parts(home / "out") == [] and rh.person_status_rows(home / "out") == old_rows
    for f in rh.folders_claiming_completeness(home):
        assert rh.incomplete_parts(f) == [], f.name
    assert not list(home.glob(".out.previous-*")), "an interrupted swap is resolved, not left behind"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["no-person-table", "missing-folder", "missing-criteria", "bad-as-of"])
def test_bad_input_gives_one_clear_line_and_exit_2(case, tmp_path, request):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "measurement.csv").write_text("measurement_id,person_id\n")
    args = {"no-person-table": ["--omop", str(tmp_path / "empty")],
            "missing-folder": ["--omop", str(tmp_path / "nope")],
            "missing-criteria": ["--omop", str(tmp_path / "empty"), "--criteria", str(tmp_path / "none.yaml")],
            "bad-as-of": ["--omop", str(tmp_path / "empty"), "--as-of", "2026-13-45"]}[case]
    as_of = [] if case == "bad-as-of" else ["--as-of", "2026-10-01"]
    proc = rh.run_cli("run", *args, *as_of, "--out", str(tmp_path / "out"), "--master", "local[1]")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines()
             if ln.strip() and not ln.startswith("WARNING: Using incubator") and " INFO " not in ln]
    assert len(lines) == 1 and lines[0].startswith("cohort-finder: error:"), proc.stderr[-2000:]
    assert not (tmp_path / "out").exists()
