"""Health routes for load balancers and orchestrators.

- `GET /health/live`: 200 while the process serves (restart me when this fails).
- `GET /health/ready`: 200 when the database and, with RATE_LIMITER_STORE=redis, Redis
  answer; else 503 naming the failing ones (send me no traffic).
- `GET /health`: `{"status": "ok"}` once the database answers (the contract), 503 otherwise;
  with Redis configured but unreachable it stays 200 `"ok"` and says what is degraded
  (`{"status": "ok", "degraded": ["redis"], "checks": {...}}`): sign-ins still work,
  counting limits in each process's memory (app/auth/counters.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.services import health as dependencies
from app.services.container import Services


async def _checks(request: Request) -> tuple[dict[str, str], list[str]]:
    services: Services = request.app.state.services
    results = await dependencies.checks(services.settings, services.counters)
    return results, [name for name, state in results.items() if state != "ok"]


async def health(request: Request) -> Response:
    results, failing = await _checks(request)
    if "database" in failing:
        return JSONResponse({"status": "error", "checks": results, "failing": failing}, status_code=503)
    if failing:
        return JSONResponse({"status": "ok", "degraded": failing, "checks": results})
    return JSONResponse({"status": "ok"})


async def live(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    results, failing = await _checks(request)
    if failing:
        return JSONResponse({"status": "error", "checks": results, "failing": failing}, status_code=503)
    return JSONResponse({"status": "ok", "checks": results})


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/health/live", live, methods=["GET"]),
    Route("/health/ready", ready, methods=["GET"]),
]
