"""Request helpers every app shares."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, as recorded with consent and used for rate limits.

    Behind TRUSTED_PROXY_COUNT proxies it is the address the outermost of ours saw: that many
    hops from the right of X-Forwarded-For. Hops further left are whatever the client sent, so
    trusting them would let anyone choose the IP we record and dodge every limit.
    """
    return client_ip_of(request.META)


def client_ip_of(meta: dict) -> str | None:
    """client_ip from a WSGI environ (or request.META): the hot paths have no request object."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [hop for hop in forwarded if hop]
    if proxies and forwarded:
        return forwarded[-min(proxies, len(forwarded))]
    return meta.get("REMOTE_ADDR")
