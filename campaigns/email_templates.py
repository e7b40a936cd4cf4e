"""The account's template library, starting from a template, "save as template" and "duplicate
campaign".

A template is content only (subject and bodies): no sender, no lists, never sent. A campaign
made from one copies it, and a template saved from a campaign copies the campaign's content, so
neither ever changes the other. Duplicating a campaign makes a new draft through
campaign_create with the same content, sender and lists; nothing of the original's moderation
(status, approval, verdict, versions) or sending (deliveries, figures) comes along.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import Account, User
from campaigns import services
from campaigns.models import Campaign, CampaignKind, EmailTemplate
from campaigns.rendering import compile_campaign
from campaigns.selectors import campaign_get, draft_content
from campaigns.starters import starter_get
from config.errors import ApplicationError, NotFound
from config.text import clean_header_text

TEMPLATE_FIELDS = ("name", "subject", "html_body", "text_body")
_LIMITS = {"name": 200, "subject": 300}


# --- reads ---------------------------------------------------------------------------------------


def templates_for(*, account: Account) -> QuerySet[EmailTemplate]:
    """The account's templates, by name."""
    return EmailTemplate.objects.filter(account=account).order_by("name", "id")


def template_get(*, account: Account, template_id: int) -> EmailTemplate | None:
    """The account's template, or None (another account's is not there)."""
    return templates_for(account=account).filter(pk=template_id).first()


def template_start(account: Account, query) -> dict:
    """What a new campaign starts with when asked for a starter (`starter=<key>`) or one of the
    account's templates (`template=<id>`): subject and bodies, or {} (another account's
    template, or none asked for)."""
    starter = starter_get(query.get("starter", ""))
    if starter is not None:
        return {"subject": str(starter.subject), "html_body": starter.html_body}
    try:
        template_id = int(query.get("template", ""))
    except (TypeError, ValueError):
        return {}
    template = template_get(account=account, template_id=template_id)
    if template is None:
        return {}
    return {
        "subject": template.subject,
        "html_body": template.html_body,
        "text_body": template.text_body,
    }


# --- writes --------------------------------------------------------------------------------------


def _cleaned(account: Account, fields: dict, *, creating: bool) -> dict:
    """The template fields of `fields`, checked: a name and HTML are required, the name and the
    subject are one line within their limits, and the content compiles as a campaign's would
    (size, merge tags, CSS)."""
    data = {name: fields[name] for name in TEMPLATE_FIELDS if name in fields}
    for name in ("name", "html_body"):
        if creating and name not in data:
            raise ApplicationError(_("This field is required."), field=name)
    for name, limit in _LIMITS.items():
        if name not in data:
            continue
        value = (data[name] or "").strip()
        if name == "name" and not value:
            raise ApplicationError(_("This field is required."), field=name)
        if len(value) > limit:
            raise ApplicationError(
                _("At most %(limit)s characters.") % {"limit": limit}, field=name
            )
        data[name] = clean_header_text(value, field=name)
    if "html_body" in data and not (data["html_body"] or "").strip():
        raise ApplicationError(_("This field is required."), field="html_body")
    for name in ("html_body", "text_body"):
        if name in data:
            data[name] = data[name] or ""
    return data


def _content_check(account: Account, template: EmailTemplate) -> None:
    """Compile the template as a campaign would be, so an error shows when it is saved, not
    when a campaign made from it is."""
    compile_campaign(
        draft_content(
            account=account,
            subject=template.subject,
            from_name=account.company_name,
            html_body=template.html_body,
            text_body=template.text_body,
        )
    )


def template_create(*, account: Account, created_by: User | None, **fields) -> EmailTemplate:
    """A new template of the account. Refused (ApplicationError naming the field) for a missing
    name or HTML, an over-long or multi-line name or subject, or content that does not compile."""
    data = _cleaned(account, fields, creating=True)
    template = EmailTemplate(account=account, created_by=created_by, **data)
    _content_check(account, template)
    template.save()
    return template


def template_update(*, account: Account, template_id: int, **fields) -> EmailTemplate:
    """Change the account's template (NotFound for another account's); locks its row. Campaigns
    made from it keep their own copy."""
    data = _cleaned(account, fields, creating=False)
    with transaction.atomic():
        template = (
            EmailTemplate.objects.select_for_update()
            .filter(account=account, pk=template_id)
            .first()
        )
        if template is None:
            raise NotFound(_("No such template."))
        for name, value in data.items():
            setattr(template, name, value)
        _content_check(account, template)
        template.save()
    return template


def template_delete(*, account: Account, template_id: int) -> None:
    """Delete the account's template (NotFound for another account's); campaigns made from it
    are not touched."""
    deleted, _rows = EmailTemplate.objects.filter(account=account, pk=template_id).delete()
    if not deleted:
        raise NotFound(_("No such template."))


def template_from_campaign(
    *, account: Account, campaign_id: int, created_by: User | None, name: str = ""
) -> EmailTemplate:
    """A new template with the campaign's subject and bodies ("save as template"), named
    `name` or after the campaign. Any campaign of the account may be saved, sent ones too: the
    campaign itself is only read."""
    campaign = _campaign_or_not_found(account, campaign_id)
    return template_create(
        account=account,
        created_by=created_by,
        name=(name or "").strip() or campaign.name,
        subject=campaign.subject,
        html_body=campaign.html_body,
        text_body=campaign.text_body,
    )


def campaign_duplicate(*, account: Account, campaign_id: int, created_by: User | None) -> Campaign:
    """A new draft with the campaign's content, sender, lists and segments (through
    campaign_create, so a frozen account is refused, and so is a campaign with no audience left).
    Nothing of the original's moderation or sending is copied. A consent request or a welcome
    message is not duplicated: each is made from its list's page."""
    campaign = _campaign_or_not_found(account, campaign_id)
    if campaign.kind == CampaignKind.WELCOME:
        raise ApplicationError(
            _("A welcome message cannot be duplicated; edit it from its list's page.")
        )
    if campaign.kind != CampaignKind.REGULAR:
        raise ApplicationError(_("A consent request cannot be duplicated; start a new one."))
    copy_name = _("%(name)s (copy)") % {"name": campaign.name}
    if len(copy_name) > _LIMITS["name"]:
        copy_name = campaign.name
    return services.campaign_create(
        account=account,
        created_by=created_by,
        lists=list(campaign.lists.values_list("pk", flat=True)),
        segments=list(campaign.segments.values_list("pk", flat=True)),
        name=copy_name,
        subject=campaign.subject,
        from_name=campaign.from_name,
        from_email=campaign.from_email,
        reply_to=campaign.reply_to,
        html_body=campaign.html_body,
        text_body=campaign.text_body,
    )


def _campaign_or_not_found(account: Account, campaign_id: int) -> Campaign:
    campaign = campaign_get(account=account, campaign_id=campaign_id)
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign
