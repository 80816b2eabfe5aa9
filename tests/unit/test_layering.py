"""The architecture, enforced: the domain is pure, capabilities do not import entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import arrears

SRC = Path(arrears.__file__).parent
FORBIDDEN_IN_DOMAIN = ("sqlalchemy", "alembic", "fastapi", "starlette", "httpx", "requests", "celery", "redis",
                       "psycopg", "typer", "rich", "arrears.store", "arrears.cli", "arrears.portfolio")  # fmt: skip
CLOCK_CALLS = ("datetime.now", "date.today", "datetime.utcnow", "time.time", "dt.datetime.now", "dt.date.today",
               "datetime.datetime.now", "datetime.date.today")  # fmt: skip
ENTRY_POINTS = ("arrears.cli", "arrears.api", "arrears.web", "arrears.jobs")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}


def test_domain_imports_no_io_and_reads_no_clock() -> None:
    offenders = []
    for path in sorted((SRC / "domain").rglob("*.py")):
        for name in _imports(path):
            if name.startswith(FORBIDDEN_IN_DOMAIN):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
        for call in _calls(path):
            if call in CLOCK_CALLS:
                offenders.append(f"{path.relative_to(SRC)} reads the clock: {call}()")
    assert offenders == []


def test_capabilities_do_not_import_entry_points() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        if package.startswith(ENTRY_POINTS) or package.startswith("arrears.sim"):
            continue
        for name in _imports(path):
            if name.startswith(ENTRY_POINTS):
                offenders.append(f"{package} imports {name}")
    assert offenders == []


def test_the_check_itself_catches_an_offence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import sqlalchemy\nimport datetime as dt\nx = dt.datetime.now()\n", encoding="utf-8")
    assert "sqlalchemy" in _imports(bad)
    assert "dt.datetime.now" in _calls(bad)
