"""The account-wide suppression list (rule 4): addresses never to be mailed again."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Account
from lists.addresses import address_hash
from lists.bulk import lookup_in
from lists.models import Suppression, SuppressionReason
from lists.selectors import suppression_of_address


def suppression_add(
    *, account: Account, email: str, reason: SuppressionReason, keep_address: bool = True
) -> Suppression:
    """Suppress `email` for the whole account. Idempotent: the first reason recorded stays.
    Without `keep_address` only the hash is stored."""
    suppression, _ = Suppression.objects.get_or_create(
        account=account,
        email_hash=address_hash(account.pk, email),
        defaults={"email": email if keep_address else "", "reason": reason},
    )
    return suppression


def suppression_keep_hash_only(*, account: Account, email: str) -> Suppression:
    """Erasure: suppress `email` (reason `erased` if it was not yet) and keep only its hash."""
    suppression = suppression_add(
        account=account, email=email, reason=SuppressionReason.ERASED, keep_address=False
    )
    if suppression.email:
        suppression.email = ""
        suppression.save(update_fields=["email"])
    return suppression


class SuppressionView:
    """The account's suppressions as a long import sees them, batch after batch.

    An account with few suppressions has them loaded once, then each batch re-reads only those
    created in the last minutes (a minute of overlap covers transactions that commit late);
    with many, each batch looks its addresses up. Either way an address suppressed before the
    batch is seen; a suppression lifted meanwhile stays in force until the import ends, which
    errs on the safe side. Without `preload` (one API request's worth of addresses) every
    batch looks its addresses up and nothing is counted or loaded up front.
    """

    OVERLAP = timedelta(minutes=1)

    def __init__(self, *, account_id: int, limit: int = 200_000, preload: bool = True):
        self.account_id = account_id
        self._reasons: dict[str, str] | None = None
        if preload and Suppression.objects.filter(account_id=account_id).count() <= limit:
            self._seen_until = timezone.now()
            self._reasons = dict(
                Suppression.objects.filter(account_id=account_id).values_list(
                    "email_hash", "reason"
                )
            )

    def reasons(self, digests: list[str]) -> dict[str, str]:
        """{digest: reason} for the suppressed ones among `digests`."""
        if self._reasons is None:
            return lookup_in(
                Suppression,
                key="email_hash",
                values=digests,
                result="reason",
                account=self.account_id,
            )
        now = timezone.now()
        recent = Suppression.objects.filter(
            account_id=self.account_id, created_at__gte=self._seen_until - self.OVERLAP
        ).values_list("email_hash", "reason")
        self._reasons.update(recent)
        self._seen_until = now
        return {digest: self._reasons[digest] for digest in digests if digest in self._reasons}


def suppression_reason(*, account: Account, email: str) -> str | None:
    """Why the account suppresses `email` (normalised), or None."""
    return (
        suppression_of_address(account=account, email=email)
        .values_list("reason", flat=True)
        .first()
    )


def suppression_lift(*, account: Account, email: str) -> bool:
    """Only the person themselves, confirming a new subscription by e-mail, lifts a suppression."""
    deleted, _ = suppression_of_address(account=account, email=email).delete()
    return bool(deleted)


SUPPRESSION_MESSAGES = {
    SuppressionReason.UNSUBSCRIBED: "This address unsubscribed from your mail.",
    SuppressionReason.HARD_BOUNCE: "This address bounced permanently.",
    SuppressionReason.COMPLAINED: "This address reported your mail as spam.",
    SuppressionReason.ERASED: "This address asked to be erased.",
}


def suppression_message(reason: str) -> str:
    """Why an address is skipped, in words for the sender."""
    return "Suppressed: " + SUPPRESSION_MESSAGES.get(reason, "This address is suppressed.")
