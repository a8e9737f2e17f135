"""GraphQL operations counted and timed by what they call (METRICS_ENABLED=true).

The label is the operation's root field, checked against the schema's own root fields, never
the client's operation name: a client choosing names could otherwise create label values
without end. Several root fields are `multiple`, introspection alone is `introspection`,
a field the schema does not have is `other`, a document that does not parse is `invalid`.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from app import metrics

INTROSPECTION = frozenset({"__schema", "__type"})


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        elapsed = metrics.timer()
        yield
        context = self.execution_context
        kind, operation = label(context.graphql_document, context.operation_name, _schema(context.schema))
        result = context.result
        failed = bool(context.pre_execution_errors) or bool(result is not None and result.errors)
        metrics.graphql_operations.labels(kind, operation, "error" if failed else "ok").inc()
        metrics.graphql_latency.labels(kind, operation).observe(elapsed())


def _schema(schema: object) -> GraphQLSchema | None:
    core = getattr(schema, "_schema", None)  # strawberry.Schema's graphql-core schema
    return core if isinstance(core, GraphQLSchema) else None


def label(document: DocumentNode | None, name: str | None, schema: GraphQLSchema | None) -> tuple[str, str]:
    """(operation type, root field label) of the operation that ran."""
    if document is None or schema is None:
        return "unknown", "invalid"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if name is None or (op.name is not None and op.name.value == name)]
    if not chosen or (name is None and len(operations) > 1):
        return "unknown", "invalid"
    operation = chosen[0]
    kind = operation.operation.value
    root = schema.get_root_type(operation.operation)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    fields = {field for field in _root_fields(operation.selection_set, fragments, depth=0) if field != "__typename"}
    if not fields:
        return kind, "__typename"
    if fields <= INTROSPECTION:
        return kind, "introspection"
    if len(fields) > 1:
        return kind, "multiple"
    (field,) = fields
    known = isinstance(root, GraphQLObjectType) and field in root.fields
    return kind, field if known else "other"


def _root_fields(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], depth: int
) -> Iterator[str]:
    if depth > 3:  # fragments nested deeper at the root are not worth a label of their own
        yield "other"
        return
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, depth + 1)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _root_fields(fragments[selection.name.value].selection_set, fragments, depth + 1)
