"""The floors of docs/architecture.md, checked on the source: dependencies point one way, down.

core (the ground floor: Redis, notify, the scheduler engine, metrics, ...) imports no app and not
coinpilot_site; market imports only core; agents market and core; trading market, agents only
through agents.gate and agents.status (the cycle asks "may I buy?"), and core; analytics trading,
market, agents.llm, agents.models (fill drift reads the AI's vetoes) and core; lab (the Strategy
lab) trading, market and core. coinpilot_site (settings, URLs, the schedule table, the pages that
read several apps) is the top floor and may import any; nothing below imports it. api (the token
API) stands beside it: it may import every app
but lab and coinpilot_site. remote (the Telegram bot) stands beside it too, with the same rule.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUND = "core"
TOP = "coinpilot_site"
APPS = {"market", "trading", "agents", "analytics", "lab", "api", "remote"}
PROJECT = {GROUND, TOP, *APPS}
# What each package may import besides itself (a rule covers the module and everything under it).
ALLOWED = {
    GROUND: set(),
    "market": {GROUND},
    "agents": {"market", GROUND},
    "trading": {"market", "agents.gate", "agents.status", GROUND},
    "analytics": {"market", "trading", "agents.llm", "agents.models", GROUND},  # fill drift reads vetoes
    "lab": {"market", "trading", GROUND},  # the Strategy lab, beside analytics
    "api": {"market", "agents", "trading", "analytics", GROUND},  # the token API, beside coinpilot_site
    "remote": {"market", "agents", "trading", "analytics", GROUND},  # the Telegram bot, beside coinpilot_site
}


def imports(path: Path) -> set[str]:
    """Every absolute import of the file, at load time or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from a import b: a.b
    return names


def project_imports(path: Path) -> set[str]:
    return {name for name in imports(path) if name.split(".")[0] in PROJECT}


def allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


def sources(package: str):
    for path in (ROOT / package).rglob("*.py"):
        if "tests" not in path.parts and "migrations" not in path.parts:
            yield path


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package):
    wrong = []
    for path in sources(package):
        for name in sorted(project_imports(path)):
            if name.split(".")[0] != package and not allowed(name, ALLOWED[package]):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_every_package_has_a_floor():
    """A new top-level package must be given its rules here before it is imported from anywhere."""
    packages = {path.parent.name for path in ROOT.glob("*/apps.py")}
    assert packages == set(ALLOWED) | {TOP}


def test_migrations_import_no_live_code_and_read_no_files():
    """A migration must do what it did when written: no project module, no config file read."""
    problems = []
    for path in sorted(ROOT.glob("*/migrations/0*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            problems += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in PROJECT]
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in {
                "open",
                "read_text",
                "read_bytes",
                "safe_load",
            }:
                problems.append(f"{path.relative_to(ROOT)} reads a file (line {node.lineno})")
    assert problems == []


def module_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports at load time (function-level imports excluded)."""
    modules = {}
    for package in sorted(PROJECT):
        for path in sources(package):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycles():
    graph, cycles = module_graph(), []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*path[path.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
