"""Forms of the moderators' pages."""

from __future__ import annotations

from django import forms

from complaints.models import AbuseStatus
from moderation.enforcement import APPEAL_TEXT_MAX
from moderation.models import AuditAction
from moderation.services import REASON_MAX


def _reason_field(*, label: str, required: bool, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=REASON_MAX,
        strip=True,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ApproveForm(forms.Form):
    note = _reason_field(
        label="Note",
        required=False,
        help_text="Optional; kept in the audit log and the campaign's history.",
    )


class RejectForm(forms.Form):
    reason = _reason_field(
        label="Reason for rejecting",
        required=True,
        help_text="Required. The sender sees it, so say what to change.",
    )


class ReleaseForm(forms.Form):
    reason = _reason_field(
        label="Note to the sender", required=False, help_text="Optional; the sender sees it."
    )


class DeclineForm(forms.Form):
    reason = _reason_field(
        label="Reason for declining", required=True, help_text="Required. The sender sees it."
    )
    confirm = forms.BooleanField(
        label="Stop this campaign for good: nothing more of it is sent",
        required=True,
        error_messages={"required": "Tick the box to confirm: declining cannot be undone."},
    )


class AuditFilterForm(forms.Form):
    account = forms.IntegerField(label="Account id", required=False, min_value=1)
    campaign = forms.IntegerField(label="Campaign id", required=False, min_value=1)
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *AuditAction.choices]
    )


# --- accounts: enforcement ------------------------------------------------------------------------


class AccountReasonForm(forms.Form):
    """Warn, freeze or unfreeze: the reason goes to the account's users and the audit log."""

    reason = _reason_field(
        label="Reason", required=True, help_text="Required. The account's users see it."
    )


class AppealDecisionForm(forms.Form):
    note = _reason_field(
        label="Note to the sender", required=True, help_text="Required. The sender sees it."
    )


class AbuseResolveForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=[
            (AbuseStatus.UPHELD, "Upheld: the account sent unwanted mail"),
            (AbuseStatus.DISMISSED, "Dismissed: it did not"),
        ],
        widget=forms.RadioSelect,
    )
    note = _reason_field(
        label="Note",
        required=True,
        help_text="Required. Kept with the report; the sender sees it, never the reporter.",
    )


class AppealForm(forms.Form):
    """The sender's appeal against a freeze."""

    text = forms.CharField(
        label="Your appeal",
        max_length=APPEAL_TEXT_MAX,
        strip=True,
        help_text="Say what happened and what you changed: where the addresses came from, how "
        "consent was given, what you removed.",
        widget=forms.Textarea(attrs={"rows": 8}),
    )
