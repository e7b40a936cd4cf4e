"""Send rates: global, per account and per destination provider, shared by every worker.

Each limit is messages per second, counted in one-second windows in the shared cache (Redis in
production: CACHE_URL), so any number of workers on any number of hosts share it. A worker takes
its allowance in small chunks, not one cache round trip a message. A provider that defers
(SMTP 4xx) is slowed down: its limit is halved, for a while, each time, and recovers step by step
while it accepts mail again.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

# A provider's limit never falls below this share of its setting.
MIN_FACTOR = 0.05
FACTOR_TTL = 900  # seconds a slow-down is remembered
RECOVERY = 1.25  # the factor's growth per accepted chunk of mail


def provider_limit(provider: str) -> int:
    return int(settings.SEND_RATE_PER_PROVIDER.get(provider, settings.SEND_RATE_PROVIDER_DEFAULT))


def _factor_key(provider: str) -> str:
    return f"send-rate:factor:{provider}"


def provider_factor(provider: str) -> float:
    """The share of its configured rate a provider gets now (1.0 unless it deferred lately)."""
    return float(cache.get(_factor_key(provider), 1.0))


def provider_slow_down(provider: str) -> float:
    """A provider deferred a message: halve its rate (down to MIN_FACTOR) for FACTOR_TTL."""
    factor = max(MIN_FACTOR, provider_factor(provider) / 2)
    cache.set(_factor_key(provider), factor, timeout=FACTOR_TTL)
    return factor


def _count_accepted(provider: str) -> int:
    """Messages accepted by a slowed `provider` so far, by every worker (kept as long as a
    slow-down is)."""
    return _add(f"send-rate:accepted:{provider}", 1, timeout=FACTOR_TTL)


def _add(key: str, amount: int, *, timeout: int) -> int:
    """Add `amount` to the shared counter `key` (created at 0, kept `timeout` seconds); the
    new total."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key, amount)
    except ValueError:  # the key expired between add and incr
        cache.set(key, amount, timeout=timeout)
        return amount


def provider_recover(provider: str) -> None:
    factor = provider_factor(provider)
    if factor < 1.0:
        cache.set(_factor_key(provider), min(1.0, factor * RECOVERY), timeout=FACTOR_TTL)


class SendThrottle:
    """One worker's view of the shared limits. `take_global()` blocks until the global and the
    account's windows have room; `take_provider(p)` answers at once whether provider p does, so
    a worker sets that message aside instead of stalling the others."""

    CHUNK = 20

    def __init__(self, *, account_id: int, clock=time.time, sleep=time.sleep):
        self.account_id = account_id
        self._clock = clock
        self._sleep = sleep
        self._grants: dict[str, tuple[int, int]] = {}
        self._factors: dict[str, tuple[int, float]] = {}

    def _take(self, key: str, limit: int) -> bool:
        if limit <= 0:
            return True  # unlimited
        window = int(self._clock())
        granted_window, left = self._grants.get(key, (0, 0))
        if granted_window == window and left > 0:
            self._grants[key] = (window, left - 1)
            return True
        chunk = max(1, min(self.CHUNK, limit // 10))
        total = _add(f"send-rate:{key}:{window}", chunk, timeout=10)
        granted = min(chunk, limit - (total - chunk))
        if granted <= 0:
            return False
        self._grants[key] = (window, granted - 1)
        return True

    def take_global(self) -> None:
        while not (
            self._take("global", settings.SEND_RATE_GLOBAL)
            and self._take(f"account:{self.account_id}", settings.SEND_RATE_PER_ACCOUNT)
        ):
            self._sleep(max(0.01, 1 - (self._clock() % 1)))

    def take_provider(self, provider: str) -> bool:
        window = int(self._clock())
        seen_window, factor = self._factors.get(provider, (-1, 1.0))
        if seen_window != window:
            factor = provider_factor(provider)
            self._factors[provider] = (window, factor)
        limit = provider_limit(provider)
        if limit > 0:
            limit = max(1, int(limit * factor))
        return self._take(f"provider:{provider}", limit)

    def accepted(self, provider: str) -> None:
        """A message went through: every CHUNK of them, counted by all workers and batches
        together, a slowed provider recovers a step."""
        # The factor take_provider read for this second (no round trip for a provider at full
        # rate, as nearly all are).
        if self._factors.get(provider, (-1, 1.0))[1] >= 1.0:
            return
        # Counted in the shared cache, not in this throttle: one lives for one batch, and a
        # provider with fewer than CHUNK messages in each batch (a few of a batch of 100 or 500
        # spread over every provider) never recovered, but stayed at its floor for FACTOR_TTL.
        if _count_accepted(provider) % self.CHUNK == 0:
            provider_recover(provider)

    def deferred(self, provider: str) -> None:
        provider_slow_down(provider)
        self._factors.pop(provider, None)
