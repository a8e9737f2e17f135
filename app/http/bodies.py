"""The one JSON parser for request bodies (REST twins, /graphql, /graphql/relay, GET variables).

Python's `json.loads` has no limits of its own: about a thousand nested arrays raise
`RecursionError`, a number of more than 4,300 digits raises `ValueError`, bytes that are not
UTF-8 raise `UnicodeDecodeError`, and `\\ud800` or `\\u0000` give strings that PostgreSQL
refuses. Each of those became a 500 (or a 503 from the database). Here every malformed or
unreasonable body is `InvalidPayload` (400), decided once, at the edge, before any handler
sees the value.
"""

from __future__ import annotations

import json
import re

from app.errors import InvalidPayload

# Real requests nest a few levels (passkey credentials are the deepest, about five).
MAX_DEPTH = 32
# Characters in one number literal; a 64-bit integer has 20, a double's exponent form ~25.
MAX_NUMBER_LENGTH = 100

# An escaped UTF-16 surrogate (paired ones become one character, lone ones stay surrogates),
# or an escaped NUL, which no PostgreSQL text column can hold.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
# The same NUL inside a GraphQL document's string literal (`\u0000`, or `\u{0}` since the
# October 2021 spec), or raw.
_GRAPHQL_NUL = re.compile(r"\\u(?:0000|\{0+\})|\x00")


def _number(convert: type[int] | type[float]) -> object:
    def parse(text: str) -> int | float:
        if len(text) > MAX_NUMBER_LENGTH:
            raise InvalidPayload(f"Numbers are limited to {MAX_NUMBER_LENGTH} characters.")
        return convert(text)

    return parse


def _constant(name: str) -> object:
    # NaN and Infinity are Python's extensions, not JSON.
    raise InvalidPayload(f"{name} is not JSON.")


_DECODER = json.JSONDecoder(parse_int=_number(int), parse_float=_number(float), parse_constant=_constant)  # type: ignore[arg-type]


def parse_json(raw: bytes | str) -> object:
    """The JSON value of a request body, or InvalidPayload."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidPayload("Request body is not UTF-8.") from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise InvalidPayload(f"JSON is nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError:  # JSONDecodeError is one
        raise InvalidPayload("Request body is not valid JSON.") from None
    # Cheap tests first: counting brackets and searching for an escape run in C, so the
    # walk below only happens for bodies that could fail it.
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    if deep or _SUSPECT_ESCAPE.search(text):
        _check(value)
    return value


def _check(value: object) -> None:
    """Depth, lone surrogates and NULs, iteratively (no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise InvalidPayload(f"JSON is nested more than {MAX_DEPTH} levels deep.")
            if isinstance(item, dict):
                for key, member in item.items():
                    _text(key)
                    stack.append((member, depth + 1))
            else:
                stack.extend((member, depth + 1) for member in item)


def _text(text: str) -> None:
    if "\x00" in text:
        raise InvalidPayload("Text may not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPayload("Text holds an unpaired UTF-16 surrogate.") from None


def check_document(query: str) -> None:
    """String literals of a GraphQL document are held to the same rule as JSON strings."""
    if _GRAPHQL_NUL.search(query):
        raise InvalidPayload("Text may not contain NUL characters.")
