"""Load and validate a criteria YAML file before any JVM starts.

YAML is parsed with the safe loader (no object construction) under bounds checked while the document is
composed, before anything is validated: file size, nesting depth, and the size the document would have with
every alias expanded (a "billion laughs" file of nested anchors is refused in milliseconds instead of hanging
validation). Rules nested deeper than `MAX_RULE_DEPTH` are refused too: Spark plans each level as a nested
expression and overflows the JVM stack long before Python would notice. Validation errors are re-raised as
`CriteriaError`, one line per problem, naming the file, the line, the criterion id and the field the user
wrote, e.g. `criteria/x.yaml:57: criterion gen_exc_1, rule.comparator: Input should be '>', '>=', ...`, and
`... rule.maxi: field maxi is not supported for rule kind age (supported: min, max)`.

Each lab of the file takes its analyte facts from the lab catalogue (`criteria/catalogue/labs.yaml`, see
schemas/labs.py): the catalogue entry's fields are merged under the trial's own before validation, so a field
the trial file gives wins, and a catalogue error names the catalogue's line.
"""

from __future__ import annotations

import hashlib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from jobs.errors import CriteriaError
from jobs.rules.yaml_reader import BoundedLoader
from schemas.atlas import AtlasError, atlas_items
from schemas.criteria import CriteriaFile, walk_rules
from schemas.labs import LabCatalogue

CATALOGUE = Path(__file__).resolve().parents[2] / "criteria" / "catalogue" / "labs.yaml"
MAX_BYTES = 5_000_000  # a criteria file is a few hundred lines
MAX_RULE_DEPTH = 12  # any_of / all_of / not levels in one criterion


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
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise CriteriaError(f"{path}: {path.stat().st_size} bytes; a criteria file is at most {MAX_BYTES}")
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
        model = CriteriaFile.model_validate(data)
    except ValidationError as exc:
        raise CriteriaError(_describe(exc, data, node, name)) from None
    except RecursionError:
        raise CriteriaError(f"{name}: nested too deeply to validate") from None
    _check_rule_depth(model, node, name)
    return model


def _check_rule_depth(model: CriteriaFile, node: yaml.Node, name: str) -> None:
    for c in model.criteria:
        deepest = max(path.count(".rule") for path, _ in walk_rules(c.rule, "rule"))
        if deepest > MAX_RULE_DEPTH:
            line = _criterion_line(node, c.id)
            raise CriteriaError(f"{name}{f':{line}' if line else ''}: criterion {c.id}, rule: nested {deepest} "
                                f"levels deep (any_of/all_of/not); at most {MAX_RULE_DEPTH} are supported")


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
    if len(text) > MAX_BYTES:
        raise CriteriaError(f"{name}: {len(text)} characters; a criteria file is at most {MAX_BYTES}")
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise CriteriaError(f"{name}{line}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise CriteriaError(f"{name}: not valid YAML: {exc}") from None
    except RecursionError:
        raise CriteriaError(f"{name}: nested too deeply to read") from None
    finally:
        loader.dispose()
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


def _describe(exc: ValidationError, data: dict, node: yaml.Node, name: str) -> str:
    """One line per problem (at most ten), each `file:line: criterion id, field: message`, naming the field the
    user wrote: a check of the whole rule that blames one field (`unit: ...`) is reported at that field."""
    lines = []
    errors = exc.errors()
    for err in errors[:10]:
        loc = list(err["loc"])
        msg = " ".join(err["msg"].removeprefix("Value error, ").split())  # never more than one line each
        if not loc:  # a whole-file check: its message names the criterion; find that criterion's line
            for part in msg.split("; "):
                m = re.search(r"criterion (\w+)", part)
                ln = _criterion_line(node, m.group(1)) if m else _key_line(node, part.split(".")[0])
                lines.append(f"{name}{f':{ln}' if ln else ''}: {part}")
            continue
        where, line, at_data, at_node = _locate(loc, data, node)
        blamed = re.match(r"(\w+): ", msg)
        if blamed and isinstance(at_data, dict) and blamed.group(1) in at_data:
            field = blamed.group(1)
            where, msg = f"{where}.{field}", msg[len(field) + 2:]
            child = _child(at_node, field)
            line = child.start_mark.line + 1 if child is not None else line
        if err["type"] == "extra_forbidden":
            msg = _not_supported(loc)
        lines.append(f"{name}{f':{line}' if line else ''}: {where}: {msg}")
    more = len(errors) - 10
    if more > 0:
        lines.append(f"{name}: ... and {more} more problem(s)")
    return "\n".join(lines)


def _not_supported(loc: list) -> str:
    """`field X is not supported for rule kind Y (supported: ...)`, from the model at that place."""
    field = loc[-1]
    model = _model_at(loc[:-1])
    if model is None:
        return f"field {field} is not supported here"
    names = [f for f in model.model_fields if f != "kind"]
    supported = f"(supported: {', '.join(names)})" if names else "(it takes no fields)"
    kind = model.model_fields.get("kind")
    if kind is not None and typing.get_args(kind.annotation):
        return f"field {field} is not supported for rule kind {typing.get_args(kind.annotation)[0]} {supported}"
    return f"field {field} is not supported here {supported}"


def _model_at(loc: list) -> type[BaseModel] | None:
    """The pydantic model a validation error location points into, following the file's annotations (a
    discriminated union's tag in the location picks the rule kind)."""
    t: object = CriteriaFile
    for key in loc:
        t = _step(t, key)
        if t is None:
            return None
    while typing.get_origin(t) is typing.Annotated:
        t = typing.get_args(t)[0]
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def _step(t: object, key) -> object | None:
    while typing.get_origin(t) is typing.Annotated:
        t = typing.get_args(t)[0]
    if isinstance(t, type) and issubclass(t, BaseModel):
        f = t.model_fields.get(key) if isinstance(key, str) else None
        return f.annotation if f is not None else None
    origin = typing.get_origin(t)
    if origin in (list, dict):
        return typing.get_args(t)[-1]
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(t) if m is not type(None)]
        for m in members:
            kind = m.model_fields.get("kind") if isinstance(m, type) and issubclass(m, BaseModel) else None
            if kind is not None and key in typing.get_args(kind.annotation):
                return m
        return _step(members[0], key) if len(members) == 1 else None
    return None


def _locate(loc: list, data, node) -> tuple[str, int | None, object, object]:
    """Walk the pydantic error location through the data and the YAML node tree together; returns the field
    path as the user wrote it, its line, and the data and node reached."""
    parts: list[str] = []
    line = node.start_mark.line + 1 if node is not None else None
    criterion = None
    cur_data, cur_node = data, node
    tag_skipped_at = None
    for key in loc:
        if isinstance(cur_data, dict) and isinstance(key, str) and key == cur_data.get("kind") \
                and _is_union_field(parts) and tag_skipped_at != len(parts):
            tag_skipped_at = len(parts)  # once: a field of the same name (lab: upcr) may follow the tag
            continue  # a discriminated union's tag (e.g. 'lab'): pydantic's, not a field the user wrote
        if isinstance(cur_data, list) and isinstance(key, int) and key < len(cur_data):
            cur_data = cur_data[key]
            cur_node = cur_node.value[key] if isinstance(cur_node, yaml.SequenceNode) else cur_node
            parts[-1:] = [f"{parts[-1]}[{key}]"] if parts else [f"[{key}]"]
            if parts and parts[0].startswith("criteria[") and isinstance(cur_data, dict) and criterion is None:
                criterion = _shown(cur_data.get("id"))
                parts = []
        elif isinstance(cur_data, dict) and key in cur_data:
            cur_data = cur_data[key]
            cur_node = _child(cur_node, key)
            parts.append(_shown(key))
        else:  # a missing or unknown field: keep the name, stop descending
            parts.append(_shown(key))
            cur_data = None
        if cur_node is not None:
            line = cur_node.start_mark.line + 1
    field = ".".join(parts) or "(file)"
    return (f"criterion {criterion}, {field}" if criterion else field), line, cur_data, cur_node


def _is_union_field(parts: list[str]) -> bool:
    """Pydantic puts the tag right after a union field in the location: every `rule` / `rules[i]` is one."""
    return bool(parts) and (parts[-1] == "rule" or re.fullmatch(r"rules\[\d+\]", parts[-1]) is not None)


def _shown(value) -> str:
    """A name from the file as it can be shown on one line: plain ids as they are, others quoted and escaped
    (an id ending in a newline must not split the message, nor look valid)."""
    text = str(value)
    return text if re.fullmatch(r"[\w.\[\]-]+", text) else repr(text)


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
