"""Atomic results: write into a staging folder beside --out, then rename it into place.

A run killed at any moment leaves either the previous result (intact) or, at worst, a hidden
`.<name>.staging-<run>` folder with no manifest, which never looks complete: `manifest.json` is the last file
written and its presence is what marks a finished result. Spark's mode("overwrite") is never used on --out.
"""

from __future__ import annotations

import json
import logging

from jobs.errors import OutputError
from jobs.outputs.fs import OutputFS
from jobs.outputs.registry import MANIFEST, is_result_entry

log = logging.getLogger("cohort_finder")


def staging_path(target: str, run_id: str) -> str:
    parent, name = target.rstrip("/").rsplit("/", 1)
    return f"{parent}/.{name}.staging-{run_id}"


def previous_path(target: str, run_id: str) -> str:
    parent, name = target.rstrip("/").rsplit("/", 1)
    return f"{parent}/.{name}.previous-{run_id}"


def check_target(fs: OutputFS, target: str, overwrite: bool) -> None:
    """Refuse to replace a result without --overwrite; restore a result a crash left mid-swap."""
    parent = target.rstrip("/").rsplit("/", 1)[0]
    while parent and not fs.exists(parent) and "/" in parent.rstrip("/"):
        parent = parent.rstrip("/").rsplit("/", 1)[0]
    if parent and fs.exists(parent) and not fs.is_dir(parent):
        raise OutputError(f"--out {target}: {parent} is a regular file, not a folder; choose another --out")
    restore_interrupted_swap(fs, target)
    refuse_foreign(fs, target, overwrite)


def refuse_foreign(fs: OutputFS, target: str, overwrite: bool) -> None:
    """What may be at --out now: nothing, or (with --overwrite) a previous result and nothing else. Checked at
    start and again at the moment of publishing: another writer may have created --out, or put a file into
    the old result, while the run worked; replacing it would delete that writer's files."""
    if not fs.exists(target):
        return
    if not fs.is_dir(target):
        raise OutputError(f"--out {target} is a regular file; refusing to replace it")
    entries = fs.list(target)
    if not overwrite:
        raise OutputError(f"--out {target} already exists; pass --overwrite to replace it "
                          "(the old result stays until the new one is complete)")
    if entries and MANIFEST not in entries:
        raise OutputError(f"--out {target} exists and is not a cohort-finder result (no {MANIFEST}); "
                          "refusing to replace it")
    foreign = [n for n in entries if not is_result_entry(n, old_trial_folders(fs, target))]
    if foreign:
        raise OutputError(f"--out {target} holds {len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} that "
                          f"no cohort-finder run writes ({', '.join(foreign[:3])}); refusing to replace it "
                          "(move them away, or choose another --out)")


def old_trial_folders(fs: OutputFS, target: str) -> list[str]:
    """The trial folders the result at `target` says it holds (none if its manifest cannot be read)."""
    try:
        trials = json.loads(fs.read_text(f"{target}/{MANIFEST}")).get("trials", {})
    except Exception:  # noqa: BLE001 (unreadable or not JSON: then no folder is vouched for, all look foreign)
        return []
    return [t for t in trials if isinstance(t, str)] if isinstance(trials, dict) else []


def restore_interrupted_swap(fs: OutputFS, target: str) -> None:
    """If a run died between moving the old result aside and moving the new one in, put the old one back."""
    parent, name = target.rstrip("/").rsplit("/", 1)
    if fs.exists(target):
        return
    previous = [n for n in fs.list(parent) if n.startswith(f".{name}.previous-")]
    for n in sorted(previous, reverse=True):
        if MANIFEST in fs.list(f"{parent}/{n}"):
            fs.rename(f"{parent}/{n}", target)
            log.warning("restored the previous result of %s left by an interrupted run", target)
            return


def write_manifest(fs: OutputFS, stage_dir: str, manifest: dict) -> None:
    """Written under a temporary name and renamed: a run killed mid-write must not leave an empty or truncated
    manifest.json (seen in the SIGKILL test), since its presence is what marks a complete result."""
    tmp = f"{stage_dir}/_{MANIFEST}.tmp"
    fs.write_text(tmp, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    fs.rename(tmp, f"{stage_dir}/{MANIFEST}")


def publish(fs: OutputFS, stage_dir: str, target: str, run_id: str, *, overwrite: bool) -> None:
    """Move the finished staging folder into place; the old result is removed only after the swap, and only
    if --out still holds nothing but a previous result (`refuse_foreign`, checked again now)."""
    if MANIFEST not in fs.list(stage_dir):
        raise OutputError(f"internal: {stage_dir} has no {MANIFEST}; not publishing")
    try:
        refuse_foreign(fs, target, overwrite)
    except OutputError as exc:
        raise OutputError(f"{exc} [changed while the run worked; nothing was published]") from None
    old = None
    if fs.exists(target):
        old = previous_path(target, run_id)
        fs.rename(target, old)
    fs.rename(stage_dir, target)
    if old is not None:
        delete_result(fs, old)


def delete_result(fs: OutputFS, folder: str) -> None:
    """Delete a result folder manifest first: a delete killed midway must not leave a folder that holds
    manifest.json but lacks outputs (it would look complete, and restore_interrupted_swap would trust it)."""
    fs.delete(f"{folder}/{MANIFEST}")
    fs.delete(folder)


def abandon(fs: OutputFS, stage_dir: str) -> None:
    """Remove a failed run's staging folder (best effort: a killed run leaves it, and it is harmless)."""
    try:
        if fs.exists(stage_dir):
            delete_result(fs, stage_dir)
    except Exception:  # noqa: BLE001 - the original error matters more
        log.warning("could not remove staging folder %s", stage_dir)
