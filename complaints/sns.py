"""Verifying Amazon SNS messages before trusting what they say (django-anymail does not).

An SNS HTTP(S) delivery is signed by Amazon with the key of a certificate whose URL the message
itself names (`SigningCertURL`). We trust it only when that URL is https on an SNS host
(settings.SNS_CERT_HOST_PATTERN) with a path ending in .pem, the certificate is valid now, and
the signature over the canonical string AWS documents checks out (SignatureVersion 1 is
SHA1withRSA, 2 is SHA256withRSA):
https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html

A valid signature only proves that *some* SNS topic sent the message: anyone can point a topic of
their own at our URL. The webhook's basic auth (ANYMAIL["WEBHOOK_SECRET"]) and the optional
SNS_TOPIC_ARNS allow-list say that it is ours.

Every outbound request (the certificate, a subscription's SubscribeURL) goes through `http_get`,
which tests replace so that nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

# The fields each message type signs, in the (alphabetical) order AWS concatenates them.
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
}
# Fields a message type may leave out (a Notification published without a subject).
_OPTIONAL_FIELDS = {"Subject"}
SIGNATURE_VERSIONS = {"1": "sha1", "2": "sha256"}

CERT_CACHE_SECONDS = 24 * 3600
CERT_MAX_BYTES = 64 * 1024
HTTP_TIMEOUT_SECONDS = 10
# A base64 RSA signature of a 4096-bit key is 684 characters; anything far longer is not one.
_SIGNATURE_MAX_CHARS = 2048


class SnsVerificationError(Exception):
    """The message is not a genuine, untampered SNS message we may act on."""


class SnsFetchError(Exception):
    """Amazon could not be reached (the certificate, a SubscribeURL): worth a retry, proves
    nothing about the message."""


def topic_is_allowed(topic_arn: str) -> bool:
    """True unless settings.SNS_TOPIC_ARNS lists topics and this is not one of them."""
    allowed = getattr(settings, "SNS_TOPIC_ARNS", None) or []
    return not allowed or topic_arn in allowed


def sns_url_is_trusted(url: str, *, pem: bool) -> bool:
    """Whether `url` is https on an SNS host (SNS_CERT_HOST_PATTERN) with no credentials or
    unusual port, and (for a certificate, `pem`) a path ending in .pem."""
    if not isinstance(url, str) or len(url) > 2048:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return False
    if port not in (None, 443):
        return False
    if not re.fullmatch(settings.SNS_CERT_HOST_PATTERN, host):
        return False
    return not pem or (parts.path.endswith(".pem") and not parts.query)


def canonical_string(message: Mapping[str, object]) -> bytes:
    """The bytes Amazon signed: "Name\\nvalue\\n" for each signed field of the message's type, in
    AWS's order, leaving out an optional field that is absent. Raises SnsVerificationError for an
    unknown type or a missing or non-string field."""
    # Any JSON value may come: one that is not a known type's name finds nothing.
    fields = SIGNED_FIELDS.get(message.get("Type"))  # type: ignore[call-overload]
    if fields is None:
        raise SnsVerificationError(f"unknown SNS message type {message.get('Type')!r}")
    lines: list[str] = []
    for name in fields:
        value = message.get(name)
        if value is None and name in _OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise SnsVerificationError(f"SNS message field {name} is missing or not a string")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead off the SNS host we checked; Amazon's URLs never redirect.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise SnsVerificationError(f"refusing a redirect from {req.full_url}")


def http_get(url: str, *, max_bytes: int) -> bytes:
    """GET an https URL (TLS verified against the system's CAs, no redirects), at most
    `max_bytes` of body. Only ever called with a URL that `sns_url_is_trusted` accepted."""
    if not url.startswith("https://"):
        raise SnsVerificationError(f"refusing a non-https URL {url!r}")
    opener = urllib.request.build_opener(_NoRedirects)
    with opener.open(url, timeout=HTTP_TIMEOUT_SECONDS) as response:
        body = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise SnsVerificationError(f"response from {url} is over {max_bytes} bytes")
    return body


def _cache_key(url: str) -> str:
    return "sns-cert:" + hashlib.sha256(url.encode()).hexdigest()


def signing_certificate(url: str):
    """The certificate at a trusted SigningCertURL, fetched once per URL and cached (the PEM,
    CERT_CACHE_SECONDS). Raises SnsVerificationError for an untrusted URL or a body that is not
    a certificate, SnsFetchError when it could not be fetched."""
    from cryptography import x509

    if not sns_url_is_trusted(url, pem=True):
        raise SnsVerificationError(f"untrusted SigningCertURL {url!r}")
    key = _cache_key(url)
    pem = cache.get(key)
    fetched = pem is None
    if fetched:
        try:
            pem = http_get(url, max_bytes=CERT_MAX_BYTES)
        except SnsVerificationError:
            raise
        except Exception as exc:  # network and TLS errors alike: not verified, maybe later
            raise SnsFetchError(f"could not fetch {url}: {exc}") from exc
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        cache.delete(key)
        raise SnsVerificationError(f"{url} is not a PEM certificate") from exc
    if fetched:
        cache.set(key, pem, CERT_CACHE_SECONDS)
    return certificate


def verify_sns_message(message: Mapping[str, object], *, now: datetime | None = None) -> None:
    """Return quietly if `message` is a genuine SNS message from an allowed topic, else raise
    SnsVerificationError (SnsFetchError when the certificate could not be fetched). Fetches and
    caches the signing certificate; changes nothing else."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError as exc:  # fail closed: an unverifiable message is not trusted
        raise SnsVerificationError("the cryptography package is not installed") from exc

    if not isinstance(message, Mapping):
        raise SnsVerificationError("an SNS message is a JSON object")
    topic_arn = message.get("TopicArn")
    if not isinstance(topic_arn, str) or not topic_is_allowed(topic_arn):
        raise SnsVerificationError(f"SNS topic {topic_arn!r} is not allowed")
    version = message.get("SignatureVersion")
    algorithm = SIGNATURE_VERSIONS.get(version)  # type: ignore[call-overload]  # (as above)
    if algorithm is None:
        raise SnsVerificationError(f"unsupported SignatureVersion {version!r}")
    signed = canonical_string(message)
    encoded = message.get("Signature")
    if not isinstance(encoded, str) or not encoded or len(encoded) > _SIGNATURE_MAX_CHARS:
        raise SnsVerificationError("missing or oversized Signature")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsVerificationError("Signature is not base64") from exc

    url = message.get("SigningCertURL") or message.get("SigningCertUrl")
    certificate = signing_certificate(url)  # type: ignore[arg-type]
    moment = now or timezone.now()
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        # Drop it so that a renewed certificate at the same URL is fetched next time.
        cache.delete(_cache_key(url))  # type: ignore[arg-type]
        raise SnsVerificationError(f"the certificate at {url} is not valid now")
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsVerificationError("the SNS signing certificate's key is not RSA")
    digest = hashes.SHA1() if algorithm == "sha1" else hashes.SHA256()  # noqa: S303 (AWS's v1)
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), digest)
    except InvalidSignature as exc:
        raise SnsVerificationError("SNS signature does not match the message") from exc


def confirm_subscription(message: Mapping[str, object]) -> None:
    """Confirm a (verified) SubscriptionConfirmation by visiting its SubscribeURL, as AWS
    documents for HTTP endpoints. Refuses a SubscribeURL that is not https on an SNS host
    (SnsVerificationError); SnsFetchError when Amazon could not be reached."""
    url = message.get("SubscribeURL")
    if not sns_url_is_trusted(url, pem=False):  # type: ignore[arg-type]
        raise SnsVerificationError(f"untrusted SubscribeURL {url!r}")
    try:
        http_get(url, max_bytes=CERT_MAX_BYTES)  # type: ignore[arg-type]
    except SnsVerificationError:
        raise
    except Exception as exc:
        raise SnsFetchError(f"could not confirm the subscription: {exc}") from exc
    logger.info("Confirmed the SNS subscription to %s", message.get("TopicArn"))
