"""Reads about accounts, always scoped to the account asking."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts import dkim
from accounts import dns as sender_dns
from accounts.dns import normalise_domain
from accounts.models import Account, ApiToken, Notification, SenderDomain
from config.coded_text import render


def sender_domains_for(*, account: Account) -> QuerySet[SenderDomain]:
    """The account's sender domains; another account's never appear."""
    return SenderDomain.objects.filter(account=account).order_by("domain")


def sender_domain_get(*, account: Account, domain_id: int) -> SenderDomain | None:
    return sender_domains_for(account=account).filter(pk=domain_id).first()


def sender_domain_for_address(
    *, account: Account, email: str, verified: bool = True
) -> SenderDomain | None:
    """The sender domain of the account's that covers `email`'s domain exactly, if any: only a
    verified one, unless `verified` is False (drafts and test sends need no verification)."""
    try:
        domain = normalise_domain(email.rpartition("@")[2])
    except ValueError:
        return None
    domains = sender_domains_for(account=account).filter(domain=domain)
    if verified:
        domains = domains.filter(verified_at__isnull=False)
    return domains.first()


def api_tokens_for(*, account: Account) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(account=account).select_related("user").order_by("-created_at")


def notifications_for(*, account: Account) -> QuerySet[Notification]:
    """The account's notifications, newest first."""
    return Notification.objects.filter(account=account).order_by("-created_at", "-id")


def unread_notification_count(*, account_id: int) -> int:
    return Notification.objects.filter(account_id=account_id, read_at__isnull=True).count()


def account_by_logo(*, name: str) -> Account | None:
    """The account whose logo is stored under `name` (a random, unguessable key), if any.

    Not scoped to an account: the logo is public, shown on the account's recipient pages."""
    if not name:
        return None
    return Account.objects.filter(logo=name).first()


# A check's status as the domain page shows it: the record is there and right, there but wrong
# (with what we saw), not there, or not looked for yet.
FOUND, WRONG, MISSING, UNCHECKED = "found", "wrong", "missing", "unchecked"
_STATUS_OF_CHECK = {"ok": FOUND, "warning": FOUND, "error": WRONG, "missing": MISSING}


@dataclass
class DnsRecord:
    """One record the domain page asks the sender to publish, and its live check."""

    key: str  # "ownership", "dkim", "dkim_next", "dkim_retired", "spf", "dmarc"
    label: str
    type: str
    name: str
    value: str
    status: str
    seen: list[str] = field(default_factory=list)  # what the last check found at `name`
    messages: list[str] = field(default_factory=list)
    note: str = ""
    copyable: bool = True

    @property
    def is_found(self) -> bool:
        return self.status == FOUND


def _dkim_length_note() -> str:
    return _(
        "The value is longer than 255 characters: most DNS providers split it on their own; "
        "if yours asks, enter it as two quoted strings."
    )


def _check(findings: dict, name: str) -> tuple[str, list[str], list[str]]:
    """The stored check's status, records seen and messages (coded: rendered for the reader)."""
    check = findings.get(name)
    if not check:
        return UNCHECKED, [], []
    messages = [render(message) for message in check["messages"]]
    return _STATUS_OF_CHECK.get(check["status"], WRONG), check["records"], messages


def sender_domain_records(*, sender_domain: SenderDomain) -> list[DnsRecord]:
    """Every record to publish for the domain, each with its last check: the ownership TXT, our
    DKIM key (and a rotation's next key), the SPF record with our include merged into the one
    the domain has, a DMARC record to start with. With an ESP sending, DKIM and SPF are the
    ESP's: the page says so and checks the ESP's selector."""
    domain = sender_domain.domain
    findings = sender_domain.findings or {}
    records = [
        DnsRecord(
            "ownership",
            _("Ownership"),
            "TXT",
            domain,
            sender_domain.txt_record_value,
            *_check(findings, "verification"),
        )
    ]
    if dkim.we_sign() and not sender_domain.signing_public_key:
        records.append(
            DnsRecord(
                "dkim",
                _("DKIM key (we sign with it)"),
                "TXT",
                f"<selector>._domainkey.{domain}",
                _("Made at the next check (Verify now)."),
                UNCHECKED,
                copyable=False,
            )
        )
    if dkim.we_sign() and sender_domain.signing_public_key:
        checked_selector = findings.get("dkim_selector")
        status, seen, messages = _check(findings, "dkim")
        if checked_selector != sender_domain.signing_selector:
            status, seen, messages = UNCHECKED, [], []
        records.append(
            DnsRecord(
                "dkim",
                _("DKIM key (we sign with it)"),
                "TXT",
                f"{sender_domain.signing_selector}._domainkey.{domain}",
                dkim.txt_record_value(sender_domain.signing_public_key),
                status,
                seen,
                messages,
                note=_dkim_length_note(),
            )
        )
        if sender_domain.next_signing_selector:
            status, seen, messages = _check(findings, "dkim_next")
            if findings.get("dkim_next_selector") != sender_domain.next_signing_selector:
                status, seen, messages = UNCHECKED, [], []
            records.append(
                DnsRecord(
                    "dkim_next",
                    _("New DKIM key (rotation)"),
                    "TXT",
                    f"{sender_domain.next_signing_selector}._domainkey.{domain}",
                    dkim.txt_record_value(sender_domain.next_signing_public_key),
                    status,
                    seen,
                    messages,
                    note=_(
                        "Publish it beside the current key. Once a check sees it, we sign with it."
                    ),
                )
            )
        if sender_domain.retired_signing_selector:
            records.append(
                DnsRecord(
                    "dkim_retired",
                    _("Previous DKIM key"),
                    "TXT",
                    f"{sender_domain.retired_signing_selector}._domainkey.{domain}",
                    dkim.txt_record_value(sender_domain.retired_signing_public_key),
                    UNCHECKED,
                    note=_(
                        "We no longer sign with it. Keep it a few days for mail still on its "
                        "way, then remove it."
                    ),
                )
            )
    if dkim.we_sign():
        status, seen, messages = _check(findings, "spf")
        records.append(
            DnsRecord(
                "spf",
                "SPF",
                "TXT",
                domain,
                sender_dns.spf_record_to_publish(seen, settings.SPF_INCLUDE),
                status,
                seen,
                messages,
                note=(
                    _("Replace your SPF record with this one (yours, with our include added).")
                    if sender_dns.spf_records(seen)
                    else ""
                ),
            )
        )
    else:
        status, seen, messages = _check(findings, "dkim")
        records.append(
            DnsRecord(
                "dkim",
                _("DKIM key"),
                "TXT",
                f"{sender_domain.dkim_selector or '<selector>'}._domainkey.{domain}",
                _("The value %(esp)s gives you for this domain") % {"esp": dkim.esp_name()},
                status,
                seen,
                messages,
                note=_(
                    "Mail is sent through %(esp)s, which signs it: publish the DKIM and SPF "
                    "records from your %(esp)s account's domain settings and give the DKIM "
                    "selector below."
                )
                % {"esp": dkim.esp_name()},
                copyable=False,
            )
        )
    status, seen, messages = _check(findings, "dmarc")
    records.append(
        DnsRecord(
            "dmarc",
            "DMARC",
            "TXT",
            f"_dmarc.{domain}",
            seen[0] if status == FOUND and seen else sender_dns.dmarc_record_to_publish(domain),
            status,
            seen,
            messages,
            note=_(
                "p=none only asks for reports; once they show your mail passing, move to "
                "p=quarantine, then p=reject."
            ),
        )
    )
    return records


def sender_domain_records_found(*, sender_domain: SenderDomain) -> bool:
    """Whether every record to publish (but a retired key's) was found by the last check."""
    return all(
        record.is_found
        for record in sender_domain_records(sender_domain=sender_domain)
        if record.key != "dkim_retired"
    )
