"""The architecture, checked: no import cycle, no stage imports a later stage, the product never imports the
development tools (jobs.synthetic, jobs.tools), schemas never import jobs, and private names stay in their
module. Imports are read from the source (every `import`, at module level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("extract", "quality", "features", "rules", "outputs")  # the order data flows in
BASE = ("jobs.columns", "jobs.errors", "jobs.jdbc", "jobs.redaction", "jobs.session")  # used by all, import none
TOOLS = ("jobs.synthetic", "jobs.tools")
LINE_LIMIT = 350
# modules allowed above LINE_LIMIT, and why (README Layout says the same)
LONG_FOR_A_REASON = {
    "jobs.synthetic.nct06557265": "one trial's clean templates, perturbations and declared scenario table",
    "jobs.synthetic.noise": "Synthea-like concept pools and analytes: data tables",
    "jobs.synthetic.vocab": "the generator's vocabulary (concept rows): a data table",
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for pkg in ("jobs", "schemas") for p in (ROOT / pkg).rglob("*.py")
            if "__pycache__" not in p.parts}


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names imported from it) for every import statement of `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [a.name for a in node.names]
            out.append((base, names))
            out += [(f"{base}.{n}", []) for n in names if f"{base}.{n}" in MODULES]  # `from jobs import x`
    return out


def _graph() -> dict[str, set[str]]:
    return {m: {i for i, _ in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 2 and parts[0] == "jobs" and parts[1] in STAGES else None


def _is_tool(module: str) -> bool:
    return module.startswith(TOOLS)


def test_there_is_no_import_cycle():
    graph, state, cycles = _graph(), {}, []

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycles.append(path[path.index(n):] + [n] if n in path else [m, n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_stage_imports_a_later_stage():
    bad = [f"{m} imports {i}" for m, deps in _graph().items() for i in deps
           if _stage(m) is not None and _stage(i) is not None and _stage(i) > _stage(m)]
    assert not bad, bad


def test_base_modules_and_schemas_import_no_stage():
    graph = _graph()
    bad = [f"{m} imports {i}" for m in graph if m in BASE or m.startswith("schemas")
           for i in graph[m] if i.startswith("jobs") and i not in BASE]
    assert not bad, bad


def test_the_product_never_imports_the_development_tools():
    bad = [f"{m} imports {i}" for m, deps in _graph().items() if not _is_tool(m) for i in deps if _is_tool(i)]
    assert not bad, bad


def test_private_names_stay_in_their_module():
    bad = [f"{m} imports {n} from {i}" for m, p in MODULES.items() for i, names in _imports(p)
           if i.startswith(("jobs", "schemas")) for n in names if n.startswith("_") and not n.startswith("__")]
    assert not bad, bad


def test_modules_stay_small_unless_there_is_a_reason():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > LINE_LIMIT}
    assert set(long) <= set(LONG_FOR_A_REASON), {m: n for m, n in long.items() if m not in LONG_FOR_A_REASON}


def test_the_spark_submit_zip_carries_no_development_tool():
    from jobs.tools.dist import code_files

    shipped = {_module(p) for p in code_files() if p.suffix == ".py"}
    assert shipped and not {m for m in shipped if _is_tool(m)}
    assert "jobs.pipeline" in shipped and "jobs.extract.reader" in shipped
