"""Forms of the moderators' pages."""

from __future__ import annotations

from django import forms

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
