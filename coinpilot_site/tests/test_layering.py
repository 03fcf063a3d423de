"""The app boundaries of docs/architecture.md, checked on the source: dependencies point one way.

analytics -> trading -> market; agents -> market; trading -> agents only through agents.gate (the
cycle asks "may I buy?"); trading never imports analytics; the infrastructure of coinpilot_site
(settings, notify, locks, the scheduler engine, Redis) imports no app. Pages that read several apps
(urls, pages, the Ask assistant) sit on top and may import any.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = {"market", "trading", "agents", "analytics"}
ALLOWED = {
    "market": set(),
    "agents": {"market"},
    "trading": {"market", "agents.gate", "agents.status"},
    "analytics": {"market", "trading", "agents.llm"},
}
INFRASTRUCTURE = ["settings.py", "notify.py", "redis_conn.py", "scheduling.py", "worker.py", "caching.py"]


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from a import b: a.b
    return names


def app_imports(path: Path) -> set[str]:
    return {name for name in imports(path) if name.split(".")[0] in APPS}


def allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_app_imports_point_one_way(app):
    wrong = []
    for path in (ROOT / app).rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        own = {n for n in app_imports(path) if n.split(".")[0] == app}
        for name in sorted(app_imports(path) - own):
            if not allowed(name, ALLOWED[app]):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_site_infrastructure_imports_no_app():
    wrong = [
        f"{name} imports {module}"
        for name in INFRASTRUCTURE
        for module in sorted(app_imports(ROOT / "coinpilot_site" / name))
    ]
    assert wrong == []


def test_migrations_import_no_live_code_and_read_no_files():
    """A migration must do what it did when written: no project module, no config file read."""
    import ast

    apps = {"coinpilot_site", "market", "trading", "agents", "analytics", "core"}
    problems = []
    for path in sorted(ROOT.glob("*/migrations/0*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            problems += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in apps]
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
    for app in ["coinpilot_site", *sorted(APPS)]:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
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
