"""Schema extensions: error codes and masking, the token-error report, request limits."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError, parse, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from app.errors import GRAPHQL_VALIDATION, AppError, InternalServerError, QueryTooComplex, from_exception
from app.schema.limits import MAX_TOKENS, Limits, check

log = logging.getLogger("app.graphql")

# Mutations that check a credential, hash a password or send mail: alias batching these
# would multiply guesses (or hashing work, or mail) per request.
CREDENTIAL_MUTATIONS = frozenset(
    {
        "auth_login",
        "auth_refresh",
        "auth_password_request",
        "auth_password_reset",
        "auth_magic_link_login",
        "auth_magic_link_request",
        "auth_phone_request",
        "auth_passkey_login",
        "auth_passkey_login_options",
        "createUser",
        "signinUser",
        "users_register",
        "users_register_verify",
        "users_me_email_verify_request",
        "users_invite",
    }
)


# What graphql-core's parser says when it stops at `max_tokens`.
_TOKEN_CAP_MESSAGE = f"Document contains more than {MAX_TOKENS} tokens."


class ErrorCodes(SchemaExtension):
    """Every error leaves with `extensions.code`. Unexpected exceptions are logged and
    masked as INTERNAL_SERVER_ERROR; a bad credential on the request adds one
    INVALID_TOKEN / TOKEN_EXPIRED error while the operation runs as EVERYONE."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None:
            return
        errors = [self._coded(error) for error in result.errors or []]
        context = self.execution_context.context
        token_error = getattr(getattr(context, "viewer", None), "token_error", None)
        if token_error and not any(e.extensions and e.extensions.get("code") == token_error for e in errors):
            message = "Token expired." if token_error == "TOKEN_EXPIRED" else "Invalid token."
            errors.append(GraphQLError(message, extensions={"code": token_error}))
        result.errors = errors or None

    @staticmethod
    def _coded(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, AppError):
            return error
        if error.extensions and "code" in error.extensions:
            return error
        if error.path is None:
            # Parse, validation and variable coercion errors: the document's fault; the
            # parser's token cap is one of the request limits.
            too_long = isinstance(error, GraphQLSyntaxError) and _TOKEN_CAP_MESSAGE in error.message
            return GraphQLError(
                error.message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                extensions={"code": QueryTooComplex.code if too_long else GRAPHQL_VALIDATION},
            )
        log.error("error in %s", ".".join(map(str, error.path)))
        coded = from_exception(original) if original is not None else InternalServerError()
        return GraphQLError(coded.message, nodes=error.nodes, path=error.path, extensions=coded.extensions)


# Documents within the caps still vary: most validate in well under a millisecond, but a
# document near the caps can take graphql-core a few tenths of a second (same-named
# fields are compared pairwise, long list literals checked item by item). All but small
# documents validate on this one thread, so they neither hold the event loop nor, several
# at once, crowd it out of the interpreter lock.
INLINE_VALIDATION_SELECTIONS = 100
INLINE_VALIDATION_LENGTH = 1_000
# The caches keep no query text longer than this (a few long tokens or string literals
# pass the token cap): 512 entries stay a few megabytes at most.
CACHED_QUERY_LENGTH = 8_192
_validation_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphql-validation")


class Validator:
    """Validation of one schema's documents: the limits first, in one linear pass, then
    graphql-core's rules, whose answers are cached by query text."""

    def __init__(self, limits: Limits, *, hide_suggestions: bool, maxsize: int = 512) -> None:
        self.limits = limits
        # Production answers do not name the fields a client might have meant.
        self.hide_suggestions = hide_suggestions
        self.maxsize = maxsize
        self.cache: OrderedDict[tuple[str, tuple[type[ASTValidationRule], ...]], list[GraphQLError]] = OrderedDict()

    async def validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
        query: str | None,
    ) -> list[GraphQLError]:
        key = (query, rules) if query is not None and len(query) <= CACHED_QUERY_LENGTH else None
        if key is not None and key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        errors, selections = check(document, self.limits)
        if not errors:
            rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
            small = selections <= INLINE_VALIDATION_SELECTIONS and len(query or "") <= INLINE_VALIDATION_LENGTH
            if small:
                errors = self._graphql_core(schema, document, rules)
            else:
                loop = asyncio.get_running_loop()
                errors = await loop.run_in_executor(_validation_thread, self._graphql_core, schema, document, rules)
        if key is not None:
            self.cache[key] = errors
            if len(self.cache) > self.maxsize:
                self.cache.popitem(last=False)
        return errors

    def _graphql_core(
        self, schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        return validate(schema, document, rules, hide_suggestions=self.hide_suggestions)


def _parse(query: str) -> DocumentNode:
    # The parser stops at the cap: a huge document is refused for the price of
    # MAX_TOKENS tokens.
    if len(query) > CACHED_QUERY_LENGTH:
        return parse(query, max_tokens=MAX_TOKENS)
    return _cached_parse(query)


@lru_cache(maxsize=512)
def _cached_parse(query: str) -> DocumentNode:
    return parse(query, max_tokens=MAX_TOKENS)


class Validation(SchemaExtension):
    """Parsing with the token cap (cached by query text), then the Validator, in place of
    Strawberry's own steps: its validation has no limits pass and cannot hide suggestions."""

    def __init__(self, validator: Validator) -> None:
        self.validator = validator

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = MAX_TOKENS
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            # A document that does not parse is left to Strawberry, which parses it
            # again (with the same cap) where its error is reported like any other;
            # raised from here, it would bypass ErrorCodes.
            with suppress(GraphQLError):
                context.graphql_document = _parse(context.query)
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and context.graphql_document is not None:
            context.pre_execution_errors = await self.validator.validate(
                context.schema._schema, context.graphql_document, context.validation_rules, context.query
            )
        yield


class QuietExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Execution whose variable coercion errors do not suggest names ("Did you mean
    'json'?"): in production, where introspection is off, they would reveal the schema."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)
