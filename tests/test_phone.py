from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.errors import ServiceUnavailable
from app.models import PhoneCode, User
from app.sms import TwilioSms
from tests.conftest import Api, codes, flush_redis_db, make_settings, redis_up, running_app

PHONE = "+14155552671"
REQUEST = "mutation($phone: String!) { auth_phone_request(phone: $phone) }"
CREATE = """
mutation($phone: String!, $code: String!) {
  createUser(authProvider: {phone: {phone: $phone, code: $code}}, name: "Ana") { id phone name }
}"""
SIGNIN = """
mutation($phone: String!, $code: String!) {
  signinUser(phone: {phone: $phone, code: $code}) { token refreshToken user { phone } }
}"""


async def _code(api: Api, phone: str = PHONE) -> str:
    assert (await api.gql(REQUEST, {"phone": phone})) == {"data": {"auth_phone_request": True}}
    return api.last_code(PHONE)


async def test_sign_up_and_sign_in_by_phone(api: Api) -> None:
    code = await _code(api, "+1 (415) 555-2671")
    [text] = api.texts()
    assert text["to"] == PHONE and code in text["body"] and text["sent_at"]
    created = await api.gql(CREATE, {"phone": PHONE, "code": code})
    assert created["data"]["createUser"]["phone"] == PHONE
    assert codes(await api.gql(SIGNIN, {"phone": PHONE, "code": code})) == ["INVALID_CREDENTIALS"]  # spent
    code = await _code(api)
    signed = (await api.gql(SIGNIN, {"phone": PHONE, "code": code}))["data"]["signinUser"]
    assert signed["token"] and signed["user"]["phone"] == PHONE


async def test_codes_are_stored_keyed_hashed(api: Api) -> None:
    code = await _code(api)
    stored = await PhoneCode.get()
    assert code not in stored.code_hash and len(stored.code_hash) == 64


async def test_five_wrong_tries_void_the_code(api: Api) -> None:
    await User.create(phone=PHONE)
    code = await _code(api)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert codes(await api.gql(SIGNIN, {"phone": PHONE, "code": wrong})) == ["INVALID_CREDENTIALS"]
    assert codes(await api.gql(SIGNIN, {"phone": PHONE, "code": code})) == ["INVALID_CREDENTIALS"]


async def test_guesses_sent_at_once_are_counted_before_they_are_compared(api: Api) -> None:
    # createUser(phone) has no other limit than the code's own five tries.
    code = await _code(api)
    wrong = "000000" if code != "000000" else "111111"
    results = await asyncio.gather(*(api.gql(CREATE, {"phone": PHONE, "code": wrong}) for _ in range(30)))
    assert all(codes(r) == ["INVALID_CREDENTIALS"] for r in results)
    # At most five tries were compared, however many arrived together; the code is void.
    assert (await PhoneCode.get()).attempts == 5
    assert codes(await api.gql(CREATE, {"phone": PHONE, "code": code})) == ["INVALID_CREDENTIALS"]


async def test_expired_codes_fail(api: Api) -> None:
    await User.create(phone=PHONE)
    code = await _code(api)
    await PhoneCode.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert codes(await api.gql(SIGNIN, {"phone": PHONE, "code": code})) == ["INVALID_CREDENTIALS"]


async def test_a_new_code_voids_the_previous_one(api: Api) -> None:
    await User.create(phone=PHONE)
    first = await _code(api)
    second = await _code(api)
    if first != second:
        assert codes(await api.gql(SIGNIN, {"phone": PHONE, "code": first})) == ["INVALID_CREDENTIALS"]
    assert (await api.gql(SIGNIN, {"phone": PHONE, "code": second}))["data"]["signinUser"]["token"]


async def test_racing_sign_ins_with_one_code_succeed_once(api: Api) -> None:
    await User.create(phone=PHONE)
    code = await _code(api)
    results = await asyncio.gather(*(api.gql(SIGNIN, {"phone": PHONE, "code": code}) for _ in range(4)))
    assert sum(1 for r in results if not r.get("errors")) == 1


async def test_requests_per_number_are_limited(api: Api) -> None:
    for _ in range(5):
        assert (await api.gql(REQUEST, {"phone": PHONE}))["data"]["auth_phone_request"] is True
    limited = await api.gql(REQUEST, {"phone": PHONE})
    assert codes(limited) == ["REQUESTS_EXCEEDED"]
    assert limited["errors"][0]["extensions"]["retry_after"] > 3000
    assert len(api.texts()) == 5


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_requests_sent_at_once_cannot_outrun_the_limit(app_with, tmp_path, store: str) -> None:  # type: ignore[no-untyped-def]
    environ = {"SMS_CODE_REQUESTS_PER_HOUR": "5"}
    if store == "redis":
        if not redis_up():
            pytest.skip("needs Redis on 127.0.0.1:6379")
        await flush_redis_db(11)
        environ |= {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": "redis://127.0.0.1:6379/11"}
    async with app_with(sms_log_file=str(tmp_path / "sms.jsonl"), **environ) as api:
        results = await asyncio.gather(*(api.gql(REQUEST, {"phone": PHONE}) for _ in range(10)))
        outcomes = [codes(r) for r in results]
        assert outcomes.count([]) == 5 and outcomes.count(["REQUESTS_EXCEEDED"]) == 5, outcomes
        assert len(api.texts()) == 5


async def test_requests_per_client_are_limited(app_with) -> None:  # type: ignore[no-untyped-def]
    async with app_with(SMS_CODE_REQUESTS_PER_HOUR=1) as api:
        numbers = ["+14155552671", "+14155552672", "+14155552673", "+14155552674", "+14155552675"]
        results = [await api.gql(REQUEST, {"phone": n}) for n in numbers]
        assert [codes(r) for r in results] == [[], [], [], [], ["REQUESTS_EXCEEDED"]]


async def test_bad_numbers_are_invalid_payload(api: Api) -> None:
    for phone in ("", "12345", "+999", "+1 415 555 2671 ext 9" * 3, "not a number"):
        assert codes(await api.gql(REQUEST, {"phone": phone})) == ["INVALID_PAYLOAD"], phone
    assert codes(await api.gql(SIGNIN, {"phone": "nope", "code": "123456"})) == ["INVALID_PAYLOAD"]


async def test_a_taken_phone_is_record_not_unique(api: Api) -> None:
    await User.create(phone=PHONE)
    code = await _code(api)
    assert codes(await api.gql(CREATE, {"phone": PHONE, "code": code})) == ["RECORD_NOT_UNIQUE"]


async def test_unknown_phone_cannot_sign_in(api: Api) -> None:
    code = await _code(api)
    assert codes(await api.gql(SIGNIN, {"phone": PHONE, "code": code})) == ["INVALID_CREDENTIALS"]


# --- the Twilio transport, checked against Twilio's documented Messages API ---------------


async def test_twilio_request_format() -> None:
    seen: list[httpx.Request] = []

    def twilio(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"sid": "SM123", "status": "queued"})

    sender = TwilioSms("AC123", "secret-token", "+15005550006", transport=httpx.MockTransport(twilio))
    await sender.send(PHONE, "Your verification code is 123456.")
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == httpx.BasicAuth("AC123", "secret-token")._auth_header
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form == {"To": PHONE, "From": "+15005550006", "Body": "Your verification code is 123456."}


async def test_twilio_errors_are_service_unavailable() -> None:
    sender = TwilioSms(
        "AC123", "t", "+15005550006", transport=httpx.MockTransport(lambda r: httpx.Response(400, json={"code": 21211}))
    )
    with pytest.raises(ServiceUnavailable):
        await sender.send(PHONE, "x")


async def test_a_text_that_could_not_be_sent_does_not_count() -> None:
    answers = iter([httpx.Response(503), httpx.Response(201, json={"sid": "SM1"})])
    twilio = TwilioSms("AC123", "t", "+15005550006", transport=httpx.MockTransport(lambda r: next(answers)))
    async with running_app(make_settings(SMS_CODE_REQUESTS_PER_HOUR=1), sms=twilio) as api:
        assert codes(await api.gql(REQUEST, {"phone": PHONE})) == ["SERVICE_UNAVAILABLE"]
        assert await PhoneCode.all().count() == 0
        assert (await api.gql(REQUEST, {"phone": PHONE}))["data"]["auth_phone_request"] is True
        assert codes(await api.gql(REQUEST, {"phone": PHONE})) == ["REQUESTS_EXCEEDED"]
