"""Consent requests: asking a list's existing clients, once, whether they want its mail (the
anti-spam policies allow existing clients only after "a prior email requesting consent").

The design, chosen for the fewest special cases in the send engine:

- A consent request is a `Campaign` with `kind="consent_request"` on one list. It is created,
  submitted, moderated (a frozen version), approved, probed, held, judged and released exactly
  like any campaign; only three things differ, each in one place:
  1. its content is never the sender's: `consent_request_content` writes it from a fixed
     template (the list's purpose, the company and its postal address, a "Yes, keep me
     informed" button) with one short intro line the sender may set; it is written when the
     request is created and again at submission (`sending.campaign_submit`), so an edit in the
     editor never reaches moderators;
  2. its audience is its candidates, not the list's subscribers (`candidate_audience`, used by
     `sending._fix_audience`; `delivery._recipients_as_approved` sends to rows still unconfirmed);
  3. the button's address is a per-recipient slot of the renderer (`rendering.CONSENT_BUTTON_URL`
     in the content becomes a signed `/k/<token>/` link for each message).
- Each uploaded client is a `ConsentCandidate` plus an `unconfirmed` Subscriber row of the list
  (Delivery needs a subscriber). Nothing else mails unconfirmed rows: regular campaigns take
  only `subscribed` ones and no double opt-in message is sent for them. Addresses the list
  already holds (in any status) or the account suppressed are refused, with the reason shown.
- The button's page asks once more (a POST: link scanners follow GETs) and
  `consent_request_confirm` subscribes the row with a `client_reconfirmed` ConsentRecord holding
  the click's time, IP and user agent and the purpose shown. The others are never mailed again
  by that request (one delivery per campaign and subscriber) and `unanswered_candidates_purge`
  deletes their rows, and every candidate, CONSENT_REQUEST_KEEP_DAYS after the request ended.
- The probe is judged like any campaign's except for unsubscribes, one way of answering "no":
  `verdict_thresholds` gives them looser levels (CONSENT_REQUEST_UNSUBSCRIBE_*). Complaints keep
  the general levels, already at the large providers' (a complaint from a client asked once
  says as much about the list as any other).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.addresses import InvalidAddress, normalise_address
from accounts.models import Account, User, WebhookEvent
from campaigns import selectors
from campaigns.models import Campaign, CampaignKind, CandidateStatus, ConsentCandidate
from campaigns.rendering import CONSENT_BUTTON_URL, CONSENT_LINK_SALT
from campaigns.states import CampaignStatus
from campaigns.verdict import Levels, Thresholds
from config.errors import ApplicationError, NotFound
from lists import parsers
from lists.models import (
    ConsentEvent,
    ConsentSource,
    MailingList,
    Subscriber,
    SubscriberStatus,
    is_role_address,
)
from lists.services.consent import (
    AgeConfirmedBy,
    consent_record_add,
    proof_with_age_confirmation,
)
from lists.services.subscribers import (
    subscriber_create,
    subscriber_emit_event,
    subscribers_delete,
)

INTRO_MAX_CHARS = 300
# Addresses written per pair of INSERTs when candidates are uploaded.
UPLOAD_CHUNK = 1000
# Requests still under way keep their candidates whatever their age.
_ENDED = (CampaignStatus.SENT, CampaignStatus.DECLINED, CampaignStatus.CANCELLED)


def is_consent_request(campaign: Campaign) -> bool:
    return campaign.kind == CampaignKind.CONSENT_REQUEST


def _intro_checked(intro: str) -> str:
    intro = " ".join((intro or "").split())
    if len(intro) > INTRO_MAX_CHARS:
        raise ApplicationError(
            gettext("The intro line may have at most %(count)s characters.")
            % {"count": INTRO_MAX_CHARS},
            field="consent_intro",
        )
    return intro


def consent_request_content(
    *, account: Account, mailing_list: MailingList, intro: str
) -> dict[str, str]:
    """The subject, HTML and text of a consent request from the fixed template: what the
    list is for, who asks, and the button (rendering fills in each recipient's link)."""
    context = {
        "company_name": account.company_name,
        "postal_address": account.postal_address,
        "list_name": mailing_list.name,
        "purpose": mailing_list.purpose,
        "intro": intro,
        "button_url": CONSENT_BUTTON_URL,
    }
    # Written in the list's language, whoever in the sender's team asks.
    with translation.override(mailing_list.language or settings.LANGUAGE_CODE):
        return {
            "subject": gettext("%(company)s asks: may we keep writing to you?")
            % {"company": account.company_name},
            "html_body": render_to_string("campaigns/email/consent_request.html", context),
            "text_body": render_to_string("campaigns/email/consent_request.txt", context).strip(),
        }


def consent_request_create(
    *,
    account: Account,
    created_by: User | None,
    mailing_list_id: int,
    from_name: str,
    from_email: str,
    intro: str = "",
) -> Campaign:
    """A draft consent request for one of the account's lists, its content from the fixed
    template. Refused like any campaign (frozen account), and, unlike a draft, for a From
    address not on a verified sender domain: a consent request is made to be sent as it is
    (its upload writes candidate subscribers), so it is not started before DNS is done."""
    from campaigns.services import (
        account_ensure_can_send,
        campaign_create,
        sender_address_checked,
    )

    account_ensure_can_send(account)
    from_email = sender_address_checked(account, from_email)
    mailing_list = MailingList.objects.filter(account=account, pk=mailing_list_id).first()
    if mailing_list is None:
        raise NotFound("No such list.")
    intro = _intro_checked(intro)
    content = consent_request_content(account=account, mailing_list=mailing_list, intro=intro)
    return campaign_create(
        account=account,
        created_by=created_by,
        lists=[mailing_list.pk],
        name=(gettext("Consent request: %(list)s") % {"list": mailing_list.name})[:200],
        from_name=from_name,
        from_email=from_email,
        kind=CampaignKind.CONSENT_REQUEST,
        consent_intro=intro,
        **content,
    )


def _the_list(campaign: Campaign) -> MailingList:
    """The one list a consent request is made for (it is created with it)."""
    mailing_list = campaign.lists.order_by("pk").first()
    if mailing_list is None:
        raise ValueError(f"consent request {campaign.pk} has no list")
    return mailing_list


def consent_request_refresh_content(campaign: Campaign) -> None:
    """Write the fixed template back into a consent request's content fields (in memory):
    whatever was edited, submission freezes only the template."""
    mailing_list = _the_list(campaign)
    content = consent_request_content(
        account=campaign.account, mailing_list=mailing_list, intro=campaign.consent_intro
    )
    for name, value in content.items():
        setattr(campaign, name, value)
    campaign.save(update_fields=[*content, "updated_at"])


def request_of(*, account: Account, campaign_id: int) -> Campaign:
    """The account's consent request `campaign_id`, or NotFound."""
    campaign = (
        Campaign.objects.filter(account=account, pk=campaign_id, kind=CampaignKind.CONSENT_REQUEST)
        .prefetch_related("lists")
        .first()
    )
    if campaign is None:
        raise NotFound("No such consent request.")
    return campaign


@dataclass
class CandidateUpload:
    added: int = 0
    # (row number, address as written, why it was refused)
    refused: list[tuple[int, str, str]] = field(default_factory=list)


def consent_candidates_upload(
    *, account: Account, campaign_id: int, path: Path, filename: str
) -> CandidateUpload:
    """Read a file of existing clients (any import format) into the request's candidates: each
    new address becomes an unconfirmed row of the list. Refused rows (not an address, twice in
    the file, already in the list, suppressed) are reported, not added. Only while the request
    is a draft; running it twice adds nothing twice."""
    campaign = request_of(account=account, campaign_id=campaign_id)
    if not campaign.is_editable:
        raise ApplicationError(
            gettext("Candidates can only be added before the request is submitted.")
        )
    mailing_list = _the_list(campaign)
    fmt = parsers.detect_format(filename=filename, path=path)
    parsers.check_file(path=path, fmt=fmt, max_bytes=settings.IMPORT_MAX_BYTES)
    rows: list[tuple[int, str, str, str]] = []
    with parsers.open_table(path=path, fmt=fmt) as table:
        table_rows = list(table.rows)
        mapping = parsers.guess_column_map(table.header, [cells for _, cells in table_rows[:20]])
    if "email" not in mapping:
        raise ApplicationError(gettext("No column of e-mail addresses was found."), field="file")
    email_at, name_at = mapping["email"], mapping.get("name")
    report = CandidateUpload()
    for row_number, cells in table_rows:
        written = cells[email_at] if email_at < len(cells) else ""
        name = cells[name_at] if name_at is not None and name_at < len(cells) else ""
        try:
            email = normalise_address(written)
        except InvalidAddress:
            report.refused.append((row_number, written, gettext("Not an e-mail address")))
            continue
        rows.append((row_number, written, email, name))
    suppressed = selectors.suppressed_addresses(
        account_id=account.pk, emails=[email for _, _, email, _ in rows]
    )
    accepted: list[tuple[int, str, str, str]] = []
    seen: set[str] = set()
    for row in rows:
        email = row[2]
        if email in seen:
            report.refused.append((row[0], row[1], gettext("Twice in the file")))
        elif email in suppressed:
            reason = gettext("Suppressed (unsubscribed, bounced or complained)")
            report.refused.append((row[0], row[1], reason))
        else:
            accepted.append(row)
        seen.add(email)
    for start in range(0, len(accepted), UPLOAD_CHUNK):
        _add_candidates(campaign, mailing_list, accepted[start : start + UPLOAD_CHUNK], report)
    report.refused.sort()
    return report


def verdict_thresholds(campaign: Campaign) -> Thresholds:
    """The levels a campaign's probe is judged by: a consent request's unsubscribes are
    answers ("no"), so they have looser levels of their own (CONSENT_REQUEST_UNSUBSCRIBE_*);
    complaints, bounces and blocks are judged as for any campaign."""
    thresholds = Thresholds.from_settings()
    if not is_consent_request(campaign):
        return thresholds
    return replace(
        thresholds,
        unsubscribes=Levels(
            warn=settings.CONSENT_REQUEST_UNSUBSCRIBE_WARN,
            review=settings.CONSENT_REQUEST_UNSUBSCRIBE_REVIEW,
        ),
    )


def _add_candidates(
    campaign: Campaign,
    mailing_list: MailingList,
    rows: list[tuple[int, str, str, str]],
    report: CandidateUpload,
) -> None:
    """One chunk of accepted rows: an unconfirmed row and a candidate for each address the list
    does not hold, in two bulk INSERTs; row by row when an address arrived meanwhile."""
    present = set(
        Subscriber.objects.filter(
            mailing_list=mailing_list, email__in=[email for _, _, email, _ in rows]
        ).values_list("email", flat=True)
    )
    new = []
    for row_number, written, email, name in rows:
        if email in present:
            report.refused.append((row_number, written, gettext("Already in the list")))
        else:
            new.append((row_number, written, email, name))
    try:
        with transaction.atomic():
            subscribers = Subscriber.objects.bulk_create(
                [
                    Subscriber(
                        mailing_list=mailing_list,
                        email=email,
                        name=(name or "").strip()[:200],
                        is_role_address=is_role_address(email),
                        status=SubscriberStatus.UNCONFIRMED,
                    )
                    for _, _, email, name in new
                ]
            )
            _candidates_for(campaign, mailing_list, subscribers)
        report.added += len(new)
        return
    except IntegrityError:  # an address added meanwhile (another upload, a sign-up)
        pass
    for row_number, written, email, name in new:
        try:
            with transaction.atomic():
                subscriber = subscriber_create(
                    mailing_list=mailing_list, email=email, confirmed=False, name=name
                )
                _candidates_for(campaign, mailing_list, [subscriber])
        except IntegrityError:
            report.refused.append((row_number, written, gettext("Already in the list")))
            continue
        report.added += 1


def _candidates_for(
    campaign: Campaign, mailing_list: MailingList, subscribers: list[Subscriber]
) -> None:
    ConsentCandidate.objects.bulk_create(
        [
            ConsentCandidate(
                campaign=campaign,
                mailing_list=mailing_list,
                subscriber=subscriber,
                email=subscriber.email,
                name=subscriber.name,
            )
            for subscriber in subscribers
        ]
    )


def waiting_candidates(campaign: Campaign) -> QuerySet[ConsentCandidate]:
    return ConsentCandidate.objects.filter(campaign=campaign, status=CandidateStatus.WAITING)


def candidate_audience(campaign: Campaign) -> QuerySet[Subscriber]:
    """A consent request's audience: the unconfirmed rows of its unanswered candidates."""
    return Subscriber.objects.filter(
        pk__in=waiting_candidates(campaign).values("subscriber_id"),
        status=SubscriberStatus.UNCONFIRMED,
    )


def consent_link_data(token: str) -> tuple[int, int, bool]:
    """(campaign id, subscriber id, is a test) of a button link, or NotFound."""
    try:
        campaign_id, subscriber_id, is_test = signing.loads(token, salt=CONSENT_LINK_SALT)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise NotFound("Not a valid link.") from exc
    return int(campaign_id), int(subscriber_id), bool(is_test)


def candidate_for_link(token: str) -> ConsentCandidate:
    """The candidate a (real, not test) button link names, or NotFound."""
    campaign_id, subscriber_id, is_test = consent_link_data(token)
    candidate = (
        ConsentCandidate.objects.select_related("campaign__account", "mailing_list")
        .filter(
            campaign_id=campaign_id,
            subscriber_id=subscriber_id,
            campaign__kind=CampaignKind.CONSENT_REQUEST,
        )
        .first()
    )
    if candidate is None or is_test:
        raise NotFound("Not a valid link.")
    return candidate


def consent_request_confirm(
    *, token: str, ip: str | None, user_agent: str = "", age_confirmed: bool = False
) -> ConsentCandidate:
    """The client pressed "Yes": their row is subscribed with a `client_reconfirmed` consent
    record (time, IP, user agent, the purpose shown; on an adult list the age confirmation,
    without which the yes is refused). Idempotent; locks the candidate. Refused (NotFound) for
    a bad link, and (ApplicationError) once the address left the list."""
    candidate = candidate_for_link(token)
    with transaction.atomic():
        candidate = ConsentCandidate.objects.select_for_update().get(pk=candidate.pk)
        if candidate.status == CandidateStatus.CONFIRMED:
            return candidate
        subscriber = (
            Subscriber.objects.select_for_update()
            .select_related("mailing_list")
            # (No subscriber id: erased, as no row's is 0.)
            .filter(pk=candidate.subscriber_id or 0, status=SubscriberStatus.UNCONFIRMED)
            .first()
        )
        if subscriber is None:
            raise ApplicationError(
                gettext("This address is no longer waiting for an answer on this list.")
            )
        if subscriber.mailing_list.adult_content and not age_confirmed:
            raise ApplicationError(
                gettext("This list is for adults: confirm that you are 18 or older."),
                field="age_confirmed",
            )
        now = timezone.now()
        subscriber.status = SubscriberStatus.SUBSCRIBED
        subscriber.subscribed_at = now
        subscriber.save(update_fields=["status", "subscribed_at", "updated_at"])
        campaign = candidate.campaign
        consent_record_add(
            subscriber=subscriber,
            event=ConsentEvent.GRANTED,
            source=ConsentSource.CLIENT_RECONFIRMED,
            obtained_at=now,
            ip=ip,
            user_agent=user_agent,
            purpose_text=subscriber.mailing_list.purpose,
            proof=proof_with_age_confirmation(
                mailing_list=subscriber.mailing_list,
                proof=(
                    f"Answered consent request {campaign.pk} (version "
                    f"{campaign.approved_version_id}) with its Yes button."
                ),
                how=AgeConfirmedBy.CONSENT_REQUEST,
            ),
        )
        subscriber_emit_event(
            subscriber,
            WebhookEvent.SUBSCRIBER_SUBSCRIBED,
            previous_status=SubscriberStatus.UNCONFIRMED,
            channel="consent_request",
        )
        candidate.status = CandidateStatus.CONFIRMED
        candidate.confirmed_at = now
        candidate.ip = ip or None
        candidate.user_agent = (user_agent or "")[:500]
        candidate.save(update_fields=["status", "confirmed_at", "ip", "user_agent"])
    return candidate


def unanswered_candidates_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete the unconfirmed rows of the clients who never said yes, and every candidate
    (their addresses: the proof of a yes is its consent record), once the request ended
    (sent, declined, cancelled) before `before`, or is a draft nobody touched since; and any
    candidate whose row was erased. Returns how many candidates (would) go. Safe to run twice."""
    stale = candidates_before(before)
    # A candidate whose row is gone (erased on request, or the list's never-confirmed purge)
    # goes at once: it would be the only copy of the address left.
    orphaned = ConsentCandidate.objects.exclude(
        Exists(Subscriber.objects.filter(pk=OuterRef("subscriber_id")))
    )
    if dry_run:
        return stale.count() + orphaned.exclude(pk__in=stale.values("pk")).count()
    subscribers_delete(
        Subscriber.objects.filter(
            pk__in=stale.filter(status=CandidateStatus.WAITING).values("subscriber_id"),
            status=SubscriberStatus.UNCONFIRMED,
        )
    )
    return stale.delete()[0] + orphaned.delete()[0]


def candidates_before(before: datetime) -> QuerySet[ConsentCandidate]:
    """The candidates of consent requests that ended, or were left as drafts, before `before`."""
    ended = Q(campaign__status__in=_ENDED, campaign__finished_at__lt=before)
    abandoned = Q(
        campaign__status__in=(CampaignStatus.DRAFT, CampaignStatus.REJECTED),
        campaign__updated_at__lt=before,
    )
    return ConsentCandidate.objects.filter(ended | abandoned)
