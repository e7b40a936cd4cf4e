"""The public abuse report form."""

from django import forms

HONEYPOT_FIELD = "website"


class AbuseReportForm(forms.Form):
    reporter_email = forms.EmailField(
        label="Your e-mail address", max_length=254, help_text="So a moderator can reply."
    )
    message_text = forms.CharField(
        label="The message's headers or full text",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="In most mail programs: “Show original” or “View source”. Paste all of it; "
        "the headers let us find the sender.",
    )
    comment = forms.CharField(
        label="What happened",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For example: you never signed up, or you unsubscribed and still receive mail.",
    )
