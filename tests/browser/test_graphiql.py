"""GraphiQL in a real browser with the network cut off: it loads, signs in, carries the
token into the headers, runs as that user and documents the schema."""

from __future__ import annotations

import json
from typing import Any

from tests.browser.conftest import LiveServer

EMAIL = "ana@example.com"
PASSWORD = "correct horse battery"

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
TOOL_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"  # variables or headers
RESULT = ".result-window .CodeMirror"


async def editor_text(page: Any, selector: str) -> str:
    """The whole text of a CodeMirror editor (what is drawn is only the visible lines)."""
    return str(await page.locator(selector).evaluate("element => element.CodeMirror.getValue()"))


async def result_json(page: Any, contains: str) -> dict[str, Any]:
    await page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).CodeMirror.getValue().includes(text)",
        arg=[RESULT, contains],
    )
    return json.loads(await editor_text(page, RESULT))  # type: ignore[no-any-return]


async def test_graphiql_signs_in_offline_and_documents_the_schema(
    live_server: LiveServer, page: Any, screenshot: Any
) -> None:
    await live_server.api.signup(EMAIL, PASSWORD)

    await page.goto(f"{live_server.url}/graphql")
    await page.locator(QUERY_EDITOR).wait_for()
    assert "mutation SignIn" in await editor_text(page, QUERY_EDITOR)
    assert json.loads(await editor_text(page, TOOL_EDITOR)) == {"email": "", "password": ""}

    # The sign-in tab: credentials in Variables (pasted, as a person would), run SignIn.
    await page.locator(TOOL_EDITOR).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(json.dumps({"email": EMAIL, "password": PASSWORD}))
    await page.locator(".graphiql-execute-button").click()
    await page.get_by_role("menuitem", name="SignIn").click()
    signed_in = await result_json(page, "access_token")
    assert "errors" not in signed_in, signed_in
    token = signed_in["data"]["auth_login"]["access_token"]
    assert token.count(".") == 2  # a JWT

    # The Headers tab now holds the bearer.
    await page.locator(".graphiql-editor-tools button", has_text="Headers").click()
    await page.locator(TOOL_EDITOR).get_by_text("Bearer").wait_for()
    assert json.loads(await editor_text(page, TOOL_EDITOR)) == {"Authorization": f"Bearer {token}"}
    await screenshot(page, "graphiql-signed-in")
    # Neither the password nor the token outlives the browser tab.
    kept = await page.evaluate("JSON.stringify(localStorage)")
    assert PASSWORD not in kept and token not in kept
    assert token not in await page.evaluate("JSON.stringify(sessionStorage)")

    # Me, with the cursor in it: runs as Ana.
    await page.locator(QUERY_EDITOR).locator(".CodeMirror-line", has_text="users_me").click()
    await page.keyboard.press("Control+Enter")
    me = await result_json(page, EMAIL)
    assert me["data"]["users_me"]["email"] == EMAIL, me

    # The documentation explorer, from introspection: the Query type's fields.
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    explorer = page.locator(".graphiql-doc-explorer")
    await explorer.get_by_role("link", name="Query", exact=True).click()
    await explorer.locator(".graphiql-doc-explorer-title", has_text="Query").wait_for()
    await explorer.get_by_role("link", name="users_me", exact=True).wait_for()
    await screenshot(page, "graphiql-docs")

    assert page.offline.refused == [], "GraphiQL reached for the network"
    assert page.offline.console_errors == []


async def test_graphiql_keeps_other_headers_and_gives_new_tabs_the_token(
    live_server: LiveServer, page: Any, screenshot: Any
) -> None:
    await live_server.api.signup(EMAIL, PASSWORD)
    await page.goto(f"{live_server.url}/graphql")
    await page.locator(QUERY_EDITOR).wait_for()

    # A header of the user's own, and an old token under another spelling.
    await page.locator(".graphiql-editor-tools button", has_text="Headers").click()
    await page.locator(TOOL_EDITOR).click()
    await page.keyboard.insert_text(json.dumps({"X-Trace": "1", "authorization": "Bearer old"}))
    await page.locator(".graphiql-editor-tools button", has_text="Variables").click()
    await page.locator(TOOL_EDITOR).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(json.dumps({"email": EMAIL, "password": PASSWORD}))
    await page.locator(QUERY_EDITOR).locator(".CodeMirror-line", has_text="auth_login").click()
    await page.keyboard.press("Control+Enter")
    token = (await result_json(page, "access_token"))["data"]["auth_login"]["access_token"]

    await page.locator(".graphiql-editor-tools button", has_text="Headers").click()
    await page.locator(TOOL_EDITOR).get_by_text("Bearer").wait_for()
    assert json.loads(await editor_text(page, TOOL_EDITOR)) == {"X-Trace": "1", "Authorization": f"Bearer {token}"}

    await page.get_by_role("button", name="Add tab").click()
    await page.locator(".graphiql-tab").nth(1).wait_for()
    await page.locator(".graphiql-editor-tools button", has_text="Headers").click()
    assert json.loads(await editor_text(page, TOOL_EDITOR)) == {"Authorization": f"Bearer {token}"}

    # The explorer plugin builds operations from the schema.
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    await page.locator(".graphiql-plugin").get_by_text("users_me", exact=True).first.wait_for()
    await screenshot(page, "graphiql-explorer")
    assert page.offline.refused == [] and page.offline.console_errors == []
