"""Thin Celery tasks for accounts: take ids, call a service."""

from datetime import timedelta

from celery import shared_task


@shared_task(
    name="accounts.send_verification_email",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def send_verification_email(user_id: int, language: str = "") -> bool:
    """E-mail the verification link (in the user's language, else `language`: the page's that
    asked); a no-op for a gone or already verified user."""
    from accounts.services import user_send_verification_email

    return user_send_verification_email(user_id=user_id, language=language)


@shared_task(name="accounts.recheck_sender_domains")
def recheck_sender_domains() -> dict[str, int]:
    """Beat, daily: re-check verified sender domains not checked for a day. Safe to run twice."""
    from accounts.services import sender_domains_recheck

    return sender_domains_recheck(older_than=timedelta(hours=24))


@shared_task(name="accounts.ping")
def ping(payload: str = "pong") -> str:
    """Answer with the payload: lets operators and tests see a worker complete a task."""
    return payload


@shared_task(
    name="accounts.send_notification_email",
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> int:
    """E-mail a notification to its account's users (once)."""
    from accounts.services import notification_send_email

    return notification_send_email(notification_id=notification_id)


@shared_task(name="accounts.deliver_webhook")
def deliver_webhook(delivery_id: int) -> int | None:
    """Make one attempt at a webhook delivery; on a retryable failure, enqueue the next attempt
    with a short countdown (the beat sweeper catches any that get lost). Safe to run twice."""
    from accounts.webhooks import deliver

    retry_in = deliver(delivery_id)
    if retry_in is not None:
        deliver_webhook.apply_async((delivery_id,), countdown=retry_in)
    return retry_in


@shared_task(name="accounts.webhooks_retry_due")
def webhooks_retry_due() -> int:
    """Beat, every minute: re-enqueue pending webhook deliveries whose attempt is overdue."""
    from accounts.webhooks import deliveries_due

    due = deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task(
    name="accounts.send_invitation_email",
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def send_invitation_email(invitation_id: int, language: str = "") -> bool:
    """E-mail a team invitation's link; a no-op for one no longer pending."""
    from accounts.team import invitation_send_email

    return invitation_send_email(invitation_id=invitation_id, language=language)
