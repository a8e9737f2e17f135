"""Schema extensions: error codes and masking, the token-error report, request limits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import SchemaExtension

from app.errors import GRAPHQL_VALIDATION, AppError, InternalServerError, QueryTooComplex, from_exception

log = logging.getLogger("app.graphql")

# Mutations that check a credential or hash a password: alias batching these would
# multiply guesses (or hashing work) per request.
CREDENTIAL_MUTATIONS = frozenset(
    {
        "auth_login",
        "auth_refresh",
        "auth_password_request",
        "auth_password_reset",
        "auth_magic_link_login",
        "auth_magic_link_request",
        "auth_phone_request",
        "createUser",
        "signinUser",
        "users_register",
        "users_register_verify",
    }
)


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
            # Parse, validation and variable coercion errors: the document's fault.
            return GraphQLError(
                error.message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                extensions={"code": GRAPHQL_VALIDATION},
            )
        log.error("error in %s", ".".join(map(str, error.path)))
        coded = from_exception(original) if original is not None else InternalServerError()
        return GraphQLError(coded.message, nodes=error.nodes, path=error.path, extensions=coded.extensions)


def limit_rules(max_depth: int, max_aliases: int, max_auth_operations: int) -> list[type[ASTValidationRule]]:
    """Validation rules for section 7's limits; each failure is QUERY_TOO_COMPLEX."""

    def too_complex(context: ValidationContext, message: str, node: Any) -> None:
        context.report_error(GraphQLError(message, node, extensions={"code": QueryTooComplex.code}))

    class DocumentLimits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            depth = _depth(node.selection_set, fragments, set())
            if depth > max_depth:
                too_complex(self.context, f"Query depth {depth} exceeds the limit of {max_depth}.", node)
            aliases = _aliases(node.selection_set, fragments, set())
            if aliases > max_aliases:
                too_complex(self.context, f"{aliases} aliases exceed the limit of {max_aliases}.", node)
            if node.operation == OperationType.MUTATION:
                count = sum(
                    1
                    for f in _root_fields(node.selection_set, fragments, set())
                    if f.name.value in CREDENTIAL_MUTATIONS
                )
                if count > max_auth_operations:
                    too_complex(
                        self.context,
                        f"At most {max_auth_operations} sign-in or credential operation(s) per request.",
                        node,
                    )

    return [DocumentLimits]


def _depth(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: set[str]) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                deepest = max(deepest, _depth(fragments[name].selection_set, fragments, seen | {name}))
    return deepest


def _aliases(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> int:
    if selection_set is None:
        return 0
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += (selection.alias is not None) + _aliases(selection.selection_set, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            count += _aliases(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                # Counted at every spread: a fragment spread ten times costs ten times.
                count += _aliases(fragments[name].selection_set, fragments, seen | {name})
    return count


def _root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                yield from _root_fields(fragments[name].selection_set, fragments, seen | {name})
