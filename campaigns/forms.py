"""Browser forms for campaigns; they only parse input, the services decide."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils.translation import gettext, gettext_lazy, ngettext

from campaigns.scheduling import timezone_names
from campaigns.services import CONTENT_FIELDS

FROM_DOMAINS_ID = "from-domains"
# campaigns.merge.HELP, translated (a test keeps the English the same).
MERGE_TAG_HELP_TEXT = gettext_lazy(
    "Use {{ subscriber.name }}, {{ subscriber.first_name }}, {{ subscriber.email }}, "
    '{{ subscriber.attributes.city | default("there") }}, {{ list.name }} or {{ company.name }}.'
)


def reply_to_field() -> forms.CharField:
    """The optional Reply-To of a campaign and of a welcome message."""
    return forms.CharField(
        label=gettext_lazy("Reply-to address"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(),
        help_text=gettext_lazy("Where replies go, if not to the From address."),
    )


class CampaignForm(forms.Form):
    """The editor. `lists` offers the account's lists, `preview_as` some of their subscribers;
    `from_domains` names the account's sender domains (offered after the "@"),
    `verified_domains` those a campaign can be submitted from (the hint)."""

    name = forms.CharField(
        label=gettext_lazy("Campaign name"),
        max_length=200,
        help_text=gettext_lazy("For you and the moderators; recipients do not see it."),
    )
    lists = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Send to"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=gettext_lazy("Someone on several of these lists gets one message."),
    )
    segments = forms.TypedMultipleChoiceField(
        label=gettext_lazy("And to these segments"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "Only the subscribers of a segment's lists who meet its conditions; each address "
            "gets one message. Choose whole lists, segments or both."
        ),
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=300)
    from_name = forms.CharField(label=gettext_lazy("From name"), max_length=100)
    from_email = forms.CharField(
        label=gettext_lazy("From address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"list": FROM_DOMAINS_ID, "autocomplete": "off"}),
    )
    reply_to = reply_to_field()
    html_body = forms.CharField(
        label=gettext_lazy("HTML body"),
        strip=False,
        # data-visual-editor: static/js/template-editor.js offers a visual editor for it.
        widget=forms.Textarea(
            attrs={"rows": 16, "spellcheck": "true", "class": "code", "data-visual-editor": ""}
        ),
        help_text=MERGE_TAG_HELP_TEXT,
    )
    text_body = forms.CharField(
        label=gettext_lazy("Text body"),
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code"}),
        help_text=gettext_lazy("Left empty, it is made from the HTML. Merge tags work here too."),
    )

    def __init__(
        self, *args, lists=(), segments=(), from_domains=(), verified_domains=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["lists"].choices = [
            (mailing_list.pk, _list_label(mailing_list)) for mailing_list in lists
        ]
        self.fields["segments"].choices = [(segment.pk, segment.name) for segment in segments]
        self.from_domains = list(from_domains)
        verified = self.from_domains if verified_domains is None else list(verified_domains)
        if verified:
            self.fields["from_email"].help_text = gettext(
                "Any address for a draft; to submit, it must be on a verified sender domain of "
                "yours: %(domains)s."
            ) % {"domains": ", ".join(verified)}
        elif self.from_domains:
            self.fields["from_email"].help_text = gettext(
                "Any address for a draft; to submit, it must be on a verified sender domain of "
                "yours (none is verified yet: publish its records under Sender domains)."
            )
        else:
            self.fields["from_email"].help_text = gettext(
                "Any address for a draft; to submit, it must be on a verified sender domain of "
                "yours (you have none yet: add yours under Sender domains)."
            )

    def service_fields(self) -> dict:
        """The cleaned data as campaign_create / campaign_update take it."""
        data = {name: self.cleaned_data[name] for name in CONTENT_FIELDS}
        data["lists"] = list(self.cleaned_data["lists"])
        data["segments"] = list(self.cleaned_data["segments"])
        return data

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("lists") and not cleaned.get("segments") and not self.has_error("lists"):
            self.add_error("lists", gettext("Choose at least one list or segment."))
        return cleaned


def _list_label(mailing_list) -> str:
    count = getattr(mailing_list, "subscriber_count", None)
    if count is None:
        return mailing_list.name
    return ngettext("%(name)s (%(count)s subscribed)", "%(name)s (%(count)s subscribed)", count) % {
        "name": mailing_list.name,
        "count": count,
    }


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Kept in the campaign's history."),
    )


# What a datetime-local input sends (with seconds when the browser adds them).
WALL_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


class ScheduleForm(forms.Form):
    """When the probe should start: a wall-clock date and time and the zone it is read in
    (campaigns.scheduling checks both; the browser's own zone is offered first by
    static/js/schedule-zone.js)."""

    scheduled_at = forms.CharField(
        label=gettext_lazy("Date and time"),
        max_length=32,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("The time in the zone below, daylight saving included."),
    )
    schedule_timezone = forms.ChoiceField(
        label=gettext_lazy("Time zone"),
        choices=(),
        widget=forms.Select(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, guess_zone: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        zone = self.fields["schedule_timezone"]
        assert isinstance(zone, forms.ChoiceField)
        zone.choices = [(name, name) for name in timezone_names()]
        if guess_zone:
            self.fields["schedule_timezone"].widget.attrs["data-guess-zone"] = "true"

    def clean_scheduled_at(self) -> datetime:
        value = self.cleaned_data["scheduled_at"].strip()
        for layout in WALL_TIME_FORMATS:
            try:
                return datetime.strptime(value, layout)
            except ValueError:
                continue
        raise forms.ValidationError(gettext("Enter a date and a time, such as 2027-03-28 09:00."))


class WelcomeForm(forms.Form):
    """A list's welcome message (campaigns.welcome): the message, not its audience."""

    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=300)
    from_name = forms.CharField(label=gettext_lazy("From name"), max_length=100)
    from_email = forms.CharField(
        label=gettext_lazy("From address"), max_length=254, widget=forms.EmailInput()
    )
    reply_to = reply_to_field()
    html_body = forms.CharField(
        label=gettext_lazy("HTML body"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true", "class": "code"}),
        help_text=MERGE_TAG_HELP_TEXT,
    )
    text_body = forms.CharField(
        label=gettext_lazy("Text body"),
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "true"}),
        help_text=gettext_lazy("Plain text; generated from the HTML when empty."),
    )
