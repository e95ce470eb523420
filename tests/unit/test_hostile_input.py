"""Hostile and odd input that is refused before Spark starts (issue 20), one test per class, run in-process
through `jobs.cli.main`: each case asserts the exit code, that stderr is one clear line (no traceback) and
that no secret or data value appears in it. The cases that need data are in
tests/spark/quality/test_hostile_data.py.
"""

from __future__ import annotations

import errno
import logging
import time

import pytest

from jobs import cli
from jobs.errors import CriteriaError, environment_error
from jobs.redaction import redact, scrub, scrub_all
from jobs.rules.loader import MAX_RULE_DEPTH, parse_criteria
from tests.unit.rules.test_loader import GOOD

SECRET = "Hunter2-s3cr3t"


def _main(capsys, argv: list[str]) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's errors end through our parser's hook: exit 2 after one line
        code = exc.code
    err = capsys.readouterr().err
    return code, err


def _one_clean_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and SECRET not in err
    return lines[0]


# ------------------------------------------------------------------------------------------------ secrets
URL_FORMS = [
    f"jdbc:hive2://h:10000/db;user=u;password={SECRET}",
    f"jdbc:postgresql://h:5432/cdm?user=u&password={SECRET}",
    f"jdbc:postgresql://h:5432/cdm?ssl=true&sslpassword={SECRET}&sslmode=require",
    f"jdbc:postgresql://h/cdm?password={SECRET}",
    f"jdbc:sqlserver://h:1433;databaseName=cdm;user=u;password={SECRET};encrypt=true",
    f"jdbc:mysql://u:{SECRET}@h:3306/cdm",
    f"jdbc:oracle:thin:u/{SECRET}@h:1521/cdm",
    f"jdbc:snowflake://acct.snowflakecomputing.com/?user=u&token={SECRET}",
    f"jdbc:databricks://h:443;AuthMech=3;UID=token;PWD={SECRET}",
    f"s3a://AKIAEXAMPLE:{SECRET}@bucket/omop",
    f"https://{SECRET}@example.org/omop",
    f"abfss://c@acct.dfs.core.windows.net/omop?sig={SECRET}&sv=2020",
    f"wasbs://c@a.blob.core.windows.net/;AccountKey={SECRET};",
    f"fs.s3a.secret.key={SECRET}",
    f"api_key={SECRET}",
    f"{{'password': '{SECRET}'}}",
]


@pytest.mark.parametrize("url", URL_FORMS)
def test_secrets_every_credential_form_is_masked_everywhere_it_is_shown(url, capsys, caplog):
    """In free text (a driver's message quoting the URL), in manifest values and in log lines; the location
    itself stays readable. `redact` (for --omop) keeps the host and drops the rest."""
    message = f"cannot connect to {url} (connection refused)"
    assert SECRET not in scrub(message) and "connection refused" in scrub(message)
    assert SECRET not in str(scrub_all({"inputs": {"omop": url, "tables": [url]}}))
    if url.startswith(("jdbc:", "s3a:")):
        assert SECRET not in redact(url) and redact(url).split("//")[-1].split("/")[0].split(":")[0]
    # the CLI's user-error and internal-error lines, and the log handler, all scrub
    code, err = _main(capsys, ["run", "--omop", url, "--out", "/nonexistent/x", "--criteria", "/no/such.yaml"])
    assert code == 2 and SECRET not in err
    handler = logging.StreamHandler()
    handler.addFilter(cli.ScrubFilter())
    record = logging.LogRecord("cohort_finder", logging.WARNING, __file__, 1, "reading %s", (url,), None)
    handler.filter(record)
    assert SECRET not in record.getMessage()


def test_secrets_a_driver_error_quoting_the_url_reaches_stderr_masked(capsys, monkeypatch, tmp_path):
    """The Hive/Thrift case of issue 20: the failure happens while reading (here a stand-in for the driver's
    exception), and its text quotes the URL with the password."""
    url = f"jdbc:hive2://h:1/db;user=u;password={SECRET}"

    def failing(*_a, **_k):
        raise RuntimeError(f"java.sql.SQLException: Could not open client transport with JDBC Uri: {url}")

    monkeypatch.setattr("jobs.session.build_session", lambda *a, **k: _Stopper())
    monkeypatch.setattr("jobs.pipeline.run", failing)
    code, err = _main(capsys, ["run", "--omop", url, "--criteria", "criteria/nct06557265.yaml",
                                "--out", str(tmp_path / "o")])
    line, hint = err.splitlines()
    assert hint.strip() == "rerun with -v for the full traceback" and SECRET not in err
    assert code == 1 and "password=***" in line and "jdbc:hive2://h:1/db" in line


class _Stopper:
    def stop(self) -> None:
        pass


# --------------------------------------------------------------------------- user mistakes before Spark
def _nested_yaml(levels: int) -> str:
    return GOOD.replace('version: "1"', 'version: "1"\nsource: ' + "[" * levels + "]" * levels)


def _nested_any_of(levels: int) -> str:
    rule = "{kind: age, min: 18}"
    for _ in range(levels):
        rule = f"{{kind: any_of, rules: [{rule}]}}"
    return GOOD.replace("rule: {kind: age, min: 18}", f"rule: {rule}")


@pytest.mark.parametrize("case, argv_of, says", [
    ("criteria YAML nested 1000 levels", lambda p: ["validate", p(_nested_yaml(1000))], "nested deeper than 64"),
    ("criteria YAML nested 100,000 levels", lambda p: ["validate", p(_nested_yaml(100_000))],
     "nested deeper than 64"),
    ("any_of nested 200 deep", lambda p: ["validate", p(_nested_any_of(200))], "nested deeper than 64"),
    ("any_of nested 20 deep", lambda p: ["validate", p(_nested_any_of(20))],
     f"at most {MAX_RULE_DEPTH} are supported"),
    ("--as-of 0001-01-01", lambda p: ["run", "--omop", "x", "--out", "y", "--as-of", "0001-01-01"],
     "outside the supported range 1900-01-01..2199-12-31"),
    ("--as-of 9999-12-31", lambda p: ["run", "--omop", "x", "--out", "y", "--as-of", "9999-12-31"],
     "outside the supported range"),
    ("--as-of not a date", lambda p: ["check", "--omop", "x", "--as-of", "2026-02-30"], "not a date"),
    ("--min-cell-count not a number", lambda p: ["run", "--omop", "x", "--out", "y", "--min-cell-count", "ten"],
     "not a whole number"),
    ("criterion id ending in a newline", lambda p: ["validate", p(GOOD.replace("- id: b", '- id: "b\\n"'))],
     "criterion 'b\\n', id: String should match pattern"),
    ("cohort name ending in a newline", lambda p: ["validate", p(GOOD.replace("  c: {title", '  "c\\n": {title'))],
     "must be lower_snake_case"),
    ("criteria file not UTF-8", lambda p: ["validate", p(GOOD.replace("age", "\u00e2ge"), "latin-1")], "cannot read"),
    ("a window of a million days", lambda p: ["validate", p(GOOD.replace(
        "concept_set: sle}\ncohorts", "concept_set: sle, within_days: 1000000}\ncohorts"))],
     "within_days: Input should be less than or equal to 73000"),
])
def test_user_mistakes_before_spark_end_in_one_line_and_exit_2(case, argv_of, says, capsys, tmp_path):
    def path(text: str, encoding: str = "utf-8") -> str:
        f = tmp_path / "c.yaml"
        f.write_bytes(text.encode(encoding))
        return str(f)

    t0 = time.perf_counter()
    code, err = _main(capsys, argv_of(path))
    assert code == 2, (case, err)
    assert says in _one_clean_line(err), (case, err)
    assert time.perf_counter() - t0 < 10, case


@pytest.mark.parametrize("exc, says", [
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on device (ENOSPC)"),
    (RuntimeError("An error occurred while calling o12.parquet.\n: org.apache.spark.SparkException: Job aborted"
                  "\nCaused by: java.io.IOException: No space left on device\n\tat java.io.FileOutputStream"),
     "no space left on device (ENOSPC)"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk quota exceeded"),
    (RuntimeError("ExitCodeException: mkdir: /r/file.txt/out: Not a directory"), "is a regular file, not a folder"),
    (RuntimeError("py4j: java.lang.StackOverflowError\n\tat org.apache.spark.sql.catalyst"), "nested too deeply"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
])
def test_environment_failures_are_said_plainly_with_exit_2(exc, says, capsys, monkeypatch, tmp_path):
    """A full disk or a file where a folder should be happens while Spark writes: the CLI recognises the
    condition (Python's errno or the Java text) and says it in one line, exit 2, instead of "internal error"."""
    assert environment_error(exc) is not None
    monkeypatch.setattr("jobs.session.build_session", lambda *a, **k: _Stopper())

    def failing(*_a, **_k):
        raise exc

    monkeypatch.setattr("jobs.pipeline.run", failing)
    code, err = _main(capsys, ["run", "--omop", str(tmp_path), "--criteria", "criteria/nct06557265.yaml",
                                "--out", str(tmp_path / "o")])
    assert code == 2 and says in _one_clean_line(err), err
    assert environment_error(ValueError("a bug")) is None


# ------------------------------------------------------------------------------------ denial of service
def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return GOOD.replace('version: "1"', 'version: "1"\nsource:\n  ' + "\n  ".join(lines))


@pytest.mark.parametrize("case, text", [
    ("billion laughs (9^10 nodes)", _alias_bomb(10)),
    ("alias bomb at 9^6 nodes", _alias_bomb(6)),
    ("wide mapping of aliases", GOOD.replace('version: "1"', 'version: "1"\nsource: &s [' + ", ".join(["1"] * 500)
                                             + "]\nnote: [" + ", ".join(["*s"] * 500) + "]")),
])
def test_denial_of_service_yaml_that_expands_past_the_bound_is_refused_at_once(case, text):
    t0 = time.perf_counter()
    with pytest.raises(CriteriaError) as err:
        parse_criteria(text, "bomb.yaml")
    assert time.perf_counter() - t0 < 2, case
    message = str(err.value)
    assert message.startswith("bomb.yaml:") and "expands to more than 200000 nodes" in message, message
    assert "\n" not in message
    with pytest.raises(CriteriaError, match="source: Input should be a valid string"):
        parse_criteria(_alias_bomb(3), "small.yaml")  # 9^3 nodes: read, then refused by validation as usual


# ------------------------------------------------------------------------------- validation messages (16)
@pytest.mark.parametrize("case, edit, line", [
    ("unit of a lab rule is named as unit, not rule.lab",
     ("rule: {kind: condition, concept_set: sle}", "rule: {kind: lab, lab: upcr, comparator: '>=', value: 1,\n"
      "            unit: furlongs}"),
     "x.yaml:17: criterion b, rule.unit: unknown unit 'furlongs'"),
    ("a field no rule kind has", ("rule: {kind: age, min: 18}", "rule: {kind: age, min: 18, maxi: 3}"),
     "x.yaml:12: criterion a, rule.maxi: field maxi is not supported for rule kind age (supported: min, max)"),
    ("a field of another kind", ("rule: {kind: condition, concept_set: sle}",
                                 "rule: {kind: condition, concept_set: sle, unit: g/g}"),
     "x.yaml:16: criterion b, rule.unit: field unit is not supported for rule kind condition (supported: "
     "within_days, between_days, occurrence, after, during_visit, concept_set, min_count)"),
    ("nested rule field", ("rule: {kind: age, min: 18}", "rule: {kind: not, rule: {kind: alive, when: 1}}"),
     "criterion a, rule.rule.when: field when is not supported for rule kind alive (it takes no fields)"),
    ("between's max", ("rule: {kind: condition, concept_set: sle}",
                       "rule: {kind: lab, lab: upcr, comparator: between, value: 2, max: 1, unit: g/g}"),
     "criterion b, rule.max: comparator 'between' needs max >= value"),
    ("an unknown field of a concept item", ("items: [{concept_id: 257628}]", "items: [{concept_id: 257628, x: 1}]"),
     "concept_sets.sle.items[0].x: field x is not supported here (supported: concept_id, code,"),
    ("the lab field itself", ("rule: {kind: condition, concept_set: sle}",
                              "rule: {kind: lab, lab: [upcr], comparator: '>', value: 1, unit: g/g}"),
     "criterion b, rule.lab: Input should be a valid string"),
])
def test_validation_messages_name_the_field_the_user_wrote(case, edit, line):
    with pytest.raises(CriteriaError) as err:
        parse_criteria(GOOD.replace(*edit), "x.yaml")
    lines = str(err.value).splitlines()
    assert any(line in ln for ln in lines), (case, lines)
    assert all(ln.startswith("x.yaml:") for ln in lines), lines  # every problem on its own line, with file:line
    assert "Extra inputs are not permitted" not in str(err.value)


def test_validation_messages_one_line_per_problem_each_with_its_line():
    text = GOOD.replace("rule: {kind: age, min: 18}", "rule: {kind: age, min: 18, maxi: 3}").replace(
        "rule: {kind: condition, concept_set: sle}", "rule: {kind: condition, concept_set: sle, color: red}")
    lines = str(pytest.raises(CriteriaError, parse_criteria, text, "x.yaml").value).splitlines()
    assert [ln.split(": ", 1)[0] for ln in lines] == ["x.yaml:12", "x.yaml:16"], lines
