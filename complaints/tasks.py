"""Thin Celery tasks for complaints."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

DEFAULT_MAILBOX_BATCH = 1000
# A beat run of the one-click sweep applies at most this many batches (of FEEDBACK_BATCH_SIZE).
ONE_CLICK_SWEEP_BATCHES = 50


@shared_task(name="complaints.read_feedback_mailbox")
def read_feedback_mailbox() -> dict:
    """Beat, every 5 minutes: apply the bounces, complaints and mailto: unsubscribes waiting in
    settings.FEEDBACK_MAILBOX (nothing when it is empty), at most FEEDBACK_MAILBOX_BATCH
    messages a run. Safe to run twice: a report already applied is not applied again."""
    from django.conf import settings

    from complaints.mailboxes import MailboxError, describe_location, mailbox_process

    location = settings.FEEDBACK_MAILBOX
    if not location:
        return {}
    limit = getattr(settings, "FEEDBACK_MAILBOX_BATCH", DEFAULT_MAILBOX_BATCH)
    try:
        return mailbox_process(location=location, limit=limit).as_dict()
    except MailboxError as exc:
        # A configuration problem: retrying cannot heal it, the next beat run tries again.
        logger.error("feedback mailbox %s: %s", describe_location(location), exc)
        return {"error": str(exc)}


@shared_task(name="complaints.check_blocklists")
def check_blocklists() -> dict:
    """Beat, every BLOCKLIST_CHECK_SECONDS: ask the DNSBL zones about the sending IPs and the
    verified sender domains and record what is listed (nothing asked with no zone configured).
    Safe to run twice."""
    from complaints.blocklists import blocklists_check

    return blocklists_check().as_dict()


@shared_task(name="complaints.apply_pending_one_clicks")
def apply_pending_one_clicks() -> int:
    """Beat, every minute: the safety net under the events consumer. A one-click unsubscribe
    answered by the hot path is suppressed at once but its subscription ends when a consumer
    applies it; should no consumer run, this applies what is pending, each once (rows a running
    consumer holds are skipped). Returns the rows applied."""
    from complaints.services import one_clicks_pending_apply

    total = 0
    for _ in range(ONE_CLICK_SWEEP_BATCHES):
        handled = one_clicks_pending_apply()
        if not handled:
            break
        total += handled
    return total
