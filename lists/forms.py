"""Browser forms for lists; they only parse input, the services decide."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.i18n import StrOrPromise
from lists.models import ConsentSource, SubscriberStatus

PURPOSE_REQUIRED = gettext_lazy(
    "Say what subscribers will receive: it is shown on the subscription form."
)

# Only the sources the policy accepts are offered; a forged value still reaches the service,
# which refuses it with the policy's reason (purchased, leased, verbal...).
SOURCE_CHOICES = [("", gettext_lazy("Choose how you got their consent…")), *ConsentSource.choices]


def _privacy_policy_field() -> forms.URLField:
    # Checked again by the service (http or https only), which every way in goes through.
    return forms.URLField(
        label=gettext_lazy("Privacy policy address"),
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy(
            "The page of your privacy policy; the subscription form links to it. Required for "
            "every list, since every list has a hosted form."
        ),
        error_messages={
            "required": gettext_lazy(
                "Give the address of your privacy policy: the subscription form links to it."
            )
        },
    )


def _source_field(label: StrOrPromise) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=64,
        widget=forms.Select(choices=SOURCE_CHOICES),
        error_messages={"required": gettext_lazy("Choose how the consent was obtained.")},
    )


class ListForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("List name"), max_length=200)
    purpose = forms.CharField(
        label=gettext_lazy("Purpose"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What subscribers will receive; shown on the form."),
        error_messages={"required": PURPOSE_REQUIRED},
    )
    privacy_policy_url = _privacy_policy_field()
    language = forms.ChoiceField(
        label=gettext_lazy("Language of your recipients"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=gettext_lazy(
            "The message footer, the confirmation e-mail and the subscription, unsubscribe and "
            "report pages are in this language, unless a recipient's browser asks for another "
            "one we have."
        ),
    )
    adult_content = forms.BooleanField(
        label=gettext_lazy(
            "Adult content (sign-up asks subscribers to confirm they are 18 or older)"
        ),
        required=False,
    )
    double_opt_in = forms.BooleanField(
        label=gettext_lazy("Double opt-in: new subscribers confirm by clicking an e-mailed link"),
        required=False,
        initial=True,
    )
    track_opens = forms.BooleanField(
        label=gettext_lazy("Track opens"), required=False, initial=True
    )
    track_clicks = forms.BooleanField(
        label=gettext_lazy("Track clicks"), required=False, initial=True
    )


class FormBuilderForm(forms.Form):
    privacy_policy_url = _privacy_policy_field()
    form_collect_name = forms.BooleanField(label=gettext_lazy("Ask for a name"), required=False)
    form_collect_phone = forms.BooleanField(
        label=gettext_lazy("Ask for a phone number"), required=False
    )
    form_intro = forms.CharField(
        label=gettext_lazy("Introduction"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Shown above the fields, under the list's purpose."),
    )
    form_thank_you = forms.CharField(
        label=gettext_lazy("Thank-you message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Shown after signing up to a list without double opt-in."),
    )


class SubscriberAddForm(forms.Form):
    email = forms.CharField(
        label=gettext_lazy("E-mail address"),
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    source = _source_field(gettext_lazy("Consent source"))
    obtained_at = forms.DateTimeField(
        label=gettext_lazy("Consent obtained on"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=gettext_lazy("Leave empty for now."),
    )
    proof = forms.CharField(
        label=gettext_lazy("Proof of consent"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Where the signed form is kept, or the consent request and its answer."
        ),
    )
    proof_file = forms.FileField(
        label=gettext_lazy("Proof file (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,.gif"}),
        help_text=gettext_lazy(
            "A scan or photo of the signed form, or the consent e-mail saved as PDF."
        ),
    )
    # Only on a list with adult content; the service refuses the add without it.
    age_confirmed = forms.BooleanField(
        label=gettext_lazy("This person confirmed being 18 or older."),
        required=False,
        help_text=gettext_lazy("Required: the list has adult content."),
    )

    def __init__(self, *args, mailing_list=None, **kwargs):
        super().__init__(*args, **kwargs)
        if mailing_list is None or not mailing_list.adult_content:
            del self.fields["age_confirmed"]


class SubscriberEditForm(forms.Form):
    """A subscriber's name, phone and attributes (name/value rows: the ones it has and a few
    empty ones to add). The address is not here: the consent is tied to it. `attributes()`
    gives the object the service takes; a row with its name cleared is removed."""

    EMPTY_ROWS = 3

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    phone = forms.CharField(
        label=gettext_lazy("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )

    def __init__(self, *args, subscriber, **kwargs):
        attributes = subscriber.attributes or {}
        initial = {"name": subscriber.name, "phone": subscriber.phone}
        # The rows a POST sent (it may have added some), or the subscriber's and a few empty.
        data = args[0] if args else kwargs.get("data")
        sent = sum(1 for key in (data or {}) if key.startswith("attribute_name_"))
        rows = max(sent, len(attributes) + self.EMPTY_ROWS)
        self.stored = attributes
        for index, (key, value) in enumerate(attributes.items()):
            initial[f"attribute_name_{index}"] = key
            initial[f"attribute_value_{index}"] = "" if value is None else str(value)
        super().__init__(*args, initial=initial, **kwargs)
        self.row_count = min(rows, 100)
        for index in range(self.row_count):
            self.fields[f"attribute_name_{index}"] = forms.CharField(
                label=_("Attribute %(number)s name") % {"number": index + 1},
                max_length=64,
                required=False,
                widget=forms.TextInput(attrs={"placeholder": _("e.g. city"), "class": "mono"}),
            )
            self.fields[f"attribute_value_{index}"] = forms.CharField(
                label=_("Attribute %(number)s value") % {"number": index + 1},
                max_length=1000,
                required=False,
                strip=False,
            )

    def attribute_rows(self):
        """(name field, value field) per row, for the template."""
        for index in range(self.row_count):
            yield self[f"attribute_name_{index}"], self[f"attribute_value_{index}"]

    def clean(self):
        cleaned = super().clean()
        attributes: dict = {}
        for index in range(self.row_count):
            key = (cleaned.get(f"attribute_name_{index}") or "").strip()
            value = cleaned.get(f"attribute_value_{index}") or ""
            if not key:
                if value.strip():
                    self.add_error(f"attribute_name_{index}", _("Name the attribute, e.g. city."))
                continue
            if key in attributes:
                self.add_error(
                    f"attribute_name_{index}", _("“%(name)s” is used twice.") % {"name": key}
                )
                continue
            stored = self.stored.get(key)
            # A number or a yes/no the API stored stays one when its text is not changed.
            if key in self.stored and value == ("" if stored is None else str(stored)):
                attributes[key] = stored
            else:
                attributes[key] = value.strip()
        cleaned["attributes"] = attributes
        return cleaned


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,.csv,.xls,.xlsx"}),
        help_text=gettext_lazy("A .txt (one address per line), .csv, .xls or .xlsx file."),
        error_messages={"required": gettext_lazy("Choose a file to import.")},
    )
    consent_source = _source_field(gettext_lazy("How did these people consent?"))
    consent_obtained_at = forms.DateField(
        label=gettext_lazy("Consent obtained on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy(
            "Leave empty if it differs per person; the upload date is recorded."
        ),
    )
    proof = forms.CharField(
        label=gettext_lazy("Proof of consent"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "For example: where the signed paper forms are kept, or the consent request "
            "you sent and how people answered."
        ),
    )
    proof_file = forms.FileField(
        label=gettext_lazy("Proof file (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,.gif"}),
        help_text=gettext_lazy(
            "A scan of the signed forms or the consent request, as PDF or an image."
        ),
    )

    def consent_obtained_datetime(self) -> datetime | None:
        day = self.cleaned_data.get("consent_obtained_at")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time.min))


# Targets a column can be mapped to in the import wizard.
IGNORE, EMAIL, NAME, PHONE, ATTRIBUTE = "", "email", "name", "phone", "attribute"
# A last-name column is joined to the name column (first name) on import.
LAST_NAME = "last_name"
# Yes/no: required on a list with adult content (rows without a yes are refused).
AGE_CONFIRMED = "age_confirmed"
# Comma- or semicolon-separated tag names (lists.services.tags).
TAGS = "tags"
MAPPED_TARGETS = (EMAIL, NAME, LAST_NAME, PHONE, AGE_CONFIRMED, TAGS)
TARGET_CHOICES = [
    (IGNORE, gettext_lazy("Ignore")),
    (EMAIL, gettext_lazy("E-mail address")),
    (NAME, gettext_lazy("Name")),
    (LAST_NAME, gettext_lazy("Last name (joined to the name)")),
    (PHONE, gettext_lazy("Phone")),
    (AGE_CONFIRMED, gettext_lazy("Age confirmed, 18 or older (yes/no)")),
    (TAGS, gettext_lazy("Tags (separated by commas or semicolons)")),
    (ATTRIBUTE, gettext_lazy("Attribute…")),
]

# Whole sentences per target, so that each reads right in every language.
ONLY_ONE_COLUMN = {
    EMAIL: gettext_lazy("Only one column can be the e-mail address."),
    NAME: gettext_lazy("Only one column can be the name."),
    LAST_NAME: gettext_lazy("Only one column can be the last name."),
    PHONE: gettext_lazy("Only one column can be the phone."),
    AGE_CONFIRMED: gettext_lazy("Only one column can be the age confirmation."),
    TAGS: gettext_lazy("Only one column can be the tags."),
}


class ColumnMapForm(forms.Form):
    """One target select per column of the file (plus an attribute name); `column_map()` gives
    the mapping the import service takes."""

    def __init__(self, *args, header: list[str], guess: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.header = header
        by_column = {index: target for target, index in guess.items() if isinstance(index, int)}
        for index, title in enumerate(header):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=_("Column %(number)s (%(title)s)") % {"number": index + 1, "title": title}
                if title
                else _("Column %(number)s") % {"number": index + 1},
                choices=TARGET_CHOICES,
                required=False,
                initial=by_column.get(index, IGNORE),
            )
            self.fields[f"attribute_{index}"] = forms.CharField(
                label=_("Attribute name for column %(number)s") % {"number": index + 1},
                max_length=64,
                required=False,
                widget=forms.TextInput(attrs={"placeholder": _("e.g. city")}),
            )

    def columns(self):
        """(index, title, target field, attribute-name field) per column, for the template."""
        for index, title in enumerate(self.header):
            yield index, title, self[f"column_{index}"], self[f"attribute_{index}"]

    def clean(self):
        cleaned = super().clean()
        column_map: dict = {"attributes": {}}
        for index in range(len(self.header)):
            target = cleaned.get(f"column_{index}")
            if target in MAPPED_TARGETS:
                if target in column_map:
                    self.add_error(
                        f"column_{index}",
                        ONLY_ONE_COLUMN[target],
                    )
                column_map[target] = index
            elif target == ATTRIBUTE:
                name = (cleaned.get(f"attribute_{index}") or "").strip()
                if not name:
                    self.add_error(f"attribute_{index}", _("Name the attribute, e.g. city."))
                elif name in column_map["attributes"]:
                    self.add_error(
                        f"attribute_{index}", _("“%(name)s” is used twice.") % {"name": name}
                    )
                column_map["attributes"][name] = index
        if EMAIL not in column_map:
            raise forms.ValidationError(_("Choose the column that holds the e-mail address."))
        cleaned["column_map"] = column_map
        return cleaned


class SubscriberFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=254,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": gettext_lazy("Part of an address or a name…")}
        ),
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("All")), *SubscriberStatus.choices],
    )


class PrivacyRequestForm(forms.Form):
    email = forms.CharField(
        label=gettext_lazy("The person's e-mail address"),
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
