"""The layering of app/ (STYLE.md): imports only go down, the web framework stays at the
edge, and no database query runs in the GraphQL resolvers or the HTTP edge (they
translate; services query)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# Lower numbers are lower layers; a module may import from its own layer or below.
SHARED, MODELS, AUTH, SERVICES, EDGE, TOP = range(6)
LAYERS = {
    "config": SHARED,
    "config_values": SHARED,
    "errors": SHARED,
    "redaction": SHARED,
    "logs": SHARED,
    "metrics": SHARED,
    "models": MODELS,
    "auth": AUTH,
    "services": SERVICES,
    "mail": SERVICES,  # transports, used by services
    "mail_templates": SERVICES,  # writes the mails services send
    "sms": SERVICES,
    "schema": EDGE,
    "http": EDGE,
    "main": TOP,
    "__main__": TOP,
    "settings_doc": TOP,
}
# Imports that go up and are being moved (a stale entry fails too, so the list only shrinks).
PENDING: set[tuple[str, str]] = set()
EDGE_PACKAGES = ("app.schema.", "app.http.")


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports(tree: ast.Module) -> Iterator[tuple[str, ast.stmt]]:
    """Every imported module, TYPE_CHECKING and function-level imports included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node
            # `from app import mail` imports the module app.mail.
            if node.module == "app":
                yield from ((f"app.{alias.name}", node) for alias in node.names)


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "app" or len(parts) == 1:
        return None
    assert parts[1] in LAYERS, f"{module}: place it in a layer in tests/test_layers.py"
    return LAYERS[parts[1]]


def test_imports_only_go_down() -> None:
    upward: set[tuple[str, str]] = set()
    for name, tree in _modules():
        here = _layer(name) if name != "app" else SHARED
        assert here is not None
        for imported, _ in _imports(tree):
            there = _layer(imported)
            if there is not None and there > here:
                upward.add((name, imported))
    assert upward - PENDING == set(), "imports from a higher layer"
    assert PENDING - upward == set(), "these imports are gone: drop them from PENDING"


def _model_names(tree: ast.Module) -> set[str]:
    """Local names bound to model classes (or the app.models module) by the imports."""
    from tortoise.models import Model

    import app.models

    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app.models"):
            for alias in node.names:
                if isinstance(getattr(app.models, alias.name, None), type) and issubclass(
                    getattr(app.models, alias.name), Model
                ):
                    names.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module == "app" and any(a.name == "models" for a in node.names):
            names.add("models")
        elif isinstance(node, ast.Import) and any(a.name.startswith("app.models") for a in node.names):
            names.add("app")
    return names


# Instance methods that always mean a query, whatever the receiver.
INSTANCE_QUERIES = {"save", "fetch_related", "refresh_from_db", "select_for_update"}


def _queries(tree: ast.Module) -> Iterator[str]:
    models = _model_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in models:
            # A model class is for annotations and isinstance only: any attribute of it
            # (filter, get_or_none, create, by_email, ...) is a query or a way to one.
            yield f"line {node.lineno}: {node.value.id}.{node.attr}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in INSTANCE_QUERIES:
                yield f"line {node.lineno}: .{node.func.attr}()"
        if isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for name in [module] if module else [a.name for a in node.names]:
                if name == "tortoise" or name.startswith("tortoise."):
                    yield f"line {node.lineno}: imports {name}"


def test_resolvers_and_routes_run_no_query() -> None:
    found = {
        name: list(_queries(tree))
        for name, tree in _modules()
        if name.startswith(EDGE_PACKAGES) and list(_queries(tree))
    }
    assert found == {}, "move these to a service (app/services/)"


def test_the_checks_see_a_query_and_an_upward_import() -> None:
    """The checks above would catch what they are for (they cannot pass by seeing nothing)."""
    resolver = ast.parse(
        "from app.models import User as UserModel, Role\n"
        "async def f(ids):\n"
        "    return await UserModel.filter(id__in=ids), Role.admin\n"
    )
    assert list(_queries(resolver)) == ["line 3: UserModel.filter"]
    assert [name for name, _ in _imports(ast.parse("from app.services.users import UserService"))] == [
        "app.services.users"
    ]
    assert _layer("app.services.users") > _layer("app.auth.tokens")  # type: ignore[operator]


WEB = ("starlette", "strawberry", "cross_web")


def test_below_the_edge_nothing_knows_the_web_framework() -> None:
    """Services, auth and models take plain values (ClientInfo, not a Request): the caller
    is resolved and described at the edge, app/http/caller.py."""
    found = {
        (name, imported)
        for name, tree in _modules()
        # config.py reads .env files with starlette.config: settings, not a request.
        if (_layer(name) or SHARED) < EDGE and name != "app.config"
        for imported, _ in _imports(tree)
        if imported.split(".")[0] in WEB
    }
    assert found == set()


def test_every_cookie_is_set_in_cookies_py_only() -> None:
    """Each cookie's flags (path, max-age, httpOnly, Secure, SameSite, domain) are declared
    once, in app/http/cookies.py; everything else asks it for the declaration."""
    calls = [
        f"{path.relative_to(APP.parent)}:{node.lineno} calls {node.attr}"
        for path in sorted(APP.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in ("set_cookie", "delete_cookie")
    ]
    assert calls and all(call.startswith("app/http/cookies.py:") for call in calls), calls


def test_route_handlers_raise_and_failures_answer() -> None:
    """Errors become answers in app/http/failures.py (and, inside a GraphQL operation, the
    schema's error extension), not in catch-alls around each handler."""
    catch_alls = []
    for name in ("http/routes.py", "http/pages.py", "http/oauth.py", "http/csrf.py", "schema/context.py"):
        tree = ast.parse((APP / name).read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ExceptHandler) and (
                    node.type is None or (isinstance(node.type, ast.Name) and node.type.id == "Exception")
                ):
                    catch_alls.append(f"app/{name}:{node.lineno} in {function.name}")
    assert catch_alls == []
