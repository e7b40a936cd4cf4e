"""The complaints app's stored texts (config.coded_text): the reasons of an account's health
(complaints.selectors.account_health), which flags, warnings and the audit log keep as codes and
parameters, read by the sender and by moderators each in their own language."""

from django.utils.translation import gettext_noop

from config.coded_text import define

H = "complaints.health."
define(
    H + "complaints_limit",
    gettext_noop(
        "Spam complaints at %(rate)s of %(sent)s messages, at or over the limit of %(limit)s."
    ),
)
define(
    H + "complaints_warn",
    gettext_noop("Spam complaints at %(rate)s of %(sent)s messages, over %(warn)s."),
)
define(
    H + "hard_bounces_limit",
    gettext_noop(
        "Hard bounces at %(rate)s of %(sent)s messages, at or over the limit of %(limit)s."
    ),
)
define(
    H + "hard_bounces_warn",
    gettext_noop("Hard bounces at %(rate)s of %(sent)s messages, over %(warn)s."),
)
define(
    H + "blocks_warn",
    gettext_noop(
        "Blocked by mailbox providers' spam filters at %(rate)s of %(sent)s messages, "
        "over %(warn)s."
    ),
)
define(
    H + "unsubscribes_warn",
    gettext_noop("Unsubscribes at %(rate)s of %(sent)s messages, over %(warn)s."),
)
define(
    H + "abuse_upheld", gettext_noop("%(count)s abuse report(s) upheld in the last %(days)s days.")
)
