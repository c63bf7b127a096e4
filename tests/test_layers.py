"""The shape of the code base: arrows point down, and queries live in services.

Core modules (settings, database, extensions, errors, HTTP plumbing, security, languages,
operations, the live-event layer) know no domain; no two packages import each other, directly or
round a longer circle; views, API views and socket handlers ask services instead of querying.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "participation"
CORE = ("config", "db", "extensions", "errors", "web", "forms", "security", "i18n", "ops",
        "realtime", "mail", "jobs", "feeds")
DOMAINS = ("accounts", "admin", "forums", "townhall", "polls", "decisions", "moderation",
           "notifications", "home", "api", "languages", "numbers")
# Where database queries belong (STYLE.md: "no query in a view, an API view or an event handler").
QUERY_HOMES = ("services.py", "models.py", "demo.py", "ballot_batches.py", "paper.py",
               "turnout.py")
QUERY = re.compile(r"\bselect\(|session\.execute\(|session\.scalars?\(|session\.get\([A-Z]\w*,")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _unit(path: Path) -> str:
    """The package (or top-level module) a file belongs to: "townhall", "web", "cli"..."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_units(path: Path) -> set[str]:
    """Every participation.<unit> this file imports, at the top or inside a function."""
    units = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "participation" and len(parts) > 1:
                units.add(parts[1])
    units.discard(_unit(path))
    return units


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _modules():
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue  # the application factory wires every package together
        graph.setdefault(_unit(path), set()).update(_imported_units(path))
    return graph


@pytest.mark.parametrize("core", CORE)
def test_core_modules_import_no_domain(core):
    files = [p for p in _modules() if _unit(p) == core]
    assert files, core
    wrong = {f"{p.relative_to(PACKAGE)} -> {u}" for p in files for u in _imported_units(p)
             if u in DOMAINS}
    assert not wrong


def test_no_two_packages_import_each_other_even_round_a_circle():
    graph = _graph()
    circles = []

    def visit(unit: str, trail: list[str]) -> None:
        for target in sorted(graph.get(unit, ())):
            if target in trail:
                circles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target in graph:
                visit(target, [*trail, target])

    for unit in sorted(graph):
        visit(unit, [unit])
    assert not circles, sorted(set(circles))


def test_queries_live_in_services():
    found = []
    for path in _modules():
        if path.name in QUERY_HOMES or "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if QUERY.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not found


def test_the_layer_checks_see_what_they_look_for():
    """The checks above would notice a view that queries, and a circle."""
    assert QUERY.search("rows = db.session.scalars(select(Poll))")
    assert QUERY.search("user = db.session.get(User, 3)")
    assert not QUERY.search('language = session.get("locale")')
    assert not QUERY.search("language = session.get(SESSION_KEY)")
    sample = PACKAGE / "moderation" / "sample.py"
    assert not sample.exists()
    try:
        sample.write_text("def f():\n    from participation.polls.services import x\n")
        assert "polls" in _imported_units(sample)
    finally:
        sample.unlink()
