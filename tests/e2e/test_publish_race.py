"""Another writer racing a run on a real file system (issue 20): files that appear in --out while the run works
are never deleted. The writer acts at the latest moment a run can see, after the new result's manifest is
written and just before the swap (`jobs.outputs.publish.write_manifest` wrapped); the unit tests of
`publish` cover the same decisions on a fake file system."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from jobs.config import RunConfig
from jobs.errors import OutputError
from jobs.outputs import publish
from jobs.pipeline import run

AS_OF = date(2026, 10, 1)


def _writer_at_publish(monkeypatch, target, name: str = "notes.txt") -> None:
    real = publish.write_manifest

    def racing(fs, stage_dir, manifest):
        real(fs, stage_dir, manifest)
        target.mkdir(exist_ok=True)
        (target / name).write_text("someone else's notes\n")

    monkeypatch.setattr(publish, "write_manifest", racing)


@pytest.mark.slow  # two extra pipeline runs: in CI's slow suite
@pytest.mark.spark
def test_files_another_writer_puts_into_out_during_a_run_survive_it(spark, e2e, criteria_file, tmp_path,
                                                                    monkeypatch):
    # 1. --overwrite over a previous (three-trial) result: a file put into it mid-run stops the swap
    out = tmp_path / "previous"
    shutil.copytree(e2e.out, out)
    before = (out / "manifest.json").read_text()
    _writer_at_publish(monkeypatch, out)
    with pytest.raises(OutputError, match=r"1 entry that no cohort-finder run writes \(notes.txt\)"):
        run(spark, RunConfig(omop=str(e2e.omop), criteria=criteria_file, out=str(out), as_of=AS_OF,
                             overwrite=True))
    assert (out / "notes.txt").read_text() == "someone else's notes\n"
    assert (out / "manifest.json").read_text() == before  # the previous result is untouched
    assert sorted(p.name for p in out.iterdir()) == sorted([*(p.name for p in e2e.out.iterdir()), "notes.txt"])
    assert not list(tmp_path.glob(".previous.*"))  # no staging or swap folder left behind

    # 2. no --overwrite, --out absent at start: another writer creates it mid-run
    fresh = tmp_path / "fresh"
    _writer_at_publish(monkeypatch, fresh)
    with pytest.raises(OutputError, match="already exists"):
        run(spark, RunConfig(omop=str(e2e.omop), criteria=criteria_file, out=str(fresh), as_of=AS_OF))
    assert [p.name for p in fresh.iterdir()] == ["notes.txt"]
    assert not list(tmp_path.glob(".fresh.*"))
