"""Keyed hashes of subscriber addresses: what suppressions match on, even after erasure."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.db.models import BinaryField, CharField, Func, Value


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


class KeyedAddressHash(Func):
    """`address_hash` computed by PostgreSQL, for matching suppressions inside one statement:
    HMAC-SHA256 written out with the built-in sha256 (no extension), the key's pads prepared
    here. PostgreSQL's lower() agrees with Python's on ASCII; callers check other addresses in
    Python (tests/lists/test_addresses.py compares the two)."""

    output_field = CharField()

    def __init__(self, expression, *, account_id: int):
        key = f"{settings.SUPPRESSION_HASH_KEY}:{account_id}".encode()
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        inner = Value(bytes(b ^ 0x36 for b in key), output_field=BinaryField())
        outer = Value(bytes(b ^ 0x5C for b in key), output_field=BinaryField())
        super().__init__(outer, inner, expression)

    def as_sql(self, compiler, connection, **extra):
        if connection.vendor != "postgresql":
            raise NotImplementedError("KeyedAddressHash is computed by PostgreSQL only")
        parts, params = [], []
        for expression in self.source_expressions:
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        outer, inner, address = parts
        return (
            f"encode(sha256({outer} || sha256({inner} || convert_to(lower({address}), 'UTF8'))),"
            " 'hex')",
            params,
        )


_SHA256_BLOCK = 64
