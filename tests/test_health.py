from __future__ import annotations

from tests.conftest import Api


async def test_health_answers_ok_once_the_database_answers(api: Api) -> None:
    response = await api.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_jwks_is_empty_for_hs256(api: Api) -> None:
    response = await api.http.get("/.well-known/jwks.json")
    assert response.json() == {"keys": []}
