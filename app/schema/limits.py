"""Request limits (section 7), checked in one linear pass before graphql-core validates.

A document is summarised bottom-up, each selection set and each fragment once, so a
fragment spread a million times costs one dictionary lookup per spread rather than a
walk of the fragment: a few kilobytes of nested spreads cannot stall the server.
graphql-core's own rules (OverlappingFieldsCanBeMerged above all) grow faster than the
document, so they only see documents that passed these caps.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

from app.errors import QueryTooComplex

# Fixed caps, for every document, introspection included. Our own operations are a few
# dozen tokens and selections; the standard introspection query (every graphql-core
# option on) is 183 tokens, 487 selections as counted below and 8 spreads. The caps
# leave that room several times over and stop there: beyond them a document buys
# nothing but validation work (graphql-core compares same-named fields pairwise; two
# thousand of them take it about 0.15 s, and its own budget then gives up).
#
# Tokens are counted by the parser, which stops reading at the cap, so a huge document
# costs no more than a small one to refuse.
MAX_TOKENS = 2_000
# Selections (fields, inline fragments, spreads) counted again at every spread of their
# fragment, plus each fragment once on its own: roughly what execution and the
# overlapping-fields rule would walk.
MAX_SELECTIONS = 2_000
# Fragment spreads written in the document.
MAX_FRAGMENT_SPREADS = 100

# Introspection is exempt from GRAPHQL_MAX_DEPTH (the standard query is 15 levels deep)
# and bounded instead as graphql-js's MaxIntrospectionDepthRule does: these list fields
# fan out over the whole schema, so at most two of them may nest...
INTROSPECTION_LIST_FIELDS = frozenset({"fields", "interfaces", "possibleTypes", "inputFields"})
MAX_INTROSPECTION_LISTS = 2
# ...and `ofType` chains no deeper than the standard query's (graphql-core's and
# graphql-js's both nest nine by default; none of our types wraps that deep).
MAX_OF_TYPE_CHAIN = 9
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})

# Counts saturate here: a doubling fragment chain would otherwise grow numbers with
# hundreds of digits before the comparison with a cap.
_SATURATED = 1 << 40


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_auth_operations: int
    # Mutations that check a credential or hash a password.
    credential_fields: frozenset[str]
    # When introspection is on, `__schema` / `__type` count as one level of depth.
    introspection: bool


@dataclass(frozen=True, slots=True)
class Summary:
    """What one selection set adds up to, its fragments expanded."""

    selections: int = 0
    aliases: int = 0
    depth: int = 0
    # Root fields that check a credential (meaningful at an operation's top level).
    credentials: int = 0
    # The most introspection list fields on one path, and the longest run of nested
    # `ofType` fields: anywhere below, and starting at this selection set's top.
    lists: int = 0
    of_type: int = 0
    of_type_top: int = 0
    # An introspection field below breaks the introspection bounds.
    introspection_too_deep: bool = False


EMPTY = Summary()


class _Summaries:
    """Summaries of every selection set of a document, each computed once."""

    def __init__(self, document: DocumentNode, limits: Limits) -> None:
        self.limits = limits
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.done: dict[int, Summary] = {}
        self.spreads = 0

    def of(self, selection_set: SelectionSetNode) -> Summary:
        # Depth first without recursion (nesting through fragments is bounded only by
        # the token cap). A spread back into a fragment still being summarised is a
        # cycle, which NoFragmentCyclesRule reports; here it counts as empty.
        pending = {id(selection_set)}
        stack: list[tuple[SelectionSetNode, bool]] = [(selection_set, False)]
        while stack:
            node, children_done = stack.pop()
            if id(node) in self.done:
                continue
            if children_done:
                self.done[id(node)] = self._combine(node)
                pending.discard(id(node))
                continue
            pending.add(id(node))
            stack.append((node, True))
            for child in self._children(node):
                if id(child) not in self.done and id(child) not in pending:
                    stack.append((child, False))
        return self.done[id(selection_set)]

    def _children(self, selection_set: SelectionSetNode) -> list[SelectionSetNode]:
        children = []
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:  # unknown fragments: KnownFragmentNamesRule
                    children.append(fragment.selection_set)
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                children.append(selection.selection_set)
        return children

    def _summary(self, selection_set: SelectionSetNode | None) -> Summary:
        return EMPTY if selection_set is None else self.done.get(id(selection_set), EMPTY)

    def _combine(self, selection_set: SelectionSetNode) -> Summary:
        limits = self.limits
        selections = aliases = depth = credentials = lists = of_type = of_type_top = 0
        too_deep = False
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                child = self._summary(selection.selection_set)
                name = selection.name.value
                aliases += (selection.alias is not None) + child.aliases
                credentials += name in limits.credential_fields
                if name in INTROSPECTION_ROOTS:
                    too_deep = too_deep or child.lists > MAX_INTROSPECTION_LISTS or child.of_type > MAX_OF_TYPE_CHAIN
                    depth = max(depth, 1 if limits.introspection else 1 + child.depth)
                else:
                    depth = max(depth, 1 + child.depth)
                lists = max(lists, (name in INTROSPECTION_LIST_FIELDS) + child.lists)
                if name == "ofType":
                    of_type_top = max(of_type_top, 1 + child.of_type_top)
                of_type = max(of_type, of_type_top, child.of_type)
            else:
                # Inline fragments and spreads add no level of their own.
                if isinstance(selection, FragmentSpreadNode):
                    self.spreads += 1
                    fragment = self.fragments.get(selection.name.value)
                    child = self._summary(fragment.selection_set if fragment else None)
                else:
                    assert isinstance(selection, InlineFragmentNode)  # noqa: S101 - the third kind
                    child = self._summary(selection.selection_set)
                aliases += child.aliases
                credentials += child.credentials
                depth = max(depth, child.depth)
                lists = max(lists, child.lists)
                of_type_top = max(of_type_top, child.of_type_top)
                of_type = max(of_type, child.of_type)
            selections += 1 + child.selections
            too_deep = too_deep or child.introspection_too_deep
        return Summary(
            selections=min(selections, _SATURATED),
            aliases=min(aliases, _SATURATED),
            depth=depth,
            credentials=min(credentials, _SATURATED),
            lists=lists,
            of_type=of_type,
            of_type_top=of_type_top,
            introspection_too_deep=too_deep,
        )


def check(document: DocumentNode, limits: Limits) -> tuple[list[GraphQLError], int]:
    """QUERY_TOO_COMPLEX errors for the document (none when it is within every limit),
    and its selection count. Linear in the document's size."""
    summaries = _Summaries(document, limits)
    definitions = [d for d in document.definitions if isinstance(d, ExecutableDefinitionNode)]
    errors: list[GraphQLError] = []

    def too_complex(message: str, nodes: Collection[ExecutableDefinitionNode]) -> None:
        errors.append(GraphQLError(message, list(nodes), extensions={"code": QueryTooComplex.code}))

    total = 0
    for definition in definitions:
        summary = summaries.of(definition.selection_set)
        total = min(total + summary.selections, _SATURATED)
        if summary.introspection_too_deep:
            too_complex("Introspection nests deeper than the standard introspection query.", [definition])
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if summary.depth > limits.max_depth:
            too_complex(f"Query depth {summary.depth} exceeds the limit of {limits.max_depth}.", [definition])
        if summary.aliases > limits.max_aliases:
            too_complex(f"{summary.aliases} aliases exceed the limit of {limits.max_aliases}.", [definition])
        if definition.operation == OperationType.MUTATION and summary.credentials > limits.max_auth_operations:
            too_complex(
                f"At most {limits.max_auth_operations} sign-in or credential operation(s) per request.", [definition]
            )
    if summaries.spreads > MAX_FRAGMENT_SPREADS:
        too_complex(f"{summaries.spreads} fragment spreads exceed the limit of {MAX_FRAGMENT_SPREADS}.", [])
    if total > MAX_SELECTIONS:
        too_complex(f"{total} selections (fragments counted at each spread) exceed the limit of {MAX_SELECTIONS}.", [])
    return errors, total
