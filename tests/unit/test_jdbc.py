"""Database errors as one line: classified by SQLState through the Java cause chain, credentials never shown;
JDBC arguments that do not fit together are refused before any JVM starts. No Spark (fake py4j errors)."""

from __future__ import annotations

import pytest

from jobs import cli
from jobs.jdbc import describe, driver_jar, quoted, sql_state

URL = "jdbc:postgresql://db.example.org:5432/omop?user=alice&password=s3cret-Pw"


class FakeJava:
    """A Java exception as py4j exposes it: getSQLState (SQLException only) and getCause."""

    def __init__(self, state: str | None, cause: FakeJava | None = None, message: str = "") -> None:
        self.state, self.cause, self.message = state, cause, message

    def getMessage(self):  # noqa: N802
        return self.message

    def getSQLState(self):  # noqa: N802 - Java's name
        if self.state is None:
            raise AttributeError("not an SQLException")
        return self.state

    def getCause(self):  # noqa: N802
        return self.cause


class FakePy4JError(Exception):
    def __init__(self, text: str, java: FakeJava) -> None:
        super().__init__(text)
        self.java_exception = java


def error(state: str, text: str) -> FakePy4JError:
    return FakePy4JError(f"An error occurred while calling o1.load.\n: org.apache.spark.SparkException: {text}",
                         FakeJava(None, FakeJava(state, message=text + "\n  Position: 15")))


@pytest.mark.parametrize(("state", "text", "expected"), [
    ("08001", "Connection to db.example.org:5432 refused", "cannot connect (server unreachable"),
    ("28P01", 'FATAL: password authentication failed for user "alice"', "authentication failed for the JDBC user"),
    ("3D000", 'FATAL: database "omop" does not exist', "the database in the URL does not exist"),
    ("42P01", 'ERROR: relation "cdm.person" does not exist', 'a table does not exist (relation "cdm.person"'),
])
def test_errors_are_classified_by_the_sql_state_in_the_cause_chain(state, text, expected):
    exc = error(state, text)
    assert sql_state(exc) == state
    line = describe(exc, URL, "reading")
    assert line.startswith("jdbc:postgresql://db.example.org:5432/omop: reading: ") and expected in line
    assert "s3cret" not in line and "alice" not in line and "\n" not in line


def test_a_missing_driver_names_the_flag_and_the_package(tmp_path):
    line = describe(FakePy4JError("java.sql.SQLException: No suitable driver", FakeJava(None)), URL, "reading")
    assert "--jdbc-driver-jar" in line and "libpostgresql-jdbc-java" in line
    with pytest.raises(Exception, match="no such file"):
        driver_jar([URL], str(tmp_path / "none.jar"))


def test_identifiers_are_quoted_only_when_they_would_fold():
    assert quoted("cdm") == "cdm" and quoted("CDM") == '"CDM"' and quoted('a"b') == '"a""b"'


@pytest.mark.parametrize("args", [
    ["--results-jdbc", "jdbc:postgresql://h/db"],
    ["--results-schema", "results"],
    ["--results-jdbc", "postgresql://h/db", "--results-schema", "results"],
    ["--vocab-schema", "vocab"],
    ["--jdbc-partitions", "0"],
])
def test_jdbc_arguments_that_do_not_fit_are_one_line_and_exit_2(tmp_path, capsys, args):
    try:
        code = cli.main(["run", "--omop", str(tmp_path), "--out", str(tmp_path / "out"), *args])
    except SystemExit as exc:  # argparse's own errors exit from inside the parser
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("cohort-finder: error:"), err
