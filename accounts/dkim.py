"""DKIM for the sender domains we send for: key pairs, their encryption at rest, and signing.

Each sender domain gets a 2048-bit RSA key pair under a selector of ours; the private key is kept
encrypted (Fernet, with a key derived from the DKIM_KEY_SECRET setting) and decrypted once per
process (a small cache, refreshed every DKIM_KEY_CACHE_SECONDS so a rotation reaches running
workers).

Signing uses dkimpy for everything DKIM is made of (relaxed/relaxed canonicalisation, the body
hash, the header list, the DKIM-Signature field), but not for the RSA operation itself: dkimpy
does RSA in pure Python (about 10 ms a signature, bench/dkim_bench.py), OpenSSL through
`cryptography` about 0.4 ms. RSASSA-PKCS1-v1_5 is deterministic, so both produce the very same
b= for the same hash and key; tests/accounts/test_dkim.py holds that and verifies with dkimpy.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass

import dkim
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db.models import F
from django.utils import timezone

KEY_BITS = 2048
CANONICALIZATION = (b"relaxed", b"relaxed")
# What we sign (in the order dkimpy looks them up); a header the message lacks is signed as
# absent, so it cannot be added on the way. From is listed twice (oversigned): a second From
# added later would break the signature rather than be shown instead of ours.
SIGNED_HEADERS = (
    b"from",
    b"from",
    b"reply-to",
    b"subject",
    b"date",
    b"to",
    b"cc",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
    b"precedence",
)


class DkimKeyError(ValueError):
    """A stored private key cannot be decrypted (DKIM_KEY_SECRET changed) or parsed, or dkimpy
    refused to sign. A ValueError: to the send path, a message that cannot be built."""


@dataclass(frozen=True)
class KeyPair:
    """A new key: the private key as encrypted for the database, the public one as p=."""

    encrypted_private_key: str
    public_key: str


def we_sign() -> bool:
    """Whether messages leave through our own SMTP path (signed here) rather than through an
    ESP's API (django-anymail), which signs with keys of its own."""
    return not settings.EMAIL_BACKEND.startswith("anymail.")


def esp_name() -> str:
    """The ESP's name as its anymail backend says it ("mailgun"), for the domain page."""
    parts = settings.EMAIL_BACKEND.split(".")
    return parts[2] if len(parts) > 3 and parts[0] == "anymail" else settings.EMAIL_BACKEND


def new_selector() -> str:
    """A selector of ours: the prefix, the month and a random part (two accounts that add the
    same domain, or two keys of one domain, never share a selector)."""
    return f"{settings.DKIM_SELECTOR_PREFIX}{timezone.now():%Y%m}{secrets.token_hex(3)}"


def _fernet() -> Fernet:
    # HKDF: the setting may be any string (by default the SECRET_KEY); Fernet wants 32 bytes.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"consentmail dkim private keys"
    ).derive(settings.DKIM_KEY_SECRET.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_private_key(pem: bytes) -> str:
    return _fernet().encrypt(pem).decode("ascii")


def decrypt_private_key(token: str) -> bytes:
    try:
        return _fernet().decrypt(token.encode("ascii"))
    except InvalidToken as exc:
        raise DkimKeyError("the DKIM key cannot be decrypted with DKIM_KEY_SECRET") from exc


def public_key_value(private_key: rsa.RSAPrivateKey) -> str:
    """The p= value: the SubjectPublicKeyInfo in DER, base64 (RFC 6376 3.6.1)."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def generate_key_pair() -> KeyPair:
    """A new 2048-bit RSA key pair, its private half encrypted for storage."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # RFC 8017 RSAPrivateKey, as dkimpy reads
        serialization.NoEncryption(),
    )
    return KeyPair(encrypt_private_key(pem), public_key_value(private_key))


def txt_record_value(public_key: str) -> str:
    """The DKIM TXT record to publish at <selector>._domainkey.<domain>."""
    return f"v=DKIM1; k=rsa; p={public_key}"


# --- signing -------------------------------------------------------------------------------------


class _Signer(dkim.DKIM):
    """dkimpy's DKIM whose RSA signature is made by OpenSSL. `gen_header` is dkimpy 1.1.8's,
    for rsa-sha256 only, with its pure-Python RSASSA_PKCS1_v1_5_sign replaced (the hash it signs
    is the one dkimpy computed over the canonicalised headers)."""

    def __init__(self, message: bytes, private_key: rsa.RSAPrivateKey):
        super().__init__(message, linesep=b"\r\n")
        self._private_key = private_key

    def gen_header(self, fields, include_headers, canon_policy, header_name, pk, standardize=False):
        if standardize or self.signature_algorithm != b"rsa-sha256":
            raise dkim.ParameterError("only rsa-sha256, unstandardised, is signed here")
        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = dkim.fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = dkim.RE_BTAG.sub(b"\\1", header_value)
        header = (header_name, b" " + header_value)
        hasher = dkim.HashThrough(self.hasher(), self.debug_content)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkim.hash_headers(
            hasher, canon_policy, headers, include_headers, header, dict(fields)
        )
        signature = self._private_key.sign(
            hasher.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256())
        )
        index = [i for i in range(len(fields)) if fields[i][0] == b"b"][0]
        fields[index] = (b"b", base64.b64encode(signature))
        header_value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        return dkim.fold(header_value, namelen=len(header_name), linesep=self.linesep)


@dataclass(frozen=True)
class SigningKey:
    selector: str
    domain: str
    pem: bytes
    private_key: rsa.RSAPrivateKey


def signing_key_from(*, selector: str, domain: str, encrypted_private_key: str) -> SigningKey:
    pem = decrypt_private_key(encrypted_private_key)
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise DkimKeyError("the DKIM key is not an RSA key")
    return SigningKey(selector, domain, pem, private_key)


def sign_with(message: bytes, key: SigningKey) -> bytes:
    """`message` (CRLF line ends) with a DKIM-Signature field in front: d= the key's domain,
    relaxed/relaxed, rsa-sha256, the SIGNED_HEADERS."""
    signer = _Signer(message, key.private_key)
    field = signer.sign(
        key.selector.encode("ascii"),
        key.domain.encode("ascii"),
        key.pem,
        canonicalize=CANONICALIZATION,
        include_headers=list(SIGNED_HEADERS),
    )
    return field + message  # dkimpy's field is "DKIM-Signature: ...\r\n"


# (account_id or None, domain) -> (loaded at, key or None); None: that domain has no key to use.
_cache: dict[tuple[int | None, str], tuple[float, SigningKey | None]] = {}
_cache_lock = threading.Lock()


def clear_key_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _load_key(domain: str, account_id: int | None) -> SigningKey | None:
    from accounts.dns import normalise_domain
    from accounts.models import SenderDomain

    try:
        # Stored domains are IDNA (A-labels), and d= must be too.
        domain = normalise_domain(domain)
    except ValueError:
        return None
    rows = SenderDomain.objects.filter(domain=domain).exclude(signing_key="")
    if account_id is None:
        # A campaign's message: only a verified domain's key. Were two accounts to verify one
        # domain, both proved they control its DNS; the one whose key was seen published wins.
        rows = rows.filter(verified_at__isnull=False).order_by(
            F("dkim_published_at").desc(nulls_last=True), "pk"
        )
    else:
        rows = rows.filter(account_id=account_id)
    row = rows.values_list("signing_selector", "signing_key").first()
    if row is None:
        return None
    return signing_key_from(selector=row[0], domain=domain, encrypted_private_key=row[1])


def signing_key_for(domain: str, *, account_id: int | None = None) -> SigningKey | None:
    """The key to sign `domain`'s mail with, from the per-process cache (DKIM_KEY_CACHE_SECONDS).

    Without `account_id`, the key of a verified sender domain (what campaigns send from); with
    it, that account's own key whether verified or not (a test send to the user's own address).
    """
    domain = domain.lower()
    now = time.monotonic()
    cache_key = (account_id, domain)
    cached = _cache.get(cache_key)
    if cached is not None and now - cached[0] < settings.DKIM_KEY_CACHE_SECONDS:
        return cached[1]
    key = _load_key(domain, account_id)
    with _cache_lock:
        _cache[cache_key] = (now, key)
    return key


def dkim_sign(message: bytes, from_domain: str, *, account_id: int | None = None) -> bytes:
    """`message` signed with `from_domain`'s key (d= the From domain: aligned for DMARC), or
    unchanged when that domain has no key of ours (nothing we could sign for)."""
    if not settings.DKIM_SIGNING:
        return message
    key = signing_key_for(from_domain, account_id=account_id)
    if key is None:
        return message
    try:
        return sign_with(message, key)
    except dkim.DKIMException as exc:
        raise DkimKeyError(f"DKIM signing failed: {exc}") from exc
