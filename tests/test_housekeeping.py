from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.models import Ceremony, OneTimeToken, PhoneCode, Purpose, Session, User, WebAuthnChallenge
from app.services.housekeeping import prune
from tests.conftest import Api


async def test_prune_removes_only_what_can_no_longer_be_used(api: Api) -> None:
    await api.signup()
    live = await api.login()
    await api.login()
    await api.login()
    user = await User.get(email="ana@example.com")
    long_ago = datetime.now(UTC) - timedelta(days=31)
    sessions = await Session.all().order_by("created_at")
    await Session.filter(id=sessions[1].id).update(revoked_at=long_ago)
    await Session.filter(id=sessions[2].id).update(expires_at=long_ago)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    await OneTimeToken.create(user=user, purpose=Purpose.password_reset, token_hash="a" * 64, expires_at=soon)
    await OneTimeToken.create(user=user, purpose=Purpose.password_reset, token_hash="b" * 64, expires_at=long_ago)
    await PhoneCode.create(phone="+14155552671", code_hash="c" * 64, expires_at=soon, used_at=datetime.now(UTC))
    await WebAuthnChallenge.create(challenge_hash="d" * 64, ceremony=Ceremony.login, expires_at=soon)
    await WebAuthnChallenge.create(challenge_hash="e" * 64, ceremony=Ceremony.login, expires_at=long_ago)
    await WebAuthnChallenge.create(
        challenge_hash="f" * 64, ceremony=Ceremony.register, user=user, expires_at=soon, used_at=soon
    )

    assert await prune() == {"sessions": 2, "one_time_tokens": 1, "phone_codes": 1, "webauthn_challenges": 2}
    assert await WebAuthnChallenge.filter(challenge_hash="d" * 64).exists()
    assert await Session.all().count() == 1
    assert (await api.gql("{ users_me { email } }", token=live["access_token"]))["data"]["users_me"]
    assert await OneTimeToken.filter(token_hash="a" * 64).exists()
