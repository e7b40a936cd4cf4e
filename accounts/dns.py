"""Sender-domain DNS checks with dnspython: the ownership TXT token, SPF, DMARC and DKIM.

The resolver asks the nameservers in the DNS_NAMESERVERS setting ("ip" or "ip:port"), so tests and
staging can point it at a local DNS server; an empty setting uses the system resolver.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
from django.conf import settings
from django.utils.translation import gettext as _


@dataclass
class RecordCheck:
    """The outcome of one check: `status` is "ok", "warning", "missing" or "error"."""

    status: str
    records: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class DomainFindings:
    verification: RecordCheck
    spf: RecordCheck
    dmarc: RecordCheck
    dkim: RecordCheck

    @property
    def is_verified(self) -> bool:
        return self.verification.status == "ok"

    def as_dict(self) -> dict:
        return asdict(self)


class LookupFailed(Exception):
    """The nameservers could not be asked (timeout, refused); distinct from "no such record"."""


def build_resolver() -> dns.resolver.Resolver:
    """A resolver on the configured nameservers, with the configured timeout."""
    nameservers = settings.DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        # Each entry keeps its own port ("ip", "ip:port", IPv6 "addr" or "[addr]:port").
        resolver.nameservers = [parse_nameserver(entry) for entry in nameservers]
    resolver.timeout = settings.DNS_TIMEOUT
    resolver.lifetime = settings.DNS_TIMEOUT
    resolver.cache = None
    return resolver


def parse_nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
    entry = entry.strip()
    if entry.startswith("["):
        host, _, port = entry[1:].partition("]")
        port = port.removeprefix(":")
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    return dns.nameserver.Do53Nameserver(host, int(port) if port else 53)


def txt_records(name: str, *, resolver: dns.resolver.Resolver) -> list[str]:
    """Every TXT string at `name`, multi-string records joined; [] when the name has none."""
    try:
        answer = resolver.resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.name.NameTooLong):
        # NameTooLong: e.g. _dmarc.<a 253-character domain> cannot exist, so it has no records.
        return []
    except dns.exception.DNSException as exc:
        # Timeout, NoNameservers (SERVFAIL/REFUSED/unreachable) and any other failure to ask.
        raise LookupFailed(f"DNS lookup of {name} failed: {exc.__class__.__name__}") from exc
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def check_verification(domain: str, expected: str, records: list[str]) -> RecordCheck:
    matching = [record for record in records if record.strip() == expected]
    if matching:
        return RecordCheck("ok", matching, ["The verification TXT record was found."])
    ours = [r for r in records if r.startswith(settings.DOMAIN_VERIFICATION_PREFIX)]
    if ours:
        return RecordCheck(
            "error", ours, [f"A verification record exists on {domain} but its token differs."]
        )
    return RecordCheck(
        "missing", [], [f'Add a TXT record on {domain} with the value "{expected}".']
    )


def check_spf(domain: str, records: list[str]) -> RecordCheck:
    # RFC 7208 4.5: exactly "v=spf1", then a space or the end ("v=spf10" is not SPF).
    spf = [r for r in records if r.lower().split(" ", 1)[0] == "v=spf1"]
    if not spf:
        return RecordCheck("missing", [], [f"{domain} publishes no SPF record."])
    if len(spf) > 1:
        return RecordCheck("error", spf, ["More than one SPF record: receivers treat it as none."])
    terms = spf[0].lower().split()
    all_terms = [t for t in terms if t in ("all", "+all", "-all", "~all", "?all")]
    if not all_terms:
        return RecordCheck("warning", spf, ["The SPF record has no 'all' mechanism at its end."])
    if all_terms[-1] in ("+all", "all"):
        return RecordCheck("error", spf, ["'+all' lets anyone send as this domain."])
    if all_terms[-1] == "?all":
        return RecordCheck("warning", spf, ["'?all' is neutral; prefer '~all' or '-all'."])
    return RecordCheck("ok", spf, [f"SPF ends with '{all_terms[-1]}'."])


def dmarc_records(domain: str, *, resolver: dns.resolver.Resolver) -> tuple[str, list[str]]:
    """The DMARC records that govern `domain`, and the domain that publishes them.

    RFC 7489 6.6.3: without a record at _dmarc.<domain>, receivers use the organisational domain's.
    Lacking a public-suffix list we walk up the parents; a suffix such as "co.uk" has none.
    """
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        found = [r for r in txt_records(f"_dmarc.{candidate}", resolver=resolver) if is_dmarc(r)]
        if found:
            return candidate, found
    return domain, []


DMARC_POLICIES = ("none", "quarantine", "reject")


def is_dmarc(record: str) -> bool:
    return record.replace(" ", "").lower().startswith("v=dmarc1")


def check_dmarc(domain: str, records: list[str], *, publisher: str | None = None) -> RecordCheck:
    dmarc = [r for r in records if is_dmarc(r)]
    if not dmarc:
        return RecordCheck(
            "missing",
            [],
            [f"_dmarc.{domain} has no DMARC record; large mailbox providers require one."],
        )
    if len(dmarc) > 1:
        return RecordCheck("error", dmarc, ["More than one DMARC record: receivers ignore them."])
    tags = parse_tags(dmarc[0])
    policy = tags.get("p", "").lower()
    if policy not in DMARC_POLICIES:
        return RecordCheck("error", dmarc, ["The DMARC record has no valid 'p=' policy."])
    if publisher and publisher != domain:
        # A subdomain without its own record gets the parent's sp=; an invalid sp= means p=.
        subdomain_policy = tags.get("sp", "").lower()
        policy = subdomain_policy if subdomain_policy in DMARC_POLICIES else policy
        messages = [f"Inherited from {publisher}: the policy for subdomains is {policy}."]
    else:
        messages = [f"DMARC policy is p={policy}."]
    if "rua" not in tags:
        messages.append("No 'rua=' address: you will not receive aggregate reports.")
    return RecordCheck("ok" if policy != "none" else "warning", dmarc, messages)


def check_dkim(domain: str, selector: str, records: list[str]) -> RecordCheck:
    if not selector:
        return RecordCheck("missing", [], ["Give a DKIM selector to check its public key."])
    name = f"{selector}._domainkey.{domain}"
    keys = [r for r in records if "p" in parse_tags(r)]
    if not keys:
        return RecordCheck("missing", [], [f"{name} has no DKIM key record."])
    tags = parse_tags(keys[0])
    if not tags.get("p"):
        return RecordCheck("error", keys, [f"The DKIM key at {name} is revoked (empty p=)."])
    return RecordCheck("ok", keys, [f"DKIM key found at {name} (k={tags.get('k', 'rsa')})."])


def parse_tags(record: str) -> dict[str, str]:
    """Split a DMARC/DKIM tag list ("v=DKIM1; k=rsa; p=...") into a dict; keys lower-cased."""
    tags = {}
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            tags[key.strip().lower()] = "".join(value.split())
    return tags


def check_domain(
    domain: str, *, expected_token_record: str, dkim_selector: str = ""
) -> DomainFindings:
    """Look the domain up and judge ownership, SPF, DMARC and DKIM. Raises LookupFailed."""
    resolver = build_resolver()
    apex = txt_records(domain, resolver=resolver)
    dmarc_publisher, dmarc = dmarc_records(domain, resolver=resolver)
    dkim = (
        txt_records(f"{dkim_selector}._domainkey.{domain}", resolver=resolver)
        if dkim_selector
        else []
    )
    return DomainFindings(
        verification=check_verification(domain, expected_token_record, apex),
        spf=check_spf(domain, apex),
        dmarc=check_dmarc(domain, dmarc, publisher=dmarc_publisher),
        dkim=check_dkim(domain, dkim_selector, dkim),
    )


def normalise_domain(value: str) -> str:
    """Lower-case, IDNA-encode and syntax-check a domain name; raises ValueError."""
    candidate = value.strip().rstrip(".").lower()
    if candidate.startswith(("http://", "https://")) or "@" in candidate or "/" in candidate:
        raise ValueError(_("Enter a bare domain name such as example.com."))
    try:
        ascii_name = candidate.encode("idna").decode("ascii")
        dns.name.from_text(ascii_name)
    except (UnicodeError, dns.exception.DNSException) as exc:
        raise ValueError(_("This is not a valid domain name.")) from exc
    labels = ascii_name.split(".")
    if len(labels) < 2 or any(not label for label in labels) or len(ascii_name) > 253:
        raise ValueError(_("Enter a full domain name such as example.com."))
    if labels[-1].isdigit():
        raise ValueError(_("Enter a domain name, not an IP address."))
    for label in labels:
        if len(label) > 63 or label.startswith("-") or label.endswith("-"):
            raise ValueError(_("This is not a valid domain name."))
        if not all(ch.isalnum() or ch == "-" for ch in label):
            raise ValueError(_("This is not a valid domain name."))
    return ascii_name
