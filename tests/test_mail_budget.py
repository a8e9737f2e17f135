"""Mail budgets: at most MAILS_PER_ADDRESS mails per recipient address and purpose per
MAIL_WINDOW, however the requests arrive (in parallel, batched, from many addresses), so
the server cannot be aimed at someone's inbox; and counter keys that name no one in clear."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from app.models import OneTimeToken, Role, Status, User
from app.services.budgets import MAILS_PER_ADDRESS
from tests.conftest import CREATE_USER, Api, Outbox, codes, flush_redis_db, redis_up
from tests.test_signup import REGISTER

VERIFY_REQUEST = "mutation { users_me_email_verify_request }"
MAGIC_REQUEST = "mutation($email: String!) { auth_magic_link_request(email: $email) }"
INVITE = "mutation($email: String!) { users_invite(email: $email) }"
LOGIN = 'mutation { auth_login(email: "ana@example.com", password: "wrong password") { access_token } }'


def answers(results: list[dict]) -> Counter[str]:  # type: ignore[type-arg]
    return Counter(codes(r)[0] if r.get("errors") else "OK" for r in results)


def subjects(outbox: Outbox, address: str) -> Counter[str]:
    return Counter(str(m["Subject"]) for m in outbox.to(address))


async def test_verification_mails_to_one_address_are_limited(api: Api, outbox: Outbox) -> None:
    # An account made for someone else's address, then asked again and again to mail it.
    await api.signup("someone-else@example.org")
    token = (await api.login("someone-else@example.org"))["access_token"]
    batched = "mutation {" + " ".join(f"a{i}: users_me_email_verify_request" for i in range(30)) + " }"
    assert codes(await api.gql(batched, token=token)) == ["QUERY_TOO_COMPLEX"]
    results = await asyncio.gather(*(api.gql(VERIFY_REQUEST, token=token) for _ in range(10)))
    assert answers(results) == {"OK": MAILS_PER_ADDRESS, "REQUESTS_EXCEEDED": 10 - MAILS_PER_ADDRESS}
    refused = next(r for r in results if r.get("errors"))
    assert refused["errors"][0]["extensions"]["retry_after"] > 0
    assert subjects(outbox, "someone-else@example.org") == {"Verify your email address": MAILS_PER_ADDRESS}


async def test_reset_and_magic_link_mails_are_limited_silently(api: Api, outbox: Outbox) -> None:
    await api.signup("bob@example.com")
    rest = [api.http.post("/auth/password/request", json={"email": "bob@example.com"}) for _ in range(20)]
    magic = [api.gql(MAGIC_REQUEST, {"email": "bob@example.com"}) for _ in range(20)]
    responses = await asyncio.gather(*rest)
    results = await asyncio.gather(*magic)
    # The answers are what they always are: nothing tells a spent budget from a sent mail.
    assert {(r.status_code, r.content) for r in responses} == {(204, b"")}
    assert all(r == {"data": {"auth_magic_link_request": True}} for r in results)
    await api.services.mail_queue.drain()
    assert subjects(outbox, "bob@example.com") == {
        "Reset your password": MAILS_PER_ADDRESS,
        "Your sign-in link": MAILS_PER_ADDRESS,
    }
    # The links of dropped mails were discarded: only the mailed ones can be used.
    assert await OneTimeToken.all().count() == 2 * MAILS_PER_ADDRESS
    # Another address has a budget of its own.
    await api.signup("ana@example.com")
    assert await api.gql(MAGIC_REQUEST, {"email": "ana@example.com"}) == {"data": {"auth_magic_link_request": True}}
    assert subjects(outbox, "ana@example.com") == {"Your sign-in link": 1}


async def test_sign_up_mails_to_a_taken_address_are_limited_silently(api: Api, outbox: Outbox) -> None:
    await api.signup()
    results = [
        await api.gql(REGISTER, {"email": "ana@example.com", "password": "some other password"})
        for _ in range(MAILS_PER_ADDRESS + 3)
    ]
    assert all(r == {"data": {"users_register": True}} for r in results)
    assert subjects(outbox, "ana@example.com") == {"Sign-up attempt": MAILS_PER_ADDRESS}


async def test_a_sign_up_whose_mail_is_dropped_leaves_no_account(app_with, smtp_server) -> None:  # type: ignore[no-untyped-def]
    outbox: Outbox = smtp_server.handler
    outbox.clear()
    settings = {"EMAIL_VERIFICATION": True, "email_transport": "smtp", "smtp_port": smtp_server.port}
    async with app_with(smtp_host="127.0.0.1", **settings) as api:
        await api.signup()  # a verification mail to ana
        await User.filter(email="ana@example.com").delete()
        for _ in range(MAILS_PER_ADDRESS - 1):
            await api.signup()
            await User.filter(email="ana@example.com").delete()
        assert len(outbox.to("ana@example.com")) == MAILS_PER_ADDRESS
        # createUser says so (it tells a taken address anyway); users_register answers as
        # ever. Neither leaves an account behind that could never be verified.
        refused = await api.gql(CREATE_USER, {"email": "ana@example.com", "password": "correct horse battery"})
        assert codes(refused) == ["REQUESTS_EXCEEDED"]
        assert not await User.filter(email="ana@example.com").exists()
        result = await api.gql(REGISTER, {"email": "ana@example.com", "password": "correct horse battery"})
        assert result == {"data": {"users_register": True}}
        await api.services.mail_queue.drain()
        assert not await User.filter(email="ana@example.com").exists()
        assert len(outbox.to("ana@example.com")) == MAILS_PER_ADDRESS


async def test_invitations_are_one_per_request(api: Api) -> None:
    await api.signup("admin@example.com")
    await User.filter(email="admin@example.com").update(role=Role.admin)
    token = (await api.login("admin@example.com"))["access_token"]
    batched = 'mutation { a: users_invite(email: "x@example.com") b: users_invite(email: "y@example.com") }'
    assert codes(await api.gql(batched, token=token)) == ["QUERY_TOO_COMPLEX"]
    assert not await User.filter(status=Status.invited).exists()


# --- counter keys ---------------------------------------------------------------------------


async def _redis_keys(db: int) -> list[bytes]:
    """KEYS * in database `db` (conftest's redis_command reads one bulk string, not arrays)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", 6379)
    try:
        writer.write(b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n" % (len(str(db)), db))
        assert await reader.readline() == b"+OK\r\n"
        count = int((await reader.readline())[1:])
        keys = []
        for _ in range(count):
            length = int((await reader.readline())[1:])
            keys.append((await reader.readexactly(length + 2))[:-2])
        return keys
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_counter_keys_name_no_account_in_clear(app_with) -> None:  # type: ignore[no-untyped-def]
    await flush_redis_db(6)
    async with app_with(RATE_LIMITER_STORE="redis", RATE_LIMITER_REDIS="redis://127.0.0.1:6379/6") as api:
        await api.signup()
        user = await User.get(email="ana@example.com")
        token = (await api.login())["access_token"]  # a device cookie: nonce-keyed budgets too
        await api.gql(LOGIN)  # the sign-in budget, the device's
        api.http.cookies.clear()
        await api.gql(LOGIN)  # the sign-in budget, the shared one
        await api.gql('mutation { users_me_tfa_generate(password: "wrong password") { secret } }', token=token)
        await api.gql(MAGIC_REQUEST, {"email": "ana@example.com"})  # a mail budget
        phone = await api.gql('mutation { auth_phone_request(phone: "+14155552671") }')  # texted codes
        assert phone == {"data": {"auth_phone_request": True}}, phone
        await api.services.mail_queue.drain()
        keys = await _redis_keys(6)
        namespaces = {key.split(b"/")[1] for key in keys if key.count(b"/") >= 2}
        assert {b"login", b"user", b"mail", b"sms-number"} <= namespaces, keys
        for key in keys:
            text = key.decode().lower()
            assert "example.com" not in text and "ana" not in text and "4155552671" not in text, key
            assert str(user.id) not in text and user.id.hex not in text, key
            assert "device" not in text and "email:" not in text and "user:" not in text, key
