"""The scheduled retention run (privacy rule 9): every app's purge, each in its own transaction,
with one audit entry that says what went and what the cut-offs were.

Interpretation of "preferences of accounts inactive for months": no model stores user or
account UI preferences (the only cookie is the session). What an account keeps that is
preference rather than record is (1) each subscriber's custom `attributes` (interests, segments
and other fields set by imports and the API, beyond address, name and phone) and (2) the saved
column mappings of its imports. Both are blanked for dormant accounts: none of their users has
logged in or joined, no API token of theirs has been used, and no campaign of theirs has sent
anything in RETENTION_DORMANT_PREFERENCES_DAYS days (90 by default: the policy's "a couple of
months"). Subscribers, their status and consent
records, suppressions and import reports stay, so the lists still work if the account returns.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import retention as accounts_retention
from campaigns import retention as campaigns_retention
from complaints import retention as complaints_retention
from config.coded_text import coded
from lists.services import retention as lists_retention
from moderation.models import AuditAction
from moderation.services import audit

logger = logging.getLogger(__name__)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the last day of a shorter
    month: 31 March minus one month is 28 or 29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Purge:
    """One purge of the run: `run(before, dry_run)` returns how many rows it purged."""

    key: str
    # Completes "Deleted <n> ...": what the count counts.
    what: str
    cutoff: Callable[[datetime], datetime]
    run: Callable[[datetime, bool], int]


def _days(setting: str) -> Callable[[datetime], datetime]:
    return lambda now: now - timedelta(days=getattr(settings, setting))


def _months(setting: str) -> Callable[[datetime], datetime]:
    return lambda now: months_before(now, getattr(settings, setting))


def _dormant(since: datetime):
    return campaigns_retention.dormant_accounts(since=since)


PURGES: tuple[Purge, ...] = (
    Purge(
        "lists.stale_pending_imports",
        "import(s) uploaded but never started",
        lambda now: now - lists_retention.STALE_PENDING_IMPORT_AGE,
        lambda before, dry: lists_retention.stale_pending_imports_purge(before=before, dry_run=dry),
    ),
    Purge(
        "lists.import_files",
        "uploaded import file(s)",
        _days("RETENTION_IMPORT_FILE_DAYS"),
        lambda before, dry: lists_retention.import_files_purge(
            before=before, days=settings.RETENTION_IMPORT_FILE_DAYS, dry_run=dry
        ),
    ),
    Purge(
        "lists.orphaned_import_proofs",
        "import proof file(s) no subscriber's consent rests on",
        _days("RETENTION_IMPORT_FILE_DAYS"),
        lambda before, dry: lists_retention.orphaned_import_proofs_purge(
            before=before, dry_run=dry
        ),
    ),
    Purge(
        "lists.never_confirmed",
        "sign-up(s) never confirmed, with their consent records",
        _days("RETENTION_UNCONFIRMED_DAYS"),
        lambda before, dry: lists_retention.never_confirmed_purge(before=before, dry_run=dry),
    ),
    Purge(
        "campaigns.tracking_events",
        "open and click event(s)",
        _days("RETENTION_TRACKING_DAYS"),
        lambda before, dry: campaigns_retention.tracking_events_purge(before=before, dry_run=dry),
    ),
    Purge(
        "campaigns.consent_candidates",
        "client(s) who never answered a consent request, with their unconfirmed rows",
        _days("CONSENT_REQUEST_KEEP_DAYS"),
        lambda before, dry: campaigns_retention.unanswered_consent_candidates_purge(
            before=before, dry_run=dry
        ),
    ),
    Purge(
        "campaigns.test_sends",
        "test send record(s)",
        _days("RETENTION_TRACKING_DAYS"),
        lambda before, dry: campaigns_retention.test_sends_purge(before=before, dry_run=dry),
    ),
    Purge(
        "complaints.feedback_events",
        "feedback event(s)",
        _days("RETENTION_FEEDBACK_DAYS"),
        lambda before, dry: complaints_retention.feedback_events_purge(before=before, dry_run=dry),
    ),
    Purge(
        "complaints.feedback_dead_letters",
        "report(s) kept as dead letters",
        _days("RETENTION_FEEDBACK_DAYS"),
        lambda before, dry: complaints_retention.feedback_dead_letters_purge(
            before=before, dry_run=dry
        ),
    ),
    Purge(
        "accounts.webhook_deliveries",
        "finished webhook delivery record(s)",
        _days("RETENTION_WEBHOOK_DELIVERY_DAYS"),
        lambda before, dry: accounts_retention.webhook_deliveries_purge(before=before, dry_run=dry),
    ),
    Purge(
        "accounts.notifications",
        "read notification(s)",
        _days("RETENTION_NOTIFICATION_DAYS"),
        lambda before, dry: accounts_retention.notifications_purge(before=before, dry_run=dry),
    ),
    Purge(
        "accounts.sessions",
        "expired session(s)",
        lambda now: now,
        lambda before, dry: accounts_retention.sessions_purge(before=before, dry_run=dry),
    ),
    Purge(
        "lists.dormant_subscriber_attributes",
        "subscribers' attribute set(s) of dormant accounts",
        _days("RETENTION_DORMANT_PREFERENCES_DAYS"),
        lambda before, dry: lists_retention.dormant_subscriber_attributes_purge(
            accounts=_dormant(before), dry_run=dry
        ),
    ),
    Purge(
        "lists.dormant_import_column_maps",
        "saved import column map(s) of dormant accounts",
        _days("RETENTION_DORMANT_PREFERENCES_DAYS"),
        lambda before, dry: lists_retention.dormant_import_column_maps_purge(
            accounts=_dormant(before), dry_run=dry
        ),
    ),
)


def purge_expired(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Run every purge of PURGES and return {key: count}.

    Each purge runs in its own transaction: one that fails is rolled back, logged and left out
    of the result (and named under "failed" in the audit entry), and the others still run.
    Files go from storage after each purge commits. Writes one AuditEntry (action PURGED, no
    actor) with the counts and cut-offs, even when nothing was due. Safe to run twice: the
    second run finds nothing. With `dry_run`, counts what is due and changes nothing (no audit
    entry either).
    """
    now = now or timezone.now()
    counts: dict[str, int] = {}
    cutoffs: dict[str, str] = {}
    failed: list[str] = []
    for purge in PURGES:
        before = purge.cutoff(now)
        cutoffs[purge.key] = before.isoformat()
        try:
            with transaction.atomic():
                counts[purge.key] = purge.run(before, dry_run)
        except Exception:
            # Isolation, not retry: tomorrow's run tries again.
            logger.exception("Retention purge %s failed", purge.key)
            failed.append(purge.key)
            continue
        logger.info(
            "Retention purge %s: %s %d (older than %s)",
            purge.key,
            "would purge" if dry_run else "purged",
            counts[purge.key],
            cutoffs[purge.key],
        )
    if not dry_run:
        audit(
            actor=None,
            action=AuditAction.PURGED,
            reason=coded("moderation.audit.purged", count=sum(counts.values())),
            details={"counts": counts, "cutoffs": cutoffs, "failed": failed, "at": now.isoformat()},
        )
    return counts
