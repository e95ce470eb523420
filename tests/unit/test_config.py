"""What a run is asked to do (jobs.config): credentials never come from the command line; the criteria file
is loaded and validated into the configuration."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from jobs import cli
from jobs.cli import parser
from jobs.config import RunConfig, jdbc_properties
from jobs.errors import CriteriaError
from jobs.rules.loader import LoadedCriteria

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_run_configuration_carries_the_loaded_criteria_files(tmp_path):
    """The CLI loads and validates each criteria file into RunConfig (model, path, sha256), in the order given,
    before any JVM."""
    files = [ROOT / "criteria" / "nct03036150.yaml", ROOT / "criteria" / "nct06557265.yaml"]
    args = ["run", "--omop", str(tmp_path), "--out", str(tmp_path / "o")]
    cfg = cli._config(parser().parse_args(args + [a for f in files for a in ("--criteria", str(f))]))
    assert isinstance(cfg, RunConfig) and all(isinstance(t, LoadedCriteria) for t in cfg.trials)
    assert [t.path for t in cfg.trials] == [str(f) for f in files]
    assert [t.sha256 for t in cfg.trials] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert [t.model.trial for t in cfg.trials] == ["NCT03036150", "NCT06557265"] and cfg.out == str(tmp_path / "o")
    with pytest.raises(CriteriaError, match="not found"):
        cli._config(parser().parse_args(["run", "--omop", str(tmp_path), "--out", "o", "--criteria",
                                         str(tmp_path / "none.yaml")]))


def test_full_results_is_off_by_default_and_set_by_its_flag(tmp_path):
    args = ["run", "--omop", str(tmp_path), "--out", "o", "--criteria", str(ROOT / "criteria" / "nct06557265.yaml")]
    assert cli.run_config(parser().parse_args(args)).full_results is False
    assert cli.run_config(parser().parse_args([*args, "--full-results"])).full_results is True
