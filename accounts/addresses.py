"""E-mail addresses: validation with email-validator, fast enough for million-row imports.

Users, subscribers and everything else that takes an address go through `normalise_address`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from config.errors import ApplicationError

# A plain dot-atom local part that email-validator always accepts unchanged (apart from case).
_SIMPLE_LOCAL = re.compile(r"^[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*$")
_MAX_LOCAL = 64
_MAX_ADDRESS = 254


class InvalidAddress(ApplicationError):
    """The address is not a valid e-mail address; the message says why."""

    def __init__(self, message: str):
        super().__init__(message, field="email")


@lru_cache(maxsize=65536)
def _normalised_domain(domain: str) -> str:
    # Imports repeat a few thousand domains across a million rows: validating each once (IDNA and
    # all) is what makes the fast path fast.
    return validate_email(f"a@{domain}", check_deliverability=False).domain.lower()


def normalise_address(value: str) -> str:
    """Return the address validated (syntax only, no DNS) and normalised to lower case.

    Raises InvalidAddress with email-validator's explanation. Common addresses take a cached fast
    path; anything unusual (quoted, non-ASCII, display names) gets the full validation.
    """
    value = (value or "").strip()
    local, at, domain = value.rpartition("@")
    local = local.lower()
    if at and len(local) <= _MAX_LOCAL and _SIMPLE_LOCAL.match(local):
        try:
            address = f"{local}@{_normalised_domain(domain.lower())}"
        except EmailNotValidError:
            pass  # the full validation below gives the exact reason
        else:
            if len(address) <= _MAX_ADDRESS:
                return address
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
