"""Campaigns submitted or approved before versions existed get one, frozen from what they are now,
so that sending (which renders from the approved version only) and the click redirect (which
goes only to approved links) keep working for them. Rows of their deliveries keep an empty
snapshot and render from the subscriber, as they did before."""

import hashlib
import json

from django.db import migrations

WAITING = {"submitted"}
APPROVED = {"approved", "probing", "holding", "review", "releasing", "sent", "paused"}
FIELDS = (
    "subject",
    "from_name",
    "from_email",
    "reply_to",
    "html_body",
    "text_body",
    "lists",
    "company_name",
    "postal_address",
    "links",
    "merge_tags",
)


def freeze(apps, schema_editor):
    # Pure functions of the renderer: the same compile the version would have been made with.
    from campaigns.rendering import CampaignContent, compile_campaign

    Campaign = apps.get_model("campaigns", "Campaign")
    CampaignVersion = apps.get_model("campaigns", "CampaignVersion")
    for campaign in Campaign.objects.filter(
        status__in=WAITING | APPROVED, submitted_version__isnull=True
    ).select_related("account"):
        account = campaign.account
        content = CampaignContent(
            campaign_id=campaign.pk,
            account_id=account.pk,
            subject=campaign.subject,
            from_name=campaign.from_name,
            from_email=campaign.from_email,
            reply_to=campaign.reply_to,
            html_body=campaign.html_body,
            text_body=campaign.text_body,
            company_name=account.company_name,
            postal_address=account.postal_address,
        )
        try:
            compiled = compile_campaign(content)
            links, tags = list(compiled.links), list(compiled.merge.sources)
        except Exception:  # content that no longer compiles: frozen without links
            links, tags = [], []
        fields = {
            "subject": campaign.subject,
            "from_name": campaign.from_name,
            "from_email": campaign.from_email,
            "reply_to": campaign.reply_to,
            "html_body": campaign.html_body,
            "text_body": campaign.text_body,
            "lists": [{"id": m.pk, "name": m.name} for m in campaign.lists.order_by("pk")],
            "company_name": account.company_name,
            "postal_address": account.postal_address,
            "links": links,
            "merge_tags": tags,
        }
        digest = hashlib.sha256(
            json.dumps(
                [fields[name] for name in FIELDS], ensure_ascii=False, separators=(",", ":")
            ).encode()
        ).hexdigest()
        version = CampaignVersion.objects.create(
            campaign=campaign, number=1, content_hash=digest, **fields
        )
        campaign.submitted_version = version
        if campaign.status in APPROVED:
            campaign.approved_version = version
        campaign.save(update_fields=["submitted_version", "approved_version"])


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_versions_and_fixed_audience")]

    operations = [migrations.RunPython(freeze, migrations.RunPython.noop)]
