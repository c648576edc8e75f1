"""The report package draws result objects: it imports no study, no command-line code and no training."""

import ast
from pathlib import Path

import physlens.report

FORBIDDEN = ("physlens.studies", "physlens.cli", "physlens.quantum.train", "physlens.nuclear.train")


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement of ``path`` (relative imports resolved within physlens.report)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module if node.level == 0 else f"physlens.report.{node.module or ''}")
    return names


def test_report_modules_import_no_study_cli_or_training():
    folder = Path(physlens.report.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) > 5
    offending = {p.name: sorted(m for m in imported_modules(p) if m.startswith(FORBIDDEN)) for p in modules}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_check_sees_a_study_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from physlens.studies.lottery_summary import LotterySummary\nimport physlens.cli\n")
    assert imported_modules(module) == {"physlens.studies.lottery_summary", "physlens.cli"}
