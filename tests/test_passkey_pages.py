"""The passkey pages: templates with the pages' strict policy (plus fetch to our own
/graphql), one script of our own, and a `redirect` that must be allow-listed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.conftest import Api
from tests.test_pages import ROOT

PUBLIC_URL = "http://localhost:8000"


def passkey_page_rules(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy, policy
    assert response.headers["cache-control"] == "no-store" and response.headers["x-frame-options"] == "DENY"
    html = response.text
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert [re.search(r"static/(\w+\.js)\?v=\w+", s).group(1) for s in scripts] == ["pages.js", "passkeys.js"]  # type: ignore[union-attr]
    assert not re.search(r"\son[a-z]+=", html) and "<style" not in html and "javascript:" not in html
    for field in re.findall(r'<input id="([^"]+)"', html):
        assert f'<label for="{field}">' in html, field


async def test_the_passkeys_page_points_its_script_at_our_graphql(app_with: Any) -> None:
    async with app_with(PUBLIC_URL=PUBLIC_URL) as api:
        page = await api.http.get("/auth/pages/passkeys")
        passkey_page_rules(page)
        assert 'data-graphql="../../graphql"' in page.text and 'data-login="passkey-login"' in page.text
        assert urljoin(str(page.url), "../../graphql").endswith("/graphql")
        served = await api.http.get(urljoin(str(page.url), "static/passkeys.js"))
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript")
        assert served.content == (ROOT / "app" / "static" / "passkeys.js").read_bytes()


async def test_the_sign_in_page_keeps_an_allowed_redirect(app_with: Any) -> None:
    async with app_with(PUBLIC_URL=PUBLIC_URL, MAGIC_LINK_URL_ALLOW_LIST="https://app.example.com/") as api:
        plain = await api.http.get("/auth/pages/passkey-login")
        passkey_page_rules(plain)
        assert 'data-redirect=""' in plain.text and 'autocomplete="username webauthn"' in plain.text
        own = await api.http.get("/auth/pages/passkey-login", params={"redirect": f"{PUBLIC_URL}/auth/pages/passkeys"})
        assert f'data-redirect="{PUBLIC_URL}/auth/pages/passkeys"' in own.text
        app = await api.http.get(
            "/auth/pages/passkey-login", params={"redirect": "https://app.example.com/home?x=1&y=2"}
        )
        passkey_page_rules(app)
        assert 'data-redirect="https://app.example.com/home?x=1&amp;y=2"' in app.text


async def test_the_sign_in_page_refuses_a_redirect_off_the_allow_list(app_with: Any) -> None:
    async with app_with(PUBLIC_URL=PUBLIC_URL) as api:
        for target in ("https://evil.test/", "javascript:alert(1)", 'http://localhost:8000/"><script>'):
            page = await api.http.get("/auth/pages/passkey-login", params={"redirect": target})
            assert page.status_code == 400
            assert "<code>INVALID_PAYLOAD</code>" in page.text and "<form" not in page.text
            assert "evil.test" not in page.text and "<script>" not in page.text


async def test_a_signed_out_visitor_gets_forbidden_from_the_list_the_page_asks_for(api: Api) -> None:
    # What passkeys.js reads to show "You are not signed in".
    result = await api.gql("{ users_me_passkeys { id } }")
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# The sign-in page's script under node, with the browser's parts stubbed: what it hands
# navigator.credentials.get() and what it posts back must be the WebAuthn values exactly.
_RUN_LOGIN = r"""
const [email, redirect] = JSON.parse(process.argv[1]);
const bytes = (...v) => new Uint8Array(v).buffer;
const sent = [];
let handler = null, seen = null, went = null;
const form = {
  dataset: { graphql: "../../graphql", redirect },
  elements: { email: { value: email } },
  hidden: false,
  querySelector: () => ({ disabled: false }),
  addEventListener: (kind, fn) => { handler = fn; },
};
const problem = { textContent: "", hidden: true };
const elements = { "passkey-login": form, problem, done: { hidden: true } };
globalThis.window = { location: { assign: (url) => { went = url; } }, PublicKeyCredential: function () {} };
globalThis.PublicKeyCredential = window.PublicKeyCredential;
globalThis.document = { getElementById: (id) => elements[id] || null };
Object.defineProperty(globalThis, "navigator", { value: { credentials: { get: async (options) => {
  seen = options.publicKey;
  return {
    id: "AQID", rawId: bytes(1, 2, 3), type: "public-key", authenticatorAttachment: "platform",
    getClientExtensionResults: () => ({}),
    response: { clientDataJSON: bytes(123, 125), authenticatorData: bytes(255, 254), signature: bytes(0),
                userHandle: bytes(9) },
  };
} } } });
globalThis.fetch = async (url, init) => {
  const body = JSON.parse(init.body);
  sent.push({ url, body, headers: init.headers, credentials: init.credentials });
  const data = body.query.includes("auth_passkey_login_options")
    ? { auth_passkey_login_options: {
        challenge: "_-8", rpId: "localhost", allowCredentials: [{ id: "AQID", type: "public-key" }] } }
    : { auth_passkey_login: { expires: "900000" } };
  return { json: async () => ({ data }) };
};
require("vm").runInThisContext(require("fs").readFileSync(process.argv[2], "utf8"));
(async () => {
  await handler({ preventDefault() {} });
  console.log(JSON.stringify({
    sent, went, problem: problem.textContent,
    challenge: Array.from(new Uint8Array(seen.challenge)),
    allowed: Array.from(new Uint8Array(seen.allowCredentials[0].id)),
  }));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_the_sign_in_script_converts_base64url_both_ways() -> None:
    node = shutil.which("node")
    assert node
    script = ROOT / "app" / "static" / "passkeys.js"
    result = subprocess.run(  # noqa: S603 - our own script, under node
        [node, "-e", _RUN_LOGIN, json.dumps(["", "http://localhost:8000/app"]), str(script)],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(result.stdout)
    assert out["problem"] == ""
    assert out["challenge"] == [255, 239] and out["allowed"] == [1, 2, 3]
    options, login = out["sent"]
    assert options["url"] == "../../graphql" and options["body"]["variables"] == {"email": None}
    assert options["headers"]["Content-Type"] == "application/json" and options["credentials"] == "same-origin"
    assert "mode: session" in login["body"]["query"]
    assert login["body"]["variables"]["credential"] == {
        "id": "AQID",
        "rawId": "AQID",
        "type": "public-key",
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
        "response": {"clientDataJSON": "e30", "authenticatorData": "__4", "signature": "AA", "userHandle": "CQ"},
    }
    assert out["went"] == "http://localhost:8000/app"
