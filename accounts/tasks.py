"""Thin Celery tasks for accounts: take ids, call a service."""

from datetime import timedelta

from celery import shared_task


@shared_task(
    name="accounts.send_verification_email",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def send_verification_email(user_id: int) -> bool:
    """E-mail the verification link; a no-op for a gone or already verified user."""
    from accounts.services import user_send_verification_email

    return user_send_verification_email(user_id=user_id)


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
