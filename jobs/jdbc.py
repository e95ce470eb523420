"""JDBC on the driver: the driver jar, one connection through Spark's JVM, and database errors as one line.

Spark's JDBC source reads and writes the tables; what it cannot do (list a schema's tables, run a DELETE and
an INSERT in one transaction) runs here over a plain `java.sql.Connection` opened through py4j. Errors are
classified by SQLState (walking the Java cause chain), so a user sees "cannot connect", "authentication
failed" or "schema not found", never a Java stack, a password or the URL's query string.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.errors import InputError, first_line
from jobs.redaction import redact

# Where a packaged driver lives (Debian's libpostgresql-jdbc-java); nothing is downloaded at run time.
DRIVER_JARS: dict[str, str] = {"postgresql": "/usr/share/java/postgresql.jar"}
DRIVER_CLASSES: dict[str, str] = {"postgresql": "org.postgresql.Driver"}
# SQLState class (first two characters) or full state -> what the user is told; the server's own text is
# only added where it cannot carry a credential.
STATES: dict[str, str] = {
    "08": "cannot connect (server unreachable, wrong host or port, or not accepting TCP connections)",
    "28": "authentication failed for the JDBC user (check COHORT_FINDER_JDBC_USER / COHORT_FINDER_JDBC_PASSWORD "
          "or the --jdbc-properties file)",
    "3D000": "the database in the URL does not exist",
    "3F000": "the schema does not exist",
    "42P01": "a table does not exist",
    "42501": "permission denied",
}
QUIET_STATES = ("08", "28")  # the server's message is not shown (it may echo the user or host details)


def subprotocol(url: str) -> str:
    """`postgresql` for `jdbc:postgresql://...`."""
    return url.split(":", 2)[1].lower() if url.startswith("jdbc:") and url.count(":") >= 2 else ""


def driver_jar(urls: list[str], given: str | None) -> str | None:
    """The jar to put on Spark's class path: `--jdbc-driver-jar`, else the packaged one for the URLs' database."""
    if given:
        if not Path(given).is_file():
            raise InputError(f"--jdbc-driver-jar {given}: no such file")
        return given
    for url in urls:
        jar = DRIVER_JARS.get(subprotocol(url))
        if jar and Path(jar).is_file():
            return jar
    return None


def with_driver(url: str, props: dict[str, str]) -> dict[str, str]:
    """`props` with the driver class named when it is known (Spark then loads it from the jar itself)."""
    cls = DRIVER_CLASSES.get(subprotocol(url))
    return {"driver": cls, **props} if cls else dict(props)


def sql_error(exc: BaseException) -> tuple[str, str] | None:
    """(SQLState, first line of its message) of the first java.sql.SQLException in a py4j error's cause chain."""
    java = getattr(exc, "java_exception", None)
    seen = 0
    while java is not None and seen < 20:
        try:
            state = java.getSQLState()
            if state:
                text = str(java.getMessage() or "").strip().splitlines()
                return str(state), (text[0] if text else "")[:300]
        except Exception:  # not an SQLException: no such method
            pass
        java, seen = java.getCause(), seen + 1
    return None


def sql_state(exc: BaseException) -> str | None:
    found = sql_error(exc)
    return found[0] if found else None


def describe(exc: BaseException, url: str, what: str) -> str:
    """One line: where (the redacted URL), what was being done, and the classified cause."""
    if "No suitable driver" in str(exc) or "ClassNotFoundException" in str(exc):
        return (f"{redact(url)}: no JDBC driver for this URL; give --jdbc-driver-jar PATH (Debian: apt-get install "
                "libpostgresql-jdbc-java puts it in /usr/share/java/)")
    state, text = sql_error(exc) or ("", first_line(exc))
    reason = STATES.get(state) or STATES.get(state[:2])
    if reason is None:
        return f"{redact(url)}: {what}: {text}"
    if state.startswith(QUIET_STATES):
        return f"{redact(url)}: {what}: {reason} [SQLState {state}]"
    return f"{redact(url)}: {what}: {reason} ({text.removeprefix('ERROR: ').removeprefix('FATAL: ')})"


@contextmanager
def connection(spark: SparkSession, url: str, props: dict[str, str], what: str = "connecting") -> Iterator:
    """A java.sql.Connection (autocommit off), closed afterwards; connection errors become InputError."""
    jvm = spark.sparkContext._jvm
    jprops = jvm.java.util.Properties()
    for key, value in with_driver(url, props).items():
        if key != "driver":
            jprops.setProperty(key, value)
    try:
        cls = with_driver(url, props).get("driver")
        if cls:  # register it from Spark's class loader (spark.jars), where DriverManager alone may not look
            jvm.org.apache.spark.sql.execution.datasources.jdbc.DriverRegistry.register(cls)
        conn = jvm.java.sql.DriverManager.getConnection(url, jprops)
    except Exception as exc:
        raise InputError(describe(exc, url, what)) from None
    try:
        conn.setAutoCommit(False)
        yield conn
    finally:
        conn.close()


def schemas(conn) -> list[str]:
    rs = conn.getMetaData().getSchemas()
    out = []
    while rs.next():
        out.append(str(rs.getString("TABLE_SCHEM")))
    rs.close()
    return out


def tables(conn, schema: str) -> list[str]:
    """Table and view names in `schema` (as the database spells them)."""
    rs = conn.getMetaData().getTables(None, schema, "%", None)
    out = []
    while rs.next():
        if str(rs.getString("TABLE_TYPE")).upper() in ("TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE",
                                                         "PARTITIONED TABLE"):
            out.append(str(rs.getString("TABLE_NAME")))
    rs.close()
    return out


def find_schema(conn, given: str, url: str, flag: str) -> str:
    """The schema as the database spells it (case-insensitive match), or one clear InputError."""
    names = schemas(conn)
    for name in names:
        if name == given:
            return name
    for name in names:
        if name.lower() == given.lower():
            return name
    raise InputError(f"{redact(url)}: {flag} {given}: no such schema (schemas: {', '.join(sorted(names)) or 'none'})")


def quoted(name: str) -> str:
    """An identifier as SQL text: plain when lower-case (unquoted names fold to lower case), else quoted."""
    return name if name == name.lower() and name.replace("_", "").isalnum() else '"' + name.replace('"', '""') + '"'
