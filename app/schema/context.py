"""The context hook: one Context per request, around the caller resolved at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult

from app.auth.viewer import Viewer
from app.config import Settings
from app.errors import GRAPHQL_VALIDATION, GraphQLValidation, InvalidPayload
from app.http import graphiql
from app.http.bodies import check_document, parse_json
from app.http.caller import client_of, viewer_of
from app.http.responses import NO_STORE
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
        return client_of(self.request)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: Any, services: Services) -> None:
        settings = services.settings
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.services = services

    async def render_graphql_ide(self, request: Request) -> Response:
        # Ours, from local files; Strawberry's loads GraphiQL from a CDN.
        return graphiql.page(request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request that never reaches execution raises an AppError, which the app's handler
        (app/http/failures.py) answers with the contract's JSON error, not Strawberry's
        plain-text reason (or a 500 for the shapes Strawberry does not expect)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            # 400s are about the request's shape; the others are 404 (no GraphiQL) and 405.
            if exc.status_code == 400:
                raise GraphQLValidation(exc.reason) from None
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        # The same bounded parser as the REST routes, for the body and GET's `variables=`.
        return parse_json(data)

    def parse_json(self, data: str | bytes) -> object:
        """The POST body: a request object (or a list, which Strawberry refuses as a batch)."""
        value = self.decode_json(data)
        if not isinstance(value, dict | list):
            raise GraphQLValidation("A GraphQL request is a JSON object with a query.")
        return value

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        # Strawberry's own version sends these through parse_json, which is for bodies.
        parsed = dict(params)
        for name in ("variables", "extensions"):
            if parsed.get(name):
                parsed[name] = self.decode_json(parsed[name])
        return parsed

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            content_type = (request.content_type or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise InvalidPayload("Send a JSON body (Content-Type: application/json).")
        parsed = await super().parse_http_body(request)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(item.query, str):
                check_document(item.query)
        return parsed

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        assert isinstance(request, Request) and isinstance(response, Response)  # noqa: S101 - no websockets here
        # Results carry tokens and personal data: no cache may keep them.
        response.headers.update(NO_STORE)
        # The caller was resolved at the edge (app/http/caller.py), as for every route.
        return Context(request, response, self.services.settings, viewer_of(request), self.services)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        body = process_result(result)
        # Syntax errors skip the schema extensions; whatever still has no code is the
        # document's fault.
        for error in body.get("errors") or []:
            extensions: dict[str, object] = error.setdefault("extensions", {})  # type: ignore[attr-defined]
            extensions.setdefault("code", GRAPHQL_VALIDATION)
        return body
