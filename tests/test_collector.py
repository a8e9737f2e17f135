"""The app keeps what start-up built out of the cyclic garbage collector's walks while it
serves (app/main.py): under refresh load, full collections had walked every schema, model
and module object, about 100 ms each, several times a second. When the app stops, the
objects are handed back, so apps started one after another in a process do not pile up."""

from __future__ import annotations

import gc
from typing import Any

ME = "{ users_me { id email } }"


async def test_start_up_objects_are_frozen_while_serving_and_released_after(app_with: Any) -> None:
    gc.unfreeze()
    async with app_with() as api:
        frozen = gc.get_freeze_count()
        # Strawberry's schema, Tortoise's models, every imported module: tens of thousands.
        assert frozen > 10_000
        await api.signup()
        tokens = await api.login()
        assert (await api.gql(ME, token=tokens["access_token"]))["data"]["users_me"]["email"] == "ana@example.com"
        gc.collect()
        assert gc.get_freeze_count() <= frozen  # only start-up is frozen, not what serving makes
    assert gc.get_freeze_count() == 0
