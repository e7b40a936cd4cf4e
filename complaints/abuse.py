"""The public abuse form: anyone may report spam sent through the service. A report is matched to
the account and campaign that sent it where the pasted headers or text allow, and waits for a
moderator (moderation.enforcement.abuse.abuse_report_resolve). Nothing is suppressed or paused on an
anonymous report's word alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from campaigns.models import Campaign
from campaigns.tokens import BadToken, TokenKind, unpack
from complaints.models import AbuseReport
from config.errors import ApplicationError

# Candidates for our tokens: base64url runs of exactly a token's length.
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{36}(?![A-Za-z0-9_-])")
# A pasted report is bounded in size, but not every run in it needs trying.
_MAX_CANDIDATES = 200
_FEEDBACK_ID = re.compile(r"^feedback-id:\s*(\d+):(\d+):campaign:(\S+)", re.I | re.M)
_EMAIL_MAX = 254


@dataclass(frozen=True)
class AbuseMatch:
    campaign: Campaign | None
    matched_by: str


def abuse_match(text: str) -> AbuseMatch:
    """The campaign a pasted message names. Our signed tokens (in Message-ID, X-Message-Ref, the
    return path, the unsubscribe, report, click and pixel links) are proof; the Feedback-ID
    header is only a claim, used when no token is found and only if it names a real campaign of
    the account it names."""
    kinds = {
        TokenKind.MESSAGE: "message_ref",
        TokenKind.UNSUBSCRIBE: "unsubscribe_link",
        TokenKind.REPORT: "report_link",
        TokenKind.CLICK: "click_link",
        TokenKind.OPEN: "open_pixel",
    }
    for candidate in list(dict.fromkeys(_TOKEN.findall(text)))[:_MAX_CANDIDATES]:
        for kind, label in kinds.items():
            try:
                data = unpack(candidate, kind=kind)
            except BadToken:
                continue
            if data.is_test:
                continue
            campaign = Campaign.objects.select_related("account").filter(pk=data.campaign_id)
            found = campaign.first()
            if found is not None:
                return AbuseMatch(campaign=found, matched_by=label)
    feedback = _FEEDBACK_ID.search(text)
    if feedback and feedback.group(3) == settings.FEEDBACK_ID_SENDER:
        campaign_id, account_id = int(feedback.group(1)), int(feedback.group(2))
        found = (
            Campaign.objects.select_related("account")
            .filter(pk=campaign_id, account_id=account_id)
            .first()
        )
        if found is not None:
            return AbuseMatch(campaign=found, matched_by="feedback_id")
    return AbuseMatch(campaign=None, matched_by="")


def abuse_report_submit(
    *,
    reporter_email: str,
    message_text: str,
    comment: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> AbuseReport:
    """File a report from the public form, matched to an account and campaign where the text
    allows. Refuses (ApplicationError) a report that says nothing or is too large."""
    message_text = (message_text or "").replace("\r\n", "\n")
    comment = (comment or "").strip()
    limit = settings.ABUSE_REPORT_MAX_BYTES
    if len(message_text.encode()) + len(comment.encode()) > limit:
        raise ApplicationError(
            _("The report is too large: at most %(size)s KB. The headers are enough.")
            % {"size": limit // 1024},
            field="message_text",
        )
    if not message_text.strip() and not comment:
        raise ApplicationError(
            _("Paste the message's headers or text, or describe what you received."),
            field="message_text",
        )
    match = abuse_match(message_text + "\n" + comment)
    return AbuseReport.objects.create(
        reporter_email=reporter_email.strip()[:_EMAIL_MAX],
        message_text=message_text,
        comment=comment,
        ip=ip or None,
        user_agent=(user_agent or "")[:300],
        account=match.campaign.account if match.campaign else None,
        campaign=match.campaign,
        matched_by=match.matched_by,
    )
