"""The campaigns app's stored texts (config.coded_text): the probe verdict's reasons and the status
changes the system writes. Stored as a code and parameters, read in the reader's language: the
sender on the campaign page, a moderator on the review page."""

from django.utils.translation import gettext_noop

from config.coded_text import define

V = "campaigns.verdict."

define(
    V + "empty_probe",
    gettext_noop(
        "No probe message was handed to the mail server, so nothing was measured: a moderator "
        "decides whether the rest goes."
    ),
)
define(
    V + "none_accepted",
    gettext_noop(
        "The mail server accepted none of the %(n)s probe message handed to it: a probe with no "
        "accepted message is never released on its own."
    ),
    gettext_noop(
        "The mail server accepted none of the %(n)s probe messages handed to it: a probe with no "
        "accepted message is never released on its own."
    ),
)
define(V + "messages", gettext_noop("%(n)s message"), gettext_noop("%(n)s messages"))

# One metric's figure: "3 complaints in 1,000 messages: 0.3% (95% interval 0.1%–0.88%)".
define(
    V + "figure.complaints",
    gettext_noop("%(n)s complaint in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"),
    gettext_noop("%(n)s complaints in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"),
)
define(
    V + "figure.bounces",
    gettext_noop("%(n)s hard bounce in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"),
    gettext_noop("%(n)s hard bounces in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"),
)
define(
    V + "figure.blocks",
    gettext_noop("%(n)s provider block in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"),
    gettext_noop(
        "%(n)s provider blocks in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"
    ),
)
define(
    V + "figure.unsubscribes",
    gettext_noop("%(n)s unsubscribe in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"),
    gettext_noop("%(n)s unsubscribes in %(messages)s: %(rate)s (95%% interval %(low)s–%(high)s)"),
)
define(V + "none.complaints", gettext_noop("No complaints: no message was accepted to draw any."))
define(V + "none.bounces", gettext_noop("No hard bounces: no message was accepted to draw any."))
define(V + "none.blocks", gettext_noop("No provider blocks: no message was accepted to draw any."))
define(
    V + "none.unsubscribes", gettext_noop("No unsubscribes: no message was accepted to draw any.")
)

# What the figure amounts to.
define(
    V + "metric.flagged",
    gettext_noop(
        "%(figure)s; even the interval's low end breaks the policy limit of %(limit)s, so the "
        "account is flagged."
    ),
)
define(
    V + "metric.review",
    gettext_noop(
        "%(figure)s; above the review threshold of %(review)s, and the interval's low end clears "
        "the warning threshold of %(warn)s, so it is not sampling noise: a moderator decides."
    ),
)
define(
    V + "metric.noise",
    gettext_noop(
        "%(figure)s; above the review threshold of %(review)s, but too few messages to tell it "
        "from noise (the interval's low end is under %(warn)s): released with a warning."
    ),
)
define(
    V + "metric.amber",
    gettext_noop(
        "%(figure)s; at or above the warning threshold of %(warn)s: released with a warning."
    ),
)
define(V + "metric.green", gettext_noop("%(figure)s; under the warning threshold of %(warn)s."))

define(
    V + "refused",
    gettext_noop(
        "%(n)s message was refused when handed over (%(rate)s of %(attempted)s), counted as "
        "bounces or blocks."
    ),
    gettext_noop(
        "%(n)s messages were refused when handed over (%(rate)s of %(attempted)s), counted as "
        "bounces or blocks."
    ),
)
define(V + "soft_bounces", gettext_noop("%(n)s soft bounce"), gettext_noop("%(n)s soft bounces"))
define(
    V + "engagement",
    gettext_noop(
        "People opened %(opens)s (%(open_rate)s) and clicked %(clicks)s (%(click_rate)s); "
        "%(neither)s (%(neither_rate)s) did neither; %(soft)s."
    ),
)
define(
    V + "inactive.unknown",
    gettext_noop(
        "Inactive recipients: the account has no earlier campaign to tell them by (this informs; "
        "it never decides the tier)."
    ),
)
define(V + "campaigns", gettext_noop("%(n)s campaign"), gettext_noop("%(n)s campaigns"))
define(
    V + "inactive",
    gettext_noop(
        "Inactive recipients: %(inactive)s of the %(recipients)s probe recipients (%(share)s) "
        "were sent at least one of the account's last %(campaigns)s and never opened or clicked "
        "one as a person; %(first_time)s had been sent none of them (this informs; it never "
        "decides the tier)."
    ),
)
define(V + "machine_opens", gettext_noop("%(n)s machine open"), gettext_noop("%(n)s machine opens"))
define(
    V + "machine_clicks",
    gettext_noop("%(n)s machine click"),
    gettext_noop("%(n)s machine clicks"),
)
define(
    V + "machines",
    gettext_noop(
        "%(opens)s and %(clicks)s (privacy proxies, security scanners) were set apart and not "
        "counted as engagement."
    ),
)
define(
    V + "domain_blocklisted",
    gettext_noop(
        "The From domain %(domain)s is listed on %(zones)s: mail from it is likely to be refused "
        "or filtered, so a moderator decides whether the rest goes."
    ),
)

# The tiers and rules as readers see them (the campaign page names them too, campaigns.views).
define(V + "tier.green", gettext_noop("green, within every threshold"))
define(V + "tier.amber", gettext_noop("amber, near a threshold"))
define(V + "tier.review", gettext_noop("review, over a threshold"))
RULES = {
    "green": gettext_noop("under the warning thresholds"),
    "empty_probe": gettext_noop("nothing was measured"),
    "complaints_amber": gettext_noop("complaints at the warning level"),
    "complaints_review": gettext_noop("complaints over the review threshold"),
    "complaints_limit": gettext_noop("complaints over the policy's limit"),
    "bounces_amber": gettext_noop("hard bounces at the warning level"),
    "bounces_review": gettext_noop("hard bounces over the review threshold"),
    "bounces_limit": gettext_noop("hard bounces over the policy's limit"),
    "blocks_amber": gettext_noop("provider blocks at the warning level"),
    "blocks_review": gettext_noop("provider blocks over the review threshold"),
    "unsubscribes_amber": gettext_noop("unsubscribes at the warning level"),
    "unsubscribes_review": gettext_noop("unsubscribes over the review threshold"),
    "none_accepted": gettext_noop("the mail server accepted no probe message"),
    "domain_blocklisted": gettext_noop("the From domain is on a blocklist"),
}
for _rule, _text in RULES.items():
    define(V + "rule." + _rule, _text)

# A status change the system makes after judging a probe.
define(V + "status_change", gettext_noop("Probe verdict: %(tier)s (%(rule)s)."))

# The reasons of the status changes the system (or a sender's button) makes, in the campaign's
# status history.
S = "campaigns.status."
define(S + "submitted", gettext_noop("version %(number)s"))
define(S + "withdrawn", gettext_noop("withdrawn"))
define(S + "probe", gettext_noop("probe of %(size)s"))
define(S + "probe_handed_over", gettext_noop("probe handed over"))
define(S + "account_may_not_send", gettext_noop("the account may not send"))
define(S + "account_frozen", gettext_noop("account frozen"))
define(S + "account_closed", gettext_noop("account closed"))
define(S + "resumed", gettext_noop("resumed"))
