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
from publicsuffixlist import PublicSuffixList

from config.coded_text import CodedText, coded


@dataclass
class RecordCheck:
    """The outcome of one check: `status` is "ok", "warning", "missing" or "error"."""

    status: str
    records: list[str] = field(default_factory=list)
    # Coded text (accounts/texts.py: accounts.dns.*), rendered when the domain page is read.
    messages: list[CodedText] = field(default_factory=list)


@dataclass
class DomainFindings:
    verification: RecordCheck
    spf: RecordCheck
    dmarc: RecordCheck
    dkim: RecordCheck
    # A rotation's new DKIM key, while it waits to be seen in DNS.
    dkim_next: RecordCheck | None = None

    @property
    def is_verified(self) -> bool:
        return self.verification.status == "ok"

    def as_dict(self) -> dict:
        return asdict(self)


class LookupFailed(Exception):
    """The nameservers could not be asked (timeout, refused); distinct from "no such record"."""


def _say(code: str, **params: str) -> CodedText:
    return coded(f"accounts.dns.{code}", **params)


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
        return RecordCheck("ok", matching, [_say("verification_found")])
    ours = [r for r in records if r.startswith(settings.DOMAIN_VERIFICATION_PREFIX)]
    if ours:
        return RecordCheck("error", ours, [_say("verification_differs", domain=domain)])
    return RecordCheck("missing", [], [_say("verification_missing", domain=domain, value=expected)])


ALL_TERMS = ("all", "+all", "-all", "~all", "?all")


def spf_records(records: list[str]) -> list[str]:
    # RFC 7208 4.5: exactly "v=spf1", then a space or the end ("v=spf10" is not SPF).
    return [r for r in records if r.lower().split(" ", 1)[0] == "v=spf1"]


def spf_authorises(record: str, include: str) -> bool:
    """Whether the SPF record names our `include` (as include: or redirect=), any qualifier
    but "-" (which would exclude us)."""
    include = include.lower().rstrip(".")
    for term in record.lower().split()[1:]:
        qualifier = term[0] if term[:1] in "+-~?" else "+"
        bare = term.lstrip("+-~?")
        for prefix in ("include:", "redirect="):
            if bare.startswith(prefix) and bare[len(prefix) :].rstrip(".") == include:
                return qualifier != "-"
    return False


def check_spf(domain: str, records: list[str], *, include: str | None = None) -> RecordCheck:
    """Judge the domain's SPF record; with `include` (we send), it is "ok" only when it
    authorises us through that include."""
    spf = spf_records(records)
    if not spf:
        return RecordCheck("missing", [], [_say("spf_missing", domain=domain)])
    if len(spf) > 1:
        return RecordCheck("error", spf, [_say("spf_many")])
    terms = spf[0].lower().split()
    all_terms = [t for t in terms if t in ALL_TERMS]
    if all_terms and all_terms[-1] in ("+all", "all"):
        return RecordCheck("error", spf, [_say("spf_plus_all")])
    if include and not spf_authorises(spf[0], include):
        return RecordCheck(
            "error",
            spf,
            [_say("spf_not_ours", include=include)],
        )
    if not all_terms:
        return RecordCheck("warning", spf, [_say("spf_no_all")])
    if all_terms[-1] == "?all":
        return RecordCheck("warning", spf, [_say("spf_neutral")])
    if include:
        return RecordCheck("ok", spf, [_say("spf_ours", include=include, ending=all_terms[-1])])
    return RecordCheck("ok", spf, [_say("spf_ok", ending=all_terms[-1])])


def spf_record_to_publish(records: list[str], include: str) -> str:
    """The SPF record to publish: the domain's own with our include merged in before its
    'all' (nothing else changed), or a new one. Several SPF records are one broken record: the
    first is the base and the page says to delete the others."""
    existing = spf_records(records)
    if not existing:
        return f"v=spf1 include:{include} ~all"
    record = existing[0]
    if spf_authorises(record, include):
        return record
    terms = record.split()
    position = next(
        (
            index
            for index, term in enumerate(terms)
            if term.lower() in ALL_TERMS or term.lower().startswith("redirect=")
        ),
        len(terms),
    )
    terms.insert(max(position, 1), f"include:{include}")
    return " ".join(terms)


_public_suffixes: PublicSuffixList | None = None


def organisational_domain(domain: str) -> str:
    """RFC 7489 3.2: the registrable domain under the public suffix list ("news.shop.co.uk" ->
    "shop.co.uk"); a public suffix itself is its own."""
    global _public_suffixes
    if _public_suffixes is None:
        # Loading the list (the package's copy) takes a few ms; once per process.
        _public_suffixes = PublicSuffixList()
    domain = domain.lower().rstrip(".")
    return _public_suffixes.privatesuffix(domain) or domain


def dmarc_aligned(from_domain: str, authenticated_domain: str, *, strict: bool = False) -> bool:
    """Whether an authenticated domain (DKIM d=, SPF's MAIL FROM domain) aligns with the From
    domain: equal (strict), or the same organisational domain (relaxed, RFC 7489 3.1)."""
    from_domain = from_domain.lower().rstrip(".")
    authenticated_domain = authenticated_domain.lower().rstrip(".")
    if strict:
        return from_domain == authenticated_domain
    return organisational_domain(from_domain) == organisational_domain(authenticated_domain)


def dmarc_records(domain: str, *, resolver: dns.resolver.Resolver) -> tuple[str, list[str]]:
    """The DMARC records that govern `domain`, and the domain that publishes them.

    RFC 7489 6.6.3: without a record at _dmarc.<domain>, receivers use the organisational
    domain's, found with the public suffix list (not by walking up labels: an intermediate
    name's record does not apply, and "co.uk" is nobody's).
    """
    for candidate in dict.fromkeys((domain, organisational_domain(domain))):
        found = [r for r in txt_records(f"_dmarc.{candidate}", resolver=resolver) if is_dmarc(r)]
        if found:
            return candidate, found
    return domain, []


def dmarc_record_to_publish(domain: str) -> str:
    """The DMARC record to start with: monitoring only (p=none), aggregate reports to
    DMARC_REPORT_ADDRESS or the domain's own dmarc-reports@ address."""
    address = settings.DMARC_REPORT_ADDRESS or f"dmarc-reports@{domain}"
    return f"v=DMARC1; p=none; rua=mailto:{address}; adkim=r; aspf=r"


DMARC_POLICIES = ("none", "quarantine", "reject")


def is_dmarc(record: str) -> bool:
    return record.replace(" ", "").lower().startswith("v=dmarc1")


def check_dmarc(domain: str, records: list[str], *, publisher: str | None = None) -> RecordCheck:
    dmarc = [r for r in records if is_dmarc(r)]
    if not dmarc:
        return RecordCheck(
            "missing",
            [],
            [_say("dmarc_missing", domain=domain)],
        )
    if len(dmarc) > 1:
        return RecordCheck("error", dmarc, [_say("dmarc_many")])
    tags = parse_tags(dmarc[0])
    policy = tags.get("p", "").lower()
    if policy not in DMARC_POLICIES:
        return RecordCheck("error", dmarc, [_say("dmarc_no_policy")])
    if publisher and publisher != domain:
        # A subdomain without its own record gets the parent's sp=; an invalid sp= means p=.
        subdomain_policy = tags.get("sp", "").lower()
        policy = subdomain_policy if subdomain_policy in DMARC_POLICIES else policy
        messages = [_say("dmarc_inherited", publisher=publisher, policy=policy)]
    else:
        messages = [_say("dmarc_policy", policy=policy)]
    if "rua" not in tags:
        messages.append(_say("dmarc_no_rua"))
    return RecordCheck("ok" if policy != "none" else "warning", dmarc, messages)


def check_dkim(
    domain: str, selector: str, records: list[str], *, expected_key: str = ""
) -> RecordCheck:
    """Judge the key at the selector; with `expected_key` (ours), "ok" only for that key."""
    if not selector:
        return RecordCheck("missing", [], [_say("dkim_no_selector")])
    name = f"{selector}._domainkey.{domain}"
    keys = [r for r in records if "p" in parse_tags(r)]
    if not keys:
        return RecordCheck("missing", [], [_say("dkim_missing", name=name)])
    tags = parse_tags(keys[0])
    if not tags.get("p"):
        return RecordCheck("error", keys, [_say("dkim_revoked", name=name)])
    if expected_key and tags["p"] != expected_key:
        return RecordCheck("error", keys, [_say("dkim_not_ours", name=name)])
    return RecordCheck("ok", keys, [_say("dkim_found", name=name, algorithm=tags.get("k", "rsa"))])


def parse_tags(record: str) -> dict[str, str]:
    """Split a DMARC/DKIM tag list ("v=DKIM1; k=rsa; p=...") into a dict; keys lower-cased."""
    tags = {}
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            tags[key.strip().lower()] = "".join(value.split())
    return tags


def check_domain(
    domain: str,
    *,
    expected_token_record: str,
    dkim_selector: str = "",
    dkim_public_key: str = "",
    next_dkim_selector: str = "",
    next_dkim_public_key: str = "",
    spf_include: str | None = None,
) -> DomainFindings:
    """Look the domain up and judge ownership, SPF, DMARC and DKIM (with `dkim_public_key`,
    that this key of ours is the one published; with `spf_include`, that SPF authorises us).
    Raises LookupFailed."""
    resolver = build_resolver()
    apex = txt_records(domain, resolver=resolver)
    dmarc_publisher, dmarc = dmarc_records(domain, resolver=resolver)

    def dkim_at(selector: str, key: str) -> RecordCheck:
        found = (
            txt_records(f"{selector}._domainkey.{domain}", resolver=resolver) if selector else []
        )
        return check_dkim(domain, selector, found, expected_key=key)

    return DomainFindings(
        verification=check_verification(domain, expected_token_record, apex),
        spf=check_spf(domain, apex, include=spf_include),
        dmarc=check_dmarc(domain, dmarc, publisher=dmarc_publisher),
        dkim=dkim_at(dkim_selector, dkim_public_key),
        dkim_next=(
            dkim_at(next_dkim_selector, next_dkim_public_key) if next_dkim_selector else None
        ),
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
