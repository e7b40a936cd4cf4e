"""Creating, changing and deleting mailing lists."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Account, Role
from config.errors import ApplicationError
from config.text import clean_header_text
from lists.models import ExportJob, ExportSource, MailingList, Subscriber
from lists.services.export_jobs import exports_delete
from lists.services.subscribers import subscribers_delete

_EDITABLE = (
    "name",
    "purpose",
    "adult_content",
    "double_opt_in",
    "track_opens",
    "track_clicks",
    "form_collect_name",
    "form_collect_phone",
    "form_intro",
    "form_thank_you",
    "privacy_policy_url",
    "language",
)

# Every list has a hosted form, and the form links the sender's privacy policy (informed
# consent): a list is never created or saved without one.
PRIVACY_POLICY_REQUIRED = gettext_lazy(
    "Give the address of your privacy policy: the subscription form links to it."
)


def _privacy_policy_url(value: str | None) -> str:
    url = (value or "").strip()
    if not url:
        raise ApplicationError(str(PRIVACY_POLICY_REQUIRED), field="privacy_policy_url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise ApplicationError(
            _("Enter the full address of your privacy policy, starting with https://."),
            field="privacy_policy_url",
        ) from exc
    if len(url) > 500:
        raise ApplicationError(
            _("The privacy policy address is too long (500 characters at most)."),
            field="privacy_policy_url",
        )
    return url


def _clean(values: dict) -> dict:
    cleaned = {key: value for key, value in values.items() if key in _EDITABLE}
    for field in ("name", "purpose"):
        if field in cleaned:
            cleaned[field] = (cleaned[field] or "").strip()
            if not cleaned[field]:
                message = (
                    _("Say what subscribers will receive: it is shown on the subscription form.")
                    if field == "purpose"
                    else _("This field is required.")
                )
                raise ApplicationError(message, field=field)
    if "privacy_policy_url" in cleaned:
        cleaned["privacy_policy_url"] = _privacy_policy_url(cleaned["privacy_policy_url"])
    if "language" in cleaned and not cleaned["language"]:
        del cleaned["language"]  # not given: the list keeps its language
    if "language" in cleaned and cleaned["language"] not in dict(settings.LANGUAGES):
        raise ApplicationError(
            _("Choose one of the languages offered for your recipients."), field="language"
        )
    if "name" in cleaned:
        # The name is shown in each message's List-Id header and confirmation subject.
        cleaned["name"] = clean_header_text(cleaned["name"], field="name")
    return cleaned


def default_list_language(account: Account) -> str:
    """The language a new list speaks unless told: its account owner's, else the default."""
    owner_language = (
        account.users.filter(role=Role.OWNER).order_by("pk").values_list("language", flat=True)
    ).first()
    return owner_language if owner_language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def list_create(*, account: Account, name: str, purpose: str, **options) -> MailingList:
    """Create a list; `purpose` and `privacy_policy_url` are required (rule 2). Names are unique
    within the account. Its language is the owner's unless given (default_list_language)."""
    if not options.get("language"):
        options["language"] = default_list_language(account)
    values = _clean({"name": name, "purpose": purpose, "privacy_policy_url": "", **options})
    try:
        with transaction.atomic():
            return MailingList.objects.create(account=account, **values)
    except IntegrityError as exc:
        raise ApplicationError(_("You already have a list with this name."), field="name") from exc


def list_update(*, mailing_list: MailingList, **changes) -> MailingList:
    """Change a list's settings; the same rules as at creation: a list made before the privacy
    policy link existed is saved only once it has one."""
    values = _clean(changes)
    if "privacy_policy_url" not in values and not mailing_list.privacy_policy_url:
        _privacy_policy_url("")
    for key, value in values.items():
        setattr(mailing_list, key, value)
    try:
        with transaction.atomic():
            mailing_list.save()
    except IntegrityError as exc:
        raise ApplicationError(_("You already have a list with this name."), field="name") from exc
    return mailing_list


def list_delete(*, mailing_list: MailingList) -> None:
    """Delete a list with its subscribers, their consent records, its imports and its exports
    (rule 9).

    The account's suppressions stay: they are account-wide and must outlive the list.
    """
    files = [f for job in mailing_list.imports.all() for f in (job.file, job.proof_file) if f]
    with transaction.atomic():
        subscribers_delete(Subscriber.objects.filter(mailing_list=mailing_list))
        exports_delete(
            jobs=ExportJob.objects.filter(
                account_id=mailing_list.account_id,
                source=ExportSource.LIST,
                object_id=mailing_list.pk,
            )
        )
        mailing_list.delete()
    for file in files:
        file.delete(save=False)
