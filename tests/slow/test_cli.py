"""Reliability through the command line (issue 5), in subprocesses: no person-level value in logs or shared
outputs, owner-only outputs, --overwrite, SIGKILL at any point leaves the previous result intact, bad input
gives one clear line and exit 2. Slow: `pytest -m slow`."""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from types import SimpleNamespace

import pytest

from jobs.synthetic.generate import generate
from tests.support import reliability_helpers as rh

AS_OF = date(2026, 10, 1)
PERSONS = 300


CRIT = ("--criteria", str(rh.CRITERIA))  # the CLI has no default trial


@pytest.fixture(scope="module")
def cli_result(tmp_path_factory):
    """A CLI run at default verbosity on a 300-person sample with planted person-level sentinels."""
    tmp = tmp_path_factory.mktemp("cli")
    generate(tmp / "sample", persons=PERSONS, seed=41, as_of=AS_OF)
    rh.plant_sentinels(tmp / "sample" / "omop")
    out = tmp / "base" / "out"
    t0 = time.monotonic()
    proc = rh.run_cli("run", *CRIT, "--omop", str(tmp / "sample" / "omop"), "--as-of", "2026-10-01", "--out", str(out),
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
    for name in (f"{rh.NCT}/report.md", f"{rh.NCT}/attrition.csv", f"{rh.NCT}/counts_by_site.csv", "manifest.json"):
        texts[name] = (out / name).read_text(encoding="utf-8")
    assert len(texts["stderr"].splitlines()) >= 6  # the stage lines were logged: we grep real output
    leaks = [(name, s, line) for name, text in texts.items() for line in text.splitlines()
             for s in rh.SENTINELS if s in line]
    assert not leaks, leaks[:10]
    # the sentinel person is in the person-level output (it is not for sharing), so the test is meaningful
    assert int(rh.SENTINEL_PERSON_ID) in set(rh.status_frame(out)["person_id"])


@pytest.mark.slow
def test_cli_outputs_are_readable_by_the_owner_only(cli_result):
    rh.assert_owner_only(cli_result.out)


@pytest.mark.slow
def test_existing_result_is_replaced_only_with_overwrite(cli_result):
    before = (cli_result.out / "manifest.json").read_text()
    proc = rh.run_cli("run", *CRIT, "--omop", str(cli_result.omop), "--as-of", "2026-10-01",
                      "--out", str(cli_result.out), "--master", "local[2]")
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
    "person_status": lambda stg: any((s / rh.NCT / "person_status").exists() for s in stg),
    "report": lambda stg: any((s / rh.NCT / "report.md").exists() for s in stg),  # just before the manifest
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
        procs[name] = (rh.start_cli("run", *CRIT, "--omop", str(cli_result.omop), "--as-of", "2026-10-01", "--out",
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
    proc = rh.run_cli("run", *CRIT, "--omop", str(cli_result.omop), "--as-of", "2026-10-01", "--out", str(home / "out"),
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
@pytest.mark.parametrize("case", ["no-person-table", "missing-folder", "missing-criteria", "bad-as-of",
                                  "no-criteria"])
def test_bad_input_gives_one_clear_line_and_exit_2(case, tmp_path, request):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "measurement.csv").write_text("measurement_id,person_id\n")
    shipped = ["--criteria", str(rh.CRITERIA)]
    args = {"no-person-table": ["--omop", str(tmp_path / "empty"), *shipped],
            "missing-folder": ["--omop", str(tmp_path / "nope"), *shipped],
            "missing-criteria": ["--omop", str(tmp_path / "empty"), "--criteria", str(tmp_path / "none.yaml")],
            "bad-as-of": ["--omop", str(tmp_path / "empty"), "--as-of", "2026-13-45", *shipped],
            "no-criteria": ["--omop", str(tmp_path / "empty")]}[case]
    as_of = [] if case == "bad-as-of" else ["--as-of", "2026-10-01"]
    proc = rh.run_cli("run", *args, *as_of, "--out", str(tmp_path / "out"), "--master", "local[1]")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines()
             if ln.strip() and not ln.startswith("WARNING: Using incubator") and " INFO " not in ln]
    assert len(lines) == 1 and lines[0].startswith("cohort-finder: error:"), proc.stderr[-2000:]
    assert not (tmp_path / "out").exists()
