"""Forms of the moderators' pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AccountState
from complaints.models import AbuseStatus
from config.i18n import StrOrPromise
from moderation.enforcement.appeals import APPEAL_TEXT_MAX
from moderation.models import AuditAction
from moderation.services import REASON_MAX


def _reason_field(
    *, label: StrOrPromise, required: bool, help_text: StrOrPromise
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=REASON_MAX,
        strip=True,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ApproveForm(forms.Form):
    # The version the page showed: approving another one (resubmitted meanwhile) is a 409.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    note = _reason_field(
        label=gettext_lazy("Note"),
        required=False,
        help_text=gettext_lazy("Optional; kept in the audit log and the campaign's history."),
    )


# Reasons moderators give again and again, one click each; the text box adds to them.
# The label the moderator picks is the very text stored as the reason and shown to the sender,
# so it is stored in the moderator's language at the time of the decision (a moderator working
# in Russian sends the Russian text; the sender's own language is not consulted). Reasons are
# free text written by moderators anyway, so this keeps what is stored equal to what was seen.
REJECT_PRESETS = (
    (
        "consent",
        gettext_lazy(
            "How these people gave consent is unclear: say where and when they signed up, and "
            "record it on the list."
        ),
    ),
    (
        "identity",
        gettext_lazy(
            "The message must say who sends it: your company's name and postal address in the "
            "footer."
        ),
    ),
    (
        "subject",
        gettext_lazy(
            "The subject line promises something the message does not say: make them match."
        ),
    ),
    (
        "links",
        gettext_lazy(
            "Links hide where they lead (shorteners, redirects): link to the pages themselves."
        ),
    ),
)
DECLINE_PRESETS = (
    (
        "bought",
        gettext_lazy(
            "The addresses were bought, rented or collected without consent: these people never "
            "asked for this mail."
        ),
    ),
    (
        "deceptive",
        gettext_lazy("The message is deceptive (phishing, false claims or a disguised sender)."),
    ),
    ("prohibited", gettext_lazy("The content is not allowed under the acceptable use policy.")),
    (
        "complaints",
        gettext_lazy("The probe's complaints show the recipients did not ask for this mail."),
    ),
)


class PresetReasonForm(forms.Form):
    """A reason made of a common one picked with one click, the moderator's own words, or both.

    Subclasses set `presets` and the reason's label and help."""

    presets: tuple[tuple[str, StrOrPromise], ...] = ()
    reason_label: StrOrPromise = gettext_lazy("Reason")
    reason_help: StrOrPromise = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preset"] = forms.ChoiceField(
            label=gettext_lazy("Common reasons"),
            required=False,
            choices=[("", _("None: I write my own")), *self.presets],
            widget=forms.RadioSelect,
        )
        self.fields["reason"] = _reason_field(
            label=self.reason_label, required=False, help_text=self.reason_help
        )
        self.order_fields(["preset", "reason"])

    def clean(self):
        data = super().clean()
        preset = str(dict(self.presets).get(data.get("preset") or "", ""))
        own_words = data.get("reason", "")
        if not preset and not own_words:
            self.add_error("reason", forms.Field.default_error_messages["required"])
            return data
        data["reason"] = "\n\n".join(part for part in (preset, own_words) if part)
        if len(data["reason"]) > REASON_MAX:
            self.add_error(
                "reason",
                _("Keep it under %(max)s characters with the common reason.") % {"max": REASON_MAX},
            )
        return data


class RejectForm(PresetReasonForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    presets = REJECT_PRESETS
    reason_label = gettext_lazy("Reason for rejecting")
    reason_help = gettext_lazy("Pick a common reason, write your own, or both. The sender sees it.")


class ReleaseForm(forms.Form):
    reason = _reason_field(
        label=gettext_lazy("Note to the sender"),
        required=False,
        help_text=gettext_lazy("Optional; the sender sees it."),
    )


class DeclineForm(PresetReasonForm):
    presets = DECLINE_PRESETS
    reason_label = gettext_lazy("Reason for declining")
    reason_help = gettext_lazy("Pick a common reason, write your own, or both. The sender sees it.")
    confirm = forms.BooleanField(
        label=gettext_lazy("Stop this campaign for good: nothing more of it is sent"),
        required=True,
        error_messages={
            "required": gettext_lazy("Tick the box to confirm: declining cannot be undone.")
        },
    )


class QueueFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Campaign name or subject, company, or an account or campaign id."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    account_state = forms.ChoiceField(
        label=gettext_lazy("Account state"),
        required=False,
        choices=[("", gettext_lazy("Any state")), *AccountState.choices],
    )


class AuditFilterForm(forms.Form):
    account = forms.IntegerField(label=gettext_lazy("Account id"), required=False, min_value=1)
    campaign = forms.IntegerField(label=gettext_lazy("Campaign id"), required=False, min_value=1)
    action = forms.ChoiceField(
        label=gettext_lazy("Action"),
        required=False,
        choices=[("", gettext_lazy("Any action")), *AuditAction.choices],
    )


# --- accounts: enforcement ------------------------------------------------------------------------


class AccountReasonForm(forms.Form):
    """Warn, freeze or unfreeze: the reason goes to the account's users and the audit log."""

    reason = _reason_field(
        label=gettext_lazy("Reason"),
        required=True,
        help_text=gettext_lazy("Required. The account's users see it."),
    )


class AppealDecisionForm(forms.Form):
    note = _reason_field(
        label=gettext_lazy("Note to the sender"),
        required=True,
        help_text=gettext_lazy("Required. The sender sees it."),
    )


class AbuseResolveForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[
            (AbuseStatus.UPHELD, gettext_lazy("Upheld: the account sent unwanted mail")),
            (AbuseStatus.DISMISSED, gettext_lazy("Dismissed: it did not")),
        ],
        widget=forms.RadioSelect,
    )
    note = _reason_field(
        label=gettext_lazy("Note"),
        required=True,
        help_text=gettext_lazy(
            "Required. Kept with the report; the sender sees it, never the reporter."
        ),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern): a list, possibly empty."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class AppealForm(forms.Form):
    """The sender's appeal against a freeze, with the documents it may need (signed forms)."""

    text = forms.CharField(
        label=gettext_lazy("Your appeal"),
        max_length=APPEAL_TEXT_MAX,
        strip=True,
        help_text=gettext_lazy(
            "Say what happened and what you changed: where the addresses came from, how "
            "consent was given, what you removed."
        ),
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    # A declared field: the form's metaclass takes it off the class, so `form.files` (the
    # uploads, which the stubs see it replace) stays Django's.
    files = MultipleFileField(  # type: ignore[assignment]
        label=gettext_lazy("Documents (optional)"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,.gif"}),
        help_text=gettext_lazy(
            "If the freeze asks for them: scans or photos of the signed consent forms, as PDF "
            "or images. Only moderators see them."
        ),
    )
