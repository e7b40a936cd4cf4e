"""Browser forms for accounts; they only parse input, the services decide."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class SignUpForm(forms.Form):
    company_name = forms.CharField(label="Company or brand name", max_length=200)
    contact_name = forms.CharField(label="Contact person", max_length=200)
    email = forms.EmailField(label="E-mail address", help_text="We will send a link to verify it.")
    phone = forms.CharField(label="Phone", max_length=40)
    postal_address = forms.CharField(
        label="Postal address",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown in the footer of every message you send, as the law requires.",
    )
    password = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common password.",
    )
    accept_terms = forms.BooleanField(
        label="I accept the terms of service, including the anti-spam policy", required=False
    )
    accept_privacy = forms.BooleanField(label="I accept the privacy policy", required=False)


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail address",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class ProfileForm(forms.Form):
    company_name = forms.CharField(label="Company or brand name", max_length=200)
    contact_name = forms.CharField(label="Contact person", max_length=200)
    phone = forms.CharField(label="Phone", max_length=40)
    postal_address = forms.CharField(
        label="Postal address", widget=forms.Textarea(attrs={"rows": 3})
    )
    website = forms.URLField(label="Website", required=False, assume_scheme="https")


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name", max_length=100, help_text="Say what uses it, e.g. “CRM sync”."
    )
    read_only = forms.BooleanField(label="Read-only", required=False)


class SenderDomainForm(forms.Form):
    domain = forms.CharField(
        label="Domain",
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "news.example.com"}),
    )
    dkim_selector = forms.CharField(
        label="DKIM selector (optional)",
        max_length=63,
        required=False,
        help_text="The selector your mail provider signs with, e.g. “s1” or “mail”.",
    )


class DkimSelectorForm(forms.Form):
    dkim_selector = forms.CharField(label="DKIM selector", max_length=63, required=False)
