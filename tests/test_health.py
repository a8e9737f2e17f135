from __future__ import annotations

import httpx

from app.main import create_app
from tests.conftest import LOGIN, Api, codes, make_settings


async def test_health_answers_ok_once_the_database_answers(api: Api) -> None:
    response = await api.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_jwks_is_empty_for_hs256(api: Api) -> None:
    response = await api.http.get("/.well-known/jwks.json")
    assert response.json() == {"keys": []}


async def test_an_unreachable_database_is_503_everywhere() -> None:
    # Nothing listens on port 1: connections are refused at once.
    settings = make_settings(database_url="postgres://postgres@127.0.0.1:1/test")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            assert (await client.get("/health")).status_code == 503
            rest = await client.post("/auth/login", json={"email": "a@example.com", "password": "12345678"})
            assert rest.status_code == 503
            assert rest.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            variables = {"email": "a@example.com", "password": "12345678"}
            graphql = (await client.post("/graphql", json={"query": LOGIN, "variables": variables})).json()
            assert codes(graphql) == ["SERVICE_UNAVAILABLE"]
