"""Thin Celery tasks for moderation."""

from celery import shared_task


@shared_task(name="moderation.evaluate_holds")
def evaluate_holds() -> dict[int, str]:
    """Beat, every minute: judge the campaigns whose hold has ended."""
    from moderation.services import holds_evaluate

    return holds_evaluate()


@shared_task(name="moderation.purge_expired")
def purge_expired() -> dict[str, int]:
    """Beat, daily: run the retention purges (rule 9) and audit their counts. Safe to run
    twice: the second run finds nothing due."""
    from moderation.retention import purge_expired as run_purges

    return run_purges()


# How far back the health check looks for new feedback: well over its beat interval (300 s), so a
# run that was late or failed is covered by the next.
HEALTH_CHECK_LOOKBACK_SECONDS = 3600


@shared_task(name="moderation.check_account_health")
def check_account_health(account_id: int | None = None) -> list[int]:
    """Beat, every 5 minutes: check the health of the accounts with new bounces, complaints or
    resolved abuse reports in the last hour (or of `account_id` alone); over the limits, an
    active account is warned and flagged. Idempotent. Returns the ids over the limits."""
    from datetime import timedelta

    from django.utils import timezone

    from complaints.selectors import HealthStatus
    from moderation.enforcement.health import account_health_check, accounts_health_check

    if account_id is not None:
        health = account_health_check(account_id=account_id)
        return [account_id] if health and health.status == HealthStatus.OVER_LIMIT else []
    since = timezone.now() - timedelta(seconds=HEALTH_CHECK_LOOKBACK_SECONDS)
    return accounts_health_check(since=since)


@shared_task(name="moderation.expire_appeal_windows")
def expire_appeal_windows() -> list[int]:
    """Beat, every 5 minutes: schedule for deletion the frozen accounts that did not appeal
    within APPEAL_HOURS. Idempotent. Returns the ids scheduled."""
    from moderation.enforcement.appeals import appeal_windows_expire

    return appeal_windows_expire()


@shared_task(name="moderation.delete_due_accounts")
def delete_due_accounts() -> list[int]:
    """Beat, hourly: delete the data of the accounts whose deletion is due. Idempotent.
    Returns the ids deleted."""
    from moderation.enforcement.deletion import accounts_delete_due

    return accounts_delete_due()
