"""Retention purges of the campaigns app (privacy rule 9): the raw open and click log, old test
sends, and which accounts count as dormant (nobody logged in, nothing sent).

Each purge takes the cut-off (`before`: what is older goes) and `dry_run` (count, change
nothing), returns how many rows it purged (or would), and is safe to run twice. Call inside a
transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Account
from accounts.retention import accounts_without_use_since
from campaigns.models import Campaign, CampaignTestSend, TrackingEvent


def tracking_events_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete the opens and clicks recorded before `before` (user agents, which link, when).

    The figures live on in each Delivery's counters and first-open/first-click times, which
    this leaves alone. One set-based DELETE: nothing points at a tracking event, so Django
    deletes without loading the rows.
    """
    old = TrackingEvent.objects.filter(at__lt=before)
    if dry_run:
        return old.count()
    return old.delete()[0]


def test_sends_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete the records of test sends made before `before` (the sender's own address, the
    message id). Only the last hour's count the test-send rate limit."""
    old = CampaignTestSend.objects.filter(sent_at__lt=before)
    if dry_run:
        return old.count()
    return old.delete()[0]


def unanswered_consent_candidates_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete the clients a consent request asked who never said yes, with their unconfirmed
    rows, once the request ended before `before` (campaigns.consent_requests)."""
    from campaigns.consent_requests import unanswered_candidates_purge

    return unanswered_candidates_purge(before=before, dry_run=dry_run)


def dormant_accounts(*, since: datetime) -> QuerySet[Account]:
    """Accounts nobody has used since `since`: no user logged in or joined, no API token used
    (see `accounts_without_use_since`), and no campaign sent anything (probe, release, dispatch
    or finish) since then."""
    sent_recently = Campaign.objects.filter(account=OuterRef("pk")).filter(
        Q(probe_sent_at__gte=since)
        | Q(released_at__gte=since)
        | Q(dispatched_at__gte=since)
        | Q(finished_at__gte=since)
    )
    return accounts_without_use_since(since=since).exclude(Exists(sent_recently))
