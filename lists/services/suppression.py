"""The account-wide suppression list (rule 4): addresses never to be mailed again."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Account
from config.bulk import lookup_in
from config.coded_text import CodedText, coded
from lists.addresses import address_hash, address_hasher
from lists.models import PlatformSuppression, Suppression, SuppressionReason
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


# The hash key of platform-wide suppressions: no account has id 0.
PLATFORM_HASH_ID = 0
# The reason an address is skipped when another account's mail to it hard-bounced.
PLATFORM_HARD_BOUNCE = "platform_hard_bounce"


def platform_address_hash(email: str) -> str:
    """The keyed hash platform-wide suppressions are matched on (not any account's hash)."""
    return address_hash(PLATFORM_HASH_ID, email)


def platform_suppression_add(*, email: str, source: str = "") -> PlatformSuppression:
    """Skip `email` for every account from now on (it hard-bounced). Keeps only the keyed hash.
    Idempotent."""
    suppression, _ = PlatformSuppression.objects.get_or_create(
        email_hash=platform_address_hash(email),
        defaults={"reason": SuppressionReason.HARD_BOUNCE, "source": source[:32]},
    )
    return suppression


def platform_suppressed(emails_by_digest: dict[str, str]) -> dict[str, str]:
    """{digest: PLATFORM_HARD_BOUNCE} for those of the addresses (keyed by any digest the
    caller uses) that hard-bounced for some account."""
    if not emails_by_digest:
        return {}
    platform = address_hasher(PLATFORM_HASH_ID)
    by_platform = {platform(email): digest for digest, email in emails_by_digest.items()}
    found = lookup_in(
        PlatformSuppression, key="email_hash", values=list(by_platform), result="reason"
    )
    return {by_platform[hashed]: PLATFORM_HARD_BOUNCE for hashed in found}


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

    def reasons(self, emails_by_digest: dict[str, str]) -> dict[str, str]:
        """{digest: reason} for the suppressed ones among the addresses (keyed by this
        account's digest): the account's own suppressions, then the platform-wide hard
        bounces (reason PLATFORM_HARD_BOUNCE)."""
        found = self._account_reasons(list(emails_by_digest))
        rest = {d: email for d, email in emails_by_digest.items() if d not in found}
        found.update(platform_suppressed(rest))
        return found

    def _account_reasons(self, digests: list[str]) -> dict[str, str]:
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
    """Why the account suppresses `email` (normalised), or None: its own suppressions first,
    then the platform-wide hard bounces."""
    reason = (
        suppression_of_address(account=account, email=email)
        .values_list("reason", flat=True)
        .first()
    )
    if (
        reason is None
        and PlatformSuppression.objects.filter(email_hash=platform_address_hash(email)).exists()
    ):
        return PLATFORM_HARD_BOUNCE
    return reason


def suppression_lift(*, account: Account, email: str) -> bool:
    """Only the person themselves, confirming a new subscription by e-mail, lifts a suppression."""
    deleted, _ = suppression_of_address(account=account, email=email).delete()
    return bool(deleted)


# The reasons with words of their own (lists/texts.py: lists.suppressed.<reason>).
_SUPPRESSION_MESSAGES = {
    SuppressionReason.UNSUBSCRIBED,
    SuppressionReason.HARD_BOUNCE,
    SuppressionReason.COMPLAINED,
    SuppressionReason.ERASED,
    PLATFORM_HARD_BOUNCE,
}


def suppression_message(reason: str) -> CodedText:
    """Why an address is skipped, in words for the sender (coded: rendered when read)."""
    why = reason if reason in _SUPPRESSION_MESSAGES else "other"
    return coded("lists.import.suppressed", why=coded(f"lists.suppressed.{why}"))
