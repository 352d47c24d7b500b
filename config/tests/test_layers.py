"""The import rule of docs/architecture.md, checked on every module's imports (function-local ones included):

core < accounts < messenger, archive beside messenger (each reaching the other only through its services
and models), calls and games above both (built on conversations, messages and the archive); transport
(consumers, handlers, views, api, admin, forms, middleware, urls, commands) on top;
and a selector never imports a service.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "accounts", "messenger", "archive", "calls", "games", "config")
RANK = {"core": 0, "accounts": 1, "messenger": 2, "archive": 2, "calls": 3, "games": 3}
# Side by side: what one of the two may import of the other (models to read and name event types, services
# to write, and the archive's search index, whose tokens employees' message search reads).
BESIDE = {
    ("messenger", "archive"): ("archive.models", "archive.services", "archive.search_index"),
    ("archive", "messenger"): ("messenger.models", "messenger.services"),
}
TRANSPORT_NAMES = {"consumers", "handlers", "views", "api", "admin", "forms", "middleware", "urls", "routing"}
TRANSPORT_FILES = {
    "accounts.admin_apps",
    "accounts.admin_site",
    "accounts.sign_in_views",
    "accounts.user_import_admin",
    "archive.export_views",
    "archive.matters_admin",
    "archive.review_views",
    "archive.supervision_admin",
    "core.health",
}
# Test support, not shipped code paths: builds ASGI test clients from config.
TEST_SUPPORT = {"core.testing"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            found[module_name(path)] = path
    return found


def imported(path: Path, known: set[str]) -> set[str]:
    """Every project module `path` imports, at any depth in the file; `from a import b` counts a.b when b is
    a module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.add(submodule if submodule in known else node.module)
    return {name for name in names if name.split(".")[0] in APPS}


def is_transport(module: str) -> bool:
    parts = module.split(".")
    return (
        parts[0] == "config"
        or module in TRANSPORT_FILES
        or "management" in parts
        or any(part in TRANSPORT_NAMES for part in parts[1:])
    )


def refusal(module: str, target: str) -> str | None:
    """Why `module` may not import `target`, or None when it may."""
    if is_transport(module) or module in TEST_SUPPORT:
        return None
    if is_transport(target):
        return "a lower layer imports transport"
    if module.endswith(".selectors") and (target.endswith(".services") or ".services." in target):
        return "a selector imports a service (a read must not write)"
    app, target_app = module.split(".")[0], target.split(".")[0]
    if app == target_app:
        return None
    allowed = BESIDE.get((app, target_app))
    if allowed is not None:
        return None if target.startswith(allowed) else f"{app} reaches {target_app} only through {allowed}"
    if RANK[target_app] >= RANK[app]:
        return f"{app} is below {target_app}"
    return None


def test_every_import_runs_down_the_layers():
    modules = project_modules()
    broken = [
        f"{module} imports {target}: {reason}"
        for module, path in sorted(modules.items())
        for target in sorted(imported(path, set(modules)))
        if (reason := refusal(module, target))
    ]

    assert broken == []
    assert len(modules) > 80  # the walk found the project


def test_the_rule_refuses_what_it_should():
    assert refusal("accounts.services.profiles", "messenger.payloads") == "accounts is below messenger"
    assert refusal("core.fanout", "accounts.models") == "core is below accounts"
    assert refusal("accounts.selectors", "accounts.services.api_tokens") is not None
    assert refusal("messenger.services.rooms", "messenger.consumers") == "a lower layer imports transport"
    assert refusal("archive.retention", "messenger.selectors") is not None
    assert refusal("messenger.services.rooms", "archive.services") is None
    assert refusal("messenger.consumers", "accounts.presence_actions") is None
    assert refusal("archive.admin", "messenger.models") is None
