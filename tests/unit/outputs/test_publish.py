"""The order of operations of an atomic publish (jobs.outputs.publish), on a recording stand-in for OutputFS: a
kill at any step never leaves a folder that looks complete but is not. The swap restore on a real file system
is in tests/e2e/test_reliability.py; the SIGKILL runs in tests/slow/test_cli.py."""

from __future__ import annotations

from jobs.outputs import publish


class _RecordingFS:
    """A fake OutputFS recording deletes and renames, to check the order of operations in publish."""

    def __init__(self, existing: set[str]) -> None:
        self.existing, self.calls = set(existing), []

    def exists(self, p):
        return p in self.existing

    def list(self, p):
        return sorted(x.rsplit("/", 1)[1] for x in self.existing if x.startswith(p + "/"))

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
    publish.publish(fs, "/.o.staging-1", "/o", "1")
    deletes = [c[1] for c in fs.calls if c[0] == "delete"]
    assert deletes == ["/.o.previous-1/manifest.json", "/.o.previous-1"]
    fs = _RecordingFS({"/.o.staging-2", "/.o.staging-2/manifest.json", "/.o.staging-2/person_status"})
    publish.abandon(fs, "/.o.staging-2")
    assert [c[1] for c in fs.calls] == ["/.o.staging-2/manifest.json", "/.o.staging-2"]
