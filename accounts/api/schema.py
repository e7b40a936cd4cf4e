"""OpenAPI pieces the API views share: the error body and the documented error responses.

Every error the exception handler in `config/api.py` writes is an object: `{"detail": "..."}` for
a domain error, or `{"<field>": ["message", ...]}` per invalid field (nested for nested input),
with extra keys where a refusal carries data (the content analyser's `findings`).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorOutput(serializers.Serializer):
    """An error: `detail`, or messages per invalid field, plus any data the refusal carries."""

    detail = serializers.CharField(
        required=False, help_text="What went wrong, when it is not about one field."
    )


ERROR_DESCRIPTIONS = {
    400: 'Invalid input: messages per field (`{"name": ["This field is required."]}`) or '
    "a `detail`.",
    401: "No valid credentials: the token is missing, wrong or revoked.",
    403: "Not allowed: the member's role does not allow it (a viewer or a read-only token "
    "asked to write, an editor asked for what only the owner manages: the team, the company "
    "profile, sender domains, webhooks, closing the account), the account is frozen, the user is "
    "not a moderator (or has no sender account), or, for an action that sends (submit, test "
    'send, import), a new terms or privacy version is not accepted yet (`"code": '
    '"terms_not_accepted"`, the `versions` due and the `accept_url`: '
    "`POST /api/v1/account/accept-terms/`).",
    404: "No such object in this account (or no such page of a list).",
    409: "Not possible in the object's current state (e.g. editing a submitted campaign).",
    413: "The request body is too large.",
    429: "Too many attempts; try again later.",
}

ERROR_EXAMPLES = {
    400: OpenApiExample(
        "Invalid field",
        value={"from_email": ["Use an address on one of your verified sender domains."]},
        response_only=True,
        status_codes=["400"],
    ),
    404: OpenApiExample(
        "Not found", value={"detail": "Not found."}, response_only=True, status_codes=["404"]
    ),
    409: OpenApiExample(
        "Wrong state",
        value={"detail": "A submitted campaign cannot be edited."},
        response_only=True,
        status_codes=["409"],
    ),
}

# What any endpoint that needs credentials can answer.
AUTHENTICATED = (401, 403)


def error_responses(*codes: int, authenticated: bool = True) -> dict[int, OpenApiResponse]:
    """The documented error responses for `extend_schema(responses={...})`: the given status
    codes, plus 401 and 403 for endpoints that need credentials."""
    wanted = sorted({*codes, *(AUTHENTICATED if authenticated else ())})
    return {
        code: OpenApiResponse(
            response=ErrorOutput,
            description=ERROR_DESCRIPTIONS[code],
            examples=[ERROR_EXAMPLES[code]] if code in ERROR_EXAMPLES else [],
        )
        for code in wanted
    }
