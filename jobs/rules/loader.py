"""Load and validate a criteria YAML file before any JVM starts.

YAML is parsed with the safe loader (no object construction). Validation errors are re-raised as
`CriteriaError` naming the file, the line, the criterion id and the field, e.g.
`criteria/x.yaml:57: criterion gen_exc_1, rule.comparator: Input should be '>', '>=', ...`.

Each lab of the file takes its analyte facts from the lab catalogue (`criteria/catalogue/labs.yaml`, see
schemas/labs.py): the catalogue entry's fields are merged under the trial's own before validation, so a field
the trial file gives wins, and a catalogue error names the catalogue's line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from jobs.errors import CriteriaError
from schemas.atlas import AtlasError, atlas_items
from schemas.criteria import CriteriaFile
from schemas.labs import LabCatalogue

CATALOGUE = Path(__file__).resolve().parents[2] / "criteria" / "catalogue" / "labs.yaml"


@dataclass(frozen=True)
class LoadedCriteria:
    """A validated criteria file with where it came from: the file is read once, for the model and its hash."""

    model: CriteriaFile
    path: str
    sha256: str
    includes: dict[str, str] = field(default_factory=dict)  # ATLAS file (as written) -> its sha256


def load_criteria(path: str | Path) -> LoadedCriteria:
    path = Path(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise CriteriaError(f"{path}: criteria file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CriteriaError(f"{path}: cannot read ({exc})") from None
    includes: dict[str, str] = {}
    model = parse_criteria(text, str(path), base=path.parent, includes=includes)
    return LoadedCriteria(model, str(path), hashlib.sha256(data).hexdigest(), includes)


def parse_criteria(text: str, name: str = "<criteria>", base: Path | None = None,
                   includes: dict[str, str] | None = None, catalogue: LabCatalogue | None = None) -> CriteriaFile:
    """The validated model; `atlas:` concept sets are read relative to `base` (their hashes into `includes`);
    each lab takes its lab catalogue entry (`catalogue`, default the shipped one)."""
    data, node = _parse_yaml(text, name)
    if not isinstance(data, dict):
        raise CriteriaError(f"{name}: expected a mapping with trial, concept_sets, criteria and cohorts")
    _expand_atlas(data, node, name, base or Path("."), includes if includes is not None else {})
    data = with_catalogue(data, load_catalogue() if catalogue is None else catalogue, name, node)
    try:
        return CriteriaFile.model_validate(data)
    except ValidationError as exc:
        raise CriteriaError(_describe(exc, data, node, name)) from None


def load_catalogue(path: str | Path = CATALOGUE) -> LabCatalogue:
    """The lab catalogue, validated; errors name the catalogue file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CriteriaError(f"{path}: cannot read the lab catalogue ({exc})") from None
    data, node = _parse_yaml(text, str(path))
    try:
        return LabCatalogue.model_validate(data)
    except ValidationError as exc:
        raise CriteriaError(_describe(exc, data, node, str(path))) from None


def with_catalogue(data: dict, catalogue: LabCatalogue, name: str, node: yaml.Node) -> dict:
    """`data` with each lab's catalogue entry merged under the lab's own fields (the trial's fields win)."""
    labs = data.get("labs")
    if not isinstance(labs, dict):
        return data
    merged = {}
    for key, lab in labs.items():
        if not isinstance(lab, dict):
            merged[key] = lab
            continue
        ref = lab.get("catalogue", key)
        entry = catalogue.labs.get(ref) if isinstance(ref, str) else None
        if entry is None and "catalogue" in lab:
            line = _key_line(_child(node, "labs"), key)
            raise CriteriaError(f"{name}{f':{line}' if line else ''}: labs.{key}.catalogue: no lab {ref!r} in the "
                                f"lab catalogue ({CATALOGUE.name}); known: {', '.join(sorted(catalogue.labs))}")
        facts = entry.model_dump(exclude_unset=True, exclude={"description"}) if entry is not None else {}
        merged[key] = {**facts, **lab}
    return {**data, "labs": merged}


def _parse_yaml(text: str, name: str):
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise CriteriaError(f"{name}{line}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise CriteriaError(f"{name}: not valid YAML: {exc}") from None
    return data, node


def _expand_atlas(data: dict, node: yaml.Node, name: str, base: Path, includes: dict[str, str]) -> None:
    """Replace each `concept_sets.X.atlas: FILE` by the file's items, in place, before validation."""
    sets = data.get("concept_sets")
    if not isinstance(sets, dict):
        return
    for key, cs in sets.items():
        if not isinstance(cs, dict) or "atlas" not in cs:
            continue
        line = _child(_child(_child(node, "concept_sets"), key), "atlas").start_mark.line + 1
        where = f"{name}:{line}: concept_sets.{key}.atlas"
        if not isinstance(cs["atlas"], str) or not cs["atlas"]:
            raise CriteriaError(f"{where}: expected a path to an ATLAS concept set JSON file")
        if "items" in cs:
            raise CriteriaError(f"{where}: give either atlas or items, not both")
        path = base / cs["atlas"]
        try:
            cs["items"] = atlas_items(path)
        except AtlasError as exc:
            raise CriteriaError(f"{where}: {exc}") from None
        includes[cs["atlas"]] = hashlib.sha256(path.read_bytes()).hexdigest()


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would silently keep the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _describe(exc: ValidationError, data: dict, node: yaml.Node, name: str) -> str:
    """One line per problem (at most five), each with line, criterion id and field path."""
    lines = []
    for err in exc.errors()[:5]:
        loc = [p for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        where, line = _locate(loc, data, node)
        if not loc:  # a whole-file check: its message names the criterion; find that criterion's line
            m = re.search(r"criterion (\w+)", msg)
            line = _criterion_line(node, m.group(1)) if m else None
            for part in msg.split("; "):
                m = re.search(r"criterion (\w+)", part)
                ln = _criterion_line(node, m.group(1)) if m else _key_line(node, part.split(".")[0])
                lines.append(f"{name}{f':{ln}' if ln else ''}: {part}")
            continue
        lines.append(f"{name}{f':{line}' if line else ''}: {where}: {msg}")
    more = len(exc.errors()) - 5
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return "\n".join(lines)


def _locate(loc: list, data, node) -> tuple[str, int | None]:
    """Walk the pydantic error location through the data and the YAML node tree together."""
    parts: list[str] = []
    line = node.start_mark.line + 1 if node is not None else None
    criterion = None
    cur_data, cur_node = data, node
    i = 0
    while i < len(loc):
        key = loc[i]
        if isinstance(cur_data, list) and isinstance(key, int) and key < len(cur_data):
            cur_data = cur_data[key]
            cur_node = cur_node.value[key] if isinstance(cur_node, yaml.SequenceNode) else cur_node
            parts[-1:] = [f"{parts[-1]}[{key}]"] if parts else [f"[{key}]"]
            if parts and parts[0].startswith("criteria[") and isinstance(cur_data, dict) and criterion is None:
                criterion = cur_data.get("id")
                parts = []
        elif isinstance(cur_data, dict) and key in cur_data:
            cur_data = cur_data[key]
            cur_node = _child(cur_node, key)
            parts.append(str(key))
        else:  # a union tag (e.g. 'lab') or a missing field: keep the name, stop descending
            if isinstance(cur_data, dict) and isinstance(key, str) and key == cur_data.get("kind"):
                i += 1
                continue
            parts.append(str(key))
        if cur_node is not None:
            line = cur_node.start_mark.line + 1
        i += 1
    field = ".".join(parts) or "(file)"
    return (f"criterion {criterion}, {field}" if criterion else field), line


def _child(node, key):
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return node


def _criterion_line(node, cid: str) -> int | None:
    crit = _child(node, "criteria")
    if isinstance(crit, yaml.SequenceNode):
        for item in crit.value:
            idn = _child(item, "id")
            if idn is not item and getattr(idn, "value", None) == cid:
                return item.start_mark.line + 1
    return None


def _key_line(node, key: str) -> int | None:
    child = _child(node, key)
    return child.start_mark.line + 1 if child is not node and child is not None else None
