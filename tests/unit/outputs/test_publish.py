"""The order of operations of an atomic publish (jobs.outputs.publish), on a recording stand-in for OutputFS: a
kill at any step never leaves a folder that looks complete but is not. The swap restore on a real file system
is in tests/e2e/test_reliability.py; the SIGKILL runs in tests/slow/test_cli.py."""

from __future__ import annotations

import pytest

from jobs.errors import OutputError
from jobs.outputs import publish


class _RecordingFS:
    """A fake OutputFS recording deletes and renames, to check the order of operations in publish."""

    def __init__(self, existing: set[str], files: set[str] = frozenset()) -> None:
        self.existing, self.calls, self.files = set(existing), [], set(files)

    def is_dir(self, p):
        return p in self.existing and p not in self.files and not p.endswith((".json", ".csv", ".md", ".txt"))

    def exists(self, p):
        return p in self.existing

    def list(self, p):
        return sorted(x.rsplit("/", 1)[1] for x in self.existing if x.rsplit("/", 1)[0] == p)

    def rename(self, a, b):
        self.calls.append(("rename", a, b))
        self.existing = {b + x[len(a):] if x == a or x.startswith(a + "/") else x for x in self.existing}

    def write_text(self, p, text):
        self.calls.append(("write", p))
        self.existing.add(p)

    def delete(self, p):
        self.calls.append(("delete", p))
        self.existing = {x for x in self.existing if x != p and not x.startswith(p + "/")}


def test_the_manifest_appears_whole_or_not_at_all():
    """A kill while manifest.json was being written left a 0-byte manifest.json beside every other output in
    the staging folder (SIGKILL test, 'manifest' point): it is now written under a temporary name and renamed."""
    fs = _RecordingFS({"/.o.staging-1"})
    publish.write_manifest(fs, "/.o.staging-1", {"run_id": "1"})
    assert fs.calls == [("write", "/.o.staging-1/_manifest.json.tmp"),
                        ("rename", "/.o.staging-1/_manifest.json.tmp", "/.o.staging-1/manifest.json")]


def test_a_removed_result_never_looks_complete_midway():
    """publish deletes the old result after the swap, abandon deletes a failed staging folder: a kill during
    either recursive delete must not leave a folder that holds manifest.json but lacks outputs, so the
    manifest goes first."""
    fs = _RecordingFS({"/o", "/o/manifest.json", "/o/person_status", "/.o.staging-1", "/.o.staging-1/manifest.json",
                       "/.o.staging-1/person_status"})
    publish.publish(fs, "/.o.staging-1", "/o", "1", overwrite=True)
    deletes = [c[1] for c in fs.calls if c[0] == "delete"]
    assert deletes == ["/.o.previous-1/manifest.json", "/.o.previous-1"]
    fs = _RecordingFS({"/.o.staging-2", "/.o.staging-2/manifest.json", "/.o.staging-2/person_status"})
    publish.abandon(fs, "/.o.staging-2")
    assert [c[1] for c in fs.calls] == ["/.o.staging-2/manifest.json", "/.o.staging-2"]


STAGED = {"/.o.staging-1", "/.o.staging-1/manifest.json", "/.o.staging-1/person_status"}
OLD = {"/o", "/o/manifest.json", "/o/person_status", "/o/candidates_ln.csv", "/o/features"}


@pytest.mark.parametrize("case, at_publish, overwrite, says", [
    ("another writer created --out (no --overwrite)", {"/o", "/o/notes.txt"}, False, "already exists"),
    ("another writer created an empty --out", {"/o"}, False, "already exists"),
    ("a foreign folder appeared (with --overwrite)", {"/o", "/o/notes.txt"}, True, "not a cohort-finder result"),
    ("a file was put into the previous result", OLD | {"/o/notes.txt"}, True, "1 entry that no cohort-finder run"),
    ("a folder was put into the previous result", OLD | {"/o/mine", "/o/mine/x"}, True, "(mine)"),
    ("--out became a regular file", {"/o"}, True, "regular file"),
])
def test_publishing_rechecks_out_and_never_deletes_foreign_files(case, at_publish, overwrite, says):
    """The refusal to replace what is not a previous result holds at the moment of publishing: another writer
    may have created --out, or put files into it, after the check at start. Nothing of theirs is renamed or
    deleted, and the message says nothing was published."""
    fs = _RecordingFS(STAGED | at_publish, files={"/o"} if case.startswith("--out became") else set())
    with pytest.raises(OutputError) as err:
        publish.publish(fs, "/.o.staging-1", "/o", "1", overwrite=overwrite)
    assert says in str(err.value) and "nothing was published" in str(err.value), case
    assert "\n" not in str(err.value)
    assert not [c for c in fs.calls if c[0] in ("rename", "delete") and c[1].startswith("/o")], case
    assert at_publish <= fs.existing, case


def test_a_previous_result_alone_is_replaced_with_overwrite():
    fs = _RecordingFS(STAGED | OLD)
    publish.publish(fs, "/.o.staging-1", "/o", "1", overwrite=True)
    assert "/o/manifest.json" in fs.existing and "/o/candidates_ln.csv" not in fs.existing
    with pytest.raises(OutputError, match="already exists"):  # without --overwrite the old result stays
        publish.publish(_RecordingFS(STAGED | OLD), "/.o.staging-1", "/o", "1", overwrite=False)


def test_out_below_a_regular_file_is_refused_at_start():
    fs = _RecordingFS({"/data", "/data/file.txt"}, files={"/data/file.txt"})
    with pytest.raises(OutputError, match="/data/file.txt is a regular file, not a folder"):
        publish.check_target(fs, "/data/file.txt/sub/out", overwrite=False)
    publish.check_target(fs, "/data/new/out", overwrite=False)  # a missing parent is created later: fine
