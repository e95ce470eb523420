"""The command line refuses, before any JVM starts, a run without a trial and a trial given twice (one line,
exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.cli import main

CRITERIA = Path(__file__).resolve().parents[2] / "criteria" / "nct06557265.yaml"


@pytest.mark.parametrize(("criteria", "message"), [
    ([], "cohort-finder: error: --criteria is required: give one criteria file per trial"),
    ([CRITERIA, CRITERIA], "cohort-finder: error: " + str(CRITERIA) + ": trial NCT06557265 is also given by"),
])
@pytest.mark.parametrize("command", ["run", "check"])
def test_no_trial_or_a_trial_twice_is_one_line_and_exit_2(command, criteria, message, tmp_path, capsys):
    args = [command, "--omop", str(tmp_path)] + [a for c in criteria for a in ("--criteria", str(c))]
    if command == "run":
        args += ["--out", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert not (tmp_path / "out").exists()
