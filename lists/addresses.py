"""Keyed hashes of subscriber addresses: what suppressions match on, even after erasure."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings


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
