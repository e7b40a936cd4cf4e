"""Reads for moderators: the queue, one campaign's dossier, the audit log, accounts' enforcement
records and the abuse reports.

Moderators see every account, so these are not scoped to one; the API and the pages that call
them are for staff only (moderation.permissions)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Mod
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import Account, AccountState
from campaigns.findings import Severity
from campaigns.merge import MergeProgram, merge_context
from campaigns.models import Campaign, CampaignVersion, note_shown
from campaigns.segment_selectors import audience_count
from campaigns.segments import audience_list_ids
from campaigns.selectors import (
    Preview,
    campaign_preview,
    content_preview,
    delivery_figures,
    recipient_count,
    recipients_of,
    version_content,
    version_list_names,
)
from campaigns.states import UNDER_WAY, CampaignStatus
from campaigns.verdict import ProbeFigures
from campaigns.versions import version_merge_tags
from complaints.models import AbuseReport, AbuseStatus
from complaints.selectors import AccountHealth, account_health
from config.errors import ApplicationError
from config.i18n import StrOrPromise
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from lists.selectors import role_address_share, status_counts
from moderation.models import AccountFlag, Appeal, AppealFile, AppealStatus, AuditEntry

S = CampaignStatus
# What a moderator may still stop, paused campaigns (a frozen account's) included.
QUEUE_UNDER_WAY = UNDER_WAY | {S.PAUSED}
# The queue's tabs, as (key, label, statuses).
QUEUE_TABS: tuple[tuple[str, StrOrPromise, frozenset[str]], ...] = (
    ("submitted", pgettext_lazy("queue tab", "Submitted"), frozenset({S.SUBMITTED})),
    ("review", gettext_lazy("In review"), frozenset({S.REVIEW})),
    ("under_way", gettext_lazy("All under way"), QUEUE_UNDER_WAY),
)
# Consent sources are counted over at most about this many subscribers per list: above it, a
# systematic sample (every k-th id) stands for the list.
CONSENT_SAMPLE_SIZE = 2000
# How much of an account's history the dossier shows.
HISTORY_CAMPAIGNS = 20
HISTORY_AUDIT_ENTRIES = 20
NO_CONSENT = "none"


# --- the queue ------------------------------------------------------------------------------------


def campaigns_for_moderation(
    *,
    status: str = "",
    statuses: Collection[str] | None = None,
    search: str = "",
    account_state: str = "",
) -> QuerySet[Campaign]:
    """Campaigns for moderators: of one status (or of `statuses`), by default every campaign
    still under way; submitted first, then those in review, then the rest, each oldest
    submission first. `search` matches the campaign's name or subject, the account's company
    name, or an account or campaign id; `account_state` keeps one state of account."""
    if status:
        statuses = [status]
    elif statuses is None:
        statuses = QUEUE_UNDER_WAY
    matching = Q()
    search = search.strip()
    if search:
        matching = (
            Q(name__icontains=search)
            | Q(subject__icontains=search)
            | Q(account__company_name__icontains=search)
        )
        if search.isdigit():
            matching |= Q(pk=int(search)) | Q(account_id=int(search))
    if account_state:
        matching &= Q(account__state=account_state)
    urgency = Case(
        When(status=S.SUBMITTED, then=Value(0)),
        When(status=S.REVIEW, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        Campaign.objects.filter(matching, status__in=list(statuses))
        .select_related("account")
        .prefetch_related("lists")
        .annotate(urgency=urgency)
        .order_by("urgency", F("submitted_at").asc(nulls_last=True), "created_at", "id")
    )


def campaign_for_moderation(*, campaign_id: int) -> Campaign | None:
    """One campaign of any account, with its account and lists."""
    return (
        Campaign.objects.select_related("account", "submitted_version", "approved_version")
        .prefetch_related("lists")
        .filter(pk=campaign_id)
        .first()
    )


def queue_tab_statuses(tab: str) -> frozenset[str] | None:
    """The statuses shown under a queue tab (None for an unknown tab)."""
    for key, _label, statuses in QUEUE_TABS:
        if key == tab:
            return statuses
    return None


def queue_counts() -> dict[str, int]:
    """How many campaigns each queue tab holds, in one grouped query."""
    per_status = dict(
        Campaign.objects.filter(status__in=QUEUE_UNDER_WAY)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        key: sum(per_status.get(status, 0) for status in statuses)
        for key, _label, statuses in QUEUE_TABS
    }


# --- one campaign's dossier -----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceShare:
    source: str
    label: StrOrPromise
    count: int
    # A fraction; pages write it with the project's one percent format (config.numbers).
    share: float


@dataclass(frozen=True)
class ConsentProof:
    """One proof of consent a list's subscribers share (an import's, a form's), as recorded."""

    source: str
    label: StrOrPromise
    proof: str
    # The record whose proof file a moderator downloads (moderation_consent_proof), if any.
    file_record_id: int | None
    file_name: str
    # How many of the counted subscribers' latest consent rests on it.
    count: int


@dataclass(frozen=True)
class ListConsent:
    """Who a list's subscribers are and how their consent was obtained."""

    mailing_list: MailingList
    subscribed: int
    status_counts: dict[str, int]
    sources: list[SourceShare]
    # How many subscribers the sources were counted over, and whether that was a sample.
    counted: int
    sampled: bool
    role_share: float
    role_dominated: bool
    created_at: datetime
    oldest_subscription: datetime | None
    newest_subscription: datetime | None
    # The proofs behind those sources, the most shared first (at most CONSENT_PROOFS_SHOWN).
    proofs: list[ConsentProof] = field(default_factory=list)

    @property
    def unconsented(self) -> int:
        """Subscribed addresses (of those counted) without any record of given consent."""
        return sum(row.count for row in self.sources if row.source == NO_CONSENT)


@dataclass(frozen=True)
class PreviousCampaign:
    id: int
    name: str
    status: str
    status_label: StrOrPromise
    submitted_at: datetime | None
    created_at: datetime
    verdict_tier: str
    moderation_note: str


@dataclass(frozen=True)
class AccountHistory:
    account: Account
    campaigns: list[PreviousCampaign]
    campaign_count: int
    status_totals: dict[str, int]
    audit_entries: list[AuditEntry]
    open_flags: list[AccountFlag]


@dataclass(frozen=True)
class Dossier:
    """Everything a moderator weighs for one campaign."""

    campaign: Campaign
    findings: list[dict]
    preview: Preview | None
    preview_error: str
    recipient_count: int
    lists: list[ListConsent]
    history: AccountHistory
    probe_figures: ProbeFigures | None
    verdict: dict = field(default_factory=dict)
    # The frozen version shown (the approved one, else the one waiting), if any.
    version: CampaignVersion | None = None
    merge_fields: list[MergeFieldSample] = field(default_factory=list)

    @property
    def findings_by_severity(self) -> dict[str, list[dict]]:
        groups: dict[str, list[dict]] = {severity.value: [] for severity in Severity}
        for finding in self.findings:
            groups.setdefault(finding.get("severity", Severity.INFO.value), []).append(finding)
        return groups


def _source_labels() -> dict[str, StrOrPromise]:
    return {**dict(ConsentSource.choices), NO_CONSENT: gettext_lazy("No record of consent")}


def consent_sources(*, mailing_list: MailingList, subscribed: int) -> tuple[list[SourceShare], int]:
    """The sources of the subscribed subscribers' latest given consent, counted in one grouped
    query: over all of them up to CONSENT_SAMPLE_SIZE, else over every k-th subscriber by id (a
    systematic sample that spans the list's whole history, imports old and new). Returns the
    rows, most common first, and how many subscribers were counted."""
    latest_source = (
        ConsentRecord.objects.filter(subscriber=OuterRef("pk"), event=ConsentEvent.GRANTED)
        .order_by("-obtained_at", "-id")
        .values("source")[:1]
    )
    members = _counted_members(mailing_list, subscribed)
    rows = (
        members.annotate(consent_source=Subquery(latest_source))
        .values("consent_source")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {row["consent_source"] or NO_CONSENT: row["n"] for row in rows}
    counted = sum(counts.values())
    labels = _source_labels()
    shares = [
        SourceShare(
            source=source,
            label=labels.get(source, source),
            count=n,
            share=n / counted if counted else 0.0,
        )
        for source, n in counts.items()
    ]
    shares.sort(key=lambda row: (-row.count, row.source))
    return shares, counted


# The review page shows this many distinct proofs per list (the most shared first).
CONSENT_PROOFS_SHOWN = 8


def _counted_members(mailing_list: MailingList, subscribed: int) -> QuerySet[Subscriber]:
    """The subscribed members the consent make-up is counted over: all of them up to
    CONSENT_SAMPLE_SIZE, else every k-th by id."""
    members = Subscriber.objects.filter(
        mailing_list=mailing_list, status=SubscriberStatus.SUBSCRIBED
    )
    if subscribed > CONSENT_SAMPLE_SIZE:
        stride = math.ceil(subscribed / CONSENT_SAMPLE_SIZE)
        members = members.annotate(id_mod=Mod(F("id"), Value(stride))).filter(id_mod=0)
    return members


def consent_proofs(
    *, mailing_list: MailingList, subscribed: int, limit: int = CONSENT_PROOFS_SHOWN
) -> list[ConsentProof]:
    """The proofs (text and file) of the counted subscribers' latest given consent, grouped:
    an import's thousand rows share one proof. The most shared first, at most `limit`; two
    queries over the same members as consent_sources."""
    latest_id = (
        ConsentRecord.objects.filter(subscriber=OuterRef("pk"), event=ConsentEvent.GRANTED)
        .order_by("-obtained_at", "-id")
        .values("id")[:1]
    )
    members = _counted_members(mailing_list, subscribed).annotate(consent_id=Subquery(latest_id))
    rows = (
        ConsentRecord.objects.filter(pk__in=members.values("consent_id"))
        .values("source", "proof", "proof_file")
        .annotate(n=Count("id"), example=Max("id"))
        .order_by("-n", "source", "-example")[:limit]
    )
    labels = _source_labels()
    return [
        ConsentProof(
            source=row["source"],
            label=labels.get(row["source"], row["source"]),
            proof=row["proof"],
            file_record_id=row["example"] if row["proof_file"] else None,
            file_name=(row["proof_file"] or "").rsplit("/", 1)[-1],
            count=row["n"],
        )
        for row in rows
    ]


def appeal_document(*, file_id: int) -> AppealFile | None:
    """A document sent with an appeal, for a moderator (staff see every account's)."""
    return AppealFile.objects.filter(pk=file_id).first()


def consent_proof_record(*, record_id: int) -> ConsentRecord | None:
    """A consent record with a proof file, for a moderator (staff see every account's)."""
    return ConsentRecord.objects.exclude(proof_file="").filter(pk=record_id).first()


def _subscription_bounds(mailing_list: MailingList) -> tuple[datetime | None, datetime | None]:
    """When the longest- and most recently subscribed members joined: the first and last by id,
    read through the (list, status, id) index instead of scanning the list for min and max."""
    members = Subscriber.objects.filter(
        mailing_list=mailing_list, status=SubscriberStatus.SUBSCRIBED
    )
    oldest = members.order_by("id").values_list("subscribed_at", "created_at").first()
    newest = members.order_by("-id").values_list("subscribed_at", "created_at").first()
    return (
        (oldest[0] or oldest[1]) if oldest else None,
        (newest[0] or newest[1]) if newest else None,
    )


def list_consent(*, mailing_list: MailingList) -> ListConsent:
    """One list's consent make-up: counts from the counters, consent sources, role addresses,
    its age and the span of its subscriptions."""
    counts = status_counts(mailing_list=mailing_list)
    subscribed = counts[SubscriberStatus.SUBSCRIBED]
    sources, counted = consent_sources(mailing_list=mailing_list, subscribed=subscribed)
    share = role_address_share(mailing_list=mailing_list)
    oldest, newest = _subscription_bounds(mailing_list)
    return ListConsent(
        mailing_list=mailing_list,
        subscribed=subscribed,
        status_counts=counts,
        sources=sources,
        counted=counted,
        sampled=subscribed > CONSENT_SAMPLE_SIZE,
        role_share=share,
        role_dominated=share > settings.ROLE_ADDRESS_FLAG_SHARE,
        created_at=mailing_list.created_at,
        oldest_subscription=oldest,
        newest_subscription=newest,
        proofs=consent_proofs(mailing_list=mailing_list, subscribed=subscribed),
    )


def account_history(*, account: Account, exclude_campaign_id: int | None = None) -> AccountHistory:
    """An account's record: its other campaigns (newest first) with status and probe verdict,
    past audit entries, open flags."""
    others = Campaign.objects.filter(account=account)
    if exclude_campaign_id is not None:
        others = others.exclude(pk=exclude_campaign_id)
    status_totals = dict(others.values_list("status").annotate(n=Count("id")).order_by())
    labels = dict(CampaignStatus.choices)
    rows = others.order_by("-created_at", "-id").values(
        "id", "name", "status", "submitted_at", "created_at", "verdict", "moderation_note"
    )[:HISTORY_CAMPAIGNS]
    campaigns = [
        PreviousCampaign(
            id=row["id"],
            name=row["name"],
            status=row["status"],
            status_label=labels.get(row["status"], row["status"]),
            submitted_at=row["submitted_at"],
            created_at=row["created_at"],
            verdict_tier=(row["verdict"] or {}).get("tier", ""),
            moderation_note=note_shown(row["moderation_note"], row["verdict"]),
        )
        for row in rows
    ]
    return AccountHistory(
        account=account,
        campaigns=campaigns,
        campaign_count=sum(status_totals.values()),
        status_totals=status_totals,
        audit_entries=list(audit_log(account_id=account.pk)[:HISTORY_AUDIT_ENTRIES]),
        open_flags=list(
            AccountFlag.objects.filter(account=account, resolved_at__isnull=True).order_by(
                "-created_at"
            )
        ),
    )


# A value a mail client may turn into a link, or markup: moderators look twice at those.
URL_LIKE = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*:|www\.|[a-z0-9-]+\.(?:[a-z]{2,24})(?:[/:?#]|$|\s)|[<>@])"
)
MERGE_SAMPLE_SIZE = 500
MERGE_VALUES_SHOWN = 5


@dataclass(frozen=True)
class MergeValue:
    value: str
    count: int
    url_like: bool


@dataclass(frozen=True)
class MergeFieldSample:
    """One merge tag of the content with the distinct values it takes for a sample of the
    recipients, the most frequent first; `url_like` counts the sampled recipients whose value
    looks like a link, an address or markup."""

    tag: str
    values: list[MergeValue]
    distinct: int
    url_like: int
    sampled: int


def merge_field_samples(
    *, version: CampaignVersion, company_name: str, sample: int = MERGE_SAMPLE_SIZE
) -> list[MergeFieldSample]:
    """What each merge tag of `version` fills in for up to `sample` subscribers of its lists
    (the most recently changed first: an edit made to slip something in shows at the top)."""
    tags = version_merge_tags(version)
    if not tags:
        return []
    program = MergeProgram(tags)
    names = version_list_names(version)
    recipients = recipients_of(
        Subscriber.objects.filter(
            mailing_list_id__in=list(names), status=SubscriberStatus.SUBSCRIBED
        ).order_by("-updated_at", "-id")[:sample]
    )
    counts: list[dict[str, int]] = [{} for _ in tags]
    for recipient in recipients:
        values = program.evaluate(
            merge_context(
                email=recipient.email,
                name=recipient.name,
                phone=recipient.phone,
                attributes=recipient.attributes,
                list_name=names.get(recipient.list_id, recipient.list_name),
                company_name=company_name,
            )
        )
        for index, value in enumerate(values):
            counts[index][value] = counts[index].get(value, 0) + 1
    out = []
    for tag, seen in zip(tags, counts, strict=True):
        ranked = sorted(seen.items(), key=lambda item: (-bool(URL_LIKE.search(item[0])), -item[1]))
        out.append(
            MergeFieldSample(
                tag=tag.source,
                values=[
                    MergeValue(value=value, count=count, url_like=bool(URL_LIKE.search(value)))
                    for value, count in ranked[:MERGE_VALUES_SHOWN]
                ],
                distinct=len(seen),
                url_like=sum(count for value, count in seen.items() if URL_LIKE.search(value)),
                sampled=len(recipients),
            )
        )
    return out


def campaign_dossier(*, campaign_id: int) -> Dossier | None:
    """A moderator's view of one campaign: the analyser's findings as stored when submitted, the
    rendered message (footer included), its lists' consent make-up, the account's history and,
    once the probe went out, its figures and verdict. None for an unknown campaign."""
    campaign = campaign_for_moderation(campaign_id=campaign_id)
    if campaign is None:
        return None
    account = campaign.account
    version = campaign.approved_version or campaign.submitted_version
    lists = list(campaign.lists.all())
    segments = list(version.segments or []) if version is not None else []
    if segments:
        # The segments' lists too: their consent make-up is the audience's (issue 22).
        segment_list_ids = audience_list_ids(list_ids=[], segments=segments)
        lists += [
            mailing_list
            for mailing_list in MailingList.objects.filter(
                account=account, pk__in=segment_list_ids
            ).order_by("name")
            if mailing_list not in lists
        ]
    preview, preview_error = None, ""
    try:
        if version is not None:
            preview = content_preview(
                account=account,
                content=version_content(version, account_id=account.pk),
                lists=lists,
            )
        else:
            preview = campaign_preview(account=account, campaign=campaign)
    except ApplicationError as exc:
        preview_error = exc.message
    has_probe = campaign.probe_size is not None or campaign.probe_sent_at is not None
    return Dossier(
        campaign=campaign,
        findings=list(campaign.findings or []),
        preview=preview,
        preview_error=preview_error,
        recipient_count=(
            audience_count(
                account_id=account.pk,
                list_ids=[int(item["id"]) for item in version.lists],
                segments=segments,
            )
            if segments and version is not None
            else recipient_count(campaign=campaign)
            if lists
            else 0
        ),
        lists=[list_consent(mailing_list=mailing_list) for mailing_list in lists],
        history=account_history(account=account, exclude_campaign_id=campaign.pk),
        probe_figures=delivery_figures(campaign=campaign, probe_only=True) if has_probe else None,
        verdict=dict(campaign.verdict or {}),
        version=version,
        merge_fields=(
            merge_field_samples(version=version, company_name=version.company_name)
            if version is not None
            else []
        ),
    )


# --- the audit log --------------------------------------------------------------------------------


def audit_log(
    *, account_id: int | None = None, campaign_id: int | None = None, action: str = ""
) -> QuerySet[AuditEntry]:
    """Audit entries, newest first, optionally of one account, one campaign and one action."""
    entries = AuditEntry.objects.select_related("actor")
    if account_id is not None:
        entries = entries.filter(account_id=account_id)
    if campaign_id is not None:
        entries = entries.filter(campaign_id=campaign_id)
    if action:
        entries = entries.filter(action=action)
    return entries.order_by("-at", "-id")


# --- accounts: enforcement ------------------------------------------------------------------------

# How many of an account's abuse reports and appeals its page shows.
ACCOUNT_PAGE_REPORTS = 20
ACCOUNT_PAGE_APPEALS = 10
# The accounts list: what needs a moderator first (a pending appeal or an open flag), then by
# state, the most severe first.
_STATE_ORDER = {
    AccountState.FROZEN: 1,
    AccountState.SCHEDULED_FOR_DELETION: 2,
    AccountState.WARNED: 3,
    AccountState.ACTIVE: 4,
    AccountState.DELETED: 5,
}


def appeal_deadline(account: Account) -> datetime | None:
    """Until when a frozen account may appeal its freeze: APPEAL_HOURS after it (None unless
    frozen)."""
    if account.state != AccountState.FROZEN or account.state_changed_at is None:
        return None
    return account.state_changed_at + timedelta(hours=settings.APPEAL_HOURS)


def _with_enforcement_figures(accounts: QuerySet[Account]) -> QuerySet[Account]:
    pending = Appeal.objects.filter(account=OuterRef("pk"), status=AppealStatus.PENDING)
    open_flags = (
        AccountFlag.objects.filter(account=OuterRef("pk"), resolved_at__isnull=True)
        .order_by()
        .values("account")
        .annotate(n=Count("id"))
        .values("n")
    )
    return accounts.annotate(
        has_pending_appeal=Exists(pending),
        open_flag_count=Subquery(open_flags, output_field=IntegerField()),
    )


def accounts_for_moderation(*, state: str = "", flagged: bool = False) -> QuerySet[Account]:
    """Sender accounts for moderators, optionally of one state or only those flagged (an open
    flag or a pending appeal): those waiting for a moderator first, then frozen, scheduled for
    deletion, warned, active and deleted ones, each by company name. Each is annotated with
    `has_pending_appeal` and `open_flag_count` (None for none)."""
    accounts = _with_enforcement_figures(Account.objects.all())
    if state:
        accounts = accounts.filter(state=state)
    if flagged:
        accounts = accounts.filter(Q(has_pending_appeal=True) | Q(open_flag_count__gt=0))
    urgency = Case(
        When(Q(has_pending_appeal=True) | Q(open_flag_count__gt=0), then=Value(0)),
        *[When(state=key, then=Value(rank)) for key, rank in _STATE_ORDER.items()],
        default=Value(9),
        output_field=IntegerField(),
    )
    return accounts.annotate(urgency=urgency).order_by("urgency", "company_name", "id")


def account_for_moderation(*, account_id: int) -> Account | None:
    """One account of any state, with its enforcement figures (see accounts_for_moderation)."""
    return _with_enforcement_figures(Account.objects.filter(pk=account_id)).first()


def account_current_appeal(*, account: Account) -> Appeal | None:
    """The appeal of the account's current freeze, or, when it is no longer frozen, its latest
    appeal (None when there is none)."""
    appeals = Appeal.objects.filter(account=account)
    if account.state == AccountState.FROZEN and account.state_changed_at is not None:
        appeals = appeals.filter(frozen_at=account.state_changed_at)
    return appeals.order_by("-filed_at", "-id").first()


@dataclass(frozen=True)
class AppealState:
    """Where an account stands with its appeal: what the sender's banner and appeal page say."""

    deadline: datetime | None
    appeal: Appeal | None
    # A frozen account, within the window, that has not appealed this freeze yet.
    can_appeal: bool
    # Frozen past the window without an appeal, or already scheduled for deletion.
    window_passed: bool

    @property
    def pending(self) -> bool:
        return self.appeal is not None and self.appeal.status == AppealStatus.PENDING


def appeal_state_for(*, account: Account, now: datetime | None = None) -> AppealState:
    """The account's appeal: its deadline, the appeal of this freeze and whether one may be
    filed now."""
    now = now or timezone.now()
    deadline = appeal_deadline(account)
    appeal = account_current_appeal(account=account)
    if account.state == AccountState.FROZEN:
        filed = appeal is not None
        passed = deadline is None or now > deadline
        return AppealState(
            deadline=deadline,
            appeal=appeal,
            can_appeal=not filed and not passed,
            window_passed=passed and not filed,
        )
    closing = account.state == AccountState.SCHEDULED_FOR_DELETION
    return AppealState(deadline=None, appeal=appeal, can_appeal=False, window_passed=closing)


@dataclass(frozen=True)
class AccountEnforcement:
    """Everything a moderator weighs about one account."""

    account: Account
    health: AccountHealth
    appeal: AppealState
    open_flags: list[AccountFlag]
    appeals: list[Appeal]
    abuse_reports: list[AbuseReport]
    history: AccountHistory

    @property
    def pending_appeal(self) -> Appeal | None:
        return next((a for a in self.appeals if a.status == AppealStatus.PENDING), None)


def account_enforcement(*, account_id: int) -> AccountEnforcement | None:
    """One account's enforcement record: state, health across campaigns, flags, appeals, abuse
    reports, campaigns and audit entries. None for an unknown account."""
    account = account_for_moderation(account_id=account_id)
    if account is None:
        return None
    history = account_history(account=account)
    return AccountEnforcement(
        account=account,
        health=account_health(account=account),
        appeal=appeal_state_for(account=account),
        open_flags=history.open_flags,
        appeals=list(
            Appeal.objects.filter(account=account)
            .select_related("filed_by", "decided_by")
            .order_by("-filed_at", "-id")[:ACCOUNT_PAGE_APPEALS]
        ),
        abuse_reports=list(
            AbuseReport.objects.filter(account=account)
            .select_related("campaign")
            .order_by("-created_at", "-id")[:ACCOUNT_PAGE_REPORTS]
        ),
        history=history,
    )


def appeal_for_moderation(*, appeal_id: int) -> Appeal | None:
    """One appeal of any account, with its account."""
    return Appeal.objects.select_related("account").filter(pk=appeal_id).first()


# --- abuse reports --------------------------------------------------------------------------------


def abuse_reports_for_moderation(*, status: str = "") -> QuerySet[AbuseReport]:
    """Abuse reports of every account (and unmatched ones), optionally of one status: open ones
    first, each newest first, with the matched account and campaign."""
    reports = AbuseReport.objects.select_related("account", "campaign", "resolved_by")
    if status:
        reports = reports.filter(status=status)
    urgency = Case(
        When(status=AbuseStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return reports.annotate(urgency=urgency).order_by("urgency", "-created_at", "-id")


def abuse_report_for_moderation(*, report_id: int) -> AbuseReport | None:
    """One abuse report, with its account and campaign."""
    return abuse_reports_for_moderation().filter(pk=report_id).first()


def abuse_report_counts() -> dict[str, int]:
    """How many abuse reports there are of each status, in one grouped query."""
    per_status = dict(AbuseReport.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: per_status.get(status, 0) for status in AbuseStatus.values}
