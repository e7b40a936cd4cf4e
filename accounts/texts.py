"""Texts the accounts app stores for a later reader (config.coded_text): notifications
(accounts.services.notify), DNS findings of sender domains and webhook delivery errors.

A notice is two codes, `<code>.subject` and `<code>.body`, declared together by `notice`; both
are rendered with the parameters `notify` was given. Text a person typed (a moderator's reason)
is a parameter and shows as typed."""

from django.utils.translation import gettext_noop

from config.coded_text import define


def notice(code: str, subject: str, body: str = "") -> None:
    """Declare the notification `code`: its subject and (optionally) its body."""
    define(f"{code}.subject", subject)
    if body:
        define(f"{code}.body", body)


# --- moderators' decisions about an account and the account's health (moderation.enforcement) --

notice(
    "accounts.notice.warned",
    gettext_noop("A warning about your account"),
    gettext_noop(
        "The moderator's reason: %(reason)s\nIf it goes on, the account is frozen: "
        "it can no longer send."
    ),
)
notice(
    "accounts.notice.frozen",
    gettext_noop("Your account is frozen"),
    gettext_noop(
        "The moderator's reason: %(reason)s\nThe account cannot send: campaigns cannot "
        "be created, tested or submitted, and those under way are paused. You may appeal "
        "once, until %(deadline)s; without an appeal the account is scheduled for "
        "deletion, and its data is deleted %(days)s days later."
    ),
)
notice(
    "accounts.notice.unfrozen",
    gettext_noop("Your account is unfrozen"),
    gettext_noop(
        "The moderator's note: %(note)s\nThe account can send again; paused "
        "campaigns carry on where they stopped."
    ),
)
notice(
    "accounts.notice.appeal_received",
    gettext_noop("Your appeal was received"),
    gettext_noop(
        "A moderator will read it and answer. While it waits, the account stays "
        "frozen and is not scheduled for deletion."
    ),
)
notice(
    "accounts.notice.appeal_rejected",
    gettext_noop("Your appeal was rejected"),
    gettext_noop(
        "The moderator's note: %(note)s\nThe account stays frozen and its data is "
        "deleted on %(due)s. Export what you need before then."
    ),
)
notice(
    "accounts.notice.deletion_scheduled",
    gettext_noop("Your account is scheduled for deletion"),
    gettext_noop(
        "The account was not appealed within %(hours)s hours of its freeze. Its "
        "data is deleted on %(due)s; only a hashed list of the addresses it may "
        "never mail is kept."
    ),
)
notice(
    "accounts.notice.health_warned",
    gettext_noop("Your account is warned: its mail draws too many bounces or complaints"),
    gettext_noop(
        "%(reasons)s\nA moderator will look at the account; if it goes on, it is "
        "frozen. Remove addresses that bounce and check how the others were "
        "collected."
    ),
)
notice(
    "accounts.notice.abuse_upheld",
    gettext_noop("An abuse report about your mail was upheld"),
    gettext_noop(
        "The moderator's note: %(note)s\nUpheld reports count towards a warning "
        "and a freeze of the account."
    ),
)

# --- moderators' decisions about a campaign and its probe's verdict (moderation.services) -------

notice(
    "accounts.notice.campaign_approved",
    gettext_noop("“%(name)s” was approved"),
    gettext_noop(
        "Its probe goes out now; the rest follows after the hold if the probe's figures "
        "are within the thresholds."
    ),
)
notice(
    "accounts.notice.campaign_rejected",
    gettext_noop("“%(name)s” was rejected"),
    gettext_noop("The moderator's reason: %(reason)s\nEdit the campaign and submit it again."),
)
notice(
    "accounts.notice.campaign_released",
    gettext_noop("“%(name)s” was released to all its recipients"),
)
notice(
    "accounts.notice.campaign_released_noted",
    gettext_noop("“%(name)s” was released to all its recipients"),
    gettext_noop("The moderator's note: %(note)s"),
)
notice(
    "accounts.notice.campaign_declined",
    gettext_noop("“%(name)s” was declined"),
    gettext_noop("Nothing more of it will be sent. The moderator's reason: %(reason)s"),
)
notice(
    "accounts.notice.campaign_in_review",
    gettext_noop("“%(name)s” waits for a moderator"),
    gettext_noop(
        "Its probe went over the thresholds, so the rest is not sent until a moderator "
        "decides. %(reasons)s"
    ),
)
notice(
    "accounts.notice.campaign_amber",
    gettext_noop("“%(name)s” was released with a warning"),
    gettext_noop(
        "%(reasons)s Clean your list before the next campaign: mailbox providers start "
        "filtering senders with figures like these."
    ),
)
notice(
    "accounts.notice.campaign_passed",
    gettext_noop("“%(name)s” passed its probe and is being sent"),
    gettext_noop("The probe's figures are within the thresholds. %(reasons)s"),
)

# --- the blocklist watch (complaints.blocklists) -------------------------------------------------

notice(
    "accounts.notice.domain_blocklisted",
    gettext_noop("%(domain)s is on a blocklist"),
    gettext_noop(
        "%(zone)s lists %(domain)s (return code %(codes)s). Mail from it is likely to be "
        "refused or filtered as spam, and until it is delisted your next campaign from it "
        "waits for a moderator after its probe. Look the domain up on the blocklist's site "
        "to learn why and how to ask for removal."
    ),
)
notice(
    "accounts.notice.domain_blocklisted_said",
    gettext_noop("%(domain)s is on a blocklist"),
    gettext_noop(
        "%(zone)s lists %(domain)s (return code %(codes)s). Mail from it is likely to be "
        "refused or filtered as spam, and until it is delisted your next campaign from it "
        "waits for a moderator after its probe. Look the domain up on the blocklist's site "
        "to learn why and how to ask for removal.\n\nThe blocklist says: %(reason)s"
    ),
)
