"""The lists app's step of deleting an account's data (config.account_data): its lists with
their subscribers, consent records and proof files, and its imports with their files. The
suppressions stay, with the address blanked: the keyed hash still stops any mailing."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Account
from config.account_data import AccountDataStep, deleted
from lists.models import (
    ConsentRecord,
    ExportJob,
    ImportJob,
    ImportRowIssue,
    MailingList,
    Subscriber,
    SubscriberChange,
    SubscriberCount,
    SubscriberTag,
    Suppression,
    Tag,
)
from lists.services.export_jobs import exports_delete
from lists.services.subscribers import subscribers_delete


def account_data_delete(*, account: Account) -> dict[str, int]:
    """Delete the account's lists, subscribers (set-based: subscribers_delete), consent records,
    imports and exports and their files (after commit); blank the addresses of its
    suppressions. Runs inside the caller's transaction, after the campaigns' step (campaigns
    point at lists)."""
    subscribers = Subscriber.objects.filter(mailing_list__account=account)
    counts = {
        "consent_records": ConsentRecord.objects.filter(
            subscriber_id__in=subscribers.values("pk")
        ).count(),
        "subscribers": subscribers_delete(subscribers),
    }
    imports = ImportJob.objects.filter(account=account)
    files: list[tuple[Any, str]] = []  # (a FileField, a stored name)
    for job_file, proof_file in imports.values_list("file", "proof_file"):
        files += [(ImportJob._meta.get_field("file"), job_file)] if job_file else []
        files += [(ImportJob._meta.get_field("proof_file"), proof_file)] if proof_file else []
    deleted(ImportRowIssue.objects.filter(import_job__account=account))
    # Consent records left pointing at these imports were deleted with their subscribers.
    counts["imports"] = deleted(imports)
    # Export files hold subscribers and their consent: they go too (after commit).
    counts["exports"] = exports_delete(jobs=ExportJob.objects.filter(account=account))
    deleted(SubscriberCount.objects.filter(mailing_list__account=account))
    counts["lists"] = deleted(MailingList.objects.filter(account=account))
    # Their tag links went with the subscribers (subscribers_delete); the account's tags go now.
    counts["tags"] = deleted(Tag.objects.filter(account=account))
    counts["suppressions_kept"] = Suppression.objects.filter(account=account).count()
    Suppression.objects.filter(account=account).exclude(email="").update(email="")

    def delete_files() -> None:
        for field, name in files:
            field.storage.delete(name)

    transaction.on_commit(delete_files)
    return counts


ACCOUNT_DATA = AccountDataStep(
    app="lists",
    run=account_data_delete,
    # subscribers_delete takes the subscribers' consent records, recorded edits and tag links.
    deletes=(
        MailingList,
        Subscriber,
        SubscriberChange,
        SubscriberCount,
        SubscriberTag,
        Tag,
        ConsentRecord,
        ImportJob,
        ImportRowIssue,
        ExportJob,
    ),
    keeps={Suppression: "kept with the address blanked: its keyed hash still stops any mailing"},
)
