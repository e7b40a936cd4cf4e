"""API rate limits per token and per account, counted in the cache (Redis in production).

Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (`THROTTLE_TOKEN`, `THROTTLE_ACCOUNT` in
the environment) and are read when each request is checked, not when this module is imported, so a
changed setting (tests) takes effect at once. Over the limit DRF answers 429 with `Retry-After`
and `{"detail": "Request was throttled. Expected available in N seconds."}`.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken


class _LiveRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # The stubs type the rates as numbers; DRF's are "N/period" strings (or None).
        rates: dict[str | None, str | None] = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]
        try:
            return rates[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(
                f"No throttle rate set for the {self.scope!r} scope."
            ) from exc


class TokenRateThrottle(_LiveRateThrottle):
    """Requests made with one API token (`THROTTLE_TOKEN`, e.g. "600/min")."""

    scope = "token"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class AccountRateThrottle(_LiveRateThrottle):
    """Requests of every token and browser session of one account together (`THROTTLE_ACCOUNT`);
    a user without an account (staff) is counted on their own."""

    scope = "account"

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if not user or not user.is_authenticated:
            return None
        ident = f"a{user.account_id}" if user.account_id else f"u{user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
