"""Texts the accounts app stores for a later reader (config.coded_text): notifications
(accounts.services.notify), the DNS findings of sender domains and why a webhook delivery
failed.

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

# --- DNS findings of a sender domain (accounts.dns; SenderDomain.findings[...]["messages"]) -----
# The parameters are names and values from DNS: shown as they are.

define("accounts.dns.verification_found", gettext_noop("The verification TXT record was found."))
define(
    "accounts.dns.verification_differs",
    gettext_noop("A verification record exists on %(domain)s but its token differs."),
)
define(
    "accounts.dns.verification_missing",
    gettext_noop('Add a TXT record on %(domain)s with the value "%(value)s".'),
)
define(
    "accounts.dns.verification_by_operator",
    gettext_noop("Marked verified by an operator (create_account)."),
)
define("accounts.dns.spf_missing", gettext_noop("%(domain)s publishes no SPF record."))
define(
    "accounts.dns.spf_many",
    gettext_noop("More than one SPF record: receivers treat it as none."),
)
define("accounts.dns.spf_plus_all", gettext_noop("'+all' lets anyone send as this domain."))
define(
    "accounts.dns.spf_not_ours",
    gettext_noop("The SPF record does not authorise us: it needs 'include:%(include)s'."),
)
define("accounts.dns.spf_no_all", gettext_noop("The SPF record has no 'all' mechanism at its end."))
define("accounts.dns.spf_neutral", gettext_noop("'?all' is neutral; prefer '~all' or '-all'."))
define(
    "accounts.dns.spf_ours",
    gettext_noop("SPF authorises us (include:%(include)s) and ends with '%(ending)s'."),
)
define("accounts.dns.spf_ok", gettext_noop("SPF ends with '%(ending)s'."))
define(
    "accounts.dns.dmarc_missing",
    gettext_noop("_dmarc.%(domain)s has no DMARC record; large mailbox providers require one."),
)
define(
    "accounts.dns.dmarc_many", gettext_noop("More than one DMARC record: receivers ignore them.")
)
define("accounts.dns.dmarc_no_policy", gettext_noop("The DMARC record has no valid 'p=' policy."))
define(
    "accounts.dns.dmarc_inherited",
    gettext_noop("Inherited from %(publisher)s: the policy for subdomains is %(policy)s."),
)
define("accounts.dns.dmarc_policy", gettext_noop("DMARC policy is p=%(policy)s."))
define(
    "accounts.dns.dmarc_no_rua",
    gettext_noop("No 'rua=' address: you will not receive aggregate reports."),
)
define(
    "accounts.dns.dkim_no_selector", gettext_noop("Give a DKIM selector to check its public key.")
)
define("accounts.dns.dkim_missing", gettext_noop("%(name)s has no DKIM key record."))
define("accounts.dns.dkim_revoked", gettext_noop("The DKIM key at %(name)s is revoked (empty p=)."))
define(
    "accounts.dns.dkim_not_ours",
    gettext_noop("The key at %(name)s is not ours: publish the value shown here."),
)
define("accounts.dns.dkim_found", gettext_noop("DKIM key found at %(name)s (k=%(algorithm)s)."))

# --- why a webhook delivery failed (accounts.webhooks; WebhookDelivery.error) --------------------

# `error` is the HTTP library's own explanation, in English.
define("accounts.webhook.connection_failed", gettext_noop("Connection failed: %(error)s"))
define("accounts.webhook.timed_out", gettext_noop("Timed out."))
define(
    "accounts.webhook.redirected",
    gettext_noop("HTTP %(status)s: redirects are not followed; register the final URL."),
)
define("accounts.webhook.http_status", gettext_noop("HTTP %(status)s."))
define("accounts.webhook.disabled", gettext_noop("The webhook is disabled."))
