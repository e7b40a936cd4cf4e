"""Campaign versions: what a submission freezes and a moderator approves (DESIGN.md rule 7,
"Approval binds").

A version holds everything a campaign's messages are made of except the recipient: subject,
sender, reply-to, both bodies, the lists (with the names the footer shows), the company's name
and postal address, the tracked links and the merge tags. Its hash covers all of it. Sending
renders from the approved version only, so nothing edited afterwards (the campaign, the
account's identity, a list's name) reaches a recipient.
"""

from __future__ import annotations

import hashlib
import json

from django.db.models import Max

from accounts.models import User
from campaigns import selectors
from campaigns.merge import MergeTag, compile_merge_tag
from campaigns.models import MESSAGE_FIELDS, Campaign, CampaignVersion
from campaigns.rendering import compile_campaign
from campaigns.segments import segments_snapshot

# The fields of a version that its hash covers, in a fixed order.
HASHED_FIELDS = (
    *MESSAGE_FIELDS,
    "lists",
    "company_name",
    "postal_address",
    "links",
    "merge_tags",
)


def content_hash(fields: dict) -> str:
    """SHA-256 over the hashed fields as canonical JSON (and the segments, when the audience
    has any: versions without segments keep the hash they were written with)."""
    values = [fields[name] for name in HASHED_FIELDS]
    if fields.get("segments"):
        values.append(fields["segments"])
    canonical = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _snapshot(campaign: Campaign) -> dict:
    account = campaign.account
    content = selectors.campaign_content(campaign)
    compiled = compile_campaign(content)
    return {
        "subject": campaign.subject,
        "from_name": campaign.from_name,
        "from_email": campaign.from_email,
        "reply_to": campaign.reply_to,
        "html_body": campaign.html_body,
        "text_body": campaign.text_body,
        "lists": [
            {"id": mailing_list.pk, "name": mailing_list.name}
            for mailing_list in campaign.lists.order_by("pk")
        ],
        # The segments' conditions as they are now: the audience is evaluated from this copy.
        "segments": segments_snapshot(campaign.segments.all()),
        "company_name": account.company_name,
        "postal_address": account.postal_address,
        "links": list(compiled.links),
        "merge_tags": compiled.merge.sources,
    }


def version_freeze(*, campaign: Campaign, actor: User | None) -> CampaignVersion:
    """Freeze the campaign's content as it is now into a new version, or return the latest
    version when nothing changed since (a withdrawal and an unchanged resubmission). The caller
    holds the campaign's row lock."""
    fields = _snapshot(campaign)
    digest = content_hash(fields)
    latest = campaign.versions.order_by("-number").first()
    if latest is not None and latest.content_hash == digest:
        return latest
    number = (campaign.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return CampaignVersion.objects.create(
        campaign=campaign, number=number, content_hash=digest, created_by=actor, **fields
    )


def approved_version(campaign: Campaign) -> CampaignVersion:
    """The version a moderator approved, which every campaign past approval has (what is sent,
    sending or sent reads it)."""
    if campaign.approved_version is None:
        raise ValueError(f"campaign {campaign.pk} has no approved version")
    return campaign.approved_version


def version_list_names(version: CampaignVersion) -> dict[int, str]:
    """{list id: the list's name at submission}, the segments' lists included."""
    return selectors.version_list_names(version)


def version_merge_tags(version: CampaignVersion) -> list[MergeTag]:
    return [compile_merge_tag(source, field="html_body") for source in version.merge_tags]
