"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temp folder, a free loopback port, scram auth.

Debian's `postgresql` package provides the binaries (/usr/lib/postgresql/<version>/bin, found by glob) and
`libpostgresql-jdbc-java` the driver jar; `.ci/run` installs both. Without them the fixture skips and says
which is missing. The server refuses to run as root, so as root every server command runs as `postgres`.
Tables are created with the official OMOP CDM 5.4 PostgreSQL DDL (omop_cdm_54_postgresql_ddl.sql, types as
the spec gives them) and loaded with psql's COPY from the generator's CSV files.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs.jdbc import DRIVER_JARS

DDL = Path(__file__).with_name("omop_cdm_54_postgresql_ddl.sql")
PASSWORD = "fixture-pw-7Qx"  # a throwaway server's password; tests check it is never echoed
USER = "postgres"
DATABASE = "cdm_test"
# Required by CDM 5.4 but left empty by the generator, as by many real ETLs; the reader accepts the null
# (an exposure then ends at start + days_supply - 1). Only these NOT NULL constraints are dropped.
RELAXED: dict[str, tuple[str, ...]] = {"drug_exposure": ("drug_exposure_end_date",)}


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def missing() -> str | None:
    """Why the fixture cannot run here, or None."""
    if binaries() is None:
        return "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin; apt-get install postgresql)"
    if not Path(DRIVER_JARS["postgresql"]).is_file():
        return f"PostgreSQL JDBC driver {DRIVER_JARS['postgresql']} not found (apt-get install libpostgresql-jdbc-java)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as an unprivileged user"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs.

    The socket stays bound but never listens, so no other process (a parallel run's Spark accumulator server
    took a released port once, and got our JDBC handshake) can take the port while a test relies on it being dead.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def table_ddl(tables: list[str], schema: str) -> str:
    """The official CREATE TABLE statements of `tables`, in `schema`."""
    text = DDL.read_text(encoding="utf-8")
    out = []
    for table in tables:
        m = re.search(rf"CREATE TABLE @cdmDatabaseSchema\.{table} \(.*?\);", text, re.S)
        if m is None:
            raise KeyError(f"{table} not in {DDL.name}")
        out.append(m.group(0).replace("@cdmDatabaseSchema", schema))
    return "\n".join(out)


@dataclass
class Postgres:
    bin: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{DATABASE}"

    def _as_server(self, args: list[str]) -> list[str]:
        return (["runuser", "-u", "postgres", "--"] + args) if os.geteuid() == 0 else args

    def start(self) -> None:
        data, sock = self.root / "data", self.root / "sock"
        pwfile = self.root / "pwfile"
        data.mkdir()
        sock.mkdir()
        pwfile.write_text(PASSWORD + "\n")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            for p in (self.root, data, sock, pwfile):
                shutil.chown(p, "postgres", "postgres")
        self.root.chmod(0o700)
        subprocess.run(self._as_server([str(self.bin / "initdb"), "-D", str(data), "-U", USER,
                                        "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                                        "--locale=C.UTF-8"]), check=True, capture_output=True)
        opts = (f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c log_statement=all")
        subprocess.run(self._as_server([str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.log), "-w",
                                        "-t", "30", "-o", opts, "start"]), check=True, capture_output=True)
        self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def stop(self) -> None:
        subprocess.run(self._as_server([str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                                        "-w", "stop"]), capture_output=True)

    def psql(self, sql: str, database: str = DATABASE, stdin: Path | None = None) -> str:
        """Run SQL with psql (ON_ERROR_STOP); returns unaligned tuples-only output."""
        psql = self.bin / "psql" if (self.bin / "psql").exists() else Path(shutil.which("psql") or "psql")
        with open(stdin, "rb") if stdin else open(os.devnull, "rb") as fh:
            done = subprocess.run([str(psql), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database,
                                   "-v", "ON_ERROR_STOP=1", "-Atqc", sql], stdin=fh, capture_output=True, text=True,
                                  env={**os.environ, "PGPASSWORD": PASSWORD})
        if done.returncode:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def load_csv_folder(self, folder: Path, schema: str, vocab_schema: str | None = None,
                        vocabulary: tuple[str, ...] = ("concept", "concept_ancestor", "concept_relationship")) -> None:
        """Each `<table>.csv` of `folder` into `schema` (vocabulary tables into `vocab_schema`), official types."""
        for path in sorted(folder.glob("*.csv")):
            table = path.stem.lower()
            target = vocab_schema if vocab_schema and table in vocabulary else schema
            relax = "".join(f" ALTER TABLE {target}.{table} ALTER COLUMN {c} DROP NOT NULL;"
                            for c in RELAXED.get(table, ()))
            self.psql(f"CREATE SCHEMA IF NOT EXISTS {target}; " + table_ddl([table], target) + relax)
            header = path.open(encoding="utf-8").readline().strip()
            self.psql(f"COPY {target}.{table} ({header}) FROM STDIN WITH (FORMAT csv, HEADER true)", stdin=path)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A running PostgreSQL with an empty database `cdm_test`; stopped and removed after the session."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="cf-pg-"))
    server = Postgres(binaries(), root, free_port())  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
