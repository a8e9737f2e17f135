"""The context hook: one Context per request, with the viewer resolved exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from app.auth.viewer import Viewer, resolve_viewer
from app.config import Settings
from app.errors import GRAPHQL_VALIDATION
from app.services.auth import AuthService
from app.services.client import ClientInfo
from app.services.container import Services
from app.services.users import UserService


@dataclass(frozen=True)
class Context:
    request: Request
    response: Response
    settings: Settings
    viewer: Viewer  # a session user, or EVERYONE; never None
    services: Services

    @property
    def auth(self) -> AuthService:
        return self.services.auth

    @property
    def users(self) -> UserService:
        return self.services.users

    @property
    def client(self) -> ClientInfo:
        return ClientInfo.of(self.request)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: Any, services: Services) -> None:
        settings = services.settings
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        assert isinstance(request, Request) and isinstance(response, Response)  # noqa: S101 - no websockets here
        settings = self.services.settings
        viewer = await resolve_viewer(request, settings, self.services.access_tokens, self.services.sessions)
        return Context(request, response, settings, viewer, self.services)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        body = process_result(result)
        # Syntax errors skip the schema extensions; whatever still has no code is the
        # document's fault.
        for error in body.get("errors") or []:
            extensions: dict[str, object] = error.setdefault("extensions", {})  # type: ignore[attr-defined]
            extensions.setdefault("code", GRAPHQL_VALIDATION)
        return body
