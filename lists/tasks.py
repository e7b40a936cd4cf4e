"""Thin Celery tasks for lists: take ids, call a service."""

from celery import shared_task


@shared_task(
    name="lists.send_confirmation_email",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def send_confirmation_email(subscriber_id: int) -> bool:
    """E-mail the double opt-in link; a no-op unless the subscriber is unconfirmed, or
    unsubscribed and asking to come back (and not suppressed for a complaint or bounce)."""
    from lists.services.optin import subscriber_send_confirmation

    return subscriber_send_confirmation(subscriber_id=subscriber_id)


@shared_task(name="lists.process_subscription_form")
def process_subscription_form(
    list_id: int,
    email: str,
    name: str = "",
    phone: str = "",
    ip: str | None = None,
    user_agent: str = "",
    form_url: str = "",
    language: str = "",
    consent_text: str = "",
) -> str:
    """Handle a form post the page has already answered (its consent and age were checked
    there): add or re-ask the address. A no-op for a list gone since; a second run adds a
    consent record at most, and the confirmation e-mail stays within its resend limit."""
    from lists.models import MailingList
    from lists.services.optin import subscription_form_submit

    mailing_list = MailingList.objects.select_related("account").filter(pk=list_id).first()
    if mailing_list is None:
        return "gone"
    outcome = subscription_form_submit(
        mailing_list=mailing_list,
        email=email,
        consent_given=True,
        adult_confirmed=True,
        name=name,
        phone=phone,
        ip=ip,
        user_agent=user_agent,
        form_url=form_url,
        language=language,
        consent_text=consent_text,
    )
    return outcome.value


@shared_task(name="lists.run_import", acks_late=True)
def run_import(import_id: int) -> str:
    """Import a queued file; after a crash the redelivered task resumes after the last batch."""
    from lists.services.imports import import_run

    return import_run(import_id=import_id)


@shared_task(name="lists.purge_stale_imports")
def purge_stale_imports() -> int:
    """Beat, hourly: drop imports uploaded but never started within a day, and files held for
    a second try past HELD_UPLOAD_SECONDS. Safe to run twice."""
    from datetime import timedelta

    from lists.services.held_uploads import held_uploads_purge
    from lists.services.imports import imports_purge_stale

    held_uploads_purge()
    return imports_purge_stale(older_than=timedelta(hours=24))


@shared_task(name="lists.resume_stalled_imports")
def resume_stalled_imports() -> list[int]:
    """Beat, every 5 minutes: enqueue again imports with no progress for 15 minutes."""
    from datetime import timedelta

    from lists.services.imports import imports_resume_stalled

    return imports_resume_stalled(quiet_for=timedelta(minutes=15))


@shared_task(name="lists.run_export", acks_late=True)
def run_export(export_id: int) -> str:
    """Write a queued export's file; a second delivery finds it claimed and does nothing."""
    from lists.services.export_jobs import export_run

    return export_run(export_id=export_id)


@shared_task(name="lists.tend_exports")
def tend_exports() -> dict[str, int]:
    """Beat, every 5 minutes: delete expired exports and their files; queue again the running
    ones whose worker stopped. Safe to run twice."""
    from lists.services.export_jobs import exports_tend

    return exports_tend()
