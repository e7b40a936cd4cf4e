"""The blocklist watch: are the service's sending IPs or the senders' verified domains listed?

Anti-spam bodies publish DNS blocklists (DNSBLs). An IP is asked as `<reversed ip>.<zone>`
(1.2.3.4 in zen.spamhaus.org is 4.3.2.1.zen.spamhaus.org; IPv6 by reversed nibbles), a domain as
`<domain>.<zone>`. An A answer in 127.0.0.0/8 is a listing (the address is the zone's return
code; the TXT record at the same name says why). No such name, or no A record, is "not listed".

Spamhaus answers 127.255.255.252 (a typing error in the zone's name), .254 (the query came
through a public resolver) and .255 (excessive queries): these, like any other answer outside
127.0.0.0/8 and any failure to ask, say nothing about the listing, so they are errors that leave
what was recorded as it was (a refused query never clears a listing, nor opens one).

`blocklists_check()` records each new listing (`BlocklistListing`), moves `last_seen_at` on
those still listed, clears those gone, and keeps `SenderDomain.blocklisted_at` and
`.blocklist_zones` in step, which campaigns read at the probe's verdict (campaigns cannot import
complaints). Running it twice changes nothing but `last_seen_at`.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import asdict, dataclass, field

import dns.exception
import dns.name
import dns.resolver
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.dns import LookupFailed, build_resolver, txt_records
from accounts.models import SenderDomain
from accounts.services import notify
from complaints.models import BlocklistListing, ListingKind

logger = logging.getLogger(__name__)

LISTING_NETWORK = ipaddress.ip_network("127.0.0.0/8")
# Spamhaus's "query refused" return codes (and the rest of their /24, reserved for the same).
ERROR_NETWORK = ipaddress.ip_network("127.255.255.0/24")


class BlocklistQueryError(Exception):
    """The zone could not say whether the name is listed (refused, timed out, odd answer)."""


@dataclass(frozen=True)
class ZoneAnswer:
    """A zone's answer about one name: listed with these return codes and this reason, or not."""

    listed: bool
    codes: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class CheckSummary:
    """What one run of the watch did."""

    checked: int = 0
    listed: int = 0
    opened: int = 0
    cleared: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def ip_query_name(ip: str, zone: str) -> str:
    """`<reversed ip>.<zone>`: octets reversed for IPv4, nibbles for IPv6. Raises ValueError."""
    address = ipaddress.ip_address(ip.strip())
    suffix = ".in-addr.arpa" if address.version == 4 else ".ip6.arpa"
    return f"{address.reverse_pointer.removesuffix(suffix)}.{zone.strip().strip('.')}"


def domain_query_name(domain: str, zone: str) -> str:
    return f"{domain.strip().strip('.')}.{zone.strip().strip('.')}"


def zone_answer(name: str, *, resolver: dns.resolver.Resolver) -> ZoneAnswer:
    """Ask a DNSBL about `name`. Raises BlocklistQueryError when the answer says nothing."""
    try:
        answer = resolver.resolve(name, "A", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return ZoneAnswer(listed=False)
    except (dns.name.NameTooLong, dns.exception.DNSException) as exc:
        raise BlocklistQueryError(f"{name}: {exc.__class__.__name__}") from exc
    codes = sorted({rdata.address for rdata in answer})
    addresses = [ipaddress.ip_address(code) for code in codes]
    refused = [str(a) for a in addresses if a in ERROR_NETWORK]
    if refused:
        raise BlocklistQueryError(f"{name}: the zone refused the query ({', '.join(refused)})")
    outside = [str(a) for a in addresses if a not in LISTING_NETWORK]
    if outside:
        raise BlocklistQueryError(f"{name}: not a blocklist answer ({', '.join(outside)})")
    try:
        reason = " ".join(txt_records(name, resolver=resolver))
    except LookupFailed:
        reason = ""  # The listing stands without its reason.
    return ZoneAnswer(listed=True, codes=tuple(codes), reason=reason[:2000])


def blocklists_check() -> CheckSummary:
    """Ask every configured zone about every sending IP and verified sender domain; open new
    listings, clear gone ones, keep SenderDomain.blocklisted_at in step. Idempotent; a query
    that fails leaves its listing as it was; sending nothing when no zone is configured."""
    summary = CheckSummary()
    ip_zones = _zones(settings.DNSBL_IP_ZONES)
    domain_zones = _zones(settings.DNSBL_DOMAIN_ZONES)
    resolver = build_resolver() if ip_zones or domain_zones else None

    watched_ips: set[tuple[str, str]] = set()
    for ip in settings.SENDING_IPS:
        ip = ip.strip()
        for zone in ip_zones:
            try:
                name = ip_query_name(ip, zone)
            except ValueError:
                summary.errors.append(f"{ip}: not an IP address")
                continue
            watched_ips.add((ip, zone))
            answer = _ask(name, resolver=resolver, summary=summary)
            if answer is not None:
                _record(
                    summary, kind=ListingKind.IP, subject=ip, zone=zone, answer=answer, domain=None
                )

    domains = list(SenderDomain.objects.filter(verified_at__isnull=False).order_by("domain", "pk"))
    answers: dict[tuple[str, str], ZoneAnswer | None] = {}
    for sender_domain in domains:
        for zone in domain_zones:
            key = (sender_domain.domain, zone)
            if key not in answers:  # One question per domain and zone, whatever the accounts.
                answers[key] = _ask(
                    domain_query_name(sender_domain.domain, zone),
                    resolver=resolver,
                    summary=summary,
                )
            answer = answers[key]
            if answer is not None:
                _record(
                    summary,
                    kind=ListingKind.DOMAIN,
                    subject=sender_domain.domain,
                    zone=zone,
                    answer=answer,
                    domain=sender_domain,
                )

    # Listings no longer watched (a zone or IP taken out of the settings, a domain no longer
    # verified) are cleared: nobody would ever see them clear otherwise.
    now = timezone.now()
    domain_ids = {d.pk for d in domains}
    for listing in BlocklistListing.objects.filter(cleared_at__isnull=True):
        if listing.kind == ListingKind.IP:
            watched = (listing.subject, listing.zone) in watched_ips
        else:
            watched = listing.zone in domain_zones and listing.sender_domain_id in domain_ids
        if not watched:
            cleared = BlocklistListing.objects.filter(
                pk=listing.pk, cleared_at__isnull=True
            ).update(cleared_at=now)
            summary.cleared += cleared

    # Only a domain flagged now or with an open listing can need its flag changed: for any
    # other, the sync would write what is already there.
    open_domains = BlocklistListing.objects.filter(
        kind=ListingKind.DOMAIN, cleared_at__isnull=True
    ).values("sender_domain_id")
    touched = SenderDomain.objects.filter(Q(pk__in=open_domains) | Q(blocklisted_at__isnull=False))
    for sender_domain_id in touched.values_list("pk", flat=True):
        _sync_sender_domain(sender_domain_id)
    if summary.errors:
        logger.warning("blocklist watch: %s", "; ".join(summary.errors))
    return summary


def _zones(values: list[str]) -> list[str]:
    return [zone.strip().strip(".").lower() for zone in values if zone.strip().strip(".")]


def _ask(name: str, *, resolver, summary: CheckSummary) -> ZoneAnswer | None:
    summary.checked += 1
    try:
        return zone_answer(name, resolver=resolver)
    except BlocklistQueryError as exc:
        summary.errors.append(str(exc))
        return None


def _record(
    summary: CheckSummary,
    *,
    kind: str,
    subject: str,
    zone: str,
    answer: ZoneAnswer,
    domain: SenderDomain | None,
) -> None:
    now = timezone.now()
    open_listings = BlocklistListing.objects.filter(kind=kind, zone=zone, cleared_at__isnull=True)
    open_listings = (
        open_listings.filter(sender_domain=domain)
        if domain is not None
        else open_listings.filter(subject=subject)
    )
    if not answer.listed:
        summary.cleared += open_listings.update(cleared_at=now)
        return
    summary.listed += 1
    updated = open_listings.update(last_seen_at=now, codes=list(answer.codes), reason=answer.reason)
    if updated:
        return
    with transaction.atomic():
        # The partial unique constraints make a concurrent run's twin fail here: keep theirs.
        _listing, created = BlocklistListing.objects.get_or_create(
            kind=kind,
            zone=zone,
            cleared_at=None,
            **({"sender_domain": domain} if domain is not None else {"subject": subject}),
            defaults={
                "subject": subject,
                "codes": list(answer.codes),
                "reason": answer.reason,
                "first_seen_at": now,
                "last_seen_at": now,
            },
        )
    summary.opened += int(created)
    if created and domain is not None:
        _notify_listed(domain, zone=zone, answer=answer)


def _notify_listed(sender_domain: SenderDomain, *, zone: str, answer: ZoneAnswer) -> None:
    """Tell the account that one of its domains was listed (each reader in their language; the
    blocklist's own words, when it gave any, as it gave them)."""
    params = {"zone": zone, "domain": sender_domain.domain, "codes": ", ".join(answer.codes)}
    if answer.reason:
        params["reason"] = answer.reason
    notify(
        sender_domain.account,
        "accounts.notice.domain_blocklisted_said"
        if answer.reason
        else "accounts.notice.domain_blocklisted",
        link=reverse("sender_domain", args=[sender_domain.pk]),
        level="warning",
        **params,
    )


def _sync_sender_domain(sender_domain_id: int) -> None:
    """SenderDomain.blocklisted_at/blocklist_zones from its open listings (since the oldest)."""
    with transaction.atomic():
        sender_domain = SenderDomain.objects.select_for_update().get(pk=sender_domain_id)
        listings = list(
            BlocklistListing.objects.filter(
                sender_domain=sender_domain, cleared_at__isnull=True
            ).order_by("first_seen_at", "zone")
        )
        zones = sorted({listing.zone for listing in listings})
        since = listings[0].first_seen_at if listings else None
        if sender_domain.blocklisted_at == since and sender_domain.blocklist_zones == zones:
            return
        sender_domain.blocklisted_at = since
        sender_domain.blocklist_zones = zones
        sender_domain.save(update_fields=["blocklisted_at", "blocklist_zones"])


def blocklist_listings_for_account(*, account, recent: int = 20) -> list[BlocklistListing]:
    """The account's sender-domain listings: every open one, then the last `recent` cleared."""
    listings = BlocklistListing.objects.filter(
        kind=ListingKind.DOMAIN, sender_domain__account=account
    ).select_related("sender_domain")
    return list(listings.filter(cleared_at__isnull=True).order_by("subject", "zone")) + list(
        listings.filter(cleared_at__isnull=False).order_by("-cleared_at", "-id")[:recent]
    )


def blocklist_ip_listings(*, recent: int = 50) -> QuerySet[BlocklistListing]:
    """The service's sending-IP listings, open ones first (for moderators)."""
    ids = list(
        BlocklistListing.objects.filter(kind=ListingKind.IP, cleared_at__isnull=True).values_list(
            "pk", flat=True
        )
    ) + list(
        BlocklistListing.objects.filter(kind=ListingKind.IP, cleared_at__isnull=False)
        .order_by("-cleared_at", "-id")
        .values_list("pk", flat=True)[:recent]
    )
    return BlocklistListing.objects.filter(pk__in=ids).order_by(
        F("cleared_at").desc(nulls_first=True), "subject", "zone"
    )


def blocklist_open_domain_listings() -> QuerySet[BlocklistListing]:
    """Every sender domain listed now, with its account (for moderators)."""
    return (
        BlocklistListing.objects.filter(kind=ListingKind.DOMAIN, cleared_at__isnull=True)
        .select_related("sender_domain__account")
        .order_by("subject", "zone", "sender_domain__account__company_name")
    )
