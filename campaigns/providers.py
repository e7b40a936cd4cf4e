"""Mailbox providers: which large provider hosts an address. Pure.

The probe is stratified by provider (each provider filters on its own signals, so a probe that
missed one of them would say nothing about it), and sending is throttled per provider. Only the
consumer domains of the large providers are known here; a company domain hosted by Google or
Microsoft counts as OTHER, since finding that out would take an MX lookup per address.
"""

import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Provider(StrEnum):
    GMAIL = "gmail"
    YAHOO = "yahoo"
    MICROSOFT = "microsoft"
    YANDEX = "yandex"
    MAILRU = "mailru"
    OTHER = "other"


PROVIDER_LABELS: Mapping[Provider, str] = MappingProxyType(
    {
        Provider.GMAIL: "Gmail",
        Provider.YAHOO: "Yahoo",
        Provider.MICROSOFT: "Microsoft",
        Provider.YANDEX: "Yandex",
        Provider.MAILRU: "Mail.ru",
        Provider.OTHER: "Others",
    }
)

_EXACT_DOMAINS: Mapping[str, Provider] = MappingProxyType(
    {
        **dict.fromkeys(["gmail.com", "googlemail.com"], Provider.GMAIL),
        # AOL Mail runs on Yahoo's platform and shares its filtering.
        **dict.fromkeys(
            ["ymail.com", "rocketmail.com", "aol.com", "aim.com"],
            Provider.YAHOO,
        ),
        **dict.fromkeys(
            ["outlook.com", "msn.com", "windowslive.com", "passport.com"],
            Provider.MICROSOFT,
        ),
        **dict.fromkeys(
            ["yandex.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua", "ya.ru", "narod.ru"],
            Provider.YANDEX,
        ),
        **dict.fromkeys(
            ["mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "my.com"],
            Provider.MAILRU,
        ),
    }
)

# Country variants: a brand label followed by a top-level domain, alone ("yahoo.fr"), generic
# ("hotmail.com") or second-level ("yahoo.co.uk", "live.com.au"). Anything deeper, such as
# "yahoo.example.org", belongs to someone else.
_PREFIXES: Mapping[str, Provider] = MappingProxyType(
    {
        "yahoo": Provider.YAHOO,
        "aol": Provider.YAHOO,
        "hotmail": Provider.MICROSOFT,
        "live": Provider.MICROSOFT,
        "outlook": Provider.MICROSOFT,
        "yandex": Provider.YANDEX,
    }
)
_COUNTRY_VARIANT = re.compile(
    r"^(?P<brand>" + "|".join(_PREFIXES) + r")\.(?:com|[a-z]{2}|(?:co|com)\.[a-z]{2})$"
)


def domain_of(address_or_domain: str) -> str:
    """The lower-cased domain after the last "@" (or the whole input), without a trailing dot."""
    return address_or_domain.rpartition("@")[2].strip().lower().rstrip(".")


def provider_of(address_or_domain: str) -> Provider:
    """The mailbox provider of an address or domain; OTHER for anything not known."""
    domain = domain_of(address_or_domain)
    if domain in _EXACT_DOMAINS:
        return _EXACT_DOMAINS[domain]
    match = _COUNTRY_VARIANT.match(domain)
    if match:
        return _PREFIXES[match["brand"]]
    return Provider.OTHER
