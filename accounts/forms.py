"""Browser forms for accounts; they only parse input, the services decide."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class SignUpForm(forms.Form):
    company_name = forms.CharField(label=_("Company or brand name"), max_length=200)
    contact_name = forms.CharField(label=_("Contact person"), max_length=200)
    email = forms.EmailField(
        label=_("E-mail address"), help_text=_("We will send a link to verify it.")
    )
    phone = forms.CharField(label=_("Phone"), max_length=40)
    postal_address = forms.CharField(
        label=_("Postal address"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown in the footer of every message you send, as the law requires."),
    )
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not a common password."),
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the terms of service, including the anti-spam policy"), required=False
    )
    accept_privacy = forms.BooleanField(label=_("I accept the privacy policy"), required=False)


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class UserLanguagePasswordResetForm(PasswordResetForm):
    """Django's password reset form, whose e-mail is written in the user's language (their
    choice, else the language of the page that asked for it)."""

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        from accounts.services import user_language

        with translation.override(user_language(context["user"], translation.get_language())):
            super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)


class ProfileForm(forms.Form):
    company_name = forms.CharField(label=_("Company or brand name"), max_length=200)
    contact_name = forms.CharField(label=_("Contact person"), max_length=200)
    phone = forms.CharField(label=_("Phone"), max_length=40)
    postal_address = forms.CharField(
        label=_("Postal address"), widget=forms.Textarea(attrs={"rows": 3})
    )
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")


class LanguageForm(forms.Form):
    """The user's language for the pages and the e-mails we send them (User.language); posted
    to the site's language switch (config.i18n.choose_language), which saves it."""

    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("Of these pages and of the e-mails we send you."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [
            ("", _("The one your browser asks for")),
            *settings.LANGUAGES,
        ]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"), max_length=100, help_text=_("Say what uses it, e.g. “CRM sync”.")
    )
    read_only = forms.BooleanField(label=_("Read-only"), required=False)


class SenderDomainForm(forms.Form):
    domain = forms.CharField(
        label=_("Domain"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "news.example.com"}),
    )
    dkim_selector = forms.CharField(
        label=_("DKIM selector (optional)"),
        max_length=63,
        required=False,
        help_text=_(
            "Only when an ESP sends your mail: the selector it signs with, e.g. “s1”. "
            "Otherwise we make and sign with a key of our own."
        ),
    )


class DkimSelectorForm(forms.Form):
    dkim_selector = forms.CharField(label=_("DKIM selector"), max_length=63, required=False)


class BrandForm(forms.Form):
    """The logo and colour recipient pages show; the service checks the file's bytes."""

    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)
    brand_color = forms.CharField(
        label=_("Brand colour"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"placeholder": "#1f6feb", "autocomplete": "off"}),
        help_text=_(
            "Six hexadecimal digits, e.g. #1f6feb. Buttons on your recipient pages take "
            "this colour; leave it empty for the standard blue."
        ),
    )

    def __init__(self, *args, has_logo: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not has_logo:
            del self.fields["remove_logo"]
        self.fields["logo"].help_text = _(
            "PNG, JPEG, GIF or WebP, at most %(size)s KB. Shown at the top of your sign-up, "
            "confirmation and unsubscribe pages."
        ) % {"size": settings.BRAND_LOGO_MAX_BYTES // 1024}


def _role_choices():
    from accounts.models import Role

    return Role.choices


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Colleague's e-mail address"))
    role = forms.ChoiceField(
        label=_("Role"),
        choices=_role_choices,
        initial="editor",
        help_text=_(
            "Owner: everything, including the team and the company profile. Editor: lists and "
            "campaigns. Viewer: reads only."
        ),
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)


class TransferForm(forms.Form):
    user_id = forms.TypedChoiceField(label=_("New owner"), coerce=int)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_id"].choices = [(m.pk, m.email) for m in members]


class JoinForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not a common password."),
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the terms of service, including the anti-spam policy")
    )
    accept_privacy = forms.BooleanField(label=_("I accept the privacy policy"))


class CloseAccountForm(forms.Form):
    """Closing is for good: the owner types the company's name and their password."""

    company_name = forms.CharField(label=_("Type the company's name to confirm"), max_length=200)
    password = forms.CharField(
        label=_("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    exported = forms.BooleanField(label=_("I downloaded the lists I need, or I do not need them"))

    def __init__(self, *args, user, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.account = account

    def clean_company_name(self) -> str:
        value = self.cleaned_data["company_name"].strip()
        if value.casefold() != self.account.company_name.strip().casefold():
            raise forms.ValidationError(_("That is not the company's name."))
        return value

    def clean_password(self) -> str:
        value = self.cleaned_data["password"]
        if not self.user.check_password(value):
            raise forms.ValidationError(_("That is not your password."))
        return value
