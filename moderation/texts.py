"""The moderation app's stored texts (config.coded_text): the content analyser's findings and the
system's audit reasons (the health reasons on flags and warnings are complaints/texts.py's). Each is
stored as a code and parameters and read in the reader's language: a sender in theirs, a
moderator in theirs."""

from django.utils.translation import gettext_noop

from config.coded_text import define

F = "moderation.finding."

# --- the content analyser (moderation.analyser) ---------------------------------------------
define(
    F + "subject.empty",
    gettext_noop("The subject is empty; write one that says what the message is about."),
)
define(
    F + "subject.fake_reply",
    gettext_noop(
        'The subject starts with "%(prefix)s", pretending to be a reply or a forward, but a '
        "campaign is never part of a conversation."
    ),
)
define(
    F + "subject.all_caps",
    gettext_noop(
        "The subject is written in capital letters, which reads as shouting and is typical of spam."
    ),
)
define(
    F + "subject.bait", gettext_noop("The subject uses bait wording typical of spam (%(found)s).")
)
define(
    F + "subject.leading_punctuation",
    gettext_noop(
        'For subscribers without that data the subject reads "%(example)s": a punctuation mark '
        "stands where the missing value was; give the merge tag a default, e.g. "
        '{{ subscriber.first_name | default("Hello") }}.'
    ),
)
define(
    F + "merge.unknown_field",
    gettext_noop(
        "The merge tag {{ %(tag)s }} reads %(field)s, which no subscriber has: it never shows a "
        "subscriber's data. Known: %(known)s."
    ),
)
define(
    F + "merge.unknown_attribute",
    gettext_noop(
        'The merge tag {{ %(tag)s }} reads the attribute "%(attribute)s", which no subscriber of '
        "the campaign's lists has, so it is empty in every message."
    ),
)
define(
    F + "identity.missing_company",
    gettext_noop(
        "Add your company's name in the company profile: every message must say who sends it."
    ),
)
define(
    F + "identity.missing_postal_address",
    gettext_noop(
        "Add your company's postal address in the company profile: every message shows it."
    ),
)
define(
    F + "identity.missing_from_name",
    gettext_noop("Add a sender name to the campaign, so recipients see who the message is from."),
)
define(
    F + "identity.invalid_from_email",
    gettext_noop(
        'The sender address "%(address)s" is not an e-mail address; choose one on a domain you '
        "have verified."
    ),
)
define(
    F + "identity.no_from_email",
    gettext_noop("Choose a sender address on a domain you have verified."),
)
define(
    F + "link.shortener",
    gettext_noop(
        "Links go through a URL shortener (%(hosts)s); link to the full address so recipients can "
        "see the real destination."
    ),
)
define(
    F + "link.malware",
    gettext_noop("The message links to %(kinds)s, which is how malware and phishing spread."),
)
define(
    F + "link.malware_several",
    gettext_noop(
        "The message links to %(kinds)s and %(last)s, which is how malware and phishing spread."
    ),
)
define(F + "malware.executable", gettext_noop("a program or script file to download"))
define(F + "malware.script", gettext_noop("a javascript: or data: address"))
define(F + "malware.bare_ip", gettext_noop("a bare IP address instead of a domain name"))
define(F + "malware.denied_host", gettext_noop("a host known for malware or phishing"))
define(
    F + "service.contact",
    gettext_noop(
        "The message contains this service's own name or contact details (%(found)s); only your "
        "own company's details may appear in it."
    ),
)
define(
    F + "lists.role_addresses",
    gettext_noop(
        'The list "%(list)s" is %(share)s role addresses (info@, sales@ and the like), which '
        "rarely come with a person's own consent."
    ),
)

# --- the system's audit reasons ---------------------------------------------------------------
A = "moderation.audit."
define(A + "verdict", gettext_noop("Probe verdict: %(tier)s."))
define(A + "appeal_rejected", gettext_noop("The appeal was rejected."))
define(A + "no_appeal", gettext_noop("No appeal within %(hours)s hours of the freeze. %(reason)s"))
define(A + "closed_by_owner", gettext_noop("Closed by its owner."))
define(A + "data_deleted", gettext_noop("Data deleted after %(days)s days' grace."))
define(A + "purged", gettext_noop("Retention purge: %(count)s row(s) or file(s)."))

# The prohibited categories' reasons are data (rules/content_rules.toml): loading the rules
# defines a code for each, here too, so that a stored finding reads in a process that never
# analysed anything. Their Russian is in locale/parts/moderation.po (a test holds each one).
from moderation.analyser import content_rules  # noqa: E402

content_rules()
