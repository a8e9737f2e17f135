"""GraphiQL's page over HTTP: every file it loads comes from this server, under a CSP that
allows no other origin; nothing of it is served while GRAPHIQL is off.
(tests/browser/test_graphiql.py runs it in a browser with the network cut off.)"""

from __future__ import annotations

import re

import pytest

from app.http.graphiql import STATIC_DIR
from tests.conftest import Api

HTML = {"accept": "text/html"}


def _assets(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


@pytest.mark.parametrize("path", ["/graphql", "/graphql/relay"])
async def test_graphiql_loads_only_files_served_here(api: Api, path: str) -> None:
    response = await api.http.get(path, headers=HTML)
    assert response.status_code == 200
    assets = _assets(response.text)
    assert assets and all(a.startswith("/graphql/static/") or a == "data:," for a in assets), assets
    assert "//" not in "".join(a.split("?")[0] for a in assets)
    for asset in (a for a in assets if a.startswith("/")):
        served = await api.http.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["x-content-type-options"] == "nosniff"
        kind = "javascript" if asset.split("?")[0].endswith(".js") else "css"
        assert kind in served.headers["content-type"], (asset, served.headers["content-type"])


async def test_graphiql_page_allows_no_inline_script_and_no_other_origin(api: Api) -> None:
    first = await api.http.get("/graphql", headers=HTML)
    policy = dict(p.strip().split(" ", 1) for p in first.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in first.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", first.text), "inline script"
    # The style nonce is new on every load.
    second = await api.http.get("/graphql", headers=HTML)
    assert first.headers["content-security-policy"] != second.headers["content-security-policy"]


async def test_asset_urls_change_with_the_files(api: Api) -> None:
    page = (await api.http.get("/graphql", headers=HTML)).text
    versions = {a.split("?v=")[1] for a in _assets(page) if "?v=" in a}
    assert len(versions) == 1 and len(versions.pop()) == 16


async def test_vendored_graphiql_carries_its_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    names = {p.name for p in vendor.iterdir()}
    for package in ("graphiql", "graphiql-plugin-explorer", "graphiql-explorer", "react", "react-dom"):
        assert f"LICENSE.{package}" in names
    readme = (vendor / "README.md").read_text()
    assert "| graphiql | 3." in readme and "| react | 18." in readme


async def test_nothing_of_graphiql_is_served_when_it_is_off(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(GRAPHIQL="false") as api:
        for path in ("/graphql", "/graphql/relay"):
            assert (await api.http.get(path, headers=HTML)).status_code == 404
        for asset in ("/graphql/static/boot.js", "/graphql/static/vendor/graphiql.min.js"):
            assert (await api.http.get(asset)).status_code == 404
        # Nor through the pages' static route, which serves the top of app/static/.
        for asset in ("/auth/pages/static/graphiql/boot.js", "/auth/pages/static/graphiql/vendor/graphiql.min.js"):
            assert (await api.http.get(asset)).status_code == 404, asset
        assert (await api.http.get("/auth/pages/static/pages.css")).status_code == 200


async def test_static_route_serves_files_only(api: Api) -> None:
    for path in ("/graphql/static/", "/graphql/static/vendor/", "/graphql/static/../main.py", "/graphql/static/x.js"):
        assert (await api.http.get(path)).status_code == 404, path
