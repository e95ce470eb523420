"""A real full disk (issue 20): `--out` on a 64 KiB tmpfs, mounted in a private user + mount namespace
(`unshare`, no root needed), so the job's own Parquet writes hit ENOSPC in Spark's tasks. The run must say so in
one line, exit 2, print no Java stack, and leave nothing at --out. Skips, saying why, where the kernel does not
allow unprivileged namespaces. Slow: `pytest -m slow`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date

import pytest

from jobs.synthetic.generate import generate
from tests.support import reliability_helpers as rh

pytestmark = pytest.mark.slow
AS_OF = date(2026, 10, 1)
SIZE = "64k"  # far below what one trial's outputs take on 200 persons; above zero, so the folders can be made
# mount a small tmpfs at $1, run the rest, then list what is left on it (the mount vanishes with the namespace)
SCRIPT = ('mount -t tmpfs -o size={size} tmpfs "$1" && shift && "$@"; rc=$?; '
          'echo "LEFT:$(ls -A "$DISK" | tr "\\n" " ")"; exit $rc')


def _namespace_works(disk) -> str | None:
    if shutil.which("unshare") is None:
        return "no `unshare` binary"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            f'mount -t tmpfs -o size={SIZE} tmpfs "{disk}"'], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"cannot mount a tmpfs in a user namespace: {probe.stderr.strip()}"


def test_a_full_disk_is_one_line_exit_2_and_nothing_published(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    why = _namespace_works(disk)
    if why:
        pytest.skip(why)
    generate(tmp_path / "sample", persons=200, seed=5, as_of=AS_OF)
    out = disk / "out"
    cli = [sys.executable, "-m", "jobs.cli", "run", "--criteria", str(rh.CRITERIA), "--omop",
           str(tmp_path / "sample" / "omop"), "--as-of", AS_OF.isoformat(), "--out", str(out), "--master", "local[2]"]
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", SCRIPT.format(size=SIZE),
                           "sh", str(disk), *cli], cwd=rh.ROOT, env={**rh.cli_env(), "DISK": str(disk)},
                          capture_output=True, text=True, timeout=900, start_new_session=True)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("cohort-finder: error:")]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(errors) == 1 and "no space left on device (ENOSPC)" in errors[0], errors or proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "\tat " not in proc.stderr, proc.stderr[-3000:]
    left = [ln for ln in proc.stdout.splitlines() if ln.startswith("LEFT:")]
    assert left == ["LEFT:"], left  # no result, no half-written result, no staging folder on the full disk
