"""The public abuse report form."""

from django import forms
from django.utils.translation import gettext_lazy as _

HONEYPOT_FIELD = "website"


class AbuseReportForm(forms.Form):
    reporter_email = forms.EmailField(
        label=_("Your e-mail address"), max_length=254, help_text=_("So a moderator can reply.")
    )
    message_text = forms.CharField(
        label=_("The message's headers or full text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text=_(
            "In most mail programs: “Show original” or “View source”. Paste all of it; "
            "the headers let us find the sender."
        ),
    )
    comment = forms.CharField(
        label=_("What happened"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "For example: you never signed up, or you unsubscribed and still receive mail."
        ),
    )
