"""Thin Celery tasks for moderation."""

from celery import shared_task


@shared_task(name="moderation.evaluate_holds")
def evaluate_holds() -> dict[int, str]:
    """Beat, every minute: judge the campaigns whose hold has ended."""
    from moderation.services import holds_evaluate

    return holds_evaluate()
