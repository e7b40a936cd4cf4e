"""OpenAPI schema wiring: the `Idempotency-Key` header on every POST that honours it."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiParameter

from config import idempotency

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=idempotency.HEADER,
    location=OpenApiParameter.HEADER,
    type={"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
    required=False,
    description=(
        "Any unique string (a UUID is a good choice), at most "
        f"{idempotency.MAX_KEY_LENGTH} characters. A retry with the same key (same account, "
        "method and path) within 24 hours gets the first answer again, with "
        f"`{idempotency.REPLAYED_HEADER}: true`, and creates nothing new. The same key with a "
        "different body is a 422; a retry while the first request is still running is a 409."
    ),
)


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.method == "POST" and idempotency.applies_to(self.view):
            parameters = [*parameters, IDEMPOTENCY_KEY_PARAMETER]
        return parameters

    def get_operation(self, *args, **kwargs):
        """Adds the answers every view can give through the throttles and the idempotency gate,
        where the view's own documentation does not list them already."""
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return operation
        responses = operation.setdefault("responses", {})
        # The answers any endpoint can give, documented once here instead of on every view:
        # credentials refused, an id that is not this account's, input that does not validate.
        if not self._is_public():
            responses.setdefault("401", _error_response(GENERIC_ERRORS[401]))
            responses.setdefault("403", _error_response(GENERIC_ERRORS[403]))
        if "{" in self.path or getattr(self.view, "pagination_class", None):
            # An id that is not this account's, or a page past the end of a list.
            responses.setdefault("404", _error_response(GENERIC_ERRORS[404]))
        if self.method in ("POST", "PUT", "PATCH") or operation.get("parameters"):
            responses.setdefault("400", _error_response(GENERIC_ERRORS[400]))
        if getattr(self.view, "throttle_classes", None) and "429" not in responses:
            responses["429"] = {**_error_response(THROTTLED["description"]), **THROTTLED}
        if self.method == "POST" and idempotency.applies_to(self.view):
            for code, description in IDEMPOTENCY_ERRORS.items():
                responses.setdefault(str(code), _error_response(description))
        return operation

    def _is_public(self) -> bool:
        return any(
            getattr(permission, "__name__", "") == "AllowAny"
            for permission in getattr(self.view, "permission_classes", ())
        )


GENERIC_ERRORS = {
    400: 'Invalid input: messages per field (`{"name": ["This field is required."]}`) or a '
    "`detail`.",
    401: "No valid credentials: the token is missing, wrong or revoked.",
    403: "Not allowed: a read-only token asked to write, the account is frozen, or the user "
    "is not a moderator.",
    404: "No such object in this account (or no such page of a list).",
}
# `{"detail": ...}`; a 400 may instead carry messages per field, so `detail` is not required.
ERROR_BODY = {"type": "object", "properties": {"detail": {"type": "string"}}}
THROTTLED = {
    "description": "Too many requests for this token or account; `Retry-After` says how many "
    "seconds to wait.",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
}
IDEMPOTENCY_ERRORS = {
    400: f"Invalid input, or an `{idempotency.HEADER}` longer than "
    f"{idempotency.MAX_KEY_LENGTH} characters.",
    409: f"Not possible in the object's current state, or a request with this "
    f"`{idempotency.HEADER}` is still being processed.",
    422: f"This `{idempotency.HEADER}` was already used with a different request body.",
}


def _error_response(description: str) -> dict:
    return {"content": {"application/json": {"schema": ERROR_BODY}}, "description": description}
