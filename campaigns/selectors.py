"""Reads about campaigns, always scoped to the account asking; previews are reads too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import overload

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import JSONObject, Lower, StrIndex, Substr
from django.db.models.lookups import In
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import Account
from campaigns import segment_selectors, segments
from campaigns.findings import Severity
from campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignTestSend,
    CampaignVersion,
    Delivery,
    DeliveryStatus,
    TrackingEvent,
)
from campaigns.providers import Provider, provider_of
from campaigns.rendering import (
    CampaignContent,
    CompiledCampaign,
    Recipient,
    RenderedMessage,
    compile_campaign,
)
from campaigns.states import FINAL, STOPPED, CampaignStatus
from campaigns.verdict import ProbeFigures
from config.coded_text import render
from config.errors import ApplicationError, NotFound
from lists.addresses import KeyedAddressHash, address_hasher
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    ImportJob,
    MailingList,
    PlatformSuppression,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from lists.selectors import status_counts
from lists.services.suppression import PLATFORM_HASH_ID, SuppressionView


def campaigns_for(*, account: Account, status: str = "") -> QuerySet[Campaign]:
    """The account's campaigns, newest first, optionally of one status. Welcome messages are
    not among them: each lives on its list's welcome page (campaigns.welcome)."""
    queryset = (
        Campaign.objects.filter(account=account)
        .exclude(kind=CampaignKind.WELCOME)
        .prefetch_related("lists", "segments")
    )
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")


def campaign_status_counts(*, account: Account) -> dict[str, int]:
    """How many of the account's campaigns are in each status: every status, zero when none.
    One grouped query. Welcome messages are not counted: the campaigns index they would link to
    does not list them (campaigns_for)."""
    counts = dict.fromkeys(CampaignStatus.values, 0)
    rows = (
        Campaign.objects.filter(account=account)
        .exclude(kind=CampaignKind.WELCOME)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts.update(dict(rows))
    return counts


def campaign_get(*, account: Account, campaign_id: int) -> Campaign | None:
    """The account's campaign `campaign_id`, a welcome message's included (its preview and
    test send are the campaign page's), or None."""
    return (
        Campaign.objects.filter(account=account)
        .prefetch_related("lists")
        .select_related("account", "approved_version")
        .filter(pk=campaign_id)
        .first()
    )


def campaign_content(campaign: Campaign) -> CampaignContent:
    """What the renderer needs of a campaign and its account's identity."""
    account = campaign.account
    return CampaignContent(
        campaign_id=campaign.pk or 0,
        account_id=account.pk,
        subject=campaign.subject,
        from_name=campaign.from_name,
        from_email=campaign.from_email,
        reply_to=campaign.reply_to,
        html_body=campaign.html_body,
        text_body=campaign.text_body,
        company_name=account.company_name,
        postal_address=account.postal_address,
    )


def version_content(version: CampaignVersion, *, account_id: int) -> CampaignContent:
    """What the renderer needs of a frozen version (its campaign's id for the tokens)."""
    return CampaignContent(
        campaign_id=version.campaign_id,
        account_id=account_id,
        subject=version.subject,
        from_name=version.from_name,
        from_email=version.from_email,
        reply_to=version.reply_to,
        html_body=version.html_body,
        text_body=version.text_body,
        company_name=version.company_name,
        postal_address=version.postal_address,
    )


def compiled_campaign(campaign: Campaign) -> CompiledCampaign:
    """The campaign compiled for rendering (cached by its content)."""
    return compile_campaign(campaign_content(campaign))


def recipients_of(subscribers: QuerySet[Subscriber]) -> list[Recipient]:
    """Recipients for these subscribers in one query: their list's settings and the latest
    consent they gave (source and date, for the footer's "why you get this")."""
    latest_consent = ConsentRecord.objects.filter(
        subscriber=OuterRef("pk"), event=ConsentEvent.GRANTED
    ).order_by("-obtained_at", "-id")
    # Only the columns a message uses, as tuples: a send worker reads 500 at a time, and
    # building model instances (every column, every timestamp parsed) cost as much as
    # rendering the messages.
    rows = subscribers.annotate(
        consent_source=Subquery(latest_consent.values("source")[:1]),
        consented_at=Subquery(latest_consent.values("obtained_at")[:1]),
    ).values_list(
        "pk",
        "email",
        "name",
        "phone",
        "attributes",
        "mailing_list_id",
        "mailing_list__name",
        "consent_source",
        "consented_at",
        "subscribed_at",
        "mailing_list__track_opens",
        "mailing_list__track_clicks",
        "mailing_list__language",
    )
    return [
        Recipient(
            subscriber_id=pk,
            email=email,
            name=name,
            phone=phone,
            attributes=attributes or {},
            list_id=list_id,
            list_name=list_name,
            consent_source=consent_source or "",
            consented_at=consented_at or subscribed_at,
            track_opens=track_opens,
            track_clicks=track_clicks,
            language=language,
        )
        for (
            pk,
            email,
            name,
            phone,
            attributes,
            list_id,
            list_name,
            consent_source,
            consented_at,
            subscribed_at,
            track_opens,
            track_clicks,
            language,
        ) in rows
    ]


def sample_recipient(mailing_list: MailingList | None) -> Recipient:
    """A made-up recipient for previews of a campaign whose lists have no subscribers yet."""
    return Recipient(
        subscriber_id=0,
        email="jane.doe@example.com",
        name="Jane Doe",
        phone="",
        attributes={},
        list_id=mailing_list.pk if mailing_list else 0,
        list_name=mailing_list.name if mailing_list else "Your list",
        consent_source=ConsentSource.WEB_FORM,
        consented_at=timezone.now(),
        track_opens=mailing_list.track_opens if mailing_list else True,
        track_clicks=mailing_list.track_clicks if mailing_list else True,
        language=mailing_list.language if mailing_list else "",
    )


@dataclass(frozen=True)
class Preview:
    message: RenderedMessage
    recipient: Recipient
    is_sample: bool


@overload
def preview_recipient(
    *, account: Account, lists: list[MailingList], subscriber_id: None = None
) -> tuple[Recipient, bool]: ...


@overload
def preview_recipient(
    *, account: Account, lists: list[MailingList], subscriber_id: int | None
) -> tuple[Recipient, bool] | None: ...


def preview_recipient(
    *, account: Account, lists: list[MailingList], subscriber_id: int | None = None
) -> tuple[Recipient, bool] | None:
    """The chosen subscriber (who must be on one of `lists`), else the first subscribed one,
    else a made-up sample; with whether it is the sample. None if the chosen one is not there."""
    on_lists = Subscriber.objects.filter(mailing_list__account=account, mailing_list__in=lists)
    if subscriber_id is not None:
        found = recipients_of(on_lists.filter(pk=subscriber_id))
        return (found[0], False) if found else None
    first = recipients_of(
        on_lists.filter(status=SubscriberStatus.SUBSCRIBED).order_by("mailing_list_id", "id")[:1]
    )
    if first:
        return first[0], False
    return sample_recipient(lists[0] if lists else None), True


@overload
def content_preview(
    *,
    account: Account,
    content: CampaignContent,
    lists: list[MailingList],
    subscriber_id: None = None,
) -> Preview: ...


@overload
def content_preview(
    *,
    account: Account,
    content: CampaignContent,
    lists: list[MailingList],
    subscriber_id: int | None,
) -> Preview | None: ...


def content_preview(
    *,
    account: Account,
    content: CampaignContent,
    lists: list[MailingList],
    subscriber_id: int | None = None,
) -> Preview | None:
    """Exactly what the chosen (or a sample) recipient would get of `content`, footer and headers
    included, with test tokens: following its links changes nothing. None if the subscriber is
    not on `lists`. Raises the compile errors (merge tags, CSS, size) naming the field."""
    chosen = preview_recipient(account=account, lists=lists, subscriber_id=subscriber_id)
    if chosen is None:
        return None
    recipient, is_sample = chosen
    message = compile_campaign(content).render(recipient, is_test=True)
    return Preview(message=message, recipient=recipient, is_sample=is_sample)


def campaign_preview(
    *, account: Account, campaign: Campaign, subscriber_id: int | None = None
) -> Preview | None:
    """A saved campaign's preview (see content_preview)."""
    return content_preview(
        account=account,
        content=campaign_content(campaign),
        lists=list(campaign.lists.all()),
        subscriber_id=subscriber_id,
    )


def preview_choices(
    *, account: Account, lists: list[MailingList], limit: int
) -> list[tuple[int, str]]:
    """The first `limit` subscribed subscribers of `lists`, as (id, label), to preview as."""
    if not lists:
        return []
    rows = (
        Subscriber.objects.filter(
            mailing_list__account=account,
            mailing_list__in=lists,
            status=SubscriberStatus.SUBSCRIBED,
        )
        .order_by("mailing_list_id", "id")
        .values_list("pk", "email", "name")[:limit]
    )
    return [(pk, f"{name} <{email}>" if name else email) for pk, email, name in rows]


def test_sends_for(*, account: Account, campaign: Campaign) -> QuerySet[CampaignTestSend]:
    return CampaignTestSend.objects.filter(account=account, campaign=campaign).order_by("-sent_at")


def campaign_has_recipients(*, campaign: Campaign) -> bool:
    """Whether any of the campaign's lists has a subscribed address, or any of its segments
    selects one (one indexed probe, not a count of a million rows)."""
    if Subscriber.objects.filter(
        mailing_list__in=campaign.lists.all(), status=SubscriberStatus.SUBSCRIBED
    ).exists():
        return True
    snapshot = segments.segments_snapshot(campaign.segments.all())
    if not snapshot:
        return False
    return segments.audience_subscribers(
        account_id=campaign.account_id, list_ids=[], segments=snapshot
    ).exists()


def recipient_count(*, campaign: Campaign) -> int:
    """Distinct subscribed addresses across the campaign's lists, before suppression (the
    send resolves the final set when it starts). Addresses are unique within a list, so one
    list's figure comes from the counters the database keeps (a distinct count of a
    million-subscriber list took 800 ms per page view); only several lists are counted. With
    segments, the database counts the whole audience in one query (campaigns.segments)."""
    lists = list(campaign.lists.all())
    if campaign.pk and campaign.segments.exists():
        return segment_selectors.campaign_audience_count(campaign=campaign)
    if len(lists) == 1:
        return status_counts(mailing_list=lists[0])[SubscriberStatus.SUBSCRIBED]
    return (
        Subscriber.objects.filter(mailing_list__in=lists, status=SubscriberStatus.SUBSCRIBED)
        .values("email")
        .distinct()
        .count()
    )


def draft_content(*, account: Account, campaign_id: int = 0, **fields) -> CampaignContent:
    """Unsaved editor content as the renderer takes it, for the live preview."""
    return CampaignContent(
        campaign_id=campaign_id,
        account_id=account.pk,
        subject=fields.get("subject", ""),
        from_name=fields.get("from_name", ""),
        from_email=fields.get("from_email", ""),
        reply_to=fields.get("reply_to", ""),
        html_body=fields.get("html_body", ""),
        text_body=fields.get("text_body", ""),
        company_name=account.company_name,
        postal_address=account.postal_address,
    )


def campaign_findings(campaign: Campaign) -> list[dict]:
    """The content analyser's findings (moderation.analyser, named in settings because campaigns
    does not import moderation), as dicts."""
    analyse = import_string(settings.CONTENT_ANALYSER)
    return [finding.as_dict() for finding in analyse(campaign)]


def finding_shown(finding: dict) -> dict:
    """A stored finding (its reason a code and parameters, or English text from before reasons
    were coded) for a reader: `reason` in the active language, `params` what it was made with."""
    reason = finding.get("reason")
    params = reason.get("params", {}) if isinstance(reason, dict) else {}
    return {**finding, "reason": render(reason), "params": params}


def blocking_findings(findings: list[dict]) -> list[dict]:
    """The findings that stop a campaign from being submitted."""
    return [finding for finding in findings if finding.get("severity") == Severity.BLOCK]


def approved_compiled(campaign: Campaign) -> CompiledCampaign:
    """The approved version compiled for sending (cached by its content): what every message
    of the campaign renders from, whatever was edited since."""
    version = campaign.approved_version
    if version is None:
        raise ValueError(f"campaign {campaign.pk} has no approved version")
    return compile_campaign(version_content(version, account_id=campaign.account_id))


def subject_as_sent(*, campaign: Campaign, subscriber_id: int, is_test: bool) -> str:
    """The subject of the message `subscriber_id` got from `campaign`, merge tags filled as
    sent: from the approved version with the address and merge data fixed for the delivery (a
    test message's from the campaign as it is now, with the subscriber or the preview's
    sample). For the recipient pages, which must never show a raw merge tag."""
    version = campaign.approved_version
    if is_test or version is None:
        compiled = compiled_campaign(campaign)
    else:
        compiled = compile_campaign(version_content(version, account_id=campaign.account_id))
    found = recipients_of(Subscriber.objects.filter(pk=subscriber_id))
    if not found:
        return compiled.subject_for(sample_recipient(campaign.lists.first()))
    recipient = found[0]
    delivery = (
        Delivery.objects.filter(campaign=campaign, subscriber_id=subscriber_id)
        .values_list("email", "merge_data")
        .first()
    )
    if delivery is not None and delivery[0]:
        data = delivery[1] or {}
        recipient = replace(
            recipient,
            email=delivery[0],
            name=data.get("name", ""),
            phone=data.get("phone", ""),
            attributes=data.get("attributes", {}),
        )
    if version is not None and not is_test:
        names = version_list_names(version)
        recipient = replace(recipient, list_name=names.get(recipient.list_id, recipient.list_name))
    return compiled.subject_for(recipient)


def approved_links(campaign: Campaign) -> list[str]:
    """The approved version's tracked links (none before approval)."""
    version = campaign.approved_version
    return list(version.links) if version is not None else []


def approved_link(*, campaign_id: int, index: int) -> str | None:
    """The approved version's `index`-th tracked link, for the click redirect (public: the
    token names the campaign). None for an unknown campaign or link, or a campaign that was
    never approved: the redirect never goes where no moderator looked."""
    return _link_at(_approved_links_of(campaign_id) or (), index)


def _link_at(links, index: int) -> str | None:
    return links[index] if 0 <= index < len(links) else None


def _approved_links_of(campaign_id: int) -> list[str] | None:
    return (
        Campaign.objects.filter(pk=campaign_id, approved_version__isnull=False)
        .values_list("approved_version__links", flat=True)
        .first()
    )


# campaign id -> (the approved version's links, when to look again); per process.
_approved_links_cache: dict[int, tuple[tuple[str, ...], float]] = {}


def approved_link_cached(*, campaign_id: int, index: int) -> str | None:
    """approved_link through a per-process cache of the approved version's links (immutable
    once approved; kept TRACKING_LINKS_CACHE_SECONDS): the click redirect of a campaign being
    read by thousands asks the database once a minute per web process, not once a click. A
    campaign without an approved version is not cached (it has no real click tokens out)."""
    now = time.monotonic()
    cached = _approved_links_cache.get(campaign_id)
    if cached is None or cached[1] <= now:
        links = _approved_links_of(campaign_id)
        if not links:
            return None
        cached = (tuple(links), now + settings.TRACKING_LINKS_CACHE_SECONDS)
        if len(_approved_links_cache) > 10_000:  # a bound, not an eviction policy
            _approved_links_cache.clear()
        _approved_links_cache[campaign_id] = cached
    return _link_at(cached[0], index)


def approved_links_cached(campaign_id: int) -> bool:
    """Whether approved_link_cached answers for the campaign without the database."""
    cached = _approved_links_cache.get(campaign_id)
    return cached is not None and cached[1] > time.monotonic()


def test_link(*, campaign_id: int, index: int) -> str | None:
    """The `index`-th link of the campaign's current content, for the page a preview's or a
    test message's link shows (never a redirect)."""
    campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
    if campaign is None:
        return None
    try:
        links = compiled_campaign(campaign).links
    except ApplicationError:
        return None
    return links[index] if 0 <= index < len(links) else None


def version_list_names(version: CampaignVersion) -> dict[int, str]:
    """{list id: the list's name at submission} for a version's lists and its segments'."""
    names = {}
    for segment in version.segments or []:
        names.update({int(item["id"]): str(item["name"]) for item in segment["lists"]})
    names.update({int(item["id"]): str(item["name"]) for item in version.lists})
    return names


def audience_subscribed(*, list_ids: list[int]) -> QuerySet[Subscriber]:
    """The subscribed subscribers of these lists (an address may be on several)."""
    return Subscriber.objects.filter(
        mailing_list_id__in=list_ids, status=SubscriberStatus.SUBSCRIBED
    )


def audience_first_of_each_address(*, list_ids: list[int]) -> QuerySet[Subscriber]:
    """The subscribed subscribers of these lists, each address once (its oldest subscriber).
    Addresses are stored lower-cased (accounts.addresses.normalise_address) and are unique
    within a list, so one list needs no de-duplication, the common case and the cheap one."""
    return segment_selectors.first_of_each_address(
        audience_subscribed(list_ids=list_ids), list_count=len(list_ids)
    )


def without_suppressed_in_sql(
    subscribers: QuerySet[Subscriber], *, account_id: int
) -> tuple[QuerySet[Subscriber], bool]:
    """`subscribers` without the account's suppressed addresses and the platform's hard bounces,
    matched by the database on their keyed hashes (PostgreSQL), and whether that was done: the
    caller checks in Python what SQL could not (non-ASCII addresses, other databases)."""
    if connection.vendor != "postgresql":
        return subscribers, False
    own = Suppression.objects.filter(
        account_id=account_id,
        email_hash=KeyedAddressHash(OuterRef("email"), account_id=account_id),
    )
    platform = PlatformSuppression.objects.filter(
        email_hash=KeyedAddressHash(OuterRef("email"), account_id=PLATFORM_HASH_ID)
    )
    return subscribers.exclude(Exists(own)).exclude(Exists(platform)), True


def _domain() -> Func:
    return Substr(Lower("email"), StrIndex("email", Value("@")) + 1)


def provider_expression(subscribers: QuerySet[Subscriber]) -> Case:
    """A database expression for each subscriber's mailbox provider (campaigns.providers),
    decided in Python once per distinct domain among `subscribers` (give the plainest
    queryset that covers them: this reads every row once)."""
    domains = subscribers.annotate(domain=_domain()).values_list("domain", flat=True).distinct()
    known: dict[str, list[str]] = {}
    for domain in domains.order_by():
        provider = provider_of(domain)
        if provider != Provider.OTHER:
            known.setdefault(str(provider), []).append(domain)
    whens = [When(In(_domain(), names), then=Value(provider)) for provider, names in known.items()]
    return Case(*whens, default=Value(str(Provider.OTHER)), output_field=CharField())


def merge_data_expression(keys: set[str] | None) -> JSONObject:
    """The merge data a recipient's message may use, as a database expression: name, phone and
    the attributes named in `keys` (all of them for None)."""
    attributes: F | JSONObject
    if keys is None:
        attributes = F("attributes")
    else:
        attributes = JSONObject(**{key: KeyTransform(key, "attributes") for key in sorted(keys)})
    return JSONObject(name=F("name"), phone=F("phone"), attributes=attributes)


def chunks(iterable, size: int) -> Iterator[list]:
    """Lists of up to `size` items of `iterable`, in order."""
    chunk: list = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def joined_since_approval(*, campaign: Campaign) -> int:
    """Subscribers who joined the campaign's lists after it was approved: they wait for the
    next campaign (its audience was fixed at approval)."""
    version = campaign.approved_version
    if version is None or campaign.approved_at is None:
        return 0
    return Subscriber.objects.filter(
        mailing_list_id__in=list(version_list_names(version)),
        status=SubscriberStatus.SUBSCRIBED,
        subscribed_at__gt=campaign.approved_at,
    ).count()


def suppressed_addresses(
    *, account_id: int, emails: list[str], chunk: int = 20_000
) -> dict[str, str]:
    """{email: reason} for those of `emails` (lower-case) the account suppressed, or that
    hard-bounced for any account (reason PLATFORM_HARD_BOUNCE)."""
    digest = address_hasher(account_id)
    view = SuppressionView(account_id=account_id)
    out: dict[str, str] = {}
    for start in range(0, len(emails), chunk):
        hashed = {digest(email): email for email in emails[start : start + chunk]}
        out.update((hashed[found], reason) for found, reason in view.reasons(hashed).items())
    return out


def holds_due(*, now=None) -> list[int]:
    """Campaigns whose hold has ended, oldest first."""
    return list(
        Campaign.objects.filter(
            status=CampaignStatus.HOLDING, hold_until__lte=now or timezone.now()
        )
        .order_by("hold_until")
        .values_list("pk", flat=True)
    )


SENT = Q(status=DeliveryStatus.SENT)
# Refused at hand-over: failed, with the server's answer read as a bounce or a block (the send
# worker sets the time of the one it was). A failure without one (the backend never answered)
# is no evidence about the recipient and is not counted as an attempt.
REFUSED = Q(status=DeliveryStatus.FAILED) & (
    Q(hard_bounced_at__isnull=False)
    | Q(soft_bounced_at__isnull=False)
    | Q(blocked_at__isnull=False)
)
# Handed over: accepted (sent) or refused. Bounces and blocks are counted over these.
ATTEMPTED = SENT | REFUSED
# Every figure of a part of the send (the probe, the whole), as a count of deliveries: what
# the verdict judges and what the stats show, defined once.
DELIVERY_COUNTERS: dict[str, Q] = {
    "recipients": Q(),
    "attempted": ATTEMPTED,
    "sent": SENT,
    "refused": REFUSED,
    "delivered": SENT
    & Q(hard_bounced_at__isnull=True, blocked_at__isnull=True)
    & (Q(soft_bounced_at__isnull=True) | Q(delivered_at__isnull=False)),
    "opened": SENT & Q(opened_at__isnull=False),
    "clicked": SENT & Q(clicked_at__isnull=False),
    "hard_bounced": ATTEMPTED & Q(hard_bounced_at__isnull=False),
    "soft_bounced": ATTEMPTED & Q(soft_bounced_at__isnull=False),
    "blocked": ATTEMPTED & Q(blocked_at__isnull=False),
    "unsubscribed": SENT & Q(unsubscribed_at__isnull=False),
    "complained": SENT & Q(complained_at__isnull=False),
    "failed": Q(status=DeliveryStatus.FAILED),
    "pending": Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
    "possibly_duplicated": Q(possibly_duplicated=True),
    "machine_opened": SENT & Q(machine_opens__gt=0, opened_at__isnull=True),
    "machine_clicked": SENT & Q(machine_clicks__gt=0, clicked_at__isnull=True),
}


@dataclass(frozen=True)
class RecipientHistory:
    """What the account's last campaigns say about a probe's recipients: how many were read,
    how many were sent one of those campaigns and engaged with none as a person (inactive), how
    many were sent none of them, and how many earlier campaigns there were to look at."""

    recipients: int = 0
    inactive: int = 0
    first_time: int = 0
    earlier_campaigns: int = 0


def probe_figures(counts: dict[str, int], history: RecipientHistory | None = None) -> ProbeFigures:
    """The verdict's figures from DELIVERY_COUNTERS' counts (and the recipients' history)."""
    history = history or RecipientHistory()
    return ProbeFigures(
        sent=counts["sent"],
        refused=counts["refused"],
        hard_bounces=counts["hard_bounced"],
        soft_bounces=counts["soft_bounced"],
        blocks=counts["blocked"],
        complaints=counts["complained"],
        unsubscribes=counts["unsubscribed"],
        opens=counts["opened"],
        machine_opens=counts["machine_opened"],
        clicks=counts["clicked"],
        machine_clicks=counts["machine_clicked"],
        recipients=history.recipients,
        inactive=history.inactive,
        first_time=history.first_time,
        earlier_campaigns=history.earlier_campaigns,
    )


def delivery_figures(*, campaign: Campaign, probe_only: bool) -> ProbeFigures:
    """The figures the verdict reads: one aggregate over the deliveries (the probe's, or all),
    and for the probe its recipients' history (`probe_history`)."""
    deliveries = Delivery.objects.filter(campaign=campaign)
    if probe_only:
        deliveries = deliveries.filter(is_probe=True)
    counts = deliveries.aggregate(
        **{name: Count("id", filter=condition) for name, condition in DELIVERY_COUNTERS.items()}
    )
    return probe_figures(counts, probe_history(campaign=campaign) if probe_only else None)


def probe_history(*, campaign: Campaign) -> RecipientHistory:
    """How active the probe's recipients were in the account's last INACTIVE_CAMPAIGNS
    campaigns that sent a probe before this one. A recipient is an address: the same address
    on another of the account's lists is the same person. Engagement is a person's open or
    click (`opened_at` / `clicked_at`; machines' never set them). Four indexed queries, bounded
    by the probe's size (at most PROBE_CAP addresses), whatever the campaigns' sizes."""
    earlier = Campaign.objects.filter(account_id=campaign.account_id, probe_sent_at__isnull=False)
    if campaign.probe_sent_at is not None:
        earlier = earlier.filter(probe_sent_at__lt=campaign.probe_sent_at)
    earlier_ids = list(
        earlier.exclude(pk=campaign.pk)
        .order_by("-probe_sent_at", "-id")
        .values_list("pk", flat=True)[: settings.INACTIVE_CAMPAIGNS]
    )
    as_stored = set(
        Subscriber.objects.filter(
            pk__in=Delivery.objects.filter(campaign=campaign, is_probe=True).values("subscriber_id")
        ).values_list("email", flat=True)
    )
    probe_emails = {email.lower() for email in as_stored}
    if not earlier_ids or not probe_emails:
        return RecipientHistory(
            recipients=len(probe_emails), first_time=len(probe_emails), earlier_campaigns=0
        )
    # Every subscriber row of those addresses on the account's lists, by the (list, email) index
    # (addresses are matched as stored; the comparison below ignores case).
    email_of = dict(
        Subscriber.objects.filter(
            mailing_list__account_id=campaign.account_id, email__in=as_stored
        ).values_list("pk", "email")
    )
    mailed: set[str] = set()
    engaged: set[str] = set()
    for subscriber_id, opened_at, clicked_at in Delivery.objects.filter(
        SENT, campaign_id__in=earlier_ids, subscriber_id__in=list(email_of)
    ).values_list("subscriber_id", "opened_at", "clicked_at"):
        email = email_of[subscriber_id].lower()
        mailed.add(email)
        if opened_at is not None or clicked_at is not None:
            engaged.add(email)
    mailed &= probe_emails
    return RecipientHistory(
        recipients=len(probe_emails),
        inactive=len(mailed - engaged),
        first_time=len(probe_emails - mailed),
        earlier_campaigns=len(earlier_ids),
    )


# --- the send's progress and its links, for the campaign page ----------------------------------

# The staged send as the sender follows it (DESIGN.md rule 7), in order.
PROGRESS_STEPS = ("submitted", "approved", "probe", "hold", "verdict", "release", "done")
# The step a campaign in each status is at: the one under way, or (submitted) the one awaited.
_STEP_OF_STATUS: dict[str, str] = {
    CampaignStatus.SUBMITTED: "approved",
    CampaignStatus.APPROVED: "probe",
    CampaignStatus.PROBING: "probe",
    CampaignStatus.HOLDING: "hold",
    CampaignStatus.REVIEW: "verdict",
    CampaignStatus.RELEASING: "release",
    CampaignStatus.SENT: "done",
}
# The steps at which messages go out, or (done) are tallied: only they count deliveries.
_COUNTED_STEPS = frozenset({"probe", "release", "done"})


@dataclass(frozen=True)
class ProgressStep:
    """One step of the send: `state` is done, current, pending, paused (where a paused campaign
    stopped), stopped (where it was declined or cancelled) or skipped (after a stop)."""

    key: str
    state: str
    at: datetime | None


@dataclass(frozen=True)
class SendProgress:
    """Where a submitted campaign's staged send stands, with the figures each step shows."""

    status: str
    steps: tuple[ProgressStep, ...]
    current: str
    is_final: bool
    recipients: int | None
    probe_size: int | None
    probe_sent: int
    probe_handled: int
    total: int
    sent: int
    handled: int
    hold_until: datetime | None
    hold_over: bool
    verdict: dict
    stop_reason: str = ""

    @property
    def pending(self) -> int:
        return self.total - self.handled

    def step(self, key: str) -> ProgressStep:
        return next(step for step in self.steps if step.key == key)


def send_progress(*, campaign: Campaign, now: datetime | None = None) -> SendProgress | None:
    """The campaign's staged send step by step (None for a draft or a rejected campaign, which
    has none under way). At most two queries, whatever the campaign's size: its deliveries
    counted by status while the probe or the rest goes out and once it is done (never during
    the hold or a review), and for a declined or cancelled campaign the change that stopped it.
    After the release, the probe's figures are its size: all of it was handed over."""
    status = campaign.status
    now = now or timezone.now()
    stop_reason = ""
    stopped_at = None
    if status in STOPPED:
        change = (
            campaign.changes.filter(new_status=status)
            .order_by("-at", "-id")
            .only("old_status", "reason", "reason_code", "at")
        ).first()
        was = change.old_status if change else CampaignStatus.SUBMITTED
        if was == CampaignStatus.PAUSED:
            was = campaign.resume_status or CampaignStatus.APPROVED
        stop_reason, stopped_at = (change.reason_text, change.at) if change else ("", None)
        at_step, state = _STEP_OF_STATUS.get(was, "approved"), "stopped"
    elif status == CampaignStatus.PAUSED:
        at_step = _STEP_OF_STATUS.get(campaign.resume_status, "probe")
        state = "paused"
    elif status in _STEP_OF_STATUS:
        at_step, state = _STEP_OF_STATUS[status], "current"
    else:
        return None
    hold_over = campaign.hold_until is not None and campaign.hold_until <= now
    if at_step == "hold" and hold_over and state == "current":
        # The hold has ended; beat's check judges the probe within a minute.
        at_step = "verdict"
    if status == CampaignStatus.SENT:
        state = "done"

    times = {
        "submitted": campaign.submitted_at,
        "approved": campaign.approved_at,
        "probe": campaign.probe_sent_at,
        "hold": campaign.hold_until,
        "verdict": campaign.judged_at,
        "release": campaign.released_at,
        "done": campaign.finished_at,
    }
    position = PROGRESS_STEPS.index(at_step)
    steps = []
    for index, key in enumerate(PROGRESS_STEPS):
        if index < position:
            step_state, at = "done", times[key]
        elif index == position:
            step_state, at = state, stopped_at if state == "stopped" else times[key]
        else:
            step_state, at = ("skipped" if state == "stopped" else "pending"), None
        steps.append(ProgressStep(key=key, state=step_state, at=at))

    total = sent = unsent = 0
    if campaign.probe_size is not None and at_step in _COUNTED_STEPS:
        # Grouped by status alone, the count reads the (campaign, status, id) index the workers
        # claim by; during the hold or a review nothing goes out, and nothing is counted.
        by_status = dict(
            Delivery.objects.filter(campaign=campaign)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        # The rows waiting for the release are not being sent yet (the probe goes first).
        total = sum(n for key, n in by_status.items() if key != DeliveryStatus.WAITING)
        sent = by_status.get(DeliveryStatus.SENT, 0)
        unsent = by_status.get(DeliveryStatus.PENDING, 0) + by_status.get(DeliveryStatus.SENDING, 0)
    if at_step == "probe" and campaign.released_at is None:
        # While the probe goes out, every delivery is the probe's.
        probe_sent, probe_handled = sent, total - unsent
    else:
        probe_sent = probe_handled = campaign.probe_size or 0
    return SendProgress(
        status=status,
        steps=tuple(steps),
        current=at_step,
        is_final=status in FINAL,
        recipients=campaign.recipients_at_approval,
        probe_size=campaign.probe_size,
        hold_until=campaign.hold_until,
        hold_over=hold_over,
        verdict=campaign.verdict or {},
        stop_reason=stop_reason,
        total=total,
        sent=sent,
        handled=total - unsent,
        probe_sent=probe_sent,
        probe_handled=probe_handled,
    )


@dataclass(frozen=True)
class LinkClicks:
    """One tracked link of a campaign: the recipients who clicked it and their clicks (people
    only), and the clicks set apart as machines' (link scanners, previews)."""

    index: int
    url: str
    people: int
    clicks: int
    machine_clicks: int


def link_clicks(*, campaign: Campaign) -> list[LinkClicks]:
    """Every tracked link of the campaign in the message's order, with its clicks: one grouped
    query over the click events (a recipient's repeated clicks on a link count once in
    `people`; machines' never count there)."""
    version = campaign.approved_version
    links = version.links if version is not None else compiled_campaign(campaign).links
    person = Q(machine_reason="")
    rows = {
        row["link_index"]: row
        for row in TrackingEvent.objects.filter(
            delivery__campaign_id=campaign.pk,
            kind=TrackingEvent.Kind.CLICK,
            link_index__isnull=False,
        )
        .values("link_index")
        .annotate(
            people=Count("delivery_id", filter=person, distinct=True),
            clicks=Count("id", filter=person),
            machine_clicks=Count("id", filter=~person),
        )
        .order_by()
    }
    return [
        LinkClicks(
            index=index,
            url=url,
            people=rows[index]["people"] if index in rows else 0,
            clicks=rows[index]["clicks"] if index in rows else 0,
            machine_clicks=rows[index]["machine_clicks"] if index in rows else 0,
        )
        for index, url in enumerate(links)
    ]


@dataclass(frozen=True)
class GettingStarted:
    """What the account has done of the path from sign-up to a submitted campaign."""

    has_list: bool
    has_subscribers_or_import: bool
    has_campaign: bool
    has_test_send: bool
    has_submitted: bool


def getting_started(*, account: Account) -> GettingStarted:
    """The dashboard checklist's facts about lists and campaigns, in one query."""
    account_ref = OuterRef("pk")
    regular = Campaign.objects.exclude(kind=CampaignKind.WELCOME)
    row = (
        Account.objects.filter(pk=account.pk)
        .annotate(
            has_list=Exists(MailingList.objects.filter(account=account_ref)),
            has_import=Exists(ImportJob.objects.filter(account=account_ref)),
            has_subscriber=Exists(Subscriber.objects.filter(mailing_list__account=account_ref)),
            # A list's welcome message is not the campaign the checklist asks for: the
            # campaigns index its steps link to does not list it (campaigns_for).
            has_campaign=Exists(regular.filter(account=account_ref)),
            has_test_send=Exists(CampaignTestSend.objects.filter(account=account_ref)),
            has_submitted=Exists(regular.filter(account=account_ref, submitted_at__isnull=False)),
        )
        .values(
            "has_list",
            "has_import",
            "has_subscriber",
            "has_campaign",
            "has_test_send",
            "has_submitted",
        )
        .get()
    )
    return GettingStarted(
        has_list=row["has_list"],
        has_subscribers_or_import=row["has_import"] or row["has_subscriber"],
        has_campaign=row["has_campaign"],
        has_test_send=row["has_test_send"],
        has_submitted=row["has_submitted"],
    )


def campaign_locked_for(account: Account, campaign_id: int) -> Campaign:
    """The account's campaign, its row locked (NotFound for another account's)."""
    campaign = (
        Campaign.objects.select_for_update()
        .select_related("account")
        .filter(account=account, pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign
