"""Password guessing: the hooks django-axes calls (settings.AXES_*), and the check the API's token
exchange makes before it tries a password.

A lock is per (e-mail address, client address): after AXES_FAILURE_LIMIT wrong passwords that
pair is refused, even with the right password, until AXES_COOLOFF_TIME has passed since its last
failure. A client address is also locked as a whole, for every e-mail address, once
AXES_IP_FAILURE_LIMIT wrong passwords for any addresses came from it within AXES_COOLOFF_TIME
(password spraying: one guess for each of many addresses). The browser gets a page saying so,
the API its usual JSON error, both with status 429.

The client address is config.http.client_ip's (AXES_CLIENT_IP_CALLABLE): the trusted proxies'
hop, never what the client wrote into X-Forwarded-For.
"""

from __future__ import annotations

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_MESSAGE = (
    "Too many failed log-ins for this address from your network. "
    "Try again in {minutes} minutes, or reset your password."
)
CLIENT_LOCKED_MESSAGE = (
    "Too many failed log-ins from your network. "
    "Try again in {minutes} minutes, or reset your password."
)


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler (AXES_HANDLER) with a second limit per client address.

    The per-(address, client) rows axes keeps are also summed per client: AXES_IP_FAILURE_LIMIT
    failures within the cool-off lock the client out of every address. A successful login
    clears only its own (address, client) rows (AXES_RESET_ON_SUCCESS), so logging in to
    one's own account between rounds of guesses does not clear the client's count."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """The failures axes compares with AXES_FAILURE_LIMIT: the (address, client) count,
        raised to that limit when the client as a whole is over its own."""
        failures = super().get_failures(request, credentials)
        if client_failures(request) >= _client_limit() > 0:
            return max(failures, get_failure_limit(request, credentials))
        return failures


def _client_limit() -> int:
    return int(getattr(settings, "AXES_IP_FAILURE_LIMIT", 0) or 0)


def client_failures(request: HttpRequest) -> int:
    """Failed logins from this request's client address, for any e-mail address, whose last
    failure is within the cool-off; reads, records nothing."""
    ip_address = getattr(request, "axes_ip_address", None)
    if not ip_address:
        return 0
    attempts = AccessAttempt.objects.filter(
        ip_address=ip_address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def client_locked(request: HttpRequest) -> bool:
    """True when this client address is over AXES_IP_FAILURE_LIMIT (whatever the address)."""
    return _client_limit() > 0 and client_failures(request) >= _client_limit()


def attempted_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The address a login attempt was for, as the lock counts it: trimmed and lower-cased,
    because logins match addresses case-insensitively (accounts.models.UserManager)."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        data = getattr(request, "data", None) or request.POST
        value = data.get("username") or data.get("email")
    return value.strip().lower() if isinstance(value, str) else None


def cooloff_seconds() -> int:
    """How long a lock lasts after the last failed attempt."""
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def locked_message(*, client_wide: bool = False) -> str:
    message = CLIENT_LOCKED_MESSAGE if client_wide else LOCKED_MESSAGE
    return message.format(minutes=math.ceil(cooloff_seconds() / 60))


def login_refused(request: HttpRequest, *, username: str) -> bool:
    """True when this client is locked out of `username` now; reads, records nothing."""
    if not settings.AXES_ENABLED:
        return False
    return not AxesProxyHandler.is_allowed(request, credentials={"username": username})


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """What a locked-out client gets instead of the login page (AXES_LOCKOUT_CALLABLE): a page
    that says why and what to do, or under /api/ the API's `{"detail"}` error; 429 either way,
    with Retry-After set to the whole cool-off (an upper bound: each try restarts it)."""
    retry_after = str(cooloff_seconds())
    client_wide = client_locked(request)
    if request.path.startswith("/api/"):
        message = locked_message(client_wide=client_wide)
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(
            request,
            "accounts/locked_out.html",
            {"minutes": math.ceil(cooloff_seconds() / 60), "client_wide": client_wide},
            status=429,
        )
    response["Retry-After"] = retry_after
    return response
