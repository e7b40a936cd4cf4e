"""Password guessing: the hooks django-axes calls (settings.AXES_*), and the check the API's token
exchange makes before it tries a password.

A lock is per (e-mail address, client address): after AXES_FAILURE_LIMIT wrong passwords that
pair is refused, even with the right password, until AXES_COOLOFF_TIME has passed since its last
failure. The browser gets a page saying so, the API its usual JSON error, both with status 429.
"""

from __future__ import annotations

import math

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_MESSAGE = (
    "Too many failed log-ins for this address from your network. "
    "Try again in {minutes} minutes, or reset your password."
)


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


def locked_message() -> str:
    return LOCKED_MESSAGE.format(minutes=math.ceil(cooloff_seconds() / 60))


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
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": locked_message()}, status=429)
    else:
        response = render(
            request,
            "accounts/locked_out.html",
            {"minutes": math.ceil(cooloff_seconds() / 60)},
            status=429,
        )
    response["Retry-After"] = retry_after
    return response
