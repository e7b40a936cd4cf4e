"""What the privacy page says we keep, why, and for how long, worked out from the settings the
retention purges read (RETENTION_*, DELETION_GRACE_DAYS, SESSION_COOKIE_AGE, AXES_COOLOFF_TIME),
so the page never drifts from what the scheduled purge (moderation.retention) does."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


@dataclass(frozen=True)
class DataKept:
    """One kind of data: what it holds, why we keep it, and how long."""

    key: str
    kind: str
    holds: str
    why: str
    kept: str


def days(count: int) -> str:
    """'90 days', in the current language's plural."""
    return ngettext("%(count)d day", "%(count)d days", count) % {"count": count}


def data_kept() -> list[DataKept]:
    """Every kind of personal data the service keeps, in the current language."""
    s = settings
    return [
        DataKept(
            "account",
            _("Account data"),
            _(
                "Company name, contact name, e-mail address, phone number, postal address, "
                "password (hashed), language, sender domains, API tokens (hashed)."
            ),
            _("To run your account, to sign and identify your messages, and to reach you."),
            _(
                "While the account exists; an account scheduled for deletion is deleted "
                "%(period)s later."
            )
            % {"period": days(s.DELETION_GRACE_DAYS)},
        ),
        DataKept(
            "terms",
            _("Acceptances of the terms and privacy policy"),
            _("The versions accepted, the time, the IP address and the browser's user agent."),
            _("To prove what you agreed to."),
            _("While the account exists."),
        ),
        DataKept(
            "subscribers",
            _("Subscribers"),
            _(
                "E-mail addresses, names, phone numbers and custom attributes (interests, "
                "segments and other fields) of the people on your lists."
            ),
            _("To send your mailings to the people who asked for them."),
            _(
                "Until the subscriber is erased, the list deleted or the account deleted. "
                "Sign-ups never confirmed are deleted after %(unconfirmed)s."
            )
            % {"unconfirmed": days(s.RETENTION_UNCONFIRMED_DAYS)},
        ),
        DataKept(
            "preferences",
            _("Preferences of unused accounts"),
            _(
                "Subscribers' custom attributes and the saved column mappings of imports of an "
                "account nobody has logged in to, used through the API or sent from."
            ),
            _("To keep your lists working as you set them up."),
            _("Deleted after %(period)s without use; the subscribers and their consent stay.")
            % {"period": days(s.RETENTION_DORMANT_PREFERENCES_DAYS)},
        ),
        DataKept(
            "consent",
            _("Consent records"),
            _(
                "How and when each subscriber consented: the source, the text shown, the IP "
                "address, the browser's user agent and any proof uploaded."
            ),
            _("To prove that every address on a list consented."),
            _(
                "As long as the subscriber is kept; erased with the subscriber. Sign-ups never "
                "confirmed are deleted after %(unconfirmed)s."
            )
            % {"unconfirmed": days(s.RETENTION_UNCONFIRMED_DAYS)},
        ),
        DataKept(
            "suppressions",
            _("Suppressions"),
            _(
                "A keyed hash of each address that unsubscribed, bounced or complained (not the "
                "address itself once it is erased)."
            ),
            _("So that such an address is never mailed again by that account."),
            _("While the account exists."),
        ),
        DataKept(
            "tracking",
            _("Opens and clicks"),
            _("When a message was opened or a link clicked, with the browser's user agent."),
            _("To show senders and moderators how a campaign was received."),
            _("%(period)s; the counts per message stay.")
            % {"period": days(s.RETENTION_TRACKING_DAYS)},
        ),
        DataKept(
            "test_sends",
            _("Test sends"),
            _("The addresses a test message went to, and when."),
            _("To limit test sends and show what was sent."),
            days(s.RETENTION_TRACKING_DAYS),
        ),
        DataKept(
            "feedback",
            _("Feedback events"),
            _(
                "Bounces, spam complaints and unsubscribes reported by mail providers, with the "
                "address concerned."
            ),
            _("To stop mailing those addresses and to watch senders' complaint rates."),
            days(s.RETENTION_FEEDBACK_DAYS),
        ),
        DataKept(
            "imports",
            _("Import files"),
            _("The files you upload to import subscribers."),
            _("To read the subscribers they hold."),
            _(
                "Deleted when the import ends, at the latest after %(period)s; the import's "
                "report stays."
            )
            % {"period": days(s.RETENTION_IMPORT_FILE_DAYS)},
        ),
        DataKept(
            "logs",
            _("Logs"),
            _(
                "Deliveries to your webhooks with the data they carried, read notifications, "
                "and failed log-in attempts with the IP address and user agent."
            ),
            _("To show you what was delivered, and to stop password guessing."),
            _(
                "Webhook deliveries %(webhooks)s, read notifications %(notifications)s; failed "
                "log-in attempts are deleted %(lockout)d minutes after the last one."
            )
            % {
                "webhooks": days(s.RETENTION_WEBHOOK_DELIVERY_DAYS),
                "notifications": days(s.RETENTION_NOTIFICATION_DAYS),
                "lockout": int(s.AXES_COOLOFF_TIME.total_seconds() // 60),
            },
        ),
        DataKept(
            "session",
            _("The session cookie"),
            _(
                "One cookie, the session's: it keeps you logged in and protects forms against "
                "forgery. No other cookies, no trackers, no third-party scripts."
            ),
            _("To keep you logged in."),
            _(
                "Until you close the browser; the session on our side ends after %(hours)d "
                "hours and is deleted then."
            )
            % {"hours": s.SESSION_COOKIE_AGE // 3600},
        ),
    ]
