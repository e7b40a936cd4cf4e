"""The account state machine as data: the states and which changes are allowed. Pure.

Only `accounts.services.account_state_change` writes `Account.state`; every moderator's decision,
the health check, the appeal window, the owner's closing and the deletion of the data call it
(moderation.enforcement), and it refuses a change the table does not allow."""

from django.db import models
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from config.errors import InvalidTransition


class AccountState(models.TextChoices):
    ACTIVE = "active", _("Active")
    WARNED = "warned", _("Warned")
    FROZEN = "frozen", _("Frozen")
    SCHEDULED_FOR_DELETION = "scheduled_for_deletion", _("Scheduled for deletion")
    # Its data is gone; the row stays (anonymised) for the hashed suppressions and the audit log.
    DELETED = "deleted", _("Deleted")


S = AccountState

TRANSITIONS: dict[str, frozenset[str]] = {
    # A moderator warns (or the health check does) or freezes; the owner may close the account.
    S.ACTIVE: frozenset({S.WARNED, S.FROZEN, S.SCHEDULED_FOR_DELETION}),
    # A warning is lifted only by what follows it: a freeze and its unfreeze.
    S.WARNED: frozenset({S.FROZEN, S.SCHEDULED_FOR_DELETION}),
    # Unfrozen, or scheduled for deletion (appeal rejected, no appeal in time, closed).
    S.FROZEN: frozenset({S.ACTIVE, S.SCHEDULED_FOR_DELETION}),
    # Until its data is deleted, a moderator may still unfreeze it.
    S.SCHEDULED_FOR_DELETION: frozenset({S.ACTIVE, S.DELETED}),
    S.DELETED: frozenset(),
}

# An account that may send, and that a moderator can still warn or freeze.
ENFORCEABLE = frozenset({S.ACTIVE, S.WARNED})
# An account a moderator can unfreeze.
UNFREEZABLE = frozenset(state for state, targets in TRANSITIONS.items() if S.ACTIVE in targets)
FINAL = frozenset(state for state, targets in TRANSITIONS.items() if not targets)

# Why a change to a state is refused, said the way the decision that asked for it is named; a
# change to any other state is refused with REFUSED.
REFUSALS: dict[str, str] = {
    S.WARNED: gettext_noop("The account is %(state)s: only an active account can be warned."),
    S.FROZEN: gettext_noop(
        "The account is %(state)s: only an active or warned account can be frozen."
    ),
    S.ACTIVE: gettext_noop("The account is %(state)s: it cannot be unfrozen."),
    S.DELETED: gettext_noop(
        "The account is %(state)s: only an account scheduled for deletion has its data deleted."
    ),
}
REFUSED = gettext_noop("An account that is %(state)s cannot become %(target)s.")


def state_label(state: str) -> str:
    """The state as a word in a sentence ("frozen", "scheduled for deletion")."""
    return str(AccountState(state).label).lower()


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def ensure_transition(current: str, target: str) -> None:
    """Raise InvalidTransition (a 409 in the API) unless `current -> target` is in the table."""
    if not can_transition(current, target):
        raise InvalidTransition(
            gettext(REFUSALS.get(target, REFUSED))
            % {"state": state_label(current), "target": state_label(target)},
            extra={"state": current},
        )
