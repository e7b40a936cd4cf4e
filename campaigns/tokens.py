"""Signed tokens for the links and ids in every message: unsubscribe, report spam, click, open,
and the per-message reference that bounces and complaints are matched on.

A token is a packed payload (kind and flags, campaign, subscriber, link) plus a truncated
MAC, base64url-encoded. Django's signing module would do, but it spends JSON and a key
derivation on every token and a message carries dozens of them (one per tracked link): this
keeps a 30 KB message's tokens to a few microseconds. Tokens verify under SECRET_KEY and
SECRET_KEY_FALLBACKS, so rotating the key does not break the unsubscribe links already sent.

The MAC is keyed BLAKE2b (RFC 7693's keyed mode is a MAC by design, one pass, about a quarter
of HMAC-SHA256's cost a token in CPython), marked by a flag in the payload. Tokens made before
it carry HMAC-SHA256 and no flag, and still verify: links already in inboxes keep working. The
flag is covered by the MAC, so it cannot be moved from one scheme to the other.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from functools import cache
from hashlib import blake2b

from django.conf import settings

_MAC_BYTES = 12
# kind (high nibble) | flags (low nibble), campaign id, subscriber id (48 bits each), link index.
_PAYLOAD = struct.Struct(">B6s6sH")
_ID_LIMIT = 1 << 48
_FLAG_TEST = 0x1
_FLAG_BLAKE2 = 0x2  # the MAC is keyed BLAKE2b; without it, HMAC-SHA256 (older tokens)
# base64 decoding skips characters outside its alphabet; a token must not have any.
_ALPHABET = re.compile(r"[A-Za-z0-9_-]{1,64}")
_URLSAFE = bytes.maketrans(b"+/", b"-_")


class TokenKind(enum.IntEnum):
    UNSUBSCRIBE = 1
    REPORT = 2
    CLICK = 3
    OPEN = 4
    MESSAGE = 5


@dataclass(frozen=True)
class TokenData:
    kind: TokenKind
    campaign_id: int
    subscriber_id: int
    link: int = 0
    # Tokens in previews and test sends: their pages show, but nothing is recorded or changed.
    is_test: bool = False


class BadToken(ValueError):
    """Tampered, truncated, of the wrong kind or signed with a key we no longer hold."""


@cache
def _derived_key(secret: str) -> bytes:
    """The HMAC-SHA256 key of older tokens."""
    return hashlib.sha256(b"consentmail.campaigns.tokens\x00" + secret.encode()).digest()


@cache
def _blake2_key(secret: str) -> bytes:
    """The BLAKE2b key: one of its own, not the HMAC key reused under another algorithm."""
    return hashlib.sha256(b"consentmail.campaigns.tokens.blake2b\x00" + secret.encode()).digest()


def _hmac_sha256(key: bytes, payload: bytes) -> bytes:
    """The MAC of tokens made before _FLAG_BLAKE2: verified, no longer made."""
    # hmac.digest is OpenSSL's one-shot HMAC: a fraction of hmac.new()'s cost per token.
    return hmac.digest(key, payload, "sha256")[:_MAC_BYTES]


def _mac(key: bytes, payload: bytes) -> bytes:
    return blake2b(payload, key=key, digest_size=_MAC_BYTES).digest()


def _expected_mac(secret: str, payload: bytes) -> bytes:
    if payload[0] & _FLAG_BLAKE2:
        return _mac(_blake2_key(secret), payload)
    return _hmac_sha256(_derived_key(secret), payload)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def pack(data: TokenData) -> str:
    """The token for `data`, signed with the current SECRET_KEY."""
    tokens = MessageTokens(
        campaign_id=data.campaign_id, subscriber_id=data.subscriber_id, is_test=data.is_test
    )
    return tokens.token(data.kind, data.link)


def unpack(token: str, *, kind: TokenKind) -> TokenData:
    """The data of a token of `kind`, or BadToken."""
    if not _ALPHABET.fullmatch(token):
        raise BadToken("not a token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError) as exc:
        raise BadToken("not a token") from exc
    if len(raw) != _PAYLOAD.size + _MAC_BYTES:
        raise BadToken("wrong length")
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(hmac.compare_digest(mac, _expected_mac(secret, payload)) for secret in secrets):
        raise BadToken("bad signature")
    head, campaign, subscriber, link = _PAYLOAD.unpack(payload)
    if head >> 4 != kind:
        raise BadToken("wrong kind")
    return TokenData(
        kind=kind,
        campaign_id=int.from_bytes(campaign, "big"),
        subscriber_id=int.from_bytes(subscriber, "big"),
        link=link,
        is_test=bool(head & _FLAG_TEST),
    )


class MessageTokens:
    """The tokens of one message (campaign, subscriber), made on demand; what every token of
    the message shares is packed once."""

    __slots__ = ("campaign_id", "subscriber_id", "is_test", "_ids", "_key", "_flag")

    def __init__(self, *, campaign_id: int, subscriber_id: int, is_test: bool = False):
        if not (0 <= campaign_id < _ID_LIMIT and 0 <= subscriber_id < _ID_LIMIT):
            raise ValueError("campaign and subscriber ids must fit in 48 bits")
        self.campaign_id = campaign_id
        self.subscriber_id = subscriber_id
        self.is_test = is_test
        self._ids = campaign_id.to_bytes(6, "big") + subscriber_id.to_bytes(6, "big")
        self._key = _blake2_key(settings.SECRET_KEY)
        self._flag = (_FLAG_TEST if is_test else 0) | _FLAG_BLAKE2

    def token(self, kind: TokenKind, link: int = 0) -> str:
        """A token of `kind` for this message; the bytes `_PAYLOAD` describes, then the MAC."""
        payload = bytes(((kind << 4) | self._flag,)) + self._ids + link.to_bytes(2, "big")
        return _b64(payload + _mac(self._key, payload))

    def unsubscribe(self) -> str:
        return self.token(TokenKind.UNSUBSCRIBE)

    def report(self) -> str:
        return self.token(TokenKind.REPORT)

    def open(self) -> str:
        return self.token(TokenKind.OPEN)

    def click(self, link: int) -> str:
        return self.token(TokenKind.CLICK, link)

    def clicks(self, count: int) -> list[str]:
        """The click tokens of links 0..count-1: the same as `click(i)` each, made in one go (a
        newsletter has dozens of links and a worker renders a thousand messages a second)."""
        prefix = bytes(((TokenKind.CLICK << 4) | self._flag,)) + self._ids
        key = self._key
        raw = []
        for link in range(count):
            payload = prefix + link.to_bytes(2, "big")
            raw.append(payload)
            raw.append(blake2b(payload, key=key, digest_size=_MAC_BYTES).digest())
        # A token is 27 bytes, a multiple of 3: the base64 of them all together is their
        # base64s one after the other (36 characters each, no padding), made in one call.
        text = binascii.b2a_base64(b"".join(raw), newline=False).translate(_URLSAFE).decode()
        return [text[start : start + 36] for start in range(0, 36 * count, 36)]

    def message_ref(self) -> str:
        """The per-message id (in Message-ID, the return path and ESP metadata) that bounce and
        complaint reports are matched on; the same for every attempt of one recipient."""
        return self.token(TokenKind.MESSAGE)
