"""Welcome messages: one per list, sent once to each person whose subscription is confirmed
(a double opt-in link followed, or a sign-up on a single opt-in list), moderated like a campaign.

The design, chosen so that the send engine and moderation need no second path:

- The content is a `Campaign` of kind "welcome" on the one list. The sender writes it, submits
  it, a moderator approves its frozen version exactly as for any campaign (the queue, the
  analyser, the audit log). Approval does not fix an audience or start a probe: it makes the
  campaign the welcome's `live` one (`welcome_approved`, called by `sending.campaign_approve`).
- Only the live campaign's approved version is ever sent. Editing a welcome whose campaign was
  approved starts a new draft campaign (`welcome_save`); the old live one keeps being sent until
  the new one is approved. A campaign is approved once, so each message's tracked links resolve
  against the very version it was rendered from.
- On confirmation lists.services.optin queues the named task `campaigns.welcome_subscriber`
  after commit (lists may not import campaigns). `welcome_queue_for` writes one pending
  Delivery for the subscriber on the live campaign, under the welcome's row lock and only if
  none of the welcome's campaigns has one for that subscriber: at most one welcome per
  subscriber, whatever the retries. `campaigns.send_welcome` then sends it through the
  ordinary batch sender (`delivery.send_batch`): footer, List-Unsubscribe headers, DKIM,
  suppression checked at send time, crash safety and the sweeper's retries, all as for any
  campaign. Not probe-staged: it goes to one person at a time.
- A frozen account's welcomes are not sent: nothing is queued while it may not send, and a
  message already pending is skipped when its turn comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Account, User
from campaigns import tasks
from campaigns.merge import attribute_keys
from campaigns.models import (
    Campaign,
    CampaignKind,
    Delivery,
    DeliveryStatus,
    WelcomeMessage,
)
from campaigns.providers import provider_of
from campaigns.selectors import DELIVERY_COUNTERS
from campaigns.states import CampaignStatus
from campaigns.versions import approved_version, version_merge_tags
from config.errors import NotFound
from lists.models import MailingList, Subscriber, SubscriberStatus

S = CampaignStatus
# The fields of a welcome the sender writes.
WELCOME_FIELDS = ("subject", "from_name", "from_email", "reply_to", "html_body", "text_body")
# Why a welcome was not sent, in the delivery log.
SKIPPED_FROZEN = "account may not send"


def is_welcome(campaign: Campaign) -> bool:
    return campaign.kind == CampaignKind.WELCOME


def is_live(campaign: Campaign) -> bool:
    """Whether workers may send this welcome campaign's pending messages: approved, and not
    declined, cancelled or paused since (a replaced one still sends what it had queued)."""
    return is_welcome(campaign) and campaign.status == S.APPROVED


# --- reads ---------------------------------------------------------------------------------------


def welcome_for(*, account: Account, list_id: int) -> WelcomeMessage | None:
    """The welcome of the account's list `list_id`, or None (NotFound for another account's
    list or no list)."""
    mailing_list = MailingList.objects.filter(account=account, pk=list_id).first()
    if mailing_list is None:
        raise NotFound("No such list.")
    return (
        WelcomeMessage.objects.select_related("campaign", "live", "live__approved_version")
        .filter(account=account, mailing_list=mailing_list)
        .first()
    )


@dataclass(frozen=True)
class WelcomeStats:
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    complained: int = 0
    hard_bounced: int = 0
    skipped: int = 0
    pending: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


_STAT_NAMES = ("sent", "delivered", "opened", "clicked", "unsubscribed", "complained")


def welcome_stats(*, welcome: WelcomeMessage) -> WelcomeStats:
    """The welcome's own figures, over every version it has sent: one aggregate."""
    counters = {name: DELIVERY_COUNTERS[name] for name in (*_STAT_NAMES, "hard_bounced", "pending")}
    counters["skipped"] = Q(status=DeliveryStatus.SKIPPED)
    counts = Delivery.objects.filter(
        campaign__kind=CampaignKind.WELCOME, campaign__lists=welcome.mailing_list_id
    ).aggregate(**{name: Count("id", filter=condition) for name, condition in counters.items()})
    return WelcomeStats(**counts)


# --- the sender's side ---------------------------------------------------------------------------


def welcome_save(
    *, account: Account, list_id: int, actor: User | None, **fields: str
) -> WelcomeMessage:
    """Write the welcome of the account's list: a new welcome (a draft campaign), the draft
    edited in place (a submitted one is withdrawn first), or, when the campaign being edited
    was approved or stopped, a new draft that needs its own approval while the approved one
    keeps being sent. Refused for a frozen account and invalid content (as any campaign).
    Locks the welcome row."""
    from campaigns.sending import campaign_withdraw
    from campaigns.services import account_ensure_can_send, campaign_create, campaign_update

    account_ensure_can_send(account)
    data: dict[str, Any] = {name: fields[name] for name in WELCOME_FIELDS if name in fields}
    with transaction.atomic():
        mailing_list = (
            MailingList.objects.select_for_update().filter(account=account, pk=list_id).first()
        )
        if mailing_list is None:
            raise NotFound("No such list.")
        welcome = (
            WelcomeMessage.objects.select_for_update()
            .select_related("campaign")
            .filter(mailing_list=mailing_list)
            .first()
        )
        name = (gettext("Welcome: %(list)s") % {"list": mailing_list.name})[:200]
        if welcome is None:
            campaign = campaign_create(
                account=account,
                created_by=actor,
                lists=[mailing_list.pk],
                name=name,
                kind=CampaignKind.WELCOME,
                **data,
            )
            return WelcomeMessage.objects.create(
                account=account, mailing_list=mailing_list, campaign=campaign
            )
        campaign = welcome.campaign
        if campaign.status == S.SUBMITTED:
            campaign = campaign_withdraw(account=account, campaign_id=campaign.pk, actor=actor)
        if campaign.is_editable:
            campaign_update(account=account, campaign_id=campaign.pk, **data)
        else:
            # Approved (live, or replaced), declined or cancelled: a new draft of its content.
            content = {name: getattr(campaign, name) for name in WELCOME_FIELDS}
            content.update(data)
            welcome.campaign = campaign_create(
                account=account,
                created_by=actor,
                lists=[mailing_list.pk],
                name=name,
                kind=CampaignKind.WELCOME,
                **content,
            )
            welcome.save(update_fields=["campaign", "updated_at"])
    saved = welcome_for(account=account, list_id=list_id)
    assert saved is not None  # the list's welcome, saved above
    return saved


def welcome_submit(*, account: Account, list_id: int, actor: User | None) -> WelcomeMessage:
    """Send the welcome's draft to moderation (`sending.campaign_submit`: frozen account,
    unverified sender and blocking findings are refused). Idempotent."""
    from campaigns.sending import campaign_submit

    welcome = welcome_for(account=account, list_id=list_id)
    if welcome is None:
        raise NotFound("This list has no welcome message yet.")
    campaign_submit(account=account, campaign_id=welcome.campaign_id, actor=actor)
    submitted = welcome_for(account=account, list_id=list_id)
    assert submitted is not None  # found above, and a submit deletes nothing
    return submitted


def welcome_approved(campaign: Campaign) -> None:
    """A moderator approved a welcome campaign (`sending.campaign_approve`, in its transaction,
    row locked): it becomes the one sent to new subscribers from now on."""
    WelcomeMessage.objects.filter(
        mailing_list__in=campaign.lists.all(), account_id=campaign.account_id
    ).update(live=campaign, updated_at=timezone.now())


# --- sending ------------------------------------------------------------------------------------


def welcome_queue_for(*, subscriber_id: int) -> Delivery | None:
    """Queue the list's welcome for a subscriber just confirmed: one pending Delivery on the
    live campaign, sent by `campaigns.send_welcome` after commit. Nothing when the subscriber
    is not subscribed, the list has no approved welcome, the account may not send, or any
    version of this welcome was already queued for this subscriber (at most one each: the
    welcome's row lock orders concurrent calls, the unique delivery backs it). Idempotent."""
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_related("mailing_list__account")
            .filter(pk=subscriber_id, status=SubscriberStatus.SUBSCRIBED)
            .first()
        )
        if subscriber is None:
            return None
        welcome = (
            WelcomeMessage.objects.select_for_update(of=("self",))
            .select_related("live__approved_version")
            .filter(mailing_list_id=subscriber.mailing_list_id)
            .first()
        )
        if welcome is None or welcome.live is None or not is_live(welcome.live):
            return None
        if not subscriber.mailing_list.account.can_send:
            return None
        # A subscriber row belongs to one list, and a list has one welcome: any welcome
        # delivery of this row is this welcome's.
        if Delivery.objects.filter(
            subscriber_id=subscriber.pk, campaign__kind=CampaignKind.WELCOME
        ).exists():
            return None
        campaign = welcome.live
        keys = attribute_keys(version_merge_tags(approved_version(campaign)))
        attributes = subscriber.attributes or {}
        if keys is not None:
            attributes = {key: attributes[key] for key in sorted(keys) if key in attributes}
        delivery = Delivery.objects.create(
            campaign=campaign,
            subscriber_id=subscriber.pk,
            provider=str(provider_of(subscriber.email)),
            email=subscriber.email,
            merge_data={
                "name": subscriber.name,
                "phone": subscriber.phone,
                "attributes": attributes,
            },
            status=DeliveryStatus.PENDING,
        )
        transaction.on_commit(lambda: tasks.send_welcome.delay(campaign.pk))
    return delivery


def welcome_skip_pending(*, campaign_id: int, reason: str) -> int:
    """Skip a welcome campaign's messages not handed over yet (its account may not send)."""
    return Delivery.objects.filter(campaign_id=campaign_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SKIPPED, error=reason[:300]
    )


def welcome_summary(welcome: WelcomeMessage) -> dict:
    """The welcome as the API and its page show it: the campaign being edited, the live
    approved version, whether it is being sent, and its figures."""
    campaign = welcome.campaign
    live = welcome.live
    live_shown = None
    if live is not None and live.approved_version is not None:
        live_shown = {
            "campaign_id": live.pk,
            "version": live.approved_version.number,
            "subject": live.approved_version.subject,
            "approved_at": live.approved_at,
        }
    return {
        "list": welcome.mailing_list_id,
        "campaign_id": campaign.pk,
        "status": campaign.status,
        **{name: getattr(campaign, name) for name in WELCOME_FIELDS},
        "findings": campaign.findings or [],
        "moderation_note": campaign.moderation_note_shown,
        "submitted_at": campaign.submitted_at,
        "live": live_shown,
        "is_sending": live is not None
        and live_shown is not None
        and is_live(live)
        and welcome.account.can_send,
        "stats": welcome_stats(welcome=welcome).as_dict(),
        "updated_at": max(welcome.updated_at, campaign.updated_at),
    }
