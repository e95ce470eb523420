"""`make dist`: everything `spark-submit` needs to run the job on a cluster, in one folder.

    python -m jobs.tools.dist --out dist

writes

- `cohort-finder-env.tar.gz` — a packed virtualenv (venv-pack) with the project and its compiled dependencies
  (pydantic-core, pyarrow, numpy, great-expectations). Ship it with `--archives ...#environment` and set
  `PYSPARK_PYTHON=./environment/bin/python` for executors (and the YARN/K8s driver). `--py-files` alone cannot
  carry compiled wheels. Spark's own jars are left out (`pyspark/jars`, ~460 MB): the cluster brings its Spark.
- `cohort-finder.zip` — the pure-Python project (`jobs/`, `schemas/` with the OMOP JSON spec and the shipped
  vocabulary CSVs) for `--py-files`, so code changes ship without repacking the environment.
- `main.py` — the spark-submit entry script (a copy of `jobs/main.py`).
- `criteria/`, `expectations/` — as plain files for `--files`.
- `submit-example.sh` — prints the exact spark-submit line (standalone by default; see the README).

venv-pack refuses editable installs, so the packed environment is a separate, non-editable venv under
`build/dist-venv` (`pip install .` from a clean copy of the sources). It is rebuilt only when `pyproject.toml`
(or the Python version) changes; a code change only reinstalls the project into it (`--no-deps`), and the
archive is repacked only when either changed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

log = logging.getLogger("cohort_finder.dist")

ROOT = Path(__file__).resolve().parents[2]
ENV_ARCHIVE = "cohort-finder-env.tar.gz"
CODE_ZIP = "cohort-finder.zip"
PACKAGES = ("jobs", "schemas")
# Development tools that are not the product: the synthetic-data generator and this packer stay out of the zip
# and the packed environment (the product never imports them; tests/unit/test_layout.py checks).
NOT_SHIPPED = ("jobs/synthetic", "jobs/tools")
# Files of the packages that belong in the zip (schemas' package data included: omop_cdm.json, vocabulary/*.csv).
CODE_SUFFIXES = (".py", ".json", ".csv", ".properties")
PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
# Spark's jars come with the cluster's Spark; the Python side of pyspark stays (workers import it).
PACK_EXCLUDES = (f"lib/python{PY_VERSION}/site-packages/pyspark/jars/*",
                 f"lib/python{PY_VERSION}/site-packages/pyspark/examples/*")
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip bytes


def _digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def code_files() -> list[Path]:
    files = []
    for pkg in PACKAGES:
        files += [p for p in (ROOT / pkg).rglob("*")
                  if p.is_file() and p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts
                  and not str(p.relative_to(ROOT)).startswith(NOT_SHIPPED)]
    return sorted(files)


def deps_key() -> str:
    return _digest([ROOT / "pyproject.toml"], extra=sys.version)


def code_key() -> str:
    return _digest(code_files() + sorted((ROOT / "expectations").glob("*.json"))
                   + sorted((ROOT / "criteria" / "catalogue").glob("*.yaml")))


def _run(cmd: list[str], **kw) -> None:
    log.info("$ %s", " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def _clean_source_copy(tmp: Path) -> Path:
    """pyproject + README + packages only: no stale build/lib, no egg-info, nothing else from the checkout."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for p in code_files():
        dst = src / p.relative_to(ROOT)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dst)
    return src


def build_env(venv: Path) -> bool:
    """Create or refresh the non-editable venv; True when it changed (the archive must be repacked)."""
    python = venv / "bin" / "python"
    site = venv / "lib" / f"python{PY_VERSION}" / "site-packages"
    dk, ck = deps_key(), code_key()
    fresh = not python.exists() or _read(venv / ".deps-key") != dk
    if not fresh and _read(venv / ".code-key") == ck:
        log.info("dist venv %s is up to date (deps %s, code %s)", venv, dk, ck)
        return False
    with tempfile.TemporaryDirectory(prefix="cf-dist-") as tmp:
        src = _clean_source_copy(Path(tmp))
        if fresh:
            shutil.rmtree(venv, ignore_errors=True)
            base = Path(sys.base_prefix) / "bin" / f"python{PY_VERSION}"
            _run([str(base if base.exists() else sys.executable), "-m", "venv", str(venv)])
            _run([str(python), "-m", "pip", "install", "-q", str(src)])
        else:  # dependencies unchanged: reinstall only the project
            _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(src)])
    # The gate finds its suites at <package parent>/expectations (jobs/quality/suites.py SUITES_DIR); put them there so
    # the packed env is self-contained when the driver itself runs from it (YARN/K8s cluster deploy mode).
    shutil.rmtree(site / "expectations", ignore_errors=True)
    shutil.copytree(ROOT / "expectations", site / "expectations")
    # likewise the lab catalogue, at <package parent>/criteria/catalogue (jobs/rules/loader.py CATALOGUE)
    shutil.rmtree(site / "criteria", ignore_errors=True)
    shutil.copytree(ROOT / "criteria" / "catalogue", site / "criteria" / "catalogue")
    (venv / ".deps-key").write_text(dk)
    (venv / ".code-key").write_text(ck)
    return True


def pack_env(venv: Path, archive: Path, force: bool) -> None:
    key = _read(venv / ".deps-key") + _read(venv / ".code-key")
    stamp = archive.with_name(archive.name + ".key")
    if archive.exists() and not force and _read(stamp) == key:
        log.info("%s is up to date", archive)
        return
    import venv_pack

    archive.unlink(missing_ok=True)
    venv_pack.pack(prefix=str(venv), output=str(archive), format="tar.gz", compress_level=1, force=True,
                   filters=[("exclude", pattern) for pattern in PACK_EXCLUDES])
    stamp.write_text(key)


def build_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in code_files():
            info = zipfile.ZipInfo(str(p.relative_to(ROOT)), ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, p.read_bytes())


def copy_files(out: Path) -> None:
    shutil.copy2(ROOT / "jobs" / "main.py", out / "main.py")
    for folder, pattern in (("criteria", "*.yaml"), ("criteria/catalogue", "*.yaml"), ("expectations", "*.json")):
        shutil.rmtree(out / folder, ignore_errors=True)
        (out / folder).mkdir()
        for p in sorted((ROOT / folder).glob(pattern)):
            shutil.copy2(p, out / folder / p.name)


SUBMIT_EXAMPLE = """#!/usr/bin/env bash
# Prints the spark-submit line for this dist/ folder (generated by `make dist`; see README "Running on a cluster").
# Client mode: the driver runs here with DRIVER_PYTHON (default: the venv the archive was packed from); executors
# run ./environment/bin/python from the archive. Override with environment variables: MASTER, OMOP, OUT, AS_OF,
# DRIVER_PYTHON, DRIVER_MEMORY, EXECUTOR_MEMORY, SHUFFLE_PARTITIONS.
# Run it with:  eval "$(bash dist/submit-example.sh)"
DIST="$(cd "$(dirname "$0")" && pwd)"
MASTER="${MASTER:-spark://127.0.0.1:7077}"
OMOP="${OMOP:-hdfs:///data/omop}"
OUT="${OUT:-hdfs:///results/nct06557265}"
AS_OF="${AS_OF:-2026-10-01}"
DRIVER_PYTHON="${DRIVER_PYTHON:-DEFAULT_DRIVER_PYTHON}"
cat <<EOF
spark-submit --master $MASTER --deploy-mode client \\\\
  --driver-memory ${DRIVER_MEMORY:-4g} --executor-memory ${EXECUTOR_MEMORY:-4g} \\\\
  --archives $DIST/ENV_ARCHIVE#environment \\\\
  --py-files $DIST/CODE_ZIP \\\\
  --conf spark.pyspark.python=./environment/bin/python \\\\
  --conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python \\\\
  --conf spark.pyspark.driver.python=$DRIVER_PYTHON \\\\
  --conf spark.sql.shuffle.partitions=${SHUFFLE_PARTITIONS:-200} \\\\
  --driver-java-options "-XX:-DontCompileHugeMethods" \\\\
  $DIST/main.py run --omop $OMOP --criteria $DIST/criteria/nct06557265.yaml \\\\
  --as-of $AS_OF --out $OUT
EOF
"""


def submit_example(venv: Path) -> str:
    return (SUBMIT_EXAMPLE.replace("ENV_ARCHIVE", ENV_ARCHIVE).replace("CODE_ZIP", CODE_ZIP)
            .replace("DEFAULT_DRIVER_PYTHON", str(venv / "bin" / "python")))


def _read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.tools.dist", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="dist", help="output folder (default: dist)")
    p.add_argument("--venv", default=str(ROOT / "build" / "dist-venv"), help="where the packed venv is built")
    p.add_argument("--force", action="store_true", help="repack the environment even when up to date")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    t0 = time.monotonic()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    changed = build_env(Path(args.venv).resolve())
    t_env = time.monotonic()
    pack_env(Path(args.venv).resolve(), out / ENV_ARCHIVE, force=args.force or changed)
    t_pack = time.monotonic()
    build_zip(out / CODE_ZIP)
    copy_files(out)
    script = out / "submit-example.sh"
    script.write_text(submit_example(Path(args.venv).resolve()))
    script.chmod(0o755)
    print(f"dist: {out}\n"
          f"  {ENV_ARCHIVE}  {_mb(out / ENV_ARCHIVE)}  (venv {t_env - t0:.0f}s, pack {t_pack - t_env:.0f}s)\n"
          f"  {CODE_ZIP}  {_mb(out / CODE_ZIP)}\n"
          f"  main.py, criteria/, expectations/, submit-example.sh\n"
          f"  total {time.monotonic() - t0:.0f}s; the spark-submit line: bash {out}/submit-example.sh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
