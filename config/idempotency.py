"""`Idempotency-Key` on API POSTs: a retried request gets the first answer and creates nothing new.

A client sends `Idempotency-Key: <any string up to 255 characters>` with a POST. The first request
with that key runs; its answer (status, body, headers such as `Location`) is kept for 24 hours and
every later request with the same key, from the same account, to the same method and path, gets
that answer back (with `Idempotent-Replayed: true`) without running the view again. Reusing the key
with a different body is a 422; a duplicate that arrives while the first is still running is a 409.

Where it hooks in: DRF has no settings-level "around the handler" hook, and our views subclass
`APIView` directly, so `IdempotencyGate` sits last in `DEFAULT_THROTTLE_CLASSES`. DRF runs
throttles after authentication and permissions and before it looks up the handler, so the gate
(which never throttles) wraps the view instance's `post` there. Every POST of every view that keeps
the default throttles is covered, multipart uploads included, without touching the views; a view
that sets its own `throttle_classes` must list the gate too (tests/api/test_idempotency.py checks
every POST route). `POST /auth/token/` sets its own throttle and is deliberately not covered: it
takes no account to scope a key to.

Where it is stored: the Django cache (Redis in production, `CACHE_URL`), not a model. `cache.add`
is atomic on every backend (Redis `SET NX`), so it is the in-progress lock: only one request per key
runs at a time, and a lock left by a crashed process expires after `IDEMPOTENCY_LOCK_SECONDS`.
The kept answers expire on their own after `IDEMPOTENCY_KEY_SECONDS`, so nothing has to purge them.
If the cache is lost, keys are forgotten: a retry then runs again, as if it had no key. The cache
must therefore be shared by every web process (Redis), as the throttles' counters already are.

What is kept: only answers the handler returned (2xx, or a 4xx it returned itself). A request the
view refused by raising (validation errors, domain errors, 404, 409...) did not take effect, so
nothing is kept and a corrected retry with the same key runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.utils.datastructures import MultiValueDict
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Set by DRF or Django when the replay is rendered; everything else the view set is replayed.
_HEADERS_NOT_REPLAYED = {"content-type", "content-length", "vary", "allow"}


class IdempotencyKeyInvalid(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters."
    default_code = "idempotency_key_invalid"


class IdempotencyKeyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        f"A request with this {HEADER} is still being processed; retry it once that one finished."
    )
    default_code = "idempotency_key_in_progress"


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        f"This {HEADER} was already used with a different request body; "
        "use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


def key_seconds() -> int:
    return settings.IDEMPOTENCY_KEY_SECONDS


def lock_seconds() -> int:
    return settings.IDEMPOTENCY_LOCK_SECONDS


class IdempotencyGate(BaseThrottle):
    """Never throttles: makes the view's POST handler honour `Idempotency-Key` (see above)."""

    def allow_request(self, request: Request, view) -> bool:
        if (
            request.method == "POST"
            and HEADER in request.headers
            and applies_to(view)
            and hasattr(view, "post")
        ):
            # dispatch() looks the handler up after the throttles ran, so this instance's
            # attribute (the view instance lives for this one request) is what gets called.
            view.post = _idempotent(view.post, key=request.headers[HEADER])
        return True


def applies_to(view) -> bool:
    """Whether POSTs to this view (class or instance) honour `Idempotency-Key`."""
    throttle_classes = getattr(view, "throttle_classes", ())
    return any(
        isinstance(throttle, type) and issubclass(throttle, IdempotencyGate)
        for throttle in throttle_classes
    )


def _idempotent(handler: Callable[..., Any], *, key: str) -> Callable[..., Any]:
    @functools.wraps(handler)
    def idempotent_handler(request: Request, *args, **kwargs):
        return run_idempotently(handler, request, key, *args, **kwargs)

    return idempotent_handler


def run_idempotently(handler: Callable[..., Any], request: Request, key: str, *args, **kwargs):
    """Run `handler` at most once per (owner, method, path, key); replay its answer after that."""
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid()
    owner = _owner(request)
    if owner is None:
        return handler(request, *args, **kwargs)
    scope = hashlib.sha256(f"{owner}\n{request.method}\n{request.path}\n{key}".encode()).hexdigest()
    answer_key, lock_key = f"idempotency:{scope}:answer", f"idempotency:{scope}:lock"
    fingerprint = request_fingerprint(request)

    kept = cache.get(answer_key)
    if kept is not None:
        return _replay(kept, fingerprint)
    if not cache.add(lock_key, fingerprint, timeout=lock_seconds()):
        kept = cache.get(answer_key)
        if kept is not None:  # it finished between our two looks
            return _replay(kept, fingerprint)
        if cache.get(lock_key, fingerprint) != fingerprint:
            raise IdempotencyKeyReused()
        raise IdempotencyKeyInProgress()
    try:
        kept = cache.get(answer_key)
        if kept is not None:  # it finished and let go of the lock between our get and add
            return _replay(kept, fingerprint)
        response = handler(request, *args, **kwargs)
        if isinstance(response, Response) and response.status_code < 500:
            cache.set(answer_key, _snapshot(response, fingerprint), timeout=key_seconds())
        return response
    finally:
        cache.delete(lock_key)


def _owner(request: Request) -> str | None:
    """Keys are scoped to the account (every user and token of it), or to a user without one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    account_id = getattr(user, "account_id", None)
    return f"account:{account_id}" if account_id else f"user:{user.pk}"


def request_fingerprint(request: Request) -> str:
    """A digest of what the request asks for: its query and its parsed body (so a JSON body
    re-serialised with other spacing or key order, or a multipart body with another boundary,
    is the same request; uploaded files count by name and content)."""
    digest = hashlib.sha256()
    digest.update(request.META.get("QUERY_STRING", "").encode())
    digest.update(b"\0")
    digest.update(json.dumps(_canonical(request.data), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _canonical(data: Any) -> Any:
    if isinstance(data, MultiValueDict):
        return {
            "form": {key: [_canonical(v) for v in data.getlist(key)] for key in sorted(data.keys())}
        }
    if isinstance(data, UploadedFile):
        content = hashlib.sha256()
        for chunk in data.chunks():
            content.update(chunk)
        data.seek(0)
        return {"file": data.name, "size": data.size, "sha256": content.hexdigest()}
    return data


def _snapshot(response: Response, fingerprint: str) -> dict:
    """What a replay needs, as plain JSON-able values (the cache pickles it)."""
    data = response.data
    if data is not None:
        data = json.loads(JSONRenderer().render(data) or b"null")
    headers = {
        name: value for name, value in response.items() if name.lower() not in _HEADERS_NOT_REPLAYED
    }
    return {
        "fingerprint": fingerprint,
        "status": response.status_code,
        "data": data,
        "headers": headers,
    }


def _replay(kept: dict, fingerprint: str) -> Response:
    if kept["fingerprint"] != fingerprint:
        raise IdempotencyKeyReused()
    headers = {**kept["headers"], REPLAYED_HEADER: "true"}
    return Response(kept["data"], status=kept["status"], headers=headers)
