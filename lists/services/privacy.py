"""Privacy requests (rule 9): erase an address, keeping only a hashed suppression."""

from __future__ import annotations

from django.db import transaction

from accounts.addresses import normalise_address
from accounts.models import Account
from lists.models import ImportRowIssue, Subscriber
from lists.services.subscribers import subscribers_delete
from lists.services.suppression import suppression_keep_hash_only


def subscriber_erase(*, account: Account, email: str) -> dict[str, int]:
    """Erase an address from every list of the account: subscribers, consent history and the
    address in import reports. What remains is a suppression holding only the keyed hash, so
    the address is never mailed or re-imported again. Idempotent; all or nothing."""
    email = normalise_address(email)
    with transaction.atomic():
        erased = subscribers_delete(
            Subscriber.objects.filter(mailing_list__account=account, email=email)
        )
        ImportRowIssue.objects.filter(import_job__account=account, email=email).update(email="")
        suppression_keep_hash_only(account=account, email=email)
    return {"subscribers_erased": erased}
