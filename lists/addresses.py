"""Subscriber addresses: validation with email-validator, fast enough for million-row imports."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
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


def address_hash(account_id: int, email: str) -> str:
    """A keyed hash of an address, per account: what a suppression keeps after erasure.

    Keyed (HMAC with SUPPRESSION_HASH_KEY) so a leaked table cannot be reversed by hashing a
    dictionary of addresses; the key must never change, or suppressions stop matching.
    """
    return address_hasher(account_id)(email)


def address_hasher(account_id: int) -> Callable[[str], str]:
    """`address_hash` for one account, with the key prepared once (imports hash every row)."""
    keyed = _keyed_hash(settings.SUPPRESSION_HASH_KEY, account_id)

    def digest(email: str) -> str:
        copy = keyed.copy()
        copy.update(email.lower().encode())
        return copy.hexdigest()

    return digest


@lru_cache(maxsize=256)
def _keyed_hash(secret: str, account_id: int):
    # Copying a keyed HMAC skips re-deriving the key pads for each of a million addresses.
    return hmac.new(f"{secret}:{account_id}".encode(), digestmod=hashlib.sha256)
