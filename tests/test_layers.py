"""Imports run one way: entry points (CLI, flows) -> the pipeline -> connectors -> the HTTP toolkit,
with the foundation (what every layer shares: the report model, time windows, redaction) below
them all. A module that imports from a layer above its own fails here, naming both."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ziwo_reports"

#: Layer of each module, by dotted name prefix (the longest prefix that matches wins); lower
#: layers never import higher ones. A new module must be placed here.
LAYERS: dict[str, int] = {
    # 0. the foundation: types and rules every layer shares, importing nothing of ours above them
    "ziwo_reports": 0,  # the package's __init__
    "ziwo_reports.redaction": 0,
    "ziwo_reports.timewindows": 0,
    "ziwo_reports.metric_definitions": 0,
    "ziwo_reports.report_model": 0,
    "ziwo_reports.files": 0,
    # 1. the HTTP toolkit
    "ziwo_reports.http": 1,
    # 2. connectors: one package per external system, and the delivery contract they implement
    "ziwo_reports.connectors": 2,
    # 3. the pipeline
    "ziwo_reports.warehouse": 3,
    "ziwo_reports.staging": 3,
    "ziwo_reports.quality": 3,
    "ziwo_reports.contacts": 3,
    "ziwo_reports.ingest": 3,
    "ziwo_reports.pull": 3,
    "ziwo_reports.report": 3,
    "ziwo_reports.report_output": 3,
    "ziwo_reports.deliveries": 3,
    "ziwo_reports.workflows": 3,
    # 4. entry points
    "ziwo_reports.cli": 4,
    "ziwo_reports.flows": 4,
}
NAMES = {0: "the foundation", 1: "the HTTP toolkit", 2: "connectors", 3: "the pipeline", 4: "entry points"}


def layer(module: str) -> int:
    # The package itself holds only its own __init__: its modules each have an entry.
    matches = [p for p in LAYERS if module == p or (p != "ziwo_reports" and module.startswith(p + "."))]
    assert matches, f"{module} is in no layer: add it to LAYERS in tests/test_layers.py"
    return LAYERS[max(matches, key=len)]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """The ziwo_reports modules a file imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from ziwo_reports import redaction` imports the module redaction
            names |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in names if name == "ziwo_reports" or name.startswith("ziwo_reports.")}


def test_imports_run_one_way():
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        own = layer(module)
        for target in sorted(imported(path)):
            if target.startswith(module + "."):
                continue
            if target not in modules:
                continue  # a name imported from a module (`from x import y`), not a module
            theirs = layer(target)
            if theirs > own:
                wrong.append(f"{module} ({NAMES[own]}) imports {target} ({NAMES[theirs]})")
    assert not wrong, "\n".join(wrong)


def test_every_module_has_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer(module_name(path))
