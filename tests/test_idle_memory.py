"""An idle server keeps out of memory what it has no use for (bench: "RSS idle", at most
90 MB after one sign-in): the packages below are imported by the feature that needs them,
when it first runs, not at start-up. The features' own tests (passwords, passkeys, social
sign-in, pages, mail, Redis counters) show that they still load them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DATABASE_URL, ON_POSTGRES, Api
from tests.served import ROOT, environment

# What loads each one, and about what it would add to an idle server (python -m bench.imports).
DEFERRED = {
    "zxcvbn": "a password being chosen (12 MB)",
    "coredis": "RATE_LIMITER_STORE=redis (11 MB, with beartype and pympler)",
    "beartype": "RATE_LIMITER_STORE=redis",
    "webauthn": "a passkey (5 MB, with pyasn1, cbor2 and pyOpenSSL)",
    "cbor2": "a passkey",
    "httpx": "an outbound call: social sign-in, the breach check, Twilio (2 MB)",
    "authlib": "social sign-in",
    "jinja2": "a page or a mail (1.5 MB)",
    # Each database driver on its own database only (asyncpg: 3.5 MB).
    "aiosqlite" if ON_POSTGRES else "asyncpg": "the other database",
}


async def test_a_server_after_one_sign_in_has_not_loaded_what_it_did_not_use(api: Api, tmp_path: Path) -> None:
    await api.signup("idle@example.com", "correct horse battery")
    out = tmp_path / "idle.json"
    env = environment(tmp_path, DATABASE_URL=DATABASE_URL)
    command = [sys.executable, "-m", "tests.idle_server", "idle@example.com", "correct horse battery", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    served = json.loads(out.read_text())
    assert served["answer"]["data"]["auth_login"]["access_token"], served["answer"]
    loaded = [f"{name}, needed only by {why}" for name, why in DEFERRED.items() if name in served["modules"]]
    assert loaded == [], "imported by start-up or a sign-in: " + "; ".join(loaded)
