"""The provider registry: `email` (unless AUTH_DISABLE_DEFAULT), later `phone` and one
provider per name in AUTH_PROVIDERS."""

from __future__ import annotations

from app.auth.providers.base import Provider
from app.errors import InvalidProvider


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def register(self, provider: Provider) -> None:
        self._providers[provider.name] = provider

    def get(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            raise InvalidProvider() from None


__all__ = ["Provider", "ProviderRegistry"]
