"""Retention purge of the complaints app (privacy rule 9): old feedback events.

Deleted, not blanked. A feedback event's lasting effects are elsewhere and stay: the
suppression it caused (account-wide, and the platform-wide hard-bounce hash), the subscriber's
status and consent record, and the Delivery's bounce/complaint/unsubscribe times and counters,
from which account health and campaign figures are computed. What the row adds is the
recipient's address, the provider's text and the recipient's own comment, which the policy
says not to keep. Its (source, event_id) pair only deduplicates a report delivered twice;
providers retry webhooks for hours to days and feedback mailboxes are read every few minutes,
so a cut-off of months loses no deduplication that matters. Abuse reports are moderation
evidence and are not purged here.
"""

from __future__ import annotations

from datetime import datetime

from complaints.models import FeedbackDeadLetter, FeedbackEvent


def feedback_events_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete feedback events received before `before` (by the `received_at` index). One
    set-based DELETE: nothing points at a feedback event. Safe to run twice; call inside a
    transaction."""
    old = FeedbackEvent.objects.filter(received_at__lt=before)
    if dry_run:
        return old.count()
    return old.delete()[0]


def feedback_dead_letters_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete dead letters (reports that could not be applied) kept since before `before`: they
    hold what the report held (the recipient's address, the provider's text) and go when the
    feedback events would have. One set-based DELETE; safe to run twice."""
    old = FeedbackDeadLetter.objects.filter(created_at__lt=before)
    if dry_run:
        return old.count()
    return old.delete()[0]
