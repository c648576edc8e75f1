"""The import graph: no cycles, and no package imports a layer above it (DESIGN.md's order).

Every ``import``/``from … import`` of a physlens module counts, at module level or inside a
function, so a lazy import cannot hide a reversed dependency.
"""

import ast
import graphlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "physlens"

LAYERS = {"errors": 0, "termination": 0, "xla_cpu": 0, "allocator": 0, "folders": 1, "provenance": 1, "runs": 2, "lens": 3, "quantum": 4, "nuclear": 4,
          "report": 5, "studies": 6, "opening": 7, "analyses": 8, "cli": 9}
"""Bottom (0) to top: a module may import its own package and any lower layer, never a higher one or a
sibling of its own layer (``quantum`` and ``nuclear`` never import each other)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("physlens")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("physlens") and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def resolve(name: str, modules: set[str]) -> str:
    """The module an imported name lives in: ``physlens.quantum.train.load`` → ``physlens.quantum.train``."""
    while name not in modules:
        name = name.rsplit(".", 1)[0]
    return name


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """Module → the physlens modules it imports (the package root ``physlens`` left out)."""
    files = {module_name(p): p for p in SRC.rglob("*.py") if module_name(p) != "physlens"}
    return {name: {t for t in (resolve(i, set(files) | {"physlens"}) for i in imports_of(path))
                   if t not in (name, "physlens")} for name, path in files.items()}


def layer(module: str) -> tuple[str, int]:
    top = module.split(".")[1]
    return top, LAYERS[top]


def test_every_package_has_a_layer(graph):
    tops = {m.split(".")[1] for m in graph}
    assert tops == set(LAYERS), f"packages without a layer: {tops - set(LAYERS)}"


def test_imports_point_down_only(graph):
    bad = []
    for source, target in ((s, t) for s, targets in graph.items() for t in targets):
        (src_pkg, src_layer), (dst_pkg, dst_layer) = layer(source), layer(target)
        if src_pkg != dst_pkg and dst_layer >= src_layer:
            bad.append(f"{source} -> {target}")
    assert not bad, "imports that point up or sideways:\n" + "\n".join(sorted(bad))


def test_no_cycles(graph):
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_lens_knows_no_physics(graph):
    lens = [m for m in graph if m.startswith("physlens.lens")]
    assert not [(m, t) for m in lens for t in graph[m] if t.split(".")[1] in ("quantum", "nuclear")]
